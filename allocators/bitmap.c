/*
 * bitmap.c — one bit per frame, next-fit search, every free validated: the shape of
 * SerenityOS's PhysicalRegion bitmaps, Redox rmm or Zephyr's sys_bitarray, without
 * their known bugs (tail bits handed out, word-boundary offsets, a hint left out of
 * range, searches that loop forever under fragmentation).
 *
 * The bits. Bit i stands for frame base + i, where base is the lowest managed pfn and
 * i runs over the span up to the end of the highest range. 1 means free, so zero is
 * "in use" and also "not RAM": holes and the tail of the last word are never set and
 * therefore can never be handed out, and ranges that touch are simply contiguous bits
 * (they are split only at zone boundaries), so a run may cross from one range into the
 * next but never through a hole. Creation sets the bits of the managed ranges only.
 *
 * The summary trees. Two trees of 64-way words sit over the frame words (level 0):
 *   avail  bit = "the word below has a free frame"      -> find the next free frame
 *   full   bit = "the word below is entirely free"      -> find the next used frame
 * Each level is 64 times smaller than the one below, up to a single word, so finding
 * the next free (or used) frame from any point is O(levels) — at most 7 for 2^40
 * frames — whether the memory between is full, empty or a huge hole. Both trees keep
 * zero as their initial state over holes, so only words of RAM are ever touched.
 *
 * Allocation is next-fit: from a hint (the end of the last allocation) up to the
 * request's zone end, then once more from the span's start up to the hint. Each step
 * takes the next free frame, aligns it up, and asks for the first used frame inside
 * the candidate run; none means the run is ours, else the search resumes past that
 * frame. Every candidate start it skips provably cannot work, so if a fitting run
 * exists the lowest one (after the hint) is found.
 *
 * Exact frees. A second bitmap marks the first frame of every allocation (its head);
 * a free must name a head and end where that allocation ends. The checks run first,
 * in the contract's order, and a rejected free changes nothing. Zero means "not a
 * head", so this bitmap is lazily mapped and costs only the words that are used.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend.h"
#include "bugs.h"

#define WORD_SHIFT 6u
#define WORD_BITS  (1u << WORD_SHIFT)
#define ALL_ONES   (~UINT64_C(0))

/* 64^7 = 2^42 bits cover any span below FF_PFN_LIMIT (2^40) with a one-word top. */
#define MAX_LEVELS 8u

/* A summary tree over the frame words. `flip` says what a bit means: with flip 0 a
 * bit is set when the word below has a set bit (the avail tree); with flip ALL_ONES
 * it is set when the word below has every bit set (the full tree). In both cases
 * (word ^ flip) has a one exactly where the search should look. */
typedef struct bit_tree {
    uint64_t flip;
    uint64_t *level[MAX_LEVELS]; /* level[0] is the shared frame bitmap */
} bit_tree;

typedef struct bitmap {
    ff_env *env;
    ff_runs ram; /* managed RAM: the ranges, adjacent ones joined */
    ff_pfn base;    /* lowest managed pfn: bit 0 */
    uint64_t span;  /* bits from base to the end of the last run */
    unsigned nlevels;
    uint64_t nwords[MAX_LEVELS]; /* words per level; level 0 is the frame bitmap */
    uint64_t *frames;            /* 1 = free frame */
    uint64_t *heads;             /* 1 = first frame of an allocation */
    bit_tree avail, full;
    uint64_t free_frames;
    uint64_t hint; /* bit where the next search starts; always < span (0 if empty) */
    char msg[160]; /* check()'s last complaint */

    /* reset: the words changed since create are undone; the fields above that
     * change are copied back whole. */
    ff_undo undo;
    uint64_t pristine_free_frames, pristine_hint;
} bitmap;

/* ---------------------------------------------------------------- small helpers */

static inline uint64_t bit(uint64_t i) { return UINT64_C(1) << (i % WORD_BITS); }
static inline uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static inline uint64_t words_for(uint64_t bits) { return bits / WORD_BITS + (bits % WORD_BITS != 0); }

/* Bits [first, first + n) of a word, for 0 < n <= 64 - first. */
static inline uint64_t word_mask(unsigned first, uint64_t n)
{
    return (n == WORD_BITS ? ALL_ONES : (UINT64_C(1) << n) - 1) << first;
}

