/*
 * buddy.c — a binary buddy allocator in the manner of Linux's mm/page_alloc.c,
 * validating every free.
 *
 * Free memory is kept as naturally aligned power-of-two blocks of order 0..18 (one
 * frame up to 1 GiB). A block of order o at pfn p has its buddy at p ^ 2^o; when both
 * are free they merge into the order o+1 block at p & buddy, unless that would leave
 * the zone or pass the largest order. Merging never crosses a hole: no block in a
 * hole is ever free.
 *
 *   create  cuts every range into maximal aligned chunks (as FreeBSD's
 *           vm_phys_enqueue_contig does) and frees each one, merging as it goes.
 *   alloc   looks in the highest zone the request allows, then the lower ones (the
 *           zonelist fallback), for the smallest order that fits; takes a free block
 *           of that order (the last one freed, as Linux does), splits it down
 *           returning the upper halves, then gives the excess past `count` back
 *           (alloc_pages_exact), so exactly `count` frames are reserved.
 *   free    names one allocation exactly. It is judged first — every rejection
 *           leaves the state untouched — then cut into aligned chunks and merged.
 *
 * Free areas. Each zone has one per order, and numbers that order's blocks over the
 * zone's managed frames widened to whole order-18 blocks. So a block's buddy always
 * has a number — its own with the low bit flipped — and the block one order up has
 * its number halved: split and merge steps do no address arithmetic and no zone test
 * (a buddy outside the zone is never free in this zone's area).
 *
 * An area holds its free blocks in two places:
 *   spare   one free block, kept in the area itself: no per-block state at all;
 *   list    the others, as Linux's free_area: a LIFO list through per-block links,
 *           with a per-block `listed` bit so that "is the buddy free?" is one test.
 * A freed block becomes the spare if there is none, and the spare is taken first. A
 * split fills each order it passes with one block and the merge that undoes it takes
 * that block back: as long as the areas it passes were empty, both only read and
 * write `spare` in the area, one step per order, and touch no per-block memory.
 * A zone's `nonempty` mask has a bit per order with a free block, so the smallest
 * order that fits is one ctz.
 *
 * Per frame, from the lowest managed pfn: the frame count of the allocation starting
 * there, else 0. Which block covers a frame follows from natural alignment: it is one
 * of the 19 aligned blocks that contain it. That answers what Linux's bad_page checks
 * ask (free? first frame of its allocation? right size?) in at most 19 probes, so
 * alloc and free do no per-frame work at all: at most 18 splits or merges, whatever
 * the size.
 *
 * Every per-block and per-frame array is zero when nothing is there and is touched
 * only where blocks are freed, so creating over 1 TiB touches a few pages.
 *
 * The invariant walk (check) asks "is any block listed, or any allocation starting,
 * inside this range?" of ranges as large as a block of order 18. The `listed` bits
 * therefore carry a summary, one bit per non-zero word, and the frame counts one bit
 * per 64 frames holding a non-zero count: a question skips 4,096 blocks or frames per
 * summary word read, and the walk costs O(blocks) plus O(frames / 4,096), not
 * O(frames / 64).
 *
 * The seven buddy bugs of the injected-bug suite (bugs.h) are FF_BUG sites here, each
 * marked INJECTED BUG; all are off unless a run names one.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "bugs.h"

#define BUDDY_MAX_ORDER 18u
#define BUDDY_ORDERS    (BUDDY_MAX_ORDER + 1)
#define BUDDY_MAX_BLOCK (UINT64_C(1) << BUDDY_MAX_ORDER)

/* A block's number in its zone's area of its order (see block_no_of). */
typedef uint64_t block_no;

/* No block: an empty spare, the end of a list. Never a block's number (< 2^40). */
#define NIL UINT64_MAX

typedef struct block_link {
    block_no next, prev;
} block_link;

/* The free blocks of one order in one zone. */
typedef struct free_area {
    block_no spare;    /* a free block off the list, or NIL */
    block_no head;     /* the listed free blocks, last freed first, or NIL */
    uint64_t *listed;  /* per block: set while it is on the list */
    uint64_t *listed_any; /* summary of listed: bit w set while listed word w is not 0 */
    block_link *links; /* per block: its list links while it is listed */
    uint64_t blocks;   /* blocks numbered; even below the largest order */
    ff_undo *undo;     /* where writes to listed and links are saved for reset */
} free_area;

