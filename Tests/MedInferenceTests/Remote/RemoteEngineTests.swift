import Foundation
import MedLabTestSupport
import Testing

@testable import MedInference

/// `RemoteEngine` against a real llama-server on the same tiny model files as the in-process engine.
@Suite("Remote engine through llama-server", .serialized)
struct RemoteEngineTests {
    /// One server for the suite (starting one takes about a second).
    static let server = Task { try await LlamaServerProcess(model: TestModels.tinyText, projector: TestModels.tinyProjector) }

    static func remote() async throws -> RemoteEngine {
        let server = try await Self.server.value
        // The tiny projector's square is 112 px and an image becomes 4 tokens (see .test-models/models.json).
        return RemoteEngine(endpoint: RemoteEndpoint(url: server.url, imageSize: 112, tokensPerImage: 4))
    }

    /// Greedy decoding of the same prompt must give the same tokens in process and remotely.
    @Test(arguments: [false, true])
    func remoteAnswerEqualsInProcess(withImage: Bool) async throws {
        let local = try await SharedEngines.shared.tiny()
        let remote = try await Self.remote()
        // Not square: both sides must letterbox it the same way (here, before sending it).
        let images = withImage ? [TestModels.pattern(width: 150, height: 90)] : []
        var request = GenerationRequest(question: "What do you see in this study?", images: images, maxNewTokens: 24)
        request.ignoreEndOfSequence = true
        let expected = try await local.answer(request)
        let got = try await remote.answer(request)
        #expect(got.rawText == expected.rawText)
        #expect(got.summary.tokensIn == expected.summary.tokensIn)
        #expect(got.summary.imageTokensIn == expected.summary.imageTokensIn)
        #expect(got.summary.tokensOut == expected.summary.tokensOut)
        #expect(remote.kind == .llamaServer)
    }

    @Test func systemTextAndTwoTurnsMatchInProcess() async throws {
        let local = try await SharedEngines.shared.tiny()
        let remote = try await Self.remote()
        let image = TestModels.pattern(width: 112, height: 112)
        var request = GenerationRequest(
            turns: [
                ChatTurn(role: .user, parts: [.text("Look at this."), .image(image), .text("SLICE 1")]),
                ChatTurn(role: .model, parts: [.text("I see a pattern.")]),
                .user("Is it normal?")
            ], system: "You are a careful reader.", maxNewTokens: 16)
        request.ignoreEndOfSequence = true
        let expected = try await local.answer(request)
        let got = try await remote.answer(request)
        #expect(got.rawText == expected.rawText)
        #expect(got.summary.tokensIn == expected.summary.tokensIn)
    }

    /// Dropping the stream cancels the HTTP request; llama-server then frees the slot.
    @Test func terminatingTheStreamStopsTheServer() async throws {
        let server = try await Self.server.value
        let remote = try await Self.remote()
        var request = GenerationRequest(question: "Write a long report.", maxNewTokens: 3000)
        request.ignoreEndOfSequence = true
        var seen = 0
        for try await event in remote.generate(request) {
            if case .delta = event { seen += 1 }
            if seen == 3 { break }
        }
        #expect(seen == 3)
        let deadline = Date().addingTimeInterval(10)
        var busy = await server.busySlots()
        while busy != 0, Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))
            busy = await server.busySlots()
        }
        #expect(busy == 0, "llama-server still decodes a request nobody reads")
    }

    /// A request the server refuses (here: past its context) is a bad request, not a dead server.
    @Test func refusedRequestIsABadRequest() async throws {
        let remote = try await Self.remote()
        let request = GenerationRequest(question: String(repeating: "lung nodule ", count: 3000), maxNewTokens: 4)
        await #expect(throws: InferenceError.self) { _ = try await remote.answer(request) }
        do {
            _ = try await remote.answer(request)
        } catch let error as InferenceError {
            guard case .badRequest = error else {
                Issue.record("expected badRequest, got \(error)")
                return
            }
        }
    }
}
