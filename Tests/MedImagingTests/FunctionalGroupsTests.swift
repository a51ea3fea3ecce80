import Foundation
import Testing

@testable import MedImaging

/// Builds the nested sequences of an enhanced multi-frame file, little endian, explicit or
/// implicit VR: inner sequences and items use undefined lengths, so both length forms are read.
struct GroupWriter {
    var implicit = false

    /// One element: tag, VR (explicit only), length, value padded to an even length.
    func element(_ g: UInt16, _ e: UInt16, _ vr: String, _ text: String) -> [UInt8] {
        var value = Array(text.utf8)
        if value.count % 2 == 1 { value.append(0x20) }
        return header(g, e) + (implicit ? le32(UInt32(value.count)) : Array(vr.utf8) + le16(UInt16(value.count))) + value
    }

    /// A sequence of undefined length whose items (of undefined length) hold `items`' elements.
    func sequence(_ g: UInt16, _ e: UInt16, _ items: [[UInt8]]) -> [UInt8] {
        header(g, e) + (implicit ? [] : Array("SQ".utf8) + [0, 0]) + le32(0xFFFF_FFFF) + Self.items(items, undefined: true)
            + [0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]
    }

    /// Items for a top-level sequence written with a defined length by `DicomWriter.add`.
    static func items(_ items: [[UInt8]], undefined: Bool) -> [UInt8] {
        items.flatMap { body -> [UInt8] in
            [0xFE, 0xFF, 0x00, 0xE0] + (undefined ? le32(0xFFFF_FFFF) : le32(UInt32(body.count))) + body
                + (undefined ? [0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0] : [])
        }
    }

    func rescale(_ slope: String, _ intercept: String) -> [UInt8] {
        sequence(
            0x0028, 0x9145,
            [element(0x0028, 0x1052, "DS", intercept) + element(0x0028, 0x1053, "DS", slope) + element(0x0028, 0x1054, "LO", "HU")])
    }

    func window(_ center: String, _ width: String, function: String? = nil) -> [UInt8] {
        var item = element(0x0028, 0x1050, "DS", center) + element(0x0028, 0x1051, "DS", width)
        if let function { item += element(0x0028, 0x1056, "CS", function) }
        return sequence(0x0028, 0x9132, [item])
    }

    func measures(_ spacing: String, thickness: String = "2") -> [UInt8] {
        sequence(0x0028, 0x9110, [element(0x0018, 0x0050, "DS", thickness) + element(0x0028, 0x0030, "DS", spacing)])
    }

    func position(_ text: String) -> [UInt8] { sequence(0x0020, 0x9113, [element(0x0020, 0x0032, "DS", text)]) }
    func orientation(_ text: String) -> [UInt8] { sequence(0x0020, 0x9116, [element(0x0020, 0x0037, "DS", text)]) }

    private func header(_ g: UInt16, _ e: UInt16) -> [UInt8] { le16(g) + le16(e) }
    private func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
    private func le32(_ v: UInt32) -> [UInt8] { Self.le32(v) }
    fileprivate static func le32(_ v: UInt32) -> [UInt8] {
        [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)]
    }
}

@Suite("Enhanced multi-frame DICOM: functional groups")
struct FunctionalGroupsTests {
    /// A 2×2, `frames`-frame 16-bit file whose frame k holds stored values 10k…10k+3, with
    /// the given shared item and per-frame items (each a list of macro sequences).
    func file(
        shared: [UInt8]?, perFrame: [[UInt8]]?, frames: Int = 3, encoding: DicomWriter.Encoding = .explicitLittle,
        top: (inout DicomWriter) -> Void = { _ in }
    ) -> Data {
        var w = DicomWriter(encoding: encoding)
        w.string(0x0008, 0x0060, "CS", "CT")
        w.image(rows: 2, columns: 2, frames: frames)
        top(&w)
        if let shared { w.add(0x5200, 0x9229, "SQ", GroupWriter.items([shared], undefined: false)) }
        if let perFrame { w.add(0x5200, 0x9230, "SQ", GroupWriter.items(perFrame, undefined: false)) }
        w.add(0x7FE0, 0x0010, "OW", w.words((0..<frames).flatMap { k in (0..<4).map { 10 * k + $0 } }))
        return w.data()
    }

