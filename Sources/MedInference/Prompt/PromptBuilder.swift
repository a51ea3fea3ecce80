/// One piece of a tokenizer-ready prompt.
enum PromptSegment: Equatable {
    /// Template text: control tokens such as `<start_of_turn>` are parsed as special tokens.
    case template(String)
    /// User-supplied text: never parsed for control tokens, so it cannot end a turn or fake an image.
    case user(String)
    /// The image with this index in `GenerationRequest.images`.
    case image(Int)
}

/// Builds Gemma 3 chat prompts (no system role: system text opens the first user turn).
enum PromptBuilder {
    /// Segments for a request; the tokenizer adds `<bos>` itself.
    static func segments(for request: GenerationRequest) -> [PromptSegment] {
        var segments: [PromptSegment] = []
        var imageIndex = 0
        func append(_ parts: [ContentPart]) {
            for part in parts {
                switch part {
                case .text(let text): segments.append(.user(text))
                case .image:
                    // The Hugging Face processor surrounds each image with blank lines. They join the
                    // neighbouring text before tokenizing, as there: "\n\n\n\n" after the system text
                    // is one token, not two (servers such as llama-server and vLLM tokenize it so too).
                    segments.append(.user("\n\n"))
                    segments.append(.image(imageIndex))
                    segments.append(.user("\n\n"))
                    imageIndex += 1
                }
            }
        }
        if request.raw {
            for turn in request.turns { append(turn.parts) }
            return merged(segments)
        }
        let system = effectiveSystem(for: request)
        var systemPending = system != nil
        for turn in request.turns {
            segments.append(.template("<start_of_turn>\(turn.role.rawValue)\n"))
            if systemPending, turn.role == .user, let system {
                segments.append(.user(system + "\n\n"))
                systemPending = false
            }
            append(turn.parts)
            segments.append(.template("<end_of_turn>\n"))
        }
        segments.append(.template("<start_of_turn>model\n"))
        return merged(segments)
    }

    /// The system text actually used: the radiologist default only when images are present.
    static func effectiveSystem(for request: GenerationRequest) -> String? {
        switch request.system {
        case .some(let text): text.isEmpty ? nil : text
        case .none: request.images.isEmpty ? nil : GenerationRequest.radiologistSystem
        }
    }

    /// Joins neighbours of the same kind so the tokenizer sees as few pieces as possible.
    private static func merged(_ segments: [PromptSegment]) -> [PromptSegment] {
        var result: [PromptSegment] = []
        for segment in segments {
            switch (result.last, segment) {
            case (.template(let a)?, .template(let b)): result[result.count - 1] = .template(a + b)
            case (.user(let a)?, .user(let b)): result[result.count - 1] = .user(a + b)
            default: result.append(segment)
            }
        }
        return result
    }
}
