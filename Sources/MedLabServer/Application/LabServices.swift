import Foundation
import Hummingbird
import MedInference
import MedImaging
import NIOCore

/// The collaborators every route shares: the engine host, the queue-backed runner, the image
/// reader, the metrics and the limits.
struct LabServices: Sendable {
    let host: EngineHost
    let runner: GenerationRunner
    let images: ImagePreparer
    let metrics: LabMetrics
    let configuration: LabServerConfiguration

    /// Reads the whole body, answering 413 past the configured limit.
    func body(of request: Request) async throws -> [UInt8] {
        do {
            let buffer = try await request.body.collect(upTo: configuration.maxBodyBytes)
            return Array(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw LabError.tooLarge("the request body is over the limit of \(configuration.maxBodyBytes / (1 << 20)) MiB")
        }
    }

    /// A `/api/predict`-shaped body, JSON or `multipart/form-data` (predict and render share it).
    func predictRequest(from request: Request) async throws -> PredictRequest {
        let body = try await body(of: request)
        guard request.mediaType == "multipart/form-data" else { return try request.json(PredictRequest.self, from: body) }
        guard let boundary = MultipartForm.boundary(of: request.headers[.contentType] ?? "") else {
            throw LabError.badRequest(code: "invalid_multipart", message: "the multipart content type has no boundary")
        }
        return try PredictRequest(form: MultipartForm(body: body, boundary: boundary))
    }

    /// Decodes every image string of a request (413/415/400 on bad input), letterboxed to `side`.
    func prepare(_ encoded: [String], options: ImageOptions, field: String, side: Int?) throws -> [PreparedImage] {
        try encoded.enumerated().map { index, text in
            let name = encoded.count == 1 ? field : "\(field)[\(index)]"
            let bytes = try ImagePayload.bytes(from: text, field: name)
            do {
                return try images.prepare(bytes, options: options, side: side)
            } catch let error as ImagingError {
                throw LabError.from(error, field: name)
            }
        }
    }
}

extension LabServices {
    /// Decodes the files of a volume request and samples its slices (see `VolumeBudget`).
    func prepareVolume(_ encoded: [String], field: String, packing: VolumeInput.Packing?, window: MedImaging.WindowChoice,
                       maximum: Int, side: Int) throws -> VolumeInput {
        let files = try encoded.enumerated().map { index, text in
            let name = encoded.count == 1 ? field : "\(field)[\(index)]"
            return (name: name, bytes: try ImagePayload.bytes(from: text, field: name))
        }
        return try images.prepareVolume(files, packing: packing, window: window, maximum: maximum, side: side)
    }
}

/// The content type of a request, lower-cased, without parameters.
extension Request {
    var mediaType: String {
        (headers[.contentType] ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
    }

    /// Decodes a JSON body; anything else but an absent content type is 415.
    func json<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        guard mediaType.isEmpty || mediaType == "application/json" || mediaType.hasSuffix("+json") else {
            throw LabError.unsupportedMediaType("send `application/json` (or `multipart/form-data` to /api/predict)")
        }
        guard !bytes.isEmpty else { throw LabError.badRequest(code: "invalid_json", message: "the body is empty") }
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let error as DecodingError {
            // A LabError thrown inside a custom decoder (e.g. an unknown window preset) keeps its own message.
            if case .dataCorrupted(let context) = error, let inner = context.underlyingError as? LabError { throw inner }
            throw LabError.badRequest(code: "invalid_json", message: LabError.describe(error))
        }
    }
}
