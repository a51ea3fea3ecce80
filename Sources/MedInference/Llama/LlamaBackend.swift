internal import CLlama
import Foundation
import Synchronization

/// Process-wide llama.cpp set-up: logging, compute plug-ins, the devices they found.
enum LlamaBackend {
    /// The backend plug-ins and devices found at start-up.
    struct Devices: Sendable {
        /// `cpu` when no accelerator was found, otherwise the GPU plug-in's name (`cuda`, ...).
        var backend: String
        var names: [String]
        var hasGPU: Bool
        var pluginDirectory: String?
    }

    /// Loads the compute plug-ins once and reports what they found.
    static let devices: Devices = initialise()

    private static func initialise() -> Devices {
        let callback: ggml_log_callback = { level, text, _ in
            guard let text else { return }
            LlamaLog.record(level: level.rawValue, text: String(cString: text))
        }
        llama_log_set(callback, nil)
        mtmd_helper_log_set(callback, nil)
        let directory = pluginDirectory()
        if let directory {
            ggml_backend_load_all_from_path(directory)
        } else {
            ggml_backend_load_all()
        }
        llama_backend_init()
        var names: [String] = []
        var gpuBackend: String?
        for index in 0..<ggml_backend_dev_count() {
            guard let device = ggml_backend_dev_get(index) else { continue }
            let name = String(cString: ggml_backend_dev_name(device))
            let description = String(cString: ggml_backend_dev_description(device))
            names.append(description.isEmpty ? name : "\(name): \(description)")
            let type = ggml_backend_dev_type(device)
            if gpuBackend == nil, type == GGML_BACKEND_DEVICE_TYPE_GPU || type == GGML_BACKEND_DEVICE_TYPE_IGPU,
                let reg = ggml_backend_dev_backend_reg(device)
            {
                gpuBackend = String(cString: ggml_backend_reg_name(reg)).lowercased()
            }
        }
        return Devices(backend: gpuBackend ?? "cpu", names: names, hasGPU: gpuBackend != nil, pluginDirectory: directory)
    }

    /// Where the `libggml-<backend>.so` plug-ins live.
    ///
    /// llama.cpp's own search looks only beside the executable and in the working directory, so we
    /// look first where `MEDLAB_BACKEND_DIR` points, then beside the loaded libggml and in `../bin`.
    private static func pluginDirectory() -> String? {
        var candidates: [String] = []
        if let explicit = ProcessInfo.processInfo.environment["MEDLAB_BACKEND_DIR"] { candidates.append(explicit) }
        if let file = medlab_ggml_library_path() {
            let libDir = URL(fileURLWithPath: String(cString: file)).resolvingSymlinksInPath().deletingLastPathComponent()
            candidates.append(libDir.path)
            candidates.append(libDir.deletingLastPathComponent().appendingPathComponent("bin").path)
        }
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path)
        let fileManager = FileManager.default
        return candidates.first { directory in
            let files = (try? fileManager.contentsOfDirectory(atPath: directory)) ?? []
            return files.contains { $0.hasPrefix("libggml-") && $0.hasSuffix(".so") && $0 != "libggml-base.so" }
        }
    }

    /// The llama.cpp build scripts/setup.sh pins (the source tree carries no git data to ask).
    static let buildDescription = "llama.cpp b11312 (0c1e57098)"
}

/// Keeps llama.cpp's recent log lines: its error messages explain failed loads.
enum LlamaLog {
    private static let lines = Mutex<[String]>([])
    private static let verbose = ProcessInfo.processInfo.environment["MEDLAB_LLAMA_LOG"] != nil

    static func record(level: UInt32, text: String) {
        if verbose { FileHandle.standardError.write(Data(text.utf8)) }
        lines.withLock { lines in
            lines.append(text)
            if lines.count > 200 { lines.removeFirst(lines.count - 200) }
        }
    }

    /// Forgets earlier lines, so `recentErrors()` speaks of what happens next.
    static func reset() { lines.withLock { $0.removeAll() } }

    /// The error-looking lines logged since the last `reset()`, joined into one message.
    static func recentErrors() -> String {
        let all = lines.withLock { $0 }.joined().split(separator: "\n").map(String.init)
        let errors = all.filter {
            $0.localizedCaseInsensitiveContains("error") || $0.contains("mismatch")
                || $0.localizedCaseInsensitiveContains("failed") || $0.localizedCaseInsensitiveContains("invalid")
        }
        return (errors.isEmpty ? Array(all.suffix(3)) : Array(errors.suffix(4))).joined(separator: "; ")
    }
}
