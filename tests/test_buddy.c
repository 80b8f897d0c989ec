/*
 * test_buddy.c — unit tests of the buddy back-end (allocators/buddy.c).
 *
 * Each test builds an instance over a small hand-drawn RAM layout and asserts exact
 * placements, counters and rejection codes; check() runs after every phase.
 */
#include <stdlib.h>

#include "backend.h"
#include "bugs.h"

extern const ff_backend_def ff_backend_buddy;
#define OPS (&ff_backend_buddy)
#include "backend_fixture.h"

#define PFN_16M UINT64_C(0x1000)    /* DMA | DMA32 */
#define PFN_4G  UINT64_C(0x100000)  /* DMA32 | Normal */
#define ORDER18 (UINT64_C(1) << 18)

/* ---------------------------------------------------------------- helpers */

static void setup(fixture *f, const ff_range *ranges, size_t n)
{
    fixture_open(f, ranges, n);
    CHECK(OPS->check(f->b) == NULL);
}

/* Allocates anywhere and insists it works. */
static ff_pfn must_alloc(fixture *f, uint64_t count, uint64_t align)
{
    ff_pfn pfn;
    CHECK_EQ(alloc_in(f, count, align, FF_ZONE_NORMAL, &pfn), FF_OK);
    return pfn;
}

/* ---------------------------------------------------------------- tests */

FF_TEST(buddy_fill_and_drain)
{
    /* Low DMA memory with a ragged start, then an aligned DMA32 stretch whose largest
     * block is order 14 at 0x4000. */
    const ff_range ranges[] = {{0x101, 0xeff}, {0x1000, 0x7000}};
    const uint64_t total = 0xeff + 0x7000;
    fixture f;
    setup(&f, ranges, 2);
    CHECK_EQ(free_frames(&f), total);

    ff_pfn *got = calloc(total, sizeof *got);
    uint8_t *seen = calloc(0x8000, 1);
    CHECK(got && seen);
    uint64_t n = 0;
    ff_pfn pfn;
    while (alloc_in(&f, 1, 0, FF_ZONE_NORMAL, &pfn) == FF_OK) {
        CHECK(n < total);
        CHECK((pfn >= 0x101 && pfn < 0x1000) || (pfn >= 0x1000 && pfn < 0x8000));
        CHECK(!seen[pfn]);
        seen[pfn] = 1;
        got[n++] = pfn;
    }
    CHECK_EQ(n, total);
    CHECK_EQ(free_frames(&f), 0);
    CHECK_EQ(alloc_in(&f, 1, 0, FF_ZONE_NORMAL, &pfn), FF_ERR_NOMEM);
    check_clean(&f);

    /* Odd positions first, so most frees find their buddy still allocated. */
    for (uint64_t i = 1; i < n; i += 2) CHECK_EQ(OPS->free(f.b, got[i], 1), FF_OK);
    check_clean(&f);
    for (uint64_t i = 0; i < n; i += 2) CHECK_EQ(OPS->free(f.b, got[i], 1), FF_OK);
    CHECK_EQ(free_frames(&f), total);
    check_clean(&f);

    /* Everything merged back: the order-14 block and the order-13 one are whole. */
    CHECK_EQ(must_alloc(&f, 0x4000, 0), 0x4000);
    CHECK_EQ(must_alloc(&f, 0x2000, 0), 0x2000);
    CHECK_EQ(alloc_in(&f, 0x2000, 0, FF_ZONE_NORMAL, &pfn), FF_ERR_NOMEM);
    CHECK_EQ(OPS->free(f.b, 0x4000, 0x4000), FF_OK);
    CHECK_EQ(OPS->free(f.b, 0x2000, 0x2000), FF_OK);
    CHECK_EQ(free_frames(&f), total);
    check_clean(&f);
    free(got);
    free(seen);
    teardown(&f);
}

FF_TEST(buddy_max_order_remerges)
{
    const ff_range ranges[] = {{PFN_4G, ORDER18}};
    fixture f;
    setup(&f, ranges, 1);
    ff_pfn blocks[512], pfn;
    for (unsigned i = 0; i < 512; i++) {
        blocks[i] = must_alloc(&f, 512, 0);
        CHECK_EQ(blocks[i] & 511, 0);
    }
    CHECK_EQ(alloc_in(&f, 1, 0, FF_ZONE_NORMAL, &pfn), FF_ERR_NOMEM);
    for (unsigned i = 0; i < 512; i++) /* 7 is odd: visits every index once */
        CHECK_EQ(OPS->free(f.b, blocks[i * 7 % 512], 512), FF_OK);
    check_clean(&f);
    CHECK_EQ(must_alloc(&f, ORDER18, 0), PFN_4G);
    CHECK_EQ(free_frames(&f), 0);
    CHECK_EQ(OPS->free(f.b, PFN_4G, ORDER18), FF_OK);
    CHECK_EQ(free_frames(&f), ORDER18);
    teardown(&f);
}

