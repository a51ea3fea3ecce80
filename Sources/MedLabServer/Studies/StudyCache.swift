import Foundation
import MedImaging
import Synchronization

/// The uploaded studies, held in memory and bounded by size: each file's bytes and decoded pixels
/// once (by SHA-256) however many studies share it; the least recently used study goes first.
final class StudyCache: Sendable {
    /// Most bytes the cache holds (`--study-cache-mb`).
    let capacity: Int
    private let state = Mutex(State())

    private struct State {
        var files: [String: CachedFile] = [:]
        var studies: [String: Entry] = [:]
        var clock: UInt64 = 0
        var bytes = 0
    }

    private struct Entry {
        var study: CachedStudy
        var lastUse: UInt64
    }

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    /// The study, marked as just used; nil when it was never uploaded or has been evicted.
    func study(_ id: String) -> CachedStudy? {
        state.withLock { state in
            guard var entry = state.studies[id] else { return nil }
            state.clock += 1
            entry.lastUse = state.clock
            state.studies[id] = entry
            return entry.study
        }
    }

    /// The study, or a 404 that says to upload it again.
    func required(_ id: String) throws -> CachedStudy {
        guard let study = study(id) else {
            throw LabError.notFound(
                "study \(id.prefix(64)) is not in the study cache (never uploaded, or evicted to make room): upload its files again with POST /api/studies"
            )
        }
        return study
    }

    /// A series of a cached study, or a 404 naming what is missing.
    func series(study id: String, series seriesID: String) throws -> StudySeries {
        let study = try required(id)
        guard let series = study.series(seriesID) else {
            throw LabError.notFound("study \(study.id) has no series \(seriesID.prefix(64)); GET /api/studies/\(study.id) lists them")
        }
        return series
    }

    /// A file some cached study holds, so a new upload that shares it is not decoded again.
    func file(_ sha256: String) -> CachedFile? { state.withLock { $0.files[sha256] } }

    /// Keeps `study` (its files once each), evicting the least recently used studies until it
    /// fits; a study larger than the whole cache is refused.
    func insert(_ study: CachedStudy) throws {
        let files = study.series.flatMap(\.files)
        var unique: [String: CachedFile] = [:]
        for file in files { unique[file.sha256] = file }
        let cost = unique.values.reduce(0) { $0 + $1.cost }
        guard cost <= capacity else {
            throw LabError.tooLarge(
                "the study needs \(cost >> 20) MiB decoded; the study cache holds \(capacity >> 20) MiB (--study-cache-mb)")
        }
        state.withLock { state in
            state.clock += 1
            state.studies[study.id] = Entry(study: study, lastUse: state.clock)
            for (sha, file) in unique where state.files[sha] == nil {
                state.files[sha] = file
                state.bytes += file.cost
            }
            while state.bytes > capacity,
                let oldest = state.studies.filter({ $0.key != study.id }).min(by: { $0.value.lastUse < $1.value.lastUse })
            {
                state.studies[oldest.key] = nil
                Self.releaseUnreferenced(&state)
            }
        }
    }

    /// Bytes held and studies kept, for `/metrics` and tests.
    var usage: (bytes: Int, studies: Int) { state.withLock { ($0.bytes, $0.studies.count) } }

    /// Frees files no remaining study refers to.
    private static func releaseUnreferenced(_ state: inout State) {
        var referenced = Set<String>()
        for entry in state.studies.values { referenced.formUnion(entry.study.fileHashes) }
        for (sha, file) in state.files where !referenced.contains(sha) {
            state.files[sha] = nil
            state.bytes -= file.cost
        }
    }
}

/// One uploaded file as the cache keeps it: the bytes, what they decode to, and what that costs.
struct CachedFile: Sendable {
    let sha256: String
    let bytes: [UInt8]
    let study: DecodedStudy
    /// Bytes held in memory: the upload plus its decoded samples (4 bytes each).
    let cost: Int

    init(sha256: String, bytes: [UInt8], study: DecodedStudy) {
        self.sha256 = sha256
        self.bytes = bytes
        self.study = study
        let samples = study.frames.reduce(0) { $0 + $1.samples.count } + (study.volume?.samples.count ?? 0)
        cost = bytes.count + samples * MemoryLayout<Float>.size
    }
}

/// An uploaded study: its series and the files an upload skipped.
struct CachedStudy: Sendable {
    /// SHA-256 of the sorted SHA-256s of its files: the same files give the same id, whatever their names or order.
    let id: String
    let series: [StudySeries]
    let skipped: [SkippedFile]

    var fileHashes: Set<String> { Set(series.flatMap { $0.files.map(\.sha256) }) }

    func series(_ id: String) -> StudySeries? { series.first { $0.summary.seriesID == id } }
}
