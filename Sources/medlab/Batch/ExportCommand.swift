import ArgumentParser
import Foundation
import MedInference
import MedLabRecord

/// `medlab export`: a batch JSONL as CSV for spreadsheets.
struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Convert batch results (JSONL) to CSV.")

    @Argument(help: "The JSONL written by `medlab batch`.")
    var input: String

    @Option(help: "The CSV to write.")
    var csv: String

    func run() async throws {
        guard FileManager.default.fileExists(atPath: input) else { throw ValidationError("no such file: \(input)") }
        let rows = JSONLWriter.existingRows(at: URL(fileURLWithPath: input))
        try CSVExport.write(rows: rows, to: URL(fileURLWithPath: csv))
        FileHandle.standardError.write(Data("wrote \(rows.count) rows to \(csv)\n".utf8))
    }
}

/// RFC 4180 CSV of batch rows (UTF-8 with a byte-order mark, so spreadsheet programs read Chinese text).
enum CSVExport {
    static let columns = [
        "filename", "question", "answer", "inference_time_sec", "timestamp", "image_sha256", "model",
        "tokens_in", "tokens_out", "reasoning", "boxes", "error"
    ]

    /// The usual columns, then one per top-level property of the rows' `fields` (in name order;
    /// strings as they are, other values as JSON text).
    static func write(rows: [BatchRow], to url: URL) throws {
        let properties = Set(
            rows.flatMap { row -> [String] in
                if case .object(let object)? = row.fields { Array(object.keys) } else { [] }
            }
        ).sorted()
        var text = "\u{FEFF}" + (columns + properties).map(quote).joined(separator: ",") + "\r\n"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for row in rows {
            let boxes = row.boxes.isEmpty ? "" : String(decoding: try encoder.encode(row.boxes), as: UTF8.self)
            var fields = [
                row.filename, row.question, row.answer, String(row.inferenceTimeSec), row.timestamp,
                row.imageSHA256 ?? "", row.model ?? "", row.tokensIn.map(String.init) ?? "",
                row.tokensOut.map(String.init) ?? "", row.reasoning ?? "", boxes, row.error ?? ""
            ]
            let object: [String: JSONValue] = if case .object(let o)? = row.fields { o } else { [:] }
            for property in properties {
                switch object[property] {
                case nil, .null?: fields.append("")
                case .string(let value)?: fields.append(value)
                case let value?: fields.append(value.description)
                }
            }
            text += fields.map(quote).joined(separator: ",") + "\r\n"
        }
        try Data(text.utf8).write(to: url, options: .atomic)
    }

    private static func quote(_ field: String) -> String { RecordExport.csvField(field) }
}
