import ArgumentParser
import Foundation
import Logging
import MedInference
import MedLabRecord
import MedLabServer
import ServiceLifecycle
import UnixSignals

/// `medlab serve`: the lab — the article's API, the OpenAI-compatible API, health and metrics.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start the lab server (article API, OpenAI-compatible API, health, metrics).",
        discussion: """
            Listens on 127.0.0.1:7860 by default. It answers /api/health at once and loads the model in the \
            background: MedGemma when its files are found, otherwise the demo model (whose answers mean nothing), \
            otherwise none (/api/health says no_model and what to download). With --backend (repeatable) or \
            --backends FILE, generation goes to OpenAI-compatible servers (vLLM, llama-server, Ollama) instead, \
            health-checked and least-loaded first; see docs/deploy.md. Research and teaching use only — not for diagnosis.
            """)

    @Option(help: "Address to listen on. Anything but loopback requires --api-key.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on.")
    var port = 7860

    @Option(name: .customLong("api-key"), help: "Require `Authorization: Bearer KEY` on the API (default: MEDLAB_API_KEY).")
    var apiKey: String?

    @Option(name: [.customLong("cors"), .customLong("cors-origin")], help: "Allow browsers from this origin (default: CORS off).")
    var corsOrigin: String?

    @OptionGroup var modelOptions: ModelOptions

    @OptionGroup(title: "Remote inference (scale-out)") var backendOptions: BackendOptions

    @OptionGroup(title: "The lab record") var recordOptions: RecordOptions

    @Flag(name: .customLong("no-demo"), help: "Do not fall back to the demo model when MedGemma is not found.")
    var noDemo = false

    @Option(name: .customLong("max-body-mb"), help: "Largest request body in MiB.")
    var maxBodyMB = 64

    @Option(name: .customLong("max-images"), help: "Most images in one request.")
    var maxImages = 96

    @Option(
        name: .customLong("study-cache-mb"),
        help:
            "MiB of uploaded studies (files and decoded pixels) kept for renders, measurements and questions by reference; least recently used go first."
    )
    var studyCacheMB = 2048

    @Option(name: .customLong("study-max-upload-mb"), help: "Largest study upload in MiB, and most its files (ZIPs unpacked) may come to.")
    var studyMaxUploadMB = 1024

    @Option(name: .customLong("study-max-files"), help: "Most files in one study upload, ZIP entries included.")
    var studyMaxFiles = 4096

    @Option(name: .customLong("max-new-tokens-limit"), help: "Most tokens one answer may ask for.")
    var maxNewTokensLimit = 8192

    @Option(name: .customLong("queue"), help: "Requests that may wait for the model; one more gets 429.")
    var queue = 8

    @Option(name: .customLong("timeout"), help: "Seconds a request may take, waiting included, before 504.")
    var timeout = 300.0

    @Option(name: .customLong("shutdown-grace"), help: "Seconds running requests get to finish after SIGTERM.")
    var shutdownGrace = 10.0

    @Option(name: .customLong("log-format"), help: "Log format: json or text.")
    var logFormat: LogFormat = .json

    func run() async throws {
        let format = logFormat
        LoggingSystem.bootstrap { label in
            if format == .text { return StreamLogHandler.standardError(label: label) }
            return JSONLogHandler(label: label)
        }
        let logger = Logger(label: "medlab.server")
        let environment = ProcessInfo.processInfo.environment
        var slots = modelOptions.parallel
        var pool: EnginePool?
        if backendOptions.isEnabled {
            pool = try await makePool(logger: logger)
            slots = pool?.slots ?? slots
        }
        let config = LabServerConfiguration(
            host: host, port: port, apiKey: apiKey ?? environment["MEDLAB_API_KEY"], corsOrigin: corsOrigin,
            maxBodyBytes: maxBodyMB << 20, maxImages: maxImages, maxNewTokens: maxNewTokensLimit,
            concurrentGenerations: slots, maxQueuedRequests: queue, requestTimeout: timeout,
            shutdownGrace: shutdownGrace, version: MedLab.configuration.version, studyCacheBytes: studyCacheMB << 20,
            studyMaxUploadBytes: studyMaxUploadMB << 20, studyMaxFiles: studyMaxFiles)
        do { try config.validate() } catch { throw ValidationError(String(describing: error)) }

        let metrics = LabMetrics()
        let recordLogger = Logger(label: "medlab.record")
        let recording = recordOptions.session(remoteURLs: backendOptions.isEnabled ? (try backendOptions.endpoints().map(\.url)) : []) {
            message in
            metrics.recordFailed()
            recordLogger.error("the record could not keep an analysis; answers still go out", metadata: ["error": "\(message)"])
        }
        if let path = recording.path { logger.info("record", metadata: ["path": "\(path)", "status": "\(recording.health.status)"]) }
        let host: EngineHost
        if let pool {
            host = EngineHost(engine: pool, info: await pool.info)
            metrics.track(pool)
        } else {
            host = localHost(logger: logger, recording: recording)
        }
        let queue = GenerationQueue(configuration: config, metrics: metrics)
        let app = try buildApplication(
            host: host, configuration: config, metrics: metrics, queue: queue, recording: recording,
            logger: logger)
        // The drain comes last so it is shut down first (see ShutdownDrain).
        var services: [any Service] = [app]
        if let pool { services.append(PoolHealthService(pool: pool)) }
        services.append(ShutdownDrain(queue: queue, grace: shutdownGrace, logger: logger))
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        // A generation cancelled at the end of the grace period stops at its next token; wait for it,
        // then leave without running static destructors: llama.cpp's CPU back end tears down its
        // buffers at exit, and a decode still running on another thread then crashes (seen in CI).
        await host.waitUntilIdle(timeout: .seconds(5))
        await recording.close()
        logger.info("stopped")
        fflush(nil)  // every C stream; our log lines are written unbuffered already
        _exit(0)
    }

    /// The model in this process, loading in the background (or the reason there is none).
    private func localHost(logger: Logger, recording: RecordSession) -> EngineHost {
        do {
            let files =
                modelOptions.demo
                ? try modelOptions.files()
                : try ModelFiles.resolve(model: modelOptions.model, projector: modelOptions.mmproj, allowDemo: !noDemo)
            if files.isDemo { logger.warning("MedGemma not found: serving the demo model, whose answers mean nothing") }
            recording.use(files)  // checksums in the background, read at low priority beside the load
            return EngineHost.loading(files, options: modelOptions.engineOptions, logger: logger)
        } catch {
            logger.error(
                "no model: the lab starts, and generation answers 503 until files are in place",
                metadata: ["error": "\(error)"])
            return EngineHost(status: .noModel, message: String(describing: error))
        }
    }

    /// The pool of `--backend` servers (plus this process's model with `--with-local`), first health check done.
    private func makePool(logger: Logger) async throws -> EnginePool {
        var local: (engine: any InferenceEngine, slots: Int)?
        if backendOptions.withLocal {
            let engine = try await LlamaEngine.load(try modelOptions.files(), options: modelOptions.engineOptions)
            local = (engine, modelOptions.parallel)
        }
        let pool = try await backendOptions.makePool(local: local, periodicChecks: false)
        for status in pool.statuses {
            logger.info(
                "backend",
                metadata: [
                    "backend": "\(status.name)", "kind": "\(status.kind)", "state": "\(status.state.rawValue)",
                    "slots": "\(status.slots)", "vision": "\(status.vision.map(String.init) ?? "unknown")"
                ])
        }
        return pool
    }
}
