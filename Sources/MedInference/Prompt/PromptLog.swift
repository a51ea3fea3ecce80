import Foundation

/// `MEDLAB_PROMPT_LOG=FILE` appends, for every request the in-process engine tokenizes, one JSON
/// line with the exact prompt text and each image's size and pixel hash, as the vision encoder
/// gets it. A researcher sees what the model read; the tests compare entry points with it.
enum PromptLog {
    private static let path = ProcessInfo.processInfo.environment["MEDLAB_PROMPT_LOG"].flatMap { $0.isEmpty ? nil : $0 }
    private static let lock = NSLock()

    /// Writes one line when the log is on; never fails a request.
    static func record(_ segments: [PromptSegment], images: [ModelImage]) {
        guard let path else { return }
        let line: [String: Any] = ["prompt": render(segments), "images": images.map(EmbeddingCache.key(of:))]
        guard var data = try? JSONSerialization.data(withJSONObject: line, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return
        }
        data.append(0x0A)
        lock.lock()
        defer { lock.unlock() }
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: path) else { return }
        handle.seekToEndOfFile()
        handle.write(data)
        try? handle.close()
    }

    /// The prompt as text, each image as `<start_of_image>` plus `<image N>` where its soft tokens go.
    static func render(_ segments: [PromptSegment]) -> String {
        segments.map { segment in
            switch segment {
            case .template(let text), .user(let text): text
            case .image(let index): "<start_of_image><image \(index)><end_of_image>"
            }
        }.joined()
    }
}
