import Foundation
import MedImaging
import Testing

@testable import MedLabServer

/// The study cache's size bound, sharing of files between studies, and least-recently-used eviction.
struct StudyCacheTests {
    /// A cached file of one 16×16 grey frame: 1024 bytes of samples plus `extra` bytes of upload.
    private func file(_ name: String, extra: Int = 0) throws -> CachedFile {
        let frame = try MedImage(width: 16, height: 16, channels: 1, samples: Array(repeating: 0, count: 256), photometric: .monochrome2)
        let study = DecodedStudy(format: .dicom, frames: [frame], metadata: ImageMetadata(format: .dicom, width: 16, height: 16))
        return CachedFile(sha256: name, bytes: Array(repeating: 0, count: extra), study: study)
    }

    private func study(_ id: String, _ files: [CachedFile]) -> CachedStudy {
        CachedStudy(id: id, series: [StudySeries(files: files, isLocalizer: false)], skipped: [])
    }

    @Test func sharedFilesCountOnceAndTheLeastRecentlyUsedStudyGoesFirst() throws {
        let (a, b, c, d) = (try file("a"), try file("b"), try file("c"), try file("d"))
        let cache = StudyCache(capacity: 3 * 1024)
        try cache.insert(study("one", [a, b]))
        try cache.insert(study("two", [b, c]))  // b is held once
        #expect(cache.usage.bytes == 3 * 1024 && cache.usage.studies == 2)
        _ = cache.study("one")  // "two" is now the least recently used
        try cache.insert(study("three", [d]))
        #expect(cache.study("two") == nil && cache.study("one") != nil && cache.study("three") != nil)
        #expect(cache.file("c") == nil && cache.file("b") != nil)  // b is still one's
        #expect(cache.usage.bytes == 3 * 1024)
        #expect(throws: LabError.self) { try cache.insert(study("huge", [try file("e", extra: 4096)])) }
        #expect(throws: LabError.self) { try cache.series(study: "two", series: "x") }
    }

    @Test func idsDependOnContentNotOrder() {
        #expect(StudySeries.id(of: ["b", "a"]) == StudySeries.id(of: ["a", "b"]))
        #expect(StudySeries.id(of: ["a"]) != StudySeries.id(of: ["a", "b"]) && StudySeries.id(of: ["a"]).count == 32)
    }
}
