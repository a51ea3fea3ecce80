import Foundation
import MedInference

/// What a regression case expects of its answer. Text checks are case-insensitive; the
/// reasoning block never counts as answer text (the answer given here has it removed already).
public struct Expectations: Sendable, Equatable, Codable {
    public var containsAny: [String]?
    public var containsAll: [String]?
    public var notContains: [String]?
    /// An ICU regular expression that must match somewhere in the answer.
    public var regex: String?
    /// Fields a JSON answer must hold with these values (answers under an output schema).
    public var fields: [String: JSONValue]?

    /// The keys a set file may use under `expect`.
    public static let keys = ["contains_any", "contains_all", "not_contains", "regex", "fields"]

    public init(
        containsAny: [String]? = nil, containsAll: [String]? = nil, notContains: [String]? = nil, regex: String? = nil,
        fields: [String: JSONValue]? = nil
    ) {
        self.containsAny = containsAny
        self.containsAll = containsAll
        self.notContains = notContains
        self.regex = regex
        self.fields = fields
    }

    enum CodingKeys: String, CodingKey {
        case regex, fields
        case containsAny = "contains_any"
        case containsAll = "contains_all"
        case notContains = "not_contains"
    }

    /// True when the case lists no expectation at all.
    public var isEmpty: Bool { containsAny == nil && containsAll == nil && notContains == nil && regex == nil && fields == nil }

    /// The expectations `answer` does not meet, each in words (empty: the case passes).
    public func failures(for answer: String) -> [String] {
        let text = answer.lowercased()
        var failed: [String] = []
        if let any = containsAny, !any.contains(where: { text.contains($0.lowercased()) }) {
            failed.append("contains_any: none of \(Self.list(any))")
        }
        for word in containsAll ?? [] where !text.contains(word.lowercased()) {
            failed.append("contains_all: no \"\(word)\"")
        }
        for word in notContains ?? [] where text.contains(word.lowercased()) {
            failed.append("not_contains: found \"\(word)\"")
        }
        if let regex {
            if (try? NSRegularExpression(pattern: regex)).map({
                $0.firstMatch(in: answer, range: NSRange(answer.startIndex..., in: answer)) == nil
            }) ?? true {
                failed.append("regex: no match for \(regex)")
            }
        }
        if let fields {
            let object = JSONValue.parseObject(in: answer)
            for (key, expected) in fields.sorted(by: { $0.key < $1.key }) {
                guard let object else {
                    failed.append("fields: the answer is not a JSON object")
                    break
                }
                if object[key] != expected {
                    failed.append("fields: \(key) is \(object[key]?.description ?? "missing"), expected \(expected)")
                }
            }
        }
        return failed
    }

    private static func list(_ words: [String]) -> String { words.map { "\"\($0)\"" }.joined(separator: ", ") }
}
