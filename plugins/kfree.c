/*
 * kfree.c — an example plug-in: an allocator whose free names an allocation by its
 * address alone, as kfree(p) and free_pages without an order do (the contract's
 * FF_FREE_BY_ADDRESS).
 *
 *   framefuzz fuzz --plugin plugins/kfree.c --target kfree
 *   framefuzz fuzz --plugin plugins/kfree.c --plugin-cflags=-DFF_EXAMPLE_BUG --target kfree
 *   framefuzz repro --plugin plugins/kfree.c FILE
 *
 * The contract feature. free(start, count) ignores count: start names the allocation
 * that begins there, and all of it comes back. The policy says so with free rule
 * FF_FREE_BY_ADDRESS (placement FF_PLACE_ANY_RUN, rounding FF_ROUND_NONE: exactly the
 * count asked is reserved), and the oracle judges a free by its first frame alone:
 * valid when an allocation starts there, whatever count is passed (0 included);
 * foreign when start is not RAM; unowned or double when start is free; misaligned when
 * it lies inside an allocation. This allocator refuses those with FF_ERR_FOREIGN,
 * FF_ERR_DOUBLE (any free frame of managed RAM) and FF_ERR_MISALIGNED.
 *
 * This allocator: first fit over a sorted host array of free extents (coalesced, never
 * across a hole), and a sorted host array of allocations (start, count) in which a
 * free finds its allocation by binary search.
 *
 * Its twin (-DFF_EXAMPLE_BUG): a free of an address inside an allocation is accepted
 * and gives back from there to the allocation's end (the allocation shrinks to its
 * head), as an allocator that trusts the pointer it is given would. framefuzz reports
 * accepted-misaligned-free@kfree.
 */
#include <stdlib.h>
#include <string.h>

#include "backend.h"

typedef struct extent {
    ff_pfn start;
    uint64_t count;
} extent;

typedef struct extent_set { /* sorted by start */
    extent *at;
    size_t n, cap;
} extent_set;

typedef struct kfree {
    ff_env *env;
    ff_runs ram;
    extent_set free;  /* free extents: inside RAM runs, never touching each other */
    extent_set taken; /* allocations */
    uint64_t free_frames;
} kfree;

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
static size_t set_find(kfree *k, const extent_set *s, ff_pfn pfn)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        ff_step(k->env);
        size_t mid = lo + (hi - lo) / 2;
        if (s->at[mid].start < pfn)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Frames [e.start, +e.count), all RAM and handed out, become free: coalesced with the
 * free extents they touch (extents in different RAM runs never touch: a hole lies
 * between). Needs room for one more free extent. */
static void give_back(kfree *k, extent e)
{
    size_t at = set_find(k, &k->free, e.start);
    k->free_frames += e.count;
    if (at > 0 && k->free.at[at - 1].start + k->free.at[at - 1].count == e.start) {
        e = (extent){k->free.at[at - 1].start, k->free.at[at - 1].count + e.count};
        set_remove(&k->free, --at);
    }
    if (at < k->free.n && k->free.at[at].start == e.start + e.count) {
        e.count += k->free.at[at].count;
        set_remove(&k->free, at);
    }
    set_insert(&k->free, at, e);
}

static void kf_destroy(void *self)
{
    kfree *k = self;
    if (!k) return;
    ff_runs_destroy(&k->ram);
    free(k->free.at);
    free(k->taken.at);
    free(k);
}

static void *kf_create(ff_env *env, const ff_range *ranges, size_t nranges)
{
    if (!env || (nranges && !ranges)) return NULL;
    kfree *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    k->env = env;
    if (!ff_runs_init(&k->ram, ranges, nranges) || !set_reserve(&k->free, k->ram.count + 1) ||
        !set_reserve(&k->taken, 16)) {
        kf_destroy(k);
        return NULL;
    }
    for (size_t i = 0; i < k->ram.count; i++) {
        ff_step(env);
        extent e = {k->ram.run[i].start, k->ram.run[i].end - k->ram.run[i].start};
        set_insert(&k->free, k->free.n, e);
        k->free_frames += e.count;
    }
    return k;
}

