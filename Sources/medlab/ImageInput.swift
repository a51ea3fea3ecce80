import ArgumentParser
import Foundation
import MedImaging
import MedInference
import MedLabRecord

/// An image file decoded once, then rendered for the model when its square size is known.
struct ImageInput {
    let path: String
    let study: DecodedStudy
    /// SHA-256 of the file's bytes: the record's name for the image.
    let sha256: String

    /// Reads PNG, JPEG, DICOM or NIfTI; a bad file fails here, before the model loads.
    static func load(path: String) throws -> ImageInput {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let study = try ImageDecoder.decode(data: data, filenameHint: (path as NSString).lastPathComponent)
        return ImageInput(path: path, study: study, sha256: RecordedAnalysis.sha256(data))
    }

    /// Paths with each folder replaced by the files in it (sorted, hidden files left out): a
    /// DICOM series is usually one folder of slices whose names say nothing about their order.
    static func expandFolders(_ paths: [String]) throws -> [String] {
        try paths.flatMap { path -> [String] in
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
                throw ValidationError("\(path): no such file or folder")
            }
            guard isFolder.boolValue else { return [path] }
            let names = try FileManager.default.contentsOfDirectory(atPath: path).filter { !$0.hasPrefix(".") }.sorted()
            return names.map { (path as NSString).appendingPathComponent($0) }.filter { name in
                var folder: ObjCBool = false
                return FileManager.default.fileExists(atPath: name, isDirectory: &folder) && !folder.boolValue
            }
        }
    }
}
