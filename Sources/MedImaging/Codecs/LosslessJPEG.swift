import Foundation

/// JPEG lossless, process 14 (ITU-T T.81 Annex H: Huffman-coded differences from one of seven
/// predictors), 2 to 16 bits, any number of components, restart intervals, point transform.
/// Written in Swift because Debian's libjpeg-turbo 2.1 has no lossless mode; it covers DICOM's
/// 1.2.840.10008.1.2.4.57 and .70 (selection value 1).
enum LosslessJPEG {
    static func decode(_ data: [UInt8], desc: PixelDescription) throws -> RawFrame {
        var segments = try JPEGSegments(data)
        let u16 = segments.u16
        var tables: [Int: JPEGHuffmanTable] = [:]
        var precision = 0
        var width = 0
        var height = 0
        var componentIDs: [Int] = []
        var restartInterval = 0
        var out: [Int32] = []
        while let (marker, seg, end) = try segments.next() {
            guard end - seg >= 2 || ![0xC4, 0xC3, 0xC7, 0xCB, 0xCF, 0xDD, 0xDA].contains(marker) else {
                throw ImagingError.malformed("lossless JPEG segment \(String(marker, radix: 16)) is empty")
            }
            switch marker {
            case 0xC4:
                var p = seg
                while p + 17 <= end {
                    let id = Int(data[p] & 0x0F)
                    let counts = (0..<16).map { Int(data[p + 1 + $0]) }
                    let total = counts.reduce(0, +)
                    guard p + 17 + total <= end else { throw ImagingError.truncated("lossless JPEG Huffman table") }
                    tables[id] = try JPEGHuffmanTable(counts: counts, values: Array(data[(p + 17)..<(p + 17 + total)]))
                    p += 17 + total
                }
            case 0xC3, 0xC7, 0xCB, 0xCF:
                guard end - seg >= 6 else { throw ImagingError.malformed("lossless JPEG frame header") }
                precision = Int(data[seg])
                height = try u16(seg + 1)
                width = try u16(seg + 3)
                let nf = Int(data[seg + 5])
                guard seg + 6 + 3 * nf <= end else { throw ImagingError.malformed("lossless JPEG frame header") }
                componentIDs = (0..<nf).map { Int(data[seg + 6 + 3 * $0]) }
                guard width == desc.columns, height == desc.rows, nf == desc.samplesPerPixel, precision >= 2, precision <= 16 else {
                    throw ImagingError.malformed(
                        "lossless JPEG frame \(width)×\(height)×\(nf) at \(precision) bits does not match the header")
                }
                out = [Int32](repeating: 0, count: width * height * nf)
            case 0xC0, 0xC1, 0xC2: throw ImagingError.malformed("DCT-based JPEG where a lossless stream was expected")
            case 0xDD: restartInterval = try u16(seg)
            case 0xDA:
                guard !out.isEmpty else { throw ImagingError.malformed("lossless JPEG scan before frame header") }
                let ns = Int(data[seg])
                guard seg + 1 + 2 * ns + 3 <= end else { throw ImagingError.malformed("lossless JPEG scan header") }
                var comps: [(index: Int, table: JPEGHuffmanTable)] = []
                for k in 0..<ns {
                    let id = Int(data[seg + 1 + 2 * k])
                    let td = Int(data[seg + 2 + 2 * k] >> 4)
                    guard let index = componentIDs.firstIndex(of: id), let t = tables[td] else {
                        throw ImagingError.malformed("lossless JPEG scan refers to a missing component or table")
                    }
                    comps.append((index, t))
                }
                let predictor = Int(data[seg + 1 + 2 * ns])
                let pt = Int(data[seg + 3 + 2 * ns] & 0x0F)
                guard pt < precision else { throw ImagingError.malformed("lossless JPEG point transform \(pt) is not below the precision") }
                var reader = JPEGBitReader(bytes: data, position: end)
                try scan(
                    &reader, comps: comps, nf: componentIDs.count, width: width, height: height, precision: precision,
                    predictor: predictor, pointTransform: pt, restart: restartInterval, out: &out)
                segments.position = reader.position
            default: break
            }
        }
        guard !out.isEmpty else { throw ImagingError.malformed("lossless JPEG without a frame") }
        return RawFrame(
            values: out.map { desc.normalize(UInt32(bitPattern: $0)) }, width: width, height: height,
            channels: componentIDs.count, colorModel: desc.photometric)
    }

    private static func scan(
        _ r: inout JPEGBitReader, comps: [(index: Int, table: JPEGHuffmanTable)], nf: Int, width: Int, height: Int,
        precision: Int, predictor: Int, pointTransform pt: Int, restart: Int, out: inout [Int32]
    ) throws {
        let mask = (1 << (precision - pt)) - 1
        let initial = 1 << (precision - pt - 1)
        var sinceRestart = 0
        var firstLineAfterRestart = true
        // Work on unshifted values; shift by the point transform at the end.
        for y in 0..<height {
            for x in 0..<width {
                if restart > 0 && sinceRestart == restart {
                    r.restart()
                    sinceRestart = 0
                    firstLineAfterRestart = true
                }
                for c in comps {
                    let o = (y * width + x) * nf + c.index
                    let pred: Int
                    if sinceRestart == 0 && (restart > 0 || y == 0) && (x == 0 || restart > 0) {
                        pred = initial
                    } else if (y == 0 || firstLineAfterRestart) && x > 0 {
                        pred = Int(out[o - nf])
                    } else if x == 0 {
                        pred = Int(out[o - width * nf])
                    } else {
                        let ra = Int(out[o - nf])
                        let rb = Int(out[o - width * nf])
                        let rc = Int(out[o - width * nf - nf])
                        switch predictor {
                        case 1: pred = ra
                        case 2: pred = rb
                        case 3: pred = rc
                        case 4: pred = ra + rb - rc
                        case 5: pred = ra + ((rb - rc) >> 1)
                        case 6: pred = rb + ((ra - rc) >> 1)
                        case 7: pred = (ra + rb) >> 1
                        default: pred = ra
                        }
                    }
                    let t = try c.table.decode(&r)
                    var diff = 0
                    if t == 16 {
                        diff = 32768
                    } else if t > 0 {
                        diff = try r.extended(t)
                    }
                    out[o] = Int32((pred + diff) & mask)
                }
                sinceRestart += 1
                if firstLineAfterRestart && x == width - 1 { firstLineAfterRestart = false }
            }
        }
        if pt > 0 { for k in out.indices { out[k] <<= Int32(pt) } }
    }
}
