import Foundation
import MedInference
import Prometheus

/// Per-engine series of a pool (`medlab serve --backend`), refreshed from the pool at each scrape:
/// state and load are gauges; requests and failures are counters that follow the pool's totals.
final class BackendMetrics: @unchecked Sendable {
    private let registry: PrometheusCollectorRegistry
    private let lock = NSLock()
    private var pools: [EnginePool] = []
    /// What each counter showed at the last scrape, so it grows by the difference.
    private var reported: [String: Int] = [:]

    init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    func track(_ pool: EnginePool) {
        lock.lock()
        defer { lock.unlock() }
        pools.append(pool)
    }

    /// Copies every tracked pool's numbers into the registry (called just before it is emitted).
    func refresh() {
        lock.lock()
        defer { lock.unlock() }
        for status in pools.flatMap(\.statuses) {
            let labels = [("backend", status.name), ("kind", status.kind)]
            gauge("backend_up", "1 when the engine takes requests (up or not yet checked), 0 when it is down.", labels)
                .set(status.state == .down ? 0.0 : 1.0)
            gauge("backend_outstanding_requests", "Requests on the engine now.", labels).set(Double(status.outstanding))
            gauge("backend_slots", "Requests the engine takes at once.", labels).set(Double(status.slots))
            gauge("backend_health_latency_seconds", "Round trip of the last health check.", labels)
                .set((status.latencyMs ?? 0) / 1000)
            gauge("backend_first_event_seconds", "Smoothed time from sending a request to its first streamed event.", labels)
                .set((status.firstEventMs ?? 0) / 1000)
            advance("backend_requests", "Requests sent to the engine.", labels, to: status.requests)
            advance(
                "backend_failures", "Requests and health checks that failed because of the engine.", labels,
                to: status.failures)
        }
    }

    private func descriptor(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "medlab", metricName: metric, unitName: unit, helpText: help)
    }

    private func gauge(_ metric: String, _ help: String, _ labels: [(String, String)]) -> Gauge {
        registry.makeGauge(descriptor: descriptor(metric, "", help), labels: labels)
    }

    private func advance(_ metric: String, _ help: String, _ labels: [(String, String)], to total: Int) {
        let key = metric + "|" + labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
        let delta = total - (reported[key] ?? 0)
        let counter = registry.makeCounter(descriptor: descriptor(metric, "total", help), labels: labels)
        if delta > 0 { counter.increment(by: Int64(delta)) }
        reported[key] = max(total, reported[key] ?? 0)
    }
}
