import Foundation
import MedInference

/// The answer of `POST /api/predict` (and the last SSE event of a streamed one).
struct PredictResponse: Encodable, Sendable {
    struct Usage: Encodable, Sendable {
        var promptTokens: Int
        var imageTokens: Int
        var completionTokens: Int
        var totalTokens: Int
        /// Prompt tokens copied from another request about the same image instead of computed; absent when none.
        var cachedTokens: Int?

        init(_ summary: GenerationSummary) {
            promptTokens = summary.tokensIn
            imageTokens = summary.imageTokensIn
            completionTokens = summary.tokensOut
            totalTokens = summary.tokensIn + summary.tokensOut
            cachedTokens = summary.cachedPromptTokens
        }

        enum CodingKeys: String, CodingKey {
            case promptTokens = "prompt_tokens"
            case imageTokens = "image_tokens"
            case completionTokens = "completion_tokens"
            case totalTokens = "total_tokens"
            case cachedTokens = "cached_tokens"
        }
    }

    struct Timings: Encodable, Sendable {
        var queueMs: Double
        var imageMs: Double
        var prefillMs: Double
        var decodeMs: Double
        var tokensPerSecond: Double
        var totalMs: Double

        enum CodingKeys: String, CodingKey {
            case queueMs = "queue_ms"
            case imageMs = "image_ms"
            case prefillMs = "prefill_ms"
            case decodeMs = "decode_ms"
            case tokensPerSecond = "tokens_per_s"
            case totalMs = "total_ms"
        }
    }

    /// The article's one field: the model's answer, reasoning block removed.
    var answer: String
    var reasoning: String?
    /// Localisation boxes in the original pixels of the last image.
    var boxes: [AnswerBox]
    var model: String
    /// True for the demo model, whose answers mean nothing.
    var demo: Bool
    var finishReason: String
    var usage: Usage
    var timings: Timings
    var disclaimer: String
    /// Which slices of a volume the model saw (volume requests only).
    var volume: VolumeSummary?
    /// The record's id of this analysis (`GET /api/analyses/{id}`); absent with `--no-record`.
    var analysisID: String?
    /// Under `schema` or `format: "json"`: the answer parsed, or `json_error` saying why not.
    var json: JSONValue?
    var jsonError: String?

    init(result: GenerationResult, info: EngineInfo, isDemo: Bool, boxes: [AnswerBox], queueMs: Double, totalMs: Double) {
        let summary = result.summary
        answer = result.answer
        reasoning = result.reasoning
        self.boxes = boxes
        model = info.model
        demo = isDemo
        finishReason = summary.finishReason
        usage = Usage(summary)
        timings = Timings(
            queueMs: queueMs, imageMs: summary.imageEncodeMs, prefillMs: summary.prefillMs,
            decodeMs: summary.decodeMs, tokensPerSecond: summary.tokensPerSecond, totalMs: totalMs)
        disclaimer = isDemo ? Disclaimer.english + " " + LabPrompt.demoNotice : Disclaimer.english
    }

    enum CodingKeys: String, CodingKey {
        case answer, reasoning, boxes, model, demo, usage, timings, disclaimer, volume
        case json
        case finishReason = "finish_reason"
        case analysisID = "analysis_id"
        case jsonError = "json_error"
    }
}

/// The server's checks on a question before any work (the prompt itself is `AnalysisProcessor`'s).
enum LabPrompt {
    static let demoNotice = "This is the demo model (Gemma 3 270M base with a random vision projector): its answers mean nothing."

    /// Refuses, before any work, a request whose images alone cannot fit the context (400, as OpenAI answers `context_length_exceeded`; an engine without vision is 422).
    static func checkFits(imageCount: Int, textBytes: Int, maxNewTokens: Int, info: EngineInfo) throws {
        guard imageCount > 0 || textBytes > 0 else { return }
        if imageCount > 0, !info.vision {
            throw LabError.unprocessable(code: "vision_unavailable", message: info.visionMissingMessage)
        }
        // Image tokens are exact; text is counted generously low (4 bytes a token) so this never refuses a fitting prompt.
        let needed = imageCount * ((info.tokensPerImage ?? 0) + 2) + textBytes / 4
        if needed >= info.contextTokens {
            throw LabError.badRequest(
                code: "context_overflow",
                message: InferenceError.contextOverflow(needed: needed, available: info.contextTokens).description)
        }
    }
}
