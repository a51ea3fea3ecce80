import Foundation
import MedLabTestSupport
import Testing

@testable import MedInference

@Suite("Model loading errors are typed and explain themselves", .serialized)
struct LoadErrorTests {
    @Test func missingFileSaysWhatToDownload() async {
        let files = ModelFiles(model: "/nonexistent/medgemma.gguf", projector: nil)
        await #expect {
            _ = try await LlamaEngine.load(files)
        } throws: { error in
            guard case InferenceError.modelMissing(let path, let hint) = error else { return false }
            return path == "/nonexistent/medgemma.gguf" && hint.contains("mmproj") && hint.contains(".cache/medlab/models")
        }
    }

    @Test func junkFileIsNotGGUF() async throws {
        try TestModels.require(TestModels.notAModel)
        await #expect(throws: InferenceError.notGGUF(path: TestModels.notAModel)) {
            _ = try await LlamaEngine.load(ModelFiles(model: TestModels.notAModel, projector: nil))
        }
    }

    @Test func truncatedFilesSayHowMuchIsMissing() async throws {
        try TestModels.require(TestModels.tinyText)
        let whole = try Data(contentsOf: URL(fileURLWithPath: TestModels.tinyText))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medlab-truncated-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // Cut in the header (its vocabulary) and cut in the tensor data: both are interrupted downloads.
        for (name, length) in [("header.gguf", 1 << 16), ("tensors.gguf", whole.count - 4096)] {
            let path = directory.appendingPathComponent(name).path
            try whole.prefix(length).write(to: URL(fileURLWithPath: path))
            await #expect {
                _ = try await LlamaEngine.load(ModelFiles(model: path, projector: nil))
            } throws: { error in
                guard case InferenceError.truncatedGGUF(let reported, let detail) = error, reported == path else { return false }
                let said = String(describing: error)
                return said.contains("\(length) bytes") && said.contains("medlab pull")
                    && (name == "header.gguf" || detail.contains("tensors end at \(whole.count)"))
            }
        }
    }

    @Test func projectorGivenAsTextModelIsRefused() async throws {
        try TestModels.require(TestModels.tinyProjector)
        await #expect {
            _ = try await LlamaEngine.load(ModelFiles(model: TestModels.tinyProjector, projector: nil))
        } throws: { error in
            if case InferenceError.wrongModelKind(_, let expected, _) = error { return expected == "text model" }
            return false
        }
    }

    @Test func textModelGivenAsProjectorIsRefused() async throws {
        try TestModels.require(TestModels.tinyText)
        await #expect {
            _ = try await LlamaEngine.load(ModelFiles(model: TestModels.tinyText, projector: TestModels.tinyText))
        } throws: { error in
            if case InferenceError.wrongModelKind(_, let expected, _) = error { return expected.contains("projector") }
            return false
        }
    }

    @Test func widthMismatchCarriesLlamaMessage() async throws {
        try TestModels.require(TestModels.tinyText, TestModels.mismatchedProjector)
        await #expect {
            _ = try await LlamaEngine.load(ModelFiles(model: TestModels.tinyText, projector: TestModels.mismatchedProjector))
        } throws: { error in
            guard case InferenceError.projectorMismatch(let message) = error else { return false }
            return message.contains("n_embd")
        }
    }

    @Test func projectorWithoutVisionIsRefused() async throws {
        try TestModels.require(TestModels.tinyText, TestModels.projectorWithoutVision)
        await #expect(throws: InferenceError.projectorWithoutVision(path: TestModels.projectorWithoutVision)) {
            _ = try await LlamaEngine.load(ModelFiles(model: TestModels.tinyText, projector: TestModels.projectorWithoutVision))
        }
    }

    @Test func imagesWithoutProjectorAreRefused() async throws {
        let engine = try await SharedEngines.shared.engine(model: TestModels.tinyText, projector: nil)
        await #expect(throws: InferenceError.visionUnavailable) {
            _ = try await engine.answer(GenerationRequest(question: "?", images: [TestModels.pattern(width: 8, height: 8)]))
        }
    }
}
