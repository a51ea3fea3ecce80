import Foundation
import Hummingbird
import MedInference
import MedLabRecord

/// `POST /v1/chat/completions` and `GET /v1/models`: enough of OpenAI's API for its official
/// client and for tools that speak it.
struct ChatCompletionsController {
    let services: LabServices

    func addRoutes(to router: Router<LabRequestContext>) {
        router.post("/v1/chat/completions") { request, context in try await complete(request, context: context) }
        router.get("/v1/models") { _, _ in try JSONResponse.make(ModelList(data: await models())) }
        router.get("/v1/models/{id}") { _, context in
            let id = try context.parameters.require("id")
            guard let model = await models().first(where: { $0.id == id }) else {
                throw LabError.notFound("no model `\(id.prefix(80))` is loaded")
            }
            return try JSONResponse.make(model)
        }
    }

    private func models() async -> [ModelList.Model] {
        guard let info = await services.host.info else { return [] }
        return [ModelList.Model(id: info.model)]
    }

    func complete(_ request: Request, context: LabRequestContext) async throws -> Response {
        let started = ContinuousClock.now
        let input = try request.json(ChatCompletionRequest.self, from: try await services.body(of: request))
        let (engine, info, _) = try await services.host.ready()
        try services.runner.queue.refuseIfFull()  // before the images are decoded
        let (analysis, imageCount, textBytes) = try await translate(input, info: info)
        let analysisID = RecordedAnalysis.newID()
        let source = services.source(of: request, fallback: "openai")
        let services = self.services
        let failed = { @Sendable (error: any Error, prepared: PreparedAnalysis?) in
            services.recordFailure(
                analysis, prepared: prepared, id: analysisID, source: source, info: info, error: error,
                totalMs: started.duration(to: .now).milliseconds)
        }
        var prepared: PreparedAnalysis?
        do {
            try LabPrompt.checkFits(imageCount: imageCount, textBytes: textBytes, maxNewTokens: analysis.maxNewTokens, info: info)
            let ready = try await services.prepare(analysis, side: info.imageSize ?? 896, field: "messages")
            prepared = ready
            let finished = { @Sendable (result: GenerationResult, queueMs: Double) in
                services.recordAnswer(
                    analysis, prepared: ready, id: analysisID, source: source, info: info, result: result,
                    queueMs: queueMs, totalMs: started.duration(to: .now).milliseconds)
            }
            var response = try await run(
                input, generation: ready.request, engine: engine, info: info, context: context,
                finished: finished, failed: { failed($0, ready) })
            if services.recording.writer != nil { response.headers[RecordHeaders.analysisID] = analysisID }
            return response
        } catch {
            failed(error, prepared)
            throw error
        }
    }

