import Foundation

/// An identifier-free summary of a study, safe to log, store and return: no patient name, ID,
/// birth date, accession number, institution or dates unless `identifiers` was asked for.
public struct ImageMetadata: Sendable, Codable, Equatable {
    public var format: ImageFormat
    public var width: Int
    public var height: Int
    public var frames: Int
    public var channels: Int
    public var photometric: String?
    public var modality: String?
    public var bodyPart: String?
    public var manufacturer: String?
    public var bitsAllocated: Int?
    public var bitsStored: Int?
    public var signed: Bool?
    /// Row and column spacing in mm (DICOM Pixel Spacing; NIfTI pixdim).
    public var pixelSpacing: [Double]?
    public var sliceThickness: Double?
    public var window: WindowLevel?
    public var rescaleSlope: Double?
    public var rescaleIntercept: Double?
    /// Rescale Type (0028,1054), e.g. "HU", "US" (unspecified).
    public var rescaleType: String?
    public var transferSyntaxUID: String?
    public var transferSyntaxName: String?
    /// Used for sorting slices of a series; not identifying.
    public var instanceNumber: Int?
    public var imagePosition: [Double]?
    public var imageOrientation: [Double]?
    /// Enhanced multi-frame DICOM: the stored frame numbers (1-based) in slice order, by Plane
    /// Position along the slice normal; nil for other files and when a frame has no position.
    public var sliceOrder: [Int]?
    /// NIfTI: voxel grid, data type, and the orientation code of the stored axes (e.g. "RAS").
    public var volumeShape: [Int]?
    public var dataType: String?
    public var orientation: String?
    /// Patient identifiers, present only when explicitly requested.
    public var identifiers: [String: String]?

    public init(format: ImageFormat, width: Int, height: Int, frames: Int = 1, channels: Int = 1) {
        self.format = format
        self.width = width
        self.height = height
        self.frames = frames
        self.channels = channels
    }

    init(format: ImageFormat, image: MedImage) {
        self.init(format: format, width: image.width, height: image.height, frames: 1, channels: image.channels)
        photometric = image.photometric.rawValue
        bitsStored = image.maxValue > 255 ? 16 : 8
    }

    init(dicom ds: DicomDataSet, desc: PixelDescription, syntax: TransferSyntax, includeIdentifiers: Bool) {
        self.init(format: .dicom, width: desc.columns, height: desc.rows, frames: desc.frames, channels: desc.samplesPerPixel)
        photometric = desc.photometric
        modality = ds.string(Tag.modality)
        bodyPart = ds.string(Tag.bodyPart)
        manufacturer = ds.string(Tag.manufacturer)
        bitsAllocated = desc.bitsAllocated
        bitsStored = desc.bitsStored
        signed = desc.signed
        let spacing = ds.doubles(Tag.pixelSpacing)
        pixelSpacing = spacing.isEmpty ? nil : spacing
        sliceThickness = ds.double(Tag.sliceThickness)
        if let c = ds.doubles(Tag.windowCenter).first, let w = ds.doubles(Tag.windowWidth).first {
            window = WindowLevel(
                center: c, width: w, function: WindowLevel.Function(rawValue: ds.string(Tag.voiLUTFunction) ?? "") ?? .linear)
        }
        rescaleSlope = ds.double(Tag.rescaleSlope)
        rescaleIntercept = ds.double(Tag.rescaleIntercept)
        rescaleType = ds.string(Tag.rescaleType)
        transferSyntaxUID = syntax.uid.isEmpty ? nil : syntax.uid
        transferSyntaxName = syntax.uid.isEmpty ? nil : syntax.name
        instanceNumber = ds.int(Tag.instanceNumber)
        let position = ds.doubles(Tag.imagePosition)
        imagePosition = position.count == 3 ? position : nil
        let orientation = ds.doubles(Tag.imageOrientation)
        imageOrientation = orientation.count == 6 ? orientation : nil
        applyFunctionalGroups(ds, frames: desc.frames)
        if includeIdentifiers {
            var ids: [String: String] = [:]
            let named: [(String, DicomTag)] = [
                ("patientName", Tag.patientName), ("patientID", Tag.patientID),
                ("birthDate", Tag.birthDate), ("accessionNumber", Tag.accessionNumber),
                ("institution", Tag.institution), ("studyDate", Tag.studyDate)
            ]
            for (k, t) in named { if let v = ds.string(t) { ids[k] = v } }
            identifiers = ids
        }
    }

    /// Pretty-printed, key-sorted JSON.
    public func jsonString() -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? e.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
