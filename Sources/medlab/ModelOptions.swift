import ArgumentParser
import Foundation
import MedInference

/// Which model files to load and how; shared by every command that runs the model.
struct ModelOptions: ParsableArguments {
    @Option(help: "Text model GGUF (default: MEDLAB_MODEL, else the first *.gguf in ~/.cache/medlab/models).")
    var model: String?

    @Option(help: "Vision projector mmproj GGUF (default: MEDLAB_MMPROJ, else mmproj*.gguf next to the model).")
    var mmproj: String?

    @Flag(help: "Use the small demo model prepared by scripts/setup.sh (Gemma 3 270M + random projector; its answers mean nothing).")
    var demo = false

    @Option(help: "Context size in tokens.")
    var ctx = 8192

    @Option(name: .customLong("gpu-layers"), help: "Layers to offload when a GPU backend is found (default: all).")
    var gpuLayers: Int?

    @Option(help: "CPU threads (default: one per physical core, as llama.cpp's tools).")
    var threads: Int?

    @Option(help: "Requests decoded together, each with its own --ctx of KV cache (raise it on a GPU for many users).")
    var parallel = 1

    @Option(
        name: .customLong("kv-cache"),
        help: ArgumentHelp(
            "With --parallel > 1: one KV buffer shared by all requests, one per request, or auto (shared on a GPU, "
                + "where batched steps run twice as fast; per request on a CPU, where load changes answers least).",
            valueName: "auto|shared|separate"))
    var kvCache: KVCacheMode = .auto

    /// The files to load, demo only when asked for.
    func files() throws -> ModelFiles {
        if demo {
            guard let files = ModelFiles.demo() else {
                throw ValidationError("the demo model is not prepared: run scripts/setup.sh first")
            }
            return files
        }
        return try ModelFiles.resolve(model: model, projector: mmproj, allowDemo: false)
    }

    var engineOptions: EngineOptions {
        EngineOptions(
            contextTokens: ctx, gpuLayers: gpuLayers, threads: threads, parallel: parallel,
            sharedCache: kvCache.sharedCache)
    }
}

/// Remote inference servers to use instead of (or beside) the model in this process.
struct BackendOptions: ParsableArguments {
    @Option(
        name: .customLong("backend"),
        help: ArgumentHelp(
            "An OpenAI-compatible server (vLLM, llama-server, Ollama) to send generation to; repeat for a pool. "
                + "Prefix the kind to skip detection, e.g. vllm=http://gpu0:8000.", valueName: "url"))
    var backend: [String] = []

    @Option(name: .customLong("backends"), help: ArgumentHelp("A JSON file listing backends (see docs/deploy.md).", valueName: "file"))
    var backendsFile: String?

    @Option(name: .customLong("backend-slots"), help: "Requests each backend takes at once (its --parallel or batch share).")
    var backendSlots = 4

    @Option(name: .customLong("backend-model"), help: "Model id to ask backends for (default: the first one /v1/models lists).")
    var backendModel: String?

    @Option(
        name: .customLong("backend-image-size"),
        help: ArgumentHelp(
            "Square side in pixels the backends' projector expects (default 896, MedGemma's); giving it also says "
                + "the backends can see images, for servers that do not report it themselves (llama-server and Ollama do).",
            valueName: "pixels"))
    var backendImageSizeOption: Int?

    /// The projector's square side, MedGemma's when not given.
    var backendImageSize: Int { backendImageSizeOption ?? 896 }
    /// `--backend-image-size` given means the backends see images; else each server is asked.
    var backendVision: Bool? { backendImageSizeOption != nil ? true : nil }

    @Option(name: .customLong("backend-tokens-per-image"), help: "Tokens one image becomes on the backends (256 for MedGemma).")
    var backendTokensPerImage = 256

    @Option(name: .customLong("backend-api-key"), help: "Bearer key for the backends (default: MEDLAB_BACKEND_API_KEY).")
    var backendAPIKey: String?

    @Option(name: .customLong("health-interval"), help: "Seconds between health checks of each backend.")
    var healthInterval = 5.0

    @Flag(name: .customLong("with-local"), help: "Also run the model in this process as one more engine of the pool.")
    var withLocal = false

    /// True when any backend was given.
    var isEnabled: Bool { !backend.isEmpty || backendsFile != nil }

    /// Every endpoint from `--backend` and `--backends`.
    func endpoints() throws -> [RemoteEndpoint] {
        let environment = ProcessInfo.processInfo.environment
        let key = backendAPIKey ?? environment["MEDLAB_BACKEND_API_KEY"]
        do {
            var endpoints = try backend.map {
                var endpoint = try RemoteEndpoint(
                    parsing: $0, slots: backendSlots, imageSize: backendImageSize,
                    tokensPerImage: backendTokensPerImage, apiKey: key, vision: backendVision)
                endpoint.model = backendModel
                return endpoint
            }
            if let backendsFile {
                let defaults = RemoteEndpoint(
                    url: URL(string: "http://localhost")!, model: backendModel, slots: backendSlots,
                    imageSize: backendImageSize, tokensPerImage: backendTokensPerImage, apiKey: key,
                    vision: backendVision)
                endpoints += try PoolConfiguration.load(path: backendsFile).endpoints(defaults: defaults, environment: environment)
            }
            guard !endpoints.isEmpty else { throw ValidationError("the backends file lists no backend") }
            return endpoints
        } catch let error as InferenceError {
            throw ValidationError(error.description)
        }
    }

    /// The pool, first health check done; later checks run in the background unless the caller
    /// runs `monitorHealth()` itself (`serve`, as a service of its group).
    func makePool(local: (engine: any InferenceEngine, slots: Int)? = nil, periodicChecks: Bool = true) async throws -> EnginePool {
        var interval = healthInterval
        if let backendsFile, let fileInterval = try? PoolConfiguration.load(path: backendsFile).healthInterval { interval = fileInterval }
        var members = try endpoints().map { EnginePool.Member(RemoteEngine(endpoint: $0)) }
        if let local { members.append(EnginePool.Member(engine: local.engine, slots: local.slots)) }
        let pool = EnginePool(members: members, healthInterval: interval)
        if periodicChecks { await pool.startHealthChecks() } else { await pool.checkHealth() }
        return pool
    }
}
