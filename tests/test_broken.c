/*
 * test_broken.c — unit tests of the TEST-ONLY broken back-ends (tests/support/broken.c).
 *
 * First the control, broken-none, is held to the contract: first fit in address
 * order, holes never crossed, zone and align honoured, every bad free rejected with
 * the right code and no change, and a seeded random run checked step by step
 * against a frame-by-frame model of first fit. Then one test per variant shows its
 * flaw happening exactly as specified, on concrete values, and shows a
 * near-identical input behaving like the control.
 *
 * Most tests use one map (pfns):
 *   A [0x10, 0x40)   48 frames
 *   hole
 *   B [0x50, 0x60)   16 frames
 *   hole
 *   C [0xff0, 0x1010) 32 frames, given as two ranges split at the DMA end (0x1000)
 */
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "broken.h"
#include "unit.h"

#define MAP_FRAMES 96u
static const ff_range map[] = {
    {0x10, 0x30}, {0x50, 0x10}, {0xff0, 0x10}, {0x1000, 0x10},
};
#define MAP_N (sizeof map / sizeof map[0])

/* ---------------------------------------------------------------- one instance */

typedef struct rig {
    const ff_backend_def *def;
    ff_env env; /* the instance keeps a pointer to it: a rig never moves */
    void *b;
} rig;

static void rig_open_ranges(rig *r, const char *name, const ff_range *ranges, size_t n)
{
    memset(r, 0, sizeof *r);
    r->def = ff_broken_find(name);
    CHECK(r->def != NULL);
    r->b = r->def->create(&r->env, ranges, n);
    CHECK(r->b != NULL);
    CHECK(r->def->check(r->b) == NULL);
}

static void rig_open(rig *r, const char *name) { rig_open_ranges(r, name, map, MAP_N); }
static void rig_close(rig *r) { r->def->destroy(r->b); }
static uint64_t counter(const rig *r) { return r->def->free_frames(r->b); }
static const char *check_of(rig *r) { return r->def->check(r->b); }

static ff_status try_alloc(rig *r, uint64_t count, uint64_t align, ff_zone zone, ff_pfn *at)
{
    ff_alloc_req req = {.count = count, .align = align, .zone = zone};
    *at = ~(ff_pfn)0;
    return r->def->alloc(r->b, &req, at);
}

static ff_pfn take_at(const char *file, int line, rig *r, uint64_t count, uint64_t align,
                      ff_zone zone)
{
    ff_pfn at;
    ff_status st = try_alloc(r, count, align, zone, &at);
    if (st != FF_OK)
        ff_test_fail(file, line, "%s: alloc(%" PRIu64 ", align %" PRIu64 ", %s) = %s", r->def->name,
                     count, align, ff_zone_name(zone), ff_status_name(st));
    return at;
}

static void give_at(const char *file, int line, rig *r, ff_pfn start, uint64_t count)
{
    ff_status st = r->def->free(r->b, start, count);
    if (st != FF_OK)
        ff_test_fail(file, line, "%s: free(0x%" PRIx64 ", %" PRIu64 ") = %s", r->def->name, start,
                     count, ff_status_name(st));
}

/* A rejected free answers `want` and changes neither the counter nor check(). */
static void refused_at(const char *file, int line, rig *r, ff_pfn start, uint64_t count,
                       ff_status want)
{
    uint64_t before = counter(r);
    bool clean_before = check_of(r) == NULL;
    ff_status got = r->def->free(r->b, start, count);
    if (got != want)
        ff_test_fail(file, line, "%s: free(0x%" PRIx64 ", %" PRIu64 ") = %s, want %s", r->def->name,
                     start, count, ff_status_name(got), ff_status_name(want));
    if (counter(r) != before)
        ff_test_fail(file, line, "rejected free moved the counter %" PRIu64 " -> %" PRIu64, before,
                     counter(r));
    if (clean_before && check_of(r))
        ff_test_fail(file, line, "rejected free broke check(): %s", check_of(r));
}

static void clean_at(const char *file, int line, rig *r)
{
    const char *why = check_of(r);
    if (why) ff_test_fail(file, line, "%s: check(): %s", r->def->name, why);
}

#define TAKE(r, count, align, zone) take_at(__FILE__, __LINE__, r, count, align, zone)
#define TAKE1(r, count)             TAKE(r, count, 0, FF_ZONE_NORMAL)
#define GIVE(r, start, count)       give_at(__FILE__, __LINE__, r, start, count)
#define REFUSED(r, start, count, want) refused_at(__FILE__, __LINE__, r, start, count, want)
#define CLEAN(r)                    clean_at(__FILE__, __LINE__, r)
#define DIRTY(r)                    CHECK(check_of(r) != NULL)

/* ---------------------------------------------------------------- registry */

FF_TEST(broken_registry_lists_every_variant_once)
{
    static const char *const names[] = {
        "broken-none",    "broken-foreign",  "broken-double",  "broken-wrongsize",
        "broken-misaligned", "broken-rejects", "broken-handout", "broken-outofmap",
        "broken-zone",    "broken-misalign", "broken-reserve", "broken-oom",
        "broken-leak",    "broken-drift",    "broken-hang",    "broken-corrupt",
        "broken-poison",  "broken-badreq",   "broken-code",   "broken-selflock", "broken-irqlocal", "broken-unguarded",
    };
    CHECK_EQ(ff_broken_backend_count, sizeof names / sizeof names[0]);
    const ff_backend_def *none = ff_broken_find("broken-none");
    CHECK(none == ff_broken_backends[0]);
    for (size_t i = 0; i < ff_broken_backend_count; i++) {
        const ff_backend_def *def = ff_broken_backends[i];
        CHECK_STREQ(def->name, names[i]);
        CHECK(strlen(def->name) <= 20);
        CHECK(ff_broken_find(names[i]) == def);
        CHECK(def->summary && def->summary[0]);
        CHECK(def->create && def->destroy && def->alloc && def->free && def->free_frames &&
              def->check);
        for (size_t j = 0; j < i; j++) CHECK(ff_broken_backends[j]->create != def->create);
        bool poison = strcmp(def->name, "broken-poison") == 0;
        CHECK_EQ(def->policy.needs_backing, poison);
        CHECK_EQ(def->policy.inband_bytes, poison ? 8 : 0);
        CHECK_EQ(def->policy.placement, FF_PLACE_ANY_RUN);
        CHECK_EQ(def->policy.rounding, FF_ROUND_NONE);
        CHECK_EQ(def->policy.free_rule, FF_FREE_EXACT);
        CHECK_EQ(def->policy.max_order, FF_ORDER_ANY);
        CHECK(def->policy.validates_frees && def->policy.honours_zone && def->policy.honours_align);
    }
    CHECK(ff_broken_find("none") == NULL);
    CHECK(ff_broken_find("bitmap") == NULL);
    CHECK(ff_broken_find("broken-") == NULL);
    CHECK(ff_broken_find(NULL) == NULL);
}

