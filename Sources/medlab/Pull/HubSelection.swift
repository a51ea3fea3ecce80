import Foundation

/// Which GGUF files of a repository make the model: the text model of a quantisation (all parts
/// of a split GGUF) and the vision projector (`mmproj*.gguf`).
struct HubSelection {
    var text: [HubClient.Entry]
    var projector: HubClient.Entry?

    /// `*-00001-of-00003.gguf`: a split GGUF's parts share the stem before the part number.
    static func stem(_ path: String) -> String {
        let name = (path as NSString).lastPathComponent
        guard let range = name.range(of: #"-\d{5}-of-\d{5}\.gguf$"#, options: [.regularExpression, .caseInsensitive]) else { return name }
        return String(name[..<range.lowerBound]) + ".gguf"
    }

    static func isProjector(_ path: String) -> Bool { (path as NSString).lastPathComponent.lowercased().contains("mmproj") }

    static func ggufs(_ entries: [HubClient.Entry]) -> [HubClient.Entry] {
        entries.filter { $0.path.lowercased().hasSuffix(".gguf") }.sorted { $0.path < $1.path }
    }

    /// Whether `path` is of quantisation `quant` (`Q4_K_M` matches `…-Q4_K_M.gguf` but not `…-Q4_K_M_L`).
    static func matches(_ path: String, _ quant: String) -> Bool {
        let name = stem(path).lowercased().replacingOccurrences(of: ".gguf", with: "")
        let q = quant.lowercased()
        guard let range = name.range(of: q, options: .backwards) else { return false }
        let before = range.lowerBound == name.startIndex ? "-" : name[name.index(before: range.lowerBound)]
        let after = range.upperBound == name.endIndex ? "-" : name[range.upperBound]
        return "-_.".contains(before) && "-_.".contains(after)
    }

    /// The files to fetch, or an error listing what the repository has.
    static func choose(_ entries: [HubClient.Entry], quant: String, projectorQuant: String) throws -> HubSelection {
        let all = ggufs(entries)
        let texts = all.filter { !isProjector($0.path) }
        let projectors = all.filter { isProjector($0.path) }
        guard !texts.isEmpty else { throw PullError("the repository has no GGUF text model") }
        let wanted = texts.filter { matches($0.path, quant) }
        guard let first = wanted.first else {
            let quants = Set(texts.map { stem($0.path) }).sorted().joined(separator: ", ")
            throw PullError("no \(quant) text model in the repository; it has: \(quants) (choose with --quant)")
        }
        let firstStem = stem(first.path)
        let parts = wanted.filter { stem($0.path) == firstStem }
        // F16 as asked, else the next closest a repository tends to carry.
        let order = [projectorQuant] + ["F16", "BF16", "F32", "Q8_0"].filter { $0.lowercased() != projectorQuant.lowercased() }
        let projector = order.lazy.compactMap { q in projectors.first { matches($0.path, q) } }.first ?? projectors.first
        return HubSelection(text: parts, projector: projector)
    }

    var files: [HubClient.Entry] { text + (projector.map { [$0] } ?? []) }
}
