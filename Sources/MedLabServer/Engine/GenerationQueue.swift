import Foundation
import MedInference
import Synchronization

/// A bounded, first-come-first-served gate in front of the engine.
///
/// The engine decodes a fixed number of requests at once (its slots); without a bound a burst of
/// clients would pile up unseen and all time out. Here at most `slots` run, at most `maxWaiting` wait, and the
/// next one is refused at once with 429 and an estimate of when to retry.
public actor GenerationQueue {
    private let slots: Int
    private let maxWaiting: Int
    private var running = 0
    private var waiting: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    private var nextID: UInt64 = 0
    /// Recent request durations, for `Retry-After`.
    private var averageSeconds = 5.0
    private var draining = false
    /// Cancels each running request, for the end of the shutdown grace period.
    private var cancellers: [UInt64: @Sendable () -> Void] = [:]
    private let onChange: @Sendable (_ running: Int, _ waiting: Int) -> Void
    /// Mirrors `isIdle` for waiters outside the actor; `idle` is signalled on every change.
    private let idleNow = IdleFlag()
    private let idle = ConditionSignal()

    public init(slots: Int, maxWaiting: Int, onChange: @escaping @Sendable (Int, Int) -> Void = { _, _ in }) {
        self.slots = max(1, slots)
        self.maxWaiting = max(0, maxWaiting)
        self.onChange = onChange
    }

    /// The queue a configuration asks for, reporting its depth to `metrics`.
    public init(configuration: LabServerConfiguration, metrics: LabMetrics) {
        self.init(
            slots: configuration.concurrentGenerations, maxWaiting: configuration.maxQueuedRequests,
            onChange: { metrics.queueChanged(running: $0, waiting: $1) })
    }

    /// Requests running and waiting now.
    public var depth: (running: Int, waiting: Int) { (running, waiting.count) }
    public var capacity: (slots: Int, maxWaiting: Int) { (slots, maxWaiting) }

    /// Runs `body` when a slot is free; throws `LabError.queueFull` at once when the queue is full.
    public func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await acquire()
        let start = ContinuousClock.now
        nextID += 1
        let id = nextID
        defer {
            cancellers[id] = nil
            averageSeconds = averageSeconds * 0.7 + start.duration(to: .now).milliseconds / 1000 * 0.3
            release()
        }
        // A child task that shutdown can cancel from outside (`cancelRunning`).
        return try await withExternalCancellation(register: { cancel in self.cancellers[id] = cancel }, body)
    }

    /// Returns whether the queue became idle within `timeout` (nothing running or waiting).
    public nonisolated func waitUntilIdle(timeout: Duration) async -> Bool {
        let flag = idleNow
        return await idle.wait(until: { flag.value.load(ordering: .acquiring) }, timeout: timeout)
    }

    /// Cancels every running request (the grace period after SIGTERM is over).
    public func cancelRunning() {
        for cancel in cancellers.values { cancel() }
    }

    /// Refuses new work from now on (graceful shutdown); waiting requests get 503.
    public func drain() {
        draining = true
        let refused = waiting
        waiting.removeAll()
        for entry in refused {
            entry.continuation.resume(
                throwing: LabError.unavailable(
                    code: "shutting_down", message: "the lab is shutting down",
                    retryAfter: nil))
        }
        report()
    }

    /// Whether anything is still running.
    public var isIdle: Bool { running == 0 && waiting.isEmpty }

    private func acquire() async throws {
        if draining { throw LabError.unavailable(code: "shutting_down", message: "the lab is shutting down", retryAfter: nil) }
        if running < slots, waiting.isEmpty {
            running += 1
            report()
            return
        }
        guard waiting.count < maxWaiting else {
            let ahead = Double(running + waiting.count) / Double(slots)
            throw LabError.queueFull(retryAfter: max(1, Int((ahead * averageSeconds).rounded(.up))))
        }
        nextID += 1
        let id = nextID
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                waiting.append((id, continuation))
                report()
            }
        } onCancel: {
            Task { await self.cancelWaiting(id) }
        }
    }

    private func cancelWaiting(_ id: UInt64) {
        guard let index = waiting.firstIndex(where: { $0.id == id }) else { return }
        let entry = waiting.remove(at: index)
        entry.continuation.resume(throwing: CancellationError())
        report()
    }

    private func release() {
        if !waiting.isEmpty {
            // The slot passes straight to the next in line: `running` stays the same.
            waiting.removeFirst().continuation.resume()
        } else {
            running -= 1
        }
        report()
    }

    private func report() {
        onChange(running, waiting.count)
        idleNow.value.store(isIdle, ordering: .releasing)
        idle.signal()
    }
}

/// The queue's idle state, readable without hopping onto the actor.
private final class IdleFlag: Sendable {
    let value = Atomic<Bool>(true)
}
