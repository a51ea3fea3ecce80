import Foundation
import Synchronization

/// Runs CPU-heavy image work (base64, DICOM, JPEG 2000, large PNG decoding, letterboxing) on
/// threads of its own, at most `width` jobs at a time, so one big upload never holds a thread
/// of Swift's cooperative pool, which answers every other request (`/api/health` included).
final class DecodeExecutor: Sendable {
    let width: Int
    private let queue = DispatchQueue(label: "medlab.decode", qos: .userInitiated, attributes: .concurrent)
    private let state = Mutex<(running: Int, waiting: [CheckedContinuation<Void, Never>])>((0, []))

    /// At most `width` decodes at once; the default leaves a core for the server and the engine.
    init(width: Int = max(1, ProcessInfo.processInfo.activeProcessorCount - 1)) {
        self.width = max(1, width)
    }

    /// Runs `work` on the executor's threads and returns its result (or error).
    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        await acquire()
        defer { release() }
        return try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }

    private func acquire() async {
        let admitted = state.withLock { state -> Bool in
            guard state.running < width else { return false }
            state.running += 1
            return true
        }
        if admitted { return }
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                if state.running < width {
                    state.running += 1
                    return true
                }
                state.waiting.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    private func release() {
        // The slot passes straight to the next in line, so `running` stays the same then.
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiting.isEmpty {
                state.running -= 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }
}
