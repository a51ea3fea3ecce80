import Foundation

/// The Image Pixel module attributes that say how to read pixel data (PS3.3 C.7.6.3).
struct PixelDescription: Sendable {
    var rows: Int
    var columns: Int
    var samplesPerPixel: Int
    var bitsAllocated: Int
    var bitsStored: Int
    var highBit: Int
    var signed: Bool
    var planar: Bool
    var photometric: String
    var frames: Int

    init(_ ds: DicomDataSet) throws {
        guard let rows = ds.int(Tag.rows), let columns = ds.int(Tag.columns) else {
            throw ImagingError.notAnImage("DICOM file has no Rows/Columns (not an image object)")
        }
        guard ds[Tag.pixelData] != nil else { throw ImagingError.notAnImage("DICOM file has no Pixel Data") }
        self.rows = rows
        self.columns = columns
        samplesPerPixel = ds.int(Tag.samplesPerPixel) ?? 1
        bitsAllocated = ds.int(Tag.bitsAllocated) ?? 16
        bitsStored = ds.int(Tag.bitsStored) ?? bitsAllocated
        highBit = ds.int(Tag.highBit) ?? (bitsStored - 1)
        signed = (ds.int(Tag.pixelRepresentation) ?? 0) == 1
        planar = (ds.int(Tag.planarConfiguration) ?? 0) == 1
        photometric = (ds.string(Tag.photometric) ?? (samplesPerPixel == 3 ? "RGB" : "MONOCHROME2")).uppercased()
        frames = max(1, ds.int(Tag.numberOfFrames) ?? 1)
        guard rows > 0, columns > 0, rows <= 65535, columns <= 65535 else {
            throw ImagingError.malformed("impossible image size \(columns)×\(rows)")
        }
        guard [1, 3].contains(samplesPerPixel) else { throw ImagingError.unsupported("\(samplesPerPixel) samples per pixel") }
        guard [1, 8, 16, 32].contains(bitsAllocated) else { throw ImagingError.unsupported("Bits Allocated \(bitsAllocated)") }
        guard bitsStored >= 1, bitsStored <= bitsAllocated else {
            throw ImagingError.malformed("Bits Stored \(bitsStored) with Bits Allocated \(bitsAllocated)")
        }
    }

    var pixelsPerFrame: Int { rows * columns }
    var isYBR422: Bool { photometric == "YBR_FULL_422" || photometric == "YBR_PARTIAL_422" }

    /// Bytes of one native (uncompressed) frame.
    var nativeFrameBytes: Int {
        if bitsAllocated == 1 { return (pixelsPerFrame * samplesPerPixel + 7) / 8 }
        if isYBR422 && samplesPerPixel == 3 { return pixelsPerFrame * 2 * bitsAllocated / 8 }
        return pixelsPerFrame * samplesPerPixel * bitsAllocated / 8
    }

    /// Clears bits above Bits Stored and sign-extends signed values, as pydicom does.
    @inline(__always)
    func normalize(_ raw: UInt32) -> Int32 {
        if bitsStored >= 32 { return Int32(bitPattern: raw) }
        let v = raw & ((1 << UInt32(bitsStored)) - 1)
        if signed && v & (1 << UInt32(bitsStored - 1)) != 0 { return Int32(bitPattern: v | ~((1 << UInt32(bitsStored)) - 1)) }
        return Int32(bitPattern: v)
    }
}

/// Samples of one frame as integers, pixel-interleaved, before the Modality LUT.
struct RawFrame {
    var values: [Int32]
    var width: Int
    var height: Int
    var channels: Int
    /// Colour model of `values` for 3 channels: "RGB" or a YBR name still to convert.
    var colorModel: String
}

