import Foundation

/// One series found among uploaded files: which files, in slice order, and whether it is a scout.
public struct SeriesGroup: Sendable, Equatable {
    /// Indices into the studies given to `SeriesGrouping.group`, in slice order.
    public var members: [Int]
    /// A localizer (scout): flagged by Image Type, or a few slices whose orientation differs
    /// from the rest of their series.
    public var isLocalizer: Bool

    public init(members: [Int], isLocalizer: Bool) {
        self.members = members
        self.isLocalizer = isLocalizer
    }
}

/// Sorts a dropped folder's files into series: single-frame DICOM files of one Series Instance
/// UID, slice size and orientation form one series, ordered as the CT recipe orders them
/// (`ModelInput.seriesOrder`); every other file (multi-frame DICOM, NIfTI, PNG, JPEG) is a
/// series of its own.
public enum SeriesGrouping {
    /// Most slices a differently oriented group may have and still be called a scout when its
    /// file does not say so (scanners take one to three).
    static let scoutSlices = 3

    public static func group(_ studies: [DecodedStudy]) -> [SeriesGroup] {
        struct Key: Hashable {
            var uid: String
            var width: Int
            var height: Int
            var orientation: [Int]
            var localizer: Bool
        }
        var keys: [Key] = []
        var members: [Key: [Int]] = [:]
        var singles: [(first: Int, group: SeriesGroup)] = []
        for (index, study) in studies.enumerated() {
            guard study.format == .dicom, study.frameCount == 1 else {
                singles.append((index, SeriesGroup(members: [index], isLocalizer: study.series?.isLocalizer ?? false)))
                continue
            }
            let m = study.metadata
            // Orientation to 1/1000: scanners write the same plane with tiny float differences.
            let orientation = (m.imageOrientation ?? []).map { Int(($0 * 1000).rounded()) }
            let key = Key(
                uid: study.series?.uid ?? "", width: m.width, height: m.height, orientation: orientation,
                localizer: study.series?.isLocalizer ?? false)
            if members[key] == nil { keys.append(key) }
            members[key, default: []].append(index)
        }
        // The largest group of each series UID is its main stack; a small one beside it in another plane is a scout.
        var main: [String: Key] = [:]
        for key in keys where !key.localizer && members[key]!.count > (main[key.uid].map { members[$0]!.count } ?? 0) {
            main[key.uid] = key
        }
        var groups = singles
        for key in keys {
            let indices = members[key]!
            let order = ModelInput.seriesOrder(indices.map { studies[$0] }).map { indices[$0] }
            let stack = main[key.uid]
            let beside = stack.map { members[$0]!.count > indices.count && $0.orientation != key.orientation } ?? false
            groups.append(
                (indices.min()!, SeriesGroup(members: order, isLocalizer: key.localizer || (beside && indices.count <= scoutSlices))))
        }
        return groups.sorted { a, b in
            let na = studies[a.first].series?.number ?? Int.max
            let nb = studies[b.first].series?.number ?? Int.max
            if na != nb { return na < nb }
            if a.group.isLocalizer != b.group.isLocalizer { return a.group.isLocalizer }
            return a.first < b.first
        }.map(\.group)
    }
}
