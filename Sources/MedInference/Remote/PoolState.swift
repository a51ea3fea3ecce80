import Foundation

/// The pool's book-keeping, always changed under its lock.
struct PoolState {
    /// One member's counters and health.
    struct Member {
        var name: String
        var slots: Int
        var state: BackendStatus.State
        var outstanding = 0
        var requests = 0
        var failures = 0
        var latencyMs: Double?
        var firstEventMs: Double?
        var lastError: String?

        /// A health check passed.
        mutating func checked(latencyMs: Double) {
            self.latencyMs = latencyMs
            state = .up
            lastError = nil
        }

        /// A request or health check failed because of this member: take it out until a check passes.
        mutating func failed(_ message: String) {
            failures += 1
            state = .down
            lastError = message
        }

        mutating func started() {
            outstanding += 1
            requests += 1
        }

        mutating func finished() { outstanding = max(0, outstanding - 1) }

        /// Smooths the time to first event (a fifth of each new sample).
        mutating func firstEvent(ms: Double) {
            firstEventMs = firstEventMs.map { $0 * 0.8 + ms * 0.2 } ?? ms
            if state == .unknown { state = .up }
        }

        func status(kind: String) -> BackendStatus {
            BackendStatus(
                name: name, kind: kind, state: state, outstanding: outstanding, slots: slots, requests: requests,
                failures: failures, latencyMs: latencyMs, firstEventMs: firstEventMs, lastError: lastError)
        }
    }

    var members: [Member]
    /// Where the next tie starts, so equally loaded members take turns.
    private var cursor = 0

    init(members: [EnginePool.Member]) {
        self.members = members.map {
            Member(name: $0.name, slots: $0.slots, state: $0.remote == nil ? .up : .unknown)
        }
    }

    /// The member with the fewest outstanding requests per slot among those not down, and counts
    /// the request on it; `nil` when none is left.
    mutating func pick(excluding tried: Set<Int>) -> Int? {
        let count = members.count
        var best: Int?
        var bestLoad = Double.infinity
        for offset in 0..<count {
            let index = (cursor + offset) % count
            let member = members[index]
            guard member.state != .down, !tried.contains(index) else { continue }
            let load = Double(member.outstanding) / Double(member.slots)
            if load < bestLoad {
                best = index
                bestLoad = load
            }
        }
        guard let best else { return nil }
        cursor = (best + 1) % count
        members[best].started()
        return best
    }
}