FF_TEST(buddy_natural_alignment)
{
    const ff_range ranges[] = {{0x1003, 0xfffd}, {PFN_4G, 2 * ORDER18}};
    fixture f;
    setup(&f, ranges, 2);
    const uint64_t initial = free_frames(&f);
    static const uint64_t aligns[] = {0, 1, 2, 4, 8, 64, 512, 4096};
    ff_pfn starts[24 * 8];
    uint64_t counts[24 * 8], n = 0;
    for (uint64_t count = 1; count <= 24; count++) {
        for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++) {
            uint64_t before = free_frames(&f);
            ff_pfn pfn = must_alloc(&f, count, aligns[a]);
            uint64_t need = count > aligns[a] ? count : aligns[a];
            CHECK_EQ(pfn & ((UINT64_C(1) << ff_log2_ceil(need)) - 1), 0);
            CHECK_EQ(before - free_frames(&f), count);
            starts[n] = pfn;
            counts[n++] = count;
        }
    }
    check_clean(&f);
    for (uint64_t i = 0; i < n; i++) CHECK_EQ(OPS->free(f.b, starts[i], counts[i]), FF_OK);
    CHECK_EQ(free_frames(&f), initial);
    check_clean(&f);

    /* The largest alignment there is. */
    ff_pfn pfn = must_alloc(&f, 1, ORDER18);
    CHECK(pfn == PFN_4G || pfn == PFN_4G + ORDER18);
    CHECK_EQ(free_frames(&f), initial - 1);
    CHECK_EQ(OPS->free(f.b, pfn, 1), FF_OK);
    check_clean(&f);
    teardown(&f);
}

FF_TEST(buddy_gives_back_excess)
{
    /* One order-8 block. */
    const ff_range ranges[] = {{PFN_16M, 0x100}};
    fixture f;
    setup(&f, ranges, 1);
    ff_pfn a = must_alloc(&f, 3, 0);
    CHECK_EQ(a, PFN_16M);
    CHECK_EQ(free_frames(&f), 0x100 - 3);
    check_clean(&f);
    /* The fourth frame of the order-2 block went back and is the smallest free block. */
    CHECK_EQ(must_alloc(&f, 1, 0), PFN_16M + 3);
    /* 5 frames in an order-3 block: three come back; the order-3 block was 0x1008. */
    ff_pfn c = must_alloc(&f, 5, 0);
    CHECK_EQ(c, PFN_16M + 8);
    CHECK_EQ(free_frames(&f), 0x100 - 9);
    CHECK_EQ(must_alloc(&f, 2, 0), PFN_16M + 0xe); /* the order-1 piece given back */
    CHECK_EQ(must_alloc(&f, 1, 0), PFN_16M + 0xd); /* the order-0 piece */
    CHECK_EQ(OPS->free(f.b, PFN_16M + 0xd, 1), FF_OK);
    CHECK_EQ(OPS->free(f.b, PFN_16M + 0xe, 2), FF_OK);
    CHECK_EQ(OPS->free(f.b, c, 5), FF_OK);
    CHECK_EQ(OPS->free(f.b, PFN_16M + 3, 1), FF_OK);
    CHECK_EQ(OPS->free(f.b, a, 3), FF_OK);
    CHECK_EQ(free_frames(&f), 0x100);
    check_clean(&f);
    CHECK_EQ(must_alloc(&f, 0x100, 0), PFN_16M);
    teardown(&f);
}

FF_TEST(buddy_smallest_order_first)
{
    /* One order-6 block in DMA32; whittled down to free blocks of orders 0, 2 and 5. */
    const ff_range ranges[] = {{PFN_16M, 0x40}};
    fixture f;
    setup(&f, ranges, 1);
    ff_pfn pfn;
    CHECK_EQ(must_alloc(&f, 1, 0), PFN_16M);
    CHECK_EQ(must_alloc(&f, 2, 0), PFN_16M + 0x2);
    CHECK_EQ(must_alloc(&f, 8, 0), PFN_16M + 0x8);
    CHECK_EQ(must_alloc(&f, 16, 0), PFN_16M + 0x10);
    check_clean(&f);
    /* Each request takes the smallest block that fits, never a larger one. */
    CHECK_EQ(must_alloc(&f, 1, 0), PFN_16M + 0x1);
    CHECK_EQ(must_alloc(&f, 2, 0), PFN_16M + 0x4); /* splits the order-2 block */
    CHECK_EQ(must_alloc(&f, 2, 0), PFN_16M + 0x6); /* its other half, not order 5 */
    CHECK_EQ(must_alloc(&f, 32, 0), PFN_16M + 0x20);
    CHECK_EQ(alloc_in(&f, 1, 0, FF_ZONE_NORMAL, &pfn), FF_ERR_NOMEM);
    static const ff_pfn held[][2] = {{0x0, 1},  {0x1, 1},  {0x2, 2},  {0x4, 2},
                                     {0x6, 2},  {0x8, 8},  {0x10, 16}, {0x20, 32}};
    for (size_t i = 0; i < sizeof held / sizeof held[0]; i++)
        CHECK_EQ(OPS->free(f.b, PFN_16M + held[i][0], held[i][1]), FF_OK);
    check_clean(&f);
    CHECK_EQ(must_alloc(&f, 0x40, 0), PFN_16M);
    teardown(&f);

    /* The zone comes first: Normal's order-9 block is split although DMA32 holds a
     * single free frame, as Linux's zonelist does. */
    const ff_range two_zones[] = {{PFN_16M, 2}, {PFN_4G, 0x200}};
    setup(&f, two_zones, 2);
    CHECK_EQ(alloc_in(&f, 1, 0, FF_ZONE_DMA32, &pfn), FF_OK);
    CHECK_EQ(pfn, PFN_16M);
    CHECK_EQ(must_alloc(&f, 1, 0), PFN_4G);
    CHECK_EQ(alloc_in(&f, 1, 0, FF_ZONE_DMA32, &pfn), FF_OK);
    CHECK_EQ(pfn, PFN_16M + 1);
    check_clean(&f);
    teardown(&f);
}

