import Foundation
import MedImaging

/// An analysis made ready for an engine: the request, and the letterbox geometry of each image
/// so the model's boxes can be mapped back to the pixels the user sent.
public struct PreparedAnalysis: Sendable {
    public var request: GenerationRequest
    /// Letterbox placement of each image, in prompt order (one per slice for a volume).
    public var letterboxes: [LetterboxTransform]
    /// The slices shown, for a volume question.
    public var volume: VolumeInput?

    /// The model's boxes in the original pixels of the last image (the one a question is about);
    /// `nil` pixels for a box wholly on the padding. A volume's boxes cannot be placed on a slice.
    public func pixelBoxes(_ boxes: [ModelBox]) -> [(box: ModelBox, pixels: PixelBox?)] {
        let transform = volume == nil ? letterboxes.last : nil
        return boxes.map { box in (box, transform?.originalBox(fromNormalized: [box.y0, box.x0, box.y1, box.x1])) }
    }
}

/// The one place user input becomes a model request: the prompt wording, the default system
/// text (in `PromptBuilder`), the CT volume recipe's layout and letterboxing live here and
/// nowhere else. Every entry point calls `prepare`.
public enum AnalysisProcessor {
    /// Put before a prior report or clinical notes.
    public static let contextLabel = "Prior report and clinical context:\n"
    /// Tokens a volume slice costs beyond its image tokens: the image markers, the `SLICE n`
    /// label and the newlines the chat template adds (measured 8.4 with the Gemma 3 tokenizer, rounded up).
    public static let volumeSliceOverheadTokens = 10
    /// Appended to the question when a region is marked on an image.
    public static let regionNote = "\n(The region of interest is marked on the image with a red outline.)"

    /// Builds the engine request for `analysis`, with images letterboxed to the projector's `side`.
    public static func prepare(_ analysis: Analysis, side: Int) throws -> PreparedAnalysis {
        var letterboxes: [LetterboxTransform] = []
        var volume: VolumeInput?
        func modelImage(_ image: AnalysisImage) throws -> ContentPart {
            let (square, transform) = try ModelInput.image(
                from: image.study, frame: image.frame, window: image.window, side: side,
                marks: image.marks)
            letterboxes.append(transform)
            return .image(square)
        }
        let turns: [ChatTurn]
        switch analysis.input {
        case .images(let images):
            var parts = try images.map(modelImage)
            parts += contextParts(analysis.context)
            let marked = images.contains { !$0.marks.isEmpty }
            parts.append(.text(analysis.question + (marked ? regionNote : "") + constraintNote(analysis.constraint)))
            turns = [ChatTurn(role: .user, parts: parts)]
        case .volume(let request):
            let slices = try VolumeInput.make(
                from: request.studies, packing: request.packing, window: request.window,
                maximum: request.maxSlices, side: side)
            volume = slices
            letterboxes = Array(repeating: slices.transform, count: slices.images.count)
            turns = [
                ChatTurn(
                    role: .user,
                    parts: volumeParts(slices) + contextParts(analysis.context)
                        + [.text(analysis.question + constraintNote(analysis.constraint))])
            ]
        case .conversation(let given):
            var laidOut = try given.map { turn in
                ChatTurn(
                    role: turn.role,
                    parts: try turn.parts.map { part in
                        switch part {
                        case .text(let text): .text(text)
                        case .image(let image): try modelImage(image)
                        }
                    })
            }
            if analysis.constraint != nil, let last = laidOut.indices.last(where: { laidOut[$0].role == .user }) {
                laidOut[last].parts.append(.text(constraintNote(analysis.constraint)))
            }
            turns = laidOut
        }
        let request = GenerationRequest(
            turns: turns, system: analysis.system, maxNewTokens: analysis.maxNewTokens,
            sampling: analysis.sampling, stop: analysis.stop,
            ignoreEndOfSequence: analysis.ignoreEndOfSequence, raw: analysis.raw,
            constraint: analysis.constraint)
        return PreparedAnalysis(request: request, letterboxes: letterboxes, volume: volume)
    }

    /// Said after the question when the answer is constrained: the grammar forces the form, and
    /// a model told the form in words fills it with better values.
    public static func constraintNote(_ constraint: OutputConstraint?) -> String {
        switch constraint {
        case nil: ""
        case .jsonObject: "\n\nAnswer with a JSON object only."
        case .jsonSchema(let schema): "\n\nAnswer with a JSON object only, following this JSON Schema:\n" + schema
        }
    }

    /// The prior report, labelled, when there is one.
    private static func contextParts(_ context: String?) -> [ContentPart] {
        guard let context, !context.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return [] }
        return [.text(contextLabel + context + "\n\n")]
    }

    /// Google's CT recipe in one user turn: an instruction, then each slice followed by `SLICE n`.
    private static func volumeParts(_ volume: VolumeInput) -> [ContentPart] {
        let kind = volume.packing == .ct ? "CT" : "image"
        var parts: [ContentPart] = [
            .text("The following \(volume.images.count) images are slices of one \(kind) volume, in order, each followed by its label.\n")
        ]
        for (index, image) in volume.images.enumerated() {
            parts.append(.image(image))
            parts.append(.text("SLICE \(index + 1)\n"))
        }
        return parts
    }
}
