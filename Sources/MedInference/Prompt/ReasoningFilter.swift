/// Routes streamed text either to the answer or to the reasoning block, as it arrives.
///
/// Markers can be split across pieces, so text that could be the start of a marker is held back
/// until the next piece decides it.
struct ReasoningFilter {
    private var pending = ""
    private var inReasoning = false
    private var sawThoughtWord = false
    private var label = ""
    private static let label = "thought"

    /// Feeds one piece; returns the events it releases.
    mutating func feed(_ piece: String) -> [GenerationEvent] {
        pending += piece
        var events: [GenerationEvent] = []
        while true {
            let marker = inReasoning ? AnswerParser.reasoningClose : AnswerParser.reasoningOpen
            if let range = pending.range(of: marker) {
                emit(String(pending[..<range.lowerBound]), into: &events)
                pending = String(pending[range.upperBound...])
                inReasoning.toggle()
                sawThoughtWord = false
                continue
            }
            // Hold back the longest suffix that is a prefix of the marker.
            var keep = 0
            for length in stride(from: min(marker.count - 1, pending.count), to: 0, by: -1)
            where marker.hasPrefix(pending.suffix(length)) {
                keep = length
                break
            }
            let cut = pending.index(pending.endIndex, offsetBy: -keep)
            emit(String(pending[..<cut]), into: &events)
            pending = String(pending[cut...])
            return events
        }
    }

    /// Releases whatever is held back at the end of the stream.
    mutating func finish() -> [GenerationEvent] {
        var events: [GenerationEvent] = []
        emit(pending, into: &events)
        if !label.isEmpty { events.append(.reasoning(label)) }
        pending = ""
        label = ""
        return events
    }

    private mutating func emit(_ text: String, into events: inout [GenerationEvent]) {
        var text = text
        if inReasoning, !sawThoughtWord {
            // The block opens with the word "thought": a label, not part of the reasoning.
            label += text
            if label.count < Self.label.count, Self.label.hasPrefix(label) { return }
            text = label.hasPrefix(Self.label) ? String(label.dropFirst(Self.label.count)) : label
            label = ""
            sawThoughtWord = true
        }
        guard !text.isEmpty else { return }
        events.append(inReasoning ? .reasoning(text) : .delta(text))
    }
}
