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

    /// Decodes one token for each of several sequences in a single batch, logits for all.
    func decodeStep(_ entries: [(token: llama_token, position: Int, sequence: Int32)]) throws {
        var batch = llama_batch_init(Int32(entries.count), 0, 1)
        defer { llama_batch_free(batch) }
        for (index, entry) in entries.enumerated() {
            batch.token[index] = entry.token
            batch.pos[index] = llama_pos(entry.position)
            batch.n_seq_id[index] = 1
            batch.seq_id[index]![0] = entry.sequence
            batch.logits[index] = 1
        }
        batch.n_tokens = Int32(entries.count)
        let status = llama_decode(pointer, batch)
        guard status == 0 else { throw InferenceError.generationFailed("llama_decode returned \(status)") }
    }
}

/// A llama.cpp sampler chain: greedy at temperature 0, otherwise top-p + temperature + seed;
/// with a grammar, only tokens the grammar allows next.
///
/// The grammar is consulted the way llama.cpp's own common sampler does it: the token the chain
/// picks is checked alone first, and only when the grammar refuses it is the grammar applied to
/// more candidates (for greedy, the 64 likeliest first). Most steps of a JSON answer pass the
/// cheap check.
final class Sampler {
    private let pointer: UnsafeMutablePointer<llama_sampler>
    private let grammar: UnsafeMutablePointer<llama_sampler>?
    private let greedy: Bool
    /// Steps whose grammar had to look past the 64 likeliest tokens (`MEDLAB_TRACE=1` reports them).
    private(set) var fullPasses = 0

    /// For a grammar: the model (each accepted token's text) and its vocabulary's groups.
    private let model: LlamaModel?
    private let prefilter: GrammarPrefilter?
    private var boundary = UTF8Boundary()

    /// `MEDLAB_GRAMMAR_PREFILTER=0` turns the prefilter off (the exactness test compares both ways).
    private static let prefiltering = ProcessInfo.processInfo.environment["MEDLAB_GRAMMAR_PREFILTER"] != "0"

    init(_ options: SamplingOptions, grammar text: String? = nil, model: LlamaModel? = nil) throws {
        if let text, let model {
            guard let constrained = llama_sampler_init_grammar(model.vocab, text, "root") else {
                throw InferenceError.badRequest("llama.cpp could not parse the grammar made from the schema")
            }
            grammar = constrained
            self.model = model
            prefilter = Self.prefiltering ? model.grammarPrefilter : nil
        } else {
            grammar = nil
            self.model = nil
            prefilter = nil
        }
        pointer = llama_sampler_chain_init(llama_sampler_chain_default_params())
        greedy = options.temperature <= 0
        if greedy {
            llama_sampler_chain_add(pointer, llama_sampler_init_greedy())
        } else {
            if options.topP < 1 { llama_sampler_chain_add(pointer, llama_sampler_init_top_p(Float(options.topP), 1)) }
            llama_sampler_chain_add(pointer, llama_sampler_init_temp(Float(options.temperature)))
            llama_sampler_chain_add(pointer, llama_sampler_init_dist(options.seed))
        }
    }

    deinit {
        llama_sampler_free(pointer)
        if let grammar { llama_sampler_free(grammar) }
    }

    /// Samples from `logits` (one output row of the last batch, `count` of them) and records the
    /// choice. It reads nothing else of the context, so the scheduler samples several sequences
    /// at once, each on a thread of its own.
    func sample(_ logits: UnsafePointer<Float>, count: Int) -> llama_token {
        let row = UnsafeBufferPointer(start: logits, count: count)
        // Greedy is an argmax: a candidate array would first copy Gemma's 262,144 logits, about
        // 1 ms a token on the H200 host, paid once per sequence per step.
        let first = greedy ? Self.argmax(row) : chainSample(row)
        guard let grammar else { return first }
        if allowed(first, logit: logits[Int(first)], by: grammar) {
            return accept(first, by: grammar)
        }
        // Greedy needs only the best allowed token: when one of the 64 likeliest is allowed, it is
        // that one, and the grammar has looked at 64 candidates instead of 262,144. (Wider sets
        // first, 4,096 then 32,768, did not pay: on random weights the allowed tokens of a JSON
        // position are too few to be among them, and a model that knows JSON never needs them.)
        if greedy, let best = bestAllowed(among: Self.top(64, of: row), by: grammar) {
            return accept(best, by: grammar)
        }
        fullPasses += 1
        // The grammar asks first about one token per group of the vocabulary (GrammarPrefilter):
        // the same best allowed token, from a few thousand candidates instead of 262,144.
        if greedy, let prefilter, boundary.isWhole,
            let best = bestAllowed(among: prefilter.candidates(row, grammar: grammar), by: grammar)
        {
            return accept(best, by: grammar)
        }
        var candidates = (0..<count).map { llama_token_data(id: llama_token($0), logit: row[$0], p: 0) }
        let chosen: llama_token = candidates.withUnsafeMutableBufferPointer { buffer in
            var array = llama_token_data_array(data: buffer.baseAddress, size: count, selected: -1, sorted: false)
            llama_sampler_apply(grammar, &array)
            if greedy {
                var best = 0
                for i in 0..<array.size where array.data[i].logit > array.data[best].logit { best = i }
                return array.data[best].id
            }
            llama_sampler_apply(pointer, &array)
            return array.selected >= 0 ? array.data[Int(array.selected)].id : array.data[0].id
        }
        return accept(chosen, by: grammar)
    }

