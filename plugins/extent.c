/*
 * extent.c — an example plug-in, and the template to start your own from: a small
 * first-fit allocator over a sorted array of free extents, with every free checked.
 *
 *   framefuzz fuzz --plugin plugins/extent.c --target extent
 *   framefuzz fuzz --plugin plugins/extent.c --backends buddy,extent   (differential)
 *   framefuzz repro --plugin plugins/extent.c FILE
 *
 * A plug-in is one C file, NAME.c, that defines `const ff_backend_def ff_backend_NAME`
 * with .name = "NAME" ([a-z0-9_], at most 24 characters). It includes backend.h and
 * nothing else of framefuzz. framefuzz builds it into every tool, harness and engine
 * in build/plugin-NAME/, and checks it against the contract before using it
 * (ff_backend_validate: every required hook present, a policy that can hold).
 *
 * The hooks, in the order framefuzz calls them (backend.h has the full contract):
 *   create(env, ranges, n)  build over usable RAM: sorted, disjoint frame ranges,
 *                           split at zone boundaries (16 MiB, 4 GiB). All of it starts
 *                           free. Keep env: every loop must call ff_step(env).
 *   alloc(self, req, &start) count frames aligned to req->align, ending at or below
 *                           ff_zone_end(req->zone); FF_ERR_INVALID for a malformed
 *                           request (backend.h says which), FF_ERR_NOMEM when nothing
 *                           fits, FF_ERR_UNSUPPORTED for what the policy says you do
 *                           not offer.
 *   free(self, start, count) take an allocation back, as your free_rule says a free
 *                           names it (exact, piecewise, size class, by address); with
 *                           validates_frees, refuse a bad free with one code (INVALID >
 *                           FOREIGN > DOUBLE > MISALIGNED > WRONG_SIZE, or REJECTED if
 *                           you do not tell reasons apart) and change nothing.
 *   free_frames(self)       optional: your own counter, never recomputed: drift is a
 *                           finding.
 *   check(self)             optional: walk your invariants; NULL when they hold.
 *   destroy(self)           free everything.
 * The policy is all the oracle knows of you: declare exactly what you do. Anything
 * else you may do (e.g. hand out the lowest fit) is yours. Your own assertions go
 * through ff_panic(env, ...), metadata kept in managed frames is declared with
 * ff_keep_frames at create, and globals must be swapped per instance (backend.h says
 * how; plugins/assert.c, kmem.c show it).
 *
 * This allocator: free extents in a sorted host array; allocations in another sorted
 * array (start, count), so a free is checked exactly. O(extents) per call: small and
 * obviously right beats fast.
 */
#include <stdlib.h>
#include <string.h>

#include "backend.h"

typedef struct extent {
    ff_pfn start;
    uint64_t count;
} extent;

/* A sorted array of extents that grows as needed. */
typedef struct extent_set {
    extent *at;
    size_t n, cap;
} extent_set;

typedef struct extents {
    ff_env *env;
    ff_runs ram;       /* to tell RAM from holes: a free may not span a hole */
    extent_set free;   /* free extents, sorted, never adjacent (coalesced) */
    extent_set taken;  /* allocations, sorted by start */
    uint64_t free_frames;
} extents;

static bool set_insert(extents *x, extent_set *s, size_t i, extent e)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        extent *grown = realloc(s->at, cap * sizeof *grown);
        if (!grown) return false;
        s->at = grown;
        s->cap = cap;
    }
    ff_step(x->env);
    memmove(&s->at[i + 1], &s->at[i], (s->n - i) * sizeof *s->at);
    s->at[i] = e;
    s->n++;
    return true;
}

static void set_remove(extent_set *s, size_t i)
{
    memmove(&s->at[i], &s->at[i + 1], (s->n - i - 1) * sizeof *s->at);
    s->n--;
}

/* The first index whose extent starts at or after pfn. */
static size_t set_find(extents *x, const extent_set *s, ff_pfn pfn)
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

static void *ext_create(ff_env *env, const ff_range *ranges, size_t nranges)
{
    if (!env || (nranges && !ranges)) return NULL;
    extents *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->env = env;
    if (!ff_runs_init(&x->ram, ranges, nranges)) goto fail;
    /* Free extents are contiguous RAM runs: they may cross a zone boundary. */
    for (size_t i = 0; i < x->ram.count; i++) {
        extent e = {x->ram.run[i].start, x->ram.run[i].end - x->ram.run[i].start};
        if (!set_insert(x, &x->free, x->free.n, e)) goto fail;
        x->free_frames += e.count;
    }
    return x;
fail:
    ff_runs_destroy(&x->ram);
    free(x->free.at);
    free(x);
    return NULL;
}

