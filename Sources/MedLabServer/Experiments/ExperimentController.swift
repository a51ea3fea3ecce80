import Foundation
import Hummingbird
import MedImaging
import MedInference
import MedLabExperiments
import MedLabRecord

/// `/api/experiments` and `/api/regression-runs`: comparison grids and regression sets over
/// HTTP. Files come in the request (base64 images, a ZIP of a set); the server's disk is never read.
struct ExperimentController {
    let services: LabServices

    /// `POST /api/experiments/compare`.
    struct CompareRequest: Decodable {
        /// An upload (`data`, base64 or a data URL) or a copy of a model input the record keeps
        /// (`record_image`: its SHA-256 or the image's; already windowed, so `window` does not apply).
        struct Image: Decodable {
            var name: String?
            var data: String?
            var recordImage: String?
            enum CodingKeys: String, CodingKey {
                case name, data
                case recordImage = "record_image"
            }
        }
        var images: [Image]
        var questions: [String]
        var context: String?
        var window: String?
        var maxNewTokens: Int?
        var temperature: Double?
        var stream: Bool?
        enum CodingKeys: String, CodingKey {
            case images, questions, context, window, temperature, stream
            case maxNewTokens = "max_new_tokens"
        }
    }

    /// Most cells one comparison may ask for.
    static let maxCells = 100

    func addRoutes(to router: Router<LabRequestContext>) {
        router.post("/api/experiments/compare") { request, context in try await compare(request, context: context) }
        router.get("/api/experiments") { request, _ in try await list(request) }
        router.get("/api/experiments/{id}") { request, context in try await show(try context.parameters.require("id"), request: request) }
        router.post("/api/regression-runs") { request, _ in try await regress(request) }
        router.get("/api/regression-runs") { request, _ in try await runs(request) }
    }

    private func runner(source: String) async throws -> ExperimentRunner {
        _ = try await services.readyRecord()  // experiments live in the record
        let (engine, info, _) = try await services.host.ready()
        return ExperimentRunner(
            engine: QueuedEngine(engine: engine, runner: services.runner), recording: services.recording,
            source: source, concurrency: max(1, min(info.parallel, services.configuration.concurrentGenerations)))
    }

