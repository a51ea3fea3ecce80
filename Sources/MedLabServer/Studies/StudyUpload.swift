import Foundation

/// The files of one `POST /api/studies`, counted against the upload's limits as they arrive
/// (loose files, the files of a dropped folder, or ZIPs unpacked by `StudyArchive`).
struct StudyUpload {
    /// How much one upload may hold.
    struct Limits: Sendable {
        /// Most files (413 past it).
        var maxFiles: Int
        /// Most bytes of all files, unpacked (413 past it).
        var maxBytes: Int
        /// Most bytes one ZIP entry may inflate to before it is skipped as a bomb.
        var maxFileBytes: Int
    }

    /// Most skipped files listed by name; the rest are counted.
    static let listedSkips = 200

    let limits: Limits
    private(set) var files: [(name: String, bytes: [UInt8])] = []
    private(set) var skipped: [SkippedFile] = []
    private(set) var bytes = 0
    /// Entries looked at, kept or not: bounds the work a ZIP of a million empty entries asks for.
    private var seen = 0

    init(limits: Limits) {
        self.limits = limits
    }

    var remainingBytes: Int { max(0, limits.maxBytes - bytes) }

    /// The upload's files from the form's `files` parts (also `file`, `files[]`); ZIPs are unpacked.
    static func collect(_ form: MultipartForm, limits: Limits) throws -> StudyUpload {
        var upload = StudyUpload(limits: limits)
        let parts = form.parts.filter { ["files", "file", "files[]"].contains($0.name) }
        guard !parts.isEmpty else {
            throw LabError.badRequest(code: "missing_image", message: "send the study's files (or a ZIP of them) as `files` parts")
        }
        for (index, part) in parts.enumerated() {
            let name = String((part.filename.flatMap { $0.isEmpty ? nil : $0 } ?? "files[\(index)]").prefix(200))
            try upload.countEntry()
            if StudyArchive.isZIP(part.body) {
                try StudyArchive.unpack(part.body, name: name, into: &upload)
            } else {
                try upload.add(name, part.body)
            }
        }
        return upload
    }

    /// Counts a file in; 413 past the file count or total size.
    mutating func add(_ name: String, _ data: [UInt8]) throws {
        guard files.count < limits.maxFiles else {
            throw LabError.tooLarge("more than \(limits.maxFiles) files in one upload; send the series apart")
        }
        guard data.count <= remainingBytes else {
            throw LabError.tooLarge("the files come to more than \(limits.maxBytes >> 20) MiB, the limit per upload")
        }
        bytes += data.count
        files.append((String(name.prefix(200)), data))
    }

    /// Lists a file left out (a bounded number by name).
    mutating func skip(_ name: String, _ reason: String) {
        if skipped.count < Self.listedSkips {
            skipped.append(SkippedFile(name: String(name.prefix(200)), reason: reason))
        } else if skipped.count == Self.listedSkips {
            skipped.append(SkippedFile(name: "…", reason: "more files were skipped; the list stops at \(Self.listedSkips)"))
        }
    }

    /// Counts one file or ZIP entry looked at, kept or not.
    mutating func countEntry() throws {
        seen += 1
        guard seen <= limits.maxFiles * 4 + 16 else {
            throw LabError.tooLarge("the upload holds more than \(limits.maxFiles * 4) entries")
        }
    }
}