typedef struct buddy {
    ff_env *env;
    ff_runs runs;   /* managed RAM: the ranges, adjacent ones joined; sorted */
    ff_pfn base;    /* lowest managed pfn */
    uint64_t span;  /* frames from base to the end of the last run */

    uint32_t *head_count; /* per frame, from base: count of the allocation starting there;
                           * whole chunks of 64, the last one padded with zeros */
    uint64_t *heads_any;  /* bit c set while a count in frames [64c, 64c + 64) is not 0 */
    free_area area[FF_ZONE_COUNT][BUDDY_ORDERS];
    ff_pfn origin[FF_ZONE_COUNT];     /* the pfn each zone numbers its blocks from */
    uint32_t nonempty[FF_ZONE_COUNT]; /* bit o: that zone's order-o area has a free block */
    uint64_t free_frames;

    uint64_t *listed_words; /* every area's listed bits, in one allocation */
    uint64_t *listed_summary; /* every area's listed_any, in another */
    block_link *link_slots; /* every area's links, in a third */
    uint64_t nlisted_words, nlisted_summary, nlink_slots;
    char msg[160]; /* check()'s last complaint */

    /* reset: the arrays' changes since create are undone; the fields above that
     * change are copied back (of an area, only its spare and list head ever change). */
    ff_undo undo;
    struct { block_no spare, head; } pristine_area[FF_ZONE_COUNT][BUDDY_ORDERS];
    uint32_t pristine_nonempty[FF_ZONE_COUNT];
    uint64_t pristine_free_frames;
} buddy;

/* ---------------------------------------------------------------- small helpers */

static inline uint64_t order_size(unsigned order) { return UINT64_C(1) << order; }
static inline uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static inline uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }
static inline uint64_t round_down(uint64_t x, uint64_t pow2) { return x & ~(pow2 - 1); }
static inline uint64_t bit(block_no i) { return UINT64_C(1) << (i % 64); }

/* Words of a bitmap of n bits. */
static inline uint64_t words_for(uint64_t n) { return (n + 63) / 64; }

/* pfn below base wraps around and fails too. */
static inline bool in_span(const buddy *b, ff_pfn pfn) { return pfn - b->base < b->span; }

static inline uint32_t *head_count_of(const buddy *b, ff_pfn pfn)
{
    return &b->head_count[pfn - b->base];
}

/* ---------------------------------------------------------------- summarised bitmaps */

/* Bit i of `bits` changes; bit i / 64 of `any` follows whether its word is non-zero. */
static inline void summarised_set(ff_undo *u, uint64_t *bits, uint64_t *any, uint64_t i)
{
    uint64_t w = i / 64;
    if (!bits[w]) {
        ff_undo_save(u, &any[w / 64], sizeof any[0]);
        any[w / 64] |= bit(w);
    }
    ff_undo_save(u, &bits[w], sizeof bits[0]);
    bits[w] |= bit(i);
}

static inline void summarised_clear(ff_undo *u, uint64_t *bits, uint64_t *any, uint64_t i)
{
    uint64_t w = i / 64;
    ff_undo_save(u, &bits[w], sizeof bits[0]);
    bits[w] &= ~bit(i);
    if (!bits[w]) {
        ff_undo_save(u, &any[w / 64], sizeof any[0]);
        any[w / 64] &= ~bit(w);
    }
}

/* Word w of a bitmap keeping only bits [from, to] of the whole. */
static inline uint64_t word_within(const uint64_t *bits, uint64_t w, uint64_t from, uint64_t to)
{
    uint64_t word = bits[w];
    if (w == from / 64) word &= ~UINT64_C(0) << (from % 64);
    if (w == to / 64) word &= ~UINT64_C(0) >> (63 - to % 64);
    return word;
}

/* The first word in [from, to] (word numbers, from <= to) that its summary flags, else
 * UINT64_MAX: a step per summary word read. Every search through a summary is this
 * loop, resumed at the word after the last one it returned. */
static uint64_t next_flagged(ff_env *env, const uint64_t *any, uint64_t from, uint64_t to)
{
    for (uint64_t s = from / 64; s <= to / 64; s++) {
        ff_step(env);
        uint64_t flagged = word_within(any, s, from, to);
        if (flagged) return s * 64 + (uint64_t)__builtin_ctzll(flagged);
    }
    return UINT64_MAX;
}

static inline uint64_t flagged_after(ff_env *env, const uint64_t *any, uint64_t w, uint64_t to)
{
    return w < to ? next_flagged(env, any, w + 1, to) : UINT64_MAX;
}

/* The first set bit in [from, to] (from <= to), else UINT64_MAX. */
static uint64_t summarised_first(ff_env *env, const uint64_t *bits, const uint64_t *any,
                                 uint64_t from, uint64_t to)
{
    for (uint64_t w = next_flagged(env, any, from / 64, to / 64); w != UINT64_MAX;
         w = flagged_after(env, any, w, to / 64)) {
        uint64_t word = word_within(bits, w, from, to);
        if (word) return w * 64 + (uint64_t)__builtin_ctzll(word);
    }
    return UINT64_MAX;
}

/* The set bits in words [first, last] (first <= last). */
static uint64_t summarised_count(ff_env *env, const uint64_t *bits, const uint64_t *any,
                                 uint64_t first, uint64_t last)
{
    uint64_t n = 0;
    for (uint64_t w = next_flagged(env, any, first, last); w != UINT64_MAX;
         w = flagged_after(env, any, w, last))
        n += (uint64_t)__builtin_popcountll(bits[w]);
    return n;
}

