import Foundation
import GRDB
import MedInference

/// Maps `RecordedAnalysis` to the `analysis` and `analysis_image` rows and back; nested parts
/// (boxes, params, engine, timings, usage) are JSON text columns.
enum RecordRows {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
    static let decoder = JSONDecoder()

    /// `2026-12-02T13:05:32.123Z`: sortable as text, so date filters compare strings.
    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: TimeZone(identifier: "UTC")!))
    }

    static func date(_ text: String) -> Date? {
        try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)
    }

    static func json(_ value: some Encodable) throws -> String { String(decoding: try encoder.encode(value), as: UTF8.self) }

    static func value<T: Decodable>(_ type: T.Type, _ text: String?) throws -> T? {
        guard let text else { return nil }
        return try decoder.decode(T.self, from: Data(text.utf8))
    }

    static func insert(_ a: RecordedAnalysis, modelPath: String?, projectorPath: String?, into db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO analysis (id, created_at, source, run_id, status, question, context, system, answer, reasoning, boxes,
                    params, model_name, model_file, model_path, model_sha256, projector_file, projector_path, projector_sha256,
                    engine, timings, usage, finish_reason, error_code, error_message, fields)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                a.id, timestamp(a.createdAt), a.source, a.runID, a.status, a.question, a.context, a.system, a.answer, a.reasoning,
                try json(a.boxes), try json(a.params), a.model.name, a.model.file, modelPath, a.model.sha256,
                a.model.projectorFile, projectorPath, a.model.projectorSHA256, try json(a.engine), try json(a.timings),
                try json(a.usage), a.finishReason, a.error?.code, a.error?.message, try a.fields.map(json)
            ])
        for (position, image) in a.images.enumerated() {
            try db.execute(
                sql: """
                    INSERT INTO analysis_image (analysis_id, position, sha256, format, modality, width, height, frame, slices, window, letterbox,
                        model_input)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    a.id, position, image.sha256, image.format, image.modality, image.width, image.height, image.frame,
                    try image.slices.map(json), image.window, try image.letterbox.map(json), image.modelInput
                ])
        }
    }

    static func analysis(from row: Row, db: Database) throws -> RecordedAnalysis {
        let id: String = row["id"]
        let images = try Row.fetchAll(db, sql: "SELECT * FROM analysis_image WHERE analysis_id = ? ORDER BY position", arguments: [id])
            .map { image in
                RecordedImage(
                    sha256: image["sha256"], format: image["format"], modality: image["modality"], width: image["width"],
                    height: image["height"], frame: image["frame"], slices: try value([Int].self, image["slices"]),
                    window: image["window"], letterbox: try value(RecordedImage.Letterbox.self, image["letterbox"]),
                    modelInput: image["model_input"])
            }
        let model = RecordedModel(
            name: row["model_name"], file: row["model_file"], sha256: row["model_sha256"],
            projectorFile: row["projector_file"], projectorSHA256: row["projector_sha256"])
        var a = RecordedAnalysis(
            id: id, createdAt: date(row["created_at"]) ?? Date(timeIntervalSince1970: 0), source: row["source"],
            runID: row["run_id"], question: row["question"], context: row["context"], system: row["system"],
            images: images, params: try value(RecordedParams.self, row["params"]) ?? RecordedParams(),
            model: model, engine: try value(RecordedEngine.self, row["engine"]) ?? RecordedEngine(kind: "unknown", backend: ""))
        a.status = row["status"]
        a.answer = row["answer"]
        a.reasoning = row["reasoning"]
        a.boxes = try value([RecordedBox].self, row["boxes"]) ?? []
        a.timings = try value(RecordedTimings.self, row["timings"]) ?? RecordedTimings()
        a.usage = try value(RecordedUsage.self, row["usage"]) ?? RecordedUsage()
        a.finishReason = row["finish_reason"]
        if let code: String = row["error_code"] { a.error = RecordedError(code: code, message: row["error_message"] ?? "") }
        a.fields = try value(JSONValue.self, row["fields"])
        return a
    }
}
