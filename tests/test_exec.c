/* test_exec.c — the executor and the oracle together: verdicts, determinism, handles,
 * budgets, the leak check and differential comparison. Every bug class's own
 * reproducer lives in tests/regressions/ (replayed by make test); these tests pin
 * down the machinery around them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "unit.h"

/* Runs a text program on a target list; returns the executor (caller destroys) and,
 * when trace is non-NULL, the trace text (caller frees). */
static ff_exec *run_text(const char *targets, const char *text, bool keep_going, char **trace)
{
    ff_target t[8];
    size_t n;
    char err[200];
    CHECK(ff_target_parse_list(targets, t, 8, &n, err, sizeof err));
    ff_program p;
    if (!ff_program_parse(&p, text, err, sizeof err)) printf("  parse: %s\n", err);
    size_t len = 0;
    FILE *out = trace ? open_memstream(trace, &len) : NULL;
    ff_exec_opts o = {.semantics = -1, .poison = -1, .keep_going = keep_going, .trace = out};
    ff_exec *x = ff_exec_create(t, n, &o);
    CHECK(x != NULL);
    ff_exec_run(x, &p);
    if (out) fclose(out);
    ff_program_free(&p);
    return x;
}

static void signature(const ff_exec *x, size_t i, char *buf, size_t len)
{
    const ff_finding *f = ff_exec_finding(x, i);
    if (!f) {
        snprintf(buf, len, "none");
        return;
    }
    ff_finding_signature(f, buf, len);
}

FF_TEST(exec_class_names_round_trip)
{
    for (int c = 0; c < FF_CLASS_COUNT; c++) {
        ff_class back;
        CHECK(ff_class_parse(ff_class_name((ff_class)c), &back));
        CHECK_EQ(back, c);
        CHECK(strlen(ff_class_summary((ff_class)c)) > 20);
    }
    ff_class none;
    CHECK(!ff_class_parse("no-such-class", &none));
}

FF_TEST(exec_targets_include_the_test_only_ones_but_all_means_registered)
{
    ff_target t[8];
    size_t n;
    char err[200];
    CHECK(ff_target_parse_list("all", t, 8, &n, err, sizeof err));
    CHECK_EQ(n, ff_backend_count);
    for (size_t i = 0; i < n; i++) CHECK(strncmp(t[i].name, "broken", 6) != 0);
    CHECK(ff_target_parse_list("buddy,broken-slot", t, 8, &n, err, sizeof err));
    CHECK_EQ(n, 2);
    CHECK_EQ(t[1].bug, FF_BUG_LAYER_FREED_KEEPS_SLOT);
    CHECK(!ff_target_parse_list("buddy,,bitmap", t, 8, &n, err, sizeof err));
    CHECK(!ff_target_parse_list("buddy,buddy", t, 8, &n, err, sizeof err));
    CHECK(strstr(err, "twice") != NULL);
    CHECK(!ff_target_parse_list("nope", t, 8, &n, err, sizeof err));
    CHECK(strstr(err, "unknown back-end 'nope'") != NULL);
    CHECK(strstr(err, "buddy") != NULL); /* names the valid ones */
    CHECK(ff_backend_find("broken-none") == NULL); /* never in the real registry */
}

static const char *const the_1760 =
    "semantics asterinas-2024\nmap custom\nregion 0x0-0x7ffff usable\n"
    "region 0xc8000-0xd6fff usable\nalloc 32\ndrop h0\nfrom_unused 0x1000\ndrop h0\n"
    "alloc 1\nalloc 1\nalloc 1\nalloc 1\nalloc 1\nalloc 1\nalloc 1\nalloc 1\nalloc 1\n"
    "alloc 1\nalloc 100\n";

/* The language keeps any well-formed back-end name; its runner decides: a text
 * program naming a back-end this build lacks is refused with the line, a binary one
 * runs as naming none (a crash input must stay replayable). */