/* Every write of head_count goes through here, saved for reset with its summary. */
static inline void set_head_count(buddy *b, ff_pfn pfn, uint32_t count)
{
    uint64_t i = pfn - b->base, chunk = i / 64;
    ff_undo_save(&b->undo, &b->head_count[i], sizeof b->head_count[0]);
    b->head_count[i] = count;
    const uint32_t *counts = &b->head_count[chunk * 64];
    uint32_t any = count;
    if (!any)
        for (unsigned k = 0; k < 64; k++) any |= counts[k];
    uint64_t *summary = &b->heads_any[chunk / 64];
    uint64_t now = any ? *summary | bit(chunk) : *summary & ~bit(chunk);
    if (now != *summary) {
        ff_undo_save(&b->undo, summary, sizeof *summary);
        *summary = now;
    }
}

static inline ff_pfn zone_start(ff_zone zone)
{
    return zone == FF_ZONE_DMA ? 0 : ff_zone_end((ff_zone)(zone - 1));
}

/* Largest order of an aligned chunk at pfn that fits in `room` frames (room > 0). */
static inline unsigned chunk_order(ff_pfn pfn, uint64_t room)
{
    unsigned order = ff_log2(room);
    if (pfn && (unsigned)__builtin_ctzll(pfn) < order) order = (unsigned)__builtin_ctzll(pfn);
    return order < BUDDY_MAX_ORDER ? order : BUDDY_MAX_ORDER;
}

/* The number of the order-`order` block at pfn in its zone's area. Below the zone's
 * origin it wraps past the area's blocks. */
static inline block_no block_no_of(const buddy *b, ff_zone zone, ff_pfn pfn, unsigned order)
{
    return (pfn - b->origin[zone]) >> order;
}

static inline ff_pfn block_pfn(const buddy *b, ff_zone zone, block_no i, unsigned order)
{
    return b->origin[zone] + (i << order);
}

/* ---------------------------------------------------------------- free areas */

/* For block numbers below a->blocks, like every one split and merge meet. */
static inline bool is_listed(const free_area *a, block_no i)
{
    return (a->listed[i / 64] >> (i % 64)) & 1;
}

static inline bool holds(const free_area *a, block_no i)
{
    return i == a->spare || is_listed(a, i);
}

/* Is the order-`order` block at pfn free? Any pfn. */
static inline bool is_free(const buddy *b, ff_pfn pfn, unsigned order)
{
    ff_zone zone = ff_zone_of(pfn);
    const free_area *a = &b->area[zone][order];
    block_no i = block_no_of(b, zone, pfn, order);
    return i < a->blocks && holds(a, i);
}

static inline void list_push(free_area *a, block_no i)
{
    summarised_set(a->undo, a->listed, a->listed_any, i);
    ff_undo_save(a->undo, &a->links[i], sizeof a->links[i]);
    a->links[i] = (block_link){.next = a->head, .prev = NIL};
    if (a->head != NIL) {
        ff_undo_save(a->undo, &a->links[a->head].prev, sizeof a->links[0].prev);
        a->links[a->head].prev = i;
    }
    a->head = i;
}

static inline void list_del(free_area *a, block_no i)
{
    summarised_clear(a->undo, a->listed, a->listed_any, i);
    block_link l = a->links[i];
    if (l.prev != NIL) {
        ff_undo_save(a->undo, &a->links[l.prev].next, sizeof l.next);
        a->links[l.prev].next = l.next;
    } else {
        a->head = l.next;
    }
    if (l.next != NIL) {
        ff_undo_save(a->undo, &a->links[l.next].prev, sizeof l.prev);
        a->links[l.next].prev = l.prev;
    }
}

/* Block i turns free: the spare if there is none, else the head of the list. The
 * caller marks the order non-empty. */
static inline void area_add(free_area *a, block_no i)
{
    if (a->spare == NIL)
        a->spare = i;
    else
        list_push(a, i);
}

/* Free block i is taken. Returns `order_bit` if that left the area empty (for the
 * zone's mask), else 0. */
static inline uint32_t area_take(free_area *a, block_no i, uint32_t order_bit)
{
    if (i == a->spare)
        a->spare = NIL;
    else
        list_del(a, i);
    return a->spare == NIL && a->head == NIL ? order_bit : 0;
}

/* ---------------------------------------------------------------- what injected bugs ask */

/* What the sites of injected bugs (bugs.h) ask; only ever run while a bug is switched
 * on. Where a buggy path frees or merges more than it should, they also keep it inside
 * the per-frame array and the areas' numbered blocks. */

/* Is the aligned order-`order` block at pfn one of the zone's area's numbered blocks? */
static inline bool in_area(const buddy *b, ff_zone zone, ff_pfn pfn, unsigned order)
{
    return block_no_of(b, zone, pfn, order) < b->area[zone][order].blocks;
}

/* Is block i of a zone's order-`order` area inside the span, yet without RAM? */
static bool is_hole(const buddy *b, ff_zone zone, block_no i, unsigned order)
{
    ff_pfn lo = block_pfn(b, zone, i, order), hi = lo + order_size(order);
    if (!in_span(b, lo) || hi - b->base > b->span) return false;
    size_t l = 0, h = b->runs.count; /* the first run that ends past lo */
    while (l < h) {
        ff_step(b->env);
        size_t m = l + (h - l) / 2;
        if (b->runs.run[m].end <= lo)
            l = m + 1;
        else
            h = m;
    }
    return l == b->runs.count || b->runs.run[l].start >= hi;
}

