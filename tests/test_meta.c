/* test_meta.c — the metadata layer: both semantics, the #1760 sequence, deferral,
 * refcounts, the lock model, hangs, poisoning and reset. */
#include <stdio.h>
#include <string.h>

#include "meta.h"
#include "unit.h"

/* ---------------------------------------------------------------- fixtures */

#define MAX_EVENTS 256

typedef struct recorder {
    ff_event ev[MAX_EVENTS];
    size_t n;
} recorder;

static void record(void *ctx, const ff_event *ev)
{
    recorder *r = ctx;
    if (r->n < MAX_EVENTS) r->ev[r->n++] = *ev;
}

static size_t count_kind(const recorder *r, ff_event_kind kind)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) n += r->ev[i].kind == kind;
    return n;
}

/* Allocation events whose block [start, start + reserved) holds pfn. */
static size_t handouts_of(const recorder *r, ff_pfn pfn, uint64_t reserved_of_count(uint64_t))
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        const ff_event *e = &r->ev[i];
        if (e->kind != FF_EV_ALLOC || e->status != FF_OK) continue;
        if (pfn >= e->start && pfn < e->start + reserved_of_count(e->req->count)) n++;
    }
    return n;
}

static uint64_t pow2_reservation(uint64_t count) { return count ? UINT64_C(1) << ff_log2_ceil(count) : 1; }

/* The map of the #1760 test: frame 1 lies inside a 128-frame free block, and 15
 * small frames elsewhere serve single-frame allocations first. */
static void space_1760(ff_space *space)
{
    ff_e820_map map;
    char err[128];
    ff_e820_init(&map);
    CHECK(ff_e820_add(&map, 0, 128 * FF_FRAME_SIZE, FF_MEM_USABLE));
    CHECK(ff_e820_add(&map, 200 * FF_FRAME_SIZE, 15 * FF_FRAME_SIZE, FF_MEM_USABLE));
    CHECK(ff_e820_add(&map, 215 * FF_FRAME_SIZE, 5 * FF_FRAME_SIZE, FF_MEM_RESERVED));
    ff_space_opts opts = {0};
    CHECK(ff_space_init(space, &map, &opts, err, sizeof err));
    ff_e820_free(&map);
}

static ff_meta *make_meta(ff_space *space, const char *backend, ff_semantics sem, recorder *rec)
{
    char err[160];
    const ff_backend_def *def = ff_backend_find(backend);
    CHECK(def);
    ff_meta_opts opts = {.semantics = sem, .observer = rec ? record : NULL, .observer_ctx = rec};
    ff_meta *m = ff_meta_create(space, def, &opts, err, sizeof err);
    if (!m) printf("  ff_meta_create: %s\n", err);
    CHECK(m);
    return m;
}

static const ff_alloc_req one_frame = {.count = 1, .zone = FF_ZONE_NORMAL};

/* bsa's add_frame takes frame 0 as aligned to 32 frames only, so at boot frame 1 lies
 * in a 32-frame block. A kernel that has run a while has merged it: allocating the
 * first 32 frames and freeing them leaves one 128-frame block at frame 0. */
static void merge_low_block(ff_meta *m)
{
    ff_alloc_req thirty_two = {.count = 32, .zone = FF_ZONE_NORMAL};
    ff_handle h;
    CHECK_EQ(ff_meta_alloc(m, &thirty_two, 1, &h), FF_META_OK);
    CHECK_EQ(h.start, 0);
    CHECK_EQ(ff_meta_drop(m, h), FF_META_OK);
}

/* ---------------------------------------------------------------- #1760 */

