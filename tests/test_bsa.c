/*
 * test_bsa.c — unit tests of the bsa back-end (allocators/bsa.c), the KNOWN-BUGGY
 * reference target: a faithful model of buddy_system_allocator v0.10
 * FrameAllocator<32> as Asterinas used it in 2024.
 *
 * Most tests here pass BECAUSE the flaws are there: each one reproduces one flaw
 * listed in shared/asterinas-1760.md (F1..F10 as numbered in bsa.c) with exact frames
 * and counters. A test that starts failing means the model drifted from the crate.
 * The rest check that the model works where the crate works, and never crashes.
 */
#include <stdlib.h>

#include "backend.h"

extern const ff_backend_def ff_backend_bsa;
#define OPS (&ff_backend_bsa)
#include "backend_fixture.h"

#define P31 (UINT64_C(1) << 31) /* the largest block: class ORDER-1 = 31 */
#define P32 (UINT64_C(1) << 32)

/* ---------------------------------------------------------------- helpers */

static void setup(fixture *f, const ff_range *ranges, size_t n)
{
    fixture_open(f, ranges, n);
}

static ff_status try_alloc(fixture *f, uint64_t count, ff_pfn *pfn)
{
    return alloc_in(f, count, 0, FF_ZONE_NORMAL, pfn);
}

static ff_pfn must_alloc(fixture *f, uint64_t count)
{
    ff_pfn pfn;
    CHECK_EQ(try_alloc(f, count, &pfn), FF_OK);
    return pfn;
}

/* check() must report a violation whose text contains `what`. */
static void check_reports(fixture *f, const char *what)
{
    const char *why = OPS->check(f->b);
    if (!why) ff_test_fail(__FILE__, __LINE__, "check() found nothing, expected \"%s\"", what);
    if (!strstr(why, what))
        ff_test_fail(__FILE__, __LINE__, "check(): %s (expected \"%s\")", why, what);
}

/* ---------------------------------------------------------------- the crate's own behaviour */

FF_TEST(bsa_policy_declares_known_buggy_reference)
{
    const ff_policy *p = &OPS->policy;
    CHECK_STREQ(OPS->name, "bsa");
    CHECK(strstr(OPS->summary, "KNOWN-BUGGY") != NULL);
    CHECK_EQ(p->placement, FF_PLACE_POW2_NATURAL);
    CHECK_EQ(p->rounding, FF_ROUND_POW2);
    CHECK_EQ(p->free_rule, FF_FREE_PIECEWISE);
    CHECK_EQ(p->max_order, 31);
    CHECK(!p->validates_frees);
    CHECK(!p->honours_zone);
    CHECK(p->honours_align);
    CHECK(!p->needs_backing);
    CHECK_EQ(p->inband_bytes, 0);
    CHECK(OPS->check != NULL);
}

/* The crate's doc example: add_frame(0, 3); alloc(1) == 2; alloc(2) == 0. */
FF_TEST(bsa_crate_doc_example)
{
    const ff_range ranges[] = {{0, 3}};
    fixture f;
    setup(&f, ranges, 1);
    check_clean(&f);
    CHECK_EQ(free_frames(&f), 3);
    CHECK_EQ(must_alloc(&f, 1), 2);
    CHECK_EQ(must_alloc(&f, 2), 0);
    CHECK_EQ(free_frames(&f), 0);
    ff_pfn pfn;
    CHECK_EQ(try_alloc(&f, 1, &pfn), FF_ERR_NOMEM);
    check_clean(&f);
    teardown(&f);
}

/* The crate's test of PR #24: 10^10 frames are cut into 2^31-frame blocks; 2^31 + 1
 * frames is past the largest class; the first 2^31 block is at 2^31, not 0 (F9). */
