import Foundation

/// A rectangle in original image pixels: `x0, y0` top-left, `x1, y1` bottom-right (exclusive).
public struct PixelBox: Sendable, Codable, Equatable {
    public var x0: Double, y0: Double, x1: Double, y1: Double
    public init(x0: Double, y0: Double, x1: Double, y1: Double) {
        self.x0 = x0
        self.y0 = y0
        self.x1 = x1
        self.y1 = y1
    }
}

/// How an original image was placed into the model's square: keep it with the model image so
/// that boxes the model returns (0–1000 of the padded square) map back to original pixels.
public struct LetterboxTransform: Sendable, Codable, Equatable {
    public let originalWidth: Int
    public let originalHeight: Int
    /// Side of the square in pixels (896 for MedGemma).
    public let side: Int
    /// Size of the resized image inside the square, to the nearest pixel (`scaleX`/`scaleY` are exact).
    public let contentWidth: Int
    public let contentHeight: Int
    /// Left and top padding in square pixels, to the nearest pixel (`originX`/`originY` are exact).
    public let offsetX: Int
    public let offsetY: Int
    /// A pixel's height over its width in the original (1 for square pixels).
    public let pixelAspect: Double

    /// Computes the placement of a `width`×`height` image in a `side` square: the longer edge
    /// fills the square, the shorter is centred (odd padding puts the extra pixel right/bottom).
    /// `pixelAspect` (a pixel's height over its width) stretches the content to true proportions.
    public init(originalWidth width: Int, originalHeight height: Int, side: Int, pixelAspect: Double = 1) {
        let aspect = pixelAspect.isFinite && pixelAspect > 0 ? pixelAspect : 1
        let padded = Self.padding(width: width, height: height, pixelAspect: aspect)
        let scaleX = Double(side) / padded.width
        let scaleY = Double(side) / padded.height
        originalWidth = width
        originalHeight = height
        self.side = side
        self.pixelAspect = aspect
        contentWidth = max(1, min(side, Int((Double(width) * scaleX).rounded())))
        contentHeight = max(1, min(side, Int((Double(height) * scaleY).rounded())))
        offsetX = Int((padded.left * scaleX).rounded())
        offsetY = Int((padded.top * scaleY).rounded())
    }

    // The image is padded to a square in its own pixels, whole pixels of padding before it, and
    // the padded square is resized to `side` (as Hugging Face's pipeline sees a padded image);
    // `Letterbox.fit` resamples exactly this, so these are the one description of the placement.

    /// The padded square's width and height in original pixels (rows are `pixelAspect` times as
    /// tall), and the whole original pixels of padding left of and above the image.
    private static func padding(width: Int, height: Int, pixelAspect: Double) -> (width: Double, height: Double, left: Double, top: Double)
    {
        let paddedWidth = max(Double(width), Double(height) * pixelAspect)
        let paddedHeight = paddedWidth / pixelAspect
        return (
            paddedWidth, paddedHeight, ((paddedWidth - Double(width)) / 2).rounded(.down),
            ((paddedHeight - Double(height)) / 2).rounded(.down)
        )
    }
    /// This transform's padded square and padding, in original pixels.
    var padded: (width: Double, height: Double, left: Double, top: Double) {
        Self.padding(width: originalWidth, height: originalHeight, pixelAspect: pixelAspect)
    }
    /// Square pixels per original pixel along each axis.
    public var scaleX: Double { Double(side) / padded.width }
    public var scaleY: Double { Double(side) / padded.height }
    /// The image's top-left corner in square pixels, exactly (often a fraction off a whole pixel).
    public var originX: Double { padded.left * scaleX }
    public var originY: Double { padded.top * scaleY }

    /// Maps a point in square pixels to original pixels (not clamped).
    public func toOriginal(x: Double, y: Double) -> (x: Double, y: Double) {
        let p = padded
        return (x * p.width / Double(side) - p.left, y * p.height / Double(side) - p.top)
    }