FF_TEST(meta_1760_bsa_asterinas2024_ends_in_detected_self_deadlock)
{
    ff_space space;
    recorder rec = {0};
    space_1760(&space);
    ff_meta *m = make_meta(&space, "bsa", FF_SEM_ASTERINAS_2024, &rec);
    merge_low_block(m);
    rec.n = 0;
    uint64_t free0 = ff_meta_backend_free_frames(m);
    ff_handle h;

    /* 1. Page::from_unused(0x1000): refcount 0 means unused, so it succeeds although
     *    frame 1 is free inside the allocator. */
    CHECK_EQ(ff_meta_from_unused(m, 0x1000, 1, 1, &h), FF_META_OK);
    /* 2. Drop it: the last reference returns a frame the allocator never handed out,
     *    and bsa accepts it. */
    CHECK_EQ(ff_meta_drop(m, h), FF_META_OK);
    CHECK_EQ(count_kind(&rec, FF_EV_FREE), 1);
    CHECK_EQ(rec.ev[0].kind, FF_EV_FREE);
    CHECK_EQ(rec.ev[0].start, 1);
    CHECK_EQ(rec.ev[0].status, FF_OK);
    CHECK(ff_meta_backend_free_frames(m) != free0); /* the counter drifted */
    CHECK(ff_meta_backend_check(m) != NULL);        /* frame 1 is free twice */

    /* 3. Ten single pages: the first is frame 1, from the order-0 list. */
    ff_handle pages[10];
    for (int i = 0; i < 10; i++) CHECK_EQ(ff_meta_alloc(m, &one_frame, 1, &pages[i]), FF_META_OK);
    CHECK_EQ(pages[0].start, 1);

    /* 4. A hundred contiguous pages: bsa splits the 128-frame block holding frame 1
     *    and hands it out again; from_unused panics with the lock held; unwinding drops
     *    frame 0, whose dealloc re-enters the lock: a self-deadlock, detected. */
    ff_alloc_req hundred = {.count = 100, .zone = FF_ZONE_NORMAL};
    ff_handle big;
    CHECK_EQ(ff_meta_alloc(m, &hundred, 1, &big), FF_META_DEADLOCK);
    CHECK(ff_meta_dead(m));
    CHECK_EQ(handouts_of(&rec, 1, pow2_reservation), 2); /* frame 1 handed out twice */
    CHECK_EQ(count_kind(&rec, FF_EV_PANIC), 1);
    CHECK_EQ(count_kind(&rec, FF_EV_DEADLOCK), 1);
    const ff_event *last = &rec.ev[rec.n - 1], *before = &rec.ev[rec.n - 2];
    CHECK_EQ(before->kind, FF_EV_PANIC);
    CHECK(before->lock_held);
    CHECK_EQ(before->start, 1);
    CHECK_EQ(last->kind, FF_EV_DEADLOCK);
    CHECK_EQ(last->start, 0); /* the unwinding dealloc of frame 0 */
    CHECK(strstr(ff_meta_last_detail(m)->reason, "re-entered the allocator lock"));
    /* Nothing runs after a deadlock. */
    CHECK_EQ(ff_meta_alloc(m, &one_frame, 1, &h), FF_META_DEAD);

    ff_meta_destroy(m);
    ff_space_destroy(&space);
}

static void run_1760_hardened(const char *backend)
{
    ff_space space;
    recorder rec = {0};
    space_1760(&space);
    ff_meta *m = make_meta(&space, backend, FF_SEM_HARDENED, &rec);
    uint64_t free0 = ff_meta_backend_free_frames(m);
    ff_handle h;

    /* from_unused on a frame the allocator owns is refused, with no state change. */
    CHECK_EQ(ff_meta_from_unused(m, 0x1000, 1, 1, &h), FF_META_IN_USE);
    CHECK_EQ(ff_meta_slot(m, 1).state, FF_SLOT_ALLOCATOR);
    CHECK_EQ(rec.n, 0);
    CHECK_EQ(ff_meta_backend_free_frames(m), free0);

    ff_handle pages[10], big;
    for (int i = 0; i < 10; i++) CHECK_EQ(ff_meta_alloc(m, &one_frame, 1, &pages[i]), FF_META_OK);
    ff_alloc_req hundred = {.count = 100, .zone = FF_ZONE_NORMAL};
    CHECK_EQ(ff_meta_alloc(m, &hundred, 1, &big), FF_META_OK);
    CHECK(!ff_meta_dead(m));
    CHECK_EQ(count_kind(&rec, FF_EV_PANIC) + count_kind(&rec, FF_EV_DEADLOCK), 0);
    /* Every frame was handed out once. */
    for (int i = 0; i < 10; i++) CHECK(pages[i].start + 1 <= big.start || pages[i].start >= big.start + 100);

    for (int i = 0; i < 10; i++) CHECK_EQ(ff_meta_drop(m, pages[i]), FF_META_OK);
    CHECK_EQ(ff_meta_drop(m, big), FF_META_OK);
    CHECK_EQ(ff_meta_backend_free_frames(m), free0);
    CHECK(ff_meta_backend_check(m) == NULL);
    ff_meta_destroy(m);
    ff_space_destroy(&space);
}

FF_TEST(meta_1760_hardened_refused_cleanly_on_every_validating_backend)
{
    run_1760_hardened("buddy");
    run_1760_hardened("bitmap");
    run_1760_hardened("freelist");
}

FF_TEST(meta_1760_hardened_bsa_refuses_the_second_handout)
{
    /* Even over the buggy allocator, hardened metadata stops the double hand-out. */
    ff_space space;
    space_1760(&space);
    ff_meta *m = make_meta(&space, "bsa", FF_SEM_HARDENED, NULL);
    merge_low_block(m);
    ff_handle h;
    CHECK_EQ(ff_meta_raw_free(m, 0x1000, 1), FF_META_OK); /* bsa accepts the foreign free */
    CHECK_EQ(ff_meta_alloc(m, &one_frame, 1, &h), FF_META_OK);
    CHECK_EQ(h.start, 1);
    ff_alloc_req hundred = {.count = 100, .zone = FF_ZONE_NORMAL};
    ff_handle big;
    for (int i = 0; i < 9; i++) CHECK_EQ(ff_meta_alloc(m, &one_frame, 1, &big), FF_META_OK);
    CHECK_EQ(ff_meta_alloc(m, &hundred, 1, &big), FF_META_BAD_HANDOUT);
    CHECK_EQ(ff_meta_last_detail(m)->pfn, 1);
    CHECK(!ff_meta_dead(m));
    CHECK_EQ(ff_meta_slot(m, 1).refcount, 1); /* the first holder keeps its frame */
    ff_meta_destroy(m);
    ff_space_destroy(&space);
}

