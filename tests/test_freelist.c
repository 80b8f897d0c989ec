/*
 * test_freelist.c — unit tests of the freelist back-end (allocators/freelist.c).
 *
 * The back-end keeps its list inside the free frames, so every test runs it over a
 * fake backing store: host memory for a small window of frames, poisoned with 0xAA,
 * and a frame_mem that maps a pfn into it (NULL outside). Tests then read the
 * in-band nodes directly, corrupt them as a buggy user would, and compare random
 * operation sequences against a frame-by-frame first-fit model.
 */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "unit.h"

extern const ff_backend_def ff_backend_freelist;
#define FL (&ff_backend_freelist)
#define POISON 0xAA
#define USER_FILL 0x55
#define NODE_END UINT64_MAX

/* ---------------------------------------------------------------- fake backing store */

typedef struct store {
    ff_pfn base;
    uint64_t nframes;
    unsigned char *mem;
} store;

static void *store_frame(void *space, ff_pfn pfn)
{
    store *st = space;
    if (pfn < st->base || pfn - st->base >= st->nframes) return NULL;
    return st->mem + (pfn - st->base) * FF_FRAME_SIZE;
}

/* One back-end instance over a store covering [base, base + nframes). */
typedef struct rig {
    store st;
    ff_env env;
    void *fl;
} rig;

static void rig_open_store(rig *r, ff_pfn base, uint64_t nframes)
{
    memset(r, 0, sizeof *r);
    r->st.base = base;
    r->st.nframes = nframes;
    r->st.mem = malloc(nframes * FF_FRAME_SIZE);
    CHECK(r->st.mem);
    memset(r->st.mem, POISON, nframes * FF_FRAME_SIZE);
    r->env.frame_mem = store_frame;
    r->env.space = &r->st;
}

/* The store spans exactly the ranges, holes included (as the frame space does). */
static void rig_open(rig *r, const ff_range *ranges, size_t n)
{
    rig_open_store(r, ranges[0].start, ff_range_end(ranges[n - 1]) - ranges[0].start);
    r->fl = FL->create(&r->env, ranges, n);
    CHECK(r->fl);
    CHECK(FL->check(r->fl) == NULL);
}

static void rig_close(rig *r)
{
    FL->destroy(r->fl);
    free(r->st.mem);
}

static ff_status try_alloc(rig *r, uint64_t count, uint64_t align, ff_zone zone, ff_pfn *start)
{
    ff_alloc_req req = {count, align, zone};
    return FL->alloc(r->fl, &req, start);
}

/* An allocation that must succeed. */
static ff_pfn take(rig *r, uint64_t count, uint64_t align, ff_zone zone)
{
    ff_pfn start = 0;
    CHECK_EQ(try_alloc(r, count, align, zone, &start), FF_OK);
    return start;
}

static ff_status release(rig *r, ff_pfn start, uint64_t count) { return FL->free(r->fl, start, count); }

static uint64_t free_frames(rig *r) { return FL->free_frames(r->fl); }

static unsigned char *frame(rig *r, ff_pfn pfn)
{
    unsigned char *mem = store_frame(&r->st, pfn);
    CHECK(mem);
    return mem;
}

/* The in-band node at pfn: { count, next }. */
static uint64_t node_word(rig *r, ff_pfn pfn, unsigned word)
{
    uint64_t v;
    memcpy(&v, frame(r, pfn) + word * sizeof v, sizeof v);
    return v;
}

static void poke_word(rig *r, ff_pfn pfn, unsigned word, uint64_t v)
{
    memcpy(frame(r, pfn) + word * sizeof v, &v, sizeof v);
}

#define CHECK_NODE(r, pfn, count, next)            \
    do {                                           \
        CHECK_EQ(node_word((r), (pfn), 0), count); \
        CHECK_EQ(node_word((r), (pfn), 1), next);  \
    } while (0)

/* Whether bytes [from, to) of a frame all hold `byte`. */
static bool frame_holds(rig *r, ff_pfn pfn, size_t from, size_t to, unsigned char byte)
{
    const unsigned char *mem = frame(r, pfn);
    for (size_t i = from; i < to; i++)
        if (mem[i] != byte) return false;
    return true;
}

/* ---------------------------------------------------------------- policy and create */

FF_TEST(freelist_policy)
{
    const ff_policy *p = &FL->policy;
    CHECK_STREQ(FL->name, "freelist");
    CHECK_EQ(p->placement, FF_PLACE_ANY_RUN);
    CHECK_EQ(p->rounding, FF_ROUND_NONE);
    CHECK_EQ(p->free_rule, FF_FREE_EXACT);
    CHECK_EQ(p->max_order, FF_ORDER_ANY);
    CHECK(p->validates_frees && p->honours_zone && p->honours_align && p->needs_backing);
    CHECK_EQ(p->inband_bytes, 16);
    CHECK(FL->check != NULL);
}

