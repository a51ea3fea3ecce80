import Foundation
import Testing

@testable import MedImaging

@Suite("DICOM Part 10 reading and the grey pipeline")
struct DicomReaderTests {
    /// A 4×3 CT-like image: stored values 0…11 with rescale −1024 + value·100.
    func ct(_ encoding: DicomWriter.Encoding) -> DicomWriter {
        var w = DicomWriter(encoding: encoding)
        w.string(0x0008, 0x0060, "CS", "CT")
        w.string(0x0010, 0x0010, "PN", "Doe^Jane")
        w.string(0x0010, 0x0020, "LO", "ID12345")
        w.image(rows: 3, columns: 4)
        w.string(0x0028, 0x1050, "DS", "40")
        w.string(0x0028, 0x1051, "DS", "400")
        w.string(0x0028, 0x1052, "DS", "-1024")
        w.string(0x0028, 0x1053, "DS", "100")
        w.add(0x7FE0, 0x0010, "OW", w.words(Array(0..<12)))
        return w
    }

    @Test(arguments: [DicomWriter.Encoding.implicitLittle, .explicitLittle, .explicitBig])
    func decodesEveryNativeEncoding(_ encoding: DicomWriter.Encoding) throws {
        let study = try ImageDecoder.decode(data: ct(encoding).data())
        #expect(study.format == .dicom)
        let f = try study.frame(0)
        #expect(f.width == 4 && f.height == 3)
        let expected: [Float] = (0..<12).map { (i: Int) -> Float in Float(-1024 + 100 * i) }
        #expect(f.samples == expected)
        #expect(f.defaultWindow == WindowLevel(center: 40, width: 400))
    }

    @Test func readsWithoutPreamble() throws {
        var w = ct(.implicitLittle)
        w.preamble = false
        let study = try ImageDecoder.decode(data: w.data())
        let last: Float = -1024 + 1100
        #expect(try study.frame(0).samples.last == last)
    }

    @Test func metadataHasNoIdentifiersUnlessAsked() throws {
        let data = ct(.explicitLittle).data()
        let plain = try ImageDecoder.decode(data: data).metadata
        #expect(plain.identifiers == nil)
        #expect(plain.modality == "CT")
        #expect(plain.transferSyntaxName == "Explicit VR Little Endian")
        #expect(!plain.jsonString().contains("Doe"))
        #expect(!plain.jsonString().contains("ID12345"))
        let asked = try ImageDecoder.decode(data: data, options: DecodeOptions(includeIdentifiers: true)).metadata
        #expect(asked.identifiers?["patientName"] == "Doe^Jane")
    }

    @Test func signedValuesAndBitsStoredMasking() throws {
        var w = DicomWriter()
        w.image(rows: 1, columns: 3, bitsAllocated: 16, bitsStored: 12, signed: true)
        // 0x0FFF is −1 in 12 bits; 0xF800 has junk above bit 11 and is 0x800 = −2048; 0x07FF = 2047.
        w.add(0x7FE0, 0x0010, "OW", w.words([0x0FFF, 0xF800, 0x07FF]))
        #expect(try ImageDecoder.decode(data: w.data()).frame(0).samples == [-1, -2048, 2047])
    }

    @Test func pixelSpacingGivesThePixelAspect() throws {
        var w = DicomWriter()
        w.image(rows: 2, columns: 2, bitsAllocated: 8)
        w.string(0x0028, 0x0030, "DS", "0.8\\0.4")
        w.add(0x7FE0, 0x0010, "OB", [0, 1, 2, 3])
        #expect(try ImageDecoder.decode(data: w.data()).frame(0).pixelAspect == 2)
    }

    @Test func monochrome1RendersInverted() throws {
        var w = DicomWriter()
        w.image(rows: 1, columns: 2, bitsAllocated: 8, photometric: "MONOCHROME1")
        w.add(0x7FE0, 0x0010, "OB", [0, 255])
        let rgb = Renderer.render(try ImageDecoder.decode(data: w.data()).frame(0))
        #expect(rgb[0, 0] == (255, 255, 255))
        #expect(rgb[1, 0] == (0, 0, 0))
    }

