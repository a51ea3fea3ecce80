import CCharLS
import Foundation

/// JPEG-LS (lossless and near-lossless) through CharLS's C API.
enum JPEGLSCodec {
    static func decode(_ frame: [UInt8], desc: PixelDescription) throws -> RawFrame {
        guard !frame.isEmpty else { throw ImagingError.truncated("empty JPEG-LS frame") }
        guard let decoder = charls_jpegls_decoder_create() else { throw ImagingError.malformed("CharLS could not start") }
        defer { charls_jpegls_decoder_destroy(decoder) }
        return try frame.withUnsafeBytes { src -> RawFrame in
            try check(charls_jpegls_decoder_set_source_buffer(decoder, src.baseAddress!, src.count))
            try check(charls_jpegls_decoder_read_header(decoder))
            var info = charls_frame_info()
            try check(charls_jpegls_decoder_get_frame_info(decoder, &info))
            let w = Int(info.width)
            let h = Int(info.height)
            let c = Int(info.component_count)
            let bits = Int(info.bits_per_sample)
            guard w == desc.columns, h == desc.rows, c == desc.samplesPerPixel else {
                throw ImagingError.malformed(
                    "JPEG-LS frame is \(w)×\(h)×\(c), the header says \(desc.columns)×\(desc.rows)×\(desc.samplesPerPixel)")
            }
            var mode = CHARLS_INTERLEAVE_MODE_NONE
            try check(charls_jpegls_decoder_get_interleave_mode(decoder, &mode))
            var size = 0
            try check(charls_jpegls_decoder_get_destination_size(decoder, 0, &size))
            guard size <= w * h * c * 2 else { throw ImagingError.malformed("JPEG-LS destination size is implausible") }
            var out = [UInt8](repeating: 0, count: size)
            try out.withUnsafeMutableBytes { dst in
                try check(charls_jpegls_decoder_decode_to_buffer(decoder, dst.baseAddress!, size, 0))
            }
            let n = w * h * c
            var values = [Int32](repeating: 0, count: n)
            out.withUnsafeBufferPointer { b in
                if bits <= 8 {
                    for i in 0..<n { values[i] = desc.normalize(UInt32(b[i])) }
                } else {
                    for i in 0..<n { values[i] = desc.normalize(UInt32(Bytes.u16(b, 2 * i, bigEndian: false))) }
                }
            }
            // Interleave "none" comes back one plane per component.
            if c == 3 && mode == CHARLS_INTERLEAVE_MODE_NONE { values = NativePixels.deplanarize(values, pixels: w * h) }
            return RawFrame(values: values, width: w, height: h, channels: c, colorModel: desc.photometric)
        }
    }

    private static func check(_ code: charls_jpegls_errc) throws {
        guard code == CHARLS_JPEGLS_ERRC_SUCCESS else {
            throw ImagingError.malformed("JPEG-LS: \(String(cString: charls_get_error_message(code)))")
        }
    }
}
