/*
 * test_bitmap.c — unit tests of the bitmap back-end (allocators/bitmap.c).
 *
 * Hand-drawn RAM layouts with exact expected placements, counters and rejection
 * codes; a brute-force model of the next-fit contract that random workloads are
 * compared against answer by answer; step counts that show the summary trees skip
 * full memory; and creation over 64 GiB and 1 TiB.
 */
#include <stdlib.h>

#include "backend.h"

extern const ff_backend_def ff_backend_bitmap;
#define OPS (&ff_backend_bitmap)
#include "backend_fixture.h"

#define PFN_16M UINT64_C(0x1000)   /* DMA | DMA32 */
#define PFN_4G  UINT64_C(0x100000) /* DMA32 | Normal */

/* ---------------------------------------------------------------- helpers */

static void setup(fixture *f, const ff_range *ranges, size_t n)
{
    fixture_open(f, ranges, n);
    check_clean(f);
}

/* Allocates anywhere and insists it works. */
static ff_pfn must_alloc(fixture *f, uint64_t count, uint64_t align)
{
    ff_pfn pfn;
    ff_status st = alloc_in(f, count, align, FF_ZONE_NORMAL, &pfn);
    if (st != FF_OK)
        ff_test_fail(__FILE__, __LINE__, "alloc(%" PRIu64 ", align %" PRIu64 ") = %s", count, align,
                     ff_status_name(st));
    return pfn;
}

static void expect_nomem(fixture *f, uint64_t count, uint64_t align, ff_zone zone)
{
    ff_pfn pfn;
    uint64_t before = free_frames(f);
    CHECK_EQ(alloc_in(f, count, align, zone, &pfn), FF_ERR_NOMEM);
    CHECK_EQ(free_frames(f), before);
}

/* ---------------------------------------------------------------- a reference model */

/*
 * The contract, by brute force: frame states over the given ranges, the sizes of live
 * allocations, and the next-fit hint. Its alloc tries every aligned start in order;
 * its free applies the rejection order literally.
 */
#define MODEL_MAX 4096

typedef struct model {
    ff_pfn base, end;          /* span of the ranges */
    uint8_t ram[MODEL_MAX];    /* 1 = managed frame */
    uint8_t used[MODEL_MAX];   /* 1 = allocated */
    uint64_t size[MODEL_MAX];  /* frames of the allocation starting here, else 0 */
    ff_pfn hint;
    uint64_t free_frames;
} model;

static void model_init(model *m, const ff_range *ranges, size_t n)
{
    memset(m, 0, sizeof *m);
    m->base = ranges[0].start;
    m->end = ff_range_end(ranges[n - 1]);
    CHECK(m->end - m->base <= MODEL_MAX);
    for (size_t i = 0; i < n; i++)
        for (ff_pfn p = ranges[i].start; p < ff_range_end(ranges[i]); p++) m->ram[p - m->base] = 1;
    for (ff_pfn p = m->base; p < m->end; p++) m->free_frames += m->ram[p - m->base];
    m->hint = m->base;
}

static bool model_is_free(const model *m, ff_pfn p)
{
    return p >= m->base && p < m->end && m->ram[p - m->base] && !m->used[p - m->base];
}

/* The lowest aligned start in [from, start_limit) whose run is free and ends by end_limit. */
static bool model_fit(const model *m, ff_pfn from, ff_pfn start_limit, ff_pfn end_limit, uint64_t count,
                      uint64_t align, ff_pfn *found)
{
    for (ff_pfn s = from; s < start_limit && s + count <= end_limit; s++) {
        if (s % align) continue;
        uint64_t i = 0;
        while (i < count && model_is_free(m, s + i)) i++;
        if (i == count) {
            *found = s;
            return true;
        }
    }
    return false;
}

static ff_status model_alloc(model *m, uint64_t count, uint64_t align, ff_zone zone, ff_pfn *start)
{
    align = align > 1 ? align : 1;
    if (count == 0 || !ff_is_pow2(align) || (unsigned)zone >= FF_ZONE_COUNT || count > m->end - m->base)
        return FF_ERR_INVALID;
    ff_pfn limit = ff_zone_end(zone) < m->end ? ff_zone_end(zone) : m->end;
    ff_pfn s;
    if (!model_fit(m, m->hint, limit, limit, count, align, &s) &&
        !model_fit(m, m->base, m->hint < limit ? m->hint : limit, limit, count, align, &s))
        return FF_ERR_NOMEM;
    for (uint64_t i = 0; i < count; i++) m->used[s + i - m->base] = 1;
    m->size[s - m->base] = count;
    m->free_frames -= count;
    m->hint = s + count == m->end ? m->base : s + count;
    *start = s;
    return FF_OK;
}

