import Foundation
import MedImaging
import MedInference

/// The body of `POST /api/predict`: the article's three fields plus optional extensions.
struct PredictRequest: Decodable, Sendable {
    /// One image: a `data:` URL or bare base64 (the article's client sends `data:image/png;base64,...`).
    var image: String?
    /// Several images in prompt order (prior then current study, or a volume's slices).
    var images: [String]?
    var question: String?
    var maxNewTokens: Int?
    /// Prior report or clinical notes, given to the model before the question.
    var context: String?
    var system: String?
    var window: WindowParameter?
    var frame: Int?
    var slice: Int?
    var region: RegionRequest?
    var temperature: Double?
    var topP: Double?
    var seed: UInt32?
    var stream: Bool?
    /// Keep generating past end-of-sequence up to `max_new_tokens` (benchmarks).
    var ignoreEOS: Bool?
    /// Treat the images as one volume (Google's CT recipe) instead of separate images.
    var volume: VolumeParameter?
    /// Most slices of a volume to show (the recipe's 85 by default, fewer when the context is smaller).
    var maxSlices: Int?
    /// A JSON Schema the answer must follow.
    var schema: JSONValue?
    /// `json`: the answer is any JSON object.
    var format: String?
    /// Images by reference to an uploaded study instead of bytes (`POST /api/studies`).
    var study: StudyReference?

    enum CodingKeys: String, CodingKey {
        case image, images, question, context, system, window, frame, slice, region, temperature, seed, stream
        case volume, schema, format, study
        case maxNewTokens = "max_new_tokens"
        case topP = "top_p"
        case ignoreEOS = "ignore_eos"
        case maxSlices = "max_slices"
    }

    static let defaultMaxNewTokens = 512

    /// The same request from a `multipart/form-data` upload: files under `image`/`images`, the rest as text fields.
    init(form: MultipartForm) throws {
        func text(_ name: String) -> String? { form.first(name)?.text.trimmingCharacters(in: .whitespacesAndNewlines) }
        func number<T: LosslessStringConvertible>(_ name: String, _ type: T.Type) throws -> T? {
            guard let raw = text(name), !raw.isEmpty else { return nil }
            guard let value = T(raw) else { throw LabError.badRequest(code: "invalid_request", message: "`\(name)` must be a number") }
            return value
        }
        // Files travel as raw bytes; base64 keeps one path for both body kinds.
        let files = (form.all("image") + form.all("images") + form.all("file")).map { part in
            part.filename == nil && part.contentType == nil ? part.text : Data(part.body).base64EncodedString()
        }
        images = files.isEmpty ? nil : files
        question = text("question")
        maxNewTokens = try number("max_new_tokens", Int.self)
        context = text("context")
        system = form.first("system")?.text
        window = try text("window").map { try WindowParameter(parsing: $0) }
        frame = try number("frame", Int.self)
        slice = try number("slice", Int.self)
        if let region = text("region"), !region.isEmpty {
            self.region = try JSONDecoder().decode(RegionRequest.self, from: Data(region.utf8))
        }
        temperature = try number("temperature", Double.self)
        topP = try number("top_p", Double.self)
        seed = try number("seed", UInt32.self)
        stream = text("stream").map { ["1", "true", "yes", "on"].contains($0.lowercased()) }
        ignoreEOS = text("ignore_eos").map { ["1", "true", "yes", "on"].contains($0.lowercased()) }
        volume = try text("volume").map { try VolumeParameter(parsing: $0) }
        maxSlices = try number("max_slices", Int.self)
        if let schema = text("schema"), !schema.isEmpty {
            guard let value = JSONValue.parse(schema) else {
                throw LabError.badRequest(code: "invalid_schema", message: "`schema` is not valid JSON")
            }
            self.schema = value
        }
        format = text("format")
        if let study = text("study"), !study.isEmpty { self.study = try StudyReference.parse(study) }
    }

    /// The constraint asked for (`schema` or `format: "json"`), checked: an unsupported keyword or
    /// a schema over 64 KB is a 400 before any work.
    func constraint() throws -> OutputConstraint? {
        try OutputConstraint.checked(
            schema: schema,
            anyObject: try format.map { format in
                guard ["json", "json_object"].contains(format.lowercased()) else {
                    throw LabError.badRequest(code: "invalid_request", message: "`format` must be json (or give `schema`)")
                }
                return true
            } ?? false)
    }

    /// Every image string in order, checked against the configured count (a volume's files
    /// are many slices of which only the sampled ones reach the model, so they have their own limit).
    func imageStrings(maxImages: Int) throws -> [String] {
        let all = (image.map { [$0] } ?? []) + (images ?? [])
        let limit = isVolume ? VolumeParameter.maxFiles : maxImages
        guard all.count <= limit else {
            throw LabError.tooLarge("\(all.count) \(isVolume ? "volume files" : "images") in one request; the limit is \(limit)")
        }
        return all
    }

    /// Whether the images are one volume for the CT recipe.
    var isVolume: Bool { (volume ?? .off) != .off }

