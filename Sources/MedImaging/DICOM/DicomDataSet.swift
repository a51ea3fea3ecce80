import Foundation

/// A DICOM tag, group in the high 16 bits and element in the low 16.
public struct DicomTag: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let raw: UInt32
    public init(_ group: UInt16, _ element: UInt16) { raw = UInt32(group) << 16 | UInt32(element) }
    public var group: UInt16 { UInt16(raw >> 16) }
    public var element: UInt16 { UInt16(raw & 0xFFFF) }
    public static func < (a: DicomTag, b: DicomTag) -> Bool { a.raw < b.raw }
    public var description: String { String(format: "(%04X,%04X)", group, element) }
}

/// One parsed element. The value stays a range into the file's bytes (pixel data is not copied).
struct DicomElement: Sendable {
    var tag: DicomTag
    var vr: String
    /// Value bytes (empty for sequences and encapsulated pixel data).
    var value: ArraySlice<UInt8>
    var bigEndian: Bool
    /// Items of a sequence (SQ, or UN/undefined length read as implicit LE).
    var items: [DicomDataSet] = []
    /// Fragments of encapsulated pixel data; the first is the Basic Offset Table.
    var fragments: [ArraySlice<UInt8>]? = nil
}

/// A parsed data set (the file's top level or a sequence item), with typed accessors that
/// return nil for absent or unparsable values rather than failing.
struct DicomDataSet: Sendable {
    var elements: [DicomTag: DicomElement] = [:]

    subscript(_ tag: DicomTag) -> DicomElement? { elements[tag] }

    /// Text value with trailing spaces/NULs removed; for multi-valued text, all values joined by `\`.
    func string(_ tag: DicomTag) -> String? {
        guard let e = elements[tag], !e.value.isEmpty else { return nil }
        let s = String(decoding: e.value, as: UTF8.self)
        let t = s.trimmingCharacters(in: CharacterSet(charactersIn: " \0").union(.whitespacesAndNewlines))
        return t.isEmpty ? nil : t
    }