    /// Maps a point in original pixels to square pixels.
    public func toSquare(x: Double, y: Double) -> (x: Double, y: Double) {
        let p = padded
        return ((x + p.left) * Double(side) / p.width, (y + p.top) * Double(side) / p.height)
    }

    enum CodingKeys: String, CodingKey {
        case originalWidth, originalHeight, side, contentWidth, contentHeight, offsetX, offsetY, pixelAspect
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        // Encodings made before `pixelAspect` was kept describe square pixels.
        self.init(
            originalWidth: try c.decode(Int.self, forKey: .originalWidth), originalHeight: try c.decode(Int.self, forKey: .originalHeight),
            side: try c.decode(Int.self, forKey: .side), pixelAspect: try c.decodeIfPresent(Double.self, forKey: .pixelAspect) ?? 1)
    }

    /// Maps a model box `[y0, x0, y1, x1]` normalised to 0–1000 of the padded square back to
    /// original pixels, clamped to the image (a box drawn partly on the padding is cut at the
    /// image edge). Returns nil for fewer than four numbers or a box entirely on the padding.
    public func originalBox(fromNormalized box: [Double]) -> PixelBox? {
        guard box.count >= 4, box.prefix(4).allSatisfy(\.isFinite) else { return nil }
        let s = Double(side) / 1000
        let a = toOriginal(x: min(box[1], box[3]) * s, y: min(box[0], box[2]) * s)
        let b = toOriginal(x: max(box[1], box[3]) * s, y: max(box[0], box[2]) * s)
        let w = Double(originalWidth)
        let h = Double(originalHeight)
        let r = PixelBox(
            x0: min(max(a.x, 0), w), y0: min(max(a.y, 0), h),
            x1: min(max(b.x, 0), w), y1: min(max(b.y, 0), h))
        return (r.x1 > r.x0 && r.y1 > r.y0) ? r : nil
    }

    /// The inverse of `originalBox`: original pixels to `[y0, x0, y1, x1]` in 0–1000 of the square.
    public func normalizedBox(fromOriginal box: PixelBox) -> [Double] {
        let a = toSquare(x: box.x0, y: box.y0)
        let b = toSquare(x: box.x1, y: box.y1)
        let k = 1000 / Double(side)
        return [a.y * k, a.x * k, b.y * k, b.x * k]
    }
}

/// Fits any image into the model's square input without cropping.
public enum Letterbox {
    /// The image resampled to square pixels (the shorter physical side enlarged), for previews
    /// of slices whose pixels are not square; unchanged when `pixelAspect` is 1.
    public static func squarePixels(_ image: RGBImage, pixelAspect: Double) -> RGBImage {
        guard pixelAspect.isFinite, pixelAspect > 0, abs(pixelAspect - 1) > 0.01 else { return image }
        if pixelAspect > 1 {
            return Resampler.resize(image, width: image.width, height: max(1, Int((Double(image.height) * pixelAspect).rounded())))
        }
        return Resampler.resize(image, width: max(1, Int((Double(image.width) / pixelAspect).rounded())), height: image.height)
    }

    /// Pads `image` to a square of `padding` (centred; an odd remainder goes right/bottom) and
    /// resizes the square to `side`, as Hugging Face's pipeline sees a padded image, in one pass.
    /// Returns the square and the transform.
    public static func fit(_ image: RGBImage, side: Int = 896, padding: (UInt8, UInt8, UInt8) = (0, 0, 0), pixelAspect: Double = 1)
        -> (image: RGBImage, transform: LetterboxTransform)
    {
        precondition(side > 0)
        let t = LetterboxTransform(originalWidth: image.width, originalHeight: image.height, side: side, pixelAspect: pixelAspect)
        let p = t.padded
        let out = Resampler.resample(
            image, x: Resampler.taps(from: image.width, to: side, padded: p.width, offset: p.left),
            y: Resampler.taps(from: image.height, to: side, padded: p.height, offset: p.top), padding: padding)
        return (out, t)
    }
}
