import Foundation

/// A value behind a lock, for state that synchronous code (metrics scrapes, health) must read
/// while requests change it. `Synchronization.Mutex` would need macOS 15; the package allows 14.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    /// Runs `body` with exclusive access; keep it short and never `await` inside.
    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
