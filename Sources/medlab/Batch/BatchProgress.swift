import Foundation

/// Progress on stderr: a redrawn bar on a terminal, a plain line every few seconds otherwise.
actor BatchProgress {
    private let total: Int
    private let start = Date()
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private var done = 0
    private var errors = 0
    private var tokens = 0
    private var lastLine = Date.distantPast

    init(total: Int) { self.total = total }

    func record(error: Bool, tokensOut: Int) {
        done += 1
        if error { errors += 1 }
        tokens += tokensOut
        draw(force: done == total)
    }

    private func draw(force: Bool) {
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let text = String(format: "%d/%d  %.2f rows/s  ETA %@  errors %d", done, total, rate, Self.clock(eta), errors)
        if isTerminal {
            let width = 28
            let filled = total > 0 ? width * done / total : width
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            FileHandle.standardError.write(Data("\r\(bar) \(text)\u{1B}[K".utf8))
        } else if force || Date().timeIntervalSince(lastLine) >= 5 {
            lastLine = Date()
            FileHandle.standardError.write(Data("progress: \(text)\n".utf8))
        }
    }

    /// The closing summary line.
    func summary(skipped: Int, resumed: Int) -> String {
        let elapsed = Date().timeIntervalSince(start)
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
        return String(
            format: "done: %d rows (%d errors) in %@, %.1f generated tokens/s; %d already done, %d non-image files skipped",
            done, errors, Self.clock(elapsed), elapsed > 0 ? Double(tokens) / elapsed : 0, resumed, skipped)
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s % 3600 / 60) : String(format: "%dm%02ds", s / 60, s % 60)
    }
}
