import Foundation

extension NiftiReader.Header {
    /// Bytes per voxel and a name for each supported NIfTI data type.
    static let dataTypes: [Int: (bytes: Int, name: String)] = [
        2: (1, "uint8"), 256: (1, "int8"), 4: (2, "int16"), 512: (2, "uint16"), 8: (4, "int32"),
        768: (4, "uint32"), 16: (4, "float32"), 64: (8, "float64"), 1024: (8, "int64"), 1280: (8, "uint64")
    ]

    func study(_ bytes: [UInt8], options: DecodeOptions, bigEndian: Bool) throws -> DecodedStudy {
        let rank = dims.first ?? 0
        guard rank >= 2, rank <= 7 else { throw ImagingError.malformed("NIfTI dim[0] = \(rank)") }
        let nx = dims[1]
        let ny = dims[2]
        let nz = rank >= 3 ? max(dims[3], 1) : 1
        guard nx > 0, ny > 0, nz > 0, nx < 1 << 20, ny < 1 << 20, nz < 1 << 20 else {
            throw ImagingError.malformed("impossible NIfTI dimensions \(Array(dims.prefix(rank + 1)))")
        }
        guard let type = Self.dataTypes[datatype] else {
            throw ImagingError.unsupported("NIfTI data type \(datatype) (RGB and complex volumes are not read)")
        }
        guard nx * ny <= options.maxPixels else { throw ImagingError.tooLarge(width: nx, height: ny, frames: nz, limit: options.maxPixels) }
        let count = nx * ny * nz
        guard count <= options.maxTotalSamples else {
            throw ImagingError.tooLarge(width: nx, height: ny, frames: nz, limit: options.maxTotalSamples)
        }
        let offset = max(voxOffset, 348)
        // Subtracting, not adding: a NIfTI-2 vox_offset near Int.max would overflow the sum.
        guard offset <= bytes.count, count * type.bytes <= bytes.count - offset else {
            throw ImagingError.truncated(
                "NIfTI voxel data needs \(count * type.bytes) bytes from offset \(offset), the file has \(bytes.count - min(offset, bytes.count))"
            )
        }
        // scl_slope = 0 means "no scaling" (NIfTI-1 standard).
        let s = (slope == 0 || !slope.isFinite) ? 1.0 : slope
        let b = inter.isFinite && slope != 0 ? inter : 0
        var raw = [Float](repeating: 0, count: count)
        var lowest = Float.infinity
        var missing: [Int] = []
        bytes.withUnsafeBufferPointer { p in
            for i in 0..<count {
                let o = offset + i * type.bytes
                let v: Double
                switch datatype {
                case 2: v = Double(p[o])
                case 256: v = Double(Int8(bitPattern: p[o]))
                case 4: v = Double(Int16(bitPattern: Bytes.u16(p, o, bigEndian: bigEndian)))
                case 512: v = Double(Bytes.u16(p, o, bigEndian: bigEndian))
                case 8: v = Double(Int32(bitPattern: Bytes.u32(p, o, bigEndian: bigEndian)))
                case 768: v = Double(Bytes.u32(p, o, bigEndian: bigEndian))
                case 16: v = Double(Float(bitPattern: Bytes.u32(p, o, bigEndian: bigEndian)))
                default:
                    let hi = UInt64(Bytes.u32(p, o + (bigEndian ? 0 : 4), bigEndian: bigEndian))
                    let lo = UInt64(Bytes.u32(p, o + (bigEndian ? 4 : 0), bigEndian: bigEndian))
                    let bits = hi << 32 | lo
                    v = datatype == 64 ? Double(bitPattern: bits) : datatype == 1024 ? Double(Int64(bitPattern: bits)) : Double(bits)
                }
                let value = Float(v * s + b)
                if value.isFinite {
                    raw[i] = value
                    lowest = min(lowest, value)
                } else {
                    missing.append(i)
                }
            }
        }
        // NaN voxels (outside a mask, in float files) read as the volume's lowest value: they show
        // black and never widen a window, and nothing downstream has to handle NaN.
        for i in missing { raw[i] = lowest.isFinite ? lowest : 0 }
        let m = matrix
        let (axes, flips, code) = Self.reorientation(m)
        let sizes = [nx, ny, nz]
        let out = Self.reorder(raw, sizes: sizes, axes: axes, flips: flips)
        let spacing = axes.map { j in (0..<3).map { m[$0][j] * m[$0][j] }.reduce(0, +).squareRoot() }
        let window =
            calMax > calMin && calMax.isFinite && calMin.isFinite
            ? WindowLevel(center: (calMax + calMin) / 2, width: calMax - calMin, function: .linearExact) : nil
        let volume = try Volume(
            width: sizes[axes[0]], height: sizes[axes[1]], depth: sizes[axes[2]], samples: out,
            spacing: spacing.map { $0 > 0 ? $0 : 1 }, defaultWindow: window)
        var meta = ImageMetadata(format: .nifti, width: volume.width, height: volume.height, frames: volume.depth)
        meta.volumeShape = Array(dims[1...min(rank, 7)])
        meta.dataType = type.name
        meta.orientation = code
        meta.pixelSpacing = [volume.spacing[1], volume.spacing[0]]
        meta.sliceThickness = volume.spacing[2]
        meta.window = window
        meta.rescaleSlope = slope == 0 ? nil : slope
        meta.rescaleIntercept = slope == 0 ? nil : inter
        meta.photometric = Photometric.monochrome2.rawValue
        return DecodedStudy(format: .nifti, frames: [], volume: volume, metadata: meta)
    }

