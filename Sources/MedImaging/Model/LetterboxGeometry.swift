import Foundation

/// Where the image sits in the model's square, as `medlab convert --model-input --json` and
/// `POST /api/render` with `model_input` report it (one type, so the two always agree).
public struct LetterboxGeometry: Sendable, Codable, Equatable {
    /// Side of the square in pixels (896 for MedGemma).
    public var side: Int
    /// The rendered frame before letterboxing (stored pixels).
    public var originalWidth: Int
    public var originalHeight: Int
    /// The image's rectangle inside the square to the nearest pixel, `offsetX, offsetY` its
    /// top-left; the rest is padding.
    public var offsetX: Int
    public var offsetY: Int
    public var contentWidth: Int
    public var contentHeight: Int
    /// Square pixels per original pixel along each axis (they differ for non-square pixels).
    public var scaleX: Double
    public var scaleY: Double
    /// The image's top-left corner in square pixels, exactly (padding is whole original pixels,
    /// so after resizing it often ends half a pixel off a whole one).
    public var originX: Double
    public var originY: Double

    public init(_ transform: LetterboxTransform) {
        side = transform.side
        originalWidth = transform.originalWidth
        originalHeight = transform.originalHeight
        offsetX = transform.offsetX
        offsetY = transform.offsetY
        contentWidth = transform.contentWidth
        contentHeight = transform.contentHeight
        scaleX = transform.scaleX
        scaleY = transform.scaleY
        originX = transform.originX
        originY = transform.originY
    }

    enum CodingKeys: String, CodingKey {
        case side
        case originalWidth = "original_width"
        case originalHeight = "original_height"
        case offsetX = "offset_x"
        case offsetY = "offset_y"
        case contentWidth = "content_width"
        case contentHeight = "content_height"
        case scaleX = "scale_x"
        case scaleY = "scale_y"
        case originX = "origin_x"
        case originY = "origin_y"
    }
}
