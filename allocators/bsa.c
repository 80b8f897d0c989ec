/*
 * bsa.c — KNOWN-BUGGY REFERENCE TARGET: a faithful C model of the Rust crate
 * buddy_system_allocator v0.10, `FrameAllocator<32>`, as Asterinas used it in 2024
 * (ostd's page allocator, the allocator behind Asterinas issue #1760). Its flaws are
 * reproduced on purpose, never fixed: this back-end exists so that framefuzz can show
 * it finds them. Do not repair anything here: fixes belong in the validating back-ends.
 *
 * The crate's model, which this file follows step by step:
 *   free_list[c], c = 0..ORDER-1: an ordered set (a BTreeSet) of the first frames of
 *             the free blocks of 2^c frames. A frame number is all a block is: there is
 *             no per-frame state, so nothing can tell a free frame from a used one.
 *   total, allocated: usize counters. Release builds wrap, so they are uint64_t here
 *             and every drift shows as a huge number instead of undefined behaviour.
 *   add_frame(start, end)   cuts [start, end) into aligned power-of-two blocks, capped at
 *             class ORDER-1, inserting each; total += size. No merging, no overlap check.
 *   alloc(n) / alloc_aligned(size, align)
 *             size = max(next_power_of_two(n), align); find the smallest class with a
 *             block, split its lowest block down (both halves go to the class below and
 *             the lowest is split again), pop the lowest block of the wanted class;
 *             allocated += size. None when nothing fits.
 *   dealloc(start, n)       size = next_power_of_two(n); while the buddy start ^ 2^c is
 *             in the set, take it out and merge; insert where the merging stops;
 *             allocated -= size. It checks nothing at all.
 * ORDER is 32 (Asterinas wrote `FrameAllocator::<32>::new()`), so classes 0..31 exist:
 * the largest block is 2^31 frames (8 TiB).
 *
 * The flaws, named where their code paths run:
 *   F1 foreign free: dealloc of frames never added is accepted; they are handed out.
 *   F2 free of a frame that is already free inside a larger block (the #1760 core), or
 *      a double free after its buddy merged: the frame becomes free twice and is handed
 *      out twice.
 *   F3 double free of a frame whose buddy is in use: the set ignores the duplicate,
 *      but `allocated` drops again (and underflows).
 *   F4 misaligned free: dealloc(1,2) + dealloc(3,2) merge into a 4-frame block at
 *      frame 1, and alloc(4) returns it.
 *   F5 max-order merge: a merge that makes a block of class ORDER leaves the loop
 *      without inserting it, so the whole block is lost (a free of 2^ORDER frames or
 *      more is dropped the same way). With ORDER = 32 a legitimate free gets there only
 *      when two 8 TiB buddies are managed (frames at 2^32 and up); any wild free of
 *      2^31 frames next to a free 8 TiB block gets there too.
 *   F6 alloc(0) takes a real frame: next_power_of_two(0) = 1.
 *   F7 dealloc(x, 0) frees frame x and decrements `allocated`.
 *   F8 rounding leak: alloc(3) reserves 4 frames; freeing the 3 frames asked for
 *      returns 3, and the fourth is never free again. Likewise the alignment excess of
 *      alloc_aligned, which only dealloc_aligned (not reachable through free) returns.
 *   F9 add_frame: frame 0 counts as aligned to 32 only (lowbit(0) = 32), and blocks are
 *      never merged, so RAM starting at frame 0 holds free buddies left unmerged and no
 *      block larger than 32 frames at frame 0 exists until frees merge one; ranges are
 *      not checked against each other, so overlapping ranges make overlapping blocks.
 *   F10 free_frames = total - allocated, in wrapping arithmetic: after F3 or F7 it can
 *      exceed the RAM there is; after F5 it counts frames that are in no list.
 *
 * The one deviation: a count above 2^63 makes Rust's next_power_of_two overflow (a
 * panic in debug builds; release builds get 0, so alloc fails and dealloc does
 * nothing); here alloc and free answer FF_ERR_INVALID and change nothing.
 * Mapping the crate's None: a class >= ORDER has no free list at all, so such a
 * request is FF_ERR_INVALID; an empty search is FF_ERR_NOMEM. The crate has no zones:
 * a zone-limited request is FF_ERR_UNSUPPORTED.
 *
 * Sets are sorted arrays kept from high to low, so the lowest block (what alloc takes)
 * is the last element and popping it is O(1); a lookup is a binary search. Splits only
 * insert into empty sets and frees mostly insert near the low end, so the usual
 * insertion moves few elements. check() is extra: it walks the sets and reports the
 * damage the flaws leave (overlapping or misaligned blocks, blocks outside the RAM
 * given at create, unmerged buddies, counters that disagree with the sets).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#define BSA_ORDER     32u             /* FrameAllocator<32>: classes 0..31 */
