/*
 * space.c — the simulated x86 physical frame space (see space.h for the contract).
 *
 * Normalisation is a sweep over boundary points, never per-frame work, so a 1 TiB map
 * builds as fast as a 64 KiB one:
 *   1. every raw entry becomes a frame interval [start, end) — usable RAM rounded
 *      inward to whole frames, everything else rounded outward — and contributes two
 *      edges, one that opens a region of its type and one that closes it;
 *   2. the edges are sorted; between two neighbouring edge positions the set of open
 *      regions is constant, and its highest e820 type wins (Linux's overlap rule);
 *   3. the winning pieces are appended in order, merging a piece into its left
 *      neighbour when they touch and share a type. Gaps are holes.
 * Linux's early fix-ups (frame 0 reserved, 0xA0000-0xFFFFF taken out of RAM) only
 * touch usable pieces, so they are extra cut points plus a rule applied to each piece.
 *
 * Backing memory is one MAP_NORESERVE reservation of top * 4 KiB: the host provides a
 * page only when a frame is first written. A touched bit per frame says whether a
 * frame has been materialised since the last reset; an untouched frame holds the
 * poison pattern by definition, whatever its host page contains. The touched log
 * lists materialised frames, so reset costs what was used, not what exists: it clears
 * their bits, and on a large space also hands their pages back to the host.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend.h"
#include "space.h"

static void set_err(char *err, size_t errlen, const char *what)
{
    if (err && errlen) snprintf(err, errlen, "%s", what);
}

/* ---------------------------------------------------------------- normalisation */

/* One end of a region's frame interval. Hole edges carry no type: they only cut. */
typedef struct edge {
    ff_pfn pfn;
    ff_mem_type type;
    bool opens;
} edge;

static int edge_cmp(const void *a, const void *b)
{
    ff_pfn x = ((const edge *)a)->pfn, y = ((const edge *)b)->pfn;
    return (x > y) - (x < y);
}

static inline uint64_t round_down_pfn(uint64_t addr) { return addr >> FF_FRAME_SHIFT; }
static inline uint64_t round_up_pfn(uint64_t addr)
{
    /* addr <= 2^52 here, so adding a frame's worth cannot wrap. */
    return (addr + FF_FRAME_SIZE - 1) >> FF_FRAME_SHIFT;
}

/* Checks one raw entry; on failure writes a line naming it (1-based, as people count). */
static bool entry_valid(const ff_e820_entry *e, size_t index, char *err, size_t errlen)
{
    const char *problem = NULL;
    if (e->type <= FF_MEM_HOLE || e->type >= FF_MEM_TYPE_COUNT)
        problem = "has no valid e820 type";
    else if (e->size > UINT64_MAX - e->start)
        problem = "ends past 2^64 (start + size overflows)";
    else if (e->start > (UINT64_C(1) << FF_PADDR_BITS) ||
             e->size > (UINT64_C(1) << FF_PADDR_BITS) - e->start)
        problem = "reaches past 2^52, the x86-64 physical address limit";
    if (!problem) return true;
    if (err && errlen)
        snprintf(err, errlen, "e820 entry %zu (start 0x%llx, size 0x%llx, type %d) %s", index + 1,
                 (unsigned long long)e->start, (unsigned long long)e->size, (int)e->type, problem);
    return false;
}

/* Linux's early fix-ups, applied to a usable piece that starts at pfn. The sweep cuts
 * pieces at 1, 0xA0 and 0x100, so a piece lies wholly inside or outside each area. */
#define FIXUP_BIOS_START_PFN UINT64_C(0xa0)
#define FIXUP_BIOS_END_PFN   UINT64_C(0x100)

static ff_mem_type fixup_usable(ff_pfn pfn)
{
    if (pfn == 0) return FF_MEM_RESERVED; /* the real-mode IVT and BIOS data area */
    if (pfn >= FIXUP_BIOS_START_PFN && pfn < FIXUP_BIOS_END_PFN) return FF_MEM_HOLE;
    return FF_MEM_USABLE;
}

