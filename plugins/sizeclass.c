/*
 * sizeclass.c — an example plug-in: a binary buddy allocator whose free names a size
 * class, not an exact count (the contract's FF_FREE_SIZE_CLASS).
 *
 *   framefuzz fuzz --plugin plugins/sizeclass.c --target sizeclass
 *   framefuzz fuzz --plugin plugins/sizeclass.c --plugin-cflags=-DFF_EXAMPLE_BUG --target sizeclass
 *   framefuzz repro --plugin plugins/sizeclass.c FILE
 *
 * The contract feature. Many allocators take a block back by its start and a size that
 * only has to round to the same power of two (free_pages(addr, get_order(bytes))).
 * Policy: placement FF_PLACE_POW2_NATURAL, rounding FF_ROUND_POW2 (n frames aligned to
 * a reserve the naturally aligned block of 2^ceil(log2(max(n, a))) frames), free rule
 * FF_FREE_SIZE_CLASS: free(start, n) is valid when start is an allocation's first frame
 * and 2^ceil(log2(n)) is the block's size or the size class of the count asked; the
 * whole block comes back (free 4 frames of a 3-frame allocation: valid; 2: wrong size).
 * Other frees are refused: INVALID (zero, wrapping), FOREIGN (not all RAM), DOUBLE (a
 * free frame), MISALIGNED (not a block's start), WRONG_SIZE (another size class).
 *
 * This allocator: each zone-split range is cut into maximal naturally aligned blocks
 * of at most 2^18 frames, with one doubly linked free list per order per range (so a
 * block and its buddy always lie in one range and never merge across ranges or zones).
 * Per RAM frame, a head byte (0 inside a block; HEAD_FREE or HEAD_USED with the
 * block's order at its first frame) and, at an allocation's first frame, the order of
 * the count asked. Alloc takes the smallest free order that fits in a range below the
 * zone limit and splits it; free checks, then merges with free buddies.
 *
 * Its twin (-DFF_EXAMPLE_BUG): a free whose count is of a smaller size class than the
 * allocation's is not refused: free computes the order from the count and gives back a
 * block of that order without checking the block's own (free(p, 2) of a 4-frame block
 * gives back 2 frames). framefuzz reports accepted-wrong-size-free@sizeclass.
 */
#include <stdlib.h>

#include "backend.h"

#define SC_MAX_ORDER 18u
#define NIL UINT64_MAX
#define HEAD_FREE 0x40u
#define HEAD_USED 0x80u
#define HEAD_ORDER(h) ((unsigned)((h) & 0x3fu))

static inline uint64_t order_size(unsigned order) { return UINT64_C(1) << order; }

typedef struct sc_range {
    ff_pfn start, end;
    uint64_t base;           /* RAM frames in the ranges before this one */
    ff_pfn free[SC_MAX_ORDER + 1]; /* per order: the first free block, or NIL */
} sc_range;

typedef struct sizeclass {
    ff_env *env;
    ff_runs ram;           /* contiguous RAM, to tell a free that leaves RAM */
    sc_range *range;       /* the zone-split ranges, sorted; per-frame arrays span all */
    size_t nrange;
    uint8_t *head;         /* per RAM frame: 0, or HEAD_FREE / HEAD_USED | order at a block */
    uint8_t *asked;        /* per RAM frame: at a used block, ceil(log2(count asked)) */
    ff_pfn *next, *prev;   /* per RAM frame: a free block's list links */
    uint64_t free_frames;
} sizeclass;

static inline uint64_t idx(const sc_range *r, ff_pfn pfn) { return r->base + (pfn - r->start); }

/* The range holding pfn, or NULL. */
static sc_range *range_of(sizeclass *s, ff_pfn pfn)
{
    size_t lo = 0, hi = s->nrange;
    while (lo < hi) {
        ff_step(s->env);
        size_t mid = lo + (hi - lo) / 2;
        if (pfn < s->range[mid].start)
            hi = mid;
        else if (pfn >= s->range[mid].end)
            lo = mid + 1;
        else
            return &s->range[mid];
    }
    return NULL;
}

static void push(sizeclass *s, sc_range *r, ff_pfn pfn, unsigned order)
{
    uint64_t i = idx(r, pfn);
    s->head[i] = (uint8_t)(HEAD_FREE | order);
    s->next[i] = r->free[order];
    s->prev[i] = NIL;
    if (r->free[order] != NIL) s->prev[idx(r, r->free[order])] = pfn;
    r->free[order] = pfn;
}

static void unlink_block(sizeclass *s, sc_range *r, ff_pfn pfn, unsigned order)
{
    uint64_t i = idx(r, pfn);
    ff_pfn n = s->next[i], p = s->prev[i];
    if (p != NIL)
        s->next[idx(r, p)] = n;
    else
        r->free[order] = n;
    if (n != NIL) s->prev[idx(r, n)] = p;
    s->head[i] = 0;
}

/* The block of range r holding pfn: one of the naturally aligned blocks around it.
 * False when none does (never, while the blocks partition the range). */