FF_TEST(bsa_crate_large_range_is_cut_at_max_class)
{
    const ff_range ranges[] = {{0, UINT64_C(10000000000)}};
    fixture f;
    setup(&f, ranges, 1);
    CHECK_EQ(free_frames(&f), UINT64_C(10000000000));
    ff_pfn pfn;
    CHECK_EQ(try_alloc(&f, P31 + 1, &pfn), FF_ERR_INVALID);
    CHECK_EQ(must_alloc(&f, P31), P31);
    CHECK_EQ(must_alloc(&f, P31), P32);
    CHECK_EQ(free_frames(&f), UINT64_C(10000000000) - 2 * P31);
    /* F9: [0, 32) and [32, 64) are buddies add_frame never merged. */
    check_reports(&f, "0x0 and 0x20 are free buddies left unmerged");
    teardown(&f);
}

FF_TEST(bsa_alloc_and_free_merge_back)
{
    const ff_range ranges[] = {{0x100, 0x100}}; /* one class-8 block */
    fixture f;
    setup(&f, ranges, 1);
    check_clean(&f);
    CHECK_EQ(must_alloc(&f, 1), 0x100);
    CHECK_EQ(must_alloc(&f, 2), 0x102);
    CHECK_EQ(must_alloc(&f, 1), 0x101);
    CHECK_EQ(must_alloc(&f, 4), 0x104);
    CHECK_EQ(must_alloc(&f, 5), 0x108); /* rounded to 8 */
    CHECK_EQ(free_frames(&f), 0x100 - 16);
    check_clean(&f);
    must_free(&f, 0x101, 1);
    must_free(&f, 0x108, 5);
    must_free(&f, 0x100, 1);
    must_free(&f, 0x102, 2);
    must_free(&f, 0x104, 4);
    CHECK_EQ(free_frames(&f), 0x100);
    check_clean(&f);
    CHECK_EQ(must_alloc(&f, 0x100), 0x100); /* merged all the way back */
    must_free(&f, 0x100, 0x100);
    check_clean(&f);
    teardown(&f);
}

/* Honest use: every frame once, all different, all back, all merged. */
FF_TEST(bsa_fill_and_drain)
{
    const ff_range ranges[] = {{0x101, 0xeff}, {0x1000, 0x3000}};
    const uint64_t total = 0xeff + 0x3000;
    fixture f;
    setup(&f, ranges, 2);
    check_clean(&f);
    ff_pfn *got = calloc(total, sizeof *got);
    uint8_t *seen = calloc(0x4000, 1);
    CHECK(got && seen);
    uint64_t n = 0;
    ff_pfn pfn;
    while (try_alloc(&f, 1, &pfn) == FF_OK) {
        CHECK(n < total);
        CHECK(pfn >= 0x101 && pfn < 0x4000);
        CHECK(!seen[pfn]);
        seen[pfn] = 1;
        got[n++] = pfn;
    }
    CHECK_EQ(n, total);
    CHECK_EQ(free_frames(&f), 0);
    for (uint64_t i = 1; i < n; i += 2) must_free(&f, got[i], 1);
    check_clean(&f);
    for (uint64_t i = 0; i < n; i += 2) must_free(&f, got[i], 1);
    CHECK_EQ(free_frames(&f), total);
    check_clean(&f);
    CHECK_EQ(must_alloc(&f, 0x2000), 0x2000);
    free(got);
    free(seen);
    teardown(&f);
}

FF_TEST(bsa_alloc_aligned_reserves_the_alignment)
{
    const ff_range ranges[] = {{0x103, 0xfd}};
    fixture f;
    setup(&f, ranges, 1);
    uint64_t before = free_frames(&f);
    ff_pfn pfn;
    CHECK_EQ(alloc_in(&f, 1, 16, FF_ZONE_NORMAL, &pfn), FF_OK);
    CHECK_EQ(pfn, 0x110);
    CHECK_EQ(before - free_frames(&f), 16); /* max(next_power_of_two(1), 16) */
    CHECK_EQ(alloc_in(&f, 3, 2, FF_ZONE_NORMAL, &pfn), FF_OK);
    CHECK_EQ(pfn & 3, 0);
    check_clean(&f);
    teardown(&f);
}

