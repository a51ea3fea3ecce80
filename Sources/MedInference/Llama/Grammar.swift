internal import CLlama
internal import CLlamaGrammar
import Foundation

/// A llama.cpp grammar over one model's vocabulary, at one point of one answer.
///
/// Through llama.cpp's internal grammar API (Sources/CLlamaGrammar) rather than its grammar
/// sampler: the internal API shows the grammar's state, so the set of tokens a state allows is
/// computed once per process and shared by every request with the same grammar. A JSON answer
/// goes back to the same few states all the time (after a value, inside a string, ...).
final class Grammar {
    private let pointer: OpaquePointer

    /// `MEDLAB_GRAMMAR_CACHE=0` computes every allowed set again (the exactness test compares both ways).
    static let caching = ProcessInfo.processInfo.environment["MEDLAB_GRAMMAR_CACHE"] != "0"

    /// The grammar `text` (GBNF, rule `root`), or nil if llama.cpp cannot parse it.
    init?(_ text: String, model: LlamaModel) {
        guard let pointer = medlab_grammar_init(UnsafeRawPointer(model.vocab), text) else { return nil }
        self.pointer = pointer
    }

    deinit { medlab_grammar_free(pointer) }

    /// Sets the logit of every candidate that may not come next to -inf.
    func apply(_ candidates: UnsafeMutableBufferPointer<llama_token_data>) {
        medlab_grammar_apply(pointer, candidates.baseAddress, candidates.count)
    }

    /// Whether `token` may come next.
    func allows(_ token: llama_token) -> Bool {
        var single = llama_token_data(id: token, logit: 0, p: 0)
        medlab_grammar_apply(pointer, &single, 1)
        return single.logit.isFinite
    }

    /// The tokens of `candidates` that may come next, in their order.
    func allowed(among candidates: [llama_token]) -> [llama_token] {
        var data = candidates.map { llama_token_data(id: $0, logit: 0, p: 0) }
        data.withUnsafeMutableBufferPointer { apply($0) }
        return data.compactMap { $0.logit.isFinite ? $0.id : nil }
    }

    /// Moves past `token`; false if the grammar does not allow it (it then allows nothing more).
    @discardableResult
    func accept(_ token: llama_token) -> Bool { medlab_grammar_accept(pointer, token) == 0 }

    /// What the cache knows of the current state: nil if it has not seen it; else the allowed token
    /// with the highest logit in `logits` (a whole vocabulary's row), or `.some(nil)` if none is.
    func bestCached(_ logits: UnsafePointer<Float>) -> llama_token?? {
        var best: llama_token = 0
        switch medlab_grammar_best_cached(pointer, logits, &best) {
        case 1: return .some(best)
        case -1: return .some(nil)
        default: return nil
        }
    }

    /// Caches `allowed` as every token the current state allows, of a vocabulary of `count`.
    func store(_ allowed: [llama_token], vocabulary count: Int) {
        allowed.withUnsafeBufferPointer { medlab_grammar_store(pointer, $0.baseAddress, $0.count, count) }
    }
}
