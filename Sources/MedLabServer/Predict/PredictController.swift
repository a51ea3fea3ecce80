import Foundation
import Hummingbird
import MedImaging
import MedInference
import MedLabRecord

/// `POST /api/predict`: the article's API. JSON or multipart in; JSON or SSE out.
struct PredictController {
    let services: LabServices

    func addRoutes(to router: Router<LabRequestContext>) {
        router.post("/api/predict") { request, context in try await predict(request, context: context) }
    }

    func predict(_ request: Request, context: LabRequestContext) async throws -> Response {
        let started = ContinuousClock.now
        let input = try await services.predictRequest(from: request)
        let question = try input.checkedQuestion()
        let maxNewTokens = try input.checkedMaxNewTokens(limit: services.configuration.maxNewTokens)
        let sampling = try input.sampling()
        let encoded = try input.imageStrings(maxImages: services.configuration.maxImages)
        guard input.study == nil || encoded.isEmpty else {
            throw LabError.badRequest(code: "invalid_request", message: "send the images or a `study` reference, not both")
        }
        let (engine, info, isDemo) = try await services.host.ready()
        try services.runner.queue.refuseIfFull()
        let field = input.image != nil && encoded.count == 1 ? "image" : "images"
        let textBytes = question.utf8.count + (input.context?.utf8.count ?? 0)
        var analysis = Analysis(
            question: question, context: input.context, system: input.system, maxNewTokens: maxNewTokens,
            sampling: sampling, ignoreEndOfSequence: input.ignoreEOS ?? false, constraint: try input.constraint())
        let id = RecordedAnalysis.newID()
        let source = services.source(of: request, fallback: "api")
        var prepared: PreparedAnalysis?
        do {
            return try await answer(
                &analysis, prepared: &prepared, input: input, encoded: encoded, field: field, textBytes: textBytes,
                started: started, id: id, source: source, engine: engine, info: info, isDemo: isDemo, context: context)
        } catch {
            services.recordFailure(
                analysis, prepared: prepared, id: id, source: source, info: info, error: error,
                totalMs: started.duration(to: .now).milliseconds)
            throw error
        }
    }

    /// Prepares and runs an understood question; failures are recorded by the caller.
    private func answer(
        _ analysis: inout Analysis, prepared preparedOut: inout PreparedAnalysis?, input: PredictRequest,
        encoded: [String], field: String, textBytes: Int, started: ContinuousClock.Instant, id: String, source: String,
        engine: any InferenceEngine, info: EngineInfo, isDemo: Bool, context: LabRequestContext
    ) async throws -> Response {
        let maxNewTokens = analysis.maxNewTokens
        var volumeNote: String?
        if let reference = input.study {
            volumeNote = try await studyInput(
                reference, into: &analysis, input: input, textBytes: textBytes, maxNewTokens: maxNewTokens, info: info)
        } else if input.isVolume {
            let (volume, note) = try await volumeRequest(
                input, encoded: encoded, field: field, textBytes: textBytes,
                maxNewTokens: maxNewTokens, info: info)
            analysis.input = .volume(volume)
            volumeNote = note
        } else {
            try LabPrompt.checkFits(imageCount: encoded.count, textBytes: textBytes, maxNewTokens: maxNewTokens, info: info)
            analysis.input = .images(try await services.analysisImages(encoded, options: input.imageOptions, field: field))
        }
        let isVolume: Bool
        if case .volume = analysis.input { isVolume = true } else { isVolume = false }
        let prepared = try await services.prepare(
            analysis, side: info.imageSize ?? 896, field: input.study != nil ? "study" : isVolume ? "volume" : field)
        preparedOut = prepared
        if let slices = prepared.volume {
            try LabPrompt.checkFits(
                imageCount: slices.images.count,
                textBytes: textBytes + slices.images.count * 4 * VolumeBudget.labelTokens,
                maxNewTokens: maxNewTokens, info: info)
        }
        let generation = prepared.request
        let volumeSummary = prepared.volume.map { [volumeNote] in VolumeSummary($0, note: volumeNote) }
        let services = self.services
        let recorded = analysis
        let finish = { @Sendable (result: GenerationResult, queueMs: Double) in
            // The model cannot say which slice a box is on, so volumes return no pixel boxes.
            var response = PredictResponse(
                result: result, info: info, isDemo: isDemo, boxes: prepared.answerBoxes(result.boxes),
                queueMs: queueMs, totalMs: started.duration(to: .now).milliseconds)
            response.volume = volumeSummary
            if recorded.constraint != nil {
                let structured = StructuredAnswer(result)
                response.json = structured.json
                response.jsonError = structured.error
            }
            response.analysisID = services.recording.writer == nil ? nil : id
            services.recordAnswer(
                recorded, prepared: prepared, id: id, source: source, info: info, result: result, queueMs: queueMs,
                totalMs: response.timings.totalMs)
            return response
        }
        let failed = { @Sendable (error: any Error) in
            services.recordFailure(
                recorded, prepared: prepared, id: id, source: source, info: info, error: error,
                totalMs: started.duration(to: .now).milliseconds)
        }
        if input.stream == true {
            return try await stream(generation, engine: engine, context: context, finish: finish, failed: failed)
        }
        let runner = services.runner
        let (result, queueMs) = try await context.cancellingOnDisconnect { try await runner.complete(generation, engine: engine) }
        return try JSONResponse.make(finish(result, queueMs))
    }

