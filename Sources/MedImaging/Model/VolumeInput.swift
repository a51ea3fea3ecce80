import Foundation

/// What the model sees of a volume under Google's CT recipe: the sampled slices, each packed
/// (three HU windows for CT, one window in grey otherwise) and letterboxed.
public struct VolumeInput: Sendable {
    /// How a slice becomes RGB.
    public enum Packing: String, Sendable, Codable, Equatable {
        /// R/G/B = the recipe's three HU windows.
        case ct
        /// One window (the request's, else the file's) on all three channels.
        case grey
    }

    /// The model's squares, in volume order; the prompt labels them `SLICE 1` … `SLICE n`.
    public let images: [RGBImage]
    /// 1-based positions in the ordered volume of the slices shown.
    public let sliceNumbers: [Int]
    /// Slices the volume has.
    public let totalSlices: Int
    public let packing: Packing
    /// The letterbox placement shared by every slice (all slices have one size).
    public let transform: LetterboxTransform
    /// Identifier-free facts about the first study.
    public let metadata: ImageMetadata

    /// Builds the recipe's input from one study holding a volume (NIfTI, multi-frame DICOM, its
    /// frames in `DecodedStudy.sliceOrder`) or a series of single-frame studies (ordered as
    /// `ModelInput.seriesOrder` says).
    /// `packing` nil means: `.ct` when every study says modality CT, else `.grey`.
    public static func make(
        from studies: [DecodedStudy], packing: Packing? = nil, window: WindowChoice = .fileDefault,
        maximum: Int = VolumeRecipe.defaultSliceCount, side: Int = 896
    ) throws -> VolumeInput {
        guard let first = studies.first else { throw ImagingError.invalidArgument("a volume needs at least one file") }
        let slices = try orderedSlices(studies)
        guard slices.count > 1 else {
            throw ImagingError.invalidArgument("a volume needs more than one slice; this input has 1 (send it as a single image)")
        }
        let packing = packing ?? (studies.allSatisfy { $0.metadata.modality?.uppercased() == "CT" } ? .ct : .grey)
        let picks = VolumeRecipe.sampleIndices(count: slices.count, maximum: maximum)
        var images: [RGBImage] = []
        var transform: LetterboxTransform?
        for index in picks {
            let slice = try slices[index]()
            let rgb = packing == .ct ? try VolumeRecipe.packCT(slice) : Renderer.render(slice, window: window)
            let fitted = Letterbox.fit(rgb, side: side, pixelAspect: slice.pixelAspect)
            images.append(fitted.image)
            transform = transform ?? fitted.transform
        }
        return VolumeInput(
            images: images, sliceNumbers: picks.map { $0 + 1 }, totalSlices: slices.count, packing: packing,
            transform: transform!, metadata: first.metadata)
    }

    /// The volume's slices in order, as loaders so a 300-slice NIfTI only cuts the 85 it shows.
    private static func orderedSlices(_ studies: [DecodedStudy]) throws -> [() throws -> MedImage] {
        if studies.count == 1 {
            let study = studies[0]
            // An enhanced multi-frame file may store its frames out of order; its Plane Positions say the order.
            return study.sliceOrder.map { index in { try study.frame(index) } }
        }
        if let index = studies.firstIndex(where: { $0.frameCount != 1 }) {
            throw ImagingError.invalidArgument(
                "file \(index + 1) has \(studies[index].frameCount) frames; a series is sent as single-frame files, a volume as one file")
        }
        let order = studies.allSatisfy { $0.format == .dicom } ? ModelInput.seriesOrder(studies) : Array(studies.indices)
        let width = studies[0].metadata.width
        let height = studies[0].metadata.height
        if let index = studies.firstIndex(where: { $0.metadata.width != width || $0.metadata.height != height }) {
            let other = studies[index].metadata
            throw ImagingError.invalidArgument(
                "file \(index + 1) is \(other.width)×\(other.height) but file 1 is \(width)×\(height); one volume has one slice size")
        }
        return order.map { index in { try studies[index].frame(0) } }
    }
}
