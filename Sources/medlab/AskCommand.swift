import ArgumentParser
import Foundation
import MedImaging
import MedInference

/// `medlab ask`: one question, optionally about images, answered in process.
struct Ask: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask one question (optionally about images) and stream the answer.",
        discussion: "Research and teaching use only — not for diagnosis. Timings go to stderr.")

    @Argument(help: "The question.")
    var question: String

    @Option(name: .long, help: "An image file (PNG, JPEG, DICOM, NIfTI); repeat for several images, in order.")
    var image: [String] = []

    @Option(
        parsing: .unconditional,
        help: "Window for DICOM/NIfTI: lung, mediastinum, bone, brain, abdomen, default, minmax, or CENTER,WIDTH (e.g. -600,1500).")
    var window: WindowArgument = .fileDefault

    @Option(help: "Frame of a multi-frame DICOM or slice of a volume (0-based; default: first frame / middle slice).")
    var frame: Int?

    @Flag(help: "The --image files (or folders of DICOM files) are one volume: Google's CT recipe, slices labelled SLICE n.")
    var volume = false

    @Option(name: .customLong("max-slices"), help: "Most slices of a --volume to show (the recipe's 85 need --ctx 24576 with MedGemma).")
    var maxSlices = VolumeRecipe.defaultSliceCount

    @Option(help: "How --volume slices become RGB: auto (CT windows when the files say CT), ct, or grey (--window).")
    var packing: PackingOption = .auto

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .customLong("max-new-tokens"), help: "Most tokens to generate.")
    var maxNewTokens = 512

    @Option(help: "Sampling temperature; 0 is greedy (the default, as in Google's examples).")
    var temperature = 0.0

    @Option(name: .customLong("top-p"), help: "Nucleus sampling mass (with temperature > 0).")
    var topP = 1.0

    @Option(help: "Random seed for sampling.")
    var seed: UInt32 = 0

    @Option(help: "A prior report or clinical notes, put before the question.")
    var context: String?

    @Option(help: "System text (default: \"You are an expert radiologist.\" when an image is given). Empty for none.")
    var system: String?

    @Flag(help: "Plain completion: send the question verbatim, without the chat template (for base models).")
    var raw = false

    @Flag(name: .customLong("ignore-eos"), help: "Keep generating past the end of the answer (benchmarks).")
    var ignoreEOS = false

    @Flag(help: "Print one JSON object instead of streaming text.")
    var json = false

    @Option(
        name: .customLong("dump-logits"),
        help: ArgumentHelp(
            "Fidelity tool (bench/fidelity): write the prompt's token ids, the logits of the first generated position "
                + "and the generated token ids to FILE as JSON.", valueName: "file"))
    var dumpLogits: String?

    @OptionGroup(title: "The lab record") var recordOptions: RecordOptions

    @OptionGroup(title: "Structured output") var schemaOptions: SchemaOptions

    func run() async throws {
        let paths = volume ? try ImageInput.expandFolders(image) : image
        let inputs = try paths.map { try ImageInput.load(path: $0) }
        if volume, inputs.isEmpty { throw ValidationError("--volume needs --image files or a folder of slices") }
        let files = try modelOptions.files()
        let recording = recordOptions.session()
        let checksums = recording.use(files)
        let loadStart = Date()
        let engine = try await LlamaEngine.load(files, options: modelOptions.engineOptions)
        let loadSeconds = Date().timeIntervalSince(loadStart)
        var analysis = Analysis(
            question: question, context: context, system: system, maxNewTokens: maxNewTokens,
            sampling: SamplingOptions(temperature: temperature, topP: topP, seed: seed),
            ignoreEndOfSequence: ignoreEOS, raw: raw, constraint: try schemaOptions.constraint())
        analysis.input =
            volume
            ? .volume(
                VolumeRequest(
                    studies: inputs.map(\.study), packing: packing.packing, window: window.choice, maxSlices: maxSlices,
                    sourceSHA256: inputs.map(\.sha256)))
            : .images(inputs.map { AnalysisImage(study: $0.study, frame: frame, window: window.choice, sourceSHA256: $0.sha256) })
        let prepared = try AnalysisProcessor.prepare(analysis, side: engine.info.imageSize ?? 896)
        var volumeReport: AskReport.Volume?
        if let slices = prepared.volume {
            if !json {
                FileHandle.standardError.write(
                    "volume: \(slices.images.count) of \(slices.totalSlices) slices, \(slices.packing.rawValue) packing\n")
            }
            volumeReport = AskReport.Volume(
                packing: slices.packing.rawValue, slicesShown: slices.images.count,
                slicesTotal: slices.totalSlices, sliceNumbers: slices.sliceNumbers)
        }
        let request = prepared.request
        let info = engine.info
        if files.isDemo, !json {
            FileHandle.standardError.write("note: demo model (Gemma 3 270M base + random projector): its answers mean nothing.\n")
        }
        let requestStart = Date()
        var firstToken: Double?
        var summary: GenerationSummary?
        do {
            let trace = dumpLogits == nil ? nil : LogitTrace()
            for try await event in engine.generate(request, trace: trace) {
                switch event {
                case .delta(let text):
                    if firstToken == nil { firstToken = Date().timeIntervalSince(requestStart) }
                    if !json { FileHandle.standardOutput.write(text) }
                case .reasoning: if firstToken == nil { firstToken = Date().timeIntervalSince(requestStart) }
                case .finished(let done): summary = done
                }
            }
            guard summary != nil else { throw InferenceError.generationFailed("no summary") }
            if let trace, let dumpLogits { try Self.writeTrace(trace.snapshot, to: dumpLogits) }
        } catch {
            // The failure is kept too: a record of only successes would flatter the model.
            var failed = recording.entry(analysis, prepared: prepared, source: "ask", info: engine.info)
            failed.fail(code: "generation_failed", message: "\(error)")
            recording.keep(failed, info: engine.info)
            await recording.close()
            throw error
        }
        guard let summary else { throw InferenceError.generationFailed("no summary") }
        let total = Date().timeIntervalSince(requestStart)
        let result = GenerationResult(summary: summary)
        var entry = recording.entry(analysis, prepared: prepared, source: "ask", info: info)
        entry.finish(result, boxes: prepared.pixelBoxes(result.boxes), queueMs: nil, totalMs: total * 1000)
        recording.keep(entry, info: info, analysis: analysis, prepared: prepared)
        let analysisID = recording.writer == nil ? nil : entry.id
        if json {
            var report = AskReport(
                result: result, info: info, demo: files.isDemo, loadSeconds: loadSeconds,
                totalSeconds: total, firstTokenSeconds: firstToken,
                prepared: prepared, volume: volumeReport)
            report.analysisID = analysisID
            if analysis.constraint != nil {
                let structured = StructuredAnswer(result)
                report.json = structured.json
                report.jsonError = structured.error
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            FileHandle.standardOutput.write(String(decoding: try encoder.encode(report), as: UTF8.self) + "\n")
        } else {
            FileHandle.standardOutput.write("\n")
            FileHandle.standardError.write(
                String(
                    format:
                        "[%@ on %@] tokens in %d (%d image) · out %d · image %.0f ms · prefill %.0f ms · decode %.0f ms (%.1f tok/s) · total %.2f s\n",
                    info.model, info.backend, summary.tokensIn, summary.imageTokensIn, summary.tokensOut, summary.imageEncodeMs,
                    summary.prefillMs, summary.decodeMs, summary.tokensPerSecond, total))
            if let analysisID { FileHandle.standardError.write("recorded as \(analysisID) in \(recording.path ?? "")\n") }
        }
        // The answer is out; a model file hashed for the first time finishes here, once, so the entry names it.
        await checksums?.value
        await recording.close()
    }
}

