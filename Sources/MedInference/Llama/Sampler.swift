internal import CLlama
import Foundation

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
