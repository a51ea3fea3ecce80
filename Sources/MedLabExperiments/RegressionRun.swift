import Foundation
import MedLabRecord

/// One run of a regression set, compared with the set's previous run (report.json's shape).
public struct RegressionReport: Codable, Sendable {
    /// One case's verdict.
    public struct Case: Codable, Sendable {
        public var id: String
        public var passed: Bool
        public var question: String
        public var images: [String]
        public var answer: String?
        public var error: String?
        public var expect: Expectations
        public var failedExpectations: [String]
        public var analysisID: String?
        public var previous: Previous?
        /// PNG of what the model saw, base64 (HTML report only).
        public var thumbnail: String?

        enum CodingKeys: String, CodingKey {
            case id, passed, question, images, answer, error, expect, previous
            case failedExpectations = "failed_expectations"
            case analysisID = "analysis_id"
        }

        /// Every key is written (`previous` is `null` on a set's first run).
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(passed, forKey: .passed)
            try c.encode(question, forKey: .question)
            try c.encode(images, forKey: .images)
            try c.encode(answer, forKey: .answer)
            try c.encode(error, forKey: .error)
            try c.encode(expect, forKey: .expect)
            try c.encode(failedExpectations, forKey: .failedExpectations)
            try c.encode(analysisID, forKey: .analysisID)
            try c.encode(previous, forKey: .previous)
        }
    }

    /// The same case in the set's previous run.
    public struct Previous: Codable, Sendable {
        public var passed: Bool
        public var answerChanged: Bool
        enum CodingKeys: String, CodingKey {
            case passed
            case answerChanged = "answer_changed"
        }
    }

    public var set: String
    public var file: String
    public var runID: String
    public var createdAt: String
    public var model: CompareGrid.Model
    public var params: ExperimentParams
    public var passed: Int
    public var failed: Int
    public var passRate: Double
    /// The previous run's id and pass rate, when there was one.
    public var previousRunID: String?
    public var previousPassRate: Double?
    public var newlyFailing: [String]
    public var newlyPassing: [String]
    public var answerChanged: [String]
    public var cases: [Case]

    enum CodingKeys: String, CodingKey {
        case set, file, model, params, passed, failed, cases
        case runID = "run_id"
        case createdAt = "created_at"
        case passRate = "pass_rate"
        case previousRunID = "previous_run_id"
        case previousPassRate = "previous_pass_rate"
        case newlyFailing = "newly_failing"
        case newlyPassing = "newly_passing"
        case answerChanged = "answer_changed"
    }

    /// Runs every case (a case whose image cannot be read fails with its error; the run goes on),
    /// judges it, compares with the previous run of the same set in the record, and saves this run there.
    public static func run(
        _ set: RegressionSet, runner: ExperimentRunner,
        progress: @escaping @Sendable (ExperimentProgress) async -> Void = { _ in }
    ) async -> RegressionReport {
        let id = RecordedAnalysis.newID()
        let jobs = set.cases.map { item -> ExperimentJob in
            var job = ExperimentJob(files: [], question: item.question, context: item.context, window: item.window, params: set.params)
            do {
                job.files = try item.images.flatMap { try ExperimentFile.read($0) }
                job.volume = item.images.count == 1 && ExperimentFile.isFolder(item.images[0]) && job.files.count > 1
            } catch {
                job.unreadable = "\(error)"
            }
            return job
        }
        let outcomes = await runner.run(jobs, experimentID: id, progress: progress)
        let previous = Self.previous(of: set.name, in: runner.recording.record)
        var cases: [Case] = []
        for (item, outcome) in zip(set.cases, outcomes) {
            let failures = outcome.error.map { ["error: \($0)"] } ?? item.expect.failures(for: outcome.answer ?? "")
            let before = previous?.cases.first { $0.id == item.id }
            cases.append(
                Case(
                    id: item.id, passed: failures.isEmpty, question: item.question, images: item.imageNames, answer: outcome.answer,
                    error: outcome.error, expect: item.expect, failedExpectations: failures, analysisID: outcome.analysisID,
                    previous: before.map { Previous(passed: $0.passed, answerChanged: $0.answer != outcome.answer) },
                    thumbnail: outcome.thumbnail?.base64EncodedString()))
        }
        let passed = cases.filter(\.passed).count
        let model = await ReportModel.describe(runner)
        let report = RegressionReport(
            set: set.name, file: set.file, runID: id, createdAt: ReportModel.now(), model: model, params: set.params, passed: passed,
            failed: cases.count - passed, passRate: cases.isEmpty ? 0 : Double(passed) / Double(cases.count),
            previousRunID: previous?.runID,
            previousPassRate: previous?.passRate,
            newlyFailing: cases.filter { !$0.passed && $0.previous?.passed == true }.map(\.id),
            newlyPassing: cases.filter { $0.passed && $0.previous?.passed == false }.map(\.id),
            answerChanged: cases.filter { $0.previous?.answerChanged == true }.map(\.id), cases: cases)
        if let record = runner.recording.record, let body = try? ReportModel.encoder.encode(report) {
            try? record.save(
                experiment: StoredExperiment(
                    kind: "regression", id: id, name: set.name, modelFile: model.file,
                    modelSHA256: model.sha256, passRate: report.passRate, body: body))
        }
        return report
    }

    /// The latest stored run of the set named `name`.
    static func previous(of name: String, in record: LabRecord?) -> RegressionReport? {
        guard let stored = try? record?.experiments(kind: "regression", name: name, limit: 1).first else { return nil }
        return try? JSONDecoder().decode(RegressionReport.self, from: stored.body)
    }
}

extension ExperimentFile {
    static func isFolder(_ path: String) -> Bool {
        var folder: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &folder) && folder.boolValue
    }
}