    /// For each target axis (toward patient Left, Posterior, Superior), the voxel axis that runs
    /// closest to it and whether it runs the other way; plus the stored orientation code ("RAS").
    static func reorientation(_ m: [[Double]]) -> (axes: [Int], flips: [Bool], code: String) {
        var used = Set<Int>()
        var worldOf = [Int](repeating: 0, count: 3)
        var sign = [Double](repeating: 1, count: 3)
        // Greedy by largest component, so an oblique matrix still gives a permutation.
        var pairs: [(Double, Int, Int)] = []
        for j in 0..<3 { for i in 0..<3 { pairs.append((abs(m[i][j]), i, j)) } }
        var assigned = Set<Int>()
        for (_, i, j) in pairs.sorted(by: { $0.0 > $1.0 }) where !used.contains(i) && !assigned.contains(j) {
            used.insert(i)
            assigned.insert(j)
            worldOf[j] = i
            sign[j] = m[i][j] < 0 ? -1 : 1
        }
        let letters = [["R", "L"], ["A", "P"], ["S", "I"]]
        let code = (0..<3).map { j in letters[worldOf[j]][sign[j] > 0 ? 0 : 1] }.joined()
        let targetSign: [Double] = [-1, -1, 1]  // RAS+ world: Left and Posterior are negative
        var axes = [0, 1, 2]
        var flips = [false, false, false]
        for t in 0..<3 {
            let j = worldOf.firstIndex(of: t) ?? t
            axes[t] = j
            flips[t] = sign[j] != targetSign[t]
        }
        return (axes, flips, code)
    }

    /// Permutes and flips a Fortran-ordered (x fastest) grid into target order.
    static func reorder(_ v: [Float], sizes: [Int], axes: [Int], flips: [Bool]) -> [Float] {
        if axes == [0, 1, 2] && flips == [false, false, false] { return v }
        let strides = [1, sizes[0], sizes[0] * sizes[1]]
        let n0 = sizes[axes[0]]
        let n1 = sizes[axes[1]]
        let n2 = sizes[axes[2]]
        var out = [Float](repeating: 0, count: v.count)
        var o = 0
        for k in 0..<n2 {
            let s2 = (flips[2] ? n2 - 1 - k : k) * strides[axes[2]]
            for j in 0..<n1 {
                let s1 = s2 + (flips[1] ? n1 - 1 - j : j) * strides[axes[1]]
                for i in 0..<n0 {
                    out[o] = v[s1 + (flips[0] ? n0 - 1 - i : i) * strides[axes[0]]]
                    o += 1
                }
            }
        }
        return out
    }
}
