// llama.cpp's grammar through its internal API (exported by libllama, declared in
// llama-grammar.h, which scripts/setup.sh installs): unlike the public grammar sampler, it lets
// us see the grammar's state, so that the set of tokens a state allows is computed once per
// process and reused by every request with the same grammar.
#include "medlab_grammar.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "../../.llama/include/llama-grammar.h"

namespace {

// A grammar text's number: equal texts share cached sets, and no two texts share a number. The
// table forgets every text after 256 of them (a server may be sent any number of schemas), and
// numbers are never reused, so a forgotten text only comes back under a new number.
uint64_t grammar_id(const std::string &text) {
    static std::mutex lock;
    static std::map<std::string, uint64_t> ids;
    static uint64_t next = 0;
    std::lock_guard<std::mutex> guard(lock);
    auto found = ids.find(text);
    if (found != ids.end()) return found->second;
    if (ids.size() >= 256) ids.clear();
    ids.emplace(text, next);
    return next++;
}

// The tokens one state allows: a sorted list when they are few (after a value: a comma or a
// brace), a bitmap of the vocabulary when they are many (inside a string: nearly all of it).
struct AllowedSet {
    std::vector<int32_t> tokens;
    std::vector<uint64_t> bits;
    size_t vocabulary = 0;

    static constexpr size_t list_limit = 8192;

    AllowedSet(std::vector<int32_t> sorted, size_t n_vocab) : vocabulary(n_vocab) {
        if (sorted.size() <= list_limit) {
            tokens = std::move(sorted);
            return;
        }
        bits.assign((n_vocab + 63) / 64, 0);
        for (int32_t token : sorted) {
            if (token >= 0 && static_cast<size_t>(token) < n_vocab) bits[token / 64] |= uint64_t(1) << (token % 64);
        }
    }

    size_t bytes() const { return tokens.size() * sizeof(int32_t) + bits.size() * sizeof(uint64_t); }
    bool empty() const { return tokens.empty() && bits.empty(); }

    // The allowed token of highest logit, the lowest id among equals (as a pass over the whole
    // vocabulary picks it); the first allowed one if every logit is -inf.
    int32_t best(const float *logits) const {
        int32_t chosen = -1;
        float top = -INFINITY;
        if (!tokens.empty()) {
            for (int32_t token : tokens) {
                if (chosen < 0 || logits[token] > top) {
                    chosen = token;
                    top = logits[token];
                }
            }
            return chosen;
        }
        int32_t first = -1;
        for (size_t word = 0; word < bits.size(); word++) {
            uint64_t mask = bits[word];
            if (!mask) continue;
            const size_t base = word * 64;
            if (first < 0) first = static_cast<int32_t>(base + __builtin_ctzll(mask));
            // Most blocks hold nothing better than the best so far: one pass over 64 logits
            // (which the compiler vectorises) settles that before any bit is looked at.
            const size_t end = std::min(base + 64, vocabulary);
            float block = -INFINITY;
            for (size_t i = base; i < end; i++) block = std::max(block, logits[i]);
            if (!(block > top)) continue;
            while (mask) {
                const size_t token = base + __builtin_ctzll(mask);
                mask &= mask - 1;
                if (token < end && logits[token] > top) {
                    top = logits[token];
                    chosen = static_cast<int32_t>(token);
                }
            }
        }
        return chosen >= 0 ? chosen : first;
    }
};

// Allowed sets by grammar and state, shared by every sampling thread. Emptied when it holds more
// than `limit` bytes (a bitmap of Gemma's vocabulary is 32 KB: about 2,000 of them).
struct AllowedCache {
    std::mutex lock;
    std::unordered_map<std::string, std::shared_ptr<const AllowedSet>> sets;
    size_t bytes = 0;
    static constexpr size_t limit = 64u << 20;

    std::shared_ptr<const AllowedSet> find(const std::string &key) {
        std::lock_guard<std::mutex> guard(lock);
        auto found = sets.find(key);
        return found == sets.end() ? nullptr : found->second;
    }

