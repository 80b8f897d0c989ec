/*
 * test_asterinas.c — unit tests of the asterinas back-end (allocators/asterinas.c), the
 * structural model of Asterinas's current frame allocator: its caches, its CPU and
 * global sets, the drain framefuzz asks of it, and the two flaws of the real code it
 * keeps (a cache ignores alignment; balancing near exhaustion panics).
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend.h"

extern const ff_backend_def ff_backend_asterinas;
#define OPS (&ff_backend_asterinas)
#include "backend_fixture.h"

static unsigned running_cpu;
static unsigned on_cpu(const ff_env *env)
{
    (void)env;
    return running_cpu;
}

/* 64 frames from pfn 256: one top chunk of order 6. */
static const ff_range block64[] = {{256, 64}};

static void setup(fixture *f, const ff_range *ranges, size_t n)
{
    running_cpu = 0;
    fixture_open(f, ranges, n);
    f->env.on_cpu = on_cpu;
    check_clean(f);
}

static ff_pfn must_alloc(fixture *f, uint64_t count, uint64_t align)
{
    ff_pfn pfn;
    ff_status st = alloc_in(f, count, align, FF_ZONE_NORMAL, &pfn);
    if (st != FF_OK)
        ff_test_fail(__FILE__, __LINE__, "alloc(%" PRIu64 ", align %" PRIu64 ") = %s", count,
                     align, ff_status_name(st));
    return pfn;
}

FF_TEST(asterinas_policy_declares_what_the_model_does)
{
    const ff_policy *p = &OPS->policy;
    CHECK_EQ(p->placement, FF_PLACE_AS_ASKED);
    CHECK_EQ(p->free_rule, FF_FREE_PIECEWISE);
    CHECK(!p->validates_frees && !p->honours_zone && p->honours_align);
    CHECK_EQ(p->fit_order, 4);
    CHECK(OPS->drain != NULL && OPS->check != NULL && OPS->reset != NULL);
    char err[160];
    CHECK(ff_backend_validate(OPS, err, sizeof err));
}

/* One request for a frame refills the cache with an 8-frame block: the next seven
 * come from it, newest first, and the counter moves by one frame per request. */
FF_TEST(asterinas_a_refill_cuts_one_block)
{
    fixture f;
    setup(&f, block64, 1);
    ff_pfn first = must_alloc(&f, 1, 0);
    CHECK_EQ(first % 8, 0);
    CHECK_EQ(free_frames(&f), 63);
    for (uint64_t i = 7; i >= 1; i--) CHECK_EQ(must_alloc(&f, 1, 0), first + i);
    CHECK_EQ(free_frames(&f), 56);
    check_clean(&f);
    teardown(&f);
}

/* cache.rs sends only `align > size` to the pools: 3 frames aligned to 2 come from the
 * 3-frame cache, cut at +0, +3, +6 and +9 of a 16-aligned block. */
FF_TEST(asterinas_a_cache_ignores_alignment_up_to_its_size)
{
    fixture f;
    setup(&f, block64, 1);
    ff_pfn first = must_alloc(&f, 3, 0);
    CHECK_EQ(must_alloc(&f, 3, 2), first + 9); /* odd: not aligned to 2 */
    ff_pfn four = must_alloc(&f, 3, 4);        /* align > size: the pools, aligned */
    CHECK_EQ(four % 4, 0);
    check_clean(&f);
    teardown(&f);
}

/* Frames freed on one CPU count there: the counter is per CPU, its sum the total. */
FF_TEST(asterinas_counters_are_per_cpu_and_sum)
{
    fixture f;
    setup(&f, block64, 1);
    ff_pfn a = must_alloc(&f, 5, 0);
    running_cpu = 3;
    must_free(&f, a, 5);
    CHECK_EQ(free_frames(&f), 64);
    running_cpu = 5;
    ff_pfn b = must_alloc(&f, 2, 0);
    running_cpu = 0;
    must_free(&f, b, 2);
    CHECK_EQ(free_frames(&f), 64);
    check_clean(&f);
    teardown(&f);
}

