import Foundation
import MedLabExperiments
import Testing

@testable import MedLabServer

/// Every input a request-side fuzz target (`make fuzz`, bench/fuzz) ever crashed on, kept in
/// `FuzzFindings/<target>/`: each must now go through that target's checks without a trap.
/// `FuzzTargets.swift` links to the harness's own file, so the replay cannot drift from the fuzzer.
struct ServerFuzzFindingsTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("FuzzFindings")

    /// `target/file` for every finding.
    static var findings: [String] {
        let manager = FileManager.default
        return ((try? manager.contentsOfDirectory(atPath: folder.path)) ?? []).sorted().flatMap {
            target in
            ((try? manager.contentsOfDirectory(atPath: folder.appendingPathComponent(target).path)) ?? [])
                .sorted().map {
                    "\(target)/\($0)"
                }
        }
    }

    @Test func theFindingsFolderIsThere() {
        #expect(Self.findings.contains("multipart/empty-part-before-delimiter"))
    }

    @Test(arguments: findings)
    func aFindingIsRefusedOrParsedWithoutATrap(_ path: String) throws {
        let target = try #require(FuzzTarget.all.first { $0.name == path.split(separator: "/")[0] })
        let data = try Data(contentsOf: Self.folder.appendingPathComponent(path))
        data.withUnsafeBytes { target.run($0.bindMemory(to: UInt8.self)) }
    }

    /// A ZIP whose central directory points past its end made ZIPFoundation's in-memory reader trap.
    @Test func aZIPWithAnOffsetPastItsEndIsRefused() throws {
        let bytes = [UInt8](try Data(contentsOf: Self.folder.appendingPathComponent("set-zip/offset-past-the-end.zip")))
        #expect(!ZIPBounds.isSafe(bytes))
        #expect { _ = try SetArchive.unpack(bytes, limit: 1 << 20) } throws: { "\($0)".contains("past its end") }
    }

    /// A ZIP with no end record made ZIPFoundation throw without closing its in-memory file: a copy
    /// of every such upload leaked (the fuzzer's leak check); it is refused before ZIPFoundation now.
    @Test func aZIPWithNoEndRecordIsRefusedFirst() throws {
        let bytes = [UInt8](try Data(contentsOf: Self.folder.appendingPathComponent("set-zip/no-end-record-leak.zip")))
        #expect(!ZIPBounds.isSafe(bytes))
    }

    /// An ordinary set ZIP passes the check and unpacks (read in memory: extract(_:to:) leaked).
    @Test func anOrdinarySetZIPUnpacks() throws {
        let bytes = [UInt8](try Data(contentsOf: Self.folder.appendingPathComponent("set-zip/extract-to-url-leak.zip")))
        #expect(ZIPBounds.isSafe(bytes))
        let folder = try SetArchive.unpack(bytes, limit: 1 << 20)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(try SetArchive.setFile(in: folder).hasSuffix("/set.json"))
    }

    /// An empty set file: Foundation leaks a 4 KB buffer reading an empty file, so it is refused unread.
    @Test func anEmptySetFileIsRefusedUnread() throws {
        let bytes = [UInt8](try Data(contentsOf: Self.folder.appendingPathComponent("set-zip/empty-set-file-leak.zip")))
        let folder = try SetArchive.unpack(bytes, limit: 1 << 20)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect { _ = try RegressionSet.load(path: try SetArchive.setFile(in: folder)) } throws: { "\($0)".contains("the file is empty") }
    }

    /// A regex over 256 UTF-16 units: Foundation leaks a copy of it on every compile, so a set refuses it.
    @Test func aRegexOver256CharactersIsRefused() throws {
        let data = try Data(contentsOf: Self.folder.appendingPathComponent("set-yaml/long-regex-leak.yaml"))
        #expect {
            _ = try RegressionSet.parse(String(decoding: data, as: UTF8.self), file: "set.yaml", folder: FuzzTarget.setFolder)
        } throws: { "\($0)".contains("expect.regex is over 256 characters") }
    }

    /// The same ZIP dropped as a study is skipped and listed, never handed to ZIPFoundation.
    @Test func aStudyZIPWithAnOffsetPastItsEndIsSkipped() throws {
        let bytes = [UInt8](try Data(contentsOf: Self.folder.appendingPathComponent("set-zip/offset-past-the-end.zip")))
        var upload = StudyUpload(limits: .init(maxFiles: 64, maxBytes: 1 << 20, maxFileBytes: 1 << 18))
        try StudyArchive.unpack(bytes, name: "study.zip", into: &upload)
        #expect(upload.files.isEmpty && upload.skipped.count == 1)
    }

    /// A part whose blank line ends right at the next delimiter (no CRLF before it) sliced its body
    /// from past its end: a trap that killed the server on one 50-byte request.
    @Test func aPartWithNoBodyBeforeTheDelimiterIsEmpty() throws {
        let body = Array(
            "--b\r\nContent-Disposition: form-data; name=\"question\"\r\n\r\n--b--\r\n".utf8)
        let form = try MultipartForm(body: body, boundary: "b")
        #expect(form.parts.map(\.name) == ["question"] && form.parts[0].body.isEmpty)
    }
}