/* The highest type with an open region (FF_MEM_HOLE when none is open). */
static ff_mem_type winning_type(const size_t open[FF_MEM_TYPE_COUNT])
{
    for (int t = FF_MEM_TYPE_COUNT - 1; t > FF_MEM_HOLE; t--)
        if (open[t]) return (ff_mem_type)t;
    return FF_MEM_HOLE;
}

static void append_region(ff_space *s, ff_pfn start, ff_pfn end, ff_mem_type type)
{
    if (type == FF_MEM_HOLE) return;
    ff_region *last = s->nregions ? &s->regions[s->nregions - 1] : NULL;
    if (last && last->end == start && last->type == type) {
        last->end = end;
        return;
    }
    s->regions[s->nregions++] = (ff_region){start, end, type};
}

/* Turns the raw entries into edges, storing how many in *n; false on a bad entry. */
static bool collect_edges(const ff_e820_map *map, bool fixups, edge *edges, size_t *n_out,
                          char *err, size_t errlen)
{
    size_t n = 0;
    for (size_t i = 0; i < map->count; i++) {
        const ff_e820_entry *e = &map->entries[i];
        if (!entry_valid(e, i, err, errlen)) return false;
        uint64_t end = e->start + e->size;
        bool usable = e->type == FF_MEM_USABLE;
        ff_pfn first = usable ? round_up_pfn(e->start) : round_down_pfn(e->start);
        ff_pfn last = usable ? round_down_pfn(end) : round_up_pfn(end);
        if (first >= last) continue; /* empty, or less than one whole frame of RAM */
        edges[n++] = (edge){first, e->type, true};
        edges[n++] = (edge){last, e->type, false};
    }
    if (fixups) {
        static const ff_pfn cuts[] = {1, FIXUP_BIOS_START_PFN, FIXUP_BIOS_END_PFN};
        for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
            edges[n++] = (edge){cuts[i], FF_MEM_HOLE, true};
    }
    *n_out = n;
    return true;
}

/* The sweep: sorted edges in, sorted merged regions out (s->regions has room for n). */
static void sweep(ff_space *s, edge *edges, size_t n, bool fixups)
{
    size_t open[FF_MEM_TYPE_COUNT] = {0};
    qsort(edges, n, sizeof *edges, edge_cmp);
    for (size_t i = 0; i < n;) {
        ff_pfn pos = edges[i].pfn;
        for (; i < n && edges[i].pfn == pos; i++) {
            if (edges[i].type == FF_MEM_HOLE) continue;
            if (edges[i].opens)
                open[edges[i].type]++;
            else
                open[edges[i].type]--;
        }
        if (i == n) break;
        ff_mem_type type = winning_type(open);
        if (fixups && type == FF_MEM_USABLE) type = fixup_usable(pos);
        append_region(s, pos, edges[i].pfn, type);
    }
}

/* Usable regions, cut where a zone ends: back-ends never see a range straddle one. */
static void split_usable(ff_space *s)
{
    for (size_t i = 0; i < s->nregions; i++) {
        const ff_region *r = &s->regions[i];
        if (r->type != FF_MEM_USABLE) continue;
        for (ff_pfn start = r->start; start < r->end;) {
            ff_pfn zone_end = ff_zone_end(ff_zone_of(start));
            ff_pfn end = r->end < zone_end ? r->end : zone_end;
            s->usable[s->nusable++] = (ff_range){start, end - start};
            s->usable_frames += end - start;
            start = end;
        }
    }
}

