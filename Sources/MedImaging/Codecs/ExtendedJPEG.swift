import Foundation

/// Sequential DCT JPEG with Huffman coding at 9 to 12 bits (ITU-T T.81 process 4, DICOM's
/// JPEG Extended 1.2.840.10008.1.2.4.51). Written in Swift because Debian 12's libjpeg-turbo
/// is built for 8-bit samples only and DCMTK's 12-bit IJG library ships without its headers.
/// Covers what DICOM 12-bit files hold: grey or colour, interleaved or not, any sampling factors,
/// restart intervals. Progressive and arithmetic-coded streams are refused with a clear error.
enum ExtendedJPEG {
    private struct Component {
        var id: Int, h: Int, v: Int, quantTable: Int
        var blocksWide = 0, blocksHigh = 0
        var coefficients: [Int32] = []
        var dcTable = 0, acTable = 0, predictor = 0
    }

    /// Natural (row-major) index of the k-th coefficient in zig-zag order.
    private static let zigzag: [Int] = [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
        28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54,
        47, 55, 62, 63
    ]

    /// Zig-zag position of each natural index (quantisation tables are stored in zig-zag order).
    private static let zigzagOfNatural: [Int] = {
        var inverse = [Int](repeating: 0, count: 64)
        for (k, natural) in zigzag.enumerated() { inverse[natural] = k }
        return inverse
    }()

    /// cos((2x + 1)uπ/16) · C(u) / 2, indexed [u * 8 + x].
    private static let cosines: [Double] = (0..<64).map { i in
        let u = i / 8
        let x = i % 8
        return (u == 0 ? 1 / 2.0.squareRoot() : 1) * cos(Double((2 * x + 1) * u) * Double.pi / 16) / 2
    }

