import Foundation
import GRDB
import MedInference
import Testing

@testable import MedLabRecord

/// The record on real SQLite files in a temporary folder: migrations, search, paging, export, checksums.
@Suite("The lab record")
struct LabRecordTests {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("medlab-record-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    func path(_ name: String = "lab.sqlite") -> String { folder.appendingPathComponent(name).path }

    static func entry(
        _ question: String, answer: String = "an answer", context: String? = nil, source: String = "api",
        created: Date = Date()
    ) -> RecordedAnalysis {
        var a = RecordedAnalysis(
            createdAt: created, source: source, question: question, context: context,
            images: [
                RecordedImage(
                    sha256: String(repeating: "a", count: 64), format: "png", modality: nil,
                    width: 10, height: 8, window: "default")
            ],
            params: RecordedParams(maxNewTokens: 8, temperature: 0), model: RecordedModel(name: "m.gguf", file: "m.gguf"),
            engine: RecordedEngine(kind: "in_process", backend: "cpu"))
        a.answer = answer
        a.timings = RecordedTimings(totalMs: 12.5)
        return a
    }

    @Test func anEmptyFileGetsEveryMigrationInWALMode() throws {
        let record = try LabRecord(path: path())
        #expect(try record.appliedMigrations() == ["v1-analyses", "v2-search", "v3-experiments", "v4-fields", "v5-model-input"])
        let mode = try record.pool.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
        #expect(try record.integrityCheck() == "ok")
    }

    @Test func aFileOfTheFirstSchemaUpgradesAndItsRowsBecomeSearchable() throws {
        // A record written before search existed: only the first migration, one row in it.
        let queue = try DatabaseQueue(path: path())
        try RecordSchema.migrator.migrate(queue, upTo: "v1-analyses")
        // A row as the first schema wrote it (raw SQL: today's insert names later columns).
        try queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO analysis (id, created_at, source, status, question, answer, boxes, params, model_name, engine, timings, usage)
                    VALUES ('old1', '2026-11-01T10:00:00.000Z', 'api', 'ok', 'old pleural effusion question', 'small', '[]', '{}', 'm.gguf',
                            '{"kind": "in_process", "backend": "cpu"}', '{}', '{}')
                    """)
        }
        try queue.close()

        let record = try LabRecord(path: path())
        #expect(try record.appliedMigrations() == ["v1-analyses", "v2-search", "v3-experiments", "v4-fields", "v5-model-input"])
        let found = try record.list(RecordFilter(text: "effusion"))
        #expect(found.analyses.map(\.question) == ["old pleural effusion question"])
        #expect(found.analyses.first?.fields == nil)
        // New rows of every later column go into the upgraded file.
        var constrained = Self.entry("new fields question")
        constrained.fields = .object(["effusion": .bool(true)])
        try record.save(constrained)
        #expect(try record.analysis(id: constrained.id)?.fields == .object(["effusion": .bool(true)]))
    }

    @Test func aV4FileUpgradesAndKeepsModelInputCopiesByImage() throws {
        // A record as v4 left it: one analysis with one image (raw SQL: today's insert names later columns).
        let queue = try DatabaseQueue(path: path())
        try RecordSchema.migrator.migrate(queue, upTo: "v4-fields")
        let sha = String(repeating: "c", count: 64)
        try queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO analysis (id, created_at, source, status, question, answer, boxes, params, model_name, engine, timings, usage)
                    VALUES ('v4', '2026-12-01T10:00:00.000Z', 'api', 'ok', 'a v4 question', 'old', '[]', '{}', 'm.gguf',
                            '{"kind": "in_process", "backend": "cpu"}', '{}', '{}');
                    INSERT INTO analysis_image (analysis_id, position, sha256, format, width, height) VALUES ('v4', 0, ?, 'png', 10, 8);
                    """, arguments: [sha])
        }
        try queue.close()

        let record = try LabRecord(path: path())
        #expect(try record.appliedMigrations().last == "v5-model-input")
        let old = try #require(try record.analysis(id: "v4"))
        #expect(old.images.map(\.modelInput) == [nil])
        #expect(try record.list(RecordFilter(hasModelInput: true)).analyses.isEmpty)
        #expect(try record.modelInput(sha256: sha) == nil)

