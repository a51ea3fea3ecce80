import Foundation

/// NIfTI-1 and NIfTI-2 single-file volumes (`.nii`, `.nii.gz`), either byte order. The first
/// 3-D volume is read, scaled by `scl_slope`/`scl_inter`, and reoriented from sform (else qform,
/// else pixdim) into the radiological orientation of `Volume`.
enum NiftiReader {
    enum Kind { case nifti1, nifti2 }

    /// Recognises an uncompressed header by `sizeof_hdr` (348 or 540, either byte order) and magic.
    static func headerKind(_ h: [UInt8]) -> (Kind, bigEndian: Bool)? {
        guard h.count >= 348 else { return nil }
        let le = UInt32(h[0]) | UInt32(h[1]) << 8 | UInt32(h[2]) << 16 | UInt32(h[3]) << 24
        let be = le.byteSwapped
        if le == 348 || be == 348, h[344..<348].elementsEqual([0x6E, 0x2B, 0x31, 0]) { return (.nifti1, be == 348) }
        if le == 540 || be == 540, h.count >= 12, h[4..<8].elementsEqual([0x6E, 0x2B, 0x32, 0]) { return (.nifti2, be == 540) }
        return nil
    }

    static func decode(_ data: Data, options: DecodeOptions) throws -> DecodedStudy {
        var bytes = [UInt8](data)
        if bytes.count >= 2, bytes[0] == 0x1F, bytes[1] == 0x8B {
            bytes = [UInt8](try Inflate.inflate(data, container: .gzip, maxOutput: options.maxInflatedBytes))
        }
        guard let (kind, bigEndian) = headerKind(bytes) else {
            if bytes.count >= 348, bytes[344..<348].elementsEqual([0x6E, 0x69, 0x31, 0]) {
                throw ImagingError.unsupported("NIfTI .hdr/.img pairs; convert to a single .nii file")
            }
            throw ImagingError.notAnImage("no NIfTI-1/2 header")
        }
        var r = ByteReader(bytes, bigEndian: bigEndian)
        let h = try Header(&r, kind: kind)
        return try h.study(bytes, options: options, bigEndian: bigEndian)
    }

    /// The header fields we use, widened to Int/Double for both versions.
    struct Header {
        var dims: [Int] = []
        var datatype = 0
        var pixdim: [Double] = []
        var voxOffset = 0
        var slope = 1.0, inter = 0.0, calMax = 0.0, calMin = 0.0
        var qformCode = 0, sformCode = 0
        var quatern: [Double] = [], qoffset: [Double] = [], srow: [[Double]] = []

        init(_ r: inout ByteReader, kind: Kind) throws {
            func at(_ p: Int) -> ByteReader {
                var c = r
                c.position = p
                return c
            }
            func f32(_ p: Int) throws -> Double {
                var c = at(p)
                return Double(Float(bitPattern: try c.u32()))
            }
            func f64(_ p: Int) throws -> Double {
                var c = at(p)
                let a = UInt64(try c.u32())
                let b = UInt64(try c.u32())
                return Double(bitPattern: c.bigEndian ? (a << 32 | b) : (b << 32 | a))
            }
            func i16(_ p: Int) throws -> Int {
                var c = at(p)
                return Int(Int16(bitPattern: try c.u16()))
            }
            func i32(_ p: Int) throws -> Int {
                var c = at(p)
                return Int(Int32(bitPattern: try c.u32()))
            }
            func i64(_ p: Int) throws -> Int {
                var c = at(p)
                let a = UInt64(try c.u32())
                let b = UInt64(try c.u32())
                return Int(truncatingIfNeeded: Int64(bitPattern: c.bigEndian ? (a << 32 | b) : (b << 32 | a)))
            }
            if kind == .nifti1 {
                dims = try (0..<8).map { try i16(40 + 2 * $0) }
                datatype = try i16(70)
                pixdim = try (0..<8).map { try f32(76 + 4 * $0) }
                // A float in NIfTI-1: NaN, infinity or a huge value would trap in Int() (found by the fuzzer).
                let offset = try f32(108)
                guard offset.isFinite, abs(offset) < 1e15 else { throw ImagingError.malformed("NIfTI vox_offset \(offset)") }
                voxOffset = Int(offset)
                slope = try f32(112)
                inter = try f32(116)
                calMax = try f32(124)
                calMin = try f32(128)
                qformCode = try i16(252)
                sformCode = try i16(254)
                quatern = try [256, 260, 264].map(f32)
                qoffset = try [268, 272, 276].map(f32)
                srow = try [280, 296, 312].map { b in try (0..<4).map { try f32(b + 4 * $0) } }
            } else {
                datatype = try i16(12)
                dims = try (0..<8).map { try i64(16 + 8 * $0) }
                pixdim = try (0..<8).map { try f64(104 + 8 * $0) }
                voxOffset = try i64(168)
                slope = try f64(176)
                inter = try f64(184)
                calMax = try f64(192)
                calMin = try f64(200)
                qformCode = try i32(344)
                sformCode = try i32(348)
                quatern = try [352, 360, 368].map(f64)
                qoffset = try [376, 384, 392].map(f64)
                srow = try [400, 432, 464].map { b in try (0..<4).map { try f64(b + 8 * $0) } }
            }
        }

        /// Voxel-to-world (RAS+) 3×3 matrix, columns = voxel axes.
        var matrix: [[Double]] {
            if sformCode > 0, srow.allSatisfy({ $0.prefix(3).allSatisfy(\.isFinite) }),
                srow.contains(where: { $0.prefix(3).contains { $0 != 0 } })
            {
                return srow.map { Array($0.prefix(3)) }
            }
            let px = (1...3).map { p in pixdim.indices.contains(p) && pixdim[p] > 0 && pixdim[p].isFinite ? pixdim[p] : 1 }
            if qformCode > 0 {
                let (b, c, d) = (quatern[0], quatern[1], quatern[2])
                let a = max(0, 1 - (b * b + c * c + d * d)).squareRoot()
                let qfac = pixdim.first ?? 1 < 0 ? -1.0 : 1.0
                let rot = [
                    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
                    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
                    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b]
                ]
                return rot.map { row in [row[0] * px[0], row[1] * px[1], row[2] * px[2] * qfac] }
            }
            return [[px[0], 0, 0], [0, px[1], 0], [0, 0, px[2]]]
        }
    }
}
