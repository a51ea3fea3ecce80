internal import CLlama
import Foundation

/// Gemma 3's token embedding table, read row by row from the model's GGUF file and dequantized as
/// llama.cpp's own lookup does. A llama.cpp batch holds either tokens or embeddings, so a decode
/// step that carries an image's embeddings must give the running streams' tokens as embeddings
/// too; the rows come out scaled by √width, as Gemma's graph scales token input (and not
/// embedding input), so a stream computes the same whichever way its token arrives.
final class TokenEmbeddings: @unchecked Sendable {
    /// Floats per row: the model's input width.
    let width: Int
    private let rows: Int
    private let descriptor: Int32
    /// Where row 0 starts in the file, and the bytes of one row.
    private let start: Int
    private let rowBytes: Int
    private let type: ggml_type
    private let scale: Float
    /// One row's bytes, reused: only the scheduler thread reads rows.
    private var buffer: [UInt8]

    /// The table of the GGUF file at `path` (a single-file model), or nil where it cannot be read
    /// or its type has no dequantizer: the caller then feeds prompts the way it did before.
    init?(path: String, width: Int) {
        let params = gguf_init_params(no_alloc: true, ctx: nil)
        guard let context = gguf_init_from_file(path, params) else { return nil }
        defer { gguf_free(context) }
        let id = gguf_find_tensor(context, "token_embd.weight")
        guard id >= 0, width > 0 else { return nil }
        type = gguf_get_tensor_type(context, id)
        rowBytes = ggml_row_size(type, Int64(width))
        let size = gguf_get_tensor_size(context, id)
        guard rowBytes > 0, size % rowBytes == 0 else { return nil }
        guard type == GGML_TYPE_F32 || ggml_get_type_traits(type)?.pointee.to_float != nil else { return nil }
        rows = size / rowBytes
        start = gguf_get_data_offset(context) + gguf_get_tensor_offset(context, id)
        descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return nil }
        self.width = width
        // As llama.cpp's Gemma 3 graph computes it: sqrtf of the width as a float.
        scale = Float(width).squareRoot()
        buffer = [UInt8](repeating: 0, count: rowBytes)
    }

    deinit { close(descriptor) }

    /// Writes the scaled embedding of `token` to `output` (`width` floats).
    func write(_ token: llama_token, to output: UnsafeMutablePointer<Float>) throws {
        guard token >= 0, Int(token) < rows else { throw InferenceError.generationFailed("token \(token) is outside the vocabulary") }
        let offset = start + Int(token) * rowBytes
        let read = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, rowBytes, off_t(offset)) }
        guard read == rowBytes else { throw InferenceError.generationFailed("could not read the embedding of token \(token)") }
        buffer.withUnsafeBytes { bytes in
            if type == GGML_TYPE_F32 {
                output.update(from: bytes.baseAddress!.assumingMemoryBound(to: Float.self), count: width)
            } else {
                ggml_get_type_traits(type)!.pointee.to_float(bytes.baseAddress, output, Int64(width))
            }
        }
        for index in 0..<width { output[index] *= scale }
    }
}
