import Foundation

/// A pool described in a JSON file (`medlab serve --backends FILE`), for more than a few URLs or
/// per-server settings:
///
/// ```json
/// {"health_interval": 5,
///  "backends": [{"url": "http://gpu-0:8000", "kind": "vllm", "model": "google/medgemma-4b-it", "slots": 64,
///                "api_key_env": "VLLM_API_KEY"}]}
/// ```
public struct PoolConfiguration: Sendable, Decodable {
    /// One server of the file; unset fields take the command line's defaults.
    public struct Backend: Sendable, Decodable {
        public var url: String
        public var kind: RemoteEndpoint.Kind?
        public var model: String?
        public var slots: Int?
        public var imageSize: Int?
        public var tokensPerImage: Int?
        /// Whether the server can see images, for servers that do not say (an `image_size` also means yes).
        public var vision: Bool?
        /// The name of an environment variable holding the key (keys stay out of files).
        public var apiKeyEnv: String?

        enum CodingKeys: String, CodingKey {
            case url, kind, model, slots, vision
            case imageSize = "image_size"
            case tokensPerImage = "tokens_per_image"
            case apiKeyEnv = "api_key_env"
        }
    }

    public var healthInterval: TimeInterval?
    public var backends: [Backend]

    enum CodingKeys: String, CodingKey {
        case backends
        case healthInterval = "health_interval"
    }

    /// Reads and checks a file.
    public static func load(path: String) throws -> PoolConfiguration {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw InferenceError.badRequest("cannot read the backends file \(path): \(error.localizedDescription)")
        }
        do { return try JSONDecoder().decode(PoolConfiguration.self, from: data) } catch {
            throw InferenceError.badRequest("the backends file \(path) is not valid: \(error)")
        }
    }

    /// The endpoints, each completed with the given defaults.
    public func endpoints(defaults: RemoteEndpoint, environment: [String: String]) throws -> [RemoteEndpoint] {
        try backends.map { backend in
            var endpoint = try RemoteEndpoint(
                parsing: backend.url, slots: backend.slots ?? defaults.slots,
                imageSize: backend.imageSize ?? defaults.imageSize,
                tokensPerImage: backend.tokensPerImage ?? defaults.tokensPerImage,
                apiKey: backend.apiKeyEnv.flatMap { environment[$0] } ?? defaults.apiKey)
            if let kind = backend.kind { endpoint.kind = kind }
            endpoint.vision = backend.vision ?? (backend.imageSize != nil ? true : defaults.vision)
            endpoint.model = backend.model ?? defaults.model
            return endpoint
        }
    }
}