    /// Backslash-separated text values.
    func strings(_ tag: DicomTag) -> [String] {
        guard let s = string(tag) else { return [] }
        return s.split(separator: "\\", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// Numbers from a DS/IS (text) or FL/FD/US/SS/UL/SL (binary) element.
    func doubles(_ tag: DicomTag) -> [Double] {
        guard let e = elements[tag] else { return [] }
        let v = Array(e.value)
        // NaN and infinities are dropped whatever the VR: a binary FL/FD value may hold them, and
        // no attribute read as a number means anything by them (a NaN window trapped the renderer).
        return v.withUnsafeBufferPointer { b -> [Double] in
            switch e.vr {
            case "US": return stride(from: 0, to: v.count - 1, by: 2).map { Double(Bytes.u16(b, $0, bigEndian: e.bigEndian)) }
            case "SS":
                return stride(from: 0, to: v.count - 1, by: 2).map { Double(Int16(bitPattern: Bytes.u16(b, $0, bigEndian: e.bigEndian))) }
            case "UL": return stride(from: 0, to: v.count - 3, by: 4).map { Double(Bytes.u32(b, $0, bigEndian: e.bigEndian)) }
            case "SL":
                return stride(from: 0, to: v.count - 3, by: 4).map { Double(Int32(bitPattern: Bytes.u32(b, $0, bigEndian: e.bigEndian))) }
            case "FL":
                return stride(from: 0, to: v.count - 3, by: 4).map { Double(Float(bitPattern: Bytes.u32(b, $0, bigEndian: e.bigEndian))) }
            case "FD":
                return stride(from: 0, to: v.count - 7, by: 8).map { i in
                    let hi = UInt64(Bytes.u32(b, i + (e.bigEndian ? 0 : 4), bigEndian: e.bigEndian))
                    let lo = UInt64(Bytes.u32(b, i + (e.bigEndian ? 4 : 0), bigEndian: e.bigEndian))
                    return Double(bitPattern: hi << 32 | lo)
                }
            default:
                return strings(tag).compactMap { Double($0) }
            }
        }.filter(\.isFinite)
    }

    func double(_ tag: DicomTag) -> Double? { doubles(tag).first }
    func int(_ tag: DicomTag) -> Int? {
        guard let d = double(tag), d.isFinite, abs(d) < 1e15 else { return nil }
        return Int(d)
    }

    /// First item of a sequence.
    func item(_ tag: DicomTag) -> DicomDataSet? { elements[tag]?.items.first }
}

/// Tags the imaging core reads.
enum Tag {
    static let transferSyntax = DicomTag(0x0002, 0x0010)
    static let modality = DicomTag(0x0008, 0x0060)
    static let manufacturer = DicomTag(0x0008, 0x0070)
    static let bodyPart = DicomTag(0x0018, 0x0015)
    static let sliceThickness = DicomTag(0x0018, 0x0050)
    static let spacingBetweenSlices = DicomTag(0x0018, 0x0088)
    static let instanceNumber = DicomTag(0x0020, 0x0013)
    static let seriesInstanceUID = DicomTag(0x0020, 0x000E)
    static let seriesNumber = DicomTag(0x0020, 0x0011)
    static let seriesDescription = DicomTag(0x0008, 0x103E)
    static let imageType = DicomTag(0x0008, 0x0008)
    static let imagePosition = DicomTag(0x0020, 0x0032)
    static let imageOrientation = DicomTag(0x0020, 0x0037)
    static let sliceLocation = DicomTag(0x0020, 0x1041)
    static let samplesPerPixel = DicomTag(0x0028, 0x0002)
    static let photometric = DicomTag(0x0028, 0x0004)
    static let planarConfiguration = DicomTag(0x0028, 0x0006)
    static let numberOfFrames = DicomTag(0x0028, 0x0008)
    static let rows = DicomTag(0x0028, 0x0010)
    static let columns = DicomTag(0x0028, 0x0011)
    static let pixelSpacing = DicomTag(0x0028, 0x0030)
    static let bitsAllocated = DicomTag(0x0028, 0x0100)
    static let bitsStored = DicomTag(0x0028, 0x0101)
    static let highBit = DicomTag(0x0028, 0x0102)
    static let pixelRepresentation = DicomTag(0x0028, 0x0103)
    static let windowCenter = DicomTag(0x0028, 0x1050)
    static let windowWidth = DicomTag(0x0028, 0x1051)
    static let rescaleIntercept = DicomTag(0x0028, 0x1052)
    static let rescaleSlope = DicomTag(0x0028, 0x1053)
    static let rescaleType = DicomTag(0x0028, 0x1054)
    static let voiLUTFunction = DicomTag(0x0028, 0x1056)
    static let modalityLUTSequence = DicomTag(0x0028, 0x3000)
    static let voiLUTSequence = DicomTag(0x0028, 0x3010)
    static let lutDescriptor = DicomTag(0x0028, 0x3002)
    static let lutData = DicomTag(0x0028, 0x3006)
    static let paletteDescriptors = [DicomTag(0x0028, 0x1101), DicomTag(0x0028, 0x1102), DicomTag(0x0028, 0x1103)]
    static let paletteData = [DicomTag(0x0028, 0x1201), DicomTag(0x0028, 0x1202), DicomTag(0x0028, 0x1203)]
    static let pixelData = DicomTag(0x7FE0, 0x0010)
    static let item = DicomTag(0xFFFE, 0xE000)
    static let itemDelimitation = DicomTag(0xFFFE, 0xE00D)
    static let sequenceDelimitation = DicomTag(0xFFFE, 0xE0DD)
    // Identifiers: read only when the caller asks for them.
    static let patientName = DicomTag(0x0010, 0x0010)
    static let patientID = DicomTag(0x0010, 0x0020)
    static let birthDate = DicomTag(0x0010, 0x0030)
    static let accessionNumber = DicomTag(0x0008, 0x0050)
    static let institution = DicomTag(0x0008, 0x0080)
    static let studyDate = DicomTag(0x0008, 0x0020)
}
