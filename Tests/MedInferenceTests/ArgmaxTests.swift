import Testing

@testable import MedInference

@Suite("Greedy argmax")
struct ArgmaxTests {
    private func argmax(_ values: [Float]) -> Int { values.withUnsafeBufferPointer { Int(Sampler.argmax($0)) } }

    /// The plain definition: the first index holding the largest non-NaN value, 0 when none beats -inf.
    private func reference(_ values: [Float]) -> Int {
        var best = 0
        var bestValue = -Float.infinity
        for (index, value) in values.enumerated() where value > bestValue { (best, bestValue) = (index, value) }
        return best
    }

    @Test func edgeCases() {
        #expect(argmax([]) == 0)
        #expect(argmax([-.infinity, -.infinity]) == 0)
        #expect(argmax([.nan, .nan, .nan]) == 0)
        #expect(argmax([.nan, 1, .nan, 2, .nan]) == 3)
        #expect(argmax([Float](repeating: 7, count: 40)) == 0)  // ties: the first one
        var tail = [Float](repeating: 0, count: 35)
        tail[34] = 1  // past the last whole chunk of 16
        #expect(argmax(tail) == 34)
        var twice = [Float](repeating: -3, count: 100)
        twice[70] = 5
        twice[20] = 5
        #expect(argmax(twice) == 20)
    }

    @Test(arguments: [1, 15, 16, 17, 31, 262_144, 262_147])
    func matchesTheDefinition(count: Int) {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5 {
            // Few distinct values, so ties are common.
            var values = (0..<count).map { _ in Float(Int.random(in: -50...50, using: &generator)) / 4 }
            if count > 3 { values[Int.random(in: 0..<count, using: &generator)] = .nan }
            #expect(argmax(values) == reference(values))
        }
    }

    /// The candidates a refused greedy token is re-chosen from: exactly the k largest logits.
    @Test func topKIsTheKLargest() {
        var generator = SystemRandomNumberGenerator()
        for size in [10, 64, 1000, 262_144] {
            let values = (0..<size).map { _ in Float.random(in: -20...20, using: &generator) }
            let top = values.withUnsafeBufferPointer { Sampler.top(64, of: $0) }
            let expected = Set(values.enumerated().sorted { $0.element > $1.element }.prefix(64).map(\.offset))
            #expect(Set(top.map { Int($0.id) }) == expected)
            #expect(top.allSatisfy { values[Int($0.id)] == $0.logit })
        }
    }
}