static ff_status kf_alloc(void *self, const ff_alloc_req *req, ff_pfn *start)
{
    kfree *k = self;
    uint64_t align = req->align > 1 ? req->align : 1;
    if (req->count == 0 || req->count > FF_PFN_LIMIT || !ff_is_pow2(align) ||
        align > FF_PFN_LIMIT || (unsigned)req->zone >= FF_ZONE_COUNT)
        return FF_ERR_INVALID;
    ff_pfn limit = ff_zone_end(req->zone);
    for (size_t i = 0; i < k->free.n; i++) {
        ff_step(k->env);
        extent e = k->free.at[i];
        ff_pfn at = (e.start + align - 1) / align * align, end = e.start + e.count;
        if (at >= end || req->count > end - at || at + req->count > limit) continue;
        /* Carve [at, +count) out of e: up to two pieces of it stay free. */
        if (!set_reserve(&k->free, 1) || !set_reserve(&k->taken, 1)) return FF_ERR_NOMEM;
        set_insert(&k->taken, set_find(k, &k->taken, at), (extent){at, req->count});
        set_remove(&k->free, i);
        if (at + req->count < end) set_insert(&k->free, i, (extent){at + req->count, end - (at + req->count)});
        if (at > e.start) set_insert(&k->free, i, (extent){e.start, at - e.start});
        k->free_frames -= req->count;
        *start = at;
        return FF_OK;
    }
    return FF_ERR_NOMEM;
}

/* kfree(start): the count is not looked at. */
static ff_status kf_free(void *self, ff_pfn start, uint64_t count)
{
    kfree *k = self;
    (void)count;
    if (!ff_runs_find(&k->ram, start)) return FF_ERR_FOREIGN;
    /* The last allocation starting at or before start. */
    size_t t = set_find(k, &k->taken, start + 1);
    if (t == 0 || k->taken.at[t - 1].start + k->taken.at[t - 1].count <= start)
        return FF_ERR_DOUBLE; /* start is a free frame */
    extent a = k->taken.at[t - 1];
    if (!set_reserve(&k->free, 1)) return FF_ERR_NOMEM; /* host memory: refuse, change nothing */
    if (a.start != start) {
#ifdef FF_EXAMPLE_BUG
        /* EXAMPLE BUG (FF_EXAMPLE_BUG): a free inside an allocation is taken for a free
         * of its tail: frames from start to the allocation's end come back, and the
         * allocation shrinks to the frames before start. */
        k->taken.at[t - 1].count = start - a.start;
        give_back(k, (extent){start, a.start + a.count - start});
        return FF_OK;
#else
        return FF_ERR_MISALIGNED;
#endif
    }
    set_remove(&k->taken, t - 1);
    give_back(k, a);
    return FF_OK;
}

static uint64_t kf_free_frames(const void *self) { return ((const kfree *)self)->free_frames; }

/* Free extents and allocations lie in RAM runs, sorted and disjoint; free extents are
 * coalesced; together they cover all RAM; the counter adds up. */
static const char *kf_check(void *self)
{
    kfree *k = self;
    uint64_t free_frames = 0, taken_frames = 0;
    const extent_set *sets[2] = {&k->free, &k->taken};
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < sets[s]->n; i++) {
            ff_step(k->env);
            extent e = sets[s]->at[i];
            const ff_run *run = ff_runs_find(&k->ram, e.start);
            if (!e.count || !run || e.count > run->end - e.start) return "an extent leaves RAM";
            if (i && sets[s]->at[i - 1].start + sets[s]->at[i - 1].count > e.start)
                return "extents overlap or are out of order";
            if (s == 0 && i && sets[s]->at[i - 1].start + sets[s]->at[i - 1].count == e.start)
                return "two free extents touch (not coalesced)";
            *(s == 0 ? &free_frames : &taken_frames) += e.count;
        }
    }
    if (free_frames + taken_frames != k->ram.frames) return "free and allocated frames do not add up to RAM";
    return free_frames == k->free_frames ? NULL : "the free counter disagrees with the extents";
}

const ff_backend_def ff_backend_kfree = {
    .name = "kfree",
    .summary = "example plug-in: first fit, frees by address alone (kfree), checked frees",
    .policy =
        {
            .placement = FF_PLACE_ANY_RUN,
            .rounding = FF_ROUND_NONE,
            .free_rule = FF_FREE_BY_ADDRESS,
            .max_order = FF_ORDER_ANY,
            .validates_frees = true,
            .honours_zone = true,
            .honours_align = true,
            .needs_backing = false,
            .inband_bytes = 0,
        },
    .create = kf_create,
    .destroy = kf_destroy,
    .alloc = kf_alloc,
    .free = kf_free,
    .free_frames = kf_free_frames,
    .check = kf_check,
};
