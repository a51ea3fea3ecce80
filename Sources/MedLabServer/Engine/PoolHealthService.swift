import MedInference
import ServiceLifecycle

/// The engine pool's periodic health checks as a service beside the HTTP server, so they run in
/// the server's task tree and stop when it shuts down.
public struct PoolHealthService: Service {
    let pool: EnginePool

    public init(pool: EnginePool) {
        self.pool = pool
    }

    public func run() async throws {
        let pool = self.pool
        await cancelWhenGracefulShutdown { await pool.monitorHealth() }
    }
}
