import Foundation

/// A box the model returned: `[y0, x0, y1, x1]` normalised to 0–1000 of the square model image.
public struct ModelBox: Sendable, Equatable, Codable {
    public var y0: Double
    public var x0: Double
    public var y1: Double
    public var x1: Double
    public var label: String

    public init(y0: Double, x0: Double, y1: Double, x1: Double, label: String) {
        self.y0 = y0
        self.x0 = x0
        self.y1 = y1
        self.x1 = x1
        self.label = label
    }
}

/// Splits MedGemma's raw output into answer, hidden reasoning and localisation boxes.
public enum AnswerParser {
    /// MedGemma 1.5 opens its thinking with `<unused94>thought` and closes it with `<unused95>`.
    static let reasoningOpen = "<unused94>"
    static let reasoningClose = "<unused95>"

    /// The parts of one answer.
    public struct Parsed: Sendable, Equatable {
        public var answer: String
        public var reasoning: String?
        public var boxes: [ModelBox]
    }

    /// Parses a complete raw answer.
    public static func parse(_ raw: String) -> Parsed {
        let (answer, reasoning) = splitReasoning(raw)
        return Parsed(answer: answer, reasoning: reasoning, boxes: boxes(in: answer))
    }

    /// Removes the reasoning block; an unclosed block (cut by the token limit) is all reasoning.
    public static func splitReasoning(_ raw: String) -> (answer: String, reasoning: String?) {
        guard let open = raw.range(of: reasoningOpen) else { return (raw.trimmingCharacters(in: .whitespacesAndNewlines), nil) }
        let before = raw[..<open.lowerBound]
        var thought: Substring
        var after: Substring = ""
        if let close = raw.range(of: reasoningClose, range: open.upperBound..<raw.endIndex) {
            thought = raw[open.upperBound..<close.lowerBound]
            after = raw[close.upperBound...]
        } else {
            thought = raw[open.upperBound...]
        }
        if thought.hasPrefix("thought") { thought = thought.dropFirst("thought".count) }
        let answer = (before + after).trimmingCharacters(in: .whitespacesAndNewlines)
        let reasoning = thought.trimmingCharacters(in: .whitespacesAndNewlines)
        return (answer, reasoning.isEmpty ? nil : reasoning)
    }

    /// Finds `{"box_2d": [y0, x0, y1, x1], "label": ...}` objects in fenced or bare JSON lists.
    public static func boxes(in text: String) -> [ModelBox] {
        for candidate in jsonCandidates(in: text) {
            guard let data = candidate.data(using: .utf8),
                let value = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            else { continue }
            let objects: [Any] = (value as? [Any]) ?? [value]
            let found = objects.compactMap(box(from:))
            if !found.isEmpty { return found }
        }
        return []
    }

    private static func box(from object: Any) -> ModelBox? {
        guard let dict = object as? [String: Any],
            let coords = (dict["box_2d"] ?? dict["box"]) as? [Any], coords.count == 4
        else { return nil }
        let numbers = coords.compactMap { ($0 as? NSNumber)?.doubleValue }
        guard numbers.count == 4, numbers.allSatisfy({ $0.isFinite }) else { return nil }
        let label = (dict["label"] as? String) ?? ""
        return ModelBox(
            y0: min(numbers[0], numbers[2]), x0: min(numbers[1], numbers[3]),
            y1: max(numbers[0], numbers[2]), x1: max(numbers[1], numbers[3]), label: label)
    }

    /// Fenced code blocks first, then the outermost bracketed span of the whole text.
    private static func jsonCandidates(in text: String) -> [String] {
        var result: [String] = []
        var rest = text[...]
        while let open = rest.range(of: "```") {
            let afterFence = rest[open.upperBound...]
            let bodyStart = afterFence.firstIndex(of: "\n").map { afterFence.index(after: $0) } ?? afterFence.startIndex
            guard let close = afterFence.range(of: "```", range: bodyStart..<afterFence.endIndex) else { break }
            result.append(String(afterFence[bodyStart..<close.lowerBound]))
            rest = afterFence[close.upperBound...]
        }
        if let first = text.firstIndex(of: "["), let last = text.lastIndex(of: "]"), first < last {
            result.append(String(text[first...last]))
        }
        return result
    }
}
