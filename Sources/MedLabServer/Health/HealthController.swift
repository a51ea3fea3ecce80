import Foundation
import Hummingbird
import MedInference
import MedLabRecord

/// `GET /api/health`: load state, model, backend and queue; answers while the model is loading.
/// With a pool of engines (`medlab serve --backend`), also each engine's state, load and latency.
struct HealthController {
    let services: LabServices

    struct Health: Encodable {
        struct Model: Encodable {
            var name: String
            var projector: String?
            /// Whether image questions can be answered (a projector here, or a backend that sees images).
            var vision: Bool
            var demo: Bool
            var contextTokens: Int
            var imageSize: Int?
            var tokensPerImage: Int?
            var devices: [String]
            var llamaBuild: String?
            enum CodingKeys: String, CodingKey {
                case name, projector, vision, demo, devices
                case contextTokens = "context_tokens"
                case imageSize = "image_size"
                case tokensPerImage = "tokens_per_image"
                case llamaBuild = "llama_build"
            }
        }

        struct Queue: Encodable {
            var running: Int
            var waiting: Int
            var slots: Int
            var maxWaiting: Int
            enum CodingKeys: String, CodingKey {
                case running, waiting, slots
                case maxWaiting = "max_waiting"
            }
        }

        var status: String
        var ready: Bool
        var message: String?
        var model: Model?
        var backend: String?
        var gpuLayers: Int
        var queue: Queue
        var version: String
        var disclaimer: String
        /// Present only when the engine is a pool.
        var backends: [BackendStatus]?
        /// Whether analyses are kept: `ok`, `degraded` (writes failing) or `off`.
        var record: RecordSession.Health

        enum CodingKeys: String, CodingKey {
            case status, ready, message, model, backend, queue, version, disclaimer, backends, record
            case gpuLayers = "gpu_layers"
        }
    }

    func addRoutes(to router: Router<LabRequestContext>) {
        router.get("/api/health") { _, _ in try JSONResponse.make(await health()) }
    }

    func health() async -> Health {
        let host = services.host
        let status = await host.status
        let info = await host.info
        let isDemo = await host.isDemo
        var message = await host.message
        if isDemo { message = LabPrompt.demoNotice }
        let backends = await host.engine?.backendStatuses
        // A pool whose every engine is down cannot answer: not ready, and say why.
        let poolDown = backends.map { !$0.isEmpty && $0.allSatisfy { $0.state == .down } } ?? false
        if poolDown, message == nil { message = "no inference backend is up; requests answer 503 until one passes a health check" }
        let depth = services.runner.queue.depth
        let capacity = services.runner.queue.capacity
        return Health(
            status: status.rawValue, ready: status == .ok && !poolDown, message: message,
            model: info.map {
                Health.Model(
                    name: $0.model, projector: $0.projector, vision: $0.vision, demo: isDemo, contextTokens: $0.contextTokens,
                    imageSize: $0.imageSize, tokensPerImage: $0.tokensPerImage, devices: $0.devices, llamaBuild: $0.llamaBuild)
            },
            backend: info?.backend, gpuLayers: info?.gpuLayers ?? 0,
            queue: .init(running: depth.running, waiting: depth.waiting, slots: capacity.slots, maxWaiting: capacity.maxWaiting),
            version: services.configuration.version, disclaimer: Disclaimer.english, backends: backends,
            record: services.recording.health)
    }
}
