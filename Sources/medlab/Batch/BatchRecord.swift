import Foundation
import MedImaging
import MedInference
import MedLabRecord

/// A batch row's entry in the lab record: the whole analysis when it ran here or on a pool,
/// what the row says when a lab server answered (`--server`; that server keeps its own record too).
enum BatchRecord {
    static func keep(
        _ row: BatchRow, answer: BatchAnswer?, image: BatchImage?, context: String?, id: String, runID: String,
        recording: RecordSession
    ) {
        if let run = answer?.run {
            var entry = recording.entry(run.analysis, prepared: run.prepared, source: "batch", info: run.info, id: id, runID: runID)
            entry.finish(run.result, boxes: run.prepared.pixelBoxes(run.result.boxes), queueMs: nil, totalMs: row.inferenceTimeSec * 1000)
            return recording.keepNow(entry, info: run.info, analysis: run.analysis, prepared: run.prepared)
        }
        let images = zip(image?.bytes ?? [], image?.studies ?? []).map { bytes, study in
            RecordedImage(
                sha256: RecordedAnalysis.sha256(bytes), format: study.format.rawValue, modality: study.metadata.modality,
                width: study.metadata.width, height: study.metadata.height)
        }
        var entry = RecordedAnalysis(
            id: id, source: "batch", runID: runID, question: row.question, context: context, images: images,
            model: RecordedModel(name: row.model ?? "unknown"),
            engine: recording.configuredEngine)
        if let error = row.error {
            entry.fail(code: "batch_error", message: error)
        } else {
            entry.answer = row.answer
            entry.reasoning = row.reasoning
            entry.boxes = row.boxes.map { box in
                RecordedBox(
                    label: box.label, box2d: box.box2d,
                    pixels: box.pixels.map { RecordedBox.Pixels(x0: $0.x0, y0: $0.y0, x1: $0.x1, y1: $0.y1) })
            }
            entry.usage = RecordedUsage(promptTokens: row.tokensIn, completionTokens: row.tokensOut)
        }
        entry.timings.totalMs = row.inferenceTimeSec * 1000
        recording.keepNow(entry, info: nil)
    }
}
