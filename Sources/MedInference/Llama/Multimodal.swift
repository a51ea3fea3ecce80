internal import CLlama
import Foundation
import MedImaging

// Every call into libmtmd (marked experimental upstream) lives in this file.

/// A prompt split into what llama.cpp evaluates: runs of text tokens and image chunks.
final class TokenizedPrompt {
    enum Piece {
        case text([llama_token])
        /// Index into the owned mtmd chunk list, and the tokens the image occupies.
        case image(chunk: Int, tokens: Int)
    }

    let pieces: [Piece]
    private let chunks: OpaquePointer?

    init(pieces: [Piece], chunks: OpaquePointer?) {
        self.pieces = pieces
        self.chunks = chunks
    }

    deinit { if let chunks { mtmd_input_chunks_free(chunks) } }

    var textTokens: Int { pieces.reduce(0) { if case .text(let t) = $1 { $0 + t.count } else { $0 } } }
    var imageTokens: Int { pieces.reduce(0) { if case .image(_, let n) = $1 { $0 + n } else { $0 } } }

    fileprivate func chunk(_ index: Int) -> OpaquePointer? {
        chunks.flatMap { mtmd_input_chunks_get($0, index) }
    }

    /// The content key of an image chunk (size and pixel hash, `EmbeddingCache.key`), "" if none.
    func imageKey(_ index: Int) -> String {
        chunk(index).flatMap { mtmd_input_chunk_get_id($0) }.map { String(cString: $0) } ?? ""
    }

    /// The positions an image chunk takes in the sequence (its tokens, unless the model places
    /// them in two dimensions); `tokens` when the prompt has no mtmd chunks.
    func positions(ofImage index: Int, tokens: Int) -> Int {
        chunk(index).map { Int(mtmd_input_chunk_get_n_pos($0)) } ?? tokens
    }

    /// How many leading positions this prompt shares with `other`: whole images (by content key)
    /// and text tokens, stopping at the first difference. Only a prefix that covers at least one
    /// image is worth copying, so 0 unless it does.
    func sharedPrefix(with other: TokenizedPrompt) -> Int {
        var length = 0
        var sawImage = false
        for (mine, theirs) in zip(pieces, other.pieces) {
            switch (mine, theirs) {
            case (.text(let a), .text(let b)):
                let common = zip(a, b).prefix { $0 == $1 }.count
                length += common
                if common < a.count || common < b.count { return sawImage ? length : 0 }
            case (.image(let a, let n), .image(let b, let m)):
                let key = imageKey(a)
                guard n == m, !key.isEmpty, key == other.imageKey(b) else { return sawImage ? length : 0 }
                length += n
                sawImage = true
            default:
                return sawImage ? length : 0
            }
        }
        return sawImage ? length : 0
    }
}

/// An owned `mtmd_context *`: the vision projector bound to one text model.
final class VisionProjector: @unchecked Sendable {
    private let pointer: OpaquePointer
    /// Square side the projector's pre-processing resizes to.
    private(set) var imageSize = 0
    /// Tokens one image becomes in the prompt.
    private(set) var tokensPerImage = 0

    init(path: String, model: LlamaModel, useGPU: Bool, threads: Int, metadata: GGUFMetadata) throws {
        var params = mtmd_context_params_default()
        params.use_gpu = useGPU
        params.n_threads = Int32(threads)
        params.print_timings = false
        params.flash_attn_type = Self.flashAttention(onGPU: useGPU)
        // Reserves the encoder's graph and settles flash attention now, at load, not in the first encode.
        params.warmup = true
        LlamaLog.reset()
        guard let context = mtmd_init_from_file(path, model.pointer, params) else {
            let message = LlamaLog.recentErrors()
            if message.contains("mismatch") { throw InferenceError.projectorMismatch(message) }
            throw InferenceError.loadFailed(message)
        }
        pointer = context
        guard mtmd_support_vision(context) else { throw InferenceError.projectorWithoutVision(path: path) }
        imageSize = metadata.imageSize ?? 896
        // Count the tokens of one image by pre-processing a blank one (no encoding happens here).
        let probe = ModelImage(width: imageSize, height: imageSize)
        let probePrompt = try tokenize([.image(0)], images: [probe], addBOS: false)
        tokensPerImage = probePrompt.imageTokens
        // On a GPU the first encodes also pay for loading kernels and planning the graph: encode
        // the blank image once here so the first user does not (on the H200 the first encode of an
        // `ask` took 282 ms against 96 ms warm while this looked at the wrong piece: Gemma 3's image
        // comes after a `<start_of_image>` text piece). A CPU has nothing to warm, and encoding
        // MedGemma's 4,096 patches there takes seconds; `MEDLAB_VISION_WARMUP=1` warms anyway (tests).
        let firstImage = probePrompt.pieces.lazy.compactMap { piece -> Int? in
            if case .image(let chunk, _) = piece { chunk } else { nil }
        }.first
        if useGPU || Self.warmingUpAnyway, let chunk = firstImage, let pointer = probePrompt.chunk(chunk) {
            let start = DispatchTime.now()
            let status = mtmd_encode_chunk(context, pointer)
            BatchScheduler.trace("warmup encode=\(status == 0 ? String(start.millisecondsElapsed) : "failed")")
        }
    }