    /// Advances the grammar past `token` and returns it.
    private func accept(_ token: llama_token, by grammar: UnsafeMutablePointer<llama_sampler>) -> llama_token {
        llama_sampler_accept(grammar, token)
        if let model { boundary.append(model.bytes(of: token)) }
        return token
    }

    /// Whether a step of this sampler costs more than an argmax (a grammar, or a distribution
    /// over the whole vocabulary): worth a thread of its own when several sequences sample.
    var isCostly: Bool { grammar != nil || !greedy }

    /// The chain's choice from the context's output `index`, for a row llama.cpp did not give out.
    func sample(_ context: LlamaContext, index: Int32) -> llama_token {
        llama_sampler_sample(pointer, context.pointer, index)
    }

    /// The sampling chain's choice over the whole row, as `llama_sampler_sample` makes it.
    private func chainSample(_ row: UnsafeBufferPointer<Float>) -> llama_token {
        var candidates = (0..<row.count).map { llama_token_data(id: llama_token($0), logit: row[$0], p: 0) }
        let token = candidates.withUnsafeMutableBufferPointer { buffer -> llama_token in
            var array = llama_token_data_array(data: buffer.baseAddress, size: buffer.count, selected: -1, sorted: false)
            llama_sampler_apply(pointer, &array)
            return array.selected >= 0 ? array.data[Int(array.selected)].id : array.data[0].id
        }
        llama_sampler_accept(pointer, token)
        return token
    }

    /// The likeliest of `candidates` that the grammar allows next, if any.
    private func bestAllowed(among candidates: [llama_token_data], by grammar: UnsafeMutablePointer<llama_sampler>) -> llama_token? {
        var copy = candidates
        return copy.withUnsafeMutableBufferPointer { buffer -> llama_token? in
            var array = llama_token_data_array(data: buffer.baseAddress, size: buffer.count, selected: -1, sorted: false)
            llama_sampler_apply(grammar, &array)
            var best: llama_token_data?
            for i in 0..<array.size where array.data[i].logit.isFinite && array.data[i].logit > (best?.logit ?? -.infinity) {
                best = array.data[i]
            }
            return best?.id
        }
    }

    /// The `k` largest logits with their token ids, in no particular order.
    static func top(_ k: Int, of logits: UnsafeBufferPointer<Float>) -> [llama_token_data] {
        var kept: [llama_token_data] = []
        kept.reserveCapacity(k)
        var floor = -Float.infinity
        var floorIndex = 0
        for (index, logit) in logits.enumerated() where kept.count < k || logit > floor {
            let item = llama_token_data(id: llama_token(index), logit: logit, p: 0)
            if kept.count < k {
                kept.append(item)
                if kept.count == k { (floorIndex, floor) = Self.minimum(kept) }
            } else {
                kept[floorIndex] = item
                (floorIndex, floor) = Self.minimum(kept)
            }
        }
        return kept
    }

    private static func minimum(_ items: [llama_token_data]) -> (Int, Float) {
        var index = 0
        for i in items.indices where items[i].logit < items[index].logit { index = i }
        return (index, items[index].logit)
    }

    /// Whether the grammar lets `token` come next (it leaves its logit finite).
    private func allowed(_ token: llama_token, logit: Float, by grammar: UnsafeMutablePointer<llama_sampler>) -> Bool {
        var single = llama_token_data(id: token, logit: logit, p: 0)
        return withUnsafeMutablePointer(to: &single) { data in
            var array = llama_token_data_array(data: data, size: 1, selected: -1, sorted: false)
            llama_sampler_apply(grammar, &array)
            return array.data[0].logit.isFinite
        }
    }

    /// Index of the first largest value, as llama.cpp's greedy sampler picks it (NaN never wins;
    /// 0 when nothing beats -inf).
    ///
    /// Sixteen lanes at a time: one pass for the maximum, one for where it first occurs. It is
    /// paid on the scheduler thread for every sequence at every step; with a 262,144-token
    /// vocabulary on the 2-core CPU host, `MEDLAB_TRACE=1`'s sample time per step went from
    /// 0.22 ms (a compare-and-branch per logit) to 0.046 ms (p50 of 383 steps).
    static func argmax(_ values: UnsafeBufferPointer<Float>) -> llama_token {
        guard let base = values.baseAddress else { return 0 }
        let raw = UnsafeRawPointer(base)
        let count = values.count
        let width = SIMD16<Float>.scalarCount
        func chunk(_ index: Int) -> SIMD16<Float> { raw.loadUnaligned(fromByteOffset: index * 4, as: SIMD16<Float>.self) }
        var lanes = SIMD16<Float>(repeating: -.infinity)
        var index = 0
        while index + width <= count {
            let next = chunk(index)
            lanes.replace(with: next, where: lanes .< next)
            index += width
        }
        var top = lanes.max()
        for tail in index..<count where values[tail] > top { top = values[tail] }
        guard top > -.infinity else { return 0 }
        let wanted = SIMD16<Float>(repeating: top)
        index = 0
        while index + width <= count, !any(chunk(index) .== wanted) { index += width }
        while values[index] != top { index += 1 }
        return llama_token(index)
    }
}
