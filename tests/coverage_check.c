/*
 * coverage_check.c — an input's coverage is a function of its bytes: the same whether
 * the harness builds its machine, resets it after another input, or meets it again
 * after other maps. Linked with the coverage-instrumented objects of the fast harness
 * but no engine: the two hooks the instrumentation calls at start-up are defined here.
 * Prints one line and exits 0 when every run of each input covered the same counters.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ops.h"

static uint8_t *counters, *counters_end;

/* What the instrumentation of a libFuzzer build expects the engine to provide. */
extern __thread uintptr_t __sancov_lowest_stack;
__thread uintptr_t __sancov_lowest_stack;

void __sanitizer_cov_8bit_counters_init(uint8_t *start, uint8_t *stop);
void __sanitizer_cov_pcs_init(const uintptr_t *begin, const uintptr_t *end);

void __sanitizer_cov_8bit_counters_init(uint8_t *start, uint8_t *stop)
{
    if (!counters || start < counters) counters = start;
    if (stop > counters_end) counters_end = stop;
}

void __sanitizer_cov_pcs_init(const uintptr_t *begin, const uintptr_t *end)
{
    (void)begin;
    (void)end;
}

typedef struct input {
    uint8_t *bytes;
    size_t size;
} input;

static input encode(const char *text)
{
    ff_program p;
    char err[200];
    input in = {0};
    if (!ff_program_parse(&p, text, err, sizeof err) || !ff_program_encode(&p, &in.bytes, &in.size)) {
        fprintf(stderr, "coverage_check: cannot encode a program: %s\n", err);
        exit(2);
    }
    ff_program_free(&p);
    return in;
}

/* Runs in and copies the counters it hit into out. */
static void covered(const input *in, uint8_t *out)
{
    size_t n = (size_t)(counters_end - counters);
    memset(counters, 0, n);
    ff_harness_run(in->bytes, in->size);
    memcpy(out, counters, n);
}

int main(int argc, char **argv)
{
    ff_harness_init(argc, argv, "buddy,bitmap,freelist");
    if (!counters || counters_end <= counters) {
        fprintf(stderr, "coverage_check: built without coverage counters\n");
        return 2;
    }
    /* Three maps, each new when first met; the programs take frames through every
     * call, so that a run leaves an undo log and state for the next reset to clear. */
    const char *const texts[] = {
        "semantics hardened\nmap custom\nregion 0x0-0x3fffff usable\n"
        "region 0x100000-0x10ffff reserved\nalloc 9\nalloc 64 align 64\ndrop h0\ncheck\n",
        "semantics hardened\nmap custom\nregion 0x0-0x7fffff usable\nalloc 300\nalloc 1\n"
        "drop h0 +5 20\nclone h1\ncheck\n",
        "semantics hardened\nmap tiny\nalloc 3\nclone h0\ndrop h1\nalloc 2\ncheck\n",
    };
    enum { N = sizeof texts / sizeof texts[0] };
    input in[N];
    for (size_t i = 0; i < N; i++) in[i] = encode(texts[i]);
    size_t n = (size_t)(counters_end - counters);
    uint8_t *first[N], *now = malloc(n);
    /* Built, reset after itself, reset after the others, twice over. */
    const size_t order[] = {0, 1, 2, 0, 0, 2, 1, 1, 0, 2};
    size_t differ = 0;
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        size_t i = order[k];
        if (k < N) {
            first[i] = malloc(n);
            covered(&in[i], first[i]);
            continue;
        }
        covered(&in[i], now);
        if (memcmp(now, first[i], n) != 0) {
            size_t edges = 0;
            for (size_t c = 0; c < n; c++) edges += now[c] != first[i][c];
            printf("coverage_check: program %zu, run %zu: %zu of %zu counters differ from "
                   "its first run\n", i, k, edges, n);
            differ++;
        }
    }
    if (!differ)
        printf("coverage_check: %d programs over %zu runs, each run of a program covering "
               "what its first did\n", N, sizeof order / sizeof order[0]);
    return differ ? 1 : 0;
}
