import Foundation
import MedInference
import Synchronization

/// What every analysis of one process shares: the record it goes to (or none), the model files
/// it names and the remote servers it ran on. `serve`, `ask` and `batch` each open one.
public final class RecordSession: Sendable {
    /// Whether analyses are being kept: `ok`, `degraded` (writes fail; answers still go out) or `off`.
    public struct Health: Sendable, Encodable {
        public var status: String
        public var path: String?
        public var errors: Int
        public var message: String?
    }

    public let path: String?
    public let writer: RecordWriter?
    /// Whether thumbnails are kept (`--record-images thumbnail`, the default, and `model-input`).
    public let storeThumbnails: Bool
    /// Whether a PNG of the exact square the model was given is kept too (`--record-images
    /// model-input`, opt-in: annotations burned into the pixels can still identify a patient).
    public let storeModelInputs: Bool
    private let openError: String?
    private let files: Mutex<ModelFiles?>
    private let remoteURLs: [String]

    /// A session that records nothing (`--no-record`).
    public static let off = RecordSession(
        path: nil, writer: nil, openError: nil, storeThumbnails: false, storeModelInputs: false, remoteURLs: [])

    private init(
        path: String?, writer: RecordWriter?, openError: String?, storeThumbnails: Bool, storeModelInputs: Bool, remoteURLs: [String]
    ) {
        self.path = path
        self.writer = writer
        self.openError = openError
        self.storeThumbnails = storeThumbnails
        self.storeModelInputs = storeModelInputs
        self.files = Mutex(nil)
        self.remoteURLs = remoteURLs
    }

    /// Opens the record at `path` (the default file when `nil`). A record that cannot be opened
    /// leaves the session degraded, never the command stopped: answers matter more than the log.
    public static func open(
        path: String?, storeThumbnails: Bool = true, storeModelInputs: Bool = false, remoteURLs: [URL] = [],
        onError: @escaping @Sendable (String) -> Void = { _ in }
    ) -> RecordSession {
        let path = path ?? LabRecord.defaultPath
        let urls = remoteURLs.map(RecordedEngine.publicURL)
        do {
            let writer = RecordWriter(record: try LabRecord(path: path), onError: onError)
            return RecordSession(
                path: path, writer: writer, openError: nil, storeThumbnails: storeThumbnails, storeModelInputs: storeModelInputs,
                remoteURLs: urls)
        } catch {
            onError("\(error)")
            return RecordSession(
                path: path, writer: nil, openError: "\(error)", storeThumbnails: false, storeModelInputs: false, remoteURLs: urls)
        }
    }

    /// The record, when it is open.
    public var record: LabRecord? { writer?.record }

    public var health: Health {
        guard let path else { return Health(status: "off", path: nil, errors: 0, message: nil) }
        guard let writer else { return Health(status: "degraded", path: path, errors: 1, message: openError) }
        let (errors, last) = writer.health
        return Health(status: errors == 0 ? "ok" : "degraded", path: path, errors: errors, message: last)
    }

    /// The local model files analyses name from now on; their checksums are computed in the
    /// background (once per file version) and filled into every entry that names them.
    @discardableResult
    public func use(_ files: ModelFiles) -> Task<Void, Never>? {
        self.files.withLock { $0 = files }
        guard let writer else { return nil }
        let paths = [files.model] + (files.projector.map { [$0] } ?? [])
        return Task.detached(priority: .background) {
            for path in paths {
                if let digest = await FileChecksums.checksum(of: path, record: writer.record) {
                    writer.checksumKnown(path: path, sha256: digest)
                }
            }
        }
    }