FF_TEST(bsa_zone_limits_and_malformed_requests)
{
    const ff_range ranges[] = {{0x100, 0x100}};
    fixture f;
    setup(&f, ranges, 1);
    ff_pfn pfn;
    CHECK_EQ(alloc_in(&f, 1, 0, FF_ZONE_DMA, &pfn), FF_ERR_UNSUPPORTED);
    CHECK_EQ(alloc_in(&f, 1, 0, FF_ZONE_DMA32, &pfn), FF_ERR_UNSUPPORTED);
    CHECK_EQ(alloc_in(&f, 1, 0, (ff_zone)7, &pfn), FF_ERR_INVALID);
    CHECK_EQ(alloc_in(&f, 1, 3, FF_ZONE_NORMAL, &pfn), FF_ERR_INVALID);
    CHECK_EQ(alloc_in(&f, 1, UINT64_C(1) << 63, FF_ZONE_NORMAL, &pfn), FF_ERR_INVALID);
    CHECK_EQ(alloc_in(&f, 1, P32, FF_ZONE_NORMAL, &pfn), FF_ERR_INVALID);
    CHECK_EQ(try_alloc(&f, UINT64_MAX, &pfn), FF_ERR_INVALID);
    CHECK_EQ(try_alloc(&f, (UINT64_C(1) << 63) + 1, &pfn), FF_ERR_INVALID);
    CHECK_EQ(try_alloc(&f, P31 + 1, &pfn), FF_ERR_INVALID);
    CHECK_EQ(try_alloc(&f, P31, &pfn), FF_ERR_NOMEM);
    CHECK_EQ(try_alloc(&f, 0x101, &pfn), FF_ERR_NOMEM);
    CHECK_EQ(free_frames(&f), 0x100);
    check_clean(&f);
    teardown(&f);
}

/* ---------------------------------------------------------------- the flaws, one by one */

/* #1760 at back-end level (F2): frame 1 is free inside the block [0, 32); dealloc(1, 1)
 * is accepted, check() sees the overlap, and frame 1 is then handed out twice. */
FF_TEST(bsa_flaw_1760_free_inside_free_block)
{
    const ff_range ranges[] = {{0, 32}};
    fixture f;
    setup(&f, ranges, 1);
    check_clean(&f);
    must_free(&f, 1, 1);
    CHECK_EQ(free_frames(&f), 33); /* F10: more free frames than RAM */
    check_reports(&f, "class-0 block at pfn 0x1 overlaps the class-5 block at pfn 0x0");
    CHECK_EQ(must_alloc(&f, 1), 1); /* from the class-0 list */
    CHECK_EQ(must_alloc(&f, 1), 0); /* splitting [0, 32) puts frame 1 back on that list */
    CHECK_EQ(must_alloc(&f, 1), 1); /* handed out a second time */
    CHECK_EQ(free_frames(&f), 30);
    teardown(&f);
}

/* The #1760 ktest replayed on QEMU's low memory: Page::from_unused(0x1000) dropped
 * (dealloc(1, 1)), then 10 and 100 single-frame allocations. Frame 1 comes back as
 * the 24th of the 100, while the first 10 still hold it: Asterinas' from_unused
 * panicked there, under the allocator lock. */
