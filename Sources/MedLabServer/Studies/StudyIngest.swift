import Foundation
import MedImaging
import MedLabRecord

/// Turns an upload into a cached study: hashes every file, answers at once when the same files
/// were uploaded before, decodes only files the cache does not hold, and groups the series.
struct StudyIngest: Sendable {
    let cache: StudyCache
    let images: ImagePreparer

    /// The study and whether it was already cached. CPU-bound: run it on the `DecodeExecutor`.
    func study(from upload: StudyUpload) throws -> (study: CachedStudy, cached: Bool) {
        var seen = Set<String>()
        var unique: [(name: String, sha256: String, bytes: [UInt8])] = []
        for file in upload.files {
            let sha = RecordedAnalysis.sha256(file.bytes)
            if seen.insert(sha).inserted { unique.append((file.name, sha, file.bytes)) }
        }
        let id = StudySeries.id(of: unique.map(\.sha256))
        if let study = cache.study(id) { return (study, true) }
        var skipped = upload.skipped
        var decoded: [CachedFile] = []
        for file in unique {
            if let cached = cache.file(file.sha256) {
                decoded.append(cached)
                continue
            }
            do {
                decoded.append(CachedFile(sha256: file.sha256, bytes: file.bytes, study: try images.decode(file.bytes)))
            } catch let error as ImagingError {
                skipped.append(SkippedFile(name: file.name, reason: error.description))
            }
        }
        guard !decoded.isEmpty else {
            throw LabError.unsupportedMediaType(
                "none of the \(upload.files.count) file(s) is an image the lab reads (DICOM, NIfTI, PNG, JPEG)"
                    + (upload.files.isEmpty ? "; \(skipped.count) were skipped" : ""))
        }
        let series = SeriesGrouping.group(decoded.map(\.study)).map { group in
            StudySeries(files: group.members.map { decoded[$0] }, isLocalizer: group.isLocalizer)
        }
        let study = CachedStudy(id: id, series: series, skipped: skipped)
        try cache.insert(study)
        return (study, false)
    }
}
