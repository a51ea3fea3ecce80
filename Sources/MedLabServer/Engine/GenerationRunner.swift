import Foundation
import MedInference

/// Runs requests through the queue, the timeout and the engine, for both APIs alike.
///
/// Two steps, so a streamed answer can start with a real status: `admit` waits in line in the
/// route handler (a full queue is a 429, not a 200 stream that fails), and `withEvents` runs the
/// generation inside whatever task consumes it (the handler, or the response body writer). The
/// engine's work is a child task of that consumer: when the consumer stops — the client went
/// away, a write failed, the server is shutting down — the generation is cancelled between tokens.
struct GenerationRunner: Sendable {
    let host: EngineHost
    let queue: GenerationQueue
    let metrics: LabMetrics
    let timeout: Double

    /// A request that holds an engine slot, and the instant its time is up.
    struct Admission: Sendable {
        let ticket: SlotTicket
        /// How long it waited in line.
        let queueMs: Double
        let deadline: ContinuousClock.Instant
    }

    /// Waits in line for a slot; the wait counts towards the request's timeout.
    func admit() async throws -> Admission {
        let start = ContinuousClock.now
        let deadline = start.advanced(by: .milliseconds(Int(timeout * 1000)))
        do {
            let ticket = try await withDeadline(deadline) { [queue] in try await queue.admit() }
            return Admission(ticket: ticket, queueMs: start.duration(to: .now).milliseconds, deadline: deadline)
        } catch {
            throw counted(error)
        }
    }

    /// Runs `request` on the admitted slot and hands its events to `consume`, which runs in the
    /// caller's task (so it may write to a response body). The slot is freed when the generation
    /// ends; returning or throwing from `consume` cancels a generation still running.
    func withEvents<T>(
        _ admission: Admission, _ request: GenerationRequest, engine: any InferenceEngine,
        cancelledBy register: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void = { _ in },
        consume: (AnswerStream) async throws -> T
    ) async throws -> T {
        let (events, continuation) = AnswerStream.makeStream()
        let metrics = self.metrics
        let producer: @Sendable () async throws -> Void = {
            defer { admission.ticket.release() }
            try await withDeadline(admission.deadline) {
                try await Self.forward(engine.generate(request), to: continuation, metrics: metrics)
            }
        }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await admission.ticket.run(alsoCancelledBy: register, producer)
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: counted(error))
                }
            }
            let result = try await consume(events)
            group.cancelAll()
            return result
        }
    }

    /// Runs to the end and returns the whole answer (the non-streaming routes).
    func complete(_ request: GenerationRequest, engine: any InferenceEngine) async throws -> (result: GenerationResult, queueMs: Double) {
        let admission = try await admit()
        let summary = try await withEvents(admission, request, engine: engine) { events in try await Self.summary(of: events) }
        return (GenerationResult(summary: summary), admission.queueMs)
    }

    /// The `finished` event of a whole stream of events.
    static func summary(of events: AnswerStream) async throws -> GenerationSummary {
        var summary: GenerationSummary?
        for try await event in events {
            if case .finished(let done) = event { summary = done }
        }
        // Iteration ends early without an error only when this task was cancelled (client gone).
        try Task.checkCancellation()
        guard let summary else { throw LabError.internalError("the engine ended without a summary") }
        return summary
    }

    /// Copies engine events to the consumer's stream; stops (and so cancels the engine) on cancellation.
    private static func forward(_ answer: AnswerStream, to continuation: AnswerStream.Continuation, metrics: LabMetrics) async throws {
        var finished = false
        for try await event in answer {
            try Task.checkCancellation()
            if case .finished(let summary) = event {
                finished = true
                metrics.record(summary)
            }
            continuation.yield(event)
        }
        try Task.checkCancellation()
        guard finished else { throw LabError.internalError("the engine ended without a summary") }
    }

    /// Runs `body`, throwing `LabError.timeout` if it is still running at `deadline`.
    private func withDeadline<T: Sendable>(
        _ deadline: ContinuousClock.Instant, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let timeout = self.timeout
        return try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(until: deadline, clock: .continuous)
                throw LabError.timeout(seconds: timeout)
            }
            // Whichever ends first decides; the other is cancelled and awaited when the group closes
            // (a slot admitted just too late is dropped there, and its ticket frees it).
            defer { group.cancelAll() }
            guard let first = try await group.next() else { throw CancellationError() }
            return first
        }
    }

    /// The lab's error for `error`, counting timeouts.
    private func counted(_ error: any Error) -> LabError {
        let error = LabError.from(error)
        if case .timeout = error { metrics.timeouts.increment() }
        return error
    }
}
