/*
 * assert.c — an example plug-in: an allocator that checks misuse with its own
 * assertions, as a debug kernel build does (Linux's VM_BUG_ON_PAGE, bad_page()): a bad
 * free is not answered with an error code, it stops the system.
 *
 *   framefuzz fuzz --plugin plugins/assert.c --target assert
 *   framefuzz fuzz --plugin plugins/assert.c --plugin-cflags=-DFF_EXAMPLE_BUG --target assert
 *   framefuzz repro --plugin plugins/assert.c FILE
 *
 * The contract feature. KASSERT(env, cond, ...) calls ff_panic(env, ...) when cond does
 * not hold: the call is left at once (ff_panic does not return), the trace shows the
 * message and the run ends. The oracle judges the request that panicked: a bad one (a
 * free of non-RAM, of free frames, not at an allocation's start, of another count, of
 * zero frames or a wrapping range) means the allocator caught it, and nothing is
 * found; a valid one is an allocator-panic, named after the call and the function
 * that panicked (allocator-panic@assert:free:as_free). So free asserts every rule of
 * FF_FREE_EXACT (validates_frees = true) and returns only FF_OK; alloc still answers
 * FF_ERR_INVALID for a malformed request and FF_ERR_NOMEM when nothing fits.
 *
 * This allocator: first fit over a sorted host array of free extents (coalesced), and a
 * sorted host array of allocations (start, count) that free checks against
 * (FF_PLACE_ANY_RUN, FF_ROUND_NONE, any alignment, zone limits).
 *
 * Its twin (-DFF_EXAMPLE_BUG): the assertion that the freed range stays inside its RAM
 * run is off by one (start + count < end where <= was meant), so a valid free of an
 * allocation that ends at the very end of a RAM run panics. framefuzz reports
 * allocator-panic@assert:free:as_free.
 */
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#define KASSERT(env, cond, ...)                  \
    do {                                         \
        if (!(cond)) ff_panic(env, __VA_ARGS__); \
    } while (0)

typedef struct extent {
    ff_pfn start;
    uint64_t count;
} extent;

typedef struct extent_set { /* sorted by start */
    extent *at;
    size_t n, cap;
} extent_set;

typedef struct asrt {
    ff_env *env;
    ff_runs ram;
    extent_set free;  /* free extents, never touching each other */
    extent_set taken; /* allocations */
    uint64_t free_frames;
} asrt;

/* Room for `more` elements, so that the changes that follow cannot fail half-way. */
static bool set_reserve(extent_set *s, size_t more)
{
    if (s->cap - s->n >= more) return true;
    size_t cap = s->cap ? 2 * s->cap : 16;
    while (cap - s->n < more) cap *= 2;
    extent *grown = realloc(s->at, cap * sizeof *grown);
    if (!grown) return false;
    s->at = grown;
    s->cap = cap;
    return true;
}

/* Room for `total` elements in all. */
static bool set_room(extent_set *s, size_t total)
{
    return total <= s->n || set_reserve(s, total - s->n);
}

static void set_insert(extent_set *s, size_t i, extent e)
{
    memmove(&s->at[i + 1], &s->at[i], (s->n - i) * sizeof *s->at);
    s->at[i] = e;
    s->n++;
}

static void set_remove(extent_set *s, size_t i)
{
    memmove(&s->at[i], &s->at[i + 1], (s->n - i - 1) * sizeof *s->at);
    s->n--;
}

/* The first index whose extent starts at or after pfn. */
static size_t set_find(asrt *x, const extent_set *s, ff_pfn pfn)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        ff_step(x->env);
        size_t mid = lo + (hi - lo) / 2;
        if (s->at[mid].start < pfn)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void as_destroy(void *self)
{
    asrt *x = self;
    if (!x) return;
    ff_runs_destroy(&x->ram);
    free(x->free.at);
    free(x->taken.at);
    free(x);
}

static void *as_create(ff_env *env, const ff_range *ranges, size_t nranges)
{
    if (!env || (nranges && !ranges)) return NULL;
    asrt *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->env = env;
    if (!ff_runs_init(&x->ram, ranges, nranges) || !set_reserve(&x->free, x->ram.count + 1) ||
        !set_reserve(&x->taken, 16)) {
        as_destroy(x);
        return NULL;
    }
    for (size_t i = 0; i < x->ram.count; i++) {
        ff_step(env);
        extent e = {x->ram.run[i].start, x->ram.run[i].end - x->ram.run[i].start};
        set_insert(&x->free, x->free.n, e);
        x->free_frames += e.count;
    }
    return x;
}

