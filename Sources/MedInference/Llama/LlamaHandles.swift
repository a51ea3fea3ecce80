internal import CLlama
import Foundation
import Synchronization

/// An owned `llama_model *`, freed with the wrapper.
final class LlamaModel: @unchecked Sendable {
    let pointer: OpaquePointer
    let vocab: OpaquePointer

    /// Loads a text model; `gpuLayers` layers go to the GPU when one was found.
    init(path: String, gpuLayers: Int) throws {
        var params = llama_model_default_params()
        params.n_gpu_layers = Int32(gpuLayers)
        LlamaLog.reset()
        guard let model = llama_model_load_from_file(path, params) else {
            throw InferenceError.loadFailed(LlamaLog.recentErrors())
        }
        pointer = model
        vocab = llama_model_get_vocab(model)
    }

    deinit { llama_model_free(pointer) }

    var embeddingWidth: Int { Int(llama_model_n_embd(pointer)) }
    /// Width of the input embeddings an image chunk feeds in (what the projector outputs).
    var inputEmbeddingWidth: Int { Int(llama_model_n_embd_inp(pointer)) }
    /// The sliding-window attention span (Gemma 3: 1024), 0 without sliding layers.
    var slidingWindow: Int { Int(llama_model_n_swa(pointer)) }
    var vocabularySize: Int { Int(llama_vocab_n_tokens(vocab)) }
    /// Built by the first constrained request, on the scheduler thread (samplers only read it).
    lazy var grammarPrefilter = GrammarPrefilter(model: self)
    var trainedContext: Int { Int(llama_model_n_ctx_train(pointer)) }

    func isEndOfGeneration(_ token: llama_token) -> Bool { llama_vocab_is_eog(vocab, token) }

    /// The bytes of one token; control tokens (such as `<unused94>`) are rendered as their text.
    func bytes(of token: llama_token) -> [UInt8] {
        var buffer = [CChar](repeating: 0, count: 64)
        var count = llama_token_to_piece(vocab, token, &buffer, Int32(buffer.count), 0, true)
        if count < 0 {
            buffer = [CChar](repeating: 0, count: Int(-count))
            count = llama_token_to_piece(vocab, token, &buffer, Int32(buffer.count), 0, true)
        }
        return buffer.prefix(Int(max(count, 0))).map { UInt8(bitPattern: $0) }
    }

    /// Tokens of a text; `special` parses control tokens, `addBOS` lets the vocabulary add `<bos>`.
    func tokenize(_ text: String, addBOS: Bool, special: Bool) -> [llama_token] {
        let utf8 = Array(text.utf8CString)
        var tokens = [llama_token](repeating: 0, count: text.utf8.count + 8)
        var count = llama_tokenize(vocab, utf8, Int32(text.utf8.count), &tokens, Int32(tokens.count), addBOS, special)
        if count < 0 {
            tokens = [llama_token](repeating: 0, count: Int(-count))
            count = llama_tokenize(vocab, utf8, Int32(text.utf8.count), &tokens, Int32(tokens.count), addBOS, special)
        }
        return Array(tokens.prefix(Int(max(count, 0))))
    }
}

/// A cancellation flag shared between a stream's consumer and the decoding thread.
final class CancelFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isCancelled: Bool { value.load(ordering: .relaxed) }
    func cancel() { value.store(true, ordering: .relaxed) }
}

/// An owned `llama_context *` with its KV cache; one request at a time uses it.
final class LlamaContext: @unchecked Sendable {
    let pointer: OpaquePointer
    let model: LlamaModel
    /// The flag the abort callback reads; swapped per request.
    private var currentFlag: CancelFlag?

    /// Tokens one sequence may hold (the cache is shared, so llama.cpp itself would allow more).
    let sequenceTokens: Int
    /// One KV buffer for all sequences (`kv_unified`), rather than one per sequence.
    let unifiedCache: Bool