/* Do the frames the free path would release for [start, +count) (a power of two as
 * one aligned block) lie in the span and in one zone's numbered blocks? */
static bool frees_inside(const buddy *b, ff_pfn start, uint64_t count)
{
    bool block = ff_is_pow2(count);
    if (block && count > BUDDY_MAX_BLOCK) return false;
    ff_pfn lo = block ? round_down(start, count) : start, last = lo + count - 1;
    ff_zone zone = ff_zone_of(lo);
    return in_span(b, lo) && in_span(b, last) && ff_zone_of(last) == zone &&
           in_area(b, zone, lo, 0) && in_area(b, zone, last, 0);
}

/* Is the aligned block of the free's own order at start (2^ceil(log2(count)) frames)
 * free only inside a larger free block, so that its own order's area does not hold it? */
static bool merged_away(const buddy *b, ff_pfn start, uint64_t count)
{
    if (count > BUDDY_MAX_BLOCK) return false;
    unsigned order = ff_log2_ceil(count);
    if (start & (order_size(order) - 1)) return false;
    for (unsigned o = order + 1; o <= BUDDY_MAX_ORDER; o++) {
        ff_step(b->env);
        if (is_free(b, round_down(start, order_size(o)), o)) return true;
    }
    return false;
}

/* ---------------------------------------------------------------- split and merge */

/* __free_one_page: frees one aligned block into a zone's areas, merging with its free
 * buddy for as long as it can. Below the largest order an area has an even number of
 * blocks, so the buddy's number is one of the area's too. */
static inline void free_block(buddy *b, ff_zone zone, ff_pfn pfn, unsigned order)
{
    ff_env *env = b->env;
    free_area *a = &b->area[zone][order], *largest = &b->area[zone][BUDDY_MAX_ORDER];
    block_no i = block_no_of(b, zone, pfn, order);
    uint32_t order_bit = 1u << order, emptied = 0;
    for (; a < largest; a++, i /= 2, order_bit <<= 1) {
        ff_step(env);
        if (holds(a, i ^ 1))
            emptied |= area_take(a, i ^ 1, order_bit);
        /* INJECTED BUG buddy-hole-merge: a buddy with no RAM in it is merged as if free */
        else if (!FF_BUG(env->bug, BUDDY_HOLE_MERGE,
                         is_hole(b, zone, i ^ 1, (unsigned)(a - b->area[zone]))))
            break;
    }
    /* INJECTED BUG buddy-max-order-lost: a block merged up to the largest order is not listed */
    if (FF_BUG(env->bug, BUDDY_MAX_ORDER_LOST, a == largest && order < BUDDY_MAX_ORDER))
        order_bit = 0;
    else
        area_add(a, i);
    b->nonempty[zone] = (b->nonempty[zone] & ~emptied) | order_bit;
}

/* Frees the frames [start, end) as maximal aligned chunks, each merged in its own
 * zone. Chunks stop at zone ends so that none straddles one. */
static void free_run(buddy *b, ff_pfn start, ff_pfn end)
{
    const ff_pfn from = start;
    while (start < end) {
        ff_step(b->env);
        ff_zone zone = ff_zone_of(start);
        ff_pfn stop = min_u64(end, ff_zone_end(zone));
        unsigned order = chunk_order(start, stop - start);
        /* INJECTED BUG buddy-zone-merge: every chunk joins, and merges in, the run's first zone */
        if (FF_BUG(b->env->bug, BUDDY_ZONE_MERGE,
                   zone != ff_zone_of(from) && in_area(b, ff_zone_of(from), start, order)))
            zone = ff_zone_of(from);
        free_block(b, zone, start, order);
        start += order_size(order);
    }
}

/* Takes a free block of a zone's order, which must have one, and splits it down to
 * order `want`, the upper halves going back (expand()). Returns its first frame. */
static inline ff_pfn take_block(buddy *b, ff_zone zone, unsigned order, unsigned want)
{
    ff_env *env = b->env;
    free_area *a = &b->area[zone][order], *smallest = &b->area[zone][want];
    block_no i = a->spare != NIL ? a->spare : a->head;
    ff_pfn pfn = block_pfn(b, zone, i, order);
    uint32_t emptied = area_take(a, i, 1u << order);
    uint32_t halves = (uint32_t)(order_size(order) - order_size(want));
    b->nonempty[zone] = (b->nonempty[zone] & ~emptied) | halves;
    while (a > smallest) {
        ff_step(env);
        a--;
        i *= 2;
        area_add(a, i + 1);
    }
    return pfn;
}

/* ---------------------------------------------------------------- what covers a frame */

/* Is all of [start, end) managed RAM? (start < end) */
static bool is_managed(const buddy *b, ff_pfn start, ff_pfn end)
{
    const ff_run *run = ff_runs_find(&b->runs, start);
    return run && end <= run->end;
}