FF_TEST(bsa_flaw_1760_ktest_replay)
{
    const ff_range ranges[] = {{0, 0x9f}, {0x100, 0xf00}};
    fixture f;
    setup(&f, ranges, 2);
    must_free(&f, 1, 1);
    static const ff_pfn first_ten[10] = {1, 0x9e, 0x9c, 0x9d, 0x98, 0x99, 0x9a, 0x9b, 0x90, 0x91};
    for (int i = 0; i < 10; i++) CHECK_EQ(must_alloc(&f, 1), first_ten[i]);
    ff_pfn hundred[100];
    for (int i = 0; i < 100; i++) hundred[i] = must_alloc(&f, 1);
    CHECK_EQ(hundred[21], 0x8f);
    CHECK_EQ(hundred[22], 0);
    CHECK_EQ(hundred[23], 1); /* the double hand-out */
    for (int i = 0; i < 100; i++)
        if (i != 23) CHECK(hundred[i] != 1);
    teardown(&f);
}

/* F1: a frame never added is accepted, counted and handed out. */
FF_TEST(bsa_flaw_foreign_free_is_handed_out)
{
    const ff_range ranges[] = {{0x100, 0x100}};
    fixture f;
    setup(&f, ranges, 1);
    must_free(&f, 0x5000, 1);
    CHECK_EQ(free_frames(&f), 0x101);
    check_reports(&f, "class-0 block at pfn 0x5000 lies outside the RAM given at create");
    CHECK_EQ(must_alloc(&f, 1), 0x5000);
    CHECK_EQ(free_frames(&f), 0x100);
    teardown(&f);
}

/* F2: after the free merged the frame back into [0x100, 0x200), a second free finds
 * no order-0 buddy and inserts it again: handed out twice. */
FF_TEST(bsa_flaw_double_free_after_merge)
{
    const ff_range ranges[] = {{0x100, 0x100}};
    fixture f;
    setup(&f, ranges, 1);
    ff_pfn a = must_alloc(&f, 1);
    CHECK_EQ(a, 0x100);
    must_free(&f, a, 1);
    CHECK_EQ(free_frames(&f), 0x100);
    check_clean(&f);
    must_free(&f, a, 1);
    CHECK_EQ(free_frames(&f), 0x101);
    check_reports(&f, "overlap");
    CHECK_EQ(must_alloc(&f, 1), 0x100);
    CHECK_EQ(must_alloc(&f, 1), 0x100);
    teardown(&f);
}

/* F3: 0x101's buddy 0x100 is in use, so each free just re-inserts 0x101 (ignored) while
 * `allocated` keeps dropping and wraps: free_frames passes the RAM there is (F10). */
FF_TEST(bsa_flaw_double_free_unmerged_counter_drift)
{
    const ff_range ranges[] = {{0x100, 0x100}};
    fixture f;
    setup(&f, ranges, 1);
    CHECK_EQ(must_alloc(&f, 1), 0x100);
    CHECK_EQ(must_alloc(&f, 1), 0x101);
    must_free(&f, 0x101, 1);
    CHECK_EQ(free_frames(&f), 0xff);
    check_clean(&f);
    must_free(&f, 0x101, 1);
    CHECK_EQ(free_frames(&f), 0x100); /* yet 0x100 is still allocated */
    check_reports(&f, "the free lists hold 255 frames but total - allocated = 256");
    must_free(&f, 0x101, 1); /* allocated: 0 -> 2^64 - 1 */
    check_reports(&f, "allocated 18446744073709551615");
    must_free(&f, 0x100, 1);
    CHECK_EQ(free_frames(&f), 0x102);
    CHECK_EQ(must_alloc(&f, 0x100), 0x100); /* the sets themselves are whole again */
    CHECK_EQ(free_frames(&f), 2);
    teardown(&f);
}

/* F4: the 4-frame allocation at 0 freed as dealloc(1, 2) + dealloc(3, 2): the pieces
 * merge into a 4-frame block at frame 1, and alloc(4) returns it. */