FF_TEST(buddy_spare_then_last_freed)
{
    /* One order-4 block: single-frame allocations come out in address order. */
    const ff_range ranges[] = {{PFN_16M, 0x10}};
    fixture f;
    setup(&f, ranges, 1);
    for (ff_pfn i = 0; i < 0x10; i++) CHECK_EQ(must_alloc(&f, 1, 0), PFN_16M + i);

    /* Four order-0 blocks whose buddies are held: the first freed becomes the area's
     * spare, the others its list, last freed first. */
    for (ff_pfn i = 0; i < 8; i += 2) CHECK_EQ(OPS->free(f.b, PFN_16M + i, 1), FF_OK);
    check_clean(&f);
    /* Merges take the buddy from wherever it is: the list's tail, then its middle. */
    CHECK_EQ(OPS->free(f.b, PFN_16M + 3, 1), FF_OK); /* 2+3: order 1, the order's spare */
    check_clean(&f);
    CHECK_EQ(OPS->free(f.b, PFN_16M + 5, 1), FF_OK); /* 4+5: order 1, on its list */
    check_clean(&f);
    expect_rejected(&f, PFN_16M + 2, 1, FF_ERR_DOUBLE);
    expect_rejected(&f, PFN_16M + 5, 1, FF_ERR_DOUBLE);

    /* Single frames: order 0's spare, its list; then order 1's spare and list, split. */
    static const ff_pfn order[] = {0x0, 0x6, 0x2, 0x3, 0x4, 0x5};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        CHECK_EQ(must_alloc(&f, 1, 0), PFN_16M + order[i]);
    ff_pfn pfn;
    CHECK_EQ(alloc_in(&f, 1, 0, FF_ZONE_NORMAL, &pfn), FF_ERR_NOMEM);
    check_clean(&f);
    for (ff_pfn i = 0; i < 0x10; i++) CHECK_EQ(OPS->free(f.b, PFN_16M + i, 1), FF_OK);
    check_clean(&f);
    CHECK_EQ(must_alloc(&f, 0x10, 0), PFN_16M);
    teardown(&f);
}

FF_TEST(buddy_zone_limits)
{
    const ff_range ranges[] = {{0x100, 0xf00}, {PFN_16M, 0x2000}, {PFN_4G, 0x400}};
    fixture f;
    setup(&f, ranges, 3);
    ff_pfn pfn;
    /* Fallback order: Normal, then DMA32, then DMA. */
    CHECK(must_alloc(&f, 1, 0) >= PFN_4G);
    CHECK_EQ(alloc_in(&f, 1, 0, FF_ZONE_DMA32, &pfn), FF_OK);
    CHECK(pfn >= PFN_16M && pfn < PFN_4G);
    CHECK_EQ(alloc_in(&f, 1, 0, FF_ZONE_DMA, &pfn), FF_OK);
    CHECK(pfn < PFN_16M);

    /* Drain DMA with DMA requests: never above 16 MiB, and all of it is reachable. */
    uint64_t dma = 1;
    while (alloc_in(&f, 1, 0, FF_ZONE_DMA, &pfn) == FF_OK) {
        CHECK(pfn >= 0x100 && pfn < PFN_16M);
        dma++;
    }
    CHECK_EQ(dma, 0xf00);
    /* DMA32 requests never reach 4 GiB and fail once DMA32 is gone. */
    uint64_t dma32 = 1;
    while (alloc_in(&f, 16, 0, FF_ZONE_DMA32, &pfn) == FF_OK) {
        CHECK(pfn >= PFN_16M && pfn + 16 <= PFN_4G);
        dma32 += 16;
    }
    CHECK_EQ(free_frames(&f), 0x400 - 1 + 0x2000 - dma32);
    CHECK(free_frames(&f) >= 0x400 - 1);
    check_clean(&f);
    teardown(&f);
}

FF_TEST(buddy_no_merge_across_dma_boundary)
{
    /* [0, 16 MiB) and [16 MiB, 32 MiB) are order-12 buddies, but in different zones. */
    const ff_range ranges[] = {{0, PFN_16M}, {PFN_16M, PFN_16M}};
    fixture f;
    setup(&f, ranges, 2);
    ff_pfn pfn;
    for (int round = 0; round < 2; round++) {
        CHECK_EQ(alloc_in(&f, 0x2000, 0, FF_ZONE_NORMAL, &pfn), FF_ERR_NOMEM);
        CHECK_EQ(alloc_in(&f, 1, 0x2000, FF_ZONE_NORMAL, &pfn), FF_ERR_NOMEM);
        CHECK_EQ(must_alloc(&f, PFN_16M, 0), PFN_16M);
        CHECK_EQ(must_alloc(&f, PFN_16M, 0), 0);
        CHECK_EQ(OPS->free(f.b, 0, PFN_16M), FF_OK);
        CHECK_EQ(OPS->free(f.b, PFN_16M, PFN_16M), FF_OK);
        check_clean(&f);
        /* Churn with order-8 blocks (none may straddle 16 MiB), then look again. */
        ff_pfn got[32];
        for (int i = 0; i < 32; i++) {
            got[i] = must_alloc(&f, 0x100, 0);
            CHECK(got[i] >= PFN_16M || got[i] + 0x100 <= PFN_16M);
        }
        for (int i = 0; i < 32; i++) CHECK_EQ(OPS->free(f.b, got[i], 0x100), FF_OK);
        CHECK_EQ(free_frames(&f), 2 * PFN_16M);
    }
    teardown(&f);
}