FF_TEST(exec_check_backend_refuses_text_and_forgives_binary)
{
    ff_program p;
    char err[160] = "";
    CHECK(ff_program_parse(&p, "# a comment\nbackend buddy,slab\ncheck\n", err, sizeof err));
    CHECK(!ff_exec_check_backend(&p, err, sizeof err));
    CHECK_STREQ(err, "line 2: unknown backend: buddy,slab");
    ff_program_free(&p);
    CHECK(ff_program_parse(&p, "backend buddy,buddy\n", err, sizeof err));
    CHECK(!ff_exec_check_backend(&p, err, sizeof err));
    CHECK_STREQ(err, "line 1: unknown backend: buddy,buddy");
    ff_program_free(&p);
    /* A known name in a combination not modelled says why. */
    CHECK(ff_program_parse(&p, "backend pcp:asterinas\n", err, sizeof err));
    CHECK(!ff_exec_check_backend(&p, err, sizeof err));
    CHECK_STREQ(err, "line 1: 'pcp:asterinas': asterinas locks itself and keeps per-CPU state "
                     "of its own; name it without pcp:");
    ff_program_free(&p);
    CHECK(ff_program_parse(&p, "backend broken-leak,bsa\ncheck\n", err, sizeof err));
    CHECK(ff_exec_check_backend(&p, err, sizeof err));
    CHECK_STREQ(p.backend, "broken-leak,bsa");
    ff_program_free(&p);
    static const uint8_t plugin[] = {1, 0x20, 5, 'e', 'x', 't', 'e', 'n', 't', 8};
    static const uint8_t known[] = {1, 0x20, 2, 'b', 's', 'a', 8};
    CHECK(ff_program_decode(&p, plugin, sizeof plugin));
    CHECK_STREQ(p.backend, "extent");
    CHECK(ff_exec_check_backend(&p, err, sizeof err));
    CHECK_STREQ(p.backend, "");
    CHECK_EQ(p.nops, 1);
    ff_program_free(&p);
    CHECK(ff_program_decode(&p, known, sizeof known));
    CHECK(ff_exec_check_backend(&p, err, sizeof err));
    CHECK_STREQ(p.backend, "bsa");
    ff_program_free(&p);
}

FF_TEST(exec_1760_stops_at_the_first_finding_unless_keep_going)
{
    ff_exec *x = run_text("bsa", the_1760, false, NULL);
    char sig[96];
    CHECK_EQ(ff_exec_finding_count(x), 1);
    signature(x, 0, sig, sizeof sig);
    CHECK_STREQ(sig, "accepted-foreign-free@bsa");
    CHECK_EQ(ff_exec_finding(x, 0)->op, 3);
    ff_exec_destroy(x);

    x = run_text("bsa", the_1760, true, NULL);
    CHECK_EQ(ff_exec_finding_count(x), 3);
    signature(x, 1, sig, sizeof sig);
    CHECK_STREQ(sig, "double-handout@bsa");
    CHECK_EQ(ff_exec_finding(x, 1)->op, 14);
    signature(x, 2, sig, sizeof sig);
    CHECK_STREQ(sig, "self-deadlock@bsa");
    ff_exec_destroy(x);
}

FF_TEST(exec_same_program_same_trace_whatever_ran_before)
{
    char *first;
    ff_exec *x = run_text("buddy,bitmap,freelist,bsa", the_1760, true, &first);
    ff_exec_destroy(x);

    /* One executor runs other programs first: its caches must carry no state over. */
    ff_target t[4];
    size_t n, len;
    char err[200], *second;
    CHECK(ff_target_parse_list("buddy,bitmap,freelist,bsa", t, 4, &n, err, sizeof err));
    FILE *out = open_memstream(&second, &len);
    ff_exec_opts o = {.semantics = -1, .poison = -1, .keep_going = true, .trace = out};
    x = ff_exec_create(t, n, &o);
    const char *const others[] = {
        "map custom\nregion 0x0-0x7ffff usable\nregion 0xc8000-0xd6fff usable\npoison on\n"
        "alloc 7\nalloc 64 align 64\nwrite 0x3000 0x11\ndrop h0\nraw_free 0x9000 3\n",
        "semantics asterinas-2024\nmap custom\nregion 0x0-0x7ffff usable\n"
        "region 0xc8000-0xd6fff usable\nfrom_unused 0x5000 4\nalloc 128\ncheck\n",
        the_1760,
    };
    long mark = 0;
    for (size_t i = 0; i < 3; i++) {
        ff_program p;
        CHECK(ff_program_parse(&p, others[i], err, sizeof err));
        fflush(out);
        mark = ftell(out);
        ff_exec_run(x, &p);
        ff_program_free(&p);
    }
    fclose(out);
    CHECK(strcmp(second + mark, first) == 0);
    free(first);
    free(second);
    ff_exec_destroy(x);
}

