import Foundation

/// A small DICOM Part 10 writer for tests: explicit/implicit little endian, explicit big endian,
/// native or encapsulated pixel data. Just enough to generate every case the reader handles.
struct DicomWriter {
    enum Encoding { case implicitLittle, explicitLittle, explicitBig }

    var encoding: Encoding = .explicitLittle
    var transferSyntax: String? = nil
    var preamble = true
    private var elements: [(UInt16, UInt16, String, [UInt8])] = []

    init(encoding: Encoding = .explicitLittle) { self.encoding = encoding }

    mutating func add(_ g: UInt16, _ e: UInt16, _ vr: String, _ value: [UInt8]) { elements.append((g, e, vr, value)) }
    mutating func string(_ g: UInt16, _ e: UInt16, _ vr: String, _ s: String) {
        var b = Array(s.utf8)
        if b.count % 2 == 1 { b.append(vr == "UI" ? 0 : 0x20) }
        add(g, e, vr, b)
    }
    mutating func us(_ g: UInt16, _ e: UInt16, _ v: UInt16) { add(g, e, "US", u16(v)) }

    func u16(_ v: UInt16) -> [UInt8] { encoding == .explicitBig ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)] }
    func u32(_ v: UInt32, little: Bool) -> [UInt8] {
        little
            ? [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)]
            : [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
    }

    /// Standard image attributes for a grey or colour image.
    mutating func image(
        rows: Int, columns: Int, bitsAllocated: Int = 16, bitsStored: Int? = nil, signed: Bool = false,
        samples: Int = 1, photometric: String = "MONOCHROME2", frames: Int = 1, planar: Int = 0
    ) {
        us(0x0028, 0x0002, UInt16(samples))
        string(0x0028, 0x0004, "CS", photometric)
        if samples == 3 { us(0x0028, 0x0006, UInt16(planar)) }
        if frames > 1 { string(0x0028, 0x0008, "IS", String(frames)) }
        us(0x0028, 0x0010, UInt16(rows))
        us(0x0028, 0x0011, UInt16(columns))
        us(0x0028, 0x0100, UInt16(bitsAllocated))
        us(0x0028, 0x0101, UInt16(bitsStored ?? bitsAllocated))
        us(0x0028, 0x0102, UInt16((bitsStored ?? bitsAllocated) - 1))
        us(0x0028, 0x0103, signed ? 1 : 0)
    }

    /// 16-bit sample values in the data set's byte order.
    func words(_ values: [Int]) -> [UInt8] { values.flatMap { u16(UInt16(truncatingIfNeeded: $0)) } }

    /// Encapsulated pixel data: empty offset table then one fragment per frame.
    static func encapsulate(_ frames: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = [0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0]
        for var f in frames {
            if f.count % 2 == 1 { f.append(0) }
            out += [0xFE, 0xFF, 0x00, 0xE0]
            let n = UInt32(f.count)
            out += [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)]
            out += f
        }
        return out + [0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]
    }

    func data() -> Data {
        var out: [UInt8] = []
        if preamble { out += [UInt8](repeating: 0, count: 128) + Array("DICM".utf8) }
        let ts =
            transferSyntax ?? [
                .implicitLittle: "1.2.840.10008.1.2", .explicitLittle: "1.2.840.10008.1.2.1",
                .explicitBig: "1.2.840.10008.1.2.2"
            ][encoding]!
        if preamble {
            var tsBytes = Array(ts.utf8)
            if tsBytes.count % 2 == 1 { tsBytes.append(0) }
            out += [0x02, 0x00, 0x10, 0x00] + Array("UI".utf8) + [UInt8(tsBytes.count), 0] + tsBytes
        }
        for (g, e, vr, value) in elements.sorted(by: { ($0.0, $0.1) < ($1.0, $1.1) }) {
            let little = encoding != .explicitBig
            out += u16(g) + u16(e)
            let undefined = g == 0x7FE0 && value.first == 0xFE && value.count > 8 && value[2] == 0x00 && value[3] == 0xE0
            let length: UInt32 = undefined ? 0xFFFF_FFFF : UInt32(value.count)
            if encoding == .implicitLittle {
                out += u32(length, little: true)
            } else if ["OB", "OW", "SQ", "UN", "UT", "OF"].contains(vr) {
                out += Array(vr.utf8) + [0, 0] + u32(length, little: little)
            } else {
                out += Array(vr.utf8) + u16(UInt16(value.count))
            }
            out += value
        }
        return Data(out)
    }
}