/* A 13th frame freed into a full 12-frame cache sends itself and eight more to the
 * pools; everything comes back whole after a drain. */
FF_TEST(asterinas_a_full_cache_flushes_and_a_drain_makes_memory_whole)
{
    fixture f;
    setup(&f, block64, 1);
    ff_pfn frames[16];
    for (unsigned i = 0; i < 16; i++) frames[i] = must_alloc(&f, 1, 0);
    running_cpu = 1;
    for (unsigned i = 0; i < 16; i++) {
        must_free(&f, frames[i], 1);
        check_clean(&f);
    }
    CHECK_EQ(free_frames(&f), 64);
    OPS->drain(f.b);
    CHECK_EQ(free_frames(&f), 64);
    check_clean(&f);
    running_cpu = 2;
    CHECK_EQ(must_alloc(&f, 64, 0), 256);
    teardown(&f);
}

/* What framefuzz relies on: a request that fails with frames in another CPU's cache
 * succeeds once drained (asterinas-drain.clean.txt, at the unit level). */
FF_TEST(asterinas_a_request_fails_until_the_caches_are_drained)
{
    fixture f;
    setup(&f, block64, 1);
    running_cpu = 1;
    ff_pfn one = must_alloc(&f, 1, 0);
    must_free(&f, one, 1);
    running_cpu = 0;
    ff_pfn pfn;
    CHECK_EQ(alloc_in(&f, 64, 0, FF_ZONE_NORMAL, &pfn), FF_ERR_NOMEM);
    CHECK_EQ(free_frames(&f), 64);
    OPS->drain(f.b);
    CHECK_EQ(must_alloc(&f, 64, 0), 256);
    check_clean(&f);
    teardown(&f);
}

static jmp_buf left;
static char left_message[200];
static void on_exit_hook(ff_env *env, ff_exit why, const char *message)
{
    (void)env;
    (void)why;
    snprintf(left_message, sizeof left_message, "%s", message);
}

/* Balancing near exhaustion: the global set at 8 frames makes the expected size of a
 * CPU's set half a page, and lesser_order_of of it overflows (a debug build's panic). */
FF_TEST(asterinas_balancing_near_exhaustion_panics)
{
    static const ff_range small[] = {{256, 25}};
    fixture f;
    setup(&f, small, 1);
    f.env.on_hang = &left;
    f.env.on_exit = on_exit_hook;
    (void)must_alloc(&f, 2, 0);
    if (setjmp(left) == 0) {
        ff_pfn pfn;
        (void)alloc_in(&f, 1, 0, FF_ZONE_NORMAL, &pfn);
        ff_test_fail(__FILE__, __LINE__, "alloc(1) returned; expected the balancing panic");
    }
    CHECK(strstr(left_message, "lesser_order_of") != NULL);
    teardown(&f);
}

/* A chunk freed twice: its first frame already heads a free chunk, which
 * FreeChunk::from_unused refuses with a panic. A frame freed twice into a cache is
 * taken silently, as there. */
FF_TEST(asterinas_a_chunk_freed_twice_panics_a_cached_frame_does_not)
{
    fixture f;
    setup(&f, block64, 1);
    f.env.on_hang = &left;
    f.env.on_exit = on_exit_hook;
    ff_pfn big = must_alloc(&f, 32, 0);
    must_free(&f, big, 32);
    if (setjmp(left) == 0) {
        (void)OPS->free(f.b, big, 32);
        ff_test_fail(__FILE__, __LINE__, "a second free of a free chunk returned");
    }
    CHECK(strstr(left_message, "not unused") != NULL);
    teardown(&f);

    setup(&f, block64, 1);
    ff_pfn one = must_alloc(&f, 1, 0);
    must_free(&f, one, 1);
    must_free(&f, one, 1);
    CHECK_EQ(free_frames(&f), 65); /* counted twice, as the real counter would */
    teardown(&f);
}