    /// The model as an entry names it: the engine's name, the local files when they are known. A
    /// pool (`--with-local`) may have answered from a remote server, so it claims no local file.
    public func model(_ info: EngineInfo) -> (model: RecordedModel, modelPath: String?, projectorPath: String?) {
        guard let files = files.withLock({ $0 }), info.backend != "remote", info.backend != "pool" else {
            return (RecordedModel(name: info.model, file: nil, projectorFile: info.projector), nil, nil)
        }
        let name = { (path: String) in URL(fileURLWithPath: path).lastPathComponent }
        return (
            RecordedModel(name: info.model, file: name(files.model), projectorFile: files.projector.map(name)), files.model, files.projector
        )
    }

    /// Where the model ran: in this process on `info.backend`, on the remote servers, or on a pool
    /// of both (`--with-local`).
    public func engine(_ info: EngineInfo) -> RecordedEngine {
        switch info.backend {
        case "remote": RecordedEngine(kind: "remote", backend: "remote", urls: remoteURLs)
        case "pool": RecordedEngine(kind: "pool", backend: "pool", urls: remoteURLs)
        default: RecordedEngine(kind: "in_process", backend: info.backend)
        }
    }

    /// The engine as configured, for entries made without an engine's word (a batch row that failed before it ran).
    public var configuredEngine: RecordedEngine {
        remoteURLs.isEmpty
            ? RecordedEngine(kind: "in_process", backend: "unknown") : RecordedEngine(kind: "remote", backend: "remote", urls: remoteURLs)
    }

    /// A new entry for `analysis` (prepared when it got that far), naming this session's model and engine.
    public func entry(
        _ analysis: Analysis, prepared: PreparedAnalysis?, source: String, info: EngineInfo,
        id: String = RecordedAnalysis.newID(), runID: String? = nil
    ) -> RecordedAnalysis {
        RecordedAnalysis(analysis, prepared: prepared, source: source, runID: runID, id: id, model: model(info).model, engine: engine(info))
    }

    /// Queues `entry` for writing (with thumbnails of what the model saw, and copies of its input
    /// when asked for); returns at once.
    public func keep(_ entry: RecordedAnalysis, info: EngineInfo, analysis: Analysis? = nil, prepared: PreparedAnalysis? = nil) {
        guard let writer else { return }
        let (_, modelPath, projectorPath) = model(info)
        guard storeThumbnails || storeModelInputs, let analysis, let prepared else {
            return writer.submit(entry, modelPath: modelPath, projectorPath: projectorPath)
        }
        let (thumbnails, modelInputs) = (storeThumbnails, storeModelInputs)
        writer.submit(entry, modelPath: modelPath, projectorPath: projectorPath) {
            Self.kept(analysis, prepared: prepared, thumbnails: thumbnails, modelInputs: modelInputs)
        }
    }

    private static func kept(_ analysis: Analysis, prepared: PreparedAnalysis, thumbnails: Bool, modelInputs: Bool) -> KeptImages {
        KeptImages(
            thumbnails: thumbnails ? RecordedAnalysis.thumbnails(analysis, prepared: prepared) : [:],
            modelInputs: modelInputs ? RecordedAnalysis.modelInputs(analysis, prepared: prepared) : [:])
    }

    /// Writes `entry` before returning (see `RecordWriter.saveNow`); failures are reported, not thrown.
    public func keepNow(_ entry: RecordedAnalysis, info: EngineInfo?, analysis: Analysis? = nil, prepared: PreparedAnalysis? = nil) {
        guard let writer else { return }
        let paths = info.map { model($0) }
        var kept = KeptImages()
        if let analysis, let prepared {
            kept = Self.kept(analysis, prepared: prepared, thumbnails: storeThumbnails, modelInputs: storeModelInputs)
        }
        try? writer.saveNow(
            entry, modelPath: paths?.modelPath, projectorPath: paths?.projectorPath, thumbnails: kept.thumbnails,
            modelInputs: kept.modelInputs)
    }

    /// Returns once every entry kept so far is written (or failed).
    public func settled() async { await writer?.settled() }

    /// Writes what is queued and closes.
    public func close() async { await writer?.close() }
}
