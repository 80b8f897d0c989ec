/* test_policies.c — the oracle judges only what an allocator declares: the contract's
 * features for real allocators (size-class and by-address frees, one error code, no
 * counter, frames kept at create, the allocator's own panics), and what must not be
 * a finding of its own (a refused block starting in a hole, a long legitimate walk,
 * what follows a root cause). Each runs a small TEST-ONLY allocator whose behaviour
 * the test chooses: first fit over one state byte per frame of a small map. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "unit.h"

/* ---------------------------------------------------------------- the shim */

/* What the shim does; the tests set it before running. */
static struct shim_cfg {
    bool pow2;            /* power-of-two blocks, naturally aligned, excess kept */
    bool by_address;      /* a free names its allocation by start; the count is ignored */
    bool piecewise;       /* any run of allocated frames may be freed */
    bool size_class;      /* a free of the same power-of-two size class is accepted */
    bool accept_class;    /* accepts a free of the same class whatever it declares */
    bool accept_start;    /* accepts a free by start alone whatever it declares */
    ff_status refusal;    /* FF_OK: the specific code; else this one for every refusal */
    bool no_counter;
    uint64_t keep;        /* frames kept at create, from the first frame of RAM */
    bool hand_out_kept;   /* first fit ignores the kept frames */
    bool keep_hole;       /* keeps a frame in a hole */
    bool panic_on_bad_free;
    uint64_t panic_on_count; /* panics on a valid free of this many frames */
    bool straddle;        /* 5-frame blocks claim the hole frame before them */
    bool walk_frames;     /* a free looks at every frame it names, one step each */
    bool magic;           /* keeps a magic word in its first kept frame, checked by alloc */
    uint64_t reject_count; /* refuses every free of this many frames */
    bool scribble_next;   /* a free writes a header into the frame after the block */
    bool base;            /* reaches frames through ff_frame_base */
    bool base_links;      /* with base: a free links its frames in-band (8 bytes), an
                             alloc checks the link of a frame it reuses */
    bool base_unbacked;   /* asks for the base without declaring needs_backing */
    bool as_asked;        /* declares FF_PLACE_AS_ASKED (first fit, aligned as asked) */
    uint8_t batch_order;  /* refuses unless a free aligned block of 2^batch_order frames
                             exists, as a cache refilled in batches does */
    uint8_t fit_order;    /* the fit_order it declares */
} cfg;

/* With cfg.base: whether some create found a frame that was not zero. */
static bool stale_seen;

#define MAGIC 0x6d61676963ULL

enum { FR_FREE, FR_USED, FR_KEPT };

typedef struct shim {
    ff_env *env;
    ff_runs ram;
    ff_pfn top;
    uint8_t *state;    /* per frame below top */
    uint64_t *granted; /* at an allocation's start: frames it holds (0 elsewhere) */
    uint64_t *asked;   /* at an allocation's start: frames asked for */
    uint64_t nfree;
    unsigned char *base; /* cfg.base: frame p at base + p * FF_FRAME_SIZE */
    uint8_t *linked;     /* cfg.base_links: per frame, freed with a link */
} shim;

/* Frame p's memory: through the base, or frame by frame. */
static unsigned char *mem_of(shim *s, ff_pfn p)
{
    return s->base ? s->base + p * FF_FRAME_SIZE : s->env->frame_mem(s->env->space, p);
}

static bool is_ram(const shim *s, ff_pfn p) { return p < s->top && ff_runs_find(&s->ram, p) != NULL; }

static void shim_destroy(void *self);

static void *shim_create(ff_env *env, const ff_range *ranges, size_t n)
{
    shim *s = calloc(1, sizeof *s);
    if (!s || !ff_runs_init(&s->ram, ranges, n)) return NULL;
    s->env = env;
    s->top = s->ram.count ? s->ram.run[s->ram.count - 1].end : 0;
    s->state = calloc(s->top + 1, 1);
    s->granted = calloc(s->top + 1, sizeof *s->granted);
    s->asked = calloc(s->top + 1, sizeof *s->asked);
    s->nfree = s->ram.frames;
    s->linked = calloc(s->top + 1, 1);
    if (cfg.base || cfg.base_unbacked) {
        s->base = ff_frame_base(env);
        if (!s->base) {
            shim_destroy(s);
            return NULL;
        }
        for (ff_pfn p = 0; p < s->top; p++) /* every frame starts zero, whatever ran before */
            for (size_t i = 0; i < FF_FRAME_SIZE; i++) stale_seen |= s->base[p * FF_FRAME_SIZE + i] != 0;
    }
    ff_pfn first = s->ram.count ? s->ram.run[0].start : 0;
    for (uint64_t i = 0; i < cfg.keep; i++) s->state[first + i] = FR_KEPT;
    if (cfg.keep) {
        ff_keep_frames(env, first, cfg.keep);
        s->nfree -= cfg.keep;
    }
    if (cfg.keep_hole) ff_keep_frames(env, s->top, 1);
    if (cfg.magic) *(uint64_t *)(void *)mem_of(s, first) = MAGIC;
    return s;
}

