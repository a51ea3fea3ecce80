import Foundation
import Hummingbird
import HummingbirdTesting
import MedImaging
import MedInference
import MedLabTestSupport
import Testing

@testable import MedLabServer

/// Builds the real app around an engine and runs `body` against it.
func withLab<T: Sendable>(
    _ engine: (any InferenceEngine)?, status: EngineHost.Status = .ok, demo: Bool = false,
    configuration: LabServerConfiguration = LabServerConfiguration(),
    setup: TestingSetup = .router, metrics: LabMetrics = LabMetrics(),
    _ body: @Sendable (any TestClientProtocol) async throws -> T
) async throws -> T {
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
