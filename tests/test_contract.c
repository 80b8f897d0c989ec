/* test_contract.c — every validating back-end against the contract in backend.h:
 * each rejection code where it belongs, and no change of state on any rejection. */
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "space.h"
#include "unit.h"

/* Two usable ranges with a reserved gap and a hole, and RAM straddling 16 MiB. */
static void contract_space(ff_space *space)
{
    ff_e820_map map;
    char err[128];
    ff_e820_init(&map);
    CHECK(ff_e820_add(&map, 0x10 * FF_FRAME_SIZE, 0x40 * FF_FRAME_SIZE, FF_MEM_USABLE));
    CHECK(ff_e820_add(&map, 0x50 * FF_FRAME_SIZE, 0x10 * FF_FRAME_SIZE, FF_MEM_RESERVED));
    CHECK(ff_e820_add(&map, 0x80 * FF_FRAME_SIZE, 0x40 * FF_FRAME_SIZE, FF_MEM_USABLE));
    CHECK(ff_e820_add(&map, (FF_ZONE_DMA_END_PFN - 32) * FF_FRAME_SIZE, 64 * FF_FRAME_SIZE,
                      FF_MEM_USABLE));
    ff_space_opts opts = {0};
    CHECK(ff_space_init(space, &map, &opts, err, sizeof err));
    ff_e820_free(&map);
    CHECK(ff_space_enable_backing(space, FF_POISON_DEFAULT));
}

typedef struct instance {
    const ff_backend_def *def;
    ff_env env;
    void *self;
} instance;

static void instance_create(instance *in, const ff_backend_def *def, ff_space *space)
{
    in->def = def;
    in->env = (ff_env){.frame_mem = ff_space_frame_mem, .space = space, .resets = true};
    in->self = def->create(&in->env, space->usable, space->nusable);
    CHECK(in->self);
}

/* Asserts a free is refused with `want` and changes nothing observable. */
static void expect_refused(instance *in, ff_pfn start, uint64_t count, ff_status want)
{
    uint64_t before = in->def->free_frames(in->self);
    ff_status got = in->def->free(in->self, start, count);
    if (got != want)
        printf("  %s: free(0x%llx, %llu) answered %s, expected %s\n", in->def->name,
               (unsigned long long)start, (unsigned long long)count, ff_status_name(got),
               ff_status_name(want));
    CHECK_EQ(got, want);
    CHECK_EQ(in->def->free_frames(in->self), before);
    if (in->def->check) {
        const char *broken = in->def->check(in->self);
        if (broken) printf("  %s: %s\n", in->def->name, broken);
        CHECK(broken == NULL);
    }
}

static void run_contract(const ff_backend_def *def)
{
    ff_space space;
    instance in;
    contract_space(&space);
    instance_create(&in, def, &space);
    uint64_t free0 = def->free_frames(in.self);
    CHECK_EQ(free0, space.usable_frames);

    /* Fill RAM with 4-frame allocations, then find one followed by another. */
    ff_pfn blocks[64];
    size_t n = 0;
    ff_alloc_req four = {.count = 4, .zone = FF_ZONE_NORMAL};
    while (n < 64 && def->alloc(in.self, &four, &blocks[n]) == FF_OK) n++;
    CHECK(n >= 8);
    ff_pfn a = blocks[0], b = 0;
    bool followed = false;
    for (size_t i = 0; i < n && !followed; i++)
        for (size_t j = 0; j < n; j++)
            if (blocks[j] == blocks[i] + 4) {
                a = blocks[i];
                b = blocks[j];
                followed = true;
                break;
            }
    CHECK(followed);

    /* INVALID: zero frames, a range that wraps. */
    expect_refused(&in, a, 0, FF_ERR_INVALID);
    expect_refused(&in, UINT64_MAX - 1, 4, FF_ERR_INVALID);
    /* FOREIGN: a reserved frame, a hole, past all RAM, a range running into a hole. */
    expect_refused(&in, 0x50, 1, FF_ERR_FOREIGN);
    expect_refused(&in, 0x70, 1, FF_ERR_FOREIGN);
    expect_refused(&in, 0x5, 1, FF_ERR_FOREIGN);
    expect_refused(&in, FF_ZONE_DMA_END_PFN + 1000, 1, FF_ERR_FOREIGN);
    expect_refused(&in, 0x4e, 4, FF_ERR_FOREIGN);
    /* MISALIGNED: inside an allocation, not at its first frame. */
    expect_refused(&in, a + 1, 3, FF_ERR_MISALIGNED);
    expect_refused(&in, a + 2, 1, FF_ERR_MISALIGNED);
    expect_refused(&in, b + 1, 2, FF_ERR_MISALIGNED);
    /* WRONG_SIZE: the right start, the wrong count (short, or running into b). */
    expect_refused(&in, a, 3, FF_ERR_WRONG_SIZE);
    expect_refused(&in, a, 1, FF_ERR_WRONG_SIZE);
    expect_refused(&in, a, 8, FF_ERR_WRONG_SIZE);

    /* DOUBLE: a's frames once freed; a range touching free frames. */
    CHECK_EQ(def->free(in.self, a, 4), FF_OK);
    expect_refused(&in, a, 4, FF_ERR_DOUBLE);
    expect_refused(&in, a + 1, 1, FF_ERR_DOUBLE);
    expect_refused(&in, a, 8, FF_ERR_DOUBLE);

    /* Everything else goes back cleanly and the counter returns to where it began. */
    for (size_t i = 0; i < n; i++)
        if (blocks[i] != a) CHECK_EQ(def->free(in.self, blocks[i], 4), FF_OK);
    CHECK_EQ(def->free_frames(in.self), free0);
    if (def->check) CHECK(def->check(in.self) == NULL);

    def->destroy(in.self);
    ff_space_destroy(&space);
}

