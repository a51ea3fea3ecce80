import Foundation
import MedInference

/// One analysis as the record keeps it: what was asked, about which images (by hash, never by
/// patient), with which model and settings, and what came back — or the error that came instead.
/// Its JSON form is the `/api/analyses` shape and the `record export --format jsonl` line.
public struct RecordedAnalysis: Codable, Sendable, Equatable {
    public var id: String
    public var createdAt: Date
    /// `api`, `openai`, `page`, `ask` or `batch`.
    public var source: String
    /// The batch run a row belongs to.
    public var runID: String?
    /// `ok`, or `error` with `error` set.
    public var status: String
    public var question: String
    /// Prior report or clinical context, as typed.
    public var context: String?
    /// The system text given (`nil`: the default).
    public var system: String?
    public var answer: String?
    public var reasoning: String?
    /// Boxes in the original pixels of the image asked about.
    public var boxes: [RecordedBox]
    public var images: [RecordedImage]
    public var params: RecordedParams
    public var model: RecordedModel
    public var engine: RecordedEngine
    public var timings: RecordedTimings
    public var usage: RecordedUsage
    public var finishReason: String?
    public var error: RecordedError?
    /// Under a schema (`params.constraint`): the answer's object.
    public var fields: JSONValue?

    public init(
        id: String = RecordedAnalysis.newID(), createdAt: Date = Date(), source: String, runID: String? = nil,
        question: String, context: String? = nil, system: String? = nil, images: [RecordedImage] = [],
        params: RecordedParams = RecordedParams(), model: RecordedModel, engine: RecordedEngine
    ) {
        self.id = id
        self.createdAt = createdAt
        self.source = source
        self.runID = runID
        self.status = "ok"
        self.question = question
        self.context = context
        self.system = system
        self.boxes = []
        self.images = images
        self.params = params
        self.model = model
        self.engine = engine
        self.timings = RecordedTimings()
        self.usage = RecordedUsage()
    }

    /// A fresh random id (32 lowercase hex digits).
    public static func newID() -> String { UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased() }

    /// Marks the analysis failed with an error code (`timeout`, `context_overflow`, ...).
    public mutating func fail(code: String, message: String) {
        status = "error"
        error = RecordedError(code: code, message: message)
    }

    enum CodingKeys: String, CodingKey {
        case id, source, status, question, context, system, answer, reasoning, boxes, images, params, model, engine, timings, usage, error,
            fields
        case createdAt = "created_at"
        case runID = "run_id"
        case finishReason = "finish_reason"
    }

    /// `created_at` travels as ISO 8601 text in UTC, whatever the encoder's date setting.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        let created = try c.decode(String.self, forKey: .createdAt)
        guard let date = RecordRows.date(created) else {
            throw DecodingError.dataCorruptedError(forKey: .createdAt, in: c, debugDescription: "not an ISO 8601 time: \(created)")
        }
        createdAt = date
        source = try c.decode(String.self, forKey: .source)
        runID = try c.decodeIfPresent(String.self, forKey: .runID)
        status = try c.decode(String.self, forKey: .status)
        question = try c.decode(String.self, forKey: .question)
        context = try c.decodeIfPresent(String.self, forKey: .context)
        system = try c.decodeIfPresent(String.self, forKey: .system)
        answer = try c.decodeIfPresent(String.self, forKey: .answer)
        reasoning = try c.decodeIfPresent(String.self, forKey: .reasoning)
        boxes = try c.decode([RecordedBox].self, forKey: .boxes)
        images = try c.decode([RecordedImage].self, forKey: .images)
        params = try c.decode(RecordedParams.self, forKey: .params)
        model = try c.decode(RecordedModel.self, forKey: .model)
        engine = try c.decode(RecordedEngine.self, forKey: .engine)
        timings = try c.decode(RecordedTimings.self, forKey: .timings)
        usage = try c.decode(RecordedUsage.self, forKey: .usage)
        finishReason = try c.decodeIfPresent(String.self, forKey: .finishReason)
        error = try c.decodeIfPresent(RecordedError.self, forKey: .error)
        fields = try c.decodeIfPresent(JSONValue.self, forKey: .fields)
    }

    /// Every key is written (absent values as `null`), so exports have fixed columns.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(RecordRows.timestamp(createdAt), forKey: .createdAt)
        try c.encode(source, forKey: .source)
        try c.encode(runID, forKey: .runID)
        try c.encode(status, forKey: .status)
        try c.encode(question, forKey: .question)
        try c.encode(context, forKey: .context)
        try c.encode(system, forKey: .system)
        try c.encode(answer, forKey: .answer)
        try c.encode(reasoning, forKey: .reasoning)
        try c.encode(boxes, forKey: .boxes)
        try c.encode(images, forKey: .images)
        try c.encode(params, forKey: .params)
        try c.encode(model, forKey: .model)
        try c.encode(engine, forKey: .engine)
        try c.encode(timings, forKey: .timings)
        try c.encode(usage, forKey: .usage)
        try c.encode(finishReason, forKey: .finishReason)
        try c.encode(error, forKey: .error)
        try c.encode(fields, forKey: .fields)
    }
}

