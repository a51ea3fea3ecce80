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

/// An uploaded file turned into what the engine reads.
struct PreparedImage: Sendable {
    /// The model's square (letterboxed) or, for previews, the rendered image at its own size.
    var model: ModelImage
    /// Maps model boxes back to original pixels; nil for previews.
    var transform: LetterboxTransform?
    /// Identifier-free facts about the file (format, size, modality, window...).
    var metadata: ImageMetadata

    /// The model's boxes in original pixels; boxes wholly on the padding are dropped.
    func pixels(of boxes: [ModelBox], imageIndex: Int) -> [AnswerBox] {
        guard let transform else { return [] }
        return boxes.compactMap { box in
            let coordinates = [box.y0, box.x0, box.y1, box.x1]
            guard let pixel = transform.originalBox(fromNormalized: coordinates) else { return nil }
            return AnswerBox(label: box.label, x0: pixel.x0, y0: pixel.y0, x1: pixel.x1, y1: pixel.y1, box2D: coordinates,
                             image: imageIndex)
        }
    }
}

/// The server's one door to the imaging module: decode, window, letterbox, mark.
struct ImagePreparer: Sendable {
    var maxPixels: Int

    /// Decodes `bytes` and renders what the model sees: letterboxed to `side` when given, else the
    /// whole rendered frame (the page's preview).
    func prepare(_ bytes: [UInt8], options: ImageOptions, side: Int?) throws -> PreparedImage {
        let study = try ImageDecoder.decode(data: Data(bytes), options: DecodeOptions(maxPixels: maxPixels))
        let index = options.frame ?? options.slice
        let source = try index.map { try study.frame($0) } ?? study.representativeFrame()
        let marks = options.region.map { $0.marks(width: source.width, height: source.height) } ?? []
        if let side {
            let (square, transform) = try ModelInput.image(from: study, frame: index, window: options.window, side: side, marks: marks)
            return PreparedImage(model: try ModelImage(square), transform: transform, metadata: study.metadata)
        }
        var rendered = Renderer.render(source, window: options.window)
        if !marks.isEmpty { RegionMark.draw(marks, on: &rendered, transform: nil) }
        // The page maps clicks through metadata width/height, so a stretched preview still marks original pixels.
        rendered = Letterbox.squarePixels(rendered, pixelAspect: source.pixelAspect)
        return PreparedImage(model: try ModelImage(rendered), transform: nil, metadata: study.metadata)
    }

    /// Decodes every file of a volume (one NIfTI or multi-frame DICOM, or a single-frame series)
    /// and applies the CT recipe. Errors name the file they came from.
    func prepareVolume(_ files: [(name: String, bytes: [UInt8])], packing: VolumeInput.Packing?, window: MedImaging.WindowChoice,
                       maximum: Int, side: Int) throws -> VolumeInput {
        let studies = try files.map { file in
            do {
                return try ImageDecoder.decode(data: Data(file.bytes), options: DecodeOptions(maxPixels: maxPixels))
            } catch let error as ImagingError {
                throw LabError.from(error, field: file.name)
            }
        }
        do {
            return try VolumeInput.make(from: studies, packing: packing, window: window, maximum: maximum, side: side)
        } catch let error as ImagingError {
            throw LabError.from(error, field: "volume")
        }
    }

    /// A PNG of a prepared image.
    func png(_ image: PreparedImage) throws -> Data {
        try ImageEncoder.png(RGBImage(width: image.model.width, height: image.model.height, pixels: image.model.rgb))
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
