import Foundation
import Testing

@testable import MedImaging

/// Every input the imaging fuzz target (`make fuzz`, bench/fuzz) ever crashed on, kept in `FuzzFindings/`:
/// each must now decode or throw `ImagingError`, never trap, with the fuzzer's own limits.
struct FuzzFindingsTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("FuzzFindings")
    static let options = DecodeOptions(maxPixels: 1 << 20, maxTotalSamples: 1 << 22, maxInflatedBytes: 1 << 24)

    static var findings: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
    }

    @Test func theFindingsFolderIsThere() {
        #expect(Self.findings.contains("jpeg-dc-category-overflow.dcm"))
    }

    @Test(arguments: findings)
    func aFindingDecodesOrThrowsAnImagingError(_ name: String) throws {
        let data = try Data(contentsOf: Self.folder.appendingPathComponent(name))
        do {
            let study = try ImageDecoder.decode(data: data, filenameHint: nil, options: Self.options)
            _ = Letterbox.fit(Renderer.render(try study.representativeFrame()), side: 64)
        } catch is ImagingError {
            // refused with a reason: what a damaged upload must get
        }
    }

    /// A Huffman symbol of 255 as a DC magnitude category overflowed Int arithmetic (issue #22).
    @Test func aDCCategoryOver16IsRefusedAsMalformed() throws {
        let data = try Data(contentsOf: Self.folder.appendingPathComponent("jpeg-dc-category-overflow.dcm"))
        #expect {
            _ = try ImageDecoder.decode(data: data, filenameHint: nil, options: Self.options)
        } throws: { error in
            "\(error)".contains("magnitude category")
        }
    }

    /// A NaN vox_offset (a float in NIfTI-1) trapped converting to Int.
    @Test func aNaNVoxOffsetIsRefusedAsMalformed() throws {
        let data = try Data(contentsOf: Self.folder.appendingPathComponent("nifti-nan-vox-offset.nii"))
        #expect {
            _ = try ImageDecoder.decode(data: data, filenameHint: nil, options: Self.options)
        } throws: { error in
            "\(error)".contains("vox_offset")
        }
    }
}