static bool block_at(sizeclass *s, const sc_range *r, ff_pfn pfn, ff_pfn *block, unsigned *order)
{
    for (unsigned o = 0; o <= SC_MAX_ORDER; o++) {
        ff_step(s->env);
        ff_pfn at = pfn & ~(order_size(o) - 1);
        if (at < r->start) break;
        uint8_t h = s->head[idx(r, at)];
        if (h && pfn - at < order_size(HEAD_ORDER(h))) {
            *block = at;
            *order = HEAD_ORDER(h);
            return true;
        }
    }
    return false;
}

/* Whether any frame of [start, +count) (all RAM) lies in a free block. */
static bool any_free(sizeclass *s, ff_pfn start, uint64_t count)
{
    for (ff_pfn p = start; p < start + count;) {
        ff_step(s->env);
        sc_range *r = range_of(s, p);
        ff_pfn b;
        unsigned o;
        if (!r || !block_at(s, r, p, &b, &o)) return false;
        if (s->head[idx(r, b)] & HEAD_FREE) return true;
        p = b + order_size(o);
    }
    return false;
}

/* Block p of order `order` in r comes back: merged with free buddies inside r. */
static void give_back(sizeclass *s, sc_range *r, ff_pfn p, unsigned order)
{
    s->free_frames += order_size(order);
    s->head[idx(r, p)] = 0;
    while (order < SC_MAX_ORDER) {
        ff_step(s->env);
        ff_pfn buddy = p ^ order_size(order), lo = p < buddy ? p : buddy;
        if (lo < r->start || r->end - lo < order_size(order + 1)) break;
        if (s->head[idx(r, buddy)] != (HEAD_FREE | order)) break;
        unlink_block(s, r, buddy, order);
        p = lo;
        order++;
    }
    push(s, r, p, order);
}

static void sc_destroy(void *self)
{
    sizeclass *s = self;
    if (!s) return;
    uint64_t n = s->ram.frames ? s->ram.frames : 1;
    ff_host_free(s->head, n);
    ff_host_free(s->asked, n);
    ff_host_free(s->next, n * sizeof(ff_pfn));
    ff_host_free(s->prev, n * sizeof(ff_pfn));
    ff_runs_destroy(&s->ram);
    free(s->range);
    free(s);
}

static void *sc_create(ff_env *env, const ff_range *ranges, size_t nranges)
{
    if (!env || (nranges && !ranges)) return NULL;
    sizeclass *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->env = env;
    /* ff_runs_init checks the ranges (sorted, disjoint, below the limit). */
    if (!ff_runs_init(&s->ram, ranges, nranges)) goto fail;
    s->range = calloc(nranges ? nranges : 1, sizeof *s->range);
    if (!s->range) goto fail;
    uint64_t base = 0; /* RAM frames in the ranges before */
    for (size_t i = 0; i < nranges; base += ranges[i++].count) {
        ff_step(env);
        if (!ranges[i].count) continue;
        sc_range *r = &s->range[s->nrange++];
        *r = (sc_range){.start = ranges[i].start, .end = ff_range_end(ranges[i]), .base = base};
        for (unsigned o = 0; o <= SC_MAX_ORDER; o++) r->free[o] = NIL;
    }
    uint64_t n = s->ram.frames ? s->ram.frames : 1;
    if (n > SIZE_MAX / sizeof(ff_pfn)) goto fail;
    s->head = ff_host_zalloc(n);
    s->asked = ff_host_zalloc(n);
    s->next = ff_host_zalloc(n * sizeof(ff_pfn));
    s->prev = ff_host_zalloc(n * sizeof(ff_pfn));
    if (!s->head || !s->asked || !s->next || !s->prev) goto fail;
    /* Each range cut into maximal naturally aligned blocks: already fully merged. */
    for (size_t i = 0; i < s->nrange; i++) {
        sc_range *r = &s->range[i];
        for (ff_pfn p = r->start; p < r->end;) {
            ff_step(env);
            unsigned order = ff_log2(r->end - p);
            if (p && (unsigned)__builtin_ctzll(p) < order) order = (unsigned)__builtin_ctzll(p);
            if (order > SC_MAX_ORDER) order = SC_MAX_ORDER;
            push(s, r, p, order);
            s->free_frames += order_size(order);
            p += order_size(order);
        }
    }
    return s;
fail:
    sc_destroy(s);
    return NULL;
}