    deinit { mtmd_free(pointer) }

    private static let warmingUpAnyway = ProcessInfo.processInfo.environment["MEDLAB_VISION_WARMUP"] == "1"

    /// Flash attention for the vision encoder: off on a GPU, where ggml-cuda has no tensor-core
    /// kernel for SigLIP's head size 72 and falls back to a slower one (a warm MedGemma-shaped
    /// encode on the H200: 96 ms without, 152 ms with; llama-mtmd-cli alike), and mtmd's choice on a
    /// CPU, where it is faster (235 vs 735 ms for a 256-token projector on the 2-core host).
    /// `MEDLAB_VISION_FLASH_ATTN=on|off|auto` overrides it (bench/gpu/encode.sh compares them).
    static func flashAttention(onGPU: Bool) -> llama_flash_attn_type {
        switch ProcessInfo.processInfo.environment["MEDLAB_VISION_FLASH_ATTN"]?.lowercased() {
        case "on", "1", "enabled": LLAMA_FLASH_ATTN_TYPE_ENABLED
        case "off", "0", "disabled": LLAMA_FLASH_ATTN_TYPE_DISABLED
        case "auto": LLAMA_FLASH_ATTN_TYPE_AUTO
        default: onGPU ? LLAMA_FLASH_ATTN_TYPE_DISABLED : LLAMA_FLASH_ATTN_TYPE_AUTO
        }
    }

    /// Tokenizes template text (control tokens parsed), user text (never parsed) and images.
    func tokenize(_ segments: [PromptSegment], images: [ModelImage], addBOS: Bool) throws -> TokenizedPrompt {
        let bitmaps: [OpaquePointer?] = images.map { image in
            let bitmap = image.pixels.withUnsafeBufferPointer {
                mtmd_bitmap_init(UInt32(image.width), UInt32(image.height), $0.baseAddress)
            }
            // The id travels into the image chunk, where the embedding cache finds it.
            if let bitmap { mtmd_bitmap_set_id(bitmap, EmbeddingCache.key(of: image)) }
            return bitmap
        }
        defer { for case let b? in bitmaps { mtmd_bitmap_free(b) } }
        guard bitmaps.allSatisfy({ $0 != nil }) else { throw InferenceError.badRequest("could not create an image bitmap") }

        // C strings and part structs must stay alive for the whole call.
        var cStrings: [UnsafeMutablePointer<CChar>] = []
        var texts: [UnsafeMutablePointer<mtmd_input_text>] = []
        var parts: [UnsafeMutablePointer<mtmd_input_part>] = []
        defer {
            for string in cStrings { free(string) }
            for text in texts { text.deallocate() }
            for part in parts { part.deallocate() }
        }
        for segment in segments {
            let part = UnsafeMutablePointer<mtmd_input_part>.allocate(capacity: 1)
            parts.append(part)
            switch segment {
            case .template(let text), .user(let text):
                let cString = strdup(text)!
                cStrings.append(cString)
                let input = UnsafeMutablePointer<mtmd_input_text>.allocate(capacity: 1)
                texts.append(input)
                var special = false
                if case .template = segment { special = true }
                input.initialize(
                    to: mtmd_input_text(
                        text: cString, text_len: strlen(cString), add_special: false,
                        parse_special: special))
                part.initialize(to: mtmd_input_part(text: input, bitmap: nil))
            case .image(let index):
                guard index < bitmaps.count else { throw InferenceError.badRequest("image \(index) is missing") }
                part.initialize(to: mtmd_input_part(text: nil, bitmap: bitmaps[index]))
            }
        }
        guard let chunks = mtmd_input_chunks_init() else { throw InferenceError.generationFailed("mtmd_input_chunks_init") }
        let partPointers: [UnsafePointer<mtmd_input_part>?] = parts.map { UnsafePointer($0) }
        let status = partPointers.withUnsafeBufferPointer {
            mtmd_tokenize_from_parts(pointer, chunks, $0.baseAddress, $0.count, addBOS)
        }
        guard status == 0 else {
            mtmd_input_chunks_free(chunks)
            throw InferenceError.badRequest("the projector could not pre-process the images (mtmd status \(status))")
        }
        var pieces: [TokenizedPrompt.Piece] = []
        for index in 0..<mtmd_input_chunks_size(chunks) {
            let chunk = mtmd_input_chunks_get(chunks, index)
            switch mtmd_input_chunk_get_type(chunk) {
            case MTMD_INPUT_CHUNK_TYPE_TEXT:
                var count = 0
                let tokens = mtmd_input_chunk_get_tokens_text(chunk, &count)
                pieces.append(.text(Array(UnsafeBufferPointer(start: tokens, count: count))))
            default:
                pieces.append(.image(chunk: index, tokens: mtmd_input_chunk_get_n_tokens(chunk)))
            }
        }
        return TokenizedPrompt(pieces: pieces, chunks: chunks)
    }

