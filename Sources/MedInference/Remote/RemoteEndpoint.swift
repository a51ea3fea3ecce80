import Foundation

/// Where a remote OpenAI-compatible server is and how to talk to it.
public struct RemoteEndpoint: Sendable, Equatable, Codable {
    /// Which server software answers; each has its own quirks (see docs/deploy.md).
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// Decided by the first health check: `/props` answers on llama-server only.
        case auto
        /// llama.cpp's `llama-server`: joins content parts itself, so the prompt is laid out for it.
        case llamaServer = "llama-server"
        /// vLLM: the Hugging Face chat template and processor build the Gemma 3 prompt.
        case vllm
        /// Ollama's `/v1` compatibility layer.
        case ollama
        /// Any other server of the OpenAI chat-completions protocol.
        case openai
    }

    /// The server's root, e.g. `http://10.0.0.5:8000` (a trailing `/v1` is accepted and dropped).
    public var url: URL
    /// Model id to ask for; `nil` takes the first id `/v1/models` lists.
    public var model: String?
    /// The server software, or `auto` to detect it.
    public var kind: Kind
    /// Requests this endpoint takes at once (llama-server `--parallel`, a share of vLLM's batch).
    public var slots: Int
    /// Square side the server's projector expects; images are letterboxed to it here (896 for MedGemma).
    public var imageSize: Int
    /// Tokens one image becomes on the server (256 for MedGemma), to split the prompt count.
    public var tokensPerImage: Int
    /// Sent as `Authorization: Bearer` when set.
    public var apiKey: String?
    /// Whether the server can see images, as configured; `nil` leaves it to what the server says
    /// (llama-server's `/props`, Ollama's `/api/show`). What a server says wins over this.
    public var vision: Bool?

    /// An endpoint at `url` (its `/v1` suffix, if any, is dropped).
    public init(
        url: URL, model: String? = nil, kind: Kind = .auto, slots: Int = 4, imageSize: Int = 896,
        tokensPerImage: Int = 256, apiKey: String? = nil, vision: Bool? = nil
    ) {
        self.url = Self.root(of: url)
        self.model = model
        self.kind = kind
        self.slots = max(1, slots)
        self.imageSize = imageSize
        self.tokensPerImage = tokensPerImage
        self.apiKey = apiKey
        self.vision = vision
    }

    /// Parses `--backend` text: a URL, optionally prefixed by a kind, e.g. `vllm=http://gpu0:8000`.
    public init(
        parsing text: String, slots: Int = 4, imageSize: Int = 896, tokensPerImage: Int = 256, apiKey: String? = nil,
        vision: Bool? = nil
    ) throws {
        var kind = Kind.auto
        var address = text
        if let equals = text.firstIndex(of: "="), let parsed = Kind(rawValue: String(text[..<equals])) {
            kind = parsed
            address = String(text[text.index(after: equals)...])
        }
        guard let url = URL(string: address), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw InferenceError.badRequest("backend is not an http(s) URL: \(text)")
        }
        self.init(
            url: url, kind: kind, slots: slots, imageSize: imageSize, tokensPerImage: tokensPerImage, apiKey: apiKey,
            vision: vision)
    }

    /// The name health and metrics show: scheme, host and port, never a key.
    public var name: String {
        var text = "\(url.scheme ?? "http")://\(url.host ?? "?")"
        if let port = url.port { text += ":\(port)" }
        return text + (url.path.isEmpty || url.path == "/" ? "" : url.path)
    }

    /// `http://h:p/v1/` and `http://h:p` both become `http://h:p`: routes are added per call.
    static func root(of url: URL) -> URL {
        var text = url.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        if text.hasSuffix("/v1") { text.removeLast(3) }
        return URL(string: text) ?? url
    }

    /// The URL of an API route below the root, e.g. `v1/chat/completions`.
    func route(_ path: String) -> String { url.absoluteString + "/" + path }
}
