import Foundation
import MedInference

extension OutputConstraint {
    /// The constraint from an API's fields, checked before any work (400 naming the problem).
    static func checked(schema: JSONValue?, anyObject: Bool) throws -> OutputConstraint? {
        if let schema {
            guard case .object = schema else {
                throw LabError.badRequest(code: "invalid_schema", message: "`schema` must be a JSON Schema object")
            }
            let text = schema.description
            do { try JSONGrammar.check(text) } catch let error as InferenceError {
                throw LabError.badRequest(code: "invalid_schema", message: error.description)
            }
            return .jsonSchema(text)
        }
        return anyObject ? .jsonObject : nil
    }
}

/// The parsed answer under a constraint: the object, or why there is none (an answer cut at
/// `max_new_tokens` is never presented as a valid object).
struct StructuredAnswer {
    var json: JSONValue?
    var error: String?

    init(_ result: GenerationResult) {
        if result.summary.finishReason == "length" {
            error = "the answer reached max_new_tokens before its JSON was complete: raise max_new_tokens"
        } else if let value = JSONValue.parse(result.answer.trimmingCharacters(in: .whitespacesAndNewlines)), case .object = value {
            json = value
        } else {
            error = "the answer is not a JSON object"
        }
    }
}