/* Its metadata in its kept frame must be as it left it. */
static void check_magic(shim *s)
{
    ff_pfn first = s->ram.run[0].start;
    if (cfg.magic && *(uint64_t *)(void *)mem_of(s, first) != MAGIC)
        ff_panic(s->env, "my metadata frame was overwritten");
}

static void shim_destroy(void *self)
{
    shim *s = self;
    ff_runs_destroy(&s->ram);
    free(s->state);
    free(s->granted);
    free(s->asked);
    free(s->linked);
    free(s);
}

static bool run_free(const shim *s, ff_pfn p, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        if (!is_ram(s, p + i)) return false;
        uint8_t st = s->state[p + i];
        if (st == FR_USED || (st == FR_KEPT && !cfg.hand_out_kept)) return false;
    }
    return true;
}

/* Two distinct endless loops, so their hangs have distinct names. Their bodies differ
 * too: a compiler folds identical functions into one (gcc's -fipa-icf does). */
static __attribute__((noinline)) void spin_a(shim *s)
{
    for (;;) ff_step(s->env);
}

static __attribute__((noinline)) void spin_b(shim *s)
{
    for (;;) {
        ff_step(s->env);
        ff_step(s->env);
    }
}

static ff_status shim_alloc(void *self, const ff_alloc_req *req, ff_pfn *start)
{
    shim *s = self;
    check_magic(s);
    if (req->count == 33) spin_a(s);
    if (req->count == 34) spin_b(s);
    ff_policy pol = {.placement = cfg.pow2 ? FF_PLACE_POW2_NATURAL : FF_PLACE_ANY_RUN,
                     .max_order = 16};
    if (ff_oracle_request_malformed(&pol, req)) return cfg.refusal ? cfg.refusal : FF_ERR_INVALID;
    uint64_t n = req->count, align = req->align > 1 ? req->align : 1;
    if (cfg.pow2) n = align = UINT64_C(1) << ff_log2_ceil(n > align ? n : align);
    /* straddle: 4 frames right after a hole, claimed as 5 from the hole's last frame */
    bool straddle = cfg.straddle && req->count == 5;
    if (straddle) n = 4;
    if (cfg.batch_order) {
        uint64_t batch = UINT64_C(1) << cfg.batch_order;
        bool whole = false;
        for (ff_pfn p = 0; p + batch <= s->top && !whole; p += batch) whole = run_free(s, p, batch);
        if (!whole) return FF_ERR_NOMEM;
    }
    for (ff_pfn p = 0; p + n <= s->top && p + n <= ff_zone_end(req->zone); p += align) {
        if (!is_ram(s, p)) continue; /* holes cost no step: the tiny map spans 16 MiB */
        ff_step(s->env);
        if (!run_free(s, p, n) || (straddle && (!p || is_ram(s, p - 1)))) continue;
        for (uint64_t i = 0; i < n; i++) {
            if (s->linked[p + i] && *(uint64_t *)(void *)mem_of(s, p + i) != MAGIC)
                ff_panic(s->env, "the link in free frame 0x%llx was overwritten",
                         (unsigned long long)(p + i));
            s->linked[p + i] = 0;
        }
        memset(&s->state[p], FR_USED, n);
        s->granted[p] = n;
        s->asked[p] = req->count;
        s->nfree -= n;
        *start = straddle ? p - 1 : p;
        return FF_OK;
    }
    return cfg.refusal ? cfg.refusal : FF_ERR_NOMEM;
}

static ff_status refuse(shim *s, ff_status why, const char *what)
{
    if (cfg.panic_on_bad_free) ff_panic(s->env, "bad free: %s", what);
    return cfg.refusal ? cfg.refusal : why;
}

