import Foundation
import Hummingbird
import MedImaging
import MedInference
import MedLabRecord
import NIOCore

/// The collaborators every route shares: the engine host, the queue-backed runner, the image
/// reader, the metrics and the limits.
struct LabServices: Sendable {
    let host: EngineHost
    let runner: GenerationRunner
    let images: ImagePreparer
    /// Where decoding runs, off the cooperative pool.
    let decoding: DecodeExecutor
    let metrics: LabMetrics
    let configuration: LabServerConfiguration
    /// Where analyses are kept (`RecordSession.off` with `--no-record`).
    let recording: RecordSession
    /// Uploaded studies, for renders, measurements and questions by reference (`--study-cache-mb`).
    let studies: StudyCache

    /// Reads the whole body, answering 413 past `limit` (`--max-body-mb` unless a route has its own).
    func body(of request: Request, limit: Int? = nil) async throws -> [UInt8] {
        let limit = limit ?? configuration.maxBodyBytes
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw LabError.tooLarge("the request body is over the limit of \(limit / (1 << 20)) MiB")
        }
    }

    /// A `/api/predict`-shaped body, JSON or `multipart/form-data` (predict and render share it).
    func predictRequest(from request: Request) async throws -> PredictRequest {
        switch try await posted(request) {
        case .json(let body): try request.json(PredictRequest.self, from: body)
        case .form(let form): try PredictRequest(form: form)
        }
    }

    /// A body as the routes take it: JSON bytes, or a multipart form.
    enum PostedBody {
        case json([UInt8])
        case form(MultipartForm)
    }

    /// Collects the body (within `--max-body-mb`) and, for `multipart/form-data`, splits the form.
    func posted(_ request: Request, limit: Int? = nil) async throws -> PostedBody {
        let body = try await body(of: request, limit: limit)
        guard request.mediaType == "multipart/form-data" else { return .json(body) }
        guard let boundary = MultipartForm.boundary(of: request.headers[.contentType] ?? "") else {
            throw LabError.badRequest(code: "invalid_multipart", message: "the multipart content type has no boundary")
        }
        return .form(try MultipartForm(body: body, boundary: boundary))
    }

    /// Decodes every image string of a request (413/415/400 on bad input) with the client's choices.
    func analysisImages(_ encoded: [String], options: ImageOptions, field: String) async throws -> [AnalysisImage] {
        let images = self.images
        return try await decoding.run {
            try encoded.enumerated().map { index, text in
                let name = encoded.count == 1 ? field : "\(field)[\(index)]"
                let bytes = try ImagePayload.bytes(from: text, field: name)
                do {
                    var image = try images.analysisImage(bytes, options: options)
                    image.sourceSHA256 = RecordedAnalysis.sha256(bytes)
                    return image
                } catch let error as ImagingError {
                    throw LabError.from(error, field: name)
                }
            }
        }
    }

    /// Decodes one image for the page's preview.
    func preview(_ encoded: String, options: ImageOptions, field: String) async throws -> PreparedImage {
        let images = self.images
        return try await decoding.run {
            let bytes = try ImagePayload.bytes(from: encoded, field: field)
            do {
                return try images.preview(bytes, options: options)
            } catch let error as ImagingError {
                throw LabError.from(error, field: field)
            }
        }
    }

    /// Decodes the files of a volume request (the slices are sampled by `AnalysisProcessor`), with each file's hash.
    func volumeStudies(_ encoded: [String], field: String) async throws -> (studies: [DecodedStudy], sha256: [String]) {
        let images = self.images
        return try await decoding.run {
            let files = try encoded.enumerated().map { index, text in
                let name = encoded.count == 1 ? field : "\(field)[\(index)]"
                return (name: name, bytes: try ImagePayload.bytes(from: text, field: name))
            }
            return (try images.volumeStudies(files), files.map { RecordedAnalysis.sha256($0.bytes) })
        }
    }

    /// Runs the one input processor (windowing, volume sampling, letterbox: CPU work, so on the
    /// decode executor); imaging errors (a frame that does not exist, a volume of one slice,
    /// mismatched slice sizes) become 4xx naming `field`.
    func prepare(_ analysis: Analysis, side: Int, field: String) async throws -> PreparedAnalysis {
        try await decoding.run {
            do {
                return try AnalysisProcessor.prepare(analysis, side: side)
            } catch let error as ImagingError {
                throw LabError.from(error, field: field)
            }
        }
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
