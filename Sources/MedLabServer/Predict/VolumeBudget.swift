import Foundation
import MedImaging
import MedInference

/// What `/api/predict` reports about a volume it showed the model (the `volume` field).
struct VolumeSummary: Encodable, Sendable {
    var packing: String
    var slicesShown: Int
    var slicesTotal: Int
    /// 1-based positions in the ordered volume; the prompt labels them SLICE 1 … SLICE n.
    var sliceNumbers: [Int]
    /// Why fewer slices than the recipe's 85 were shown, when that happened.
    var note: String?

    init(_ volume: VolumeInput, note: String?) {
        packing = volume.packing.rawValue
        slicesShown = volume.images.count
        slicesTotal = volume.totalSlices
        sliceNumbers = volume.sliceNumbers
        self.note = note
    }

    enum CodingKeys: String, CodingKey {
        case packing, note
        case slicesShown = "slices_shown"
        case slicesTotal = "slices_total"
        case sliceNumbers = "slice_numbers"
    }
}

/// How many slices of a volume the context can hold (the prompt itself is `AnalysisProcessor`'s).
enum VolumeBudget {
    /// Tokens a slice costs beyond its image tokens and the two marker tokens `checkFits` counts.
    static let labelTokens = AnalysisProcessor.volumeSliceOverheadTokens - 2
    /// Tokens kept for the answer when fitting slices into the context.
    static let answerReserve = 512

    /// The most slices a request may show: the recipe's 85, or what the context holds.
    /// An explicit `max_slices` is honoured as asked (and refused later if it cannot fit).
    static func sliceBudget(
        requested: Int?, textBytes: Int, maxNewTokens: Int, maxImages: Int,
        info: EngineInfo
    ) throws -> (maximum: Int, note: String?) {
        let recipe = min(VolumeRecipe.defaultSliceCount, maxImages)
        if let requested {
            guard (2...maxImages).contains(requested) else {
                throw LabError.badRequest(code: "invalid_request", message: "`max_slices` must be between 2 and \(maxImages)")
            }
            return (requested, nil)
        }
        let perSlice = (info.tokensPerImage ?? 0) + 2 + labelTokens
        let free = info.contextTokens - textBytes / 4 - 64 - min(maxNewTokens, answerReserve)
        let fits = perSlice > 0 ? free / perSlice : recipe
        guard fits >= 2 else {
            throw LabError.badRequest(
                code: "context_overflow",
                message:
                    "a context of \(info.contextTokens) tokens cannot hold two slices of \(perSlice) tokens; start the lab with a larger --ctx"
            )
        }
        guard fits < recipe else { return (recipe, nil) }
        let wanted = recipe * perSlice + 64 + answerReserve
        return (
            fits,
            "the context (\(info.contextTokens) tokens) holds \(fits) of the recipe's \(recipe) slices; "
                + "start the lab with --ctx \(((wanted + 1023) / 1024) * 1024) to show all of them"
        )
    }
}