static ff_status shim_free(void *self, ff_pfn start, uint64_t count)
{
    shim *s = self;
    if (cfg.reject_count && count == cfg.reject_count) return FF_ERR_INVALID;
    if (cfg.piecewise) {
        if (count == 0 || count > s->top || start > s->top - count) return FF_ERR_INVALID;
        for (uint64_t i = 0; i < count; i++)
            if (!is_ram(s, start + i) || s->state[start + i] == FR_KEPT) return FF_ERR_FOREIGN;
        for (uint64_t i = 0; i < count; i++)
            if (s->state[start + i] != FR_USED) return FF_ERR_DOUBLE;
        memset(&s->state[start], FR_FREE, count);
        s->nfree += count;
        return FF_OK;
    }
    if (cfg.straddle && start + 1 < s->top && !is_ram(s, start) && s->granted[start + 1]) start++;
    if (cfg.walk_frames) { /* counts what is not RAM over all of it, then decides */
        uint64_t foreign = 0;
        for (uint64_t i = 0; i < count; i++) {
            ff_step(s->env);
            foreign += !is_ram(s, start + i);
        }
        if (foreign) return refuse(s, FF_ERR_FOREIGN, "not RAM");
    }
    bool by_start = cfg.by_address || cfg.accept_start;
    if (!by_start && (count == 0 || start + count < start)) return refuse(s, FF_ERR_INVALID, "empty");
    if (!is_ram(s, start) || s->state[start] == FR_KEPT) return refuse(s, FF_ERR_FOREIGN, "foreign");
    if (s->state[start] == FR_FREE) return refuse(s, FF_ERR_DOUBLE, "double");
    if (!s->granted[start]) return refuse(s, FF_ERR_MISALIGNED, "misaligned");
    uint64_t n = s->granted[start];
    bool same_class = count && count <= s->top &&
                      (UINT64_C(1) << ff_log2_ceil(count)) ==
                          (UINT64_C(1) << ff_log2_ceil(s->asked[start]));
    bool ok = by_start || count == s->asked[start] ||
              ((cfg.size_class || cfg.accept_class) && same_class);
    if (!ok) return refuse(s, FF_ERR_WRONG_SIZE, "wrong size");
    if (cfg.panic_on_count && count == cfg.panic_on_count) ff_panic(s->env, "free of %llu frames",
                                                                   (unsigned long long)count);
    memset(&s->state[start], FR_FREE, n);
    s->granted[start] = 0;
    s->nfree += n;
    for (uint64_t i = 0; cfg.base_links && i < n; i++) {
        *(uint64_t *)(void *)mem_of(s, start + i) = MAGIC;
        s->linked[start + i] = 1;
    }
    if (cfg.scribble_next && start + n < s->top) /* the next block's header, one frame off */
        memset(mem_of(s, start + n), 0x5c, 8);
    return FF_OK;
}

static uint64_t shim_free_frames(const void *self) { return ((const shim *)self)->nfree; }

/* The shim as a target, with its policy declared as cfg says. */
static ff_backend_def shim_ops;

static ff_target shim_target(void)
{
    ff_free_rule rule = cfg.by_address   ? FF_FREE_BY_ADDRESS
                        : cfg.size_class ? FF_FREE_SIZE_CLASS
                        : cfg.piecewise  ? FF_FREE_PIECEWISE
                                         : FF_FREE_EXACT;
    shim_ops = (ff_backend_def){
        .name = "shim",
        .summary = "TEST-ONLY",
        .policy = {.placement = cfg.pow2       ? FF_PLACE_POW2_NATURAL
                                : cfg.as_asked ? FF_PLACE_AS_ASKED
                                               : FF_PLACE_ANY_RUN,
                   .rounding = cfg.pow2 ? FF_ROUND_POW2 : FF_ROUND_NONE,
                   .fit_order = cfg.fit_order,
                   .free_rule = rule,
                   .max_order = 16,
                   .validates_frees = true,
                   .honours_zone = true,
                   .honours_align = true,
                   .needs_backing = cfg.magic || cfg.scribble_next || cfg.base,
                   .inband_bytes = cfg.base_links ? 8 : 0},
        .create = shim_create,
        .destroy = shim_destroy,
        .alloc = shim_alloc,
        .free = shim_free,
        .free_frames = cfg.no_counter ? NULL : shim_free_frames,
    };
    char err[200];
    CHECK(ff_backend_validate(&shim_ops, err, sizeof err));
    return (ff_target){"shim", &shim_ops, FF_BUG_NONE, false};
}

/* Runs text on the targets (the shim first); returns the findings as "sig op N; ..."
 * and, when trace is non-NULL, the trace. */
static char verdicts[1024];

static const char *run_on(const ff_target *t, size_t n, const char *text, bool keep_going,
                          char **trace)
{
    ff_program p;
    char err[200];
    if (!ff_program_parse(&p, text, err, sizeof err)) printf("  parse: %s\n", err);
    size_t len = 0;
    FILE *out = trace ? open_memstream(trace, &len) : NULL;
    ff_exec_opts o = {.semantics = -1, .poison = -1, .keep_going = keep_going, .trace = out};
    ff_exec *x = ff_exec_create(t, n, &o);
    CHECK(x != NULL);
    ff_exec_run(x, &p);
    if (out) fclose(out);
    verdicts[0] = 0;
    for (size_t i = 0; i < ff_exec_finding_count(x); i++) {
        const ff_finding *f = ff_exec_finding(x, i);
        char sig[FF_SIGNATURE_MAX], one[FF_SIGNATURE_MAX + 32];
        ff_finding_signature(f, sig, sizeof sig);
        if (f->op == FF_OP_AT_END) snprintf(one, sizeof one, "%s%s at end", f->consequence ? "then " : "", sig);
        else snprintf(one, sizeof one, "%s%s op %zu", f->consequence ? "then " : "", sig, f->op);
        size_t used = strlen(verdicts);
        snprintf(verdicts + used, sizeof verdicts - used, "%s%s", used ? "; " : "", one);
    }
    ff_exec_destroy(x);
    ff_program_free(&p);
    return verdicts[0] ? verdicts : "clean";
}

