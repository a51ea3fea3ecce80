import Foundation
import HTTPTypes
import Hummingbird

/// Writes `text/event-stream` frames: one `data:` line of JSON per event, a blank line after.
struct ServerSentEvents {
    static let headers: HTTPFields = [
        .contentType: "text/event-stream; charset=utf-8",
        .cacheControl: "no-cache",
        // Proxies such as nginx buffer responses unless told not to, which would defeat streaming.
        HTTPField.Name("X-Accel-Buffering")!: "no"
    ]

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// One frame carrying `value` as JSON.
    static func frame(_ value: some Encodable, event: String? = nil) -> ByteBuffer {
        let json = (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return frame(raw: json, event: event)
    }

    /// One frame with literal data (the OpenAI stream ends with `data: [DONE]`).
    static func frame(raw: String, event: String? = nil) -> ByteBuffer {
        var text = ""
        if let event { text += "event: \(event)\n" }
        text += "data: \(raw)\n\n"
        return ByteBuffer(string: text)
    }
}