bool ff_space_init(ff_space *space, const ff_e820_map *map, const ff_space_opts *opts,
                   char *err, size_t errlen)
{
    memset(space, 0, sizeof *space);
    space->poison = FF_POISON_DEFAULT;
    bool fixups = opts && opts->linux_fixups;
    /* Two edges per entry plus three fix-up cuts; n edges make at most n - 1 pieces,
     * and splitting at two zone boundaries adds at most two usable ranges. The bound
     * keeps (2 * count + 5) * sizeof(ff_region) from wrapping. */
    if (map->count > SIZE_MAX / (4 * sizeof(ff_region))) {
        set_err(err, errlen, "memory map has too many entries");
        return false;
    }
    size_t max_edges = 2 * map->count + 3;
    edge *edges = malloc(max_edges * sizeof *edges);
    space->regions = malloc(max_edges * sizeof *space->regions);
    space->usable = malloc((max_edges + 2) * sizeof *space->usable);
    if (!edges || !space->regions || !space->usable) {
        free(edges);
        ff_space_destroy(space);
        set_err(err, errlen, "out of host memory while building the frame space");
        return false;
    }
    size_t n = 0;
    bool ok = collect_edges(map, fixups, edges, &n, err, errlen);
    if (ok) {
        sweep(space, edges, n, fixups);
        split_usable(space);
    }
    free(edges);
    if (ok && space->usable_frames == 0) {
        set_err(err, errlen, "memory map has no usable frame (after rounding to whole frames)");
        ok = false;
    }
    if (!ok) {
        ff_space_destroy(space);
        return false;
    }
    space->top = space->regions[space->nregions - 1].end;
    return true;
}

/*
 * Backings of spaces destroyed lately, kept for the next space of their size class.
 * Fuzzers build a space for every new custom map they try, and mapping, faulting in
 * and unmapping a fresh backing each time cost more than the runs over it. A kept
 * backing's stale bytes are never seen: a frame is read only once touched, and the
 * touch poisons it first (direct mode gives every page back before it starts).
 * Process-wide, like the heap; framefuzz is single-threaded.
 */
#define KEPT_BACKINGS 4
#define KEPT_BACKING_MAX ((size_t)1 << 30)          /* larger mappings are not kept */
#define KEPT_RESIDENT_MAX ((size_t)16 << 20)        /* resident bytes a kept one may hold */
static struct kept_backing {
    unsigned char *mem;
    size_t bytes;
} kept_backings[KEPT_BACKINGS];

/* The length of a backing for bytes: a power of two while it may be kept, so spaces
 * of about the same size share mappings. */
static size_t backing_class(size_t bytes)
{
    if (bytes > KEPT_BACKING_MAX) return bytes;
    size_t c = FF_FRAME_SIZE;
    while (c < bytes) c *= 2;
    return c;
}

/* A mapping of `bytes` (a class length): a kept one, or a fresh one (all zero). */
static unsigned char *backing_take(size_t bytes, bool *all_zero)
{
    for (size_t i = 0; i < KEPT_BACKINGS; i++)
        if (kept_backings[i].mem && kept_backings[i].bytes == bytes) {
            unsigned char *mem = kept_backings[i].mem;
            kept_backings[i].mem = NULL;
            *all_zero = false;
            return mem;
        }
    void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                     -1, 0);
    *all_zero = true;
    return mem == MAP_FAILED ? NULL : mem;
}

/* Unmaps a space's backing, or keeps it. A direct run's pages are not known, so its
 * backing is not kept; others hold their resident frames and this run's touches. */
static void backing_give(ff_space *s)
{
    bool keep = s->backing_bytes <= KEPT_BACKING_MAX && !s->direct;
    if (keep && (s->resident_count + s->touched_count) * FF_FRAME_SIZE > KEPT_RESIDENT_MAX)
        keep = madvise(s->backing, s->backing_bytes, MADV_DONTNEED) == 0;
    for (size_t i = 0; keep && i < KEPT_BACKINGS; i++)
        if (!kept_backings[i].mem) {
            kept_backings[i] = (struct kept_backing){s->backing, s->backing_bytes};
            return;
        }
    munmap(s->backing, s->backing_bytes);
}

/* Bytes of the touched bitmap: one bit per frame below top. */
static inline size_t bitmap_bytes(ff_pfn top) { return ((top + 63) / 64) * sizeof(uint64_t); }

