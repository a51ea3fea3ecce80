import Foundation
import Hummingbird
import HummingbirdTesting
import MedInference
import MedLabTestSupport
import Testing

@testable import MedLabServer

/// Health, the API key, metrics, the OpenAPI document, the queue bound and the timeout.
@Suite(.serialized) struct OperationsTests {
    @Test func healthReportsTheLoadedModel() async throws {
        let engine = try await SharedEngines.shared.gemma()
        try await withLab(engine, demo: true) { client in
            let response = try await client.execute(uri: "/api/health", method: .get)
            #expect(response.status == .ok)
            let body = response.json
            #expect(body["status"] as? String == "ok")
            #expect(body["ready"] as? Bool == true)
            #expect(body["backend"] as? String == "cpu")
            #expect(body["gpu_layers"] as? Int == 0)
            #expect((body["message"] as? String)?.contains("demo model") == true)
            let model = try #require(body["model"] as? [String: Any])
            #expect(model["name"] as? String == "gemma-3-270m-q4_k_m.gguf")
            #expect(model["demo"] as? Bool == true)
            #expect(model["tokens_per_image"] as? Int == 4)
            let queue = try #require(body["queue"] as? [String: Any])
            #expect(queue["running"] as? Int == 0)
            #expect(queue["max_waiting"] as? Int == 8)
        }
    }

    @Test func apiKeyIsRequiredWhenSet() async throws {
        let engine = try await SharedEngines.shared.tiny()
        try await withLab(engine, configuration: LabServerConfiguration(apiKey: "s3cret-key")) { client in
            let value1 = try await client.execute(uri: "/api/health", method: .get).status
            #expect(value1 == .ok)
            let none = try await client.postJSON("/api/predict", ["question": "q", "max_new_tokens": 2])
            #expect(none.status == .unauthorized)
            #expect(none.errorCode == "unauthorized")
            let wrong = try await client.postJSON(
                "/api/predict", ["question": "q", "max_new_tokens": 2],
                headers: [.authorization: "Bearer s3cret-kex"])
            #expect(wrong.status == .unauthorized)
            let value2 = try await client.execute(uri: "/v1/models", method: .get).status
            #expect(value2 == .unauthorized)
            let right = try await client.postJSON(
                "/api/predict", ["question": "q", "max_new_tokens": 2],
                headers: [.authorization: "Bearer s3cret-key"])
            #expect(right.status == .ok)
        }
    }

    @Test func bindingBeyondLoopbackNeedsAKey() throws {
        #expect(throws: LabError.self) { try LabServerConfiguration(host: "0.0.0.0").validate() }
        #expect(throws: LabError.self) { try LabServerConfiguration(host: "0.0.0.0", apiKey: "").validate() }
        try LabServerConfiguration(host: "0.0.0.0", apiKey: "k").validate()
        try LabServerConfiguration(host: "127.0.0.1").validate()
        try LabServerConfiguration(host: "::1").validate()
    }

    @Test func metricsCountRequestsTokensAndTimings() async throws {
        let engine = try await SharedEngines.shared.gemma()
        let metrics = LabMetrics()
        try await withLab(engine, metrics: metrics) { client in
            let answer = try await client.postJSON("/api/predict", ["image": TestImages.dataURL(), "question": "q", "max_new_tokens": 4])
            #expect(answer.status == .ok)
            _ = try await client.postJSON("/api/predict", ["question": ""])
            let generated = (answer.json["usage"] as? [String: Any])?["completion_tokens"] as? Int ?? -1
            let text = try await client.execute(uri: "/metrics", method: .get).text
            #expect(text.contains(#"medlab_http_requests_total{route="/api/predict",method="POST",status="200"} 1"#))
            #expect(text.contains(#"medlab_http_requests_total{route="/api/predict",method="POST",status="400"} 1"#))
            #expect(text.contains("medlab_generated_tokens_total \(generated)"))
            #expect(text.contains("medlab_image_encode_seconds_count 1"))
            #expect(text.contains("medlab_decode_seconds_bucket"))
            #expect(text.contains("medlab_queue_waiting 0"))
            #expect(text.contains("medlab_http_request_duration_seconds_count{route=\"/api/predict\",method=\"POST\"} 2"))
        }
    }