FF_TEST(broken_every_variant_round_trips_like_the_control)
{
    for (size_t i = 0; i < ff_broken_backend_count; i++) {
        rig r;
        rig_open(&r, ff_broken_backends[i]->name);
        CHECK_EQ(counter(&r), MAP_FRAMES);
        CHECK_EQ(TAKE1(&r, 1), 0x10);
        CHECK_EQ(TAKE(&r, 1, 1, FF_ZONE_NORMAL), 0x11);
        CHECK_EQ(counter(&r), MAP_FRAMES - 2);
        CLEAN(&r);
        REFUSED(&r, 0x10, 0, FF_ERR_INVALID);
        GIVE(&r, 0x10, 1);
        GIVE(&r, 0x11, 1);
        CHECK_EQ(counter(&r), MAP_FRAMES);
        CLEAN(&r);
        rig_close(&r);
    }
}

/* ---------------------------------------------------------------- the control */

FF_TEST(broken_none_creates_over_any_range_list)
{
    const ff_backend_def *def = ff_broken_find("broken-none");
    ff_env env = {0};
    CHECK(def->create(NULL, map, MAP_N) == NULL);
    CHECK(def->create(&env, NULL, 2) == NULL);
    const ff_range unsorted[] = {{0x50, 4}, {0x10, 4}};
    CHECK(def->create(&env, unsorted, 2) == NULL);
    const ff_range overlapping[] = {{0x10, 8}, {0x14, 8}};
    CHECK(def->create(&env, overlapping, 2) == NULL);
    const ff_range beyond[] = {{FF_PFN_LIMIT - 1, 2}};
    CHECK(def->create(&env, beyond, 1) == NULL);

    rig r;
    rig_open_ranges(&r, "broken-none", NULL, 0);
    ff_pfn at;
    CHECK_EQ(counter(&r), 0);
    CHECK_EQ(try_alloc(&r, 1, 0, FF_ZONE_NORMAL, &at), FF_ERR_NOMEM);
    REFUSED(&r, 0x10, 1, FF_ERR_FOREIGN);
    CLEAN(&r);
    rig_close(&r);

    /* Empty ranges are skipped; the top of the frame space is fine. */
    const ff_range edges[] = {{0x10, 0}, {FF_PFN_LIMIT - 2, 2}};
    rig_open_ranges(&r, "broken-none", edges, 2);
    CHECK_EQ(counter(&r), 2);
    CHECK_EQ(TAKE1(&r, 2), FF_PFN_LIMIT - 2);
    REFUSED(&r, FF_PFN_LIMIT - 1, 2, FF_ERR_INVALID);
    GIVE(&r, FF_PFN_LIMIT - 2, 2);
    rig_close(&r);
}

FF_TEST(broken_none_first_fit_in_address_order)
{
    rig r;
    rig_open(&r, "broken-none");
    CHECK_EQ(TAKE1(&r, 1), 0x10);
    CHECK_EQ(TAKE1(&r, 2), 0x11);
    CHECK_EQ(TAKE(&r, 1, 4, FF_ZONE_NORMAL), 0x14);
    CHECK_EQ(TAKE1(&r, 1), 0x13); /* the gap the aligned block left */
    CHECK_EQ(TAKE1(&r, 1), 0x15);
    CHECK_EQ(counter(&r), MAP_FRAMES - 6);
    CLEAN(&r);
    GIVE(&r, 0x11, 2);
    CHECK_EQ(TAKE1(&r, 1), 0x11); /* lowest first */
    CHECK_EQ(TAKE1(&r, 2), 0x16);  /* the one-frame gap at 0x12 is too small */
    CHECK_EQ(TAKE1(&r, 1), 0x12);
    CHECK_EQ(counter(&r), MAP_FRAMES - 8);
    CLEAN(&r);
    rig_close(&r);
}

FF_TEST(broken_none_crosses_zones_never_holes_and_fills_up)
{
    rig r;
    rig_open(&r, "broken-none");
    CHECK_EQ(TAKE1(&r, 40), 0x10);
    CHECK_EQ(TAKE1(&r, 10), 0x50);  /* 8 frames left in A: skip to B, not across the hole */
    CHECK_EQ(TAKE1(&r, 20), 0xff0); /* crosses the DMA end inside one run of RAM */
    CHECK_EQ(TAKE1(&r, 8), 0x38);
    CHECK_EQ(TAKE1(&r, 6), 0x5a);
    CHECK_EQ(TAKE1(&r, 12), 0x1004);
    CHECK_EQ(counter(&r), 0);
    CLEAN(&r);
    ff_pfn at;
    CHECK_EQ(try_alloc(&r, 1, 0, FF_ZONE_NORMAL, &at), FF_ERR_NOMEM);
    CHECK_EQ(counter(&r), 0);
    GIVE(&r, 0x38, 8);
    GIVE(&r, 0x50, 10);
    CHECK_EQ(try_alloc(&r, 11, 0, FF_ZONE_NORMAL, &at), FF_ERR_NOMEM);
    CHECK_EQ(TAKE1(&r, 8), 0x38);
    CHECK_EQ(TAKE1(&r, 10), 0x50);
    CLEAN(&r);
    rig_close(&r);
}