/* Runs text on x, whose trace goes to out; returns where its trace starts in out. */
static long run_marked(ff_exec *x, FILE *out, const char *text)
{
    char err[200];
    ff_program p;
    CHECK(ff_program_parse(&p, text, err, sizeof err));
    fflush(out);
    long at = ftell(out);
    ff_exec_run(x, &p);
    ff_program_free(&p);
    fflush(out);
    return at;
}

/* The program of run i: over 1,100 small maps (so that their count binds before their
 * memory does), or over 300 maps in four settings each. */
static void cache_program(char *text, size_t len, unsigned i, bool settings)
{
    unsigned map = settings ? i / 4 % 300 : i % 1100;
    const char *sem = settings && i % 2 ? "asterinas-2024" : "hardened";
    const char *poison = settings && i / 2 % 2 ? "on" : "off";
    snprintf(text, len,
             "semantics %s\npoison %s\nmap custom\nregion 0x0-0x%x usable\nalloc 3\nalloc 1\n"
             "drop h0\ncheck\n",
             sem, poison, 0x20000 + map * 0x1000 - 1);
}

FF_TEST(exec_more_maps_than_the_cache_holds_change_no_trace)
{
    /* Four targets: past the maps the cache keeps (1,024), then past its machines
     * (4,096), and the first program, run again, traces as it did. */
    ff_target t[4];
    size_t n;
    char err[200], text[256];
    CHECK(ff_target_parse_list("buddy,bitmap,freelist,bsa", t, 4, &n, err, sizeof err));
    for (int settings = 0; settings < 2; settings++) {
        char *trace;
        size_t len;
        FILE *out = open_memstream(&trace, &len);
        ff_exec_opts o = {.semantics = -1, .poison = -1, .keep_going = true, .trace = out};
        ff_exec *x = ff_exec_create(t, n, &o);
        unsigned runs = settings ? 1200 : 1100;
        long first_end = 0, last_start = 0;
        for (unsigned i = 0; i <= runs; i++) {
            cache_program(text, sizeof text, i % runs, settings);
            last_start = run_marked(x, out, text);
            if (i == 0) first_end = ftell(out);
        }
        fclose(out);
        CHECK(strstr(trace, "not runnable") == NULL);
        CHECK_EQ((long)strlen(trace + last_start), first_end);
        CHECK(memcmp(trace + last_start, trace, (size_t)first_end) == 0);
        free(trace);
        ff_exec_destroy(x);
    }
}

FF_TEST(exec_drop_piece_splits_the_handle)
{
    char *trace;
    /* Drop the middle of a 4-frame allocation, then the rest: every piece is named by
     * a handle, so the leak check finds all of memory back. */
    ff_exec *x = run_text("freelist",
                          "map tiny\nalloc 4\ndrop h0 +1 2\ndrop h0\ndrop h0\ndrop h0\n",
                          false, &trace);
    CHECK_EQ(ff_exec_finding_count(x), 0);
    CHECK(strstr(trace, "[2] drop h0\n  (h0 is h0 = [0x0, +1))") != NULL);
    CHECK(strstr(trace, "[3] drop h0\n  (h0 is h0 = [0x3, +1))") != NULL);
    /* The allocation goes back in one call once its last frame is released. */
    CHECK(strstr(trace, "freelist free(0x0, 4) = ok") != NULL);
    CHECK(strstr(trace, "[4] drop h0\n  -> skipped: no live handle") != NULL);
    free(trace);
    ff_exec_destroy(x);
}

FF_TEST(exec_frame_budget_skips_what_would_pass_it)
{
    char *trace;
    /* 2^13 frames per run: 5000 fit, 3500 more would not, 3000 more still do. */
    ff_exec *x = run_text("freelist",
                          "map pc-1g\nalloc 200000\nalloc 5000\nalloc 3500\nalloc 3000\ncheck\n",
                          false, &trace);
    CHECK_EQ(ff_exec_finding_count(x), 0);
    CHECK(strstr(trace, "[0] alloc 200000\n  -> skipped: the run's budget") != NULL);
    CHECK(strstr(trace, "[1] alloc 5000\n     freelist alloc(5000") != NULL);
    CHECK(strstr(trace, "[2] alloc 3500\n  -> skipped: the run's budget") != NULL);
    CHECK(strstr(trace, "[3] alloc 3000\n     freelist alloc(3000") != NULL);
    /* Walks have a budget of their own, 2^16 frames: pc-1g's 2^18 are past it. */
    CHECK(strstr(trace, "[4] check\n  -> skipped: the run's walks") != NULL);
    free(trace);
    ff_exec_destroy(x);
    /* A walk takes nothing from the frames: qemu's (2^15) runs after they are spent,
     * and a second one too; the third would pass the walks' budget. */
    x = run_text("freelist", "map qemu\nalloc 8192\ncheck\ncheck\ncheck\n", false, &trace);
    CHECK_EQ(ff_exec_finding_count(x), 0);
    CHECK(strstr(trace, "[1] check\n  -> skipped") == NULL);
    CHECK(strstr(trace, "[2] check\n  -> skipped") == NULL);
    CHECK(strstr(trace, "[3] check\n  -> skipped: the run's walks") != NULL);
    free(trace);
    ff_exec_destroy(x);
}

