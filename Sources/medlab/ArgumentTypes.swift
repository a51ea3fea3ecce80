import ArgumentParser
import MedImaging
import MedInference
import MedLabRecord

// Options with a fixed set of values are types, so the parser checks them and help lists them.

/// `--window`: `lung`, `mediastinum`, ..., `default`, `minmax`, or `CENTER,WIDTH`. The options that
/// take one parse their value unconditionally, so a negative centre (`--window -600,1500`) is a
/// value, not an option. Keeps the text as typed for batch's resume key and for a lab server.
struct WindowArgument: ExpressibleByArgument, Sendable {
    let text: String
    let choice: WindowChoice

    init?(argument: String) {
        guard let choice = try? WindowChoice(parsing: argument) else { return nil }
        self.text = argument
        self.choice = choice
    }

    /// The file's own window.
    static let fileDefault = WindowArgument(argument: "default")!

    var defaultValueDescription: String { text }

    static var defaultCompletionKind: CompletionKind {
        .list(["default", "minmax"] + WindowPreset.allCases.map(\.rawValue))
    }
}

/// How `--volume` slices become RGB.
enum PackingOption: String, ExpressibleByArgument, CaseIterable {
    /// CT windows when every file says CT, else grey.
    case auto
    case ct
    case grey
    /// American spelling of `grey`.
    case gray

    /// The imaging module's packing; `nil` lets the files decide.
    var packing: VolumeInput.Packing? {
        switch self {
        case .auto: nil
        case .ct: .ct
        case .grey, .gray: .grey
        }
    }
}

/// Where the KV cache of parallel requests lives (`--kv-cache`).
enum KVCacheMode: String, ExpressibleByArgument, CaseIterable {
    case auto, shared, separate

    /// The engine's setting: `nil` lets it choose by device.
    var sharedCache: Bool? {
        switch self {
        case .auto: nil
        case .shared: true
        case .separate: false
        }
    }
}

/// `--log-format`.
enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    case json, text
}

extension Volume.Plane: ExpressibleByArgument {}

extension RecordExport.Format: ExpressibleByArgument {}
