import Foundation
import MedImaging

#if canImport(Glibc)
    import Glibc
#endif

/// The image files a batch covers, each with the name it gets in the output.
struct BatchFile: Sendable {
    var url: URL
    /// Path relative to the input root it was found under (the file name for a file argument).
    var name: String
}

/// Walks the inputs: files as given, folders (recursively unless told not to), globs applied,
/// files that are not images skipped and counted.
enum BatchFiles {
    static func collect(_ paths: [String], recursive: Bool, include: [String], exclude: [String]) throws
        -> (files: [BatchFile], skipped: Int)
    {
        var files: [BatchFile] = []
        var skipped = 0
        let manager = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw BatchError("input not found: \(path)")
            }
            let root = URL(fileURLWithPath: path).standardizedFileURL
            var candidates: [BatchFile] = []
            if isDirectory.boolValue {
                let options: FileManager.DirectoryEnumerationOptions =
                    recursive ? [.skipsHiddenFiles] : [.skipsHiddenFiles, .skipsSubdirectoryDescendants]
                let enumerator = manager.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey], options: options)
                while let url = enumerator?.nextObject() as? URL {
                    guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
                    let relative = String(url.standardizedFileURL.path.dropFirst(root.path.count)).trimmingPrefix("/")
                    candidates.append(BatchFile(url: url, name: String(relative)))
                }
            } else {
                candidates.append(BatchFile(url: root, name: root.lastPathComponent))
            }
            for file in candidates.sorted(by: { $0.name < $1.name }) {
                if !include.isEmpty, !include.contains(where: { matches($0, file.name) }) { continue }
                if exclude.contains(where: { matches($0, file.name) }) { continue }
                if isImage(file.url) { files.append(file) } else { skipped += 1 }
            }
        }
        return (files, skipped)
    }

    /// A shell glob against the relative path or the bare file name.
    static func matches(_ pattern: String, _ name: String) -> Bool {
        fnmatch(pattern, name, 0) == 0 || fnmatch(pattern, (name as NSString).lastPathComponent, 0) == 0
    }

    /// Sniffs the first bytes (and the name, for `.nii.gz` and DICOM without preamble).
    private static func isImage(_ url: URL) -> Bool { format(url) != nil }

    /// The image format of a file by its first bytes, nil for anything else.
    static func format(_ url: URL) -> ImageFormat? {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return nil }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 1024)) ?? Data()
        return ImageDecoder.sniff(head, filenameHint: url.lastPathComponent)
    }
}

/// What one row set is about: a single image file, or a volume (a folder's DICOM series, or a
/// NIfTI file) under `--series`.
struct BatchStudy: Sendable {
    /// The name rows carry: the file's relative path, or the series folder's.
    var name: String
    var files: [BatchFile]
    var isVolume: Bool

    /// One study per file, as without `--series`.
    static func singles(_ files: [BatchFile]) -> [BatchStudy] {
        files.map { BatchStudy(name: $0.name, files: [$0], isVolume: false) }
    }

    /// `--series`: the DICOM files of each folder form one volume (a folder with a single DICOM
    /// file stays an image); each NIfTI file is a volume; PNG and JPEG files stay images.
    static func series(_ files: [BatchFile]) -> [BatchStudy] {
        var studies: [BatchStudy] = []
        var folders: [String: [BatchFile]] = [:]
        for file in files {
            switch BatchFiles.format(file.url) {
            case .dicom: folders[(file.name as NSString).deletingLastPathComponent, default: []].append(file)
            case .nifti: studies.append(BatchStudy(name: file.name, files: [file], isVolume: true))
            default: studies.append(BatchStudy(name: file.name, files: [file], isVolume: false))
            }
        }
        for (folder, members) in folders {
            if members.count == 1 {
                studies.append(BatchStudy(name: members[0].name, files: members, isVolume: false))
            } else {
                studies.append(BatchStudy(name: folder.isEmpty ? "." : folder, files: members, isVolume: true))
            }
        }
        return studies.sorted { $0.name < $1.name }
    }
}

/// A batch failure that stops the whole run (bad arguments, unreadable output).
struct BatchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