FF_TEST(broken_none_honours_zone_limits_and_alignment)
{
    rig r;
    /* RAM on both sides of the DMA end. */
    const ff_range dma_edge[] = {{0xff0, 0x10}, {0x1000, 0x10}};
    rig_open_ranges(&r, "broken-none", dma_edge, 2);
    ff_pfn at;
    CHECK_EQ(try_alloc(&r, 17, 0, FF_ZONE_DMA, &at), FF_ERR_NOMEM);
    CHECK_EQ(TAKE(&r, 17, 0, FF_ZONE_DMA32), 0xff0);
    GIVE(&r, 0xff0, 17);
    CHECK_EQ(TAKE(&r, 16, 0, FF_ZONE_DMA), 0xff0); /* ends exactly at the zone end */
    GIVE(&r, 0xff0, 16);
    CHECK_EQ(try_alloc(&r, 1, 0x1000, FF_ZONE_DMA, &at), FF_ERR_NOMEM);
    CHECK_EQ(TAKE(&r, 1, 0x800, FF_ZONE_NORMAL), 0x1000);
    CHECK_EQ(TAKE(&r, 2, 8, FF_ZONE_NORMAL), 0xff0);
    CHECK_EQ(TAKE(&r, 2, 8, FF_ZONE_DMA), 0xff8);
    CHECK_EQ(counter(&r), 27);
    CLEAN(&r);
    rig_close(&r);

    /* RAM on both sides of the DMA32 end (4 GiB). */
    const ff_range dma32_edge[] = {{FF_ZONE_DMA32_END_PFN - 8, 8}, {FF_ZONE_DMA32_END_PFN, 8}};
    rig_open_ranges(&r, "broken-none", dma32_edge, 2);
    CHECK_EQ(try_alloc(&r, 9, 0, FF_ZONE_DMA32, &at), FF_ERR_NOMEM);
    CHECK_EQ(try_alloc(&r, 1, 0, FF_ZONE_DMA, &at), FF_ERR_NOMEM);
    CHECK_EQ(TAKE(&r, 8, 0, FF_ZONE_DMA32), FF_ZONE_DMA32_END_PFN - 8);
    CHECK_EQ(try_alloc(&r, 1, 0, FF_ZONE_DMA32, &at), FF_ERR_NOMEM);
    CHECK_EQ(TAKE(&r, 1, 0, FF_ZONE_NORMAL), FF_ZONE_DMA32_END_PFN);
    CLEAN(&r);
    rig_close(&r);

    rig_open(&r, "broken-none");
    CHECK_EQ(TAKE(&r, 1, 0x20, FF_ZONE_NORMAL), 0x20);
    CHECK_EQ(TAKE(&r, 1, 0, FF_ZONE_NORMAL), 0x10); /* 0 and 1 mean no alignment */
    CHECK_EQ(TAKE(&r, 1, 1, FF_ZONE_NORMAL), 0x11);
    CHECK_EQ(TAKE(&r, 3, 0x10, FF_ZONE_NORMAL), 0x30);
    CHECK_EQ(TAKE(&r, 1, 0x1000, FF_ZONE_NORMAL), 0x1000);
    CHECK_EQ(TAKE(&r, 16, 0x10, FF_ZONE_NORMAL), 0x50);
    CHECK_EQ(counter(&r), MAP_FRAMES - 23);
    CLEAN(&r);
    rig_close(&r);
}

FF_TEST(broken_none_rejects_malformed_requests_without_change)
{
    rig r;
    rig_open(&r, "broken-none");
    ff_pfn at;
    CHECK_EQ(try_alloc(&r, 0, 0, FF_ZONE_NORMAL, &at), FF_ERR_INVALID);
    CHECK_EQ(try_alloc(&r, 1, 3, FF_ZONE_NORMAL, &at), FF_ERR_INVALID);
    CHECK_EQ(try_alloc(&r, 1, 6, FF_ZONE_NORMAL, &at), FF_ERR_INVALID);
    CHECK_EQ(try_alloc(&r, 1, UINT64_MAX, FF_ZONE_NORMAL, &at), FF_ERR_INVALID);
    CHECK_EQ(try_alloc(&r, 1, 0, FF_ZONE_COUNT, &at), FF_ERR_INVALID);
    CHECK_EQ(try_alloc(&r, 1, 0, (ff_zone)7, &at), FF_ERR_INVALID);
    /* Well formed but impossible: not enough RAM, or no RAM so aligned. */
    CHECK_EQ(try_alloc(&r, UINT64_MAX, 0, FF_ZONE_NORMAL, &at), FF_ERR_NOMEM);
    CHECK_EQ(try_alloc(&r, MAP_FRAMES + 1, 0, FF_ZONE_NORMAL, &at), FF_ERR_NOMEM);
    CHECK_EQ(try_alloc(&r, 49, 0, FF_ZONE_NORMAL, &at), FF_ERR_NOMEM);
    CHECK_EQ(try_alloc(&r, 1, UINT64_C(1) << 63, FF_ZONE_NORMAL, &at), FF_ERR_NOMEM);
    CHECK_EQ(try_alloc(&r, 1, 0x2000, FF_ZONE_NORMAL, &at), FF_ERR_NOMEM);
    CHECK_EQ(counter(&r), MAP_FRAMES);
    CLEAN(&r);
    CHECK_EQ(TAKE1(&r, 48), 0x10);
    rig_close(&r);
}

FF_TEST(broken_none_rejects_every_bad_free_with_the_right_code)
{
    rig r;
    rig_open(&r, "broken-none");
    ff_pfn a = TAKE1(&r, 4), b = TAKE1(&r, 4);
    CHECK_EQ(a, 0x10);
    CHECK_EQ(b, 0x14);
    CHECK_EQ(TAKE1(&r, 46 - 8), 0x18);
    CHECK_EQ(counter(&r), MAP_FRAMES - 46); /* 0x3e and 0x3f stay free */

    /* INVALID: no frames, wraps, leaves the frame space. */
    REFUSED(&r, a, 0, FF_ERR_INVALID);
    REFUSED(&r, UINT64_MAX - 1, 4, FF_ERR_INVALID);
    REFUSED(&r, UINT64_MAX, 1, FF_ERR_INVALID);
    REFUSED(&r, FF_PFN_LIMIT, 1, FF_ERR_INVALID);
    REFUSED(&r, FF_PFN_LIMIT - 1, 2, FF_ERR_INVALID);
    REFUSED(&r, 0x10, UINT64_MAX, FF_ERR_INVALID);
    /* FOREIGN: below RAM, a hole, past RAM, into a hole, in from below; before DOUBLE. */
    REFUSED(&r, 0x0, 1, FF_ERR_FOREIGN);
    REFUSED(&r, 0x40, 1, FF_ERR_FOREIGN);
    REFUSED(&r, 0x1010, 1, FF_ERR_FOREIGN);
    REFUSED(&r, FF_PFN_LIMIT - 1, 1, FF_ERR_FOREIGN);
    REFUSED(&r, 0x3e, 3, FF_ERR_FOREIGN);
    REFUSED(&r, 0xf, 2, FF_ERR_FOREIGN);
    REFUSED(&r, 0x10, 0x1000, FF_ERR_FOREIGN);
    /* DOUBLE: free frames, a range touching free frames; before MISALIGNED. */
    REFUSED(&r, 0x3e, 1, FF_ERR_DOUBLE);
    REFUSED(&r, 0x3d, 2, FF_ERR_DOUBLE);
    REFUSED(&r, 0x50, 16, FF_ERR_DOUBLE);
    REFUSED(&r, 0x3c, 5, FF_ERR_FOREIGN);
    REFUSED(&r, 0x3a, 5, FF_ERR_DOUBLE);
    /* MISALIGNED: inside an allocation; also when the range runs into the next one. */
    REFUSED(&r, a + 1, 3, FF_ERR_MISALIGNED);
    REFUSED(&r, a + 2, 1, FF_ERR_MISALIGNED);
    REFUSED(&r, a + 3, 2, FF_ERR_MISALIGNED);
    REFUSED(&r, b + 1, 2, FF_ERR_MISALIGNED);
    /* WRONG_SIZE: right start, short or long (into b). */
    REFUSED(&r, a, 1, FF_ERR_WRONG_SIZE);
    REFUSED(&r, a, 3, FF_ERR_WRONG_SIZE);
    REFUSED(&r, a, 5, FF_ERR_WRONG_SIZE);
    REFUSED(&r, a, 8, FF_ERR_WRONG_SIZE);
    REFUSED(&r, b, 3, FF_ERR_WRONG_SIZE);

    GIVE(&r, a, 4);
    REFUSED(&r, a, 4, FF_ERR_DOUBLE);
    REFUSED(&r, a + 1, 1, FF_ERR_DOUBLE);
    REFUSED(&r, a, 8, FF_ERR_DOUBLE);
    GIVE(&r, b, 4);
    GIVE(&r, 0x18, 38);
    CHECK_EQ(counter(&r), MAP_FRAMES);
    CLEAN(&r);
    rig_close(&r);
}

