internal import CLlama
import Testing

@testable import MedInference

/// How an admitting prompt is cut into the runs that ride along in decode steps: text in runs of
/// whatever room a step has left, each image whole and only where it fits, the prompt's last token
/// the only one asking for logits, and positions a copied prefix already holds skipped.
@Suite("Riding along: a prompt's runs")
struct AdmissionTests {
    private func admission(_ pieces: [TokenizedPrompt.Piece], skip: Int = 0, images: [Int: Int] = [:]) -> Admission {
        let (_, continuation) = AnswerStream.makeStream()
        let job = GenerationJob(request: GenerationRequest(question: "q"), flag: CancelFlag(), continuation: continuation)
        for (chunk, tokens) in images { job.embeddings[chunk] = [Float](repeating: 1, count: tokens * 4) }
        return Admission(job: job, prompt: TokenizedPrompt(pieces: pieces, chunks: nil), skip: skip, load: nil, streams: 1)
    }

    /// The runs taken with `room` rows a step, as (kind, first position, rows, wants logits).
    private func runs(_ admission: Admission, room: Int) throws -> [(String, Int, Int, Bool)] {
        var taken: [(String, Int, Int, Bool)] = []
        while !admission.isComplete, let (run, piece) = try admission.take(room: room) {
            switch run {
            case .text(_, let position, _): taken.append((piece.rawValue, position, run.count, run.wantsLogits))
            case .image(_, _, _, let position): taken.append((piece.rawValue, position, run.count, run.wantsLogits))
            }
        }
        return taken
    }

    @Test func textInRunsOfTheRoomLeftAndImagesWhole() throws {
        let plan = admission([.text(Array(0..<5)), .image(chunk: 1, tokens: 8), .text(Array(0..<7))], images: [1: 8])
        #expect(plan.end == 20)
        let taken = try runs(plan, room: 4)
        // The image (8 rows) does not fit 4: it waits, and no later run overtakes it.
        #expect(taken.map(\.0) == ["text_before", "text_before"])
        #expect(taken.map(\.1) == [0, 4] && taken.map(\.2) == [4, 1] && !plan.isComplete && !plan.nextIsText)
        let rest = try runs(plan, room: 8)
        #expect(rest.map(\.0) == ["image", "text_after"])
        #expect(rest.map(\.1) == [5, 13] && rest.map(\.2) == [8, 7])
        #expect(rest.map(\.3) == [false, true] && plan.isComplete)
    }

    @Test func aCopiedPrefixIsSkipped() throws {
        // [system + image] held already (13 positions), part of the question too: 2 of 7 left.
        let plan = admission([.text(Array(0..<5)), .image(chunk: 1, tokens: 8), .text(Array(0..<7))], skip: 18, images: [1: 8])
        #expect(plan.job.embeddings.isEmpty)  // the copied image's embeddings are let go at once
        let taken = try runs(plan, room: 100)
        #expect(taken.count == 1 && taken[0].0 == "text_after" && taken[0].1 == 18 && taken[0].2 == 2 && taken[0].3)
    }

    @Test func anImageWithoutEmbeddingsIsAnError() throws {
        let plan = admission([.text([1, 2]), .image(chunk: 1, tokens: 8), .text([3])])
        _ = try plan.take(room: 10)
        #expect(throws: InferenceError.self) { try plan.take(room: 10) }
    }
}
