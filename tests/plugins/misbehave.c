/*
 * misbehave.c — TEST-ONLY plug-in: a small correct allocator (first fit, one state byte
 * per RAM frame, exact validated frees) that misbehaves in one way chosen at build
 * time, the ways real allocators die rather than answer (tests/run_all.py builds each
 * with --plugin-cflags=-DMISBEHAVE_...):
 *   MISBEHAVE_SEGV    alloc(7) dereferences a null pointer: a crash with no finding before
 *   MISBEHAVE_DOUBLE  a double free is accepted; the next alloc then follows a corrupt
 *                     link (a null dereference): a crash after the root cause
 *   MISBEHAVE_SPIN    free of 3 frames loops forever without calling ff_step
 *   MISBEHAVE_ABORT   a bad free abort()s, as assert() in the C library does
 *   MISBEHAVE_OVERFLOW alloc(5) writes one byte past a heap buffer it owns: only a
 *                     sanitizer build notices (the plain build writes into malloc's slack)
 *   MISBEHAVE_SCRIBBLE in-band, as a header-writing allocator is: a free writes the next
 *                     block's header one frame past the block, into a frame that may be
 *                     in use (needs_backing, 8 in-band bytes)
 */
#include <stdlib.h>
#include <string.h>

#include "backend.h"

typedef struct misbehave {
    ff_env *env;
    ff_runs ram;
    uint8_t *used;     /* per RAM frame: 0 free, 1 allocated */
    uint64_t *head;    /* per RAM frame: at an allocation's start, its count */
    uint64_t nfree;
    bool corrupt;      /* MISBEHAVE_DOUBLE: a double free was accepted */
} misbehave;

static uint64_t idx(const misbehave *m, const ff_run *r, ff_pfn p) { (void)m; return r->base + (p - r->start); }

#if defined(MISBEHAVE_SEGV) || defined(MISBEHAVE_DOUBLE)
/* A write through a null pointer the compiler cannot see is null. */
static __attribute__((noinline)) void wild_write(void)
{
    int *volatile wild = NULL;
    *wild = 1;
}
#endif

#ifdef MISBEHAVE_OVERFLOW
/* One byte past a 20-byte buffer: inside the 24 bytes malloc really gives, so only
 * AddressSanitizer sees it. */
static __attribute__((noinline)) void overflow_by_one(void)
{
    char *volatile scratch = malloc(20);
    if (!scratch) return;
    scratch[20] = 1;
    free(scratch);
}
#endif

static void *mb_create(ff_env *env, const ff_range *ranges, size_t n)
{
    misbehave *m = calloc(1, sizeof *m);
    if (!m || !ff_runs_init(&m->ram, ranges, n)) {
        free(m);
        return NULL;
    }
    m->env = env;
    m->used = calloc(m->ram.frames + 1, 1);
    m->head = calloc(m->ram.frames + 1, sizeof *m->head);
    m->nfree = m->ram.frames;
    return m;
}

static void mb_destroy(void *self)
{
    misbehave *m = self;
    ff_runs_destroy(&m->ram);
    free(m->used);
    free(m->head);
    free(m);
}

static ff_status mb_alloc(void *self, const ff_alloc_req *req, ff_pfn *start)
{
    misbehave *m = self;
    uint64_t align = req->align > 1 ? req->align : 1;
    if (req->count == 0 || req->count > FF_PFN_LIMIT || !ff_is_pow2(align) || align > FF_PFN_LIMIT ||
        (unsigned)req->zone >= FF_ZONE_COUNT)
        return FF_ERR_INVALID;
#ifdef MISBEHAVE_SEGV
    if (req->count == 7) wild_write();
#endif
#ifdef MISBEHAVE_OVERFLOW
    if (req->count == 5) overflow_by_one();
#endif
#ifdef MISBEHAVE_DOUBLE
    if (m->corrupt) wild_write(); /* following the corrupt link */
#endif
    for (size_t r = 0; r < m->ram.count; r++) {
        const ff_run *run = &m->ram.run[r];
        for (ff_pfn p = (run->start + align - 1) / align * align;
             p < run->end && req->count <= run->end - p && p + req->count <= ff_zone_end(req->zone);
             p += align) {
            ff_step(m->env);
            uint64_t i = idx(m, run, p), k = 0;
            while (k < req->count && !m->used[i + k]) k++;
            if (k < req->count) continue;
            memset(&m->used[i], 1, req->count);
            m->head[i] = req->count;
            m->nfree -= req->count;
            *start = p;
            return FF_OK;
        }
    }
    return FF_ERR_NOMEM;
}

static ff_status refuse(ff_status why)
{
#ifdef MISBEHAVE_ABORT
    abort();
#endif
    return why;
}

static ff_status mb_free(void *self, ff_pfn start, uint64_t count)
{
    misbehave *m = self;
#ifdef MISBEHAVE_SPIN
    if (count == 3)
        for (volatile int spin = 1; spin;) {
        }
#endif
    if (count == 0 || start >= FF_PFN_LIMIT || count > FF_PFN_LIMIT - start) return refuse(FF_ERR_INVALID);
    const ff_run *run = ff_runs_find(&m->ram, start);
    if (!run || count > run->end - start) return refuse(FF_ERR_FOREIGN);
    uint64_t i = idx(m, run, start);
    for (uint64_t k = 0; k < count; k++) {
        ff_step(m->env);
        if (!m->used[i + k]) {
#ifdef MISBEHAVE_DOUBLE
            m->corrupt = true; /* accepted: the free list now links to itself */
            return FF_OK;
#endif
            return refuse(FF_ERR_DOUBLE);
        }
    }
    if (!m->head[i]) return refuse(FF_ERR_MISALIGNED);
    if (m->head[i] != count) return refuse(FF_ERR_WRONG_SIZE);
    memset(&m->used[i], 0, count);
    m->head[i] = 0;
    m->nfree += count;
#ifdef MISBEHAVE_SCRIBBLE
    if (start + count < run->end) /* the header of what follows, one frame too far */
        memset(m->env->frame_mem(m->env->space, start + count), 0x5c, 8);
#endif
    return FF_OK;
}

static uint64_t mb_free_frames(const void *self) { return ((const misbehave *)self)->nfree; }

const ff_backend_def ff_backend_misbehave = {
    .name = "misbehave",
    .summary = "TEST-ONLY: a correct first fit that misbehaves as built (-DMISBEHAVE_...)",
    .policy = {.placement = FF_PLACE_ANY_RUN, .rounding = FF_ROUND_NONE, .free_rule = FF_FREE_EXACT,
               .max_order = FF_ORDER_ANY, .validates_frees = true, .honours_zone = true,
               .honours_align = true,
#ifdef MISBEHAVE_SCRIBBLE
               .needs_backing = true, .inband_bytes = 8,
#endif
               },
    .create = mb_create,
    .destroy = mb_destroy,
    .alloc = mb_alloc,
    .free = mb_free,
    .free_frames = mb_free_frames,
};
