import Foundation

/// The parsed answer under a constraint: the object, or why there is none (an answer cut at
/// `max_new_tokens` is never presented as a valid object).
public struct StructuredAnswer: Sendable {
    public var json: JSONValue?
    public var error: String?

    public init(json: JSONValue?, error: String?) {
        self.json = json
        self.error = error
    }

    public init(_ result: GenerationResult) {
        if result.summary.finishReason == "length" {
            error = "the answer reached max_new_tokens before its JSON was complete: raise max_new_tokens"
        } else if let value = JSONValue.parse(result.answer.trimmingCharacters(in: .whitespacesAndNewlines)), case .object = value {
            json = value
        } else {
            error = "the answer is not a JSON object"
        }
    }
}
