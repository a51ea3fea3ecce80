import Foundation

/// What the functional groups of an enhanced multi-frame image (PS3.3 C.7.6.16) say about one
/// frame. Every field is nil when neither the frame's item of the Per-frame Functional Groups
/// Sequence nor the Shared Functional Groups Sequence gives it; callers then fall back to the
/// top-level attribute, so a classic file reads exactly as before.
struct FrameValues: Sendable {
    /// Pixel Value Transformation (0028,9145).
    var rescaleSlope: Double?
    var rescaleIntercept: Double?
    var rescaleType: String?
    /// Frame VOI LUT (0028,9132): the first Window Center/Width and the VOI LUT Function.
    var window: WindowLevel?
    /// A VOI LUT Sequence inside the Frame VOI LUT item (the "with LUT" variant of the macro).
    var voiLUTItem: DicomDataSet?
    /// Pixel Measures (0028,9110): `[row, column]` spacing in mm, and Slice Thickness.
    var pixelSpacing: [Double]?
    var sliceThickness: Double?
    /// Plane Position (0020,9113) and Plane Orientation (0020,9116), patient coordinates.
    var imagePosition: [Double]?
    var imageOrientation: [Double]?

    /// Whether a functional group gives this frame a rescale: it then replaces the top-level
    /// Modality LUT as well as the top-level Rescale Slope/Intercept.
    var hasRescale: Bool { rescaleSlope != nil || rescaleIntercept != nil }
}

/// Reads the Shared (5200,9229) and Per-frame (5200,9230) Functional Groups Sequences. Each
/// attribute is resolved on its own: the frame's item first, then the shared item. Values that
/// make no sense (a zero spacing, a position of two numbers, a window of width 0) count as
/// absent, so a damaged group falls back rather than failing the whole file.
enum FunctionalGroups {
    static let shared = DicomTag(0x5200, 0x9229)
    static let perFrame = DicomTag(0x5200, 0x9230)
    static let pixelValueTransformation = DicomTag(0x0028, 0x9145)
    static let frameVOILUT = DicomTag(0x0028, 0x9132)
    static let pixelMeasures = DicomTag(0x0028, 0x9110)
    static let planePosition = DicomTag(0x0020, 0x9113)
    static let planeOrientation = DicomTag(0x0020, 0x9116)

    /// Whether the data set has either functional groups sequence (an enhanced object).
    static func isEnhanced(_ ds: DicomDataSet) -> Bool { ds[shared] != nil || ds[perFrame] != nil }

    /// The values of frame `index` (0-based).
    static func frame(_ index: Int, of ds: DicomDataSet) -> FrameValues {
        let own = ds[perFrame]?.items
        let levels = [own.flatMap { $0.indices.contains(index) ? $0[index] : nil }, ds.item(shared)].compactMap { $0 }
        guard !levels.isEmpty else { return FrameValues() }
        /// The first level whose macro item gives a usable value.
        func first<T>(_ macro: DicomTag, _ read: (DicomDataSet) -> T?) -> T? {
            for level in levels { if let item = level.item(macro), let value = read(item) { return value } }
            return nil
        }
        var v = FrameValues()
        v.rescaleSlope = first(pixelValueTransformation) { $0.double(Tag.rescaleSlope).flatMap(Rescale.slope) }
        v.rescaleIntercept = first(pixelValueTransformation) { $0.double(Tag.rescaleIntercept).flatMap(Rescale.intercept) }
        v.rescaleType = first(pixelValueTransformation) { $0.string(Tag.rescaleType) }
        v.window = first(frameVOILUT, window)
        v.voiLUTItem = first(frameVOILUT) { $0.item(Tag.voiLUTSequence) }
        v.pixelSpacing = first(pixelMeasures) { positive($0.doubles(Tag.pixelSpacing), count: 2) }
        v.sliceThickness = first(pixelMeasures) { $0.double(Tag.sliceThickness).flatMap { abs($0) < 1e30 ? $0 : nil } }
        v.imagePosition = first(planePosition) { numbers($0.doubles(Tag.imagePosition), count: 3) }
        v.imageOrientation = first(planeOrientation) { numbers($0.doubles(Tag.imageOrientation), count: 6) }
        return v
    }

    /// The stored frame indices (0-based) in slice order: by position along the slice normal,
    /// ties in stored order. Nil unless every frame has a Plane Position, so a cine loop or a
    /// classic multi-frame file keeps its stored order.
    static func sliceOrder(_ frames: [FrameValues], fallbackOrientation: [Double]?) -> [Int]? {
        guard frames.count > 1 else { return nil }
        let positions = frames.compactMap(\.imagePosition)
        guard positions.count == frames.count else { return nil }
        let orientation = frames.first?.imageOrientation ?? fallbackOrientation
        let distances = positions.map { p in distance(p, orientation: orientation) }
        return frames.indices.sorted { a, b in distances[a] != distances[b] ? distances[a] < distances[b] : a < b }
    }

    /// Position along the normal of `orientation` (row × column cosines), or z without one.
    static func distance(_ p: [Double], orientation o: [Double]?) -> Double {
        guard let o, o.count == 6 else { return p[2] }
        let n = [o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]]
        return p[0] * n[0] + p[1] * n[1] + p[2] * n[2]
    }

    private static func window(_ item: DicomDataSet) -> WindowLevel? {
        guard let c = item.doubles(Tag.windowCenter).first, let w = item.doubles(Tag.windowWidth).first, w > 0, w.isFinite else {
            return nil
        }
        let f = WindowLevel.Function(rawValue: (item.string(Tag.voiLUTFunction) ?? "LINEAR").uppercased()) ?? .linear
        return WindowLevel(center: c, width: w, function: f)
    }

    private static func numbers(_ v: [Double], count: Int) -> [Double]? {
        v.count == count && v.allSatisfy({ $0.isFinite && abs($0) < 1e9 }) ? v : nil
    }

    private static func positive(_ v: [Double], count: Int) -> [Double]? {
        numbers(v, count: count).flatMap { $0.allSatisfy { $0 > 0 } ? $0 : nil }
    }
}

extension ImageMetadata {
    /// For an enhanced object, the summary describes stored frame 1 through its functional groups
    /// (top-level values stay where no group gives one) and lists the slice order.
    mutating func applyFunctionalGroups(_ ds: DicomDataSet, frames: Int) {
        guard FunctionalGroups.isEnhanced(ds) else { return }
        let v = FunctionalGroups.frame(0, of: ds)
        pixelSpacing = v.pixelSpacing ?? pixelSpacing
        sliceThickness = v.sliceThickness ?? sliceThickness
        window = v.window ?? window
        rescaleSlope = v.rescaleSlope ?? rescaleSlope
        rescaleIntercept = v.rescaleIntercept ?? rescaleIntercept
        rescaleType = v.rescaleType ?? rescaleType
        imagePosition = v.imagePosition ?? imagePosition
        imageOrientation = v.imageOrientation ?? imageOrientation
        // Only a per-frame item for every frame can order them; counting items first also keeps a
        // hostile Number of Frames from making this loop long.
        guard let items = ds[FunctionalGroups.perFrame]?.items, items.count == frames else { return }
        let all = (0..<frames).map { FunctionalGroups.frame($0, of: ds) }
        sliceOrder = FunctionalGroups.sliceOrder(all, fallbackOrientation: imageOrientation)?.map { $0 + 1 }
    }
}
