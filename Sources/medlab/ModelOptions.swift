import ArgumentParser
import MedInference

/// Which model files to load and how; shared by every command that runs the model.
struct ModelOptions: ParsableArguments {
    @Option(help: "Text model GGUF (default: MEDLAB_MODEL, else the first *.gguf in ~/.cache/medlab/models).")
    var model: String?

    @Option(help: "Vision projector mmproj GGUF (default: MEDLAB_MMPROJ, else mmproj*.gguf next to the model).")
    var mmproj: String?

    @Flag(help: "Use the small demo model prepared by scripts/setup.sh (Gemma 3 270M + random projector; its answers mean nothing).")
    var demo = false

    @Option(help: "Context size in tokens.")
    var ctx = 8192

    @Option(name: .customLong("gpu-layers"), help: "Layers to offload when a GPU backend is found (default: all).")
    var gpuLayers: Int?

    @Option(help: "CPU threads (default: all cores).")
    var threads: Int?

    @Option(help: "Requests decoded together, each with its own --ctx of KV cache (raise it on a GPU for many users).")
    var parallel = 1

    /// The files to load, demo only when asked for.
    func files() throws -> ModelFiles {
        if demo {
            guard let files = ModelFiles.demo() else {
                throw ValidationError("the demo model is not prepared: run scripts/setup.sh first")
            }
            return files
        }
        return try ModelFiles.resolve(model: model, projector: mmproj, allowDemo: false)
    }

    var engineOptions: EngineOptions { EngineOptions(contextTokens: ctx, gpuLayers: gpuLayers, threads: threads, parallel: parallel) }
}
