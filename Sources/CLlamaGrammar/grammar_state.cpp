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

// A grammar text's number: equal texts share cached sets, and no two texts share a number.
uint32_t grammar_id(const std::string &text) {
    static std::mutex lock;
    static std::map<std::string, uint32_t> ids;
    std::lock_guard<std::mutex> guard(lock);
    auto found = ids.find(text);
    if (found != ids.end()) return found->second;
    const uint32_t id = static_cast<uint32_t>(ids.size());
    ids.emplace(text, id);
    return id;
}

// Allowed sets by grammar and state, shared by every sampling thread. Emptied when it holds more
// than `limit` tokens: a state inside a JSON string allows nearly the whole vocabulary (1 MB).
struct AllowedCache {
    std::mutex lock;
    std::unordered_map<std::string, std::shared_ptr<const std::vector<int32_t>>> sets;
    size_t tokens = 0;
    static constexpr size_t limit = 16u << 20;

    std::shared_ptr<const std::vector<int32_t>> find(const std::string &key) {
        std::lock_guard<std::mutex> guard(lock);
        auto found = sets.find(key);
        return found == sets.end() ? nullptr : found->second;
    }

    void store(const std::string &key, std::vector<int32_t> allowed) {
        std::lock_guard<std::mutex> guard(lock);
        if (sets.count(key)) return;
        if (tokens + allowed.size() > limit) {
            sets.clear();
            tokens = 0;
        }
        tokens += allowed.size();
        sets.emplace(key, std::make_shared<const std::vector<int32_t>>(std::move(allowed)));
    }

    void clear() {
        std::lock_guard<std::mutex> guard(lock);
        sets.clear();
        tokens = 0;
    }
};

AllowedCache &allowed_cache() {
    static AllowedCache cache;
    return cache;
}

}  // namespace

struct medlab_grammar {
    llama_grammar *grammar;
    uint32_t id;
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
    put(g.id);
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
    // Ascending ids and a strict comparison: among equal logits the lowest id wins, as in a pass
    // over the whole vocabulary.
    int32_t chosen = (*allowed)[0];
    for (int32_t token : *allowed) {
        if (logits[token] > logits[chosen]) chosen = token;
    }
    *best = chosen;
    return 1;
}

void medlab_grammar_store(medlab_grammar *g, const int32_t *allowed, size_t count) {
    const std::string key = state_key(*g);
    if (key.empty()) return;
    std::vector<int32_t> sorted(allowed, allowed + count);
    std::sort(sorted.begin(), sorted.end());
    allowed_cache().store(key, std::move(sorted));
}

void medlab_grammar_cache_clear(void) { allowed_cache().clear(); }