/* ---------------------------------------------------------------- semantics */

FF_TEST(meta_asterinas2024_from_unused_on_reserved_frame_frees_it_into_backend)
{
    ff_space space;
    recorder rec = {0};
    space_1760(&space);
    ff_meta *m = make_meta(&space, "buddy", FF_SEM_ASTERINAS_2024, &rec);
    ff_handle h;
    /* Reserved frames have no metadata in 2024: from_unused succeeds... */
    CHECK_EQ(ff_meta_from_unused(m, 216 * FF_FRAME_SIZE, 2, 1, &h), FF_META_OK);
    /* ...and dropping them is a foreign free, which buddy refuses. */
    CHECK_EQ(ff_meta_drop(m, h), FF_META_FREE_REJECTED);
    CHECK_EQ(count_kind(&rec, FF_EV_FREE), 2); /* one dealloc per page */
    CHECK_EQ(rec.ev[0].status, FF_ERR_FOREIGN);
    CHECK_EQ(ff_meta_last_detail(m)->backend, FF_ERR_FOREIGN);
    CHECK(ff_meta_backend_check(m) == NULL);
    ff_meta_destroy(m);
    ff_space_destroy(&space);
}

FF_TEST(meta_hardened_errors_are_values)
{
    ff_space space;
    space_1760(&space);
    ff_meta *m = make_meta(&space, "buddy", FF_SEM_HARDENED, NULL);
    ff_handle h;
    CHECK_EQ(ff_meta_from_unused(m, 216 * FF_FRAME_SIZE, 1, 1, &h), FF_META_IN_USE); /* pinned */
    CHECK_EQ(ff_meta_slot(m, 216).state, FF_SLOT_PINNED);
    CHECK_EQ(ff_meta_slot(m, 150).state, FF_SLOT_PINNED); /* a hole */
    CHECK_EQ(ff_meta_from_unused(m, 0x10000000, 1, 1, &h), FF_META_OUT_OF_BOUND);
    CHECK_EQ(ff_meta_slot(m, 0x10000).state, FF_SLOT_NONE);
    CHECK_EQ(ff_meta_from_unused(m, 0x1010, 1, 1, &h), FF_META_NOT_ALIGNED);
    CHECK_EQ(ff_meta_from_unused(m, 0x1000, 0, 1, &h), FF_META_INVALID);
    CHECK_EQ(ff_meta_from_in_use(m, 0x1000, 1, 1, &h), FF_META_UNUSED);
    CHECK_EQ(ff_meta_drop(m, (ff_handle){1, 1}), FF_META_UNUSED);
    CHECK_EQ(ff_meta_raw_free(m, 0x1800, 1), FF_META_NOT_ALIGNED);
    CHECK(!ff_meta_dead(m));

    ff_handle a;
    CHECK_EQ(ff_meta_alloc(m, &one_frame, 7, &a), FF_META_OK);
    CHECK_EQ(ff_meta_slot(m, a.start).state, FF_SLOT_IN_USE);
    CHECK_EQ(ff_meta_slot(m, a.start).usage, 7);
    CHECK_EQ(ff_meta_from_in_use(m, a.start * FF_FRAME_SIZE, 1, FF_REF_MAX - 1, &h), FF_META_OK);
    CHECK_EQ(ff_meta_slot(m, a.start).refcount, FF_REF_MAX);
    CHECK_EQ(ff_meta_from_in_use(m, a.start * FF_FRAME_SIZE, 1, 1, &h), FF_META_OVERFLOW);
    CHECK_EQ(ff_meta_slot(m, a.start).refcount, FF_REF_MAX);
    ff_meta_destroy(m);
    ff_space_destroy(&space);
}

