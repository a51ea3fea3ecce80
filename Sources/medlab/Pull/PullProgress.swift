import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Download progress on stderr: one updating line on a terminal (bytes, speed, ETA), a plain
/// line every few seconds otherwise, nothing with `--quiet`.
final class PullProgress: @unchecked Sendable {
    private let quiet: Bool
    private let terminal = isatty(2) != 0
    private var name = "", total: Int64 = 0, startedAt = Date(), startBytes: Int64 = 0, lastPrint = Date.distantPast

    init(quiet: Bool) { self.quiet = quiet }

    func note(_ line: String) {
        guard !quiet else { return }
        FileHandle.standardError.write(Data(((terminal ? "\r\u{1B}[K" : "") + line + "\n").utf8))
    }

    func start(_ name: String, total: Int64, from bytes: Int64) {
        self.name = name
        self.total = total
        startedAt = Date()
        startBytes = bytes
        lastPrint = .distantPast
        if bytes > 0 { note("\(name): resuming at \(Self.size(bytes)) of \(Self.size(total))") }
    }

    func advance(to bytes: Int64) {
        guard !quiet else { return }
        let now = Date()
        guard now.timeIntervalSince(lastPrint) >= (terminal ? 0.2 : 5) else { return }
        lastPrint = now
        let seconds = max(0.001, now.timeIntervalSince(startedAt))
        let speed = Double(bytes - startBytes) / seconds
        let eta = speed > 0 ? Double(total - bytes) / speed : 0
        let line = String(
            format: "%@  %3.0f%%  %@ / %@  %@/s  ETA %@", name, total > 0 ? Double(bytes) * 100 / Double(total) : 100,
            Self.size(bytes), Self.size(total), Self.size(Int64(speed)), Self.duration(eta))
        FileHandle.standardError.write(Data((terminal ? "\r\u{1B}[K" + line : line + "\n").utf8))
    }

    func finish() {
        guard !quiet else { return }
        note("\(name): \(Self.size(total)) downloaded")
    }

    static func size(_ bytes: Int64) -> String {
        let b = Double(bytes)
        if b >= 1e9 { return String(format: "%.2f GB", b / 1e9) }
        if b >= 1e6 { return String(format: "%.1f MB", b / 1e6) }
        if b >= 1e3 { return String(format: "%.0f kB", b / 1e3) }
        return "\(bytes) B"
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds < 360_000 else { return "?" }
        let s = Int(seconds)
        return s >= 3600 ? "\(s / 3600) h \(s % 3600 / 60) min" : s >= 60 ? "\(s / 60) min \(s % 60) s" : "\(s) s"
    }
}
