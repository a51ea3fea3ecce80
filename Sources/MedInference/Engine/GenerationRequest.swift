import Foundation
import MedImaging

/// What the vision encoder reads: the imaging module's 8-bit RGB image, usually the letterboxed
/// square `AnalysisProcessor` made (other sizes are letterboxed by the engine itself).
public typealias ModelImage = RGBImage

/// One piece of a user turn, in the order the model reads it.
public enum ContentPart: Sendable, Equatable {
    case text(String)
    case image(ModelImage)
}

/// One turn of the conversation.
public struct ChatTurn: Sendable, Equatable {
    /// Who speaks; Gemma 3 knows only these two.
    public enum Role: String, Sendable, Codable { case user, model }

    public var role: Role
    public var parts: [ContentPart]

    public init(role: Role, parts: [ContentPart]) {
        self.role = role
        self.parts = parts
    }

    /// A user turn of text.
    public static func user(_ text: String) -> ChatTurn { ChatTurn(role: .user, parts: [.text(text)]) }
}

/// Sampling settings; temperature 0 is greedy decoding, as in Google's MedGemma examples.
public struct SamplingOptions: Sendable, Equatable {
    public var temperature: Double
    public var topP: Double
    public var seed: UInt32

    public init(temperature: Double = 0, topP: Double = 1, seed: UInt32 = 0) {
        self.temperature = temperature
        self.topP = topP
        self.seed = seed
    }
}

/// Everything one question needs: turns (with images), system text, limits, sampling.
public struct GenerationRequest: Sendable, Equatable {
    /// The system text Google's MedGemma examples use for images.
    public static let radiologistSystem = "You are an expert radiologist."

    public var turns: [ChatTurn]
    /// Merged into the first user turn (Gemma 3 has no system role). `nil` means the default:
    /// `radiologistSystem` when an image is present, none otherwise. Empty string means none.
    public var system: String?
    public var maxNewTokens: Int
    public var sampling: SamplingOptions
    /// Extra stop strings besides `<end_of_turn>`.
    public var stop: [String]
    /// Keep generating past end-of-sequence (benchmarks force a token count this way).
    public var ignoreEndOfSequence: Bool
    /// Feed `turns` text verbatim with no chat template (plain completion, base models).
    public var raw: Bool
    /// A limit on the answer's form (grammar-constrained sampling in process, `response_format` remotely).
    public var constraint: OutputConstraint?

    public init(
        turns: [ChatTurn], system: String? = nil, maxNewTokens: Int = 512,
        sampling: SamplingOptions = SamplingOptions(), stop: [String] = [],
        ignoreEndOfSequence: Bool = false, raw: Bool = false, constraint: OutputConstraint? = nil
    ) {
        self.turns = turns
        self.system = system
        self.maxNewTokens = maxNewTokens
        self.sampling = sampling
        self.stop = stop
        self.ignoreEndOfSequence = ignoreEndOfSequence
        self.raw = raw
        self.constraint = constraint
    }

    /// One user question, optionally about images that come before the text.
    public init(question: String, images: [ModelImage] = [], maxNewTokens: Int = 512) {
        self.init(
            turns: [ChatTurn(role: .user, parts: images.map { .image($0) } + [.text(question)])],
            maxNewTokens: maxNewTokens)
    }

    /// Every image of every turn, in prompt order.
    public var images: [ModelImage] {
        turns.flatMap { $0.parts }.compactMap { if case .image(let image) = $0 { image } else { nil } }
    }
}

/// Counts and timings of one generation.
public struct GenerationSummary: Sendable, Equatable, Codable {
    /// Everything the model wrote (reasoning block included, stop marker excluded).
    public var rawText: String
    public var textTokensIn: Int
    public var imageTokensIn: Int
    public var tokensOut: Int
    public var imageEncodeMs: Double
    public var prefillMs: Double
    public var decodeMs: Double
    /// Why generation ended: `stop` (end of turn or a stop string), `length`, or `cancelled`.
    public var finishReason: String
    /// Prompt tokens not prefilled because another request's sequence already held them (a shared
    /// `[system + image]` prefix); nil when none were reused.
    public var cachedPromptTokens: Int?

    public var tokensIn: Int { textTokensIn + imageTokensIn }
    /// Decode speed; 0 when nothing was decoded.
    public var tokensPerSecond: Double { decodeMs > 0 ? Double(tokensOut) / (decodeMs / 1000) : 0 }

    public init(
        rawText: String, textTokensIn: Int, imageTokensIn: Int, tokensOut: Int,
        imageEncodeMs: Double, prefillMs: Double, decodeMs: Double, finishReason: String
    ) {
        self.rawText = rawText
        self.textTokensIn = textTokensIn
        self.imageTokensIn = imageTokensIn
        self.tokensOut = tokensOut
        self.imageEncodeMs = imageEncodeMs
        self.prefillMs = prefillMs
        self.decodeMs = decodeMs
        self.finishReason = finishReason
    }
}