static ff_status model_free(model *m, ff_pfn start, uint64_t count)
{
    if (count == 0 || start >= FF_PFN_LIMIT || count > FF_PFN_LIMIT - start) return FF_ERR_INVALID;
    for (uint64_t i = 0; i < count; i++) {
        ff_pfn p = start + i;
        if (p < m->base || p >= m->end || !m->ram[p - m->base]) return FF_ERR_FOREIGN;
    }
    for (uint64_t i = 0; i < count; i++)
        if (!m->used[start + i - m->base]) return FF_ERR_DOUBLE;
    uint64_t size = m->size[start - m->base];
    if (size == 0) return FF_ERR_MISALIGNED;
    if (size != count) return FF_ERR_WRONG_SIZE;
    for (uint64_t i = 0; i < count; i++) m->used[start + i - m->base] = 0;
    m->size[start - m->base] = 0;
    m->free_frames += count;
    return FF_OK;
}

/* A live allocation, as the workload remembers it. */
typedef struct block {
    ff_pfn start;
    uint64_t count;
} block;

/* Random allocs and frees, good and bad, answered by the back-end and the model;
 * every answer must match. Returns a digest of all answers. */
static uint64_t model_workload(const ff_range *ranges, size_t n, uint64_t seed, int ops)
{
    static const uint64_t aligns[] = {0, 1, 2, 4, 8, 64, 256};
    model *m = calloc(1, sizeof *m);
    block *live = calloc((size_t)ops, sizeof *live);
    CHECK(m && live);
    model_init(m, ranges, n);
    fixture f;
    setup(&f, ranges, n);
    size_t nlive = 0;
    uint64_t digest = 0;
    for (int op = 0; op < ops; op++) {
        uint64_t r = next_rand(&seed);
        ff_status got, want;
        ff_pfn got_pfn = 0, want_pfn = 0;
        if (nlive == 0 || r % 100 < 55) {
            uint64_t count = r % 7 == 0 ? 1 + next_rand(&seed) % 300 : 1 + next_rand(&seed) % 9;
            uint64_t align = aligns[next_rand(&seed) % 7];
            ff_zone zone = (ff_zone)(next_rand(&seed) % FF_ZONE_COUNT);
            got = alloc_in(&f, count, align, zone, &got_pfn);
            want = model_alloc(m, count, align, zone, &want_pfn);
            if (want == FF_OK) live[nlive++] = (block){want_pfn, count};
            if (got != want || (want == FF_OK && got_pfn != want_pfn))
                ff_test_fail(__FILE__, __LINE__,
                             "op %d: alloc(%" PRIu64 ", align %" PRIu64 ", %s) = %s 0x%" PRIx64
                             ", model says %s 0x%" PRIx64,
                             op, count, align, ff_zone_name(zone), ff_status_name(got), got_pfn,
                             ff_status_name(want), want_pfn);
        } else {
            size_t i = (size_t)(next_rand(&seed) % nlive);
            ff_pfn start = live[i].start;
            uint64_t count = live[i].count;
            switch (r % 8) { /* half the frees are wrong in some way */
            case 0: start += 1; break;
            case 1: count += 1; break;
            case 2: count = count > 1 ? count - 1 : 0; break;
            case 3: start = m->base - 2 + next_rand(&seed) % (m->end - m->base + 4); break;
            default: break;
            }
            got = OPS->free(f.b, start, count);
            want = model_free(m, start, count);
            if (want == FF_OK) {
                for (size_t j = 0; j < nlive; j++)
                    if (live[j].start == start) live[j] = live[--nlive];
            }
            if (got != want)
                ff_test_fail(__FILE__, __LINE__,
                             "op %d: free(0x%" PRIx64 ", %" PRIu64 ") = %s, model says %s", op, start,
                             count, ff_status_name(got), ff_status_name(want));
        }
        CHECK_EQ(free_frames(&f), m->free_frames);
        check_clean(&f);
        digest = digest * 31 + (uint64_t)got * 1000003 + got_pfn;
    }
    teardown(&f);
    free(live);
    free(m);
    return digest;
}

