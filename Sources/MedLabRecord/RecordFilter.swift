import Foundation
import GRDB

/// Which analyses a list or an export covers; every field is optional.
public struct RecordFilter: Sendable, Equatable {
    /// Words that must all appear in the question, the context or the answer.
    public var text: String?
    public var source: String?
    /// A model name or file name.
    public var model: String?
    public var runID: String?
    /// ISO 8601 instants or `YYYY-MM-DD` days (UTC); `until` is inclusive of its whole day.
    public var since: String?
    public var until: String?
    /// Only analyses with a kept copy of the model's input (`--record-images model-input`).
    public var hasModelInput: Bool

    public init(
        text: String? = nil, source: String? = nil, model: String? = nil, runID: String? = nil,
        since: String? = nil, until: String? = nil, hasModelInput: Bool = false
    ) {
        self.text = text
        self.source = source
        self.model = model
        self.runID = runID
        self.since = since
        self.until = until
        self.hasModelInput = hasModelInput
    }

    /// The WHERE clause and its arguments; a malformed date is a `badRequest`.
    func sql(before seq: Int64?) throws -> (String, StatementArguments) {
        var clauses: [String] = []
        var arguments: StatementArguments = []
        if let seq {
            clauses.append("seq < ?")
            _ = arguments.append(contentsOf: [seq])
        }
        let terms = (text ?? "").split(whereSeparator: \.isWhitespace).map(String.init)
        // Trigram search needs three characters; shorter terms (a two-character Chinese word) use LIKE.
        let long = terms.filter { $0.count >= 3 }
        let short = terms.filter { $0.count < 3 }
        if !long.isEmpty {
            clauses.append("seq IN (SELECT rowid FROM analysis_fts WHERE analysis_fts MATCH ?)")
            _ = arguments.append(contentsOf: [
                long.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }.joined(separator: " AND ")
            ])
        }
        for term in short {
            let pattern =
                "%"
                + term.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                .replacingOccurrences(of: "_", with: "\\_") + "%"
            clauses.append("(question LIKE ? ESCAPE '\\' OR context LIKE ? ESCAPE '\\' OR answer LIKE ? ESCAPE '\\')")
            _ = arguments.append(contentsOf: [pattern, pattern, pattern])
        }
        if let source, !source.isEmpty {
            clauses.append("source = ?")
            _ = arguments.append(contentsOf: [source])
        }
        if let model, !model.isEmpty {
            clauses.append("(model_name = ? OR model_file = ?)")
            _ = arguments.append(contentsOf: [model, model])
        }
        if let runID, !runID.isEmpty {
            clauses.append("run_id = ?")
            _ = arguments.append(contentsOf: [runID])
        }
        if let since, !since.isEmpty {
            clauses.append("created_at >= ?")
            _ = arguments.append(contentsOf: [try Self.instant(since, field: "since", endOfDay: false)])
        }
        if let until, !until.isEmpty {
            clauses.append("created_at <= ?")
            _ = arguments.append(contentsOf: [try Self.instant(until, field: "until", endOfDay: true)])
        }
        if hasModelInput {
            clauses.append("id IN (SELECT analysis_id FROM analysis_image WHERE model_input IS NOT NULL)")
        }
        return (clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND "), arguments)
    }

    /// The stored form of a date given as a day or an ISO 8601 instant.
    static func instant(_ text: String, field: String, endOfDay: Bool) throws -> String {
        let day = Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!).year().month().day()
        if text.count == 10, let date = try? day.parse(text) {
            return RecordRows.timestamp(endOfDay ? date.addingTimeInterval(86_400 - 0.001) : date)
        }
        if let date = RecordRows.date(text) ?? (try? Date.ISO8601FormatStyle().parse(text)) { return RecordRows.timestamp(date) }
        throw RecordError.badRequest("`\(field)` must be a date (2026-12-01) or an ISO 8601 time (2026-12-01T08:00:00Z), not \(text)")
    }
}

/// What `record stats` prints: how many analyses, by model and by source, and median timings.
public struct RecordStats: Codable, Sendable {
    public var total: Int
    public var errors: Int
    public var byModel: [String: Int]
    public var bySource: [String: Int]
    /// Median milliseconds of each step over the analyses that ran.
    public var medianMs: [String: Double]

    enum CodingKeys: String, CodingKey {
        case total, errors
        case byModel = "by_model"
        case bySource = "by_source"
        case medianMs = "median_ms"
    }

    static func compute(_ db: Database) throws -> RecordStats {
        func counts(_ column: String) throws -> [String: Int] {
            var result: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT \(column) AS key, COUNT(*) AS n FROM analysis GROUP BY \(column)") {
                result[row["key"] ?? ""] = row["n"]
            }
            return result
        }
        var medians: [String: Double] = [:]
        for step in ["image_ms", "prefill_ms", "decode_ms", "total_ms"] {
            let values = try Double.fetchAll(
                db,
                sql: """
                    SELECT json_extract(timings, '$.\(step)') AS v FROM analysis WHERE status = 'ok' AND v IS NOT NULL ORDER BY v
                    """)
            guard !values.isEmpty else { continue }
            let mid = values.count / 2
            medians[step] = values.count % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2
        }
        return RecordStats(
            total: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM analysis") ?? 0,
            errors: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM analysis WHERE status = 'error'") ?? 0,
            byModel: try counts("model_name"), bySource: try counts("source"), medianMs: medians)
    }
}
