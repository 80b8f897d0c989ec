/*
 * freelist.c — first fit over an address-ordered list of free extents that lives
 * inside the free frames themselves, with every free validated.
 *
 * The list. As in xv6's kalloc or Hermit's free list, the main structure costs the
 * allocator no host memory: the first frame of each free extent (a maximal run of
 * free frames) holds a node { count, next } giving the extent's length and the first
 * frame of the next extent. Extents are kept in ascending address order, so
 *   - first fit from the lowest address returns the lowest aligned run that fits;
 *   - walking to an insertion point finds both neighbours of a freed range, and
 *     coalescing with them costs two comparisons;
 *   - "next lies beyond this extent's end" is an invariant every node must satisfy,
 *     which also makes a cycle impossible.
 * Allocation splits an extent into at most three parts: the part before the aligned
 * run and the part after it stay free.
 *
 * Exact frees. A list of free extents cannot say where an allocation begins, so an
 * out-of-band bitmap marks each allocation's first frame (its "head"). A free must
 * name a head and end exactly where that allocation ends; anything else is rejected
 * with one code and changes nothing. Zero means "not a head", so the bitmap over a
 * huge space costs only the words that are used.
 *
 * Distrusting the nodes. Free frames are ours, yet a buggy user can still write them
 * (use after free). Every node is validated as it is read; a bad node ends the walk
 * as if the list ended there. A corrupt list can therefore lose frames, never crash
 * or loop; check() reports the damage.
 *
 * RAM. The given ranges are split only at zone boundaries, so ranges that touch are
 * contiguous RAM: they are merged into segments here, and an extent may cross a zone
 * boundary but never a hole. Zone limits are applied when a run is chosen.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "bugs.h"

/* ---------------------------------------------------------------- state */

/* The in-band node at the first frame of every free extent. */
typedef struct fl_node {
    uint64_t count; /* frames in the extent, > 0 */
    ff_pfn next;    /* first frame of the next extent, or FL_END */
} fl_node;

#define FL_END UINT64_MAX

typedef struct freelist {
    ff_env *env;
    ff_runs ram;     /* managed RAM; head bits are numbered by ff_run.base, so holes cost none */
    uint64_t *heads; /* bit set at the first frame of every allocation */
    size_t heads_bytes;
    ff_pfn first;    /* first free extent, or FL_END */
    uint64_t free_frames;
    char report[160];
    /* reset: head-bit changes since create are undone; the list is seeded again. */
    ff_undo undo;
} freelist;

/* ---------------------------------------------------------------- segments and head bits */

/* The run holding pfn, or NULL when pfn is not managed RAM. */
static inline const ff_run *segment_of(const freelist *fl, ff_pfn pfn)
{
    return ff_runs_find(&fl->ram, pfn);
}

static inline uint64_t head_bit(const ff_run *seg, ff_pfn pfn)
{
    return seg->base + (pfn - seg->start);
}

static inline bool bit_test(const uint64_t *bits, uint64_t i) { return bits[i / 64] >> (i % 64) & 1; }

/* Head bits change only through these, each word saved for reset first. */
static inline uint64_t *head_word(freelist *fl, uint64_t i)
{
    uint64_t *word = &fl->heads[i / 64];
    ff_undo_save(&fl->undo, word, sizeof *word);
    return word;
}

static inline void head_set(freelist *fl, uint64_t i) { *head_word(fl, i) |= UINT64_C(1) << (i % 64); }
static inline void head_clear(freelist *fl, uint64_t i) { *head_word(fl, i) &= ~(UINT64_C(1) << (i % 64)); }

/* Whether any head bit in [from, to) is set; a word at a time. */
static bool heads_any(const freelist *fl, uint64_t from, uint64_t to)
{
    while (from < to) {
        ff_step(fl->env);
        uint64_t width = 64 - from % 64;
        if (width > to - from) width = to - from;
        uint64_t word = fl->heads[from / 64] >> (from % 64);
        if (width < 64) word &= (UINT64_C(1) << width) - 1;
        if (word) return true;
        from += width;
    }
    return false;
}

/* ---------------------------------------------------------------- in-band nodes */

static inline void *frame_of(const freelist *fl, ff_pfn pfn)
{
    return fl->env->frame_mem(fl->env->space, pfn);
}

