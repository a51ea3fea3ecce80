import AsyncHTTPClient
import Foundation
import MedLabRecord
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// One file from the Hub into the models folder: bytes go to `NAME.part` (resumed with `Range`
/// after a broken transfer, in this run or a later one), the whole file's SHA-256 is checked
/// against the Hub's before an atomic rename, and a lock keeps two pulls of it apart.
struct FileDownload {
    let hub: HubClient
    let entry: HubClient.Entry
    let destination: URL
    let progress: PullProgress
    /// Tries within one run before giving up on a broken connection.
    var attempts = 5

    var part: URL { destination.appendingPathExtension("part") }

    func run() async throws {
        let lockPath = destination.appendingPathExtension("lock").path
        let lock = open(lockPath, O_CREAT | O_RDWR, 0o644)
        guard lock >= 0 else { throw PullError("cannot create \(lockPath): \(String(cString: strerror(errno)))") }
        defer {
            close(lock)
            unlink(lockPath)
        }
        guard flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            throw PullError("another medlab pull is downloading \(destination.lastPathComponent) (lock \(lockPath))")
        }
        var delay = 0.5
        for attempt in 1...attempts {
            do {
                try await transfer()
                break
            } catch let error as PullError {
                throw error
            } catch {
                guard attempt < attempts, !Task.isCancelled else {
                    throw PullError(
                        "the download of \(entry.path) broke \(attempts) times (last: \(error)); run the same command again to resume")
                }
                progress.note("\(entry.path): transfer broke (\(error)); resuming in \(delay) s")
                try await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                delay *= 2
            }
        }
        try verify()
        try? FileManager.default.removeItem(at: destination)
        guard rename(part.path, destination.path) == 0 else {
            throw PullError("cannot move \(part.lastPathComponent) into place: \(String(cString: strerror(errno)))")
        }
    }

    /// Sends one request from the part file's current length and appends what comes.
    private func transfer() async throws {
        if !FileManager.default.fileExists(atPath: part.path) { FileManager.default.createFile(atPath: part.path, contents: nil) }
        var have = (try? FileManager.default.attributesOfItem(atPath: part.path)[.size] as? Int64) ?? 0
        if have >= entry.size { return }
        let response = try await hub.download(entry.path, from: have)
        let handle = try FileHandle(forWritingTo: part)
        defer { try? handle.close() }
        switch response.status {
        case .partialContent:
            // The server must resume where we are; anything else restarts the file.
            let range = response.headers.first(name: "Content-Range") ?? ""
            if !range.hasPrefix("bytes \(have)-") {
                try handle.truncate(atOffset: 0)
                have = 0
                throw RestartTransfer()
            }
            try handle.seek(toOffset: UInt64(have))
        case .rangeNotSatisfiable:
            try handle.truncate(atOffset: 0)
            throw RestartTransfer()
        default:
            // 200: the server ignored Range (or there was nothing yet): start over cleanly.
            if have > 0 { progress.note("\(entry.path): the server does not resume; starting the file again") }
            try handle.truncate(atOffset: 0)
            have = 0
        }
        progress.start(entry.path, total: entry.size, from: have)
        for try await buffer in response.body {
            try handle.write(contentsOf: buffer.readableBytesView)
            have += Int64(buffer.readableBytes)
            progress.advance(to: have)
        }
        try handle.synchronize()
        progress.finish()
        guard have >= entry.size else { throw TransferBroke(received: have, expected: entry.size) }
    }

    /// The part file's SHA-256 against the Hub's; a mismatch deletes it.
    private func verify() throws {
        guard let expected = entry.sha256?.lowercased() else { return }
        let actual = try Self.sha256(of: part)
        guard actual == expected else {
            try? FileManager.default.removeItem(at: part)
            throw PullError(
                "\(entry.path) arrived damaged: its SHA-256 is \(actual), the Hub says \(expected); the partial file was deleted, run again"
            )
        }
    }

    static func sha256(of url: URL) throws -> String { try FileChecksums.sha256(ofFile: url) }
}

/// The server did not resume where we are: the next attempt starts from zero.
struct RestartTransfer: Error {}

/// The connection ended before the whole file came.
struct TransferBroke: Error, CustomStringConvertible {
    var received: Int64, expected: Int64
    var description: String { "the connection ended after \(received) of \(expected) bytes" }
}
