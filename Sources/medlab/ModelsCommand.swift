import ArgumentParser
import Foundation
import MedInference

/// `medlab models`: what model files are found, and whether they are valid.
struct Models: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the model files found and check them.")

    @Option(help: "Folder to look in (default: MEDLAB_MODELS_DIR or ~/.cache/medlab/models).")
    var dir: String?

    func run() async throws {
        let folder = dir.map { URL(fileURLWithPath: $0) } ?? ModelFiles.defaultDirectory()
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
            .filter { $0.lowercased().hasSuffix(".gguf") }
        print("models folder: \(folder.path)")
        if names.isEmpty { print("  (no .gguf files)\n\n\(ModelFiles.downloadHint)") }
        for name in names {
            let path = folder.appendingPathComponent(name).path
            let size = ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? Int) ?? 0
            let sizeText = String(format: "%.2f GB", Double(size) / 1e9)
            do {
                let meta = try GGUFMetadata.read(path: path)
                let kind =
                    meta.isProjector
                    ? "projector \(meta.projectorType ?? "?"), \(meta.hasVisionEncoder ? "vision \(meta.imageSize ?? 0) px" : "NO vision encoder")"
                    : "text model \(meta.architecture), width \(meta.embeddingLength ?? 0), \(meta.blockCount ?? 0) layers"
                print("  ok   \(name)  \(sizeText)  \(kind)\(meta.fileType.map { ", \($0)" } ?? "")")
            } catch {
                print("  BAD  \(name)  \(sizeText)  \(error)")
            }
        }
        if let found = ModelFiles.discover(in: folder) {
            do {
                _ = try found.validate()
                print("would load: \(found.model) + \(found.projector ?? "(no projector: text only)")")
            } catch {
                print("would not load: \(error)")
            }
        }
        if let demo = ModelFiles.demo() { print("demo model: \(demo.model) + \(demo.projector ?? "-")") }
    }
}