FF_TEST(freelist_create_fails_cleanly)
{
    rig r;
    const ff_range ok[] = {{100, 100}};
    rig_open_store(&r, 100, 50); /* backs only half of the range */

    CHECK(FL->create(&r.env, ok, 1) == NULL);
    ff_env bare = {0};
    CHECK(FL->create(&bare, ok, 1) == NULL);

    const ff_range unsorted[] = {{120, 5}, {100, 5}};
    const ff_range overlapping[] = {{100, 20}, {110, 5}};
    const ff_range wrapping[] = {{UINT64_MAX - 1, 5}};
    const ff_range past_limit[] = {{FF_PFN_LIMIT - 1, 2}};
    CHECK(FL->create(&r.env, unsorted, 2) == NULL);
    CHECK(FL->create(&r.env, overlapping, 2) == NULL);
    CHECK(FL->create(&r.env, wrapping, 1) == NULL);
    CHECK(FL->create(&r.env, past_limit, 1) == NULL);
    CHECK(FL->create(&r.env, NULL, 3) == NULL);

    /* No RAM at all is a valid, useless allocator. */
    void *empty = FL->create(&r.env, NULL, 0);
    CHECK(empty);
    ff_alloc_req req = {1, 0, FF_ZONE_NORMAL};
    ff_pfn start;
    CHECK_EQ(FL->free_frames(empty), 0);
    CHECK_EQ(FL->alloc(empty, &req, &start), FF_ERR_NOMEM);
    CHECK_EQ(FL->free(empty, 100, 1), FF_ERR_FOREIGN);
    CHECK(FL->check(empty) == NULL);
    FL->destroy(empty);

    /* Zero-length ranges are ignored. */
    const ff_range with_empty[] = {{100, 0}, {110, 10}, {125, 0}, {130, 5}};
    void *fl = FL->create(&r.env, with_empty, 4);
    CHECK(fl);
    CHECK_EQ(FL->free_frames(fl), 15);
    CHECK(FL->check(fl) == NULL);
    FL->destroy(fl);
    free(r.st.mem);
}

/* ---------------------------------------------------------------- placement */

FF_TEST(freelist_first_fit_order)
{
    rig r;
    const ff_range ranges[] = {{100, 10}, {200, 100}};
    rig_open(&r, ranges, 2);
    CHECK_NODE(&r, 100, 10, 200);
    CHECK_NODE(&r, 200, 100, NODE_END);

    CHECK_EQ(take(&r, 5, 0, FF_ZONE_NORMAL), 100);
    CHECK_EQ(take(&r, 5, 1, FF_ZONE_NORMAL), 105);
    CHECK_EQ(take(&r, 1, 0, FF_ZONE_NORMAL), 200);
    CHECK_EQ(take(&r, 20, 0, FF_ZONE_NORMAL), 201);
    CHECK_EQ(free_frames(&r), 79);
    CHECK(FL->check(r.fl) == NULL);

    CHECK_EQ(release(&r, 100, 5), FF_OK);
    CHECK_EQ(take(&r, 3, 0, FF_ZONE_NORMAL), 100); /* the lowest hole first */
    CHECK_EQ(take(&r, 3, 0, FF_ZONE_NORMAL), 221); /* [103, 105) is too small */
    CHECK_EQ(take(&r, 2, 0, FF_ZONE_NORMAL), 103);
    CHECK_EQ(try_alloc(&r, 77, 0, FF_ZONE_NORMAL, &(ff_pfn){0}), FF_ERR_NOMEM);
    CHECK_EQ(take(&r, 76, 0, FF_ZONE_NORMAL), 224);
    CHECK_EQ(free_frames(&r), 0);
    CHECK(FL->check(r.fl) == NULL);
    rig_close(&r);
}

FF_TEST(freelist_align_splits_three_ways)
{
    rig r;
    const ff_range ranges[] = {{1000, 100}};
    rig_open(&r, ranges, 1);

    CHECK_EQ(take(&r, 4, 64, FF_ZONE_NORMAL), 1024);
    CHECK_EQ(free_frames(&r), 96);
    CHECK_NODE(&r, 1000, 24, 1028); /* before the run */
    CHECK_NODE(&r, 1028, 72, NODE_END); /* after it */
    /* Only the declared in-band bytes are written; the rest keeps its poison. */
    CHECK_EQ(FL->policy.inband_bytes, 16);
    CHECK(frame_holds(&r, 1000, 16, FF_FRAME_SIZE, POISON));
    CHECK(frame_holds(&r, 1028, 16, FF_FRAME_SIZE, POISON));
    CHECK(frame_holds(&r, 1024, 0, FF_FRAME_SIZE, POISON));
    CHECK(FL->check(r.fl) == NULL);

    CHECK_EQ(try_alloc(&r, 1, 2048, FF_ZONE_NORMAL, &(ff_pfn){0}), FF_ERR_NOMEM);
    CHECK_EQ(take(&r, 8, 8, FF_ZONE_NORMAL), 1000);
    CHECK_EQ(take(&r, 1, 16, FF_ZONE_NORMAL), 1008);
    CHECK_EQ(take(&r, 16, 4, FF_ZONE_NORMAL), 1028); /* 1012 + 16 would cross 1024 */
    CHECK_EQ(take(&r, 12, 0, FF_ZONE_NORMAL), 1009); /* [1009, 1021) */
    CHECK_EQ(take(&r, 3, 0, FF_ZONE_NORMAL), 1021);
    CHECK_EQ(take(&r, 56, 0, FF_ZONE_NORMAL), 1044);
    CHECK_EQ(free_frames(&r), 0);

    const ff_range blocks[] = {{1024, 4}, {1000, 8}, {1044, 56}, {1009, 12}, {1028, 16}, {1008, 1}, {1021, 3}};
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
        CHECK_EQ(release(&r, blocks[i].start, blocks[i].count), FF_OK);
        CHECK(FL->check(r.fl) == NULL);
    }
    CHECK_NODE(&r, 1000, 100, NODE_END);
    CHECK_EQ(take(&r, 100, 0, FF_ZONE_NORMAL), 1000);
    rig_close(&r);
}