/* The allocation holding managed frame pfn: false when pfn is free. Every block is
 * naturally aligned, so the one holding pfn starts at pfn rounded down to some order. */
static bool find_allocation(const buddy *b, ff_pfn pfn, ff_pfn *start, uint64_t *count)
{
    for (unsigned order = 0; order <= BUDDY_MAX_ORDER; order++) {
        ff_step(b->env);
        ff_pfn at = round_down(pfn, order_size(order));
        if (!in_span(b, at)) break; /* and so is every larger order's */
        if (is_free(b, at, order)) return false;
        uint32_t n = *head_count_of(b, at);
        if (n > pfn - at) {
            *start = at;
            *count = n;
            return true;
        }
    }
    return false; /* covered by nothing: only a corrupted state gets here; call it free */
}

/* ---------------------------------------------------------------- create / destroy */

static void buddy_destroy(void *self)
{
    buddy *b = self;
    if (!b) return;
    ff_host_free(b->listed_words, b->nlisted_words * sizeof *b->listed_words);
    ff_host_free(b->listed_summary, b->nlisted_summary * sizeof *b->listed_summary);
    ff_host_free(b->link_slots, b->nlink_slots * sizeof *b->link_slots);
    ff_host_free(b->head_count, 64 * words_for(b->span) * sizeof *b->head_count);
    ff_host_free(b->heads_any, words_for(words_for(b->span)) * sizeof *b->heads_any);
    ff_runs_destroy(&b->runs);
    ff_undo_destroy(&b->undo);
    free(b);
}

/* The managed frames of a zone widened to whole order-18 blocks: [*lo, *hi), empty
 * when the zone has no RAM. */
static void zone_cover(buddy *b, ff_zone zone, ff_pfn *lo, ff_pfn *hi)
{
    *lo = UINT64_MAX;
    *hi = 0;
    for (size_t r = 0; r < b->runs.count; r++) {
        ff_step(b->env);
        ff_pfn start = max_u64(b->runs.run[r].start, zone_start(zone));
        ff_pfn end = min_u64(b->runs.run[r].end, ff_zone_end(zone));
        if (start >= end) continue;
        *lo = min_u64(*lo, round_down(start, BUDDY_MAX_BLOCK));
        *hi = max_u64(*hi, round_down(end + BUDDY_MAX_BLOCK - 1, BUDDY_MAX_BLOCK));
    }
}

/* Numbers every zone's blocks and sizes its areas. */
static void size_areas(buddy *b)
{
    for (unsigned z = 0; z < FF_ZONE_COUNT; z++) {
        ff_pfn lo, hi;
        zone_cover(b, (ff_zone)z, &lo, &hi);
        b->origin[z] = lo;
        for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++) {
            ff_step(b->env);
            free_area *a = &b->area[z][o];
            a->spare = a->head = NIL;
            a->blocks = lo < hi ? (hi - lo) >> o : 0;
            b->nlisted_words += words_for(a->blocks);
            b->nlisted_summary += words_for(words_for(a->blocks));
            b->nlink_slots += a->blocks;
        }
    }
}

/* Points every area into the shared allocations of listed bits, summaries and links. */
static void place_areas(buddy *b)
{
    uint64_t *listed = b->listed_words, *summary = b->listed_summary;
    block_link *links = b->link_slots;
    for (unsigned z = 0; z < FF_ZONE_COUNT; z++) {
        for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++) {
            ff_step(b->env);
            free_area *a = &b->area[z][o];
            a->listed = listed;
            a->listed_any = summary;
            a->links = links;
            a->undo = &b->undo; /* saving is off until create is done */
            listed += words_for(a->blocks);
            summary += words_for(words_for(a->blocks));
            links += a->blocks;
        }
    }
}

/* Every area's spare and list head, the only fields of an area that change after
 * create: saved as pristine at create, or put back from it at reset. */
static void copy_area_ends(buddy *b, bool back)
{
    for (unsigned z = 0; z < FF_ZONE_COUNT; z++)
        for (unsigned o = 0; o < BUDDY_ORDERS; o++) {
            free_area *a = &b->area[z][o];
            if (back) {
                a->spare = b->pristine_area[z][o].spare;
                a->head = b->pristine_area[z][o].head;
            } else {
                b->pristine_area[z][o].spare = a->spare;
                b->pristine_area[z][o].head = a->head;
            }
        }
}