static inline bool test_bit(const uint64_t *words, uint64_t i) { return words[i / WORD_BITS] & bit(i); }

/* The summary bit a tree keeps for one word of the level below: "has a set bit"
 * in the avail tree, "has every bit set" in the full tree. */
static inline bool summary_bit(uint64_t child, uint64_t flip)
{
    return ((child ^ flip) != 0) != (flip != 0);
}

/* ---------------------------------------------------------------- summary trees */

/*
 * The first bit i in [from, limit) of level 0 with (word ^ flip) set, or limit.
 * Climbs while the rest of the current word is empty, then descends along the
 * lowest marked bit. A bit j of level k covers the frame bits from j * 64^k; any
 * subtree starting at or past limit is not looked into, which also keeps every
 * index inside its level.
 */
static uint64_t tree_next(const bitmap *b, const bit_tree *t, uint64_t from, uint64_t limit)
{
    if (from >= limit) return limit;
    uint64_t i = from; /* a bit index at level k */
    unsigned k = 0;
    for (;;) {
        ff_step(b->env);
        uint64_t w = i / WORD_BITS;
        uint64_t marked = (t->level[k][w] ^ t->flip) & (ALL_ONES << (i % WORD_BITS));
        if (marked) {
            i = w * WORD_BITS + (uint64_t)__builtin_ctzll(marked);
            break;
        }
        if (k + 1 == b->nlevels) return limit;
        k++;
        i = w + 1;
        if (i << (WORD_SHIFT * k) >= limit) return limit;
    }
    while (k > 0) {
        ff_step(b->env);
        if (i << (WORD_SHIFT * k) >= limit) return limit;
        k--;
        i = i * WORD_BITS + (uint64_t)__builtin_ctzll(t->level[k][i] ^ t->flip);
    }
    return i < limit ? i : limit;
}

/* Word w of level 0 changed: refresh its summary bits, up while anything changes. */
static void tree_update(bitmap *b, const bit_tree *t, uint64_t w)
{
    for (unsigned k = 1; k < b->nlevels; k++) {
        ff_step(b->env);
        uint64_t *word = &t->level[k][w / WORD_BITS];
        uint64_t old = *word;
        uint64_t next = summary_bit(t->level[k - 1][w], t->flip) ? old | bit(w) : old & ~bit(w);
        if (next == old) return;
        ff_undo_save(&b->undo, word, sizeof *word);
        *word = next;
        w /= WORD_BITS;
    }
}

/* ---------------------------------------------------------------- frame bits */

static inline uint64_t next_free(const bitmap *b, uint64_t from, uint64_t limit)
{
    return tree_next(b, &b->avail, from, limit);
}

/* The next frame that is allocated, a hole or past the end. */
static inline uint64_t next_used(const bitmap *b, uint64_t from, uint64_t limit)
{
    return tree_next(b, &b->full, from, limit);
}

/* Marks frame bits [lo, hi) free or used, word by word, keeping both trees current. */
static void mark_frames(bitmap *b, uint64_t lo, uint64_t hi, bool free)
{
    while (lo < hi) {
        ff_step(b->env);
        uint64_t w = lo / WORD_BITS;
        unsigned first = (unsigned)(lo % WORD_BITS);
        uint64_t n = min_u64(hi - lo, WORD_BITS - first);
        uint64_t mask = word_mask(first, n);
        ff_undo_save(&b->undo, &b->frames[w], sizeof b->frames[w]);
        b->frames[w] = free ? b->frames[w] | mask : b->frames[w] & ~mask;
        tree_update(b, &b->avail, w);
        tree_update(b, &b->full, w);
        lo += n;
    }
}

/* The first head bit in [from, limit), or limit. Only used over allocated frames,
 * so a plain word walk is as cheap as the range it validates. */
static uint64_t next_head(const bitmap *b, uint64_t from, uint64_t limit)
{
    while (from < limit) {
        ff_step(b->env);
        uint64_t w = from / WORD_BITS;
        uint64_t marked = b->heads[w] & (ALL_ONES << (from % WORD_BITS));
        if (marked) return min_u64(w * WORD_BITS + (uint64_t)__builtin_ctzll(marked), limit);
        from = (w + 1) * WORD_BITS;
    }
    return limit;
}

