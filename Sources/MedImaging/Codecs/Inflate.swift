import CLabZlib
import Foundation

/// zlib inflate with a hard output bound, so a gzip or deflate bomb fails fast instead of
/// filling memory.
enum Inflate {
    enum Container { case gzip, rawDeflate }

    static func inflate(_ data: Data, container: Container, maxOutput: Int) throws -> Data {
        var stream = z_stream()
        let windowBits: Int32 = container == .gzip ? 15 + 32 : -15
        guard inflateInit2_(&stream, windowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw ImagingError.malformed("zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var output = Data()
        let chunk = 1 << 20
        var buffer = [UInt8](repeating: 0, count: chunk)
        return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Data in
            stream.next_in = UnsafeMutablePointer(mutating: raw.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = uInt(raw.count)
            while true {
                let status: Int32 = buffer.withUnsafeMutableBufferPointer { b in
                    stream.next_out = b.baseAddress
                    stream.avail_out = uInt(chunk)
                    return CLabZlib.inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk - Int(stream.avail_out)
                output.append(contentsOf: buffer[0..<produced])
                if output.count > maxOutput {
                    throw ImagingError.tooLarge(width: output.count, height: 1, frames: 1, limit: maxOutput)
                }
                switch status {
                case Z_STREAM_END:
                    // A gzip file may hold several members; NIfTI writers use one, so stop here.
                    return output
                case Z_OK:
                    if stream.avail_in == 0 && produced == 0 { throw ImagingError.truncated("compressed stream ends early") }
                case Z_BUF_ERROR:
                    if stream.avail_in == 0 { throw ImagingError.truncated("compressed stream ends early") }
                default:
                    throw ImagingError.malformed("corrupt compressed stream (zlib \(status))")
                }
            }
        }
    }
}
