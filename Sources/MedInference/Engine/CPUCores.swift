import Foundation

/// How many CPU threads the engine uses by default.
public enum CPUCores {
    /// Physical cores this process may use: hyperthread siblings share one core's arithmetic
    /// units, so a thread per sibling adds contention, not speed. It is also llama.cpp's own
    /// default (llama-server, llama-cli), which keeps benchmarks against them like for like, and
    /// it leaves the siblings free for the HTTP server's threads.
    public static var physical: Int {
        let usable = ProcessInfo.processInfo.activeProcessorCount
        return min(usable, physical(sysfs: URL(fileURLWithPath: "/sys/devices/system/cpu")) ?? usable)
    }

    /// Counts distinct `cpuN/topology/thread_siblings` masks under `sysfs`; nil when there are none.
    static func physical(sysfs: URL) -> Int? {
        var siblings = Set<String>()
        var cpu = 0
        while let mask = try? String(contentsOf: sysfs.appendingPathComponent("cpu\(cpu)/topology/thread_siblings"), encoding: .utf8) {
            siblings.insert(mask.trimmingCharacters(in: .whitespacesAndNewlines))
            cpu += 1
        }
        return siblings.isEmpty ? nil : siblings.count
    }
}
