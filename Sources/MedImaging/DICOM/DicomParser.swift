import Foundation

/// DICOM Part 10 reader: preamble or none, file meta group, then the data set in the transfer
/// syntax's encoding (implicit LE, explicit LE/BE, deflated). Every length is checked against
/// the bytes that remain, nesting is bounded, and deflated data is inflated with a size bound.
enum DicomParser {
    /// Parsed file: data set, file meta transfer syntax, and the encoding actually used.
    struct Parsed {
        var dataSet: DicomDataSet
        var transferSyntax: TransferSyntax
    }

    static let maxDepth = 32
    private static let longVRs: Set<String> = ["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UR", "UT", "UN", "SV", "UV"]
    /// VRs needed for implicit-VR files: binary tags the pipeline reads and sequences it walks.
    private static let implicitVRs: [UInt32: String] = {
        var d: [UInt32: String] = [:]
        for e: UInt16 in [0x0002, 0x0006, 0x0008, 0x0010, 0x0011, 0x0100, 0x0101, 0x0102, 0x0103] { d[0x0028_0000 | UInt32(e)] = "US" }
        d[0x0028_0008] = "IS"
        for t: UInt32 in [0x0028_1101, 0x0028_1102, 0x0028_1103, 0x0028_3002] { d[t] = "US" }
        for t: UInt32 in [0x0028_1201, 0x0028_1202, 0x0028_1203, 0x0028_3006, 0x7FE0_0010] { d[t] = "OW" }
        // Sequences, including the functional group macros that FunctionalGroups reads.
        for t: UInt32 in [
            0x0028_3000, 0x0028_3010, 0x5200_9229, 0x5200_9230, 0x0028_9132, 0x0028_9145, 0x0028_9110, 0x0020_9113, 0x0020_9116
        ] { d[t] = "SQ" }
        return d
    }()

    /// True when `data` looks like DICOM: "DICM" at 128, or a bare data set starting with a
    /// group 0002/0008 element.
    static func sniff(_ data: Data) -> Bool {
        if data.count >= 132, data[data.startIndex + 128..<data.startIndex + 132].elementsEqual("DICM".utf8) { return true }
        guard data.count >= 8 else { return false }
        let b = [UInt8](data.prefix(8))
        let group = UInt16(b[1]) << 8 | UInt16(b[0])
        if (group == 0x0002 || group == 0x0008) && b[3] == 0x00 { return true }
        // Explicit VR big endian without a meta header: group 0008 stored as 00 08.
        return b[0] == 0x00 && b[1] == 0x08 && b[2] == 0x00 && (65...90).contains(b[4]) && (65...90).contains(b[5])
    }

    static func parse(_ data: Data, maxInflated: Int) throws -> Parsed {
        let bytes = [UInt8](data)
        var start = 0
        if bytes.count >= 132, bytes[128..<132].elementsEqual("DICM".utf8) {
            start = 132
        } else if !sniff(data) {
            throw ImagingError.notAnImage("no DICOM preamble and no DICOM data set at the start")
        }

        // File meta information: always explicit VR little endian.
        var reader = ByteReader(bytes, position: start)
        var meta = DicomDataSet()
        while let p = reader.peek(2), (UInt16(p[p.startIndex + 1]) << 8 | UInt16(p[p.startIndex])) == 0x0002 {
            let e = try readElement(&reader, explicit: true, depth: 0)
            meta.elements[e.tag] = e
        }
        var syntax = TransferSyntax(uid: meta.string(Tag.transferSyntax) ?? "")
        if meta.string(Tag.transferSyntax) == nil {
            // No meta header: tell implicit from explicit by whether bytes 4-5 spell a VR.
            let p = reader.position
            let bigEndian = p + 2 <= bytes.count && bytes[p] == 0x00 && bytes[p + 1] == 0x08
            syntax = TransferSyntax(
                uid: bigEndian
                    ? TransferSyntax.explicitBig
                    : looksExplicit(bytes, at: p) ? TransferSyntax.explicitLittle : TransferSyntax.implicitLittle)
        }
        var body = bytes
        var position = reader.position
        if syntax.isDeflated {
            let rest = Data(bytes[position...])
            body = [UInt8](try Inflate.inflate(rest, container: .rawDeflate, maxOutput: maxInflated))
            position = 0
        }
        // Files whose header says explicit but are implicit (and the reverse) exist; follow the bytes.
        var explicit = syntax.isExplicitVR
        if position + 6 <= body.count, explicit != looksExplicit(body, at: position), !syntax.isBigEndian {
            explicit.toggle()
        }
        var dsReader = ByteReader(body, position: position, bigEndian: syntax.isBigEndian)
        var ds = try readDataSet(&dsReader, explicit: explicit, depth: 0, untilItemEnd: false)
        for (k, v) in meta.elements { ds.elements[k] = v }
        return Parsed(dataSet: ds, transferSyntax: syntax)
    }

    private static func looksExplicit(_ b: [UInt8], at p: Int) -> Bool {
        guard p + 6 <= b.count else { return true }
        let v0 = b[p + 4]
        let v1 = b[p + 5]
        return (65...90).contains(v0) && (65...90).contains(v1)
    }

