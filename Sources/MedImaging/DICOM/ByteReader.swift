import Foundation

/// A bounds-checked cursor over bytes: every read that would run past the end throws
/// `ImagingError.truncated` instead of trapping, which is what makes the DICOM and NIfTI
/// parsers safe on hostile uploads.
struct ByteReader {
    let bytes: [UInt8]
    var position: Int
    /// Reads past this index are treated as past the end (a nested item's own length).
    var limit: Int
    var bigEndian: Bool

    init(_ bytes: [UInt8], position: Int = 0, limit: Int? = nil, bigEndian: Bool = false) {
        self.bytes = bytes
        self.position = position
        self.limit = min(limit ?? bytes.count, bytes.count)
        self.bigEndian = bigEndian
    }

    var remaining: Int { limit - position }
    var atEnd: Bool { position >= limit }

    mutating func need(_ n: Int, _ what: @autoclosure () -> String) throws {
        guard n >= 0, n <= remaining else {
            throw ImagingError.truncated("\(what()) needs \(n) bytes at offset \(position), \(max(0, remaining)) left")
        }
    }

    mutating func u8() throws -> UInt8 {
        try need(1, "byte")
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u16() throws -> UInt16 {
        try need(2, "16-bit value")
        defer { position += 2 }
        let a = UInt16(bytes[position])
        let b = UInt16(bytes[position + 1])
        return bigEndian ? (a << 8 | b) : (b << 8 | a)
    }

    mutating func u32() throws -> UInt32 {
        try need(4, "32-bit value")
        let p = position
        position += 4
        let a = UInt32(bytes[p])
        let b = UInt32(bytes[p + 1])
        let c = UInt32(bytes[p + 2])
        let d = UInt32(bytes[p + 3])
        return bigEndian ? (a << 24 | b << 16 | c << 8 | d) : (d << 24 | c << 16 | b << 8 | a)
    }

    mutating func skip(_ n: Int) throws {
        try need(n, "skip")
        position += n
    }

    /// Peeks two bytes without moving, or nil at the end.
    func peek(_ n: Int) -> ArraySlice<UInt8>? {
        n <= remaining ? bytes[position..<(position + n)] : nil
    }
}

/// Reads fixed-width numbers from a byte range with a chosen byte order (pixel data, LUTs).
enum Bytes {
    @inline(__always)
    static func u16(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, bigEndian: Bool) -> UInt16 {
        bigEndian ? (UInt16(b[i]) << 8 | UInt16(b[i + 1])) : (UInt16(b[i + 1]) << 8 | UInt16(b[i]))
    }

    @inline(__always)
    static func u32(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, bigEndian: Bool) -> UInt32 {
        bigEndian
            ? (UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3]))
            : (UInt32(b[i + 3]) << 24 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 1]) << 8 | UInt32(b[i]))
    }
}