enum NativePixels {
    /// Reads frame `index` of uncompressed pixel data.
    static func frame(_ data: ArraySlice<UInt8>, index: Int, desc: PixelDescription, bigEndian: Bool, vr: String = "OB") throws -> RawFrame
    {
        let size = desc.nativeFrameBytes
        let start = data.startIndex + index * size
        guard index >= 0, start + size <= data.endIndex else {
            throw ImagingError.truncated(
                "pixel data holds \(data.count) bytes, frame \(index + 1) of \(desc.frames) needs \(size) more from \(index * size)")
        }
        let n = desc.pixelsPerFrame
        let spp = desc.samplesPerPixel
        var values = [Int32](repeating: 0, count: n * spp)
        var bytes: [UInt8]
        if bigEndian && desc.bitsAllocated == 8 && vr == "OW" {
            // 8-bit samples in an OW element of a big-endian file are byte-swapped in 16-bit
            // words (counted from the element's start, padding byte included).
            let lead = (start - data.startIndex) % 2
            let end = min(data.endIndex, start + size + 1 + lead)
            var words = Array(data[(start - lead)..<end])
            for i in stride(from: 0, to: words.count - 1, by: 2) { words.swapAt(i, i + 1) }
            bytes = Array(words[lead..<(lead + size)])
        } else {
            bytes = Array(data[start..<(start + size)])
        }
        bytes.withUnsafeBufferPointer { b in
            if desc.isYBR422 && spp == 3 {
                // Two pixels share one Cb and Cr, stored Y0 Y1 Cb Cr (8-bit in practice).
                for p in stride(from: 0, to: n, by: 2) {
                    let i = p * 2
                    guard i + 3 < b.count else { break }
                    let cb = Int32(b[i + 2])
                    let cr = Int32(b[i + 3])
                    values[3 * p] = Int32(b[i])
                    values[3 * p + 1] = cb
                    values[3 * p + 2] = cr
                    if p + 1 < n {
                        values[3 * p + 3] = Int32(b[i + 1])
                        values[3 * p + 4] = cb
                        values[3 * p + 5] = cr
                    }
                }
                return
            }
            let count = n * spp
            switch desc.bitsAllocated {
            case 1:
                for k in 0..<count { values[k] = Int32((b[k >> 3] >> UInt8(k & 7)) & 1) }
            case 8:
                for k in 0..<count { values[k] = desc.normalize(UInt32(b[k])) }
            case 16:
                for k in 0..<count { values[k] = desc.normalize(UInt32(Bytes.u16(b, 2 * k, bigEndian: bigEndian))) }
            default:
                for k in 0..<count { values[k] = desc.normalize(Bytes.u32(b, 4 * k, bigEndian: bigEndian)) }
            }
        }
        if spp == 3 && desc.planar && !desc.isYBR422 { values = deplanarize(values, pixels: n) }
        return RawFrame(
            values: values, width: desc.columns, height: desc.rows, channels: spp,
            colorModel: desc.isYBR422 ? "YBR_FULL" : desc.photometric)
    }

    /// RRR…GGG…BBB… to RGBRGB….
    static func deplanarize(_ v: [Int32], pixels n: Int) -> [Int32] {
        var out = [Int32](repeating: 0, count: v.count)
        for i in 0..<n {
            out[3 * i] = v[i]
            out[3 * i + 1] = v[n + i]
            out[3 * i + 2] = v[2 * n + i]
        }
        return out
    }
}

/// Splits encapsulated fragments into frames (PS3.5 A.4): one fragment per frame when the
/// counts match, else the Basic Offset Table, else JPEG/J2K start markers, else all in one.
enum Encapsulated {
    static func frames(_ fragments: [ArraySlice<UInt8>], count: Int) throws -> [[UInt8]] {
        guard let bot = fragments.first else { throw ImagingError.malformed("encapsulated pixel data has no offset table item") }
        let items = Array(fragments.dropFirst())
        guard !items.isEmpty else { throw ImagingError.truncated("encapsulated pixel data has no fragments") }
        if count == 1 { return [items.flatMap { $0 }] }
        if items.count == count { return items.map(Array.init) }
        if bot.count >= 4 * count {
            let b = Array(bot)
            let offsets = b.withUnsafeBufferPointer { p in (0..<count).map { Int(Bytes.u32(p, 4 * $0, bigEndian: false)) } }
            var positions: [Int] = []  // byte offset of each fragment item (8-byte header included)
            var pos = 0
            for f in items {
                positions.append(pos)
                pos += 8 + f.count
            }
            var result: [[UInt8]] = []
            for (k, off) in offsets.enumerated() {
                let end = k + 1 < count ? offsets[k + 1] : Int.max
                let chosen = items.indices.filter { positions[$0] >= off && positions[$0] < end }
                guard !chosen.isEmpty else { throw ImagingError.malformed("Basic Offset Table points outside the fragments") }
                result.append(chosen.flatMap { Array(items[$0]) })
            }
            return result
        }
        // No table: a new frame starts at each fragment that begins with a JPEG SOI or J2K SOC.
        var result: [[UInt8]] = []
        for f in items {
            let a = f.first
            let b = f.dropFirst().first
            if result.isEmpty || (a == 0xFF && (b == 0xD8 || b == 0x4F)) {
                result.append(Array(f))
            } else {
                result[result.count - 1].append(contentsOf: f)
            }
        }
        guard result.count >= count else {
            throw ImagingError.truncated("encapsulated pixel data has \(result.count) frames, Number of Frames says \(count)")
        }
        return Array(result.prefix(count))
    }
}