/* ---------------------------------------------------------------- tests */

FF_TEST(bitmap_fill_and_drain)
{
    /* A ragged DMA stretch, a hole, then DMA32 RAM ending mid-word. */
    const ff_range ranges[] = {{0x101, 0xeff}, {0x1040, 0x7013}};
    const uint64_t total = 0xeff + 0x7013;
    fixture f;
    setup(&f, ranges, 2);
    CHECK_EQ(free_frames(&f), total);

    ff_pfn *got = calloc(total, sizeof *got);
    CHECK(got);
    uint64_t n = 0;
    ff_pfn pfn;
    while (alloc_in(&f, 1, 0, FF_ZONE_NORMAL, &pfn) == FF_OK) {
        CHECK(n < total);
        /* Next fit over an empty space hands out every frame in ascending order. */
        CHECK_EQ(pfn, n < 0xeff ? 0x101 + n : 0x1040 + (n - 0xeff));
        got[n++] = pfn;
    }
    CHECK_EQ(n, total);
    CHECK_EQ(free_frames(&f), 0);
    check_clean(&f);

    for (uint64_t i = 1; i < n; i += 2) must_free(&f, got[i], 1);
    check_clean(&f);
    for (uint64_t i = 0; i < n; i += 2) must_free(&f, got[i], 1);
    CHECK_EQ(free_frames(&f), total);
    check_clean(&f);

    /* All coalesced again: each range is one run, and no run spans the hole. */
    CHECK_EQ(must_alloc(&f, 0x7013, 0), 0x1040);
    CHECK_EQ(must_alloc(&f, 0xeff, 0), 0x101);
    expect_nomem(&f, 1, 0, FF_ZONE_NORMAL);
    must_free(&f, 0x1040, 0x7013);
    must_free(&f, 0x101, 0xeff);
    expect_nomem(&f, 0x7014, 0, FF_ZONE_NORMAL);
    CHECK_EQ(free_frames(&f), total);
    check_clean(&f);
    free(got);
    teardown(&f);
}

FF_TEST(bitmap_alignment_up_to_2_20)
{
    /* From just past 4 GiB to just below 16 GiB: the only 2^21-aligned frame inside
     * is 0x200000, which the 2^19-aligned request takes. */
    const ff_range ranges[] = {{PFN_4G + 3, (UINT64_C(3) << 20) - 8}};
    fixture f;
    setup(&f, ranges, 1);
    ff_pfn prev_end = PFN_4G + 3;
    for (unsigned shift = 1; shift <= 20; shift++) {
        uint64_t align = UINT64_C(1) << shift;
        ff_pfn pfn = must_alloc(&f, 3, align);
        /* Next fit: the first aligned frame at or past the previous allocation's end. */
        CHECK_EQ(pfn, (prev_end + align - 1) & ~(align - 1));
        prev_end = pfn + 3;
    }
    CHECK_EQ(prev_end, UINT64_C(0x300003));
    /* 0x200000 is taken, and 0x400000 lies past the end. */
    expect_nomem(&f, 1, UINT64_C(1) << 21, FF_ZONE_NORMAL);
    /* Alignment applies to the pfn, not to the bit index: base is not aligned. */
    CHECK_EQ(must_alloc(&f, 1, 64), 0x300040);
    check_clean(&f);
    teardown(&f);
}

FF_TEST(bitmap_run_crosses_word_boundary)
{
    const ff_range ranges[] = {{0x200, 0x100}};
    fixture f;
    setup(&f, ranges, 1);
    ff_pfn a = must_alloc(&f, 60, 0);
    CHECK_EQ(a, 0x200);
    ff_pfn b = must_alloc(&f, 70, 0); /* bit 60 of word 0 to bit 1 of word 2 */
    CHECK_EQ(b, 0x23c);
    ff_pfn c = must_alloc(&f, 0x7e, 0); /* the rest */
    CHECK_EQ(c, 0x282);
    expect_nomem(&f, 1, 0, FF_ZONE_NORMAL);
    /* b's first frame, at bit 60, stops a 61-frame run in a's place. */
    must_free(&f, a, 60);
    check_clean(&f);
    expect_nomem(&f, 61, 0, FF_ZONE_NORMAL);
    CHECK_EQ(must_alloc(&f, 60, 0), 0x200);
    /* b's last frame, bit 1 of word 2, stops a 131-frame run over three words. */
    must_free(&f, 0x200, 60);
    must_free(&f, b, 70);
    expect_nomem(&f, 131, 0, FF_ZONE_NORMAL);
    CHECK_EQ(must_alloc(&f, 130, 0), 0x200);
    must_free(&f, 0x200, 130);
    must_free(&f, c, 0x7e);
    CHECK_EQ(must_alloc(&f, 0x100, 0), 0x200);
    must_free(&f, 0x200, 0x100);
    CHECK_EQ(free_frames(&f), 0x100);
    check_clean(&f);
    teardown(&f);
}

