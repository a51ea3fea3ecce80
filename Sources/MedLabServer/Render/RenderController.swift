import Foundation
import Hummingbird
import MedImaging
import MedInference

/// `POST /api/render`: an uploaded file with window/frame/slice/region → a PNG and
/// identifier-free metadata. By default the rendered frame before letterboxing (the page's
/// preview); with `model_input` the letterboxed square the model receives and where the image
/// sits in it (the page's "model view").
struct RenderController {
    let services: LabServices

    struct Rendered: Encodable {
        /// `data:image/png;base64,...`
        var image: String
        var width: Int
        var height: Int
        var format: String
        /// Identifier-free: the imaging module leaves patient identifiers out unless asked.
        var metadata: ImageMetadata
        /// With `model_input` only: the image's rectangle in the square; the rest is padding.
        var letterbox: LetterboxGeometry?
    }

    /// The field `/api/render` adds to a `/api/predict`-shaped body.
    private struct RenderOptions: Decodable {
        var modelInput: Bool?
        enum CodingKeys: String, CodingKey { case modelInput = "model_input" }
    }

    func addRoutes(to router: Router<LabRequestContext>) {
        router.post("/api/render") { request, _ in try await render(request) }
    }

    func render(_ request: Request) async throws -> Response {
        let (input, modelInput) = try await read(request)
        let encoded = try input.imageStrings(maxImages: 1)
        guard !encoded.isEmpty else { throw LabError.badRequest(code: "missing_image", message: "`image` is required") }
        if modelInput { return try await renderModelInput(encoded[0], options: input.imageOptions) }
        let prepared = try await services.preview(encoded[0], options: input.imageOptions, field: "image")
        let png = try services.images.png(prepared)
        return try JSONResponse.make(
            Rendered(
                image: "data:image/png;base64," + png.base64EncodedString(),
                width: prepared.model.width, height: prepared.model.height,
                format: prepared.metadata.format.rawValue, metadata: prepared.metadata))
    }

    /// The square exactly as `/api/predict` builds it (the same decoding and `AnalysisProcessor`,
    /// at the loaded projector's side; MedGemma's 896 while none is loaded), region mark included.
    private func renderModelInput(_ encoded: String, options: ImageOptions) async throws -> Response {
        let images = try await services.analysisImages([encoded], options: options, field: "image")
        let side = await services.host.info?.imageSize ?? 896
        let prepared = try await services.prepare(Analysis(input: .images(images), question: ""), side: side, field: "image")
        guard let square = prepared.request.images.first, let transform = prepared.letterboxes.first, let study = images.first?.study else {
            throw LabError.internalError("the model input was not prepared")
        }
        let png = try ImageEncoder.png(square)
        return try JSONResponse.make(
            Rendered(
                image: "data:image/png;base64," + png.base64EncodedString(),
                width: square.width, height: square.height, format: study.metadata.format.rawValue,
                metadata: study.metadata, letterbox: LetterboxGeometry(transform)))
    }

    /// The body as `/api/predict` reads it (JSON or multipart), plus `model_input`.
    private func read(_ request: Request) async throws -> (PredictRequest, modelInput: Bool) {
        switch try await services.posted(request) {
        case .json(let body):
            return (try request.json(PredictRequest.self, from: body), try request.json(RenderOptions.self, from: body).modelInput ?? false)
        case .form(let form):
            let flag = form.first("model_input")?.text.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
            return (try PredictRequest(form: form), ["1", "true", "yes", "on"].contains(flag ?? ""))
        }
    }
}
