import Foundation
import MedLabRecord

/// Experiments as CSV, one row per grid cell or per regression case.
public enum ExperimentCSV {
    public static func grid(_ grid: CompareGrid) -> String {
        rows(
            ["experiment_id", "question", "image", "answer", "analysis_id", "total_ms", "error"],
            grid.cells.map { cell in
                [
                    grid.experimentID, cell.question, cell.image, cell.answer ?? "", cell.analysisID ?? "",
                    cell.timings.totalMs.map { String($0) } ?? "", cell.error ?? ""
                ]
            })
    }

    public static func regression(_ report: RegressionReport) -> String {
        rows(
            [
                "run_id", "set", "case", "passed", "question", "answer", "failed_expectations", "previous_passed", "answer_changed",
                "analysis_id"
            ],
            report.cases.map { c in
                [
                    report.runID, report.set, c.id, String(c.passed), c.question, c.answer ?? c.error ?? "",
                    c.failedExpectations.joined(separator: "; "),
                    c.previous.map { String($0.passed) } ?? "", c.previous.map { String($0.answerChanged) } ?? "", c.analysisID ?? ""
                ]
            })
    }

    private static func rows(_ header: [String], _ rows: [[String]]) -> String {
        ([header] + rows).map { $0.map(RecordExport.csvField).joined(separator: ",") + "\r\n" }.joined()
    }
}
