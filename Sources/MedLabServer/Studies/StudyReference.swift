import Foundation
import MedImaging
import MedInference

/// `"study": {"id", "series", "slices": [K…] or "volume": true, "window", "frame"}`: images by
/// reference to an uploaded study (`POST /api/studies`) instead of their bytes, on `/api/predict`
/// and, as an extension field, on `/v1/chat/completions`.
struct StudyReference: Decodable, Sendable {
    var id: String
    var series: String
    /// Slices to show as separate images, in this order (0-based, in the series' order).
    var slices: [Int]?
    /// The whole series as one volume (Google's CT recipe), as `volume` on `/api/predict`.
    var volume: VolumeParameter?
    var window: WindowParameter?
    /// Frame of a multi-frame file.
    var frame: Int?

    /// The reference from a multipart form's `study` text part (JSON).
    static func parse(_ text: String) throws -> StudyReference {
        do {
            return try JSONDecoder().decode(StudyReference.self, from: Data(text.utf8))
        } catch let error as LabError {
            throw error
        } catch {
            throw LabError.badRequest(
                code: "invalid_request", message: "`study` must be JSON: {\"id\", \"series\", \"slices\": [0]} or \"volume\": true")
        }
    }
}

/// What a study reference stands for: the images or the volume an upload of the same files gives.
enum StudyInput: Sendable {
    case images([AnalysisImage])
    case volume(studies: [DecodedStudy], sha256: [String], packing: VolumeInput.Packing?, window: WindowChoice)
}

extension LabServices {
    /// Resolves a reference against the study cache (404 when the study is gone): separate slices
    /// become the `AnalysisImage`s `ImagePreparer` makes of uploaded bytes, so the prompt is the same.
    func studyInput(_ reference: StudyReference, options: ImageOptions, volume: VolumeParameter?) async throws -> StudyInput {
        let series = try studies.series(study: reference.id, series: reference.series)
        var options = options
        options.window = reference.window?.choice ?? options.window
        let frame = reference.frame ?? options.frame
        let asVolume = reference.volume ?? volume ?? .off
        if asVolume != .off {
            guard reference.slices == nil else {
                throw LabError.badRequest(code: "invalid_request", message: "`study` takes `slices` or `volume`, not both")
            }
            return .volume(
                studies: series.files.map(\.study), sha256: series.files.map(\.sha256), packing: asVolume.packing, window: options.window)
        }
        let slices =
            try reference.slices
            ?? {
                guard series.summary.slices == 1 else {
                    throw LabError.badRequest(
                        code: "invalid_request",
                        message: "the series has \(series.summary.slices) slices: say which in `study.slices`, or send `study.volume`: true"
                    )
                }
                return [0]
            }()
        guard !slices.isEmpty else { throw LabError.badRequest(code: "missing_image", message: "`study.slices` is empty") }
        guard slices.count <= configuration.maxImages else {
            throw LabError.tooLarge("\(slices.count) slices in one request; the limit is \(configuration.maxImages)")
        }
        let images = self.images
        let chosen = options
        return .images(
            try await decoding.run {
                try slices.map { slice in
                    let (file, index) = try series.locate(slice: slice, frame: frame)
                    do {
                        var image = try images.analysisImage(study: file.study, frame: index, options: chosen)
                        image.sourceSHA256 = file.sha256
                        return image
                    } catch let error as ImagingError {
                        throw LabError.from(error, field: "study")
                    }
                }
            })
    }
}
