import ArgumentParser
import Foundation
import MedInference
import MedLabRecord

/// The engine an experiment command runs on: the model here, or a `--backend` pool; with
/// `slots` requests decoded together.
enum ExperimentEngine {
    static func make(
        _ modelOptions: ModelOptions, _ backendOptions: BackendOptions, recording: RecordSession,
        jobs: Int
    ) async throws -> (engine: any InferenceEngine, slots: Int, checksums: Task<Void, Never>?) {
        if backendOptions.isEnabled {
            let pool = try await backendOptions.makePool()
            return (pool, pool.slots, nil)
        }
        let files = try modelOptions.files()
        var options = modelOptions.engineOptions
        // Cells share the engine: decode up to four together unless told otherwise.
        options.parallel = max(options.parallel, min(4, jobs))
        let checksums = recording.use(files)
        return (try await LlamaEngine.load(files, options: options), options.parallel, checksums)
    }

    /// Writes `text` to `path`, creating folders; a failure is a clear CLI error.
    static func write(_ text: String, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        do { try Data(text.utf8).write(to: url) } catch { throw ValidationError("cannot write \(path): \(error.localizedDescription)") }
    }
}
