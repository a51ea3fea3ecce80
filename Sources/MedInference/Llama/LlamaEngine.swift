internal import CLlama
import Foundation

/// MedGemma (or any Gemma 3 + projector GGUF pair) run in process by llama.cpp.
///
/// One scheduler thread owns the llama.cpp context; requests queue for it and up to
/// `EngineOptions.parallel` of them are decoded together, each streaming its tokens.
public final class LlamaEngine: InferenceEngine {
    public let info: EngineInfo
    public let files: ModelFiles
    private let scheduler: BatchScheduler

    /// Validates and loads both files (off the caller's thread); typed errors say what is wrong.
    public static func load(_ files: ModelFiles, options: EngineOptions = EngineOptions()) async throws -> LlamaEngine {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try LlamaEngine(files: files, options: options) })
            }
        }
    }

    private init(files: ModelFiles, options: EngineOptions) throws {
        let (textMeta, visionMeta) = try files.validate()
        let devices = LlamaBackend.devices
        let threads = options.threads ?? CPUCores.physical
        let gpuLayers = devices.hasGPU ? (options.gpuLayers ?? 999) : 0
        let model = try LlamaModel(path: files.model, gpuLayers: gpuLayers)
        var projector: VisionProjector?
        if let path = files.projector, let visionMeta {
            projector = try VisionProjector(
                path: path, model: model, useGPU: devices.hasGPU && gpuLayers > 0,
                threads: threads, metadata: visionMeta)
        }
        let parallel = max(1, options.parallel)
        let batch = max(512, projector?.tokensPerImage ?? 0, parallel)
        let context = try LlamaContext(
            model: model, contextTokens: options.contextTokens, sequences: parallel,
            batchTokens: batch, threads: threads,
            sharedCache: options.sharedCache ?? (gpuLayers > 0))
        self.files = files
        // Gemma 3's graph scales token input by √width, which TokenEmbeddings repeats; another
        // architecture may not. Separate caches split a mixed step into one micro-batch per
        // sequence length, which an image cannot survive.
        let tokenEmbeddings =
            projector != nil && context.unifiedCache && textMeta.architecture == "gemma3"
            ? TokenEmbeddings(path: files.model, width: model.inputEmbeddingWidth) : nil
        self.scheduler = BatchScheduler(
            model: model, context: context, projector: projector, tokenEmbeddings: tokenEmbeddings, slots: parallel)
        self.info = EngineInfo(
            model: URL(fileURLWithPath: files.model).lastPathComponent,
            projector: files.projector.map { URL(fileURLWithPath: $0).lastPathComponent },
            backend: devices.backend, devices: devices.names,
            gpuLayers: textMeta.blockCount.map { min($0 + 1, gpuLayers) } ?? gpuLayers,
            contextTokens: context.sequenceTokens, imageSize: projector?.imageSize,
            tokensPerImage: projector?.tokensPerImage, llamaBuild: LlamaBackend.buildDescription,
            parallel: parallel)
    }

    public func generate(_ request: GenerationRequest) -> AnswerStream { generate(request, trace: nil) }

    /// As `generate(_:)`, also recording into `trace` the prompt's token ids, the logits the first
    /// token was chosen from and every generated token (the fidelity tool `ask --dump-logits`).
    public func generate(_ request: GenerationRequest, trace: LogitTrace?) -> AnswerStream {
        let flag = CancelFlag()
        let (stream, continuation) = AnswerStream.makeStream()
        continuation.onTermination = { _ in flag.cancel() }
        scheduler.submit(GenerationJob(request: request, flag: flag, continuation: continuation, trace: trace))
        return stream
    }

    /// Requests waiting for a slot and requests being decoded now.
    public var load: (waiting: Int, active: Int) { scheduler.load }

    /// Whether nothing is waiting, being prefilled or being decoded (shutdown waits for this).
    public var isIdle: Bool { scheduler.isIdle }

    public func waitUntilIdle(timeout: Duration) async {
        let scheduler = self.scheduler
        _ = await scheduler.idle.wait(until: { scheduler.isIdle }, timeout: timeout)
    }
}