    @Test func multiFrameAndFrameSelection() throws {
        var w = DicomWriter()
        w.image(rows: 2, columns: 2, bitsAllocated: 8, frames: 3)
        w.add(0x7FE0, 0x0010, "OB", (0..<12).map { UInt8($0 * 10) })
        let all = try ImageDecoder.decode(data: w.data())
        #expect(all.frameCount == 3)
        #expect(try all.frame(2).samples == [80, 90, 100, 110])
        let one = try ImageDecoder.decode(data: w.data(), options: DecodeOptions(frame: 1))
        #expect(one.frames.count == 1 && one.frames[0].samples == [40, 50, 60, 70])
        #expect(throws: ImagingError.self) { try ImageDecoder.decode(data: w.data(), options: DecodeOptions(frame: 3)) }
    }

    @Test func rgbPlanarAndYBRFull() throws {
        var w = DicomWriter()
        w.image(rows: 1, columns: 2, bitsAllocated: 8, samples: 3, photometric: "RGB", planar: 1)
        w.add(0x7FE0, 0x0010, "OB", [10, 20, 30, 40, 50, 60])  // R R G G B B
        #expect(try ImageDecoder.decode(data: w.data()).frame(0).samples == [10, 30, 50, 20, 40, 60])

        var y = DicomWriter()
        y.image(rows: 1, columns: 1, bitsAllocated: 8, samples: 3, photometric: "YBR_FULL")
        y.add(0x7FE0, 0x0010, "OB", [76, 85, 255, 0])  // pure red in YCbCr (plus pad byte)
        let red = try ImageDecoder.decode(data: y.data()).frame(0).samples
        #expect(abs(red[0] - 254) <= 1 && red[1] <= 1 && red[2] <= 1)
    }

    @Test func truncatedPixelDataIsAnError() throws {
        var w = DicomWriter()
        w.image(rows: 4, columns: 4)
        w.add(0x7FE0, 0x0010, "OW", w.words(Array(0..<10)))
        #expect(throws: ImagingError.self) { try ImageDecoder.decode(data: w.data()) }
        // Cutting the file anywhere must fail cleanly, never crash.
        let full = ct(.explicitLittle).data()
        for cut in stride(from: 1, to: full.count, by: 7) {
            _ = try? ImageDecoder.decode(data: full.prefix(cut))
        }
    }

    @Test func unsupportedSyntaxIsNamed() throws {
        var w = ct(.explicitLittle)
        w.transferSyntax = "1.2.840.10008.1.2.4.100"
        var x = DicomWriter()
        x.transferSyntax = "1.2.840.10008.1.2.4.100"
        x.image(rows: 2, columns: 2, bitsAllocated: 8)
        x.add(0x7FE0, 0x0010, "OB", DicomWriter.encapsulate([[1, 2, 3, 4]]))
        #expect(throws: ImagingError.unsupportedTransferSyntax(uid: "1.2.840.10008.1.2.4.100", name: "MPEG2 Main Profile / Main Level")) {
            try ImageDecoder.decode(data: x.data())
        }
    }

    @Test func rleLossless() throws {
        var w = DicomWriter()
        w.transferSyntax = "1.2.840.10008.1.2.5"
        w.image(rows: 1, columns: 4, bitsAllocated: 16)
        // Two segments (high bytes, low bytes) of 4 samples: 0x0102, 0x0102, 0x0304, 0xFF00.
        let high: [UInt8] = [0xFF, 0x01, 0x01, 0x03, 0xFF]  // repeat 0x01 twice, then 2 literals
        let low: [UInt8] = [0xFF, 0x02, 0x01, 0x04, 0x00]
        var header = [UInt8](repeating: 0, count: 64)
        header[0] = 2
        header[4] = 64
        header[8] = UInt8(64 + high.count)
        let frame = header + high + low
        w.add(0x7FE0, 0x0010, "OB", DicomWriter.encapsulate([frame]))
        #expect(try ImageDecoder.decode(data: w.data()).frame(0).samples == [0x0102, 0x0102, 0x0304, 0xFF00])
    }

    @Test func voiLUTFunctionsFollowTheStandard() {
        let linear = WindowLevel(center: 40, width: 400)
        #expect(linear.apply(-161) == 0)  // ≤ c − 0.5 − (w−1)/2 = −160
        #expect(linear.apply(240) == 1)
        #expect(abs(linear.apply(39.5) - 0.5) < 1e-9)
        let exact = WindowLevel(center: 0, width: 100, function: .linearExact)
        #expect(exact.apply(-50) == 0 && exact.apply(25) == 0.75)
        let sigmoid = WindowLevel(center: 10, width: 20, function: .sigmoid)
        #expect(abs(sigmoid.apply(10) - 0.5) < 1e-12)
    }
}
