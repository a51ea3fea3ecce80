import Foundation

/// Self-contained HTML reports: one file, thumbnails as data URIs, no script, external style or
/// font, readable on screen and on paper.
public enum ExperimentHTML {
    /// The comparison grid: phrasings as rows, images as columns.
    public static func grid(_ grid: CompareGrid) -> String {
        var rows = ""
        for question in grid.questions {
            rows += "<tr><th scope=\"row\">\(escape(question))</th>"
            for image in grid.images {
                let cell = grid.cells.first { $0.question == question && $0.image == image.name }
                rows += "<td>" + (cell.map(cellBody) ?? "") + "</td>"
            }
            rows += "</tr>\n"
        }
        let heads = grid.images.map { image in
            "<th scope=\"col\">" + (image.thumbnail.map { "<img alt=\"\" src=\"data:image/png;base64,\($0)\"><br>" } ?? "")
                + "\(escape(image.name))<br><code>\(image.sha256.prefix(12))</code></th>"
        }.joined()
        let body = """
            <h1>Prompt comparison</h1>
            <p class="meta">\(modelLine(grid.model)) · \(grid.questions.count) phrasings × \(grid.images.count) images · \
            max_new_tokens \(grid.params.maxNewTokens), temperature \(number(grid.params.temperature)) · \(escape(grid.createdAt)) · \
            experiment <code>\(escape(grid.experimentID))</code></p>
            <table><thead><tr><th>phrasing \\ image</th>\(heads)</tr></thead><tbody>
            \(rows)</tbody></table>
            """
        return page(title: "Prompt comparison", body: body)
    }

    /// The regression report: the summary first, then each case.
    public static func regression(_ report: RegressionReport) -> String {
        let previous = report.previousPassRate.map { " (previous run: \(percent($0)))" } ?? " (first run of this set)"
        var summary =
            "<p class=\"summary\"><strong>\(report.passed) of \(report.cases.count) passed: \(percent(report.passRate))</strong>\(previous)</p>"
        for (label, ids) in [
            ("Newly failing", report.newlyFailing), ("Newly passing", report.newlyPassing), ("Answer changed", report.answerChanged)
        ]
        where !ids.isEmpty {
            summary += "<p>\(label): \(ids.map { "<a href=\"#case-\(escape($0))\">\(escape($0))</a>" }.joined(separator: ", "))</p>"
        }
        let cases = report.cases.map { item -> String in
            let met = expectationLines(item)
            let verdict = item.passed ? "<span class=\"pass\">passed</span>" : "<span class=\"fail\">failed</span>"
            let before =
                item.previous.map { " · last run: \($0.passed ? "passed" : "failed")\($0.answerChanged ? ", answer changed" : "")" } ?? ""
            return """
                <section id="case-\(escape(item.id))"><h2>\(escape(item.id)) — \(verdict)\(before)</h2>
                \(item.thumbnail.map { "<img class=\"case\" alt=\"\" src=\"data:image/png;base64,\($0)\">" } ?? "")
                <p><b>Images:</b> \(escape(item.images.joined(separator: ", ")))</p>
                <p><b>Question:</b> \(escape(item.question))</p>
                <ul class="expect">\(met)</ul>
                <p><b>Answer:</b></p><div class="answer">\(escape(item.answer ?? item.error ?? ""))</div></section>
                """
        }.joined(separator: "\n")
        let body = """
            <h1>Regression set \(escape(report.set))</h1>
            <p class="meta">\(modelLine(report.model)) · \(escape(report.createdAt)) · run <code>\(escape(report.runID))</code></p>
            \(summary)
            \(cases)
            """
        return page(title: "Regression \(report.set)", body: body)
    }

    /// Each expectation of a case, marked met or not met.
    private static func expectationLines(_ item: RegressionReport.Case) -> String {
        var lines: [String] = []
        let failed = item.failedExpectations
        func line(_ key: String, _ text: String) {
            let bad = failed.contains { $0.hasPrefix(key + ":") }
            lines.append("<li class=\"\(bad ? "fail" : "pass")\">\(bad ? "✗ not met" : "✓ met"): \(escape(key)) \(escape(text))</li>")
        }
        let e = item.expect
        if let words = e.containsAny { line("contains_any", words.joined(separator: ", ")) }
        if let words = e.containsAll { line("contains_all", words.joined(separator: ", ")) }
        if let words = e.notContains { line("not_contains", words.joined(separator: ", ")) }
        if let regex = e.regex { line("regex", regex) }
        if let fields = e.fields {
            line("fields", fields.sorted { $0.key < $1.key }.map { "\($0.key) = \($0.value)" }.joined(separator: ", "))
        }
        for error in failed where error.hasPrefix("error:") { lines.append("<li class=\"fail\">✗ \(escape(error))</li>") }
        if lines.isEmpty { lines.append("<li>no expectations: the case passes when it runs</li>") }
        for detail in failed where !error(detail) { lines.append("<li class=\"detail\">\(escape(detail))</li>") }
        return lines.joined()
    }

    private static func error(_ detail: String) -> Bool { detail.hasPrefix("error:") }

    private static func cellBody(_ cell: CompareGrid.Cell) -> String {
        if let error = cell.error { return "<div class=\"fail\">\(escape(error))</div>" }
        let time = cell.timings.totalMs.map { String(format: "%.1f s", $0 / 1000) } ?? ""
        return "<div class=\"answer\">\(escape(cell.answer ?? ""))</div><div class=\"meta\">\(time)</div>"
    }

    private static func modelLine(_ model: CompareGrid.Model) -> String {
        "model <b>\(escape(model.name))</b>" + (model.sha256.map { " <code>sha256 \($0.prefix(16))…</code>" } ?? "")
    }

    private static func percent(_ rate: Double) -> String { String(format: "%.0f%%", rate * 100) }

    private static func number(_ value: Double) -> String { value == value.rounded() ? String(Int(value)) : String(value) }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    private static func page(title: String, body: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title)) — MedGemma Vision Lab</title>
        <style>
        body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem; color: #111; }
        h1 { font-size: 1.4rem; } h2 { font-size: 1.05rem; margin-top: 1.6rem; }
        table { border-collapse: collapse; width: 100%; } th, td { border: 1px solid #bbb; padding: .5rem; vertical-align: top; text-align: left; }
        thead th { background: #f2f2f2; } th img, img.case { max-width: 160px; display: block; }
        .answer { white-space: pre-wrap; } .meta { color: #555; font-size: .9em; }
        .pass { color: #13702a; } .fail { color: #a61b1b; } .detail { color: #555; list-style: none; }
        .disclaimer { margin-top: 2rem; color: #555; font-size: .9em; }
        @media print { body { margin: 0; } thead { display: table-header-group; } tr, section { break-inside: avoid; } }
        </style></head><body>
        \(body)
        <p class="disclaimer">Research and teaching use only — not for diagnosis. 仅供研究与教学使用，不可用于诊断。</p>
        </body></html>

        """
    }
}
