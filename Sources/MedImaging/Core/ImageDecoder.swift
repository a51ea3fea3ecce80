import Foundation

/// Limits and choices for decoding. The defaults accept anything up to 8192×8192 per frame.
public struct DecodeOptions: Sendable, Equatable {
    /// Largest width × height of one frame; larger images fail with `tooLarge` before their
    /// pixels are decoded.
    public var maxPixels: Int
    /// Largest total number of samples over all frames or voxels decoded at once.
    public var maxTotalSamples: Int
    /// Largest size of inflated data (gzip NIfTI, deflated DICOM): bounds zip bombs.
    public var maxInflatedBytes: Int
    /// Decode only this frame (0-based) of a multi-frame DICOM; nil decodes all.
    public var frame: Int?
    /// Put patient identifiers into the metadata summary. Off by default: they must not reach
    /// logs, prompts, the database or API responses unless a person asks for them.
    public var includeIdentifiers: Bool

    public init(
        maxPixels: Int = 8192 * 8192, maxTotalSamples: Int = 512 * 1024 * 1024,
        maxInflatedBytes: Int = 2 * 1024 * 1024 * 1024, frame: Int? = nil, includeIdentifiers: Bool = false
    ) {
        self.maxPixels = maxPixels
        self.maxTotalSamples = maxTotalSamples
        self.maxInflatedBytes = maxInflatedBytes
        self.frame = frame
        self.includeIdentifiers = includeIdentifiers
    }
}

/// The one entry point for uploaded bytes: sniffs the format by its magic bytes (the file name
/// only breaks ties, e.g. a NIfTI-1 `.nii` vs a headerless blob) and decodes it.
public enum ImageDecoder {
    /// Which format the bytes are, or nil when none matches.
    public static func sniff(_ data: Data, filenameHint: String? = nil) -> ImageFormat? {
        let head = [UInt8](data.prefix(560))
        if head.starts(with: PNGCodec.signature) { return .png }
        if head.count >= 3, head[0] == 0xFF, head[1] == 0xD8, head[2] == 0xFF { return .jpeg }
        if head.count >= 2, head[0] == 0x1F, head[1] == 0x8B { return .nifti }  // gzip: only NIfTI travels gzipped here
        if NiftiReader.headerKind(head) != nil { return .nifti }
        if DicomParser.sniff(data) { return .dicom }
        if let name = filenameHint?.lowercased() {
            if name.hasSuffix(".dcm") || name.hasSuffix(".dicom") { return .dicom }
        }
        return nil
    }

    /// Decodes PNG, JPEG, DICOM (with or without preamble, any supported transfer syntax) or
    /// NIfTI-1/2 (optionally gzip-compressed).
    public static func decode(data: Data, filenameHint: String? = nil, options: DecodeOptions = DecodeOptions()) throws -> DecodedStudy {
        guard !data.isEmpty else { throw ImagingError.notAnImage("the file is empty") }
        guard let format = sniff(data, filenameHint: filenameHint) else {
            let name = filenameHint.map { " (\(($0 as NSString).lastPathComponent))" } ?? ""
            throw ImagingError.notAnImage("\(data.count) bytes\(name) are not PNG, JPEG, DICOM or NIfTI")
        }
        switch format {
        case .png:
            let image = try PNGCodec.decode(data, maxPixels: options.maxPixels)
            return DecodedStudy(format: .png, frames: [image], metadata: ImageMetadata(format: .png, image: image))
        case .jpeg:
            let image = try JPEGCodec.decodeImage(data, maxPixels: options.maxPixels)
            return DecodedStudy(format: .jpeg, frames: [image], metadata: ImageMetadata(format: .jpeg, image: image))
        case .dicom:
            return try DicomDecoder.decode(data, options: options)
        case .nifti:
            return try NiftiReader.decode(data, options: options)
        }
    }

    /// Reads and decodes a file.
    public static func decode(contentsOf url: URL, options: DecodeOptions = DecodeOptions()) throws -> DecodedStudy {
        let data: Data
        do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw ImagingError.invalidArgument("cannot read \(url.path): \(error.localizedDescription)")
        }
        return try decode(data: data, filenameHint: url.lastPathComponent, options: options)
    }
}
