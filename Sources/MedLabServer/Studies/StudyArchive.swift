import Foundation
import ZIPFoundation

/// The files of a ZIP dropped as a study, read in memory with the guards `SetArchive` keeps for
/// regression sets (no `..`, no absolute paths, no links) plus a bound on what each entry may
/// inflate to: a hostile entry is skipped and listed, never followed and never a crash.
enum StudyArchive {
    /// Whether `bytes` start like a ZIP (local file header, or an empty archive's end record).
    static func isZIP(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4B && (bytes[2] == 0x03 || bytes[2] == 0x05)
    }

    /// Unpacks the entries into `upload` (which counts files and bytes against the limits);
    /// unreadable, hostile or nested archives are listed as skipped.
    static func unpack(_ bytes: [UInt8], name: String, into upload: inout StudyUpload) throws {
        // ZIPFoundation traps on an offset past the end of an in-memory archive (and leaks one without an end record).
        guard ZIPBounds.isSafe(bytes) else {
            upload.skip(name, "the ZIP cannot be read: no end record, or an offset in it points past its end")
            return
        }
        let archive: Archive
        do { archive = try Archive(data: Data(bytes), accessMode: .read) } catch {
            upload.skip(name, "the ZIP cannot be read")
            return
        }
        for entry in archive {
            try upload.countEntry()
            let path = entry.path
            let base = ZIPEntryPath.fileName(path)
            // Finder's resource forks and folder files are not part of the study.
            if entry.type == .directory || path.hasPrefix("__MACOSX/") || base.hasPrefix("._") || base == ".DS_Store" { continue }
            let shown = "\(name)/\(path)"
            guard entry.type == .file else {
                upload.skip(shown, "a link; links are not followed")
                continue
            }
            guard ZIPEntryPath.isContained(path) else {
                upload.skip(shown, "the path points outside the archive")
                continue
            }
            let declared = Int(clamping: entry.uncompressedSize)
            if declared > upload.remainingBytes {
                throw LabError.tooLarge("the files unpack to more than \(upload.limits.maxBytes >> 20) MiB; the limit per upload")
            }
            // An entry may inflate to what it declares and no more: one that lies is a bomb, stopped at once.
            let bound = min(declared, upload.limits.maxFileBytes)
            var data: [UInt8] = []
            do {
                _ = try archive.extract(entry, skipCRC32: false) { chunk in
                    guard data.count + chunk.count <= bound else { throw InflateBound() }
                    data.append(contentsOf: chunk)
                }
            } catch is InflateBound {
                upload.skip(shown, "inflates past the \(declared) bytes it declares (a ZIP bomb?)")
                continue
            } catch {
                upload.skip(shown, "the entry cannot be unpacked (damaged or an unsupported compression)")
                continue
            }
            if isZIP(data) {
                upload.skip(shown, "a ZIP inside the ZIP; nested archives are not opened")
                continue
            }
            try upload.add(shown, data)
        }
    }

    /// Thrown from the extraction callback to stop an entry that inflates past its bound.
    private struct InflateBound: Error {}
}