static const char *run_shim(const char *text, bool keep_going, char **trace)
{
    ff_target t = shim_target();
    return run_on(&t, 1, text, keep_going, trace);
}

#define MAP64 "map custom\nregion 0x0-0x3ffff usable\n" /* frames 0-63 */

static void reset_cfg(void) { memset(&cfg, 0, sizeof cfg); }

/* ---------------------------------------------------------------- free rules */

FF_TEST(policy_size_class_frees_are_judged_by_class)
{
    /* A correct buddy whose free takes any count of the block's class: free(0, 4) of a
     * 3-frame allocation. Declared exact, the same answer is a wrong-size free. */
    const char *prog = MAP64 "alloc 3\nraw_free 0x0 4\n";
    reset_cfg();
    cfg.pow2 = cfg.accept_class = true;
    CHECK_STREQ(run_shim(prog, true, NULL), "accepted-wrong-size-free@shim op 1");
    reset_cfg();
    cfg.pow2 = cfg.size_class = true;
    CHECK_STREQ(run_shim(prog, true, NULL), "clean");
    /* Another class is still a wrong size, and refused without a finding. */
    CHECK_STREQ(run_shim(MAP64 "alloc 3\nraw_free 0x0 2\n", true, NULL), "clean");
    cfg.size_class = false;
    cfg.accept_class = true;
    shim_target();
    shim_ops.policy.free_rule = FF_FREE_SIZE_CLASS;
    ff_target t = {"shim", &shim_ops, FF_BUG_NONE, false};
    CHECK_STREQ(run_on(&t, 1, MAP64 "alloc 3\nraw_free 0x0 1\n", false, NULL), "clean");
    /* A policy that cannot hold is refused: size classes without power-of-two rounding. */
    shim_ops.policy.rounding = FF_ROUND_NONE;
    char err[200];
    CHECK(!ff_backend_validate(&shim_ops, err, sizeof err));
    CHECK(strstr(err, "size-class") != NULL);
}

FF_TEST(policy_by_address_frees_ignore_the_count)
{
    /* kfree-like: free(0, 1) gives back the whole 3-frame allocation; the leak check
     * and the counter agree. Declared exact, the same allocator is reported. */
    const char *prog = MAP64 "alloc 3\nraw_free 0x0 1\nalloc 60\n";
    reset_cfg();
    cfg.accept_start = true;
    const char *exact = run_shim(prog, true, NULL);
    CHECK(strncmp(exact, "accepted-wrong-size-free@shim op 1", 34) == 0);
    reset_cfg();
    cfg.by_address = true;
    CHECK_STREQ(run_shim(prog, true, NULL), "clean");
    /* Misuse by address is still misuse: a free inside the allocation, or twice. */
    CHECK_STREQ(run_shim(MAP64 "alloc 3\nraw_free 0x1000 3\n", true, NULL), "clean");
    CHECK_STREQ(run_shim(MAP64 "alloc 3\nraw_free 0x0 7\nraw_free 0x0 7\n", true, NULL), "clean");
}

/* ---------------------------------------------------------------- one error code */

/* As-asked placement: a start aligned as the request asks is right, however unaligned
 * for a buddy; and a back-end that serves small requests from batches declares the
 * batch (fit_order), so a refusal with no such block free is no spurious-oom. */
FF_TEST(policy_as_asked_placement_and_its_fit_order)
{
    reset_cfg();
    cfg.as_asked = true;
    CHECK_STREQ(run_shim("backend shim\nsemantics hardened\n" MAP64 "poison off\n"
                       "alloc 1\nalloc 3\nalloc 2 align 2\n", false, NULL),
              "clean");
    /* 60 frames taken leave 4 free: no 8-frame block for the batch. */
    static const char *starved = "backend shim\nsemantics hardened\n" MAP64 "poison off\n"
                                 "alloc 60\nalloc 1\n";
    cfg.batch_order = 3;
    CHECK_STREQ(run_shim(starved, false, NULL), "spurious-oom@shim op 1"); /* undeclared */
    cfg.fit_order = 3;
    CHECK_STREQ(run_shim(starved, false, NULL), "clean");
    /* Declared, a refusal with such a block free still is one. */
    cfg.batch_order = 4;
    CHECK_STREQ(run_shim("backend shim\nsemantics hardened\n" MAP64 "poison off\n"
                       "alloc 52\nalloc 1\n", false, NULL),
              "spurious-oom@shim op 1");
}

