import Foundation
import MedImaging
import MedInference
import MedLabExperiments

@testable import MedLabServer

/// One parser under the fuzzer: a name for the command line and what it does with an input.
struct FuzzTarget: Sendable {
    var name: String
    var run: @Sendable (UnsafeBufferPointer<UInt8>) -> Void

    /// The target this process fuzzes (libFuzzer's callback is a C function: it cannot capture it).
    nonisolated(unsafe) static var current: FuzzTarget?

    static let all: [FuzzTarget] = [
        FuzzTarget(name: "imaging") { imaging($0) },
        FuzzTarget(name: "dataurl") { dataURL($0) },
        FuzzTarget(name: "multipart") { multipart($0) },
        FuzzTarget(name: "predict-json") { predictJSON($0) },
        FuzzTarget(name: "chat-json") { chatJSON($0) },
        FuzzTarget(name: "set-yaml") { setYAML($0) },
        FuzzTarget(name: "set-zip") { setZIP($0) },
        FuzzTarget(name: "study-zip") { studyZIP($0) }
    ]

    /// The server's limits where a route reads them from its configuration (the defaults).
    static let configuration = LabServerConfiguration()

    // MARK: - Imaging

    /// DICOM (data set and every pixel codec), NIfTI (plain and gzip), PNG and JPEG, sniffed as
    /// uploads are, then rendered as the model would see them.
    static func imaging(_ input: UnsafeBufferPointer<UInt8>) {
        // Small limits keep each run fast and make the "too large" paths reachable.
        let options = DecodeOptions(maxPixels: 1 << 20, maxTotalSamples: 1 << 22, maxInflatedBytes: 1 << 24)
        do {
            let study = try ImageDecoder.decode(data: Data(buffer: input), filenameHint: nil, options: options)
            _ = Letterbox.fit(Renderer.render(try study.representativeFrame()), side: 64)
        } catch is ImagingError {
            // refused with a reason: what a damaged upload must get
        } catch {
            unexpected(error)
        }
    }

    // MARK: - Request bodies

    /// An image string as both APIs take it: a `data:` URL or bare base64.
    static func dataURL(_ input: UnsafeBufferPointer<UInt8>) {
        refusedAsAClientError { _ = try ImagePayload.bytes(from: String(decoding: input, as: UTF8.self), field: "image") }
    }