/* Set bits of `words` in [lo, hi). */
static uint64_t count_bits(const bitmap *b, const uint64_t *words, uint64_t lo, uint64_t hi)
{
    uint64_t total = 0;
    while (lo < hi) {
        ff_step(b->env);
        unsigned first = (unsigned)(lo % WORD_BITS);
        uint64_t n = min_u64(hi - lo, WORD_BITS - first);
        total += (uint64_t)__builtin_popcountll(words[lo / WORD_BITS] & word_mask(first, n));
        lo += n;
    }
    return total;
}

/* ---------------------------------------------------------------- managed RAM */

/* ---------------------------------------------------------------- create / destroy */

static void bitmap_destroy(void *self)
{
    bitmap *b = self;
    if (!b) return;
    for (unsigned k = 1; k < b->nlevels; k++) {
        ff_host_free(b->avail.level[k], b->nwords[k] * sizeof(uint64_t));
        ff_host_free(b->full.level[k], b->nwords[k] * sizeof(uint64_t));
    }
    ff_host_free(b->frames, b->nwords[0] * sizeof(uint64_t));
    ff_host_free(b->heads, b->nwords[0] * sizeof(uint64_t));
    ff_runs_destroy(&b->ram);
    ff_undo_destroy(&b->undo);
    free(b);
}

/* Sizes every level and allocates it zeroed. False when host memory runs out. */
static bool build_levels(bitmap *b)
{
    b->nwords[0] = b->span ? words_for(b->span) : 1;
    b->nlevels = 1;
    while (b->nwords[b->nlevels - 1] > 1) {
        b->nwords[b->nlevels] = words_for(b->nwords[b->nlevels - 1]);
        b->nlevels++;
    }
    b->frames = ff_host_zalloc(b->nwords[0] * sizeof(uint64_t));
    b->heads = ff_host_zalloc(b->nwords[0] * sizeof(uint64_t));
    b->avail = (bit_tree){.flip = 0, .level = {b->frames}};
    b->full = (bit_tree){.flip = ALL_ONES, .level = {b->frames}};
    bool ok = b->frames && b->heads;
    for (unsigned k = 1; k < b->nlevels; k++) {
        b->avail.level[k] = ff_host_zalloc(b->nwords[k] * sizeof(uint64_t));
        b->full.level[k] = ff_host_zalloc(b->nwords[k] * sizeof(uint64_t));
        ok = ok && b->avail.level[k] && b->full.level[k];
    }
    return ok;
}

static void *bitmap_create(ff_env *env, const ff_range *ranges, size_t nranges)
{
    if (!env || (nranges && !ranges)) return NULL;
    bitmap *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->env = env;
    if (!ff_runs_init(&b->ram, ranges, nranges)) goto fail;
    if (b->ram.count) {
        b->base = b->ram.run[0].start;
        b->span = b->ram.run[b->ram.count - 1].end - b->base;
    }
    if (!build_levels(b)) goto fail;
    for (size_t i = 0; i < b->ram.count; i++) {
        ff_step(env);
        ff_pfn lo = b->ram.run[i].start - b->base, hi = b->ram.run[i].end - b->base;
        /* INJECTED BUG bitmap-tail-bits: the last run is freed, and searched, to its word's end */
        if (FF_BUG(env->bug, BITMAP_TAIL_BITS, i + 1 == b->ram.count && hi % WORD_BITS != 0))
            b->span = hi = words_for(hi) * WORD_BITS;
        mark_frames(b, lo, hi, true);
        b->free_frames += hi - lo;
    }
    /* From here every change is saved, and reset puts this state back. */
    b->pristine_free_frames = b->free_frames;
    b->pristine_hint = b->hint;
    ff_undo_start(&b->undo, b->env);
    return b;
fail:
    bitmap_destroy(b);
    return NULL;
}

static bool bitmap_reset(void *self)
{
    bitmap *b = self;
    if (!ff_undo_rewind(&b->undo)) return false;
    b->free_frames = b->pristine_free_frames;
    b->hint = b->pristine_hint;
    return true;
}

/* ---------------------------------------------------------------- alloc */

/* Frame bit p moved up to the next bit whose pfn is a multiple of align (a power of
 * two). pfn < 2^40 and align <= 2^63, so the sum cannot wrap. */
static inline uint64_t align_up(const bitmap *b, uint64_t p, uint64_t align)
{
    ff_pfn pfn = b->base + p;
    return ((pfn + align - 1) & ~(align - 1)) - b->base;
}