/* A back-end that locks itself answers out of order: cpu1 is handed the frames of
 * cpu0's free before that free answers (the free put them back, then was preempted).
 * The free is judged first, as it happened inside the back-end; before, the hand-out
 * was a double-handout, the late free a double free and the counter off. What stays
 * is the model's own lock-order cycle. */
FF_TEST(policy_a_free_in_flight_comes_before_a_hand_out_of_its_frames)
{
    ff_target t;
    CHECK(ff_target_find("asterinas", &t));
    char *trace = NULL;
    const char *v = run_on(&t, 1,
                           "backend asterinas\nsemantics hardened\n"
                           "map custom\nregion 0x100000-0x13ffff usable\npoison off\ncpus 2\n"
                           "schedule direct 8:1 28:0 33:1 5:1\n"
                           "cpu0 alloc 32\ncpu0 drop h0\ncpu1 alloc 32\ncpu1 alloc 32\n",
                           true, &trace);
    CHECK_STREQ(v, "lock-order-cycle@asterinas op 2");
    /* The interleaving is the one this test is about. */
    const char *begins = strstr(trace, "asterinas free(0x100, 32) begins");
    const char *handed = begins ? strstr(begins, "alloc(32, align 1, zone Normal) = ok 0x100") : NULL;
    CHECK(handed && strstr(handed, "asterinas free(0x100, 32) = ok"));
    free(trace);
}

FF_TEST(policy_one_error_code_agrees_with_every_refusal)
{
    /* A double free and a malformed request: broken-none answers DOUBLE and INVALID, the
     * shim REJECTED for both. No divergence; a wrong specific code still diverges. */
    const char *prog = MAP64 "alloc 2\ndrop h0\nraw_free 0x0 2\nalloc 0\n";
    ff_target t[2];
    reset_cfg();
    cfg.refusal = FF_ERR_REJECTED;
    t[0] = shim_target();
    CHECK(ff_target_find("broken-none", &t[1]));
    CHECK_STREQ(run_on(t, 2, prog, true, NULL), "clean");
    cfg.refusal = FF_ERR_FOREIGN;
    t[0] = shim_target();
    CHECK(strstr(run_on(t, 2, prog, true, NULL), "divergence@") != NULL);
    /* A refusal never agrees with success. */
    CHECK(ff_status_agree(FF_ERR_REJECTED, FF_ERR_NOMEM));
    CHECK(ff_status_agree(FF_ERR_DOUBLE, FF_ERR_REJECTED));
    CHECK(!ff_status_agree(FF_ERR_REJECTED, FF_OK));
    CHECK(!ff_status_agree(FF_ERR_DOUBLE, FF_ERR_FOREIGN));
}

/* ---------------------------------------------------------------- counter, kept frames */

FF_TEST(policy_no_counter_means_no_drift_check)
{
    reset_cfg();
    cfg.no_counter = true;
    CHECK_STREQ(run_shim(MAP64 "alloc 7\nalloc 3 align 4\ndrop h0\nalloc 64\n", true, NULL),
                "clean");
    cfg.by_address = true;
    CHECK_STREQ(run_shim(MAP64 "alloc 3\nraw_free 0x0 1\nalloc 64\n", true, NULL), "clean");
}

FF_TEST(policy_kept_frames_are_the_allocators_own)
{
    /* 4 frames kept for metadata: the rest is all there is, and never a leak. */
    reset_cfg();
    cfg.keep = 4;
    CHECK_STREQ(run_shim(MAP64 "alloc 60\ndrop h0\nalloc 60\n", true, NULL), "clean");
    /* Handing one out is a double hand-out; freeing one, a foreign free refused. */
    CHECK_STREQ(run_shim(MAP64 "raw_free 0x0 1\n", true, NULL), "clean");
    char *trace;
    cfg.hand_out_kept = true;
    CHECK_STREQ(run_shim(MAP64 "alloc 1\n", false, &trace), "double-handout@shim op 0");
    CHECK(strstr(trace, "kept for its own metadata") != NULL);
    free(trace);
    /* Frames that are not RAM cannot be kept: the back-end is not built. */
    reset_cfg();
    cfg.keep_hole = true;
    CHECK_STREQ(run_shim(MAP64 "alloc 1\n", false, &trace), "clean");
    CHECK(strstr(trace, "not usable RAM") != NULL);
    free(trace);
}