    void store(const std::string &key, std::vector<int32_t> allowed, size_t n_vocab) {
        auto set = std::make_shared<const AllowedSet>(std::move(allowed), n_vocab);
        std::lock_guard<std::mutex> guard(lock);
        if (sets.count(key)) return;
        if (bytes + set->bytes() > limit) {
            sets.clear();
            bytes = 0;
        }
        bytes += set->bytes();
        sets.emplace(key, std::move(set));
    }
};

AllowedCache &allowed_cache() {
    static AllowedCache cache;
    return cache;
}

}  // namespace

struct medlab_grammar {
    llama_grammar *grammar;
    uint64_t id;
    // Where each rule's elements start, sorted: a stack holds pointers into the rules, which
    // differ between two grammars of one text, so the key names (rule, offset) instead.
    std::vector<std::pair<const llama_grammar_element *, uint32_t>> starts;
};

namespace {

// The grammar's state as bytes: its stacks as (rule, offset) pairs and its unfinished UTF-8
// character. Two grammars of one text in equal states allow exactly the same tokens.
std::string state_key(const medlab_grammar &g) {
    std::string key;
    auto put = [&key](uint32_t value) { key.append(reinterpret_cast<const char *>(&value), sizeof value); };
    key.append(reinterpret_cast<const char *>(&g.id), sizeof g.id);
    put(g.grammar->partial_utf8.value);
    put(static_cast<uint32_t>(g.grammar->partial_utf8.n_remain));
    const auto &rules = g.grammar->rules;
    for (const auto &stack : g.grammar->stacks) {
        put(static_cast<uint32_t>(stack.size()));
        for (const llama_grammar_element *element : stack) {
            auto after = std::upper_bound(
                g.starts.begin(), g.starts.end(), element,
                [](const llama_grammar_element *p, const std::pair<const llama_grammar_element *, uint32_t> &s) {
                    return std::less<const llama_grammar_element *>()(p, s.first);
                });
            if (after == g.starts.begin()) return std::string();  // not in a rule: never cached
            const auto &start = *(after - 1);
            const size_t offset = static_cast<size_t>(element - start.first);
            if (offset > rules[start.second].size()) return std::string();
            put(start.second);
            put(static_cast<uint32_t>(offset));
        }
    }
    return key;
}

}  // namespace

medlab_grammar *medlab_grammar_init(const void *vocab, const char *text) {
    try {
        llama_grammar *grammar = llama_grammar_init_impl(
            static_cast<const llama_vocab *>(vocab), text, "root", false, nullptr, 0, nullptr, 0);
        if (!grammar) return nullptr;
        auto *g = new medlab_grammar{grammar, grammar_id(text), {}};
        const auto &rules = grammar->rules;
        for (size_t r = 0; r < rules.size(); r++) {
            if (!rules[r].empty()) g->starts.emplace_back(rules[r].data(), static_cast<uint32_t>(r));
        }
        std::sort(g->starts.begin(), g->starts.end(), [](const auto &a, const auto &b) {
            return std::less<const llama_grammar_element *>()(a.first, b.first);
        });
        return g;
    } catch (...) {
        return nullptr;
    }
}

void medlab_grammar_free(medlab_grammar *g) {
    if (!g) return;
    llama_grammar_free_impl(g->grammar);
    delete g;
}

void medlab_grammar_apply(medlab_grammar *g, void *data, size_t count) {
    llama_token_data_array array{static_cast<llama_token_data *>(data), count, -1, false};
    llama_grammar_apply_impl(*g->grammar, &array);
}

int medlab_grammar_accept(medlab_grammar *g, int32_t token) {
    try {
        llama_grammar_accept_impl(*g->grammar, token);
        return 0;
    } catch (const std::exception &) {
        return -1;
    }
}

int medlab_grammar_best_cached(medlab_grammar *g, const float *logits, int32_t *best) {
    const std::string key = state_key(*g);
    if (key.empty()) return 0;
    auto allowed = allowed_cache().find(key);
    if (!allowed) return 0;
    if (allowed->empty()) return -1;
    *best = allowed->best(logits);
    return 1;
}

void medlab_grammar_store(medlab_grammar *g, const int32_t *allowed, size_t count, size_t vocabulary) {
    const std::string key = state_key(*g);
    if (key.empty()) return;
    std::vector<int32_t> sorted(allowed, allowed + count);
    std::sort(sorted.begin(), sorted.end());
    allowed_cache().store(key, std::move(sorted), vocabulary);
}
