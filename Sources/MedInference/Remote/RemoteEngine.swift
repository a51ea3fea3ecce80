import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization

/// An `InferenceEngine` on a remote OpenAI-compatible server (vLLM, llama-server, Ollama).
///
/// Images go through our own pipeline first (DICOM, windowing, letterbox, region marks) and are
/// sent as lossless PNG data URIs at the projector's size; the answer is streamed and split into
/// answer and reasoning by the same `ReasoningFilter` as in process. Terminating the stream cancels
/// the HTTP request, which closes the connection: all three servers stop generating then.
public final class RemoteEngine: InferenceEngine {
    /// What the first health check or request learned about the server.
    struct Discovered {
        var kind: RemoteEndpoint.Kind
        var model: String?
        var slots: Int?
        /// Tokens one request may hold (llama-server's per-slot `n_ctx`, vLLM's `max_model_len`).
        var contextTokens: Int?
        /// Whether it can see images: what the server said, else the configuration; `nil` until asked.
        var vision: Bool?
    }

    /// Assumed when the server does not say: Gemma 3's trained context. The server refuses more.
    static let assumedContextTokens = 131_072

    /// Where the server is and how to talk to it.
    public let endpoint: RemoteEndpoint
    /// The longest one request may take, streaming included.
    public let requestTimeout: TimeInterval
    private let discovered: Mutex<Discovered>

    /// An engine for `endpoint`; nothing is sent until the first probe or request.
    public init(endpoint: RemoteEndpoint, requestTimeout: TimeInterval = 3600) {
        self.endpoint = endpoint
        self.requestTimeout = requestTimeout
        self.discovered = Mutex(Discovered(kind: endpoint.kind, model: endpoint.model))
    }

    /// What is known of the server now; never waits on the network (health checks and requests learn it).
    public var info: EngineInfo {
        get async {
            let known = discovered.withLock { $0 }
            let vision = sees
            return EngineInfo(
                model: known.model ?? endpoint.name, projector: nil, backend: "remote", devices: [endpoint.name],
                gpuLayers: 0, contextTokens: known.contextTokens ?? Self.assumedContextTokens,
                imageSize: vision ? endpoint.imageSize : nil,
                tokensPerImage: vision ? endpoint.tokensPerImage : nil, llamaBuild: nil, parallel: endpoint.slots,
                vision: vision)
        }
    }

    /// The server kind in use (`auto` until the server has been reached).
    public var kind: RemoteEndpoint.Kind { discovered.withLock { $0.kind } }

    /// Whether the server can see images, as far as known now (`nil` before it was reached).
    public var vision: Bool? { discovered.withLock { $0.vision } }

    /// Whether to send it images now, without the network: what it said, else the configuration
    /// (a server never reached counts as blind until it is).
    var sees: Bool { vision ?? endpoint.vision ?? false }