/* ---------------------------------------------------------------- the control against a model */

/* Every pfn of the map, so the model can stay frame by frame. */
#define MODEL_SPAN 0x1020u

typedef struct model {
    bool ram[MODEL_SPAN];
    uint32_t owner[MODEL_SPAN];   /* 0 = free, else the allocation's id */
    uint64_t size_at[MODEL_SPAN]; /* frames of the allocation starting here, 0 if none */
    uint64_t free_frames;
} model;

static bool model_ram(const model *m, ff_pfn pfn) { return pfn < MODEL_SPAN && m->ram[pfn]; }

/* The lowest aligned start whose block is free RAM ending by the zone end. */
static bool model_first_fit(const model *m, uint64_t count, uint64_t align, ff_zone zone,
                            ff_pfn *at)
{
    for (ff_pfn s = 0; s < MODEL_SPAN; s++) {
        if (s % align || s + count > ff_zone_end(zone)) continue;
        bool fits = true;
        for (ff_pfn p = s; p < s + count && fits; p++) fits = model_ram(m, p) && !m->owner[p];
        if (fits) {
            *at = s;
            return true;
        }
    }
    return false;
}

static ff_status model_free_answer(const model *m, ff_pfn start, uint64_t count)
{
    if (count == 0) return FF_ERR_INVALID;
    for (ff_pfn p = start; p < start + count; p++)
        if (!model_ram(m, p)) return FF_ERR_FOREIGN;
    for (ff_pfn p = start; p < start + count; p++)
        if (!m->owner[p]) return FF_ERR_DOUBLE;
    if (!m->size_at[start]) return FF_ERR_MISALIGNED;
    return m->size_at[start] == count ? FF_OK : FF_ERR_WRONG_SIZE;
}

static void model_mark(model *m, ff_pfn start, uint64_t count, uint32_t owner)
{
    for (ff_pfn p = start; p < start + count; p++) m->owner[p] = owner;
    m->size_at[start] = owner ? count : 0;
    m->free_frames = owner ? m->free_frames - count : m->free_frames + count;
}

FF_TEST(broken_none_matches_a_first_fit_model_step_by_step)
{
    model *m = calloc(1, sizeof *m);
    CHECK(m);
    for (size_t i = 0; i < MAP_N; i++)
        for (ff_pfn p = map[i].start; p < ff_range_end(map[i]); p++) m->ram[p] = true;
    m->free_frames = MAP_FRAMES;
    rig r;
    rig_open(&r, "broken-none");

    static const uint64_t aligns[] = {0, 1, 1, 2, 4, 8, 16, 3};
    uint64_t seed = 0x9e3779b97f4a7c15u;
    uint32_t next_id = 1;
    unsigned allocs = 0, frees = 0, rejects = 0;
    for (int step = 0; step < 3000; step++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        uint64_t roll = seed % 100;
        if (roll < 50) {
            uint64_t count = (seed >> 8) % 14; /* 0 is malformed */
            uint64_t align = aligns[(seed >> 16) % 8];
            ff_zone zone = (ff_zone)((seed >> 24) % 4); /* 3 is an invalid zone */
            ff_pfn at, want;
            ff_status st = try_alloc(&r, count, align, zone, &at);
            if (count == 0 || !ff_is_pow2(align ? align : 1) || zone >= FF_ZONE_COUNT) {
                CHECK_EQ(st, FF_ERR_INVALID);
            } else if (model_first_fit(m, count, align ? align : 1, zone, &want)) {
                CHECK_EQ(st, FF_OK);
                CHECK_EQ(at, want);
                model_mark(m, at, count, next_id++);
                allocs++;
            } else {
                CHECK_EQ(st, FF_ERR_NOMEM);
            }
        } else {
            /* A range near RAM's edges and allocations: valid or rejected. */
            ff_pfn start = (seed >> 8) % 2 ? 0x8 + (seed >> 16) % 0x5c /* around A and B */
                                           : 0xfe8 + (seed >> 16) % 0x30; /* around C */
            uint64_t count = (seed >> 32) % 10;
            /* Half the time aim at a real allocation head. */
            if (roll < 80)
                for (ff_pfn p = start; p < MODEL_SPAN; p++)
                    if (m->size_at[p]) {
                        start = p;
                        count = (seed >> 40) % 4 ? m->size_at[p] : count;
                        break;
                    }
            ff_status want = model_free_answer(m, start, count);
            CHECK_EQ(r.def->free(r.b, start, count), want);
            if (want == FF_OK) {
                model_mark(m, start, count, 0);
                frees++;
            } else {
                rejects++;
            }
        }
        CHECK_EQ(counter(&r), m->free_frames);
        CLEAN(&r);
    }
    /* The run exercised every path. */
    CHECK(allocs > 300 && frees > 300 && rejects > 300);
    rig_close(&r);
    free(m);
}