extension Ask {
    /// Writes a `--dump-logits` file: one JSON object (bench/fidelity/README.md describes it).
    static func writeTrace(_ snapshot: LogitTrace.Snapshot, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(snapshot).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

/// The `--json` output of `medlab ask`.
struct AskReport: Encodable {
    /// A box as the model gave it (0–1000 of the square) and in the last image's pixels.
    struct ReportBox: Encodable {
        var label: String, box2d: [Double], pixels: PixelBox?
        enum CodingKeys: String, CodingKey {
            case label
            case box2d = "box_2d"
            case pixels
        }
    }
    struct Usage: Encodable {
        var tokensIn: Int, imageTokens: Int, tokensOut: Int
        enum CodingKeys: String, CodingKey {
            case tokensIn = "tokens_in"
            case imageTokens = "image_tokens"
            case tokensOut = "tokens_out"
        }
    }
    struct Timings: Encodable {
        var loadS: Double, imageMs: Double, prefillMs: Double, decodeMs: Double, tokensPerSecond: Double
        var firstTokenS: Double?, totalS: Double
        enum CodingKeys: String, CodingKey {
            case loadS = "load_s"
            case imageMs = "image_ms"
            case prefillMs = "prefill_ms"
            case decodeMs = "decode_ms"
            case tokensPerSecond = "tokens_per_s"
            case firstTokenS = "first_token_s"
            case totalS = "total_s"
        }
    }
    /// Which slices of a `--volume` the model saw.
    struct Volume: Encodable {
        var packing: String, slicesShown: Int, slicesTotal: Int, sliceNumbers: [Int]
        enum CodingKeys: String, CodingKey {
            case packing
            case slicesShown = "slices_shown"
            case slicesTotal = "slices_total"
            case sliceNumbers = "slice_numbers"
        }
    }
    var answer: String
    var reasoning: String?
    var boxes: [ReportBox]
    var volume: Volume?
    var finishReason: String
    var model: String
    var projector: String?
    var backend: String
    var gpuLayers: Int
    var demo: Bool
    var usage: Usage
    var timings: Timings
    var disclaimer = MedInference.Disclaimer.english
    /// The record's id of this analysis; absent with `--no-record`.
    var analysisID: String?
    /// Under `--schema` / `--format json`: the answer parsed, or why not.
    var json: JSONValue?
    var jsonError: String?

    init(
        result: GenerationResult, info: EngineInfo, demo: Bool, loadSeconds: Double, totalSeconds: Double,
        firstTokenSeconds: Double?, prepared: PreparedAnalysis, volume: Volume? = nil
    ) {
        let s = result.summary
        self.volume = volume
        answer = result.answer
        reasoning = result.reasoning
        boxes = prepared.pixelBoxes(result.boxes).map { box, pixels in
            ReportBox(label: box.label, box2d: [box.y0, box.x0, box.y1, box.x1], pixels: pixels)
        }
        finishReason = s.finishReason
        model = info.model
        projector = info.projector
        backend = info.backend
        gpuLayers = info.gpuLayers
        self.demo = demo
        usage = Usage(tokensIn: s.tokensIn, imageTokens: s.imageTokensIn, tokensOut: s.tokensOut)
        timings = Timings(
            loadS: loadSeconds, imageMs: s.imageEncodeMs, prefillMs: s.prefillMs, decodeMs: s.decodeMs,
            tokensPerSecond: s.tokensPerSecond, firstTokenS: firstTokenSeconds, totalS: totalSeconds)
    }

    enum CodingKeys: String, CodingKey {
        case answer, reasoning, boxes, model, projector, backend, demo, usage, timings, disclaimer, volume
        case json
        case finishReason = "finish_reason"
        case gpuLayers = "gpu_layers"
        case analysisID = "analysis_id"
        case jsonError = "json_error"
    }
}

extension FileHandle {
    /// Writes UTF-8 text, unbuffered, so streamed tokens appear at once.
    func write(_ text: String) { write(Data(text.utf8)) }
}
