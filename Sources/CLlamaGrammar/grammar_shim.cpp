// Exceptions stop here: Swift cannot catch C++ exceptions, so each becomes an error string.
#include "medlab_grammar.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "../../.llama/include/common/json-schema-to-grammar.h"

char *medlab_json_schema_to_grammar(const char *schema, char **error) {
    *error = nullptr;
    try {
        const std::string grammar = json_schema_to_grammar(common_json::parse(std::string(schema)));
        return strdup(grammar.c_str());
    } catch (const std::exception &e) {
        *error = strdup(e.what());
    } catch (...) {
        *error = strdup("the schema could not be converted");
    }
    return nullptr;
}
