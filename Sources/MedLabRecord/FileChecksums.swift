import Crypto
import Foundation

/// SHA-256 of model files, computed once per file version (path, size, modification time) and
/// kept in the record, so a 2.5 GB model is read once, in the background, and never again.
public enum FileChecksums {
    /// SHA-256 (hex) of a whole file, read in 8 MiB pieces; stops early when the task is cancelled.
    public static func sha256(ofFile url: URL) throws -> String {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 8 << 20), !chunk.isEmpty {
            try Task.checkCancellation()
            hasher.update(data: chunk)
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// The checksum of the file at `path`: from the record's cache, else computed (off the
    /// caller's thread: the file is read in 8 MiB pieces) and cached. `nil` if it cannot be read.
    public static func checksum(of path: String, record: LabRecord?) async -> String? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let size = (attributes[.size] as? NSNumber)?.int64Value,
            let mtime = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970
        else { return nil }
        if let cached = try? record?.cachedChecksum(path: path, size: size, mtime: mtime) { return cached }
        let digest = await Task.detached(priority: .background) { try? sha256(ofFile: URL(fileURLWithPath: path)) }.value
        if let digest { try? record?.storeChecksum(path: path, size: size, mtime: mtime, sha256: digest) }
        return digest
    }
}