/* ---------------------------------------------------------------- flaws of free */

FF_TEST(broken_foreign_accepts_a_free_of_frames_that_are_not_ram)
{
    rig r;
    rig_open(&r, "broken-foreign");
    CHECK_EQ(TAKE1(&r, 46), 0x10);
    CHECK_EQ(TAKE1(&r, 2), 0x3e);
    /* A range running into the hole: accepted, RAM frames freed, all 4 counted. */
    CHECK_EQ(r.def->free(r.b, 0x3e, 4), FF_OK);
    CHECK_EQ(counter(&r), MAP_FRAMES - 48 + 4);
    DIRTY(&r);                   /* the counter now exceeds the free frames by 2 */
    CHECK_EQ(TAKE1(&r, 2), 0x3e); /* the RAM frames really are free */
    /* Only a hole, or past all RAM. */
    CHECK_EQ(r.def->free(r.b, 0x40, 1), FF_OK);
    CHECK_EQ(r.def->free(r.b, 0x2000, 3), FF_OK);
    CHECK_EQ(counter(&r), MAP_FRAMES - 48 + 2 + 1 + 3);
    /* Every other rejection is untouched. */
    REFUSED(&r, 0x10, 0, FF_ERR_INVALID);
    REFUSED(&r, UINT64_MAX - 1, 4, FF_ERR_INVALID);
    REFUSED(&r, 0x50, 1, FF_ERR_DOUBLE);
    REFUSED(&r, 0x11, 1, FF_ERR_MISALIGNED);
    REFUSED(&r, 0x10, 2, FF_ERR_WRONG_SIZE);
    rig_close(&r);

    /* Near-identical: the same free ending at the hole is an ordinary free. */
    rig_open(&r, "broken-foreign");
    CHECK_EQ(TAKE1(&r, 46), 0x10);
    CHECK_EQ(TAKE1(&r, 2), 0x3e);
    GIVE(&r, 0x3e, 2);
    CHECK_EQ(counter(&r), MAP_FRAMES - 46);
    CLEAN(&r);
    rig_close(&r);
}

FF_TEST(broken_double_accepts_a_free_of_free_frames)
{
    rig r;
    rig_open(&r, "broken-double");
    CHECK_EQ(TAKE1(&r, 2), 0x10);
    GIVE(&r, 0x10, 2);
    CLEAN(&r);
    CHECK_EQ(r.def->free(r.b, 0x10, 2), FF_OK); /* the same free again */
    CHECK_EQ(counter(&r), MAP_FRAMES + 2);
    DIRTY(&r);
    CHECK_EQ(r.def->free(r.b, 0x50, 16), FF_OK); /* never allocated at all */
    CHECK_EQ(counter(&r), MAP_FRAMES + 18);
    CHECK_EQ(TAKE1(&r, 2), 0x10); /* the frames stayed free */
    CHECK_EQ(counter(&r), MAP_FRAMES + 16);
    /* Every other rejection is untouched. */
    REFUSED(&r, 0x10, 0, FF_ERR_INVALID);
    REFUSED(&r, 0x40, 1, FF_ERR_FOREIGN);
    REFUSED(&r, 0x11, 1, FF_ERR_MISALIGNED);
    REFUSED(&r, 0x10, 1, FF_ERR_WRONG_SIZE);
    rig_close(&r);
}

FF_TEST(broken_wrongsize_accepts_a_free_with_the_wrong_count)
{
    rig r;
    rig_open(&r, "broken-wrongsize");
    CHECK_EQ(TAKE1(&r, 4), 0x10);
    /* Short: exactly [0x10, 0x12) goes back, 0x12-0x13 stay allocated without a head. */
    CHECK_EQ(r.def->free(r.b, 0x10, 2), FF_OK);
    CHECK_EQ(counter(&r), MAP_FRAMES - 2);
    DIRTY(&r);
    CHECK_EQ(TAKE1(&r, 3), 0x14);
    CHECK_EQ(TAKE1(&r, 2), 0x10);
    rig_close(&r);

    rig_open(&r, "broken-wrongsize");
    CHECK_EQ(TAKE1(&r, 2), 0x10);
    CHECK_EQ(TAKE1(&r, 2), 0x12);
    /* Long, over the next allocation: both go. */
    CHECK_EQ(r.def->free(r.b, 0x10, 4), FF_OK);
    CHECK_EQ(counter(&r), MAP_FRAMES);
    CLEAN(&r);
    /* Long into free frames: the normal rejection. */
    CHECK_EQ(TAKE1(&r, 2), 0x10);
    REFUSED(&r, 0x10, 3, FF_ERR_DOUBLE);
    REFUSED(&r, 0x11, 1, FF_ERR_MISALIGNED);
    REFUSED(&r, 0x40, 1, FF_ERR_FOREIGN);
    GIVE(&r, 0x10, 2); /* near-identical: the right count */
    CHECK_EQ(counter(&r), MAP_FRAMES);
    CLEAN(&r);
    rig_close(&r);
}

FF_TEST(broken_misaligned_accepts_a_free_from_inside_an_allocation)
{
    rig r;
    rig_open(&r, "broken-misaligned");
    CHECK_EQ(TAKE1(&r, 4), 0x10);
    CHECK_EQ(TAKE1(&r, 2), 0x14);
    /* Frees [0x12, 0x14), the count notwithstanding. */
    CHECK_EQ(r.def->free(r.b, 0x12, 1), FF_OK);
    CHECK_EQ(counter(&r), MAP_FRAMES - 6 + 2);
    CLEAN(&r); /* a shorter allocation is still a consistent one */
    CHECK_EQ(TAKE1(&r, 2), 0x12);
    /* Inside the second allocation: frees to its end, not past it. */
    CHECK_EQ(r.def->free(r.b, 0x15, 1), FF_OK);
    CHECK_EQ(counter(&r), MAP_FRAMES - 6 + 1);
    /* Every other rejection is untouched. */
    REFUSED(&r, 0x10, 4, FF_ERR_WRONG_SIZE); /* head 0x10 now holds 2 frames */
    REFUSED(&r, 0x15, 1, FF_ERR_DOUBLE);
    REFUSED(&r, 0x40, 1, FF_ERR_FOREIGN);
    REFUSED(&r, 0x11, 5, FF_ERR_DOUBLE); /* 0x15 is free now: DOUBLE comes before MISALIGNED */
    GIVE(&r, 0x10, 2);
    GIVE(&r, 0x12, 2);
    GIVE(&r, 0x14, 1);
    CHECK_EQ(counter(&r), MAP_FRAMES);
    CLEAN(&r);
    rig_close(&r);
}

