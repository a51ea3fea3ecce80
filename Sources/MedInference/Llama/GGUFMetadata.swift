internal import CLlama
import Foundation

/// The few GGUF header keys that tell a text model from a projector, read without loading tensors.
public struct GGUFMetadata: Sendable, Equatable {
    /// `general.architecture`: `gemma3` for the text model, `clip` for a projector.
    public var architecture: String
    public var name: String?
    /// Text model width (`<arch>.embedding_length`).
    public var embeddingLength: Int?
    /// Transformer layers (`<arch>.block_count`).
    public var blockCount: Int?
    /// `clip.projector_type`, e.g. `gemma3`.
    public var projectorType: String?
    public var hasVisionEncoder: Bool
    public var imageSize: Int?
    public var patchSize: Int?
    /// `general.file_type` as llama.cpp names it (Q4_K_M, F16, ...), when present.
    public var fileType: String?

    public var isProjector: Bool { architecture == "clip" }

    /// Reads the header of a GGUF file; typed errors for a missing or foreign file.
    public static func read(path: String) throws -> GGUFMetadata {
        guard FileManager.default.fileExists(atPath: path) else {
            throw InferenceError.modelMissing(path: path, hint: ModelFiles.downloadHint)
        }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw InferenceError.notGGUF(path: path) }
        let magic = (try? handle.read(upToCount: 4)) ?? Data()
        try? handle.close()
        guard magic == Data("GGUF".utf8) else { throw InferenceError.notGGUF(path: path) }
        let params = gguf_init_params(no_alloc: true, ctx: nil)
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        guard let context = gguf_init_from_file(path, params) else {
            throw InferenceError.truncatedGGUF(path: path, detail: "its header cannot be read; the file has \(size) bytes")
        }
        defer { gguf_free(context) }
        // Checked here, not left to llama.cpp: its message names one tensor, ours the bytes missing.
        let dataEnd = Self.tensorDataEnd(context)
        if size < dataEnd {
            throw InferenceError.truncatedGGUF(path: path, detail: "the file has \(size) bytes, its tensors end at \(dataEnd)")
        }

        func key(_ name: String) -> Int64? {
            let id = gguf_find_key(context, name)
            return id >= 0 ? id : nil
        }
        func string(_ name: String) -> String? {
            guard let id = key(name), gguf_get_kv_type(context, id) == GGUF_TYPE_STRING else { return nil }
            return String(cString: gguf_get_val_str(context, id))
        }
        func integer(_ name: String) -> Int? {
            guard let id = key(name) else { return nil }
            switch gguf_get_kv_type(context, id) {
            case GGUF_TYPE_UINT32: return Int(gguf_get_val_u32(context, id))
            case GGUF_TYPE_INT32: return Int(gguf_get_val_i32(context, id))
            case GGUF_TYPE_UINT64: return Int(gguf_get_val_u64(context, id))
            case GGUF_TYPE_INT64: return Int(gguf_get_val_i64(context, id))
            default: return nil
            }
        }
        func bool(_ name: String) -> Bool? {
            guard let id = key(name), gguf_get_kv_type(context, id) == GGUF_TYPE_BOOL else { return nil }
            return gguf_get_val_bool(context, id)
        }
        let architecture = string("general.architecture") ?? "unknown"
        return GGUFMetadata(
            architecture: architecture,
            name: string("general.name"),
            embeddingLength: integer("\(architecture).embedding_length"),
            blockCount: integer("\(architecture).block_count"),
            projectorType: string("clip.projector_type") ?? string("clip.vision.projector_type"),
            hasVisionEncoder: bool("clip.has_vision_encoder") ?? false,
            imageSize: integer("clip.vision.image_size"),
            patchSize: integer("clip.vision.patch_size"),
            fileType: integer("general.file_type").map(Self.fileTypeName)
        )
    }

    /// The byte offset just past the last tensor's data, as the header lays the tensors out.
    private static func tensorDataEnd(_ context: OpaquePointer) -> Int {
        let base = gguf_get_data_offset(context)
        var end = base
        for index in 0..<gguf_get_n_tensors(context) {
            end = max(end, base + gguf_get_tensor_offset(context, index) + gguf_get_tensor_size(context, index))
        }
        return end
    }

    /// llama.cpp's `llama_ftype` numbers for the types MedGemma ships in.
    private static func fileTypeName(_ value: Int) -> String {
        switch value {
        case 0: "F32"
        case 1: "F16"
        case 7: "Q8_0"
        case 15: "Q4_K_M"
        case 14: "Q4_K_S"
        case 17: "Q5_K_M"
        case 18: "Q6_K"
        case 32: "BF16"
        default: "type \(value)"
        }
    }
}