static ff_status sc_alloc(void *self, const ff_alloc_req *req, ff_pfn *start)
{
    sizeclass *s = self;
    uint64_t largest = order_size(SC_MAX_ORDER);
    if (req->count == 0 || req->count > largest || req->align > largest ||
        (req->align > 1 && !ff_is_pow2(req->align)) || (unsigned)req->zone >= FF_ZONE_COUNT)
        return FF_ERR_INVALID;
    unsigned want = ff_log2_ceil(req->count > req->align ? req->count : req->align);
    ff_pfn limit = ff_zone_end(req->zone);
    /* The smallest free block that fits, in a range below the zone limit. */
    for (unsigned o = want; o <= SC_MAX_ORDER; o++) {
        for (size_t i = 0; i < s->nrange; i++) {
            ff_step(s->env);
            sc_range *r = &s->range[i];
            if (r->end > limit || r->free[o] == NIL) continue;
            ff_pfn p = r->free[o];
            unlink_block(s, r, p, o);
            for (unsigned split = o; split > want;) { /* upper halves stay free */
                ff_step(s->env);
                split--;
                push(s, r, p + order_size(split), split);
            }
            s->head[idx(r, p)] = (uint8_t)(HEAD_USED | want);
            s->asked[idx(r, p)] = (uint8_t)ff_log2_ceil(req->count);
            s->free_frames -= order_size(want);
            *start = p;
            return FF_OK;
        }
    }
    return FF_ERR_NOMEM;
}

static ff_status sc_free(void *self, ff_pfn start, uint64_t count)
{
    sizeclass *s = self;
    if (count == 0 || count > FF_PFN_LIMIT || start > FF_PFN_LIMIT - count) return FF_ERR_INVALID;
    const ff_run *run = ff_runs_find(&s->ram, start);
    if (!run || count > run->end - start) return FF_ERR_FOREIGN;
    if (any_free(s, start, count)) return FF_ERR_DOUBLE;
    sc_range *r = range_of(s, start);
    ff_pfn block;
    unsigned order;
    if (!r || !block_at(s, r, start, &block, &order) || block != start) return FF_ERR_MISALIGNED;
    unsigned size_class = ff_log2_ceil(count);
    if (size_class == order || size_class == s->asked[idx(r, start)]) {
        give_back(s, r, start, order); /* the whole block */
        return FF_OK;
    }
#ifdef FF_EXAMPLE_BUG
    /* EXAMPLE BUG (FF_EXAMPLE_BUG): a count of a smaller size class is not refused: the
     * order comes from the count and a block of that order is given back, the block's
     * own order unchecked. free(p, 2) of a 4-frame block gives back 2 frames; the other
     * 2 stay out, in no block. */
    if (size_class < order) {
        give_back(s, r, start, size_class);
        return FF_OK;
    }
#endif
    return FF_ERR_WRONG_SIZE;
}

static uint64_t sc_free_frames(const void *self) { return ((const sizeclass *)self)->free_frames; }

/* The blocks partition every range; free ones are listed once, on their order's list,
 * with no free buddy they could have merged with; the counter adds up. */
static const char *sc_check(void *self)
{
    sizeclass *s = self;
    uint64_t free_blocks = 0, free_frames = 0, listed = 0;
    for (size_t i = 0; i < s->nrange; i++) {
        sc_range *r = &s->range[i];
        for (ff_pfn p = r->start; p < r->end;) {
            ff_step(s->env);
            uint8_t h = s->head[idx(r, p)];
            unsigned o = HEAD_ORDER(h);
            if (!h || o > SC_MAX_ORDER) return "a frame lies in no block";
            if ((p & (order_size(o) - 1)) || r->end - p < order_size(o))
                return "a block is not naturally aligned inside its range";
            if (h & HEAD_FREE) {
                ff_pfn buddy = p ^ order_size(o), lo = p < buddy ? p : buddy;
                if (o < SC_MAX_ORDER && lo >= r->start && r->end - lo >= order_size(o + 1) &&
                    s->head[idx(r, buddy)] == h)
                    return "two free buddies were not merged";
                free_blocks++;
                free_frames += order_size(o);
            }
            p += order_size(o);
        }
        for (unsigned o = 0; o <= SC_MAX_ORDER; o++)
            for (ff_pfn p = r->free[o]; p != NIL; p = s->next[idx(r, p)]) {
                ff_step(s->env);
                if (p < r->start || p >= r->end || s->head[idx(r, p)] != (HEAD_FREE | o))
                    return "a free list holds a block that is not free at that order";
                if (++listed > free_blocks) return "the free lists hold more blocks than are free";
            }
    }
    if (listed != free_blocks) return "a free block is on no list";
    return free_frames == s->free_frames ? NULL : "the free counter disagrees with the blocks";
}

const ff_backend_def ff_backend_sizeclass = {
    .name = "sizeclass",
    .summary = "example plug-in: binary buddy to order 18, frees by power-of-two size class",
    .policy =
        {
            .placement = FF_PLACE_POW2_NATURAL,
            .rounding = FF_ROUND_POW2,
            .free_rule = FF_FREE_SIZE_CLASS,
            .max_order = SC_MAX_ORDER,
            .validates_frees = true,
            .honours_zone = true,
            .honours_align = true,
            .needs_backing = false,
            .inband_bytes = 0,
        },
    .create = sc_create,
    .destroy = sc_destroy,
    .alloc = sc_alloc,
    .free = sc_free,
    .free_frames = sc_free_frames,
    .check = sc_check,
};
