import Foundation
import Hummingbird

/// Serves the static web page (`web/` of the repository) at `/`, ahead of the API key check:
/// the page must load before it can ask for a key, and it holds nothing secret.
struct WebPageMiddleware<Context: RequestContext>: RouterMiddleware {
    let root: URL

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .get || request.method == .head, let file = WebPage.file(for: request.uri.path, root: root) else {
            return try await next(request, context)
        }
        let attributes = try? FileManager.default.attributesOfItem(atPath: file.path)
        let size = (attributes?[.size] as? Int) ?? 0
        let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let etag = "\"\(size)-\(Int(modified))\""
        var headers: HTTPFields = [
            .cacheControl: "no-cache", .eTag: etag,
            .contentType: WebPage.contentTypes[file.pathExtension.lowercased()] ?? "application/octet-stream"
        ]
        if request.headers[.ifNoneMatch] == etag { return Response(status: .notModified, headers: headers) }
        guard let data = FileManager.default.contents(atPath: file.path) else { return try await next(request, context) }
        headers[.contentLength] = String(data.count)
        return Response(
            status: .ok, headers: headers,
            body: request.method == .head ? .init() : .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Where the page lives and how its files are named and typed.
enum WebPage {
    /// The page folder: `MEDLAB_WEB_ROOT`, else `share/medlab/web` beside the binary's folder,
    /// else the first `web/index.html` found walking up from the executable (a repository build).
    static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        let manager = FileManager.default
        func hasIndex(_ url: URL) -> Bool { manager.fileExists(atPath: url.appendingPathComponent("index.html").path) }
        if let explicit = environment["MEDLAB_WEB_ROOT"] { return URL(fileURLWithPath: explicit) }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let shared = executable.deletingLastPathComponent().appendingPathComponent("share/medlab/web")
        if hasIndex(shared) { return shared }
        var directory = executable
        for _ in 0..<8 {
            let candidate = directory.appendingPathComponent("web")
            if hasIndex(candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        let local = URL(fileURLWithPath: manager.currentDirectoryPath).appendingPathComponent("web")
        return hasIndex(local) ? local : nil
    }

    static let contentTypes = [
        "html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8",
        "svg": "image/svg+xml", "json": "application/json", "png": "image/png", "ico": "image/x-icon"
    ]

    /// The file a page path names, or nil for API paths, `..` tricks and missing files.
    static func file(for path: String, root: URL) -> URL? {
        let parts = path.split(separator: "/").map(String.init)
        if let first = parts.first, ["api", "v1", "metrics", "openapi.json"].contains(first) { return nil }
        guard !parts.contains(where: { $0 == ".." || $0.hasPrefix(".") }) else { return nil }
        let url = parts.isEmpty ? root.appendingPathComponent("index.html") : parts.reduce(root) { $0.appendingPathComponent($1) }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else { return nil }
        return url
    }
}
