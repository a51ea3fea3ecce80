import Foundation
import MedInference

/// One step of a request as the routes see it: admission from the queue, then the engine's events.
enum RunEvent: Sendable {
    /// A slot was free after waiting this long.
    case admitted(queueMs: Double)
    case generation(GenerationEvent)
}

/// Runs requests through the queue, the timeout and the engine, for both APIs alike.
///
/// The result is a stream: the consumer (a JSON answer, an SSE body) only iterates. When the
/// consumer stops iterating — the client disconnected, the SSE write failed, the handler task was
/// cancelled — the stream's termination cancels the work, which stops the engine between tokens.
struct GenerationRunner: Sendable {
    let host: EngineHost
    let queue: GenerationQueue
    let metrics: LabMetrics
    let timeout: Double

    /// A started generation: its events, and a way to stop it from outside the consumer.
    struct Run: Sendable {
        let events: AsyncThrowingStream<RunEvent, any Error>
        let cancel: @Sendable () -> Void
    }

    /// The engine's answer to `request`, streamed; errors are `LabError`s.
    func run(_ request: GenerationRequest, engine: any InferenceEngine) -> Run {
        let (stream, continuation) = AsyncThrowingStream<RunEvent, any Error>.makeStream()
        let queue = self.queue
        let timeout = self.timeout
        let metrics = self.metrics
        let task = Task {
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        let queued = ContinuousClock.now
                        try await queue.run {
                            continuation.yield(.admitted(queueMs: queued.duration(to: .now).milliseconds))
                            try await Self.forward(engine.generate(request), to: continuation, metrics: metrics)
                        }
                    }
                    group.addTask {
                        try await Task.sleep(for: .milliseconds(Int(timeout * 1000)))
                        throw LabError.timeout(seconds: timeout)
                    }
                    // Whichever ends first decides; the other is cancelled when the group closes.
                    try await group.next()
                    group.cancelAll()
                }
                continuation.finish()
            } catch {
                if case .timeout = LabError.from(error) { metrics.timeouts.increment() }
                continuation.finish(throwing: LabError.from(error))
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return Run(events: stream, cancel: { task.cancel() })
    }

    /// Copies engine events to the route's stream; stops (and so cancels the engine) on cancellation.
    private static func forward(
        _ answer: AnswerStream, to continuation: AsyncThrowingStream<RunEvent, any Error>.Continuation,
        metrics: LabMetrics
    ) async throws {
        var finished = false
        for try await event in answer {
            try Task.checkCancellation()
            if case .finished(let summary) = event {
                finished = true
                metrics.record(summary)
            }
            continuation.yield(.generation(event))
        }
        try Task.checkCancellation()
        guard finished else { throw LabError.internalError("the engine ended without a summary") }
    }

    /// Runs to the end and returns the whole answer (the non-streaming routes).
    func complete(_ request: GenerationRequest, engine: any InferenceEngine) async throws -> (result: GenerationResult, queueMs: Double) {
        var queueMs = 0.0
        var summary: GenerationSummary?
        for try await event in run(request, engine: engine).events {
            switch event {
            case .admitted(let ms): queueMs = ms
            case .generation(.finished(let done)): summary = done
            case .generation: break
            }
        }
        // Iteration ends early without an error only when this task was cancelled (client gone).
        try Task.checkCancellation()
        guard let summary else { throw LabError.internalError("the engine ended without a summary") }
        return (GenerationResult(summary: summary), queueMs)
    }
}
