#pragma once
// A C face for llama.cpp's grammar code (C++): the JSON-Schema-to-GBNF converter in
// libllama-common, and the grammar itself with a per-process cache of the tokens each of its
// states allows. llama.cpp types cross as plain pointers, so this module declares none of them.
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The GBNF grammar for a JSON Schema (UTF-8 JSON text). Returns a malloc'd string, or NULL with
/// *error set to a malloc'd message. The caller frees both with free().
char *medlab_json_schema_to_grammar(const char *schema, char **error);

/// A GBNF grammar (rule "root") over a model's vocabulary, at its start.
typedef struct medlab_grammar medlab_grammar;

/// The grammar for `text` over `vocab` (a `const llama_vocab *`), or NULL if llama.cpp cannot
/// parse it. Free with medlab_grammar_free.
medlab_grammar *medlab_grammar_init(const void *vocab, const char *text);
void medlab_grammar_free(medlab_grammar *grammar);

/// Sets the logit of each of `count` `llama_token_data` at `data` that may not come next to -inf.
void medlab_grammar_apply(medlab_grammar *grammar, void *data, size_t count);

/// Moves the grammar past `token`: 0, or -1 if the grammar does not allow it.
int medlab_grammar_accept(medlab_grammar *grammar, int32_t token);

/// If the tokens the grammar's current state allows are cached: 1, with the one of highest logit
/// in `logits` (the whole vocabulary's row) in *best, or -1 if none is allowed. 0 if not cached.
int medlab_grammar_best_cached(medlab_grammar *grammar, const float *logits, int32_t *best);

/// Caches `allowed` (every token the current state allows, `count` of them, each below
/// `vocabulary`) for this state.
void medlab_grammar_store(medlab_grammar *grammar, const int32_t *allowed, size_t count, size_t vocabulary);

#ifdef __cplusplus
}
#endif