FF_TEST(bsa_flaw_misaligned_free_makes_misaligned_block)
{
    const ff_range ranges[] = {{0, 8}};
    fixture f;
    setup(&f, ranges, 1);
    CHECK_EQ(must_alloc(&f, 4), 0);
    must_free(&f, 1, 2);
    must_free(&f, 3, 2);
    CHECK_EQ(free_frames(&f), 8);
    check_reports(&f, "class-2 block at pfn 0x1 is not aligned to its class");
    ff_pfn a = must_alloc(&f, 4);
    CHECK_EQ(a, 1);
    CHECK(a % 4 != 0);
    CHECK_EQ(must_alloc(&f, 4), 4); /* frame 4 now belongs to both */
    teardown(&f);
}

/* F5, the crate's ORDER=4 example (add_frame(0,16), alloc(8), dealloc(0,8)) at
 * ORDER=32: two class-31 buddies (8 TiB each) at frame 2^32. Freeing one merges with
 * the other into class 32, which has no list: all 2^32 frames are lost, while the
 * counter says they are free. Needs 16 TiB of RAM, so no real 2024 machine got here. */
FF_TEST(bsa_flaw_max_order_merge_loses_everything)
{
    const ff_range ranges[] = {{P32, P32}};
    fixture f;
    setup(&f, ranges, 1);
    check_clean(&f); /* class-31 buddies are not expected to merge */
    CHECK_EQ(must_alloc(&f, P31), P32);
    must_free(&f, P32, P31);
    CHECK_EQ(free_frames(&f), P32);
    ff_pfn pfn;
    CHECK_EQ(try_alloc(&f, 1, &pfn), FF_ERR_NOMEM);
    CHECK_EQ(try_alloc(&f, P31, &pfn), FF_ERR_NOMEM);
    check_reports(&f, "the free lists hold 0 frames but total - allocated = 4294967296");
    teardown(&f);
}

/* F5 without any such RAM: two wild frees of 2^31 frames merge past the top, and a
 * free of 2^32 frames or more is dropped whole. Only the counter moves. */
FF_TEST(bsa_flaw_wild_max_order_frees_vanish)
{
    const ff_range ranges[] = {{0x100, 0x100}};
    fixture f;
    setup(&f, ranges, 1);
    must_free(&f, 0, P31);
    must_free(&f, P31, P31);
    must_free(&f, 0x100, P32);
    CHECK_EQ(free_frames(&f), 0x100 + 2 * P31 + P32);
    check_reports(&f, "the free lists hold 256 frames");
    CHECK_EQ(must_alloc(&f, 0x100), 0x100);
    teardown(&f);
}

/* F6: alloc(0) succeeds and takes a real frame. */
FF_TEST(bsa_flaw_alloc_zero_takes_a_frame)
{
    const ff_range ranges[] = {{0x100, 0x100}};
    fixture f;
    setup(&f, ranges, 1);
    ff_pfn pfn;
    CHECK_EQ(try_alloc(&f, 0, &pfn), FF_OK);
    CHECK_EQ(pfn, 0x100);
    CHECK_EQ(free_frames(&f), 0xff);
    CHECK_EQ(must_alloc(&f, 1), 0x101);
    check_clean(&f);
    teardown(&f);
}

/* F7: dealloc(x, 0) is a one-frame free: here of a frame already free, so the counter
 * underflows and frame 0x100 becomes free twice. */
FF_TEST(bsa_flaw_zero_sized_free_moves_the_counter)
{
    const ff_range ranges[] = {{0x100, 0x100}};
    fixture f;
    setup(&f, ranges, 1);
    must_free(&f, 0x100, 0);
    CHECK_EQ(free_frames(&f), 0x101);
    check_reports(&f, "class-8 block at pfn 0x100 overlaps the class-0 block at pfn 0x100");
    teardown(&f);
}

/* F8: alloc(3) reserves 4; the three frames asked for go back one by one (as Asterinas'
 * Page::drop did); the fourth, 0x103, is lost, so the 256-frame block never re-forms. */
