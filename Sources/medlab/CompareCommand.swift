import ArgumentParser
import Foundation
import MedLabExperiments
import MedLabRecord

/// `medlab compare`: every phrasing on every image, side by side.
struct Compare: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask several phrasings about several images and lay the answers side by side (grid.json, grid.html).",
        discussion:
            "Each cell is an analysis in the lab record under the experiment's id. Research and teaching use only — not for diagnosis.")

    @Option(name: .customLong("image"), help: "An image file, or a folder of one series (asked as a volume); repeat.")
    var images: [String] = []

    @Option(name: [.customShort("q"), .long], help: "A phrasing; repeat for several.")
    var question: [String] = []

    @Option(help: "Prior report or clinical context for every cell.")
    var context: String?

    @Option(
        parsing: .unconditional,
        help: "Window for DICOM/NIfTI: lung, mediastinum, bone, brain, abdomen, default, minmax, or C,W (e.g. -600,1500).")
    var window: WindowArgument?

    @Option(name: .customLong("max-new-tokens"), help: "Most tokens per answer.")
    var maxNewTokens = 256

    @Option(help: "Sampling temperature (0 = greedy).")
    var temperature = 0.0

    @Option(help: "Write the self-contained HTML grid here.")
    var report: String?

    @Option(help: "Write grid.json here (default: standard output).")
    var json: String?

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup(title: "Remote inference (scale-out)") var backendOptions: BackendOptions
    @OptionGroup(title: "The lab record") var recordOptions: RecordOptions

    func run() async throws {
        guard !images.isEmpty else { throw ValidationError("give at least one --image") }
        guard !question.isEmpty else { throw ValidationError("give at least one -q phrasing") }
        guard (1...8192).contains(maxNewTokens) else { throw ValidationError("--max-new-tokens must be 1 to 8192") }
        let inputs = try images.map { path -> (name: String, files: [ExperimentFile], volume: Bool) in
            do {
                let files = try ExperimentFile.read(path)
                return ((path as NSString).lastPathComponent, files, files.count > 1)
            } catch { throw ValidationError("\(error)") }
        }
        let recording = recordOptions.session()
        let cells = question.count * inputs.count
        let (engine, slots, checksums) = try await ExperimentEngine.make(modelOptions, backendOptions, recording: recording, jobs: cells)
        let runner = ExperimentRunner(engine: engine, recording: recording, source: "compare", concurrency: slots)
        let grid = await CompareGrid.run(
            questions: question, images: inputs, context: context, window: window?.text,
            params: ExperimentParams(maxNewTokens: maxNewTokens, temperature: temperature), runner: runner
        ) { step in
            FileHandle.standardError.write(Data("\(step.done)/\(step.total) cells answered\n".utf8))
        }
        await checksums?.value
        await recording.close()
        let text = String(decoding: try ReportModel.encoder.encode(grid), as: UTF8.self) + "\n"
        if let json { try ExperimentEngine.write(text, to: json) } else { FileHandle.standardOutput.write(Data(text.utf8)) }
        if let report { try ExperimentEngine.write(ExperimentHTML.grid(grid), to: report) }
        let failed = grid.cells.filter { $0.error != nil }.count
        FileHandle.standardError.write(Data("experiment \(grid.experimentID): \(grid.cells.count) cells, \(failed) failed\n".utf8))
    }
}
