import Foundation
import MedInference

/// An engine whose every generation waits its turn in the server's queue, like any API request:
/// an experiment's cells share the model fairly with other users instead of jumping the line.
struct QueuedEngine: InferenceEngine {
    let engine: any InferenceEngine
    let runner: GenerationRunner

    var info: EngineInfo { get async { await engine.info } }

    func generate(_ request: GenerationRequest) -> AnswerStream {
        let run = runner.run(request, engine: engine)
        let (stream, continuation) = AnswerStream.makeStream()
        let task = Task {
            do {
                for try await event in run.events {
                    if case .generation(let step) = event { continuation.yield(step) }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in
            task.cancel()
            run.cancel()
        }
        return stream
    }
}
