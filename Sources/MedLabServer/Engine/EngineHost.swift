import Foundation
import Logging
import MedInference

/// Holds the engine and its load state, so the server can start answering `/api/health`
/// before the model is loaded (loading MedGemma takes seconds to minutes).
public actor EngineHost {
    /// What `/api/health` reports as `status`.
    public enum Status: String, Sendable, Codable {
        case loading, ok
        case noModel = "no_model"
        case error
    }

    public private(set) var status: Status
    public private(set) var engine: (any InferenceEngine)?
    private var loadedInfo: EngineInfo?
    /// The demo model (Gemma 3 270M base + random projector): its answers mean nothing.
    public private(set) var isDemo: Bool
    /// Why there is no model, or what failed, in words a person can act on.
    public private(set) var message: String?
    private var loadStarted = Date()

    /// A host with an engine that is already loaded.
    public init(engine: any InferenceEngine, info: EngineInfo, isDemo: Bool = false) {
        self.engine = engine
        self.loadedInfo = info
        self.isDemo = isDemo
        self.status = .ok
    }

    /// A host in a given state without an engine (`loading`, `no_model` or `error`).
    public init(status: Status, message: String? = nil) {
        self.status = status
        self.message = message
        self.isDemo = false
    }

    /// Starts loading in the background and returns at once; `/api/health` says `loading` meanwhile.
    /// The outcome goes to `logger` too: a person starting the lab reads why generation will answer 503.
    public static func loading(_ files: ModelFiles, options: EngineOptions, logger: Logger? = nil) -> EngineHost {
        let host = EngineHost(status: .loading, message: "loading \(URL(fileURLWithPath: files.model).lastPathComponent)")
        Task {
            let started = ContinuousClock.now
            do {
                let engine = try await LlamaEngine.load(files, options: options)
                await host.loaded(engine, info: engine.info, isDemo: files.isDemo)
                let seconds = (ContinuousClock.now - started) / .seconds(1)
                logger?.info("model loaded", metadata: ["seconds": "\(String(format: "%.1f", seconds))"])
            } catch {
                await host.failed(String(describing: error))
                logger?.error("the model could not be loaded; generation answers 503", metadata: ["error": "\(error)"])
            }
        }
        return host
    }

    public func loaded(_ engine: any InferenceEngine, info: EngineInfo, isDemo: Bool) {
        self.engine = engine
        self.loadedInfo = info
        self.isDemo = isDemo
        self.status = .ok
        self.message = nil
    }

    public func failed(_ message: String) {
        status = .error
        self.message = message
    }

    /// Waits until the in-process engine has no request decoding or waiting (cancelled ones stop at
    /// the next token), at most `timeout`. Shutdown calls it so the process never exits while
    /// llama.cpp's threads are still inside a decode.
    public func waitUntilIdle(timeout: Duration) async {
        await engine?.waitUntilIdle(timeout: timeout)
    }

    /// What is loaded and where it runs. Remote engines are asked again each time: what they can do
    /// (vision, context) is learned from health checks, possibly after start-up.
    public var info: EngineInfo? {
        get async {
            guard let engine, let known = loadedInfo, known.backend == "remote" || known.backend == "pool" else { return loadedInfo }
            let fresh = await engine.info
            loadedInfo = fresh
            return fresh
        }
    }

    /// Seconds since loading began (for `Retry-After` while loading).
    var loadingSeconds: Double { Date().timeIntervalSince(loadStarted) }

    /// The engine, or the 503 that says why there is none.
    func ready() async throws -> (engine: any InferenceEngine, info: EngineInfo, isDemo: Bool) {
        switch status {
        case .ok:
            guard let engine, let info = await info else { throw LabError.internalError("engine state is inconsistent") }
            return (engine, info, isDemo)
        case .loading:
            throw LabError.unavailable(code: "loading", message: "the model is still loading; retry shortly", retryAfter: 5)
        case .noModel:
            throw LabError.unavailable(code: "no_model", message: message ?? ModelFiles.downloadHint, retryAfter: nil)
        case .error:
            throw LabError.unavailable(
                code: "model_error", message: "the model failed to load: \(message ?? "unknown error")",
                retryAfter: nil)
        }
    }
}
