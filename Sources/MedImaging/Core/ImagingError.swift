import Foundation

/// Everything that can go wrong while turning uploaded bytes into pixels.
/// Each case renders as one sentence that a person can act on (`description`).
public enum ImagingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bytes are not PNG, JPEG, DICOM or NIfTI.
    case notAnImage(String)
    /// The file ends before the structure it announced (header, element, pixel data).
    case truncated(String)
    /// The structure is inconsistent (bad lengths, impossible dimensions, codec failure).
    case malformed(String)
    /// A DICOM transfer syntax this build cannot decode, named by UID and name.
    case unsupportedTransferSyntax(uid: String, name: String)
    /// A feature of an otherwise valid file that is not implemented (e.g. a rare data type).
    case unsupported(String)
    /// The image is larger than the configured pixel limit (checked before decoding pixels).
    case tooLarge(width: Int, height: Int, frames: Int, limit: Int)
    /// A requested frame, slice or window does not exist or cannot be parsed.
    case invalidArgument(String)
    /// An encoder (PNG/JPEG out) failed.
    case encodingFailed(String)

    public var description: String {
        switch self {
        case .notAnImage(let s): return "not an image: \(s)"
        case .truncated(let s): return "truncated file: \(s)"
        case .malformed(let s): return "malformed file: \(s)"
        case .unsupportedTransferSyntax(let uid, let name):
            return "unsupported DICOM transfer syntax \(name) (\(uid))"
        case .unsupported(let s): return "unsupported: \(s)"
        case .tooLarge(let w, let h, let f, let limit):
            let frames = f > 1 ? " × \(f) frames" : ""
            return "image too large: \(w)×\(h)\(frames) exceeds the limit of \(limit) pixels"
        case .invalidArgument(let s): return "invalid argument: \(s)"
        case .encodingFailed(let s): return "encoding failed: \(s)"
        }
    }
}

extension ImagingError: LocalizedError {
    public var errorDescription: String? { description }
}