void ff_space_destroy(ff_space *space)
{
    if (space->backing) backing_give(space);
    ff_host_free(space->touched_bits, bitmap_bytes(space->top));
    ff_host_free(space->written_bits, bitmap_bytes(space->top));
    free(space->touched_log);
    ff_host_free(space->resident_bits, bitmap_bytes(space->top));
    free(space->resident_log);
    free(space->regions);
    free(space->usable);
    memset(space, 0, sizeof *space);
}

/* ---------------------------------------------------------------- lookups */

ff_mem_type ff_space_type(const ff_space *space, ff_pfn pfn)
{
    /* The first region that ends past pfn holds it, if it starts at or before it. */
    size_t lo = 0, hi = space->nregions;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (space->regions[mid].end <= pfn)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < space->nregions && space->regions[lo].start <= pfn) return space->regions[lo].type;
    return FF_MEM_HOLE;
}

uint64_t ff_space_usable_in(const ff_space *space, ff_pfn start, uint64_t count)
{
    ff_pfn end = count > UINT64_MAX - start ? UINT64_MAX : start + count;
    size_t lo = 0, hi = space->nusable;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ff_range_end(space->usable[mid]) <= start)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint64_t total = 0;
    for (size_t i = lo; i < space->nusable && space->usable[i].start < end; i++) {
        ff_pfn s = space->usable[i].start > start ? space->usable[i].start : start;
        ff_pfn e = ff_range_end(space->usable[i]) < end ? ff_range_end(space->usable[i]) : end;
        total += e - s;
    }
    return total;
}

/* ---------------------------------------------------------------- backing memory */

static inline unsigned char *frame_at(const ff_space *s, ff_pfn pfn)
{
    return s->backing + pfn * FF_FRAME_SIZE;
}
static inline bool is_touched(const ff_space *s, ff_pfn pfn)
{
    return (s->touched_bits[pfn / 64] >> (pfn % 64)) & 1;
}

/* The first touched frame in [pfn, end), or end; skips untouched words 64 frames at
 * a time, so a check over a mostly pristine range costs a bitmap scan. */
static ff_pfn next_touched(const ff_space *s, ff_pfn pfn, ff_pfn end)
{
    while (pfn < end) {
        uint64_t word = s->touched_bits[pfn / 64] >> (pfn % 64);
        if (word) {
            ff_pfn hit = pfn + (ff_pfn)__builtin_ctzll(word);
            return hit < end ? hit : end;
        }
        pfn = (pfn | 63) + 1;
    }
    return end;
}

ff_pfn ff_space_next_maybe_written(const ff_space *space, ff_pfn pfn, ff_pfn end)
{
    if (!space->backing || pfn >= end || pfn >= space->top) return end;
    if (space->direct) return pfn;
    ff_pfn hit = next_touched(space, pfn, end < space->top ? end : space->top);
    return hit < space->top ? hit : end;
}

/* [start, start + count) clipped to the frames that have memory: returns the end. */
static ff_pfn clip_end(const ff_space *s, ff_pfn start, uint64_t count)
{
    if (start >= s->top) return start;
    return count > s->top - start ? s->top : start + count;
}

/*
 * Walks the frames of [start, end) that may differ from the pristine pattern: the
 * touched ones, or in direct mode (where an allocator writes without a touch) those
 * the host holds a page for, asked of mincore a chunk at a time. A page the host never
 * faulted in reads as zero, the direct pattern. (A page swapped out counts as not
 * held: it can only hide a change, never report one, and a fuzzing run's pages are
 * too hot to be swapped within it.)
 */
#define RESIDENCY_CHUNK 1024
typedef struct frame_walk {
    const ff_space *s;
    ff_pfn next, end;
    ff_pfn chunk_start, chunk_end; /* vec describes frames [chunk_start, chunk_end) */
    unsigned char vec[RESIDENCY_CHUNK];
} frame_walk;

