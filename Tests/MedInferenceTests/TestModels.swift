import Foundation
import Testing
@testable import MedInference

/// The model files scripts/setup.sh prepares (scripts/prepare_test_models.py).
enum TestModels {
    static let directory: URL = {
        if let dir = ProcessInfo.processInfo.environment["MEDLAB_TEST_MODELS"] { return URL(fileURLWithPath: dir) }
        return ModelFiles.cacheDirectory().appendingPathComponent("test-models")
    }()

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    static var gemma270m: String { path("gemma-3-270m-q4_k_m.gguf") }
    static var tinyText: String { path("tiny-gemma3.gguf") }
    static var tinyProjector: String { path("tiny-mmproj.gguf") }
    static var projector640: String { path("tiny-mmproj-640.gguf") }
    static var mismatchedProjector: String { path("tiny-mmproj-mismatch.gguf") }
    static var projectorWithoutVision: String { path("tiny-mmproj-novision.gguf") }
    static var notAModel: String { path("not-a-model.gguf") }

    /// Fails loudly (rather than skipping) when the set-up script has not run.
    static func require(_ paths: String...) throws {
        for path in paths where !FileManager.default.fileExists(atPath: path) {
            Issue.record("missing test model \(path): run scripts/setup.sh")
            throw InferenceError.modelMissing(path: path, hint: "run scripts/setup.sh")
        }
    }

    /// A deterministic RGB test pattern.
    static func pattern(width: Int, height: Int) -> ModelImage {
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                rgb[i] = UInt8(x * 255 / max(1, width - 1))
                rgb[i + 1] = UInt8(y * 255 / max(1, height - 1))
                rgb[i + 2] = UInt8((x + y) % 2 * 255)
            }
        }
        return try! ModelImage(width: width, height: height, rgb: rgb)
    }
}

/// Engines loaded once and shared by the tests (loading is the slow part).
actor SharedEngines {
    static let shared = SharedEngines()
    private var cache: [String: LlamaEngine] = [:]

    func engine(model: String, projector: String?, contextTokens: Int = 4096, parallel: Int = 1,
                sharedCache: Bool? = nil) async throws -> LlamaEngine {
        let key = "\(model)|\(projector ?? "")|\(contextTokens)|\(parallel)|\(String(describing: sharedCache))"
        if let engine = cache[key] { return engine }
        try TestModels.require(model)
        if let projector { try TestModels.require(projector) }
        let engine = try await LlamaEngine.load(ModelFiles(model: model, projector: projector),
                                                options: EngineOptions(contextTokens: contextTokens, parallel: parallel,
                                                                       sharedCache: sharedCache))
        cache[key] = engine
        return engine
    }

    func tiny() async throws -> LlamaEngine { try await engine(model: TestModels.tinyText, projector: TestModels.tinyProjector) }
    func gemma() async throws -> LlamaEngine { try await engine(model: TestModels.gemma270m, projector: TestModels.projector640) }
}
