import Foundation
import Testing

@testable import MedImaging

/// Series grouping of a dropped folder, and the ROI and line measurements.
struct SeriesAndMeasureTests {
    private func slice(
        uid: String?, instance: Int, z: Double, size: Int = 4, orientation: [Double] = [1, 0, 0, 0, 1, 0], type: [String] = []
    )
        throws -> DecodedStudy
    {
        var m = ImageMetadata(format: .dicom, width: size, height: size)
        m.instanceNumber = instance
        m.imagePosition = [0, 0, z]
        m.imageOrientation = orientation
        let frame = try MedImage(
            width: size, height: size, channels: 1, samples: Array(repeating: 0, count: size * size), photometric: .monochrome2)
        return DecodedStudy(format: .dicom, frames: [frame], metadata: m, series: SeriesFacts(uid: uid, imageType: type))
    }

    @Test func groupsBySeriesOrdersSlicesAndFlagsScouts() throws {
        let studies = [
            try slice(uid: "A", instance: 3, z: 6),
            try slice(uid: "B", instance: 1, z: 0),
            try slice(uid: "A", instance: 1, z: 0),
            try slice(uid: "A", instance: 1, z: 0, orientation: [1, 0, 0, 0, 0, -1]),  // scout by plane
            try slice(uid: "A", instance: 2, z: 3),
            try slice(uid: "A", instance: 9, z: 0, type: ["ORIGINAL", "PRIMARY", "LOCALIZER"]),
            try slice(uid: "A", instance: 4, z: 9, size: 8)  // another size cannot share a volume
        ]
        let groups = SeriesGrouping.group(studies)
        #expect(groups.count == 5)
        #expect(groups.contains(SeriesGroup(members: [2, 4, 0], isLocalizer: false)))
        #expect(groups.contains(SeriesGroup(members: [3], isLocalizer: true)))
        #expect(groups.contains(SeriesGroup(members: [5], isLocalizer: true)))
        #expect(groups.contains(SeriesGroup(members: [1], isLocalizer: false)))
        #expect(groups.contains(SeriesGroup(members: [6], isLocalizer: false)))
        #expect(Set(groups.flatMap(\.members)) == Set(studies.indices))
    }

    @Test func regionStatisticsTakePixelCentresInside() throws {
        // 4×3 image, value = 10·y + x.
        let image = try MedImage(
            width: 4, height: 3, channels: 1, samples: (0..<12).map { Float(10 * ($0 / 4) + $0 % 4) }, photometric: .monochrome2)
        let whole = try RegionStatistics.measure(image, box: PixelBox(x0: 0, y0: 0, x1: 4, y1: 3))
        #expect(whole.pixels == 12 && whole.min == 0 && whole.max == 23 && abs(whole.mean - 11.5) < 1e-12)
        let part = try RegionStatistics.measure(image, box: PixelBox(x0: 3, y0: 2, x1: 1, y1: 1))  // corners in any order
        #expect(part.pixels == 2 && part.mean == 11.5 && part.std == 0.5)
        let clipped = try RegionStatistics.measure(image, box: PixelBox(x0: -5, y0: -5, x1: 1, y1: 1))
        #expect(clipped.pixels == 1 && clipped.mean == 0)
        #expect(throws: ImagingError.self) { try RegionStatistics.measure(image, box: PixelBox(x0: 50, y0: 50, x1: 60, y1: 60)) }
        #expect(throws: ImagingError.self) { try RegionStatistics.measure(image, box: PixelBox(x0: 1, y0: 1, x1: 1, y1: 2)) }
        let ellipse = try RegionStatistics.measure(image, box: PixelBox(x0: 0, y0: 0, x1: 4, y1: 3), shape: .ellipse)
        #expect(ellipse.pixels == 8)  // the four corners fall outside
    }

    @Test func lineProfileSamplesEveryPixelStepAndMeasuresMillimetres() throws {
        let image = try MedImage(
            width: 4, height: 3, channels: 1, samples: (0..<12).map { Float(10 * ($0 / 4) + $0 % 4) }, photometric: .monochrome2)
        let line = try LineProfile.measure(image, from: (0.5, 1.5), to: (3.5, 1.5), spacing: [2, 0.5])
        #expect(line.values == [10, 11, 12, 13])
        #expect(line.lengthPixels == 3 && line.lengthMM == 1.5)
        let diagonal = try LineProfile.measure(image, from: (0, 0), to: (3, 2), spacing: nil)
        #expect(diagonal.values.count == 4 && diagonal.lengthMM == nil)
        #expect(throws: ImagingError.self) { try LineProfile.measure(image, from: (.nan, 0), to: (1, 1), spacing: nil) }
    }
}
