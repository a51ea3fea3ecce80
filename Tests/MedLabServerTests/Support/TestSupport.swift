import Foundation
import Hummingbird
import HummingbirdTesting
import MedImaging
import MedInference
import Testing
@testable import MedLabServer

/// The model files scripts/setup.sh prepares (same folder the engine tests use).
enum TestModels {
    static let directory: URL = {
        if let dir = ProcessInfo.processInfo.environment["MEDLAB_TEST_MODELS"] { return URL(fileURLWithPath: dir) }
        return ModelFiles.cacheDirectory().appendingPathComponent("test-models")
    }()

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    static var gemma270m: String { path("gemma-3-270m-q4_k_m.gguf") }
    static var projector640: String { path("tiny-mmproj-640.gguf") }
    static var tinyText: String { path("tiny-gemma3.gguf") }
    static var tinyProjector: String { path("tiny-mmproj.gguf") }
}

/// Real engines, loaded once for all server tests (loading is the slow part).
actor Engines {
    static let shared = Engines()
    private var cache: [String: LlamaEngine] = [:]

    func load(_ model: String, _ projector: String?, context: Int = 4096) async throws -> LlamaEngine {
        let key = "\(model)|\(projector ?? "")|\(context)"
        if let engine = cache[key] { return engine }
        for path in [model] + (projector.map { [$0] } ?? []) where !FileManager.default.fileExists(atPath: path) {
            Issue.record("missing test model \(path): run scripts/setup.sh")
            throw InferenceError.modelMissing(path: path, hint: "run scripts/setup.sh")
        }
        let engine = try await LlamaEngine.load(ModelFiles(model: model, projector: projector), options: EngineOptions(contextTokens: context))
        cache[key] = engine
        return engine
    }

    /// Gemma 3 270M (real text) with a random 640-wide projector: the demo pair.
    func gemma() async throws -> LlamaEngine { try await load(TestModels.gemma270m, TestModels.projector640) }
    /// Random tiny weights: fast, gibberish.
    func tiny() async throws -> LlamaEngine { try await load(TestModels.tinyText, TestModels.tinyProjector) }
}

/// Builds the real app around an engine and runs `body` against it.
func withLab<T: Sendable>(_ engine: (any InferenceEngine)?, status: EngineHost.Status = .ok, demo: Bool = false,
                          configuration: LabServerConfiguration = LabServerConfiguration(),
                          setup: TestingSetup = .router, metrics: LabMetrics = LabMetrics(),
                          _ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
    let host: EngineHost
    if let engine {
        host = EngineHost(engine: engine, info: await engine.info, isDemo: demo)
    } else {
        host = EngineHost(status: status, message: status == .noModel ? ModelFiles.downloadHint : nil)
    }
    let app = try buildApplication(host: host, configuration: configuration, metrics: metrics)
    return try await app.test(setup, body)
}

extension TestClientProtocol {
    /// POSTs JSON built from a dictionary.
    func postJSON(_ uri: String, _ object: [String: Any], headers: HTTPFields = [:]) async throws -> TestResponse {
        let data = try JSONSerialization.data(withJSONObject: object)
        var all = headers
        all[.contentType] = "application/json"
        return try await execute(uri: uri, method: .post, headers: all, body: ByteBuffer(bytes: data))
    }
}

extension TestResponse {
    /// The body as a JSON object (fails the test if it is not one).
    var json: [String: Any] {
        let data = Data(buffer: body)
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            Issue.record("not a JSON object: \(String(decoding: data, as: UTF8.self).prefix(300))")
            return [:]
        }
        return object
    }

    var text: String { String(buffer: body) }

    /// The `error.code` of the lab's error shape.
    var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }

    /// `data:` payloads of an SSE body, in order.
    var events: [String] {
        text.components(separatedBy: "\n").filter { $0.hasPrefix("data: ") }.map { String($0.dropFirst(6)) }
    }
}

extension Data {
    init(buffer: ByteBuffer) { self = Data(buffer.readableBytesView) }
}

/// Small PNGs (stored deflate, no codec needed) and their data URLs.
enum TestImages {
    static func png(width: Int, height: Int) -> [UInt8] {
        var pixels: [UInt8] = []
        for y in 0..<height {
            for x in 0..<width {
                pixels += [UInt8(x * 255 / max(1, width - 1)), UInt8(y * 255 / max(1, height - 1)), UInt8((x ^ y) & 0xFF)]
            }
        }
        return [UInt8](try! ImageEncoder.png(RGBImage(width: width, height: height, pixels: pixels)))
    }

    static func dataURL(width: Int = 64, height: Int = 48) -> String {
        "data:image/png;base64," + Data(png(width: width, height: height)).base64EncodedString()
    }
}