/* Three neighbours between free space, freed in every order. */
FF_TEST(freelist_coalesce_every_order)
{
    static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    const ff_range ranges[] = {{10, 64}};
    for (int o = 0; o < 6; o++) {
        rig r;
        rig_open(&r, ranges, 1);
        CHECK_EQ(take(&r, 2, 0, FF_ZONE_NORMAL), 10);
        CHECK_EQ(release(&r, 10, 2), FF_OK); /* free space on the left too */
        ff_pfn block[3];
        for (int i = 0; i < 3; i++) block[i] = take(&r, 8, 4, FF_ZONE_NORMAL);
        CHECK_EQ(block[0], 12);
        CHECK_EQ(block[2], 28);
        CHECK_EQ(free_frames(&r), 40);
        for (int i = 0; i < 3; i++) {
            CHECK_EQ(release(&r, block[orders[o][i]], 8), FF_OK);
            CHECK(FL->check(r.fl) == NULL);
        }
        CHECK_NODE(&r, 10, 64, NODE_END);
        CHECK_EQ(free_frames(&r), 64);
        CHECK_EQ(take(&r, 64, 0, FF_ZONE_NORMAL), 10);
        rig_close(&r);
    }
}

FF_TEST(freelist_coalesces_across_zone_split_never_holes)
{
    rig r;
    const ff_range ranges[] = {{4000, 96}, {4096, 104}, {4201, 99}};
    rig_open(&r, ranges, 3);
    CHECK_NODE(&r, 4000, 200, 4201); /* the zone split is not a hole */

    CHECK_EQ(take(&r, 96, 0, FF_ZONE_DMA), 4000);
    CHECK_EQ(take(&r, 104, 0, FF_ZONE_NORMAL), 4096);
    CHECK_EQ(try_alloc(&r, 100, 0, FF_ZONE_NORMAL, &(ff_pfn){0}), FF_ERR_NOMEM);
    CHECK_EQ(release(&r, 4096, 104), FF_OK);
    CHECK_EQ(release(&r, 4000, 96), FF_OK);
    CHECK_NODE(&r, 4000, 200, 4201);
    CHECK(FL->check(r.fl) == NULL);

    CHECK_EQ(take(&r, 200, 0, FF_ZONE_NORMAL), 4000); /* straddles 16 MiB */
    CHECK_EQ(try_alloc(&r, 100, 0, FF_ZONE_NORMAL, &(ff_pfn){0}), FF_ERR_NOMEM);
    CHECK_EQ(take(&r, 99, 0, FF_ZONE_NORMAL), 4201);
    CHECK_EQ(release(&r, 4199, 3), FF_ERR_FOREIGN); /* spans the hole at 4200 */
    CHECK_EQ(release(&r, 4201, 99), FF_OK);
    CHECK_EQ(release(&r, 4000, 200), FF_OK);
    CHECK_NODE(&r, 4000, 200, 4201); /* freed neighbours across the hole stay apart */
    CHECK_NODE(&r, 4201, 99, NODE_END);
    CHECK(FL->check(r.fl) == NULL);
    rig_close(&r);
}