/* The lowest aligned start s in [from, start_limit) whose run [s, s + count) is free
 * and ends by end_limit. Skips only starts that cannot work: those before the next
 * free frame, those before its aligned bit, and those whose run holds a used frame q
 * (every start up to q). */
static bool find_fit(const bitmap *b, uint64_t from, uint64_t start_limit, uint64_t end_limit,
                     uint64_t count, uint64_t align, uint64_t *found)
{
    for (unsigned tried = 0;; tried++) {
        ff_step(b->env);
        uint64_t p = next_free(b, from, start_limit);
        if (p >= start_limit) return false;
        uint64_t s = align_up(b, p, align);
        if (s >= start_limit || count > end_limit - s) return false;
        /* INJECTED BUG bitmap-early-giveup: after a few rejected candidates the search gives up */
        if (FF_BUG(b->env->bug, BITMAP_EARLY_GIVEUP, tried == 2)) return false;
        uint64_t q = next_used(b, s, s + count);
        if (q == s + count) {
            *found = s;
            return true;
        }
        from = q + 1;
    }
}

static ff_status bitmap_alloc(void *self, const ff_alloc_req *req, ff_pfn *start)
{
    bitmap *b = self;
    uint64_t align = req->align > 1 ? req->align : 1;
    if (req->count > FF_PFN_LIMIT || !ff_is_pow2(align) || align > FF_PFN_LIMIT ||
        (unsigned)req->zone >= FF_ZONE_COUNT)
        return FF_ERR_INVALID;
    uint64_t count = req->count;
    /* INJECTED BUG bitmap-alloc-zero: a zero count is read as one frame, as a zero align is */
    if (FF_BUG(b->env->bug, BITMAP_ALLOC_ZERO, count == 0)) count = 1;
    if (count == 0) return FF_ERR_INVALID;
    if (count > b->span) return FF_ERR_NOMEM;
    ff_pfn zone_end = ff_zone_end(req->zone);
    uint64_t limit = zone_end > b->base ? min_u64(zone_end - b->base, b->span) : 0;

    /* Next fit: after the hint first, then the starts before it. */
    uint64_t s;
    if (!find_fit(b, b->hint, limit, limit, count, align, &s) &&
        !find_fit(b, 0, min_u64(b->hint, limit), limit, count, align, &s))
        return FF_ERR_NOMEM;
    /* INJECTED BUG bitmap-word-boundary: a run at the hint straddling two words starts one early */
    if (FF_BUG(b->env->bug, BITMAP_WORD_BOUNDARY,
               s == b->hint && s % WORD_BITS && s % WORD_BITS + count > WORD_BITS))
        s--;

    mark_frames(b, s, s + count, false);
    ff_undo_save(&b->undo, &b->heads[s / WORD_BITS], sizeof b->heads[0]);
    b->heads[s / WORD_BITS] |= bit(s);
    b->free_frames -= count;
    b->hint = s + count < b->span ? s + count : 0;
    *start = b->base + s;
    return FF_OK;
}

/* ---------------------------------------------------------------- free */

static ff_status bitmap_free(void *self, ff_pfn start, uint64_t count)
{
    bitmap *b = self;
    if (count == 0 || start >= FF_PFN_LIMIT || count > FF_PFN_LIMIT - start) return FF_ERR_INVALID;
    const ff_run *run = ff_runs_find(&b->ram, start);
    if (!run || start + count > run->end) return FF_ERR_FOREIGN;

    uint64_t lo = start - b->base, hi = lo + count;
    if (next_free(b, lo, hi) < hi) return FF_ERR_DOUBLE;
    if (!test_bit(b->heads, lo)) return FF_ERR_MISALIGNED;
    if (next_head(b, lo + 1, hi) < hi) return FF_ERR_WRONG_SIZE;
    /* The allocation goes on past the range if the next frame is RAM, in use and
     * not the head of another allocation. */
    bool more_ram = start + count < run->end;
    if (more_ram && !test_bit(b->frames, hi) && !test_bit(b->heads, hi)) return FF_ERR_WRONG_SIZE;

    ff_undo_save(&b->undo, &b->heads[lo / WORD_BITS], sizeof b->heads[0]);
    b->heads[lo / WORD_BITS] &= ~bit(lo);
    mark_frames(b, lo, hi, true);
    /* INJECTED BUG bitmap-hint-drift: a free below the hint moves the hint, not the counter */
    if (FF_BUG(b->env->bug, BITMAP_HINT_DRIFT, lo < b->hint)) b->hint = lo;
    else b->free_frames += count;
    return FF_OK;
}