    /// A `study` reference's images or volume, set as the analysis input; the volume's note, if any.
    private func studyInput(
        _ reference: StudyReference, into analysis: inout Analysis, input: PredictRequest, textBytes: Int, maxNewTokens: Int,
        info: EngineInfo
    ) async throws -> String? {
        switch try await services.studyInput(reference, options: input.imageOptions, volume: input.volume) {
        case .images(let images):
            try LabPrompt.checkFits(imageCount: images.count, textBytes: textBytes, maxNewTokens: maxNewTokens, info: info)
            analysis.input = .images(images)
            return nil
        case .volume(let studies, let sha256, let packing, let window):
            var options = input
            options.volume = packing.map { .forced($0) } ?? .auto
            let (volume, note) = try await volumeRequest(
                options, encoded: [], field: "study", textBytes: textBytes, maxNewTokens: maxNewTokens, info: info,
                decoded: (studies, sha256, window))
            analysis.input = .volume(volume)
            return note
        }
    }

    /// Google's CT recipe: as many slices as the context holds (the recipe's 85 at most). The
    /// files come as `encoded` strings, or already `decoded` (a cached study's).
    private func volumeRequest(
        _ input: PredictRequest, encoded: [String], field: String, textBytes: Int, maxNewTokens: Int,
        info: EngineInfo, decoded: (studies: [DecodedStudy], sha256: [String], window: WindowChoice)? = nil
    ) async throws -> (VolumeRequest, note: String?) {
        guard !encoded.isEmpty || decoded != nil else {
            throw LabError.badRequest(code: "missing_image", message: "`volume` needs the volume's file(s) in `image` or `images`")
        }
        guard input.region == nil else {
            throw LabError.badRequest(code: "invalid_region", message: "`region` marks one image; it cannot be combined with `volume`")
        }
        guard info.vision, info.imageSize != nil else {
            throw LabError.unprocessable(code: "vision_unavailable", message: info.visionMissingMessage)
        }
        let budget = try VolumeBudget.sliceBudget(
            requested: input.maxSlices, textBytes: textBytes, maxNewTokens: maxNewTokens,
            maxImages: services.configuration.maxImages, info: info)
        let files: (studies: [DecodedStudy], sha256: [String])
        if let decoded {
            files = (decoded.studies, decoded.sha256)
        } else {
            files = try await services.volumeStudies(encoded, field: field)
        }
        let request = VolumeRequest(
            studies: files.studies, packing: input.volume?.packing, window: decoded?.window ?? input.imageOptions.window,
            maxSlices: budget.maximum, sourceSHA256: files.sha256)
        return (request, budget.note)
    }

    /// SSE: `{"delta": "..."}` and `{"reasoning": "..."}` events, then `{"done": true, ...the full answer}`.
    private func stream(
        _ generation: GenerationRequest, engine: any InferenceEngine, context: LabRequestContext,
        finish: @escaping @Sendable (GenerationResult, Double) -> PredictResponse,
        failed: @escaping @Sendable (any Error) -> Void
    ) async throws -> Response {
        let runner = services.runner
        let admission = try await context.cancellingOnDisconnect { try await runner.admit() }
        let disconnect = await context.disconnectRegistration()
        return Response(
            status: .ok, headers: ServerSentEvents.headers,
            body: ResponseBody { writer in
                do {
                    let summary = try await runner.withEvents(admission, generation, engine: engine, cancelledBy: disconnect) { events in
                        var summary: GenerationSummary?
                        for try await event in events {
                            switch event {
                            case .delta(let text): try await writer.write(ServerSentEvents.frame(["delta": text]))
                            case .reasoning(let text): try await writer.write(ServerSentEvents.frame(["reasoning": text]))
                            case .finished(let done): summary = done
                            }
                        }
                        guard let summary else { throw LabError.internalError("the engine ended without a summary") }
                        return summary
                    }
                    try await writer.write(
                        ServerSentEvents.frame(Final(body: finish(GenerationResult(summary: summary), admission.queueMs))))
                } catch {
                    failed(error)
                    // Headers are gone: the error travels as the last event, in the usual shape.
                    try? await writer.write(ServerSentEvents.frame(ErrorBody(LabError.from(error))))
                }
                try await writer.finish(nil)
            })
    }

    /// The last event: the whole answer plus `"done": true`.
    private struct Final: Encodable {
        var body: PredictResponse
        func encode(to encoder: any Encoder) throws {
            try body.encode(to: encoder)
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(true, forKey: .done)
        }
        enum Key: String, CodingKey { case done }
    }
}

/// JSON answers with the lab's encoder settings.
enum JSONResponse {
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try ServerSentEvents.encoder.encode(value)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
