import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The Hugging Face Hub as `huggingface_hub` speaks to it: `HF_ENDPOINT` (mirrors work), a
/// bearer token sent to the Hub's host only, the tree API, and `resolve` downloads whose
/// redirects (to a CDN) are followed here so the token never leaves the Hub.
struct HubClient: Sendable {
    let endpoint: URL
    let token: String?
    let repo: String
    let revision: String

    /// One file of a repository, as the tree API lists it.
    struct Entry: Decodable, Sendable {
        var type: String
        var path: String
        var size: Int64
        var lfs: LFS?
        struct LFS: Decodable, Sendable {
            var oid: String
            var size: Int64
        }
        /// The SHA-256 the Hub promises (`lfs.oid`).
        var sha256: String? { lfs?.oid }
    }

    static let http = HTTPClient(
        eventLoopGroupProvider: .singleton,
        configuration: HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(15), read: .seconds(60)))
    )

    /// `HF_ENDPOINT` or huggingface.co; `--token`, else `HF_TOKEN`, else the token file in `HF_HOME`.
    static func configured(repo: String, revision: String, token: String?, environment: [String: String]) throws -> HubClient {
        let endpointText = environment["HF_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://huggingface.co"
        guard let endpoint = URL(string: endpointText.hasSuffix("/") ? String(endpointText.dropLast()) : endpointText), endpoint.host != nil
        else {
            throw PullError("HF_ENDPOINT is not a URL: \(endpointText)")
        }
        let home =
            environment["HF_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/huggingface")
        let fromFile = (try? String(contentsOf: home.appendingPathComponent("token"), encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let token = [token, environment["HF_TOKEN"], fromFile].compactMap { $0 }.first { !$0.isEmpty }
        return HubClient(endpoint: endpoint, token: token, repo: repo, revision: revision)
    }

    /// The page a person opens to accept the terms.
    var modelPage: String { endpoint.appendingPathComponent(repo).absoluteString }

    /// Every file of the repository at the revision.
    func tree() async throws -> [Entry] {
        let url = "\(endpoint.absoluteString)/api/models/\(repo)/tree/\(Self.escaped(revision))?recursive=true"
        let response = try await get(url, range: nil)
        guard response.status == .ok else { throw try await failure(response, what: "the file list") }
        let body = try await response.body.collect(upTo: 16 << 20)
        do {
            return try JSONDecoder().decode([Entry].self, from: Data(buffer: body)).filter { $0.type == "file" }
        } catch {
            throw PullError("the Hub's file list of \(repo) cannot be read: \(error)")
        }
    }

    /// `GET resolve/{revision}/{path}`, following redirects; `range` asks for the bytes from an offset.
    func download(_ path: String, from offset: Int64) async throws -> HTTPClientResponse {
        let url =
            "\(endpoint.absoluteString)/\(repo)/resolve/\(Self.escaped(revision))/\(path.split(separator: "/").map { Self.escaped(String($0)) }.joined(separator: "/"))"
        let response = try await get(url, range: offset > 0 ? offset : nil)
        guard response.status == .ok || response.status == .partialContent || response.status == .rangeNotSatisfiable else {
            throw try await failure(response, what: path)
        }
        return response
    }

    /// A GET that follows up to ten redirects itself, sending the token only to the Hub's own host.
    private func get(_ start: String, range: Int64?) async throws -> HTTPClientResponse {
        var url = start
        for _ in 0..<10 {
            guard let target = URL(string: url), let host = target.host else { throw PullError("the Hub redirected to a bad URL: \(url)") }
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "User-Agent", value: "medlab-pull/0.1; hf_hub-compatible")
            if let token, host == endpoint.host, target.port == endpoint.port {
                request.headers.add(name: "Authorization", value: "Bearer \(token)")
            }
            if let range { request.headers.add(name: "Range", value: "bytes=\(range)-") }
            let response = try await Self.http.execute(request, timeout: .hours(6))
            guard [301, 302, 303, 307, 308].contains(response.status.code), let location = response.headers.first(name: "Location") else {
                return response
            }
            _ = try? await response.body.collect(upTo: 1 << 20)
            url = URL(string: location, relativeTo: target)?.absoluteURL.absoluteString ?? location
        }
        throw PullError("the Hub redirected more than ten times for \(start)")
    }

    /// The Hub's error answers in words a person can act on.
    private func failure(_ response: HTTPClientResponse, what: String) async throws -> PullError {
        let code = response.headers.first(name: "X-Error-Code") ?? ""
        let message = response.headers.first(name: "X-Error-Message") ?? ""
        _ = try? await response.body.collect(upTo: 1 << 20)
        switch (response.status.code, code) {
        case (401, _):
            return PullError(
                "the Hub answered 401 for \(repo): no valid token. Create one at \(endpoint.absoluteString)/settings/tokens "
                    + "and pass --token, set HF_TOKEN, or run `huggingface-cli login`"
                    + (token == nil ? " (none was found)" : " (the one given was refused)"))
        case (403, "GatedRepo"),
            (403, _) where message.lowercased().contains("gated"):
            return PullError(
                "\(repo) is gated: accept its terms (the Health AI Developer Foundations terms for MedGemma) at \(modelPage) "
                    + "with the account whose token you use, then run this again")
        case (403, _): return PullError("the Hub refused access to \(repo) (403)\(message.isEmpty ? "" : ": \(message)")")
        case (404, "RevisionNotFound"): return PullError("\(repo) has no revision \(revision)")
        case (404, "EntryNotFound"): return PullError("\(repo)@\(revision) has no file \(what)")
        case (404, _):
            return PullError("no repository \(repo) on \(endpoint.absoluteString) (or it is private: check the name and your token)")
        default: return PullError("the Hub answered \(response.status.code) for \(what)\(message.isEmpty ? "" : ": \(message)")")
        }
    }

    private static func escaped(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? text
    }
}

/// Why a pull stopped; printed as one line, exit status 1.
struct PullError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