FF_TEST(contract_validating_backends_reject_every_bad_free_without_change)
{
    size_t validating = 0;
    for (size_t i = 0; i < ff_backend_count; i++) {
        const ff_backend_def *def = ff_backends[i];
        if (!def->policy.validates_frees) continue;
        CHECK_EQ(def->policy.free_rule, FF_FREE_EXACT);
        run_contract(def);
        validating++;
    }
    CHECK(validating > 0); /* the test ran: buddy, bitmap and freelist validate */
}

FF_TEST(contract_malformed_allocations_are_invalid_everywhere)
{
    for (size_t i = 0; i < ff_backend_count; i++) {
        const ff_backend_def *def = ff_backends[i];
        ff_space space;
        instance in;
        contract_space(&space);
        instance_create(&in, def, &space);
        uint64_t free0 = def->free_frames(in.self);
        ff_pfn start;
        ff_alloc_req bad_align = {.count = 1, .align = 3, .zone = FF_ZONE_NORMAL};
        ff_alloc_req bad_zone = {.count = 1, .zone = (ff_zone)7};
        ff_alloc_req huge = {.count = UINT64_MAX, .zone = FF_ZONE_NORMAL};
        CHECK_EQ(def->alloc(in.self, &bad_align, &start), FF_ERR_INVALID);
        CHECK_EQ(def->alloc(in.self, &bad_zone, &start), FF_ERR_INVALID);
        ff_status st = def->alloc(in.self, &huge, &start);
        CHECK(st == FF_ERR_INVALID || st == FF_ERR_NOMEM);
        if (def->policy.validates_frees) {
            ff_alloc_req zero = {.count = 0, .zone = FF_ZONE_NORMAL};
            CHECK_EQ(def->alloc(in.self, &zero, &start), FF_ERR_INVALID);
        }
        CHECK_EQ(def->free_frames(in.self), free0);
        def->destroy(in.self);
        ff_space_destroy(&space);
    }
}

/* The registry's lines, counted from the file itself: no test pins the list. */
static const size_t registered_lines = 0
#define FF_BACKEND(name) +1
#include "backends.def"
#undef FF_BACKEND
    ;

FF_TEST(contract_every_backend_is_registered_once_with_a_sane_policy)
{
    CHECK_EQ(ff_backend_count, registered_lines);
    for (size_t i = 0; i < ff_backend_count; i++) {
        const ff_backend_def *def = ff_backends[i];
        CHECK(ff_backend_find(def->name) == def);
        CHECK(def->create && def->destroy && def->alloc && def->free && def->free_frames);
        CHECK(def->summary && def->summary[0]);
        CHECK(def->policy.max_order < 64 || def->policy.max_order == FF_ORDER_ANY);
        CHECK(def->policy.inband_bytes < FF_FRAME_SIZE);
        if (def->policy.inband_bytes) CHECK(def->policy.needs_backing);
    }
    CHECK(ff_backend_find("nope") == NULL);
    CHECK(!ff_backend_find("bsa")->policy.validates_frees);
}

/* ---------------------------------------------------------------- validation */

FF_TEST(contract_every_registered_backend_validates)
{
    char err[200];
    for (size_t i = 0; i < ff_backend_count; i++) {
        bool ok = ff_backend_validate(ff_backends[i], err, sizeof err);
        if (!ok) printf("  %s\n", err);
        CHECK(ok);
    }
}

