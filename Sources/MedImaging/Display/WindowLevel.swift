import Foundation

/// A VOI window: centre and width in modality units (HU for CT), and the function that maps
/// values inside it to display grey levels (DICOM PS3.3 C.11.2.1.2).
public struct WindowLevel: Sendable, Codable, Equatable, Hashable {
    /// VOI LUT Function (0028,1056).
    public enum Function: String, Sendable, Codable, Equatable, Hashable {
        case linear = "LINEAR"
        case linearExact = "LINEAR_EXACT"
        case sigmoid = "SIGMOID"
    }

    public var center: Double
    public var width: Double
    public var function: Function

    public init(center: Double, width: Double, function: Function = .linear) {
        self.center = center
        self.width = width
        self.function = function
    }

    /// Maps a modality value to `0...1` (0 black, 1 white before any MONOCHROME1 inversion).
    /// LINEAR follows C.11.2.1.2.1 exactly, with its half-unit offsets; a LINEAR width below 1
    /// is treated as 1 as the standard requires.
    @inline(__always)
    public func apply(_ x: Double) -> Double {
        switch function {
        case .linear:
            let w = max(width, 1)
            let c = center - 0.5
            let half = (w - 1) / 2
            if x <= c - half { return 0 }
            if x > c + half { return 1 }
            return w <= 1 ? 1 : (x - c) / (w - 1) + 0.5
        case .linearExact:
            let w = max(width, .leastNonzeroMagnitude)
            if x <= center - w / 2 { return 0 }
            if x > center + w / 2 { return 1 }
            return (x - center) / w + 0.5
        case .sigmoid:
            let w = max(width, .leastNonzeroMagnitude)
            return 1 / (1 + exp(-4 * (x - center) / w))
        }
    }
}

/// The named presets a radiologist expects, as centre/width in HU.
public enum WindowPreset: String, Sendable, Codable, CaseIterable {
    case lung, mediastinum, bone, brain, abdomen

    public var window: WindowLevel {
        switch self {
        case .lung: return WindowLevel(center: -600, width: 1500)
        case .mediastinum: return WindowLevel(center: 50, width: 350)
        case .bone: return WindowLevel(center: 400, width: 1800)
        case .brain: return WindowLevel(center: 40, width: 80)
        case .abdomen: return WindowLevel(center: 50, width: 400)
        }
    }
}

/// Which window to use when rendering a grey image.
public enum WindowChoice: Sendable, Equatable {
    /// The file's VOI LUT or first window, falling back to min–max.
    case fileDefault
    /// Stretch the frame's smallest to largest value over black to white.
    case minMax
    case preset(WindowPreset)
    case explicit(WindowLevel)

    /// Parses what a person types: a preset name, `C,W` (e.g. `-600,1500`), `default`, or `minmax`.
    public init(parsing text: String) throws {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if t.isEmpty || t == "default" || t == "file" {
            self = .fileDefault
            return
        }
        if t == "minmax" || t == "min-max" || t == "auto" {
            self = .minMax
            return
        }
        if let p = WindowPreset(rawValue: t) {
            self = .preset(p)
            return
        }
        let parts = t.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        if parts.count == 2, let c = Double(parts[0]), let w = Double(parts[1]), w > 0, c.isFinite, w.isFinite {
            self = .explicit(WindowLevel(center: c, width: w))
            return
        }
        let names = WindowPreset.allCases.map(\.rawValue).joined(separator: ", ")
        throw ImagingError.invalidArgument("window '\(text)' is not one of \(names), default, minmax, or CENTER,WIDTH with WIDTH > 0")
    }
}

/// A VOI or Modality LUT table (PS3.3 C.11.1/C.11.2): values below the first mapped input take
/// the first entry, above the last take the last.
public struct LookupTable: Sendable, Equatable, Codable {
    public var firstMapped: Int
    public var bits: Int
    public var data: [Float]

    public init(firstMapped: Int, bits: Int, data: [Float]) {
        self.firstMapped = firstMapped
        self.bits = bits
        self.data = data
    }

    @inline(__always)
    public func lookup(_ x: Float) -> Float {
        guard !data.isEmpty else { return x }
        // NaN maps to the first entry, as the smallest value would; Int(_:) traps on it.
        guard x.isFinite else { return x > 0 ? data[data.count - 1] : data[0] }
        let i = Int(x.rounded(.down)) - firstMapped
        return data[min(max(i, 0), data.count - 1)]
    }

    /// Largest output the table can produce, used to scale VOI LUT output to 0...1.
    public var outputMax: Float { Float((1 << max(1, min(bits, 24))) - 1) }
}