FF_TEST(buddy_straddling_ranges_never_cross)
{
    /* Ragged edges either side of 16 MiB: every block stays on its side. */
    const ff_range ranges[] = {{0xc05, PFN_16M - 0xc05}, {PFN_16M, 0x3fb}};
    fixture f;
    setup(&f, ranges, 2);
    uint64_t total = free_frames(&f);
    CHECK_EQ(total, PFN_16M - 0xc05 + 0x3fb);
    static const uint64_t sizes[] = {1, 3, 8, 13, 64, 100};
    ff_pfn got[256], pfn;
    uint64_t counts[256], n = 0;
    for (int i = 0; n < 256; i++) {
        uint64_t count = sizes[i % 6];
        if (alloc_in(&f, count, 0, FF_ZONE_NORMAL, &pfn) != FF_OK) {
            if (count == 1) break;
            continue;
        }
        CHECK(pfn >= 0xc05 && pfn + count <= PFN_16M + 0x3fb);
        CHECK(pfn >= PFN_16M || pfn + count <= PFN_16M);
        got[n] = pfn;
        counts[n++] = count;
    }
    check_clean(&f);
    for (uint64_t i = 0; i < n; i++) CHECK_EQ(OPS->free(f.b, got[i], counts[i]), FF_OK);
    CHECK_EQ(free_frames(&f), total);
    check_clean(&f);
    teardown(&f);
}

FF_TEST(buddy_no_merge_across_hole)
{
    /* 0x1000 (order 9) has its buddy 0x1200 in the hole; 0x1400 is order 10. */
    const ff_range ranges[] = {{PFN_16M, 0x200}, {0x1400, 0x400}};
    fixture f;
    setup(&f, ranges, 2);
    ff_pfn got[0x600], pfn;
    for (int i = 0; i < 0x600; i++) got[i] = must_alloc(&f, 1, 0);
    CHECK_EQ(alloc_in(&f, 1, 0, FF_ZONE_NORMAL, &pfn), FF_ERR_NOMEM);
    for (int i = 0x5ff; i >= 0; i--) CHECK_EQ(OPS->free(f.b, got[i], 1), FF_OK);
    check_clean(&f);
    CHECK_EQ(free_frames(&f), 0x600);
    CHECK_EQ(alloc_in(&f, 0x800, 0, FF_ZONE_NORMAL, &pfn), FF_ERR_NOMEM);
    CHECK_EQ(must_alloc(&f, 0x400, 0), 0x1400);
    CHECK_EQ(alloc_in(&f, 0x400, 0, FF_ZONE_NORMAL, &pfn), FF_ERR_NOMEM);
    CHECK_EQ(must_alloc(&f, 0x200, 0), PFN_16M);
    teardown(&f);
}

/* With the injected double free, frame 5 of the map is listed again while it lies inside
 * the merged free block at the map's start; the next alloc(1) hands it out from there. */
static void allocation_inside_a_free_block(ff_pfn base, uint64_t frames, const char *verdict)
{
    const ff_range ranges[] = {{base, frames}};
    fixture f;
    setup(&f, ranges, 1);
    f.env.bug = FF_BUG_BUDDY_DOUBLE_FREE_MERGED;
    for (unsigned i = 0; i < 6; i++) CHECK_EQ(must_alloc(&f, 1, 0), base + i);
    must_free(&f, base + 5, 1);
    for (unsigned i = 0; i < 5; i++) must_free(&f, base + i, 1);
    check_clean(&f);
    must_free(&f, base + 5, 1); /* accepted: the bug */
    CHECK_EQ(must_alloc(&f, 1, 0), base + 5);
    const char *why = OPS->check(f.b);
    CHECK(why != NULL);
    if (why) CHECK_STREQ(why, verdict);
    teardown(&f);
}

FF_TEST(buddy_check_finds_an_allocation_inside_a_free_block)
{
    allocation_inside_a_free_block(PFN_16M, 64,
                                   "allocation at pfn 0x1005 lies inside the block at 0x1000");
    /* The walk asks the order-18 block for allocations inside it through the summaries,
     * 64 words of 4,096 frames each: the one at +5 must still be met. */
    allocation_inside_a_free_block(PFN_4G, ORDER18,
                                   "allocation at pfn 0x100005 lies inside the block at 0x100000");
}

