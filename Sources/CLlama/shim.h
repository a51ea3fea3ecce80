// Headers of the llama.cpp build that scripts/setup.sh installs; `.llama` links to its prefix.
// Quoted relative includes keep the build independent of pkg-config and -I flags.
#pragma once
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include "../../.llama/include/llama.h"
#include "../../.llama/include/gguf.h"
#include "../../.llama/include/ggml-backend.h"
#include "../../.llama/include/mtmd.h"
#include "../../.llama/include/mtmd-helper.h"

/// Path of the shared library that holds libggml's backend loader (NULL if unknown): the
/// CPU/CUDA plug-ins are searched for beside it.
static inline const char *medlab_ggml_library_path(void) {
    Dl_info info;
    if (dladdr((void *)&ggml_backend_load_all_from_path, &info) == 0) return 0;
    return info.dli_fname;
}
