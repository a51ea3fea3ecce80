import Foundation
import MedInference

/// An image file decoded and fitted for the model, with its original size for mapping boxes back.
struct ImageInput {
    var model: ModelImage
    var originalWidth: Int
    var originalHeight: Int

    /// Reads PNG or JPEG (DICOM and NIfTI once the imaging module lands).
    static func load(path: String) throws -> ImageInput {
        throw ValidationErrorText("image input is not wired yet: \(path)")
    }
}

struct ValidationErrorText: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
