import Foundation

/// How the samples of a `MedImage` are to be read for display (DICOM PS3.3 C.7.6.3.1.2).
public enum Photometric: String, Sendable, Codable, Equatable {
    /// One channel; the lowest value is white (inverted after the VOI LUT).
    case monochrome1 = "MONOCHROME1"
    /// One channel; the lowest value is black.
    case monochrome2 = "MONOCHROME2"
    /// Three channels, red green blue, already converted from YBR/palette where needed.
    case rgb = "RGB"
}

/// A decoded image frame: samples row by row, channels interleaved, no padding.
///
/// Grey samples are *modality values* (after the Modality LUT: Hounsfield units for CT,
/// scaled values for NIfTI with `scl_slope`), so windows in HU apply directly. Colour samples
/// are in `0...maxValue` per channel.
public struct MedImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// 1 (grey) or 3 (RGB).
    public let channels: Int
    /// `width * height * channels` values.
    public var samples: [Float]
    public var photometric: Photometric
    /// Largest representable stored value for colour (255 for 8-bit, 65535 for 16-bit PNG);
    /// for grey images the natural full range used when nothing better is known.
    public var maxValue: Float
    /// The window the file suggests (DICOM Window Center/Width, NIfTI cal_min/cal_max), if any.
    public var defaultWindow: WindowLevel?
    /// The file's VOI LUT table (VOI LUT Sequence), preferred over `defaultWindow` as pydicom does.
    public var voiLUT: LookupTable?
    /// A pixel's physical height over its width (row spacing / column spacing): 1 for square
    /// pixels, 5 for a coronal CT slice of 0.7 mm pixels and 3.5 mm slices. Previews and the
    /// model's square use it to show true proportions; the sample grid itself stays as stored.
    public var pixelAspect: Double = 1

    /// Creates an image; throws when the buffer does not match the size.
    public init(
        width: Int, height: Int, channels: Int, samples: [Float], photometric: Photometric,
        maxValue: Float = 255, defaultWindow: WindowLevel? = nil, voiLUT: LookupTable? = nil
    ) throws {
        guard width > 0, height > 0, channels == 1 || channels == 3,
            samples.count == width * height * channels
        else {
            throw ImagingError.malformed("pixel buffer of \(samples.count) samples does not match \(width)×\(height)×\(channels)")
        }
        self.width = width
        self.height = height
        self.channels = channels
        self.samples = samples
        self.photometric = photometric
        self.maxValue = maxValue
        self.defaultWindow = defaultWindow
        self.voiLUT = voiLUT
    }

    /// Smallest and largest finite sample (all channels); (0, 0) when there is none. NaN voxels
    /// (common outside the brain mask of float NIfTI files) must not decide the window.
    public var range: (min: Float, max: Float) {
        var lo = Float.infinity
        var hi = -Float.infinity
        for v in samples where v.isFinite {
            if v < lo { lo = v }
            if v > hi { hi = v }
        }
        return lo <= hi ? (lo, hi) : (0, 0)
    }
}

/// The container a study came in.
public enum ImageFormat: String, Sendable, Codable, Equatable {
    case png, jpeg, dicom, nifti
}

/// What `ImageDecoder.decode` returns: the frames (one for PNG/JPEG, frames of a multi-frame
/// DICOM, or a volume for NIfTI) plus an identifier-free summary.
public struct DecodedStudy: Sendable {
    public let format: ImageFormat
    /// Decoded 2-D frames. Empty when the study is a `volume` (read slices from it instead).
    public let frames: [MedImage]
    /// Set for NIfTI: a 3-D grid in radiological orientation; slice it with `Volume.slice`.
    public let volume: Volume?
    public let metadata: ImageMetadata
    /// DICOM only: what groups the file with its series (kept out of `metadata`, which is returned and stored).
    public var series: SeriesFacts?

    public init(format: ImageFormat, frames: [MedImage], volume: Volume? = nil, metadata: ImageMetadata, series: SeriesFacts? = nil) {
        self.format = format
        self.frames = frames
        self.volume = volume
        self.metadata = metadata
        self.series = series
    }

    /// Number of frames or axial slices.
    public var frameCount: Int { volume?.depth ?? frames.count }

    /// Frame `index` (0-based) or, for a volume, axial slice `index`.
    public func frame(_ index: Int) throws -> MedImage {
        if let volume { return try volume.slice(.axial, index: index) }
        guard frames.indices.contains(index) else {
            throw ImagingError.invalidArgument("frame \(index + 1) does not exist (the study has \(frames.count))")
        }
        return frames[index]
    }

    /// Frame indices (0-based) in slice order: `metadata.sliceOrder` when it covers the decoded
    /// frames (an enhanced multi-frame volume decoded whole), else stored order.
    public var sliceOrder: [Int] {
        let stored = Array(0..<frameCount)
        guard volume == nil, let order = metadata.sliceOrder?.map({ $0 - 1 }), order.sorted() == stored else { return stored }
        return order
    }

    /// The frame a single-image consumer should show: the first frame, or the middle axial slice.
    public func representativeFrame() throws -> MedImage {
        if let volume { return try volume.slice(.axial, index: volume.depth / 2) }
        return try frame(0)
    }
}
