// Empty: SwiftPM needs a source file for the target that carries CLibFuzzer.h.
#include "CLibFuzzer.h"
