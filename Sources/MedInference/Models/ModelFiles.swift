import Foundation

/// The pair of GGUF files one engine loads: the text model and its vision projector.
public struct ModelFiles: Sendable, Equatable {
    public var model: String
    public var projector: String?
    /// The demo pair (Gemma 3 270M base + a random projector): real text, meaningless image answers.
    public var isDemo: Bool

    public init(model: String, projector: String?, isDemo: Bool = false) {
        self.model = model
        self.projector = projector
        self.isDemo = isDemo
    }

    /// The file names users download for MedGemma 1.5 4B.
    public static let medgemmaModelName = "medgemma-1.5-4b-it-Q4_K_M.gguf"
    public static let medgemmaProjectorName = "mmproj-medgemma-1.5-4b-it-F16.gguf"

    /// `MEDLAB_MODELS_DIR`, or `~/.cache/medlab/models`.
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let dir = environment["MEDLAB_MODELS_DIR"] { return URL(fileURLWithPath: dir) }
        return cacheDirectory(environment: environment).appendingPathComponent("models")
    }

    /// `MEDLAB_CACHE`, or `~/.cache/medlab`.
    public static func cacheDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let dir = environment["MEDLAB_CACHE"] { return URL(fileURLWithPath: dir) }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/medlab")
    }

    /// The public Hugging Face repository `medlab pull` fetches by default: MedGemma 1.5 4B GGUFs with an mmproj.
    public static let hubRepository = "unsloth/medgemma-1.5-4b-it-GGUF"

    /// What to download and where to put it, for every "model not found" message.
    public static var downloadHint: String {
        let dir = defaultDirectory().path
        return """
            Accept the Health AI Developer Foundations terms for google/medgemma-1.5-4b-it on Hugging Face, then run \
            `medlab pull` (it fetches the Q4_K_M text model and the F16 vision projector from \(hubRepository) into \
            \(dir)/; set HF_TOKEN or pass --token). Or put a text GGUF such as \(medgemmaModelName) and its \
            mmproj-*.gguf there yourself (or pass --model/--mmproj, or set MEDLAB_MODEL/MEDLAB_MMPROJ). \
            `medlab ask --demo` runs the small demo model instead.
            """
    }

    /// Finds the model: explicit paths, then `MEDLAB_MODEL`/`MEDLAB_MMPROJ`, then the models folder,
    /// then (when allowed) the demo pair that scripts/setup.sh prepares.
    public static func resolve(
        model: String?, projector: String?, allowDemo: Bool,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> ModelFiles {
        // An empty projector path means "text only".
        func chosen(_ found: String?) -> String? {
            let value = projector ?? environment["MEDLAB_MMPROJ"] ?? found
            return value?.isEmpty == true ? nil : value
        }
        if let model = model ?? environment["MEDLAB_MODEL"] {
            return ModelFiles(model: model, projector: chosen(projector == nil ? sibling(projectorOf: model) : nil))
        }
        if let found = discover(in: defaultDirectory(environment: environment)) {
            return ModelFiles(model: found.model, projector: chosen(found.projector))
        }
        if allowDemo, let demo = demo(environment: environment) { return demo }
        throw InferenceError.modelMissing(
            path: defaultDirectory(environment: environment).appendingPathComponent(medgemmaModelName).path,
            hint: downloadHint)
    }

    /// A text GGUF and an `mmproj*.gguf` in one folder (MedGemma names preferred).
    public static func discover(in directory: URL) -> ModelFiles? {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
        let ggufs = names.filter { $0.lowercased().hasSuffix(".gguf") }
        let projectors = ggufs.filter { $0.lowercased().contains("mmproj") }
        let texts = ggufs.filter { !$0.lowercased().contains("mmproj") }
        guard let text = texts.first(where: { $0.lowercased().contains("medgemma") }) ?? texts.first else { return nil }
        let projector = projectors.first(where: { $0.lowercased().contains("medgemma") }) ?? projectors.first
        return ModelFiles(
            model: directory.appendingPathComponent(text).path,
            projector: projector.map { directory.appendingPathComponent($0).path })
    }

    /// The demo pair from `MEDLAB_DEMO_DIR` or the test models folder, if scripts/setup.sh prepared it.
    public static func demo(environment: [String: String] = ProcessInfo.processInfo.environment) -> ModelFiles? {
        let dir =
            environment["MEDLAB_DEMO_DIR"].map { URL(fileURLWithPath: $0) }
            ?? cacheDirectory(environment: environment).appendingPathComponent("test-models")
        let model = dir.appendingPathComponent("gemma-3-270m-q4_k_m.gguf").path
        let projector = dir.appendingPathComponent("tiny-mmproj-640.gguf").path
        guard FileManager.default.fileExists(atPath: model) else { return nil }
        return ModelFiles(
            model: model, projector: FileManager.default.fileExists(atPath: projector) ? projector : nil,
            isDemo: true)
    }

    /// An `mmproj*.gguf` beside an explicitly named text model.
    private static func sibling(projectorOf model: String) -> String? {
        let url = URL(fileURLWithPath: model)
        return discover(in: url.deletingLastPathComponent())?.projector
    }

    /// Checks both headers: each file exists, is a GGUF, and is of the right kind.
    public func validate() throws -> (text: GGUFMetadata, projector: GGUFMetadata?) {
        let text = try GGUFMetadata.read(path: model)
        if text.isProjector {
            throw InferenceError.wrongModelKind(path: model, expected: "text model", found: "vision projector (mmproj)")
        }
        guard let projector else { return (text, nil) }
        let vision = try GGUFMetadata.read(path: projector)
        guard vision.isProjector else {
            throw InferenceError.wrongModelKind(
                path: projector, expected: "vision projector (mmproj)",
                found: "\(vision.architecture) text model")
        }
        guard vision.hasVisionEncoder else { throw InferenceError.projectorWithoutVision(path: projector) }
        return (text, vision)
    }
}
