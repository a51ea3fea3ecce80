import Foundation
import MedInference
import Synchronization

/// An in-memory `InferenceEngine` for server tests of routing, limits, errors and streaming
/// that need no model: it answers every request with `pieces`, in order, and remembers what it
/// was asked. With `held`, each request waits after its first piece until `release()` (or until
/// it is cancelled, which it records), so a test can hold a slot busy without timing.
public final class ScriptedEngine: InferenceEngine {
    /// What a request finished as: its text, or `cancelled` when its stream was terminated early.
    public enum Outcome: Sendable, Equatable {
        case answered(String)
        case cancelled
    }

    public let info: EngineInfo
    private let pieces: [String]
    private let failure: InferenceError?
    private let held: Bool
    private let state = Mutex<(requests: [GenerationRequest], outcomes: [Outcome], released: Bool)>(([], [], false))
    private let changed = ConditionSignal()

    /// An engine that streams `pieces`; with `failure` it throws that instead of answering.
    public init(pieces: [String] = ["The ", "answer."], vision: Bool = true, held: Bool = false, failure: InferenceError? = nil) {
        self.pieces = pieces
        self.failure = failure
        self.held = held
        self.info = EngineInfo(
            model: "scripted.gguf", projector: vision ? "scripted-mmproj.gguf" : nil, backend: "cpu", devices: ["test"],
            gpuLayers: 0, contextTokens: 4096, imageSize: vision ? 896 : nil, tokensPerImage: vision ? 256 : nil,
            llamaBuild: nil)
    }

    /// The requests received so far, in order.
    public var requests: [GenerationRequest] { state.withLock { $0.requests } }
    /// How the requests ended so far, in order of ending.
    public var outcomes: [Outcome] { state.withLock { $0.outcomes } }

    /// Lets held requests go on past their first piece.
    public func release() {
        state.withLock { $0.released = true }
        changed.signal()
    }

    /// Waits until `count` requests have arrived.
    public func waitForRequests(_ count: Int) async {
        await changed.wait(until: { self.requests.count >= count })
    }

    /// Waits until `count` requests have ended (answered or cancelled).
    public func waitForOutcomes(_ count: Int) async {
        await changed.wait(until: { self.outcomes.count >= count })
    }

    public func generate(_ request: GenerationRequest) -> AnswerStream {
        AnswerStream { continuation in
            let task = Task {
                self.state.withLock { $0.requests.append(request) }
                self.changed.signal()
                if let failure = self.failure { return continuation.finish(throwing: failure) }
                for (index, piece) in self.pieces.enumerated() {
                    continuation.yield(.delta(piece))
                    if index == 0, self.held { await self.changed.wait(until: { self.state.withLock { $0.released } }) }
                    if Task.isCancelled { return self.ended(.cancelled) }
                }
                let text = self.pieces.joined()
                continuation.yield(
                    .finished(
                        GenerationSummary(
                            rawText: text, textTokensIn: 10, imageTokensIn: 0, tokensOut: self.pieces.count,
                            imageEncodeMs: 0, prefillMs: 1, decodeMs: 1, finishReason: "stop")))
                continuation.finish()
                self.ended(.answered(text))
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private func ended(_ outcome: Outcome) {
        state.withLock { $0.outcomes.append(outcome) }
        changed.signal()
    }
}
