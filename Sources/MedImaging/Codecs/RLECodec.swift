import Foundation

/// DICOM RLE Lossless (PS3.5 Annex G), in Swift: a 64-byte header of segment offsets, then one
/// PackBits segment per byte plane (most significant byte of each sample first).
enum RLECodec {
    static func decode(_ frame: [UInt8], desc: PixelDescription) throws -> RawFrame {
        guard frame.count >= 64 else { throw ImagingError.truncated("RLE frame shorter than its header") }
        let header = frame.withUnsafeBufferPointer { b in (0..<16).map { Int(Bytes.u32(b, 4 * $0, bigEndian: false)) } }
        let segments = header[0]
        let bytesPerSample = desc.bitsAllocated / 8
        let spp = desc.samplesPerPixel
        guard bytesPerSample >= 1, segments == bytesPerSample * spp, segments <= 15 else {
            throw ImagingError.malformed("RLE frame has \(segments) segments, expected \(max(1, bytesPerSample) * spp)")
        }
        let n = desc.pixelsPerFrame
        var planes: [[UInt8]] = []
        for s in 0..<segments {
            let start = header[1 + s]
            let end = s + 1 < segments ? header[2 + s] : frame.count
            guard start >= 64, start <= end, end <= frame.count else { throw ImagingError.malformed("RLE segment offsets out of range") }
            planes.append(try unpack(frame[start..<end], expected: n))
        }
        var values = [Int32](repeating: 0, count: n * spp)
        for c in 0..<spp {
            for i in 0..<n {
                var raw: UInt32 = 0
                for k in 0..<bytesPerSample { raw = raw << 8 | UInt32(planes[c * bytesPerSample + k][i]) }
                values[i * spp + c] = desc.normalize(raw)
            }
        }
        return RawFrame(values: values, width: desc.columns, height: desc.rows, channels: spp, colorModel: desc.photometric)
    }

    /// PackBits: n in 0...127 copies n+1 literal bytes; n in -127...-1 repeats the next byte
    /// 1-n times; -128 is a no-op. Output is cut or zero-padded to `expected` bytes, but a
    /// segment that stops well short is an error.
    static func unpack(_ src: ArraySlice<UInt8>, expected: Int) throws -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(expected)
        var i = src.startIndex
        while i < src.endIndex && out.count < expected {
            let n = Int(Int8(bitPattern: src[i]))
            i += 1
            if n >= 0 {
                let end = min(i + n + 1, src.endIndex)
                out.append(contentsOf: src[i..<end])
                i = end
            } else if n != -128 {
                guard i < src.endIndex else { break }
                out.append(contentsOf: repeatElement(src[i], count: 1 - n))
                i += 1
            }
        }
        guard out.count >= expected else { throw ImagingError.truncated("RLE segment decodes to \(out.count) of \(expected) bytes") }
        return Array(out.prefix(expected))
    }
}