FF_TEST(freelist_zone_limit)
{
    rig r;
    const ff_range ranges[] = {{4000, 96}, {4096, 104}};
    rig_open(&r, ranges, 2);
    ff_pfn start;
    CHECK_EQ(try_alloc(&r, 97, 0, FF_ZONE_DMA, &start), FF_ERR_NOMEM);
    CHECK_EQ(take(&r, 10, 64, FF_ZONE_DMA), 4032);
    CHECK_EQ(try_alloc(&r, 55, 0, FF_ZONE_DMA, &start), FF_ERR_NOMEM); /* [4042, 4096) is 54 */
    CHECK_EQ(take(&r, 54, 0, FF_ZONE_DMA), 4042);
    CHECK_EQ(take(&r, 32, 0, FF_ZONE_DMA), 4000);
    CHECK_EQ(try_alloc(&r, 1, 0, FF_ZONE_DMA, &start), FF_ERR_NOMEM);
    CHECK_EQ(take(&r, 1, 0, FF_ZONE_DMA32), 4096);
    CHECK_EQ(release(&r, 4042, 54), FF_OK);
    CHECK_EQ(take(&r, 40, 0, FF_ZONE_DMA32), 4042);
    CHECK_EQ(try_alloc(&r, 20, 0, FF_ZONE_DMA, &start), FF_ERR_NOMEM); /* 14 left below */
    CHECK_EQ(release(&r, 4096, 1), FF_OK);
    CHECK_EQ(take(&r, 20, 0, FF_ZONE_DMA32), 4082); /* may cross into DMA32 */
    CHECK(FL->check(r.fl) == NULL);
    rig_close(&r);

    const ff_range at_4g[] = {{0xFFFF0, 16}, {0x100000, 16}};
    rig_open(&r, at_4g, 2);
    CHECK_EQ(try_alloc(&r, 17, 0, FF_ZONE_DMA32, &start), FF_ERR_NOMEM);
    CHECK_EQ(try_alloc(&r, 1, 0, FF_ZONE_DMA, &start), FF_ERR_NOMEM);
    CHECK_EQ(take(&r, 16, 0, FF_ZONE_DMA32), 0xFFFF0);
    CHECK_EQ(try_alloc(&r, 1, 0, FF_ZONE_DMA32, &start), FF_ERR_NOMEM);
    CHECK_EQ(take(&r, 16, 16, FF_ZONE_NORMAL), 0x100000);
    rig_close(&r);
}

/* ---------------------------------------------------------------- validation */