FF_TEST(bitmap_run_crosses_adjacent_ranges_never_holes)
{
    /* Ranges split at 16 MiB are contiguous RAM; a one-frame hole splits the others. */
    const ff_range ranges[] = {{PFN_16M - 0x10, 0x10}, {PFN_16M, 0x10}, {PFN_16M + 0x11, 0x10}};
    fixture f;
    setup(&f, ranges, 3);
    /* DMA alone holds 16 frames; a DMA request may not run into DMA32. */
    expect_nomem(&f, 17, 0, FF_ZONE_DMA);
    expect_nomem(&f, 33, 0, FF_ZONE_NORMAL);
    ff_pfn pfn = must_alloc(&f, 32, 0);
    CHECK_EQ(pfn, PFN_16M - 0x10);
    check_clean(&f);
    /* The last range is 16 frames behind a hole: 17 never fit there. */
    expect_nomem(&f, 17, 0, FF_ZONE_NORMAL);
    CHECK_EQ(must_alloc(&f, 16, 0), PFN_16M + 0x11);
    must_free(&f, pfn, 32);
    must_free(&f, PFN_16M + 0x11, 16);
    /* A free may span the zone split too, but not the hole. */
    expect_rejected(&f, PFN_16M, 0x12, FF_ERR_FOREIGN);
    CHECK_EQ(free_frames(&f), 0x30);
    teardown(&f);
}

FF_TEST(bitmap_tail_frames_are_used_and_nothing_past_them)
{
    /* 70 frames: one full word and 6 bits of the next; then a far range. */
    const ff_range ranges[] = {{0x40, 70}, {0x100, 5}};
    fixture f;
    setup(&f, ranges, 2);
    for (uint64_t i = 0; i < 70; i++) CHECK_EQ(must_alloc(&f, 1, 0), 0x40 + i);
    CHECK_EQ(must_alloc(&f, 1, 0), 0x100);
    for (uint64_t i = 0; i < 70; i++) must_free(&f, 0x40 + i, 1);
    check_clean(&f);
    /* The whole first range is one run; one frame more does not exist. */
    CHECK_EQ(must_alloc(&f, 70, 0), 0x40);
    must_free(&f, 0x40, 70);
    expect_nomem(&f, 71, 0, FF_ZONE_NORMAL);
    expect_rejected(&f, 0x40 + 70, 1, FF_ERR_FOREIGN);
    expect_rejected(&f, 0x40 + 69, 2, FF_ERR_FOREIGN);
    expect_rejected(&f, 0x105, 1, FF_ERR_FOREIGN);
    /* The last range ends mid-word too: its last frame is reachable, the next is not. */
    CHECK_EQ(must_alloc(&f, 4, 0), 0x101);
    expect_rejected(&f, 0x101, 5, FF_ERR_FOREIGN);
    CHECK_EQ(free_frames(&f), 70);
    check_clean(&f);
    teardown(&f);
}

FF_TEST(bitmap_zone_limits)
{
    const ff_range ranges[] = {{PFN_16M - 8, 8}, {PFN_4G - 8, 8}, {PFN_4G, 16}};
    fixture f;
    setup(&f, ranges, 3);
    ff_pfn pfn;
    for (int i = 0; i < 8; i++) {
        CHECK_EQ(alloc_in(&f, 1, 0, FF_ZONE_DMA, &pfn), FF_OK);
        CHECK(pfn < PFN_16M);
    }
    expect_nomem(&f, 1, 0, FF_ZONE_DMA);
    /* DMA32 requests stop at 4 GiB even though the RAM goes on. */
    expect_nomem(&f, 9, 0, FF_ZONE_DMA32);
    CHECK_EQ(alloc_in(&f, 8, 0, FF_ZONE_DMA32, &pfn), FF_OK);
    CHECK_EQ(pfn, PFN_4G - 8);
    expect_nomem(&f, 1, 0, FF_ZONE_DMA32);
    CHECK_EQ(alloc_in(&f, 8, 0, FF_ZONE_NORMAL, &pfn), FF_OK);
    CHECK_EQ(pfn, PFN_4G);
    must_free(&f, PFN_4G - 8, 8);
    /* A hint past the zone end does not hide the zone's free frames. */
    CHECK_EQ(alloc_in(&f, 2, 2, FF_ZONE_DMA32, &pfn), FF_OK);
    CHECK_EQ(pfn, PFN_4G - 8);
    CHECK_EQ(free_frames(&f), 14);
    check_clean(&f);
    teardown(&f);
}

