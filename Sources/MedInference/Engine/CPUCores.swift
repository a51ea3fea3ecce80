import Foundation

/// How many CPU threads the engine uses by default.
public enum CPUCores {
    /// Physical cores among the CPUs this process may run on: hyperthread siblings share one
    /// core's arithmetic units, so a thread per sibling adds contention, not speed. It is also
    /// llama.cpp's own default (llama-server, llama-cli), which keeps benchmarks against them like
    /// for like, and it leaves the siblings free for the HTTP server's threads.
    public static var physical: Int {
        let usable = ProcessInfo.processInfo.activeProcessorCount
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let allowed =
            status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") }
            .flatMap { cpuList(String($0.dropFirst("Cpus_allowed_list:".count))) }
            ?? Array(0..<ProcessInfo.processInfo.processorCount)
        let cores = physical(sysfs: URL(fileURLWithPath: "/sys/devices/system/cpu"), allowed: allowed)
        return max(1, min(usable, cores ?? usable))
    }

    /// Counts distinct `cpuN/topology/thread_siblings` masks under `sysfs` for the CPUs in
    /// `allowed`; nil when none can be read.
    static func physical(sysfs: URL, allowed: [Int]) -> Int? {
        let masks = allowed.compactMap { cpu in
            try? String(contentsOf: sysfs.appendingPathComponent("cpu\(cpu)/topology/thread_siblings"), encoding: .utf8)
        }
        let siblings = Set(masks.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
        return siblings.isEmpty ? nil : siblings.count
    }

    /// Parses a kernel CPU list such as `0-3,8,10-11`; nil when malformed.
    static func cpuList(_ text: String) -> [Int]? {
        var cpus: [Int] = []
        for part in text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",") {
            let bounds = part.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard let low = bounds.first ?? nil, let high = bounds.last ?? nil, bounds.count <= 2, low <= high else { return nil }
            cpus += Array(low...high)
        }
        return cpus.isEmpty ? nil : cpus
    }
}
