import Foundation

/// The one rule for ZIP entry paths both unpackers apply (regression sets, studies): an entry
/// stays inside the archive's folder or is refused.
enum ZIPEntryPath {
    /// False for absolute paths (`/x`, `C:x`), any `..` part, with `/` or `\` as separator.
    static func isContained(_ path: String) -> Bool {
        let normalised = path.replacingOccurrences(of: "\\", with: "/")
        let drive = normalised.count >= 2 && normalised.dropFirst().first == ":"
        return !normalised.hasPrefix("/") && !drive && !normalised.split(separator: "/").contains("..")
    }

    /// The entry's file name (after the last `/` or `\`), in plain Swift: Foundation's
    /// `NSString.lastPathComponent` traps on Linux for some names (`//r•`, found by the fuzzer).
    static func fileName(_ path: String) -> String {
        path.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
    }
}
