import ArgumentParser
import Foundation
import MedLabRecord

/// `--record PATH`, `--no-record` and `--record-images`: where `serve`, `ask` and `batch` keep analyses.
struct RecordOptions: ParsableArguments {
    @Option(name: .customLong("record"), help: "The lab record, a SQLite file (default: $XDG_DATA_HOME/medlab/lab.sqlite).")
    var path: String?

    @Flag(name: .customLong("no-record"), help: "Keep no record of the analyses.")
    var off = false

    @Option(
        name: .customLong("record-images"),
        help: """
            What the record keeps of each image besides its hash: thumbnail, none, or model-input (also a PNG of the \
            exact square the model was given; opt-in: annotations burned into the pixels can identify a patient).
            """)
    var images: ImageKeeping = .thumbnail

    /// Thumbnails of what the model saw, nothing but the hash, or thumbnails and a pixel-only copy of the model's input.
    enum ImageKeeping: String, ExpressibleByArgument, CaseIterable {
        case thumbnail, none
        case modelInput = "model-input"
    }

    func validate() throws {
        if off, path != nil { throw ValidationError("give --record or --no-record, not both") }
    }

    /// The session: off, or the record opened (degraded, with the reason on stderr, when it cannot be).
    func session(remoteURLs: [URL] = [], onError: @escaping @Sendable (String) -> Void = RecordOptions.warn) -> RecordSession {
        guard !off else { return .off }
        return RecordSession.open(
            path: path, storeThumbnails: images != .none, storeModelInputs: images == .modelInput, remoteURLs: remoteURLs,
            onError: onError)
    }

    /// The CLI's report of a record failure: a warning on stderr; the command goes on.
    static let warn: @Sendable (String) -> Void = { message in
        FileHandle.standardError.write(Data("medlab: warning: the record: \(message)\n".utf8))
    }
}
