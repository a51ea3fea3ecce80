import Foundation
import MedLabExperiments
import ZIPFoundation

/// A regression set uploaded as a ZIP: unpacked into a fresh private folder with no entry
/// allowed outside it (no `..`, no absolute paths, no links) and a bound on the unpacked size.
enum SetArchive {
    static func unpack(_ bytes: [UInt8], limit: Int) throws -> URL {
        guard bytes.count > 4, bytes[0] == 0x50, bytes[1] == 0x4B else {
            throw LabError.badRequest(code: "invalid_set", message: "send the set as a ZIP file (the YAML or JSON set and its images)")
        }
        guard ZIPBounds.isSafe(bytes) else {
            throw LabError.badRequest(code: "invalid_set", message: "the ZIP cannot be read: an offset in it points past its end")
        }
        let archive: Archive
        do { archive = try Archive(data: Data(bytes), accessMode: .read) } catch {
            throw LabError.badRequest(code: "invalid_set", message: "the ZIP cannot be read: \(error)")
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("medlab-set-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        do {
            var total: UInt64 = 0
            for entry in archive {
                let path = entry.path
                let parts = path.split(separator: "/")
                guard ZIPEntryPath.isContained(path), entry.type != .symlink else {
                    throw LabError.badRequest(code: "invalid_set", message: "the ZIP entry \(path.prefix(200)) points outside the set")
                }
                total += entry.uncompressedSize
                guard total <= UInt64(limit) else {
                    throw LabError.tooLarge("the set unpacks to more than \(limit / (1 << 20)) MiB")
                }
                if parts.first == "__MACOSX" { continue }
                // Read in memory and written here: ZIPFoundation's extract(_:to:) leaks a path buffer per
                // entry on Linux (found by the fuzzer's leak check). An entry inflates to what it declares, no more.
                let target = folder.appendingPathComponent(path)
                if entry.type == .directory {
                    try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
                    continue
                }
                var data = Data()
                _ = try archive.extract(entry, skipCRC32: false) { chunk in
                    guard UInt64(data.count + chunk.count) <= entry.uncompressedSize else { throw SetArchiveInflateBound() }
                    data.append(chunk)
                }
                try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                try data.write(to: target)
            }
        } catch {
            try? FileManager.default.removeItem(at: folder)
            if let error = error as? LabError { throw error }
            throw LabError.badRequest(code: "invalid_set", message: "the ZIP cannot be unpacked: \(error)")
        }
        return folder
    }

    /// The one set file: a `.yaml`, `.yml` or `.json` at the top, or in the ZIP's single top folder.
    static func setFile(in folder: URL) throws -> String {
        func candidates(_ url: URL) -> [URL] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
            return names.filter { !$0.hasPrefix(".") && ["yaml", "yml", "json"].contains(($0 as NSString).pathExtension.lowercased()) }
                .sorted().map { url.appendingPathComponent($0) }
        }
        var found = candidates(folder)
        if found.isEmpty {
            let folders = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter {
                $0 != "__MACOSX" && !$0.hasPrefix(".")
            }
            if folders.count == 1 { found = candidates(folder.appendingPathComponent(folders[0])) }
        }
        guard found.count == 1 else {
            throw LabError.badRequest(
                code: "invalid_set",
                message: found.isEmpty
                    ? "the ZIP holds no set file (.yaml, .yml or .json)"
                    : "the ZIP holds several set files (\(found.map(\.lastPathComponent).joined(separator: ", "))): send one")
        }
        return found[0].path
    }

    /// `path` as it is inside the ZIP.
    static func relative(_ path: String, to folder: URL) -> String {
        path.hasPrefix(folder.path + "/") ? String(path.dropFirst(folder.path.count + 1)) : path
    }
}

/// Thrown from the extraction callback to stop an entry that inflates past the size it declares.
private struct SetArchiveInflateBound: Error {}
