import Foundation

/// Google's CT recipe for MedGemma (SPEC.md "Volumes"): uniform slice sampling and the
/// three-window RGB packing.
public enum VolumeRecipe {
    /// Default number of slices shown to the model.
    public static let defaultSliceCount = 85

    /// 0-based indices of the slices to use out of `count`: all when `count <= maximum`,
    /// otherwise `round(i / maximum · (count − 1))` for i = 1…maximum, as the recipe states.
    /// (Its first pick is therefore slightly after slice 0 and the last is the last slice.)
    public static func sampleIndices(count: Int, maximum: Int = defaultSliceCount) -> [Int] {
        guard count > 0, maximum > 0 else { return [] }
        if count <= maximum { return Array(0..<count) }
        return (1...maximum).map { i in
            Int((Double(i) / Double(maximum) * Double(count - 1)).rounded(.toNearestOrAwayFromZero))
        }
    }

    /// The three HU windows of the recipe, as (low, high): R, G, B.
    public static let ctWindows: [(Float, Float)] = [(-1024, 1024), (-135, 215), (0, 80)]

    /// Packs a CT slice (samples in HU) into RGB: each channel is HU clipped to its window and
    /// scaled to 0–255.
    public static func packCT(_ slice: MedImage) throws -> RGBImage {
        guard slice.channels == 1 else { throw ImagingError.invalidArgument("CT window packing needs a grey slice") }
        var out = [UInt8](repeating: 0, count: slice.width * slice.height * 3)
        slice.samples.withUnsafeBufferPointer { s in
            for i in 0..<s.count {
                for (c, (lo, hi)) in ctWindows.enumerated() {
                    let v = (min(max(s[i], lo), hi) - lo) / (hi - lo) * 255
                    out[i * 3 + c] = UInt8(rounding: v)
                }
            }
        }
        return try RGBImage(width: slice.width, height: slice.height, pixels: out)
    }
}
