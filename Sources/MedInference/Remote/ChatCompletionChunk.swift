import Foundation

/// One streamed event of chat-completions (`choices[].delta`) or completions (`choices[].text`),
/// with the fields the servers we support add: usage, llama-server's timings, an error object.
struct ChatCompletionChunk: Decodable {
    struct Delta: Decodable {
        var content: String?
        /// A server that splits reasoning out itself (llama-server's `reasoning_content`, vLLM's `reasoning`).
        var reasoning_content: String?
        var reasoning: String?
    }

    struct Choice: Decodable {
        var delta: Delta?
        var text: String?
        var finish_reason: String?
    }

    struct Usage: Decodable {
        var prompt_tokens: Int?
        var completion_tokens: Int?
    }

    /// llama-server's own measurements, more exact than timing the stream from here.
    struct Timings: Decodable {
        var prompt_ms: Double?
        var predicted_ms: Double?
    }

    struct ErrorBody: Decodable {
        var message: String?
    }

    var choices: [Choice]?
    var usage: Usage?
    var timings: Timings?
    var error: ErrorBody?

    /// Answer text of this chunk (chat delta or completion text).
    var content: String { (choices ?? []).map { $0.delta?.content ?? $0.text ?? "" }.joined() }

    /// Reasoning text of this chunk, when the server separated it.
    var reasoning: String { (choices ?? []).map { $0.delta?.reasoning_content ?? $0.delta?.reasoning ?? "" }.joined() }

    var finishReason: String? { choices?.compactMap(\.finish_reason).first }
}

/// Splits a `text/event-stream` body into the `data` of each event (WHATWG rules: lines end in
/// LF, CR or CRLF; `data:` lines of one event are joined by LF; a blank line ends the event).
struct ServerSentEventParser {
    private var line: [UInt8] = []
    private var data: [String] = []
    private var lastWasCR = false

    /// Feeds bytes as they arrive; returns the events they complete.
    mutating func feed(_ bytes: some Sequence<UInt8>) -> [String] {
        var events: [String] = []
        for byte in bytes {
            if byte == UInt8(ascii: "\n"), lastWasCR {
                lastWasCR = false
                continue
            }
            lastWasCR = byte == UInt8(ascii: "\r")
            if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                if let event = endLine() { events.append(event) }
            } else {
                line.append(byte)
            }
        }
        return events
    }

    /// The last event of a stream that ended without a blank line.
    mutating func finish() -> [String] {
        var events: [String] = []
        if !line.isEmpty, let event = endLine() { events.append(event) }
        if let event = endLine() { events.append(event) }
        return events
    }

    private mutating func endLine() -> String? {
        defer { line.removeAll(keepingCapacity: true) }
        guard !line.isEmpty else {
            guard !data.isEmpty else { return nil }
            defer { data.removeAll() }
            return data.joined(separator: "\n")
        }
        let text = String(decoding: line, as: UTF8.self)
        if text.hasPrefix(":") { return nil }  // a comment (keep-alive)
        let (field, value) =
            text.firstIndex(of: ":").map { colon in
                var value = text[text.index(after: colon)...]
                if value.hasPrefix(" ") { value = value.dropFirst() }
                return (String(text[..<colon]), String(value))
            } ?? (text, "")
        if field == "data" { data.append(value) }
        return nil
    }
}
