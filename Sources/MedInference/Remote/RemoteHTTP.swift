import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The HTTP client every remote engine shares, and the small calls around it.
enum RemoteHTTP {
    /// One process-wide client: it lives as long as the process, so it is never shut down.
    /// The read timeout is the longest silence allowed on a connection: a server says nothing while
    /// it reads a long prompt (an 85-slice CT volume is ~22K tokens), so it is generous.
    static let client = HTTPClient(
        eventLoopGroupProvider: .singleton,
        configuration: HTTPClient.Configuration(
            timeout: .init(connect: .seconds(5), read: .seconds(300)),
            // Streams stay open for a whole answer: allow as many as a large vLLM batch. Idle
            // connections are dropped before the servers' own keep-alive limit (llama-server's
            // cpp-httplib and vLLM's uvicorn close after 5 s), so we rarely pick one they are closing.
            connectionPool: .init(idleTimeout: .seconds(2), concurrentHTTP1ConnectionsPerHostSoftLimit: 512)))

    /// Sends `request`, again on another connection when a pooled one turns out to have been
    /// closed by the server before any answer came (a keep-alive timer firing as we reuse it):
    /// that says nothing about the endpoint. Each closed connection leaves the pool, so a few
    /// tries reach a fresh one; a server that is really gone refuses the connection instead.
    static func execute(_ request: HTTPClientRequest, timeout: TimeAmount) async throws -> HTTPClientResponse {
        var attempt = 0
        while true {
            do {
                return try await client.execute(request, timeout: timeout)
            } catch let error where isStaleConnection(error) && attempt < 4 && !Task.isCancelled {
                attempt += 1
            }
        }
    }

    /// The ways a keep-alive connection the server has just closed shows up.
    static func isStaleConnection(_ error: any Error) -> Bool {
        if let error = error as? HTTPClientError { return error == .remoteConnectionClosed }
        if let error = error as? ChannelError { return error == .ioOnClosedChannel || error == .eof }
        if let error = error as? IOError { return [ECONNRESET, EPIPE].contains(error.errnoCode) }
        return false
    }

    /// A request with the endpoint's key and our content type.
    static func request(_ url: String, method: HTTPMethod = .GET, apiKey: String?, json: Data? = nil) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let apiKey, !apiKey.isEmpty { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: json))
        }
        return request
    }

    /// GETs a small JSON document; `nil` on any failure (used by probes and discovery).
    static func getJSON(_ url: String, apiKey: String?, timeout: TimeAmount) async -> (status: UInt, object: Any?)? {
        do {
            let response = try await execute(request(url, apiKey: apiKey), timeout: timeout)
            let body = try await response.body.collect(upTo: 4 << 20)
            return (response.status.code, try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)))
        } catch {
            return nil
        }
    }

    /// The message a server put in an error body, or the start of the body.
    static func errorMessage(_ body: ByteBuffer) -> String {
        let data = Data(body.readableBytesView)
        if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            if let error = object["error"] as? [String: Any], let message = error["message"] as? String { return message }
            if let message = object["error"] as? String ?? object["message"] as? String ?? object["detail"] as? String { return message }
        }
        return String(decoding: data.prefix(300), as: UTF8.self)
    }

    /// Words for a transport failure (refused, timed out, reset).
    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return "connection timed out"
            case .readTimeout: return "no data for too long (read timeout)"
            case .deadlineExceeded: return "request timed out"
            case .remoteConnectionClosed: return "the server closed the connection"
            default: return String(describing: error)
            }
        }
        return String(describing: error)
    }
}