FF_TEST(bitmap_next_fit_ascends_and_wraps)
{
    const ff_range ranges[] = {{0x1000, 0x40}};
    fixture f;
    setup(&f, ranges, 1);
    ff_pfn a = must_alloc(&f, 4, 0), b = must_alloc(&f, 4, 0), c = must_alloc(&f, 4, 0);
    CHECK(a < b && b < c);
    CHECK_EQ(c, 0x1008);
    /* A freed block is not reused while frames after the hint remain. */
    must_free(&f, a, 4);
    CHECK_EQ(must_alloc(&f, 4, 0), 0x100c);
    CHECK_EQ(must_alloc(&f, 0x30, 0), 0x1010);
    /* The hint wrapped to the start of the span: a's frames come next. */
    CHECK_EQ(must_alloc(&f, 2, 0), 0x1000);
    CHECK_EQ(must_alloc(&f, 2, 0), 0x1002);
    expect_nomem(&f, 1, 0, FF_ZONE_NORMAL);
    /* A run may start before the hint and end after it. */
    must_free(&f, 0x1002, 2);
    must_free(&f, b, 4);
    CHECK_EQ(must_alloc(&f, 6, 0), 0x1002);
    check_clean(&f);
    teardown(&f);
}

FF_TEST(bitmap_complete_under_fragmentation)
{
    /* 8192 frames, every other one left free: 4096 free frames and no run of two. */
    const ff_range ranges[] = {{0x5005, 0x2000}};
    fixture f;
    setup(&f, ranges, 1);
    CHECK_EQ(must_alloc(&f, 0x2000, 0), 0x5005);
    must_free(&f, 0x5005, 0x2000);
    for (uint64_t i = 0; i < 0x2000; i++) CHECK_EQ(must_alloc(&f, 1, 0), 0x5005 + i);
    for (uint64_t i = 0; i < 0x2000; i += 2) must_free(&f, 0x5005 + i, 1);
    CHECK_EQ(free_frames(&f), 0x1000);
    check_clean(&f);
    expect_nomem(&f, 2, 0, FF_ZONE_NORMAL);
    expect_nomem(&f, 1, 2, FF_ZONE_NORMAL); /* every free pfn is odd */
    /* One more frame freed deep inside makes exactly one run: 0x635b..0x635d. */
    const ff_pfn mid = 0x5005 + 0x1357; /* 0x635c, an odd index: it was still held */
    must_free(&f, mid, 1);
    expect_nomem(&f, 4, 0, FF_ZONE_NORMAL);
    expect_nomem(&f, 2, 8, FF_ZONE_NORMAL);
    CHECK_EQ(must_alloc(&f, 2, 0), mid - 1);
    must_free(&f, mid - 1, 2);
    CHECK_EQ(must_alloc(&f, 2, 4), mid);
    must_free(&f, mid, 2);
    CHECK_EQ(must_alloc(&f, 3, 0), mid - 1);
    CHECK_EQ(free_frames(&f), 0x1000 - 2);
    check_clean(&f);
    teardown(&f);
}

