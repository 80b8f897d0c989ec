/* empty_target.c — a libFuzzer target that does nothing: the engine's own ceiling on
 * this machine, against which bench/fuzzbench.py states every harness's exec/s. */
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)data;
    (void)size;
    return 0;
}