FF_TEST(broken_rejects_refuses_valid_frees_of_three_or_more)
{
    rig r;
    rig_open(&r, "broken-rejects");
    CHECK_EQ(TAKE1(&r, 3), 0x10);
    CHECK_EQ(TAKE1(&r, 2), 0x13);
    CHECK_EQ(TAKE1(&r, 1), 0x15);
    CHECK_EQ(TAKE1(&r, 9), 0x16);
    REFUSED(&r, 0x10, 3, FF_ERR_WRONG_SIZE);
    REFUSED(&r, 0x16, 9, FF_ERR_WRONG_SIZE);
    CHECK_EQ(counter(&r), MAP_FRAMES - 15);
    /* Near-identical: 2 and 1 frames go back. */
    GIVE(&r, 0x13, 2);
    GIVE(&r, 0x15, 1);
    CHECK_EQ(counter(&r), MAP_FRAMES - 12);
    REFUSED(&r, 0x10, 2, FF_ERR_WRONG_SIZE);
    REFUSED(&r, 0x11, 1, FF_ERR_MISALIGNED);
    CLEAN(&r);
    rig_close(&r);
}

FF_TEST(broken_leak_loses_the_last_frame_of_a_freed_allocation)
{
    rig r;
    rig_open(&r, "broken-leak");
    CHECK_EQ(TAKE1(&r, 3), 0x10);
    GIVE(&r, 0x10, 3);
    CHECK_EQ(counter(&r), MAP_FRAMES); /* the counter looks right... */
    CLEAN(&r);                         /* ...and so does the allocator's own walk */
    ff_pfn at;
    /* ...but A is no longer whole. */
    CHECK_EQ(try_alloc(&r, 48, 0, FF_ZONE_NORMAL, &at), FF_ERR_NOMEM);
    CHECK_EQ(TAKE1(&r, 1), 0x10);
    CHECK_EQ(TAKE1(&r, 1), 0x11);
    CHECK_EQ(TAKE1(&r, 1), 0x13); /* 0x12 is gone for good */
    REFUSED(&r, 0x12, 1, FF_ERR_DOUBLE);
    /* Near-identical: one frame is not lost. */
    GIVE(&r, 0x13, 1);
    CHECK_EQ(TAKE1(&r, 1), 0x13);
    CHECK_EQ(counter(&r), MAP_FRAMES - 3);
    CLEAN(&r);
    rig_close(&r);

    /* The control gets A back whole. */
    rig_open(&r, "broken-none");
    GIVE(&r, TAKE1(&r, 3), 3);
    CHECK_EQ(TAKE1(&r, 48), 0x10);
    rig_close(&r);
}

FF_TEST(broken_drift_counts_three_for_a_free_of_two)
{
    rig r;
    rig_open(&r, "broken-drift");
    CHECK_EQ(TAKE1(&r, 2), 0x10);
    CHECK_EQ(TAKE1(&r, 3), 0x12);
    CHECK_EQ(TAKE1(&r, 1), 0x15);
    /* Near-identical: 3 and 1 frames count right. */
    GIVE(&r, 0x12, 3);
    GIVE(&r, 0x15, 1);
    CHECK_EQ(counter(&r), MAP_FRAMES - 2);
    CLEAN(&r);
    GIVE(&r, 0x10, 2);
    CHECK_EQ(counter(&r), MAP_FRAMES + 1);
    DIRTY(&r);
    rig_close(&r);
}

FF_TEST(broken_corrupt_leaves_a_head_flag_on_a_free_frame)
{
    rig r;
    rig_open(&r, "broken-corrupt");
    CHECK_EQ(TAKE1(&r, 4), 0x10);
    CHECK_EQ(TAKE1(&r, 5), 0x14);
    GIVE(&r, 0x10, 4); /* near-identical: 4 frames leave no trace */
    CLEAN(&r);
    GIVE(&r, 0x14, 5);
    CHECK_EQ(counter(&r), MAP_FRAMES);
    const char *why = check_of(&r);
    CHECK(why && strstr(why, "0x14") && strstr(why, "head"));
    /* Alloc and free otherwise behave: the frame is handed out again. */
    CHECK_EQ(TAKE1(&r, 6), 0x10);
    CLEAN(&r);
    GIVE(&r, 0x10, 6);
    CLEAN(&r);
    rig_close(&r);
}

/* A small host buffer backing frames [POISON_BASE, POISON_BASE + POISON_FRAMES). */
#define POISON_BASE   0x10u
#define POISON_FRAMES 4u

typedef struct backing {
    unsigned char mem[POISON_FRAMES][FF_FRAME_SIZE];
} backing;

static void *backing_frame(void *space, ff_pfn pfn)
{
    backing *bk = space;
    if (pfn < POISON_BASE || pfn - POISON_BASE >= POISON_FRAMES) return NULL;
    return bk->mem[pfn - POISON_BASE];
}

static bool bytes_are(const unsigned char *p, size_t n, unsigned char value)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != value) return false;
    return true;
}

/* Runs alloc(2)/free(2) and alloc(1)/free(1) over a backed map. */
static void poison_round_trips(const char *name, backing *bk, bool with_memory)
{
    const ff_range ranges[] = {{POISON_BASE, POISON_FRAMES}};
    rig r;
    memset(bk, 0xAA, sizeof *bk);
    rig_open_ranges(&r, name, ranges, 1);
    if (with_memory) {
        r.env.frame_mem = backing_frame;
        r.env.space = bk;
    }
    CHECK_EQ(TAKE1(&r, 2), 0x10);
    CHECK_EQ(TAKE1(&r, 1), 0x12);
    GIVE(&r, 0x10, 2);
    GIVE(&r, 0x12, 1);
    CHECK_EQ(counter(&r), POISON_FRAMES);
    CLEAN(&r);
    rig_close(&r);
}

