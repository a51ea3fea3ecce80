internal import CLlama
import Foundation

/// A llama.cpp sampler chain: greedy at temperature 0, otherwise top-p + temperature + seed;
/// with a grammar, only tokens the grammar allows next.
///
/// The grammar is consulted the way llama.cpp's own common sampler does it: the token the chain
/// picks is checked alone first, and only when the grammar refuses it is the grammar applied to
/// more candidates. Most steps of a JSON answer from a model that knows JSON pass the cheap check;
/// for greedy, a refused step takes the best of the 64 likeliest that the grammar allows, or else
/// the best of every token the grammar's state allows: a set computed once per state and process
/// (`Grammar`).
final class Sampler {
    private let pointer: UnsafeMutablePointer<llama_sampler>
    private let grammar: Grammar?
    private let greedy: Bool
    /// Steps whose grammar had to look past the 64 likeliest tokens (`MEDLAB_TRACE=1` reports them).
    private(set) var fullPasses = 0
    /// Steps answered by a cached allowed set instead (`MEDLAB_TRACE=1` reports them too).
    private(set) var cachedPasses = 0

    /// For a grammar: the model (each accepted token's text) and its vocabulary's groups.
    private let model: LlamaModel?
    private let prefilter: GrammarPrefilter?
    private var boundary = UTF8Boundary()

    /// `MEDLAB_GRAMMAR_PREFILTER=0` turns the prefilter off (the exactness test compares both ways).
    private static let prefiltering = ProcessInfo.processInfo.environment["MEDLAB_GRAMMAR_PREFILTER"] != "0"

    init(_ options: SamplingOptions, grammar text: String? = nil, model: LlamaModel? = nil) throws {
        if let text, let model {
            guard let constrained = Grammar(text, model: model) else {
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

    deinit { llama_sampler_free(pointer) }

    /// Samples from `logits` (one output row of the last batch, `count` of them) and records the
    /// choice. It reads nothing else of the context, so the scheduler samples several sequences
    /// at once, each on a thread of its own.
    func sample(_ logits: UnsafePointer<Float>, count: Int) -> llama_token {
        let row = UnsafeBufferPointer(start: logits, count: count)
        // Greedy is an argmax: a candidate array would first copy Gemma's 262,144 logits, about
        // 1 ms a token on the H200 host, paid once per sequence per step.
        let first = greedy ? Self.argmax(row) : chainChoice(row)
        if !greedy { llama_sampler_accept(pointer, first) }
        guard let grammar else { return first }
        if grammar.allows(first) { return accept(first, by: grammar) }
        guard greedy else {
            fullPasses += 1
            return accept(chainChoice(row, within: grammar), by: grammar)
        }
        // A state met before (after a value: a comma or a brace; inside an enum) has its allowed
        // set cached: the best of it, without asking the grammar.
        if Grammar.caching, let cached = grammar.bestCached(logits) {
            cachedPasses += 1
            return accept(cached ?? first, by: grammar)
        }
        // When one of the 64 likeliest is allowed, it is the best allowed, and the grammar has looked
        // at 64 candidates instead of 262,144. That settles states that allow many tokens (inside a
        // string), whose sets would take 50 ms to compute; the rest allow a few tokens, whose set is
        // computed once and cached.
        if let best = Self.best(of: grammar.allowed(among: Self.top(64, of: row).map(\.id)), in: row) {
            return accept(best, by: grammar)
        }
        fullPasses += 1
        let allowed = allowedTokens(by: grammar, count: count)
        if Grammar.caching { grammar.store(allowed, vocabulary: count) }
        return accept(Self.best(of: allowed, in: row) ?? first, by: grammar)
    }

    /// Every token the grammar allows next, in ascending order. The grammar asks first about one
    /// token per group of the vocabulary (GrammarPrefilter) when the text so far ends on a whole
    /// character: a few thousand candidates instead of 262,144.
    private func allowedTokens(by grammar: Grammar, count: Int) -> [llama_token] {
        if let prefilter, boundary.isWhole {
            return grammar.allowed(among: prefilter.candidates(grammar: grammar)).sorted()
        }
        return grammar.allowed(among: (0..<count).map { llama_token($0) })
    }

    /// Advances the grammar past `token` and returns it. A grammar that allows nothing (it never
    /// does for a JSON Schema's) is left behind: the answer then fails validation, named as such.
    private func accept(_ token: llama_token, by grammar: Grammar) -> llama_token {
        grammar.accept(token)
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

    /// The sampling chain's choice over the whole row, as `llama_sampler_sample` makes it; with a
    /// grammar, among the tokens it allows (the whole row, never a cached set: a smaller candidate
    /// array would draw another token from the same seed).
    private func chainChoice(_ row: UnsafeBufferPointer<Float>, within grammar: Grammar? = nil) -> llama_token {
        var candidates = (0..<row.count).map { llama_token_data(id: llama_token($0), logit: row[$0], p: 0) }
        return candidates.withUnsafeMutableBufferPointer { buffer -> llama_token in
            grammar?.apply(buffer)
            var array = llama_token_data_array(data: buffer.baseAddress, size: buffer.count, selected: -1, sorted: false)
            llama_sampler_apply(pointer, &array)
            return array.selected >= 0 ? array.data[Int(array.selected)].id : array.data[0].id
        }
    }

    /// The token of highest logit among `tokens` (the first of equals), nil if there are none.
    static func best(of tokens: [llama_token], in row: UnsafeBufferPointer<Float>) -> llama_token? {
        var best: llama_token?
        var highest = -Float.infinity
        for token in tokens where best == nil || row[Int(token)] > highest {
            best = token
            highest = row[Int(token)]
        }
        return best
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
