import Foundation
import MedLabRecord

/// A prompt-comparison grid: every phrasing asked about every image (grid.json's shape).
public struct CompareGrid: Codable, Sendable {
    /// The model as the report names it.
    public struct Model: Codable, Sendable, Equatable {
        public var name: String
        public var file: String?
        public var sha256: String?
    }

    /// An image (or a series folder) of the grid.
    public struct Image: Codable, Sendable {
        public var name: String
        public var sha256: String
        /// PNG of what the model saw, base64 (for the HTML report; not in grid.json).
        public var thumbnail: String?

        enum CodingKeys: String, CodingKey { case name, sha256 }
    }

    /// One phrasing × one image.
    public struct Cell: Codable, Sendable {
        public var question: String
        public var image: String
        public var answer: String?
        public var analysisID: String?
        public var timings: Timings
        public var error: String?

        /// Milliseconds from the request to the last token.
        public struct Timings: Codable, Sendable {
            public var totalMs: Double?
            public init(totalMs: Double?) { self.totalMs = totalMs }
            enum CodingKeys: String, CodingKey { case totalMs = "total_ms" }
        }

        public init(question: String, image: String, answer: String?, analysisID: String?, timings: Timings, error: String?) {
            self.question = question
            self.image = image
            self.answer = answer
            self.analysisID = analysisID
            self.timings = timings
            self.error = error
        }

        enum CodingKeys: String, CodingKey {
            case question, image, answer, timings, error
            case analysisID = "analysis_id"
        }
    }

    public var experimentID: String
    public var createdAt: String
    public var model: Model
    public var params: ExperimentParams
    public var questions: [String]
    public var images: [Image]
    public var cells: [Cell]

    enum CodingKeys: String, CodingKey {
        case model, params, questions, images, cells
        case experimentID = "experiment_id"
        case createdAt = "created_at"
    }

    /// Runs `questions` × `images` (each a file, or a folder's files as one volume) and keeps the grid in the record.
    /// `window` applies to every image but those in `windowed` (indices of images already windowed,
    /// such as a record's copy of a model input), which are shown as they are.
    public static func run(
        questions: [String], images: [(name: String, files: [ExperimentFile], volume: Bool)], context: String?,
        window: String?, windowed: Set<Int> = [], params: ExperimentParams, runner: ExperimentRunner,
        progress: @escaping @Sendable (ExperimentProgress) async -> Void = { _ in }
    ) async -> CompareGrid {
        let id = RecordedAnalysis.newID()
        var jobs: [ExperimentJob] = []
        for question in questions {
            for (index, image) in images.enumerated() {
                jobs.append(
                    ExperimentJob(
                        files: image.files, volume: image.volume, question: question, context: context,
                        window: windowed.contains(index) ? nil : window, params: params))
            }
        }
        let outcomes = await runner.run(jobs, experimentID: id, progress: progress)
        var gridImages = images.map { image in
            Image(
                name: image.name,
                sha256: image.files.count == 1
                    ? RecordedAnalysis.sha256(image.files[0].bytes)
                    : RecordedAnalysis.sha256(Data(image.files.map { RecordedAnalysis.sha256($0.bytes) }.joined().utf8)))
        }
        var cells: [Cell] = []
        for (q, question) in questions.enumerated() {
            for (i, image) in images.enumerated() {
                let outcome = outcomes[q * images.count + i]
                if gridImages[i].thumbnail == nil { gridImages[i].thumbnail = outcome.thumbnail?.base64EncodedString() }
                cells.append(
                    Cell(
                        question: question, image: image.name, answer: outcome.answer, analysisID: outcome.analysisID,
                        timings: .init(totalMs: outcome.totalMs), error: outcome.error))
            }
        }
        let model = await ReportModel.describe(runner)
        let grid = CompareGrid(
            experimentID: id, createdAt: ReportModel.now(), model: model, params: params, questions: questions,
            images: gridImages, cells: cells)
        if let record = runner.recording.record, let body = try? ReportModel.encoder.encode(grid) {
            try? record.save(
                experiment: StoredExperiment(
                    kind: "compare", id: id, name: nil, modelFile: model.file, modelSHA256: model.sha256,
                    passRate: nil, body: body))
        }
        return grid
    }
}

/// The model line every report carries, and the JSON settings reports are written with.
public enum ReportModel {
    /// Reports: sorted keys, indented, slashes as written (grid.json, report.json, the record's copy).
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func now() -> String { Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: false)) }

    /// The engine's model, with its file's checksum once the record knows it.
    static func describe(_ runner: ExperimentRunner) async -> CompareGrid.Model {
        let info = await runner.engine.info
        let (model, path, _) = runner.recording.model(info)
        var sha = model.sha256
        if sha == nil, let path { sha = await FileChecksums.checksum(of: path, record: runner.recording.record) }
        return CompareGrid.Model(name: model.name, file: model.file, sha256: sha)
    }
}
