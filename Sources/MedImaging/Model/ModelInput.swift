import Foundation

/// The one call the server, the CLI and batch use to turn a decoded study into what the model
/// sees, and the ordering of a DICOM series.
public enum ModelInput {
    /// Renders `frame` (0-based; default: first frame, or middle axial slice of a volume) with
    /// `window`, letterboxes it into a `side` square, and draws `marks` (original pixel
    /// coordinates) onto it. Keep the transform to map model boxes back.
    public static func image(
        from study: DecodedStudy, frame: Int? = nil, window: WindowChoice = .fileDefault,
        side: Int = 896, marks: [RegionMark] = []
    ) throws -> (image: RGBImage, transform: LetterboxTransform) {
        let source = try frame.map { try study.frame($0) } ?? study.representativeFrame()
        var (square, transform) = Letterbox.fit(
            Renderer.render(source, window: window), side: side,
            pixelAspect: source.pixelAspect)
        if !marks.isEmpty { RegionMark.draw(marks, on: &square, transform: transform) }
        return (square, transform)
    }

    /// Orders the single-frame studies of a DICOM series as the CT recipe says: by Instance
    /// Number, then by position along the slice normal, then by input order. Returns indices.
    public static func seriesOrder(_ studies: [DecodedStudy]) -> [Int] {
        func position(_ m: ImageMetadata) -> Double {
            guard let p = m.imagePosition, p.count == 3 else { return 0 }
            guard let o = m.imageOrientation, o.count == 6 else { return p[2] }
            let n = [o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]]
            return p[0] * n[0] + p[1] * n[1] + p[2] * n[2]
        }
        return studies.indices.sorted { a, b in
            let ma = studies[a].metadata
            let mb = studies[b].metadata
            if let ia = ma.instanceNumber, let ib = mb.instanceNumber, ia != ib { return ia < ib }
            let pa = position(ma)
            let pb = position(mb)
            if pa != pb { return pa < pb }
            return a < b
        }
    }
}