        // A new analysis of the same file keeps its copy; the image's hash and the copy's both find it.
        var new = Self.entry("a v5 question")
        new.images[0].sha256 = sha
        let copy = ModelInputCopy(png: Data([0x89, 0x50, 0x4E, 0x47, 1]), side: 896)
        try record.save(new, modelInputs: [0: copy])
        #expect(try record.analysis(id: new.id)?.images.first?.modelInput == copy.sha256)
        #expect(try record.modelInput(sha256: copy.sha256) == copy.png)
        #expect(try record.modelInput(sha256: sha) == copy.png)
        #expect(try record.list(RecordFilter(hasModelInput: true)).analyses.map(\.id) == [new.id])

        // Another window of the same file is another copy; the image's hash finds the latest.
        var later = Self.entry("another window")
        later.images[0].sha256 = sha
        later.createdAt = new.createdAt.addingTimeInterval(1)
        let other = ModelInputCopy(png: Data([0x89, 0x50, 0x4E, 0x47, 2]), side: 896)
        try record.save(later, modelInputs: [0: other])
        #expect(try record.modelInput(sha256: sha) == other.png)
        #expect(try record.modelInput(sha256: copy.sha256) == copy.png)

        // A copy goes with the last analysis that names it.
        try record.delete(id: later.id)
        #expect(try record.modelInput(sha256: other.sha256) == nil)
        #expect(try record.modelInput(sha256: sha) == copy.png)
        #expect(try record.integrityCheck() == "ok")
    }

    @Test func savedEntriesComeBackEqual() throws {
        let record = try LabRecord(path: path())
        var a = Self.entry("round trip", context: "prior")
        a.boxes = [RecordedBox(label: "nodule", box2d: [1, 2, 3, 4], pixels: .init(x0: 1, y0: 2, x1: 3, y1: 4))]
        a.createdAt = Date(timeIntervalSince1970: 1_800_000_000.125)
        try record.save(a, thumbnails: [a.images[0].sha256: Data([1, 2, 3])])
        #expect(try record.analysis(id: a.id) == a)
        #expect(try record.thumbnail(sha256: a.images[0].sha256) == Data([1, 2, 3]))
        // Saving the same id again replaces it (a resumed batch row), never duplicates it.
        a.answer = "second"
        try record.save(a)
        #expect(try record.list(RecordFilter()).analyses.map(\.answer) == ["second"])
    }

    @Test func searchMatchesEveryWordInAnyLanguageAndFiltersCombine() throws {
        let record = try LabRecord(path: path())
        try record.save(Self.entry("是否存在肺实变", answer: "未见明显实变"))
        try record.save(Self.entry("Is there a pleural effusion?", answer: "Small left effusion.", source: "batch"))
        try record.save(Self.entry("Fracture?", answer: "No fracture", context: "fall from ladder, 100% sure"))
        func questions(_ filter: RecordFilter) throws -> Set<String> { Set(try record.list(filter).analyses.map(\.question)) }
        #expect(try questions(RecordFilter(text: "肺实变")) == ["是否存在肺实变"])
        #expect(try questions(RecordFilter(text: "实变")) == ["是否存在肺实变"])
        #expect(try questions(RecordFilter(text: "effusion left")) == ["Is there a pleural effusion?"])
        #expect(try questions(RecordFilter(text: "effusion", source: "api")).isEmpty)
        #expect(try questions(RecordFilter(text: "ladder")) == ["Fracture?"])
        // Search syntax in user text is taken literally, never as an FTS5 or LIKE operator.
        #expect(try questions(RecordFilter(text: "100%")) == ["Fracture?"])
        #expect(try questions(RecordFilter(text: "\"effusion OR NEAR(")).isEmpty)
        #expect(try questions(RecordFilter(text: "%")).count == 1)
    }

    @Test func pagesAreNewestFirstAndCursorsAreChecked() throws {
        let record = try LabRecord(path: path())
        let ids = try (0..<7).map { n -> String in
            let a = Self.entry("question \(n)")
            try record.save(a)
            return a.id
        }
        var seen: [String] = []
        var cursor: String?
        repeat {
            let page = try record.list(RecordFilter(), limit: 3, cursor: cursor)
            seen += page.analyses.map(\.id)
            cursor = page.nextCursor
        } while cursor != nil
        #expect(seen == ids.reversed())
        #expect(throws: MedLabRecord.RecordError.self) { try record.list(RecordFilter(), cursor: "x") }
        #expect(throws: MedLabRecord.RecordError.self) { try record.list(RecordFilter(), limit: 0) }
    }

    @Test func datesFilterByDayOrInstantAndBadDatesAreRefused() throws {
        let record = try LabRecord(path: path())
        let day = try Date.ISO8601FormatStyle().parse("2026-11-30T23:59:00Z")
        try record.save(Self.entry("late on the 30th", created: day))
        try record.save(Self.entry("on the 1st", created: day.addingTimeInterval(120)))
        func questions(_ filter: RecordFilter) throws -> [String] { try record.list(filter).analyses.map(\.question) }
        #expect(try questions(RecordFilter(until: "2026-11-30")) == ["late on the 30th"])
        #expect(try questions(RecordFilter(since: "2026-12-01")) == ["on the 1st"])
        #expect(try questions(RecordFilter(since: "2026-11-30T23:59:30Z")) == ["on the 1st"])
        #expect(throws: MedLabRecord.RecordError.self) { try record.list(RecordFilter(since: "last week")) }
    }

    @Test func deletingRemovesTheEntryAndItsUnsharedThumbnail() throws {
        let record = try LabRecord(path: path())
        let a = Self.entry("to delete")
        let b = Self.entry("to keep")
        try record.save(a, thumbnails: [a.images[0].sha256: Data([9])])
        try record.save(b)
        #expect(try record.delete(id: a.id))
        #expect(try record.thumbnail(sha256: a.images[0].sha256) != nil)  // b names the same image
        #expect(try record.delete(id: b.id))
        #expect(try record.thumbnail(sha256: a.images[0].sha256) == nil)
        #expect(try record.delete(id: a.id) == false)
    }

    @Test func csvQuotesWhatNeedsQuotingAndStatsCountAndMedian() throws {
        var a = Self.entry("a \"quoted\", question\nwith a newline")
        a.timings.totalMs = 10
        let line = try RecordExport.line(a, format: .csv)
        #expect(line.hasPrefix(a.id + ","))
        #expect(line.contains("\"a \"\"quoted\"\", question\nwith a newline\""))
        #expect(RecordExport.header(.csv).split(separator: ",").count == RecordExport.csvColumns.count)

        let record = try LabRecord(path: path())
        for (n, ms) in [10.0, 30, 20].enumerated() {
            var entry = Self.entry("q\(n)", source: n == 0 ? "ask" : "api")
            entry.timings.totalMs = ms
            try record.save(entry)
        }
        var failed = Self.entry("failed")
        failed.fail(code: "timeout", message: "too slow")
        try record.save(failed)
        let stats = try record.stats()
        #expect(stats.total == 4 && stats.errors == 1)
        #expect(stats.bySource == ["ask": 1, "api": 3])
        #expect(stats.medianMs["total_ms"] == 20)
    }

    @Test func checksumsAreCachedByFileVersionAndFilledIntoEarlierEntries() async throws {
        let record = try LabRecord(path: path())
        let model = path("model.gguf")
        try Data("weights".utf8).write(to: URL(fileURLWithPath: model))
        let writer = RecordWriter(record: record)
        writer.submit(Self.entry("before the checksum"), modelPath: model)
        await writer.settled()
        let digest = await FileChecksums.checksum(of: model, record: record)
        #expect(digest == RecordedAnalysis.sha256(Data("weights".utf8)))
        writer.checksumKnown(path: model, sha256: digest!)
        writer.submit(Self.entry("after the checksum"), modelPath: model)
        await writer.settled()
        #expect(try record.list(RecordFilter()).analyses.map(\.model.sha256) == [digest, digest])
        // The cache answers for the same size and time; a changed file is hashed again.
        try record.storeChecksum(path: model, size: 7, mtime: try Self.mtime(model), sha256: "cached")
        #expect(await FileChecksums.checksum(of: model, record: record) == "cached")
        try Data("new weights".utf8).write(to: URL(fileURLWithPath: model))
        #expect(await FileChecksums.checksum(of: model, record: record) == RecordedAnalysis.sha256(Data("new weights".utf8)))
        await writer.close()
    }

    @Test func aRecordThatCannotBeOpenedLeavesTheSessionDegraded() throws {
        try Data("not a database, just text that is long enough to be read as a header".utf8).write(
            to: URL(fileURLWithPath: path("bad.sqlite")))
        let session = RecordSession.open(path: path("bad.sqlite"))
        #expect(session.writer == nil)
        #expect(session.health.status == "degraded")
        #expect(session.health.message?.contains("bad.sqlite") == true)
        #expect(RecordSession.off.health.status == "off")
    }

    static func mtime(_ path: String) throws -> Double {
        let date = try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date
        return date?.timeIntervalSince1970 ?? 0
    }
}