    @Test(arguments: [DicomWriter.Encoding.explicitLittle, .implicitLittle])
    func perFrameValuesOverrideSharedOnes(_ encoding: DicomWriter.Encoding) throws {
        let g = GroupWriter(implicit: encoding == .implicitLittle)
        let shared = g.rescale("2", "-100") + g.window("40", "400") + g.measures("0.5\\0.8", thickness: "1.5")
        let perFrame = [g.rescale("1", "-1024") + g.window("100", "800"), [], g.window("7", "70", function: "SIGMOID")]
        let study = try ImageDecoder.decode(data: file(shared: shared, perFrame: perFrame, encoding: encoding))
        #expect(try study.frame(0).samples == [-1024, -1023, -1022, -1021])
        #expect(try study.frame(1).samples == [-80, -78, -76, -74])
        #expect(try study.frame(2).samples == [-60, -58, -56, -54])
        #expect(try study.frame(0).defaultWindow == WindowLevel(center: 100, width: 800))
        #expect(try study.frame(1).defaultWindow == WindowLevel(center: 40, width: 400))
        #expect(try study.frame(2).defaultWindow == WindowLevel(center: 7, width: 70, function: .sigmoid))
        #expect(study.frames.allSatisfy { $0.pixelAspect == 0.5 / 0.8 })
        let m = study.metadata
        #expect(m.pixelSpacing == [0.5, 0.8] && m.sliceThickness == 1.5)
        #expect(m.rescaleSlope == 1 && m.rescaleIntercept == -1024 && m.window == WindowLevel(center: 100, width: 800))
        #expect(m.rescaleType == "HU")
    }

    @Test func oneDecodedFrameTakesItsOwnGroups() throws {
        let g = GroupWriter()
        let data = file(shared: g.rescale("1", "0"), perFrame: [[], [], g.rescale("3", "5") + g.window("50", "20")])
        let study = try ImageDecoder.decode(data: data, options: DecodeOptions(frame: 2))
        #expect(study.frames.count == 1)
        #expect(study.frames[0].samples == [65, 68, 71, 74])
        #expect(study.frames[0].defaultWindow == WindowLevel(center: 50, width: 20))
    }

    @Test func topLevelValuesStayWhereNoGroupGivesOne() throws {
        let g = GroupWriter()
        let data = file(shared: g.measures("0.4\\0.4"), perFrame: nil) { w in
            w.string(0x0028, 0x0030, "DS", "9\\3")
            w.string(0x0028, 0x1050, "DS", "30")
            w.string(0x0028, 0x1051, "DS", "300")
            w.string(0x0028, 0x1052, "DS", "-1000")
            w.string(0x0028, 0x1053, "DS", "2")
        }
        let study = try ImageDecoder.decode(data: data)
        #expect(try study.frame(1).samples == [-980, -978, -976, -974])
        #expect(try study.frame(1).defaultWindow == WindowLevel(center: 30, width: 300))
        #expect(study.metadata.pixelSpacing == [0.4, 0.4] && study.frames[0].pixelAspect == 1)
        #expect(study.metadata.sliceOrder == nil)
    }

    @Test func aFrameRescaleReplacesTheTopLevelModalityLUT() throws {
        let g = GroupWriter()
        let data = file(shared: nil, perFrame: [g.rescale("1", "1000"), [], []]) { w in
            // A Modality LUT Sequence mapping every stored value to 7.
            let lut = w.words([4, 0, 16])
            let item =
                [UInt8]([0x28, 0x00, 0x02, 0x30]) + Array("US".utf8) + [6, 0] + lut
                + [0x28, 0x00, 0x06, 0x30] + Array("OW".utf8) + [0, 0, 8, 0, 0, 0] + w.words([7, 7, 7, 7])
            w.add(0x0028, 0x3000, "SQ", GroupWriter.items([item], undefined: false))
        }
        let study = try ImageDecoder.decode(data: data)
        #expect(try study.frame(0).samples == [1000, 1001, 1002, 1003])
        #expect(try study.frame(1).samples == [7, 7, 7, 7])
    }

