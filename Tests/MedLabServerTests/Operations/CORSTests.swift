import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MedLabTestSupport
import Testing

@testable import MedLabServer

/// Browsers from elsewhere are refused unless `--cors ORIGIN` names theirs.
@Suite struct CORSTests {
    private static let preflight: HTTPFields = [
        .origin: "https://elsewhere.example", .accessControlRequestMethod: "POST",
        .accessControlRequestHeaders: "content-type"
    ]

    @Test func corsIsOffByDefault() async throws {
        try await withLab(nil, status: .noModel) { client in
            let health = try await client.execute(
                uri: "/api/health", method: .get, headers: [.origin: "https://elsewhere.example"])
            #expect(health.headers[.accessControlAllowOrigin] == nil)
            let options = try await client.execute(uri: "/api/predict", method: .options, headers: Self.preflight)
            #expect(options.headers[.accessControlAllowOrigin] == nil)
            #expect(options.headers[.accessControlAllowMethods] == nil)
        }
    }

    @Test func corsNamesOnlyTheConfiguredOrigin() async throws {
        let configuration = LabServerConfiguration(corsOrigin: "https://lab.example")
        try await withLab(nil, status: .noModel, configuration: configuration) { client in
            var headers = Self.preflight
            headers[.origin] = "https://lab.example"
            let allowed = try await client.execute(uri: "/api/predict", method: .options, headers: headers)
            #expect(allowed.status == .noContent)
            #expect(allowed.headers[.accessControlAllowOrigin] == "https://lab.example")
            #expect(allowed.headers[.accessControlAllowMethods]?.contains("POST") == true)
            // Another origin is answered with the configured one, never its own or `*`: its browser refuses.
            let other = try await client.execute(uri: "/api/predict", method: .options, headers: Self.preflight)
            #expect(other.headers[.accessControlAllowOrigin] == "https://lab.example")
        }
    }
}
