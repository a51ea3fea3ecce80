import Synchronization

/// Lets async code wait, without polling, for a condition that other code announces with
/// `signal()` whenever it may have become true (an engine gone idle, a client gone away).
///
/// A waiter registers before it checks its condition, so a signal that lands between the
/// check and the suspension is never lost. Cancelling the waiting task ends the wait.
public final class ConditionSignal: Sendable {
    private enum Waiter {
        case registered
        case signalled
        case suspended(CheckedContinuation<Void, Never>)
    }

    private let state = Mutex<(next: UInt64, waiters: [UInt64: Waiter])>((0, [:]))

    public init() {}

    /// Wakes every waiter to check its condition again.
    public func signal() {
        let wake: [CheckedContinuation<Void, Never>] = state.withLock { state in
            var continuations: [CheckedContinuation<Void, Never>] = []
            for (id, waiter) in state.waiters {
                switch waiter {
                case .registered: state.waiters[id] = .signalled
                case .signalled: break
                case .suspended(let continuation):
                    continuations.append(continuation)
                    state.waiters[id] = nil
                }
            }
            return continuations
        }
        for continuation in wake { continuation.resume() }
    }

    /// Returns once `condition()` holds, or when the task is cancelled.
    public func wait(until condition: () -> Bool) async {
        while !Task.isCancelled {
            let id = state.withLock { state in
                state.next += 1
                state.waiters[state.next] = .registered
                return state.next
            }
            if condition() {
                _ = state.withLock { $0.waiters.removeValue(forKey: id) }
                return
            }
            await suspend(id)
        }
    }

    /// Returns whether `condition()` came to hold within `timeout` (false on timeout or cancellation).
    public func wait(until condition: @escaping @Sendable () -> Bool, timeout: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await self.wait(until: condition)
                return condition()
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    private func suspend(_ id: UInt64) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if case .registered = state.waiters[id] {
                        state.waiters[id] = .suspended(continuation)
                        return false
                    }
                    state.waiters[id] = nil  // signalled (or cancelled) before suspending
                    return true
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let continuation: CheckedContinuation<Void, Never>? = state.withLock { state in
                switch state.waiters[id] {
                case .suspended(let continuation):
                    state.waiters[id] = nil
                    return continuation
                case .registered:
                    state.waiters[id] = .signalled
                    return nil
                default: return nil
                }
            }
            continuation?.resume()
        }
    }
}

/// Runs `body` as a child task that code outside it can cancel (a client that disconnects, the
/// end of a shutdown grace period), without an unstructured task: `register` receives the
/// function that cancels it. Cancelling the caller cancels `body` too.
public func withExternalCancellation<T: Sendable>(
    isolation: isolated (any Actor)? = #isolation,
    register: (@escaping @Sendable () -> Void) -> Void,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let cancelled = Flag()
    let signal = ConditionSignal()
    register {
        cancelled.value.store(true, ordering: .releasing)
        signal.signal()
    }
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            await signal.wait(until: { cancelled.value.load(ordering: .acquiring) })
            return nil
        }
        // The first non-nil result is body's; a nil is the trigger, after which body is cancelled and
        // still awaited, so its own result or error is what the caller sees.
        while let result = try await group.next() {
            group.cancelAll()
            if let value = result { return value }
        }
        throw CancellationError()
    }
}

/// A flag that escaping closures can share (an `Atomic` itself cannot be captured).
private final class Flag: Sendable {
    let value = Atomic<Bool>(false)
}