FF_TEST(exec_leak_check_finds_the_bsa_rounding_leak)
{
    /* bsa reserves 4 frames for alloc(3) and is given back the 3 asked for, one by one
     * as Page::drop did. */
    ff_exec *x = run_text("bsa", "semantics asterinas-2024\nmap tiny\nalloc 3\n", false, NULL);
    char sig[96];
    signature(x, 0, sig, sizeof sig);
    CHECK_STREQ(sig, "leak@bsa");
    CHECK_EQ(ff_exec_finding(x, 0)->op, FF_OP_AT_END);
    CHECK(strstr(ff_exec_finding(x, 0)->detail, "1 frames were never given back") != NULL);
    ff_exec_destroy(x);
}

/* Runs text on buddy with `bug` switched on; returns the first finding's signature. */
static void buddy_with_bug(ff_bug bug, const char *text, char *sig, size_t len, ff_exec **out)
{
    ff_target t[1];
    size_t n;
    char err[200];
    CHECK(ff_target_parse_list("buddy", t, 1, &n, err, sizeof err));
    CHECK(ff_target_inject(t, n, bug, err, sizeof err));
    ff_program p;
    CHECK(ff_program_parse(&p, text, err, sizeof err));
    ff_exec_opts o = {.semantics = -1, .poison = -1};
    ff_exec *x = ff_exec_create(t, n, &o);
    CHECK(x != NULL);
    ff_exec_run(x, &p);
    ff_program_free(&p);
    signature(x, 0, sig, len);
    *out = x;
}

FF_TEST(exec_end_asks_again_for_every_top_order_block_of_a_large_map)
{
    /* pc-4g is too large for the leak check's re-allocation. The merge back to order
     * 18 loses the block; only the end of the run asks for it again. */
    const char *program = "map pc-4g\nalloc 1\ndrop h0\n";
    char sig[96];
    ff_exec *x;
    buddy_with_bug(FF_BUG_BUDDY_MAX_ORDER_LOST, program, sig, sizeof sig, &x);
    CHECK_STREQ(sig, "spurious-oom@buddy");
    if (ff_exec_finding_count(x)) {
        CHECK_EQ(ff_exec_finding(x, 0)->op, FF_OP_AT_END);
        CHECK(strstr(ff_exec_finding(x, 0)->detail, "align 262144") != NULL);
    }
    ff_exec_destroy(x);
    buddy_with_bug(FF_BUG_NONE, program, sig, sizeof sig, &x); /* and it owes no more */
    CHECK_STREQ(sig, "none");
    ff_exec_destroy(x);
}

/* The sanitizers' malloc hooks (weak: a build without them skips the count). */
extern int __sanitizer_install_malloc_and_free_hooks(
    void (*on_malloc)(const volatile void *ptr, size_t size),
    void (*on_free)(const volatile void *ptr)) __attribute__((weak));
static bool counting;
static long mallocs, frees;
static void count_malloc(const volatile void *ptr, size_t size)
{
    (void)ptr;
    (void)size;
    mallocs += counting;
}
static void count_free(const volatile void *ptr)
{
    (void)ptr;
    frees += counting;
}

