import ArgumentParser
import Foundation
import MedInference

/// `medlab pull`: MedGemma's GGUF files from the Hugging Face Hub into the models folder, in one command.
struct Pull: AsyncParsableCommand {
    static let defaultRepository = ModelFiles.hubRepository

    static let configuration = CommandConfiguration(
        abstract: "Download MedGemma's text model and vision projector (GGUF) from the Hugging Face Hub.",
        discussion: """
            REPO defaults to \(defaultRepository). The Hub is HF_ENDPOINT (a mirror works) and the token is --token, \
            HF_TOKEN or $HF_HOME/token; MedGemma is gated: accept the Health AI Developer Foundations terms on the \
            model's page first. Files resume after a broken transfer and are checked against the Hub's SHA-256.
            """)

    @Argument(help: "REPO[@REVISION] on the Hub.")
    var repository: String = Pull.defaultRepository

    @Option(help: "Quantisation of the text model.")
    var quant = "Q4_K_M"

    @Option(name: .customLong("mmproj-quant"), help: "Quantisation of the vision projector.")
    var mmprojQuant = "F16"

    @Option(name: .customLong("models-dir"), help: "Where to put the files (default: MEDLAB_MODELS_DIR or ~/.cache/medlab/models).")
    var modelsDir: String?

    @Option(help: "Hugging Face token (default: HF_TOKEN, then $HF_HOME/token). Never printed.")
    var token: String?

    @Flag(help: "List the repository's GGUF files and which ones would be fetched.")
    var list = false

    @Flag(help: "Download again even when the files are present and verified.")
    var force = false

    @Flag(help: "No progress output.")
    var quiet = false

    func run() async throws {
        do { try await pull() } catch let error as PullError {
            FileHandle.standardError.write(Data("medlab pull: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    private func pull() async throws {
        let parts = repository.split(separator: "@", maxSplits: 1).map(String.init)
        guard parts[0].split(separator: "/").count == 2 else { throw PullError("REPO must be OWNER/NAME, not \(parts[0])") }
        let hub = try HubClient.configured(
            repo: parts[0], revision: parts.count > 1 ? parts[1] : "main", token: token,
            environment: ProcessInfo.processInfo.environment)
        let entries: [HubClient.Entry]
        do { entries = try await hub.tree() } catch let error as PullError { throw error } catch {
            throw PullError("cannot reach \(hub.endpoint.absoluteString): \(error)")
        }
        let selection = try? HubSelection.choose(entries, quant: quant, projectorQuant: mmprojQuant)
        if list {
            let chosen = Set(selection?.files.map(\.path) ?? [])
            for entry in HubSelection.ggufs(entries) {
                print("\(chosen.contains(entry.path) ? "*" : " ") \(entry.path)  \(PullProgress.size(entry.size))")
            }
            print(selection == nil ? "no \(quant) text model here" : "* = what `medlab pull \(repository) --quant \(quant)` fetches")
            return
        }
        let choice = try HubSelection.choose(entries, quant: quant, projectorQuant: mmprojQuant)
        guard choice.projector != nil else {
            throw PullError("\(hub.repo) has no vision projector (mmproj*.gguf): image questions need one")
        }
        let folder = modelsDir.map { URL(fileURLWithPath: $0) } ?? ModelFiles.defaultDirectory()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let progress = PullProgress(quiet: quiet)
        var todo: [HubClient.Entry] = []
        for entry in choice.files {
            let target = folder.appendingPathComponent((entry.path as NSString).lastPathComponent)
            if !force, try Self.present(entry, at: target) {
                progress.note("\(entry.path): already here and verified")
            } else {
                todo.append(entry)
            }
        }
        try Self.checkSpace(todo, in: folder)
        for entry in todo {
            let target = folder.appendingPathComponent((entry.path as NSString).lastPathComponent)
            if force { try? FileManager.default.removeItem(at: target.appendingPathExtension("part")) }
            try await FileDownload(hub: hub, entry: entry, destination: target, progress: progress).run()
        }
        // A split text model loads from its first part; llama.cpp finds the rest beside it.
        let model = folder.appendingPathComponent((choice.text[0].path as NSString).lastPathComponent).path
        let projector = folder.appendingPathComponent((choice.projector!.path as NSString).lastPathComponent).path
        do { _ = try ModelFiles(model: model, projector: projector).validate() } catch {
            throw PullError("the files arrived but do not make a model: \(error)")
        }
        print("ready: \(model)\n       \(projector)")
        if ModelFiles.discover(in: folder)?.model != model {
            print("note: \(folder.path) holds other models too; start with --model \(model) --mmproj \(projector)")
        }
    }

    /// The file is in place with the Hub's size and checksum.
    private static func present(_ entry: HubClient.Entry, at url: URL) throws -> Bool {
        guard let size = try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int64, size == entry.size else {
            return false
        }
        guard let expected = entry.sha256 else { return true }
        return try FileDownload.sha256(of: url) == expected.lowercased()
    }

    /// Refuses to start a download the disk cannot hold.
    private static func checkSpace(_ entries: [HubClient.Entry], in folder: URL) throws {
        let needed = entries.reduce(Int64(0)) { total, entry in
            let part = folder.appendingPathComponent((entry.path as NSString).lastPathComponent).appendingPathExtension("part")
            let have = (try? FileManager.default.attributesOfItem(atPath: part.path)[.size] as? Int64) ?? 0
            return total + max(0, entry.size - have)
        }
        guard needed > 0,
            let free = (try? FileManager.default.attributesOfFileSystem(forPath: folder.path)[.systemFreeSize] as? NSNumber)?.int64Value
        else { return }
        if free < needed + (64 << 20) {
            throw PullError("\(folder.path) has \(PullProgress.size(free)) free; the download needs \(PullProgress.size(needed))")
        }
    }
}
