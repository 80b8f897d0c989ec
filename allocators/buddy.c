/*
 * buddy.c — a binary buddy allocator in the manner of Linux's mm/page_alloc.c,
 * validating every free.
 *
 * Free memory is kept as naturally aligned power-of-two blocks of order 0..18 (one
 * frame up to 1 GiB). Each zone (DMA, DMA32, Normal) has one free area per order: a
 * doubly linked list of free blocks. A block of order o at pfn p has its buddy at
 * p ^ 2^o; when both are free they merge into the order o+1 block at p & buddy,
 * unless that would leave the zone or pass the largest order. Merging never crosses a
 * hole: no block in a hole is ever free.
 *
 *   create  cuts every range into maximal aligned chunks (as FreeBSD's
 *           vm_phys_enqueue_contig does) and frees each one, merging as it goes.
 *   alloc   looks in the highest zone the request allows, then the lower ones (the
 *           zonelist fallback), for the smallest order that fits; takes the head of
 *           that list (LIFO), splits it down returning the upper halves, then gives the
 *           excess past `count` back (alloc_pages_exact), so exactly `count` frames
 *           are reserved.
 *   free    names one allocation exactly. It is judged first — every rejection
 *           leaves the state untouched — then cut into aligned chunks and merged.
 *
 * State, all out of band and zero when nothing is there:
 *   per block   every order has its own numbering of the aligned blocks over the
 *               managed span (widened to whole 1 GiB blocks); a bit says "this block is
 *               free and listed", a link pair (block numbers) chains it into its free
 *               area. A listed block is aligned by construction. Same-order blocks sit
 *               side by side, so creating over 1 TiB touches a few pages, not one per
 *               chunk.
 *   per frame   the frame count of the allocation starting there, else 0.
 * Which block covers a frame follows from natural alignment: it is one of the 19
 * aligned blocks that contain it. That answers what Linux's bad_page checks ask (free?
 * first frame of its allocation? right size?) in at most 19 probes, so alloc and free
 * do no per-frame work at all: at most 18 splits or merges, whatever the size.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend.h"

#define BUDDY_MAX_ORDER 18u
#define BUDDY_ORDERS    (BUDDY_MAX_ORDER + 1)
#define BUDDY_MAX_BLOCK (UINT64_C(1) << BUDDY_MAX_ORDER)

/* A block's number in the per-block arrays (see first_block). */
typedef uint64_t block_id;

/* End of a list; never a block number, as there are fewer than 2^42. */
#define NIL UINT64_MAX

typedef struct buddy_link {
    block_id next, prev;
} buddy_link;

typedef struct buddy {
    ff_env *env;
    ff_range *runs; /* managed RAM: the ranges, adjacent ones joined; sorted */
    size_t nruns;
    ff_pfn base;    /* lowest managed pfn */
    uint64_t span;  /* frames from base to the end of the last run */

    /* Blocks are numbered over [origin, top): the span widened to whole order-18 blocks,
     * so the buddy of any block there is there too. Order o's come first_block[o] on. */
    ff_pfn origin, top;
    uint64_t first_block[BUDDY_ORDERS], total_blocks;
    uint64_t *free_bits;  /* per block: free and listed */
    buddy_link *links;    /* per block: its free-area links (while free) */
    uint32_t *head_count; /* per frame, from base: count of the allocation starting there */

    block_id head[FF_ZONE_COUNT][BUDDY_ORDERS]; /* free areas: first block or NIL */
    uint32_t nonempty[FF_ZONE_COUNT];           /* bit o: that zone's order-o list has a block */
    uint64_t free_frames;
    char msg[160]; /* check()'s last complaint */
} buddy;

/* ---------------------------------------------------------------- small helpers */

static inline uint64_t order_size(unsigned order) { return UINT64_C(1) << order; }
static inline uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* pfn below base wraps around and fails too. */
static inline bool in_span(const buddy *b, ff_pfn pfn) { return pfn - b->base < b->span; }

static inline uint32_t *head_count_of(const buddy *b, ff_pfn pfn)
{
    return &b->head_count[pfn - b->base];
}