FF_TEST(bitmap_every_rejection_changes_nothing)
{
    const ff_range ranges[] = {{0x100, 0x100}, {0x300, 0x100}};
    fixture f;
    setup(&f, ranges, 2);
    ff_pfn a = must_alloc(&f, 4, 0), b = must_alloc(&f, 4, 0), c = must_alloc(&f, 8, 0);
    CHECK_EQ(a, 0x100);
    CHECK_EQ(b, 0x104);
    CHECK_EQ(c, 0x108);
    must_free(&f, c, 8); /* frames 0x108.. free again; the hint stays at 0x110 */

    expect_rejected(&f, a, 0, FF_ERR_INVALID);
    expect_rejected(&f, UINT64_MAX - 1, 4, FF_ERR_INVALID);
    expect_rejected(&f, FF_PFN_LIMIT, 1, FF_ERR_INVALID);
    expect_rejected(&f, FF_PFN_LIMIT - 1, 2, FF_ERR_INVALID);
    expect_rejected(&f, a, UINT64_MAX, FF_ERR_INVALID);

    expect_rejected(&f, 0xff, 1, FF_ERR_FOREIGN);       /* below the span */
    expect_rejected(&f, 0xff, 2, FF_ERR_FOREIGN);       /* runs into a */
    expect_rejected(&f, 0x200, 1, FF_ERR_FOREIGN);      /* the hole */
    expect_rejected(&f, 0x1ff, 2, FF_ERR_FOREIGN);      /* into the hole */
    expect_rejected(&f, 0x400, 1, FF_ERR_FOREIGN);      /* past the end */
    expect_rejected(&f, FF_PFN_LIMIT - 1, 1, FF_ERR_FOREIGN);
    expect_rejected(&f, a, 0x200, FF_ERR_FOREIGN);      /* through the hole */

    expect_rejected(&f, c, 8, FF_ERR_DOUBLE);
    expect_rejected(&f, b, 5, FF_ERR_DOUBLE);          /* b and one free frame */
    expect_rejected(&f, b + 3, 2, FF_ERR_DOUBLE);
    expect_rejected(&f, 0x300, 1, FF_ERR_DOUBLE);      /* never allocated */

    expect_rejected(&f, a + 1, 3, FF_ERR_MISALIGNED);
    expect_rejected(&f, a + 3, 1, FF_ERR_MISALIGNED);
    expect_rejected(&f, a + 2, 4, FF_ERR_MISALIGNED);  /* across into b */

    expect_rejected(&f, a, 3, FF_ERR_WRONG_SIZE);      /* short: a + 3 is in use */
    expect_rejected(&f, a, 1, FF_ERR_WRONG_SIZE);
    expect_rejected(&f, a, 8, FF_ERR_WRONG_SIZE);      /* a and b together */
    expect_rejected(&f, b, 3, FF_ERR_WRONG_SIZE);

    /* Nothing moved: the hint is where it was and a and b free exactly. */
    CHECK_EQ(must_alloc(&f, 1, 0), 0x110);
    must_free(&f, a, 4);
    must_free(&f, b, 4);
    must_free(&f, 0x110, 1);
    CHECK_EQ(free_frames(&f), 0x200);
    check_clean(&f);
    teardown(&f);
}

FF_TEST(bitmap_invalid_requests)
{
    const ff_range ranges[] = {{0, 0x80}, {0x100, 0x80}};
    fixture f;
    setup(&f, ranges, 2);
    ff_pfn pfn;
    CHECK_EQ(alloc_in(&f, 0, 0, FF_ZONE_NORMAL, &pfn), FF_ERR_INVALID);
    CHECK_EQ(alloc_in(&f, 1, 3, FF_ZONE_NORMAL, &pfn), FF_ERR_INVALID);
    CHECK_EQ(alloc_in(&f, 1, 6, FF_ZONE_NORMAL, &pfn), FF_ERR_INVALID);
    CHECK_EQ(alloc_in(&f, 1, UINT64_MAX, FF_ZONE_NORMAL, &pfn), FF_ERR_INVALID);
    CHECK_EQ(alloc_in(&f, 1, 0, FF_ZONE_COUNT, &pfn), FF_ERR_INVALID);
    CHECK_EQ(alloc_in(&f, 1, 0, (ff_zone)-1, &pfn), FF_ERR_INVALID);
    CHECK_EQ(alloc_in(&f, FF_PFN_LIMIT + 1, 0, FF_ZONE_NORMAL, &pfn), FF_ERR_INVALID);
    CHECK_EQ(alloc_in(&f, 0x181, 0, FF_ZONE_NORMAL, &pfn), FF_ERR_NOMEM); /* past the span */
    CHECK_EQ(alloc_in(&f, UINT64_MAX, 0, FF_ZONE_NORMAL, &pfn), FF_ERR_INVALID);
    CHECK_EQ(free_frames(&f), 0x100);
    /* Fits the span but not the RAM: a plain out-of-memory. */
    expect_nomem(&f, 0x180, 0, FF_ZONE_NORMAL);
    /* Frame 0 is aligned to every alignment a frame space can have; more is malformed. */
    CHECK_EQ(alloc_in(&f, 1, UINT64_C(1) << 63, FF_ZONE_NORMAL, &pfn), FF_ERR_INVALID);
    CHECK_EQ(alloc_in(&f, 1, FF_PFN_LIMIT, FF_ZONE_NORMAL, &pfn), FF_OK);
    CHECK_EQ(pfn, 0);
    expect_nomem(&f, 1, FF_PFN_LIMIT, FF_ZONE_NORMAL);
    CHECK_EQ(alloc_in(&f, 1, 0x100, FF_ZONE_DMA, &pfn), FF_OK);
    CHECK_EQ(pfn, 0x100);
    check_clean(&f);
    teardown(&f);
}

