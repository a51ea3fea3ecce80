#pragma once
// A C face for llama.cpp's JSON-Schema-to-GBNF converter (C++, in libllama-common).
#ifdef __cplusplus
extern "C" {
#endif

/// The GBNF grammar for a JSON Schema (UTF-8 JSON text). Returns a malloc'd string, or NULL with
/// *error set to a malloc'd message. The caller frees both with free().
char *medlab_json_schema_to_grammar(const char *schema, char **error);

#ifdef __cplusplus
}
#endif