FF_TEST(exec_an_input_run_again_allocates_nothing_it_keeps)
{
    /* libFuzzer runs an input again when it allocated more than it freed, and then
     * scans the whole heap for leaks. A repeated input must be balanced, though the
     * reset that logs its touches runs with the next input (one target: no other
     * target's run resets the space in between). */
    static bool hooked;
    if (!__sanitizer_install_malloc_and_free_hooks) return; /* not a sanitizer build */
    if (!hooked) hooked = __sanitizer_install_malloc_and_free_hooks(count_malloc, count_free);
    CHECK(hooked);
    ff_target t[1];
    size_t n;
    char err[200];
    CHECK(ff_target_parse_list("buddy", t, 1, &n, err, sizeof err));
    ff_program p;
    CHECK(ff_program_parse(&p, "map tiny\npoison on\nalloc 3\nwrite 0x1000010 0x41\nalloc 1\n"
                               "drop h0\n", err, sizeof err));
    ff_exec_opts o = {.semantics = -1, .poison = -1};
    ff_exec *x = ff_exec_create(t, n, &o);
    CHECK(x != NULL);
    ff_exec_run(x, &p);
    mallocs = frees = 0;
    counting = true;
    ff_exec_run(x, &p);
    counting = false;
    CHECK(mallocs <= frees);
    if (mallocs > frees) printf("  the second run: %ld mallocs, %ld frees\n", mallocs, frees);
    ff_exec_destroy(x);
    ff_program_free(&p);
}

FF_TEST(exec_a_frame_taken_from_unused_while_free_proves_nothing_about_the_back_end)
{
    /* The 2024 layer lets from_unused take frames buddy holds free; the program writes
     * one, and buddy hands it out later. The changed byte is the program's doing, not a
     * scribble of buddy's on its free memory. */
    ff_exec *x = run_text("buddy",
                          "semantics asterinas-2024\nmap pc-4g\npoison on\nfrom_unused 0x7000 256\n"
                          "write 0x20000 0x94\nalloc 1 align 32 zone dma\n",
                          false, NULL);
    char sig[96];
    signature(x, 0, sig, sizeof sig);
    CHECK_STREQ(sig, "none");
    ff_exec_destroy(x);
    /* Frame 1, taken the same way, is where freelist links its free run after the first
     * alloc; handed out next, it holds that link until the layer poisons it. Two holders
     * by the layer's doing: no scribble of freelist's. */
    x = run_text("freelist",
                 "semantics asterinas-2024\nmap tiny\npoison on\nfrom_unused 0x1000 1\nalloc 1\n"
                 "alloc 1\n",
                 false, NULL);
    signature(x, 0, sig, sizeof sig);
    CHECK_STREQ(sig, "none");
    ff_exec_destroy(x);
}

FF_TEST(exec_validating_back_ends_refuse_bad_frees_cleanly)
{
    const char *program =
        "map tiny\nalloc 4\nalloc 2\nraw_free 0x10000\nraw_free 0x0 2\nraw_free 0x1000 3\n"
        "raw_free 0x30000\nraw_free 0x4000 2\nraw_free 0x0 0\nfrom_unused 0x6000\n"
        "from_in_use 0x9000\nclone h1\ndrop h2\ncheck\n";
    char *trace;
    ff_exec *x = run_text("buddy,bitmap,freelist", program, true, &trace);
    CHECK_EQ(ff_exec_finding_count(x), 0);
    if (ff_exec_finding_count(x)) printf("%s\n", trace);
    free(trace);
    ff_exec_destroy(x);
}

FF_TEST(exec_divergence_names_the_odd_one_out)
{
    /* Three targets: the majority answers 'foreign', broken-code 'double'. */
    ff_exec *x = run_text("buddy,broken-code,freelist", "map tiny\nraw_free 0x10000\n", true,
                          NULL);
    CHECK_EQ(ff_exec_finding_count(x), 1);
    char sig[96];
    signature(x, 0, sig, sizeof sig);
    CHECK_STREQ(sig, "divergence@broken-code");
    CHECK(strstr(ff_exec_finding(x, 0)->detail, "broken-code answered double") != NULL);
    ff_exec_destroy(x);
}

FF_TEST(exec_hang_is_reported_and_stops_the_run)
{
    char *trace;
    ff_exec *x = run_text("broken-hang", "map tiny\nalloc 1 align 8\nalloc 1\n", true, &trace);
    CHECK_EQ(ff_exec_finding_count(x), 1);
    char sig[FF_SIGNATURE_MAX];
    signature(x, 0, sig, sizeof sig);
    /* Named after the call and the function that spent the budget. */
    CHECK_STREQ(sig, "hang@broken-hang:alloc:broken_alloc");
    CHECK(strstr(trace, "[1] alloc 1") == NULL); /* nothing runs on a dead system */
    free(trace);
    ff_exec_destroy(x);
}

