import Foundation
import Hummingbird
import HummingbirdTesting
import MedInference
import MedLabTestSupport
import Testing

@testable import MedLabServer

/// Routing, limits, errors and streaming of the real app, against an in-memory engine: no model,
/// so these run in milliseconds (the real-model tests beside them stay).
struct ScriptedEngineTests {
    @Test func aQuestionReachesTheEngineAndItsAnswerComesBack() async throws {
        let engine = ScriptedEngine(pieces: ["No ", "effusion."])
        try await withLab(engine) { client in
            let response = try await client.postJSON("/api/predict", ["question": "Is there an effusion?", "max_new_tokens": 9])
            #expect(response.status == .ok)
            #expect(response.json["answer"] as? String == "No effusion.")
        }
        let request = try #require(engine.requests.first)
        #expect(request.maxNewTokens == 9)
        #expect(
            request.turns.flatMap(\.parts).contains {
                if case .text(let text) = $0 { text.contains("Is there an effusion?") } else { false }
            })
    }

    @Test func aStreamSendsEachPieceThenTheWholeAnswer() async throws {
        let engine = ScriptedEngine(pieces: ["a", "b", "c"])
        try await withLab(engine) { client in
            let response = try await client.postJSON("/api/predict", ["question": "q", "stream": true])
            #expect(response.status == .ok)
            let events = response.events.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(events.compactMap { $0["delta"] as? String } == ["a", "b", "c"])
            #expect(events.last?["done"] as? Bool == true && events.last?["answer"] as? String == "abc")
        }
    }

    @Test func anEngineErrorBecomesTheLabsErrorShape() async throws {
        try await withLab(ScriptedEngine(failure: .badRequest("the engine refused it"))) { client in
            let response = try await client.postJSON("/api/predict", ["question": "q"])
            #expect(response.status == .badRequest)
            #expect(response.errorCode == "invalid_request")
            #expect(response.text.contains("the engine refused it"))
        }
    }

    @Test func anImageForAnEngineWithoutVisionIsRefusedBeforeDecoding() async throws {
        let engine = ScriptedEngine(vision: false)
        try await withLab(engine) { client in
            let response = try await client.postJSON("/api/predict", ["question": "q", "image": "not even base64"])
            #expect(response.status == .unprocessableContent)
            #expect(response.errorCode == "vision_unavailable")
        }
        #expect(engine.requests.isEmpty)
    }

    @Test func aFullQueueAnswers429WithRetryAfterWhileASlotIsHeld() async throws {
        let engine = ScriptedEngine(held: true)
        let configuration = LabServerConfiguration(concurrentGenerations: 1, maxQueuedRequests: 0)
        try await withLab(engine, configuration: configuration) { client in
            async let first = client.postJSON("/api/predict", ["question": "first"])
            await engine.waitForRequests(1)
            let refused = try await client.postJSON("/api/predict", ["question": "second"])
            #expect(refused.status == .tooManyRequests)
            #expect(Int(refused.headers[.retryAfter] ?? "") ?? 0 >= 1)
            // Refused before its images are decoded (a 400 would mean they were): under overload a
            // refusal must not wait for a decode behind everyone else's. Both APIs alike.
            let undecodable = try await client.postJSON("/api/predict", ["question": "third", "image": "not an image"])
            #expect(undecodable.status == .tooManyRequests)
            let chat = try await client.postJSON(
                "/v1/chat/completions",
                [
                    "messages": [
                        [
                            "role": "user",
                            "content": [
                                ["type": "text", "text": "q"], ["type": "image_url", "image_url": ["url": "data:image/png;base64,AAAA"]]
                            ]
                        ]
                    ]
                ])
            #expect(chat.status == .tooManyRequests)
            engine.release()
            let answered = try await first
            #expect(answered.status == .ok)
        }
        #expect(engine.requests.count == 1)
    }

    @Test func shutdownCancelsHeldGenerationsAndTheQueueBecomesIdle() async throws {
        let engine = ScriptedEngine(held: true)
        let queue = GenerationQueue(slots: 1, maxWaiting: 1)
        let runner = GenerationRunner(host: EngineHost(engine: engine, info: engine.info), queue: queue, metrics: LabMetrics(), timeout: 60)
        async let answer = runner.complete(GenerationRequest(question: "q"), engine: engine)
        await engine.waitForRequests(1)
        #expect(await queue.waitUntilIdle(timeout: .milliseconds(1)) == false)
        queue.cancelRunning()
        await engine.waitForOutcomes(1)
        #expect(engine.outcomes == [.cancelled])
        var threw = false
        do { _ = try await answer } catch { threw = true }
        #expect(threw)
        #expect(await queue.waitUntilIdle(timeout: .seconds(30)))
    }

    @Test func anAdmittedSlotThatIsDroppedUnusedIsGivenBack() async throws {
        let queue = GenerationQueue(slots: 1, maxWaiting: 0)
        let engine = ScriptedEngine()
        let runner = GenerationRunner(host: EngineHost(engine: engine, info: engine.info), queue: queue, metrics: LabMetrics(), timeout: 60)
        var admission: GenerationRunner.Admission? = try await runner.admit()
        #expect(queue.depth.running == 1)
        await #expect(throws: LabError.self) { try await runner.admit() }
        // A streamed response whose body never runs drops its admission like this.
        #expect(admission != nil)
        admission = nil
        #expect(queue.isIdle)
        let (result, _) = try await runner.complete(GenerationRequest(question: "q"), engine: engine)
        #expect(result.answer == "The answer.")
        #expect(queue.isIdle)
    }

    @Test func aConsumerThatStopsEarlyCancelsTheGenerationAndFreesTheSlot() async throws {
        let engine = ScriptedEngine(pieces: ["first ", "second"], held: true)
        let queue = GenerationQueue(slots: 1, maxWaiting: 1)
        let runner = GenerationRunner(host: EngineHost(engine: engine, info: engine.info), queue: queue, metrics: LabMetrics(), timeout: 60)
        let admission = try await runner.admit()
        let first = try await runner.withEvents(admission, GenerationRequest(question: "q"), engine: engine) { events -> String? in
            for try await event in events {
                if case .delta(let text) = event { return text }
            }
            return nil
        }
        #expect(first == "first ")
        // The producer was a child of the consumer's call: its slot is free by the time the call returns.
        #expect(queue.isIdle)
        await engine.waitForOutcomes(1)
        #expect(engine.outcomes == [.cancelled])
    }

    @Test func aRequestThatTimesOutWaitingInLineLeavesTheLine() async throws {
        let engine = ScriptedEngine(held: true)
        let queue = GenerationQueue(slots: 1, maxWaiting: 1)
        let runner = GenerationRunner(host: EngineHost(engine: engine, info: engine.info), queue: queue, metrics: LabMetrics(), timeout: 60)
        let quick = GenerationRunner(host: runner.host, queue: queue, metrics: LabMetrics(), timeout: 0.05)
        async let held = runner.complete(GenerationRequest(question: "held"), engine: engine)
        await engine.waitForRequests(1)
        let error = await #expect(throws: LabError.self) { try await quick.admit() }
        if case .timeout = error {} else { Issue.record("expected a timeout, got \(String(describing: error))") }
        #expect(queue.depth.waiting == 0)
        engine.release()
        _ = try await held
        #expect(queue.isIdle)
    }
}