    @Test func framesAreOrderedAlongTheSliceNormal() throws {
        let g = GroupWriter()
        // Sagittal: rows along y, columns along −z, so the normal is −x; larger x comes first.
        let shared = g.orientation("0\\1\\0\\0\\0\\-1")
        let perFrame = ["5\\0\\0", "-5\\0\\0", "15\\0\\0", "0\\0\\0"].map { g.position($0) }
        let study = try ImageDecoder.decode(data: file(shared: shared, perFrame: perFrame, frames: 4))
        #expect(study.metadata.sliceOrder == [3, 1, 4, 2])
        #expect(study.sliceOrder == [2, 0, 3, 1])
        #expect(study.metadata.imagePosition == [5, 0, 0] && study.metadata.imageOrientation == [0, 1, 0, 0, 0, -1])
        // The recipe shows the frames in that order: stored frame k holds 10k…10k+3, so brighter means later in storage.
        let volume = try VolumeInput.make(
            from: [study], packing: .grey, window: .explicit(WindowLevel(center: 20, width: 40)), side: 8)
        let greys = volume.images.map { Int($0.pixels[3 * (8 * 4 + 4)]) }
        #expect(greys.count == 4 && greys[1] < greys[3] && greys[3] < greys[0] && greys[0] < greys[2])
        let one = try ImageDecoder.decode(
            data: file(shared: shared, perFrame: perFrame, frames: 4), options: DecodeOptions(frame: 1))
        #expect(one.sliceOrder == [0])
    }

    @Test func missingGroupsKeepStoredOrderAndTheFileDefault() throws {
        let g = GroupWriter()
        // Two items for three frames, one without a position: no order, and frame 3 falls back.
        let study = try ImageDecoder.decode(data: file(shared: nil, perFrame: [g.position("0\\0\\9"), []]))
        #expect(study.metadata.sliceOrder == nil && study.sliceOrder == [0, 1, 2])
        #expect(try study.frame(2).samples == [20, 21, 22, 23])
        #expect(try study.frame(2).defaultWindow == nil)
        let empty = try ImageDecoder.decode(data: file(shared: [], perFrame: [[], [], []]))
        #expect(empty.metadata.pixelSpacing == nil && empty.metadata.sliceOrder == nil)
    }

    @Test func nonsenseValuesCountAsAbsent() throws {
        let g = GroupWriter()
        let shared = g.rescale("2", "0") + g.window("10", "100") + g.measures("0.5\\0.5")
        let perFrame = [
            g.rescale("0", "abc") + g.window("10", "0") + g.measures("0\\1") + g.position("1\\2"),
            g.measures("-1\\2"), g.measures("nan\\1")
        ]
        let study = try ImageDecoder.decode(data: file(shared: shared, perFrame: perFrame))
        #expect(try study.frame(0).samples == [0, 2, 4, 6])
        #expect(try study.frame(0).defaultWindow == WindowLevel(center: 10, width: 100))
        #expect(study.metadata.pixelSpacing == [0.5, 0.5] && study.metadata.sliceOrder == nil)
    }

    @Test func malformedSequencesThrowImagingErrors() throws {
        let g = GroupWriter()
        // An item that claims more bytes than the sequence holds, and an element where an item belongs.
        let long: [UInt8] = [0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0x00, 0x00, 0x00] + g.window("1", "2")
        let notAnItem = g.element(0x0028, 0x1050, "DS", "1")
        for body in [long, notAnItem] {
            var w = DicomWriter()
            w.image(rows: 2, columns: 2, frames: 2)
            w.add(0x5200, 0x9230, "SQ", body)
            w.add(0x7FE0, 0x0010, "OW", w.words(Array(0..<8)))
            #expect(throws: ImagingError.self) { try ImageDecoder.decode(data: w.data()) }
        }
        // Functional groups nested past the depth bound.
        var nested = g.window("1", "2")
        for _ in 0..<40 { nested = g.sequence(0x5200, 0x9229, [nested]) }
        #expect(throws: ImagingError.self) { try ImageDecoder.decode(data: file(shared: nested, perFrame: nil)) }
    }

    @Test func everyTruncationDecodesOrThrows() throws {
        let g = GroupWriter()
        let data = file(
            shared: g.orientation("1\\0\\0\\0\\1\\0") + g.measures("0.5\\0.7"),
            perFrame: (0..<3).map { g.rescale("1", "\($0)") + g.window("5", "50") + g.position("0\\0\\\(3 - $0)") })
        for cut in stride(from: 0, to: data.count, by: 3) {
            do { _ = try ImageDecoder.decode(data: data.prefix(cut)) } catch is ImagingError {}
        }
        #expect(try ImageDecoder.decode(data: data).metadata.sliceOrder == [3, 2, 1])
    }
}
