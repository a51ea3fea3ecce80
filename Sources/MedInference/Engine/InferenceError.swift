import Foundation

/// What can go wrong below the server, typed so each layer maps it to its own answer.
public enum InferenceError: Error, Equatable, CustomStringConvertible {
    /// A model file is not where it was looked for; `hint` says what to download and where.
    case modelMissing(path: String, hint: String)
    /// The file exists but is not a GGUF model.
    case notGGUF(path: String)
    /// The file starts as a GGUF but ends early or is damaged (an interrupted download, most often).
    case truncatedGGUF(path: String, detail: String)
    /// The file is a GGUF of the wrong kind (a projector given as the text model, or the reverse).
    case wrongModelKind(path: String, expected: String, found: String)
    /// The projector and text model do not fit together (llama.cpp's message).
    case projectorMismatch(String)
    /// The projector has no vision encoder.
    case projectorWithoutVision(path: String)
    /// llama.cpp refused to load a model (its message).
    case loadFailed(String)
    /// The request asked for images but no projector is loaded.
    case visionUnavailable
    /// Prompt (text + images) needs more tokens than the context holds.
    case contextOverflow(needed: Int, available: Int)
    /// The request itself is malformed.
    case badRequest(String)
    /// Decoding failed in llama.cpp.
    case generationFailed(String)
    /// The engine is not ready (still loading or no model).
    case unavailable(String)

    public var description: String {
        switch self {
        case .modelMissing(let path, let hint): "model file not found: \(path)\n\(hint)"
        case .notGGUF(let path): "not a GGUF model file: \(path)"
        case .truncatedGGUF(let path, let detail):
            "the GGUF file is truncated or damaged (\(detail)): \(path); download it again (`medlab pull`)"
        case .wrongModelKind(let path, let expected, let found):
            "\(path) is a \(found) file, expected a \(expected) file"
        case .projectorMismatch(let message): "projector does not fit the text model: \(message)"
        case .projectorWithoutVision(let path): "projector has no vision encoder: \(path)"
        case .loadFailed(let message): "llama.cpp could not load the model: \(message)"
        case .visionUnavailable: "this request has images but no vision projector (mmproj) is loaded"
        case .contextOverflow(let needed, let available):
            "the prompt needs \(needed) tokens but the context holds \(available); use fewer images or a larger --ctx"
        case .badRequest(let message): message
        case .generationFailed(let message): "generation failed: \(message)"
        case .unavailable(let message): message
        }
    }
}
