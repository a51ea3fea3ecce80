import Foundation
import MedInference
import Synchronization

/// An engine whose every generation waits its turn in the server's queue, like any API request:
/// an experiment's cells share the model fairly with other users instead of jumping the line.
///
/// The stream it returns does all its work when iterated, in the iterating task (the experiment's
/// cell, a child of the HTTP request): no task of its own, so cancelling the request stops it.
struct QueuedEngine: InferenceEngine {
    let engine: any InferenceEngine
    let runner: GenerationRunner

    var info: EngineInfo { get async { await engine.info } }

    func generate(_ request: GenerationRequest) -> AnswerStream {
        let generation = QueuedGeneration(engine: engine, runner: runner, request: request)
        return AnswerStream(unfolding: { try await generation.next() })
    }
}

/// One queued generation, advanced by its stream's single consumer.
///
/// `@unchecked Sendable` because an unfolding stream's closure must be `@Sendable`, while `next()`
/// is only ever called by that stream's one iterator, one call at a time.
private final class QueuedGeneration: @unchecked Sendable {
    private let engine: any InferenceEngine
    private let runner: GenerationRunner
    private let request: GenerationRequest
    private var admission: GenerationRunner.Admission?
    private var events: AnswerStream.AsyncIterator?
    /// Set by shutdown's `cancelRunning` (through the ticket); checked between events.
    private let stopped = StopFlag()

    init(engine: any InferenceEngine, runner: GenerationRunner, request: GenerationRequest) {
        self.engine = engine
        self.runner = runner
        self.request = request
    }

    func next() async throws -> GenerationEvent? {
        if admission == nil {
            let admitted = try await runner.admit()
            admission = admitted
            admitted.ticket.onCancelRunning { [stopped] in stopped.value.store(true, ordering: .releasing) }
            events = engine.generate(request).makeAsyncIterator()
        }
        guard let admission, events != nil else { return nil }
        do {
            if stopped.value.load(ordering: .acquiring) { throw CancellationError() }
            if ContinuousClock.now >= admission.deadline { throw LabError.timeout(seconds: runner.timeout) }
            guard let event = try await events?.next() else {
                finish()
                return nil
            }
            if case .finished(let summary) = event { runner.metrics.record(summary) }
            return event
        } catch {
            finish()
            throw LabError.from(error)
        }
    }

    /// Ends the generation: the slot goes back, and dropping the iterator stops the engine.
    private func finish() {
        events = nil
        admission?.ticket.release()
    }
}

/// A flag a cancel callback can set (an `Atomic` itself cannot be captured).
private final class StopFlag: Sendable {
    let value = Atomic<Bool>(false)
}
