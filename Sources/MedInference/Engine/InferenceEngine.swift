import Foundation

/// Anything that answers a `GenerationRequest`: llama.cpp in process, a remote server, a pool.
public protocol InferenceEngine: Sendable {
    /// What is loaded and where it runs.
    var info: EngineInfo { get async }

    /// Streams the answer to one request; the stream finishes with `.finished(summary)`.
    /// Terminating the stream (or cancelling the consuming task) stops decoding promptly.
    func generate(_ request: GenerationRequest) -> AnswerStream

    /// Returns once nothing is waiting or being decoded in this process, or after `timeout`;
    /// shutdown calls it so the process never exits while a decode is running on another thread.
    func waitUntilIdle(timeout: Duration) async

    /// Each backend's state, load and latency, for engines that route to several (a pool).
    var backendStatuses: [BackendStatus]? { get }
}

/// The events of one generation, in order: text deltas, then exactly one `.finished`.
public typealias AnswerStream = AsyncThrowingStream<GenerationEvent, any Error>

/// One step of a streamed answer.
public enum GenerationEvent: Sendable, Equatable {
    /// Visible answer text (the reasoning block already removed).
    case delta(String)
    /// Text of the model's hidden reasoning block, streamed separately.
    case reasoning(String)
    /// The end of the generation with its counts and timings.
    case finished(GenerationSummary)
}

extension InferenceEngine {
    /// Engines without threads of their own (remote servers) have nothing to wait for.
    public func waitUntilIdle(timeout: Duration) async {}

    public var backendStatuses: [BackendStatus]? { nil }

    /// Runs a request to the end and returns the whole answer.
    public func answer(_ request: GenerationRequest) async throws -> GenerationResult {
        var summary: GenerationSummary?
        for try await event in generate(request) {
            if case .finished(let done) = event { summary = done }
        }
        guard let summary else { throw InferenceError.generationFailed("the engine ended without a summary") }
        return GenerationResult(summary: summary)
    }
}

/// A finished answer: visible text, reasoning, parsed boxes and the numbers.
public struct GenerationResult: Sendable, Equatable {
    /// Everything the model wrote, reasoning block included.
    public var rawText: String { summary.rawText }
    /// The answer with the reasoning block removed.
    public let answer: String
    /// The hidden reasoning block, if the model wrote one.
    public let reasoning: String?
    /// Boxes the model returned, in 0–1000 coordinates of the square model image.
    public let boxes: [ModelBox]
    /// Counts and timings.
    public let summary: GenerationSummary

    public init(summary: GenerationSummary) {
        let parsed = AnswerParser.parse(summary.rawText)
        self.answer = parsed.answer
        self.reasoning = parsed.reasoning
        self.boxes = parsed.boxes
        self.summary = summary
    }
}

/// Where the model runs and what it is.
public struct EngineInfo: Sendable, Codable, Equatable {
    /// File name of the text model (or the remote model id).
    public var model: String
    /// File name of the vision projector, if any.
    public var projector: String?
    /// True when images can be asked about: a projector is loaded here, or a remote server has one.
    public var vision: Bool
    /// `cpu`, `cuda`, `metal`, ... or `remote`.
    public var backend: String
    /// Human-readable device names, e.g. "NVIDIA H200" or the CPU variant.
    public var devices: [String]
    /// Layers offloaded to a GPU.
    public var gpuLayers: Int
    /// Context size in tokens.
    public var contextTokens: Int
    /// Square side in pixels the projector expects (896 for MedGemma), if it has vision.
    public var imageSize: Int?
    /// Tokens one image becomes (256 for MedGemma).
    public var tokensPerImage: Int?
    /// llama.cpp build the engine was linked against.
    public var llamaBuild: String?
    /// Requests decoded together.
    public var parallel: Int

    public init(
        model: String, projector: String?, backend: String, devices: [String], gpuLayers: Int,
        contextTokens: Int, imageSize: Int?, tokensPerImage: Int?, llamaBuild: String?, parallel: Int = 1,
        vision: Bool? = nil
    ) {
        self.model = model
        self.projector = projector
        self.vision = vision ?? (projector != nil)
        self.backend = backend
        self.devices = devices
        self.gpuLayers = gpuLayers
        self.contextTokens = contextTokens
        self.imageSize = imageSize
        self.tokensPerImage = tokensPerImage
        self.llamaBuild = llamaBuild
        self.parallel = parallel
    }
}

extension EngineInfo {
    /// Why an image question cannot be answered here, naming the remote servers when there are some.
    public var visionMissingMessage: String {
        guard backend == "remote" || backend == "pool" else { return InferenceError.visionUnavailable.description }
        return Self.noServerSees(devices)
    }

    /// The words for a pool of `servers` none of which sees images.
    static func noServerSees(_ servers: [String]) -> String {
        "this request has images but no inference backend can see images (\(servers.joined(separator: ", ")): "
            + "no vision projector reported); start llama-server with --mmproj, or pass --backend-image-size "
            + "(or \"vision\": true in the backends file) for a server that does not say"
    }
}
