import Foundation
import MedLabTestSupport
import Testing

@testable import MedInference

/// The wire format on its own: server-sent events and the request body, without a server.
@Suite("Remote wire format")
struct RemoteWireTests {
    @Test func eventsSplitAcrossPiecesAndLineEndings() {
        var parser = ServerSentEventParser()
        var events: [String] = []
        // A CRLF split between two pieces, a comment line, a two-line event and LF-only lines.
        for piece in ["data: {\"a\":1}\r", "\n\r\n: keep-alive\n\ndata: first\ndata: sec", "ond\n\ndata: [DONE]\n\n"] {
            events += parser.feed(Array(piece.utf8))
        }
        events += parser.finish()
        #expect(events == ["{\"a\":1}", "first\nsecond", "[DONE]"])
    }

    @Test func lastEventWithoutBlankLineIsKept() {
        var parser = ServerSentEventParser()
        #expect(parser.feed(Array("data: tail".utf8)).isEmpty)
        #expect(parser.finish() == ["tail"])
    }

    private func json(_ body: ChatCompletionBody) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: JSONEncoder().encode(body)) as? [String: Any])
    }

    @Test func llamaServerGetsTheInProcessLayout() throws {
        let image = TestModels.pattern(width: 20, height: 10)
        let request = GenerationRequest(question: "Findings?", images: [image])
        let body = try json(ChatCompletionBody(request: request, model: "m", kind: .llamaServer, imageSize: 16))
        let messages = try #require(body["messages"] as? [[String: Any]])
        #expect(messages.count == 1)  // system text folded into the user turn
        let parts = try #require(messages[0]["content"] as? [[String: Any]])
        #expect(parts[0]["text"] as? String == "You are an expert radiologist.\n\n\n\n")
        let url = try #require((parts[1]["image_url"] as? [String: Any])?["url"] as? String)
        #expect(url.hasPrefix("data:image/png;base64,"))
        #expect(parts[2]["text"] as? String == "\n\nFindings?")
        #expect(body["stream"] as? Bool == true && body["temperature"] as? Double == 0)
        #expect(body["seed"] == nil && body["skip_special_tokens"] == nil)
    }

    @Test func vllmGetsSystemMessageAndPlainParts() throws {
        let request = GenerationRequest(question: "Findings?", images: [TestModels.pattern(width: 8, height: 8)])
        let body = try json(ChatCompletionBody(request: request, model: "medgemma", kind: .vllm, imageSize: 8))
        let messages = try #require(body["messages"] as? [[String: Any]])
        #expect(messages[0]["role"] as? String == "system")
        #expect(messages[0]["content"] as? String == GenerationRequest.radiologistSystem)
        let parts = try #require(messages[1]["content"] as? [[String: Any]])
        #expect(parts.map { $0["type"] as? String } == ["image_url", "text"])
        #expect(parts[1]["text"] as? String == "Findings?")
        #expect(body["skip_special_tokens"] as? Bool == false && body["model"] as? String == "medgemma")
    }

    @Test func endpointURLsAndKinds() throws {
        let endpoint = try RemoteEndpoint(parsing: "vllm=http://gpu0:8000/v1/")
        #expect(endpoint.kind == .vllm && endpoint.url.absoluteString == "http://gpu0:8000")
        #expect(endpoint.route("v1/models") == "http://gpu0:8000/v1/models")
        #expect(endpoint.name == "http://gpu0:8000")
        #expect(throws: InferenceError.self) { try RemoteEndpoint(parsing: "gpu0:8000") }
    }

    @Test func leastOutstandingPerSlotWithTurns() {
        let members = ["a", "b"].map { _ in
            EnginePool.Member(RemoteEngine(endpoint: RemoteEndpoint(url: URL(string: "http://127.0.0.1:9")!, slots: 2)))
        }
        var state = PoolState(members: members)
        #expect(state.pick(excluding: []) == 0)
        #expect(state.pick(excluding: []) == 1)  // a has one outstanding now
        #expect(state.pick(excluding: []) == 0)  // tie: turns rotate
        state.members[0].finished()
        state.members[0].finished()
        #expect(state.pick(excluding: []) == 0)  // the least loaded, not the next in turn
        state.members[1].failed("refused")
        #expect(state.pick(excluding: [0]) == nil)  // b is down, a excluded
    }
}