    /// Reads elements until the reader's limit, or an item delimiter when `untilItemEnd`.
    static func readDataSet(_ r: inout ByteReader, explicit: Bool, depth: Int, untilItemEnd: Bool) throws -> DicomDataSet {
        guard depth <= maxDepth else { throw ImagingError.malformed("sequences nested deeper than \(maxDepth)") }
        var ds = DicomDataSet()
        while !r.atEnd {
            // Trailing padding shorter than a tag is tolerated, as pydicom does.
            if r.remaining < 8 { if r.bytes[r.position..<r.limit].allSatisfy({ $0 == 0 }) || !untilItemEnd { break } }
            let e = try readElement(&r, explicit: explicit, depth: depth)
            if e.tag == Tag.itemDelimitation { if untilItemEnd { return ds } else { continue } }
            if e.tag == Tag.sequenceDelimitation { continue }
            ds.elements[e.tag] = e
        }
        if untilItemEnd { throw ImagingError.truncated("sequence item without an end") }
        return ds
    }

    static func readElement(_ r: inout ByteReader, explicit: Bool, depth: Int) throws -> DicomElement {
        let group = try r.u16()
        let element = try r.u16()
        let tag = DicomTag(group, element)
        if group == 0xFFFE {
            // Item and delimiter tags carry no VR in any encoding.
            _ = try r.u32()
            return DicomElement(tag: tag, vr: "", value: [], bigEndian: r.bigEndian)
        }
        var vr: String
        var length: UInt32
        if explicit {
            let a = try r.u8()
            let b = try r.u8()
            vr = String(decoding: [a, b], as: UTF8.self)
            if longVRs.contains(vr) {
                try r.skip(2)
                length = try r.u32()
            } else if (65...90).contains(a) && (65...90).contains(b) {
                length = UInt32(try r.u16())
            } else {
                throw ImagingError.malformed("invalid VR bytes at \(tag)")
            }
        } else {
            length = try r.u32()
            vr = implicitVRs[tag.raw] ?? (element == 0 ? "UL" : "UN")
        }
        let undefined = length == 0xFFFF_FFFF
        if tag == Tag.pixelData && undefined {
            return DicomElement(tag: tag, vr: vr, value: [], bigEndian: r.bigEndian, fragments: try readFragments(&r))
        }
        if vr == "SQ" || (undefined && (vr == "UN" || !explicit)) {
            // UN with undefined length is an implicit-VR little-endian sequence (PS3.5 6.2.2).
            let itemsExplicit = (vr == "UN") ? false : explicit
            let items = try readItems(&r, length: undefined ? nil : Int(length), explicit: itemsExplicit, depth: depth + 1)
            return DicomElement(tag: tag, vr: "SQ", value: [], bigEndian: r.bigEndian, items: items)
        }
        guard !undefined else { throw ImagingError.malformed("undefined length on non-sequence element \(tag)") }
        let n = Int(length)
        try r.need(n, "value of \(tag)")
        let value = r.bytes[r.position..<(r.position + n)]
        r.position += n
        return DicomElement(tag: tag, vr: vr, value: value, bigEndian: r.bigEndian)
    }

    private static func readItems(_ r: inout ByteReader, length: Int?, explicit: Bool, depth: Int) throws -> [DicomDataSet] {
        guard depth <= maxDepth else { throw ImagingError.malformed("sequences nested deeper than \(maxDepth)") }
        var items: [DicomDataSet] = []
        let end = length.map { r.position + $0 }
        if let end { try r.need(end - r.position, "sequence") }
        while true {
            if let end, r.position >= end { break }
            let tag = DicomTag(try r.u16(), try r.u16())
            let itemLength = try r.u32()
            if tag == Tag.sequenceDelimitation { break }
            guard tag == Tag.item else { throw ImagingError.malformed("expected a sequence item, found \(tag)") }
            if itemLength == 0xFFFF_FFFF {
                items.append(try readDataSet(&r, explicit: explicit, depth: depth, untilItemEnd: true))
            } else {
                let n = Int(itemLength)
                try r.need(n, "sequence item")
                var sub = ByteReader(r.bytes, position: r.position, limit: r.position + n, bigEndian: r.bigEndian)
                items.append(try readDataSet(&sub, explicit: explicit, depth: depth, untilItemEnd: false))
                r.position += n
            }
        }
        return items
    }

    /// Encapsulated pixel data (PS3.5 A.4): items of bytes up to the sequence delimiter.
    private static func readFragments(_ r: inout ByteReader) throws -> [ArraySlice<UInt8>] {
        var fragments: [ArraySlice<UInt8>] = []
        while true {
            // A missing final delimiter at the end of the file is tolerated (pydicom does too).
            if r.remaining == 0 { return fragments }
            let tag = DicomTag(try r.u16(), try r.u16())
            let n = Int(try r.u32())
            if tag == Tag.sequenceDelimitation { return fragments }
            guard tag == Tag.item else { throw ImagingError.malformed("expected a pixel data fragment, found \(tag)") }
            try r.need(n, "pixel data fragment")
            fragments.append(r.bytes[r.position..<(r.position + n)])
            r.position += n
        }
    }
}