/// One image as the model saw it; identified by the SHA-256 of the bytes uploaded.
public struct RecordedImage: Codable, Sendable, Equatable {
    public var sha256: String
    public var format: String
    public var modality: String?
    public var width: Int
    public var height: Int
    /// The frame or slice shown (0-based), when the file has several.
    public var frame: Int?
    /// The slices shown of a volume.
    public var slices: [Int]?
    /// The display window, as chosen (`lung`, `-600,1500`, `default`).
    public var window: String?
    public var letterbox: Letterbox?
    /// SHA-256 of the PNG copy of the square the model was given, when the record keeps one
    /// (`--record-images model-input`); `GET /api/analyses/{id}/model-input.png` serves it.
    public var modelInput: String?

    enum CodingKeys: String, CodingKey {
        case sha256, format, modality, width, height, frame, slices, window, letterbox
        case modelInput = "model_input"
    }

    /// Where the image sits in the model's square.
    public struct Letterbox: Codable, Sendable, Equatable {
        public var side: Int
        public var contentWidth: Int
        public var contentHeight: Int
        public var offsetX: Int
        public var offsetY: Int

        public init(side: Int, contentWidth: Int, contentHeight: Int, offsetX: Int, offsetY: Int) {
            self.side = side
            self.contentWidth = contentWidth
            self.contentHeight = contentHeight
            self.offsetX = offsetX
            self.offsetY = offsetY
        }

        enum CodingKeys: String, CodingKey {
            case side
            case contentWidth = "content_width"
            case contentHeight = "content_height"
            case offsetX = "offset_x"
            case offsetY = "offset_y"
        }
    }

    public init(
        sha256: String, format: String, modality: String?, width: Int, height: Int, frame: Int? = nil,
        slices: [Int]? = nil, window: String? = nil, letterbox: Letterbox? = nil, modelInput: String? = nil
    ) {
        self.sha256 = sha256
        self.format = format
        self.modality = modality
        self.width = width
        self.height = height
        self.frame = frame
        self.slices = slices
        self.window = window
        self.letterbox = letterbox
        self.modelInput = modelInput
    }
}

/// A box the model drew: 0–1000 coordinates of its square, and the original pixels.
public struct RecordedBox: Codable, Sendable, Equatable {
    public var label: String
    public var box2d: [Double]
    public var pixels: Pixels?

    /// Corners in the pixels of the image as uploaded.
    public struct Pixels: Codable, Sendable, Equatable {
        public var x0: Double, y0: Double, x1: Double, y1: Double
        public init(x0: Double, y0: Double, x1: Double, y1: Double) {
            self.x0 = x0
            self.y0 = y0
            self.x1 = x1
            self.y1 = y1
        }
    }

    public init(label: String, box2d: [Double], pixels: Pixels?) {
        self.label = label
        self.box2d = box2d
        self.pixels = pixels
    }

    enum CodingKeys: String, CodingKey {
        case label
        case box2d = "box_2d"
        case pixels
    }
}

/// The sampling settings an analysis ran with.
public struct RecordedParams: Codable, Sendable, Equatable {
    public var maxNewTokens: Int?
    public var temperature: Double?
    public var topP: Double?
    public var topK: Int?
    public var seed: UInt32?
    public var stop: [String]?
    public var ignoreEOS: Bool?
    /// The output constraint: `json` (any object) or the JSON Schema's text.
    public var constraint: String?

