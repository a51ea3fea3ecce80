internal import CLlama
import Foundation

/// One request while the scheduler serves it: its sequence slot, sampler and streaming state.
/// Created by the caller, then touched by one thread at a time: `VisionStage` while it prepares an
/// image request, the scheduler thread after (the pending queue's lock orders the two).
final class GenerationJob: @unchecked Sendable {
    let request: GenerationRequest
    let flag: CancelFlag
    private let continuation: AnswerStream.Continuation

    var prompt: TokenizedPrompt?
    /// Each image chunk's embeddings, from `prepare` until the prefill feeds them to the context.
    var embeddings: [Int: [Float]] = [:]
    /// The llama.cpp sequence id (KV cache slot) while active.
    var slot: Int32 = -1
    /// Next position in the sequence.
    var position = 0
    /// Sampled from the latest logits, not yet fed back.
    var pendingToken: llama_token = 0
    /// Made at prefill, where the vocabulary (which a grammar needs) is at hand.
    var sampler: Sampler!
    var encodeMs = 0.0
    /// Prompt positions copied from another request's sequence instead of prefilled.
    var cachedTokens = 0
    var prefillMs = 0.0
    var decodeStart = DispatchTime.now()
    var produced = 0
    /// Set by `medlab ask --dump-logits`: the prompt ids, first logits and tokens go here.
    let trace: LogitTrace?

    private var assembler = UTF8Assembler()
    private var stops: StopMatcher
    private var filter = ReasoningFilter()
    private var raw = ""
    private var stopped = false

    init(request: GenerationRequest, flag: CancelFlag, continuation: AnswerStream.Continuation, trace: LogitTrace? = nil) {
        self.request = request
        self.flag = flag
        self.continuation = continuation
        self.trace = trace
        self.stops = StopMatcher(stops: request.stop)
    }

    /// Streams the text of one generated token; returns true when a stop string was reached.
    func accept(bytes: [UInt8]) -> Bool {
        produced += 1
        let (text, hitStop) = stops.feed(assembler.append(bytes))
        release(text)
        stopped = hitStop
        return hitStop
    }

    /// Ends the stream with its summary; text held back is released unless a stop string cut it.
    func finish(reason: String) {
        if !stopped { release(stops.flush(assembler.flush())) }
        for event in filter.finish() { continuation.yield(event) }
        var summary = GenerationSummary(
            rawText: raw, textTokensIn: prompt?.textTokens ?? 0, imageTokensIn: prompt?.imageTokens ?? 0,
            tokensOut: produced, imageEncodeMs: encodeMs, prefillMs: prefillMs,
            decodeMs: produced > 0 ? decodeStart.millisecondsElapsed : 0, finishReason: reason)
        summary.cachedPromptTokens = cachedTokens > 0 ? cachedTokens : nil
        continuation.yield(.finished(summary))
        continuation.finish()
    }

    /// Ends the stream with an error.
    func fail(_ error: any Error) { continuation.finish(throwing: error) }

    private func release(_ text: String) {
        guard !text.isEmpty else { return }
        raw += text
        for event in filter.feed(text) { continuation.yield(event) }
    }
}