static void ext_destroy(void *self)
{
    extents *x = self;
    if (!x) return;
    ff_runs_destroy(&x->ram);
    free(x->free.at);
    free(x->taken.at);
    free(x);
}

static ff_status ext_alloc(void *self, const ff_alloc_req *req, ff_pfn *start)
{
    extents *x = self;
    uint64_t align = req->align > 1 ? req->align : 1;
    if (req->count == 0 || req->count > FF_PFN_LIMIT || !ff_is_pow2(align) ||
        align > FF_PFN_LIMIT || (unsigned)req->zone >= FF_ZONE_COUNT)
        return FF_ERR_INVALID;
    ff_pfn limit = ff_zone_end(req->zone);
    for (size_t i = 0; i < x->free.n; i++) {
        ff_step(x->env);
        extent e = x->free.at[i];
        ff_pfn at = (e.start + align - 1) / align * align;
        ff_pfn end = e.start + e.count;
        if (at >= end || req->count > end - at || at + req->count > limit) continue;
        /* Carve [at, at + count) out: up to two pieces stay free. */
        size_t taken_at = set_find(x, &x->taken, at);
        if (!set_insert(x, &x->taken, taken_at, (extent){at, req->count})) return FF_ERR_NOMEM;
        set_remove(&x->free, i);
        extent after = {at + req->count, end - (at + req->count)};
        if (after.count && !set_insert(x, &x->free, i, after)) return FF_ERR_NOMEM;
        if (at > e.start && !set_insert(x, &x->free, i, (extent){e.start, at - e.start}))
            return FF_ERR_NOMEM;
        x->free_frames -= req->count;
        *start = at;
        return FF_OK;
    }
    return FF_ERR_NOMEM;
}

static ff_status ext_free(void *self, ff_pfn start, uint64_t count)
{
    extents *x = self;
    if (count == 0 || count > FF_PFN_LIMIT || start > FF_PFN_LIMIT - count) return FF_ERR_INVALID;
    const ff_run *run = ff_runs_find(&x->ram, start);
    if (!run || count > run->end - start) return FF_ERR_FOREIGN;
    /* Already free: it overlaps a free extent. */
    size_t i = set_find(x, &x->free, start + 1);
    if ((i > 0 && x->free.at[i - 1].start + x->free.at[i - 1].count > start) ||
        (i < x->free.n && x->free.at[i].start < start + count))
        return FF_ERR_DOUBLE;
    size_t t = set_find(x, &x->taken, start);
    if (t == x->taken.n || x->taken.at[t].start != start) return FF_ERR_MISALIGNED;
    if (x->taken.at[t].count != count) return FF_ERR_WRONG_SIZE;
    set_remove(&x->taken, t);
    /* Give it back, coalescing with the neighbours inside the same RAM run. */
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
    if (!set_insert(x, &x->free, at, e)) return FF_ERR_INVALID; /* host memory: refuse whole */
    x->free_frames += count;
    return FF_OK;
}

static uint64_t ext_free_frames(const void *self) { return ((const extents *)self)->free_frames; }

static const char *ext_check(void *self)
{
    extents *x = self;
    uint64_t total = 0;
    for (size_t i = 0; i < x->free.n; i++) {
        ff_step(x->env);
        extent e = x->free.at[i];
        const ff_run *run = ff_runs_find(&x->ram, e.start);
        if (!e.count || !run || e.count > run->end - e.start) return "a free extent leaves RAM";
        if (i && x->free.at[i - 1].start + x->free.at[i - 1].count >= e.start)
            return "free extents overlap, touch (not coalesced) or are out of order";
        total += e.count;
    }
    return total == x->free_frames ? NULL : "the free counter disagrees with the extents";
}

const ff_backend_def ff_backend_extent = {
    .name = "extent",
    .summary = "example plug-in: first fit over a sorted array of free extents, checked frees",
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
    .create = ext_create,
    .destroy = ext_destroy,
    .alloc = ext_alloc,
    .free = ext_free,
    .free_frames = ext_free_frames,
    .check = ext_check,
};