    /// Recent images' embeddings: a second question about the same image skips the vision encoder.
    private var cache = EmbeddingCache(capacity: 8)

    /// The embeddings of one image chunk, from the cache or by running the vision encoder; with
    /// the milliseconds encoding took (0 when reused).
    func embeddings(_ prompt: TokenizedPrompt, chunk index: Int, width: Int) throws -> (values: [Float], encodeMs: Double) {
        guard let chunk = prompt.chunk(index) else { throw InferenceError.generationFailed("missing image chunk") }
        let key = mtmd_input_chunk_get_id(chunk).map { String(cString: $0) } ?? ""
        if let cached = cache[key] { return (cached, 0) }
        let start = DispatchTime.now()
        guard mtmd_encode_chunk(pointer, chunk) == 0, let output = mtmd_get_output_embd(pointer) else {
            throw InferenceError.generationFailed("image encoding failed")
        }
        let values = Array(UnsafeBufferPointer(start: output, count: mtmd_input_chunk_get_n_tokens(chunk) * width))
        let encodeMs = start.millisecondsElapsed
        if !key.isEmpty { cache[key] = values }
        return (values, encodeMs)
    }

    /// Whether an image chunk's embeddings can join a decode step as plain rows: one position per
    /// token (no M-RoPE) and attention both ways inside the image, as for Gemma 3.
    func feedsAsRows(_ prompt: TokenizedPrompt, chunk index: Int) -> Bool {
        guard let chunk = prompt.chunk(index) else { return false }
        return !mtmd_decode_use_mrope(pointer) && mtmd_decode_use_non_causal(pointer, chunk)
            && mtmd_input_chunk_get_n_pos(chunk) == mtmd_input_chunk_get_n_tokens(chunk)
    }

    /// Decodes an image chunk's embeddings into the KV cache (non-causal for Gemma 3).
    func decode(
        _ embeddings: [Float], _ prompt: TokenizedPrompt, chunk index: Int, into context: LlamaContext, at position: Int,
        sequence: Int32
    ) throws -> Int {
        guard let chunk = prompt.chunk(index) else { throw InferenceError.generationFailed("missing image chunk") }
        var newPosition: llama_pos = 0
        let status = embeddings.withUnsafeBufferPointer { values in
            mtmd_helper_decode_image_chunk(
                pointer, context.pointer, chunk, UnsafeMutablePointer(mutating: values.baseAddress),
                llama_pos(position), sequence, Int32(context.batchTokens), &newPosition, nil, nil)
        }
        guard status == 0 else { throw InferenceError.generationFailed("image decode returned \(status)") }
        return Int(newPosition)
    }
}

/// A small least-recently-used map from an image's content key to its embeddings.
struct EmbeddingCache {
    let capacity: Int
    private var entries: [String: [Float]] = [:]
    private var order: [String] = []

    init(capacity: Int) { self.capacity = capacity }

    subscript(key: String) -> [Float]? {
        mutating get {
            guard let value = entries[key] else { return nil }
            order.removeAll { $0 == key }
            order.append(key)
            return value
        }
        set {
            entries[key] = newValue
            order.removeAll { $0 == key }
            if newValue != nil { order.append(key) }
            while order.count > capacity { entries[order.removeFirst()] = nil }
        }
    }

    /// Size plus a 64-bit FNV-1a hash of the pixels, 8 bytes at a time (a 896² image in about a millisecond).
    static func key(of image: ModelImage) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        image.pixels.withUnsafeBytes { bytes in
            var offset = 0
            while offset + 8 <= bytes.count {
                hash = (hash ^ bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 0x100_0000_01b3
                offset += 8
            }
            while offset < bytes.count {
                hash = (hash ^ UInt64(bytes[offset])) &* 0x100_0000_01b3
                offset += 1
            }
        }
        return "\(image.width)x\(image.height)-\(String(hash, radix: 16))"
    }
}

extension DispatchTime {
    /// Milliseconds from this instant until now.
    var millisecondsElapsed: Double { Double(DispatchTime.now().uptimeNanoseconds - uptimeNanoseconds) / 1_000_000 }
}
