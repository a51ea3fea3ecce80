import Foundation

/// Statistics of the modality values (HU for CT) inside a region of one grey frame.
public struct RegionStatistics: Sendable, Equatable {
    public var mean: Double
    /// Population standard deviation (numpy's default, `ddof=0`).
    public var std: Double
    public var min: Double
    public var max: Double
    /// Pixels whose centre lies inside the region.
    public var pixels: Int

    /// The outline a region is measured in.
    public enum Shape: String, Sendable {
        case rectangle, ellipse
    }

    /// Measures the pixels of `image` whose centres (x + 0.5, y + 0.5) lie inside `box` (or the
    /// ellipse inscribed in it): integer corners x0, y0, x1, y1 take columns x0..<x1 and rows
    /// y0..<y1, as `array[y0:y1, x0:x1]` does. Colour frames and regions holding no pixel centre
    /// are refused.
    public static func measure(_ image: MedImage, box: PixelBox, shape: Shape = .rectangle) throws -> RegionStatistics {
        guard image.channels == 1 else {
            throw ImagingError.invalidArgument("statistics are measured on grey images; this one is colour")
        }
        let x0 = Swift.min(box.x0, box.x1)
        let x1 = Swift.max(box.x0, box.x1)
        let y0 = Swift.min(box.y0, box.y1)
        let y1 = Swift.max(box.y0, box.y1)
        let cx = (x0 + x1) / 2
        let cy = (y0 + y1) / 2
        let a = (x1 - x0) / 2
        let b = (y1 - y0) / 2
        guard [x0, y0, x1, y1].allSatisfy({ $0.isFinite && abs($0) < 1e9 }) else {
            throw ImagingError.invalidArgument("the region's corners must be numbers")
        }
        // Pixel centres inside, clamped to the image; a region off the image is an empty range, never an inverted one (a trap).
        func span(_ low: Double, _ high: Double, _ size: Int) -> Range<Int> {
            let first = Swift.min(size, Swift.max(0, Int((low - 0.5).rounded(.up))))
            return first..<Swift.max(first, Swift.min(size, Int((high - 0.5).rounded(.down)) + 1))
        }
        let columns = span(x0, x1, image.width)
        let rows = span(y0, y1, image.height)
        var values: [Double] = []
        if a > 0, b > 0 {
            for y in rows {
                let py = Double(y) + 0.5
                guard py > y0, py < y1 else { continue }
                for x in columns {
                    let px = Double(x) + 0.5
                    guard px > x0, px < x1 else { continue }
                    if shape == .ellipse {
                        let dx = (px - cx) / a
                        let dy = (py - cy) / b
                        guard dx * dx + dy * dy <= 1 else { continue }
                    }
                    values.append(Double(image.samples[y * image.width + x]))
                }
            }
        }
        guard !values.isEmpty else {
            throw ImagingError.invalidArgument("the region holds no pixel of the \(image.width)×\(image.height) image")
        }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
        return RegionStatistics(mean: mean, std: variance.squareRoot(), min: values.min()!, max: values.max()!, pixels: values.count)
    }
}
