import Foundation
import Logging
import ServiceLifecycle

/// On SIGTERM/SIGINT: refuse new generations, let running ones finish for `grace` seconds, then
/// cancel them, so the process exits promptly and cleanly (exit code 0).
///
/// List it **after** the app in the service group: a group shuts its services down in reverse
/// order, one after another, so the drain runs first, while the HTTP server still delivers the
/// answers; inside the app it would only start once the server had waited for every request.
public struct ShutdownDrain: Service {
    let queue: GenerationQueue
    let grace: Double
    let logger: Logger

    public init(queue: GenerationQueue, grace: Double, logger: Logger) {
        self.queue = queue
        self.grace = grace
        self.logger = logger
    }

    public func run() async throws {
        // Returns when graceful shutdown begins; throws if the group is cancelled instead.
        try? await gracefulShutdown()
        queue.drain()
        logger.info("shutting down: no new requests", metadata: ["grace_s": "\(grace)"])
        let finished = await queue.waitUntilIdle(timeout: .milliseconds(Int(grace * 1000)))
        if !finished, !queue.isIdle {
            logger.warning("grace period over: cancelling running generations")
            queue.cancelRunning()
        }
    }
}
