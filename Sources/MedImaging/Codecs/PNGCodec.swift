import CPNG
import Foundation

/// PNG in and out through libpng's simplified API (`png_image_*`), which handles libpng's
/// errors internally and reports them as a return code, so no longjmp crosses Swift code.
enum PNGCodec {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Decodes 8- or 16-bit grey, grey+alpha, RGB, RGBA and palette PNGs. Alpha is composited
    /// onto black (the model never sees transparency); 16-bit samples are kept as they are.
    static func decode(_ data: Data, maxPixels: Int) throws -> MedImage {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        let ok = data.withUnsafeBytes { raw in
            png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count)
        }
        guard ok != 0 else { throw ImagingError.malformed("PNG: \(message(image))") }
        defer { png_image_free(&image) }
        let width = Int(image.width)
        let height = Int(image.height)
        guard width > 0, height > 0 else { throw ImagingError.malformed("PNG has no pixels") }
        guard width * height <= maxPixels else {
            throw ImagingError.tooLarge(width: width, height: height, frames: 1, limit: maxPixels)
        }
        let color = image.format & png_uint_32(PNG_FORMAT_FLAG_COLOR) != 0
        let sixteen = image.format & png_uint_32(PNG_FORMAT_FLAG_LINEAR) != 0
        let channels = color ? 3 : 1
        // Linear (16-bit) output is premultiplied by alpha, i.e. composited onto black already.
        image.format = png_uint_32((color ? PNG_FORMAT_FLAG_COLOR : 0) | (sixteen ? PNG_FORMAT_FLAG_LINEAR : 0))
        var samples: [Float]
        if sixteen {
            var buffer = [UInt16](repeating: 0, count: width * height * channels)
            let done = buffer.withUnsafeMutableBytes { b in
                png_image_finish_read(&image, nil, b.baseAddress, 0, nil)
            }
            guard done != 0 else { throw ImagingError.malformed("PNG: \(message(image))") }
            samples = buffer.map { Float($0) }
        } else {
            var buffer = [UInt8](repeating: 0, count: width * height * channels)
            var black = png_color(red: 0, green: 0, blue: 0)
            let done = buffer.withUnsafeMutableBytes { b in
                png_image_finish_read(&image, &black, b.baseAddress, 0, nil)
            }
            guard done != 0 else { throw ImagingError.malformed("PNG: \(message(image))") }
            samples = buffer.map { Float($0) }
        }
        return try MedImage(
            width: width, height: height, channels: channels, samples: samples,
            photometric: color ? .rgb : .monochrome2, maxValue: sixteen ? 65535 : 255,
            defaultWindow: color
                ? nil
                : WindowLevel(
                    center: sixteen ? 32767.5 : 127.5,
                    width: sixteen ? 65536 : 256, function: .linearExact))
    }

    /// Encodes 8-bit pixels (`channels` 1 or 3) as PNG.
    static func encode(pixels: [UInt8], width: Int, height: Int, channels: Int) throws -> Data {
        let stride = width * channels
        // One pass into a buffer sized for incompressible rows (deflate's stored blocks add 5
        // bytes per 16 KiB at worst), not a sizing pass and a second compression: that halved a
        // 512×512 render. libpng reports the size it needs if the guess is ever short.
        let raw = height * (stride + 1)
        var capacity = raw + raw / 16_384 * 5 + 1024
        for _ in 0..<2 {
            var image = png_image()
            image.version = png_uint_32(PNG_IMAGE_VERSION)
            image.width = png_uint_32(width)
            image.height = png_uint_32(height)
            image.format = channels == 3 ? png_uint_32(PNG_FORMAT_FLAG_COLOR) : 0
            var size = png_alloc_size_t(capacity)
            var out = Data(count: capacity)
            let ok = out.withUnsafeMutableBytes { o in
                pixels.withUnsafeBytes {
                    png_image_write_to_memory(&image, o.baseAddress, &size, 0, $0.baseAddress, png_int_32(stride), nil)
                }
            }
            let why = message(image)
            png_image_free(&image)
            if ok != 0 { return out.prefix(Int(size)) }
            guard Int(size) > capacity else { throw ImagingError.encodingFailed("PNG: \(why)") }
            capacity = Int(size)
        }
        throw ImagingError.encodingFailed("PNG: the encoder kept asking for a larger buffer")
    }

    private static func message(_ image: png_image) -> String {
        withUnsafeBytes(of: image.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
