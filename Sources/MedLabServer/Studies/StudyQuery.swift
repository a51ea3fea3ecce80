import Foundation
import Hummingbird
import MedImaging

/// The query of a series route (`slice`, `frame`, `window`, `invert`, `roi`, `shape`, `from`, `to`),
/// read strictly: a value that is not what the route takes is a 400 naming it.
struct StudyQuery {
    let parameters: [String: String]

    init(_ request: Request) {
        var parameters: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { parameters[String(key)] = String(value) }
        self.parameters = parameters
    }

    init(_ parameters: [String: String]) {
        self.parameters = parameters
    }

    /// `slice=K` (0 when absent).
    var slice: Int { get throws { try index("slice") ?? 0 } }

    /// `frame=F` of a multi-frame file (nil when absent).
    var frame: Int? { get throws { try index("frame") } }

    /// `window=lung|C,W|default|minmax` (the file's own when absent).
    var window: WindowChoice {
        get throws { try parameters["window"].map { try WindowParameter(parsing: $0).choice } ?? .fileDefault }
    }

    /// `invert=1`: white on black swapped after windowing.
    var invert: Bool { ["1", "true", "yes", "on"].contains(parameters["invert"]?.lowercased() ?? "") }

    /// `roi=x0,y0,x1,y1` in original pixels.
    var roi: PixelBox {
        get throws {
            let values = try numbers("roi", count: 4)
            return PixelBox(x0: values[0], y0: values[1], x1: values[2], y1: values[3])
        }
    }

    /// `shape=rectangle|ellipse`.
    var shape: RegionStatistics.Shape {
        get throws {
            guard let text = parameters["shape"], !text.isEmpty else { return .rectangle }
            guard let shape = RegionStatistics.Shape(rawValue: text.lowercased()) else {
                throw LabError.badRequest(code: "invalid_request", message: "`shape` is rectangle or ellipse")
            }
            return shape
        }
    }

    /// A point `x,y` in original pixels (`from`, `to`).
    func point(_ name: String) throws -> (x: Double, y: Double) {
        let values = try numbers(name, count: 2)
        return (values[0], values[1])
    }

    private func index(_ name: String) throws -> Int? {
        guard let text = parameters[name], !text.isEmpty else { return nil }
        guard let value = Int(text), value >= 0 else {
            throw LabError.badRequest(code: "invalid_request", message: "`\(name)` must be a whole number from 0")
        }
        return value
    }

    /// Finite numbers separated by commas, within ±1,000,000 pixels.
    private func numbers(_ name: String, count: Int) throws -> [Double] {
        let values = (parameters[name] ?? "").split(separator: ",", omittingEmptySubsequences: false).map {
            Double($0.trimmingCharacters(in: .whitespaces))
        }
        let numbers = values.compactMap { $0 }
        guard values.count == count, numbers.count == count, numbers.allSatisfy({ $0.isFinite && abs($0) <= 1e6 }) else {
            let shape = count == 4 ? "x0,y0,x1,y1" : "x,y"
            throw LabError.badRequest(code: "invalid_request", message: "`\(name)` must be \(shape) in pixels")
        }
        return numbers
    }
}