/* ---------------------------------------------------------------- panics */

FF_TEST(policy_a_panic_on_a_bad_request_is_the_allocator_catching_it)
{
    char *trace;
    reset_cfg();
    cfg.panic_on_bad_free = true;
    CHECK_STREQ(run_shim(MAP64 "alloc 1\ndrop h0\nraw_free 0x0 1\nalloc 1\n", true, &trace), "clean");
    CHECK(strstr(trace, "ALLOCATOR PANIC") != NULL);
    CHECK(strstr(trace, "bad free: double") != NULL);
    CHECK(strstr(trace, "caught a request it had to refuse") != NULL);
    CHECK(strstr(trace, "[3] alloc 1") == NULL || strstr(trace, "dead") != NULL); /* the run ends */
    free(trace);
    /* On a valid free it is a finding of its own, named after the call and the function. */
    reset_cfg();
    cfg.panic_on_count = 2;
    CHECK_STREQ(run_shim(MAP64 "alloc 2\ndrop h0\n", true, NULL), "allocator-panic@shim:free:shim_free op 1");
}

/* ---------------------------------------------------------------- hangs */

FF_TEST(policy_hangs_are_named_after_where_they_loop)
{
    reset_cfg();
    CHECK_STREQ(run_shim(MAP64 "alloc 33\n", false, NULL), "hang@shim:alloc:spin_a op 0");
    CHECK_STREQ(run_shim(MAP64 "alloc 34\n", false, NULL), "hang@shim:alloc:spin_b op 0");
}

FF_TEST(policy_step_budget_grows_with_the_request)
{
    /* A free of far more frames than the map holds, looked at frame by frame before it
     * is refused: legitimate work proportional to what was asked, not a hang. */
    reset_cfg();
    cfg.walk_frames = true;
    CHECK_STREQ(run_shim(MAP64 "raw_free 0x0 100000\n", true, NULL), "clean");
}

/* ---------------------------------------------------------------- refused blocks */

FF_TEST(policy_a_refused_block_starting_in_a_hole_comes_back_whole)
{
    /* The shim claims a block starting one frame into a hole (frame 4): out of the map,
     * refused by the layer and given back at the end, RAM frames and all. */
    reset_cfg();
    cfg.straddle = true;
    const char *prog = "map custom\nregion 0x0-0x3fff usable\nregion 0x5000-0x3ffff usable\n"
                       "alloc 5\nalloc 2\n";
    CHECK_STREQ(run_shim(prog, true, NULL), "out-of-map-alloc@shim op 0");
}

/* ---------------------------------------------------------------- root causes */

FF_TEST(policy_what_follows_a_root_cause_is_its_consequence)
{
    /* #1760 on bsa: the accepted foreign free is the root cause; the double hand-out and
     * the deadlock it leads to are its consequences, never signatures of their own. */
    const char *the_1760 =
        "semantics asterinas-2024\nmap custom\nregion 0x0-0x7ffff usable\n"
        "region 0xc8000-0xd6fff usable\nalloc 32\ndrop h0\nfrom_unused 0x1000\ndrop h0\n"
        "alloc 1\nalloc 1\nalloc 1\nalloc 1\nalloc 1\nalloc 1\nalloc 1\nalloc 1\nalloc 1\n"
        "alloc 1\nalloc 100\n";
    ff_target t[2];
    CHECK(ff_target_find("bsa", &t[0]));
    CHECK_STREQ(run_on(t, 1, the_1760, true, NULL),
                "accepted-foreign-free@bsa op 3; then double-handout@bsa op 14; "
                "then self-deadlock@bsa op 14");
    CHECK_STREQ(run_on(t, 1, the_1760, false, NULL), "accepted-foreign-free@bsa op 3");
    /* In a differential run a back-end's answers from its root cause on are not
     * compared: broken-wrongsize accepting a wrong-size free is its own finding, and
     * broken-none refusing it is no divergence (2 back-ends: it would be blamed). */
    CHECK(ff_target_find("broken-wrongsize", &t[0]));
    CHECK(ff_target_find("broken-none", &t[1]));
    const char *v = run_on(t, 2, MAP64 "alloc 2\nraw_free 0x0 1\n", true, NULL);
    CHECK(strncmp(v, "accepted-wrong-size-free@broken-wrongsize op 1", 46) == 0);
    CHECK(strstr(v, "divergence") == NULL);
}

/* ---------------------------------------------------------------- the program's own misuse */

FF_TEST(policy_frames_a_free_did_not_name_are_not_poison_checked)
{
    /* Frames 1-2 hold the program's data when free(0, 1) by address gives all three
     * back: the layer poisoned only what the free named, so their content proves
     * nothing about the back-end. */
    reset_cfg();
    cfg.by_address = true;
    CHECK_STREQ(run_shim(MAP64 "poison on\nalloc 3\nwrite 0x1000 0x11\nraw_free 0x0 1\n"
                               "alloc 3\n", true, NULL),
                "clean");
}