/* The order-`order` block holding pfn, a managed frame or its buddy. */
static inline block_id block_of(const buddy *b, ff_pfn pfn, unsigned order)
{
    return b->first_block[order] + ((pfn - b->origin) >> order);
}

/* The first frame of an order-`order` block: aligned by construction. */
static inline ff_pfn block_pfn(const buddy *b, block_id id, unsigned order)
{
    return b->origin + ((id - b->first_block[order]) << order);
}

static inline bool is_free(const buddy *b, block_id id)
{
    return (b->free_bits[id / 64] >> (id % 64)) & 1;
}

static inline void mark_free(buddy *b, block_id id, bool free)
{
    uint64_t bit = UINT64_C(1) << (id % 64);
    if (free)
        b->free_bits[id / 64] |= bit;
    else
        b->free_bits[id / 64] &= ~bit;
}

/* Largest order of an aligned chunk at pfn that fits in `room` frames (room > 0). */
static inline unsigned chunk_order(ff_pfn pfn, uint64_t room)
{
    unsigned order = ff_log2(room);
    if (pfn && (unsigned)__builtin_ctzll(pfn) < order) order = (unsigned)__builtin_ctzll(pfn);
    return order < BUDDY_MAX_ORDER ? order : BUDDY_MAX_ORDER;
}

/* ---------------------------------------------------------------- free areas */

static inline void list_add(buddy *b, block_id id, ff_zone zone, unsigned order)
{
    block_id *head = &b->head[zone][order];
    b->links[id] = (buddy_link){.next = *head, .prev = NIL};
    if (*head != NIL) b->links[*head].prev = id;
    *head = id;
    b->nonempty[zone] |= 1u << order;
    mark_free(b, id, true);
}

static inline void list_del(buddy *b, block_id id, ff_zone zone, unsigned order)
{
    block_id *head = &b->head[zone][order];
    buddy_link l = b->links[id];
    if (l.prev != NIL)
        b->links[l.prev].next = l.next;
    else
        *head = l.next;
    if (l.next != NIL) b->links[l.next].prev = l.prev;
    if (*head == NIL) b->nonempty[zone] &= ~(1u << order);
    mark_free(b, id, false);
}

/* __free_one_page: frees one aligned block, merging with free buddies of the same
 * zone for as long as it can. */
static inline void free_block(buddy *b, ff_pfn pfn, unsigned order)
{
    ff_zone zone = ff_zone_of(pfn);
    while (order < BUDDY_MAX_ORDER) {
        ff_step(b->env);
        ff_pfn buddy_pfn = pfn ^ order_size(order);
        if (ff_zone_of(buddy_pfn) != zone) break;
        block_id buddy_id = block_of(b, buddy_pfn, order);
        if (!is_free(b, buddy_id)) break;
        list_del(b, buddy_id, zone, order);
        pfn &= buddy_pfn;
        order++;
    }
    list_add(b, block_of(b, pfn, order), zone, order);
}

/* Frees the frames [start, end) as maximal aligned chunks, each merged. Chunks stop
 * at zone ends so that none straddles one. */
static void free_run(buddy *b, ff_pfn start, ff_pfn end)
{
    while (start < end) {
        ff_step(b->env);
        ff_pfn stop = min_u64(end, ff_zone_end(ff_zone_of(start)));
        unsigned order = chunk_order(start, stop - start);
        free_block(b, start, order);
        start += order_size(order);
    }
}

/* ---------------------------------------------------------------- what covers a frame */

/* The run holding pfn, or NULL. */
static const ff_range *find_run(const buddy *b, ff_pfn pfn)
{
    size_t lo = 0, hi = b->nruns; /* finds the last run starting at or below pfn */
    while (lo < hi) {
        ff_step(b->env);
        size_t mid = lo + (hi - lo) / 2;
        if (b->runs[mid].start <= pfn)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0) return NULL;
    const ff_range *run = &b->runs[lo - 1];
    return pfn < ff_range_end(*run) ? run : NULL;
}

/* Is all of [start, end) managed RAM? (start < end) */
static bool is_managed(const buddy *b, ff_pfn start, ff_pfn end)
{
    const ff_range *run = find_run(b, start);
    return run && end <= ff_range_end(*run);
}

