import Foundation
import Hummingbird
import Logging
import MedInference
import MedLabRecord

/// Builds the lab's HTTP application around an engine host.
///
/// `medlab serve` and the tests build the very same app; tests pass a host with a real engine on
/// the small test models and drive it through HummingbirdTesting.
///
/// Pass the `queue` when something else must reach it too: `medlab serve` gives the same queue to
/// a `ShutdownDrain` that runs beside the app.
public func buildApplication(
    host: EngineHost, configuration: LabServerConfiguration, metrics: LabMetrics = LabMetrics(),
    queue: GenerationQueue? = nil, recording: RecordSession = .off,
    logger: Logger? = nil
) throws -> some ApplicationProtocol {
    try configuration.validate()
    let logger = logger ?? Logger(label: "medlab.server")
    let queue = queue ?? GenerationQueue(configuration: configuration, metrics: metrics)
    let services = LabServices(
        host: host, runner: GenerationRunner(host: host, queue: queue, metrics: metrics, timeout: configuration.requestTimeout),
        images: ImagePreparer(maxPixels: configuration.maxImagePixels), decoding: DecodeExecutor(), metrics: metrics,
        configuration: configuration,
        recording: recording, studies: StudyCache(capacity: configuration.studyCacheBytes))
    let router = buildRouter(services: services)
    return Application(
        router: router,
        server: .http1(configuration: .init(additionalChannelHandlers: [ClientDisconnectWatcher()])),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "medlab"),
        onServerRunning: { channel in
            logger.info(
                "listening",
                metadata: [
                    "address": "\(channel.localAddress?.description ?? configuration.host)",
                    "port": "\(channel.localAddress?.port ?? configuration.port)"
                ])
        },
        logger: logger)
}

/// The routes, outermost middleware first: metrics see every answer, errors become one JSON shape,
/// the key is checked before any body is read.
func buildRouter(services: LabServices) -> Router<LabRequestContext> {
    let router = Router(context: LabRequestContext.self)
    router.add(middleware: MetricsMiddleware(metrics: services.metrics))
    router.add(middleware: RequestLogMiddleware())
    router.add(middleware: ErrorMiddleware())
    if let origin = services.configuration.corsOrigin {
        router.add(
            middleware: CORSMiddleware(
                allowOrigin: .custom(origin), allowHeaders: [.authorization, .contentType, RecordHeaders.client],
                allowMethods: [.get, .post, .delete, .options],
                exposedHeaders: [RecordHeaders.analysisID.rawName]))
    }
    if let root = WebPage.locate() {
        router.add(middleware: WebPageMiddleware(root: root))
    }
    if let key = services.configuration.apiKey, !key.isEmpty {
        router.add(middleware: APIKeyMiddleware(key: key))
    }
    HealthController(services: services).addRoutes(to: router)
    PredictController(services: services).addRoutes(to: router)
    RenderController(services: services).addRoutes(to: router)
    StudiesController(services: services).addRoutes(to: router)
    ChatCompletionsController(services: services).addRoutes(to: router)
    RecordController(services: services).addRoutes(to: router)
    ExperimentController(services: services).addRoutes(to: router)
    router.get("/metrics") { _, _ in
        services.metrics.studyCache(services.studies.usage)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: services.metrics.exposition())))
    }
    router.get("/openapi.json") { _, _ in
        Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(
                byteBuffer: ByteBuffer(
                    string: OpenAPIDocument.json(version: services.configuration.version, maxNewTokens: services.configuration.maxNewTokens)
                )))
    }
    return router
}

/// Logs one line per request: route pattern, status, duration — never the body or query string.
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        context.logger.info(
            "request",
            metadata: [
                "method": .string(request.method.rawValue), "route": .string(context.endpointPath ?? "unmatched"),
                "status": .stringConvertible(response.status.code),
                "ms": .stringConvertible((start.duration(to: .now).milliseconds * 10).rounded() / 10)
            ])
        return response
    }
}
