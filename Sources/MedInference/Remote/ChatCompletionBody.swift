import Foundation
import MedImaging

/// The JSON body of one OpenAI chat-completions (or, for `raw` requests, completions) call.
struct ChatCompletionBody: Encodable {
    /// One content part: text, or an image as a `data:image/png;base64,` URI.
    enum Part: Encodable, Equatable {
        case text(String)
        case image(dataURI: String)

        private enum Keys: String, CodingKey {
            case type, text
            case imageURL = "image_url"
        }
        private enum URLKeys: String, CodingKey { case url }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            switch self {
            case .text(let text):
                try container.encode("text", forKey: .type)
                try container.encode(text, forKey: .text)
            case .image(let uri):
                try container.encode("image_url", forKey: .type)
                var url = container.nestedContainer(keyedBy: URLKeys.self, forKey: .imageURL)
                try url.encode(uri, forKey: .url)
            }
        }
    }

    /// One message; plain text goes as a string (every server accepts that), anything else as parts.
    struct Message: Encodable, Equatable {
        var role: String
        var parts: [Part]

        private enum Keys: String, CodingKey { case role, content }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(role, forKey: .role)
            if parts.count == 1, case .text(let text) = parts[0] {
                try container.encode(text, forKey: .content)
            } else {
                try container.encode(parts, forKey: .content)
            }
        }
    }

    struct StreamOptions: Encodable { var include_usage = true }

    var model: String
    var messages: [Message]?
    var prompt: String?
    var stream = true
    var stream_options = StreamOptions()
    var max_tokens: Int
    var temperature: Double
    var top_p: Double
    var seed: UInt32?
    var stop: [String]?
    var ignore_eos: Bool?
    /// vLLM drops special tokens by default, which would remove MedGemma's reasoning markers.
    var skip_special_tokens: Bool?
    /// The output constraint: vLLM, llama-server and Ollama's OpenAI endpoint all take this form.
    var response_format: ResponseFormat?

    /// OpenAI's `response_format` for a JSON Schema (any JSON object: the schema `{"type": "object"}`).
    struct ResponseFormat: Encodable {
        struct Schema: Encodable {
            var name = "answer"
            var schema: JSONValue
            var strict = true
        }
        var type = "json_schema"
        var json_schema: Schema
    }

    init(request: GenerationRequest, model: String, kind: RemoteEndpoint.Kind, imageSize: Int) throws {
        self.model = model
        if request.raw {
            // Plain completion of verbatim text: no template on either side.
            guard request.images.isEmpty else {
                throw InferenceError.badRequest("raw prompts with images are not supported by remote engines")
            }
            prompt = request.turns.flatMap(\.parts).map { if case .text(let text) = $0 { text } else { "" } }.joined()
        } else {
            messages = try Self.messages(for: request, kind: kind, imageSize: imageSize)
        }
        max_tokens = request.maxNewTokens
        temperature = request.sampling.temperature
        top_p = request.sampling.topP
        // As in process, the seed matters only when sampling; greedy decoding ignores it.
        seed = request.sampling.temperature > 0 ? request.sampling.seed : nil
        stop = request.stop.isEmpty ? nil : request.stop
        let knowsIgnoreEOS = kind == .llamaServer || kind == .vllm
        ignore_eos = request.ignoreEndOfSequence && knowsIgnoreEOS ? true : nil
        skip_special_tokens = kind == .vllm ? false : nil
        if let constraint = request.constraint {
            let text = if case .jsonSchema(let schema) = constraint { schema } else { JSONGrammar.anyObjectSchema }
            guard let schema = JSONValue.parse(text) else { throw InferenceError.badRequest("the schema is not valid JSON") }
            response_format = ResponseFormat(json_schema: .init(schema: schema))
        }
    }

    /// The messages for `kind`.
    ///
    /// vLLM, Ollama and other servers apply the model's own chat template, and the Hugging Face
    /// processor puts a blank line on each side of an image: that is the prompt `PromptBuilder`
    /// writes, so they get the natural shape (a system message, text and image parts).
    /// llama-server instead joins a message's parts with nothing around an image and trims the
    /// whole message, and its Gemma 3 template would then lose those blank lines: for it the
    /// system text and the blank lines are written into the parts here, exactly as in process.
    static func messages(for request: GenerationRequest, kind: RemoteEndpoint.Kind, imageSize: Int) throws -> [Message] {
        let system = PromptBuilder.effectiveSystem(for: request)
        var messages: [Message] = []
        if let system, kind != .llamaServer { messages.append(Message(role: "system", parts: [.text(system)])) }
        var systemPending = kind == .llamaServer && system != nil
        for turn in request.turns {
            var parts: [Part] = []
            func appendText(_ text: String) {
                guard !text.isEmpty else { return }
                if case .text(let previous)? = parts.last {
                    parts[parts.count - 1] = .text(previous + text)
                } else {
                    parts.append(.text(text))
                }
            }
            if systemPending, turn.role == .user, let system {
                appendText(system + "\n\n")
                systemPending = false
            }
            for part in turn.parts {
                switch part {
                case .text(let text):
                    if kind == .llamaServer { appendText(text) } else { parts.append(.text(text)) }
                case .image(let image):
                    if kind == .llamaServer { appendText("\n\n") }
                    parts.append(.image(dataURI: try dataURI(image.fitted(to: imageSize))))
                    if kind == .llamaServer { appendText("\n\n") }
                }
            }
            messages.append(Message(role: turn.role == .model ? "assistant" : "user", parts: parts))
        }
        return messages
    }

    /// A lossless PNG of the letterboxed pixels, so the server sees exactly what the in-process engine would.
    static func dataURI(_ image: ModelImage) throws -> String {
        let png = try ImageEncoder.png(image)
        return "data:image/png;base64," + png.base64EncodedString()
    }
}