static void *buddy_create(ff_env *env, const ff_range *ranges, size_t nranges)
{
    if (!env || (nranges && !ranges)) return NULL;
    buddy *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->env = env;
    /* Unsorted, overlapping or out-of-limit ranges cannot be managed. */
    if (!ff_runs_init(&b->runs, ranges, nranges)) goto fail;
    if (b->runs.count) {
        b->base = b->runs.run[0].start;
        b->span = b->runs.run[b->runs.count - 1].end - b->base;
    }
    size_areas(b);
    b->listed_words = ff_host_zalloc(b->nlisted_words * sizeof *b->listed_words);
    b->link_slots = ff_host_zalloc(b->nlink_slots * sizeof *b->link_slots);
    b->listed_summary = ff_host_zalloc(b->nlisted_summary * sizeof *b->listed_summary);
    b->head_count = ff_host_zalloc(64 * words_for(b->span) * sizeof *b->head_count);
    b->heads_any = ff_host_zalloc(words_for(words_for(b->span)) * sizeof *b->heads_any);
    if (!b->listed_words || !b->listed_summary || !b->link_slots || !b->head_count ||
        !b->heads_any)
        goto fail;
    place_areas(b);
    for (size_t i = 0; i < b->runs.count; i++) {
        ff_step(env);
        free_run(b, b->runs.run[i].start, b->runs.run[i].end);
    }
    b->free_frames = b->runs.frames;
    /* From here every change is saved, and reset puts this state back. */
    copy_area_ends(b, false);
    memcpy(b->pristine_nonempty, b->nonempty, sizeof b->nonempty);
    b->pristine_free_frames = b->free_frames;
    ff_undo_start(&b->undo, b->env);
    return b;
fail:
    buddy_destroy(b);
    return NULL;
}

static bool buddy_reset(void *self)
{
    buddy *b = self;
    if (!ff_undo_rewind(&b->undo)) return false;
    copy_area_ends(b, true);
    memcpy(b->nonempty, b->pristine_nonempty, sizeof b->nonempty);
    b->free_frames = b->pristine_free_frames;
    return true;
}

/* ---------------------------------------------------------------- alloc / free */

static ff_status buddy_alloc(void *self, const ff_alloc_req *req, ff_pfn *start)
{
    buddy *b = self;
    /* An align of 0 or 1 asks for none; 0 passes the power-of-two test as it is. */
    if (req->count == 0 || (req->align & (req->align - 1)) || (unsigned)req->zone >= FF_ZONE_COUNT)
        return FF_ERR_INVALID;
    uint64_t need = max_u64(req->count, req->align);
    if (need > BUDDY_MAX_BLOCK) return FF_ERR_INVALID;
    unsigned want = ff_log2_ceil(need);

    /* The highest allowed zone first, then down: lower zones are scarcer. */
    for (int z = (int)req->zone; z >= 0; z--) {
        ff_step(b->env);
        uint32_t fits = b->nonempty[z] >> want << want;
        if (!fits) continue;
        ff_pfn pfn = take_block(b, (ff_zone)z, (unsigned)__builtin_ctz(fits), want);
        set_head_count(b, pfn, (uint32_t)req->count);
        /* INJECTED BUG buddy-rounding-leak: the excess past count is never given back */
        if (!FF_BUG(b->env->bug, BUDDY_ROUNDING_LEAK, req->count < order_size(want)) &&
            req->count < order_size(want))
            free_run(b, pfn + req->count, pfn + order_size(want));
        b->free_frames -= req->count;
        *start = pfn;
        return FF_OK;
    }
    return FF_ERR_NOMEM;
}

/* Why [start, end), not one allocation, cannot be freed (FF_OK only where an injected
 * bug lets it through). FOREIGN wins over every other verdict; managed frames are
 * walked allocation by allocation: any free frame makes it a double free. */
static ff_status judge_free(const buddy *b, ff_pfn start, ff_pfn end)
{
    if (!is_managed(b, start, end))
        /* INJECTED BUG buddy-foreign-free: a range in the span is freed, never asked if RAM */
        return FF_BUG(b->env->bug, BUDDY_FOREIGN_FREE, frees_inside(b, start, end - start))
                   ? FF_OK
                   : FF_ERR_FOREIGN;
    ff_pfn at;
    uint64_t count;
    if (!find_allocation(b, start, &at, &count))
        /* INJECTED BUG buddy-double-free-merged: the block's own order alone is asked if free */
        return FF_BUG(b->env->bug, BUDDY_DOUBLE_FREE_MERGED, merged_away(b, start, end - start))
                   ? FF_OK
                   : FF_ERR_DOUBLE;
    ff_status verdict = at == start ? FF_ERR_WRONG_SIZE : FF_ERR_MISALIGNED;
    /* INJECTED BUG buddy-misaligned-merge: any free inside one allocation passes */
    if (FF_BUG(b->env->bug, BUDDY_MISALIGNED_MERGE, at != start && end <= at + count))
        return FF_OK;
    for (ff_pfn pfn = at + count; pfn < end; pfn = at + count) {
        ff_step(b->env);
        if (!find_allocation(b, pfn, &at, &count)) return FF_ERR_DOUBLE;
    }
    return verdict;
}

static ff_status buddy_free(void *self, ff_pfn start, uint64_t count)
{
    buddy *b = self;
    if (count == 0 || start >= FF_PFN_LIMIT || count > FF_PFN_LIMIT - start)
        return FF_ERR_INVALID;
    ff_pfn end = start + count;
    /* Naming an allocation exactly proves the frames managed; any other free is judged. */
    if (!in_span(b, start) || *head_count_of(b, start) != count) {
        ff_status why = judge_free(b, start, end);
        if (why != FF_OK) return why;
    }
    set_head_count(b, start, 0);
    b->free_frames += count;
    if (ff_is_pow2(count))
        free_block(b, ff_zone_of(start), start, ff_log2(count)); /* a whole aligned block */
    else
        free_run(b, start, end);
    return FF_OK;
}

