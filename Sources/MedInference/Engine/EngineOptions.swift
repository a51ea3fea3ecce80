import Foundation

/// How to load a model: context size, GPU offload, threads.
public struct EngineOptions: Sendable, Equatable {
    /// Context in tokens; 8192 holds a few images and a long answer (an 85-slice volume needs ~24K).
    public var contextTokens: Int
    /// Layers to offload when a GPU backend is present; `nil` offloads all of them.
    public var gpuLayers: Int?
    /// CPU threads; `nil` uses one per physical core (`CPUCores.physical`).
    public var threads: Int?
    /// Requests decoded together (each gets its own `contextTokens` of KV cache).
    public var parallel: Int
    /// One KV buffer shared by the parallel requests instead of one each. `nil`: shared on a GPU,
    /// where it halves the time of a batched decode step, and separate on a CPU, where other
    /// requests then change an answer least (the batch's size still moves ggml's arithmetic a
    /// little, enough to flip a near-tie greedy token of a random model).
    public var sharedCache: Bool?

    public init(
        contextTokens: Int = 8192, gpuLayers: Int? = nil, threads: Int? = nil, parallel: Int = 1,
        sharedCache: Bool? = nil
    ) {
        self.contextTokens = contextTokens
        self.gpuLayers = gpuLayers
        self.threads = threads
        self.parallel = parallel
        self.sharedCache = sharedCache
    }
}
