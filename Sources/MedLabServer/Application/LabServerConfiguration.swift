import Foundation

/// Everything `medlab serve` can be told: where to listen, who may call, and the limits that
/// keep one busy CPU or GPU answering rather than drowning.
public struct LabServerConfiguration: Sendable {
    /// Address to bind; loopback by default, as the article's `127.0.0.1:7860`.
    public var host: String
    public var port: Int
    /// Bearer token required on every API route when set; required to bind beyond loopback.
    public var apiKey: String?
    /// Allowed `Origin` for browsers on another host; CORS stays off when `nil`.
    public var corsOrigin: String?
    /// Largest request body (JSON with base64 images, or multipart) in bytes.
    public var maxBodyBytes: Int
    /// Largest decoded image in pixels (width × height); 8192×8192 by default (SPEC M2).
    public var maxImagePixels: Int
    /// Most images in one request (prior + current, or the 85 slices of a volume).
    public var maxImages: Int
    /// Most tokens one answer may ask for (`max_new_tokens`, `max_tokens`); MedGemma writes up to 8192.
    public var maxNewTokens: Int
    /// Requests generating at the same time (the engine's slots: `--parallel`, or the pool's total).
    public var concurrentGenerations: Int
    /// Requests allowed to wait for a turn; one more is answered 429 with `Retry-After`.
    public var maxQueuedRequests: Int
    /// Seconds a request may take, waiting included, before it is answered 504.
    public var requestTimeout: Double
    /// Seconds in-flight work may take to finish after SIGTERM before it is cancelled.
    public var shutdownGrace: Double
    /// Version reported by `/api/health` and `/openapi.json`.
    public var version: String
    /// Most bytes the study cache holds, uploads plus decoded pixels (`--study-cache-mb`, 2 GiB).
    public var studyCacheBytes: Int
    /// Largest `POST /api/studies` body, and most bytes its files may unpack to (1 GiB).
    public var studyMaxUploadBytes: Int
    /// Most files one study upload may hold, ZIP entries included (4096).
    public var studyMaxFiles: Int

    public init(
        host: String = "127.0.0.1", port: Int = 7860, apiKey: String? = nil, corsOrigin: String? = nil,
        maxBodyBytes: Int = 64 << 20, maxImagePixels: Int = 8192 * 8192, maxImages: Int = 96, maxNewTokens: Int = 8192,
        concurrentGenerations: Int = 1, maxQueuedRequests: Int = 8, requestTimeout: Double = 300,
        shutdownGrace: Double = 10, version: String = "0.1.0", studyCacheBytes: Int = 2048 << 20,
        studyMaxUploadBytes: Int = 1 << 30, studyMaxFiles: Int = 4096
    ) {
        self.host = host
        self.port = port
        self.apiKey = apiKey
        self.corsOrigin = corsOrigin
        self.maxBodyBytes = maxBodyBytes
        self.maxImagePixels = maxImagePixels
        self.maxImages = maxImages
        self.maxNewTokens = maxNewTokens
        self.concurrentGenerations = concurrentGenerations
        self.maxQueuedRequests = maxQueuedRequests
        self.requestTimeout = requestTimeout
        self.shutdownGrace = shutdownGrace
        self.version = version
        self.studyCacheBytes = studyCacheBytes
        self.studyMaxUploadBytes = studyMaxUploadBytes
        self.studyMaxFiles = studyMaxFiles
    }

    /// Whether `host` only accepts connections from this machine.
    public var isLoopback: Bool {
        ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host) || host.hasPrefix("127.")
    }

    /// Refuses a configuration that would expose the model to the network without a key.
    public func validate() throws {
        if !isLoopback, (apiKey ?? "").isEmpty {
            throw LabError.configuration(
                "binding to \(host) exposes the lab beyond this machine: set --api-key or MEDLAB_API_KEY first")
        }
        guard (1...65535).contains(port) || port == 0 else { throw LabError.configuration("port \(port) is out of range") }
        guard maxQueuedRequests >= 0, maxNewTokens >= 1, concurrentGenerations >= 1, requestTimeout > 0 else {
            throw LabError.configuration("queue size, concurrency and timeout must be positive")
        }
        guard studyCacheBytes >= 0, studyMaxUploadBytes > 0, studyMaxFiles > 0 else {
            throw LabError.configuration("the study cache size must not be negative, nor the upload limits zero")
        }
    }
}