FF_TEST(buddy_rejected_frees_change_nothing)
{
    const ff_range ranges[] = {{0x100, 0x100}, {0x300, 0x100}};
    fixture f;
    setup(&f, ranges, 2);
    /* 0x100 is the first order-8 chunk freed at create: the spare, split first. */
    ff_pfn a = must_alloc(&f, 4, 0);
    ff_pfn x = must_alloc(&f, 1, 0);
    ff_pfn y = must_alloc(&f, 1, 0);
    ff_pfn c = must_alloc(&f, 3, 0);
    CHECK_EQ(a, 0x100);
    CHECK_EQ(x, 0x104);
    CHECK_EQ(y, 0x105); /* x and y: both halves of one order-1 block */
    CHECK_EQ(c, 0x108);
    uint64_t held = free_frames(&f);

    expect_rejected(&f, a, 0, FF_ERR_INVALID);
    expect_rejected(&f, UINT64_MAX, 2, FF_ERR_INVALID);
    expect_rejected(&f, a, UINT64_MAX, FF_ERR_INVALID);
    expect_rejected(&f, FF_PFN_LIMIT - 1, 2, FF_ERR_INVALID);
    expect_rejected(&f, FF_PFN_LIMIT, 1, FF_ERR_INVALID);

    expect_rejected(&f, 0x250, 1, FF_ERR_FOREIGN);      /* the hole */
    expect_rejected(&f, 0x1ff, 2, FF_ERR_FOREIGN);      /* runs into the hole */
    expect_rejected(&f, 0x50, 1, FF_ERR_FOREIGN);       /* below RAM */
    expect_rejected(&f, 0x400, 1, FF_ERR_FOREIGN);      /* just past RAM */
    expect_rejected(&f, FF_PFN_LIMIT - 1, 1, FF_ERR_FOREIGN);
    expect_rejected(&f, a, 0x1000, FF_ERR_FOREIGN);     /* huge, crosses the hole */

    expect_rejected(&f, a, 8, FF_ERR_DOUBLE);           /* 0x106 is free */
    expect_rejected(&f, c, 4, FF_ERR_DOUBLE);           /* c + 3 went back */
    expect_rejected(&f, c + 1, 3, FF_ERR_DOUBLE);       /* c + 3 is free: beats misaligned */
    expect_rejected(&f, c + 3, 1, FF_ERR_DOUBLE);

    expect_rejected(&f, a + 1, 1, FF_ERR_MISALIGNED);
    expect_rejected(&f, a + 1, 3, FF_ERR_MISALIGNED);
    expect_rejected(&f, c + 2, 1, FF_ERR_MISALIGNED);

    expect_rejected(&f, a, 1, FF_ERR_WRONG_SIZE);
    expect_rejected(&f, a, 3, FF_ERR_WRONG_SIZE);
    expect_rejected(&f, x, 2, FF_ERR_WRONG_SIZE);       /* two whole allocations */
    expect_rejected(&f, c, 2, FF_ERR_WRONG_SIZE);
    expect_rejected(&f, c, 1ull << 20, FF_ERR_FOREIGN); /* size checks come after RAM */

    CHECK_EQ(free_frames(&f), held);
    CHECK_EQ(OPS->free(f.b, a, 4), FF_OK);
    CHECK_EQ(OPS->free(f.b, c, 3), FF_OK);
    CHECK_EQ(OPS->free(f.b, x, 1), FF_OK);
    expect_rejected(&f, x, 1, FF_ERR_DOUBLE);
    expect_rejected(&f, a, 4, FF_ERR_DOUBLE);
    CHECK_EQ(OPS->free(f.b, y, 1), FF_OK);
    CHECK_EQ(free_frames(&f), 0x200);
    check_clean(&f);
    teardown(&f);
}

FF_TEST(buddy_invalid_requests)
{
    const ff_range ranges[] = {{PFN_16M, 0x1000}};
    fixture f;
    setup(&f, ranges, 1);
    ff_pfn pfn;
    CHECK_EQ(alloc_in(&f, 0, 0, FF_ZONE_NORMAL, &pfn), FF_ERR_INVALID);
    CHECK_EQ(alloc_in(&f, 1, 3, FF_ZONE_NORMAL, &pfn), FF_ERR_INVALID);
    CHECK_EQ(alloc_in(&f, 1, 0x600, FF_ZONE_NORMAL, &pfn), FF_ERR_INVALID);
    CHECK_EQ(alloc_in(&f, 1, ORDER18 << 1, FF_ZONE_NORMAL, &pfn), FF_ERR_INVALID);
    CHECK_EQ(alloc_in(&f, 1, UINT64_C(1) << 63, FF_ZONE_NORMAL, &pfn), FF_ERR_INVALID);
    CHECK_EQ(alloc_in(&f, ORDER18 + 1, 0, FF_ZONE_NORMAL, &pfn), FF_ERR_INVALID);
    CHECK_EQ(alloc_in(&f, UINT64_MAX, 0, FF_ZONE_NORMAL, &pfn), FF_ERR_INVALID);
    CHECK_EQ(alloc_in(&f, 1, 0, FF_ZONE_COUNT, &pfn), FF_ERR_INVALID);
    CHECK_EQ(alloc_in(&f, 1, 0, (ff_zone)-1, &pfn), FF_ERR_INVALID);
    CHECK_EQ(pfn, ~(ff_pfn)0); /* no answer written */
    /* At the maximum: well-formed, only too big for this RAM. */
    CHECK_EQ(alloc_in(&f, ORDER18, 0, FF_ZONE_NORMAL, &pfn), FF_ERR_NOMEM);
    CHECK_EQ(alloc_in(&f, 1, ORDER18, FF_ZONE_NORMAL, &pfn), FF_ERR_NOMEM);
    CHECK_EQ(free_frames(&f), 0x1000);
    check_clean(&f);
    CHECK_EQ(must_alloc(&f, 0x1000, 0), PFN_16M);
    teardown(&f);
}