    @Test func openAPIDocumentDescribesEveryRouteAndRealResponses() async throws {
        let engine = try await SharedEngines.shared.tiny()
        try await withLab(engine) { client in
            let doc = try await client.execute(uri: "/openapi.json", method: .get).json
            #expect(doc["openapi"] as? String == "3.0.3")
            let paths = try #require(doc["paths"] as? [String: Any])
            for path in ["/api/health", "/api/predict", "/api/render", "/v1/chat/completions", "/v1/models", "/metrics"] {
                #expect(paths[path] != nil, "missing \(path)")
            }
            let schemas = try #require((doc["components"] as? [String: Any])?["schemas"] as? [String: [String: Any]])
            func required(_ name: String) -> [String] { schemas[name]?["required"] as? [String] ?? [] }
            // Each real answer carries every field its schema calls required.
            let predict = try await client.postJSON("/api/predict", ["question": "q", "max_new_tokens": 2]).json
            #expect(Set(required("PredictResponse")).isSubset(of: predict.keys))
            let health = try await client.execute(uri: "/api/health", method: .get).json
            #expect(Set(required("Health")).isSubset(of: health.keys))
            let chat = try await client.postJSON("/v1/chat/completions", ["messages": [["role": "user", "content": "q"]], "max_tokens": 2])
                .json
            #expect(Set(required("ChatCompletion")).isSubset(of: chat.keys))
            let error = try await client.postJSON("/api/predict", ["question": ""]).json
            #expect(Set(required("Error")).isSubset(of: error.keys))
            let models = try await client.execute(uri: "/v1/models", method: .get).json
            #expect(Set(required("ModelList")).isSubset(of: models.keys))
        }
    }

    @Test func aFullQueueAnswers429WithRetryAfter() async throws {
        let engine = try await SharedEngines.shared.gemma()
        let config = LabServerConfiguration(concurrentGenerations: 1, maxQueuedRequests: 0)
        try await withLab(engine, configuration: config) { client in
            async let long = client.postJSON(
                "/api/predict", ["question": "Tell a long story about a hospital.", "max_new_tokens": 200, "system": ""])
            // Wait until the long request holds the engine.
            for _ in 0..<200 {
                let queue = try await client.execute(uri: "/api/health", method: .get).json["queue"] as? [String: Any]
                if queue?["running"] as? Int == 1 { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            let refused = try await client.postJSON("/api/predict", ["question": "q", "max_new_tokens": 2])
            #expect(refused.status == .tooManyRequests)
            #expect(refused.errorCode == "queue_full")
            #expect(Int(refused.headers[.retryAfter] ?? "") ?? 0 >= 1)
            let value3 = try await long.status
            #expect(value3 == .ok)
        }
    }

    @Test func slowRequestsTimeOutWith504() async throws {
        let engine = try await SharedEngines.shared.gemma()
        let metrics = LabMetrics()
        try await withLab(engine, configuration: LabServerConfiguration(requestTimeout: 0.3), metrics: metrics) { client in
            let start = ContinuousClock.now
            let response = try await client.postJSON(
                "/api/predict", ["question": "Tell a long story.", "max_new_tokens": 4000, "system": ""])
            #expect(response.status == .gatewayTimeout)
            #expect(response.errorCode == "timeout")
            #expect(start.duration(to: .now) < .seconds(5))
            // The engine was stopped, not left running: the next request is served at once.
            let next = try await client.execute(uri: "/api/health", method: .get).json["queue"] as? [String: Any]
            #expect(next?["running"] as? Int == 0)
            #expect(metrics.exposition().contains("medlab_request_timeouts_total 1"))
        }
    }
}