FF_TEST(broken_poison_writes_past_its_declared_inband_bytes)
{
    backing *bk = malloc(sizeof *bk);
    CHECK(bk);
    const ff_backend_def *def = ff_broken_find("broken-poison");
    CHECK(def->policy.needs_backing);
    CHECK_EQ(def->policy.inband_bytes, 8);

    poison_round_trips("broken-poison", bk, true);
    /* The first frame of each freed block: 16 bytes of 0x5A, 8 more than declared. */
    CHECK(bytes_are(bk->mem[0], 16, 0x5A));
    CHECK(bytes_are(bk->mem[0] + 16, FF_FRAME_SIZE - 16, 0xAA));
    CHECK(bytes_are(bk->mem[1], FF_FRAME_SIZE, 0xAA));
    CHECK(bytes_are(bk->mem[2], 16, 0x5A));
    CHECK(bytes_are(bk->mem[2] + 16, FF_FRAME_SIZE - 16, 0xAA));
    CHECK(bytes_are(bk->mem[3], FF_FRAME_SIZE, 0xAA));

    /* Without backing memory it writes nothing and still works. */
    poison_round_trips("broken-poison", bk, false);
    CHECK(bytes_are((const unsigned char *)bk, sizeof *bk, 0xAA));
    /* Near-identical: the control over the same memory leaves it alone. */
    poison_round_trips("broken-none", bk, true);
    CHECK(bytes_are((const unsigned char *)bk, sizeof *bk, 0xAA));
    free(bk);
}

FF_TEST(broken_code_rejects_a_foreign_free_as_double)
{
    rig r;
    rig_open(&r, "broken-code");
    CHECK_EQ(TAKE1(&r, 2), 0x10);
    REFUSED(&r, 0x40, 1, FF_ERR_DOUBLE);   /* a hole: should be FOREIGN */
    REFUSED(&r, 0x2000, 4, FF_ERR_DOUBLE); /* past RAM */
    REFUSED(&r, 0x3f, 2, FF_ERR_DOUBLE);   /* into the hole */
    /* Near-identical: a real double free and every other code are right. */
    REFUSED(&r, 0x20, 1, FF_ERR_DOUBLE);
    REFUSED(&r, 0x10, 0, FF_ERR_INVALID);
    REFUSED(&r, 0x11, 1, FF_ERR_MISALIGNED);
    REFUSED(&r, 0x10, 1, FF_ERR_WRONG_SIZE);
    CHECK_EQ(counter(&r), MAP_FRAMES - 2);
    CLEAN(&r);
    rig_close(&r);
}

/* ---------------------------------------------------------------- flaws of alloc */

FF_TEST(broken_handout_repeats_every_third_allocation)
{
    rig r;
    rig_open(&r, "broken-handout");
    ff_pfn at;
    CHECK_EQ(TAKE1(&r, 1), 0x10);
    CHECK_EQ(TAKE1(&r, 1), 0x11);
    /* Failures are not successes: the third success is still to come. */
    CHECK_EQ(try_alloc(&r, 0, 0, FF_ZONE_NORMAL, &at), FF_ERR_INVALID);
    CHECK_EQ(try_alloc(&r, 97, 0, FF_ZONE_NORMAL, &at), FF_ERR_NOMEM);
    CHECK_EQ(TAKE1(&r, 1), 0x11); /* third: handed out twice */
    CHECK_EQ(counter(&r), MAP_FRAMES - 2);
    CLEAN(&r); /* nothing changed inside */
    CHECK_EQ(TAKE1(&r, 1), 0x12);
    CHECK_EQ(TAKE1(&r, 2), 0x13);
    CHECK_EQ(TAKE1(&r, 5), 0x13); /* sixth: whatever the count */
    CHECK_EQ(TAKE1(&r, 1), 0x15);
    CHECK_EQ(counter(&r), MAP_FRAMES - 6);
    GIVE(&r, 0x11, 1);
    REFUSED(&r, 0x11, 1, FF_ERR_DOUBLE);
    GIVE(&r, 0x13, 2);
    CLEAN(&r);
    rig_close(&r);
}

FF_TEST(broken_outofmap_returns_the_frame_past_ram_for_seven)
{
    rig r;
    rig_open(&r, "broken-outofmap");
    CHECK_EQ(TAKE1(&r, 7), 0x1010);
    CHECK_EQ(counter(&r), MAP_FRAMES - 7);
    DIRTY(&r); /* nothing was marked */
    /* Near-identical: 6 and 8 frames are real. */
    CHECK_EQ(TAKE1(&r, 6), 0x10);
    CHECK_EQ(TAKE1(&r, 8), 0x16);
    CHECK_EQ(TAKE(&r, 7, 16, FF_ZONE_DMA), 0x1010);
    CHECK_EQ(counter(&r), MAP_FRAMES - 28);
    REFUSED(&r, 0x1010, 7, FF_ERR_FOREIGN);
    rig_close(&r);

    /* No RAM, no top of RAM: the normal answer. */
    rig_open_ranges(&r, "broken-outofmap", NULL, 0);
    ff_pfn at;
    CHECK_EQ(try_alloc(&r, 7, 0, FF_ZONE_NORMAL, &at), FF_ERR_NOMEM);
    CHECK_EQ(counter(&r), 0);
    rig_close(&r);
}

FF_TEST(broken_zone_serves_zone_limited_requests_by_last_fit)
{
    rig r;
    rig_open(&r, "broken-zone");
    CHECK_EQ(TAKE(&r, 1, 0, FF_ZONE_DMA), 0x100f); /* past the DMA end (0x1000) */
    CHECK_EQ(TAKE(&r, 4, 4, FF_ZONE_DMA32), 0x1008);
    CHECK_EQ(TAKE(&r, 20, 0, FF_ZONE_DMA), 0xff4); /* the top of [0xff0, 0x1008) */
    /* Near-identical: a Normal request is first fit. */
    CHECK_EQ(TAKE(&r, 1, 0, FF_ZONE_NORMAL), 0x10);
    CHECK_EQ(counter(&r), MAP_FRAMES - 26);
    CLEAN(&r);
    GIVE(&r, 0x100f, 1);
    GIVE(&r, 0x1008, 4);
    CLEAN(&r);
    rig_close(&r);

    rig_open(&r, "broken-none");
    CHECK_EQ(TAKE(&r, 1, 0, FF_ZONE_DMA), 0x10);
    rig_close(&r);
}

