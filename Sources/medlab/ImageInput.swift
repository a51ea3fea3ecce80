import Foundation
import MedImaging
import MedInference

/// An image file decoded once, then rendered for the model when its square size is known.
struct ImageInput {
    let path: String
    let study: DecodedStudy

    /// Reads PNG, JPEG, DICOM or NIfTI; a bad file fails here, before the model loads.
    static func load(path: String) throws -> ImageInput {
        ImageInput(path: path, study: try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: path)))
    }

    /// The model's view: windowed, letterboxed into `side`, with the transform that maps boxes back.
    func modelImage(side: Int, window: WindowChoice, frame: Int?) throws -> (image: ModelImage, transform: LetterboxTransform) {
        let (square, transform) = try ModelInput.image(from: study, frame: frame, window: window, side: side)
        return (try ModelImage(square), transform)
    }
}
