import Foundation
import MedInference
import Yams

/// A regression set: named cases (images, question, expectations) and shared parameters, read
/// from YAML or JSON with image paths relative to the file.
public struct RegressionSet: Sendable {
    public var name: String
    public var params: ExperimentParams
    public var cases: [RegressionCase]
    /// The file it was read from (reports name it).
    public var file: String

    /// Reads and checks `path`; every problem is a `SetError` naming the file, the case, the field
    /// and, where the YAML says, the line. Nothing is run before the whole set is valid.
    public static func load(path: String) throws -> RegressionSet {
        // An empty file is refused unread: Foundation leaks a 4 KB buffer reading one (found by the fuzzer's leak check).
        if let size = try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int, size == 0 {
            throw SetError(file: path, message: "the file is empty")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw SetError(file: path, message: "cannot read the file") }
        return try parse(
            String(decoding: data, as: UTF8.self), file: path,
            folder: URL(fileURLWithPath: path).deletingLastPathComponent())
    }

    /// Parses set text; `folder` resolves relative image paths (which must exist).
    public static func parse(_ text: String, file: String, folder: URL) throws -> RegressionSet {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw SetError(file: file, message: "the file is empty") }
            root = node
        } catch let error as SetError { throw error } catch let error as YamlError {
            switch error {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
                throw SetError(file: file, line: mark.line, message: "not valid YAML or JSON: \(problem) (column \(mark.column))")
            default:
                throw SetError(file: file, message: "not valid YAML or JSON: \(error)")
            }
        } catch {
            throw SetError(file: file, message: "not valid YAML or JSON: \(error)")
        }
        let reader = NodeReader(file: file)
        let top = try reader.mapping(root, "the set", allowed: ["name", "params", "cases", "description"])
        let name = try reader.string(top["name"], "name", required: true)!
        let params =
            try top["params"].map { try ExperimentParams(reader.mapping($0, "params", allowed: ExperimentParams.keys), reader: reader) }
            ?? ExperimentParams()
        guard let list = top["cases"], let items = list.sequence, !items.isEmpty else {
            throw reader.error(top["cases"] ?? root, "`cases` must list at least one case")
        }
        var seen = Set<String>()
        var cases: [RegressionCase] = []
        for (index, item) in items.enumerated() {
            let fields = try reader.mapping(
                item, "case \(index + 1)", allowed: ["id", "images", "image", "question", "context", "window", "expect"])
            let id = try reader.string(fields["id"], "case \(index + 1): id", required: true)!
            guard seen.insert(id).inserted else { throw reader.error(fields["id"]!, "case \(id): the id is used twice") }
            let where_ = "case \(id)"
            var images: [String] = []
            if let one = fields["image"] { images = [try reader.string(one, "\(where_): image", required: true)!] }
            if let many = fields["images"] {
                guard let list = many.sequence else { throw reader.error(many, "\(where_): `images` must be a list of paths") }
                images += try list.map { try reader.string($0, "\(where_): images", required: true)! }
            }
            let resolved = try images.map { path -> String in
                let full = path.hasPrefix("/") ? path : folder.appendingPathComponent(path).path
                guard FileManager.default.fileExists(atPath: full) else {
                    throw reader.error(fields["images"] ?? fields["image"]!, "\(where_): image \(path) does not exist")
                }
                return full
            }
            let question = try reader.string(fields["question"], "\(where_): question", required: true)!
            let expect = try fields["expect"].map { try Self.expectations($0, where: where_, reader: reader) } ?? Expectations()
            cases.append(
                RegressionCase(
                    id: id, images: resolved, imageNames: images, question: question,
                    context: try reader.string(fields["context"], "\(where_): context"),
                    window: try reader.string(fields["window"], "\(where_): window"), expect: expect))
        }
        return RegressionSet(name: name, params: params, cases: cases, file: file)
    }

    private static func expectations(_ node: Node, where place: String, reader: NodeReader) throws -> Expectations {
        let map = try reader.mapping(node, "\(place): expect", allowed: Expectations.keys)
        func words(_ key: String) throws -> [String]? {
            guard let value = map[key] else { return nil }
            if let single = value.scalar?.string { return [single] }
            guard let list = value.sequence else { throw reader.error(value, "\(place): expect.\(key) must be a list of words") }
            return try list.map { try reader.string($0, "\(place): expect.\(key)", required: true)! }
        }
        var expect = Expectations(
            containsAny: try words("contains_any"), containsAll: try words("contains_all"),
            notContains: try words("not_contains"), regex: try reader.string(map["regex"], "\(place): expect.regex"))
        // Foundation leaks a copy of any pattern over 256 UTF-16 units on every compile (found by the fuzzer's leak check).
        if let regex = expect.regex, regex.utf16.count > 256 {
            throw reader.error(map["regex"]!, "\(place): expect.regex is over 256 characters")
        }
        if let regex = expect.regex, (try? NSRegularExpression(pattern: regex)) == nil {
            throw reader.error(map["regex"]!, "\(place): expect.regex is not a valid regular expression")
        }
        if let fields = map["fields"] {
            guard let mapping = fields.mapping else { throw reader.error(fields, "\(place): expect.fields must map names to values") }
            var values: [String: JSONValue] = [:]
            for (key, value) in mapping { values[key.string ?? ""] = Self.json(value) }
            expect.fields = values
        }
        return expect
    }

    static func json(_ node: Node) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            let plain = scalar.style == .plain
            if plain, let bool = Bool.construct(from: scalar) { return .bool(bool) }
            if plain, let number = Double.construct(from: scalar) { return .number(number) }
            if plain, NSNull.construct(from: scalar) != nil { return .null }
            return .string(scalar.string)
        case .sequence(let list): return .array(list.map(json))
        case .mapping(let map): return .object(Dictionary(map.map { ($0.key.string ?? "", json($0.value)) }, uniquingKeysWith: { $1 }))
        case .alias: return .null
        }
    }
}