FF_TEST(exec_drain_plan_covers_the_usable_ram)
{
    ff_space space;
    char err[200];
    CHECK(ff_space_init_preset(&space, "tiny", err, sizeof err));
    const ff_backend_def *kinds[] = {ff_backend_find("buddy"), ff_backend_find("bitmap")};
    for (size_t k = 0; k < 2; k++) {
        ff_alloc_req *reqs;
        size_t n;
        CHECK(ff_oracle_drain_plan(&space, &kinds[k]->policy, &reqs, &n));
        uint64_t total = 0;
        for (size_t i = 0; i < n; i++) {
            total += reqs[i].count;
            if (i) CHECK(reqs[i].count <= reqs[i - 1].count); /* largest first */
            if (kinds[k]->policy.placement == FF_PLACE_POW2_NATURAL)
                CHECK(ff_is_pow2(reqs[i].count));
        }
        CHECK_EQ(total, space.usable_frames);
        /* Any-run plans ask for each contiguous run whole: tiny has four. */
        if (k == 1) CHECK_EQ(n, 4);
        free(reqs);
    }
    ff_space_destroy(&space);
}

/* ---------------------------------------------------------------- minimisation */

#include "minimize.h"

FF_TEST(minimize_sheds_unrelated_operations_and_earlier_findings)
{
    /* The #1760 deadlock on bsa, buried among operations that have nothing to do with
     * it and behind an earlier root cause on another back-end (broken-zone hands out a
     * frame past the DMA zone), in a differential run over both. */
    const char *text =
        "semantics asterinas-2024\nmap custom\nregion 0x0-0x7ffff usable\n"
        "region 0xc8000-0xd6fff usable\nregion 0x2000000-0x200ffff usable\n"
        "alloc 1 zone dma\nalloc 32\ndrop h1\ncheck\nalloc 2\n"
        "from_unused 0x1000\nalloc 100\nalloc 1\n";
    ff_program p, small;
    char err[200];
    CHECK(ff_program_parse(&p, text, err, sizeof err));
    ff_target t[2];
    CHECK(ff_target_find("broken-zone", &t[0]));
    CHECK(ff_target_find("bsa", &t[1]));
    ff_exec_opts o = {.semantics = -1, .poison = -1};
    ff_minimize_result res;
    bool minimized = ff_minimize(&p, t, 2, &o, "self-deadlock@bsa", &small, &res, err, sizeof err);
    if (!minimized) ff_program_free(&p);
    CHECK(minimized);
    CHECK_EQ(res.ops_before, 8);
    CHECK(res.ops_after <= 5);
    CHECK_EQ(res.position, 0); /* broken-zone's finding went with its operation */
    /* The result shows the finding first, on its own. */
    ff_exec *x = ff_exec_create(t, 2, &o);
    CHECK(ff_exec_run(x, &small) >= 1);
    char sig[FF_SIGNATURE_MAX];
    ff_finding_signature(ff_exec_finding(x, 0), sig, sizeof sig);
    CHECK_STREQ(sig, "self-deadlock@bsa");
    ff_exec_destroy(x);
    /* Deterministic. */
    ff_program again;
    ff_minimize_result res2;
    CHECK(ff_minimize(&p, t, 2, &o, "self-deadlock@bsa", &again, &res2, err, sizeof err));
    CHECK_EQ(again.nops, small.nops);
    CHECK(memcmp(again.ops, small.ops, small.nops * sizeof *small.ops) == 0);
    ff_program_free(&again);
    ff_program_free(&small);

    CHECK(!ff_minimize(&p, t, 2, &o, "leak@buddy", &small, &res, err, sizeof err));
    CHECK(strstr(err, "does not show leak@buddy") != NULL);
    ff_program_free(&p);

    /* A finding that follows another on its own back-end is a consequence, not a root
     * cause: bsa's alloc(0) comes first, so there is no deadlock to minimise for. */
    CHECK(ff_program_parse(&p, "semantics asterinas-2024\nmap custom\nregion 0x0-0x7ffff usable\n"
                               "region 0xc8000-0xd6fff usable\nalloc 0\nalloc 32\ndrop h0\n"
                               "from_unused 0x1000\nalloc 100\n", err, sizeof err));
    CHECK(!ff_minimize(&p, &t[1], 1, &o, "self-deadlock@bsa", &small, &res, err, sizeof err));
    ff_program_free(&p);
}

/* ---------------------------------------------------------------- several CPUs */