    /// A `multipart/form-data` body to `/api/predict`: the input's first line is the Content-Type
    /// header (so the boundary is fuzzed too), the rest the body; then the form becomes a request.
    static func multipart(_ input: UnsafeBufferPointer<UInt8>) {
        let bytes = Array(input)
        let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) ?? bytes.endIndex
        let contentType = String(decoding: bytes[..<newline], as: UTF8.self)
        guard let boundary = MultipartForm.boundary(of: contentType) else { return }
        let body = Array(bytes[min(newline + 1, bytes.endIndex)...])
        refusedAsAClientError {
            let form = try MultipartForm(body: body, boundary: boundary)
            for part in form.parts { _ = part.text }
            check(try PredictRequest(form: form))
        }
    }

    /// The JSON body of `/api/predict` (and `/api/render`), as `Request.json` decodes it.
    static func predictJSON(_ input: UnsafeBufferPointer<UInt8>) {
        refusedAsAClientError { check(try JSONDecoder().decode(PredictRequest.self, from: Data(buffer: input))) }
    }

    /// Everything `/api/predict` checks before it needs the engine; each check on its own, so one
    /// failing early does not hide the others from the fuzzer.
    static func check(_ request: PredictRequest) {
        let limits = configuration
        refusedAsAClientError { _ = try request.checkedQuestion() }
        refusedAsAClientError { _ = try request.checkedMaxNewTokens(limit: limits.maxNewTokens) }
        refusedAsAClientError { _ = try request.sampling() }
        refusedAsAClientError { _ = try request.constraint() }
        refusedAsAClientError {
            for (index, text) in try request.imageStrings(maxImages: limits.maxImages).enumerated() {
                _ = try ImagePayload.bytes(from: text, field: "images[\(index)]")
            }
        }
        _ = request.imageOptions
        _ = request.isVolume
        _ = request.volume?.packing
    }

    /// The JSON body of `/v1/chat/completions` and what its translation checks before the engine:
    /// roles, content parts, inline images, the token limit, sampling, stop strings and response format.
    static func chatJSON(_ input: UnsafeBufferPointer<UInt8>) {
        refusedAsAClientError {
            let request = try JSONDecoder().decode(ChatCompletionRequest.self, from: Data(buffer: input))
            let limits = configuration
            refusedAsAClientError {
                for (index, message) in request.messages.enumerated() {
                    guard case .parts(let parts)? = message.content else { continue }
                    for (partIndex, part) in parts.enumerated() where part.type == "image_url" {
                        guard let url = part.imageURL?.url else { continue }
                        _ = try ImagePayload.bytes(from: url, field: "messages[\(index)].content[\(partIndex)].image_url")
                    }
                }
            }
            refusedAsAClientError {
                _ = try PredictRequest.checkedTokens(
                    request.maxCompletionTokens ?? request.maxTokens, name: "max_tokens", limit: limits.maxNewTokens)
            }
            refusedAsAClientError {
                _ = try PredictRequest.sampling(temperature: request.temperature, topP: request.topP, seed: request.seed)
            }
            refusedAsAClientError { _ = try request.responseFormat?.constraint() }
            _ = request.stop?.values
            _ = request.streamOptions?.includeUsage
        }
    }

    // MARK: - Regression sets

    /// A folder holding one image, so a set's relative image paths can resolve.
    static let setFolder: URL = {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("medlab-fuzz-set-\(getpid())")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: folder.appendingPathComponent("a.png").path, contents: Data([0x89, 0x50]))
        return folder
    }()

    /// A regression set's YAML (or JSON) text.
    static func setYAML(_ input: UnsafeBufferPointer<UInt8>) {
        do {
            _ = try RegressionSet.parse(String(decoding: input, as: UTF8.self), file: "set.yaml", folder: setFolder)
        } catch is SetError {
            // refused with the file, line and reason: what `medlab regress` and the API report
        } catch {
            unexpected(error)
        }
    }

    /// A regression set uploaded as a ZIP: unpacked (within a size limit, no entry outside its
    /// folder) and its set file read, as `POST /api/experiments/regress` does.
    static func setZIP(_ input: UnsafeBufferPointer<UInt8>) {
        do {
            let folder = try SetArchive.unpack(Array(input), limit: 1 << 20)
            defer { try? FileManager.default.removeItem(at: folder) }
            _ = try RegressionSet.load(path: try SetArchive.setFile(in: folder))
        } catch is SetError {
            // the set file inside is refused with a reason
        } catch {
            if case .internalError = LabError.from(error) { unexpected(error) }
        }
    }

    // MARK: - Studies

    /// A ZIP dropped as a study (`POST /api/studies`): every entry read in memory within the
    /// upload's limits, hostile ones skipped with a reason.
    static func studyZIP(_ input: UnsafeBufferPointer<UInt8>) {
        let bytes = Array(input)
        var upload = StudyUpload(limits: .init(maxFiles: 64, maxBytes: 1 << 20, maxFileBytes: 1 << 18))
        refusedAsAClientError { try StudyArchive.unpack(bytes, name: "study.zip", into: &upload) }
        _ = (upload.files.count, upload.skipped.count, upload.bytes)
    }

    // MARK: - Verdicts

    /// Runs `body`; what it throws must be an error the API answers with a 4xx, never a 500.
    static func refusedAsAClientError(_ body: () throws -> Void) {
        do { try body() } catch {
            if case .internalError = LabError.from(error) { unexpected(error) }
        }
    }

    /// An error no parser should throw: stops the fuzzer with this input as a finding.
    static func unexpected(_ error: any Error) -> Never {
        fatalError("unexpected error from \(current?.name ?? "?"): \(String(reflecting: error))")
    }
}
