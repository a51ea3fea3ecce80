// libFuzzer's driver entry, from the toolchain's libclang_rt.fuzzer_no_main: the harness's own
// main calls it after picking a target, so no main of libFuzzer's clashes with Swift's.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
