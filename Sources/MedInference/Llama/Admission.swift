internal import CLlama
import Foundation

/// What of a request's prompt is still to go into its sequence, past the positions a copied prefix
/// holds, and in which runs: text in runs that fit, each image whole (its tokens attend to each
/// other both ways, so it needs one micro-batch and a step without text runs). A prefill takes the
/// runs one after another; a request admitted beside running streams rides along instead, a run
/// per decode step, and several admissions may ride at once, each in its own sequence.
final class Admission {
    let job: GenerationJob
    /// What is left to feed, in order.
    private var parts: [Part]
    /// Whether every run has been fed; the step that fed the last one holds the logits of the
    /// prompt's last token.
    var isComplete: Bool { parts.isEmpty }
    /// The position after the prompt.
    let end: Int
    /// Milliseconds of the steps that fed text before the first image, images, and text after.
    var pieceMs = (before: 0.0, image: 0.0, after: 0.0)
    /// For the trace: what the admission met when it began.
    let load: PrefillLoad?
    /// Streams running when the admission began.
    let streams: Int

    private enum Part {
        case text([llama_token], position: Int, afterImage: Bool)
        case image(chunk: Int, tokens: Int, position: Int)
    }

    /// Plans the feeding of `prompt`, whose first `skip` positions the sequence already holds.
    init(job: GenerationJob, prompt: TokenizedPrompt, skip: Int, load: PrefillLoad?, streams: Int) {
        self.job = job
        self.load = load
        self.streams = streams
        var parts: [Part] = []
        var position = 0
        var sawImage = false
        for piece in prompt.pieces {
            switch piece {
            case .text(let tokens):
                let covered = min(max(skip - position, 0), tokens.count)
                if covered < tokens.count {
                    parts.append(.text(Array(tokens[covered...]), position: position + covered, afterImage: sawImage))
                }
                position += tokens.count
            case .image(let chunk, let count):
                sawImage = true
                if position >= skip {
                    parts.append(.image(chunk: chunk, tokens: count, position: position))
                } else {
                    job.embeddings[chunk] = nil  // copied with the prefix: its embeddings are not needed
                }
                position += prompt.positions(ofImage: chunk, tokens: count)
            }
        }
        self.parts = parts
        end = position
    }

    /// Whether the next run is text (it can share a causal step), false for an image.
    var nextIsText: Bool {
        if case .text? = parts.first { true } else { false }
    }

    /// The next run for a step with room for `room` more rows (an image that does not fit waits
    /// for a step with fewer rows), and where its time goes: text before any image, an image, or
    /// text after one. The run is taken off the plan.
    func take(room: Int) throws -> (run: PromptRun, piece: PromptPiece)? {
        guard let first = parts.first, room > 0 else { return nil }
        switch first {
        case .text(let tokens, let position, let afterImage):
            let count = min(tokens.count, room)
            let last = count == tokens.count && parts.count == 1
            if count == tokens.count {
                parts.removeFirst()
            } else {
                parts[0] = .text(Array(tokens[count...]), position: position + count, afterImage: afterImage)
            }
            return (.text(tokens[..<count], position: position, last: last), afterImage ? .textAfter : .textBefore)
        case .image(let chunk, let count, let position):
            guard count <= room else { return nil }
            guard let embeddings = job.embeddings.removeValue(forKey: chunk) else {
                throw InferenceError.generationFailed("image \(chunk) was not encoded")
            }
            parts.removeFirst()
            return (.image(chunk: chunk, embeddings: embeddings, tokens: count, position: position), .image)
        }
    }

    /// Adds a step's milliseconds to the piece it fed.
    func add(_ milliseconds: Double, to piece: PromptPiece) {
        job.prefillMs += milliseconds
        switch piece {
        case .textBefore: pieceMs.before += milliseconds
        case .image: pieceMs.image += milliseconds
        case .textAfter: pieceMs.after += milliseconds
        }
    }
}

/// Which part of a prompt a run belongs to, for the trace.
enum PromptPiece: String {
    case textBefore = "text_before"
    case image
    case textAfter = "text_after"
}

/// What a prefill met when it started: the vision thread's encode count and whether it was
/// encoding, and the KV cells the running sequences hold.
struct PrefillLoad {
    let encodesBegun: Int
    let encoding: Bool
    let kvCells: Int
}