    /// `contextTokens` is per sequence; `sequences` requests can be decoded together.
    init(model: LlamaModel, contextTokens: Int, sequences: Int, batchTokens: Int, threads: Int, sharedCache: Bool = false) throws {
        var params = llama_context_default_params()
        params.n_ctx = UInt32(contextTokens * sequences)
        params.n_seq_max = UInt32(sequences)
        // As llama-server does: a sliding-window cache sized to the window, not the context.
        params.swa_full = false
        // On an H200 a 4-sequence decode step took 18.4 ms (p50) with a cache per sequence
        // (llama_decode often blocked ~16 ms) and 8.8 ms with one shared cache
        // (bench/results/2026-11-29-h200-trace.txt). Each sequence is still held to `contextTokens`.
        params.kv_unified = sharedCache && sequences > 1
        unifiedCache = params.kv_unified
        params.n_batch = UInt32(batchTokens)
        // A whole image must fit one micro-batch: its tokens attend to each other both ways.
        params.n_ubatch = UInt32(batchTokens)
        params.n_threads = Int32(threads)
        params.n_threads_batch = Int32(threads)
        params.no_perf = true
        // A diagnostic (bench/fidelity): `MEDLAB_KV_TYPE=f32` keeps the KV cache in F32 instead
        // of llama.cpp's F16, to size what F16 rounding costs against a float32 reference.
        if ProcessInfo.processInfo.environment["MEDLAB_KV_TYPE"] == "f32" {
            params.type_k = GGML_TYPE_F32
            params.type_v = GGML_TYPE_F32
        }
        LlamaLog.reset()
        guard let context = llama_init_from_model(model.pointer, params) else {
            throw InferenceError.loadFailed(LlamaLog.recentErrors())
        }
        pointer = context
        self.model = model
        sequenceTokens = min(contextTokens, Int(llama_n_ctx_seq(context)))
    }

    deinit { llama_free(pointer) }

    var batchTokens: Int { Int(llama_n_batch(pointer)) }

    /// Gives sequence `destination` (empty) the first `length` positions that `source` holds. In
    /// one shared buffer the cells just gain a second owner; between per-sequence buffers llama.cpp
    /// copies only whole ones, so the copy is then cut back to `length`.
    func copyPrefix(from source: Int32, to destination: Int32, length: Int) {
        let memory = llama_get_memory(pointer)
        if unifiedCache {
            llama_memory_seq_cp(memory, source, destination, 0, llama_pos(length))
        } else {
            llama_memory_seq_cp(memory, source, destination, -1, -1)
            _ = llama_memory_seq_rm(memory, destination, llama_pos(length), -1)
        }
    }

    /// Makes `llama_decode` stop early once `flag` is set.
    func setAbort(_ flag: CancelFlag?) {
        currentFlag = flag
        guard let flag else {
            llama_set_abort_callback(pointer, nil, nil)
            return
        }
        llama_set_abort_callback(
            pointer,
            { data in
                guard let data else { return false }
                return Unmanaged<CancelFlag>.fromOpaque(data).takeUnretainedValue().isCancelled
            }, Unmanaged.passUnretained(flag).toOpaque())
    }

    /// Decodes text tokens of one sequence at `position` in pieces of the batch size; logits for the last one.
    func decode(_ tokens: [llama_token], at position: Int, sequence: Int32) throws -> Int {
        var position = position
        var start = 0
        let batchSize = batchTokens
        while start < tokens.count {
            let end = min(start + batchSize, tokens.count)
            var batch = llama_batch_init(Int32(end - start), 0, 1)
            defer { llama_batch_free(batch) }
            for (offset, token) in tokens[start..<end].enumerated() {
                batch.token[offset] = token
                batch.pos[offset] = llama_pos(position + offset)
                batch.n_seq_id[offset] = 1
                batch.seq_id[offset]![0] = sequence
                batch.logits[offset] = (end == tokens.count && offset == end - start - 1) ? 1 : 0
            }
            batch.n_tokens = Int32(end - start)
            let status = llama_decode(pointer, batch)
            if status == 2 { throw CancellationError() }
            guard status == 0 else { throw InferenceError.generationFailed("llama_decode returned \(status)") }
            position += end - start
            start = end
        }
        return position
    }
}