FF_TEST(bsa_flaw_rounding_leak)
{
    const ff_range ranges[] = {{0x100, 0x100}};
    fixture f;
    setup(&f, ranges, 1);
    CHECK_EQ(must_alloc(&f, 3), 0x100);
    CHECK_EQ(free_frames(&f), 0xfc);
    must_free(&f, 0x100, 1);
    must_free(&f, 0x101, 1);
    must_free(&f, 0x102, 1);
    CHECK_EQ(free_frames(&f), 0xff);
    check_clean(&f); /* the leak is consistent: nothing structural to see */
    CHECK_EQ(must_alloc(&f, 4), 0x104);
    must_free(&f, 0x104, 4);
    ff_pfn pfn;
    CHECK_EQ(try_alloc(&f, 0x100, &pfn), FF_ERR_NOMEM);
    CHECK_EQ(free_frames(&f), 0xff);
    teardown(&f);
}

/* F9: RAM from frame 0 is cut into 32-frame blocks that are never merged: 64 free,
 * aligned frames at 0, yet alloc(64) fails. */
FF_TEST(bsa_flaw_frame_zero_blocks_never_merge)
{
    const ff_range ranges[] = {{0, 64}};
    fixture f;
    setup(&f, ranges, 1);
    check_reports(&f, "class-5 blocks at pfn 0x0 and 0x20 are free buddies left unmerged");
    ff_pfn pfn;
    CHECK_EQ(try_alloc(&f, 64, &pfn), FF_ERR_NOMEM);
    CHECK_EQ(must_alloc(&f, 32), 0);
    must_free(&f, 0, 32); /* a free does merge them */
    check_clean(&f);
    CHECK_EQ(must_alloc(&f, 64), 0);
    teardown(&f);
}

/* F9: add_frame checks ranges against nothing; overlapping ranges give overlapping
 * blocks and a total counted twice. (The contract promises disjoint ranges; the model
 * still must not break on others.) */
FF_TEST(bsa_flaw_overlapping_ranges_are_not_checked)
{
    const ff_range ranges[] = {{0x100, 0x100}, {0x180, 0x100}};
    fixture f;
    setup(&f, ranges, 2);
    CHECK_EQ(free_frames(&f), 0x200);
    check_reports(&f, "overlap");
    CHECK_EQ(must_alloc(&f, 0x80), 0x180);
    CHECK_EQ(must_alloc(&f, 0x100), 0x100); /* holds 0x180.. again */
    teardown(&f);
}

/* ---------------------------------------------------------------- robustness */

FF_TEST(bsa_wild_inputs_never_crash)
{
    fixture f;
    setup(&f, NULL, 0);
    CHECK_EQ(free_frames(&f), 0);
    must_free(&f, UINT64_MAX, 1);
    must_free(&f, UINT64_MAX, P31); /* misaligned, at the very top */
    must_free(&f, 5, UINT64_C(1) << 40);
    must_free(&f, 0, UINT64_C(1) << 63);
    CHECK_EQ(free_frames(&f), 1 + P31 + (UINT64_C(1) << 40) + (UINT64_C(1) << 63));
    /* The one deviation: Rust's next_power_of_two would overflow. */
    CHECK_EQ(OPS->free(f.b, 1, (UINT64_C(1) << 63) + 1), FF_ERR_INVALID);
    CHECK_EQ(OPS->free(f.b, 1, UINT64_MAX), FF_ERR_INVALID);
    CHECK_EQ(free_frames(&f), 1 + P31 + (UINT64_C(1) << 40) + (UINT64_C(1) << 63));
    CHECK_EQ(must_alloc(&f, 1), UINT64_MAX);
    /* Splitting the block at 2^64 - 1 wraps its upper halves round to 2^30 - 1. */
    CHECK_EQ(must_alloc(&f, 2), (UINT64_C(1) << 30) - 1);
    CHECK(OPS->check(f.b) != NULL);
    for (int i = 0; i < 64; i++) {
        ff_pfn pfn;
        (void)try_alloc(&f, UINT64_C(1) << (i % 32), &pfn);
        (void)OPS->free(f.b, UINT64_MAX - (uint64_t)i * 0x12345, (uint64_t)i << (i % 40));
    }
    CHECK(OPS->check(f.b) != NULL);
    teardown(&f);
}