#define BSA_MAX_CLASS (BSA_ORDER - 1)
#define BSA_POW2_MAX  (UINT64_C(1) << 63) /* largest count next_power_of_two can round */

/* An ordered set of block start frames, sorted from high to low. */
typedef struct bsa_set {
    uint64_t *key;
    size_t len, cap;
    /* reset: len goes back to pristine_len, so only keys below it are saved before a
     * write; key and cap keep what later inputs grew them to, which nothing sees. */
    size_t pristine_len;
    ff_undo *undo;
} bsa_set;

typedef struct bsa {
    ff_env *env;
    bsa_set free_list[BSA_ORDER];
    uint64_t total;     /* frames ever added (usize, wrapping) */
    uint64_t allocated; /* frames handed out minus frames freed (usize, wrapping) */
    ff_range *ram;      /* the ranges given at create, sorted and joined: check() only */
    size_t nram;
    char msg[160];      /* check()'s last complaint */
    ff_undo undo;       /* reset: the keys' changes since create */
    uint64_t pristine_allocated;
} bsa;

/* ---------------------------------------------------------------- small helpers */

static inline uint64_t class_size(unsigned class) { return UINT64_C(1) << class; }
static inline unsigned class_of(uint64_t pow2) { return (unsigned)__builtin_ctzll(pow2); }
static inline uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* Rust's usize::next_power_of_two for x <= 2^63; note 0 -> 1. */
static inline uint64_t next_pow2(uint64_t x) { return UINT64_C(1) << ff_log2_ceil(x); }

/* Rust's prev_power_of_two helper of the crate, x > 0. */
static inline uint64_t prev_pow2(uint64_t x) { return UINT64_C(1) << ff_log2(x); }

/* ---------------------------------------------------------------- ordered sets */

