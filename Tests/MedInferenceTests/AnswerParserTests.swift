import Testing

@testable import MedInference

@Suite("Answer parsing: reasoning block and boxes")
struct AnswerParserTests {
    @Test func stripsReasoningBlock() {
        let raw = "<unused94>thought\nThe lungs look clear.\nNo effusion.<unused95>No acute findings."
        let parsed = AnswerParser.parse(raw)
        #expect(parsed.answer == "No acute findings.")
        #expect(parsed.reasoning == "The lungs look clear.\nNo effusion.")
    }

    @Test func unclosedReasoningIsAllReasoning() {
        let parsed = AnswerParser.parse("<unused94>thought still thinking when the limit hit")
        #expect(parsed.answer == "")
        #expect(parsed.reasoning == "still thinking when the limit hit")
    }

    @Test func answerWithoutReasoningIsUntouched() {
        let parsed = AnswerParser.parse("  A normal chest X-ray.\n")
        #expect(parsed.answer == "A normal chest X-ray.")
        #expect(parsed.reasoning == nil)
        #expect(parsed.boxes.isEmpty)
    }

    @Test func parsesFencedBoxList() {
        let raw = """
            Here are the findings:
            ```json
            [
              {"box_2d": [100, 200, 300, 400], "label": "nodule"},
              {"box_2d": [510, 20, 480, 10], "label": "effusion"}
            ]
            ```
            """
        let boxes = AnswerParser.parse(raw).boxes
        #expect(
            boxes == [
                ModelBox(y0: 100, x0: 200, y1: 300, x1: 400, label: "nodule"),
                ModelBox(y0: 480, x0: 10, y1: 510, x1: 20, label: "effusion")
            ])
    }

    @Test func parsesBareListAndIgnoresBrokenEntries() {
        let raw = #"Boxes: [{"box_2d": [1, 2, 3, 4], "label": "a"}, {"box_2d": [1, 2], "label": "short"}, {"label": "none"}]"#
        #expect(AnswerParser.parse(raw).boxes == [ModelBox(y0: 1, x0: 2, y1: 3, x1: 4, label: "a")])
    }

    @Test func boxesInsideReasoningAreNotAnswerBoxes() {
        let raw = #"<unused94>thought [{"box_2d": [1, 2, 3, 4], "label": "draft"}]<unused95>Nothing to mark."#
        #expect(AnswerParser.parse(raw).boxes.isEmpty)
    }

    @Test func malformedJSONGivesNoBoxes() {
        #expect(AnswerParser.parse("```json\n[{\"box_2d\": [1, 2, 3\n```").boxes.isEmpty)
    }
}

@Suite("Streaming filters")
struct StreamingFilterTests {
    /// Feeds text one character at a time, the hardest split for marker detection.
    private func filtered(_ raw: String) -> (answer: String, reasoning: String) {
        var filter = ReasoningFilter()
        var events: [GenerationEvent] = []
        for character in raw { events += filter.feed(String(character)) }
        events += filter.finish()
        var answer = ""
        var reasoning = ""
        for event in events {
            switch event {
            case .delta(let t): answer += t
            case .reasoning(let t): reasoning += t
            case .finished: break
            }
        }
        return (answer, reasoning)
    }

    @Test func reasoningSplitAcrossPiecesIsRoutedAside() {
        let (answer, reasoning) = filtered("<unused94>thought\nlook at apex<unused95>Answer: clear")
        #expect(answer == "Answer: clear")
        #expect(reasoning == "\nlook at apex")
    }

    @Test func textResemblingAMarkerIsNotLost() {
        let (answer, reasoning) = filtered("a <unused9 is not a marker <b>")
        #expect(answer == "a <unused9 is not a marker <b>")
        #expect(reasoning.isEmpty)
    }

    @Test func stopStringCutsTheStream() {
        var matcher = StopMatcher(stops: ["STOP"])
        var out = ""
        var stopped = false
        for piece in ["hello S", "T", "OP and more"] {
            let (text, hit) = matcher.feed(piece)
            out += text
            if hit {
                stopped = true
                break
            }
        }
        #expect(stopped)
        #expect(out == "hello ")
    }

    @Test func heldBackTextIsReleasedAtTheEnd() {
        var matcher = StopMatcher(stops: ["STOP"])
        let (first, hit) = matcher.feed("ends with ST")
        #expect(!hit)
        #expect(first == "ends with ")
        #expect(matcher.flush("") == "ST")
    }

    @Test func utf8SplitAcrossTokensIsReassembled() {
        var assembler = UTF8Assembler()
        let bytes = Array("肺 ✓ 🫁".utf8)
        var text = ""
        for byte in bytes { text += assembler.append([byte]) }
        text += assembler.flush()
        #expect(text == "肺 ✓ 🫁")
    }

    @Test func incompleteUTF8IsHeldUntilComplete() {
        var assembler = UTF8Assembler()
        let lung = Array("肺".utf8)
        #expect(assembler.append(Array(lung[0..<2])) == "")
        #expect(assembler.append([lung[2]]) == "肺")
    }
}