FF_TEST(buddy_bad_range_lists)
{
    ff_env env = {0};
    const ff_range unsorted[] = {{0x2000, 0x10}, {0x1000, 0x10}};
    const ff_range overlapping[] = {{0x1000, 0x20}, {0x1010, 0x20}};
    const ff_range too_high[] = {{FF_PFN_LIMIT - 1, 2}};
    CHECK(OPS->create(&env, unsorted, 2) == NULL);
    CHECK(OPS->create(&env, overlapping, 2) == NULL);
    CHECK(OPS->create(&env, too_high, 1) == NULL);

    /* No RAM at all, or only empty ranges: an allocator with nothing in it. */
    const ff_range empty[] = {{0x1000, 0}};
    void *b = OPS->create(&env, empty, 1);
    CHECK(b != NULL);
    ff_alloc_req req = {.count = 1, .zone = FF_ZONE_NORMAL};
    ff_pfn pfn;
    CHECK_EQ(OPS->alloc(b, &req, &pfn), FF_ERR_NOMEM);
    CHECK_EQ(OPS->free(b, 0x1000, 1), FF_ERR_FOREIGN);
    CHECK_EQ(OPS->free_frames(b), 0);
    CHECK(OPS->check(b) == NULL);
    OPS->destroy(b);

    /* A span of 2^40 frames: either too big for the host or managed; never a crash. */
    const ff_range far_apart[] = {{0, 1}, {FF_PFN_LIMIT - 1, 1}};
    b = OPS->create(&env, far_apart, 2);
    if (b) {
        CHECK_EQ(OPS->alloc(b, &req, &pfn), FF_OK);
        CHECK_EQ(pfn, FF_PFN_LIMIT - 1);
        CHECK_EQ(OPS->free(b, pfn, 1), FF_OK);
        CHECK_EQ(OPS->free(b, 1, 1), FF_ERR_FOREIGN);
        OPS->destroy(b);
    }

    /* A range straddling 16 MiB (against the contract) is still split at it. */
    const ff_range straddle[] = {{0, 0x2000}};
    fixture f;
    setup(&f, straddle, 1);
    CHECK_EQ(alloc_in(&f, 0x2000, 0, FF_ZONE_NORMAL, &pfn), FF_ERR_NOMEM);
    CHECK_EQ(must_alloc(&f, PFN_16M, 0), PFN_16M);
    teardown(&f);
}

FF_TEST(buddy_step_budget)
{
    const ff_range ranges[] = {{PFN_4G, ORDER18}};
    fixture f;
    setup(&f, ranges, 1);
    jmp_buf hang;
    f.env.on_hang = &hang;
    f.env.step_budget = 12;

    /* Half the block: one split, nothing given back. */
    f.env.steps = 0;
    ff_pfn pfn = must_alloc(&f, ORDER18 / 2, 0);
    CHECK_EQ(pfn, PFN_4G);
    CHECK(f.env.steps > 0 && f.env.steps <= 12);
    f.env.steps = 0;
    CHECK_EQ(OPS->free(f.b, pfn, ORDER18 / 2), FF_OK);

    /* 4097 frames: five splits, then the 4095-frame excess goes back as 12 chunks. */
    volatile int jumped = 0;
    f.env.steps = 0;
    if (setjmp(hang) == 0) {
        ff_alloc_req req = {.count = 4097, .zone = FF_ZONE_NORMAL};
        (void)OPS->alloc(f.b, &req, &pfn);
    } else {
        jumped = 1;
    }
    CHECK(jumped);
    CHECK_EQ(f.env.steps, 13);
    teardown(&f); /* destroy stays legal after a hang */
}

FF_TEST(buddy_terabyte_space)
{
    /* [1, 2^28): 1 TiB less one frame, zone-split as the space would hand it over. */
    const ff_range ranges[] = {{1, PFN_16M - 1}, {PFN_16M, PFN_4G - PFN_16M},
                               {PFN_4G, (UINT64_C(1) << 28) - PFN_4G}};
    const uint64_t total = (UINT64_C(1) << 28) - 1;
    fixture f = {0};
    f.b = OPS->create(&f.env, ranges, 3); /* no check(): it would walk every frame */
    CHECK(f.b != NULL);
    CHECK_EQ(free_frames(&f), total);

    /* Normal holds only order-18 blocks: the first one freed is the spare, taken
     * first, and the merge puts it back as the spare. */
    ff_pfn pfn;
    CHECK_EQ(must_alloc(&f, 1, 0), PFN_4G);
    CHECK_EQ(free_frames(&f), total - 1);
    CHECK_EQ(OPS->free(f.b, PFN_4G, 1), FF_OK);
    CHECK_EQ(must_alloc(&f, ORDER18, 0), PFN_4G);
    /* Then the listed ones, last freed first: the top block. */
    CHECK_EQ(must_alloc(&f, ORDER18, 0), (UINT64_C(1) << 28) - ORDER18);
    CHECK_EQ(OPS->free(f.b, (UINT64_C(1) << 28) - ORDER18, ORDER18), FF_OK);
    CHECK_EQ(OPS->free(f.b, PFN_4G, ORDER18), FF_OK);
    /* DMA starts at pfn 1, its only order-0 block. */
    CHECK_EQ(alloc_in(&f, 1, 0, FF_ZONE_DMA, &pfn), FF_OK);
    CHECK_EQ(pfn, 1);
    CHECK_EQ(OPS->free(f.b, 1, 1), FF_OK);
    CHECK_EQ(free_frames(&f), total);
    CHECK_EQ(OPS->free(f.b, 0, 1), FF_ERR_FOREIGN);
    CHECK_EQ(OPS->free(f.b, 1, 1), FF_ERR_DOUBLE);
    CHECK_EQ(free_frames(&f), total);
    teardown(&f);
}

