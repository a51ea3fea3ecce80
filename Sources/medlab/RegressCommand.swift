import ArgumentParser
import Foundation
import MedLabExperiments
import MedLabRecord

/// `medlab regress`: a regression set run, judged, and compared with its previous run.
struct Regress: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a regression set (YAML or JSON), judge every case and compare with the set's previous run.",
        discussion: """
            Exit status: 0 when the pass rate reaches --min-pass (and, with --no-regressions, no case that passed \
            last time fails now); 1 otherwise; 2 for a set file that cannot be used. The run is kept in the lab \
            record, which is where the previous run is found. Research and teaching use only — not for diagnosis.
            """)

    @Argument(help: "The set file (YAML or JSON; image paths relative to it).")
    var set: String

    @Option(help: "Write the self-contained HTML report here.")
    var report: String?

    @Option(help: "Write report.json here (default: standard output).")
    var json: String?

    @Option(name: .customLong("min-pass"), help: "Least pass rate (0–1) for exit status 0.")
    var minPass = 0.0

    @Flag(name: .customLong("no-regressions"), help: "Also fail when a case that passed last time fails now.")
    var noRegressions = false

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup(title: "Remote inference (scale-out)") var backendOptions: BackendOptions
    @OptionGroup(title: "The lab record") var recordOptions: RecordOptions

    func run() async throws {
        guard (0...1).contains(minPass) else { throw ValidationError("--min-pass must be between 0 and 1") }
        let regressionSet: RegressionSet
        do { regressionSet = try RegressionSet.load(path: set) } catch {
            FileHandle.standardError.write(Data("medlab regress: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let recording = recordOptions.session()
        let (engine, slots, checksums) = try await ExperimentEngine.make(
            modelOptions, backendOptions, recording: recording,
            jobs: regressionSet.cases.count)
        let runner = ExperimentRunner(engine: engine, recording: recording, source: "regress", concurrency: slots)
        let result = await RegressionReport.run(regressionSet, runner: runner) { step in
            FileHandle.standardError.write(Data("\(step.done)/\(step.total) cases run\n".utf8))
        }
        await checksums?.value
        await recording.close()
        let text = String(decoding: try ReportModel.encoder.encode(result), as: UTF8.self) + "\n"
        if let json { try ExperimentEngine.write(text, to: json) } else { FileHandle.standardOutput.write(Data(text.utf8)) }
        if let report { try ExperimentEngine.write(ExperimentHTML.regression(result), to: report) }
        FileHandle.standardError.write(
            Data(
                String(
                    format: "%@: %d of %d passed (%.0f%%)%@\n", result.set, result.passed, result.cases.count,
                    result.passRate * 100,
                    result.newlyFailing.isEmpty ? "" : "; newly failing: " + result.newlyFailing.joined(separator: ", ")
                )
                .utf8))
        if result.passRate < minPass || (noRegressions && !result.newlyFailing.isEmpty) { throw ExitCode(1) }
    }
}
