import MedInference
import Synchronization
import Testing

@testable import MedLabServer

/// A connection's disconnect watcher keeps only the callbacks of requests still running: a
/// keep-alive connection carries many requests, and each used to leave its callback behind.
@Suite struct DisconnectWatcherTests {
    private final class Counter: Sendable {
        let value = Mutex(0)
        func increment() { value.withLock { $0 += 1 } }
        var count: Int { value.withLock { $0 } }
    }

    @Test func requestsOnOneConnectionLeaveNoCallbackBehind() async throws {
        let watcher = ClientDisconnectWatcher()
        // As `cancellingOnDisconnect` runs each request of a keep-alive connection.
        for n in 0..<100 {
            let value = try await withExternalCancellation(register: LabRequestContext.registration(on: watcher)) { n }
            #expect(value == n)
        }
        #expect(watcher.pending == 0)
    }

    @Test func aStreamsRegistrationLastsAsLongAsItsHolderAndStillFires() {
        let watcher = ClientDisconnectWatcher()
        let fired = Counter()
        // A response body that captured the registration and then finished.
        var finished: (@Sendable (@escaping @Sendable () -> Void) -> Void)? = LabRequestContext.registration(on: watcher)
        finished?({ fired.increment() })
        #expect(watcher.pending == 1)
        finished = nil
        #expect(watcher.pending == 0)

        let running = LabRequestContext.registration(on: watcher)
        running { fired.increment() }
        #expect(watcher.pending == 1)
        watcher.clientClosed()
        #expect(fired.count == 1)
        #expect(watcher.pending == 0)
        running { fired.increment() }  // the client is gone: runs at once
        #expect(fired.count == 2)
        withExtendedLifetime(running) {}
    }
}
