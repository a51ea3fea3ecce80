import Foundation
import Hummingbird
import MedImaging

/// `POST /api/render`: an uploaded file with window/frame/slice/region → the PNG the model would
/// see (before letterboxing) and identifier-free metadata. The page uses it for its preview.
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
    }

    func addRoutes(to router: Router<LabRequestContext>) {
        router.post("/api/render") { request, _ in try await render(request) }
    }

    func render(_ request: Request) async throws -> Response {
        let input = try await services.predictRequest(from: request)
        let encoded = try input.imageStrings(maxImages: 1)
        guard !encoded.isEmpty else { throw LabError.badRequest(code: "missing_image", message: "`image` is required") }
        let prepared = try await services.preview(encoded[0], options: input.imageOptions, field: "image")
        let png = try services.images.png(prepared)
        return try JSONResponse.make(
            Rendered(
                image: "data:image/png;base64," + png.base64EncodedString(),
                width: prepared.model.width, height: prepared.model.height,
                format: prepared.metadata.format.rawValue, metadata: prepared.metadata))
    }
}
