import Foundation

/// How to load a model: context size, GPU offload, threads.
public struct EngineOptions: Sendable, Equatable {
    /// Context in tokens; 8192 holds a few images and a long answer (an 85-slice volume needs ~24K).
    public var contextTokens: Int
    /// Layers to offload when a GPU backend is present; `nil` offloads all of them.
    public var gpuLayers: Int?
    /// CPU threads; `nil` uses every core.
    public var threads: Int?

    public init(contextTokens: Int = 8192, gpuLayers: Int? = nil, threads: Int? = nil) {
        self.contextTokens = contextTokens
        self.gpuLayers = gpuLayers
        self.threads = threads
    }
}

/// Runs actor jobs on one dedicated thread, so blocking llama.cpp calls never occupy the
/// cooperative pool that serves HTTP requests.
final class DedicatedThreadExecutor: SerialExecutor {
    private let queue: DispatchQueue

    init(label: String) { queue = DispatchQueue(label: label, qos: .userInitiated) }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedSerialExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor { UnownedSerialExecutor(ordinary: self) }
}
