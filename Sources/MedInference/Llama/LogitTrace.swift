internal import CLlama
import Foundation
import Synchronization

/// A fidelity probe (`medlab ask --dump-logits`, bench/fidelity): what one request fed the model
/// and what came out, so another implementation (Hugging Face transformers) can be given the
/// same token ids and compared logit for logit.
///
/// Filled by the scheduler thread while the request runs; read once the answer has finished.
public final class LogitTrace: Sendable {
    /// What was recorded.
    public struct Snapshot: Sendable, Encodable {
        /// The prompt as the model saw it, `<bos>` first; each position that an image embedding
        /// fills is `imagePlaceholder`.
        public var promptTokens: [Int32] = []
        /// Embedding positions of each image, in prompt order.
        public var imageTokens: [Int] = []
        /// The logits from which the first generated token was chosen (the vocabulary's size).
        public var firstLogits: [Float] = []
        /// Every generated token, in order (end-of-generation tokens included when sampled).
        public var tokens: [Int32] = []
        public var imagePlaceholder: Int32 = LogitTrace.imagePlaceholder

        enum CodingKeys: String, CodingKey {
            case promptTokens = "prompt_tokens"
            case imageTokens = "image_tokens"
            case firstLogits = "first_logits"
            case tokens
            case imagePlaceholder = "image_placeholder"
        }
    }

    /// Stands for an image embedding position in `Snapshot.promptTokens`.
    public static let imagePlaceholder: Int32 = -1

    private let state = Mutex(Snapshot())

    public init() {}

    public var snapshot: Snapshot { state.withLock { $0 } }

    func record(prompt: TokenizedPrompt) {
        var ids: [Int32] = []
        var images: [Int] = []
        for piece in prompt.pieces {
            switch piece {
            case .text(let tokens): ids += tokens
            case .image(_, let count):
                ids += Array(repeating: Self.imagePlaceholder, count: count)
                images.append(count)
            }
        }
        state.withLock {
            $0.promptTokens = ids
            $0.imageTokens = images
        }
    }

    /// Copies the logits of output `index` of the last decode (-1: the last output).
    func recordLogits(_ context: LlamaContext, index: Int32) {
        guard let logits = llama_get_logits_ith(context.pointer, index) else { return }
        let values = Array(UnsafeBufferPointer(start: logits, count: context.model.vocabularySize))
        state.withLock { $0.firstLogits = values }
    }

    func record(token: llama_token) { state.withLock { $0.tokens.append(token) } }
}
