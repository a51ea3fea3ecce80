import Foundation
import MedInference
import Synchronization

/// A bounded, first-come-first-served gate in front of the engine.
///
/// The engine decodes a fixed number of requests at once (its slots); without a bound a burst of
/// clients would pile up unseen and all time out. Here at most `slots` run, at most `maxWaiting` wait, and the
/// next one is refused at once with 429 and an estimate of when to retry.
///
/// A lock rather than an actor: a `SlotTicket` dropped unused gives its slot back from `deinit`,
/// and a cancelled waiter leaves the line from its cancellation handler, both synchronously.
public final class GenerationQueue: Sendable {
    private struct State {
        var running = 0
        var waiting: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
        /// Admissions between taking an id and reaching the line; a cancel in that gap lands here.
        var arriving: Set<UInt64> = []
        var cancelledEarly: Set<UInt64> = []
        var nextID: UInt64 = 0
        /// Recent request durations, for `Retry-After`.
        var averageSeconds = 5.0
        var draining = false
        /// Cancels each running request, for the end of the shutdown grace period.
        var cancellers: [UInt64: @Sendable () -> Void] = [:]
        var isIdle: Bool { running == 0 && waiting.isEmpty }
    }

    private let slots: Int
    private let maxWaiting: Int
    private let state = Mutex(State())
    private let onChange: @Sendable (_ running: Int, _ waiting: Int) -> Void
    /// Signalled on every change, for `waitUntilIdle`.
    private let changed = ConditionSignal()

    public init(slots: Int, maxWaiting: Int, onChange: @escaping @Sendable (Int, Int) -> Void = { _, _ in }) {
        self.slots = max(1, slots)
        self.maxWaiting = max(0, maxWaiting)
        self.onChange = onChange
    }

    /// The queue a configuration asks for, reporting its depth to `metrics`.
    public convenience init(configuration: LabServerConfiguration, metrics: LabMetrics) {
        self.init(
            slots: configuration.concurrentGenerations, maxWaiting: configuration.maxQueuedRequests,
            onChange: { metrics.queueChanged(running: $0, waiting: $1) })
    }

    /// Requests running and waiting now.
    public var depth: (running: Int, waiting: Int) { state.withLock { ($0.running, $0.waiting.count) } }
    public var capacity: (slots: Int, maxWaiting: Int) { (slots, maxWaiting) }
    /// Whether nothing is running or waiting.
    public var isIdle: Bool { state.withLock { $0.isIdle } }

