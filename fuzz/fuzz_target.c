/*
 * fuzz_target.c — the libFuzzer engine glue: every per-back-end target and the
 * differential target are this file, built with FF_DEFAULT_TARGETS naming the
 * back-end(s) ("all" for the differential target), and optionally FF_DEFAULT_SEMANTICS.
 * All the work is in harness.c.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "harness.h"
#include "mutator.h"

#ifndef FF_DEFAULT_TARGETS
#error "build with -DFF_DEFAULT_TARGETS='\"name\"' (or '\"all\"' for the differential target)"
#endif

/* libFuzzer's interface (declared here: C has no header for it). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *data1, size_t size1, const uint8_t *data2,
                                 size_t size2, uint8_t *out, size_t max_out_size,
                                 unsigned int seed);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
#ifdef FF_DEFAULT_SEMANTICS
    /* A build-time default (OSS-Fuzz passes no flags of ours); the environment and
     * --ff-semantics still win. */
    setenv("FRAMEFUZZ_SEMANTICS", FF_DEFAULT_SEMANTICS, 0);
#endif
    ff_harness_init(*argc, *argv, FF_DEFAULT_TARGETS);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return ff_harness_run(data, size); }

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    if (!ff_harness_mutator_on()) return LLVMFuzzerMutate(data, size, max_size);
    return ff_mutate(data, size, max_size, seed, LLVMFuzzerMutate);
}

size_t LLVMFuzzerCustomCrossOver(const uint8_t *data1, size_t size1, const uint8_t *data2,
                                 size_t size2, uint8_t *out, size_t max_out_size,
                                 unsigned int seed)
{
    return ff_crossover(data1, size1, data2, size2, out, max_out_size, seed);
}
