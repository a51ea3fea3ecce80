import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// The JSON every error answer carries: `{"error": {"code", "message", "type"}}`.
///
/// `type` is there so the official `openai` client, which reads it, reports our errors sensibly.
struct ErrorBody: Codable, Sendable {
    struct Detail: Codable, Sendable {
        var code: String
        var message: String
        var type: String
    }
    var error: Detail

    init(_ error: LabError) {
        self.error = Detail(code: error.code, message: error.description, type: error.openAIType)
    }
}

extension LabError {
    /// The HTTP answer for this error.
    func response() -> Response {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let seconds = retryAfter { headers[.retryAfter] = String(seconds) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(ErrorBody(self))) ?? Data()
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Turns anything a route throws into the single error shape, and logs it without request data.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let mapped = LabError.from(error)
            if mapped.status.code >= 500, mapped.code != "no_model", mapped.code != "loading" {
                context.logger.error("request failed", metadata: ["code": .string(mapped.code), "status": "\(mapped.status.code)"])
            }
            return mapped.response()
        }
    }
}
