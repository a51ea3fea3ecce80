import Foundation
import MedImaging
import MedInference

/// One line of the batch output: the article's fields plus what an analysis needs.
struct BatchRow: Codable, Sendable {
    var filename: String
    var question: String
    var answer: String
    var inferenceTimeSec: Double
    var timestamp: String
    var imageSHA256: String?
    var model: String?
    var tokensIn: Int?
    var tokensOut: Int?
    var reasoning: String?
    var boxes: [BatchBox]
    var error: String?
    /// The settings that, with the image hash and question, identify a row for `--resume`.
    var params: String
    /// The row's entry in the lab record (`medlab record show ID`); absent with `--no-record`.
    var analysisID: String?
    /// Under `--schema`: the answer as a JSON object (`null` when it is not one; `error` says why).
    var fields: JSONValue?

    enum CodingKeys: String, CodingKey {
        case filename, question, answer, timestamp, model, reasoning, boxes, error, params
        case inferenceTimeSec = "inference_time_sec"
        case imageSHA256 = "image_sha256"
        case fields
        case tokensIn = "tokens_in"
        case tokensOut = "tokens_out"
        case analysisID = "analysis_id"
    }

    /// Absent values are written as `null`, so every row has every column.
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(filename, forKey: .filename)
        try c.encode(question, forKey: .question)
        try c.encode(answer, forKey: .answer)
        try c.encode(inferenceTimeSec, forKey: .inferenceTimeSec)
        try c.encode(timestamp, forKey: .timestamp)
        try c.encode(imageSHA256, forKey: .imageSHA256)
        try c.encode(model, forKey: .model)
        try c.encode(tokensIn, forKey: .tokensIn)
        try c.encode(tokensOut, forKey: .tokensOut)
        try c.encode(reasoning, forKey: .reasoning)
        try c.encode(boxes, forKey: .boxes)
        try c.encode(error, forKey: .error)
        try c.encode(params, forKey: .params)
        try c.encode(analysisID, forKey: .analysisID)
        if let fields { try c.encode(fields, forKey: .fields) }
    }

    /// The resume key: a rerun skips rows whose key is already in the output.
    var key: String { "\(imageSHA256 ?? "file:" + filename)\u{1F}\(question)\u{1F}\(params)" }
}

/// A box in model coordinates (0–1000 of the square) and in original pixels.
struct BatchBox: Codable, Sendable {
    var label: String
    var box2d: [Double]
    var pixels: PixelBox?
    enum CodingKeys: String, CodingKey {
        case label
        case box2d = "box_2d"
        case pixels
    }
}

/// Appends complete lines, one `write` each, so a killed run never leaves half a row behind
/// (at most the rows in flight are lost).
actor JSONLWriter {
    private let handle: FileHandle
    private let path: String
    private let encoder: JSONEncoder

    /// Opens `url` for appending; a trailing partial line from a crash is cut off first.
    init(url: URL) throws {
        if !FileManager.default.fileExists(atPath: url.path) {
            _ = FileManager.default.createFile(atPath: url.path, contents: nil)  // FileHandle below reports a failure
        }
        let handle = try FileHandle(forUpdating: url)
        let data = try Data(contentsOf: url)
        if let last = data.last, last != UInt8(ascii: "\n") {
            let keep = data.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
            try handle.truncate(atOffset: UInt64(keep))
        }
        try handle.seekToEnd()
        self.handle = handle
        path = url.path
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    }

    /// A failed write (a full disk) is cut back to the last whole row, so resuming needs nothing fixed by hand.
    func append(_ row: BatchRow) throws {
        var line = try encoder.encode(row)
        line.append(UInt8(ascii: "\n"))
        let start = try handle.offset()
        do {
            try handle.write(contentsOf: line)
            try handle.synchronize()
        } catch {
            try? handle.truncate(atOffset: start)
            throw BatchOutputError(path: path, underlying: error)
        }
    }

    func close() throws { try handle.close() }

    /// Rows already in a JSONL file (unparseable lines are ignored).
    static func existingRows(at url: URL) -> [BatchRow] {
        guard let data = try? Data(contentsOf: url) else { return [] }
        let decoder = JSONDecoder()
        return data.split(separator: UInt8(ascii: "\n")).compactMap { try? decoder.decode(BatchRow.self, from: Data($0)) }
    }
}

/// A row the output file would not take (a full disk, a file-size limit), in words a person can act on.
struct BatchOutputError: Error, CustomStringConvertible {
    let path: String
    let underlying: any Error

    var description: String {
        "cannot write to \(path): \(Self.reason(underlying)). The rows before it are kept; free space and run the same command again: it resumes where it stopped."
    }

    /// The system's own words (`No space left on device`) rather than Foundation's wrapper around them.
    private static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if let posix = ns.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(posix.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        return String(describing: error)
    }
}