    /// The question, which must say something.
    func checkedQuestion() throws -> String {
        guard let question, !question.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw LabError.badRequest(code: "empty_question", message: "`question` is required and must not be empty")
        }
        return question
    }

    func sampling() throws -> SamplingOptions { try Self.sampling(temperature: temperature, topP: topP, seed: seed) }

    /// Greedy unless asked otherwise, as in Google's MedGemma examples; out-of-range values are 400.
    static func sampling(temperature: Double?, topP: Double?, seed: UInt32?) throws -> SamplingOptions {
        let temperature = temperature ?? 0
        let topP = topP ?? 1
        guard (0...2).contains(temperature) else {
            throw LabError.badRequest(code: "invalid_request", message: "`temperature` must be between 0 and 2")
        }
        guard topP > 0, topP <= 1 else { throw LabError.badRequest(code: "invalid_request", message: "`top_p` must be in (0, 1]") }
        return SamplingOptions(temperature: temperature, topP: topP, seed: seed ?? 0)
    }

    func checkedMaxNewTokens(limit: Int) throws -> Int {
        try Self.checkedTokens(maxNewTokens, name: "max_new_tokens", limit: limit)
    }

    /// A token budget between 1 and the server's limit; the default is the article's 512 (within the limit).
    static func checkedTokens(_ value: Int?, name: String, limit: Int) throws -> Int {
        let value = value ?? min(defaultMaxNewTokens, limit)
        guard (1...limit).contains(value) else {
            throw LabError.badRequest(code: "invalid_request", message: "`\(name)` must be between 1 and \(limit)")
        }
        return value
    }

    var imageOptions: ImageOptions {
        ImageOptions(window: window?.choice ?? .fileDefault, frame: frame, slice: slice, region: region)
    }
}

/// `volume` as clients send it: `true` or `"auto"` (CT packing when the files say CT, else grey),
/// `"ct"`, `"grey"`, or `false`/absent for separate images.
enum VolumeParameter: Decodable, Sendable, Equatable {
    case off
    case auto
    case forced(VolumeInput.Packing)

    /// Most files one volume request may carry (a thin-slice CT series); only the sampled slices reach the model.
    static let maxFiles = 2048

    /// The packing the client insisted on, nil for automatic.
    var packing: VolumeInput.Packing? { if case .forced(let packing) = self { packing } else { nil } }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let flag = try? container.decode(Bool.self) {
            self = flag ? .auto : .off
        } else if let text = try? container.decode(String.self) {
            self = try Self(parsing: text)
        } else {
            throw Self.invalid
        }
    }

    init(parsing text: String) throws {
        switch text.lowercased() {
        case "1", "true", "yes", "on", "auto": self = .auto
        case "ct": self = .forced(.ct)
        case "grey", "gray": self = .forced(.grey)
        case "", "0", "false", "no", "off": self = .off
        default: throw Self.invalid
        }
    }

    private static let invalid = LabError.badRequest(
        code: "invalid_volume", message: "`volume` is true, false, \"auto\", \"ct\" or \"grey\"")
}

/// `window` as clients send it: `"lung"`, `"-600,1500"` (centre, width), `"default"`, `"minmax"`, or
/// `{"center": 40, "width": 400}`; parsed by the imaging module so the CLI and the API agree.
struct WindowParameter: Decodable, Sendable {
    var choice: MedImaging.WindowChoice

    init(from decoder: any Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            choice = try Self.parse(text)
            return
        }
        struct Explicit: Decodable {
            var center: Double
            var width: Double
        }
        let value = try Explicit(from: decoder)
        guard value.width > 0, value.center.isFinite, value.width.isFinite else {
            throw LabError.badRequest(code: "invalid_window", message: "the window width must be positive")
        }
        choice = .explicit(WindowLevel(center: value.center, width: value.width))
    }

    init(parsing text: String) throws { choice = try Self.parse(text) }

    private static func parse(_ text: String) throws -> MedImaging.WindowChoice {
        // "C/W" is common in radiology notes; the imaging module reads "C,W".
        let normalised = text.count < 64 ? text.replacingOccurrences(of: "/", with: ",") : text
        do {
            return try MedImaging.WindowChoice(parsing: normalised)
        } catch {
            let presets = WindowPreset.allCases.map(\.rawValue).joined(separator: ", ")
            throw LabError.badRequest(
                code: "invalid_window",
                message: "unknown window `\(text.prefix(40))`: use \(presets), default, minmax or centre,width")
        }
    }
}

extension RegionRequest: Decodable {
    /// `{"points": [[x, y], ...]}`, `{"rect": [x0, y0, x1, y1]}` (or `box`), `[x0, y0, x1, y1]`, or `[[x, y], ...]`.
    init(from decoder: any Decoder) throws {
        struct Object: Decodable {
            var points: [[Double]]?
            var rect: [Double]?
            var box: [Double]?
        }
        if let rect = try? decoder.singleValueContainer().decode([Double].self) {
            self = try RegionRequest(rect: rect)
        } else if let points = try? decoder.singleValueContainer().decode([[Double]].self) {
            self = try RegionRequest(points: points)
        } else {
            let object = try Object(from: decoder)
            if let rect = object.rect ?? object.box {
                self = try RegionRequest(rect: rect)
            } else if let points = object.points {
                self = try RegionRequest(points: points)
            } else {
                throw LabError.badRequest(code: "invalid_region", message: "`region` needs `points` or `rect`")
            }
        }
    }

    private init(rect: [Double]) throws {
        guard rect.count == 4, rect.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            throw LabError.badRequest(code: "invalid_region", message: "`region.rect` is [x0, y0, x1, y1] in pixels")
        }
        self = .rectangle(x0: rect[0], y0: rect[1], x1: rect[2], y1: rect[3])
    }

    private init(points: [[Double]]) throws {
        guard !points.isEmpty, points.allSatisfy({ $0.count == 2 && $0.allSatisfy { $0.isFinite && $0 >= 0 } }) else {
            throw LabError.badRequest(code: "invalid_region", message: "`region.points` is [[x, y], ...] in pixels")
        }
        self = .points(points)
    }
}
