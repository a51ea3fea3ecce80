import Crypto
import Foundation
import MedImaging
import MedInference

/// Builds record entries from the one analysis type, so every entry point records the same way.
extension RecordedAnalysis {
    /// The record of `analysis` as it starts: images by hash and geometry, settings, model, engine.
    /// Nothing identifying is copied from the files: only format, modality, size and choices.
    public init(
        _ analysis: Analysis, prepared: PreparedAnalysis?, source: String, runID: String? = nil, id: String = RecordedAnalysis.newID(),
        model: RecordedModel, engine: RecordedEngine
    ) {
        let sampling = analysis.sampling
        let params = RecordedParams(
            maxNewTokens: analysis.maxNewTokens, temperature: sampling.temperature, topP: sampling.topP,
            seed: sampling.seed, stop: analysis.stop.isEmpty ? nil : analysis.stop,
            ignoreEOS: analysis.ignoreEndOfSequence ? true : nil,
            constraint: analysis.constraint.map {
                if case .jsonSchema(let schema) = $0 { schema } else { "json" }
            })
        var question = analysis.question
        var context = analysis.context
        var images: [RecordedImage] = []
        let letterboxes = prepared?.letterboxes ?? []
        func image(_ given: AnalysisImage, _ index: Int) -> RecordedImage {
            let meta = given.study.metadata
            return RecordedImage(
                sha256: given.sourceSHA256 ?? "", format: given.study.format.rawValue, modality: meta.modality,
                width: meta.width, height: meta.height,
                frame: given.study.frameCount > 1 ? (given.frame ?? Self.representativeIndex(given.study)) : given.frame,
                window: Self.windowText(given.window),
                letterbox: letterboxes.indices.contains(index) ? Self.letterbox(letterboxes[index]) : nil)
        }
        switch analysis.input {
        case .images(let given):
            images = given.enumerated().map { image($1, $0) }
        case .volume(let volume):
            let shown = prepared?.volume
            images = volume.studies.enumerated().map { index, study in
                RecordedImage(
                    sha256: volume.sourceSHA256.indices.contains(index) ? volume.sourceSHA256[index] : "",
                    format: study.format.rawValue, modality: study.metadata.modality, width: study.metadata.width,
                    height: study.metadata.height, slices: index == 0 ? shown?.sliceNumbers : nil,
                    window: Self.windowText(volume.window), letterbox: shown.map { Self.letterbox($0.transform) })
            }
        case .conversation(let turns):
            // A client-laid-out conversation: the record's question is the last user text, the rest is context.
            var texts: [String] = []
            var index = 0
            for turn in turns {
                for part in turn.parts {
                    switch part {
                    case .text(let text) where turn.role == .user: texts.append(text)
                    case .text: break
                    case .image(let given):
                        images.append(image(given, index))
                        index += 1
                    }
                }
            }
            question = texts.last ?? ""
            context = texts.count > 1 ? texts.dropLast().joined(separator: "\n") : nil
        }
        self.init(
            id: id, source: source, runID: runID, question: question, context: context, system: analysis.system,
            images: images, params: params, model: model, engine: engine)
    }

    /// Fills in the answer, boxes (original pixels), counts and timings.
    public mutating func finish(_ result: GenerationResult, boxes: [(box: ModelBox, pixels: PixelBox?)], queueMs: Double?, totalMs: Double)
    {
        let summary = result.summary
        answer = result.answer
        reasoning = result.reasoning
        self.boxes = boxes.map { box, pixels in
            RecordedBox(
                label: box.label, box2d: [box.y0, box.x0, box.y1, box.x1],
                pixels: pixels.map { RecordedBox.Pixels(x0: $0.x0, y0: $0.y0, x1: $0.x1, y1: $0.y1) })
        }
        finishReason = summary.finishReason
        if params.constraint != nil { fields = StructuredAnswer(result).json }
        usage = RecordedUsage(promptTokens: summary.tokensIn, imageTokens: summary.imageTokensIn, completionTokens: summary.tokensOut)
        timings = RecordedTimings(
            queueMs: queueMs, imageMs: summary.imageEncodeMs, prefillMs: summary.prefillMs,
            decodeMs: summary.decodeMs, totalMs: totalMs)
    }

    /// Small PNGs (long side ≤ 256) of what the model saw, keyed by the hash of each image as uploaded.
    /// A volume keeps one: its middle slice shown, under its first file's hash.
    public static func thumbnails(_ analysis: Analysis, prepared: PreparedAnalysis, maxSide: Int = 256) -> [String: Data] {
        let shown = prepared.request.images
        var hashes: [String?] = []
        switch analysis.input {
        case .images(let images): hashes = images.map(\.sourceSHA256)
        case .conversation(let turns):
            hashes = turns.flatMap(\.parts).compactMap { if case .image(let image) = $0 { image.sourceSHA256 } else { nil } }
        case .volume(let volume):
            guard let first = volume.sourceSHA256.first, !shown.isEmpty,
                let png = try? ImageEncoder.png(shown[shown.count / 2].shrunk(toFit: maxSide))
            else { return [:] }
            return [first: png]
        }
        var result: [String: Data] = [:]
        for (hash, image) in zip(hashes, shown) {
            guard let hash, !hash.isEmpty, result[hash] == nil, let png = try? ImageEncoder.png(image.shrunk(toFit: maxSide)) else {
                continue
            }
            result[hash] = png
        }
        return result
    }

    /// PNGs of the exact squares the model was given, by image position (`--record-images
    /// model-input`): pixels only, never a file's header. A volume (slices packed by the CT
    /// recipe) keeps none: it is not one image to ask about again.
    public static func modelInputs(_ analysis: Analysis, prepared: PreparedAnalysis) -> [Int: ModelInputCopy] {
        if case .volume = analysis.input { return [:] }
        var result: [Int: ModelInputCopy] = [:]
        for (position, image) in prepared.request.images.enumerated() {
            guard let png = try? ImageEncoder.png(image) else { continue }
            result[position] = ModelInputCopy(png: png, side: max(image.width, image.height))
        }
        return result
    }

    /// SHA-256 of `data` in lowercase hex (images are named by it).
    public static func sha256(_ data: some DataProtocol) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    /// The window as a person would type it again.
    static func windowText(_ window: WindowChoice) -> String {
        switch window {
        case .fileDefault: "default"
        case .minMax: "minmax"
        case .preset(let preset): preset.rawValue
        case .explicit(let level): "\(Self.number(level.center)),\(Self.number(level.width))"
        }
    }

    private static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }

    private static func representativeIndex(_ study: DecodedStudy) -> Int {
        study.volume.map { $0.depth / 2 } ?? 0
    }

    static func letterbox(_ transform: LetterboxTransform) -> RecordedImage.Letterbox {
        RecordedImage.Letterbox(
            side: transform.side, contentWidth: transform.contentWidth, contentHeight: transform.contentHeight,
            offsetX: transform.offsetX, offsetY: transform.offsetY)
    }
}
