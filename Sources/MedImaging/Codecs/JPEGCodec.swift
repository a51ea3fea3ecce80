import CJPEG
import Foundation

/// Baseline and extended 8-bit JPEG through libjpeg-turbo (wrapped in `CJPEG`, which keeps
/// libjpeg's longjmp error handling on the C side).
enum JPEGCodec {
    struct Decoded {
        var pixels: [UInt8]
        var width: Int
        var height: Int
        var components: Int
    }

    /// Decodes a JPEG stream. `keepYCbCr` leaves colour as YCbCr (for callers that convert
    /// themselves); by default libjpeg converts to RGB.
    static func decode(_ data: Data, keepYCbCr: Bool = false, maxPixels: Int) throws -> Decoded {
        var out: UnsafeMutablePointer<UInt8>? = nil
        var w: Int32 = 0
        var h: Int32 = 0
        var c: Int32 = 0
        var precision: Int32 = 0
        var err = [CChar](repeating: 0, count: 256)
        let rc = data.withUnsafeBytes { raw in
            cjpeg_decode(
                raw.bindMemory(to: UInt8.self).baseAddress, raw.count, keepYCbCr ? 1 : 0, UInt64(maxPixels),
                &out, &w, &h, &c, &precision, &err, err.count)
        }
        defer { cjpeg_free(out) }
        let message = String(cString: err)
        guard rc == 0, let out else {
            if rc == 2 { throw ImagingError.tooLarge(width: Int(w), height: Int(h), frames: 1, limit: maxPixels) }
            if message.contains("Unsupported JPEG data precision") {
                throw ImagingError.unsupported("12-bit JPEG (libjpeg-turbo in Debian 12 is built for 8-bit samples only)")
            }
            throw ImagingError.malformed("JPEG: \(message)")
        }
        let count = Int(w) * Int(h) * Int(c)
        return Decoded(
            pixels: Array(UnsafeBufferPointer(start: out, count: count)),
            width: Int(w), height: Int(h), components: Int(c))
    }

    /// Decodes a JPEG file as an image (grey or RGB).
    static func decodeImage(_ data: Data, maxPixels: Int) throws -> MedImage {
        let d = try decode(data, maxPixels: maxPixels)
        guard d.components == 1 || d.components == 3 else {
            throw ImagingError.unsupported("JPEG with \(d.components) components")
        }
        return try MedImage(
            width: d.width, height: d.height, channels: d.components, samples: d.pixels.map { Float($0) },
            photometric: d.components == 3 ? .rgb : .monochrome2, maxValue: 255,
            defaultWindow: d.components == 1 ? WindowLevel(center: 127.5, width: 256, function: .linearExact) : nil)
    }

    /// Encodes 8-bit grey or RGB pixels at `quality` (1...100).
    static func encode(pixels: [UInt8], width: Int, height: Int, channels: Int, quality: Int) throws -> Data {
        var out: UnsafeMutablePointer<UInt8>? = nil
        var length: UInt = 0
        var err = [CChar](repeating: 0, count: 256)
        let rc = cjpeg_encode(
            pixels, Int32(width), Int32(height), Int32(channels), Int32(min(max(quality, 1), 100)),
            &out, &length, &err, err.count)
        defer { cjpeg_free(out) }
        guard rc == 0, let out else { throw ImagingError.encodingFailed("JPEG: \(String(cString: err))") }
        return Data(bytes: out, count: Int(length))
    }
}

/// PNG and JPEG output of rendered images.
public enum ImageEncoder {
    /// PNG of `image`; written as 8-bit grey when every pixel is grey (smaller), else RGB.
    public static func png(_ image: RGBImage) throws -> Data {
        if image.isGray {
            let grey = stride(from: 0, to: image.pixels.count, by: 3).map { image.pixels[$0] }
            return try PNGCodec.encode(pixels: grey, width: image.width, height: image.height, channels: 1)
        }
        return try PNGCodec.encode(pixels: image.pixels, width: image.width, height: image.height, channels: 3)
    }

    /// PNG of 8-bit grey samples, row by row: what `png(_:)` writes for a grey image, without
    /// the RGB copy (a window step on a cached slice renders grey only).
    public static func png(grey: [UInt8], width: Int, height: Int) throws -> Data {
        try PNGCodec.encode(pixels: grey, width: width, height: height, channels: 1)
    }

    /// Baseline JPEG of `image` at `quality` 1...100 (default 92).
    public static func jpeg(_ image: RGBImage, quality: Int = 92) throws -> Data {
        try JPEGCodec.encode(pixels: image.pixels, width: image.width, height: image.height, channels: 3, quality: quality)
    }
}
