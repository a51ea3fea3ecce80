import Foundation
import MedLabTestSupport
import Testing

@testable import MedInference

/// Whether a remote server can see images comes from the server itself (llama-server's `/props`),
/// and a pool sends image questions only to members that can: real llama-server processes, one
/// with the tiny projector and one without.
@Suite("Remote engines say whether they see images", .serialized)
struct RemoteVisionTests {
    static let seeing = Task { try await LlamaServerProcess(model: TestModels.tinyText, projector: TestModels.tinyProjector) }
    static let blind = Task { try await LlamaServerProcess(model: TestModels.tinyText, projector: nil) }

    static func engine(_ server: LlamaServerProcess, vision: Bool? = nil) -> RemoteEngine {
        RemoteEngine(endpoint: RemoteEndpoint(url: server.url, slots: 1, imageSize: 112, tokensPerImage: 4, vision: vision))
    }

    @Test func theServerSaysWhetherItSees() async throws {
        let seeing = Self.engine(try await Self.seeing.value)
        let blind = Self.engine(try await Self.blind.value)
        #expect(seeing.vision == nil)  // not asked yet
        try await seeing.probe()
        try await blind.probe()
        #expect(seeing.vision == true && blind.vision == false)
        let seen = await seeing.info
        let unseen = await blind.info
        #expect(seen.vision && seen.imageSize == 112)
        #expect(!unseen.vision && unseen.imageSize == nil)
    }

    @Test func whatTheServerSaysWinsOverConfiguration() async throws {
        let blind = Self.engine(try await Self.blind.value, vision: true)
        try await blind.probe()
        let info = await blind.info
        #expect(!info.vision)
    }

    @Test func aPoolSendsImagesOnlyToMembersThatSee() async throws {
        let seeing = Self.engine(try await Self.seeing.value)
        let blind = Self.engine(try await Self.blind.value)
        let pool = EnginePool(members: [.init(blind), .init(seeing)])
        await pool.checkHealth()
        let info = await pool.info
        #expect(info.vision)
        #expect(pool.statuses.map(\.vision) == [false, true])
        for _ in 0..<3 {
            let result = try await pool.answer(
                GenerationRequest(
                    question: "What is shown?",
                    images: [TestModels.pattern(width: 90, height: 60)], maxNewTokens: 4))
            #expect(result.summary.imageTokensIn == 4)
        }
        #expect(pool.statuses.map(\.requests) == [0, 3])
        _ = try await pool.answer(GenerationRequest(question: "The capital of France is", maxNewTokens: 2))
        _ = try await pool.answer(GenerationRequest(question: "The capital of France is", maxNewTokens: 2))
        #expect(pool.statuses[0].requests >= 1)
    }

    @Test func aPoolWhereNoneSeesRefusesImagesNamingTheServer() async throws {
        let server = try await Self.blind.value
        let pool = EnginePool(members: [.init(Self.engine(server))])
        await pool.checkHealth()
        let info = await pool.info
        #expect(!info.vision)
        let request = GenerationRequest(question: "What is shown?", images: [TestModels.pattern(width: 90, height: 60)], maxNewTokens: 4)
        do {
            _ = try await pool.answer(request)
            Issue.record("an image question was answered by a server without vision")
        } catch let error as InferenceError {
            #expect(error.description.contains(server.url.absoluteString))
        }
        #expect(pool.statuses[0].requests == 0)
    }
}
