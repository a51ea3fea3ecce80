internal import CLlama
import Foundation

/// A run of an admitting request's prompt that rides along in a decode step.
enum PromptRun {
    /// Text tokens from `position` on; `last`: the prompt ends with them, so the final one's logits
    /// choose the first answer token.
    case text(ArraySlice<llama_token>, position: Int, last: Bool)
    /// One image's embeddings (`tokens` rows from `position` on), attending both ways inside it;
    /// `chunk` is its index in the prompt's mtmd chunks.
    case image(chunk: Int, embeddings: [Float], tokens: Int, position: Int)

    /// The rows the run fills in a step.
    var count: Int {
        switch self {
        case .text(let tokens, _, _): tokens.count
        case .image(_, _, let tokens, _): tokens
        }
    }

    /// Whether the run's last row has logits.
    var wantsLogits: Bool { if case .text(_, _, let last) = self { last } else { false } }
}

/// One running stream's part of a step: the token it feeds back, at its next position.
typealias StreamEntry = (token: llama_token, position: Int, sequence: Int32)

extension LlamaContext {
    /// Decodes one step: each stream's token (logits for every one, rows 0..<streams.count) and
    /// after them runs of admitting prompts, each in its own sequence, all text or all images. A
    /// llama.cpp batch holds tokens or embeddings, never both: beside images the streams' tokens go
    /// in as their embedding rows from `table`, and the whole step runs with attention both ways,
    /// which changes nothing for a stream (its sequence holds no later position) and is what an
    /// image needs. Text runs stay causal, so they never share a step with an image.
    func decodeStep(_ streams: [StreamEntry], runs: [(run: PromptRun, sequence: Int32)] = [], table: TokenEmbeddings? = nil) throws {
        let total = streams.count + runs.reduce(0) { $0 + $1.run.count }
        guard total > 0 else { return }
        let images = runs.filter { if case .image = $0.run { true } else { false } }.count
        guard images == 0 || images == runs.count else { throw InferenceError.generationFailed("a step mixes text and image runs") }
        let embedded = images > 0
        if embedded, table == nil { throw InferenceError.generationFailed("an image step needs the token embeddings") }
        let width = table?.width ?? 0
        var batch = llama_batch_init(Int32(total), embedded ? Int32(width) : 0, 1)
        defer { llama_batch_free(batch) }
        func place(_ index: Int, position: Int, sequence: Int32, logits: Bool) {
            batch.pos[index] = llama_pos(position)
            batch.n_seq_id[index] = 1
            batch.seq_id[index]![0] = sequence
            batch.logits[index] = logits ? 1 : 0
        }
        for (index, entry) in streams.enumerated() {
            place(index, position: entry.position, sequence: entry.sequence, logits: true)
            if embedded {
                try table!.write(entry.token, to: batch.embd + index * width)
            } else {
                batch.token[index] = entry.token
            }
        }
        var row = streams.count
        for (run, sequence) in runs {
            switch run {
            case .text(let tokens, let position, let last):
                for (offset, token) in tokens.enumerated() {
                    batch.token[row + offset] = token
                    place(row + offset, position: position + offset, sequence: sequence, logits: last && offset == tokens.count - 1)
                }
            case .image(_, let values, let count, let position):
                guard values.count == count * width else {
                    throw InferenceError.generationFailed("the image's embeddings have another width")
                }
                values.withUnsafeBufferPointer { (batch.embd + row * width).update(from: $0.baseAddress!, count: values.count) }
                for offset in 0..<count { place(row + offset, position: position + offset, sequence: sequence, logits: false) }
            }
            row += run.count
        }
        batch.n_tokens = Int32(total)
        if embedded { llama_set_causal_attn(pointer, false) }
        let status = llama_decode(pointer, batch)
        if embedded { llama_set_causal_attn(pointer, true) }
        guard status == 0 else { throw InferenceError.generationFailed("llama_decode returned \(status)") }
    }
}
