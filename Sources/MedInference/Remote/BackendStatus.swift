import Foundation

/// What the pool knows about one of its engines, for `/api/health` and `/metrics`.
public struct BackendStatus: Sendable, Codable, Equatable {
    /// `up` answers requests; `down` failed a request or a health check and waits for a good check.
    public enum State: String, Sendable, Codable { case up, down, unknown }

    /// `http://host:port` of a remote server, or `in-process`.
    public var name: String
    /// `llama-server`, `vllm`, `ollama`, `openai`, `auto` (not reached yet) or `in-process`.
    public var kind: String
    public var state: State
    /// Requests on this engine now.
    public var outstanding: Int
    /// Requests it takes at once.
    public var slots: Int
    /// Requests sent to it since start.
    public var requests: Int
    /// Requests that failed because of it (unreachable, 5xx, cut stream), and failed health checks.
    public var failures: Int
    /// Round trip of the last health check, in milliseconds.
    public var latencyMs: Double?
    /// Smoothed time from sending a request to its first streamed event, in milliseconds.
    public var firstEventMs: Double?
    /// Why it is down (the last failure), in words.
    public var lastError: String?
    /// Whether it can see images (what the server said, else the configuration); `nil` until reached
    /// and for an in-process engine (the model's projector says).
    public var vision: Bool?

    enum CodingKeys: String, CodingKey {
        case name, kind, state, outstanding, slots, requests, failures, vision
        case latencyMs = "latency_ms"
        case firstEventMs = "first_event_ms"
        case lastError = "last_error"
    }
}
