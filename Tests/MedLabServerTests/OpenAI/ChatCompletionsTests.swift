import Foundation
import Hummingbird
import HummingbirdTesting
import MedInference
import MedLabTestSupport
import Testing

@testable import MedLabServer

/// The OpenAI-compatible API with the real engine (the Python tests drive it with the `openai` client).
@Suite(.serialized) struct ChatCompletionsTests {
    static func imageMessage() -> [String: Any] {
        [
            "role": "user",
            "content": [
                ["type": "text", "text": "What does this image show?"],
                ["type": "image_url", "image_url": ["url": TestImages.dataURL()]]
            ]
        ]
    }

    @Test func completionWithAnImage() async throws {
        let engine = try await SharedEngines.shared.gemma()
        try await withLab(engine) { client in
            let message = Self.imageMessage()
            let response = try await client.postJSON(
                "/v1/chat/completions",
                [
                    "model": "medgemma", "messages": [["role": "system", "content": "You are an expert radiologist."], message],
                    "max_tokens": 6
                ])
            #expect(response.status == .ok)
            let body = response.json
            #expect(body["object"] as? String == "chat.completion")
            #expect((body["id"] as? String)?.hasPrefix("chatcmpl-") == true)
            let choice = try #require((body["choices"] as? [[String: Any]])?.first)
            #expect(["stop", "length"].contains(choice["finish_reason"] as? String ?? ""))
            #expect((choice["message"] as? [String: Any])?["role"] as? String == "assistant")
            let usage = try #require(body["usage"] as? [String: Any])
            let prompt = try #require(usage["prompt_tokens"] as? Int)
            let out = try #require(usage["completion_tokens"] as? Int)
            #expect(prompt > 4 && out >= 1 && out <= 6)
            #expect(usage["total_tokens"] as? Int == prompt + out)
        }
    }

    @Test func streamedChunksEndWithDone() async throws {
        let engine = try await SharedEngines.shared.gemma()
        try await withLab(engine) { client in
            let response = try await client.postJSON(
                "/v1/chat/completions",
                [
                    "messages": [["role": "user", "content": "Write one sentence about the heart."]], "max_completion_tokens": 10,
                    "stream": true, "stream_options": ["include_usage": true]
                ])
            #expect(response.status == .ok)
            let events = response.events
            #expect(events.last == "[DONE]")
            let chunks = events.dropLast().compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(chunks.allSatisfy { $0["object"] as? String == "chat.completion.chunk" })
            let first = try #require((chunks.first?["choices"] as? [[String: Any]])?.first)
            #expect((first["delta"] as? [String: Any])?["role"] as? String == "assistant")
            let finishes = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String }
            #expect(finishes.count == 1)
            let usage = try #require(chunks.last?["usage"] as? [String: Any])
            #expect((usage["completion_tokens"] as? Int ?? 0) >= 1)
        }
    }

    @Test func remoteImageURLsAreRefused() async throws {
        let engine = try await SharedEngines.shared.tiny()
        try await withLab(engine) { client in
            let response = try await client.postJSON(
                "/v1/chat/completions",
                [
                    "messages": [
                        [
                            "role": "user",
                            "content": [
                                ["type": "image_url", "image_url": ["url": "http://example.org/chest.png"]], ["type": "text", "text": "?"]
                            ]
                        ]
                    ]
                ])
            #expect(response.status == .badRequest)
            #expect(response.errorCode == "remote_image_refused")
            let message = (response.json["error"] as? [String: Any])?["message"] as? String ?? ""
            #expect(message.contains("data: URL"))
        }
    }

    @Test func badMessagesAre400() async throws {
        let engine = try await SharedEngines.shared.tiny()
        try await withLab(engine) { client in
            let bodies: [[String: Any]] = [
                ["messages": []], ["messages": [["role": "tool", "content": "x"]]], ["messages": [["role": "assistant", "content": "x"]]],
                ["messages": [["role": "user", "content": "x"]], "max_tokens": 100000]
            ]
            for body in bodies {
                let response = try await client.postJSON("/v1/chat/completions", body)
                #expect(response.status == .badRequest)
            }
        }
    }

    @Test func modelsListTheLoadedModel() async throws {
        let engine = try await SharedEngines.shared.tiny()
        try await withLab(engine) { client in
            let list = try await client.execute(uri: "/v1/models", method: .get)
            #expect(list.status == .ok)
            let data = try #require(list.json["data"] as? [[String: Any]])
            #expect(data.map { $0["id"] as? String } == ["tiny-gemma3.gguf"])
            let found = try await client.execute(uri: "/v1/models/tiny-gemma3.gguf", method: .get)
            #expect(found.status == .ok)
            let missing = try await client.execute(uri: "/v1/models/gpt-4", method: .get)
            #expect(missing.status == .notFound)
        }
    }
}
