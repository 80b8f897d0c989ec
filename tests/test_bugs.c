/* test_bugs.c — the injected-bug table, its switch, its canaries, and how a run
 * places a bug among its targets. */
#include <stdio.h>

#include "exec.h"
#include "unit.h"

FF_TEST(bugs_every_name_parses_back_and_names_a_class_and_a_place)
{
    int count = 0;
    for (int b = FF_BUG_NONE + 1; b < FF_BUG_COUNT; b++, count++) {
        const ff_bug_info *info = ff_bug_info_of((ff_bug)b);
        ff_bug parsed;
        ff_class cls;
        CHECK(info != NULL);
        CHECK(ff_bug_parse(info->name, &parsed));
        CHECK_EQ(parsed, (ff_bug)b);
        CHECK(ff_class_parse(info->expect, &cls));
        CHECK(strcmp(info->where, "layer") == 0 || strcmp(info->where, "pcp") == 0 ||
              ff_backend_find(info->where) != NULL);
    }
    CHECK(count >= 15);
    ff_bug none;
    CHECK(ff_bug_parse("none", &none));
    CHECK_EQ(none, FF_BUG_NONE);
    CHECK(ff_bug_info_of(FF_BUG_NONE) == NULL);
    CHECK(ff_bug_info_of(FF_BUG_COUNT) == NULL);
    CHECK(!ff_bug_parse("buddy-made-up", &none));
}

FF_TEST(bugs_a_site_acts_only_for_its_own_bug_and_counts_reach_and_trigger)
{
    ff_bug_canary_reset();
    int evaluated = 0;
    /* Another bug on, or none: the condition is not even evaluated. */
    CHECK(!FF_BUG(FF_BUG_NONE, BUDDY_MAX_ORDER_LOST, ++evaluated > 0));
    CHECK(!FF_BUG(FF_BUG_BITMAP_TAIL_BITS, BUDDY_MAX_ORDER_LOST, ++evaluated > 0));
    CHECK_EQ(evaluated, 0);
    CHECK_EQ(ff_bug_canary(FF_BUG_BUDDY_MAX_ORDER_LOST).reached, 0);
    /* Its own bug: reached every time, triggered when it acts. */
    CHECK(!FF_BUG(FF_BUG_BUDDY_MAX_ORDER_LOST, BUDDY_MAX_ORDER_LOST, false));
    CHECK(FF_BUG(FF_BUG_BUDDY_MAX_ORDER_LOST, BUDDY_MAX_ORDER_LOST, true));
    ff_canary c = ff_bug_canary(FF_BUG_BUDDY_MAX_ORDER_LOST);
    CHECK_EQ(c.reached, 2);
    CHECK_EQ(c.triggered, 1);
    CHECK_EQ(ff_bug_canary(FF_BUG_BITMAP_TAIL_BITS).reached, 0);
    ff_bug_canary_reset();
    CHECK_EQ(ff_bug_canary(FF_BUG_BUDDY_MAX_ORDER_LOST).reached, 0);
}

FF_TEST(bugs_inject_places_a_bug_in_its_back_end_or_under_every_layer)
{
    ff_target t[4];
    size_t n;
    char err[200];
    CHECK(ff_target_parse_list("buddy,bitmap,freelist", t, 4, &n, err, sizeof err));
    CHECK(ff_target_inject(t, n, FF_BUG_BITMAP_TAIL_BITS, err, sizeof err));
    CHECK_EQ(t[0].bug, FF_BUG_NONE);
    CHECK_EQ(t[1].bug, FF_BUG_BITMAP_TAIL_BITS);
    CHECK_EQ(t[2].bug, FF_BUG_NONE);
    CHECK(ff_target_parse_list("buddy,bitmap,freelist", t, 4, &n, err, sizeof err));
    CHECK(ff_target_inject(t, n, FF_BUG_LAYER_REFCOUNT_WRAP, err, sizeof err));
    for (size_t i = 0; i < n; i++) CHECK_EQ(t[i].bug, FF_BUG_LAYER_REFCOUNT_WRAP);
    CHECK(ff_target_parse_list("bitmap", t, 4, &n, err, sizeof err));
    CHECK(!ff_target_inject(t, n, FF_BUG_BUDDY_HOLE_MERGE, err, sizeof err));
    CHECK(strstr(err, "buddy-hole-merge lives in buddy") != NULL);
    CHECK(ff_target_inject(t, n, FF_BUG_NONE, err, sizeof err));
    CHECK_EQ(t[0].bug, FF_BUG_NONE);
}

/* The same program, with and without its bug line: only the bug makes the finding. */
FF_TEST(bugs_a_program_bug_line_round_trips_and_switches_the_bug_on)
{
    const char *text = "backend buddy\nbug layer-freed-keeps-slot\nalloc 1\ndrop h0\n";
    ff_program p;
    char err[200];
    CHECK(ff_program_parse(&p, text, err, sizeof err));
    CHECK_EQ(p.bug, FF_BUG_LAYER_FREED_KEEPS_SLOT);
    char printed[1024] = "";
    FILE *f = fmemopen(printed, sizeof printed - 1, "w");
    CHECK(f != NULL);
    ff_program_print(&p, f);
    fclose(f);
    CHECK(strstr(printed, "bug layer-freed-keeps-slot\n") != NULL);

    for (int with_bug = 0; with_bug < 2; with_bug++) {
        ff_target t;
        CHECK(ff_target_find("buddy", &t));
        CHECK(ff_target_inject(&t, 1, with_bug ? p.bug : FF_BUG_NONE, err, sizeof err));
        ff_exec_opts xo = {.semantics = -1, .poison = -1};
        ff_exec *x = ff_exec_create(&t, 1, &xo);
        CHECK(x != NULL);
        size_t found = ff_exec_run(x, &p);
        CHECK_EQ(found, (size_t)with_bug);
        if (with_bug) {
            char sig[96];
            ff_finding_signature(ff_exec_finding(x, 0), sig, sizeof sig);
            CHECK(strcmp(sig, "metadata-mismatch@buddy") == 0);
        }
        ff_exec_destroy(x);
    }
    ff_program_free(&p);
    CHECK(!ff_program_parse(&p, "bug nonsense\n", err, sizeof err));
    CHECK(strstr(err, "unknown injected bug") != NULL);
}
