import Foundation

/// A region a user marked on the original image ("click a region and ask"), drawn as a visible
/// outline onto the image the model sees so the question can refer to it.
public struct RegionMark: Sendable, Codable, Equatable {
    /// Outline shape, in original image pixels.
    public enum Shape: Sendable, Codable, Equatable {
        case ring(centerX: Double, centerY: Double, radius: Double)
        case rectangle(PixelBox)
    }

    public var shape: Shape
    /// Outline colour; red by default, which stands out on grey medical images.
    public var color: [UInt8]

    public init(_ shape: Shape, color: [UInt8] = [255, 0, 0]) {
        self.shape = shape
        self.color = color.count == 3 ? color : [255, 0, 0]
    }

    /// Draws the marks onto `image`. With a `transform`, coordinates are original pixels and
    /// are mapped into the letterboxed square; without, they are `image` pixels. The outline is
    /// about 1/300 of the image's side thick (at least 2 px) so it survives the model's view.
    public static func draw(_ marks: [RegionMark], on image: inout RGBImage, transform: LetterboxTransform? = nil) {
        let thickness = max(2.0, Double(max(image.width, image.height)) / 300)
        for mark in marks {
            let scale = transform?.scaleX ?? 1
            let map: (Double, Double) -> (Double, Double) = { x, y in
                guard let t = transform else { return (x, y) }
                let p = t.toSquare(x: x, y: y)
                return (p.x, p.y)
            }
            switch mark.shape {
            case .ring(let cx, let cy, let r):
                let c = map(cx, cy)
                let radius = max(r * scale, thickness * 2)
                let half = thickness / 2
                let x0 = max(0, Int(c.0 - radius - thickness))
                let x1 = min(image.width - 1, Int(c.0 + radius + thickness))
                let y0 = max(0, Int(c.1 - radius - thickness))
                let y1 = min(image.height - 1, Int(c.1 + radius + thickness))
                guard x0 <= x1, y0 <= y1 else { continue }
                for y in y0...y1 {
                    for x in x0...x1 {
                        let d = ((Double(x) + 0.5 - c.0) * (Double(x) + 0.5 - c.0) + (Double(y) + 0.5 - c.1) * (Double(y) + 0.5 - c.1))
                            .squareRoot()
                        if abs(d - radius) <= half { put(&image, x, y, mark.color) }
                    }
                }
            case .rectangle(let box):
                let a = map(box.x0, box.y0)
                let b = map(box.x1, box.y1)
                let t = Int(thickness.rounded())
                let xa = Int(min(a.0, b.0))
                let xb = Int(max(a.0, b.0))
                let ya = Int(min(a.1, b.1))
                let yb = Int(max(a.1, b.1))
                for y in ya..<(yb + 1) {
                    for x in xa..<(xb + 1) {
                        let onEdge = x - xa < t || xb - x < t || y - ya < t || yb - y < t
                        if onEdge { put(&image, x, y, mark.color) }
                    }
                }
            }
        }
    }

    private static func put(_ image: inout RGBImage, _ x: Int, _ y: Int, _ c: [UInt8]) {
        guard x >= 0, y >= 0, x < image.width, y < image.height else { return }
        let i = (y * image.width + x) * 3
        image.pixels[i] = c[0]
        image.pixels[i + 1] = c[1]
        image.pixels[i + 2] = c[2]
    }
}