/* memcpy: host memory of a fake store need not be aligned for uint64_t. */
static inline fl_node node_load(const void *mem)
{
    fl_node node;
    memcpy(&node, mem, sizeof node);
    return node;
}

static inline void node_store(void *mem, fl_node node) { memcpy(mem, &node, sizeof node); }

static inline ff_pfn extent_end(ff_pfn pfn, fl_node node) { return pfn + node.count; }

/* Reads the node of the extent at pfn. Returns NULL when it is sane, else what is
 * wrong with it; nothing is dereferenced before the frame is known to be ours. */
static const char *node_fetch(const freelist *fl, ff_pfn pfn, void **mem, fl_node *node)
{
    const ff_run *seg = segment_of(fl, pfn);
    if (!seg) return "extent outside managed RAM";
    if (!(*mem = frame_of(fl, pfn))) return "extent frame has no backing memory";
    *node = node_load(*mem);
    if (node->count == 0) return "zero count";
    if (node->count > seg->end - pfn) return "count runs past managed RAM";
    if (node->next == FL_END) return NULL;
    /* INJECTED BUG freelist-double-free-cycle: the order check lets a node link into itself */
    if (node->next < extent_end(pfn, *node) &&
        !FF_BUG(fl->env->bug, FREELIST_DOUBLE_FREE_CYCLE, node->next >= pfn))
        return "next overlaps or precedes the extent";
    if (node->next == extent_end(pfn, *node)) return "next extent adjacent (not coalesced)";
    if (!segment_of(fl, node->next)) return "next outside managed RAM";
    return NULL;
}

/* A position in the list: extent `cur` and the one before it (FL_END for none).
 * A bad node ends the list, so `cur` is FL_END there too. */
typedef struct fl_cursor {
    ff_pfn prev, cur;
    void *prev_mem, *cur_mem;
    fl_node prev_node, cur_node;
} fl_cursor;

static void cursor_load(const freelist *fl, fl_cursor *c, ff_pfn pfn)
{
    c->cur = pfn;
    if (pfn != FL_END && node_fetch(fl, pfn, &c->cur_mem, &c->cur_node)) c->cur = FL_END;
}

static fl_cursor cursor_first(const freelist *fl)
{
    fl_cursor c = {.prev = FL_END};
    cursor_load(fl, &c, fl->first);
    return c;
}

static void cursor_advance(const freelist *fl, fl_cursor *c)
{
    c->prev = c->cur;
    c->prev_mem = c->cur_mem;
    c->prev_node = c->cur_node;
    cursor_load(fl, c, c->cur_node.next);
}

/* Makes the extent before the cursor (or the list head) point at pfn. */
static void link_prev(freelist *fl, fl_cursor *c, ff_pfn pfn)
{
    if (c->prev == FL_END) {
        fl->first = pfn;
        return;
    }
    c->prev_node.next = pfn;
    node_store(c->prev_mem, c->prev_node);
}

/* ---------------------------------------------------------------- create / destroy */

static void fl_destroy(void *self)
{
    freelist *fl = self;
    if (!fl) return;
    ff_host_free(fl->heads, fl->heads_bytes);
    ff_runs_destroy(&fl->ram);
    ff_undo_destroy(&fl->undo);
    free(fl);
}

/* Every range must be backed; its first and last frames stand for the rest, since
 * probing every frame would materialise the whole space. */
static bool backing_present(const freelist *fl, const ff_range *ranges, size_t nranges)
{
    for (size_t i = 0; i < nranges; i++) {
        ff_step(fl->env);
        if (ranges[i].count == 0) continue;
        if (!frame_of(fl, ranges[i].start) || !frame_of(fl, ff_range_end(ranges[i]) - 1))
            return false;
    }
    return true;
}

/* All RAM starts free: one extent per segment. Writes every node the list starts
 * with, so reset calls it too: the space's reset has already wiped the frames. False
 * when a frame has no backing memory (the host is out of it). */
static bool seed_list(freelist *fl)
{
    fl->first = FL_END;
    fl->free_frames = 0;
    for (size_t i = fl->ram.count; i-- > 0;) {
        ff_step(fl->env);
        const ff_run *seg = &fl->ram.run[i];
        void *mem = frame_of(fl, seg->start);
        if (!mem) return false;
        node_store(mem, (fl_node){seg->end - seg->start, fl->first});
        fl->first = seg->start;
        fl->free_frames += seg->end - seg->start;
    }
    return true;
}