    static func decode(_ data: [UInt8], desc: PixelDescription, maxPixels: Int) throws -> RawFrame {
        var segments = try JPEGSegments(data)
        var quant = [[Int]](repeating: [], count: 4)
        var dcTables = [JPEGHuffmanTable?](repeating: nil, count: 4)
        var acTables = dcTables
        var components: [Component] = []
        var precision = 0
        var width = 0
        var height = 0
        var restartInterval = 0
        var maxH = 1
        var maxV = 1
        let u16 = segments.u16
        while let (marker, seg, end) = try segments.next() {
            // Every segment read below starts with at least a few bytes of its own.
            guard end - seg >= 2 || ![0xDB, 0xC4, 0xC0, 0xC1, 0xDD, 0xDA].contains(marker) else {
                throw ImagingError.malformed("JPEG segment \(String(marker, radix: 16)) is empty")
            }
            switch marker {
            case 0xDB:
                var p = seg
                while p < end {
                    let wide = data[p] >> 4 != 0
                    let id = Int(data[p] & 0x0F)
                    let size = wide ? 128 : 64
                    guard id < 4, p + 1 + size <= end else { throw ImagingError.malformed("JPEG quantisation table") }
                    quant[id] = (0..<64).map { k in wide ? Int(data[p + 1 + 2 * k]) << 8 | Int(data[p + 2 + 2 * k]) : Int(data[p + 1 + k]) }
                    p += 1 + size
                }
            case 0xC4:
                var p = seg
                while p + 17 <= end {
                    let isAC = data[p] >> 4 != 0
                    let id = Int(data[p] & 0x0F)
                    let counts = (0..<16).map { Int(data[p + 1 + $0]) }
                    let total = counts.reduce(0, +)
                    guard id < 4, p + 17 + total <= end else { throw ImagingError.malformed("JPEG Huffman table") }
                    let table = try JPEGHuffmanTable(counts: counts, values: Array(data[(p + 17)..<(p + 17 + total)]))
                    if isAC { acTables[id] = table } else { dcTables[id] = table }
                    p += 17 + total
                }
            case 0xC0, 0xC1:
                guard end - seg >= 6 else { throw ImagingError.malformed("JPEG frame header") }
                precision = Int(data[seg])
                height = try u16(seg + 1)
                width = try u16(seg + 3)
                let count = Int(data[seg + 5])
                guard (1...4).contains(count), seg + 6 + 3 * count <= end else { throw ImagingError.malformed("JPEG frame header") }
                guard width > 0, height > 0, width * height <= maxPixels else {
                    throw ImagingError.tooLarge(width: width, height: height, frames: 1, limit: maxPixels)
                }
                guard width == desc.columns, height == desc.rows, count == desc.samplesPerPixel, (8...12).contains(precision) else {
                    throw ImagingError.malformed("JPEG frame \(width)×\(height)×\(count) at \(precision) bits does not match the header")
                }
                components = try (0..<count).map { k in
                    let base = seg + 6 + 3 * k
                    let h = Int(data[base + 1] >> 4)
                    let v = Int(data[base + 1] & 0x0F)
                    let q = Int(data[base + 2])
                    guard (1...4).contains(h), (1...4).contains(v), q < 4 else { throw ImagingError.malformed("JPEG component sampling") }
                    return Component(id: Int(data[base]), h: h, v: v, quantTable: q)
                }
                maxH = components.map(\.h).max()!
                maxV = components.map(\.v).max()!
                let mcusWide = (width + 8 * maxH - 1) / (8 * maxH)
                let mcusHigh = (height + 8 * maxV - 1) / (8 * maxV)
                for k in components.indices {
                    components[k].blocksWide = mcusWide * components[k].h
                    components[k].blocksHigh = mcusHigh * components[k].v
                    components[k].coefficients = [Int32](repeating: 0, count: components[k].blocksWide * components[k].blocksHigh * 64)
                }
            case 0xC2, 0xC6, 0xCA, 0xCE: throw ImagingError.unsupported("progressive JPEG in DICOM")
            case 0xC9, 0xCB, 0xCD, 0xCF: throw ImagingError.unsupported("arithmetic-coded JPEG")
            case 0xDD: restartInterval = try u16(seg)
            case 0xDA:
                guard !components.isEmpty else { throw ImagingError.malformed("JPEG scan before the frame header") }
                let count = Int(data[seg])
                guard (1...4).contains(count), seg + 1 + 2 * count + 3 <= end else { throw ImagingError.malformed("JPEG scan header") }
                var inScan: [Int] = []
                for k in 0..<count {
                    let id = Int(data[seg + 1 + 2 * k])
                    let tables = data[seg + 2 + 2 * k]
                    guard let index = components.firstIndex(where: { $0.id == id }),
                        dcTables[Int(tables >> 4) & 3] != nil, acTables[Int(tables & 0x0F) & 3] != nil
                    else {
                        throw ImagingError.malformed("JPEG scan refers to a missing component or table")
                    }
                    components[index].dcTable = Int(tables >> 4) & 3
                    components[index].acTable = Int(tables & 0x0F) & 3
                    components[index].predictor = 0
                    inScan.append(index)
                }
                var reader = JPEGBitReader(bytes: data, position: end)
                try scan(
                    &reader, components: &components, inScan: inScan, dc: dcTables, ac: acTables,
                    maxH: maxH, maxV: maxV, width: width, height: height, restart: restartInterval)
                segments.position = reader.position
            default: break
            }
        }
        guard !components.isEmpty else { throw ImagingError.malformed("JPEG without a frame") }
        for c in components where quant[c.quantTable].count != 64 {
            throw ImagingError.malformed("JPEG component \(c.id) has no quantisation table")
        }
        return RawFrame(
            values: pixels(
                components, quant: quant, maxH: maxH, maxV: maxV, width: width, height: height,
                precision: precision
            ).map { desc.normalize($0) },
            width: width, height: height, channels: components.count, colorModel: desc.photometric)
    }

