import Foundation
import MedInference

/// `POST /v1/chat/completions` request, as the official `openai` client sends it.
struct ChatCompletionRequest: Decodable, Sendable {
    struct Message: Decodable, Sendable {
        var role: String
        var content: Content?
    }

    /// A message's content: a plain string or a list of typed parts.
    enum Content: Decodable, Sendable {
        case text(String)
        case parts([Part])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                self = .text(text)
            } else {
                self = .parts(try container.decode([Part].self))
            }
        }
    }

    struct Part: Decodable, Sendable {
        struct ImageURL: Decodable, Sendable { var url: String }
        var type: String
        var text: String?
        var imageURL: ImageURL?

        enum CodingKeys: String, CodingKey {
            case type, text
            case imageURL = "image_url"
        }
    }

    /// `stop` is a string or a list of strings.
    struct Stop: Decodable, Sendable {
        var values: [String]
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let one = try? container.decode(String.self) { values = [one] } else { values = try container.decode([String].self) }
        }
    }

    struct StreamOptions: Decodable, Sendable {
        var includeUsage: Bool?
        enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
    }

    var model: String?
    var messages: [Message]
    var stream: Bool?
    var maxTokens: Int?
    var maxCompletionTokens: Int?
    var temperature: Double?
    var topP: Double?
    var seed: UInt32?
    var stop: Stop?
    var streamOptions: StreamOptions?
    /// llama-server's extension: generate exactly the token limit (benchmarks).
    var ignoreEOS: Bool?
    var responseFormat: ResponseFormat?
    /// The lab's extension: images by reference to an uploaded study, before the last user message's text.
    var study: StudyReference?

    /// `{"type": "text" | "json_object" (optionally with "schema") | "json_schema", "json_schema": {"name", "schema", "strict"}}`.
    struct ResponseFormat: Decodable, Sendable {
        struct Named: Decodable, Sendable {
            var name: String?
            var schema: JSONValue?
            var strict: Bool?
        }
        var type: String
        var schema: JSONValue?
        var jsonSchema: Named?
        enum CodingKeys: String, CodingKey {
            case type, schema
            case jsonSchema = "json_schema"
        }

        /// The constraint it asks for, checked.
        func constraint() throws -> OutputConstraint? {
            switch type {
            case "text": return nil
            case "json_object": return try OutputConstraint.checked(schema: schema, anyObject: true)
            case "json_schema":
                guard let schema = jsonSchema?.schema ?? schema else {
                    throw LabError.badRequest(code: "invalid_request", message: "response_format json_schema needs json_schema.schema")
                }
                return try OutputConstraint.checked(schema: schema, anyObject: true)
            default:
                throw LabError.badRequest(
                    code: "invalid_request", message: "response_format type `\(type.prefix(40))` is not text, json_object or json_schema")
            }
        }
    }

    enum CodingKeys: String, CodingKey {
        case model, messages, stream, temperature, seed, stop, study
        case maxTokens = "max_tokens"
        case maxCompletionTokens = "max_completion_tokens"
        case topP = "top_p"
        case streamOptions = "stream_options"
        case ignoreEOS = "ignore_eos"
        case responseFormat = "response_format"
    }
}

/// The non-streamed answer.
struct ChatCompletion: Encodable, Sendable {
    struct Choice: Encodable, Sendable {
        var index = 0
        var message: ChatMessage
        var finishReason: String
        enum CodingKeys: String, CodingKey {
            case index, message
            case finishReason = "finish_reason"
        }
    }

    struct ChatMessage: Encodable, Sendable {
        var role = "assistant"
        var content: String
        /// MedGemma's hidden reasoning block, under the name other OpenAI-compatible servers use.
        var reasoningContent: String?
        enum CodingKeys: String, CodingKey {
            case role, content
            case reasoningContent = "reasoning_content"
        }
    }

    var id: String
    var object = "chat.completion"
    var created: Int
    var model: String
    var choices: [Choice]
    var usage: ChatUsage
    var disclaimer = Disclaimer.english
}

struct ChatUsage: Encodable, Sendable {
    /// OpenAI's `prompt_tokens_details`: how many prompt tokens were not computed again.
    struct PromptDetails: Encodable, Sendable {
        var cachedTokens: Int
        enum CodingKeys: String, CodingKey { case cachedTokens = "cached_tokens" }
    }

    var promptTokens: Int
    var completionTokens: Int
    var totalTokens: Int
    var promptTokensDetails: PromptDetails

    init(_ summary: GenerationSummary) {
        promptTokens = summary.tokensIn
        completionTokens = summary.tokensOut
        totalTokens = summary.tokensIn + summary.tokensOut
        promptTokensDetails = PromptDetails(cachedTokens: summary.cachedPromptTokens ?? 0)
    }

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
        case totalTokens = "total_tokens"
        case promptTokensDetails = "prompt_tokens_details"
    }
}

/// One `chat.completion.chunk` of a streamed answer.
struct ChatCompletionChunk: Encodable, Sendable {
    struct Choice: Encodable, Sendable {
        var index = 0
        var delta: Delta
        var finishReason: String?
        enum CodingKeys: String, CodingKey {
            case index, delta
            case finishReason = "finish_reason"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(index, forKey: .index)
            try container.encode(delta, forKey: .delta)
            // The format sends an explicit null until the last chunk.
            try container.encode(finishReason, forKey: .finishReason)
        }
    }

    struct Delta: Encodable, Sendable {
        var role: String?
        var content: String?
        var reasoningContent: String?
        enum CodingKeys: String, CodingKey {
            case role, content
            case reasoningContent = "reasoning_content"
        }
    }

    var id: String
    var object = "chat.completion.chunk"
    var created: Int
    var model: String
    var choices: [Choice]
    var usage: ChatUsage?
}

/// `GET /v1/models`.
struct ModelList: Encodable, Sendable {
    struct Model: Encodable, Sendable {
        var id: String
        var object = "model"
        var created = 0
        var ownedBy = "medlab"
        enum CodingKeys: String, CodingKey {
            case id, object, created
            case ownedBy = "owned_by"
        }
    }

    var object = "list"
    var data: [Model]
}

/// OpenAI's finish reasons: a cancelled generation never reaches a client, so it is not one of them.
func openAIFinishReason(_ reason: String) -> String { reason == "length" ? "length" : "stop" }
