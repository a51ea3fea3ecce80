import Foundation
import MedImaging
import MedLabTestSupport
import Testing

@testable import MedInference

/// Collects a stream into deltas, reasoning and the summary.
func collect(_ stream: AnswerStream) async throws -> (deltas: [String], summary: GenerationSummary) {
    var deltas: [String] = []
    var summary: GenerationSummary?
    for try await event in stream {
        switch event {
        case .delta(let text), .reasoning(let text): deltas.append(text)
        case .finished(let done): summary = done
        }
    }
    return (deltas, try #require(summary))
}

@Suite("Generation through llama.cpp", .serialized)
struct GenerationTests {
    @Test func realTextFromGemma270M() async throws {
        let engine = try await SharedEngines.shared.gemma()
        // The quantised 270M base model continues "The capital of France is" with "the capital of the
        // country of France..." (llama-completion agrees); a question/answer prompt draws out the fact.
        var request = GenerationRequest(question: "Question: What is the capital of France?\nAnswer:", maxNewTokens: 16)
        request.raw = true
        let result = try await engine.answer(request)
        #expect(result.answer.contains("Paris"), "got: \(result.answer)")
        #expect(result.summary.tokensOut > 0 && result.summary.tokensOut <= 16)
        #expect(result.summary.imageTokensIn == 0)
        #expect(engine.info.backend == "cpu")
    }

    @Test func imageAndTextCountTokens() async throws {
        let engine = try await SharedEngines.shared.tiny()
        let perImage = try #require(engine.info.tokensPerImage)
        #expect(perImage > 0)
        let image = TestModels.pattern(width: 40, height: 30)
        var request = GenerationRequest(question: "Describe the image.", images: [image], maxNewTokens: 12)
        request.ignoreEndOfSequence = true
        let one = try await engine.answer(request)
        #expect(one.summary.imageTokensIn == perImage)
        #expect(one.summary.tokensOut == 12)
        #expect(one.summary.finishReason == "length")
        #expect(one.summary.imageEncodeMs > 0)
        #expect(one.summary.prefillMs > 0)

        request.turns = [
            ChatTurn(role: .user, parts: [.text("Prior:"), .image(image), .text("Current:"), .image(image), .text("Compare.")])
        ]
        let two = try await engine.answer(request)
        #expect(two.summary.imageTokensIn == 2 * perImage)
        #expect(two.summary.textTokensIn > one.summary.textTokensIn)
    }

    @Test func realModelWithImagePath() async throws {
        let engine = try await SharedEngines.shared.gemma()
        var request = GenerationRequest(
            question: "What is shown?", images: [TestModels.pattern(width: 64, height: 64)],
            maxNewTokens: 8)
        request.ignoreEndOfSequence = true
        let result = try await engine.answer(request)
        #expect(result.summary.imageTokensIn == engine.info.tokensPerImage)
        #expect(result.summary.tokensOut == 8)
    }

    @Test func secondQuestionAboutAnImageReusesItsEmbeddings() async throws {
        let image = TestModels.pattern(width: 37, height: 41)
        func ask(_ engine: LlamaEngine, _ question: String, _ picture: ModelImage = image) async throws -> GenerationResult {
            var request = GenerationRequest(question: question, images: [picture], maxNewTokens: 6)
            request.ignoreEndOfSequence = true
            return try await engine.answer(request)
        }
        // A separate engine (its own cache) answers the second question cold, as the reference.
        let cold = try await ask(
            try await SharedEngines.shared.engine(
                model: TestModels.gemma270m, projector: TestModels.projector640,
                contextTokens: 2048), "Is there a fracture?")
        #expect(cold.summary.imageEncodeMs > 0)
        let engine = try await SharedEngines.shared.gemma()
        let first = try await ask(engine, "What is shown?")
        #expect(first.summary.imageEncodeMs > 0)
        let second = try await ask(engine, "Is there a fracture?")
        #expect(second.summary.imageEncodeMs == 0, "the same pixels are not encoded again")
        #expect(second.rawText == cold.rawText)
        var changed = image.pixels
        changed[0] ^= 1
        let other = try await ask(engine, "Is there a fracture?", try ModelImage(width: 37, height: 41, pixels: changed))
        #expect(other.summary.imageEncodeMs > 0, "one changed pixel is another image")
    }

    @Test func streamedTextEqualsCollectedText() async throws {
        let engine = try await SharedEngines.shared.gemma()
        var request = GenerationRequest(question: "Once upon a time", maxNewTokens: 24)
        request.raw = true
        let (deltas, summary) = try await collect(engine.generate(request))
        #expect(deltas.count > 1)
        #expect(deltas.joined() == summary.rawText)
        let again = try await engine.answer(request)
        #expect(again.rawText == summary.rawText, "greedy decoding is deterministic")
    }

    @Test func cancellationStopsDecodingPromptly() async throws {
        let engine = try await SharedEngines.shared.gemma()
        var long = GenerationRequest(question: "Write a very long story.", maxNewTokens: 100_000)
        long.ignoreEndOfSequence = true
        let consumer = Task {
            var pieces = 0
            for try await event in engine.generate(long) {
                if case .delta = event { pieces += 1 }
                if pieces == 3 { break }
            }
            return pieces
        }
        #expect(try await consumer.value == 3)
        // Uncancelled, the long request would hold the engine for ~4000 tokens (tens of seconds).
        let start = Date()
        var short = GenerationRequest(question: "Hello", maxNewTokens: 4)
        short.raw = true
        let result = try await engine.answer(short)
        #expect(result.summary.tokensOut <= 4)
        #expect(Date().timeIntervalSince(start) < 15, "the cancelled generation kept the engine busy")
    }

    @Test func twoConcurrentCallersBothGetTheirOwnAnswer() async throws {
        let engine = try await SharedEngines.shared.gemma()
        var a = GenerationRequest(question: "The capital of France is", maxNewTokens: 12)
        a.raw = true
        var b = GenerationRequest(question: "The largest planet in the solar system is", maxNewTokens: 12)
        b.raw = true
        let expectedA = try await engine.answer(a).rawText
        let expectedB = try await engine.answer(b).rawText
        async let gotA = engine.answer(a)
        async let gotB = engine.answer(b)
        let (resultA, resultB) = try await (gotA, gotB)
        #expect(resultA.rawText == expectedA)
        #expect(resultB.rawText == expectedB)
        #expect(expectedA != expectedB)
    }

    @Test func batchedRequestsMatchSequentialOnes() async throws {
        let sequential = try await SharedEngines.shared.gemma()
        let batched = try await SharedEngines.shared.engine(
            model: TestModels.gemma270m, projector: TestModels.projector640,
            contextTokens: 1024, parallel: 3)
        #expect(batched.info.parallel == 3)
        var requests: [GenerationRequest] = []
        for (prompt, tokens) in [
            ("Question: What is the capital of France?\nAnswer:", 10), ("Once upon a time", 20),
            ("The Eiffel Tower is located in the city of", 14)
        ] {
            var request = GenerationRequest(question: prompt, maxNewTokens: tokens)
            request.raw = true
            requests.append(request)
        }
        var image = GenerationRequest(question: "What is shown?", images: [TestModels.pattern(width: 30, height: 50)], maxNewTokens: 6)
        image.ignoreEndOfSequence = true
        requests.append(image)
        var expected: [String] = []
        for request in requests { expected.append(try await sequential.answer(request).rawText) }
        let results = try await withThrowingTaskGroup(of: (Int, GenerationResult).self) { group in
            for (index, request) in requests.enumerated() {
                group.addTask { (index, try await batched.answer(request)) }
            }
            var results = [GenerationResult?](repeating: nil, count: requests.count)
            for try await (index, result) in group { results[index] = result }
            return results.compactMap { $0 }
        }
        #expect(results.map(\.rawText) == expected)
        #expect(results[3].summary.tokensOut == 6)
        #expect(results[3].summary.imageTokensIn == batched.info.tokensPerImage)
    }

    @Test func sharedCacheServesParallelRequestsWithinTheirOwnContext() async throws {
        // The GPU default: one KV buffer for all sequences. Answers may drift from the sequential ones in
        // the last float bits, but every request is answered in full, starts the same, and a sequence
        // is still held to its own context even though the shared buffer is larger.
        let sequential = try await SharedEngines.shared.gemma()
        let shared = try await SharedEngines.shared.engine(
            model: TestModels.gemma270m, projector: TestModels.projector640,
            contextTokens: 256, parallel: 3, sharedCache: true)
        #expect(shared.info.contextTokens == 256)
        var requests: [GenerationRequest] = []
        for prompt in ["Question: What is the capital of France?\nAnswer:", "Once upon a time", "The Eiffel Tower is in"] {
            var request = GenerationRequest(question: prompt, maxNewTokens: 12)
            request.raw = true
            request.ignoreEndOfSequence = true
            requests.append(request)
        }
        let results = try await withThrowingTaskGroup(of: (Int, GenerationResult).self) { group in
            for (index, request) in requests.enumerated() { group.addTask { (index, try await shared.answer(request)) } }
            var results = [GenerationResult?](repeating: nil, count: requests.count)
            for try await (index, result) in group { results[index] = result }
            return results.compactMap { $0 }
        }
        for (request, result) in zip(requests, results) {
            #expect(result.summary.tokensOut == 12)
            let alone = try await sequential.answer(request).rawText
            #expect(result.rawText.prefix(8) == alone.prefix(8))
        }
        var long = GenerationRequest(question: String(repeating: "word ", count: 400), maxNewTokens: 4)
        long.raw = true
        await #expect(throws: InferenceError.self) { try await shared.answer(long) }
    }

    @Test func stopStringEndsTheAnswer() async throws {
        let engine = try await SharedEngines.shared.gemma()
        var request = GenerationRequest(question: "The capital of France is", maxNewTokens: 32)
        request.raw = true
        let full = try await engine.answer(request).rawText
        let words = full.split(separator: " ")
        try #require(words.count > 3)
        let stop = String(words[2])
        request.stop = [stop]
        let cut = try await engine.answer(request)
        #expect(!cut.rawText.contains(stop))
        #expect(full.hasPrefix(cut.rawText))
        #expect(cut.summary.finishReason == "stop")
    }

    @Test func contextOverflowFailsBeforeAnyWork() async throws {
        let engine = try await SharedEngines.shared.engine(
            model: TestModels.tinyText, projector: TestModels.tinyProjector,
            contextTokens: 256)
        let perImage = try #require(engine.info.tokensPerImage)
        let images = Array(repeating: TestModels.pattern(width: 16, height: 16), count: 256 / perImage + 1)
        await #expect {
            _ = try await engine.answer(GenerationRequest(question: "Compare these.", images: images))
        } throws: { error in
            guard case InferenceError.contextOverflow(let needed, let available) = error else { return false }
            return available == 256 && needed > 256
        }
        await #expect {
            _ = try await engine.answer(GenerationRequest(question: String(repeating: "lung ", count: 400)))
        } throws: { error in
            if case InferenceError.contextOverflow = error { return true }
            return false
        }
    }

    @Test(arguments: [false, true])
    func questionsAboutOneImageShareItsPrefill(sharedCache: Bool) async throws {
        // Several questions about one image (batch's three, a follow-up): the second and later copy
        // `[system + image]` from a running sequence instead of prefilling it again, with per-request
        // buffers (a whole-buffer copy cut back) and with one shared buffer (cells gain an owner).
        let sequential = try await SharedEngines.shared.gemma()
        let engine = try await SharedEngines.shared.engine(
            model: TestModels.gemma270m, projector: TestModels.projector640, contextTokens: 1024, parallel: 3,
            sharedCache: sharedCache)
        let image = TestModels.pattern(width: 48, height: 36)
        var requests: [GenerationRequest] = []
        for question in ["What is shown?", "Is there an effusion?", "Describe the mediastinum."] {
            var request = GenerationRequest(question: question, images: [image], maxNewTokens: 24)
            request.ignoreEndOfSequence = true
            requests.append(request)
        }
        var expected: [String] = []
        for request in requests { expected.append(try await sequential.answer(request).rawText) }
        let results = try await withThrowingTaskGroup(of: (Int, GenerationResult).self) { group in
            for (index, request) in requests.enumerated() { group.addTask { (index, try await engine.answer(request)) } }
            var results = [GenerationResult?](repeating: nil, count: requests.count)
            for try await (index, result) in group { results[index] = result }
            return results.compactMap { $0 }
        }
        #expect(results.map(\.rawText) == expected)
        #expect(results.contains { $0.summary.cachedPromptTokens != nil }, "no request reused another's prefix")
        let perImage = try #require(engine.info.tokensPerImage)
        for result in results {
            guard let count = result.summary.cachedPromptTokens else { continue }
            #expect(count > perImage && count < result.summary.tokensIn)
        }
        // A different image shares nothing.
        var other = requests[0]
        other.turns = [ChatTurn(role: .user, parts: [.image(TestModels.pattern(width: 30, height: 50)), .text("What is shown?")])]
        #expect(try await engine.answer(other).summary.cachedPromptTokens == nil)
    }

    @Test func aRequestThatFailsWhilePreparedLeavesTheEngineIdle() async throws {
        // Image requests are prepared (tokenized, encoded) on the vision thread before they take a
        // slot; one that fails there must not be counted as waiting, nor keep shutdown waiting.
        let engine = try await SharedEngines.shared.engine(
            model: TestModels.tinyText, projector: TestModels.tinyProjector, contextTokens: 256)
        let perImage = try #require(engine.info.tokensPerImage)
        let images = Array(repeating: TestModels.pattern(width: 16, height: 16), count: 256 / perImage + 1)
        await #expect(throws: InferenceError.self) {
            _ = try await engine.answer(GenerationRequest(question: "Compare these.", images: images))
        }
        await engine.waitUntilIdle(timeout: .seconds(60))
        #expect(engine.isIdle)
        #expect(engine.load.waiting == 0 && engine.load.active == 0)
        var next = GenerationRequest(question: "Describe.", images: [TestModels.pattern(width: 20, height: 20)], maxNewTokens: 3)
        next.ignoreEndOfSequence = true
        #expect(try await engine.answer(next).summary.tokensOut == 3)
    }

    @Test func badRequestsAreRejected() async throws {
        let engine = try await SharedEngines.shared.tiny()
        await #expect(throws: InferenceError.self) {
            _ = try await engine.answer(GenerationRequest(question: "x", maxNewTokens: 0))
        }
        #expect(throws: ImagingError.self) { _ = try ModelImage(width: 2, height: 2, pixels: [1, 2, 3]) }
    }
}