static void *fl_create(ff_env *env, const ff_range *ranges, size_t nranges)
{
    if (!env || !env->frame_mem || (nranges && !ranges)) return NULL;
    freelist *fl = calloc(1, sizeof *fl);
    if (!fl) return NULL;
    fl->env = env;
    if (!ff_runs_init(&fl->ram, ranges, nranges)) {
        free(fl);
        return NULL;
    }
    if (!backing_present(fl, ranges, nranges)) goto fail;
    fl->heads_bytes = (size_t)((fl->ram.frames + 63) / 64 * sizeof(uint64_t));
    if (!(fl->heads = ff_host_zalloc(fl->heads_bytes))) goto fail;
    if (!seed_list(fl)) goto fail;
    ff_undo_start(&fl->undo, fl->env); /* from here every head bit written is saved */
    return fl;
fail:
    fl_destroy(fl);
    return NULL;
}

/* Frames hold nothing of ours after the space's reset and the head bits are put back,
 * so the list is seeded again: O(changes + segments). */
static bool fl_reset(void *self)
{
    freelist *fl = self;
    return ff_undo_rewind(&fl->undo) && seed_list(fl);
}

/* ---------------------------------------------------------------- alloc */

/* The lowest start aligned to `align` (a power of two) of a run of `count` frames
 * inside [lo, hi), lo < hi. */
static bool aligned_fit(ff_pfn lo, ff_pfn hi, uint64_t align, uint64_t count, ff_pfn *at)
{
    uint64_t skew = (0 - lo) & (align - 1);
    if (skew >= hi - lo || count > hi - lo - skew) return false;
    *at = lo + skew;
    return true;
}

/* Carves [at, at + count) out of the extent at the cursor; what lies before and
 * after it stays free. False, changing nothing, when the tail has no backing. */
static bool carve(freelist *fl, fl_cursor *c, ff_pfn at, uint64_t count)
{
    ff_pfn end = extent_end(c->cur, c->cur_node), tail = at + count;
    ff_pfn after = c->cur_node.next;
    if (tail < end) {
        void *tail_mem = frame_of(fl, tail);
        if (!tail_mem) return false;
        node_store(tail_mem, (fl_node){end - tail, after});
        after = tail;
    }
    if (at > c->cur) {
        c->cur_node.count = at - c->cur;
        c->cur_node.next = after;
        node_store(c->cur_mem, c->cur_node);
    } else {
        link_prev(fl, c, after);
    }
    head_set(fl, head_bit(segment_of(fl, at), at));
    fl->free_frames -= count;
    return true;
}

static ff_status fl_alloc(void *self, const ff_alloc_req *req, ff_pfn *start)
{
    freelist *fl = self;
    uint64_t align = req->align > 1 ? req->align : 1;
    if (req->count == 0 || req->count > FF_PFN_LIMIT || !ff_is_pow2(align) ||
        align > FF_PFN_LIMIT || (unsigned)req->zone >= FF_ZONE_COUNT)
        return FF_ERR_INVALID;
    ff_pfn limit = ff_zone_end(req->zone);
    for (fl_cursor c = cursor_first(fl); c.cur != FL_END && c.cur < limit; cursor_advance(fl, &c)) {
        ff_step(fl->env);
        ff_pfn end = extent_end(c.cur, c.cur_node);
        ff_pfn at;
        if (!aligned_fit(c.cur, end < limit ? end : limit, align, req->count, &at)) {
            /* INJECTED BUG freelist-early-giveup: first fit stops at the first extent too small */
            if (FF_BUG(fl->env->bug, FREELIST_EARLY_GIVEUP, c.cur_node.next < limit))
                return FF_ERR_NOMEM;
            continue;
        }
        if (!carve(fl, &c, at, req->count)) return FF_ERR_NOMEM;
        *start = at;
        return FF_OK;
    }
    return FF_ERR_NOMEM;
}

/* ---------------------------------------------------------------- free */