/* The trace of a program, with CPU tags and switch lines taken out. */
static char *untagged_trace(const char *targets, const char *text, size_t *findings)
{
    char *trace;
    ff_exec *x = run_text(targets, text, true, &trace);
    *findings = ff_exec_finding_count(x);
    ff_exec_destroy(x);
    char *out = malloc(strlen(trace) + 1), *w = out;
    for (char *line = strtok(trace, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "  ~~ ", 5) == 0) continue;
        char *tag = strstr(line, "] cpu0 ");
        if (tag) memmove(tag + 2, tag + 7, strlen(tag + 7) + 1);
        w += sprintf(w, "%s\n", line);
    }
    free(trace);
    return out;
}

FF_TEST(exec_one_cpu_with_no_schedule_runs_as_the_sequential_program)
{
    static const char *const bodies[] = {
        "alloc 4\nclone h0\ndrop h0 +1 2\nfrom_in_use 0x1000000 2 refs 3\ndrop h1\ncheck\n",
        "alloc 2 align 2\nraw_free 0x1000000 1\nfrom_unused 0x5000\ndrop h0\nalloc 1\n",
    };
    static const char *const heads[] = {"semantics hardened\n", "semantics asterinas-2024\n"};
    for (size_t b = 0; b < 2; b++)
        for (size_t h = 0; h < 2; h++) {
            char seq[512], one[512];
            snprintf(seq, sizeof seq, "%s%s", heads[h], bodies[b]);
            snprintf(one, sizeof one, "%scpus 1\n%s", heads[h], bodies[b]);
            size_t n_seq, n_one;
            char *a = untagged_trace("buddy,bitmap,bsa", seq, &n_seq);
            char *c = untagged_trace("buddy,bitmap,bsa", one, &n_one);
            CHECK_EQ(n_seq, n_one);
            CHECK_STREQ(a, c);
            free(a);
            free(c);
        }
}

FF_TEST(exec_a_handle_in_use_on_one_cpu_is_not_another_cpus_to_drop)
{
    /* cpu0 is preempted inside its drop of h0 (at its first point); cpu1's drop finds
     * no live handle rather than dropping the same references twice. */
    char *trace;
    ff_exec *x = run_text("buddy", "cpus 2\nschedule direct 3:1\ncpu0 alloc 1\ncpu0 drop h0\n"
                                   "cpu1 drop h0\n", true, &trace);
    CHECK_EQ(ff_exec_finding_count(x), 0);
    CHECK(strstr(trace, "[2] cpu1 drop h0\n  -> skipped: no live handle") != NULL);
    CHECK(strstr(trace, "cpu0 preempted at a refcount atomic") != NULL);
    ff_exec_destroy(x);
    free(trace);
}

FF_TEST(exec_concurrent_runs_are_deterministic)
{
    static const char *const text =
        "semantics asterinas-2024\ncpus 3\nschedule pct priorities 3,9,1 changes 2,5,1,7\n"
        "cpu0 alloc 2\ncpu1 alloc 1\ncpu2 from_in_use 0x1000000 2\ncpu0 drop h0\ncpu1 clone h0\n"
        "irq2+1 drop h1\ncpu2 alloc 4\ncpu1 drop h0\n";
    char *first, *again;
    ff_exec *x = run_text("buddy,bitmap,freelist", text, true, &first);
    ff_exec_destroy(x);
    x = run_text("buddy,bitmap,freelist", text, true, &again);
    ff_exec_destroy(x);
    CHECK_STREQ(first, again);
    CHECK(strstr(first, "~~ switch at point") != NULL);
    free(first);
    free(again);
}

FF_TEST(exec_minimize_keeps_only_the_cpus_and_schedule_a_race_needs)
{
    /* The race needs both CPUs and both entries; the third CPU, its operation and the
     * entries after the race go. */
    ff_target t[1];
    size_t n;
    char err[200];
    CHECK(ff_target_parse_list("buddy", t, 1, &n, err, sizeof err));
    ff_program p;
    CHECK(ff_program_parse(&p, "semantics asterinas-2024\ncpus 3\n"
                               "schedule direct 4:1 1:0 7:2 3:1 9:0\n"
                               "cpu0 alloc 1\ncpu1 from_in_use 0x1000000\ncpu0 drop h0\n"
                               "cpu2 alloc 3\n", err, sizeof err));
    ff_exec_opts o = {.semantics = -1, .poison = -1};
    ff_program small;
    ff_minimize_result res;
    CHECK(ff_minimize(&p, t, 1, &o, "refcount-race@buddy", &small, &res, err, sizeof err));
    CHECK_EQ(res.cpus_before, 3);
    CHECK_EQ(res.cpus_after, 2);
    CHECK_EQ(small.nops, 3);
    CHECK_EQ(small.schedule_len, 4);
    CHECK_EQ(res.schedule_after, 4);
    CHECK_EQ(res.position, 0);
    ff_program_free(&small);
    ff_program_free(&p);
}

