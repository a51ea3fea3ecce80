import COpenJPEG
import Foundation

/// JPEG 2000 (and High-Throughput JPEG 2000, which OpenJPEG 2.5 decodes) through OpenJPEG,
/// reading from memory via a small stream whose callbacks capture nothing (state travels in
/// `user_data`, as C callbacks require).
enum JPEG2000Codec {
    private final class Source {
        let bytes: [UInt8]
        var offset = 0
        var error = ""
        init(_ bytes: [UInt8]) { self.bytes = bytes }
    }

    static func decode(_ frame: [UInt8], desc: PixelDescription) throws -> RawFrame {
        let source = Source(frame)
        let jp2 = frame.count > 12 && frame[4..<8].elementsEqual("jP  ".utf8)
        guard let codec = opj_create_decompress(jp2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K) else {
            throw ImagingError.malformed("OpenJPEG could not start")
        }
        defer { opj_destroy_codec(codec) }
        let box = Unmanaged.passRetained(source)
        defer { box.release() }
        let user = box.toOpaque()
        opj_set_error_handler(
            codec,
            { msg, data in
                guard let msg, let data else { return }
                Unmanaged<Source>.fromOpaque(data).takeUnretainedValue().error = String(cString: msg).trimmingCharacters(
                    in: .whitespacesAndNewlines)
            }, user)
        opj_set_warning_handler(codec, { _, _ in }, nil)
        opj_set_info_handler(codec, { _, _ in }, nil)
        var params = opj_dparameters_t()
        opj_set_default_decoder_parameters(&params)
        guard opj_setup_decoder(codec, &params) != 0 else { throw ImagingError.malformed("OpenJPEG set-up failed") }

        guard let stream = opj_stream_create(1 << 16, 1) else { throw ImagingError.malformed("OpenJPEG stream failed") }
        defer { opj_stream_destroy(stream) }
        opj_stream_set_user_data(stream, user, nil)
        opj_stream_set_user_data_length(stream, UInt64(frame.count))
        opj_stream_set_read_function(stream) { buffer, count, data in
            let s = Unmanaged<Source>.fromOpaque(data!).takeUnretainedValue()
            let n = min(count, s.bytes.count - s.offset)
            if n <= 0 { return -1 }  // (OPJ_SIZE_T)-1, imported as Int, signals the end
            s.bytes.withUnsafeBytes { src in buffer!.copyMemory(from: src.baseAddress! + s.offset, byteCount: n) }
            s.offset += n
            return n
        }
        opj_stream_set_skip_function(stream) { count, data in
            let s = Unmanaged<Source>.fromOpaque(data!).takeUnretainedValue()
            let target = max(0, min(s.bytes.count, s.offset + Int(count)))
            defer { s.offset = target }
            return Int64(target - s.offset)
        }
        opj_stream_set_seek_function(stream) { position, data in
            let s = Unmanaged<Source>.fromOpaque(data!).takeUnretainedValue()
            guard position >= 0, position <= Int64(s.bytes.count) else { return 0 }
            s.offset = Int(position)
            return 1
        }

        var imagePointer: UnsafeMutablePointer<opj_image_t>? = nil
        guard opj_read_header(stream, codec, &imagePointer) != 0, let image = imagePointer else {
            throw ImagingError.malformed("JPEG 2000 header: \(source.error)")
        }
        defer { opj_image_destroy(image) }
        let c = Int(image.pointee.numcomps)
        guard c == desc.samplesPerPixel, let comps = image.pointee.comps else {
            throw ImagingError.malformed("JPEG 2000 frame has \(c) components, the header says \(desc.samplesPerPixel)")
        }
        let w = Int(image.pointee.x1 - image.pointee.x0)
        let h = Int(image.pointee.y1 - image.pointee.y0)
        guard w == desc.columns, h == desc.rows else {
            throw ImagingError.malformed("JPEG 2000 frame is \(w)×\(h), the header says \(desc.columns)×\(desc.rows)")
        }
        guard opj_decode(codec, stream, image) != 0, opj_end_decompress(codec, stream) != 0 else {
            throw ImagingError.malformed("JPEG 2000 data: \(source.error)")
        }
        let n = w * h
        var values = [Int32](repeating: 0, count: n * c)
        for k in 0..<c {
            let comp = comps[k]
            guard Int(comp.w) == w, Int(comp.h) == h, let data = comp.data else {
                throw ImagingError.unsupported("sub-sampled JPEG 2000 components")
            }
            // OpenJPEG returns signed values for signed components; normalize re-applies Bits Stored.
            for i in 0..<n { values[i * c + k] = desc.normalize(UInt32(bitPattern: data[i])) }
        }
        // OpenJPEG already undid the multi-component transform (YBR_ICT/RCT) into RGB.
        let model = (desc.photometric == "YBR_ICT" || desc.photometric == "YBR_RCT") ? "RGB" : desc.photometric
        return RawFrame(values: values, width: w, height: h, channels: c, colorModel: model)
    }
}