FF_TEST(bitmap_odd_range_lists)
{
    ff_env env = {0};
    const ff_range unsorted[] = {{0x200, 4}, {0x100, 4}};
    const ff_range overlapping[] = {{0x100, 8}, {0x104, 8}};
    const ff_range too_high[] = {{FF_PFN_LIMIT - 4, 8}};
    CHECK(OPS->create(&env, unsorted, 2) == NULL);
    CHECK(OPS->create(&env, overlapping, 2) == NULL);
    CHECK(OPS->create(&env, too_high, 1) == NULL);
    CHECK(OPS->create(&env, NULL, 1) == NULL);

    /* No RAM at all: nothing to hand out, everything foreign. */
    fixture f;
    setup(&f, NULL, 0);
    ff_pfn pfn;
    CHECK_EQ(free_frames(&f), 0);
    CHECK_EQ(alloc_in(&f, 1, 0, FF_ZONE_NORMAL, &pfn), FF_ERR_NOMEM);
    expect_rejected(&f, 0, 1, FF_ERR_FOREIGN);
    teardown(&f);

    /* Empty ranges are ignored; the very top frame below the limit is usable. */
    const ff_range top[] = {{0x10, 0}, {FF_PFN_LIMIT - 1, 1}};
    setup(&f, top, 2);
    CHECK_EQ(must_alloc(&f, 1, 0), FF_PFN_LIMIT - 1);
    expect_rejected(&f, FF_PFN_LIMIT - 1, 2, FF_ERR_INVALID);
    must_free(&f, FF_PFN_LIMIT - 1, 1);
    check_clean(&f);
    teardown(&f);
}

/* Runs one alloc under a step budget; true when it left through the hang handler. */
static bool alloc_hangs(fixture *f, uint64_t budget, uint64_t count)
{
    jmp_buf on_hang;
    ff_alloc_req req = {.count = count, .zone = FF_ZONE_NORMAL};
    ff_pfn pfn;
    f->env.on_hang = &on_hang;
    f->env.step_budget = budget;
    f->env.steps = 0;
    if (setjmp(on_hang)) return true;
    OPS->alloc(f->b, &req, &pfn);
    f->env.on_hang = NULL;
    f->env.step_budget = 0;
    return false;
}

FF_TEST(bitmap_step_budget_turns_a_long_search_into_a_hang)
{
    const ff_range ranges[] = {{0x1000, 0x1000}};
    fixture f;
    setup(&f, ranges, 1);
    for (uint64_t i = 0; i < 0x1000; i++) must_alloc(&f, 1, 0);
    for (uint64_t i = 0; i < 0x1000; i += 2) must_free(&f, 0x1000 + i, 1);
    /* A 2-frame search visits all 2048 free frames: far past 100 steps. */
    CHECK(alloc_hangs(&f, 100, 2));
    teardown(&f);

    setup(&f, ranges, 1);
    for (uint64_t i = 0; i < 0x1000; i++) must_alloc(&f, 1, 0);
    for (uint64_t i = 0; i < 0x1000; i += 2) must_free(&f, 0x1000 + i, 1);
    CHECK(!alloc_hangs(&f, 1000000, 2));
    CHECK(f.env.steps > 2048);
    /* A single frame is found at once. */
    CHECK(!alloc_hangs(&f, 100, 1));
    teardown(&f);
}

/* A PC with `gib` GiB of RAM: low memory, up to 3 GiB, and the rest above 4 GiB,
 * split at the zone boundaries as the space layer splits it. */
