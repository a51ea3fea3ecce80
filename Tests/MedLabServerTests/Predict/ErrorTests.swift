import Foundation
import Hummingbird
import HummingbirdTesting
import MedInference
import MedLabTestSupport
import Testing

@testable import MedLabServer

/// Every error code the issue lists, through the real routes, in the one JSON shape.
@Suite(.serialized) struct ErrorTests {
    @Test func malformedRequestsAre400() async throws {
        let engine = try await SharedEngines.shared.tiny()
        try await withLab(engine) { client in
            let badJSON = try await client.execute(
                uri: "/api/predict", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: "{\"image\": "))
            #expect(badJSON.status == .badRequest)
            #expect(badJSON.errorCode == "invalid_json")
            #expect((badJSON.json["error"] as? [String: Any])?["type"] as? String == "invalid_request_error")

            let badBase64 = try await client.postJSON("/api/predict", ["image": "data:image/png;base64,@@@not base64@@@", "question": "q"])
            #expect(badBase64.status == .badRequest)
            #expect(badBase64.errorCode == "invalid_base64")

            let empty = try await client.postJSON("/api/predict", ["image": TestImages.dataURL(), "question": "   "])
            #expect(empty.status == .badRequest)
            #expect(empty.errorCode == "empty_question")

            let missing = try await client.postJSON("/api/predict", ["image": TestImages.dataURL()])
            #expect(missing.errorCode == "empty_question")

            let tokens = try await client.postJSON("/api/predict", ["question": "q", "max_new_tokens": 0])
            #expect(tokens.status == .badRequest)

            let window = try await client.postJSON("/api/predict", ["question": "q", "window": "sunset"])
            #expect(window.status == .badRequest)
            #expect(window.errorCode == "invalid_window")

            let remote = try await client.postJSON("/api/predict", ["image": "https://example.org/x.png", "question": "q"])
            #expect(remote.status == .badRequest)
            #expect(remote.errorCode == "remote_image_refused")

            // A truncated PNG is recognised as PNG but cannot be decoded.
            let truncated = Array(TestImages.png(width: 20, height: 20).prefix(60))
            let broken = try await client.postJSON("/api/predict", ["image": Data(truncated).base64EncodedString(), "question": "q"])
            #expect(broken.status == .badRequest)
            #expect(broken.errorCode == "invalid_image")
        }
    }

    @Test func unknownFormatsAre415() async throws {
        let engine = try await SharedEngines.shared.tiny()
        try await withLab(engine) { client in
            let notImage = Data("just some text, not an image".utf8).base64EncodedString()
            let unknown = try await client.postJSON("/api/predict", ["image": notImage, "question": "q"])
            #expect(unknown.status == .unsupportedMediaType)
            #expect(unknown.errorCode == "unsupported_media_type")

            let plain = try await client.execute(
                uri: "/api/predict", method: .post, headers: [.contentType: "text/plain"],
                body: ByteBuffer(string: "question"))
            #expect(plain.status == .unsupportedMediaType)
        }
    }

    @Test func oversizedBodiesAndImageCountsAre413() async throws {
        let engine = try await SharedEngines.shared.tiny()
        try await withLab(engine, configuration: LabServerConfiguration(maxBodyBytes: 4096)) { client in
            // PNGs compress well; the limit is on the body, so a long question crosses it just as well.
            let big = try await client.postJSON(
                "/api/predict", ["image": TestImages.dataURL(), "question": String(repeating: "q", count: 8000)])
            #expect(big.status == .contentTooLarge)
            #expect(big.errorCode == "payload_too_large")
        }
        try await withLab(engine, configuration: LabServerConfiguration(maxImagePixels: 100 * 100, maxImages: 2)) { client in
            let pixels = try await client.postJSON("/api/predict", ["image": TestImages.dataURL(width: 120, height: 100), "question": "q"])
            #expect(pixels.status == .contentTooLarge)
            let message = (pixels.json["error"] as? [String: Any])?["message"] as? String ?? ""
            #expect(message.contains("120×100"))

            let tiny = TestImages.dataURL(width: 4, height: 4)
            let many = try await client.postJSON("/api/predict", ["images": [tiny, tiny, tiny], "question": "q"])
            #expect(many.status == .contentTooLarge)
        }
    }

    @Test func promptsLongerThanTheContextAre400WithTheNumbers() async throws {
        let engine = try await SharedEngines.shared.tiny()
        try await withLab(engine) { client in
            let long = String(repeating: "lung ", count: 6000)  // ~6000 tokens, context 4096
            let response = try await client.postJSON("/api/predict", ["question": long, "max_new_tokens": 4])
            #expect(response.status == .badRequest)
            #expect(response.errorCode == "context_overflow")
            // The numbers a user needs to fix it: what the prompt needs and what the context holds.
            let message = (response.json["error"] as? [String: Any])?["message"] as? String ?? ""
            #expect(message.contains("but the context holds 4096"))
        }
    }

    @Test func engineContextCheckIs400Too() async throws {
        // Text the pre-check lets through (it counts 4 bytes a token) but the tokenizer does not:
        // single letters separated by spaces are one token each, so the engine's exact check answers.
        let engine = try await SharedEngines.shared.tiny()
        try await withLab(engine) { client in
            let question = Array(repeating: "a", count: 5000).joined(separator: " ")
            let response = try await client.postJSON("/api/predict", ["question": question, "max_new_tokens": 4])
            #expect(response.status == .badRequest)
            #expect(response.errorCode == "context_overflow")
        }
    }

    @Test func noModelAndLoadingAre503() async throws {
        try await withLab(nil, status: .noModel) { client in
            let response = try await client.postJSON("/api/predict", ["image": TestImages.dataURL(), "question": "q"])
            #expect(response.status == .serviceUnavailable)
            #expect(response.errorCode == "no_model")
            let message = (response.json["error"] as? [String: Any])?["message"] as? String ?? ""
            #expect(message.contains("medlab pull"))
            let health = try await client.execute(uri: "/api/health", method: .get)
            #expect(health.json["status"] as? String == "no_model")
        }
        try await withLab(nil, status: .loading) { client in
            let response = try await client.postJSON("/v1/chat/completions", ["messages": [["role": "user", "content": "hi"]]])
            #expect(response.status == .serviceUnavailable)
            #expect(response.errorCode == "loading")
            #expect(response.headers[.retryAfter] != nil)
            let health = try await client.execute(uri: "/api/health", method: .get)
            #expect(health.json["status"] as? String == "loading")
            #expect(health.json["ready"] as? Bool == false)
        }
    }

    @Test func unknownRoutesAre404InTheSameShape() async throws {
        try await withLab(nil, status: .loading) { client in
            let response = try await client.execute(uri: "/api/nothing-here", method: .get)
            #expect(response.status == .notFound)
            #expect(response.errorCode == "not_found")
        }
    }
}