FF_TEST(meta_asterinas2024_failures_panic)
{
    ff_space space;
    space_1760(&space);
    ff_handle h;
    ff_meta *m = make_meta(&space, "buddy", FF_SEM_ASTERINAS_2024, NULL);
    CHECK_EQ(ff_meta_drop(m, (ff_handle){1, 1}), FF_META_PANIC);
    CHECK(strstr(ff_meta_last_detail(m)->reason, "no reference"));
    CHECK_EQ(ff_meta_from_unused(m, 0x1000, 1, 1, &h), FF_META_DEAD);
    CHECK(ff_meta_reset(m));
    CHECK(!ff_meta_dead(m));

    CHECK_EQ(ff_meta_alloc(m, &one_frame, 1, &h), FF_META_OK);
    ff_handle extra;
    CHECK_EQ(ff_meta_from_in_use(m, h.start * FF_FRAME_SIZE, 1, FF_REF_MAX, &extra), FF_META_PANIC);
    CHECK(strstr(ff_meta_last_detail(m)->reason, "overflow"));
    CHECK(ff_meta_reset(m));

    /* A from_unused segment that runs into a frame in use panics; the unwinding drops
     * the pages built so far, which go back to the allocator (no lock is held). */
    CHECK_EQ(ff_meta_alloc(m, &one_frame, 1, &h), FF_META_OK);
    uint64_t free_before = ff_meta_backend_free_frames(m);
    CHECK(h.start >= 2 && ff_meta_slot(m, h.start - 2).state == FF_SLOT_UNUSED);
    ff_pfn from = h.start - 2;
    CHECK_EQ(ff_meta_from_unused(m, from * FF_FRAME_SIZE, 3, 1, &extra), FF_META_PANIC);
    CHECK_EQ(ff_meta_last_detail(m)->pfn, h.start);
    CHECK_EQ(ff_meta_backend_free_frames(m), free_before); /* both foreign frees refused */
    ff_meta_destroy(m);
    ff_space_destroy(&space);
}

/* ---------------------------------------------------------------- giving frames back */

FF_TEST(meta_exact_backend_gets_allocation_back_whole)
{
    ff_space space;
    recorder rec = {0};
    space_1760(&space);
    ff_meta *m = make_meta(&space, "buddy", FF_SEM_ASTERINAS_2024, &rec);
    uint64_t free0 = ff_meta_backend_free_frames(m);
    ff_alloc_req four = {.count = 4, .zone = FF_ZONE_NORMAL};
    ff_handle h;
    CHECK_EQ(ff_meta_alloc(m, &four, 1, &h), FF_META_OK);
    /* Drop the middle two pages: they wait, and cannot be taken meanwhile. */
    CHECK_EQ(ff_meta_drop(m, (ff_handle){h.start + 1, 2}), FF_META_OK);
    CHECK_EQ(count_kind(&rec, FF_EV_FREE), 0);
    CHECK_EQ(ff_meta_slot(m, h.start + 1).state, FF_SLOT_PENDING);
    ff_handle steal;
    CHECK_EQ(ff_meta_from_unused(m, (h.start + 1) * FF_FRAME_SIZE, 1, 1, &steal), FF_META_PANIC);
    CHECK(ff_meta_reset(m));
    rec.n = 0;

    CHECK_EQ(ff_meta_alloc(m, &four, 1, &h), FF_META_OK);
    CHECK_EQ(ff_meta_drop(m, (ff_handle){h.start + 3, 1}), FF_META_OK);
    CHECK_EQ(ff_meta_drop(m, (ff_handle){h.start, 3}), FF_META_OK);
    CHECK_EQ(count_kind(&rec, FF_EV_FREE), 1);
    const ff_event *fr = &rec.ev[rec.n - 1];
    CHECK_EQ(fr->start, h.start);
    CHECK_EQ(fr->count, 4);
    CHECK_EQ(fr->status, FF_OK);
    CHECK_EQ(ff_meta_backend_free_frames(m), free0);
    CHECK_EQ(ff_meta_slot(m, h.start).state, FF_SLOT_UNUSED);
    ff_meta_destroy(m);
    ff_space_destroy(&space);
}

FF_TEST(meta_piecewise_backend_frees_per_frame_or_per_run)
{
    ff_space space;
    recorder rec = {0};
    space_1760(&space);
    ff_alloc_req three = {.count = 3, .zone = FF_ZONE_NORMAL};
    ff_handle h;

    /* asterinas-2024 over bsa: one dealloc per page, and the rounding leak shows. */
    ff_meta *m = make_meta(&space, "bsa", FF_SEM_ASTERINAS_2024, &rec);
    uint64_t free0 = ff_meta_backend_free_frames(m);
    CHECK_EQ(ff_meta_alloc(m, &three, 1, &h), FF_META_OK);
    CHECK_EQ(ff_meta_drop(m, h), FF_META_OK);
    CHECK_EQ(count_kind(&rec, FF_EV_FREE), 3);
    CHECK_EQ(ff_meta_backend_free_frames(m), free0 - 1);
    ff_meta_destroy(m);

    /* hardened: released frames go back as one run. */
    rec.n = 0;
    m = make_meta(&space, "bsa", FF_SEM_HARDENED, &rec);
    ff_alloc_req four = {.count = 4, .zone = FF_ZONE_NORMAL};
    CHECK_EQ(ff_meta_alloc(m, &four, 1, &h), FF_META_OK);
    ff_handle clone;
    CHECK_EQ(ff_meta_from_in_use(m, (h.start + 1) * FF_FRAME_SIZE, 1, 1, &clone), FF_META_OK);
    CHECK_EQ(ff_meta_drop(m, h), FF_META_OK);
    /* Frame 1 still has a reference: runs [0,1) and [2,4) go back separately. */
    CHECK_EQ(count_kind(&rec, FF_EV_FREE), 2);
    CHECK_EQ(rec.ev[1].count, 1);
    CHECK_EQ(rec.ev[2].start, h.start + 2);
    CHECK_EQ(rec.ev[2].count, 2);
    CHECK_EQ(ff_meta_drop(m, clone), FF_META_OK);
    CHECK_EQ(count_kind(&rec, FF_EV_FREE), 3);
    ff_meta_destroy(m);
    ff_space_destroy(&space);
}

