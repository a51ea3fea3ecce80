import Foundation
import Hummingbird
import HummingbirdTesting
import MedInference
import MedLabTestSupport
import Testing

@testable import MedLabServer

/// `POST /api/predict` with the real engine: the article's request shape and the extensions.
@Suite(.serialized) struct PredictTests {
    @Test func articleRequestWithDataURLGetsAnAnswer() async throws {
        let engine = try await SharedEngines.shared.gemma()
        try await withLab(engine, demo: true) { client in
            let response = try await client.postJSON(
                "/api/predict",
                [
                    "image": TestImages.dataURL(), "question": "Describe the lung fields, heart size and mediastinum.",
                    "max_new_tokens": 8
                ])
            #expect(response.status == .ok)
            let body = response.json
            #expect(body["answer"] is String)
            #expect(body["model"] as? String == "gemma-3-270m-q4_k_m.gguf")
            #expect(body["demo"] as? Bool == true)
            #expect((body["disclaimer"] as? String)?.contains("not for diagnosis") == true)
            let usage = try #require(body["usage"] as? [String: Any])
            #expect(usage["image_tokens"] as? Int == 4)  // the test projector: 112 px / patch 14 / merge 4
            let out = try #require(usage["completion_tokens"] as? Int)
            #expect(out >= 1 && out <= 8)
            let timings = try #require(body["timings"] as? [String: Any])
            #expect((timings["image_ms"] as? Double ?? 0) > 0)
            #expect((timings["total_ms"] as? Double ?? 0) >= (timings["decode_ms"] as? Double ?? 0))
            #expect(body["boxes"] as? [Any] != nil)
        }
    }

    @Test func bareBase64AndDefaultTokenBudget() async throws {
        let engine = try await SharedEngines.shared.tiny()
        try await withLab(engine) { client in
            let bare = Data(TestImages.png(width: 40, height: 40)).base64EncodedString()
            let response = try await client.postJSON("/api/predict", ["image": bare, "question": "What is shown?"])
            #expect(response.status == .ok)
            let usage = try #require(response.json["usage"] as? [String: Any])
            // No max_new_tokens: the article's default of 512 bounds the answer.
            let out = try #require(usage["completion_tokens"] as? Int)
            #expect(out >= 1 && out <= 512)
            #expect(response.json["demo"] as? Bool == false)
        }
    }

    @Test func realTextModelWritesWords() async throws {
        let engine = try await SharedEngines.shared.gemma()
        try await withLab(engine) { client in
            let response = try await client.postJSON(
                "/api/predict",
                [
                    "question": "Name the largest organ of the human body.", "max_new_tokens": 16, "system": ""
                ])
            #expect(response.status == .ok)
            let answer = try #require(response.json["answer"] as? String)
            #expect(answer.contains { $0.isLetter })
            #expect((response.json["usage"] as? [String: Any])?["image_tokens"] as? Int == 0)
        }
    }

    @Test func severalImagesContextWindowRegionAndSampling() async throws {
        let engine = try await SharedEngines.shared.gemma()
        try await withLab(engine) { client in
            let response = try await client.postJSON(
                "/api/predict",
                [
                    "images": [TestImages.dataURL(width: 32, height: 32), TestImages.dataURL(width: 80, height: 40)],
                    "question": "Compare the prior and current study.", "context": "Prior report: no acute findings.",
                    "window": "lung", "region": ["rect": [10, 5, 30, 20]], "temperature": 0.7, "top_p": 0.9, "seed": 42,
                    "max_new_tokens": 6
                ])
            #expect(response.status == .ok)
            #expect((response.json["usage"] as? [String: Any])?["image_tokens"] as? Int == 8)
        }
    }

    @Test func streamSendsDeltasThenTheFullAnswer() async throws {
        let engine = try await SharedEngines.shared.gemma()
        try await withLab(engine) { client in
            let response = try await client.postJSON(
                "/api/predict",
                [
                    "image": TestImages.dataURL(), "question": "What is shown?", "max_new_tokens": 12, "stream": true
                ])
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("text/event-stream") == true)
            let events = response.events.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            let final = try #require(events.last)
            #expect(final["done"] as? Bool == true)
            let deltas = events.dropLast().compactMap { $0["delta"] as? String }.joined()
            #expect(!deltas.isEmpty)
            #expect(deltas.trimmingCharacters(in: .whitespacesAndNewlines) == final["answer"] as? String)
            #expect((final["usage"] as? [String: Any])?["completion_tokens"] as? Int ?? 0 >= 1)
        }
    }

    @Test func multipartUpload() async throws {
        let engine = try await SharedEngines.shared.tiny()
        try await withLab(engine) { client in
            let boundary = "medlab-test-boundary"
            var body: [UInt8] = []
            func field(_ name: String, _ value: String) {
                body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
            }
            field("question", "What is shown?")
            field("max_new_tokens", "5")
            body += Array(
                "--\(boundary)\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.png\"\r\nContent-Type: image/png\r\n\r\n"
                    .utf8)
            body += TestImages.png(width: 30, height: 20) + Array("\r\n--\(boundary)--\r\n".utf8)
            let response = try await client.execute(
                uri: "/api/predict", method: .post,
                headers: [.contentType: "multipart/form-data; boundary=\(boundary)"],
                body: ByteBuffer(bytes: body))
            #expect(response.status == .ok)
            #expect((response.json["usage"] as? [String: Any])?["image_tokens"] as? Int == 4)
            #expect((response.json["usage"] as? [String: Any])?["completion_tokens"] as? Int ?? 99 <= 5)
        }
    }

    @Test func renderReturnsAPNGPreview() async throws {
        try await withLab(nil, status: .loading) { client in
            let response = try await client.postJSON(
                "/api/render", ["image": TestImages.dataURL(width: 50, height: 30), "region": [[10, 10]]])
            #expect(response.status == .ok)
            #expect(response.json["width"] as? Int == 50)
            #expect(response.json["height"] as? Int == 30)
            let image = try #require(response.json["image"] as? String)
            #expect(image.hasPrefix("data:image/png;base64,"))
            let png = try #require(Data(base64Encoded: String(image.dropFirst("data:image/png;base64,".count))))
            #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        }
    }
}
