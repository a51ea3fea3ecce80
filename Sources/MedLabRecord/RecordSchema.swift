import GRDB

/// The record's tables, one migration each; docs/record.md describes them. A migration once
/// released is never edited: a change is a new migration, so every older file upgrades in place.
enum RecordSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-analyses") { db in
            try db.execute(
                sql: """
                    CREATE TABLE analysis (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        id TEXT NOT NULL UNIQUE,
                        created_at TEXT NOT NULL,
                        source TEXT NOT NULL,
                        run_id TEXT,
                        status TEXT NOT NULL,
                        question TEXT NOT NULL,
                        context TEXT,
                        system TEXT,
                        answer TEXT,
                        reasoning TEXT,
                        boxes TEXT NOT NULL,
                        params TEXT NOT NULL,
                        model_name TEXT NOT NULL,
                        model_file TEXT,
                        model_path TEXT,
                        model_sha256 TEXT,
                        projector_file TEXT,
                        projector_path TEXT,
                        projector_sha256 TEXT,
                        engine TEXT NOT NULL,
                        timings TEXT NOT NULL,
                        usage TEXT NOT NULL,
                        finish_reason TEXT,
                        error_code TEXT,
                        error_message TEXT
                    );
                    CREATE INDEX analysis_created_at ON analysis(created_at);
                    CREATE INDEX analysis_run_id ON analysis(run_id);
                    CREATE TABLE analysis_image (
                        analysis_id TEXT NOT NULL REFERENCES analysis(id) ON DELETE CASCADE,
                        position INTEGER NOT NULL,
                        sha256 TEXT NOT NULL,
                        format TEXT NOT NULL,
                        modality TEXT,
                        width INTEGER NOT NULL,
                        height INTEGER NOT NULL,
                        frame INTEGER,
                        slices TEXT,
                        window TEXT,
                        letterbox TEXT,
                        PRIMARY KEY (analysis_id, position)
                    );
                    CREATE INDEX analysis_image_sha256 ON analysis_image(sha256);
                    CREATE TABLE thumbnail (
                        sha256 TEXT PRIMARY KEY,
                        png BLOB NOT NULL
                    );
                    CREATE TABLE file_checksum (
                        path TEXT PRIMARY KEY,
                        size INTEGER NOT NULL,
                        mtime REAL NOT NULL,
                        sha256 TEXT NOT NULL
                    );
                    """)
        }
        // Full-text search: trigrams match any substring of three characters or more in any
        // language (Chinese has no spaces between words); shorter terms fall back to LIKE.
        migrator.registerMigration("v2-search") { db in
            try db.execute(
                sql: """
                    CREATE VIRTUAL TABLE analysis_fts USING fts5(
                        question, context, answer, content='analysis', content_rowid='seq', tokenize='trigram');
                    CREATE TRIGGER analysis_fts_insert AFTER INSERT ON analysis BEGIN
                        INSERT INTO analysis_fts(rowid, question, context, answer) VALUES (new.seq, new.question, new.context, new.answer);
                    END;
                    CREATE TRIGGER analysis_fts_delete AFTER DELETE ON analysis BEGIN
                        INSERT INTO analysis_fts(analysis_fts, rowid, question, context, answer)
                            VALUES ('delete', old.seq, old.question, old.context, old.answer);
                    END;
                    CREATE TRIGGER analysis_fts_update AFTER UPDATE OF question, context, answer ON analysis BEGIN
                        INSERT INTO analysis_fts(analysis_fts, rowid, question, context, answer)
                            VALUES ('delete', old.seq, old.question, old.context, old.answer);
                        INSERT INTO analysis_fts(rowid, question, context, answer) VALUES (new.seq, new.question, new.context, new.answer);
                    END;
                    INSERT INTO analysis_fts(analysis_fts) VALUES ('rebuild');
                    """)
        }
        // Experiments: prompt-comparison grids and regression runs; their cells and cases are
        // analyses whose run_id is the experiment's id.
        migrator.registerMigration("v3-experiments") { db in
            try db.execute(
                sql: """
                    CREATE TABLE experiment (
                        id TEXT PRIMARY KEY,
                        kind TEXT NOT NULL,
                        name TEXT,
                        created_at TEXT NOT NULL,
                        model_file TEXT,
                        model_sha256 TEXT,
                        pass_rate REAL,
                        body TEXT NOT NULL
                    );
                    CREATE INDEX experiment_kind_name ON experiment(kind, name, created_at);
                    """)
        }
        // Structured output: the answer's object under a schema.
        migrator.registerMigration("v4-fields") { db in
            try db.execute(sql: "ALTER TABLE analysis ADD COLUMN fields TEXT")
        }
        // Opt-in copies of the model's input (`--record-images model-input`): the letterboxed
        // square as a PNG of pixels only, named by the SHA-256 of that PNG; each image row names
        // the copy it was given, so two windows of one file keep two copies.
        migrator.registerMigration("v5-model-input") { db in
            try db.execute(
                sql: """
                    CREATE TABLE model_input (
                        sha256 TEXT PRIMARY KEY,
                        png BLOB NOT NULL,
                        side INTEGER NOT NULL
                    );
                    ALTER TABLE analysis_image ADD COLUMN model_input TEXT;
                    CREATE INDEX analysis_image_model_input ON analysis_image(model_input);
                    """)
        }
        return migrator
    }
}