/* ---------------------------------------------------------------- hangs and reset */

FF_TEST(meta_step_budget_turns_a_long_loop_into_a_hang)
{
    ff_space space;
    recorder rec = {0};
    CHECK(ff_space_init_preset(&space, "qemu", (char[128]){0}, 128));
    const ff_backend_def *def = ff_backend_find("buddy");
    ff_meta_opts opts = {.semantics = FF_SEM_HARDENED, .step_budget = 1, .observer = record,
                         .observer_ctx = &rec};
    char err[128];
    ff_meta *m = ff_meta_create(&space, def, &opts, err, sizeof err);
    CHECK(m);
    ff_handle h;
    /* The first order-0 allocation splits a large block: many steps, more than the
     * base and 4 per frame the request names (count 1, align 0). */
    CHECK_EQ(ff_meta_alloc(m, &one_frame, 1, &h), FF_META_HANG);
    CHECK(ff_meta_dead(m));
    CHECK_EQ(rec.ev[rec.n - 1].kind, FF_EV_HANG);
    CHECK_EQ(rec.ev[rec.n - 1].call, FF_BCALL_ALLOC);
    CHECK(strstr(ff_meta_last_detail(m)->reason, "budget of 5 steps"));
    /* Named after the back-end's function that spent it. */
    CHECK(ff_meta_last_detail(m)->where[0] != 0);
    CHECK_EQ(ff_meta_drop(m, h), FF_META_DEAD);
    CHECK(ff_meta_reset(m));
    CHECK(!ff_meta_dead(m));
    ff_meta_destroy(m);
    ff_space_destroy(&space);
}

/* A back-end that walks on and on, as one with a cycle in its free list would; it
 * gives up by itself after SPIN_GIVE_UP steps, so that a budget that never ends shows
 * as a failed test rather than a test that never ends. */
#define SPIN_GIVE_UP (UINT64_C(1) << 28)
static void *spin_create(ff_env *env, const ff_range *ranges, size_t nranges)
{
    (void)ranges;
    (void)nranges;
    return env;
}
static void spin_destroy(void *self) { (void)self; }
static ff_status spin_walk(ff_env *env)
{
    for (uint64_t i = 0; i < SPIN_GIVE_UP; i++) ff_step(env);
    return FF_ERR_NOMEM;
}
static ff_status spin_alloc(void *self, const ff_alloc_req *req, ff_pfn *start)
{
    (void)req;
    (void)start;
    return spin_walk(self);
}
static ff_status spin_free(void *self, ff_pfn start, uint64_t count)
{
    (void)start;
    (void)count;
    return spin_walk(self);
}
static const ff_backend_def spin_ops = {
    .name = "spin",
    .summary = "test-only: every call walks without end",
    .policy = {.placement = FF_PLACE_ANY_RUN, .rounding = FF_ROUND_NONE, .free_rule = FF_FREE_EXACT,
               .max_order = FF_ORDER_ANY, .validates_frees = true, .honours_zone = true,
               .honours_align = true},
    .create = spin_create,
    .destroy = spin_destroy,
    .alloc = spin_alloc,
    .free = spin_free,
};

FF_TEST(meta_step_budget_stops_a_walk_over_more_frames_than_the_map_has)
{
    ff_space space;
    CHECK(ff_space_init_preset(&space, "qemu", (char[128]){0}, 128));
    /* As the executor sets it: the base grows with the map. */
    ff_meta_opts opts = {.semantics = FF_SEM_HARDENED,
                         .step_budget = 1024 + 4 * space.usable_frames};
    char err[128];
    ff_meta *m = ff_meta_create(&space, &spin_ops, &opts, err, sizeof err);
    CHECK(m);
    /* A request naming 2^62 frames of alignment, or a free of 2^62 frames, lets a
     * back-end walk 2^24 frames (more than this map has), not 2^64 steps. */
    ff_alloc_req huge_align = {.count = 1, .align = UINT64_C(1) << 62, .zone = FF_ZONE_NORMAL};
    ff_handle h;
    CHECK_EQ(ff_meta_alloc(m, &huge_align, 1, &h), FF_META_HANG);
    CHECK(ff_meta_reset(m));
    CHECK_EQ(ff_meta_raw_free(m, 0, UINT64_C(1) << 62), FF_META_HANG);
    char expect[96];
    snprintf(expect, sizeof expect, "budget of %llu steps",
             (unsigned long long)(opts.step_budget + 4 * (UINT64_C(1) << 24)));
    CHECK(strstr(ff_meta_last_detail(m)->reason, expect));
    ff_meta_destroy(m);
    ff_space_destroy(&space);
}

