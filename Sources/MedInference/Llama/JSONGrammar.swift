internal import CLlamaGrammar
import Foundation

/// Output constraints as llama.cpp grammars, through llama.cpp's own JSON-Schema converter.
///
/// Supported schema keywords are those the converter honours; anything else is refused before
/// any work, by name, rather than silently ignored.
public enum JSONGrammar {
    /// The largest schema accepted.
    public static let maxSchemaBytes = 64 * 1024

    /// What a schema may use (llama.cpp's `json-schema-to-grammar` understands these).
    public static let keywords: Set<String> = [
        "type", "properties", "required", "additionalProperties", "enum", "const", "items", "prefixItems", "minItems", "maxItems",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern", "format",
        "anyOf", "oneOf", "allOf", "$ref", "$defs", "definitions", "$schema", "$id", "title", "description", "default", "examples"
    ]

    /// Any JSON object: what `"format": "json"` and OpenAI's `json_object` ask for.
    public static let anyObjectSchema = #"{"type": "object"}"#

    /// Checks `schema` (JSON text): its size, that it is an object, and every keyword. Throws a
    /// `badRequest` that names the problem.
    public static func check(_ schema: String) throws {
        guard schema.utf8.count <= maxSchemaBytes else {
            throw InferenceError.badRequest("the schema is \(schema.utf8.count / 1024) KB; at most \(maxSchemaBytes / 1024) KB")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(schema.utf8)) as? [String: Any] else {
            throw InferenceError.badRequest("the schema is not a JSON object")
        }
        try walk(object, at: "schema")
        _ = try grammar(forSchema: schema)
    }

    /// The GBNF grammar for a constraint.
    static func grammar(for constraint: OutputConstraint) throws -> String {
        switch constraint {
        case .jsonObject: try grammar(forSchema: anyObjectSchema)
        case .jsonSchema(let schema): try grammar(forSchema: schema)
        }
    }

    private static func grammar(forSchema schema: String) throws -> String {
        var error: UnsafeMutablePointer<CChar>?
        guard let text = medlab_json_schema_to_grammar(schema, &error) else {
            let message = error.map { String(cString: $0) } ?? "unknown error"
            free(error)
            throw InferenceError.badRequest("the schema cannot be turned into a grammar: \(message)")
        }
        defer { free(text) }
        return compact(String(cString: text))
    }

    /// The converter lets up to two line breaks and twenty tabs or spaces stand between JSON
    /// tokens; a small model then spends its budget on indentation (seen: 120 tokens of tabs).
    /// One optional space is all JSON needs.
    static func compact(_ grammar: String) -> String {
        grammar.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("space ::=") ? #"space ::= | " ""# : String(line)
        }.joined(separator: "\n")
    }

    private static func walk(_ schema: [String: Any], at path: String) throws {
        for (key, value) in schema {
            guard keywords.contains(key) else {
                throw InferenceError.badRequest(
                    "the schema keyword `\(key)` (at \(path)) is not supported; supported: "
                        + keywords.sorted().joined(separator: ", "))
            }
            // llama.cpp's grammar bounds integers only; a bound it would not keep is refused, not ignored.
            if ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"].contains(key), schema["type"] as? String != "integer" {
                throw InferenceError.badRequest(
                    "`\(key)` (at \(path)) is enforced on integers only: give the property \"type\": \"integer\", or drop the bound")
            }
            switch key {
            case "properties", "$defs", "definitions":
                for (name, sub) in value as? [String: Any] ?? [:] {
                    if let sub = sub as? [String: Any] { try walk(sub, at: "\(path).\(key).\(name)") }
                }
            case "items", "additionalProperties":
                if let sub = value as? [String: Any] { try walk(sub, at: "\(path).\(key)") }
            case "prefixItems", "anyOf", "oneOf", "allOf":
                for (index, sub) in (value as? [Any] ?? []).enumerated() {
                    if let sub = sub as? [String: Any] { try walk(sub, at: "\(path).\(key)[\(index)]") }
                }
            default: break
            }
        }
    }
}
