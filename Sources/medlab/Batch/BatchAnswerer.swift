import Foundation
import MedImaging
import MedInference
import MedLabRecord

/// What a batch asks about: one image, or a volume's files (`--series`), decoded once and shared
/// by all its questions, with the raw bytes for a server, which decodes them itself.
struct BatchImage: Sendable {
    var bytes: [Data]
    var studies: [DecodedStudy]
    /// Asked as one volume under the CT recipe rather than as a single image.
    var isVolume = false
}

/// The answer to one (image, question) pair, whichever engine produced it.
struct BatchAnswer: Sendable {
    var answer: String
    var reasoning: String?
    var boxes: [BatchBox]
    var model: String
    var tokensIn: Int
    var tokensOut: Int
    /// Under a schema: the answer parsed, or why not.
    var structured: StructuredAnswer?
    /// What the record keeps of an in-process or pool answer: the analysis as prepared and run.
    var run: (analysis: Analysis, prepared: PreparedAnalysis, result: GenerationResult, info: EngineInfo)?
}

/// Answers batch questions: in process or through a server's `/api/predict`.
protocol BatchAnswerer: Sendable {
    func answer(_ image: BatchImage, question: String, context: String?) async throws -> BatchAnswer
}

/// Runs the questions through an engine: the model in this process, or a pool of remote servers
/// (`--backend`), which spreads the rows over its servers.
struct EngineAnswerer: BatchAnswerer {
    let engine: any InferenceEngine
    /// Square side the engine's projector expects; images are letterboxed to it here.
    let imageSize: Int
    /// The model name written in each row.
    let model: String
    let info: EngineInfo
    let window: WindowChoice
    let maxNewTokens: Int
    let ignoreEOS: Bool
    /// Most slices of a volume (`--series`) to show.
    var maxSlices = VolumeRecipe.defaultSliceCount
    /// `--schema`: the answer's form.
    var constraint: OutputConstraint?

    init(engine: any InferenceEngine, window: WindowChoice, maxNewTokens: Int, ignoreEOS: Bool) async {
        let info = await engine.info
        self.engine = engine
        self.imageSize = info.imageSize ?? 896
        self.model = info.model
        self.info = info
        self.window = window
        self.maxNewTokens = maxNewTokens
        self.ignoreEOS = ignoreEOS
    }

    func answer(_ image: BatchImage, question: String, context: String?) async throws -> BatchAnswer {
        var analysis = Analysis(
            question: question, context: context, maxNewTokens: maxNewTokens, ignoreEndOfSequence: ignoreEOS,
            constraint: constraint)
        if image.isVolume {
            analysis.input = .volume(
                VolumeRequest(
                    studies: image.studies, window: window, maxSlices: maxSlices,
                    sourceSHA256: image.bytes.map(RecordedAnalysis.sha256)))
        } else {
            guard let study = image.studies.first else { throw BatchError("no image") }
            analysis.input = .images([
                AnalysisImage(study: study, window: window, sourceSHA256: image.bytes.first.map(RecordedAnalysis.sha256))
            ])
        }
        let prepared = try AnalysisProcessor.prepare(analysis, side: imageSize)
        let result = try await engine.answer(prepared.request)
        // A volume's boxes stay in the model's 0–1000 square: the model cannot say which slice a box is on.
        let boxes = prepared.pixelBoxes(result.boxes).map { box, pixels in
            BatchBox(label: box.label, box2d: [box.y0, box.x0, box.y1, box.x1], pixels: pixels)
        }
        return BatchAnswer(
            answer: result.answer, reasoning: result.reasoning, boxes: boxes, model: model,
            tokensIn: result.summary.tokensIn, tokensOut: result.summary.tokensOut,
            structured: constraint.map { _ in StructuredAnswer(result) }, run: (analysis, prepared, result, info))
    }
}

