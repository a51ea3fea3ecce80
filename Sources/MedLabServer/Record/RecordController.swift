import Foundation
import Hummingbird
import MedLabRecord

/// `/api/analyses`: the lab record over HTTP — list and search, one analysis, its thumbnail and
/// (with `--record-images model-input`) its model input, delete, and a streamed export. Reads first wait for writes still queued, so a client sees
/// the analysis it was just given the id of.
struct RecordController {
    let services: LabServices

    /// One page of the list.
    struct Page: Encodable {
        var analyses: [RecordedAnalysis]
        var nextCursor: String?
        enum CodingKeys: String, CodingKey {
            case analyses
            case nextCursor = "next_cursor"
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(analyses, forKey: .analyses)
            try c.encode(nextCursor, forKey: .nextCursor)
        }
    }

    func addRoutes(to router: Router<LabRequestContext>) {
        router.get("/api/analyses") { request, _ in
            let record = try await readyRecord()
            let limit = try Self.limit(request.uri.queryParameters["limit"].map(String.init))
            let page = try Self.mapped {
                try record.list(Self.filter(request), limit: limit, cursor: request.uri.queryParameters["cursor"].map(String.init))
            }
            return try JSONResponse.make(Page(analyses: page.analyses, nextCursor: page.nextCursor))
        }
        router.get("/api/analyses/export") { request, _ in try await export(request) }
        router.get("/api/analyses/{id}") { _, context in
            let id = try context.parameters.require("id")
            return try JSONResponse.make(try await analysis(id))
        }
        router.get("/api/analyses/{id}/thumbnail.png") { request, context in
            let id = try context.parameters.require("id")
            let analysis = try await analysis(id)
            let index = try Self.imageIndex(request, analysis)
            let record = try await readyRecord()
            // Without `image`, the last image that has one: a volume keeps a single thumbnail,
            // under its first file's hash.
            let candidates = request.uri.queryParameters["image"] == nil ? Array(analysis.images.indices.reversed()) : [index]
            let hashes = candidates.filter { $0 >= 0 }.map { analysis.images[$0].sha256 }
            guard let png = try Self.mapped({ try record.thumbnail(firstOf: hashes) }) else {
                throw LabError.notFound("analysis \(id) has no thumbnail (no image, or recorded with --record-images none)")
            }
            return Self.png(png)
        }
        router.get("/api/analyses/{id}/model-input.png") { request, context in
            let id = try context.parameters.require("id")
            let analysis = try await analysis(id)
            let index = try Self.imageIndex(request, analysis)
            let record = try await readyRecord()
            guard index >= 0, let copy = analysis.images[index].modelInput,
                let png = try Self.mapped({ try record.modelInput(sha256: copy) })
            else {
                throw LabError.notFound(
                    "analysis \(id.prefix(64)) has no copy of its model input: it was recorded with --record-images thumbnail or none "
                        + "(a server started with --record-images model-input keeps one)")
            }
            return Self.png(png)
        }
        router.delete("/api/analyses/{id}") { _, context in
            let id = try context.parameters.require("id")
            let record = try await readyRecord()
            guard try Self.mapped({ try record.delete(id: id) }) else { throw Self.unknown(id) }
            return Response(status: .noContent)
        }
    }

    private func readyRecord() async throws -> LabRecord { try await services.readyRecord() }

    /// `?image=N` (default: the last image); -1 when the analysis has none.
    private static func imageIndex(_ request: Request, _ analysis: RecordedAnalysis) throws -> Int {
        try request.uri.queryParameters["image"].map { text -> Int in
            guard let index = Int(text), analysis.images.indices.contains(index) else {
                throw LabError.badRequest(code: "invalid_image", message: "`image` must be 0 to \(analysis.images.count - 1)")
            }
            return index
        } ?? analysis.images.count - 1
    }

    private static func png(_ png: Data) -> Response {
        Response(
            status: .ok, headers: [.contentType: "image/png", .cacheControl: "private, max-age=86400"],
            body: .init(byteBuffer: ByteBuffer(bytes: png)))
    }

    private func analysis(_ id: String) async throws -> RecordedAnalysis {
        let record = try await readyRecord()
        guard let analysis = try Self.mapped({ try record.analysis(id: id) }) else { throw Self.unknown(id) }
        return analysis
    }

    /// JSON Lines or CSV, written a page at a time so a large record never sits in memory.
    private func export(_ request: Request) async throws -> Response {
        let text = request.uri.queryParameters["format"].map(String.init) ?? "jsonl"
        guard let format = RecordExport.Format(rawValue: text.lowercased()) else {
            throw LabError.badRequest(code: "invalid_format", message: "`format` must be jsonl or csv, not \(text.prefix(20))")
        }
        let record = try await readyRecord()
        let filter = try Self.filter(request)
        _ = try Self.mapped { try record.list(filter, limit: 1) }  // a bad date is a 400 before the body starts
        let name = "medlab-analyses.\(format.rawValue)"
        return Response(
            status: .ok, headers: [.contentType: format.contentType, .contentDisposition: "attachment; filename=\"\(name)\""],
            body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: RecordExport.header(format)))
                try await record.forEach(filter) { page in
                    var chunk = ""
                    for analysis in page { chunk += try RecordExport.line(analysis, format: format) }
                    try await writer.write(ByteBuffer(string: chunk))
                }
                try await writer.finish(nil)
            })
    }

    static func filter(_ request: Request) throws -> RecordFilter {
        let query = formQuery(request)
        func value(_ key: String) -> String? { query[key].flatMap { $0.isEmpty ? nil : $0 } }
        let hasModelInput = value("has_model_input")
        guard hasModelInput == nil || ["1", "true", "0", "false"].contains(hasModelInput!) else {
            throw LabError.badRequest(code: "invalid_query", message: "`has_model_input` must be 1 or 0")
        }
        return RecordFilter(
            text: value("q"), source: value("source"), model: value("model"), runID: value("run_id"),
            since: value("since"), until: value("until"), hasModelInput: hasModelInput == "1" || hasModelInput == "true")
    }

    /// The query as a browser form or Python's requests writes it: `+` is a space (Hummingbird's
    /// own query parser keeps it a plus, and a search for `nodule+upper` would find nothing).
    static func formQuery(_ request: Request) -> [String: String] {
        var result: [String: String] = [:]
        for pair in (request.uri.query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ text: Substring) -> String {
                let spaced = text.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            result[decoded(parts[0])] = parts.count > 1 ? decoded(parts[1]) : ""
        }
        return result
    }

    static func limit(_ text: String?) throws -> Int {
        guard let text else { return 50 }
        guard let limit = Int(text), (1...1000).contains(limit) else {
            throw LabError.badRequest(code: "invalid_limit", message: "`limit` must be a whole number from 1 to 1000")
        }
        return limit
    }

    static func unknown(_ id: String) -> LabError {
        LabError.notFound("no analysis \(id.prefix(64)) in the record")
    }

    /// Record errors in the API's terms: a malformed cursor or date is 400, a failing file 503.
    static func mapped<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as RecordError {
            switch error {
            case .badRequest(let message): throw LabError.badRequest(code: "invalid_query", message: message)
            case .unavailable(let message): throw LabError.unavailable(code: "record_unavailable", message: message, retryAfter: nil)
            }
        }
    }
}