FF_TEST(meta_reset_restores_every_touched_slot)
{
    ff_space space;
    CHECK(ff_space_init_preset(&space, "tiny", (char[128]){0}, 128));
    ff_meta *m = make_meta(&space, "bitmap", FF_SEM_HARDENED, NULL);
    uint64_t free0 = ff_meta_backend_free_frames(m);
    ff_handle h[8];
    for (int i = 0; i < 8; i++) CHECK_EQ(ff_meta_alloc(m, &one_frame, 3, &h[i]), FF_META_OK);
    CHECK(ff_meta_backend_free_frames(m) == free0 - 8);
    CHECK(ff_meta_reset(m));
    CHECK_EQ(ff_meta_backend_free_frames(m), free0);
    for (int i = 0; i < 8; i++) {
        ff_slot_view v = ff_meta_slot(m, h[i].start);
        CHECK_EQ(v.state, FF_SLOT_ALLOCATOR);
        CHECK_EQ(v.refcount, 0);
        CHECK_EQ(v.usage, 0);
    }
    /* Same operations, same answers: the layer is deterministic across resets. */
    for (int i = 0; i < 8; i++) {
        ff_handle again;
        CHECK_EQ(ff_meta_alloc(m, &one_frame, 3, &again), FF_META_OK);
        CHECK_EQ(again.start, h[i].start);
    }
    ff_meta_destroy(m);
    ff_space_destroy(&space);
}

/* ---------------------------------------------------------------- per-CPU caches */

static ff_meta *make_pcp_meta(ff_space *space, const char *backend, ff_bug bug, recorder *rec)
{
    char err[160];
    ff_meta_opts opts = {.semantics = FF_SEM_HARDENED, .observer = record, .observer_ctx = rec,
                         .bug = bug, .pcp = true};
    ff_meta *m = ff_meta_create(space, ff_backend_find(backend), &opts, err, sizeof err);
    CHECK(m);
    return m;
}

/* The index of the n-th event of kind (from 0), or rec->n. */
static size_t nth_event(const recorder *r, ff_event_kind kind, size_t n)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->ev[i].kind == kind && n-- == 0) return i;
    return r->n;
}

FF_TEST(meta_pcp_refills_in_a_batch_and_hands_out_the_newest)
{
    ff_space space;
    CHECK(ff_space_init_preset(&space, "tiny", (char[128]){0}, 128));
    recorder rec = {0};
    ff_meta *m = make_pcp_meta(&space, "bitmap", FF_BUG_NONE, &rec);
    ff_handle h;
    CHECK_EQ(ff_meta_alloc(m, &one_frame, 1, &h), FF_META_OK);
    /* FF_PCP_BATCH back-end allocations into cpu0's cache, then the newest handed out. */
    CHECK_EQ(count_kind(&rec, FF_EV_ALLOC), FF_PCP_BATCH);
    for (size_t i = 0; i < FF_PCP_BATCH; i++) CHECK(rec.ev[i].cache && rec.ev[i].cpu == 0);
    CHECK_EQ(rec.ev[FF_PCP_BATCH].kind, FF_EV_CACHE_TAKE);
    CHECK_EQ(h.start, rec.ev[FF_PCP_BATCH - 1].start);
    CHECK_EQ(ff_meta_slot(m, h.start).refcount, 1);
    /* The next comes from the cache alone; a release goes back into it. */
    rec.n = 0;
    ff_handle h2;
    CHECK_EQ(ff_meta_alloc(m, &one_frame, 1, &h2), FF_META_OK);
    CHECK_EQ(rec.n, 1);
    CHECK_EQ(rec.ev[0].kind, FF_EV_CACHE_TAKE);
    CHECK_EQ(ff_meta_drop(m, h2), FF_META_OK);
    CHECK_EQ(rec.ev[rec.n - 1].kind, FF_EV_CACHE_PUT);
    CHECK_EQ(rec.ev[rec.n - 1].start, h2.start);
    /* A cached frame is the allocator's: hardened from_unused refuses it. */
    ff_handle stolen;
    CHECK_EQ(ff_meta_from_unused(m, h2.start << FF_FRAME_SHIFT, 1, 1, &stolen), FF_META_IN_USE);
    /* Requests a cache does not serve go to the back-end itself. */
    rec.n = 0;
    ff_alloc_req aligned = {.count = 1, .align = 2, .zone = FF_ZONE_NORMAL};
    CHECK_EQ(ff_meta_alloc(m, &aligned, 1, &h2), FF_META_OK);
    CHECK(rec.n == 1 && rec.ev[0].kind == FF_EV_ALLOC && !rec.ev[0].cache);
    ff_meta_destroy(m);
    ff_space_destroy(&space);
}

