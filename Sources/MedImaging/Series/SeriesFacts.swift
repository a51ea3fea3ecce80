import Foundation

/// What ties a DICOM file to its series, held in memory only. Not `Codable` on purpose: the
/// Series Instance UID is an identifier and must never reach a response, a log or the record.
public struct SeriesFacts: Sendable, Equatable {
    /// Series Instance UID (0020,000E): used to group files, never shown.
    public var uid: String?
    /// Series Number (0020,0011).
    public var number: Int?
    /// Series Description (0008,103E), e.g. "CT CHEST W/O".
    public var description: String?
    /// Image Type (0008,0008) values, e.g. ["ORIGINAL", "PRIMARY", "LOCALIZER"].
    public var imageType: [String]

    public init(uid: String? = nil, number: Int? = nil, description: String? = nil, imageType: [String] = []) {
        self.uid = uid
        self.number = number
        self.description = description
        self.imageType = imageType
    }

    /// Whether the file says it is a scout (Image Type's third value LOCALIZER, as CT scanners write it).
    public var isLocalizer: Bool { imageType.contains { $0.uppercased() == "LOCALIZER" } }

    init(_ ds: DicomDataSet) {
        self.init(
            uid: ds.string(Tag.seriesInstanceUID), number: ds.int(Tag.seriesNumber), description: ds.string(Tag.seriesDescription),
            imageType: ds.strings(Tag.imageType))
    }
}
