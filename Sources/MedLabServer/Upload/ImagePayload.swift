import Foundation

/// Turns the image strings clients send into bytes: a `data:` URL or bare base64.
enum ImagePayload {
    /// Decodes `data:image/png;base64,....` or plain base64 (with or without line breaks).
    /// `http(s)` URLs are refused: the lab never fetches from the network on a client's behalf.
    static func bytes(from text: String, field: String) throws -> [UInt8] {
        // Works on UTF-8 bytes: an image is hundreds of KB of base64, and Character-level String
        // filtering and replacing took ~90 ms for a 240 KB PNG (most of an HTTP request's overhead).
        var utf8 = text.utf8[...]
        while let first = utf8.first, isSpace(first) { utf8 = utf8.dropFirst() }
        let head = String(decoding: utf8.prefix(8), as: UTF8.self).lowercased()
        if head.hasPrefix("http://") || head.hasPrefix("https://") {
            throw LabError.badRequest(
                code: "remote_image_refused",
                message: "\(field): remote image URLs are not fetched; send the image inline as a data: URL (base64)")
        }
        if head.hasPrefix("data:") {
            guard let comma = utf8.firstIndex(of: UInt8(ascii: ",")) else {
                throw LabError.badRequest(code: "invalid_base64", message: "\(field): the data URL has no comma before its data")
            }
            let header = String(decoding: utf8[utf8.index(utf8.startIndex, offsetBy: 5)..<comma], as: UTF8.self).lowercased()
            guard header.hasSuffix(";base64") else {
                throw LabError.badRequest(code: "invalid_base64", message: "\(field): only base64 data URLs are accepted")
            }
            utf8 = utf8[utf8.index(after: comma)...]
        }
        // Clients wrap lines or use the URL-safe alphabet; accept both, refuse anything else.
        var cleaned: [UInt8] = []
        cleaned.reserveCapacity(utf8.count + 3)
        for byte in utf8 where !isSpace(byte) {
            switch byte {
            case UInt8(ascii: "-"): cleaned.append(UInt8(ascii: "+"))
            case UInt8(ascii: "_"): cleaned.append(UInt8(ascii: "/"))
            default: cleaned.append(byte)
            }
        }
        guard !cleaned.isEmpty else { throw LabError.badRequest(code: "missing_image", message: "\(field) is empty") }
        if cleaned.count % 4 != 0 { cleaned += repeatElement(UInt8(ascii: "="), count: 4 - cleaned.count % 4) }
        guard let data = Data(base64Encoded: Data(cleaned)) else {
            throw LabError.badRequest(code: "invalid_base64", message: "\(field) is not valid base64")
        }
        return [UInt8](data)
    }

    /// ASCII white space, the only kind base64 text may carry.
    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }
}

/// A `multipart/form-data` body split into its parts (RFC 7578), enough for browser and curl uploads.
struct MultipartForm {
    struct Part {
        var name: String
        var filename: String?
        var contentType: String?
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    var parts: [Part]

    func first(_ name: String) -> Part? { parts.first { $0.name == name } }
    func all(_ name: String) -> [Part] { parts.filter { $0.name == name } }

    /// The boundary from a `Content-Type: multipart/form-data; boundary=...` header.
    static func boundary(of contentType: String) -> String? {
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2, pair[0].lowercased() == "boundary" {
                return pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        return nil
    }

    init(body: [UInt8], boundary: String) throws {
        func bad(_ why: String) -> LabError { .badRequest(code: "invalid_multipart", message: "the multipart body is malformed: \(why)") }
        let delimiter = Array("--\(boundary)".utf8)
        var positions: [Int] = []
        var index = 0
        while let found = Self.find(delimiter, in: body, from: index) {
            positions.append(found)
            index = found + delimiter.count
        }
        guard positions.count >= 2 else { throw bad("no parts") }
        parts = []
        for (start, end) in zip(positions, positions.dropFirst()) {
            var partStart = start + delimiter.count
            // Skip the CRLF after the delimiter line.
            if partStart + 1 < body.count, body[partStart] == 13, body[partStart + 1] == 10 { partStart += 2 }
            var partEnd = end
            if partEnd >= 2, body[partEnd - 2] == 13, body[partEnd - 1] == 10 { partEnd -= 2 }
            guard partStart <= partEnd, let split = Self.find([13, 10, 13, 10], in: body, from: partStart), split <= partEnd else {
                throw bad("a part has no header")
            }
            let headerText = String(decoding: body[partStart..<split], as: UTF8.self)
            var name: String?
            var filename: String?
            var contentType: String?
            for line in headerText.components(separatedBy: "\r\n") {
                let lowered = line.lowercased()
                if lowered.hasPrefix("content-disposition:") {
                    name = Self.parameter("name", in: line)
                    filename = Self.parameter("filename", in: line)
                } else if lowered.hasPrefix("content-type:") {
                    contentType = line.dropFirst("content-type:".count).trimmingCharacters(in: .whitespaces)
                }
            }
            guard let name else { throw bad("a part has no name") }
            // A blank line right before the next delimiter (no CRLF of its own) ends an empty part;
            // its CRLF was taken off partEnd above, so the body starts past partEnd (a trap, found by the fuzzer).
            let bodyStart = min(split + 4, partEnd)
            parts.append(Part(name: name, filename: filename, contentType: contentType, body: Array(body[bodyStart..<partEnd])))
        }
    }

    private static func parameter(_ key: String, in line: String) -> String? {
        for piece in line.split(separator: ";").dropFirst() {
            let pair = piece.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == key else { continue }
            return pair[1].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        return nil
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        let first = needle[0]
        var i = start
        while i <= haystack.count - needle.count {
            if haystack[i] == first, haystack[i..<i + needle.count].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