static void walk_init(frame_walk *w, const ff_space *s, ff_pfn start, uint64_t count)
{
    w->s = s;
    w->next = start;
    w->end = clip_end(s, start, count);
    w->chunk_start = w->chunk_end = start;
}

static void residency_fill(frame_walk *w)
{
    static long host_page;
    if (!host_page) host_page = sysconf(_SC_PAGESIZE);
    w->chunk_start = w->next;
    w->chunk_end = w->end - w->next > RESIDENCY_CHUNK ? w->next + RESIDENCY_CHUNK : w->end;
    size_t frames = (size_t)(w->chunk_end - w->chunk_start);
    /* Where the host cannot say frame by frame, every frame is a candidate. */
    if (host_page != FF_FRAME_SIZE ||
        mincore(frame_at(w->s, w->chunk_start), frames * FF_FRAME_SIZE, w->vec) != 0)
        memset(w->vec, 1, frames);
}

/* The next frame to visit, or w->end. */
static ff_pfn walk_next(frame_walk *w)
{
    if (!w->s->direct) {
        ff_pfn pfn = next_touched(w->s, w->next, w->end);
        w->next = pfn < w->end ? pfn + 1 : w->end;
        return pfn;
    }
    while (w->next < w->end) {
        if (w->next >= w->chunk_end) residency_fill(w);
        ff_pfn pfn = w->next++;
        if (w->vec[pfn - w->chunk_start] & 1) return pfn;
    }
    return w->end;
}

/* The pages went back to the host: no frame is resident any more. */
static void forget_resident(ff_space *s)
{
    for (size_t i = 0; i < s->resident_count; i++)
        s->resident_bits[s->resident_log[i] / 64] &= ~(UINT64_C(1) << (s->resident_log[i] % 64));
    s->resident_count = 0;
}

