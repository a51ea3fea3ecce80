import Foundation
import Testing

@testable import MedInference

@Suite("Default thread count")
struct CPUCoresTests {
    /// Writes a fake sysfs tree with one `thread_siblings` mask per CPU.
    private func sysfs(_ masks: [String]) throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cpus-\(UUID().uuidString)")
        for (cpu, mask) in masks.enumerated() {
            let dir = root.appendingPathComponent("cpu\(cpu)/topology")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try (mask + "\n").write(to: dir.appendingPathComponent("thread_siblings"), atomically: true, encoding: .utf8)
        }
        return root
    }

    @Test func hyperthreadSiblingsCountOnce() throws {
        // Four logical CPUs, two per core (masks 0011 and 1100).
        let pairs = try sysfs(["3", "3", "c", "c"])
        defer { try? FileManager.default.removeItem(at: pairs) }
        #expect(CPUCores.physical(sysfs: pairs, allowed: [0, 1, 2, 3]) == 2)
        // A container pinned to CPUs 0 and 1 has one core, not the host's two.
        #expect(CPUCores.physical(sysfs: pairs, allowed: [0, 1]) == 1)
        #expect(CPUCores.physical(sysfs: pairs, allowed: [1, 2, 9]) == 2)
        let single = try sysfs(["1", "2", "4"])
        defer { try? FileManager.default.removeItem(at: single) }
        #expect(CPUCores.physical(sysfs: single, allowed: [0, 1, 2]) == 3)
        #expect(CPUCores.physical(sysfs: single.appendingPathComponent("missing"), allowed: [0, 1, 2]) == nil)
    }

    @Test func cpuListsParse() {
        #expect(CPUCores.cpuList("0-3,8,10-11\n") == [0, 1, 2, 3, 8, 10, 11])
        #expect(CPUCores.cpuList("\t5") == [5])
        #expect(CPUCores.cpuList("3-1") == nil)
        #expect(CPUCores.cpuList("a-b") == nil)
        #expect(CPUCores.cpuList("") == nil)
    }
}
