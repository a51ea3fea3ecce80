import Foundation

/// A scalar 3-D grid in radiological orientation: index `x` runs from the patient's right to
/// left, `y` from anterior to posterior, `z` from inferior to superior. Axial slices therefore
/// show the patient's right on the image's left, anterior at the top — the radiological
/// convention — and coronal/sagittal slices put superior at the top (sagittal: anterior left).
public struct Volume: Sendable, Equatable {
    /// Slicing direction.
    public enum Plane: String, Sendable, Codable, CaseIterable {
        case axial, coronal, sagittal
    }

    public let width: Int
    public let height: Int
    public let depth: Int
    /// `width * height * depth` values, x fastest, then y, then z.
    public let samples: [Float]
    /// Voxel size in mm along x, y, z.
    public let spacing: [Double]
    public var defaultWindow: WindowLevel?

    public init(width: Int, height: Int, depth: Int, samples: [Float], spacing: [Double] = [1, 1, 1], defaultWindow: WindowLevel? = nil)
        throws
    {
        guard width > 0, height > 0, depth > 0, samples.count == width * height * depth else {
            throw ImagingError.malformed("volume buffer of \(samples.count) values does not match \(width)×\(height)×\(depth)")
        }
        self.width = width
        self.height = height
        self.depth = depth
        self.samples = samples
        self.spacing = spacing.count == 3 ? spacing : [1, 1, 1]
        self.defaultWindow = defaultWindow
    }

    /// Number of slices along `plane`.
    public func sliceCount(_ plane: Plane) -> Int {
        switch plane {
        case .axial: depth
        case .coronal: height
        case .sagittal: width
        }
    }

    /// Slice `index` (0-based; axial counts from inferior, coronal from anterior, sagittal from
    /// the patient's right). Pixels are not resampled to square; `pixelAspect` says how tall one is.
    public func slice(_ plane: Plane, index: Int) throws -> MedImage {
        let count = sliceCount(plane)
        guard index >= 0, index < count else {
            throw ImagingError.invalidArgument("\(plane.rawValue) slice \(index + 1) does not exist (the volume has \(count))")
        }
        let w: Int
        let h: Int
        var out: [Float]
        switch plane {
        case .axial:
            w = width
            h = height
            let start = index * width * height
            out = Array(samples[start..<(start + width * height)])
        case .coronal:
            w = width
            h = depth
            out = [Float](repeating: 0, count: w * h)
            for r in 0..<h {
                let z = depth - 1 - r
                for x in 0..<width { out[r * w + x] = samples[(z * height + index) * width + x] }
            }
        case .sagittal:
            w = height
            h = depth
            out = [Float](repeating: 0, count: w * h)
            for r in 0..<h {
                let z = depth - 1 - r
                for y in 0..<height { out[r * w + y] = samples[(z * height + y) * width + index] }
            }
        }
        var image = try MedImage(
            width: w, height: h, channels: 1, samples: out, photometric: .monochrome2,
            maxValue: 65535, defaultWindow: defaultWindow)
        let (across, down): (Double, Double) =
            switch plane {
            case .axial: (spacing[0], spacing[1])
            case .coronal: (spacing[0], spacing[2])
            case .sagittal: (spacing[1], spacing[2])
            }
        if across > 0, down > 0, (0.05...20).contains(down / across) { image.pixelAspect = down / across }
        return image
    }

    /// All axial slices, inferior to superior (input for `VolumeRecipe`).
    public func axialSlices() throws -> [MedImage] { try (0..<depth).map { try slice(.axial, index: $0) } }
}