    /// Waits for a free slot and returns it. Throws `LabError.queueFull` at once when the line is
    /// full, `shutting_down` while draining, and `CancellationError` when cancelled in line.
    public func admit() async throws -> SlotTicket {
        let id = state.withLock { state in
            state.nextID += 1
            state.arriving.insert(state.nextID)
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let admittedNow: Result<Bool, any Error> = state.withLock { state in
                    state.arriving.remove(id)
                    if state.cancelledEarly.remove(id) != nil { return .failure(CancellationError()) }
                    if state.draining { return .failure(Self.shuttingDown) }
                    if state.running < slots, state.waiting.isEmpty {
                        state.running += 1
                        return .success(true)
                    }
                    guard state.waiting.count < maxWaiting else { return .failure(refusal(state)) }
                    state.waiting.append((id, continuation))
                    return .success(false)
                }
                switch admittedNow {
                case .success(true): continuation.resume()
                case .success(false): break
                case .failure(let error): continuation.resume(throwing: error)
                }
                report()
            }
        } onCancel: {
            cancelWaiting(id)
        }
        return SlotTicket(queue: self, id: id)
    }

    /// Throws at once what `admit` would throw now for a full line (or while draining), so a request
    /// is refused before its images are decoded: under overload a 429 then costs microseconds, not a
    /// decode behind everyone else's. `admit` still decides for the requests this lets through.
    public func refuseIfFull() throws {
        let refused: LabError? = state.withLock { state in
            if state.draining { return Self.shuttingDown }
            if state.running < slots, state.waiting.isEmpty { return nil }
            return state.waiting.count < maxWaiting ? nil : refusal(state)
        }
        if let refused { throw refused }
    }

    /// The 429 for a full line, with a `Retry-After` from the work ahead and the average answer time.
    private func refusal(_ state: State) -> LabError {
        let ahead = Double(state.running + state.waiting.count) / Double(slots)
        return .queueFull(retryAfter: max(1, Int((ahead * state.averageSeconds).rounded(.up))))
    }

    /// Runs `body` when a slot is free, and frees the slot after it.
    public func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let ticket = try await admit()
        defer { ticket.release() }
        return try await ticket.run(body)
    }

    /// Returns whether the queue became idle within `timeout` (nothing running or waiting).
    public func waitUntilIdle(timeout: Duration) async -> Bool {
        await changed.wait(until: { [self] in isIdle }, timeout: timeout)
    }

    /// Cancels every running request (the grace period after SIGTERM is over).
    public func cancelRunning() {
        let cancellers = state.withLock { Array($0.cancellers.values) }
        for cancel in cancellers { cancel() }
    }

    /// Refuses new work from now on (graceful shutdown); waiting requests get 503.
    public func drain() {
        let refused = state.withLock { state in
            state.draining = true
            defer { state.waiting.removeAll() }
            return state.waiting
        }
        for entry in refused { entry.continuation.resume(throwing: Self.shuttingDown) }
        report()
    }

    fileprivate func register(_ id: UInt64, canceller: @escaping @Sendable () -> Void) {
        state.withLock { $0.cancellers[id] = canceller }
    }

    fileprivate func release(_ id: UInt64, heldFor seconds: Double) {
        let next = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            state.cancellers[id] = nil
            state.averageSeconds = state.averageSeconds * 0.7 + seconds * 0.3
            // The slot passes straight to the next in line: `running` stays the same.
            if !state.waiting.isEmpty { return state.waiting.removeFirst().continuation }
            state.running -= 1
            return nil
        }
        next?.resume()
        report()
    }

    private func cancelWaiting(_ id: UInt64) {
        let entry = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            if let index = state.waiting.firstIndex(where: { $0.id == id }) { return state.waiting.remove(at: index).continuation }
            if state.arriving.contains(id) { state.cancelledEarly.insert(id) }
            return nil
        }
        guard let entry else { return }
        entry.resume(throwing: CancellationError())
        report()
    }

    private func report() {
        let (running, waiting) = depth
        onChange(running, waiting)
        changed.signal()
    }

    private static let shuttingDown = LabError.unavailable(code: "shutting_down", message: "the lab is shutting down", retryAfter: nil)
}

/// One held engine slot. It is given back exactly once: by `release()`, or by `deinit` when the
/// holder is dropped unused (a response whose body never ran), so a slot cannot leak.
public final class SlotTicket: Sendable {
    private let queue: GenerationQueue
    private let id: UInt64
    private let admitted = ContinuousClock.now
    private let released = Atomic<Bool>(false)

    fileprivate init(queue: GenerationQueue, id: UInt64) {
        self.queue = queue
        self.id = id
    }

    /// Runs `body` as a child task that shutdown's `cancelRunning` can cancel, and so can whoever
    /// `alsoCancelledBy` hands the cancel function to (a client's disconnect).
    public func run<T: Sendable>(
        alsoCancelledBy register: (@escaping @Sendable () -> Void) -> Void = { _ in },
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withExternalCancellation(
            register: { cancel in
                onCancelRunning(cancel)
                register(cancel)
            }, body)
    }

    /// Has shutdown's `cancelRunning` call `cancel` while this slot is held.
    public func onCancelRunning(_ cancel: @escaping @Sendable () -> Void) {
        queue.register(id, canceller: cancel)
    }

    /// Gives the slot back; later calls do nothing.
    public func release() {
        guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
        queue.release(id, heldFor: admitted.duration(to: .now).milliseconds / 1000)
    }

    deinit { release() }
}