/* Runs a fixed pseudo-random workload; returns a digest of every answer. */
static uint64_t run_workload(uint64_t seed)
{
    const ff_range ranges[] = {{0x21, 0x7df}, {0x900, 0x700}, {PFN_16M, 0x3000}};
    fixture f;
    setup(&f, ranges, 3);
    ff_pfn starts[64] = {0};
    uint64_t counts[64] = {0}, digest = 0, rng = seed;
    for (int op = 0; op < 3000; op++) {
        uint64_t r = next_rand(&rng);
        unsigned slot = (unsigned)(r % 64);
        ff_status st;
        if (counts[slot]) {
            st = OPS->free(f.b, starts[slot], counts[slot]);
            CHECK_EQ(st, FF_OK);
            counts[slot] = 0;
        } else {
            uint64_t count = 1 + (r >> 8) % 40, align = UINT64_C(1) << ((r >> 16) % 5);
            ff_zone zone = (ff_zone)((r >> 24) % FF_ZONE_COUNT);
            ff_pfn pfn;
            st = alloc_in(&f, count, align, zone, &pfn);
            if (st == FF_OK) {
                CHECK(pfn < ff_zone_end(zone));
                starts[slot] = pfn;
                counts[slot] = count;
                digest = digest * 31 + pfn;
            }
        }
        digest = digest * 31 + (uint64_t)st + free_frames(&f);
        if (op % 500 == 0) check_clean(&f);
    }
    check_clean(&f);
    teardown(&f);
    return digest;
}

FF_TEST(buddy_deterministic)
{
    uint64_t first = run_workload(0x9e3779b97f4a7c15u);
    CHECK_EQ(run_workload(0x9e3779b97f4a7c15u), first);
    CHECK(run_workload(12345) != first);
}

/* ---------------------------------------------------------------- against a shadow */

/*
 * A random workload judged frame by frame against a shadow of the space: every frame
 * not RAM, free, or owned by one live allocation. Allocations must land on free RAM,
 * naturally aligned, inside one zone within the limit; NOMEM must mean that no free
 * aligned block of that order lies in an allowed zone; every free, good or bad, must
 * get the answer the shadow predicts, and bad ones must change nothing.
 */
#define SHADOW_FRAMES (PFN_4G + 0x1000)
#define SHADOW_LIVE   128
#define NOT_RAM       0
#define FREE          1 /* then 2 + the slot of the owning allocation */

typedef struct shadow {
    fixture f;
    const ff_range *ranges;
    size_t nranges;
    uint16_t *owner; /* per frame */
    ff_pfn start[SHADOW_LIVE];
    uint64_t count[SHADOW_LIVE]; /* 0: slot unused */
    uint64_t free;
} shadow;

/* The answer a free of [start, start + count) must get. */
static ff_status shadow_verdict(const shadow *s, ff_pfn start, uint64_t count)
{
    if (count == 0 || start >= FF_PFN_LIMIT || count > FF_PFN_LIMIT - start) return FF_ERR_INVALID;
    for (ff_pfn p = start; p < start + count; p++)
        if (p >= SHADOW_FRAMES || s->owner[p] == NOT_RAM) return FF_ERR_FOREIGN;
    unsigned slot = s->owner[start] - 2u;
    if (s->owner[start] != FREE && s->start[slot] == start && s->count[slot] == count)
        return FF_OK;
    for (ff_pfn p = start; p < start + count; p++)
        if (s->owner[p] == FREE) return FF_ERR_DOUBLE;
    return s->start[slot] == start ? FF_ERR_WRONG_SIZE : FF_ERR_MISALIGNED;
}

/* Is a free, aligned block of 2^order frames inside one zone no higher than `zone`? */
static bool shadow_has_block(const shadow *s, unsigned order, ff_zone zone)
{
    uint64_t size = UINT64_C(1) << order;
    for (size_t r = 0; r < s->nranges; r++) {
        ff_pfn end = ff_range_end(s->ranges[r]);
        for (ff_pfn p = (s->ranges[r].start + size - 1) & ~(size - 1); p + size <= end; p += size) {
            if (ff_zone_of(p) != ff_zone_of(p + size - 1) || ff_zone_of(p) > zone) continue;
            uint64_t i = 0;
            while (i < size && s->owner[p + i] == FREE) i++;
            if (i == size) return true;
        }
    }
    return false;
}

