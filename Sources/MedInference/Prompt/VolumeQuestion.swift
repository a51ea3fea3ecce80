import Foundation
import MedImaging

extension GenerationRequest {
    /// Google's CT recipe as one user turn: a line saying what follows, each slice followed by its
    /// label `SLICE n`, the prior report, then the question (the server, `ask` and `batch` share it).
    public static func volume(question: String, volume: VolumeInput, context: String? = nil, system: String? = nil,
                              maxNewTokens: Int = 512, sampling: SamplingOptions = SamplingOptions()) throws -> GenerationRequest {
        let kind = volume.packing == .ct ? "CT" : "image"
        var parts: [ContentPart] = [
            .text("The following \(volume.images.count) images are slices of one \(kind) volume, in order, each followed by its label.\n")
        ]
        for (index, image) in volume.images.enumerated() {
            parts.append(.image(try ModelImage(image)))
            parts.append(.text("SLICE \(index + 1)\n"))
        }
        if let context, !context.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            parts.append(.text("Prior report and clinical context:\n\(context)\n\n"))
        }
        parts.append(.text(question))
        return GenerationRequest(turns: [ChatTurn(role: .user, parts: parts)], system: system, maxNewTokens: maxNewTokens,
                                 sampling: sampling)
    }

    /// Tokens a volume slice costs beyond its image tokens: the image markers, the `SLICE n`
    /// label and the newlines the chat template adds (measured 8.4 with the Gemma 3 tokenizer, rounded up).
    public static let volumeSliceOverheadTokens = 10
}
