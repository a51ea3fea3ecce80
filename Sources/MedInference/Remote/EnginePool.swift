import Foundation
import Synchronization

/// Several engines behind one `InferenceEngine`: remote servers (and in-process engines) with
/// health checks and least-outstanding-requests routing.
///
/// - A request goes to the engine with the fewest outstanding requests per slot (ties rotate).
/// - An engine that cannot be reached, or answers 5xx, is taken out until a health check passes.
/// - A request that fails that way before its first event is retried once on another engine;
///   after its first event it fails with an error saying the answer is incomplete (a client never
///   gets a silently truncated answer).
public final class EnginePool: InferenceEngine {
    /// One engine of the pool.
    public struct Member: Sendable {
        public let name: String
        public let engine: any InferenceEngine
        public let slots: Int
        /// Remote members are health-checked; in-process ones are up while the process is.
        let remote: RemoteEngine?

        /// A remote server.
        public init(_ remote: RemoteEngine) {
            self.name = remote.endpoint.name
            self.engine = remote
            self.slots = remote.endpoint.slots
            self.remote = remote
        }

        /// An in-process engine (e.g. a `LlamaEngine`) beside the remote ones.
        public init(name: String = "in-process", engine: any InferenceEngine, slots: Int) {
            self.name = name
            self.engine = engine
            self.slots = max(1, slots)
            self.remote = nil
        }
    }

    /// The engines, in configuration order (health and metrics list them so).
    public let members: [Member]
    /// Seconds between health checks of remote members.
    public let healthInterval: TimeInterval
    private let states: Mutex<PoolState>
    private let checker = Mutex<Task<Void, Never>?>(nil)

    /// A pool of `members`; call `startHealthChecks()` to keep their states current.
    public init(members: [Member], healthInterval: TimeInterval = 5) {
        precondition(!members.isEmpty, "a pool needs at least one engine")
        self.members = members
        self.healthInterval = healthInterval
        self.states = Mutex(PoolState(members: members))
    }

    deinit { checker.withLock { $0?.cancel() } }

    public var info: EngineInfo {
        get async {
            var first = await members[0].engine.info
            for member in members.dropFirst() {
                let info = await member.engine.info
                // Image questions go to the members that see images (see `run`): one is enough.
                first.vision = first.vision || info.vision
                first.imageSize = first.imageSize ?? info.imageSize
                first.tokensPerImage = first.tokensPerImage ?? info.tokensPerImage
                // The smallest context of the pool is what every request can count on.
                if info.contextTokens > 0 { first.contextTokens = min(first.contextTokens, info.contextTokens) }
            }
            first.backend = members.allSatisfy { $0.remote != nil } ? "remote" : "pool"
            first.devices = members.map(\.name)
            first.parallel = slots
            return first
        }
    }

    /// Requests the whole pool takes at once.
    public var slots: Int { members.reduce(0) { $0 + $1.slots } }

    public var backendStatuses: [BackendStatus]? { statuses }

    /// Waits for the in-process members (remote ones have no threads here).
    public func waitUntilIdle(timeout: Duration) async {
        for member in members where member.remote == nil { await member.engine.waitUntilIdle(timeout: timeout) }
    }

    /// Each member's state, load and latency, in configuration order.
    public var statuses: [BackendStatus] {
        let kinds = members.map { $0.remote.map { $0.kind.rawValue } ?? "in-process" }
        let visions = members.map { $0.remote?.vision }
        return states.withLock { state in
            state.members.enumerated().map { index, member in
                var status = member.status(kind: kinds[index])
                status.vision = visions[index]
                return status
            }
        }
    }

    /// The members that cannot answer `request`: those without vision when it has images.
    private func unsuitable(for request: GenerationRequest) async -> Set<Int> {
        guard !request.images.isEmpty else { return [] }
        var blind: Set<Int> = []
        for (index, member) in members.enumerated() {
            let sees = if let remote = member.remote { remote.sees } else { await member.engine.info.vision }
            if !sees { blind.insert(index) }
        }
        return blind
    }

