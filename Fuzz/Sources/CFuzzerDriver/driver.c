// The declaration in include/CFuzzerDriver.h is the point of this target; libFuzzer
// (linked by -sanitize=fuzzer) defines the function.
#include "CFuzzerDriver.h"
