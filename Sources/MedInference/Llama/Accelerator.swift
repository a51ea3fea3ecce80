extension LlamaEngine {
    /// The GPU plug-in llama.cpp found in this process (`cuda`, ...), or nil on a CPU-only machine:
    /// what a command may consult before loading, to size its defaults.
    public static var accelerator: String? {
        let devices = LlamaBackend.devices
        return devices.hasGPU ? devices.backend : nil
    }
}
