#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (LLVM 11+), called from each target's main: SwiftPM links an
/// executable target's own `main`, so libFuzzer's `main` cannot be used directly.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
