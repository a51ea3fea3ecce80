import Foundation
import GRDB

/// A saved experiment: a comparison grid or a regression run, its report as JSON text.
public struct StoredExperiment: Sendable, Equatable {
    /// `compare` or `regression`.
    public var kind: String
    public var id: String
    /// The regression set's name (`nil` for a grid).
    public var name: String?
    public var createdAt: Date
    public var modelFile: String?
    public var modelSHA256: String?
    public var passRate: Double?
    /// The whole report (grid.json / report.json), as written.
    public var body: Data

    public init(
        kind: String, id: String, name: String?, createdAt: Date = Date(), modelFile: String?, modelSHA256: String?,
        passRate: Double?, body: Data
    ) {
        self.kind = kind
        self.id = id
        self.name = name
        self.createdAt = createdAt
        self.modelFile = modelFile
        self.modelSHA256 = modelSHA256
        self.passRate = passRate
        self.body = body
    }
}

extension LabRecord {
    /// Saves (or replaces) an experiment.
    public func save(experiment e: StoredExperiment) throws {
        try wrap {
            try pool.write { db in
                try db.execute(
                    sql: """
                        INSERT OR REPLACE INTO experiment (id, kind, name, created_at, model_file, model_sha256, pass_rate, body)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        e.id, e.kind, e.name, RecordRows.timestamp(e.createdAt), e.modelFile, e.modelSHA256, e.passRate,
                        String(decoding: e.body, as: UTF8.self)
                    ])
            }
        }
    }

    /// The experiment with this id.
    public func experiment(id: String) throws -> StoredExperiment? {
        try wrap {
            try pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM experiment WHERE id = ?", arguments: [id]).map(Self.experiment) }
        }
    }

    /// Experiments of a kind (and set name), newest first.
    public func experiments(kind: String, name: String? = nil, limit: Int = 100) throws -> [StoredExperiment] {
        try wrap {
            try pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT * FROM experiment WHERE kind = ? AND (? IS NULL OR name = ?) ORDER BY created_at DESC, rowid DESC LIMIT ?
                        """, arguments: [kind, name, name, limit]
                ).map(Self.experiment)
            }
        }
    }

    private static func experiment(_ row: Row) -> StoredExperiment {
        StoredExperiment(
            kind: row["kind"], id: row["id"], name: row["name"], createdAt: RecordRows.date(row["created_at"]) ?? Date(),
            modelFile: row["model_file"], modelSHA256: row["model_sha256"], passRate: row["pass_rate"],
            body: Data((row["body"] as String).utf8))
    }
}