static size_t pc_ranges(ff_range *r, uint64_t gib)
{
    const uint64_t low_top = UINT64_C(0xc0000); /* 3 GiB */
    r[0] = (ff_range){1, 0x9e};
    r[1] = (ff_range){0x100, PFN_16M - 0x100};
    r[2] = (ff_range){PFN_16M, low_top - PFN_16M};
    r[3] = (ff_range){PFN_4G, (gib << 18) - low_top};
    return 4;
}

FF_TEST(bitmap_creates_over_64g_and_1t)
{
    static const uint64_t sizes[] = {64, 1024};
    for (size_t s = 0; s < 2; s++) {
        ff_range r[4];
        size_t n = pc_ranges(r, sizes[s]);
        uint64_t total = 0;
        for (size_t i = 0; i < n; i++) total += r[i].count;
        fixture f;
        memset(&f, 0, sizeof f);
        f.b = OPS->create(&f.env, r, n);
        CHECK(f.b != NULL);
        CHECK_EQ(free_frames(&f), total);
        /* One near the start, one 2 MiB block, one block bigger than low memory. */
        CHECK_EQ(must_alloc(&f, 1, 0), 1);
        CHECK_EQ(must_alloc(&f, 512, 512), 0x200);
        CHECK_EQ(must_alloc(&f, UINT64_C(1) << 20, 0), PFN_4G);
        CHECK_EQ(free_frames(&f), total - 1 - 512 - (UINT64_C(1) << 20));
        if (s == 0) check_clean(&f);
        must_free(&f, 0x200, 512);
        must_free(&f, PFN_4G, UINT64_C(1) << 20);
        must_free(&f, 1, 1);
        CHECK_EQ(free_frames(&f), total);
        teardown(&f);
    }
}

FF_TEST(bitmap_searches_skip_full_memory)
{
    /* 64 GiB above 4 GiB, all of it taken but the last frame. */
    const uint64_t frames = UINT64_C(1) << 24;
    const ff_range ranges[] = {{PFN_4G, frames}};
    fixture f;
    setup(&f, ranges, 1);
    CHECK_EQ(must_alloc(&f, frames - 1, 0), PFN_4G);
    f.env.steps = 0;
    CHECK_EQ(must_alloc(&f, 1, 0), PFN_4G + frames - 1);
    CHECK(f.env.steps < 64);
    /* The hint wrapped to the start: the search crosses 64 GiB of used frames. */
    must_free(&f, PFN_4G + frames - 1, 1);
    f.env.steps = 0;
    CHECK_EQ(must_alloc(&f, 1, 0), PFN_4G + frames - 1);
    CHECK(f.env.steps < 64);
    f.env.steps = 0;
    expect_nomem(&f, 1, 0, FF_ZONE_NORMAL);
    CHECK(f.env.steps < 64);
    /* Freeing the big block lets a 512-frame run be found within a few steps. */
    must_free(&f, PFN_4G, frames - 1);
    f.env.steps = 0;
    CHECK_EQ(must_alloc(&f, 512, 512), PFN_4G);
    CHECK(f.env.steps < 100);
    teardown(&f);
}

/* Layouts for the model: zone splits, holes, ragged and mid-word ends. */
static const ff_range dma_layout[] = {
    {PFN_16M - 0x1f3, 0x100}, {PFN_16M - 0xf0, 0xf0}, {PFN_16M, 0x85}, {PFN_16M + 0x87, 0x1c0},
    {PFN_16M + 0x260, 0x3}, {PFN_16M + 0x264, 0x40},
};
static const ff_range normal_layout[] = {
    {PFN_4G - 0x301, 0x101}, {PFN_4G - 0x180, 0x180}, {PFN_4G, 0x200}, {PFN_4G + 0x240, 0x41},
};

FF_TEST(bitmap_matches_the_reference_model)
{
    model_workload(dma_layout, sizeof dma_layout / sizeof dma_layout[0], 0x1234567, 3000);
    model_workload(normal_layout, sizeof normal_layout / sizeof normal_layout[0], 0xfeedbeef, 3000);
}

FF_TEST(bitmap_is_deterministic)
{
    size_t n = sizeof dma_layout / sizeof dma_layout[0];
    uint64_t first = model_workload(dma_layout, n, 42, 500);
    CHECK_EQ(model_workload(dma_layout, n, 42, 500), first);
    CHECK(model_workload(dma_layout, n, 43, 500) != first);
}