/* Malformed and zone-limited requests change nothing. */
FF_TEST(asterinas_refuses_what_it_cannot_serve)
{
    fixture f;
    setup(&f, block64, 1);
    ff_pfn pfn;
    CHECK_EQ(alloc_in(&f, 0, 0, FF_ZONE_NORMAL, &pfn), FF_ERR_INVALID);
    CHECK_EQ(alloc_in(&f, 3, 3, FF_ZONE_NORMAL, &pfn), FF_ERR_INVALID);
    CHECK_EQ(alloc_in(&f, UINT64_C(1) << 31, 0, FF_ZONE_NORMAL, &pfn), FF_ERR_NOMEM);
    CHECK_EQ(alloc_in(&f, (UINT64_C(1) << 31) + 1, 0, FF_ZONE_NORMAL, &pfn), FF_ERR_INVALID);
    CHECK_EQ(alloc_in(&f, 1, 0, FF_ZONE_DMA32, &pfn), FF_ERR_UNSUPPORTED);
    CHECK_EQ(OPS->free(f.b, 256, 0), FF_ERR_INVALID);
    CHECK_EQ(free_frames(&f), 64);
    check_clean(&f);
    teardown(&f);
}

/* Seeded traffic over eight CPUs on a large range, kept under half full: every answer
 * is a fresh run of exactly the frames asked, the structures hold after each call, and
 * a reset instance answers as a fresh one. */
FF_TEST(asterinas_random_traffic_across_cpus_and_reset)
{
    static const ff_range ram[] = {{0x100, 0x3f00}, {0x4000, 0x4000}};
    fixture f = {.env = {.resets = true, .on_cpu = on_cpu}}; /* keeps an undo log */
    running_cpu = 0;
    f.b = OPS->create(&f.env, ram, 2);
    CHECK(f.b != NULL);
    uint64_t total = free_frames(&f);
    ff_pfn first_answers[64];
    for (int round = 0; round < 2; round++) {
        struct { ff_pfn start; uint64_t count; } live[256];
        size_t nlive = 0;
        uint64_t seed = 0x5eed, used = 0;
        for (unsigned step = 0; step < 3000; step++) {
            running_cpu = (unsigned)(next_rand(&seed) % FF_MAX_CPUS);
            bool grow = nlive == 0 || (nlive < 256 && next_rand(&seed) % 2);
            if (grow) {
                uint64_t count = 1 + next_rand(&seed) % 6, align = UINT64_C(1) << (next_rand(&seed) % 3);
                if (used + count > total / 2) continue;
                ff_pfn pfn;
                ff_status st = alloc_in(&f, count, align, FF_ZONE_NORMAL, &pfn);
                CHECK_EQ(st, FF_OK);
                if (step < 64) {
                    if (round == 0) first_answers[step] = pfn;
                    else CHECK_EQ(pfn, first_answers[step]);
                }
                for (size_t i = 0; i < nlive; i++)
                    CHECK(pfn + count <= live[i].start || live[i].start + live[i].count <= pfn);
                live[nlive].start = pfn;
                live[nlive++].count = count;
                used += count;
            } else {
                size_t i = (size_t)(next_rand(&seed) % nlive);
                must_free(&f, live[i].start, live[i].count);
                used -= live[i].count;
                live[i] = live[--nlive];
            }
            CHECK_EQ(free_frames(&f), total - used);
            if (step % 50 == 0) check_clean(&f);
        }
        for (size_t i = 0; i < nlive; i++) must_free(&f, live[i].start, live[i].count);
        CHECK_EQ(free_frames(&f), total);
        check_clean(&f);
        CHECK(OPS->reset(f.b));
        check_clean(&f);
        CHECK_EQ(free_frames(&f), total);
    }
    teardown(&f);
}