    /// True when at least one member may take requests.
    public var hasLiveMember: Bool { statuses.contains { $0.state != .down } }

    /// Checks every remote member now (concurrently) and updates their states.
    public func checkHealth() async {
        await withTaskGroup(of: Void.self) { group in
            for (index, member) in members.enumerated() {
                guard let remote = member.remote else { continue }
                group.addTask {
                    let start = DispatchTime.now()
                    do {
                        try await remote.probe()
                        let ms = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
                        self.states.withLock { $0.members[index].checked(latencyMs: ms) }
                    } catch {
                        self.states.withLock { $0.members[index].failed(String(describing: error)) }
                    }
                }
            }
        }
    }

    /// Checks now, then every `healthInterval` seconds until `stopHealthChecks` (or the pool is gone).
    public func startHealthChecks() async {
        await checkHealth()
        let interval = healthInterval
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Int(interval * 1000)))
                guard let self, !Task.isCancelled else { return }
                await self.checkHealth()
            }
        }
        checker.withLock {
            $0?.cancel()
            $0 = task
        }
    }

    /// Checks every `healthInterval` seconds until the calling task is cancelled: the server runs
    /// this as a service of its group, so the checks stop with it.
    public func monitorHealth() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(Int(healthInterval * 1000)))
            if Task.isCancelled { return }
            await checkHealth()
        }
    }

    /// Ends the periodic checks (states stay as they were last seen).
    public func stopHealthChecks() {
        checker.withLock {
            $0?.cancel()
            $0 = nil
        }
    }

    public func generate(_ request: GenerationRequest) -> AnswerStream {
        let (stream, continuation) = AnswerStream.makeStream()
        let task = Task { await self.run(request, continuation: continuation) }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    private func run(_ request: GenerationRequest, continuation: AnswerStream.Continuation) async {
        let blind = await unsuitable(for: request)
        if blind.count == members.count {
            return continuation.finish(throwing: InferenceError.badRequest(EngineInfo.noServerSees(members.map(\.name))))
        }
        var tried = blind
        var attempts = 0
        var lastError: (any Error)?
        while attempts < 2, let index = states.withLock({ $0.pick(excluding: tried) }) {
            tried.insert(index)
            attempts += 1
            let member = members[index]
            let start = DispatchTime.now()
            var forwarded = false
            do {
                for try await event in member.engine.generate(request) {
                    if !forwarded {
                        forwarded = true
                        let ms = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
                        states.withLock { $0.members[index].firstEvent(ms: ms) }
                    }
                    continuation.yield(event)
                }
                states.withLock { $0.members[index].finished() }
                continuation.finish()
                return
            } catch {
                guard !Task.isCancelled else {
                    states.withLock { $0.members[index].finished() }
                    return continuation.finish()
                }
                // Only an engine that cannot answer is taken out; a bad request would fail anywhere.
                let isFault = if case InferenceError.unavailable = error { true } else { false }
                states.withLock { state in
                    if isFault { state.members[index].failed(String(describing: error)) }
                    state.members[index].finished()
                }
                guard isFault else { return continuation.finish(throwing: error) }
                if forwarded {
                    return continuation.finish(
                        throwing: InferenceError.generationFailed(
                            "\(member.name) failed in the middle of the answer, which is incomplete: \(error)"))
                }
                lastError = error
            }
        }
        let names = statuses.enumerated().filter { !blind.contains($0.offset) }.map { "\($0.element.name) \($0.element.state.rawValue)" }
        let which = blind.isEmpty ? "inference backend" : "inference backend that can see images"
        continuation.finish(
            throwing: lastError
                ?? InferenceError.unavailable(
                    "no \(which) is up (\(names.joined(separator: ", "))); retry shortly"))
    }
}