    public func generate(_ request: GenerationRequest) -> AnswerStream {
        let (stream, continuation) = AnswerStream.makeStream()
        let task = Task { await self.run(request, continuation: continuation) }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Checks the server answers and is ready: `/health` (llama-server, vLLM), else `/v1/models`
    /// (Ollama and others). Throws what is wrong; learns the kind and model on the way.
    public func probe(timeout: TimeInterval = 3) async throws {
        let limit = TimeAmount.milliseconds(Int64(timeout * 1000))
        let key = endpoint.apiKey
        if let (status, object) = await RemoteHTTP.getJSON(endpoint.route("health"), apiKey: key, timeout: limit), status != 404 {
            guard status == 200 else {
                let message = ((object as? [String: Any])?["error"] as? [String: Any])?["message"] as? String
                throw InferenceError.unavailable("\(endpoint.name) answered \(status) to /health\(message.map { ": \($0)" } ?? "")")
            }
        } else {
            guard let (status, _) = await RemoteHTTP.getJSON(endpoint.route("v1/models"), apiKey: key, timeout: limit) else {
                throw InferenceError.unavailable("\(endpoint.name) cannot be reached")
            }
            guard status == 200 else { throw InferenceError.unavailable("\(endpoint.name) answered \(status) to /v1/models") }
        }
        _ = await discover()
    }

    /// Learns what `auto`, an absent model name and the server's vision leave open; cheap once known.
    @discardableResult
    func discover() async -> Discovered {
        let known = discovered.withLock { $0 }
        guard known.kind == .auto || known.model == nil || known.contextTokens == nil || known.vision == nil else { return known }
        let limit = TimeAmount.seconds(3)
        let key = endpoint.apiKey
        var found = known
        var said: Bool?
        // Only llama-server has /props (with `modalities.vision`); vLLM has /version; Ollama has /api/version.
        if found.kind == .auto || found.kind == .llamaServer,
            let (status, object) = await RemoteHTTP.getJSON(endpoint.route("props"), apiKey: key, timeout: limit),
            status == 200, let props = object as? [String: Any], props["default_generation_settings"] != nil
        {
            found.kind = .llamaServer
            found.slots = props["total_slots"] as? Int
            said = (props["modalities"] as? [String: Any])?["vision"] as? Bool
        } else if found.kind == .auto {
            if let (status, _) = await RemoteHTTP.getJSON(endpoint.route("version"), apiKey: key, timeout: limit), status == 200 {
                found.kind = .vllm
            } else if let (status, _) = await RemoteHTTP.getJSON(endpoint.route("api/version"), apiKey: key, timeout: limit),
                status == 200
            {
                found.kind = .ollama
            } else {
                return known  // unreachable now: decide on a later call
            }
        }
        if let (status, object) = await RemoteHTTP.getJSON(endpoint.route("v1/models"), apiKey: key, timeout: limit),
            status == 200, let list = (object as? [String: Any])?["data"] as? [[String: Any]]
        {
            let entry = list.first { $0["id"] as? String == found.model } ?? list.first
            found.model = found.model ?? entry?["id"] as? String
            found.contextTokens =
                (entry?["max_model_len"] as? Int) ?? ((entry?["meta"] as? [String: Any])?["n_ctx"] as? Int)
                ?? Self.assumedContextTokens
            // llama-server lists `capabilities: ["completion", "multimodal"]` here too.
            if said == nil, let capabilities = entry?["capabilities"] as? [String] {
                said = capabilities.contains("multimodal") || capabilities.contains("vision")
            }
        } else if known.kind != .auto {
            return known  // not reachable now: ask again later
        }
        if said == nil, found.kind == .ollama, let model = found.model { said = await Self.ollamaVision(endpoint, model: model) }
        found.vision = said ?? endpoint.vision ?? false
        discovered.withLock { $0 = found }
        return found
    }

    /// Ollama's `POST /api/show` lists `capabilities`, "vision" among them for a model with a projector.
    private static func ollamaVision(_ endpoint: RemoteEndpoint, model: String) async -> Bool? {
        guard let body = try? JSONSerialization.data(withJSONObject: ["model": model]),
            let response = try? await RemoteHTTP.execute(
                RemoteHTTP.request(endpoint.route("api/show"), method: .POST, apiKey: endpoint.apiKey, json: body), timeout: .seconds(3)),
            response.status == .ok, let bytes = try? await response.body.collect(upTo: 4 << 20),
            let object = try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)) as? [String: Any],
            let capabilities = object["capabilities"] as? [String]
        else { return nil }
        return capabilities.contains("vision")
    }

    /// One request from start to end; every way out finishes the continuation.
    private func run(_ request: GenerationRequest, continuation: AnswerStream.Continuation) async {
        var session = RemoteAnswer(
            continuation: continuation, tokensPerImage: endpoint.tokensPerImage,
            imageCount: request.images.count)
        do {
            let known = await discover()
            let kind = known.kind == .auto ? RemoteEndpoint.Kind.openai : known.kind
            let body = try ChatCompletionBody(
                request: request, model: known.model ?? "default", kind: kind,
                imageSize: endpoint.imageSize)
            let path = request.raw ? "v1/completions" : "v1/chat/completions"
            let http = RemoteHTTP.request(
                endpoint.route(path), method: .POST, apiKey: endpoint.apiKey,
                json: try JSONEncoder().encode(body))
            let response: HTTPClientResponse
            do {
                response = try await RemoteHTTP.execute(http, timeout: .milliseconds(Int64(requestTimeout * 1000)))
            } catch {
                throw InferenceError.unavailable("\(endpoint.name): \(RemoteHTTP.describe(error))")
            }
            guard response.status == .ok else {
                let message = RemoteHTTP.errorMessage((try? await response.body.collect(upTo: 1 << 16)) ?? ByteBuffer())
                throw Self.error(status: response.status.code, message: "\(endpoint.name) answered \(response.status.code): \(message)")
            }
            var parser = ServerSentEventParser()
            do {
                reading: for try await buffer in response.body {
                    for event in parser.feed(buffer.readableBytesView) where try session.handle(event) { break reading }
                }
                if !session.done {
                    for event in parser.finish() where try session.handle(event) { break }
                }
            } catch let error as InferenceError {
                throw error
            } catch {
                if Task.isCancelled { return continuation.finish() }
                throw InferenceError.unavailable("\(endpoint.name): \(RemoteHTTP.describe(error))")
            }
            if Task.isCancelled { return continuation.finish() }
            try session.finish()
        } catch {
            continuation.finish(throwing: error)
        }
    }

    /// 4xx means the request itself is wrong (no other endpoint would take it); 5xx and 429 mean
    /// this endpoint cannot answer now.
    static func error(status: UInt, message: String) -> InferenceError {
        switch status {
        case 400, 404, 413, 422: .badRequest(message)
        default: .unavailable(message)
        }
    }
}
