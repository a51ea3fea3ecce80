import Foundation
import MedImaging
import MedLabRecord

/// One series of a cached study: its files in slice order and what the API says about it.
///
/// `slice=K` addresses the files of a series of single-frame files, or the axial slices of a
/// NIfTI volume; `frame=F` the frames of a multi-frame DICOM file (a series of its own).
struct StudySeries: Sendable {
    let summary: SeriesSummary
    /// In slice order.
    let files: [CachedFile]

    init(files: [CachedFile], isLocalizer: Bool) {
        self.files = files
        let first = files[0].study
        let metadata = first.metadata
        let slices = files.count == 1 && first.volume != nil ? first.frameCount : files.count
        let frames = files.count == 1 && first.volume == nil ? first.frameCount : 1
        summary = SeriesSummary(
            seriesID: Self.id(of: files.map(\.sha256)), format: first.format.rawValue, modality: metadata.modality,
            description: first.series?.description, slices: slices, rows: metadata.height, columns: metadata.width, frames: frames,
            pixelSpacingMM: metadata.pixelSpacing?.count == 2 ? metadata.pixelSpacing : nil,
            frameOrder: frames > 1 && first.sliceOrder != Array(0..<frames) ? first.sliceOrder : nil,
            isVolume: !isLocalizer && (slices > 1 || frames > 1), isLocalizer: isLocalizer)
    }

    /// The content-derived id of a set of files: the first 32 hex digits of the SHA-256 of their sorted SHA-256s.
    static func id(of hashes: [String]) -> String {
        String(RecordedAnalysis.sha256(Array(hashes.sorted().joined(separator: "\n").utf8)).prefix(32))
    }

    /// The file and the frame index (as `AnalysisImage.frame` takes it) that slice `slice`, frame `frame` mean.
    func locate(slice: Int, frame: Int?) throws -> (file: CachedFile, frame: Int?) {
        guard (0..<summary.slices).contains(slice) else {
            throw LabError.badRequest(
                code: "invalid_request",
                message: "slice \(slice) does not exist: the series has \(summary.slices) (0 to \(summary.slices - 1))")
        }
        if let frame, !(0..<summary.frames).contains(frame) {
            throw LabError.badRequest(
                code: "invalid_request",
                message: "frame \(frame) does not exist: each slice has \(summary.frames) (0 to \(summary.frames - 1))")
        }
        if files.count == 1, files[0].study.volume != nil { return (files[0], slice) }
        return (files[slice], frame)
    }

    /// The decoded frame of `slice` (and `frame`), in modality values.
    func image(slice: Int, frame: Int?) throws -> MedImage {
        let (file, index) = try locate(slice: slice, frame: frame)
        return try index.map { try file.study.frame($0) } ?? file.study.representativeFrame()
    }
}

/// What the API says about one series; never a DICOM UID.
struct SeriesSummary: Encodable, Sendable {
    var seriesID: String
    var format: String
    var modality: String?
    var description: String?
    var slices: Int
    var rows: Int
    var columns: Int
    var frames: Int
    /// `[row spacing, column spacing]` in mm, as DICOM Pixel Spacing.
    var pixelSpacingMM: [Double]?
    /// A multi-frame file's stored frame indices (0-based) in slice order, when they are not in
    /// it already (an enhanced file's Plane Positions along the normal): a viewer steps through
    /// them in this order, while `frame=F` keeps DICOM's stored numbering.
    var frameOrder: [Int]?
    var isVolume: Bool
    var isLocalizer: Bool

    enum CodingKeys: String, CodingKey {
        case format, modality, description, slices, rows, columns, frames
        case seriesID = "series_id"
        case pixelSpacingMM = "pixel_spacing_mm"
        case frameOrder = "frame_order"
        case isVolume = "is_volume"
        case isLocalizer = "is_localizer"
    }
}

/// A file an upload left out, and why (not an image, a path outside the archive, a ZIP bomb...).
struct SkippedFile: Encodable, Sendable, Equatable {
    var name: String
    var reason: String
}
