internal import CLlama
import Foundation

/// MedGemma (or any Gemma 3 + projector GGUF pair) run in process by llama.cpp.
///
/// The actor owns the model and context and runs on its own thread; requests queue on it and are
/// served one at a time, each streaming its tokens as they are decoded.
public actor LlamaEngine: InferenceEngine {
    private let executor = DedicatedThreadExecutor(label: "medlab.llama")
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    private let model: LlamaModel
    private let context: LlamaContext
    private let projector: VisionProjector?
    public nonisolated let info: EngineInfo
    public nonisolated let files: ModelFiles

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
        let threads = options.threads ?? ProcessInfo.processInfo.activeProcessorCount
        let gpuLayers = devices.hasGPU ? (options.gpuLayers ?? 999) : 0
        let model = try LlamaModel(path: files.model, gpuLayers: gpuLayers)
        var projector: VisionProjector?
        if let path = files.projector, let visionMeta {
            projector = try VisionProjector(path: path, model: model, useGPU: devices.hasGPU && gpuLayers > 0,
                                            threads: threads, metadata: visionMeta)
        }
        let batch = max(512, projector?.tokensPerImage ?? 0)
        let context = try LlamaContext(model: model, contextTokens: options.contextTokens, batchTokens: batch, threads: threads)
        self.model = model
        self.projector = projector
        self.context = context
        self.files = files
        let layers = textMeta.blockCount.map { min($0 + 1, gpuLayers) } ?? gpuLayers
        self.info = EngineInfo(
            model: URL(fileURLWithPath: files.model).lastPathComponent,
            projector: files.projector.map { URL(fileURLWithPath: $0).lastPathComponent },
            backend: devices.backend, devices: devices.names, gpuLayers: layers,
            contextTokens: context.contextTokens, imageSize: projector?.imageSize,
            tokensPerImage: projector?.tokensPerImage, llamaBuild: LlamaBackend.buildDescription)
    }

    public nonisolated func generate(_ request: GenerationRequest) -> AnswerStream {
        let flag = CancelFlag()
        let (stream, continuation) = AnswerStream.makeStream()
        continuation.onTermination = { _ in flag.cancel() }
        Task { await self.run(request, flag: flag, continuation: continuation) }
        return stream
    }

    /// One whole generation, synchronously on the engine's thread.
    private func run(_ request: GenerationRequest, flag: CancelFlag, continuation: AnswerStream.Continuation) {
        do {
            let summary = try generateBlocking(request, flag: flag) { continuation.yield($0) }
            continuation.yield(.finished(summary))
            continuation.finish()
        } catch {
            continuation.finish(throwing: error)
        }
    }

    private func generateBlocking(_ request: GenerationRequest, flag: CancelFlag,
                                  emit: (GenerationEvent) -> Void) throws -> GenerationSummary {
        guard request.maxNewTokens > 0 else { throw InferenceError.badRequest("max_new_tokens must be at least 1") }
        guard !request.turns.isEmpty else { throw InferenceError.badRequest("the request has no question") }
        let images = request.images
        if !images.isEmpty, projector == nil { throw InferenceError.visionUnavailable }
        let prompt = try tokenize(request, images: images)
        let needed = prompt.textTokens + prompt.imageTokens + 1
        guard needed <= context.contextTokens else {
            throw InferenceError.contextOverflow(needed: needed, available: context.contextTokens)
        }
        var timing = (encode: 0.0, prefill: 0.0, decode: 0.0)
        if flag.isCancelled { return cancelledSummary(prompt) }

        context.clear()
        context.setAbort(flag)
        defer { context.setAbort(nil) }
        var position = 0
        do {
            for piece in prompt.pieces {
                switch piece {
                case .text(let tokens):
                    let start = DispatchTime.now()
                    position = try context.decode(tokens, at: position)
                    timing.prefill += start.millisecondsElapsed
                case .image(let chunk, _):
                    timing.encode += try projector!.encode(prompt, chunk: chunk)
                    let start = DispatchTime.now()
                    position = try projector!.decodeEncoded(prompt, chunk: chunk, into: context, at: position)
                    timing.prefill += start.millisecondsElapsed
                }
                if flag.isCancelled { throw CancellationError() }
            }
        } catch is CancellationError {
            return cancelledSummary(prompt, timing: timing)
        }

        let sampler = Sampler(request.sampling)
        var assembler = UTF8Assembler()
        var stops = StopMatcher(stops: request.stop)
        var filter = ReasoningFilter()
        var raw = ""
        var produced = 0
        var finish = "length"
        var stopped = false
        let decodeStart = DispatchTime.now()
        func release(_ text: String) {
            raw += text
            for event in filter.feed(text) { emit(event) }
        }
        generation: while produced < request.maxNewTokens, position < context.contextTokens {
            if flag.isCancelled { finish = "cancelled"; break }
            let token = sampler.sample(context)
            if model.isEndOfGeneration(token), !request.ignoreEndOfSequence { finish = "stop"; break }
            produced += 1
            let (text, hitStop) = stops.feed(assembler.append(model.bytes(of: token)))
            release(text)
            if hitStop { finish = "stop"; stopped = true; break generation }
            do {
                position = try context.decode([token], at: position)
            } catch is CancellationError {
                finish = "cancelled"
                break
            }
        }
        if !stopped { release(stops.flush(assembler.flush())) }
        for event in filter.finish() { emit(event) }
        timing.decode = decodeStart.millisecondsElapsed
        return GenerationSummary(rawText: raw, textTokensIn: prompt.textTokens, imageTokensIn: prompt.imageTokens,
                                 tokensOut: produced, imageEncodeMs: timing.encode, prefillMs: timing.prefill,
                                 decodeMs: timing.decode, finishReason: finish)
    }

    private func tokenize(_ request: GenerationRequest, images: [ModelImage]) throws -> TokenizedPrompt {
        let segments = PromptBuilder.segments(for: request)
        if let projector {
            return try projector.tokenize(segments, images: images.map { $0.squared(to: projector.imageSize) }, addBOS: true)
        }
        var tokens: [llama_token] = []
        for (index, segment) in segments.enumerated() {
            switch segment {
            case .template(let text): tokens += model.tokenize(text, addBOS: index == 0, special: true)
            case .user(let text): tokens += model.tokenize(text, addBOS: index == 0, special: false)
            case .image: throw InferenceError.visionUnavailable
            }
        }
        return TokenizedPrompt(pieces: [.text(tokens)], chunks: nil)
    }

    private func cancelledSummary(_ prompt: TokenizedPrompt, timing: (encode: Double, prefill: Double, decode: Double) = (0, 0, 0))
        -> GenerationSummary {
        GenerationSummary(rawText: "", textTokensIn: prompt.textTokens, imageTokensIn: prompt.imageTokens, tokensOut: 0,
                          imageEncodeMs: timing.encode, prefillMs: timing.prefill, decodeMs: 0, finishReason: "cancelled")
    }
}
