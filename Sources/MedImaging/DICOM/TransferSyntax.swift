import Foundation

/// A DICOM transfer syntax: how the data set is encoded and how pixel data is compressed.
public struct TransferSyntax: Sendable, Equatable, Codable {
    public static let implicitLittle = "1.2.840.10008.1.2"
    public static let explicitLittle = "1.2.840.10008.1.2.1"
    public static let deflated = "1.2.840.10008.1.2.1.99"
    public static let explicitBig = "1.2.840.10008.1.2.2"

    /// Which decoder handles the pixel data.
    public enum Codec: String, Sendable, Codable {
        case native, rle, jpegBaseline, jpegExtended, jpegLossless, jpegLS, jpeg2000, htj2k, unsupported
    }

    public let uid: String

    public init(uid: String) { self.uid = uid.trimmingCharacters(in: CharacterSet(charactersIn: " \0")) }

    private static let table: [String: (String, Codec)] = [
        implicitLittle: ("Implicit VR Little Endian", .native),
        explicitLittle: ("Explicit VR Little Endian", .native),
        deflated: ("Deflated Explicit VR Little Endian", .native),
        explicitBig: ("Explicit VR Big Endian", .native),
        "1.2.840.10008.1.2.5": ("RLE Lossless", .rle),
        "1.2.840.10008.1.2.4.50": ("JPEG Baseline (Process 1)", .jpegBaseline),
        "1.2.840.10008.1.2.4.51": ("JPEG Extended (Process 2 & 4)", .jpegExtended),
        "1.2.840.10008.1.2.4.57": ("JPEG Lossless, Non-Hierarchical (Process 14)", .jpegLossless),
        "1.2.840.10008.1.2.4.70": (
            "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])", .jpegLossless
        ),
        "1.2.840.10008.1.2.4.80": ("JPEG-LS Lossless", .jpegLS),
        "1.2.840.10008.1.2.4.81": ("JPEG-LS Near-Lossless", .jpegLS),
        "1.2.840.10008.1.2.4.90": ("JPEG 2000 Image Compression (Lossless Only)", .jpeg2000),
        "1.2.840.10008.1.2.4.91": ("JPEG 2000 Image Compression", .jpeg2000),
        "1.2.840.10008.1.2.4.201": ("High-Throughput JPEG 2000 (Lossless Only)", .htj2k),
        "1.2.840.10008.1.2.4.202": ("High-Throughput JPEG 2000 with RPCL Options (Lossless Only)", .htj2k),
        "1.2.840.10008.1.2.4.203": ("High-Throughput JPEG 2000", .htj2k),
        "1.2.840.10008.1.2.4.100": ("MPEG2 Main Profile / Main Level", .unsupported),
        "1.2.840.10008.1.2.4.101": ("MPEG2 Main Profile / High Level", .unsupported),
        "1.2.840.10008.1.2.4.102": ("MPEG-4 AVC/H.264 High Profile / Level 4.1", .unsupported),
        "1.2.840.10008.1.2.4.103": ("MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1", .unsupported),
        "1.2.840.10008.1.2.4.104": ("MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video", .unsupported),
        "1.2.840.10008.1.2.4.105": ("MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video", .unsupported),
        "1.2.840.10008.1.2.4.106": ("MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2", .unsupported),
        "1.2.840.10008.1.2.4.107": ("HEVC/H.265 Main Profile / Level 5.1", .unsupported),
        "1.2.840.10008.1.2.4.108": ("HEVC/H.265 Main 10 Profile / Level 5.1", .unsupported),
        "1.2.840.10008.1.2.4.53": ("JPEG Spectral Selection, Non-Hierarchical (retired)", .unsupported),
        "1.2.840.10008.1.2.4.55": ("JPEG Full Progression, Non-Hierarchical (retired)", .unsupported),
        "1.2.840.10008.1.2.4.92": ("JPEG 2000 Part 2 Multi-component (Lossless Only)", .unsupported),
        "1.2.840.10008.1.2.4.93": ("JPEG 2000 Part 2 Multi-component", .unsupported),
        "1.2.840.10008.1.2.4.94": ("JPIP Referenced", .unsupported),
        "1.2.840.10008.1.2.4.95": ("JPIP Referenced Deflate", .unsupported),
        "1.2.840.10008.1.2.4.110": ("JPEG XL Lossless", .unsupported),
        "1.2.840.10008.1.2.4.111": ("JPEG XL JPEG Recompression", .unsupported),
        "1.2.840.10008.1.2.4.112": ("JPEG XL", .unsupported)
    ]

    /// The standard's name, or "unknown" for a UID not in PS3.6 Table A-1 as we know it.
    public var name: String { Self.table[uid]?.0 ?? "unknown transfer syntax" }
    public var codec: Codec { Self.table[uid]?.1 ?? .unsupported }
    public var isBigEndian: Bool { uid == Self.explicitBig }
    public var isExplicitVR: Bool { uid != Self.implicitLittle }
    public var isDeflated: Bool { uid == Self.deflated }
    public var isEncapsulated: Bool { codec != .native }
}
