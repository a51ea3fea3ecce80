import Foundation
import MedImaging
import MedInference

/// How a client wants a file shown to the model (window/frame/slice are ignored for photos).
struct ImageOptions: Sendable {
    var window: MedImaging.WindowChoice = .fileDefault
    /// Frame of a multi-frame DICOM (0-based).
    var frame: Int?
    /// Axial slice of a volume (0-based).
    var slice: Int?
    /// A region to draw onto the image, in original pixel coordinates.
    var region: RegionRequest?
}

/// A box in original pixel coordinates, as the API returns it.
struct AnswerBox: Codable, Sendable, Equatable {
    var label: String
    var x0: Double
    var y0: Double
    var x1: Double
    var y1: Double
    /// The model's own `[y0, x0, y1, x1]` on the 0–1000 square.
    var box2D: [Double]
    /// Which image of the request the box belongs to (the last one).
    var image: Int = 0

    enum CodingKeys: String, CodingKey {
        case label, x0, y0, x1, y1, image
        case box2D = "box_2d"
    }
}

/// An uploaded file rendered for the page's preview (`/api/render`).
struct PreparedImage: Sendable {
    /// The rendered frame at its own size, square pixels.
    var model: ModelImage
    /// Identifier-free facts about the file (format, size, modality, window...).
    var metadata: ImageMetadata
}

extension PreparedAnalysis {
    /// The model's boxes in the original pixels of the last image (boxes wholly on the padding dropped).
    func answerBoxes(_ boxes: [ModelBox]) -> [AnswerBox] {
        let imageIndex = max(0, letterboxes.count - 1)
        return pixelBoxes(boxes).compactMap { box, pixel in
            guard let pixel else { return nil }
            return AnswerBox(
                label: box.label, x0: pixel.x0, y0: pixel.y0, x1: pixel.x1, y1: pixel.y1,
                box2D: [box.y0, box.x0, box.y1, box.x1], image: imageIndex)
        }
    }
}

/// The server's one door to the imaging module: decoding uploads (with the client's choices) for
/// `AnalysisProcessor`, and previews.
struct ImagePreparer: Sendable {
    var maxPixels: Int

    /// Decodes `bytes` into an analysis image: the frame, window and region marks the client chose.
    func analysisImage(_ bytes: [UInt8], options: ImageOptions) throws -> AnalysisImage {
        try analysisImage(study: try decode(bytes), frame: options.frame ?? options.slice, options: options)
    }

    /// An analysis image of an already decoded study (a cached study's slice), made as an upload's is.
    func analysisImage(study: DecodedStudy, frame index: Int?, options: ImageOptions) throws -> AnalysisImage {
        var marks: [RegionMark] = []
        if let region = options.region {
            let source = try index.map { try study.frame($0) } ?? study.representativeFrame()
            marks = region.marks(width: source.width, height: source.height)
        }
        return AnalysisImage(study: study, frame: index, window: options.window, marks: marks)
    }

    /// Renders the whole frame for the page's preview, with the marks drawn.
    func preview(_ bytes: [UInt8], options: ImageOptions) throws -> PreparedImage {
        let study = try decode(bytes)
        let index = options.frame ?? options.slice
        let source = try index.map { try study.frame($0) } ?? study.representativeFrame()
        var rendered = Renderer.render(source, window: options.window)
        if let region = options.region {
            RegionMark.draw(region.marks(width: source.width, height: source.height), on: &rendered, transform: nil)
        }
        // The page maps clicks through metadata width/height, so a stretched preview still marks original pixels.
        rendered = Letterbox.squarePixels(rendered, pixelAspect: source.pixelAspect)
        return PreparedImage(model: rendered, metadata: study.metadata)
    }

    /// Decodes every file of a volume; errors name the file they came from.
    func volumeStudies(_ files: [(name: String, bytes: [UInt8])]) throws -> [DecodedStudy] {
        try files.map { file in
            do {
                return try decode(file.bytes)
            } catch let error as ImagingError {
                throw LabError.from(error, field: file.name)
            }
        }
    }

    /// A PNG of a prepared image.
    func png(_ image: PreparedImage) throws -> Data { try ImageEncoder.png(image.model) }

    /// Decodes an upload with the server's limits (the study cache decodes its files here too).
    func decode(_ bytes: [UInt8]) throws -> DecodedStudy {
        try ImageDecoder.decode(data: Data(bytes), options: DecodeOptions(maxPixels: maxPixels))
    }
}

/// A mark a user made on the image: a rectangle, or points (drawn as rings).
enum RegionRequest: Sendable, Equatable {
    case points([[Double]])
    case rectangle(x0: Double, y0: Double, x1: Double, y1: Double)

    /// The imaging module's marks; a point's ring is 1/30 of the longer side, big enough to see at 896 px.
    func marks(width: Int, height: Int) -> [RegionMark] {
        switch self {
        case .rectangle(let x0, let y0, let x1, let y1):
            return [RegionMark(.rectangle(PixelBox(x0: min(x0, x1), y0: min(y0, y1), x1: max(x0, x1), y1: max(y0, y1))))]
        case .points(let points):
            let radius = max(4, Double(max(width, height)) / 30)
            return points.map { RegionMark(.ring(centerX: $0[0], centerY: $0[1], radius: radius)) }
        }
    }
}
