import ArgumentParser
import Foundation
import MedImaging

/// `medlab info`: an identifier-free JSON summary of an image file.
struct Info: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print an identifier-free JSON summary of a PNG, JPEG, DICOM or NIfTI file.",
        discussion: "Patient name, ID, birth date, accession number, institution and dates are left out unless --identifiers is given.")

    @Argument(help: "The image file.")
    var input: String

    @Flag(help: "Include patient identifiers (off by default; do not paste the output anywhere public).")
    var identifiers = false

    func run() async throws {
        do {
            // Decoding one frame is enough for the summary and keeps large multi-frame files quick.
            let study = try ImageDecoder.decode(
                contentsOf: URL(fileURLWithPath: input),
                options: DecodeOptions(frame: 0, includeIdentifiers: identifiers))
            print(study.metadata.jsonString())
        } catch let error as ImagingError {
            FileHandle.standardError.write(Data("medlab info: \(input): \(error.description)\n".utf8))
            throw ExitCode.failure
        }
    }
}