static uint64_t bitmap_free_frames(const void *self)
{
    const bitmap *b = self;
    return b->free_frames;
}

/* ---------------------------------------------------------------- check */

#define FAIL(...) (snprintf(b->msg, sizeof b->msg, __VA_ARGS__), b->msg)

/* Every summary bit of one tree agrees with the word below it; bits past a level's
 * end are clear. */
static const char *check_tree(bitmap *b, const bit_tree *t, const char *name)
{
    for (unsigned k = 1; k < b->nlevels; k++) {
        for (uint64_t j = 0; j < b->nwords[k]; j++) {
            ff_step(b->env); /* the children's loop has 64 steps at most: none of its own */
            uint64_t expect = 0, last = min_u64((j + 1) * WORD_BITS, b->nwords[k - 1]);
            for (uint64_t child = j * WORD_BITS; child < last; child++)
                expect |= (uint64_t)summary_bit(t->level[k - 1][child], t->flip)
                           << (child % WORD_BITS);
            if (t->level[k][j] != expect)
                return FAIL("%s tree level %u word %" PRIu64 " is 0x%016" PRIx64
                            ", the level below says 0x%016" PRIx64,
                            name, k, j, t->level[k][j], expect);
        }
    }
    return NULL;
}

/* No free bit and no head bit outside managed RAM: in holes or past the end. */
static const char *check_outside(bitmap *b)
{
    uint64_t gap_start = 0;
    for (size_t r = 0; r <= b->ram.count; r++) {
        ff_step(b->env);
        uint64_t gap_end = r < b->ram.count ? b->ram.run[r].start - b->base : b->nwords[0] * WORD_BITS;
        if (count_bits(b, b->frames, gap_start, gap_end))
            return FAIL("free bits set outside managed RAM in pfn [0x%" PRIx64 ", 0x%" PRIx64 ")",
                        b->base + gap_start, b->base + gap_end);
        if (count_bits(b, b->heads, gap_start, gap_end))
            return FAIL("allocation heads outside managed RAM in pfn [0x%" PRIx64 ", 0x%" PRIx64 ")",
                        b->base + gap_start, b->base + gap_end);
        if (r < b->ram.count) gap_start = b->ram.run[r].end - b->base;
    }
    return NULL;
}

static const char *bitmap_check(void *self)
{
    bitmap *b = self;
    if (b->span ? b->hint >= b->span : b->hint != 0)
        return FAIL("hint %" PRIu64 " outside the span of %" PRIu64 " frames", b->hint, b->span);
    /* A step per 64 words; each run of 64 is one branch-free pass. */
    uint64_t popcount = 0;
    for (uint64_t from = 0; from < b->nwords[0]; from += WORD_BITS) {
        ff_step(b->env);
        uint64_t to = min_u64(from + WORD_BITS, b->nwords[0]), bad = 0;
        for (uint64_t w = from; w < to; w++) {
            popcount += (uint64_t)__builtin_popcountll(b->frames[w]);
            bad |= b->heads[w] & b->frames[w];
        }
        for (uint64_t w = from; bad && w < to; w++) {
            uint64_t here = b->heads[w] & b->frames[w];
            if (here)
                return FAIL("free frame 0x%" PRIx64 " is marked as an allocation head",
                            b->base + w * WORD_BITS + (uint64_t)__builtin_ctzll(here));
        }
    }
    if (popcount != b->free_frames)
        return FAIL("bitmap holds %" PRIu64 " free frames but the counter says %" PRIu64, popcount,
                    b->free_frames);
    const char *why = check_outside(b);
    if (!why) why = check_tree(b, &b->avail, "avail");
    if (!why) why = check_tree(b, &b->full, "full");
    return why;
}

#undef FAIL

const ff_backend_def ff_backend_bitmap = {
    .name = "bitmap",
    .summary = "one bit per frame, next-fit over 64-way summary trees, validated frees",
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
    .create = bitmap_create,
    .destroy = bitmap_destroy,
    .alloc = bitmap_alloc,
    .free = bitmap_free,
    .free_frames = bitmap_free_frames,
    .check = bitmap_check,
    .reset = bitmap_reset,
};