    private func compare(_ request: Request, context: LabRequestContext) async throws -> Response {
        let input = try request.json(CompareRequest.self, from: try await services.body(of: request))
        let questions = input.questions.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard !input.images.isEmpty, !questions.isEmpty, !questions.contains(where: \.isEmpty) else {
            throw LabError.badRequest(code: "invalid_request", message: "give at least one image and one non-empty question")
        }
        guard input.images.count * questions.count <= Self.maxCells else {
            throw LabError.badRequest(
                code: "too_many_cells", message: "at most \(Self.maxCells) cells (images × questions) in one comparison")
        }
        let maxNewTokens = try PredictRequest.checkedTokens(
            input.maxNewTokens ?? 256, name: "max_new_tokens",
            limit: services.configuration.maxNewTokens)
        let temperature = input.temperature ?? 0
        guard (0...2).contains(temperature) else {
            throw LabError.badRequest(code: "invalid_request", message: "temperature must be 0 to 2")
        }
        if let window = input.window {
            do { _ = try WindowChoice(parsing: window) } catch { throw LabError.badRequest(code: "invalid_window", message: "\(error)") }
        }
        var images: [(name: String, files: [ExperimentFile], volume: Bool)] = []
        var windowed: Set<Int> = []
        for (index, image) in input.images.enumerated() {
            let given = image.name.flatMap { $0.isEmpty ? nil : String($0.prefix(200)) }
            switch (image.data, image.recordImage) {
            case (let data?, nil):
                let bytes = try ImagePayload.bytes(from: data, field: "images[\(index)].data")
                let name = given ?? "image \(index + 1)"
                images.append((name, [ExperimentFile(name: name, bytes: Data(bytes))], false))
            case (nil, let hash?):
                let png = try await recordImage(hash, field: "images[\(index)].record_image")
                let name = given ?? "record \(hash.prefix(12))"
                images.append((name, [ExperimentFile(name: name + ".png", bytes: png)], false))
                windowed.insert(index)
            default:
                throw LabError.badRequest(
                    code: "invalid_request", message: "images[\(index)] needs one of `data` (the file) or `record_image` (a SHA-256)")
            }
        }
        let runner = try await runner(source: "compare")
        let params = ExperimentParams(maxNewTokens: maxNewTokens, temperature: temperature)
        guard input.stream == true else {
            let grid = await CompareGrid.run(
                questions: questions, images: images, context: input.context, window: input.window, windowed: windowed,
                params: params, runner: runner)
            return try JSONResponse.make(grid)
        }
        // Cells as they finish, then the whole grid: {"index", "done", "total", "cell"} ... {"done": true, "grid"}.
        // The grid runs as a child of the body writer's task: a client that goes away cancels it.
        let disconnect = await context.disconnectRegistration()
        let runGrid: @Sendable (AsyncStream<String>.Continuation) async throws -> Void = { [images, windowed] continuation in
            let grid = await CompareGrid.run(
                questions: questions, images: images, context: input.context, window: input.window, windowed: windowed,
                params: params, runner: runner
            ) { step in
                let q = step.index / images.count
                let i = step.index % images.count
                let cell = CompareGrid.Cell(
                    question: questions[q], image: images[i].name, answer: step.outcome.answer,
                    analysisID: step.outcome.analysisID, timings: .init(totalMs: step.outcome.totalMs),
                    error: step.outcome.error)
                continuation.yield(Self.frame(CellEvent(index: step.index, done: step.done, total: step.total, cell: cell)))
            }
            continuation.yield(Self.frame(GridEvent(grid: grid)))
        }
        return Response(
            status: .ok, headers: ServerSentEvents.headers,
            body: ResponseBody { writer in
                let (frames, continuation) = AsyncStream<String>.makeStream()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        defer { continuation.finish() }
                        try await withExternalCancellation(register: disconnect) { try await runGrid(continuation) }
                    }
                    for await frame in frames { try await writer.write(ByteBuffer(string: frame)) }
                    group.cancelAll()
                }
                try await writer.finish(nil)
            })
    }

    /// The record's PNG copy of a model input, by its SHA-256 or the image's: never a path on this server.
    private func recordImage(_ hash: String, field: String) async throws -> Data {
        let hash = hash.lowercased()
        guard hash.count == 64, hash.allSatisfy(\.isHexDigit) else {
            throw LabError.badRequest(
                code: "invalid_record_image", message: "`\(field)` must be a SHA-256 (64 hex digits), not \(hash.prefix(80))")
        }
        let record = try await readyRecord()
        guard let png = try RecordController.mapped({ try record.modelInput(sha256: hash) }) else {
            throw LabError.notFound(
                "the record holds no model input for image \(hash) (it keeps one only for analyses made with --record-images model-input)")
        }
        return png
    }

    private struct CellEvent: Encodable {
        var index: Int
        var done: Int
        var total: Int
        var cell: CompareGrid.Cell
    }
    private struct GridEvent: Encodable {
        var grid: CompareGrid
        enum CodingKeys: String, CodingKey { case grid, done }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(grid, forKey: .grid)
            try c.encode(true, forKey: .done)
        }
    }

    private static func frame(_ value: some Encodable) -> String {
        let data = (try? ServerSentEvents.encoder.encode(value)) ?? Data("{}".utf8)
        return "data: " + String(decoding: data, as: UTF8.self) + "\n\n"
    }

    /// One line per saved experiment, newest first.
    struct Summary: Encodable {
        var id: String, kind: String, name: String?, createdAt: String, modelFile: String?, modelSHA256: String?, passRate: Double?
        enum CodingKeys: String, CodingKey {
            case id, kind, name
            case createdAt = "created_at"
            case modelFile = "model_file"
            case modelSHA256 = "model_sha256"
            case passRate = "pass_rate"
        }
        init(_ e: StoredExperiment) {
            id = e.id
            kind = e.kind
            name = e.name
            createdAt = RecordExport.timestamp(e.createdAt)
            modelFile = e.modelFile
            modelSHA256 = e.modelSHA256
            passRate = e.passRate
        }
    }

    private func list(_ request: Request) async throws -> Response {
        let record = try await readyRecord()
        let query = RecordController.formQuery(request)
        let kind = query["kind"] ?? "compare"
        guard ["compare", "regression"].contains(kind) else {
            throw LabError.badRequest(code: "invalid_query", message: "`kind` must be compare or regression")
        }
        let limit = try RecordController.limit(query["limit"])
        let stored = try RecordController.mapped { try record.experiments(kind: kind, name: query["set"], limit: limit) }
        return try JSONResponse.make(["experiments": stored.map(Summary.init)])
    }

    /// One experiment as JSON (default), its self-contained HTML report, or CSV.
    private func show(_ id: String, request: Request) async throws -> Response {
        let record = try await readyRecord()
        guard let stored = try RecordController.mapped({ try record.experiment(id: id) }) else {
            throw LabError.notFound("no experiment \(id.prefix(64)) in the record")
        }
        let format = RecordController.formQuery(request)["format"] ?? "json"
        let decoder = JSONDecoder()
        func text(_ body: String, _ type: String, _ ext: String) -> Response {
            Response(
                status: .ok,
                headers: [.contentType: type, .contentDisposition: "attachment; filename=\"\(stored.kind)-\(id.prefix(12)).\(ext)\""],
                body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        switch (format, stored.kind) {
        case ("json", _):
            return Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: stored.body)))
        case ("html", "compare"):
            return text(ExperimentHTML.grid(try decoder.decode(CompareGrid.self, from: stored.body)), "text/html; charset=utf-8", "html")
        case ("html", _):
            return text(
                ExperimentHTML.regression(try decoder.decode(RegressionReport.self, from: stored.body)), "text/html; charset=utf-8", "html")
        case ("csv", "compare"):
            return text(ExperimentCSV.grid(try decoder.decode(CompareGrid.self, from: stored.body)), "text/csv; charset=utf-8", "csv")
        case ("csv", _):
            return text(
                ExperimentCSV.regression(try decoder.decode(RegressionReport.self, from: stored.body)), "text/csv; charset=utf-8", "csv")
        default: throw LabError.badRequest(code: "invalid_format", message: "`format` must be json, html or csv")
        }
    }

    /// A ZIP of a set file and its images: unpacked to a private folder, checked, run, judged.
    private func regress(_ request: Request) async throws -> Response {
        let body = try await services.body(of: request)
        let folder = try SetArchive.unpack(body, limit: services.configuration.maxBodyBytes * 4)
        defer { try? FileManager.default.removeItem(at: folder) }
        var set: RegressionSet
        do {
            set = try RegressionSet.load(path: try SetArchive.setFile(in: folder))
        } catch var error as SetError {
            error.file = SetArchive.relative(error.file, to: folder)
            throw LabError.badRequest(code: "invalid_set", message: error.description)
        }
        set.file = SetArchive.relative(set.file, to: folder)  // reports name the file as it is in the ZIP
        let runner = try await runner(source: "regress")
        return try JSONResponse.make(await RegressionReport.run(set, runner: runner))
    }

    /// Every run of a set (or of all sets), newest first: pass rate by model checksum for the page's chart.
    private func runs(_ request: Request) async throws -> Response {
        let record = try await readyRecord()
        let query = RecordController.formQuery(request)
        let stored = try RecordController.mapped {
            try record.experiments(kind: "regression", name: query["set"], limit: try RecordController.limit(query["limit"]))
        }
        return try JSONResponse.make(["runs": stored.map(Summary.init)])
    }

    private func readyRecord() async throws -> LabRecord { try await services.readyRecord() }
}
