import Foundation
import MedImaging
import MedInference
import MedLabRecord

/// A file an experiment asks about, by name and bytes (the API never reads the server's disk).
public struct ExperimentFile: Sendable {
    public var name: String
    public var bytes: Data

    public init(name: String, bytes: Data) {
        self.name = name
        self.bytes = bytes
    }

    /// Reads a path; a folder becomes its files in name order (a series), hidden files left out.
    public static func read(_ path: String) throws -> [ExperimentFile] {
        var folder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &folder) else { throw ExperimentError("\(path) does not exist") }
        let paths =
            folder.boolValue
            ? try FileManager.default.contentsOfDirectory(atPath: path).filter { !$0.hasPrefix(".") }.sorted().map {
                (path as NSString).appendingPathComponent($0)
            }
            : [path]
        return try paths.map { file in
            guard let data = FileManager.default.contents(atPath: file) else { throw ExperimentError("cannot read \(file)") }
            return ExperimentFile(name: (file as NSString).lastPathComponent, bytes: data)
        }
    }
}

/// One question about one set of images (a cell of a grid, a case of a set).
public struct ExperimentJob: Sendable {
    public var files: [ExperimentFile]
    /// The files are the slices of one volume (a folder), asked under the CT recipe.
    public var volume: Bool
    public var question: String
    public var context: String?
    /// As `--window` takes it; `nil` is the file's own.
    public var window: String?
    public var params: ExperimentParams
    /// Why the files could not be read: the job then fails without running.
    public var unreadable: String?

    public init(
        files: [ExperimentFile], volume: Bool = false, question: String, context: String? = nil, window: String? = nil,
        params: ExperimentParams = ExperimentParams()
    ) {
        self.files = files
        self.volume = volume
        self.question = question
        self.context = context
        self.window = window
        self.params = params
    }
}

/// What one job gave: the answer (reasoning removed) and its record id, or why there is none.
public struct ExperimentOutcome: Sendable {
    public var answer: String?
    public var reasoning: String?
    public var analysisID: String?
    public var totalMs: Double?
    public var error: String?
    /// A small PNG of what the model saw (the last image), for the HTML reports.
    public var thumbnail: Data?
}

/// One finished job of a running experiment.
public struct ExperimentProgress: Sendable {
    public var done: Int
    public var total: Int
    /// Which job (in the order given).
    public var index: Int
    public var outcome: ExperimentOutcome
}

/// Runs jobs through one engine, `concurrency` at a time (the engine decodes them together),
/// and keeps each in the record under the experiment's id.
public struct ExperimentRunner: Sendable {
    public let engine: any InferenceEngine
    public let recording: RecordSession
    /// The record's `source` for these analyses (`compare`, `regress`).
    public let source: String
    public let concurrency: Int

    public init(engine: any InferenceEngine, recording: RecordSession, source: String, concurrency: Int) {
        self.engine = engine
        self.recording = recording
        self.source = source
        self.concurrency = max(1, concurrency)
    }

    /// Every job's outcome, in the order given; `progress` hears of each as it finishes.
    public func run(
        _ jobs: [ExperimentJob], experimentID: String,
        progress: @escaping @Sendable (ExperimentProgress) async -> Void = { _ in }
    ) async -> [ExperimentOutcome] {
        let info = await engine.info
        var outcomes = [ExperimentOutcome?](repeating: nil, count: jobs.count)
        await withTaskGroup(of: (Int, ExperimentOutcome).self) { group in
            var next = 0
            func start() {
                guard next < jobs.count else { return }
                let index = next
                let job = jobs[index]
                next += 1
                group.addTask { (index, await self.one(job, info: info, experimentID: experimentID)) }
            }
            for _ in 0..<concurrency { start() }
            var done = 0
            while let (index, outcome) = await group.next() {
                outcomes[index] = outcome
                done += 1
                await progress(ExperimentProgress(done: done, total: jobs.count, index: index, outcome: outcome))
                start()
            }
        }
        return outcomes.map { $0 ?? ExperimentOutcome(error: "not run") }
    }

    private func one(_ job: ExperimentJob, info: EngineInfo, experimentID: String) async -> ExperimentOutcome {
        let started = ContinuousClock.now
        var analysis = Analysis(
            question: job.question, context: job.context, maxNewTokens: job.params.maxNewTokens,
            sampling: SamplingOptions(temperature: job.params.temperature, topP: job.params.topP, seed: job.params.seed))
        analysis.constraint = job.params.constraint
        var prepared: PreparedAnalysis?
        do {
            if let unreadable = job.unreadable { throw ExperimentError(unreadable) }
            let window = try job.window.map { try WindowChoice(parsing: $0) } ?? .fileDefault
            let studies = try job.files.map { file in
                do { return try ImageDecoder.decode(data: file.bytes, filenameHint: file.name) } catch {
                    throw ExperimentError("\(file.name): \(error)")
                }
            }
            let hashes = job.files.map { RecordedAnalysis.sha256($0.bytes) }
            if job.volume {
                analysis.input = .volume(VolumeRequest(studies: studies, window: window, sourceSHA256: hashes))
            } else {
                analysis.input = .images(zip(studies, hashes).map { AnalysisImage(study: $0, window: window, sourceSHA256: $1) })
            }
            let ready = try AnalysisProcessor.prepare(analysis, side: info.imageSize ?? 896)
            prepared = ready
            let result = try await engine.answer(ready.request)
            let totalMs = started.duration(to: .now).milliseconds
            var entry = recording.entry(analysis, prepared: ready, source: source, info: info, runID: experimentID)
            entry.finish(result, boxes: ready.pixelBoxes(result.boxes), queueMs: nil, totalMs: totalMs)
            recording.keep(entry, info: info, analysis: analysis, prepared: ready)
            return ExperimentOutcome(
                answer: result.answer, reasoning: result.reasoning, analysisID: recording.writer == nil ? nil : entry.id,
                totalMs: totalMs, thumbnail: Self.thumbnail(ready))
        } catch {
            var entry = recording.entry(analysis, prepared: prepared, source: source, info: info, runID: experimentID)
            entry.fail(code: "experiment_error", message: "\(error)")
            recording.keep(entry, info: info)
            return ExperimentOutcome(
                analysisID: recording.writer == nil ? nil : entry.id, totalMs: started.duration(to: .now).milliseconds,
                error: "\(error)", thumbnail: prepared.flatMap(Self.thumbnail))
        }
    }

    /// What the model saw of the last image (a volume's middle slice), at most 160 px.
    static func thumbnail(_ prepared: PreparedAnalysis) -> Data? {
        let images = prepared.request.images
        guard !images.isEmpty else { return nil }
        let image = prepared.volume != nil ? images[images.count / 2] : images[images.count - 1]
        return try? ImageEncoder.png(image.shrunk(toFit: 160))
    }
}

/// An experiment that cannot run as asked.
public struct ExperimentError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