FF_TEST(meta_pcp_full_cache_drains_its_oldest_and_drain_caches_empties_all)
{
    ff_space space;
    CHECK(ff_space_init_preset(&space, "tiny", (char[128]){0}, 128));
    recorder rec = {0};
    ff_meta *m = make_pcp_meta(&space, "bitmap", FF_BUG_NONE, &rec);
    uint64_t free0 = ff_meta_backend_free_frames(m);
    enum { N = FF_PCP_HIGH + 1 };
    ff_handle h[N];
    for (int i = 0; i < N; i++) CHECK_EQ(ff_meta_alloc(m, &one_frame, 1, &h[i]), FF_META_OK);
    rec.n = 0;
    for (int i = 0; i < N; i++) CHECK_EQ(ff_meta_drop(m, h[i]), FF_META_OK);
    /* Three runs the last refill left, then nine releases: the sixth finds the cache
     * full and gives its FF_PCP_BATCH oldest back first, each a back-end free. */
    CHECK_EQ(count_kind(&rec, FF_EV_CACHE_PUT), N);
    CHECK_EQ(count_kind(&rec, FF_EV_FREE), FF_PCP_BATCH);
    size_t drain = nth_event(&rec, FF_EV_FREE, 0);
    CHECK(rec.ev[drain].cache && rec.ev[drain].status == FF_OK);
    /* The end of a run drains every cache: the back-end has all of it again. */
    CHECK(ff_meta_backend_free_frames(m) < free0);
    CHECK(ff_meta_drain_caches(m));
    CHECK_EQ(ff_meta_backend_free_frames(m), free0);
    CHECK(ff_meta_reset(m));
    CHECK_EQ(ff_meta_backend_free_frames(m), free0);
    ff_meta_destroy(m);
    ff_space_destroy(&space);
}

FF_TEST(meta_pcp_lock_order_cycle_is_reported_once_per_run)
{
    ff_space space;
    CHECK(ff_space_init_preset(&space, "tiny", (char[128]){0}, 128));
    recorder rec = {0};
    ff_meta *m = make_pcp_meta(&space, "buddy", FF_BUG_PCP_DRAIN_ALL_ABBA, &rec);
    ff_alloc_req huge = {.count = 4096, .zone = FF_ZONE_NORMAL};
    for (int run = 0; run < 2; run++) {
        rec.n = 0;
        ff_handle h;
        CHECK_EQ(ff_meta_alloc(m, &one_frame, 1, &h), FF_META_OK); /* cache lock, then the zone's */
        CHECK_EQ(count_kind(&rec, FF_EV_LOCK_ORDER), 0);
        CHECK_EQ(ff_meta_alloc(m, &huge, 1, &h), FF_META_ALLOC_FAILED); /* the reverse */
        CHECK_EQ(ff_meta_alloc(m, &huge, 1, &h), FF_META_ALLOC_FAILED);
        CHECK_EQ(count_kind(&rec, FF_EV_LOCK_ORDER), 1);
        size_t at = nth_event(&rec, FF_EV_LOCK_ORDER, 0);
        CHECK(strstr(rec.ev[at].reason, "while holding the allocator lock") != NULL);
        CHECK(!ff_meta_dead(m)); /* lockdep warns; the system goes on */
        CHECK(ff_meta_reset(m)); /* a new run starts with no edge */
    }
    ff_meta_destroy(m);
    /* Without the bug the caches are drained with the allocator lock let go: no cycle. */
    rec.n = 0;
    m = make_pcp_meta(&space, "buddy", FF_BUG_NONE, &rec);
    ff_handle h;
    CHECK_EQ(ff_meta_alloc(m, &one_frame, 1, &h), FF_META_OK);
    CHECK_EQ(ff_meta_alloc(m, &huge, 1, &h), FF_META_ALLOC_FAILED);
    CHECK_EQ(count_kind(&rec, FF_EV_LOCK_ORDER), 0);
    CHECK(count_kind(&rec, FF_EV_FREE) > 0); /* the drain ran */
    CHECK_EQ(strcmp(ff_meta_lock_name(m, &rec), "a lock"), 0);
    ff_meta_destroy(m);
    ff_space_destroy(&space);
}

/* ---------------------------------------------------------------- poison */

typedef struct poison_watch {
    ff_space *space;
    uint32_t skip;
    unsigned corrupted_handouts;
} poison_watch;