    /// Huffman-decodes one scan's blocks (coefficients stay quantised until the inverse DCT).
    private static func scan(
        _ r: inout JPEGBitReader, components: inout [Component], inScan: [Int], dc: [JPEGHuffmanTable?],
        ac: [JPEGHuffmanTable?], maxH: Int, maxV: Int, width: Int, height: Int, restart: Int
    ) throws {
        func block(_ c: inout Component, row: Int, column: Int) throws {
            let base = (row * c.blocksWide + column) * 64
            c.predictor += try r.extended(try dc[c.dcTable]!.decode(&r))
            c.coefficients[base] = Int32(truncatingIfNeeded: c.predictor)
            var k = 1
            while k < 64 {
                let rs = try ac[c.acTable]!.decode(&r)
                let run = rs >> 4
                let size = rs & 0x0F
                if size == 0 {
                    if run != 15 { break }
                    k += 16
                    continue
                }
                k += run
                guard k < 64 else { throw ImagingError.malformed("JPEG: coefficient run past the block") }
                c.coefficients[base + zigzag[k]] = Int32(truncatingIfNeeded: try r.extended(size))
                k += 1
            }
        }
        // One component alone is not interleaved: its blocks cover just the image, in raster order.
        let single = inScan.count == 1
        let unitsWide = single ? (width * components[inScan[0]].h / maxH + 7) / 8 : (width + 8 * maxH - 1) / (8 * maxH)
        let unitsHigh = single ? (height * components[inScan[0]].v / maxV + 7) / 8 : (height + 8 * maxV - 1) / (8 * maxV)
        var sinceRestart = 0
        for unitRow in 0..<unitsHigh {
            for unitColumn in 0..<unitsWide {
                if restart > 0, sinceRestart == restart {
                    r.restart()
                    sinceRestart = 0
                    for index in inScan { components[index].predictor = 0 }
                }
                if single {
                    try block(&components[inScan[0]], row: unitRow, column: unitColumn)
                } else {
                    for index in inScan {
                        for y in 0..<components[index].v {
                            for x in 0..<components[index].h {
                                try block(
                                    &components[index], row: unitRow * components[index].v + y,
                                    column: unitColumn * components[index].h + x)
                            }
                        }
                    }
                }
                sinceRestart += 1
            }
        }
    }

    /// Dequantises, inverse-transforms, level-shifts and upsamples every component into interleaved samples.
    private static func pixels(
        _ components: [Component], quant: [[Int]], maxH: Int, maxV: Int, width: Int, height: Int,
        precision: Int
    ) -> [UInt32] {
        let shift = Double(1 << (precision - 1))
        let top = Double((1 << precision) - 1)
        var out = [UInt32](repeating: 0, count: width * height * components.count)
        var spatial = [Double](repeating: 0, count: 64)
        var temp = spatial
        var frequencies = spatial
        for (n, c) in components.enumerated() {
            let q = (0..<64).map { Double(quant[c.quantTable][zigzagOfNatural[$0]]) }
            let planeWidth = c.blocksWide * 8
            let planeHeight = c.blocksHigh * 8
            var plane = [UInt32](repeating: 0, count: planeWidth * planeHeight)
            for row in 0..<c.blocksHigh {
                for column in 0..<c.blocksWide {
                    let base = (row * c.blocksWide + column) * 64
                    for k in 0..<64 { frequencies[k] = Double(c.coefficients[base + k]) * q[k] }
                    // Separable 8×8 inverse DCT in double precision: each frequency row v over u, then columns over v.
                    for v in 0..<8 {
                        for x in 0..<8 {
                            var sum = 0.0
                            for u in 0..<8 { sum += cosines[u * 8 + x] * frequencies[v * 8 + u] }
                            temp[v * 8 + x] = sum
                        }
                    }
                    for x in 0..<8 {
                        for y in 0..<8 {
                            var sum = 0.0
                            for v in 0..<8 { sum += cosines[v * 8 + y] * temp[v * 8 + x] }
                            spatial[y * 8 + x] = sum
                        }
                    }
                    for y in 0..<8 {
                        for x in 0..<8 {
                            let value = min(max((spatial[y * 8 + x] + shift).rounded(), 0), top)
                            plane[(row * 8 + y) * planeWidth + column * 8 + x] = UInt32(value)
                        }
                    }
                }
            }
            // Nearest upsampling to the largest sampling factors (12-bit DICOM colour is rare).
            let sx = maxH / c.h
            let sy = maxV / c.v
            for y in 0..<height {
                for x in 0..<width {
                    out[(y * width + x) * components.count + n] =
                        plane[min(y / sy, planeHeight - 1) * planeWidth + min(x / sx, planeWidth - 1)]
                }
            }
        }
        return out
    }
}