FF_TEST(bsa_create_refuses_unmanageable_ranges)
{
    ff_env env = {0};
    const ff_range past[] = {{FF_PFN_LIMIT - 1, 2}};
    const ff_range wraps[] = {{UINT64_MAX - 1, 4}};
    CHECK(OPS->create(&env, past, 1) == NULL);
    CHECK(OPS->create(&env, wraps, 1) == NULL);
    CHECK(OPS->create(&env, NULL, 1) == NULL);
    CHECK(OPS->create(NULL, past, 0) == NULL);
    /* Empty and unsorted lists are fine: add_frame takes them as they come. */
    const ff_range odd[] = {{0x500, 0}, {0x300, 0x10}, {0x100, 0x10}, {0x10, 0x10}};
    void *b = OPS->create(&env, odd, 4);
    CHECK(b != NULL);
    CHECK_EQ(OPS->free_frames(b), 0x30);
    CHECK(OPS->check(b) == NULL);
    OPS->destroy(b);
    /* The whole pfn space in one range: 512 blocks of 2^31 plus a few. */
    const ff_range all[] = {{0, FF_PFN_LIMIT}};
    b = OPS->create(&env, all, 1);
    CHECK(b != NULL);
    CHECK_EQ(OPS->free_frames(b), FF_PFN_LIMIT);
    OPS->destroy(b);
    OPS->destroy(NULL);
}

FF_TEST(bsa_step_budget_ends_in_hang)
{
    const ff_range ranges[] = {{0x100, 0x100}};
    fixture f;
    setup(&f, ranges, 1);
    jmp_buf hang;
    f.env.on_hang = &hang;
    f.env.step_budget = 5;
    f.env.steps = 0;
    volatile int jumped = 0;
    if (setjmp(hang) == 0) {
        ff_pfn pfn;
        (void)try_alloc(&f, 1, &pfn); /* nine classes searched, eight splits */
    } else {
        jumped = 1;
    }
    CHECK(jumped);
    CHECK_EQ(f.env.steps, 6);
    teardown(&f); /* destroy stays legal after a hang */
}

/* One random run, with wild frees among honest ones; the trace is a hash of every
 * answer. */
static uint64_t random_run(uint64_t seed)
{
    const ff_range ranges[] = {{0x10, 0x90}, {0x100, 0xf00}, {0x1000, 0x3000}};
    fixture f;
    setup(&f, ranges, 3);
    ff_pfn live[64];
    uint64_t counts[64], trace = 0;
    size_t nlive = 0;
    for (int op = 0; op < 3000; op++) {
        uint64_t r = next_rand(&seed);
        ff_status st;
        ff_pfn pfn = 0;
        if (r % 3 != 0 && nlive < 64) {
            uint64_t count = r >> 60;
            st = try_alloc(&f, count, &pfn);
            if (st == FF_OK) {
                live[nlive] = pfn;
                counts[nlive++] = count;
            }
        } else if (nlive && r % 7 != 0) {
            size_t i = (r >> 8) % nlive;
            st = OPS->free(f.b, live[i], counts[i]);
            live[i] = live[--nlive];
            counts[i] = counts[nlive];
        } else {
            st = OPS->free(f.b, (r >> 16) % 0x5000, (r >> 40) % 9);
        }
        trace = (trace ^ (uint64_t)st ^ pfn ^ free_frames(&f)) * 0x100000001b3u;
    }
    const char *why = OPS->check(f.b);
    trace ^= why ? strlen(why) : 0;
    teardown(&f);
    return trace;
}

FF_TEST(bsa_deterministic)
{
    CHECK_EQ(random_run(42), random_run(42));
    CHECK(random_run(42) != random_run(43));
}
