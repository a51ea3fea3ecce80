import Foundation
import MedImaging
import MedInference
import Testing

@testable import MedLabServer

/// The small pieces that need no model.
struct UnitTests {
    @Test func boxesMapBackToOriginalPixels() throws {
        // 200×100 image in a 100×100 model square: 25 px of padding above and below.
        let pixels = [UInt8](repeating: 128, count: 200 * 100 * 3)
        let png = [UInt8](try ImageEncoder.png(RGBImage(width: 200, height: 100, pixels: pixels)))
        let image = try ImagePreparer(maxPixels: 1 << 20).analysisImage(png, options: ImageOptions())
        let prepared = try AnalysisProcessor.prepare(Analysis(input: .images([image]), question: "Where?"), side: 100)
        #expect(prepared.request.images.map(\.width) == [100] && prepared.request.images.map(\.height) == [100])
        let boxes = prepared.answerBoxes([
            ModelBox(y0: 250, x0: 0, y1: 750, x1: 1000, label: "whole image"),
            ModelBox(y0: 500, x0: 500, y1: 600, x1: 750, label: "nodule"),
            ModelBox(y0: 0, x0: 0, y1: 100, x1: 100, label: "padding only")
        ])
        #expect(boxes.count == 2)
        #expect(boxes[0].x0 == 0 && boxes[0].x1 == 200 && boxes[0].y0 == 0 && boxes[0].y1 == 100)
        #expect(boxes[1].x0 == 100 && boxes[1].x1 == 150 && boxes[1].y0 == 50 && boxes[1].y1 == 70)
        #expect(boxes[1].box2D == [500, 500, 600, 750] && boxes[1].image == 0)
    }

    @Test func imagePayloadsDecode() throws {
        #expect(try ImagePayload.bytes(from: "data:image/png;base64,AAEC", field: "image") == [0, 1, 2])
        #expect(try ImagePayload.bytes(from: "AAEC", field: "image") == [0, 1, 2])
        #expect(try ImagePayload.bytes(from: "AAE", field: "image") == [0, 1])  // missing padding
        #expect(try ImagePayload.bytes(from: "AA\nEC", field: "image") == [0, 1, 2])
        #expect(try ImagePayload.bytes(from: " \r\n DATA:IMAGE/PNG;BASE64,AA\r\nEC \t", field: "image") == [0, 1, 2])
        #expect(try ImagePayload.bytes(from: "-_8", field: "image") == [0xFB, 0xFF])  // URL-safe alphabet
        #expect(throws: LabError.self) { try ImagePayload.bytes(from: "AAé=", field: "image") }
        #expect(throws: LabError.self) { try ImagePayload.bytes(from: "data:image/png;base64, \n", field: "image") }
        #expect(throws: LabError.self) { try ImagePayload.bytes(from: "data:image/png,raw", field: "image") }
        #expect(throws: LabError.self) { try ImagePayload.bytes(from: "HTTPS://x/y.png", field: "image") }
        #expect(throws: LabError.self) { try ImagePayload.bytes(from: "", field: "image") }
    }

    @Test func multipartPartsSplit() throws {
        let body = Array(
            "--b\r\nContent-Disposition: form-data; name=\"question\"\r\n\r\nWhat?\r\n--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\u{1}\u{2}\r\n--b--\r\n"
                .utf8)
        let form = try MultipartForm(body: body, boundary: "b")
        #expect(form.first("question")?.text == "What?")
        #expect(form.first("image")?.body == [1, 2])
        #expect(form.first("image")?.filename == "a.png")
        #expect(MultipartForm.boundary(of: "multipart/form-data; boundary=\"xyz\"") == "xyz")
        #expect(throws: LabError.self) { try MultipartForm(body: Array("nothing".utf8), boundary: "b") }
    }

    @Test func apiKeyComparisonIsExact() {
        #expect(APIKeyMiddleware<LabRequestContext>.constantTimeEquals(Array("abc".utf8), Array("abc".utf8)))
        #expect(!APIKeyMiddleware<LabRequestContext>.constantTimeEquals(Array("abc".utf8), Array("abd".utf8)))
        #expect(!APIKeyMiddleware<LabRequestContext>.constantTimeEquals(Array("abc".utf8), Array("abcd".utf8)))
        #expect(!APIKeyMiddleware<LabRequestContext>.constantTimeEquals([], Array("a".utf8)))
    }

    @Test func windowsParse() throws {
        #expect(try WindowParameter(parsing: "Lung").choice == .preset(.lung))
        #expect(try WindowParameter(parsing: "40,400").choice == .explicit(WindowLevel(center: 40, width: 400)))
        #expect(try WindowParameter(parsing: "-600/1500").choice == .explicit(WindowLevel(center: -600, width: 1500)))
        #expect(throws: LabError.self) { try WindowParameter(parsing: "40,0") }
        #expect(throws: LabError.self) { try WindowParameter(parsing: "sunset") }
    }

    @Test func queueRefusesBeyondItsBoundAndServesInOrder() async throws {
        let queue = GenerationQueue(slots: 1, maxWaiting: 1)
        let gate = AsyncStream<Void>.makeStream()
        let first = Task {
            try await queue.run {
                for await _ in gate.stream {}
                return 1
            }
        }
        while queue.depth.running == 0 { await Task.yield() }
        let second = Task { try await queue.run { 2 } }
        while queue.depth.waiting == 0 { await Task.yield() }
        await #expect(throws: LabError.self) { try await queue.run { 3 } }
        gate.continuation.finish()
        let value1 = try await first.value
        #expect(value1 == 1)
        let value2 = try await second.value
        #expect(value2 == 2)
        #expect(queue.isIdle)
    }

    @Test func cancellingAWaitingRequestFreesItsPlace() async throws {
        let queue = GenerationQueue(slots: 1, maxWaiting: 1)
        let gate = AsyncStream<Void>.makeStream()
        let first = Task {
            try await queue.run {
                for await _ in gate.stream {}
                return 1
            }
        }
        while queue.depth.running == 0 { await Task.yield() }
        let waiting = Task { try await queue.run { 2 } }
        while queue.depth.waiting == 0 { await Task.yield() }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        #expect(queue.depth.waiting == 0)
        gate.continuation.finish()
        let value3 = try await first.value
        #expect(value3 == 1)
    }
}
