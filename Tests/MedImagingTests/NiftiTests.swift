import Foundation
import Testing

@testable import MedImaging

@Suite("NIfTI-1/2 volumes")
struct NiftiTests {
    /// A NIfTI-1 file with int16 voxels value = x + 10·y + 100·z, optional sform and byte order.
    static func nifti1(
        nx: Int = 3, ny: Int = 2, nz: Int = 4, bigEndian: Bool = false, sform: [[Float]]? = nil,
        slope: Float = 1, inter: Float = 0, voxels writeVoxels: Bool = true
    ) -> Data {
        var h = [UInt8](repeating: 0, count: 352)
        func put16(_ v: Int16, _ o: Int) {
            let u = UInt16(bitPattern: v)
            let b = bigEndian ? [UInt8(u >> 8), UInt8(u & 0xFF)] : [UInt8(u & 0xFF), UInt8(u >> 8)]
            h[o] = b[0]
            h[o + 1] = b[1]
        }
        func put32(_ u: UInt32, _ o: Int) { for k in 0..<4 { h[o + k] = UInt8((bigEndian ? u >> (24 - 8 * k) : u >> (8 * k)) & 0xFF) } }
        put32(348, 0)
        for (i, d) in [3, nx, ny, nz, 1, 1, 1, 1].enumerated() { put16(Int16(d), 40 + 2 * i) }
        put16(4, 70)
        put16(16, 72)
        for (i, p) in [Float(1), 0.5, 0.5, 2, 1, 1, 1, 1].enumerated() { put32(p.bitPattern, 76 + 4 * i) }
        put32(Float(352).bitPattern, 108)
        put32(slope.bitPattern, 112)
        put32(inter.bitPattern, 116)
        if let sform {
            put16(1, 254)
            for r in 0..<3 { for c in 0..<4 { put32(sform[r][c].bitPattern, 280 + 16 * r + 4 * c) } }
        }
        h[344] = 0x6E
        h[345] = 0x2B
        h[346] = 0x31
        var voxels: [UInt8] = []
        for z in 0..<(writeVoxels ? nz : 0) {
            for y in 0..<ny {
                for x in 0..<nx {
                    let v = UInt16(x + 10 * y + 100 * z)
                    voxels += bigEndian ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)]
                }
            }
        }
        return Data(h + voxels)
    }

    static func gzip(_ data: Data) throws -> Data {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medimaging-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("v.nii")
        try data.write(to: file)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/gzip")
        p.arguments = ["-f", file.path]
        try p.run()
        p.waitUntilExit()
        return try Data(contentsOf: dir.appendingPathComponent("v.nii.gz"))
    }

    @Test func lasStoredVolumeIsAlreadyRadiological() throws {
        // No sform/qform: pixdim diagonal, stored axes taken as RAS → x is flipped to run R→L...
        // pixdim-only means x+ = Right, so column 0 of the display is the patient's right = last x.
        let v = try #require(try ImageDecoder.decode(data: Self.nifti1()).volume)
        #expect(v.width == 3 && v.height == 2 && v.depth == 4)
        #expect(v.spacing == [0.5, 0.5, 2])
        let axial = try v.slice(.axial, index: 1)
        // x flipped (R→L), y flipped (A→P): first display pixel is stored (x=2, y=1, z=1).
        #expect(axial.samples == [112, 111, 110, 102, 101, 100])
    }

    @Test func bigEndianGzipAndScaling() throws {
        let plain = Self.nifti1(bigEndian: true, slope: 2, inter: -5)
        let study = try ImageDecoder.decode(data: try Self.gzip(plain), filenameHint: "v.nii.gz")
        #expect(study.format == .nifti)
        let v = try #require(study.volume)
        #expect(try v.slice(.axial, index: 0).samples == [12, 11, 10, 2, 1, 0].map { Float($0 * 2 - 5) })
        #expect(study.metadata.orientation == "RAS")
        #expect(study.metadata.dataType == "int16")
    }

    @Test func sformLPSIsReorientedAndCoronalSagittalAreRadiological() throws {
        // sform with negative x and y: stored axes already run toward Left and Posterior (LPS).
        let lps: [[Float]] = [[-1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 1, 0]]
        let study = try ImageDecoder.decode(data: Self.nifti1(sform: lps))
        #expect(study.metadata.orientation == "LPS")
        let v = try #require(study.volume)
        #expect(try v.slice(.axial, index: 2).samples == [200, 201, 202, 210, 211, 212])
        // Coronal at y=0: rows from superior (z=3) down, columns x.
        let cor = try v.slice(.coronal, index: 0)
        #expect(cor.width == 3 && cor.height == 4 && Array(cor.samples.prefix(3)) == [300, 301, 302])
        let sag = try v.slice(.sagittal, index: 1)
        #expect(sag.width == 2 && sag.height == 4 && Array(sag.samples.prefix(2)) == [301, 311])
        #expect(throws: ImagingError.self) { try v.slice(.axial, index: 4) }
    }

    @Test func gzipBombIsBounded() throws {
        var bomb = Self.nifti1()
        bomb.append(Data(count: 8 << 20))
        let gz = try Self.gzip(bomb)
        #expect(throws: ImagingError.self) {
            try ImageDecoder.decode(data: gz, options: DecodeOptions(maxInflatedBytes: 1 << 20))
        }
    }

    @Test func truncatedVoxelsAndAbsurdDimensions() throws {
        let full = Self.nifti1()
        #expect(throws: ImagingError.self) { try ImageDecoder.decode(data: full.prefix(full.count - 3)) }
        #expect(throws: ImagingError.self) { try ImageDecoder.decode(data: Self.nifti1(nx: 30000, ny: 30000, nz: 30000, voxels: false)) }
    }
}