FF_TEST(exec_a_raw_free_racing_a_drop_is_the_programs_misuse)
{
    /* cpu0 raw-frees the frames cpu1's drop is giving back (they are dying), then is
     * handed them again; cpu1's drop frees them under cpu0 and freelist writes its
     * links there. All of it follows from the program's raw free: no finding. (Once
     * reported inuse-corrupted: the raw free was judged after the frames had stopped
     * dying.) */
    char *trace;
    ff_exec *x = run_text("freelist", "semantics hardened\npoison on\ncpus 2\n"
                          "schedule direct 4:1\ncpu0 alloc 2\ncpu1 drop h184\n"
                          "cpu0 raw_free 0x0 2\ncpu1 alloc 1 align 2\n"
                          "cpu0 alloc 2 align 256 zone dma\n", true, &trace);
    CHECK_EQ(ff_exec_finding_count(x), 0);
    CHECK(strstr(trace, "cpu1 waits for the allocator lock;") != NULL); /* the race ran */
    ff_exec_destroy(x);
    free(trace);
}

/* ---------------------------------------------------------------- per-CPU caches */

typedef struct findings_seen {
    ff_finding f[8];
    size_t n;
} findings_seen;

static void collect_finding(void *ctx, const ff_finding *f)
{
    findings_seen *s = ctx;
    if (s->n < 8) s->f[s->n++] = *f;
}

/* The oracle's own record of what each cache holds: a run the layer never drains is
 * lost, and the leak check says in whose cache. */
FF_TEST(oracle_frames_stranded_in_a_cache_are_a_leak_until_drained)
{
    for (int drain = 0; drain < 2; drain++) {
        ff_space space;
        CHECK(ff_space_init_preset(&space, "tiny", (char[128]){0}, 128));
        ff_oracle *o = ff_oracle_create(&space);
        CHECK(o != NULL);
        ff_meta_opts mo = {.semantics = FF_SEM_HARDENED, .observer = ff_oracle_observe,
                           .observer_ctx = o, .pcp = true};
        char err[160];
        ff_meta *m = ff_meta_create(&space, ff_backend_find("buddy"), &mo, err, sizeof err);
        CHECK(m != NULL);
        ff_oracle_baseline b;
        CHECK(ff_oracle_baseline_init(&b, m, &space));
        ff_oracle_begin(o, m, "pcp:buddy", &b);
        findings_seen seen = {.n = 0};
        ff_oracle_on_finding(o, collect_finding, &seen);

        ff_alloc_req one = {.count = 1, .zone = FF_ZONE_NORMAL};
        ff_handle h;
        ff_oracle_op_begin(o, 0, FF_CALL_ALLOC);
        CHECK_EQ(ff_meta_alloc(m, &one, 1, &h), FF_META_OK);
        ff_oracle_op_end(o, &(ff_layer_result){FF_CALL_ALLOC, FF_META_OK, h.start, h.count, 0});
        ff_oracle_op_begin(o, 1, FF_CALL_DROP);
        ff_oracle_drop_begin(o, h.start, h.count);
        CHECK_EQ(ff_meta_drop(m, h), FF_META_OK);
        ff_oracle_op_end(o, &(ff_layer_result){FF_CALL_DROP, FF_META_OK, h.start, h.count, 0});
        CHECK_EQ(seen.n, 0);
        if (drain) CHECK(ff_meta_drain_caches(m));
        ff_oracle_leak_begin(o);
        if (drain) {
            CHECK_EQ(seen.n, 0);
        } else {
            CHECK_EQ(seen.n, 1);
            CHECK_EQ(seen.f[0].cls, FF_CLASS_LEAK);
            CHECK(strstr(seen.f[0].detail, "stranded in cpu0's cache") != NULL);
        }
        ff_oracle_baseline_free(&b);
        ff_meta_destroy(m);
        ff_oracle_destroy(o);
        ff_space_destroy(&space);
    }
}
