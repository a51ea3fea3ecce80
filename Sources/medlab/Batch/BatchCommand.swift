import ArgumentParser
import Foundation
import MedImaging
import MedInference
import MedLabRecord

/// `medlab batch`: folders of studies × fixed questions → JSONL (and CSV), resumable.
struct Batch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer fixed questions about every image in folders; one JSONL row per (file, question).",
        discussion: """
            Rows are appended as they finish, one complete line each, so a killed run loses at most the rows \
            in flight; rerunning with the same output skips rows already there. A file that cannot be read \
            becomes an error row and the run goes on. Research and teaching use only — not for diagnosis.
            """)

    @Argument(help: "Image files or folders (PNG, JPEG, DICOM, NIfTI).")
    var paths: [String]

    @Option(name: [.customShort("q"), .long], help: "A question; repeat for several.")
    var question: [String] = []

    @Option(help: "A file with one question per line (blank lines and lines starting with # are ignored).")
    var questions: String?

    @Option(name: [.customShort("o"), .long], help: "The JSONL output (appended to; resumed when it exists).")
    var output: String

    @Option(help: "Also write the rows as CSV here when the run ends.")
    var csv: String?

    @Option(help: "Send questions to this lab server (e.g. http://127.0.0.1:7860) instead of running the model here.")
    var server: String?

    @Option(name: .customLong("api-key"), help: "API key for --server (default: MEDLAB_API_KEY).")
    var apiKey: String?

    @Option(
        help: ArgumentHelp(
            "Questions in flight at once (in process they are decoded together; default 1 on a CPU, "
                + "\(Self.gpuConcurrency) on a GPU, or every slot of the --backend pool)."))
    var concurrency: Int?

    /// Questions decoded together by default when llama.cpp finds a GPU.
    static let gpuConcurrency = 8

    @Option(
        parsing: .unconditional,
        help: "Window for DICOM/NIfTI: lung, mediastinum, bone, brain, abdomen, default, minmax, or C,W (e.g. -600,1500).")
    var window: WindowArgument = .fileDefault

    @Flag(inversion: .prefixedNo, help: "Descend into sub-folders.")
    var recursive = true

    @Option(help: "Only files matching this glob (repeatable), e.g. '*.dcm'.")
    var include: [String] = []

    @Option(help: "Skip files matching this glob (repeatable).")
    var exclude: [String] = []

    @Option(name: .customLong("max-new-tokens"), help: "Most tokens per answer.")
    var maxNewTokens = 512

    @Option(name: .customLong("context-file"), help: "Prior report or clinical notes attached to every question.")
    var contextFile: String?

    @Flag(name: .customLong("ignore-eos"), help: "Always generate --max-new-tokens tokens (benchmarks; in process or --backend).")
    var ignoreEOS = false

    @Flag(inversion: .prefixedNo, help: "Skip (image, question, settings) rows already in the output.")
    var resume = true

    @Flag(help: "Each folder's DICOM files are one volume (and each NIfTI file one volume), asked under Google's CT recipe.")
    var series = false

    @Option(name: .customLong("max-slices"), help: "Most slices of a --series volume to show (85 need --ctx 24576 with MedGemma).")
    var maxSlices = VolumeRecipe.defaultSliceCount

    @OptionGroup var modelOptions: ModelOptions

    @OptionGroup(title: "Remote inference (scale-out)") var backendOptions: BackendOptions

    @OptionGroup(title: "The lab record") var recordOptions: RecordOptions

    @OptionGroup(title: "Structured output: each row gets `fields`, and --csv a column per property") var schemaOptions: SchemaOptions

    func run() async throws {
        let allQuestions = try loadQuestions()
        guard !allQuestions.isEmpty else { throw ValidationError("give at least one question with -q or --questions") }
        guard (concurrency ?? 1) >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        guard server == nil || !backendOptions.isEnabled else { throw ValidationError("give --server or --backend, not both") }
        let windowChoice = window.choice
        let context = try contextFile.map { try String(contentsOfFile: $0, encoding: .utf8) }
        let (files, skipped) = try BatchFiles.collect(paths, recursive: recursive, include: include, exclude: exclude)
        let outputURL = URL(fileURLWithPath: output)
        if !resume { try? FileManager.default.removeItem(at: outputURL) }
        let doneKeys = Set(JSONLWriter.existingRows(at: outputURL).map(\.key))
        let constraint = try schemaOptions.constraint()
        let params =
            "max_new_tokens=\(maxNewTokens);window=\(window.text);context=\(context.map { Self.sha256(Data($0.utf8)).prefix(12) } ?? "none")"
            + (series ? ";series=1;max_slices=\(maxSlices)" : "") + (constraint.map { ";schema=\(Self.constraintKey($0))" } ?? "")
        let studies = series ? BatchStudy.series(files) : BatchStudy.singles(files)
        let remoteURLs =
            try server.flatMap(URL.init(string:)).map { [$0] } ?? (backendOptions.isEnabled ? backendOptions.endpoints().map(\.url) : [])
        let recording = recordOptions.session(remoteURLs: remoteURLs)
        // One run id per output file: a resumed run continues the same run, and a rerun row replaces its entry.
        let runID = String(Self.sha256(Data(outputURL.standardizedFileURL.path.utf8)).prefix(16))
        var checksums: Task<Void, Never>?

        let answerer: any BatchAnswerer
        var concurrency = self.concurrency ?? 1
        if let server {
            guard let url = URL(string: server) else { throw ValidationError("--server is not a URL: \(server)") }
            answerer = RemoteAnswerer(
                server: url, apiKey: apiKey ?? ProcessInfo.processInfo.environment["MEDLAB_API_KEY"],
                window: window.choice == .fileDefault ? nil : window.text, maxNewTokens: maxNewTokens,
                maxSlices: series ? maxSlices : nil, constraint: constraint)
        } else if backendOptions.isEnabled {
            // The pool routes each row to its least-loaded server; keep every slot of the pool busy.
            let pool = try await backendOptions.makePool()
            concurrency = self.concurrency ?? pool.slots
            var engineAnswerer = await EngineAnswerer(engine: pool, window: windowChoice, maxNewTokens: maxNewTokens, ignoreEOS: ignoreEOS)
            engineAnswerer.maxSlices = maxSlices
            engineAnswerer.constraint = constraint
            answerer = engineAnswerer
        } else {
            if self.concurrency == nil, let gpu = LlamaEngine.accelerator {
                // A GPU decodes many sequences for little more than the price of one: one at a time
                // would leave most of it idle (the H200 gives 3.6x the tokens/s at 16 streams).
                concurrency = Self.gpuConcurrency
                FileHandle.standardError.write(
                    Data("batch: \(concurrency) questions in flight on the GPU (\(gpu)); --concurrency changes it\n".utf8))
            }
            var options = modelOptions.engineOptions
            options.parallel = max(options.parallel, concurrency)
            let modelFiles = try modelOptions.files()
            checksums = recording.use(modelFiles)
            let engine = try await LlamaEngine.load(modelFiles, options: options)
            var engineAnswerer = await EngineAnswerer(
                engine: engine, window: windowChoice, maxNewTokens: maxNewTokens, ignoreEOS: ignoreEOS)
            engineAnswerer.maxSlices = maxSlices
            engineAnswerer.constraint = constraint
            answerer = engineAnswerer
        }
        let writer = try JSONLWriter(url: outputURL)
        // Hash every file first: the total (for progress and ETA) is what is left to do.
        var work: [(study: BatchStudy, bytes: [Data]?, sha: String?, questions: [String])] = []
        var resumed = 0
        for study in studies {
            let contents = study.files.map { try? Data(contentsOf: $0.url) }
            let bytes = contents.contains(nil) ? nil : contents.compactMap { $0 }
            // A volume's hash covers its files in name order, so a rerun finds the same key.
            let sha = bytes.map { $0.count == 1 ? Self.sha256($0[0]) : Self.sha256(Data($0.map(Self.sha256).joined().utf8)) }
            let pending = allQuestions.filter { question in
                let key = BatchRow(
                    filename: study.name, question: question, answer: "", inferenceTimeSec: 0, timestamp: "",
                    imageSHA256: sha, boxes: [], params: params
                ).key
                return !doneKeys.contains(key)
            }
            resumed += allQuestions.count - pending.count
            if !pending.isEmpty { work.append((study, bytes, sha, pending)) }
        }
        let progress = BatchProgress(total: work.reduce(0) { $0 + $1.questions.count })
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for item in work {
                // Decode once per study; its questions share the pixels.
                let image: Result<BatchImage, any Error> = Result {
                    guard let bytes = item.bytes else { throw BatchError("cannot read \(item.study.name)") }
                    let studies = try zip(bytes, item.study.files).map { data, file in
                        do { return try ImageDecoder.decode(data: data, filenameHint: file.name) } catch {
                            throw BatchError(item.study.isVolume ? "\(file.name): \(error)" : "\(error)")
                        }
                    }
                    return BatchImage(bytes: bytes, studies: studies, isVolume: item.study.isVolume)
                }
                for question in item.questions {
                    if inFlight >= concurrency {
                        try await group.next()
                        inFlight -= 1
                    }
                    inFlight += 1
                    group.addTask {
                        let row = await Self.answer(
                            image, name: item.study.name, sha: item.sha, question: question,
                            context: context, params: params, answerer: answerer,
                            recording: recording, runID: runID)
                        try await writer.append(row)
                        await progress.record(error: row.error != nil, tokensOut: row.tokensOut ?? 0)
                    }
                }
            }
            try await group.waitForAll()
        }
        try await writer.close()
        await checksums?.value
        await recording.close()
        FileHandle.standardError.write(Data((await progress.summary(skipped: skipped, resumed: resumed) + "\n").utf8))
        if let path = recording.path, recording.writer != nil {
            FileHandle.standardError.write(Data("recorded as run \(runID) in \(path)\n".utf8))
        }
        if let csv { try CSVExport.write(rows: JSONLWriter.existingRows(at: outputURL), to: URL(fileURLWithPath: csv)) }
    }

    /// One row: the answer, or the error that explains why there is none. Its record entry is
    /// written before the row is returned (and so before its JSONL line).
    private static func answer(
        _ image: Result<BatchImage, any Error>, name: String, sha: String?, question: String,
        context: String?, params: String, answerer: any BatchAnswerer,
        recording: RecordSession, runID: String
    ) async -> BatchRow {
        let start = Date()
        var row = BatchRow(
            filename: name, question: question, answer: "", inferenceTimeSec: 0, timestamp: "",
            imageSHA256: sha, boxes: [], params: params)
        var answer: BatchAnswer?
        do {
            let result = try await answerer.answer(try image.get(), question: question, context: context)
            answer = result
            row.answer = result.answer
            row.reasoning = result.reasoning
            row.boxes = result.boxes
            row.model = result.model
            row.tokensIn = result.tokensIn
            row.tokensOut = result.tokensOut
            if let structured = result.structured {
                row.fields = structured.json
                // A row whose answer is not the object asked for is an error row, with the reason.
                if let reason = structured.error { row.error = reason }
            }
        } catch {
            row.error = "\(error)"
        }
        row.inferenceTimeSec = (Date().timeIntervalSince(start) * 100).rounded() / 100
        row.timestamp = ISO8601DateFormatter().string(from: Date())
        if recording.writer != nil {
            let id = String(Self.sha256(Data((runID + "\u{1F}" + row.key).utf8)).prefix(32))
            row.analysisID = id
            BatchRecord.keep(row, answer: answer, image: try? image.get(), context: context, id: id, runID: runID, recording: recording)
        }
        return row
    }

    private func loadQuestions() throws -> [String] {
        var all = question
        if let questions {
            all += try String(contentsOfFile: questions, encoding: .utf8).split(whereSeparator: \.isNewline)
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        }
        return all
    }

    /// What identifies a constraint in the resume key.
    static func constraintKey(_ constraint: OutputConstraint) -> String {
        switch constraint {
        case .jsonObject: "json"
        case .jsonSchema(let text): String(sha256(Data(text.utf8)).prefix(12))
        }
    }

    static func sha256(_ data: Data) -> String { RecordedAnalysis.sha256(data) }
}
