import Foundation
import GRDB

/// The lab record: a SQLite file (WAL, so `serve` and `batch` can write it at once) holding
/// every analysis, its images by hash, thumbnails and cached model checksums.
public final class LabRecord: Sendable {
    public let path: String
    let pool: DatabasePool

    /// `$XDG_DATA_HOME/medlab/lab.sqlite`, else `~/.local/share/medlab/lab.sqlite`.
    public static var defaultPath: String {
        let environment = ProcessInfo.processInfo.environment
        let base =
            environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".local/share")
        return ((base as NSString).appendingPathComponent("medlab") as NSString).appendingPathComponent("lab.sqlite")
    }

    /// Opens (creating folder and file when needed) and migrates the record at `path`.
    public init(path: String = LabRecord.defaultPath) throws {
        self.path = path
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        var configuration = Configuration()
        // Another process (a batch beside the server) may hold the write lock for a moment.
        configuration.busyMode = .timeout(15)
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try RecordSchema.migrator.migrate(pool)
        } catch {
            throw RecordError.unavailable("cannot open the record \(path): \(error)")
        }
    }

    /// Migrations applied so far, oldest first.
    public func appliedMigrations() throws -> [String] {
        try pool.read { try RecordSchema.migrator.appliedMigrations($0) }
    }

    /// Writes `analysis` (replacing one with the same id), any thumbnails not stored yet and the
    /// copies of the model's input (by image position; each image row then names its copy), in one transaction.
    public func save(
        _ analysis: RecordedAnalysis, modelPath: String? = nil, projectorPath: String? = nil,
        thumbnails: [String: Data] = [:], modelInputs: [Int: ModelInputCopy] = [:]
    ) throws {
        var analysis = analysis
        for (position, copy) in modelInputs where analysis.images.indices.contains(position) {
            analysis.images[position].modelInput = copy.sha256
        }
        try wrap {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM analysis WHERE id = ?", arguments: [analysis.id])
                try RecordRows.insert(analysis, modelPath: modelPath, projectorPath: projectorPath, into: db)
                for (sha, png) in thumbnails {
                    try db.execute(sql: "INSERT OR IGNORE INTO thumbnail (sha256, png) VALUES (?, ?)", arguments: [sha, png])
                }
                for copy in modelInputs.values {
                    try db.execute(
                        sql: "INSERT OR IGNORE INTO model_input (sha256, png, side) VALUES (?, ?, ?)",
                        arguments: [copy.sha256, copy.png, copy.side])
                }
                // A replaced entry may have named another copy.
                try db.execute(sql: Self.orphanedModelInputs)
            }
        }
    }

    private static let orphanedModelInputs =
        "DELETE FROM model_input WHERE sha256 NOT IN (SELECT model_input FROM analysis_image WHERE model_input IS NOT NULL)"

    /// One page of analyses matching `filter`, newest first, and the cursor of the next page.
    public func list(_ filter: RecordFilter, limit: Int = 50, cursor: String? = nil) throws -> (
        analyses: [RecordedAnalysis], nextCursor: String?
    ) {
        guard (1...1000).contains(limit) else { throw RecordError.badRequest("limit must be between 1 and 1000") }
        var before: Int64?
        if let cursor {
            guard let value = Int64(cursor), value > 0 else {
                throw RecordError.badRequest("the cursor \(cursor) is not one this server gave")
            }
            before = value
        }
        let (whereSQL, arguments) = try filter.sql(before: before)
        return try wrap {
            try pool.read { db in
                let rows = try Row.fetchAll(
                    db, sql: "SELECT * FROM analysis \(whereSQL) ORDER BY seq DESC LIMIT ?",
                    arguments: arguments + [limit + 1])
                let page = Array(rows.prefix(limit))
                let analyses = try page.map { try RecordRows.analysis(from: $0, db: db) }
                let next: String? = rows.count > limit ? page.last.map { String($0["seq"] as Int64) } : nil
                return (analyses, next)
            }
        }
    }

    /// Every analysis matching `filter`, newest first, handed over a page at a time (exports stream).
    public func forEach(_ filter: RecordFilter, pageSize: Int = 200, _ body: ([RecordedAnalysis]) async throws -> Void) async throws {
        var cursor: String?
        repeat {
            let page = try list(filter, limit: pageSize, cursor: cursor)
            if !page.analyses.isEmpty { try await body(page.analyses) }
            cursor = page.nextCursor
        } while cursor != nil
    }

    /// The analysis with this id, or `nil`.
    public func analysis(id: String) throws -> RecordedAnalysis? {
        try wrap {
            try pool.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM analysis WHERE id = ?", arguments: [id]).map {
                    try RecordRows.analysis(from: $0, db: db)
                }
            }
        }
    }

    /// Deletes one analysis (its image rows go with it; thumbnails stay while another analysis uses them). False when absent.
    @discardableResult
    public func delete(id: String) throws -> Bool {
        try wrap {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM analysis WHERE id = ?", arguments: [id])
                let deleted = db.changesCount > 0
                try db.execute(sql: "DELETE FROM thumbnail WHERE sha256 NOT IN (SELECT sha256 FROM analysis_image)")
                try db.execute(sql: Self.orphanedModelInputs)
                return deleted
            }
        }
    }

    /// The thumbnail PNG of the image with this hash.
    public func thumbnail(sha256: String) throws -> Data? { try thumbnail(firstOf: [sha256]) }

    /// The thumbnail PNG of the first of these image hashes that has one, in one read.
    public func thumbnail(firstOf hashes: [String]) throws -> Data? {
        guard !hashes.isEmpty else { return nil }
        let marks = Array(repeating: "?", count: hashes.count).joined(separator: ",")
        let found = try wrap {
            try pool.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT sha256, png FROM thumbnail WHERE sha256 IN (\(marks))", arguments: StatementArguments(hashes))
            }
        }
        let pngs = Dictionary(found.map { ($0["sha256"] as String, $0["png"] as Data) }, uniquingKeysWith: { a, _ in a })
        return hashes.lazy.compactMap { pngs[$0] }.first
    }

    /// The PNG copy of a model input: `sha256` names the copy itself (`images[].model_input`) or
    /// an image as uploaded (`images[].sha256`; then the copy its latest analysis was given).
    public func modelInput(sha256: String) throws -> Data? {
        try wrap {
            try pool.read { db in
                if let png = try Data.fetchOne(db, sql: "SELECT png FROM model_input WHERE sha256 = ?", arguments: [sha256]) {
                    return png
                }
                return try Data.fetchOne(
                    db,
                    sql: """
                        SELECT m.png FROM analysis_image i JOIN analysis a ON a.id = i.analysis_id JOIN model_input m ON m.sha256 = i.model_input
                        WHERE i.sha256 = ? ORDER BY a.seq DESC LIMIT 1
                        """,
                    arguments: [sha256])
            }
        }
    }

    /// Counts by model and by source, and median timings.
    public func stats() throws -> RecordStats {
        try wrap { try pool.read { db in try RecordStats.compute(db) } }
    }

    /// Fills in a file's checksum on every analysis that named the file before it was known.
    public func fillChecksum(path: String, sha256: String) throws {
        try wrap {
            try pool.write { db in
                try db.execute(
                    sql: "UPDATE analysis SET model_sha256 = ? WHERE model_path = ? AND model_sha256 IS NULL", arguments: [sha256, path])
                try db.execute(
                    sql: "UPDATE analysis SET projector_sha256 = ? WHERE projector_path = ? AND projector_sha256 IS NULL",
                    arguments: [sha256, path])
            }
        }
    }

    /// A checksum computed earlier for this exact file (same path, size and modification time).
    func cachedChecksum(path: String, size: Int64, mtime: Double) throws -> String? {
        try pool.read { db in
            try String.fetchOne(
                db, sql: "SELECT sha256 FROM file_checksum WHERE path = ? AND size = ? AND mtime = ?",
                arguments: [path, size, mtime])
        }
    }

    func storeChecksum(path: String, size: Int64, mtime: Double, sha256: String) throws {
        try pool.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO file_checksum (path, size, mtime, sha256) VALUES (?, ?, ?, ?)",
                arguments: [path, size, mtime, sha256])
        }
    }

    /// Copies the write-ahead log into the file (on a clean stop), never waiting for other processes.
    public func checkpoint() throws {
        try wrap { _ = try pool.writeWithoutTransaction { db in try db.checkpoint(.passive) } }
    }

    /// `PRAGMA integrity_check`'s answer (`ok` for a sound file).
    public func integrityCheck() throws -> String {
        try pool.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "" }
    }

    /// Database errors become `RecordError.unavailable` (read-only file, full disk, locked too long).
    func wrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as RecordError { throw error } catch {
            throw RecordError.unavailable("the record \(path): \(error)")
        }
    }
}

/// Why the record could not do what was asked.
public enum RecordError: Error, CustomStringConvertible, Equatable {
    /// The caller asked for something malformed (a bad cursor, date or limit): a 400.
    case badRequest(String)
    /// The file cannot be opened, read or written.
    case unavailable(String)

    public var description: String {
        switch self {
        case .badRequest(let message), .unavailable(let message): message
        }
    }
}

/// A PNG of the exact square the model was given (pixels only: no file header is in it).
public struct ModelInputCopy: Sendable, Equatable {
    /// SHA-256 of `png`: the copy's name.
    public var sha256: String
    public var png: Data
    /// Side of the square in pixels.
    public var side: Int

    public init(png: Data, side: Int) {
        self.png = png
        self.side = side
        sha256 = RecordedAnalysis.sha256(png)
    }
}
