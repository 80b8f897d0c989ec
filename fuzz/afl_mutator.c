/*
 * afl_mutator.c — the structure-aware mutator (mutator.h) as an AFL++ custom mutator:
 * a shared object loaded with AFL_CUSTOM_MUTATOR_LIBRARY (`make afl` builds
 * build/afl/ff-mutator.so). AFL++ keeps its own havoc stage besides, so no byte-level
 * fallback is passed; one time in eight the other input AFL++ offers is crossed in.
 */
#include <stdlib.h>
#include <string.h>

#include "mutator.h"

/* AFL++'s custom-mutator interface (afl-fuzz passes its own state first; unused). */
void *afl_custom_init(void *afl, unsigned int seed);
size_t afl_custom_fuzz(void *data, uint8_t *buf, size_t buf_size, uint8_t **out_buf,
                       uint8_t *add_buf, size_t add_buf_size, size_t max_size);
void afl_custom_deinit(void *data);

typedef struct afl_mutator {
    unsigned int seed; /* advanced on every call: deterministic for AFL++'s seed */
    uint8_t *out;
    size_t cap;
} afl_mutator;

void *afl_custom_init(void *afl, unsigned int seed)
{
    (void)afl;
    afl_mutator *m = calloc(1, sizeof *m);
    if (m) m->seed = seed;
    return m;
}

size_t afl_custom_fuzz(void *data, uint8_t *buf, size_t buf_size, uint8_t **out_buf,
                       uint8_t *add_buf, size_t add_buf_size, size_t max_size)
{
    afl_mutator *m = data;
    if (max_size > m->cap) {
        uint8_t *grown = realloc(m->out, max_size);
        if (!grown) {
            *out_buf = buf; /* out of memory: hand the input back unchanged */
            return buf_size;
        }
        m->out = grown;
        m->cap = max_size;
    }
    unsigned int seed = m->seed++;
    size_t size;
    if (add_buf && add_buf_size && seed % 8 == 0) {
        size = ff_crossover(buf, buf_size, add_buf, add_buf_size, m->out, max_size, seed);
    } else {
        size = buf_size < max_size ? buf_size : max_size;
        memcpy(m->out, buf, size);
        size = ff_mutate(m->out, size, max_size, seed, NULL);
    }
    *out_buf = m->out;
    return size;
}

void afl_custom_deinit(void *data)
{
    afl_mutator *m = data;
    if (m) free(m->out);
    free(m);
}
