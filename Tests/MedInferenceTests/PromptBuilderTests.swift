import Testing

@testable import MedInference

@Suite("Gemma 3 prompt building")
struct PromptBuilderTests {
    private let pixel = ModelImage(width: 1, height: 1)

    @Test func textOnlyHasNoSystemByDefault() {
        let segments = PromptBuilder.segments(for: GenerationRequest(question: "Hi?"))
        #expect(segments == [.template("<start_of_turn>user\n"), .user("Hi?"), .template("<end_of_turn>\n<start_of_turn>model\n")])
    }

    @Test func imageAddsRadiologistSystemToFirstUserTurn() {
        let segments = PromptBuilder.segments(for: GenerationRequest(question: "Findings?", images: [pixel]))
        #expect(
            segments == [
                .template("<start_of_turn>user\n"),
                // One piece of text up to the image, as the Hugging Face processor tokenizes it.
                .user("You are an expert radiologist.\n\n\n\n"), .image(0),
                .user("\n\nFindings?"),
                .template("<end_of_turn>\n<start_of_turn>model\n")
            ])
    }

    @Test func explicitEmptySystemMeansNone() {
        var request = GenerationRequest(question: "Q", images: [pixel])
        request.system = ""
        #expect(
            !PromptBuilder.segments(for: request).contains { if case .user(let text) = $0 { text.contains("radiologist") } else { false } })
    }

    @Test func multiTurnKeepsOrderAndMergesSystemOnce() {
        let request = GenerationRequest(
            turns: [
                ChatTurn(role: .user, parts: [.text("first")]),
                ChatTurn(role: .model, parts: [.text("reply")]),
                ChatTurn(role: .user, parts: [.text("second"), .image(pixel), .text("SLICE 1")])
            ], system: "Be brief.")
        let segments = PromptBuilder.segments(for: request)
        #expect(
            segments == [
                .template("<start_of_turn>user\n"), .user("Be brief.\n\nfirst"),
                .template("<end_of_turn>\n<start_of_turn>model\n"), .user("reply"),
                .template("<end_of_turn>\n<start_of_turn>user\n"), .user("second\n\n"), .image(0), .user("\n\nSLICE 1"),
                .template("<end_of_turn>\n<start_of_turn>model\n")
            ])
    }

    @Test func rawModeIsVerbatim() {
        var request = GenerationRequest(question: "The capital of France is")
        request.raw = true
        #expect(PromptBuilder.segments(for: request) == [.user("The capital of France is")])
    }
}