    public init(
        maxNewTokens: Int? = nil, temperature: Double? = nil, topP: Double? = nil, topK: Int? = nil,
        seed: UInt32? = nil, stop: [String]? = nil, ignoreEOS: Bool? = nil, constraint: String? = nil
    ) {
        self.maxNewTokens = maxNewTokens
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.seed = seed
        self.stop = stop
        self.ignoreEOS = ignoreEOS
        self.constraint = constraint
    }

    enum CodingKeys: String, CodingKey {
        case temperature, seed, stop, constraint
        case maxNewTokens = "max_new_tokens"
        case topP = "top_p"
        case topK = "top_k"
        case ignoreEOS = "ignore_eos"
    }
}

/// The model files (or remote model id) and their checksums, filled in once known.
public struct RecordedModel: Codable, Sendable, Equatable {
    /// The model's name as the engine reports it.
    public var name: String
    /// The GGUF file name (`nil` for a remote model).
    public var file: String?
    public var sha256: String?
    public var projectorFile: String?
    public var projectorSHA256: String?

    public init(name: String, file: String? = nil, sha256: String? = nil, projectorFile: String? = nil, projectorSHA256: String? = nil) {
        self.name = name
        self.file = file
        self.sha256 = sha256
        self.projectorFile = projectorFile
        self.projectorSHA256 = projectorSHA256
    }

    enum CodingKeys: String, CodingKey {
        case name, file, sha256
        case projectorFile = "projector_file"
        case projectorSHA256 = "projector_sha256"
    }

    /// Every key is written (`null` until a checksum is known, or for a remote model's file).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(file, forKey: .file)
        try c.encode(sha256, forKey: .sha256)
        try c.encode(projectorFile, forKey: .projectorFile)
        try c.encode(projectorSHA256, forKey: .projectorSHA256)
    }
}

/// Where the model ran: in this process (`cpu`, `cuda`) or on remote servers (URLs without credentials).
public struct RecordedEngine: Codable, Sendable, Equatable {
    /// `in_process` or `remote`.
    public var kind: String
    public var backend: String
    public var urls: [String]?

    public init(kind: String, backend: String, urls: [String]? = nil) {
        self.kind = kind
        self.backend = backend
        self.urls = urls
    }

    /// `url` without user, password, query or fragment.
    public static func publicURL(_ url: URL) -> String {
        guard var parts = URLComponents(url: url, resolvingAgainstBaseURL: false) else { return url.host ?? "remote" }
        parts.user = nil
        parts.password = nil
        parts.query = nil
        parts.fragment = nil
        return parts.string ?? url.host ?? "remote"
    }
}

/// Milliseconds spent in each step.
public struct RecordedTimings: Codable, Sendable, Equatable {
    public var queueMs: Double?
    public var imageMs: Double?
    public var prefillMs: Double?
    public var decodeMs: Double?
    public var totalMs: Double?

    public init(queueMs: Double? = nil, imageMs: Double? = nil, prefillMs: Double? = nil, decodeMs: Double? = nil, totalMs: Double? = nil) {
        self.queueMs = queueMs
        self.imageMs = imageMs
        self.prefillMs = prefillMs
        self.decodeMs = decodeMs
        self.totalMs = totalMs
    }

    enum CodingKeys: String, CodingKey {
        case queueMs = "queue_ms"
        case imageMs = "image_ms"
        case prefillMs = "prefill_ms"
        case decodeMs = "decode_ms"
        case totalMs = "total_ms"
    }
}

/// Token counts.
public struct RecordedUsage: Codable, Sendable, Equatable {
    public var promptTokens: Int?
    public var imageTokens: Int?
    public var completionTokens: Int?

    public init(promptTokens: Int? = nil, imageTokens: Int? = nil, completionTokens: Int? = nil) {
        self.promptTokens = promptTokens
        self.imageTokens = imageTokens
        self.completionTokens = completionTokens
    }

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens"
        case imageTokens = "image_tokens"
        case completionTokens = "completion_tokens"
    }
}

/// Why an analysis has no answer.
public struct RecordedError: Codable, Sendable, Equatable {
    public var code: String
    public var message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}