static void shadow_alloc(shadow *s, uint64_t r)
{
    unsigned slot = 0;
    while (slot < SHADOW_LIVE && s->count[slot]) slot++;
    if (slot == SHADOW_LIVE) return;
    uint64_t count = (r >> 8) % 10 < 7 ? 1 + (r >> 16) % 8
                     : (r >> 8) % 10 < 9 ? 1 + (r >> 16) % 64
                                          : 1 + (r >> 16) % 700;
    uint64_t align = (r >> 32) & 1 ? 0 : UINT64_C(1) << ((r >> 33) % 10);
    ff_zone zone = (ff_zone)((r >> 40) % FF_ZONE_COUNT);
    unsigned want = ff_log2_ceil(count > align ? count : align);
    ff_pfn pfn;
    ff_status st = alloc_in(&s->f, count, align, zone, &pfn);
    if (st == FF_ERR_NOMEM) {
        if (shadow_has_block(s, want, zone))
            ff_test_fail(__FILE__, __LINE__, "alloc(%" PRIu64 ", align %" PRIu64 ", %s) = nomem "
                         "though a free order-%u block fits", count, align, ff_zone_name(zone), want);
        return;
    }
    CHECK_EQ(st, FF_OK);
    CHECK(pfn + count <= SHADOW_FRAMES);
    CHECK_EQ(pfn & ((UINT64_C(1) << want) - 1), 0);
    CHECK(ff_zone_of(pfn + count - 1) == ff_zone_of(pfn) && ff_zone_of(pfn) <= zone);
    for (ff_pfn p = pfn; p < pfn + count; p++) {
        if (s->owner[p] != FREE)
            ff_test_fail(__FILE__, __LINE__, "alloc handed out frame 0x%" PRIx64 " (shadow %u)",
                         p, s->owner[p]);
        s->owner[p] = (uint16_t)(2 + slot);
    }
    s->start[slot] = pfn;
    s->count[slot] = count;
    s->free -= count;
    CHECK_EQ(free_frames(&s->f), s->free);
}

/* Frees [start, start + count) and insists on the shadow's verdict. */
static void shadow_free(shadow *s, ff_pfn start, uint64_t count)
{
    ff_status want = shadow_verdict(s, start, count), got = OPS->free(s->f.b, start, count);
    if (got != want)
        ff_test_fail(__FILE__, __LINE__, "free(0x%" PRIx64 ", %" PRIu64 ") = %s, want %s", start,
                     count, ff_status_name(got), ff_status_name(want));
    if (got == FF_OK) {
        unsigned slot = s->owner[start] - 2u;
        for (ff_pfn p = start; p < start + count; p++) s->owner[p] = FREE;
        s->count[slot] = 0;
        s->free += count;
    }
    CHECK_EQ(free_frames(&s->f), s->free);
}

/* A free that names anything: free or held frames, holes, parts of an allocation. */
static void shadow_bad_free(shadow *s, uint64_t r)
{
    unsigned slot = (unsigned)((r >> 16) % SHADOW_LIVE);
    switch ((r >> 8) % 4) {
    case 0: shadow_free(s, (r >> 24) % (PFN_16M + 0x4000), 1 + (r >> 56) % 4); break;
    case 1: shadow_free(s, PFN_4G + (r >> 24) % 0x1000, 1 + (r >> 56) % 4); break;
    case 2:
        if (s->count[slot]) shadow_free(s, s->start[slot], s->count[slot] + (r >> 24) % 3 - 1);
        break;
    default:
        if (s->count[slot]) shadow_free(s, s->start[slot] + 1 + (r >> 24) % s->count[slot], 1);
        break;
    }
}

static void run_against_shadow(uint64_t seed)
{
    /* Ragged DMA with a hole, a run joined across 16 MiB, ragged DMA32, some Normal. */
    static const ff_range ranges[] = {{0x21, 0x7df},   {0x900, 0x700}, {PFN_16M, 0x1c00},
                                      {0x3003, 0xffd}, {PFN_4G, 0x800}};
    shadow *s = calloc(1, sizeof *s);
    CHECK(s != NULL);
    s->owner = calloc(SHADOW_FRAMES, sizeof *s->owner);
    CHECK(s->owner != NULL);
    s->ranges = ranges;
    s->nranges = sizeof ranges / sizeof ranges[0];
    for (size_t r = 0; r < s->nranges; r++) {
        for (ff_pfn p = ranges[r].start; p < ff_range_end(ranges[r]); p++) s->owner[p] = FREE;
        s->free += ranges[r].count;
    }
    setup(&s->f, ranges, s->nranges);
    CHECK_EQ(free_frames(&s->f), s->free);

    uint64_t rng = seed;
    for (int op = 1; op <= 3000; op++) {
        uint64_t r = next_rand(&rng), slot = (r >> 48) % SHADOW_LIVE;
        if (r % 100 < 50)
            shadow_alloc(s, r);
        else if (r % 100 < 85 && s->count[slot])
            shadow_free(s, s->start[slot], s->count[slot]);
        else
            shadow_bad_free(s, r);
        if (op % 300 == 0) check_clean(&s->f);
    }
    for (unsigned slot = 0; slot < SHADOW_LIVE; slot++)
        if (s->count[slot]) shadow_free(s, s->start[slot], s->count[slot]);
    check_clean(&s->f);
    /* All merged back: the largest blocks the layout has are whole again. */
    ff_pfn pfn;
    CHECK_EQ(alloc_in(&s->f, 0x800, 0, FF_ZONE_NORMAL, &pfn), FF_OK);
    CHECK_EQ(pfn, PFN_4G);
    CHECK_EQ(alloc_in(&s->f, 0x1000, 0, FF_ZONE_DMA32, &pfn), FF_OK);
    CHECK_EQ(pfn, PFN_16M);
    teardown(&s->f);
    free(s->owner);
    free(s);
}

FF_TEST(buddy_random_against_shadow)
{
    run_against_shadow(0x9e3779b97f4a7c15u);
    run_against_shadow(0x2545f4914f6cdd1du);
}
