import Foundation

/// The state of one streamed remote answer: turns server events into `GenerationEvent`s and
/// refuses to end quietly when the stream stops before the server said it was finished.
struct RemoteAnswer {
    private let continuation: AnswerStream.Continuation
    private let tokensPerImage: Int
    private let imageCount: Int
    private var filter = ReasoningFilter()
    /// A server that prints special tokens (llama-server `--special`, needed for MedGemma's
    /// `<unused94>` reasoning markers) also prints the end-of-turn token: it ends the answer here.
    private var endMarkers = StopMatcher(stops: ["<end_of_turn>", "<eos>"])
    private var ended = false
    private var raw = ""
    private var separateReasoning = ""
    private var chunks = 0
    private var finishReason: String?
    private var usage: ChatCompletionChunk.Usage?
    private var timings: ChatCompletionChunk.Timings?
    private let start = DispatchTime.now()
    private var firstToken: DispatchTime?
    /// `[DONE]` arrived: nothing more will come.
    private(set) var done = false

    init(continuation: AnswerStream.Continuation, tokensPerImage: Int, imageCount: Int) {
        self.continuation = continuation
        self.tokensPerImage = tokensPerImage
        self.imageCount = imageCount
    }

    /// Handles the data of one server-sent event; returns true at the end of the stream.
    mutating func handle(_ data: String) throws -> Bool {
        if data == "[DONE]" {
            done = true
            return true
        }
        guard let chunk = try? JSONDecoder().decode(ChatCompletionChunk.self, from: Data(data.utf8)) else {
            throw InferenceError.generationFailed("the server sent an event that is not a completion chunk: \(data.prefix(200))")
        }
        if let error = chunk.error {
            throw InferenceError.generationFailed("the server stopped with an error: \(error.message ?? "unknown")")
        }
        let reasoning = chunk.reasoning
        let content = chunk.content
        if !reasoning.isEmpty || !content.isEmpty {
            chunks += 1
            if firstToken == nil { firstToken = .now() }
        }
        if !reasoning.isEmpty {
            separateReasoning += reasoning
            continuation.yield(.reasoning(reasoning))
        }
        if !content.isEmpty, !ended {
            let (text, hitEnd) = endMarkers.feed(content)
            ended = hitEnd
            release(text)
        }
        if let reason = chunk.finishReason { finishReason = reason }
        if let value = chunk.usage { usage = value }
        if let value = chunk.timings { timings = value }
        return false
    }

    private mutating func release(_ text: String) {
        guard !text.isEmpty else { return }
        raw += text
        for event in filter.feed(text) { continuation.yield(event) }
    }

    /// Ends the stream with its summary, or throws when the server never finished the answer.
    mutating func finish() throws {
        guard let finishReason else {
            // A closed connection without a finish reason is a cut answer, never a short one.
            throw InferenceError.generationFailed("the server ended the stream before finishing the answer (\(chunks) pieces received)")
        }
        if !ended { release(endMarkers.flush("")) }
        for event in filter.finish() { continuation.yield(event) }
        let end = DispatchTime.now()
        let measuredPrefill = Double((firstToken ?? end).uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
        let measuredDecode = firstToken.map { Double(end.uptimeNanoseconds - $0.uptimeNanoseconds) / 1e6 } ?? 0
        let promptTokens = usage?.prompt_tokens ?? 0
        // The server counts image tokens in the prompt; split them out as in process.
        let imageTokens = min(promptTokens, imageCount * tokensPerImage)
        // A server that split the reasoning out gets it back in the raw text, in MedGemma's markers.
        let rawText =
            separateReasoning.isEmpty
            ? raw
            : AnswerParser.reasoningOpen + "thought\n" + separateReasoning + AnswerParser.reasoningClose + raw
        let summary = GenerationSummary(
            rawText: rawText, textTokensIn: promptTokens - imageTokens, imageTokensIn: imageTokens,
            tokensOut: usage?.completion_tokens ?? chunks, imageEncodeMs: 0,
            prefillMs: timings?.prompt_ms ?? measuredPrefill, decodeMs: timings?.predicted_ms ?? measuredDecode,
            finishReason: finishReason == "length" ? "length" : "stop")
        continuation.yield(.finished(summary))
        continuation.finish()
    }
}