/* The allocation holding managed frame pfn: false when pfn is free. Every block is
 * naturally aligned, so the one holding pfn starts at pfn rounded down to some order. */
static bool find_allocation(const buddy *b, ff_pfn pfn, ff_pfn *start, uint64_t *count)
{
    for (unsigned order = 0; order <= BUDDY_MAX_ORDER; order++) {
        ff_step(b->env);
        ff_pfn at = pfn & ~(order_size(order) - 1);
        if (!in_span(b, at)) break; /* and so is every larger order's */
        if (is_free(b, block_of(b, at, order))) return false;
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
    ff_host_free(b->free_bits, (b->total_blocks + 63) / 64 * sizeof *b->free_bits);
    ff_host_free(b->links, b->total_blocks * sizeof *b->links);
    ff_host_free(b->head_count, b->span * sizeof *b->head_count);
    free(b->runs);
    free(b);
}

/* Copies the ranges into runs, joining adjacent ones. False if they are not sorted
 * and disjoint or pass the pfn limit: such a list cannot be managed. */
static bool build_runs(buddy *b, const ff_range *ranges, size_t nranges)
{
    b->runs = calloc(nranges ? nranges : 1, sizeof *b->runs);
    if (!b->runs) return false;
    for (size_t i = 0; i < nranges; i++) {
        ff_step(b->env);
        ff_range r = ranges[i];
        if (r.count == 0) continue;
        if (r.start >= FF_PFN_LIMIT || r.count > FF_PFN_LIMIT - r.start) return false;
        ff_range *last = b->nruns ? &b->runs[b->nruns - 1] : NULL;
        if (last && r.start < ff_range_end(*last)) return false;
        if (last && r.start == ff_range_end(*last))
            last->count += r.count;
        else
            b->runs[b->nruns++] = r;
    }
    return true;
}

/* Numbers every order's blocks over [origin, top). */
static void number_blocks(buddy *b)
{
    b->origin = b->base & ~(BUDDY_MAX_BLOCK - 1);
    b->top = (b->base + b->span + BUDDY_MAX_BLOCK - 1) & ~(BUDDY_MAX_BLOCK - 1);
    for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++) {
        ff_step(b->env);
        b->first_block[o] = b->total_blocks;
        b->total_blocks += (b->top - b->origin) >> o;
    }
}

static void *buddy_create(ff_env *env, const ff_range *ranges, size_t nranges)
{
    if (!env || (nranges && !ranges)) return NULL;
    buddy *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->env = env;
    if (!build_runs(b, ranges, nranges)) goto fail;
    if (b->nruns) {
        b->base = b->runs[0].start;
        b->span = ff_range_end(b->runs[b->nruns - 1]) - b->base;
    }
    number_blocks(b);
    b->free_bits = ff_host_zalloc((b->total_blocks + 63) / 64 * sizeof *b->free_bits);
    b->links = ff_host_zalloc(b->total_blocks * sizeof *b->links);
    b->head_count = ff_host_zalloc(b->span * sizeof *b->head_count);
    if (!b->free_bits || !b->links || !b->head_count) goto fail;
    for (unsigned z = 0; z < FF_ZONE_COUNT; z++)
        for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++) b->head[z][o] = NIL;
    for (size_t i = 0; i < b->nruns; i++) {
        ff_step(env);
        free_run(b, b->runs[i].start, ff_range_end(b->runs[i]));
        b->free_frames += b->runs[i].count;
    }
    return b;
fail:
    buddy_destroy(b);
    return NULL;
}

/* ---------------------------------------------------------------- alloc / free */

