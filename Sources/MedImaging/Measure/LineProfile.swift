import Foundation

/// The modality values met along a straight line across one grey frame, and its length.
public struct LineProfile: Sendable, Equatable {
    /// Length in pixels (the grid's own units).
    public var lengthPixels: Double
    /// Length in mm from Pixel Spacing `[row, column]`; nil when the file gives none.
    public var lengthMM: Double?
    /// One value per step of at most one pixel, both ends included.
    public var values: [Double]

    /// Samples the nearest pixel at `max(|dx|, |dy|) + 1` evenly spaced points from `from` to `to`
    /// (pixel x covers [x, x + 1)), so every value is a real modality value of the image.
    public static func measure(_ image: MedImage, from: (x: Double, y: Double), to: (x: Double, y: Double), spacing: [Double]?) throws
        -> LineProfile
    {
        guard image.channels == 1 else { throw ImagingError.invalidArgument("a profile is measured on grey images; this one is colour") }
        guard [from.x, from.y, to.x, to.y].allSatisfy({ $0.isFinite && abs($0) < 1e9 }) else {
            throw ImagingError.invalidArgument("the line's ends must be numbers")
        }
        let dx = to.x - from.x
        let dy = to.y - from.y
        let steps = Int(Swift.min(Swift.max(abs(dx), abs(dy)).rounded(.up), 65_536))
        var values: [Double] = []
        values.reserveCapacity(steps + 1)
        for k in 0...steps {
            let t = steps == 0 ? 0 : Double(k) / Double(steps)
            let x = Swift.min(Swift.max(Int((from.x + t * dx).rounded(.down)), 0), image.width - 1)
            let y = Swift.min(Swift.max(Int((from.y + t * dy).rounded(.down)), 0), image.height - 1)
            values.append(Double(image.samples[y * image.width + x]))
        }
        var millimetres: Double?
        if let spacing, spacing.count == 2, spacing.allSatisfy({ $0 > 0 && $0.isFinite }) {
            millimetres = ((dx * spacing[1]) * (dx * spacing[1]) + (dy * spacing[0]) * (dy * spacing[0])).squareRoot()
        }
        return LineProfile(lengthPixels: (dx * dx + dy * dy).squareRoot(), lengthMM: millimetres, values: values)
    }
}
