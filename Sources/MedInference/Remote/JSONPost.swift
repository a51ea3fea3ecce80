import AsyncHTTPClient
import Foundation
import NIOCore

/// A JSON POST through the engines' shared HTTP client, for callers outside the engine layer
/// (`medlab batch --server`). One HTTP client in the code base: Foundation's URLSession would
/// pull in FoundationNetworking and libcurl, which a static release link cannot find.
public enum JSONPost {
    /// A server's reply: its status, its `Retry-After` in seconds when it sent one, and its body.
    public struct Reply: Sendable {
        public let status: Int
        public let retryAfter: Double?
        public let body: Data
    }

    /// POSTs `json` to `url` (with `Authorization: Bearer apiKey` when given) and reads the whole reply.
    public static func send(_ url: URL, json: Data, apiKey: String?, timeout: Duration) async throws -> Reply {
        let request = RemoteHTTP.request(url.absoluteString, method: .POST, apiKey: apiKey, json: json)
        let response = try await RemoteHTTP.execute(request, timeout: .milliseconds(Int64(timeout.milliseconds)))
        let body = try await response.body.collect(upTo: 256 << 20)
        return Reply(
            status: Int(response.status.code), retryAfter: response.headers.first(name: "Retry-After").flatMap(Double.init),
            body: Data(body.readableBytesView))
    }
}
