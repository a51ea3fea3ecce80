import Foundation
import MedLabTestSupport
import Synchronization
import Testing

@testable import MedInference

/// Servers still running: the suite's shared server lives in a static and never reaches `deinit`,
/// so they are killed when the test process exits instead of outliving it.
private let runningServers = Mutex<Set<pid_t>>([])
private let killRunningServersAtExit: Void = {
    atexit { for pid in runningServers.withLock({ $0 }) { kill(pid, SIGKILL) } }
}()

/// A real `llama-server` from the project's llama.cpp build (scripts/setup.sh), on a free
/// loopback port; killed when the test drops it. No mock stands in for a server in these tests.
final class LlamaServerProcess: @unchecked Sendable {
    static let binary: String = {
        // Tests/MedInferenceTests/Remote/ → the package root.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".llama/bin/llama-server").path
    }()

    let port: Int
    private let arguments: [String]
    private var process: Process?

    var url: URL { URL(string: "http://127.0.0.1:\(port)")! }

    /// Starts the server and waits until `/health` says ok.
    init(model: String, projector: String?, slots: Int = 1, contextTokens: Int = 4096, port: Int? = nil) async throws {
        try TestModels.require(Self.binary)
        self.port = try port ?? Self.freePort()
        var arguments = [
            "-m", model, "--host", "127.0.0.1", "--port", String(self.port), "-np", String(slots),
            "-c", String(contextTokens * slots), "-t", "2", "--no-webui",
            // Print special tokens (MedGemma's reasoning markers are special tokens), as docs/deploy.md says.
            "--special"
        ]
        if let projector { arguments += ["--mmproj", projector] }
        self.arguments = arguments
        try await start()
    }

    /// Starts (or restarts, after `kill`) the process on the same port.
    func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        _ = killRunningServersAtExit
        try process.run()
        runningServers.withLock { _ = $0.insert(process.processIdentifier) }
        self.process = process
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if await isHealthy() { return }
            guard process.isRunning else { throw InferenceError.unavailable("llama-server exited with \(process.terminationStatus)") }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw InferenceError.unavailable("llama-server on port \(port) did not become healthy")
    }

    /// SIGKILL: the server vanishes mid-answer, as a crashed or preempted node would.
    func kill() {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        runningServers.withLock { _ = $0.remove(process.processIdentifier) }
    }

    func isHealthy() async -> Bool {
        guard let (status, _) = await RemoteHTTP.getJSON(url.absoluteString + "/health", apiKey: nil, timeout: .seconds(1)) else {
            return false
        }
        return status == 200
    }

    /// Slots decoding now, from llama-server's `/slots`.
    func busySlots() async -> Int? {
        guard let (_, object) = await RemoteHTTP.getJSON(url.absoluteString + "/slots", apiKey: nil, timeout: .seconds(2)),
            let slots = object as? [[String: Any]], slots.allSatisfy({ $0["is_processing"] is Bool })
        else { return nil }
        return slots.filter { ($0["is_processing"] as? Bool) == true }.count
    }

    deinit { kill() }

    /// A port nothing listens on now (the kernel picks it; the socket is closed again at once).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw InferenceError.unavailable("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