/* Gives every page of the backing back to the host: all frames read as zero again. */
static void zero_all(ff_space *s)
{
    size_t bytes = s->backing_bytes;
    if (madvise(s->backing, bytes, MADV_DONTNEED) != 0 &&
        mmap(s->backing, bytes, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED) {
        /* The next direct run would read this one's frames: no verdict could be trusted. */
        fprintf(stderr, "framefuzz: cannot reset %zu bytes of frame backing: host out of memory\n",
                bytes);
        abort();
    }
    forget_resident(s);
    s->all_zero = true;
}

/* Makes room for one more frame in a log of `count` frames (the touched or the
 * resident log). False when the host is out of memory. */
static bool log_reserve(ff_pfn **log, size_t *cap, size_t count)
{
    if (count < *cap) return true;
    size_t grown = *cap ? *cap * 2 : 64;
    if (grown > SIZE_MAX / sizeof(ff_pfn)) return false;
    ff_pfn *p = realloc(*log, grown * sizeof *p);
    if (!p) return false;
    *log = p;
    *cap = grown;
    return true;
}

bool ff_space_enable_backing(ff_space *space, unsigned char poison)
{
    /* Frames already materialised hold the old pattern: only the same one is safe. */
    if (space->backing) return space->base_poison == poison;
    if (space->top == 0 || space->top > SIZE_MAX / FF_FRAME_SIZE) return false;
    size_t bytes = backing_class(space->top * FF_FRAME_SIZE);
    bool all_zero;
    unsigned char *mem = backing_take(bytes, &all_zero);
    if (!mem) return false;
    space->touched_bits = ff_host_zalloc(bitmap_bytes(space->top));
    space->written_bits = ff_host_zalloc(bitmap_bytes(space->top));
    space->resident_bits = ff_host_zalloc(bitmap_bytes(space->top));
    /* The logs exist from the start, so that growing them is a realloc: the reset that
     * logs one input's touches runs with the next input, and a first malloc there
     * would leave that input with more allocations than frees (which libFuzzer's leak
     * detection answers with a full LeakSanitizer pass). */
    if (!space->touched_bits || !space->written_bits || !space->resident_bits ||
        !log_reserve(&space->touched_log, &space->touched_cap, 0) ||
        !log_reserve(&space->resident_log, &space->resident_cap, 0)) {
        ff_host_free(space->touched_bits, bitmap_bytes(space->top));
        ff_host_free(space->written_bits, bitmap_bytes(space->top));
        ff_host_free(space->resident_bits, bitmap_bytes(space->top));
        free(space->touched_log);
        free(space->resident_log);
        space->touched_bits = space->written_bits = space->resident_bits = NULL;
        space->touched_log = space->resident_log = NULL;
        space->touched_cap = space->resident_cap = 0;
        munmap(mem, bytes);
        return false;
    }
    space->backing = mem;
    space->backing_bytes = bytes;
    space->poison = space->base_poison = poison;
    space->touched_count = 0;
    space->direct = false;
    space->all_zero = all_zero;
    return true;
}

void *ff_space_direct(ff_space *space)
{
    if (!space->backing) return NULL;
    if (space->direct) return space->backing;
    if (space->touched_count) return NULL;
    if (!space->all_zero) zero_all(space);
    space->direct = true;
    space->poison = 0;
    return space->backing;
}

void *ff_space_frame_mem(void *opaque, ff_pfn pfn)
{
    ff_space *s = opaque;
    if (!s || !s->backing || pfn >= s->top) return NULL;
    unsigned char *mem = frame_at(s, pfn);
    if (!s->direct && !is_touched(s, pfn)) {
        /* Without room in the log the touch could never be undone: refuse it (only
         * when the host is out of memory, and then the frame itself could not be). */
        if (!log_reserve(&s->touched_log, &s->touched_cap, s->touched_count)) return NULL;
        memset(mem, s->poison, FF_FRAME_SIZE);
        s->written_bits[pfn / 64] &= ~(UINT64_C(1) << (pfn % 64));
        s->touched_bits[pfn / 64] |= UINT64_C(1) << (pfn % 64);
        s->touched_log[s->touched_count++] = pfn;
        s->all_zero = false;
    }
    return mem;
}

static inline bool take_written(uint64_t *bits, ff_pfn pfn)
{
    uint64_t bit = UINT64_C(1) << (pfn % 64);
    bool was = bits[pfn / 64] & bit;
    bits[pfn / 64] &= ~bit;
    return was;
}

/* Untouched frames already read as poison, so only touched ones need refilling:
 * poisoning a freed gigabyte that nobody wrote costs a bitmap scan, not a gigabyte.
 * Of those, only frames written past the in-band bytes: a back-end that keeps its
 * links in free frames touches one per free range, and refilling 4 KiB it did not
 * change was most of a free's cost. A direct run's back-end writes unseen: all. */
void ff_space_poison(ff_space *space, ff_pfn start, uint64_t count, uint32_t skip)
{
    if (!space->backing || skip >= FF_FRAME_SIZE) return;
    frame_walk w;
    walk_init(&w, space, start, count);
    for (ff_pfn pfn = walk_next(&w); pfn < w.end; pfn = walk_next(&w))
        if (space->direct || take_written(space->written_bits, pfn))
            memset(frame_at(space, pfn) + skip, space->poison, FF_FRAME_SIZE - skip);
}

void ff_space_write(ff_space *space, ff_pfn pfn, uint32_t offset, unsigned char value)
{
    frame_at(space, pfn)[offset] = value;
    space->written_bits[pfn / 64] |= UINT64_C(1) << (pfn % 64);
}

void ff_space_poison_head(ff_space *space, ff_pfn start, uint64_t count, uint32_t bytes)
{
    if (!space->backing || !bytes) return;
    frame_walk w;
    walk_init(&w, space, start, count);
    for (ff_pfn pfn = walk_next(&w); pfn < w.end; pfn = walk_next(&w))
        memset(frame_at(space, pfn), space->poison, bytes < FF_FRAME_SIZE ? bytes : FF_FRAME_SIZE);
}

/* A frame's worth of the poison byte, to compare frames against. */
static const unsigned char *poison_frame(unsigned char poison)
{
    static unsigned char frame[FF_FRAME_SIZE];
    static int filled = -1;
    if (filled != poison) {
        memset(frame, poison, sizeof frame);
        filled = poison;
    }
    return frame;
}

/* Offset of the first byte in mem[from, to) that is not the poison byte, or to.
 * Intact frames are the rule and every hand-out checks whole frames: the C library's
 * memcmp settles them at memory speed; only a changed frame is searched byte by byte. */
static uint32_t first_changed(const unsigned char *mem, uint32_t from, uint32_t to,
                              unsigned char poison)
{
    if (memcmp(mem + from, poison_frame(poison) + from, to - from) == 0) return to;
    uint32_t off = from;
    while (mem[off] == poison) off++;
    return off;
}

bool ff_space_poison_intact(const ff_space *space, ff_pfn start, uint64_t count, uint32_t from,
                            uint32_t to, ff_pfn *bad_pfn, uint32_t *bad_offset)
{
    if (to > FF_FRAME_SIZE) to = FF_FRAME_SIZE;
    if (!space->backing || from >= to) return true;
    frame_walk w;
    walk_init(&w, space, start, count);
    for (ff_pfn pfn = walk_next(&w); pfn < w.end; pfn = walk_next(&w)) {
        uint32_t off = first_changed(frame_at(space, pfn), from, to, space->poison);
        if (off < to) {
            /* Seen changed: the next free must refill it, or the change shows again. */
            space->written_bits[pfn / 64] |= UINT64_C(1) << (pfn % 64);
            if (bad_pfn) *bad_pfn = pfn;
            if (bad_offset) *bad_offset = off;
            return false;
        }
    }
    return true;
}

/* Touched pages stay resident across resets while they add up to at most this many
 * bytes: re-faulting a page costs far more than the memset that re-poisons it on its
 * next touch, and a fuzzer touches the same frames input after input, so in steady
 * state a reset makes no system call. Past it, every page goes back to the host at
 * once, so many runs over scattered frames of a huge space cannot add up to the whole
 * space. */
#define KEEP_RESIDENT_MAX (UINT64_C(64) << 20)

/* Counts the frames of this run that were not resident yet; false when there are
 * too many (or no room to remember them): then the pages must go back. */
static bool keep_resident(ff_space *s)
{
    for (size_t i = 0; i < s->touched_count; i++) {
        ff_pfn pfn = s->touched_log[i];
        uint64_t bit = UINT64_C(1) << (pfn % 64);
        if (s->resident_bits[pfn / 64] & bit) continue;
        if (!log_reserve(&s->resident_log, &s->resident_cap, s->resident_count)) return false;
        s->resident_bits[pfn / 64] |= bit;
        s->resident_log[s->resident_count++] = pfn;
    }
    return s->resident_count * FF_FRAME_SIZE <= KEEP_RESIDENT_MAX;
}

/* Forgets every touch. Clearing a frame's bit is what makes it pristine again: its old
 * content is never seen, because the next touch re-poisons it. A direct run wrote
 * without touches, so its pages all go back to the host. */
void ff_space_reset(ff_space *space)
{
    if (!space->backing) return;
    for (size_t i = 0; i < space->touched_count; i++) {
        ff_pfn pfn = space->touched_log[i];
        space->touched_bits[pfn / 64] &= ~(UINT64_C(1) << (pfn % 64));
    }
    if (space->direct) {
        zero_all(space);
        space->direct = false;
        space->poison = space->base_poison;
        space->touched_count = 0;
        return;
    }
    if (!keep_resident(space)) {
        /* A refusal (e.g. host pages larger than a frame) only keeps memory resident. */
        if (madvise(space->backing, space->backing_bytes, MADV_DONTNEED) == 0)
            space->all_zero = true;
        forget_resident(space);
    }
    space->touched_count = 0;
}
