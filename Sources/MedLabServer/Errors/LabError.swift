import Foundation
import HTTPTypes
import Hummingbird
import MedImaging
import MedInference

/// Every failure a client can see, with its HTTP status and a stable machine-readable code.
///
/// Handlers throw whatever is natural (`InferenceError`, decoding errors, Hummingbird's
/// `HTTPError`); `LabError.from(_:)` is the one place that turns them into a status and a code.
public enum LabError: Error, Equatable, CustomStringConvertible {
    /// 400: bad JSON, bad base64, an undecodable image, an empty question, a prompt over the context...
    case badRequest(code: String, message: String)
    /// 401: the API key is missing or wrong.
    case unauthorized
    /// 404: no such route or model.
    case notFound(String)
    /// 413: the body or an image is over the configured limits.
    case tooLarge(String)
    /// 415: a format (content type or image format) the lab does not read.
    case unsupportedMediaType(String)
    /// 422: the request is well formed but this engine cannot serve it (images without a vision projector).
    case unprocessable(code: String, message: String)
    /// 429: the queue is full; try again after `retryAfter` seconds.
    case queueFull(retryAfter: Int)
    /// 503: no model, still loading, or shutting down.
    case unavailable(code: String, message: String, retryAfter: Int?)
    /// 504: the request took longer than the configured timeout.
    case timeout(seconds: Double)
    /// 500: something broke below us.
    case internalError(String)
    /// Start-up refused (not an HTTP answer): e.g. a non-loopback address without an API key.
    case configuration(String)

    public var status: HTTPResponse.Status {
        switch self {
        case .badRequest: .badRequest
        case .unauthorized: .unauthorized
        case .notFound: .notFound
        case .tooLarge: .contentTooLarge
        case .unsupportedMediaType: .unsupportedMediaType
        case .unprocessable: .unprocessableContent
        case .queueFull: .tooManyRequests
        case .unavailable: .serviceUnavailable
        case .timeout: .gatewayTimeout
        case .internalError, .configuration: .internalServerError
        }
    }

    /// Stable code clients can switch on.
    public var code: String {
        switch self {
        case .badRequest(let code, _), .unprocessable(let code, _), .unavailable(let code, _, _): code
        case .unauthorized: "unauthorized"
        case .notFound: "not_found"
        case .tooLarge: "payload_too_large"
        case .unsupportedMediaType: "unsupported_media_type"
        case .queueFull: "queue_full"
        case .timeout: "timeout"
        case .internalError: "internal_error"
        case .configuration: "configuration"
        }
    }

    public var description: String {
        switch self {
        case .badRequest(_, let message), .unprocessable(_, let message), .unavailable(_, let message, _): message
        case .unauthorized: "missing or wrong API key: send `Authorization: Bearer <key>`"
        case .notFound(let what): what
        case .tooLarge(let message): message
        case .unsupportedMediaType(let message): message
        case .queueFull(let seconds): "the lab is busy: the queue is full, retry in about \(seconds) s"
        case .timeout(let seconds): "the request did not finish within \(Int(seconds)) s"
        case .internalError(let message): message
        case .configuration(let message): message
        }
    }

    /// Seconds for a `Retry-After` header, when waiting helps.
    public var retryAfter: Int? {
        switch self {
        case .queueFull(let seconds): seconds
        case .unavailable(_, _, let seconds): seconds
        default: nil
        }
    }

    /// OpenAI clients read `error.type`; these are the names its API uses.
    var openAIType: String {
        switch status.code {
        case 401: "authentication_error"
        case 429: "rate_limit_exceeded"
        case 500..<600: "server_error"
        default: "invalid_request_error"
        }
    }

    /// The one mapping from anything thrown below the routes to what the client sees.
    public static func from(_ error: any Error) -> LabError {
        switch error {
        case let error as LabError:
            return error
        case let error as InferenceError:
            return from(error)
        case let error as ImagingError:
            return from(error, field: "image")
        case let error as HTTPError:
            return from(error)
        case is DecodingError:
            return .badRequest(code: "invalid_json", message: describe(error as! DecodingError))
        case is CancellationError:
            return .unavailable(code: "cancelled", message: "the request was cancelled", retryAfter: nil)
        default:
            return .internalError(String(describing: error))
        }
    }

    private static func from(_ error: InferenceError) -> LabError {
        switch error {
        case .contextOverflow:
            .badRequest(code: "context_overflow", message: error.description)
        case .visionUnavailable:
            .unprocessable(code: "vision_unavailable", message: error.description)
        case .badRequest(let message):
            .badRequest(code: "invalid_request", message: message)
        case .unavailable(let message):
            .unavailable(code: "model_unavailable", message: message, retryAfter: nil)
        case .modelMissing, .notGGUF, .truncatedGGUF, .wrongModelKind, .projectorMismatch, .projectorWithoutVision, .loadFailed:
            .unavailable(code: "no_model", message: error.description, retryAfter: nil)
        case .generationFailed:
            .internalError(error.description)
        }
    }

    /// Imaging failures name the field they came from, so a client with several images knows which.
    static func from(_ error: ImagingError, field: String) -> LabError {
        let message = "\(field): \(error.description)"
        switch error {
        case .notAnImage, .unsupportedTransferSyntax, .unsupported: return .unsupportedMediaType(message)
        case .truncated, .malformed: return .badRequest(code: "invalid_image", message: message)
        case .tooLarge: return .tooLarge(message)
        case .invalidArgument: return .badRequest(code: "invalid_request", message: message)
        case .encodingFailed: return .internalError(message)
        }
    }

    private static func from(_ error: HTTPError) -> LabError {
        let message = error.body ?? error.status.reasonPhrase
        switch error.status {
        case .contentTooLarge: return .tooLarge("the request body is over the limit")
        case .unsupportedMediaType: return .unsupportedMediaType(message)
        case .notFound: return .notFound(message)
        case .unauthorized: return .unauthorized
        case .badRequest: return .badRequest(code: "invalid_request", message: message)
        default:
            if error.status.code >= 500 { return .internalError(message) }
            return .badRequest(code: "invalid_request", message: message)
        }
    }

    /// A decoding error in words, naming the field, without echoing the (possibly huge) input.
    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }
            return keys.isEmpty ? "the body" : "`" + keys.joined(separator: ".") + "`"
        }
        switch error {
        case .typeMismatch(let type, let context): return "\(path(context)) must be of type \(type)"
        case .valueNotFound(_, let context): return "\(path(context)) must not be null"
        case .keyNotFound(let key, _): return "`\(key.stringValue)` is required"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "the body is not valid JSON" : "\(path(context)): \(context.debugDescription)"
        @unknown default: return "the body is not valid JSON"
        }
    }
}
