import ArgumentParser
import Foundation
import MedLabRecord

/// `medlab record`: the lab record from the terminal — list, show, export, delete, stats.
struct Record: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Browse, search, export and prune the lab record (every analysis serve, ask and batch kept).",
        subcommands: [List.self, Show.self, ExportRecord.self, Delete.self, Stats.self])

    /// `--record PATH` for the subcommands (the default file otherwise).
    struct Location: ParsableArguments {
        @Option(name: .customLong("record"), help: "The record file (default: $XDG_DATA_HOME/medlab/lab.sqlite).")
        var path: String?

        func open() throws -> LabRecord {
            let path = self.path ?? LabRecord.defaultPath
            // Reading must not create an empty record where the user expected one.
            guard FileManager.default.fileExists(atPath: path) else { throw ValidationError("no record at \(path)") }
            do { return try LabRecord(path: path) } catch { throw ValidationError("\(error)") }
        }
    }

    /// The filters `list` and `export` share.
    struct Filters: ParsableArguments {
        @Option(help: "Only analyses whose question, context or answer hold all these words.")
        var search: String?
        @Option(help: "Only this source: api, openai, page, ask or batch.")
        var source: String?
        @Option(help: "Only this model (name or file name).")
        var model: String?
        @Option(name: .customLong("run"), help: "Only this batch run id.")
        var run: String?
        @Option(help: "From this day or time (2026-12-01 or ISO 8601).")
        var since: String?
        @Option(help: "Up to this day (inclusive) or time.")
        var until: String?

        var filter: RecordFilter {
            RecordFilter(text: search, source: source, model: model, runID: run, since: since, until: until)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The newest analyses, one line each.")
        @OptionGroup var location: Location
        @OptionGroup var filters: Filters
        @Option(help: "How many (1–1000).") var limit = 20
        @Flag(help: "Print JSON (as GET /api/analyses).") var json = false

        func run() async throws {
            let page = try Record.checked { try location.open().list(filters.filter, limit: limit) }
            if json { return try Record.printJSON(page.analyses) }
            for a in page.analyses {
                let answer = a.error.map { "error \($0.code): \($0.message)" } ?? (a.answer ?? "")
                print(
                    [
                        a.id, RecordExport.shortTime(a.createdAt), a.source, a.model.name, Record.clip(a.question, 50),
                        Record.clip(answer, 60)
                    ]
                    .joined(separator: "  "))
            }
            if page.analyses.isEmpty { FileHandle.standardError.write(Data("no analyses match\n".utf8)) }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One analysis in full.")
        @OptionGroup var location: Location
        @Argument(help: "The analysis id.") var id: String
        @Flag(help: "Print JSON (as GET /api/analyses/ID).") var json = false

        func run() async throws {
            guard let a = try Record.checked({ try location.open().analysis(id: id) }) else {
                throw ValidationError("no analysis \(id) in the record")
            }
            if json { return try Record.printJSON(a) }
            var lines = [
                "id: \(a.id)",
                "created: \(RecordExport.shortTime(a.createdAt))  source: \(a.source)" + (a.runID.map { "  run: \($0)" } ?? ""),
                "model: \(a.model.name)" + (a.model.file.map { "  file: \($0)" } ?? "")
                    + "  sha256: \(a.model.sha256 ?? "not yet computed")",
                "engine: \(a.engine.kind) \(a.engine.urls?.joined(separator: " ") ?? a.engine.backend)"
            ]
            for (index, image) in a.images.enumerated() {
                lines.append(
                    "image \(index + 1): \(image.format) \(image.modality ?? "") \(image.width)×\(image.height)  sha256: \(image.sha256)"
                        + (image.window.map { "  window: \($0)" } ?? "")
                        + (image.modelInput.map { "  model input: \($0)" } ?? ""))
            }
            lines.append("question: \(a.question)")
            if let context = a.context { lines.append("context: \(context)") }
            if let error = a.error {
                lines.append("error: \(error.code): \(error.message)")
            } else {
                lines.append("answer: \(a.answer ?? "")")
            }
            for box in a.boxes { lines.append("box: \(box.label) \(box.box2d.map { String(Int($0)) }.joined(separator: ","))") }
            if let total = a.timings.totalMs { lines.append(String(format: "total: %.0f ms", total)) }
            print(lines.joined(separator: "\n"))
        }
    }

    struct ExportRecord: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "export", abstract: "Every matching analysis as JSON Lines or CSV.")
        @OptionGroup var location: Location
        @OptionGroup var filters: Filters
        @Option(help: "jsonl or csv.") var format: RecordExport.Format = .jsonl
        @Option(name: [.customShort("o"), .long], help: "Write here instead of standard output.") var output: String?

        func run() async throws {
            let record = try location.open()
            let handle: FileHandle
            if let output {
                guard FileManager.default.createFile(atPath: output, contents: nil), let file = FileHandle(forWritingAtPath: output) else {
                    throw ValidationError("cannot write \(output)")
                }
                handle = file
            } else {
                handle = .standardOutput
            }
            handle.write(Data(RecordExport.header(format).utf8))
            var count = 0
            try await Record.checkedAsync {
                try await record.forEach(filters.filter) { page in
                    handle.write(Data(try page.map { try RecordExport.line($0, format: format) }.joined().utf8))
                    count += page.count
                }
            }
            if output != nil {
                try handle.close()
                FileHandle.standardError.write(Data("\(count) analyses written to \(output!)\n".utf8))
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete one analysis (and its thumbnail when no other uses it).")
        @OptionGroup var location: Location
        @Argument(help: "The analysis id.") var id: String

        func run() async throws {
            guard try Record.checked({ try location.open().delete(id: id) }) else {
                throw ValidationError("no analysis \(id) in the record")
            }
            print("deleted \(id)")
        }
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Counts by model and by source, and median timings.")
        @OptionGroup var location: Location
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let stats = try Record.checked { try location.open().stats() }
            if json { return try Record.printJSON(stats) }
            var lines = ["analyses: \(stats.total) (\(stats.errors) failed)"]
            lines += stats.byModel.sorted { $0.key < $1.key }.map { "model \($0.key): \($0.value)" }
            lines += stats.bySource.sorted { $0.key < $1.key }.map { "source \($0.key): \($0.value)" }
            lines += stats.medianMs.sorted { $0.key < $1.key }.map { String(format: "median %@: %.1f ms", $0.key, $0.value) }
            print(lines.joined(separator: "\n"))
        }
    }

    static func clip(_ text: String, _ length: Int) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: " ")
        return flat.count <= length ? flat : String(flat.prefix(length - 1)) + "…"
    }

    static func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// Record errors (a bad date, an unreadable file) as the usual one-line CLI error.
    static func checked<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as RecordError { throw ValidationError(error.description) }
    }

    static func checkedAsync(_ body: () async throws -> Void) async throws {
        do { try await body() } catch let error as RecordError { throw ValidationError(error.description) }
    }
}
