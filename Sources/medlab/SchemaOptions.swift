import ArgumentParser
import Foundation
import MedInference

/// `--schema FILE`, `--schema-inline JSON` and `--format json`: answers that follow a JSON Schema.
struct SchemaOptions: ParsableArguments {
    @Option(help: "A JSON Schema file the answer must follow (grammar-constrained; MedGemma's reasoning block cannot appear).")
    var schema: String?

    @Option(name: .customLong("schema-inline"), help: "The JSON Schema as text.")
    var schemaInline: String?

    @Option(help: "json: the answer is any JSON object.")
    var format: String?

    /// The checked constraint; a bad schema is a one-line error naming the problem.
    func constraint() throws -> OutputConstraint? {
        guard schema == nil || schemaInline == nil else { throw ValidationError("give --schema or --schema-inline, not both") }
        if let format, format.lowercased() != "json" { throw ValidationError("--format must be json") }
        var text = schemaInline
        if let schema {
            do { text = try String(contentsOfFile: schema, encoding: .utf8) } catch {
                throw ValidationError("cannot read \(schema): \(error.localizedDescription)")
            }
        }
        guard let text else { return format == nil ? nil : .jsonObject }
        do { try JSONGrammar.check(text) } catch { throw ValidationError("\(schema ?? "--schema-inline"): \(error)") }
        return .jsonSchema(text)
    }
}