static ff_status fl_free(void *self, ff_pfn start, uint64_t count)
{
    freelist *fl = self;
    if (count == 0 || count > FF_PFN_LIMIT || start > FF_PFN_LIMIT - count) return FF_ERR_INVALID;
    ff_pfn end = start + count;

    /* Segments are separated by holes, so a managed range lies in one of them. */
    const ff_run *seg = segment_of(fl, start);
    if (!seg || end > seg->end) return FF_ERR_FOREIGN;

    fl_cursor c = cursor_first(fl);
    while (c.cur != FL_END && c.cur < start) {
        ff_step(fl->env);
        cursor_advance(fl, &c);
    }
    ff_pfn prev_end = c.prev == FL_END ? 0 : extent_end(c.prev, c.prev_node);
    if (prev_end > start || (c.cur != FL_END && c.cur < end)) {
        /* INJECTED BUG freelist-double-free-cycle: a double free at the head is linked first */
        if (FF_BUG(fl->env->bug, FREELIST_DOUBLE_FREE_CYCLE, c.prev == FL_END && c.cur == start))
            node_store(c.cur_mem, (fl_node){count, c.cur});
        return FF_ERR_DOUBLE;
    }

    if (!bit_test(fl->heads, head_bit(seg, start))) return FF_ERR_MISALIGNED;
    /* Too long covers another head (free frames and holes were ruled out above); too
     * short leaves the allocation's next frame allocated but headless. */
    bool next_is_tail = end < seg->end && c.cur != end && !bit_test(fl->heads, head_bit(seg, end));
    if (heads_any(fl, head_bit(seg, start) + 1, head_bit(seg, end)) || next_is_tail)
        return FF_ERR_WRONG_SIZE;

    bool merge_prev = c.prev != FL_END && prev_end == start;
    void *mem = merge_prev ? NULL : frame_of(fl, start);
    if (!merge_prev && !mem) return FF_ERR_FOREIGN; /* no backing: cannot hold a node */

    fl_node node = {count, c.cur};
    /* INJECTED BUG freelist-coalesce-overlap: an extent one frame away counts as adjacent,
     * so the merged extent swallows the frame between them */
    if (c.cur == end || FF_BUG(fl->env->bug, FREELIST_COALESCE_OVERLAP, c.cur == end + 1)) {
        /* coalesce with the next extent */
        node.count += c.cur_node.count;
        node.next = c.cur_node.next;
    }
    if (merge_prev) {
        c.prev_node.count += node.count;
        c.prev_node.next = node.next;
        node_store(c.prev_mem, c.prev_node);
    } else {
        node_store(mem, node);
        link_prev(fl, &c, start);
    }
    head_clear(fl, head_bit(seg, start));
    fl->free_frames += count;
    return FF_OK;
}

/* ---------------------------------------------------------------- accounting and checks */

static uint64_t fl_free_frames(const void *self) { return ((const freelist *)self)->free_frames; }

__attribute__((format(printf, 2, 3)))
static const char *report(freelist *fl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fl->report, sizeof fl->report, fmt, ap);
    va_end(ap);
    return fl->report;
}

static const char *fl_check(void *self)
{
    freelist *fl = self;
    uint64_t total = 0;
    for (ff_pfn pfn = fl->first; pfn != FL_END;) {
        ff_step(fl->env);
        void *mem;
        fl_node node;
        const char *fault = node_fetch(fl, pfn, &mem, &node);
        if (fault) return report(fl, "free extent at pfn 0x%" PRIx64 ": %s", pfn, fault);
        uint64_t bit = head_bit(segment_of(fl, pfn), pfn);
        if (heads_any(fl, bit, bit + node.count))
            return report(fl, "free extent at pfn 0x%" PRIx64 " holds an allocation head", pfn);
        total += node.count;
        pfn = node.next;
    }
    if (total != fl->free_frames)
        return report(fl, "free extents hold %" PRIu64 " frames, counter says %" PRIu64, total,
                      fl->free_frames);
    return NULL;
}

const ff_backend_def ff_backend_freelist = {
    .name = "freelist",
    .summary = "first fit over an address-ordered in-band extent list, validated frees",
    .policy =
        {
            .placement = FF_PLACE_ANY_RUN,
            .rounding = FF_ROUND_NONE,
            .free_rule = FF_FREE_EXACT,
            .max_order = FF_ORDER_ANY,
            .validates_frees = true,
            .honours_zone = true,
            .honours_align = true,
            .needs_backing = true,
            .inband_bytes = sizeof(fl_node),
        },
    .create = fl_create,
    .destroy = fl_destroy,
    .alloc = fl_alloc,
    .free = fl_free,
    .free_frames = fl_free_frames,
    .check = fl_check,
    .reset = fl_reset,
};