static ff_status as_alloc(void *self, const ff_alloc_req *req, ff_pfn *start)
{
    asrt *x = self;
    uint64_t align = req->align > 1 ? req->align : 1;
    if (req->count == 0 || req->count > FF_PFN_LIMIT || !ff_is_pow2(align) ||
        align > FF_PFN_LIMIT || (unsigned)req->zone >= FF_ZONE_COUNT)
        return FF_ERR_INVALID;
    ff_pfn limit = ff_zone_end(req->zone);
    for (size_t i = 0; i < x->free.n; i++) {
        ff_step(x->env);
        extent e = x->free.at[i];
        ff_pfn at = (e.start + align - 1) / align * align, end = e.start + e.count;
        if (at >= end || req->count > end - at || at + req->count > limit) continue;
        /* Carve [at, +count) out of e: up to two pieces of it stay free. There are never
         * more free extents than allocations and RAM runs (each free extent ends at an
         * allocation's first frame or at the end of a run), so with room for that many,
         * free never needs host memory: it has no way to refuse. */
        if (!set_reserve(&x->taken, 1) || !set_room(&x->free, x->taken.n + 1 + x->ram.count))
            return FF_ERR_NOMEM;
        set_insert(&x->taken, set_find(x, &x->taken, at), (extent){at, req->count});
        set_remove(&x->free, i);
        if (at + req->count < end) set_insert(&x->free, i, (extent){at + req->count, end - (at + req->count)});
        if (at > e.start) set_insert(&x->free, i, (extent){e.start, at - e.start});
        x->free_frames -= req->count;
        *start = at;
        return FF_OK;
    }
    return FF_ERR_NOMEM;
}

/* Every rule of an exact free is an assertion: a bad free panics. */
static ff_status as_free(void *self, ff_pfn start, uint64_t count)
{
    asrt *x = self;
    unsigned long long s = start, n = count;
    KASSERT(x->env, count && count <= FF_PFN_LIMIT && start <= FF_PFN_LIMIT - count,
            "free(0x%llx, %llu): zero frames or a wrapping range", s, n);
    const ff_run *run = ff_runs_find(&x->ram, start);
    KASSERT(x->env, run, "free(0x%llx, %llu): not RAM", s, n);
#ifdef FF_EXAMPLE_BUG
    /* EXAMPLE BUG (FF_EXAMPLE_BUG): off by one: < where <= was meant, so a free that
     * ends at the very end of its RAM run panics. */
    KASSERT(x->env, start + count < run->end, "free(0x%llx, %llu): leaves its RAM run", s, n);
#else
    KASSERT(x->env, start + count <= run->end, "free(0x%llx, %llu): leaves its RAM run", s, n);
#endif
    size_t f = set_find(x, &x->free, start + 1);
    KASSERT(x->env, f == 0 || x->free.at[f - 1].start + x->free.at[f - 1].count <= start,
            "free(0x%llx, %llu): frame 0x%llx is already free", s, n, s);
    KASSERT(x->env, f == x->free.n || x->free.at[f].start >= start + count,
            "free(0x%llx, %llu): frame 0x%llx is already free", s, n,
            (unsigned long long)(f < x->free.n ? x->free.at[f].start : 0));
    size_t t = set_find(x, &x->taken, start);
    KASSERT(x->env, t < x->taken.n && x->taken.at[t].start == start,
            "free(0x%llx, %llu): not the first frame of an allocation", s, n);
    KASSERT(x->env, x->taken.at[t].count == count, "free(0x%llx, %llu): the allocation has %llu frames",
            s, n, (unsigned long long)x->taken.at[t].count);
    set_remove(&x->taken, t);
    /* Give it back, coalescing with the free extents it touches. */
    extent e = {start, count};
    size_t at = set_find(x, &x->free, start);
    if (at > 0 && x->free.at[at - 1].start + x->free.at[at - 1].count == start) {
        e = (extent){x->free.at[at - 1].start, x->free.at[at - 1].count + count};
        set_remove(&x->free, --at);
    }
    if (at < x->free.n && x->free.at[at].start == e.start + e.count) {
        e.count += x->free.at[at].count;
        set_remove(&x->free, at);
    }
    set_insert(&x->free, at, e);
    x->free_frames += count;
    return FF_OK;
}

static uint64_t as_free_frames(const void *self) { return ((const asrt *)self)->free_frames; }

/* Free extents and allocations lie in RAM runs, sorted and disjoint; free extents are
 * coalesced; together they cover all RAM; the counter adds up. */
static const char *as_check(void *self)
{
    asrt *x = self;
    uint64_t frames[2] = {0, 0};
    const extent_set *sets[2] = {&x->free, &x->taken};
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < sets[s]->n; i++) {
            ff_step(x->env);
            extent e = sets[s]->at[i];
            const ff_run *run = ff_runs_find(&x->ram, e.start);
            if (!e.count || !run || e.count > run->end - e.start) return "an extent leaves RAM";
            if (i && sets[s]->at[i - 1].start + sets[s]->at[i - 1].count > e.start)
                return "extents overlap or are out of order";
            if (s == 0 && i && sets[s]->at[i - 1].start + sets[s]->at[i - 1].count == e.start)
                return "two free extents touch (not coalesced)";
            frames[s] += e.count;
        }
    }
    if (frames[0] + frames[1] != x->ram.frames) return "free and allocated frames do not add up to RAM";
    return frames[0] == x->free_frames ? NULL : "the free counter disagrees with the extents";
}

const ff_backend_def ff_backend_assert = {
    .name = "assert",
    .summary = "example plug-in: first fit whose free asserts (ff_panic) instead of refusing",
    .policy =
        {
            .placement = FF_PLACE_ANY_RUN,
            .rounding = FF_ROUND_NONE,
            .free_rule = FF_FREE_EXACT,
            .max_order = FF_ORDER_ANY,
            .validates_frees = true,
            .honours_zone = true,
            .honours_align = true,
            .needs_backing = false,
            .inband_bytes = 0,
        },
    .create = as_create,
    .destroy = as_destroy,
    .alloc = as_alloc,
    .free = as_free,
    .free_frames = as_free_frames,
    .check = as_check,
};
