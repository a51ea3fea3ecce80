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
        #expect(CPUCores.physical(sysfs: try sysfs(["3", "3", "c", "c"])) == 2)
        #expect(CPUCores.physical(sysfs: try sysfs(["1", "2", "4"])) == 3)
        #expect(CPUCores.physical(sysfs: try sysfs([])) == nil)
    }

    @Test func theDefaultIsWithinTheUsableCPUs() {
        #expect((1...ProcessInfo.processInfo.activeProcessorCount).contains(CPUCores.physical))
    }
}