FF_TEST(contract_validation_names_what_is_wrong)
{
    char err[200];
    ff_backend_def def = *ff_backend_find("buddy");
    def.name = "My Alloc";
    CHECK(!ff_backend_validate(&def, err, sizeof err));
    CHECK(strstr(err, "name 'My Alloc'") != NULL);

    def = *ff_backend_find("buddy");
    def.free = NULL;
    CHECK(!ff_backend_validate(&def, err, sizeof err));
    CHECK_STREQ(err, "buddy: the required hook .free is missing");

    def = *ff_backend_find("bitmap");
    def.policy.rounding = FF_ROUND_POW2;
    CHECK(!ff_backend_validate(&def, err, sizeof err));
    CHECK(strstr(err, "power-of-two rounding needs power-of-two placement") != NULL);

    def = *ff_backend_find("bitmap");
    def.policy.inband_bytes = 16;
    CHECK(!ff_backend_validate(&def, err, sizeof err));
    CHECK(strstr(err, "not needs_backing") != NULL);

    def = *ff_backend_find("buddy");
    def.policy.max_order = 41;
    CHECK(!ff_backend_validate(&def, err, sizeof err));
    CHECK(strstr(err, "max_order 41") != NULL);

    def = *ff_backend_find("freelist");
    def.policy.inband_bytes = FF_FRAME_SIZE;
    CHECK(!ff_backend_validate(&def, err, sizeof err));
    CHECK(strstr(err, "inband_bytes 4096") != NULL);
}

/* ---------------------------------------------------------------- reset */

/* A deterministic mixed workload: allocations of assorted sizes, alignments and zones,
 * frees of what it holds and frees it does not hold. Returns
 * a hash of every answer, every block returned and the counter after each call. */
static uint64_t workload(instance *in, uint64_t seed, unsigned steps, ff_pfn top)
{
    static const uint64_t counts[] = {1, 2, 3, 4, 5, 8, 16, 33};
    static const uint64_t aligns[] = {0, 1, 2, 8};
    struct { ff_pfn start; uint64_t count; } held[64];
    size_t nheld = 0;
    uint64_t x = seed * 2654435761u + 1, hash = 1469598103934665603u;
    /* A back-end that trusts its caller may panic on a free it did not make (asterinas,
     * as FreeChunk::from_unused does), which ends an instance: only bsa, which takes
     * them all, gets them beside the validating ones. */
    bool foreign_frees = in->def->policy.validates_frees || strcmp(in->def->name, "bsa") == 0;
#define MIX(v) (hash = (hash ^ (uint64_t)(v)) * 1099511628211u)
    for (unsigned i = 0; i < steps; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        unsigned what = (unsigned)(x % 8);
        ff_status st;
        if (what < 4 && nheld < 64) {
            ff_alloc_req req = {.count = counts[(x >> 8) % 8], .align = aligns[(x >> 16) % 4],
                                .zone = (ff_zone)((x >> 24) % FF_ZONE_COUNT)};
            ff_pfn start = 0;
            st = in->def->alloc(in->self, &req, &start);
            MIX(st);
            if (st == FF_OK) {
                MIX(start);
                held[nheld].start = start;
                held[nheld++].count = req.count;
            }
        } else if (what < 7 && nheld) {
            size_t k = (size_t)((x >> 8) % nheld);
            st = in->def->free(in->self, held[k].start, held[k].count);
            MIX(st);
            held[k] = held[--nheld];
        } else if (foreign_frees) {
            /* Frees it does not hold: refused, or for bsa accepted and remembered. */
            st = in->def->free(in->self, (x >> 8) % top, 1 + (x >> 32) % 8);
            MIX(st);
        }
        MIX(in->def->free_frames(in->self));
    }
    if (in->def->check) MIX(in->def->check(in->self) == NULL);
#undef MIX
    return hash;
}

FF_TEST(contract_reset_gives_back_exactly_what_create_made)
{
    for (size_t i = 0; i < ff_backend_count; i++) {
        const ff_backend_def *def = ff_backends[i];
        if (!def->reset) continue; /* optional: the layer rebuilds such a back-end */
        ff_space used_space, fresh_space;
        instance used, fresh;
        contract_space(&used_space);
        contract_space(&fresh_space);
        instance_create(&used, def, &used_space);
        for (uint64_t round = 1; round <= 4; round++) {
            /* Something different every round, then back to the start as the layer
             * does it: the frames first, then the instance. */
            workload(&used, round * 7919, 300, used_space.top);
            ff_space_reset(&used_space);
            CHECK(def->reset(used.self));
            instance_create(&fresh, def, &fresh_space);
            uint64_t want = workload(&fresh, 99, 400, fresh_space.top);
            uint64_t got = workload(&used, 99, 400, used_space.top);
            if (got != want) printf("  %s: round %llu answers differently after reset\n",
                                    def->name, (unsigned long long)round);
            CHECK_EQ(got, want);
            def->destroy(fresh.self);
            ff_space_reset(&fresh_space);
            ff_space_reset(&used_space);
            CHECK(def->reset(used.self));
        }
        def->destroy(used.self);
        ff_space_destroy(&used_space);
        ff_space_destroy(&fresh_space);
    }
}