static uint64_t buddy_free_frames(const void *self)
{
    const buddy *b = self;
    return b->free_frames;
}

/* ---------------------------------------------------------------- check */

#define FAIL(...) (snprintf(b->msg, sizeof b->msg, __VA_ARGS__), b->msg)

/* One free block of a zone's area: where it lies and its buddy. */
static const char *check_free_block(buddy *b, ff_zone zone, block_no i, unsigned order)
{
    uint64_t size = order_size(order);
    ff_pfn pfn = block_pfn(b, zone, i, order);
    const ff_run *run = ff_runs_find(&b->runs, pfn);
    if (!run || size > run->end - pfn)
        return FAIL("order-%u block at pfn 0x%" PRIx64 " not inside managed RAM", order, pfn);
    if (ff_zone_of(pfn) != zone || ff_zone_of(pfn + size - 1) != zone)
        return FAIL("order-%u block at pfn 0x%" PRIx64 " in the %s area is not all in that zone",
                    order, pfn, ff_zone_name(zone));
    if (order < BUDDY_MAX_ORDER && holds(&b->area[zone][order], i ^ 1))
        return FAIL("order-%u blocks at pfn 0x%" PRIx64 " and 0x%" PRIx64
                    " are free buddies left unmerged", order, pfn, pfn ^ size);
    return NULL;
}

/* One area: the zone's mask says whether it has a free block, the spare is a block
 * off the list, the list is sound and holds exactly the blocks marked listed. Counts
 * the area's free blocks. */
static const char *check_area(buddy *b, ff_zone zone, unsigned order, uint64_t *blocks)
{
    const free_area *a = &b->area[zone][order];
    const char *name = ff_zone_name(zone), *why;
    bool marked = (b->nonempty[zone] >> order) & 1;
    if (marked != (a->spare != NIL || a->head != NIL))
        return FAIL("%s order-%u area: non-empty mark %d disagrees with it", name, order, marked);
    if (a->spare != NIL) {
        if (a->spare >= a->blocks || is_listed(a, a->spare))
            return FAIL("%s order-%u area: spare %" PRIu64 " is not a block off the list", name,
                        order, a->spare);
        if ((why = check_free_block(b, zone, a->spare, order))) return why;
        *blocks += 1;
    }
    /* A wrong prev link also catches a cycle, where it closes. */
    uint64_t listed = 0;
    block_no prev = NIL;
    for (block_no i = a->head; i != NIL; prev = i, i = a->links[i].next) {
        ff_step(b->env);
        if (i >= a->blocks || !is_listed(a, i))
            return FAIL("%s order-%u list holds %" PRIu64 ", not a listed block", name, order, i);
        if (a->links[i].prev != prev)
            return FAIL("%s order-%u list: block %" PRIu64 " has a broken prev link", name, order,
                        i);
        if ((why = check_free_block(b, zone, i, order))) return why;
        listed++;
    }
    /* Every block on the list is marked: as many marks as blocks makes them the same.
     * The summary makes counting the whole area cost a read per 4,096 blocks. */
    uint64_t marks =
        a->blocks ? summarised_count(b->env, a->listed, a->listed_any, 0, (a->blocks - 1) / 64) : 0;
    if (a->blocks % 64 && (a->listed[a->blocks / 64] >> (a->blocks % 64)))
        return FAIL("%s order-%u area: listed bits past its last block", name, order);
    if (marks != listed)
        return FAIL("%s order-%u area: %" PRIu64 " blocks marked listed but %" PRIu64
                    " on the list", name, order, marks, listed);
    *blocks += listed;
    return NULL;
}

/* How many orders mark a free block starting at pfn (one at most, if sound); the
 * last such order goes to *order. */
static unsigned free_blocks_at(const buddy *b, ff_pfn pfn, unsigned *order)
{
    unsigned n = 0;
    for (unsigned o = 0; o <= BUDDY_MAX_ORDER && !(pfn & (order_size(o) - 1)); o++) {
        ff_step(b->env);
        if (is_free(b, pfn, o)) {
            n++;
            *order = o;
        }
    }
    return n;
}

/* Does a free block of this order start in [from, to) (managed frames of one zone)?
 * Checks the spare, then the listed bits through their summary. */
static bool any_free_block_in(const buddy *b, unsigned order, ff_pfn from, ff_pfn to)
{
    ff_zone zone = ff_zone_of(from);
    const free_area *a = &b->area[zone][order];
    ff_pfn first = round_down(from + order_size(order) - 1, order_size(order));
    if (first >= to) return false;
    block_no lo = block_no_of(b, zone, first, order), last = block_no_of(b, zone, to - 1, order);
    if (a->spare != NIL && a->spare - lo <= last - lo) return true;
    return summarised_first(b->env, a->listed, a->listed_any, lo, last) != UINT64_MAX;
}

/* The first frame of [from, to) that heads an allocation, or to. Only the chunks of 64
 * frames the summary flags are read. */
