import Foundation
import MedLabTestSupport
import Testing

@testable import MedInference

/// Runs a program to completion and returns its exit status, stdout and stderr.
func runProgram(_ path: String, _ arguments: [String], environment: [String: String]? = nil) throws
    -> (status: Int32, stdout: String, stderr: String)
{
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Drain stderr on another thread, so a chatty child never blocks on a full pipe.
    nonisolated(unsafe) var stderrData = Data()
    let drained = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
        stderrData = (try? err.fileHandleForReading.readToEnd()) ?? Data()
        drained.signal()
    }
    let stdoutData = (try? out.fileHandleForReading.readToEnd()) ?? Data()
    drained.wait()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdoutData, as: UTF8.self), String(decoding: stderrData, as: UTF8.self))
}

enum Binaries {
    /// `medlab`, built next to the test bundle.
    static var medlab: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("medlab").path
    }
    /// The llama.cpp tools of the same build the engine links.
    static func llamaTool(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".llama/bin/\(name)").path
    }
}

@Suite("medlab ask end to end", .serialized)
struct CLITests {
    @Test func askAnswersWithTheDemoModel() throws {
        try TestModels.require(TestModels.gemma270m)
        let run = try runProgram(
            Binaries.medlab,
            [
                "ask", "--demo", "--raw", "--max-new-tokens", "16",
                "Question: What is the capital of France?\nAnswer:"
            ],
            environment: ["MEDLAB_DEMO_DIR": TestModels.directory.path])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stdout.contains("Paris"))
        #expect(run.stderr.contains("tok/s"))
        #expect(run.stderr.contains("demo model"))
    }

    @Test func askJSONRunsTheImagePath() throws {
        try TestModels.require(TestModels.tinyText, TestModels.tinyProjector)
        let image = FileManager.default.temporaryDirectory.appendingPathComponent("medlab-cli-\(UUID().uuidString).png")
        try TestImages.png(width: 48, height: 32).write(to: image)
        defer { try? FileManager.default.removeItem(at: image) }
        let run = try runProgram(
            Binaries.medlab,
            [
                "ask", "--json", "--model", TestModels.tinyText, "--mmproj", TestModels.tinyProjector,
                "--image", image.path, "--max-new-tokens", "6", "--ignore-eos", "What is shown?"
            ])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let usage = try #require(object["usage"] as? [String: Any])
        #expect(usage["tokens_out"] as? Int == 6)
        #expect((usage["image_tokens"] as? Int ?? 0) > 0)
        #expect(object["backend"] as? String == "cpu")
        #expect((object["disclaimer"] as? String)?.contains("not for diagnosis") == true)
    }

    @Test func missingModelSaysWhatToDownload() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("medlab-empty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        let run = try runProgram(Binaries.medlab, ["ask", "Hello?"], environment: ["MEDLAB_MODELS_DIR": empty.path])
        #expect(run.status != 0)
        #expect(run.stderr.contains("medgemma-1.5-4b-it-Q4_K_M.gguf"))
        #expect(run.stderr.contains("mmproj"))
        #expect(run.stderr.contains(empty.path))
    }

    @Test func greedyOutputMatchesLlamaCompletion() throws {
        try TestModels.require(TestModels.gemma270m)
        let prompt = "The three primary colors are"
        let ours = try runProgram(
            Binaries.medlab,
            [
                "ask", "--json", "--model", TestModels.gemma270m, "--mmproj", "",
                "--raw", "--max-new-tokens", "32", "--ignore-eos", prompt
            ])
        #expect(ours.status == 0, "stderr: \(ours.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(ours.stdout.utf8)) as? [String: Any])
        let answer = try #require(object["answer"] as? String)
        let reference = try runProgram(
            Binaries.llamaTool("llama-completion"),
            [
                "-m", TestModels.gemma270m, "-p", prompt, "-n", "32", "--temp", "0", "--ignore-eos", "-no-cnv",
                "--no-display-prompt", "--no-warmup", "-t", "2", "-c", "512"
            ])
        #expect(reference.status == 0, "stderr: \(reference.stderr.suffix(500))")
        #expect(answer == reference.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
