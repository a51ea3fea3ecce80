import Foundation
import Testing

@testable import MedImaging

@Suite("PNG, JPEG, gzip NIfTI and format sniffing")
struct CodecTests {
    @Test func pngRoundTripGreyAndColour() throws {
        let grey = try RGBImage(width: 3, height: 1, pixels: [0, 0, 0, 128, 128, 128, 255, 255, 255])
        let g = try ImageDecoder.decode(data: try ImageEncoder.png(grey))
        #expect(g.format == .png && g.frames[0].channels == 1 && g.frames[0].samples == [0, 128, 255])
        let colour = try RGBImage(width: 2, height: 1, pixels: [255, 0, 0, 0, 0, 255])
        let c = try ImageDecoder.decode(data: try ImageEncoder.png(colour)).frames[0]
        #expect(c.channels == 3 && c.samples == [255, 0, 0, 0, 0, 255])
        #expect(Renderer.render(c) == colour)
    }

    @Test func jpegRoundTripIsClose() throws {
        var p = [UInt8](repeating: 0, count: 16 * 16 * 3)
        for i in 0..<(16 * 16) {
            p[3 * i] = 200
            p[3 * i + 1] = 100
            p[3 * i + 2] = 50
        }
        let img = try RGBImage(width: 16, height: 16, pixels: p)
        let d = try ImageDecoder.decode(data: try ImageEncoder.jpeg(img, quality: 95)).frames[0]
        #expect(d.width == 16 && d.channels == 3)
        #expect(abs(d.samples[0] - 200) <= 3 && abs(d.samples[1] - 100) <= 3 && abs(d.samples[2] - 50) <= 3)
    }

    @Test func jpegBaselineInsideDICOM() throws {
        let grey = try RGBImage(width: 8, height: 8, pixels: [UInt8](repeating: 90, count: 8 * 8 * 3))
        // Our encoder always writes 3 components; DICOM says RGB, libjpeg converts from YCbCr.
        let jpeg = [UInt8](try ImageEncoder.jpeg(grey, quality: 100))
        var w = DicomWriter()
        w.transferSyntax = "1.2.840.10008.1.2.4.50"
        w.image(rows: 8, columns: 8, bitsAllocated: 8, samples: 3, photometric: "YBR_FULL_422")
        w.add(0x7FE0, 0x0010, "OB", DicomWriter.encapsulate([jpeg]))
        let f = try ImageDecoder.decode(data: w.data()).frame(0)
        #expect(f.channels == 3 && f.samples.allSatisfy { abs($0 - 90) <= 2 })
    }

    @Test func sniffingByMagicBytes() throws {
        #expect(ImageDecoder.sniff(Data(PNGCodec.signature + [0, 0])) == .png)
        #expect(ImageDecoder.sniff(Data([0xFF, 0xD8, 0xFF, 0xE0])) == .jpeg)
        #expect(ImageDecoder.sniff(Data("hello world, not an image".utf8)) == nil)
        #expect(throws: ImagingError.self) { try ImageDecoder.decode(data: Data("hello".utf8), filenameHint: "x.txt") }
        #expect(throws: ImagingError.self) { try ImageDecoder.decode(data: Data()) }
    }

    @Test func pixelLimitRejectsBeforeDecoding() throws {
        var w = DicomWriter()
        w.image(rows: 100, columns: 100, bitsAllocated: 8)
        w.add(0x7FE0, 0x0010, "OB", [UInt8](repeating: 0, count: 100 * 100))
        #expect(throws: ImagingError.tooLarge(width: 100, height: 100, frames: 1, limit: 5000)) {
            try ImageDecoder.decode(data: w.data(), options: DecodeOptions(maxPixels: 5000))
        }
    }
}
