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