/// Sends each question to a lab server (or any server of the article's API), retrying when it
/// answers 429/503 (busy or loading) with the delay it asks for.
struct RemoteAnswerer: BatchAnswerer {
    let server: URL
    let apiKey: String?
    let window: String?
    let maxNewTokens: Int
    var maxSlices: Int?
    /// Sent as the server's `schema` / `format` field.
    var constraint: OutputConstraint?
    let attempts = 6

    func answer(_ image: BatchImage, question: String, context: String?) async throws -> BatchAnswer {
        var body: [String: Any] = ["question": question, "max_new_tokens": maxNewTokens]
        if image.isVolume {
            body["images"] = image.bytes.map { $0.base64EncodedString() }
            body["volume"] = true
            if let maxSlices { body["max_slices"] = maxSlices }
        } else {
            body["image"] = image.bytes.first?.base64EncodedString() ?? ""
        }
        if let context { body["context"] = context }
        if let window { body["window"] = window }
        switch constraint {
        case .jsonObject?: body["format"] = "json"
        case .jsonSchema(let text)?: body["schema"] = try JSONSerialization.jsonObject(with: Data(text.utf8))
        case nil: break
        }
        let json = try JSONSerialization.data(withJSONObject: body)
        let url = server.appendingPathComponent("api/predict")
        var delay = 1.0
        for attempt in 1...attempts {
            let reply = try await JSONPost.send(url, json: json, apiKey: apiKey, timeout: .seconds(600))
            let status = reply.status
            let data = reply.body
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            if status == 200 {
                var answer = Self.parse(object)
                if constraint != nil {
                    // The server parsed it already; its verdict travels in `json` / `json_error`.
                    let json = (object["json"]).flatMap { try? JSONSerialization.data(withJSONObject: $0) }.flatMap {
                        JSONValue.parse(String(decoding: $0, as: UTF8.self))
                    }
                    answer.structured = StructuredAnswer(
                        json: json, error: object["json_error"] as? String ?? (json == nil ? "the server returned no JSON object" : nil))
                }
                return answer
            }
            let message = ((object["error"] as? [String: Any])?["message"] as? String) ?? String(decoding: data.prefix(300), as: UTF8.self)
            guard status == 429 || status == 503, attempt < attempts else {
                throw BatchError("server answered \(status): \(message)")
            }
            try await Task.sleep(for: .seconds(min(30, reply.retryAfter ?? delay)))
            delay *= 2
        }
        throw BatchError("server stayed busy")
    }

    private static func parse(_ object: [String: Any]) -> BatchAnswer {
        let usage = object["usage"] as? [String: Any] ?? [:]
        let boxes = (object["boxes"] as? [[String: Any]] ?? []).map { box -> BatchBox in
            let normalized = (box["box_2d"] as? [Any] ?? []).compactMap { ($0 as? NSNumber)?.doubleValue }
            var pixels: PixelBox?
            // The lab server puts pixel corners beside `box_2d`; accept a nested object too.
            if let p = box["pixels"] as? [String: Any] ?? (box["x0"] != nil ? box : nil),
                let x0 = (p["x0"] as? NSNumber)?.doubleValue, let y0 = (p["y0"] as? NSNumber)?.doubleValue,
                let x1 = (p["x1"] as? NSNumber)?.doubleValue, let y1 = (p["y1"] as? NSNumber)?.doubleValue
            {
                pixels = PixelBox(x0: x0, y0: y0, x1: x1, y1: y1)
            }
            return BatchBox(label: box["label"] as? String ?? "", box2d: normalized, pixels: pixels)
        }
        let model = (object["model"] as? String) ?? ((object["model"] as? [String: Any])?["name"] as? String) ?? "remote"
        return BatchAnswer(
            answer: object["answer"] as? String ?? "", reasoning: object["reasoning"] as? String, boxes: boxes,
            model: model, tokensIn: usage["tokens_in"] as? Int ?? usage["prompt_tokens"] as? Int ?? 0,
            tokensOut: usage["tokens_out"] as? Int ?? usage["completion_tokens"] as? Int ?? 0)
    }
}