/// One case of a set.
public struct RegressionCase: Sendable {
    public var id: String
    /// Absolute paths; one folder means a series or volume.
    public var images: [String]
    /// The paths as the set file wrote them (reports show these).
    public var imageNames: [String]
    public var question: String
    public var context: String?
    public var window: String?
    public var expect: Expectations
}

/// Generation settings shared by an experiment's cells or a set's cases.
public struct ExperimentParams: Sendable, Equatable, Codable {
    public var maxNewTokens: Int
    public var temperature: Double
    public var topP: Double
    public var seed: UInt32
    /// A JSON Schema every answer must follow (grammar-constrained), so cases can expect `fields`.
    public var schema: JSONValue?

    static let keys = ["max_new_tokens", "temperature", "top_p", "seed", "schema"]

    public init(maxNewTokens: Int = 256, temperature: Double = 0, topP: Double = 1, seed: UInt32 = 0, schema: JSONValue? = nil) {
        self.maxNewTokens = maxNewTokens
        self.temperature = temperature
        self.topP = topP
        self.seed = seed
        self.schema = schema
    }

    /// The output constraint the schema asks for.
    public var constraint: OutputConstraint? { schema.map { .jsonSchema($0.description) } }

    init(_ map: [String: Node], reader: NodeReader) throws {
        self.init()
        if let node = map["max_new_tokens"] {
            guard let value = node.int, (1...8192).contains(value) else {
                throw reader.error(node, "params.max_new_tokens must be 1 to 8192")
            }
            maxNewTokens = value
        }
        if let node = map["temperature"] {
            guard let value = node.float, (0...2).contains(value) else { throw reader.error(node, "params.temperature must be 0 to 2") }
            temperature = value
        }
        if let node = map["top_p"] {
            guard let value = node.float, (0...1).contains(value) else { throw reader.error(node, "params.top_p must be 0 to 1") }
            topP = value
        }
        if let node = map["seed"] {
            guard let value = node.int, let seed = UInt32(exactly: value) else {
                throw reader.error(node, "params.seed must be 0 to 4294967295")
            }
            self.seed = seed
        }
        if let node = map["schema"] {
            guard case .mapping = node else { throw reader.error(node, "params.schema must be a JSON Schema object") }
            let schema = RegressionSet.json(node)
            do { try JSONGrammar.check(schema.description) } catch { throw reader.error(node, "params.schema: \(error)") }
            self.schema = schema
        }
    }

    enum CodingKeys: String, CodingKey {
        case temperature, seed, schema
        case maxNewTokens = "max_new_tokens"
        case topP = "top_p"
    }
}

/// A set file that cannot be used: the file, the line when known, and what is wrong.
public struct SetError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var line: Int?
    public var message: String

    public init(file: String, line: Int? = nil, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { "\(file)\(line.map { ":\($0)" } ?? ""): \(message)" }
}

/// Reads YAML nodes with errors that name the file and line.
struct NodeReader {
    let file: String

    func error(_ node: Node, _ message: String) -> SetError { SetError(file: file, line: node.mark?.line, message: message) }

    /// A mapping whose keys are all in `allowed` (an unknown key is an error, not ignored).
    func mapping(_ node: Node, _ what: String, allowed: [String]) throws -> [String: Node] {
        guard let map = node.mapping else { throw error(node, "\(what) must be a mapping of keys to values") }
        var result: [String: Node] = [:]
        for (key, value) in map {
            let name = key.string ?? ""
            guard allowed.contains(name) else {
                throw error(key, "\(what): unknown key `\(name)` (known: \(allowed.joined(separator: ", ")))")
            }
            result[name] = value
        }
        return result
    }

    func string(_ node: Node?, _ what: String, required: Bool = false) throws -> String? {
        guard let node else {
            if required { throw SetError(file: file, message: "\(what) is missing") }
            return nil
        }
        guard let text = node.scalar?.string, !(required && text.trimmingCharacters(in: .whitespaces).isEmpty) else {
            throw error(node, "\(what) must be text")
        }
        return text
    }
}
