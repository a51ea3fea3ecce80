internal import CLlama
import Foundation
import MedLabTestSupport
import Testing

@testable import MedInference

/// A stream that shares a decode step with an image goes in as its token's embedding row
/// (`TokenEmbeddings`), since a llama.cpp batch holds tokens or embeddings, never both. The row
/// must be what llama.cpp's own lookup computes, scaling included, or every stream beside an
/// admitted image would drift.
@Suite("Token embeddings", .serialized)
struct TokenEmbeddingsTests {
    /// The logits of `token` decoded after `prompt` in a fresh shared-cache context, fed as a token
    /// or as its embedding row (an image run of no rows makes the step an embedding step).
    private func logits(
        model: LlamaModel, table: TokenEmbeddings, prompt: [llama_token], token: llama_token, asEmbedding: Bool
    ) throws -> [Float] {
        let context = try LlamaContext(model: model, contextTokens: 64, sequences: 2, batchTokens: 512, threads: 2, sharedCache: true)
        let position = try context.decode(prompt, at: 0, sequence: 1)
        let entry: StreamEntry = (token, position, 1)
        if asEmbedding {
            try context.decodeStep([entry], runs: [(.image(chunk: 0, embeddings: [], tokens: 0, position: position), 0)], table: table)
        } else {
            try context.decodeStep([entry])
        }
        let row = try #require(llama_get_logits_ith(context.pointer, 0))
        return Array(UnsafeBufferPointer(start: row, count: model.vocabularySize))
    }

    @Test func aTokenAsItsEmbeddingRowGivesTheSameLogits() throws {
        try TestModels.require(TestModels.tinyText)
        _ = LlamaBackend.devices
        let model = try LlamaModel(path: TestModels.tinyText, gpuLayers: 0)
        let table = try #require(TokenEmbeddings(path: TestModels.tinyText, width: model.inputEmbeddingWidth))
        let prompt = model.tokenize("<start_of_turn>user\nIs there an effusion?", addBOS: true, special: true)
        for token in [prompt[3], 9_876, llama_token(model.vocabularySize - 1)] {
            let viaToken = try logits(model: model, table: table, prompt: prompt, token: token, asEmbedding: false)
            let viaRow = try logits(model: model, table: table, prompt: prompt, token: token, asEmbedding: true)
            // Counted, not compared as arrays: a failing comparison of 262,144 floats would be diffed for minutes.
            let differing = zip(viaToken, viaRow).filter { $0.0 != $0.1 }.count
            #expect(viaToken.count == model.vocabularySize && differing == 0, "token \(token): \(differing) logits differ")
        }
        // A row that is not scaled (or scaled twice) would not pass the comparison above; one past
        // the vocabulary is an error, not a read beyond the table.
        var row = [Float](repeating: 0, count: table.width)
        #expect(throws: InferenceError.self) { try table.write(llama_token(model.vocabularySize), to: &row) }
    }
}