FF_TEST(policy_a_refused_block_freed_meanwhile_is_not_given_back_again)
{
    /* The program frees frames it holds (raw_free), the allocator hands them out again and
     * the layer refuses them; a later drop frees that block, and another is handed out
     * where it was. Only what is still out from its own hand-out goes back at the end. */
    reset_cfg();
    cfg.by_address = true;
    CHECK_STREQ(run_shim("map tiny\nalloc 1\nalloc 4 zone dma\nraw_free 0x0 0\nalloc 1\n"
                         "drop h0\nraw_free 0x1000 24\nalloc 7 zone dma\n", true, NULL),
                "clean");
}

FF_TEST(policy_a_valid_give_back_refused_is_a_rejected_valid_free)
{
    /* A 64-frame block the layer refused (the program still held its first frame) is
     * refused again when given back at the end: the back-end's bug, named as such, and
     * the leak that follows is its consequence. */
    reset_cfg();
    cfg.reject_count = 64;
    CHECK_STREQ(run_shim("map custom\nregion 0x0-0xfffff usable\nalloc 1\nraw_free 0x0 1\n"
                         "alloc 64\n", true, NULL),
                "rejected-valid-free@shim at end; then leak@shim at end");
}

FF_TEST(policy_frames_the_program_freed_itself_are_no_leak)
{
    /* Piecewise: the program frees frame 1 of the two it holds (raw_free); the layer's
     * drop of both is then refused as a double free, and frame 2 stays out: the
     * program's doing. */
    reset_cfg();
    cfg.piecewise = true;
    CHECK_STREQ(run_shim(MAP64 "alloc 2\nraw_free 0x0 1\n", true, NULL), "clean");
}

FF_TEST(policy_the_layer_never_poisons_kept_frames)
{
    /* A foreign free over the allocator's metadata frame: refused, and the frame's
     * content stays the allocator's (it checks it on every call). */
    reset_cfg();
    cfg.keep = 2;
    cfg.magic = true;
    CHECK_STREQ(run_shim(MAP64 "poison on\nraw_free 0x0 10\nalloc 1\n", true, NULL), "clean");
}

FF_TEST(policy_a_raw_free_by_address_taints_all_it_gave_back)
{
    /* free(0, 0) by address gives back both frames the program still holds: writing into
     * frame 1 afterwards (poisoned again by a refused free naming it) is the program's use
     * after free, not a scribble of the back-end. */
    reset_cfg();
    cfg.by_address = true;
    CHECK_STREQ(run_shim(MAP64 "poison on\nalloc 2\nraw_free 0x0 0\nraw_free 0x1000 1\n"
                               "write 0x1000 0xf9\nalloc 2\n",
                         true, NULL),
                "clean");
}

/* ---------------------------------------------------------------- frames in use */

FF_TEST(policy_a_scribble_on_a_frame_in_use_is_inuse_corrupted)
{
    /* Freeing frame 0 writes a header into frame 1, which the program holds: found
     * right after the free that wrote it (op 2). The program's own writes are no
     * finding. */
    reset_cfg();
    cfg.scribble_next = true;
    CHECK_STREQ(run_shim(MAP64 "poison on\nalloc 1\nalloc 1\ndrop h0\n", false, NULL),
                "inuse-corrupted@shim op 2");
    reset_cfg();
    CHECK_STREQ(run_shim(MAP64 "poison on\nalloc 2\nwrite 0x1007 0x5c\nwrite 0x1007 0x11\n"
                               "drop h0\nalloc 2\n", false, NULL),
                "clean");
}

FF_TEST(policy_a_scribble_that_restores_what_the_program_overwrote_is_found_at_its_call)
{
    /* The program writes 0x5c into frame 1's first 8 bytes, a call passes them, then the
     * program writes 0x11 at byte 0. The free of frame 0 scribbles 0x5c over those 8
     * bytes again: the edges are as a check once passed them, yet byte 0 must be 0x11. */
    reset_cfg();
    cfg.scribble_next = true;
    CHECK_STREQ(run_shim(MAP64 "poison on\nalloc 1\nalloc 1\nwrite 0x1000 0x5c\n"
                               "write 0x1001 0x5c\nwrite 0x1002 0x5c\nwrite 0x1003 0x5c\n"
                               "write 0x1004 0x5c\nwrite 0x1005 0x5c\nwrite 0x1006 0x5c\n"
                               "write 0x1007 0x5c\nalloc 1\nwrite 0x1000 0x11\ndrop h0\n",
                         false, NULL),
                "inuse-corrupted@shim op 12");
}