FF_TEST(broken_misalign_ignores_alignment)
{
    rig r;
    rig_open(&r, "broken-misalign");
    CHECK_EQ(TAKE(&r, 2, 8, FF_ZONE_NORMAL), 0x11);
    CHECK_EQ(TAKE(&r, 16, 16, FF_ZONE_NORMAL), 0x13);
    /* Near-identical: align 0 and 1 ask for nothing. */
    CHECK_EQ(TAKE(&r, 1, 1, FF_ZONE_NORMAL), 0x10);
    CHECK_EQ(TAKE(&r, 1, 0, FF_ZONE_NORMAL), 0x23);
    CHECK_EQ(counter(&r), MAP_FRAMES - 20);
    CLEAN(&r);
    rig_close(&r);

    /* No misaligned fit exists: the aligned one is returned. */
    const ff_range eight[] = {{0x8, 8}};
    rig_open_ranges(&r, "broken-misalign", eight, 1);
    CHECK_EQ(TAKE(&r, 8, 8, FF_ZONE_NORMAL), 0x8);
    rig_close(&r);
    const ff_range nine[] = {{0x8, 9}};
    rig_open_ranges(&r, "broken-misalign", nine, 1);
    CHECK_EQ(TAKE(&r, 8, 8, FF_ZONE_NORMAL), 0x9);
    rig_close(&r);
}

FF_TEST(broken_reserve_takes_one_frame_too_many)
{
    rig r;
    rig_open(&r, "broken-reserve");
    CHECK_EQ(TAKE1(&r, 3), 0x10);
    CHECK_EQ(counter(&r), MAP_FRAMES - 4);
    CHECK_EQ(TAKE1(&r, 1), 0x14); /* not 0x13 */
    CHECK_EQ(counter(&r), MAP_FRAMES - 5);
    CLEAN(&r);
    REFUSED(&r, 0x10, 4, FF_ERR_WRONG_SIZE);
    REFUSED(&r, 0x13, 1, FF_ERR_MISALIGNED);
    GIVE(&r, 0x10, 3); /* the requested count frees all 4 */
    CHECK_EQ(counter(&r), MAP_FRAMES - 1);
    CLEAN(&r);
    CHECK_EQ(TAKE1(&r, 4), 0x15); /* 5 frames do not fit at 0x10 but do at 0x15 */
    CHECK_EQ(counter(&r), MAP_FRAMES - 6);
    GIVE(&r, 0x15, 4);
    CLEAN(&r);
    rig_close(&r);

    /* No room for count + 1: the exact count. */
    const ff_range three[] = {{0x10, 3}};
    rig_open_ranges(&r, "broken-reserve", three, 1);
    CHECK_EQ(TAKE1(&r, 3), 0x10);
    CHECK_EQ(counter(&r), 0);
    CLEAN(&r);
    GIVE(&r, 0x10, 3);
    CHECK_EQ(counter(&r), 3);
    rig_close(&r);
}

FF_TEST(broken_oom_gives_up_after_sixteen_allocated_frames)
{
    rig r, control;
    rig_open(&r, "broken-oom");
    rig_open(&control, "broken-none");
    for (ff_pfn i = 0; i < 16; i++) { /* the 16th passes 15 allocated frames */
        CHECK_EQ(TAKE1(&r, 1), 0x10 + i);
        CHECK_EQ(TAKE1(&control, 1), 0x10 + i);
    }
    ff_pfn at;
    CHECK_EQ(try_alloc(&r, 1, 0, FF_ZONE_NORMAL, &at), FF_ERR_NOMEM);
    CHECK_EQ(try_alloc(&r, 4, 0, FF_ZONE_NORMAL, &at), FF_ERR_NOMEM);
    CHECK_EQ(TAKE1(&control, 1), 0x20);
    CHECK_EQ(counter(&r), MAP_FRAMES - 16);
    CLEAN(&r);
    /* With one frame back the search passes only 15. */
    GIVE(&r, 0x12, 1);
    CHECK_EQ(TAKE1(&r, 1), 0x12);
    GIVE(&r, 0x1f, 1);
    CHECK_EQ(TAKE1(&r, 1), 0x1f);
    CHECK_EQ(try_alloc(&r, 1, 0, FF_ZONE_NORMAL, &at), FF_ERR_NOMEM);
    rig_close(&control);
    rig_close(&r);
}

/* One allocation under a step budget: true when the budget ended it. setjmp sits in
 * its own function, so nothing it reads after a longjmp was changed in between. */
static bool hangs(rig *r, uint64_t align, uint64_t budget, ff_pfn *at)
{
    jmp_buf on_hang;
    r->env.on_hang = &on_hang;
    r->env.step_budget = budget;
    r->env.steps = 0;
    volatile bool hung = true;
    if (setjmp(on_hang) == 0) {
        CHECK_EQ(try_alloc(r, 1, align, FF_ZONE_NORMAL, at), FF_OK);
        hung = false;
    }
    r->env.on_hang = NULL;
    r->env.step_budget = 0;
    return hung;
}

FF_TEST(broken_hang_spins_on_align_eight_until_the_budget)
{
    rig r;
    rig_open(&r, "broken-hang");
    ff_pfn at;
    /* Near-identical: align 4 and 16 are served well within the budget. */
    CHECK(!hangs(&r, 4, 10000, &at));
    CHECK_EQ(at, 0x10);
    CHECK(!hangs(&r, 16, 10000, &at));
    CHECK_EQ(at, 0x20);
    CHECK(r.env.steps < 1000);
    CHECK(hangs(&r, 8, 10000, &at));
    CHECK_EQ(r.env.steps, 10001);
    rig_close(&r); /* the only call allowed after a hang */
}

FF_TEST(broken_badreq_serves_a_zero_frame_request)
{
    rig r;
    rig_open(&r, "broken-badreq");
    CHECK_EQ(TAKE1(&r, 0), 0x10);
    CHECK_EQ(counter(&r), MAP_FRAMES - 1);
    CLEAN(&r);
    REFUSED(&r, 0x10, 2, FF_ERR_DOUBLE);
    GIVE(&r, 0x10, 1); /* a one-frame allocation */
    /* Other malformed requests are still refused. */
    ff_pfn at;
    CHECK_EQ(try_alloc(&r, 0, 3, FF_ZONE_NORMAL, &at), FF_ERR_INVALID);
    CHECK_EQ(try_alloc(&r, 0, 0, (ff_zone)7, &at), FF_ERR_INVALID);
    CHECK_EQ(try_alloc(&r, 1, 6, FF_ZONE_NORMAL, &at), FF_ERR_INVALID);
    CHECK_EQ(TAKE(&r, 0, 16, FF_ZONE_NORMAL), 0x10);
    CHECK_EQ(TAKE(&r, 0, 16, FF_ZONE_NORMAL), 0x20);
    CHECK_EQ(counter(&r), MAP_FRAMES - 2);
    CLEAN(&r);
    rig_close(&r);
}
