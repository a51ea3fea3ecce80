import Foundation
import HTTPTypes
import Hummingbird
import MedInference
import MedLabRecord

/// How the routes hand finished (or failed) analyses to the record; the write happens off the
/// request path, so an answer never waits for the disk, and a failing disk never fails an answer.
extension LabServices {
    /// `page` when the lab page asked (it sends `X-MedLab-Client: page`), else `fallback`.
    func source(of request: Request, fallback: String) -> String {
        request.headers[RecordHeaders.client]?.lowercased() == "page" ? "page" : fallback
    }

    /// The record, once every write queued before this request is done; 503 when it is off or unreadable.
    func readyRecord() async throws -> LabRecord {
        guard let record = recording.record else {
            let health = recording.health
            throw LabError.unavailable(
                code: "record_off",
                message: health.status == "off"
                    ? "the record is off (the server was started with --no-record)"
                    : "the record cannot be opened: \(health.message ?? "unknown error")", retryAfter: nil)
        }
        await recording.settled()
        return record
    }

    /// Keeps a finished analysis.
    func recordAnswer(
        _ analysis: Analysis, prepared: PreparedAnalysis, id: String, source: String, info: EngineInfo,
        result: GenerationResult, queueMs: Double, totalMs: Double
    ) {
        guard recording.writer != nil else { return }
        var entry = recording.entry(analysis, prepared: prepared, source: source, info: info, id: id)
        entry.finish(result, boxes: prepared.pixelBoxes(result.boxes), queueMs: queueMs, totalMs: totalMs)
        recording.keep(entry, info: info, analysis: analysis, prepared: prepared)
    }

    /// Keeps an analysis that failed after it was understood (an image that does not fit, a
    /// timeout, a server that went away), with its error code.
    func recordFailure(
        _ analysis: Analysis, prepared: PreparedAnalysis?, id: String, source: String, info: EngineInfo,
        error: any Error, totalMs: Double
    ) {
        guard recording.writer != nil else { return }
        var entry = recording.entry(analysis, prepared: prepared, source: source, info: info, id: id)
        let lab =
            error is CancellationError ? LabError.badRequest(code: "cancelled", message: "the client went away") : LabError.from(error)
        entry.fail(code: lab.code, message: lab.description)
        entry.timings.totalMs = totalMs
        recording.keep(entry, info: info, analysis: analysis, prepared: prepared)
    }
}

/// The record's HTTP header names.
enum RecordHeaders {
    /// Sent by the lab page so its analyses are recorded as `page`.
    static let client = HTTPField.Name("X-MedLab-Client")!
    /// The record id of an OpenAI-API answer (its body has no room for one).
    static let analysisID = HTTPField.Name("X-Analysis-Id")!
}
