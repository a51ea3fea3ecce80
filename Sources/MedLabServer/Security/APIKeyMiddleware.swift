import Foundation
import Hummingbird

/// Requires `Authorization: Bearer <key>` on the API when a key is configured.
///
/// `/api/health` stays open so a load balancer or the page can see whether the lab is up; it
/// reveals no data. The comparison takes the same time whatever the first wrong byte is.
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: [UInt8]
    static var openPaths: Set<String> { ["/api/health"] }

    init(key: String) { self.key = Array(key.utf8) }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.openPaths.contains(request.uri.path) || request.method == .options { return try await next(request, context) }
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer "),
            Self.constantTimeEquals(Array(header.utf8.dropFirst(7)), key)
        else {
            throw LabError.unauthorized
        }
        return try await next(request, context)
    }

    /// Compares every byte of the longer input, so timing does not tell how much of a guess was right.
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0 && a.count == b.count
    }
}
