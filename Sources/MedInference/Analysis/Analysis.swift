import Foundation
import MedImaging

/// One question about zero or more images, as a user asks it: every entry point (both APIs, the
/// page, `ask`, `batch`) builds one, and `AnalysisProcessor` alone turns it into an engine request.
public struct Analysis: Sendable {
    /// What the model is shown besides the question.
    public enum Input: Sendable {
        /// Separate images, in order (none for a text question); the last one is "the current study".
        case images([AnalysisImage])
        /// One volume under Google's CT recipe: a volume file, or the single-frame files of a series.
        case volume(VolumeRequest)
        /// Turns as an OpenAI client laid them out (several turns, or text before images); the
        /// question and context fields are then unused.
        case conversation([AnalysisTurn])
    }

    public var input: Input
    public var question: String
    /// A prior report or clinical notes, put before the question.
    public var context: String?
    /// `nil` means the default (`GenerationRequest.radiologistSystem` when there are images); "" means none.
    public var system: String?
    public var maxNewTokens: Int
    public var sampling: SamplingOptions
    /// Extra stop strings besides `<end_of_turn>`.
    public var stop: [String]
    /// Keep generating past end-of-sequence (benchmarks force a token count this way).
    public var ignoreEndOfSequence: Bool
    /// Plain completion without the chat template (base models).
    public var raw: Bool
    /// A limit on the answer's form; `nil` for free text.
    public var constraint: OutputConstraint?

    public init(
        input: Input = .images([]), question: String, context: String? = nil, system: String? = nil,
        maxNewTokens: Int = 512, sampling: SamplingOptions = SamplingOptions(), stop: [String] = [],
        ignoreEndOfSequence: Bool = false, raw: Bool = false, constraint: OutputConstraint? = nil
    ) {
        self.input = input
        self.question = question
        self.context = context
        self.system = system
        self.maxNewTokens = maxNewTokens
        self.sampling = sampling
        self.stop = stop
        self.ignoreEndOfSequence = ignoreEndOfSequence
        self.raw = raw
        self.constraint = constraint
    }
}

/// One decoded image and the choices that say how the model sees it.
public struct AnalysisImage: Sendable {
    public var study: DecodedStudy
    /// Frame of a multi-frame file or axial slice of a volume (0-based); `nil` is the representative one.
    public var frame: Int?
    public var window: WindowChoice
    /// Region marks in original pixel coordinates, drawn onto what the model sees.
    public var marks: [RegionMark]
    /// SHA-256 (hex) of the file's bytes as the user gave them: the record names images by it.
    public var sourceSHA256: String?

    public init(
        study: DecodedStudy, frame: Int? = nil, window: WindowChoice = .fileDefault, marks: [RegionMark] = [],
        sourceSHA256: String? = nil
    ) {
        self.study = study
        self.frame = frame
        self.window = window
        self.marks = marks
        self.sourceSHA256 = sourceSHA256
    }
}

/// A volume question's files and choices.
public struct VolumeRequest: Sendable {
    public var studies: [DecodedStudy]
    /// `nil`: CT packing when every file says CT, else grey.
    public var packing: VolumeInput.Packing?
    public var window: WindowChoice
    /// Most slices shown (the recipe's 85, or fewer when the context holds fewer).
    public var maxSlices: Int
    /// SHA-256 (hex) of each file's bytes as given, in `studies` order.
    public var sourceSHA256: [String]

    public init(
        studies: [DecodedStudy], packing: VolumeInput.Packing? = nil, window: WindowChoice = .fileDefault,
        maxSlices: Int = VolumeRecipe.defaultSliceCount, sourceSHA256: [String] = []
    ) {
        self.studies = studies
        self.packing = packing
        self.window = window
        self.maxSlices = maxSlices
        self.sourceSHA256 = sourceSHA256
    }
}

/// One turn of a client-laid-out conversation.
public struct AnalysisTurn: Sendable {
    /// A piece of a turn, in reading order.
    public enum Part: Sendable {
        case text(String)
        case image(AnalysisImage)
    }

    public var role: ChatTurn.Role
    public var parts: [Part]

    public init(role: ChatTurn.Role, parts: [Part]) {
        self.role = role
        self.parts = parts
    }
}

/// A limit on the form of the answer (grammar-constrained sampling fills this in).
public enum OutputConstraint: Sendable, Equatable {
    /// Any JSON object.
    case jsonObject
    /// JSON following this JSON Schema (its text).
    case jsonSchema(String)
}
