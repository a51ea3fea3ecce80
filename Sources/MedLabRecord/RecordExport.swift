import Foundation

/// The two export formats: JSON Lines (one whole analysis a line) and CSV (one flat row each,
/// RFC 4180 quoting, UTF-8, read by pandas and spreadsheets alike).
public enum RecordExport {
    /// `jsonl` or `csv`.
    public enum Format: String, Sendable, CaseIterable {
        case jsonl, csv

        public var contentType: String { self == .csv ? "text/csv; charset=utf-8" : "application/x-ndjson" }
    }

    /// The CSV columns, in order.
    public static let csvColumns = [
        "id", "created_at", "source", "run_id", "status", "question", "context", "answer", "reasoning", "model", "model_file",
        "model_sha256", "projector_file", "projector_sha256", "engine", "image_sha256", "modality", "boxes", "max_new_tokens",
        "temperature", "top_p", "seed", "image_ms", "prefill_ms", "decode_ms", "total_ms", "prompt_tokens", "completion_tokens",
        "finish_reason", "error_code", "error_message"
    ]

    /// What comes before the first analysis.
    public static func header(_ format: Format) -> String {
        format == .csv ? csvColumns.joined(separator: ",") + "\r\n" : ""
    }

    /// One analysis, as one line of `format` (with its line end).
    public static func line(_ a: RecordedAnalysis, format: Format) throws -> String {
        switch format {
        case .jsonl:
            return String(decoding: try RecordRows.encoder.encode(a), as: UTF8.self) + "\n"
        case .csv:
            func text(_ value: Double?) -> String { value.map { String($0) } ?? "" }
            let fields: [String] = [
                a.id, RecordRows.timestamp(a.createdAt), a.source, a.runID ?? "", a.status, a.question, a.context ?? "",
                a.answer ?? "", a.reasoning ?? "", a.model.name, a.model.file ?? "", a.model.sha256 ?? "", a.model.projectorFile ?? "",
                a.model.projectorSHA256 ?? "", a.engine.urls?.joined(separator: " ") ?? a.engine.backend,
                a.images.map(\.sha256).joined(separator: ";"), a.images.compactMap(\.modality).joined(separator: ";"),
                a.boxes.isEmpty ? "" : try RecordRows.json(a.boxes), a.params.maxNewTokens.map(String.init) ?? "",
                text(a.params.temperature), text(a.params.topP), a.params.seed.map(String.init) ?? "", text(a.timings.imageMs),
                text(a.timings.prefillMs), text(a.timings.decodeMs), text(a.timings.totalMs),
                a.usage.promptTokens.map(String.init) ?? "", a.usage.completionTokens.map(String.init) ?? "", a.finishReason ?? "",
                a.error?.code ?? "", a.error?.message ?? ""
            ]
            return fields.map(csvField).joined(separator: ",") + "\r\n"
        }
    }

    /// One CSV field, quoted when it holds a comma, a quote or a line break.
    public static func csvField(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

extension RecordExport {
    /// `2026-12-02T13:05:32.123Z`: the record's own form of a time, as every JSON answer gives it.
    public static func timestamp(_ date: Date) -> String { RecordRows.timestamp(date) }

    /// `2026-12-02 13:05:32Z`, for one-line listings.
    public static func shortTime(_ date: Date) -> String {
        String(RecordRows.timestamp(date).prefix(19)).replacingOccurrences(of: "T", with: " ") + "Z"
    }
}
