import ArgumentParser
import Foundation
import MedImaging

/// `medlab convert`: DICOM/NIfTI/PNG/JPEG to a windowed PNG or JPEG, optionally as the model sees it.
struct Convert: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a DICOM, NIfTI, PNG or JPEG file to PNG or JPEG, with windowing.",
        discussion: """
            The output format follows OUT's extension (.png, .jpg, .jpeg). Grey images are windowed: \
            the file's own window by default, else min–max. --model-input writes the letterboxed square the model sees.
            """)

    @Argument(help: "The input file.")
    var input: String

    @Argument(help: "The output file (.png, .jpg or .jpeg).")
    var output: String

    @Option(
        parsing: .unconditional, help: "Window: lung, mediastinum, bone, brain, abdomen, CENTER,WIDTH (e.g. -600,1500), minmax, or default."
    )
    var window: WindowArgument = .fileDefault

    @Option(help: "Frame of a multi-frame DICOM, 1-based (default: 1).")
    var frame: Int?

    @Option(help: "Slice of a NIfTI volume along --plane, 1-based (default: the middle slice).")
    var slice: Int?

    @Option(help: "Plane for --slice: axial, coronal or sagittal (default: axial). Radiological convention.")
    var plane: Volume.Plane = .axial

    @Flag(name: .customLong("model-input"), help: "Letterbox into the model's square input (see --size).")
    var modelInput = false

    @Option(help: "Side of the model's square in pixels, with --model-input (default: 896, MedGemma's).")
    var size = 896

    @Option(help: "JPEG quality 1–100 (default: 92).")
    var quality = 92

    @Flag(help: "Print what was written as JSON: size and, with --model-input, where the image sits in the square.")
    var json = false

    /// What `--json` prints; `letterbox` is the same object `POST /api/render` returns with `model_input`.
    struct Written: Encodable {
        var output: String
        var width: Int
        var height: Int
        var letterbox: LetterboxGeometry?
    }

    func run() async throws {
        do {
            let choice = window.choice
            let volumePlane = plane
            let ext = (output as NSString).pathExtension.lowercased()
            guard ["png", "jpg", "jpeg"].contains(ext) else {
                throw ImagingError.invalidArgument("output '\(output)' must end in .png, .jpg or .jpeg")
            }
            guard size >= 16, size <= 8192 else { throw ImagingError.invalidArgument("--size \(size) is outside 16…8192") }
            if let frame, frame < 1 { throw ImagingError.invalidArgument("--frame counts from 1") }
            let options = DecodeOptions(frame: frame.map { $0 - 1 })
            let study = try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: input), options: options)
            let image: MedImage
            if let volume = study.volume {
                let index = slice.map { $0 - 1 } ?? volume.sliceCount(volumePlane) / 2
                image = try volume.slice(volumePlane, index: index)
            } else {
                if slice != nil { throw ImagingError.invalidArgument("--slice applies to NIfTI volumes; use --frame for DICOM") }
                image = try study.frame(0)
            }
            var rgb = Renderer.render(image, window: choice)
            var geometry: LetterboxGeometry?
            if modelInput {
                let fitted = Letterbox.fit(rgb, side: size, pixelAspect: image.pixelAspect)
                rgb = fitted.image
                geometry = LetterboxGeometry(fitted.transform)
            } else if study.volume != nil {
                // A coronal slice of 3.5 mm slices would look squashed; DICOM keeps its stored grid, as pydicom does.
                rgb = Letterbox.squarePixels(rgb, pixelAspect: image.pixelAspect)
            }
            let data = ext == "png" ? try ImageEncoder.png(rgb) : try ImageEncoder.jpeg(rgb, quality: quality)
            do { try data.write(to: URL(fileURLWithPath: output), options: .atomic) } catch {
                throw ImagingError.invalidArgument("cannot write \(output): \(error.localizedDescription)")
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                let written = Written(output: output, width: rgb.width, height: rgb.height, letterbox: geometry)
                print(String(decoding: try encoder.encode(written), as: UTF8.self))
            }
        } catch let error as ImagingError {
            FileHandle.standardError.write(Data("medlab convert: \(input): \(error.description)\n".utf8))
            throw ExitCode.failure
        }
    }
}
