// libFuzzer's entry for programs that have their own main (LLVM 11+): SwiftPM gives every
// executable a renamed Swift main, so the targets start the driver from there instead of
// linking libFuzzer's main.
#pragma once
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*one_input)(const uint8_t *data, size_t size));