FF_TEST(freelist_invalid_requests_change_nothing)
{
    rig r;
    const ff_range ranges[] = {{64, 64}};
    rig_open(&r, ranges, 1);
    CHECK_EQ(take(&r, 3, 0, FF_ZONE_NORMAL), 64);
    size_t bytes = r.st.nframes * FF_FRAME_SIZE;
    unsigned char *before = malloc(bytes);
    CHECK(before);
    memcpy(before, r.st.mem, bytes);

    const ff_alloc_req bad[] = {
        {0, 0, FF_ZONE_NORMAL},  {1, 3, FF_ZONE_NORMAL}, {1, 12, FF_ZONE_NORMAL},
        {1, UINT64_MAX, FF_ZONE_NORMAL}, {1, 0, FF_ZONE_COUNT}, {1, 0, (ff_zone)7},
        {0, 3, (ff_zone)9},
        /* Past any frame space: malformed, not merely too big. */
        {UINT64_MAX, 0, FF_ZONE_NORMAL}, {FF_PFN_LIMIT + 1, 0, FF_ZONE_NORMAL},
        {1, UINT64_C(1) << 63, FF_ZONE_NORMAL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ff_pfn start = 42;
        CHECK_EQ(FL->alloc(r.fl, &bad[i], &start), FF_ERR_INVALID);
        CHECK_EQ(start, 42);
    }
    const ff_alloc_req too_big[] = {
        {FF_PFN_LIMIT, 0, FF_ZONE_NORMAL}, {62, 0, FF_ZONE_NORMAL},
        {1, FF_PFN_LIMIT, FF_ZONE_NORMAL}, {32, 64, FF_ZONE_NORMAL},
    };
    for (size_t i = 0; i < sizeof too_big / sizeof too_big[0]; i++) {
        ff_pfn start;
        CHECK_EQ(FL->alloc(r.fl, &too_big[i], &start), FF_ERR_NOMEM);
    }
    CHECK(memcmp(before, r.st.mem, bytes) == 0);
    CHECK_EQ(free_frames(&r), 61);
    CHECK(FL->check(r.fl) == NULL);
    /* Align 0 and 1 both mean "none". */
    CHECK_EQ(take(&r, 1, 0, FF_ZONE_NORMAL), 67);
    CHECK_EQ(take(&r, 1, 1, FF_ZONE_NORMAL), 68);
    free(before);
    rig_close(&r);
}

FF_TEST(freelist_rejections_change_nothing)
{
    rig r;
    const ff_range ranges[] = {{100, 64}, {170, 30}};
    rig_open(&r, ranges, 2);
    /* A [100,108)  free [108,116)  C [116,124)  D [124,132)  free [132,164) | hole | free [170,200) */
    CHECK_EQ(take(&r, 8, 0, FF_ZONE_NORMAL), 100);
    CHECK_EQ(take(&r, 8, 0, FF_ZONE_NORMAL), 108);
    CHECK_EQ(take(&r, 8, 0, FF_ZONE_NORMAL), 116);
    CHECK_EQ(take(&r, 8, 0, FF_ZONE_NORMAL), 124);
    CHECK_EQ(release(&r, 108, 8), FF_OK);
    CHECK_EQ(free_frames(&r), 70);

    size_t bytes = r.st.nframes * FF_FRAME_SIZE;
    unsigned char *before = malloc(bytes);
    CHECK(before);
    memcpy(before, r.st.mem, bytes);

    static const struct {
        ff_pfn start;
        uint64_t count;
        ff_status want;
    } cases[] = {
        {5, 0, FF_ERR_INVALID},
        {100, 0, FF_ERR_INVALID},
        {UINT64_MAX, 2, FF_ERR_INVALID},
        {0, UINT64_MAX, FF_ERR_INVALID},
        {FF_PFN_LIMIT - 1, 2, FF_ERR_INVALID},
        {FF_PFN_LIMIT, 1, FF_ERR_INVALID},
        {50, 1, FF_ERR_FOREIGN},
        {99, 2, FF_ERR_FOREIGN},
        {160, 5, FF_ERR_FOREIGN},      /* into the hole */
        {132, 40, FF_ERR_FOREIGN},     /* free frames and the hole: foreign wins */
        {200, 1, FF_ERR_FOREIGN},
        {FF_PFN_LIMIT - 1, 1, FF_ERR_FOREIGN},
        {108, 8, FF_ERR_DOUBLE},
        {110, 1, FF_ERR_DOUBLE},
        {115, 2, FF_ERR_DOUBLE},       /* only the previous extent's last frame */
        {104, 8, FF_ERR_DOUBLE},       /* overlaps the previous extent's start */
        {100, 9, FF_ERR_DOUBLE},       /* right head, but reaches a free frame */
        {124, 9, FF_ERR_DOUBLE},
        {131, 2, FF_ERR_DOUBLE},
        {175, 1, FF_ERR_DOUBLE},
        {101, 7, FF_ERR_MISALIGNED},
        {120, 4, FF_ERR_MISALIGNED},
        {117, 11, FF_ERR_MISALIGNED},  /* also the wrong size: misaligned wins */
        {100, 7, FF_ERR_WRONG_SIZE},
        {100, 1, FF_ERR_WRONG_SIZE},
        {116, 16, FF_ERR_WRONG_SIZE},  /* two allocations at once */
        {116, 9, FF_ERR_WRONG_SIZE},
        {124, 7, FF_ERR_WRONG_SIZE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_EQ(release(&r, cases[i].start, cases[i].count), cases[i].want);
        CHECK(memcmp(before, r.st.mem, bytes) == 0);
        CHECK_EQ(free_frames(&r), 70);
        CHECK(FL->check(r.fl) == NULL);
    }
    free(before);

    /* The head bits survived every rejection: the real frees still work. */
    CHECK_EQ(release(&r, 116, 8), FF_OK);
    CHECK_EQ(release(&r, 100, 8), FF_OK);
    CHECK_EQ(release(&r, 124, 8), FF_OK);
    CHECK_EQ(release(&r, 124, 8), FF_ERR_DOUBLE);
    CHECK_EQ(take(&r, 64, 0, FF_ZONE_NORMAL), 100);
    CHECK_EQ(take(&r, 30, 0, FF_ZONE_NORMAL), 170);
    CHECK_EQ(release(&r, 170, 31), FF_ERR_FOREIGN); /* too long runs off the RAM */
    CHECK_EQ(release(&r, 170, 30), FF_OK);
    CHECK_EQ(release(&r, 170, 30), FF_ERR_DOUBLE);
    CHECK(FL->check(r.fl) == NULL);
    rig_close(&r);
}

/* One-frame neighbours: the size check must see a head right after the start. */
FF_TEST(freelist_wrong_size_spanning_allocations)
{
    rig r;
    const ff_range ranges[] = {{10, 10}};
    rig_open(&r, ranges, 1);
    for (ff_pfn p = 10; p < 13; p++) CHECK_EQ(take(&r, 1, 0, FF_ZONE_NORMAL), p);
    CHECK_EQ(take(&r, 7, 0, FF_ZONE_NORMAL), 13);
    CHECK_EQ(release(&r, 10, 2), FF_ERR_WRONG_SIZE);
    CHECK_EQ(release(&r, 11, 2), FF_ERR_WRONG_SIZE);
    CHECK_EQ(release(&r, 12, 8), FF_ERR_WRONG_SIZE);
    CHECK_EQ(release(&r, 13, 6), FF_ERR_WRONG_SIZE);
    CHECK_EQ(release(&r, 13, 8), FF_ERR_FOREIGN);
    CHECK_EQ(release(&r, 11, 1), FF_OK);
    CHECK_EQ(release(&r, 10, 2), FF_ERR_DOUBLE);
    CHECK_EQ(release(&r, 12, 1), FF_OK);
    CHECK_EQ(release(&r, 10, 1), FF_OK);
    CHECK_EQ(release(&r, 13, 7), FF_OK);
    CHECK_EQ(free_frames(&r), 10);
    CHECK(FL->check(r.fl) == NULL);
    rig_close(&r);
}

/* ---------------------------------------------------------------- robustness */

/* Use-after-free writes into a free extent's node: every operation must survive it,
 * and check() must name the damage (or pass when only non-node bytes changed). */
FF_TEST(freelist_corrupt_nodes_are_survived_and_reported)
{
    static const struct {
        ff_pfn pfn;
        unsigned word; /* 0 = count, 1 = next, 2 = bytes past the node */
        uint64_t value;
        const char *report; /* fragment of check()'s answer; NULL = still sane */
    } cases[] = {
        {120, 2, 0x1234, NULL},
        {120, 0, 0, "zero count"},
        {120, 0, UINT64_MAX, "past managed RAM"},
        {120, 0, 81, "past managed RAM"},
        {120, 1, 100, "precedes"},              /* a cycle back to the first extent */
        {120, 1, 120, "precedes"},              /* a self loop */
        {120, 1, 150, "precedes"},
        {120, 1, UINT64_C(0x5555555555), "0x78: next outside"},
        {120, 1, 250, "0x78: next outside"},    /* the hole */
        {120, 1, 350, "pfn 0x15e"},             /* a poisoned frame, not a node */
        {120, 1, 200, "adjacent"},
        {100, 0, 90, "precedes"},
        {100, 0, 20, "adjacent"},
        {100, 0, 5, "counter says"},            /* a sane node that lost frames */
        {100, 0, 15, "allocation head"},        /* swallows B's first frame */
        {300, 0, 0xAAAAAAAAAAAAAAAA, "pfn 0x12c"},
    };
    const ff_range ranges[] = {{100, 100}, {300, 100}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        rig r;
        rig_open(&r, ranges, 2);
        /* free [100,110)  B [110,120)  free [120,200) | hole | free [300,400) */
        CHECK_EQ(take(&r, 10, 0, FF_ZONE_NORMAL), 100);
        CHECK_EQ(take(&r, 10, 0, FF_ZONE_NORMAL), 110);
        CHECK_EQ(release(&r, 100, 10), FF_OK);

        if (cases[k].word == 2)
            memset(frame(&r, cases[k].pfn) + 16, 0x12, 64);
        else
            poke_word(&r, cases[k].pfn, cases[k].word, cases[k].value);
        const char *found = FL->check(r.fl);
        if (!cases[k].report) {
            CHECK(found == NULL);
        } else {
            CHECK(found != NULL);
            CHECK(strstr(found, cases[k].report) != NULL);
        }

        /* Nothing may crash or hang, and every answer must be a real status. */
        static const ff_alloc_req reqs[] = {
            {1, 0, FF_ZONE_NORMAL},  {50, 0, FF_ZONE_NORMAL}, {5, 64, FF_ZONE_DMA},
            {100, 0, FF_ZONE_NORMAL}, {3, 0, FF_ZONE_NORMAL},
        };
        for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
            ff_pfn start;
            CHECK(FL->alloc(r.fl, &reqs[i], &start) < FF_STATUS_COUNT);
        }
        CHECK(release(&r, 110, 10) < FF_STATUS_COUNT);
        CHECK(release(&r, 150, 5) < FF_STATUS_COUNT);
        CHECK(release(&r, 300, 10) < FF_STATUS_COUNT);
        CHECK(release(&r, 390, 10) < FF_STATUS_COUNT);
        CHECK((FL->check(r.fl) != NULL) == (cases[k].report != NULL));
        rig_close(&r);
    }
}

/* 500 one-frame extents over [0, 1000): a two-frame request walks all of them. */
static void open_fragmented(rig *r)
{
    const ff_range ranges[] = {{0, 1000}};
    rig_open(r, ranges, 1);
    for (ff_pfn i = 0; i < 1000; i++) CHECK_EQ(take(r, 1, 0, FF_ZONE_NORMAL), i);
    for (ff_pfn i = 0; i < 1000; i += 2) CHECK_EQ(release(r, i, 1), FF_OK);
}

FF_TEST(freelist_step_budget_ends_in_hang)
{
    /* On the heap: the step counter changes between setjmp and longjmp. */
    rig *r = malloc(sizeof *r);
    CHECK(r);
    open_fragmented(r);
    jmp_buf hang;
    volatile bool hung = false;
    r->env.steps = 0;
    r->env.step_budget = 100;
    r->env.on_hang = &hang;
    if (setjmp(hang) == 0)
        try_alloc(r, 2, 0, FF_ZONE_NORMAL, &(ff_pfn){0});
    else
        hung = true;
    CHECK(hung);
    CHECK_EQ(r->env.steps, 101);
    rig_close(r);

    /* Without a budget the same walk counts its steps and ends. */
    open_fragmented(r);
    r->env.steps = 0;
    CHECK_EQ(try_alloc(r, 2, 0, FF_ZONE_NORMAL, &(ff_pfn){0}), FF_ERR_NOMEM);
    CHECK(r->env.steps >= 500);
    r->env.steps = 0;
    CHECK(FL->check(r->fl) == NULL); /* the invariant walk counts its steps too */
    CHECK(r->env.steps >= 500);
    rig_close(r);
    free(r);
}

/* ---------------------------------------------------------------- scale */

/* A store that materialises at most a few frames, for spaces too big to back. */
typedef struct sparse_store {
    ff_pfn pfn[16];
    unsigned char *page[16];
    unsigned used;
} sparse_store;

static void *sparse_frame(void *space, ff_pfn pfn)
{
    sparse_store *st = space;
    for (unsigned i = 0; i < st->used; i++)
        if (st->pfn[i] == pfn) return st->page[i];
    if (st->used == 16) return NULL;
    st->pfn[st->used] = pfn;
    st->page[st->used] = malloc(FF_FRAME_SIZE);
    if (!st->page[st->used]) return NULL;
    memset(st->page[st->used], POISON, FF_FRAME_SIZE);
    return st->page[st->used++];
}

FF_TEST(freelist_terabyte_space_is_cheap)
{
    sparse_store st = {0};
    ff_env env = {.frame_mem = sparse_frame, .space = &st};
    const uint64_t top = UINT64_C(1) << 28; /* 1 TiB of frames */
    const ff_range ranges[] = {
        {1, 158}, {256, 4096 - 256}, {4096, 0x100000 - 4096}, {0x100000, top - 0x100000},
    };
    void *fl = FL->create(&env, ranges, 4);
    CHECK(fl);
    uint64_t all = top - 256 + 158;
    CHECK_EQ(FL->free_frames(fl), all);

    ff_alloc_req half = {top / 2, top / 2, FF_ZONE_NORMAL};
    ff_alloc_req low = {0x100000, 0, FF_ZONE_DMA32};
    ff_pfn a, b;
    CHECK_EQ(FL->alloc(fl, &half, &a), FF_OK);
    CHECK_EQ(a, top / 2);
    CHECK_EQ(FL->alloc(fl, &low, &b), FF_ERR_NOMEM); /* [256, 4 GiB) is short of it */
    low.count = 0x100000 - 256;
    CHECK_EQ(FL->alloc(fl, &low, &b), FF_OK);
    CHECK_EQ(b, 256);
    CHECK(FL->check(fl) == NULL);
    CHECK_EQ(FL->free(fl, a, top / 2 - 1), FF_ERR_WRONG_SIZE);
    CHECK_EQ(FL->free(fl, a, top / 2), FF_OK);
    CHECK_EQ(FL->free(fl, b, low.count), FF_OK);
    CHECK_EQ(FL->free_frames(fl), all);
    CHECK(FL->check(fl) == NULL);
    CHECK(st.used <= 8); /* only range ends (probed at create) and node frames */
    FL->destroy(fl);
    for (unsigned i = 0; i < st.used; i++) free(st.page[i]);
}

/* ---------------------------------------------------------------- random ops against a model */

/* Frame-by-frame model: -1 hole, 0 free, else the id of the owning allocation;
 * size[] holds each allocation's count at its first frame. */
#define MODEL_BASE 4000
#define MODEL_FRAMES 500

typedef struct model {
    int32_t owner[MODEL_FRAMES];
    uint64_t size[MODEL_FRAMES];
    uint64_t free;
    int32_t next_id;
} model;

typedef struct live {
    ff_pfn start;
    uint64_t count;
} live;

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static bool model_managed(ff_pfn pfn)
{
    return pfn >= MODEL_BASE && pfn < MODEL_BASE + MODEL_FRAMES;
}

/* The lowest aligned run of free frames below the zone's end. */
static ff_status model_alloc(const model *m, uint64_t count, uint64_t align, ff_zone zone, ff_pfn *at)
{
    uint64_t a = align > 1 ? align : 1;
    ff_pfn limit = ff_zone_end(zone);
    for (ff_pfn s = (MODEL_BASE + a - 1) / a * a; s + count <= MODEL_BASE + MODEL_FRAMES; s += a) {
        if (s + count > limit) break;
        uint64_t n = 0;
        while (n < count && m->owner[s + n - MODEL_BASE] == 0) n++;
        if (n == count) {
            *at = s;
            return FF_OK;
        }
    }
    return FF_ERR_NOMEM;
}

static ff_status model_free(const model *m, ff_pfn start, uint64_t count)
{
    if (count == 0 || count > FF_PFN_LIMIT || start > FF_PFN_LIMIT - count) return FF_ERR_INVALID;
    for (uint64_t i = 0; i < count; i++)
        if (!model_managed(start + i) || m->owner[start + i - MODEL_BASE] < 0) return FF_ERR_FOREIGN;
    for (uint64_t i = 0; i < count; i++)
        if (m->owner[start + i - MODEL_BASE] == 0) return FF_ERR_DOUBLE;
    if (m->size[start - MODEL_BASE] == 0) return FF_ERR_MISALIGNED;
    return m->size[start - MODEL_BASE] == count ? FF_OK : FF_ERR_WRONG_SIZE;
}

static void model_set(model *m, rig *r, ff_pfn start, uint64_t count, int32_t owner)
{
    for (uint64_t i = 0; i < count; i++) m->owner[start + i - MODEL_BASE] = owner;
    m->size[start - MODEL_BASE] = owner ? count : 0;
    /* The user fills what it owns; freed frames get their poison back. */
    memset(frame(r, start), owner ? USER_FILL : POISON, count * FF_FRAME_SIZE);
}

/* Allocated frames are never written by the allocator; free ones only in-band. */
static void model_verify_memory(const model *m, rig *r)
{
    for (ff_pfn i = 0; i < MODEL_FRAMES; i++) {
        if (m->owner[i] > 0)
            CHECK(frame_holds(r, MODEL_BASE + i, 0, FF_FRAME_SIZE, USER_FILL));
        else
            CHECK(frame_holds(r, MODEL_BASE + i, 16, FF_FRAME_SIZE, POISON));
    }
}

/* Runs `ops` random operations, checking each answer against the model; returns a
 * hash of every answer. */
static uint64_t run_random(uint64_t seed, unsigned ops)
{
    const ff_range ranges[] = {{4000, 50}, {4051, 45}, {4096, 204}, {4400, 100}};
    static const uint64_t aligns[] = {0, 1, 2, 4, 8, 16, 32, 64, 128};
    model m;
    live lives[MODEL_FRAMES];
    size_t nlive = 0;
    rig r;
    rig_open(&r, ranges, 4);
    memset(&m, 0, sizeof m);
    for (ff_pfn p = MODEL_BASE; p < MODEL_BASE + MODEL_FRAMES; p++) {
        bool ram = false;
        for (size_t i = 0; i < 4; i++)
            ram |= p >= ranges[i].start && p < ff_range_end(ranges[i]);
        m.owner[p - MODEL_BASE] = ram ? 0 : -1;
        m.free += ram;
    }
    CHECK_EQ(free_frames(&r), m.free);

    uint64_t hash = 0xcbf29ce484222325u, s = seed;
    for (unsigned op = 0; op < ops; op++) {
        uint64_t roll = rng_next(&s) % 100, got_start = 0;
        ff_status got;
        if (roll < 50 || nlive == 0) {
            uint64_t count = rng_next(&s) % 16 == 0 ? 1 + rng_next(&s) % 200 : 1 + rng_next(&s) % 24;
            uint64_t align = aligns[rng_next(&s) % 9];
            ff_zone zone = (ff_zone)(rng_next(&s) % FF_ZONE_COUNT);
            ff_pfn want_start = 0, start = 0;
            ff_status want = model_alloc(&m, count, align, zone, &want_start);
            got = try_alloc(&r, count, align, zone, &start);
            CHECK_EQ(got, want);
            if (got == FF_OK) {
                CHECK_EQ(start, want_start);
                model_set(&m, &r, start, count, ++m.next_id);
                m.free -= count;
                lives[nlive++] = (live){start, count};
                got_start = start;
            }
        } else {
            size_t i = rng_next(&s) % nlive;
            ff_pfn start = lives[i].start;
            uint64_t count = lives[i].count;
            if (roll >= 85) { /* a wrong free */
                switch (rng_next(&s) % 3) {
                case 0: start += rng_next(&s) % 5 - 2; break;
                case 1: count += rng_next(&s) % 5 - 2; break;
                default:
                    start = MODEL_BASE - 10 + rng_next(&s) % (MODEL_FRAMES + 20);
                    count = rng_next(&s) % 30;
                }
            }
            ff_status want = model_free(&m, start, count);
            if (want == FF_OK) { /* the user poisons before giving frames back */
                model_set(&m, &r, start, count, 0);
                m.free += count;
                for (size_t j = 0; j < nlive; j++)
                    if (lives[j].start == start) lives[j] = lives[--nlive];
            }
            got = release(&r, start, count);
            CHECK_EQ(got, want);
        }
        CHECK(FL->check(r.fl) == NULL);
        CHECK_EQ(free_frames(&r), m.free);
        if (op % 250 == 0) model_verify_memory(&m, &r);
        hash = (hash ^ ((uint64_t)got << 48 ^ got_start)) * 0x100000001b3u;
    }
    model_verify_memory(&m, &r);
    rig_close(&r);
    return hash;
}

FF_TEST(freelist_random_ops_match_first_fit_model)
{
    for (uint64_t seed = 1; seed <= 3; seed++) run_random(seed * 0x9E3779B97F4A7C15u, 1500);
}

FF_TEST(freelist_deterministic)
{
    uint64_t a = run_random(42, 800), b = run_random(42, 800), c = run_random(43, 800);
    CHECK_EQ(a, b);
    CHECK(a != c);
}