static ff_status buddy_alloc(void *self, const ff_alloc_req *req, ff_pfn *start)
{
    buddy *b = self;
    uint64_t align = req->align > 1 ? req->align : 1;
    if (req->count == 0 || !ff_is_pow2(align) || (unsigned)req->zone >= FF_ZONE_COUNT)
        return FF_ERR_INVALID;
    uint64_t need = req->count > align ? req->count : align;
    if (need > BUDDY_MAX_BLOCK) return FF_ERR_INVALID;
    unsigned want = ff_log2_ceil(need);

    /* The highest allowed zone first, then down: lower zones are scarcer. */
    for (int z = (int)req->zone; z >= 0; z--) {
        ff_step(b->env);
        uint32_t fits = b->nonempty[z] >> want << want;
        if (!fits) continue;
        ff_zone zone = (ff_zone)z;
        unsigned order = (unsigned)__builtin_ctz(fits);
        block_id id = b->head[zone][order];
        ff_pfn pfn = block_pfn(b, id, order);
        list_del(b, id, zone, order);
        while (order > want) { /* expand(): the upper halves go back */
            ff_step(b->env);
            order--;
            list_add(b, block_of(b, pfn + order_size(order), order), zone, order);
        }
        *head_count_of(b, pfn) = (uint32_t)req->count;
        free_run(b, pfn + req->count, pfn + order_size(want));
        b->free_frames -= req->count;
        *start = pfn;
        return FF_OK;
    }
    return FF_ERR_NOMEM;
}

/* Why [start, end), managed but not one allocation, cannot be freed. Walks it
 * allocation by allocation: any free frame makes it a double free. */
static ff_status diagnose_free(const buddy *b, ff_pfn start, ff_pfn end)
{
    ff_pfn at;
    uint64_t count;
    if (!find_allocation(b, start, &at, &count)) return FF_ERR_DOUBLE;
    ff_status verdict = at == start ? FF_ERR_WRONG_SIZE : FF_ERR_MISALIGNED;
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
    if (!is_managed(b, start, end)) return FF_ERR_FOREIGN;
    uint32_t *head_count = head_count_of(b, start);
    if (*head_count != count) return diagnose_free(b, start, end);

    *head_count = 0;
    b->free_frames += count;
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

/* One listed block of zone/order: where it lies, its bit, its buddy. */
static const char *check_free_block(buddy *b, block_id id, ff_zone zone, unsigned order)
{
    uint64_t size = order_size(order);
    ff_pfn pfn = block_pfn(b, id, order);
    const ff_range *run = find_run(b, pfn);
    if (!run || size > ff_range_end(*run) - pfn)
        return FAIL("order-%u block at pfn 0x%" PRIx64 " not inside managed RAM", order, pfn);
    if (ff_zone_of(pfn) != zone || ff_zone_of(pfn + size - 1) != zone)
        return FAIL("order-%u block at pfn 0x%" PRIx64 " on the %s list is not all in that zone",
                    order, pfn, ff_zone_name(zone));
    if (!is_free(b, id))
        return FAIL("order-%u block at pfn 0x%" PRIx64 " listed but not marked free", order, pfn);
    ff_pfn buddy_pfn = pfn ^ size;
    if (order < BUDDY_MAX_ORDER && is_free(b, block_of(b, buddy_pfn, order)) &&
        ff_zone_of(buddy_pfn) == zone)
        return FAIL("order-%u blocks at pfn 0x%" PRIx64 " and 0x%" PRIx64
                    " are free buddies left unmerged", order, pfn, buddy_pfn);
    return NULL;
}

/* Walks every free list; counts blocks and frames. */
static const char *check_lists(buddy *b, uint64_t *blocks, uint64_t *frames)
{
    for (unsigned z = 0; z < FF_ZONE_COUNT; z++) {
        for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++) {
            ff_step(b->env);
            bool marked = (b->nonempty[z] >> o) & 1;
            if (marked != (b->head[z][o] != NIL))
                return FAIL("%s order-%u list: non-empty mark %d disagrees with the list",
                            ff_zone_name((ff_zone)z), o, marked);
            /* A wrong prev link also catches a cycle, where it closes. */
            block_id prev = NIL;
            for (block_id id = b->head[z][o]; id != NIL; prev = id, id = b->links[id].next) {
                ff_step(b->env);
                if (id - b->first_block[o] >= (b->top - b->origin) >> o)
                    return FAIL("%s order-%u list holds block %" PRIu64 ", not one of that order",
                                ff_zone_name((ff_zone)z), o, id);
                if (b->links[id].prev != prev)
                    return FAIL("order-%u block at pfn 0x%" PRIx64 " has a broken prev link", o,
                                block_pfn(b, id, o));
                const char *why = check_free_block(b, id, (ff_zone)z, o);
                if (why) return why;
                *blocks += 1;
                *frames += order_size(o);
            }
        }
    }
    return NULL;
}

