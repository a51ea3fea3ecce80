internal import CLlama
import Foundation

/// The vocabulary grouped by the first one or two characters of each token's text, so that a
/// grammar's pass over every token can ask about one token per group first.
///
/// llama.cpp's grammar reads a token character by character and refuses it at the first
/// character no rule can take. So when it refuses the token whose whole text is a group's prefix
/// (its probe), it refuses every token that begins with that prefix, and none of them need be
/// asked about: where JSON wants a quote or a brace, the probes rule out nearly all of 262,144
/// tokens at once. Exact only while the text so far ends on a whole character (a token may finish
/// a character the one before began); `Sampler` checks that before using it.
final class GrammarPrefilter: @unchecked Sendable {
    /// One token per group: its whole text is the group's prefix.
    let probes: [llama_token]
    /// The tokens of each probe's group, the probe among them.
    let members: [[llama_token]]
    /// Tokens always asked about: end of generation, text that is not whole UTF-8, or a first
    /// character no token spells alone.
    let unfiltered: [llama_token]

    /// Groups `model`'s vocabulary (once per model; about a second for 262,144 tokens in a debug build).
    init(model: LlamaModel) {
        let count = model.vocabularySize
        var scalars: [[UInt32]?] = Array(repeating: nil, count: count)
        var probeOf: [UInt64: llama_token] = [:]
        for index in 0..<count {
            let token = llama_token(index)
            let bytes = model.bytes(of: token)
            guard !model.isEndOfGeneration(token), let first = bytes.first, first != 0,
                let text = String(validating: bytes, as: UTF8.self)
            else { continue }
            let values = text.unicodeScalars.prefix(3).map(\.value)
            scalars[index] = values
            if values.count <= 2, probeOf[Self.key(values)] == nil { probeOf[Self.key(values)] = token }
        }
        var groups: [llama_token: [llama_token]] = [:]
        var unfiltered: [llama_token] = []
        for index in 0..<count {
            let token = llama_token(index)
            guard let values = scalars[index] else {
                unfiltered.append(token)
                continue
            }
            if values.count >= 2, let probe = probeOf[Self.key(Array(values.prefix(2)))] {
                groups[probe, default: []].append(token)
            } else if let probe = probeOf[Self.key([values[0]])] {
                groups[probe, default: []].append(token)
            } else {
                unfiltered.append(token)
            }
        }
        let probes = groups.keys.sorted()
        self.probes = probes
        members = probes.map { groups[$0] ?? [] }
        self.unfiltered = unfiltered
    }

    /// One or two Unicode scalars as one number (21 bits each, and the count).
    private static func key(_ values: [UInt32]) -> UInt64 {
        values.reduce(0) { $0 << 21 | UInt64($1) } | UInt64(values.count) << 62
    }

    /// The tokens the grammar may still allow: those of the groups whose probe it allows, and the
    /// unfiltered ones.
    func candidates(grammar: Grammar) -> [llama_token] {
        let allowedProbes = Set(grammar.allowed(among: probes))
        var result = unfiltered
        for (index, probe) in probes.enumerated() where allowedProbes.contains(probe) {
            result.append(contentsOf: members[index])
        }
        return result
    }
}

/// Whether the text of the tokens accepted so far ends on a whole UTF-8 character.
struct UTF8Boundary {
    /// Continuation bytes still expected.
    private var pending = 0

    var isWhole: Bool { pending == 0 }

    mutating func append(_ bytes: [UInt8]) {
        for byte in bytes {
            if byte & 0xC0 == 0x80 {
                pending = max(0, pending - 1)
            } else if byte & 0xE0 == 0xC0 {
                pending = 1
            } else if byte & 0xF0 == 0xE0 {
                pending = 2
            } else if byte & 0xF8 == 0xF0 {
                pending = 3
            } else {
                pending = 0
            }
        }
    }
}