/* What an oracle does with poisoning on: a block handed out must still hold it. */
static void check_handout_poison(void *ctx, const ff_event *ev)
{
    poison_watch *w = ctx;
    ff_pfn bad;
    uint32_t off;
    if (ev->kind == FF_EV_ALLOC && ev->status == FF_OK &&
        !ff_space_poison_intact(w->space, ev->start, ev->req->count, w->skip, FF_FRAME_SIZE, &bad, &off))
        w->corrupted_handouts++;
}

FF_TEST(meta_poison_catches_a_write_into_a_free_frame)
{
    ff_space space;
    CHECK(ff_space_init_preset(&space, "tiny", (char[128]){0}, 128));
    const ff_backend_def *def = ff_backend_find("freelist");
    poison_watch w = {.space = &space, .skip = def->policy.inband_bytes};
    ff_meta_opts opts = {.semantics = FF_SEM_HARDENED, .poison = true,
                         .observer = check_handout_poison, .observer_ctx = &w};
    char err[128];
    ff_meta *m = ff_meta_create(&space, def, &opts, err, sizeof err);
    CHECK(m);
    ff_handle h, again;
    CHECK_EQ(ff_meta_alloc(m, &one_frame, 1, &h), FF_META_OK);
    unsigned char *mem = ff_space_frame_mem(&space, h.start);
    for (uint32_t i = 0; i < FF_FRAME_SIZE; i++) /* the owner's data */
        ff_space_write(&space, h.start, i, 0x5c);
    CHECK_EQ(ff_meta_drop(m, h), FF_META_OK);
    /* Back in the allocator: poisoned again (outside the in-band bytes). */
    CHECK(ff_space_poison_intact(&space, h.start, 1, w.skip, FF_FRAME_SIZE, &(ff_pfn){0}, &(uint32_t){0}));
    CHECK_EQ(ff_meta_alloc(m, &one_frame, 1, &again), FF_META_OK);
    CHECK_EQ(again.start, h.start);
    CHECK_EQ(w.corrupted_handouts, 0);
    CHECK_EQ(ff_meta_drop(m, again), FF_META_OK);

    mem[FF_FRAME_SIZE - 1] = 0x01; /* a use-after-free write */
    CHECK_EQ(ff_meta_alloc(m, &one_frame, 1, &again), FF_META_OK);
    CHECK_EQ(again.start, h.start);
    CHECK_EQ(w.corrupted_handouts, 1);
    ff_meta_destroy(m);
    ff_space_destroy(&space);
}

FF_TEST(meta_slot_is_16_bytes)
{
    CHECK_EQ(ff_meta_slot_bytes(), 16);
}

FF_TEST(meta_names_round_trip)
{
    for (int s = 0; s < FF_SEM_COUNT; s++) {
        ff_semantics got;
        CHECK(ff_semantics_parse(ff_semantics_name((ff_semantics)s), &got));
        CHECK_EQ(got, s);
    }
    ff_semantics unused;
    CHECK(!ff_semantics_parse("asterinas", &unused));
    CHECK_STREQ(ff_meta_status_name(FF_META_DEADLOCK), "deadlock");
}

/* The next mapping of `bytes` the host allocator hands out, the one given back last,
 * reads as zero. */
static void check_reused_mapping_zero(size_t bytes)
{
    unsigned char *b = ff_host_zalloc(bytes);
    CHECK(b != NULL);
    size_t nonzero = 0;
    for (size_t j = 0; j < bytes; j++) nonzero += b[j] != 0;
    CHECK_EQ(nonzero, 0);
    ff_host_free(b, bytes);
}

FF_TEST(meta_destroy_leaves_its_slots_zero_for_reuse)
{
    /* Slots go back to the host allocator zeroed from the reset log, without a
     * system call: a slot written but not logged would show in the next array. */
    ff_space space;
    CHECK(ff_space_init_preset(&space, "qemu", (char[128]){0}, 128));
    ff_meta *m = make_meta(&space, "buddy", FF_SEM_HARDENED, NULL);
    ff_handle h, more, extra;
    ff_alloc_req many = {.count = 300, .zone = FF_ZONE_NORMAL};
    CHECK_EQ(ff_meta_alloc(m, &many, 1, &h), FF_META_OK);
    CHECK_EQ(ff_meta_from_in_use(m, h.start << FF_FRAME_SHIFT, 10, 2, &extra), FF_META_OK);
    CHECK_EQ(ff_meta_drop(m, (ff_handle){h.start, 100}), FF_META_OK);
    CHECK(ff_meta_reset(m));
    CHECK_EQ(ff_meta_alloc(m, &many, 3, &more), FF_META_OK);
    CHECK_EQ(ff_meta_alloc(m, &one_frame, 3, &extra), FF_META_OK);
    CHECK_EQ(ff_meta_drop(m, (ff_handle){more.start + 5, 7}), FF_META_OK);
    ff_meta_destroy(m);
    check_reused_mapping_zero((size_t)space.top * ff_meta_slot_bytes());
    ff_space_destroy(&space);
}