/* How many orders mark a free block starting at pfn (one at most, if sound); the
 * last such order goes to *order. */
static unsigned free_blocks_at(const buddy *b, ff_pfn pfn, unsigned *order)
{
    unsigned n = 0;
    for (unsigned o = 0; o <= BUDDY_MAX_ORDER && !(pfn & (order_size(o) - 1)); o++) {
        ff_step(b->env);
        if (is_free(b, block_of(b, pfn, o))) {
            n++;
            *order = o;
        }
    }
    return n;
}

/* Does a free block of this order start in [from, to) (managed frames)? Scans the
 * free bits a word at a time. */
static bool any_free_block_in(const buddy *b, unsigned order, ff_pfn from, ff_pfn to)
{
    ff_pfn first = (from + order_size(order) - 1) & ~(order_size(order) - 1);
    if (first >= to) return false;
    block_id lo = block_of(b, first, order), last = block_of(b, to - 1, order);
    for (uint64_t w = lo / 64; w <= last / 64; w++) {
        ff_step(b->env);
        uint64_t word = b->free_bits[w];
        if (w == lo / 64) word &= ~UINT64_C(0) << (lo % 64);
        if (w == last / 64) word &= ~UINT64_C(0) >> (63 - last % 64);
        if (word) return true;
    }
    return false;
}

/* Walks every managed frame: each belongs to exactly one free block or allocation.
 * Counts the free blocks met. */
static const char *check_frames(buddy *b, uint64_t *free_blocks)
{
    for (size_t r = 0; r < b->nruns; r++) {
        ff_pfn end = ff_range_end(b->runs[r]);
        for (ff_pfn pfn = b->runs[r].start; pfn < end;) {
            ff_step(b->env);
            uint64_t count = *head_count_of(b, pfn), size = count;
            unsigned order = 0, free_here = free_blocks_at(b, pfn, &order);
            if (free_here + (count != 0) > 1)
                return FAIL("frame 0x%" PRIx64 " starts more than one block", pfn);
            if (free_here) {
                size = order_size(order);
                *free_blocks += 1;
            } else if (!count) {
                return FAIL("frame 0x%" PRIx64 " is in no free block and no allocation", pfn);
            } else if (count > BUDDY_MAX_BLOCK || (pfn & (order_size(ff_log2_ceil(count)) - 1))) {
                return FAIL("allocation of %" PRIu64 " frames at pfn 0x%" PRIx64
                            " is not a buddy block", count, pfn);
            }
            if (size > end - pfn || ff_zone_of(pfn) != ff_zone_of(pfn + size - 1))
                return FAIL("block at pfn 0x%" PRIx64 " leaves its managed range or zone", pfn);
            /* Nothing else may start inside. Only smaller orders can: it is aligned. */
            for (uint64_t i = 1; i < size; i++) {
                ff_step(b->env);
                if (*head_count_of(b, pfn + i))
                    return FAIL("allocation at pfn 0x%" PRIx64 " lies inside the block at 0x%"
                                PRIx64, pfn + i, pfn);
            }
            for (unsigned o = 0; order_size(o) < size; o++) {
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
    uint64_t blocks = 0, frames = 0, met = 0;
    const char *why = check_lists(b, &blocks, &frames);
    if (why) return why;
    if (frames != b->free_frames)
        return FAIL("free lists hold %" PRIu64 " frames but the counter says %" PRIu64, frames,
                    b->free_frames);
    why = check_frames(b, &met);
    if (why) return why;
    /* The walk meets every free bit of RAM, and every listed block has one: equal
     * counts make lists and bits agree. */
    if (met != blocks)
        return FAIL("the frame walk meets %" PRIu64 " free blocks but %" PRIu64 " are listed",
                    met, blocks);
    return NULL;
}

#undef FAIL

const ff_backend_ops ff_backend_buddy = {
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
};
