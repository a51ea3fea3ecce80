/// Cuts streamed text at the first user stop string, holding back what might begin one.
struct StopMatcher {
    private let stops: [String]
    private var pending = ""

    init(stops: [String]) { self.stops = stops.filter { !$0.isEmpty } }

    /// Adds text; returns what can be released and whether a stop string was reached.
    mutating func feed(_ text: String) -> (String, Bool) {
        guard !stops.isEmpty else { return (text, false) }
        pending += text
        if let hit = stops.compactMap({ pending.range(of: $0) }).min(by: { $0.lowerBound < $1.lowerBound }) {
            let released = String(pending[..<hit.lowerBound])
            pending = ""
            return (released, true)
        }
        var keep = 0
        for stop in stops {
            for length in stride(from: min(stop.count - 1, pending.count), to: keep, by: -1)
            where stop.hasPrefix(pending.suffix(length)) {
                keep = length
                break
            }
        }
        let cut = pending.index(pending.endIndex, offsetBy: -keep)
        let released = String(pending[..<cut])
        pending = String(pending[cut...])
        return (released, false)
    }

    /// Releases everything held back, plus `text`, at the end of a stream that never stopped.
    mutating func flush(_ text: String) -> String {
        let (released, hit) = feed(text)
        if hit { return released }
        defer { pending = "" }
        return released + pending
    }
}