static ff_pfn first_head_in(buddy *b, ff_pfn from, ff_pfn to)
{
    if (from >= to) return to;
    uint64_t lo = from - b->base, hi = to - 1 - b->base;
    for (uint64_t chunk = next_flagged(b->env, b->heads_any, lo / 64, hi / 64);
         chunk != UINT64_MAX; chunk = flagged_after(b->env, b->heads_any, chunk, hi / 64))
        for (uint64_t i = max_u64(chunk * 64, lo); i <= min_u64(chunk * 64 + 63, hi); i++)
            if (b->head_count[i]) return b->base + i;
    return to;
}

/* Walks every managed frame: each belongs to exactly one free block or allocation.
 * Counts the free blocks and free frames met. With `inner`, also asks of each block
 * whether a free block of a smaller order lies inside it (see buddy_check). */
static const char *check_frames(buddy *b, bool inner, uint64_t *free_blocks,
                                uint64_t *free_frames)
{
    for (size_t r = 0; r < b->runs.count; r++) {
        ff_pfn end = b->runs.run[r].end;
        for (ff_pfn pfn = b->runs.run[r].start; pfn < end;) {
            ff_step(b->env);
            uint64_t count = *head_count_of(b, pfn), size = count;
            unsigned order = 0, free_here = free_blocks_at(b, pfn, &order);
            if (free_here + (count != 0) > 1)
                return FAIL("frame 0x%" PRIx64 " starts more than one block", pfn);
            if (free_here) {
                size = order_size(order);
                *free_blocks += 1;
                *free_frames += size;
            } else if (!count) {
                return FAIL("frame 0x%" PRIx64 " is in no free block and no allocation", pfn);
            } else if (count > BUDDY_MAX_BLOCK || (pfn & (order_size(ff_log2_ceil(count)) - 1))) {
                return FAIL("allocation of %" PRIu64 " frames at pfn 0x%" PRIx64
                            " is not a buddy block", count, pfn);
            }
            if (size > end - pfn || ff_zone_of(pfn) != ff_zone_of(pfn + size - 1))
                return FAIL("block at pfn 0x%" PRIx64 " leaves its managed range or zone", pfn);
            /* Nothing else may start inside. Only smaller orders can: it is aligned. */
            ff_pfn inside = first_head_in(b, pfn + 1, pfn + size);
            if (inside < pfn + size)
                return FAIL("allocation at pfn 0x%" PRIx64 " lies inside the block at 0x%"
                            PRIx64, inside, pfn);
            for (unsigned o = 0; inner && order_size(o) < size; o++) {
                ff_step(b->env);
                if (any_free_block_in(b, o, pfn + 1, pfn + size))
                    return FAIL("a free order-%u block lies inside the block at 0x%" PRIx64, o,
                                pfn);
            }
            pfn += size;
        }
    }
    return NULL;
}

static const char *buddy_check(void *self)
{
    buddy *b = self;
    uint64_t held = 0, met = 0, frames = 0;
    for (unsigned z = 0; z < FF_ZONE_COUNT; z++) {
        if (b->nonempty[z] >> BUDDY_ORDERS)
            return FAIL("%s non-empty mask marks orders past the largest",
                        ff_zone_name((ff_zone)z));
        for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++) {
            ff_step(b->env);
            const char *why = check_area(b, (ff_zone)z, o, &held);
            if (why) return why;
        }
    }
    /* A free block inside another is never met by the walk, so when the walk holds and
     * meets as many free blocks as the areas hold, there is none: the questions about
     * each block's inside, most of the walk's cost, are asked only to name the first
     * fault the way the whole walk does. */
    const char *why = check_frames(b, false, &met, &frames);
    if (why || met != held) {
        met = frames = 0;
        if ((why = check_frames(b, true, &met, &frames))) return why;
    }
    /* The walk meets every free block in RAM and every held block lies in RAM: equal
     * counts make the areas and the frames agree. */
    if (met != held)
        return FAIL("the frame walk meets %" PRIu64 " free blocks but the areas hold %" PRIu64,
                    met, held);
    if (frames != b->free_frames)
        return FAIL("free blocks hold %" PRIu64 " frames but the counter says %" PRIu64, frames,
                    b->free_frames);
    return NULL;
}

#undef FAIL

const ff_backend_def ff_backend_buddy = {
    .name = "buddy",
    .summary = "Linux-style binary buddy, orders 0..18, per-zone free areas, validated frees",
    .policy =
        {
            .placement = FF_PLACE_POW2_NATURAL,
            .rounding = FF_ROUND_NONE,
            .free_rule = FF_FREE_EXACT,
            .max_order = BUDDY_MAX_ORDER,
            .validates_frees = true,
            .honours_zone = true,
            .honours_align = true,
            .needs_backing = false,
            .inband_bytes = 0,
        },
    .create = buddy_create,
    .destroy = buddy_destroy,
    .alloc = buddy_alloc,
    .free = buddy_free,
    .free_frames = buddy_free_frames,
    .check = buddy_check,
    .reset = buddy_reset,
};
