import Foundation

/// A JPEG Huffman table decoded the canonical way (ITU-T T.81 F.2.2.3: MINCODE, MAXCODE, VALPTR).
struct JPEGHuffmanTable {
    private var minCode = [Int](repeating: 0, count: 17)
    private var maxCode = [Int](repeating: -1, count: 18)
    private var valuePointer = [Int](repeating: 0, count: 17)
    private let values: [UInt8]

    /// `counts[l - 1]` codes of length l, then the values in code order (a DHT segment).
    init(counts: [Int], values: [UInt8]) throws {
        guard counts.count == 16, counts.reduce(0, +) <= values.count, values.count <= 256 else {
            throw ImagingError.malformed("JPEG Huffman table is inconsistent")
        }
        self.values = values
        var code = 0
        var k = 0
        for length in 1...16 {
            valuePointer[length] = k
            minCode[length] = code
            code += counts[length - 1]
            k += counts[length - 1]
            maxCode[length] = counts[length - 1] > 0 ? code - 1 : -1
            guard code <= 1 << length else { throw ImagingError.malformed("JPEG Huffman table has too many codes") }
            code <<= 1
        }
        maxCode[17] = Int.max
    }

    /// The value of the next code in `reader`.
    func decode(_ reader: inout JPEGBitReader) throws -> Int {
        var code = 0
        for length in 1...16 {
            code = code << 1 | Int(reader.bit())
            if maxCode[length] >= 0, code <= maxCode[length] {
                return Int(values[valuePointer[length] + code - minCode[length]])
            }
        }
        throw ImagingError.malformed("JPEG: invalid Huffman code")
    }
}

/// Reads entropy-coded JPEG data bit by bit: stuffed 0xFF00 bytes are unstuffed, and once a
/// marker is reached zeros are fed, as T.81 F.2.2.5 allows, so corrupt data ends instead of overrunning.
struct JPEGBitReader {
    let bytes: [UInt8]
    var position: Int
    private var accumulator: UInt32 = 0
    private var count = 0
    private(set) var hitMarker = false

    init(bytes: [UInt8], position: Int) {
        self.bytes = bytes
        self.position = position
    }

    mutating func bit() -> UInt32 {
        if count == 0 {
            var byte: UInt8 = 0
            if !hitMarker && position < bytes.count {
                byte = bytes[position]
                if byte == 0xFF {
                    let next = position + 1 < bytes.count ? bytes[position + 1] : 0xD9
                    if next == 0x00 {
                        position += 2
                    } else {
                        hitMarker = true
                        byte = 0
                    }
                } else {
                    position += 1
                }
            } else {
                hitMarker = true
            }
            accumulator = UInt32(byte)
            count = 8
        }
        count -= 1
        return (accumulator >> UInt32(count)) & 1
    }

    mutating func bits(_ n: Int) -> Int {
        var v = 0
        for _ in 0..<n { v = v << 1 | Int(bit()) }
        return v
    }

    /// `n` bits read as a signed magnitude category value (T.81 F.2.2.1 EXTEND). A category comes
    /// from a Huffman table's symbol, any byte in a damaged file: past 16 it is refused, because
    /// the arithmetic below would overflow (a crash, found by the fuzzer) and no JPEG process uses it.
    mutating func extended(_ n: Int) throws -> Int {
        guard n <= 16 else { throw ImagingError.malformed("JPEG: magnitude category \(n) is over 16") }
        guard n > 0 else { return 0 }
        let v = bits(n)
        return v < 1 << (n - 1) ? v - (1 << n) + 1 : v
    }

    /// Skips to just after the next RSTn marker and resets the bit buffer.
    mutating func restart() {
        count = 0
        hitMarker = false
        while position + 1 < bytes.count && !(bytes[position] == 0xFF && (0xD0...0xD7).contains(bytes[position + 1])) { position += 1 }
        position = min(position + 2, bytes.count)
    }
}

/// Walks the marker segments of a JPEG stream after SOI, skipping fill bytes and stand-alone
/// markers; stops at EOI. After a scan, the caller moves `position` past its entropy-coded data.
struct JPEGSegments {
    let data: [UInt8]
    var position = 2

    init(_ data: [UInt8]) throws {
        guard data.count > 4, data[0] == 0xFF, data[1] == 0xD8 else { throw ImagingError.malformed("JPEG without SOI") }
        self.data = data
    }

    /// The next segment: its marker and the byte range of its payload (after the length field).
    mutating func next() throws -> (marker: UInt8, start: Int, end: Int)? {
        while position + 3 < data.count {
            guard data[position] == 0xFF else {
                position += 1
                continue
            }
            let marker = data[position + 1]
            if marker == 0xD9 { return nil }
            if marker == 0xFF || marker == 0x00 || (0xD0...0xD7).contains(marker) {
                position += 1
                continue
            }
            let length = try u16(position + 2)
            let start = position + 4
            let end = position + 2 + length
            guard length >= 2, end <= data.count else { throw ImagingError.truncated("JPEG segment") }
            position = end
            return (marker, start, end)
        }
        return nil
    }

    /// The big-endian 16-bit value at `offset`.
    func u16(_ offset: Int) throws -> Int {
        guard offset >= 0, offset + 1 < data.count else { throw ImagingError.truncated("JPEG marker segment") }
        return Int(data[offset]) << 8 | Int(data[offset + 1])
    }
}