/* Number of keys greater than `key`: where it is, or where it would go. */
static size_t set_rank(ff_env *env, const bsa_set *s, uint64_t key)
{
    size_t lo = 0, hi = s->len;
    while (lo < hi) {
        ff_step(env);
        size_t mid = lo + (hi - lo) / 2;
        if (s->key[mid] > key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool set_contains(ff_env *env, const bsa_set *s, uint64_t key)
{
    size_t pos = set_rank(env, s, key);
    return pos < s->len && s->key[pos] == key;
}

/* Saves keys [from, to) before they change. Keys at or past pristine_len are never read
 * after a reset, so they cost nothing: a split's inserts into a set empty at create are
 * never saved (nor is anything before create is done, when pristine_len is still 0). */
static inline void save_keys(bsa_set *s, size_t from, size_t to)
{
    if (to > s->pristine_len) to = s->pristine_len;
    for (size_t i = from; i < to; i += 2)
        ff_undo_save(s->undo, &s->key[i], (to - i > 1 ? 2 : 1) * sizeof *s->key);
}

/* A set's keys move from `was` (`bytes` long) to `now`: saves made into the old buffer
 * follow them. Takes no steps: whether a set outgrows its buffer depends on earlier
 * inputs, and the answers must not. */
static void rebase_saves(ff_undo *u, const uint64_t *was, size_t bytes, uint64_t *now)
{
    for (size_t i = 0; i < u->count; i++) {
        uintptr_t off = (uintptr_t)u->log[i].at - (uintptr_t)was;
        if (off < bytes) u->log[i].at = (unsigned char *)now + off;
    }
}

/* BTreeSet::insert: a key already present is ignored. If host memory runs out the key
 * is dropped (lost like F5's blocks); the model has no way to report it. */
static void set_insert(ff_env *env, bsa_set *s, uint64_t key)
{
    size_t pos = set_rank(env, s, key);
    if (pos < s->len && s->key[pos] == key) return;
    if (s->len == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        /* Not realloc: the saves are moved while the old keys are still there. */
        uint64_t *grown = malloc(cap * sizeof *grown);
        if (!grown) return;
        if (s->len) memcpy(grown, s->key, s->len * sizeof *grown);
        if (s->pristine_len) rebase_saves(s->undo, s->key, s->cap * sizeof *grown, grown);
        free(s->key);
        s->key = grown;
        s->cap = cap;
    }
    save_keys(s, pos, s->len + 1);
    memmove(&s->key[pos + 1], &s->key[pos], (s->len - pos) * sizeof *s->key);
    s->key[pos] = key;
    s->len++;
}

/* BTreeSet::remove: true if the key was there. */
static bool set_remove(ff_env *env, bsa_set *s, uint64_t key)
{
    size_t pos = set_rank(env, s, key);
    if (pos == s->len || s->key[pos] != key) return false;
    s->len--;
    save_keys(s, pos, s->len);
    memmove(&s->key[pos], &s->key[pos + 1], (s->len - pos) * sizeof *s->key);
    return true;
}

/* iter().next() then remove: the lowest key. The set must not be empty. */
static inline uint64_t set_pop_lowest(bsa_set *s) { return s->key[--s->len]; }

/* ---------------------------------------------------------------- the crate's algorithm */

static void add_frame(bsa *b, ff_pfn start, ff_pfn end)
{
    for (ff_pfn at = start; at < end;) {
        ff_step(b->env);
        /* F9: frame 0 is taken as aligned to 32 frames only. */
        uint64_t lowbit = at ? at & (~at + 1) : 32;
        uint64_t size = min_u64(min_u64(lowbit, prev_pow2(end - at)), class_size(BSA_MAX_CLASS));
        b->total += size;
        /* F9: inserted as is, never merged with a neighbour or checked for overlap. */
        set_insert(b->env, &b->free_list[class_of(size)], at);
        at += size;
    }
}

static ff_status alloc_power_of_two(bsa *b, uint64_t size, ff_pfn *start)
{
    unsigned class = class_of(size);
    for (unsigned i = class; i < BSA_ORDER; i++) {
        ff_step(b->env);
        if (b->free_list[i].len == 0) continue;
        /* Split down to the class wanted. Each round the crate takes the lowest block
         * of the class again rather than the half it just made: the two differ only
         * when a misaligned block's upper half wrapped past 2^64. */
        for (unsigned j = i; j > class; j--) {
            ff_step(b->env);
            if (b->free_list[j].len == 0) return FF_ERR_NOMEM;
            uint64_t block = set_pop_lowest(&b->free_list[j]);
            set_insert(b->env, &b->free_list[j - 1], block + class_size(j - 1));
            set_insert(b->env, &b->free_list[j - 1], block);
        }
        if (b->free_list[class].len == 0) return FF_ERR_NOMEM;
        /* F2: a frame free twice (in a small block and inside a large one) can be
         * popped here twice, once from each. */
        *start = set_pop_lowest(&b->free_list[class]);
        b->allocated += size;
        return FF_OK;
    }
    return FF_ERR_NOMEM;
}

/* F1-F5, F7: nothing about the block is checked — not that it was added, handed out,
 * aligned, or not already free. */
static void dealloc_power_of_two(bsa *b, ff_pfn start, uint64_t size)
{
    ff_pfn block = start;
    for (unsigned class = class_of(size); class < BSA_ORDER; class++) {
        ff_step(b->env);
        ff_pfn buddy = block ^ class_size(class);
        if (!set_remove(b->env, &b->free_list[class], buddy)) {
            /* F3: inserting a block already in the set changes nothing. */
            set_insert(b->env, &b->free_list[class], block);
            break;
        }
        /* F4: a misaligned block merges just as well, into a misaligned block. */
        block = min_u64(block, buddy);
    }
    /* F5: when the merging reaches class ORDER the loop simply ends: the block is in no
     * list, lost for good (so is any free of 2^ORDER frames or more). */
    /* F3, F7, F10: the counter drops whatever happened above, and wraps below zero. */
    b->allocated -= size;
}

/* ---------------------------------------------------------------- create / destroy */

static void bsa_destroy(void *self)
{
    bsa *b = self;
    if (!b) return;
    for (unsigned c = 0; c < BSA_ORDER; c++) free(b->free_list[c].key);
    free(b->ram);
    ff_undo_destroy(&b->undo);
    free(b);
}

/* Keeps the union of the ranges, sorted and joined, for check(). The crate keeps
 * nothing of the kind; ranges arrive sorted, so the insertion sort is one pass. */
static bool record_ram(bsa *b, const ff_range *ranges, size_t nranges)
{
    b->ram = calloc(nranges ? nranges : 1, sizeof *b->ram);
    if (!b->ram) return false;
    for (size_t i = 0; i < nranges; i++) {
        ff_step(b->env);
        if (ranges[i].count == 0) continue;
        size_t at = b->nram++;
        for (; at > 0 && b->ram[at - 1].start > ranges[i].start; at--) {
            ff_step(b->env);
            b->ram[at] = b->ram[at - 1];
        }
        b->ram[at] = ranges[i];
    }
    size_t joined = 0;
    for (size_t i = 0; i < b->nram; i++) {
        ff_step(b->env);
        ff_range *last = joined ? &b->ram[joined - 1] : NULL;
        if (last && b->ram[i].start <= ff_range_end(*last)) {
            ff_pfn end = ff_range_end(b->ram[i]);
            if (end > ff_range_end(*last)) last->count = end - last->start;
        } else {
            b->ram[joined++] = b->ram[i];
        }
    }
    b->nram = joined;
    return true;
}

static void *bsa_create(ff_env *env, const ff_range *ranges, size_t nranges)
{
    if (!env || (nranges && !ranges)) return NULL;
    /* add_frame would take anything; ranges past the pfn limit are refused so that
     * the number of blocks (at least one per 2^31 frames) stays small. */
    for (size_t i = 0; i < nranges; i++)
        if (ranges[i].count &&
            (ranges[i].start >= FF_PFN_LIMIT || ranges[i].count > FF_PFN_LIMIT - ranges[i].start))
            return NULL;
    bsa *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->env = env;
    if (!record_ram(b, ranges, nranges)) {
        bsa_destroy(b);
        return NULL;
    }
    /* Asterinas called add_frame once per usable region, in order. */
    for (size_t i = 0; i < nranges; i++) {
        ff_step(env);
        add_frame(b, ranges[i].start, ff_range_end(ranges[i]));
    }
    /* From here every change is saved, and reset puts this state back. */
    for (unsigned c = 0; c < BSA_ORDER; c++) {
        ff_step(env);
        b->free_list[c].pristine_len = b->free_list[c].len;
        b->free_list[c].undo = &b->undo;
    }
    b->pristine_allocated = b->allocated;
    ff_undo_start(&b->undo, b->env);
    return b;
}

static bool bsa_reset(void *self)
{
    bsa *b = self;
    if (!ff_undo_rewind(&b->undo)) return false;
    for (unsigned c = 0; c < BSA_ORDER; c++) b->free_list[c].len = b->free_list[c].pristine_len;
    b->allocated = b->pristine_allocated;
    return true;
}

/* ---------------------------------------------------------------- alloc / free */

static ff_status bsa_alloc(void *self, const ff_alloc_req *req, ff_pfn *start)
{
    bsa *b = self;
    uint64_t align = req->align > 1 ? req->align : 1;
    if (!ff_is_pow2(align) || (unsigned)req->zone >= FF_ZONE_COUNT) return FF_ERR_INVALID;
    if (req->zone != FF_ZONE_NORMAL) return FF_ERR_UNSUPPORTED; /* the crate has no zones */
    if (req->count > BSA_POW2_MAX) return FF_ERR_INVALID;        /* the one deviation */
    /* F6: count 0 rounds to one frame. alloc_aligned reserves the alignment too. */
    uint64_t size = next_pow2(req->count);
    if (align > size) size = align;
    if (class_of(size) >= BSA_ORDER) return FF_ERR_INVALID; /* no such free list */
    return alloc_power_of_two(b, size, start);
}

static ff_status bsa_free(void *self, ff_pfn start, uint64_t count)
{
    bsa *b = self;
    if (count > BSA_POW2_MAX) return FF_ERR_INVALID; /* the one deviation */
    /* F7: count 0 frees one frame. F8: the rounding excess of a piecewise-freed
     * allocation is never named, so it never comes back. */
    dealloc_power_of_two(b, start, next_pow2(count));
    return FF_OK; /* F1-F4: every free is accepted */
}

/* F10: wrapping subtraction, exactly as the crate's statistics would report. */
static uint64_t bsa_free_frames(const void *self)
{
    const bsa *b = self;
    return b->total - b->allocated;
}

/* ---------------------------------------------------------------- check */

#define FAIL(...) (snprintf(b->msg, sizeof b->msg, __VA_ARGS__), b->msg)

/* Does [pfn, pfn + size) lie inside one joined range given at create? */
static bool inside_ram(const bsa *b, ff_pfn pfn, uint64_t size)
{
    size_t lo = 0, hi = b->nram; /* the last range starting at or below pfn */
    while (lo < hi) {
        ff_step(b->env);
        size_t mid = lo + (hi - lo) / 2;
        if (b->ram[mid].start <= pfn)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0) return false;
    const ff_range *r = &b->ram[lo - 1];
    return pfn - r->start < r->count && size <= r->count - (pfn - r->start);
}

/* Every block on its own: aligned to its class (F4) and inside RAM (F1). */
static const char *check_blocks(bsa *b, uint64_t *free_sum)
{
    for (unsigned c = 0; c < BSA_ORDER; c++) {
        const bsa_set *s = &b->free_list[c];
        for (size_t i = 0; i < s->len; i++) {
            ff_step(b->env);
            ff_pfn pfn = s->key[i];
            if (pfn & (class_size(c) - 1))
                return FAIL("class-%u block at pfn 0x%" PRIx64 " is not aligned to its class", c,
                            pfn);
            if (!inside_ram(b, pfn, class_size(c)))
                return FAIL("class-%u block at pfn 0x%" PRIx64
                            " lies outside the RAM given at create", c, pfn);
            *free_sum += class_size(c);
        }
    }
    return NULL;
}

/* All blocks in address order (a merge of the sets, each walked from its low end):
 * each must start past the end of every block before it (F2, F7, F9). Blocks are
 * inside RAM by now, so no end wraps. */
static const char *check_overlaps(bsa *b)
{
    size_t next[BSA_ORDER]; /* per set: how many keys are still to visit */
    for (unsigned c = 0; c < BSA_ORDER; c++) next[c] = b->free_list[c].len;
    ff_pfn far_end = 0, far_start = 0;
    unsigned far_class = 0;
    bool any = false;
    for (;;) {
        ff_step(b->env);
        unsigned low = BSA_ORDER;
        for (unsigned c = 0; c < BSA_ORDER; c++) {
            if (next[c] && (low == BSA_ORDER || b->free_list[c].key[next[c] - 1] <
                                                    b->free_list[low].key[next[low] - 1]))
                low = c;
        }
        if (low == BSA_ORDER) return NULL;
        ff_pfn pfn = b->free_list[low].key[--next[low]];
        if (any && pfn < far_end)
            return FAIL("free class-%u block at pfn 0x%" PRIx64
                        " overlaps the class-%u block at pfn 0x%" PRIx64,
                        low, pfn, far_class, far_start);
        if (!any || pfn + class_size(low) > far_end) {
            far_end = pfn + class_size(low);
            far_start = pfn;
            far_class = low;
        }
        any = true;
    }
}

/* Two free buddies below the largest class should have merged (F9). */
static const char *check_buddies(bsa *b)
{
    for (unsigned c = 0; c < BSA_MAX_CLASS; c++) {
        const bsa_set *s = &b->free_list[c];
        for (size_t i = 0; i < s->len; i++) {
            ff_step(b->env);
            ff_pfn buddy = s->key[i] ^ class_size(c);
            if (buddy > s->key[i] && set_contains(b->env, s, buddy))
                return FAIL("class-%u blocks at pfn 0x%" PRIx64 " and 0x%" PRIx64
                            " are free buddies left unmerged",
                            c, s->key[i], buddy);
        }
    }
    return NULL;
}

static const char *bsa_check(void *self)
{
    bsa *b = self;
    uint64_t free_sum = 0;
    const char *why = check_blocks(b, &free_sum);
    if (!why) why = check_overlaps(b);
    if (!why) why = check_buddies(b);
    if (why) return why;
    /* F3, F5, F7, F10: the counters against what the sets hold. */
    if (free_sum != b->total - b->allocated)
        return FAIL("the free lists hold %" PRIu64 " frames but total - allocated = %" PRIu64
                    " (total %" PRIu64 ", allocated %" PRIu64 ")",
                    free_sum, b->total - b->allocated, b->total, b->allocated);
    return NULL;
}

#undef FAIL

const ff_backend_def ff_backend_bsa = {
    .name = "bsa",
    .summary = "KNOWN-BUGGY reference: faithful model of buddy_system_allocator v0.10 "
               "FrameAllocator<32> (Asterinas 2024, issue #1760)",
    .policy =
        {
            .placement = FF_PLACE_POW2_NATURAL,
            .rounding = FF_ROUND_POW2,
            .free_rule = FF_FREE_PIECEWISE,
            .max_order = BSA_MAX_CLASS,
            .validates_frees = false,
            .honours_zone = false,
            .honours_align = true, /* alloc_aligned(Layout) */
            .needs_backing = false,
            .inband_bytes = 0,
        },
    .create = bsa_create,
    .destroy = bsa_destroy,
    .alloc = bsa_alloc,
    .free = bsa_free,
    .free_frames = bsa_free_frames,
    .check = bsa_check,
    .reset = bsa_reset,
};
