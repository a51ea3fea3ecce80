import Foundation
import MedInference
import Testing

@testable import MedLabExperiments

/// The rules a regression case is judged by, and the set file's checks.
@Suite("Regression expectations and set files")
struct ExpectationsTests {
    @Test func textRulesAreCaseInsensitiveAndEachFailureIsNamed() {
        let rules = Expectations(
            containsAny: ["effusion", "fluid"], containsAll: ["LEFT"], notContains: ["pneumothorax"],
            regex: "(?i)no (acute|focal)")
        #expect(rules.failures(for: "Small left pleural Effusion; no acute findings.").isEmpty)
        let failed = rules.failures(for: "Right pneumothorax.")
        #expect(failed.count == 4)
        #expect(failed.contains { $0.hasPrefix("contains_any:") } && failed.contains { $0.hasPrefix("not_contains:") })
    }

    @Test func fieldsAreReadFromTheFirstJSONObjectOfTheAnswer() {
        let rules = Expectations(fields: ["effusion": .bool(true), "side": .string("left"), "count": .number(2)])
        #expect(rules.failures(for: "```json\n{\"effusion\": true, \"side\": \"left\", \"count\": 2}\n```").isEmpty)
        #expect(
            rules.failures(for: "{\"effusion\": false, \"side\": \"left\", \"count\": 2}") == ["fields: effusion is false, expected true"])
        #expect(rules.failures(for: "no JSON here") == ["fields: the answer is not a JSON object"])
    }

    @Test func aSetFileIsCheckedWholeBeforeAnythingRuns() throws {
        let folder = FileManager.default.temporaryDirectory
        let set = try RegressionSet.parse(
            """
            name: s
            params: {max_new_tokens: 16, temperature: 0.5}
            cases:
              - id: a
                question: q
                expect: {fields: {effusion: true, side: left, n: 3}, contains_any: effusion}
            """, file: "s.yaml", folder: folder)
        #expect(set.params.maxNewTokens == 16 && set.params.temperature == 0.5)
        #expect(set.cases[0].expect.fields == ["effusion": .bool(true), "side": .string("left"), "n": .number(3)])
        #expect(set.cases[0].expect.containsAny == ["effusion"])
        #expect(throws: SetError(file: "s.yaml", line: 2, message: "params.max_new_tokens must be 1 to 8192")) {
            try RegressionSet.parse("name: s\nparams: {max_new_tokens: 0}\ncases: [{id: a, question: q}]\n", file: "s.yaml", folder: folder)
        }
        #expect(throws: SetError.self) { try RegressionSet.parse("name: s\ncases: [{id: a}]\n", file: "s.yaml", folder: folder) }
    }
}