    /// Runs the request and answers in OpenAI's shape, streamed or whole.
    private func run(
        _ input: ChatCompletionRequest, generation: GenerationRequest, engine: any InferenceEngine, info: EngineInfo,
        context: LabRequestContext, finished: @escaping @Sendable (GenerationResult, Double) -> Void,
        failed: @escaping @Sendable (any Error) -> Void
    ) async throws -> Response {
        let id = "chatcmpl-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24)
        let created = Int(Date().timeIntervalSince1970)
        let runner = services.runner
        if input.stream == true {
            let admission = try await context.cancellingOnDisconnect { try await runner.admit() }
            let disconnect = await context.disconnectRegistration()
            let includeUsage = input.streamOptions?.includeUsage == true
            return Response(
                status: .ok, headers: ServerSentEvents.headers,
                body: ResponseBody { writer in
                    func chunk(_ delta: ChatCompletionChunk.Delta, finish: String? = nil) -> ChatCompletionChunk {
                        ChatCompletionChunk(
                            id: String(id), created: created, model: info.model,
                            choices: [.init(delta: delta, finishReason: finish)])
                    }
                    do {
                        try await writer.write(ServerSentEvents.frame(chunk(.init(role: "assistant", content: ""))))
                        let summary = try await runner.withEvents(admission, generation, engine: engine, cancelledBy: disconnect) {
                            events in
                            var summary: GenerationSummary?
                            for try await event in events {
                                switch event {
                                case .delta(let text): try await writer.write(ServerSentEvents.frame(chunk(.init(content: text))))
                                case .reasoning(let text):
                                    try await writer.write(ServerSentEvents.frame(chunk(.init(reasoningContent: text))))
                                case .finished(let done): summary = done
                                }
                            }
                            guard let summary else { throw LabError.internalError("the engine ended without a summary") }
                            return summary
                        }
                        finished(GenerationResult(summary: summary), admission.queueMs)
                        try await writer.write(ServerSentEvents.frame(chunk(.init(), finish: openAIFinishReason(summary.finishReason))))
                        if includeUsage {
                            let last = ChatCompletionChunk(
                                id: String(id), created: created, model: info.model, choices: [],
                                usage: ChatUsage(summary))
                            try await writer.write(ServerSentEvents.frame(last))
                        }
                    } catch {
                        failed(error)
                        try? await writer.write(ServerSentEvents.frame(ErrorBody(LabError.from(error))))
                    }
                    try? await writer.write(ServerSentEvents.frame(raw: "[DONE]"))
                    try await writer.finish(nil)
                })
        }
        let (result, queueMs) = try await context.cancellingOnDisconnect { try await runner.complete(generation, engine: engine) }
        finished(result, queueMs)
        let answer = ChatCompletion(
            id: String(id), created: created, model: info.model,
            choices: [
                .init(
                    message: .init(content: result.answer, reasoningContent: result.reasoning),
                    finishReason: openAIFinishReason(result.summary.finishReason))
            ],
            usage: ChatUsage(result.summary))
        return try JSONResponse.make(answer)
    }

    /// OpenAI messages → an analysis. System messages merge into the system text (Gemma 3 has no
    /// system role); images must be inline `data:` URIs. One user message of images then text is
    /// the article API's question about images (the same prompt, byte for byte); anything else
    /// keeps the client's layout of turns.
    private func translate(_ input: ChatCompletionRequest, info: EngineInfo) async throws -> (Analysis, images: Int, textBytes: Int) {
        guard !input.messages.isEmpty else {
            throw LabError.badRequest(code: "invalid_request", message: "`messages` must hold at least one message")
        }
        var system: [String] = []
        var turns: [AnalysisTurn] = []
        var imageCount = 0
        var textBytes = 0
        for (index, message) in input.messages.enumerated() {
            var parts: [AnalysisTurn.Part] = []
            switch message.content {
            case .text(let text)?: parts.append(.text(text))
            case .parts(let pieces)?:
                for (partIndex, piece) in pieces.enumerated() {
                    switch piece.type {
                    case "text": parts.append(.text(piece.text ?? ""))
                    case "image_url":
                        let field = "messages[\(index)].content[\(partIndex)].image_url"
                        guard let url = piece.imageURL?.url else {
                            throw LabError.badRequest(
                                code: "invalid_request", message: "messages[\(index)].content[\(partIndex)] has no image_url.url")
                        }
                        // Refused before any decoding when nothing here can see the image.
                        guard info.vision else {
                            throw LabError.unprocessable(code: "vision_unavailable", message: info.visionMissingMessage)
                        }
                        imageCount += 1
                        guard imageCount <= services.configuration.maxImages else {
                            throw LabError.tooLarge("more than \(services.configuration.maxImages) images in one request")
                        }
                        parts.append(.image(try await services.analysisImages([url], options: ImageOptions(), field: field)[0]))
                    default:
                        throw LabError.badRequest(
                            code: "invalid_request", message: "content part type `\(piece.type.prefix(40))` is not supported")
                    }
                }
            case nil: break
            }
            for case .text(let text) in parts { textBytes += text.utf8.count }
            switch message.role {
            case "system", "developer":
                system.append(parts.compactMap { if case .text(let text) = $0 { text } else { nil } }.joined(separator: "\n"))
            case "user": turns.append(AnalysisTurn(role: .user, parts: parts))
            case "assistant": turns.append(AnalysisTurn(role: .model, parts: parts))
            default:
                throw LabError.badRequest(code: "invalid_request", message: "message role `\(message.role.prefix(40))` is not supported")
            }
        }
        guard turns.last?.role == .user else {
            throw LabError.badRequest(code: "invalid_request", message: "the last message must be from the user")
        }
        var volume: VolumeRequest?
        if let reference = input.study {
            guard info.vision else { throw LabError.unprocessable(code: "vision_unavailable", message: info.visionMissingMessage) }
            volume = try await studyParts(reference, turns: &turns, imageCount: &imageCount, textBytes: textBytes, input: input, info: info)
        }
        let maxTokens = try PredictRequest.checkedTokens(
            input.maxCompletionTokens ?? input.maxTokens, name: "max_tokens",
            limit: services.configuration.maxNewTokens)
        let sampling = try PredictRequest.sampling(temperature: input.temperature, topP: input.topP, seed: input.seed)
        var analysis = Analysis(
            input: .conversation(turns), question: "", system: system.isEmpty ? nil : system.joined(separator: "\n"),
            maxNewTokens: maxTokens, sampling: sampling, stop: input.stop?.values ?? [],
            ignoreEndOfSequence: input.ignoreEOS ?? false, constraint: try input.responseFormat?.constraint())
        if turns.count == 1, let (images, question) = Self.imagesThenText(turns[0].parts) {
            analysis.input = volume.map { .volume($0) } ?? .images(images)
            analysis.question = question
        }
        return (analysis, imageCount, textBytes)
    }

