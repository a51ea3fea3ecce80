import Foundation
import MedInference
import Testing

/// The model files scripts/setup.sh prepares (scripts/prepare_test_models.py).
public enum TestModels {
    public static let directory: URL = {
        if let dir = ProcessInfo.processInfo.environment["MEDLAB_TEST_MODELS"] { return URL(fileURLWithPath: dir) }
        return ModelFiles.cacheDirectory().appendingPathComponent("test-models")
    }()

    public static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    public static var gemma270m: String { path("gemma-3-270m-q4_k_m.gguf") }
    public static var tinyText: String { path("tiny-gemma3.gguf") }
    public static var tinyProjector: String { path("tiny-mmproj.gguf") }
    public static var projector640: String { path("tiny-mmproj-640.gguf") }
    public static var mismatchedProjector: String { path("tiny-mmproj-mismatch.gguf") }
    public static var projectorWithoutVision: String { path("tiny-mmproj-novision.gguf") }
    public static var notAModel: String { path("not-a-model.gguf") }

    /// Fails loudly (rather than skipping) when the set-up script has not run.
    public static func require(_ paths: String...) throws {
        for path in paths where !FileManager.default.fileExists(atPath: path) {
            Issue.record("missing test model \(path): run scripts/setup.sh")
            throw InferenceError.modelMissing(path: path, hint: "run scripts/setup.sh")
        }
    }

    /// A deterministic RGB test pattern.
    public static func pattern(width: Int, height: Int) -> ModelImage {
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                rgb[i] = UInt8(x * 255 / max(1, width - 1))
                rgb[i + 1] = UInt8(y * 255 / max(1, height - 1))
                rgb[i + 2] = UInt8((x + y) % 2 * 255)
            }
        }
        return try! ModelImage(width: width, height: height, pixels: rgb)
    }
}

/// Engines loaded once and shared by the tests (loading is the slow part).
public actor SharedEngines {
    public static let shared = SharedEngines()
    private var cache: [String: LlamaEngine] = [:]

    public func engine(
        model: String, projector: String?, contextTokens: Int = 4096, parallel: Int = 1,
        sharedCache: Bool? = nil
    ) async throws -> LlamaEngine {
        let key = "\(model)|\(projector ?? "")|\(contextTokens)|\(parallel)|\(String(describing: sharedCache))"
        if let engine = cache[key] { return engine }
        try TestModels.require(model)
        if let projector { try TestModels.require(projector) }
        let engine = try await LlamaEngine.load(
            ModelFiles(model: model, projector: projector),
            options: EngineOptions(
                contextTokens: contextTokens, parallel: parallel,
                sharedCache: sharedCache))
        cache[key] = engine
        return engine
    }

    /// Random tiny weights: fast, gibberish.
    public func tiny() async throws -> LlamaEngine { try await engine(model: TestModels.tinyText, projector: TestModels.tinyProjector) }
    /// Gemma 3 270M (real text) with a random 640-wide projector: the demo pair.
    public func gemma() async throws -> LlamaEngine { try await engine(model: TestModels.gemma270m, projector: TestModels.projector640) }
}