FF_TEST(policy_a_scribble_is_found_when_dropped_if_the_program_holds_many_frames)
{
    /* Holding 300 watched frames, past what is checked at every call: the scribble on
     * frame 1 is found when the program lets go of it, at the end. */
    reset_cfg();
    cfg.scribble_next = true;
    CHECK_STREQ(run_shim("map custom\nregion 0x0-0x3fffff usable\npoison on\nalloc 1\n"
                         "alloc 300\ndrop h0\n", false, NULL),
                "inuse-corrupted@shim at end");
}

/* ---------------------------------------------------------------- frames through a base */

FF_TEST(policy_frames_through_the_base_start_zero_whatever_ran_before)
{
    /* freelist (in-band, frame by frame) runs first and the program fills a frame it
     * holds; the shim, reaching frames through ff_frame_base, must find every frame
     * zero at create, on this input and the next. */
    reset_cfg();
    cfg.base = true;
    stale_seen = false;
    ff_target t[2] = {{"freelist", ff_backend_find("freelist"), FF_BUG_NONE, false}, shim_target()};
    const char *prog = MAP64 "poison on\nalloc 1\nwrite 0x0 0x77\nwrite 0x3000 0x77\n";
    ff_program p;
    char err[200];
    CHECK(ff_program_parse(&p, prog, err, sizeof err));
    ff_exec_opts o = {.semantics = -1, .poison = -1};
    ff_exec *x = ff_exec_create(t, 2, &o);
    CHECK(x != NULL);
    for (int round = 0; round < 3; round++) {
        ff_exec_run(x, &p);
        CHECK_EQ(ff_exec_finding_count(x), 0);
    }
    CHECK(!stale_seen);
    ff_exec_destroy(x);
    ff_program_free(&p);
}

FF_TEST(policy_frames_through_the_base_are_never_filled_behind_the_allocator)
{
    /* The shim links freed frames in-band through the base and checks the link when it
     * reuses a frame. The program's write into a freed frame (its own use after free,
     * past the in-band bytes) must not wipe the link. */
    reset_cfg();
    cfg.base = cfg.base_links = true;
    CHECK_STREQ(run_shim(MAP64 "poison on\nalloc 1\nalloc 1\ndrop h0\nwrite 0x64 0x33\n"
                               "alloc 1\n", false, NULL),
                "clean");
    /* Without poisoning too. */
    CHECK_STREQ(run_shim(MAP64 "poison off\nalloc 1\ndrop h0\nwrite 0x64 0x33\nalloc 1\n",
                         false, NULL),
                "clean");
}

FF_TEST(policy_frames_through_the_base_keep_every_check)
{
    /* A scribble through the base on a frame the program holds is found at the call
     * that made it; a free frame's poison (zero here) is checked at its hand-out. */
    reset_cfg();
    cfg.base = cfg.scribble_next = true;
    CHECK_STREQ(run_shim(MAP64 "poison on\nalloc 1\nalloc 1\ndrop h0\n", false, NULL),
                "inuse-corrupted@shim op 2");
    CHECK_STREQ(run_shim(MAP64 "poison on\nalloc 1\ndrop h0\nalloc 2\n", false, NULL),
                "poison-corrupted@shim op 2");
}

FF_TEST(policy_the_base_is_refused_without_needs_backing)
{
    reset_cfg();
    cfg.base_unbacked = true;
    char *trace = NULL;
    CHECK_STREQ(run_shim(MAP64 "alloc 1\n", false, &trace), "clean");
    CHECK(strstr(trace, "ff_frame_base refused it, as its policy does not declare "
                        "needs_backing") != NULL);
    free(trace);
}

/* The program frees a frame another CPU is being handed, on a back-end that keeps links
 * in free frames: that CPU then writes the frame, and the back-end's state is the
 * program's doing. The oracle stops judging, and the run stops running: what the
 * back-end does next (follow the overwritten link into a wild address) would be no bug
 * of its own, yet it was run, and a crash there was filed as an engine-crash. */
FF_TEST(policy_a_run_whose_oracle_went_blind_runs_no_further)
{
    reset_cfg();
    cfg.base = cfg.base_links = true;
    char *trace = NULL;
    const char *v = run_shim(MAP64 "poison on\ncpus 2\nschedule direct 2:1\n"
                                   "cpu0 alloc 1\ncpu1 raw_free 0x0 1\ncpu0 alloc 1\ncpu1 alloc 1\n",
                             true, &trace);
    CHECK_STREQ(v, "clean");
    CHECK(strstr(trace, "nothing more is judged, or run") != NULL);
    CHECK(strstr(trace, "[2]") == NULL && strstr(trace, "[3]") == NULL && strstr(trace, "[end]") == NULL);
    free(trace);
}