    /// The `study` extension: its slices go before the last user message's text, as `image_url`
    /// parts would; `volume` asks about the whole series, which needs one user message of text.
    private func studyParts(
        _ reference: StudyReference, turns: inout [AnalysisTurn], imageCount: inout Int, textBytes: Int,
        input: ChatCompletionRequest, info: EngineInfo
    ) async throws -> VolumeRequest? {
        switch try await services.studyInput(reference, options: ImageOptions(), volume: nil) {
        case .images(let images):
            imageCount += images.count
            guard imageCount <= services.configuration.maxImages else {
                throw LabError.tooLarge("more than \(services.configuration.maxImages) images in one request")
            }
            turns[turns.count - 1].parts.insert(contentsOf: images.map { .image($0) }, at: 0)
            return nil
        case .volume(let studies, let sha256, let packing, let window):
            let textOnly = turns[0].parts.allSatisfy { if case .text = $0 { true } else { false } }
            guard turns.count == 1, textOnly else {
                throw LabError.badRequest(
                    code: "invalid_request", message: "`study.volume` takes one user message of text (the question), no other images")
            }
            let maxTokens = try PredictRequest.checkedTokens(
                input.maxCompletionTokens ?? input.maxTokens, name: "max_tokens", limit: services.configuration.maxNewTokens)
            let budget = try VolumeBudget.sliceBudget(
                requested: nil, textBytes: textBytes, maxNewTokens: maxTokens, maxImages: services.configuration.maxImages, info: info)
            return VolumeRequest(studies: studies, packing: packing, window: window, maxSlices: budget.maximum, sourceSHA256: sha256)
        }
    }

    /// The parts as "images, then text" (the article API's shape), or nil when text comes first or between.
    static func imagesThenText(_ parts: [AnalysisTurn.Part]) -> ([AnalysisImage], String)? {
        var images: [AnalysisImage] = []
        var text = ""
        for part in parts {
            switch part {
            case .image(let image):
                guard text.isEmpty else { return nil }
                images.append(image)
            case .text(let piece): text += piece
            }
        }
        return (images, text)
    }
}
