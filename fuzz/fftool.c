/*
 * fftool.c — the C side of the `framefuzz` CLI. The Python CLI never re-implements
 * what the C side knows; it asks this tool.
 *
 *   fftool list [--json]                       back-ends and their policies, presets,
 *                                              metadata semantics
 *   fftool map PRESET|FILE [--linux-fixups] [--json]
 *                                              what framefuzz makes of a memory map
 *   fftool decode [OPTIONS] FILE               a program (a binary fuzz input; a text one
 *                                              is read as text unless --binary) as
 *                                              canonical text
 *     --json             one JSON object instead (verdict.h)
 *     --backend, --default-backend, --bug, --semantics, --poison, --map, --binary as
 *                        for repro: what they force is written into the program, so it
 *                        replays unflagged as it was run (a campaign's artifact)
 *   fftool encode FILE [-o OUT]                a text program as binary
 *   fftool repro [OPTIONS] FILE...             replays programs with the oracle: the
 *                                              trace of every operation and the verdict
 *     --backend LIST     back-ends to run on (default: the program's own header line)
 *     --semantics S      override the program's metadata semantics
 *     --poison on|off    override the program's poisoning
 *     --keep-going       run past the first finding, to show what follows from it
 *     --quiet            verdicts only, no trace
 *     --json             JSON lines instead (verdict.h): each finding as it is made,
 *                        then the file's verdict
 *     --timeout S        wall-clock limit per file (default 10, 0 = none): a back-end
 *                        call still running then is a hang
 *     --expect           compare with the program's "# expect:" lines instead
 *     --binary           read every file as binary, even one that looks like text
 *     --default-backend LIST  what a program naming no back-end runs on (a campaign's
 *                        artifacts: the back-ends its harness ran)
 *     --map PRESET       force every program onto this memory map (a campaign's --map)
 *   A fatal signal in the allocator is reported as an engine-crash finding naming the
 *   call and the allocator's functions on the stack, after everything found before it.
 *   fftool validate                            every back-end of this build (plug-ins too)
 *                                              against the contract: one line if not
 *   fftool minimize [OPTIONS] FILE [-o OUT]     the shortest program with the same finding,
 *                                              as text (operation-level delta debugging)
 *     --backend, --semantics, --poison, --binary as for repro
 *     --signature SIG    the finding to keep (default: the program's first)
 *     --json             JSON lines (needs -o): the written result replayed, its
 *                        findings as repro --json gives them, then one "minimized" line
 *
 * Every JSON form (its stable field names) is written down in one place: verdict.h.
 *
 * Exit codes: 0 success (repro: every program clean, or as expected), 1 a finding (or
 * a verdict other than expected), 2 bad usage or bad input (one line on stderr).
 */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "exec.h"
#include "minimize.h"
#include "ops.h"
#include "verdict.h"

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("fftool: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

/* A JSON string on stdout: our names, summaries and program lines, or a path that
 * opened (at most PATH_MAX), each byte of it escaped as \u00XX at worst. */
static void json_str(const char *s)
{
    static char buf[6 * PATH_MAX + 3];
    ff_json_string(s, buf, sizeof buf);
    fputs(buf, stdout);
}

static const char *placement_name(ff_placement p)
{
    return p == FF_PLACE_POW2_NATURAL ? "pow2-natural" : p == FF_PLACE_AS_ASKED ? "as-asked" : "any-run";
}

static const char *rounding_name(ff_rounding r) { return r == FF_ROUND_POW2 ? "pow2" : "none"; }
static const char *free_rule_name(ff_free_rule f)
{
    static const char *const names[] = {"exact", "piecewise", "size-class", "by-address"};
    return (unsigned)f <= FF_FREE_BY_ADDRESS ? names[f] : "?";
}
static const char *yes_no(bool b) { return b ? "yes" : "no"; }

static void human_size(uint64_t frames, char *buf, size_t len)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    double v = (double)frames * 4.0;
    unsigned u = 0;
    while (v >= 1024.0 && u < 3) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, len, v < 10 && v != (double)(uint64_t)v ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static bool build_preset(ff_space *space, const ff_preset *p)
{
    char err[160];
    return ff_space_init_preset(space, p->name, err, sizeof err);
}

static int cmd_list(bool json)
{
    if (json) printf("{\"backends\":[");
    else printf("Back-ends:\n");
    for (size_t i = 0; i < ff_backend_count; i++) {
        const ff_backend_def *b = ff_backends[i];
        const ff_policy *p = &b->policy;
        if (json) {
            printf("%s{\"name\":", i ? "," : "");
            json_str(b->name);
            printf(",\"summary\":");
            json_str(b->summary);
            char order[16];
            snprintf(order, sizeof order, p->max_order == FF_ORDER_ANY ? "null" : "%u", p->max_order);
            printf(",\"policy\":{\"placement\":\"%s\",\"rounding\":\"%s\",\"free_rule\":\"%s\","
                   "\"max_order\":%s,\"validates_frees\":%s,\"honours_zone\":%s,"
                   "\"honours_align\":%s,\"needs_backing\":%s,\"inband_bytes\":%u,"
                   "\"invariant_check\":%s,\"free_counter\":%s,\"fit_order\":%u,"
                   "\"drains\":%s,\"locks_itself\":%s}}",
                   placement_name(p->placement), rounding_name(p->rounding),
                   free_rule_name(p->free_rule), order, p->validates_frees ? "true" : "false",
                   p->honours_zone ? "true" : "false", p->honours_align ? "true" : "false",
                   p->needs_backing ? "true" : "false", p->inband_bytes,
                   b->check ? "true" : "false", b->free_frames ? "true" : "false", p->fit_order,
                   b->drain ? "true" : "false", p->locks_itself ? "true" : "false");
        } else {
            char order[16];
            snprintf(order, sizeof order, p->max_order == FF_ORDER_ANY ? "any" : "%u", p->max_order);
            char extra[64] = "";
            if (p->fit_order)
                snprintf(extra, sizeof extra, " fit-order=%u", p->fit_order);
            if (b->drain)
                snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " drains-per-cpu=yes");
            if (p->locks_itself)
                snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " locks-itself=yes");
            printf("  %-9s %s\n", b->name, b->summary);
            printf("  %-9s placement=%s rounding=%s frees=%s max-order=%s validates-frees=%s "
                   "zones=%s align=%s in-band=%u invariant-check=%s free-counter=%s%s\n",
                   "", placement_name(p->placement), rounding_name(p->rounding),
                   free_rule_name(p->free_rule), order, yes_no(p->validates_frees),
                   yes_no(p->honours_zone), yes_no(p->honours_align), p->inband_bytes,
                   yes_no(b->check != NULL), yes_no(b->free_frames != NULL), extra);
        }
    }
    if (!json)
        printf("  pcp:NAME  any of them behind per-CPU caches of %u- to %u-frame runs (%u per size, "
               "refilled and drained %u at a time)\n",
               1u, FF_PCP_RUN_MAX, FF_PCP_HIGH, FF_PCP_BATCH);
    if (json) printf("],\"presets\":[");
    else printf("\nMemory-map presets:\n");
    for (size_t i = 0; i < ff_preset_count; i++) {
        const ff_preset *p = &ff_presets[i];
        ff_space space;
        if (!build_preset(&space, p)) return usage_error("preset %s does not build", p->name);
        if (json) {
            printf("%s{\"name\":", i ? "," : "");
            json_str(p->name);
            printf(",\"summary\":");
            json_str(p->summary);
            printf(",\"usable_frames\":%llu,\"top_pfn\":%llu}",
                   (unsigned long long)space.usable_frames, (unsigned long long)space.top);
        } else {
            char size[32];
            human_size(space.usable_frames, size, sizeof size);
            printf("  %-9s %-10s %s\n", p->name, size, p->summary);
        }
        ff_space_destroy(&space);
    }
    if (json) printf("],\"semantics\":[");
    else printf("\nMetadata semantics:\n");
    for (int s = 0; s < FF_SEM_COUNT; s++) {
        if (json) {
            printf("%s{\"name\":", s ? "," : "");
            json_str(ff_semantics_name((ff_semantics)s));
            printf(",\"summary\":");
            json_str(ff_semantics_summary((ff_semantics)s));
            printf("}");
        } else {
            printf("  %-15s %s\n", ff_semantics_name((ff_semantics)s),
                   ff_semantics_summary((ff_semantics)s));
        }
    }
    if (json) printf("],\"bugs\":[");
    else printf("\nInjected bugs (off unless named: framefuzz bugs, repro --bug, --ff-bug):\n");
    for (int b = FF_BUG_NONE + 1; b < FF_BUG_COUNT; b++) {
        const ff_bug_info *bug = ff_bug_info_of((ff_bug)b);
        if (json) {
            printf("%s{\"name\":", b > 1 ? "," : "");
            json_str(bug->name);
            printf(",\"where\":");
            json_str(bug->where);
            printf(",\"expect\":");
            json_str(bug->expect);
            printf(",\"summary\":");
            json_str(bug->summary);
            printf("}");
        } else {
            printf("  %-27s %-25s %s\n", bug->name, bug->expect, bug->summary);
        }
    }
    printf(json ? "],\"metadata_bytes_per_frame\":%zu}\n" : "\nMetadata: %zu bytes per frame.\n",
           ff_meta_slot_bytes());
    return 0;
}

static int cmd_map(const char *what, bool fixups, bool json)
{
    char err[256];
    ff_space space;
    ff_space_opts opts = {.linux_fixups = fixups};
    if (ff_preset_find(what)) {
        if (fixups) return usage_error("--linux-fixups applies to map files, not presets");
        if (!ff_space_init_preset(&space, what, err, sizeof err)) return usage_error("%s", err);
    } else {
        ff_e820_map map;
        ff_e820_init(&map);
        bool ok = ff_e820_load_file(&map, what, err, sizeof err) &&
                  ff_space_init(&space, &map, &opts, err, sizeof err);
        ff_e820_free(&map);
        if (!ok) return usage_error("%s: %s", what, err);
    }
    if (json) {
        printf("{\"regions\":[");
        for (size_t i = 0; i < space.nregions; i++)
            printf("%s{\"start_pfn\":%llu,\"end_pfn\":%llu,\"type\":\"%s\"}", i ? "," : "",
                   (unsigned long long)space.regions[i].start,
                   (unsigned long long)space.regions[i].end,
                   ff_mem_type_name(space.regions[i].type));
        printf("],\"usable\":[");
        for (size_t i = 0; i < space.nusable; i++)
            printf("%s{\"start_pfn\":%llu,\"frames\":%llu,\"zone\":\"%s\"}", i ? "," : "",
                   (unsigned long long)space.usable[i].start,
                   (unsigned long long)space.usable[i].count,
                   ff_zone_name(ff_zone_of(space.usable[i].start)));
        printf("],\"usable_frames\":%llu,\"top_pfn\":%llu}\n",
               (unsigned long long)space.usable_frames, (unsigned long long)space.top);
    } else {
        char size[32];
        printf("Regions (whole frames, after normalisation):\n");
        for (size_t i = 0; i < space.nregions; i++) {
            const ff_region *r = &space.regions[i];
            human_size(r->end - r->start, size, sizeof size);
            printf("  [mem 0x%012llx-0x%012llx] %-10s %s\n",
                   (unsigned long long)(r->start << FF_FRAME_SHIFT),
                   (unsigned long long)((r->end << FF_FRAME_SHIFT) - 1), ff_mem_type_name(r->type),
                   size);
        }
        printf("Usable RAM by zone (what back-ends are given):\n");
        for (size_t i = 0; i < space.nusable; i++) {
            const ff_range *u = &space.usable[i];
            human_size(u->count, size, sizeof size);
            printf("  pfn 0x%09llx-0x%09llx %-6s %s\n", (unsigned long long)u->start,
                   (unsigned long long)(ff_range_end(*u) - 1), ff_zone_name(ff_zone_of(u->start)),
                   size);
        }
        human_size(space.usable_frames, size, sizeof size);
        printf("%llu usable frames (%s); top of map at pfn 0x%llx\n",
               (unsigned long long)space.usable_frames, size, (unsigned long long)space.top);
    }
    ff_space_destroy(&space);
    return 0;
}

/* Programs are at most FF_OPS_MAX operations: a few hundred KiB in either form. */
#define PROGRAM_FILE_MAX (4u << 20)

static int cmd_encode(const char *path, const char *out_path)
{
    if (!out_path && isatty(STDOUT_FILENO))
        return usage_error("encode writes binary: name a file with -o FILE");
    char err[256], *text;
    size_t size;
    if (!ff_read_file(path, PROGRAM_FILE_MAX, &text, &size, err, sizeof err))
        return usage_error("%s", err);
    ff_program prog;
    bool parsed = !memchr(text, '\0', size) && ff_program_parse(&prog, text, err, sizeof err);
    if (!parsed && memchr(text, '\0', size)) snprintf(err, sizeof err, "holds a NUL byte: not a text program");
    free(text);
    if (parsed && !ff_exec_check_backend(&prog, err, sizeof err)) {
        ff_program_free(&prog);
        parsed = false;
    }
    if (!parsed) return usage_error("%s: %s", path, err);
    if (prog.bug != FF_BUG_NONE) {
        ff_program_free(&prog);
        return usage_error("%s: a bug line has no binary form (give the harness --ff-bug=NAME)",
                           path);
    }
    uint8_t *bin;
    size_t len;
    bool encoded = ff_program_encode(&prog, &bin, &len);
    ff_program_free(&prog);
    if (!encoded) return usage_error("%s: host out of memory", path);
    FILE *out = out_path ? fopen(out_path, "wb") : stdout;
    bool written = out && fwrite(bin, 1, len, out) == len;
    if (out && out != stdout) written = fclose(out) == 0 && written;
    free(bin);
    if (!written) return usage_error("cannot write %s", out_path ? out_path : "standard output");
    return 0;
}

/* ---------------------------------------------------------------- repro */

/* "# expect:" lines read from one file. */
#define EXPECT_MAX 16

typedef struct repro_opts {
    const char *backends; /* NULL: the program's header */
    const char *fallback; /* for a program whose header names none (a campaign's artifact) */
    const char *map;      /* a preset forcing every program's map (a campaign's --map) */
    int semantics, poison;
    int bug;              /* -1: as the program says, else an ff_bug */
    bool keep_going, quiet, expect, binary, json;
    unsigned timeout_s;   /* per file; 0 = none */
} repro_opts;

/* What a program runs on: --backend, else its own backend line, else
 * --default-backend (NULL when none of them names any). */
static const char *run_targets(const repro_opts *ro, const ff_program *prog)
{
    return ro->backends ? ro->backends : prog->backend[0] ? prog->backend : ro->fallback;
}

static bool report_finding(void *ctx, const ff_finding *f)
{
    (void)ctx;
    ff_verdict_finding(f);
    return true;
}

/* "sig op N" or "sig at end" for a finding, as the expect lines write it. */
static void verdict_of(const ff_finding *f, char *buf, size_t len)
{
    char sig[FF_SIGNATURE_MAX];
    ff_finding_signature(f, sig, sizeof sig);
    if (f->op == FF_OP_AT_END) snprintf(buf, len, "%s at end", sig);
    else snprintf(buf, len, "%s op %zu", sig, f->op);
}

/* The "# expect: ..." lines of a text program, in order, one per finding ("clean"
 * for none). Returns how many, or -1 when the file has none. */
static int expected_verdicts(const char *path, char lines[][128], int max)
{
    char err[256], *text;
    size_t size;
    if (!ff_read_file(path, PROGRAM_FILE_MAX, &text, &size, err, sizeof err)) return -1;
    int n = 0;
    bool any = false;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "# expect:", 9) != 0) continue;
        any = true;
        const char *v = line + 9;
        while (*v == ' ') v++;
        if (strcmp(v, "clean") == 0 || n == max) continue;
        snprintf(lines[n++], sizeof lines[0], "%s", v);
    }
    free(text);
    return any ? n : -1;
}

/* ff_program_load, then the check of the back-ends it names (ff_exec_check_backend). */
static bool load_program(ff_program *p, const char *path, bool binary, char *err, size_t errlen)
{
    char why[200];
    if (!ff_program_load(p, path, binary, err, errlen)) return false;
    if (ff_exec_check_backend(p, why, sizeof why)) return true;
    snprintf(err, errlen, "%s: %s", path, why);
    ff_program_free(p);
    return false;
}

/* Runs one program file; returns 0 clean or as expected, 1 otherwise, 2 bad input. */
static int repro_one(const char *path, const repro_opts *ro)
{
    char err[256];
    ff_program prog;
    if (!load_program(&prog, path, ro->binary, err, sizeof err)) {
        fprintf(stderr, "fftool: %s\n", err);
        return 2;
    }
    const char *list = run_targets(ro, &prog);
    ff_target targets[16];
    size_t n;
    if (!list) {
        ff_program_free(&prog);
        fprintf(stderr, "fftool: %s names no back-end: pass --backend NAME[,NAME...]\n", path);
        return 2;
    }
    ff_bug bug = ro->bug >= 0 ? (ff_bug)ro->bug : prog.bug;
    if (!ff_target_parse_list(list, targets, 16, &n, err, sizeof err) ||
        !ff_target_inject(targets, n, bug, err, sizeof err)) {
        ff_program_free(&prog);
        fprintf(stderr, "fftool: %s\n", err);
        return 2;
    }
    ff_bug_canary_reset();
    ff_exec_opts xo = {.semantics = ro->semantics, .poison = ro->poison, .map = ro->map,
                       .keep_going = ro->keep_going, .trace = ro->quiet ? NULL : stdout,
                       .on_finding = report_finding};
    ff_exec *x = ff_exec_create(targets, n, &xo);
    if (!x) {
        ff_program_free(&prog);
        fprintf(stderr, "fftool: host out of memory\n");
        return 2;
    }
    if (!ro->quiet) printf("### %s\n", path);
    ff_verdict_begin(path);
    size_t found = ff_exec_run(x, &prog);
    ff_verdict_end();
    int rc = found ? 1 : 0;
    char expect[EXPECT_MAX][128];
    int nexpect = ro->expect ? expected_verdicts(path, expect, EXPECT_MAX) : 0;
    if (ro->expect && nexpect < 0) {
        printf("FAIL %s: no \"# expect:\" line\n", path);
        rc = 1;
    } else if (ro->expect) {
        /* Without --keep-going a run ends at its first finding. */
        size_t want = ro->keep_going || nexpect == 0 ? (size_t)nexpect : 1;
        bool same = want == found;
        for (size_t i = 0; same && i < found; i++) {
            char v[FF_SIGNATURE_MAX + 32];
            verdict_of(ff_exec_finding(x, i), v, sizeof v);
            same = strcmp(v, expect[i]) == 0;
        }
        printf("%s %s\n", same ? "ok  " : "FAIL", path);
        if (!same) {
            for (size_t i = 0; i < want; i++) printf("     expected: %s\n", expect[i]);
            if (!want) printf("     expected: clean\n");
            for (size_t i = 0; i < found; i++) {
                char v[FF_SIGNATURE_MAX + 32];
                verdict_of(ff_exec_finding(x, i), v, sizeof v);
                printf("     got:      %s\n", v);
            }
            if (!found) printf("     got:      clean\n");
        }
        rc = same ? 0 : 1;
    } else if (ro->json) {
        char file[600];
        ff_json_string(path, file, sizeof file);
        printf("{\"event\":\"verdict\",\"file\":%s,\"findings\":%zu,\"clean\":%s}\n", file, found,
               found ? "false" : "true");
    } else {
        /* Consequences follow their root cause, marked "then". */
        printf("verdict: %s", found ? "" : "clean");
        for (size_t i = 0; i < found; i++) {
            char v[FF_SIGNATURE_MAX + 32];
            const ff_finding *f = ff_exec_finding(x, i);
            verdict_of(f, v, sizeof v);
            printf("%s%s%s", i ? "; " : "", f->consequence ? "then " : "", v);
        }
        printf("  (%s)\n", path);
    }
    if (bug != FF_BUG_NONE && !ro->expect && !ro->json) {
        ff_canary c = ff_bug_canary(bug);
        printf("canary %s: reached %llu, triggered %llu\n", ff_bug_info_of(bug)->name,
               (unsigned long long)c.reached, (unsigned long long)c.triggered);
    }
    ff_exec_destroy(x);
    ff_program_free(&prog);
    return rc;
}

/* The options repro and minimize share, at argv[*i]: 1 when taken (with its value),
 * 0 when not one of them, 2 after a one-line error. */
static int replay_option(int argc, char **argv, int *i, repro_opts *ro)
{
    const char *a = argv[*i];
    bool has_value = *i + 1 < argc;
    if (strcmp(a, "--binary") == 0) {
        ro->binary = true;
    } else if (strcmp(a, "--backend") == 0 && has_value) {
        ro->backends = argv[++*i];
    } else if (strcmp(a, "--default-backend") == 0 && has_value) {
        ro->fallback = argv[++*i];
    } else if (strcmp(a, "--bug") == 0 && has_value) {
        ff_bug bug;
        if (!ff_bug_parse(argv[++*i], &bug))
            return usage_error("unknown injected bug %s (framefuzz list shows them)", argv[*i]);
        ro->bug = (int)bug;
    } else if (strcmp(a, "--semantics") == 0 && has_value) {
        ff_semantics sem;
        if (!ff_semantics_parse(argv[++*i], &sem))
            return usage_error("unknown semantics %s (valid: asterinas-2024 hardened)", argv[*i]);
        ro->semantics = (int)sem;
    } else if (strcmp(a, "--poison") == 0 && has_value) {
        const char *v = argv[++*i];
        if (strcmp(v, "on") && strcmp(v, "off")) return usage_error("--poison takes on or off");
        ro->poison = strcmp(v, "on") == 0;
    } else if (strcmp(a, "--map") == 0 && has_value) {
        ro->map = argv[++*i];
        if (!ff_preset_find(ro->map)) return usage_error("unknown map preset %s", ro->map);
    } else {
        return 0;
    }
    return 1;
}

/* What the replay options force, written into the program itself, so that it replays
 * as it was run with no flags: a minimized result, a decoded campaign artifact. */
static void name_forced(ff_program *prog, const repro_opts *ro)
{
    const char *list = run_targets(ro, prog);
    if (list != prog->backend)
        snprintf(prog->backend, sizeof prog->backend, "%s", list && strlen(list) < sizeof prog->backend ? list : "");
    if (ro->semantics >= 0) prog->semantics = (ff_semantics)ro->semantics;
    if (ro->poison >= 0) prog->poison = ro->poison != 0;
    if (ro->map) {
        prog->preset = ff_preset_find(ro->map)->name;
        prog->nregions = 0;
    }
    if (ro->bug >= 0) prog->bug = (ff_bug)ro->bug;
}

/* The operands of one operation as JSON members, by kind (ops.h's binary layout). */
static void json_operands(const ff_op *op)
{
    switch (op->kind) {
    case FF_OP_ALLOC: {
        /* The zone as the text form spells it: dma, dma32, normal or invalid. */
        char zone[16];
        snprintf(zone, sizeof zone, "%s",
                 op->zone == FF_OPS_ZONE_INVALID ? "invalid" : ff_zone_name(op->zone));
        for (char *c = zone; *c; c++) *c = (char)tolower((unsigned char)*c);
        printf(",\"count\":%llu,\"align\":%llu,\"zone\":\"%s\"", (unsigned long long)op->count,
               (unsigned long long)op->align, zone);
        break;
    }
    case FF_OP_DROP_PIECE:
        printf(",\"handle\":%u,\"offset\":%llu,\"count\":%llu", op->handle,
               (unsigned long long)op->offset, (unsigned long long)op->count);
        break;
    case FF_OP_DROP:
    case FF_OP_CLONE: printf(",\"handle\":%u", op->handle); break;
    case FF_OP_FROM_IN_USE:
        printf(",\"paddr\":%llu,\"count\":%llu,\"refs\":%u", (unsigned long long)op->paddr,
               (unsigned long long)op->count, (unsigned)op->refs);
        break;
    case FF_OP_FROM_UNUSED:
    case FF_OP_RAW_FREE:
        printf(",\"paddr\":%llu,\"count\":%llu", (unsigned long long)op->paddr,
               (unsigned long long)op->count);
        break;
    case FF_OP_WRITE:
        printf(",\"paddr\":%llu,\"value\":%u", (unsigned long long)op->paddr, op->value);
        break;
    case FF_OP_CHECK:
    case FF_OP_KIND_COUNT: break;
    }
}

/* The program as one JSON object (verdict.h). The directive lines
 * come from the printer itself, so they are the canonical text's. */
static bool decode_json(const ff_program *prog, const char *path, size_t size, bool text)
{
    char *head = NULL;
    size_t head_len = 0;
    FILE *mem = open_memstream(&head, &head_len);
    if (!mem) return false;
    ff_program config = *prog;
    config.nops = 0;
    ff_program_print(&config, mem);
    if (fclose(mem) != 0) {
        free(head);
        return false;
    }
    printf("{\"file\":");
    json_str(path);
    printf(",\"bytes\":%zu,\"form\":\"%s\",\"backend\":", size, text ? "text" : "binary");
    if (prog->backend[0]) json_str(prog->backend);
    else printf("null");
    printf(",\"bug\":");
    if (prog->bug != FF_BUG_NONE) json_str(ff_bug_info_of(prog->bug)->name);
    else printf("null");
    printf(",\"semantics\":\"%s\",\"map\":", ff_semantics_name(prog->semantics));
    json_str(prog->preset ? prog->preset : "custom");
    printf(",\"regions\":[");
    for (size_t i = 0; i < prog->nregions; i++)
        printf("%s{\"start\":%llu,\"end\":%llu,\"type\":\"%s\"}", i ? "," : "",
               (unsigned long long)prog->regions[i].start,
               (unsigned long long)(prog->regions[i].start + prog->regions[i].size - 1),
               ff_mem_type_name(prog->regions[i].type));
    printf("],\"poison\":%s,\"cpus\":%u", prog->poison ? "true" : "false", prog->ncpus);
    if (prog->ncpus) {
        printf(",\"schedule\":{\"mode\":\"%s\",\"bytes\":[",
               prog->sched_mode == FF_SCHED_PCT ? "pct" : "direct");
        for (size_t i = 0; i < prog->schedule_len; i++)
            printf("%s%u", i ? "," : "", prog->schedule[i]);
        printf("]}");
    }
    printf(",\"directives\":[");
    size_t n = 0;
    for (char *line = strtok(head, "\n"); line; line = strtok(NULL, "\n")) {
        printf("%s", n++ ? "," : "");
        json_str(line);
    }
    free(head);
    printf("],\"operations\":[");
    for (size_t i = 0; i < prog->nops; i++) {
        const ff_op *op = &prog->ops[i];
        char text_form[160];
        ff_op_format_in(prog, op, text_form, sizeof text_form);
        printf("%s{\"op\":\"%s\",\"text\":", i ? "," : "", ff_op_kind_name(op->kind));
        json_str(text_form);
        if (prog->ncpus) printf(",\"cpu\":%u,\"irq\":%s", op->cpu, op->irq ? "true" : "false");
        if (prog->ncpus && op->irq) printf(",\"irq_after\":%u", op->irq_after);
        json_operands(op);
        printf("}");
    }
    printf("]}\n");
    return true;
}

static int cmd_decode(int argc, char **argv)
{
    repro_opts ro = {.semantics = -1, .poison = -1, .bug = -1};
    const char *path = NULL;
    bool json = false, options = true;
    for (int i = 2; i < argc; i++) {
        int taken;
        if (!options || argv[i][0] != '-' || !argv[i][1]) {
            if (path) return usage_error("decode takes one program file");
            path = argv[i];
        } else if (strcmp(argv[i], "--") == 0) {
            options = false;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if ((taken = replay_option(argc, argv, &i, &ro)) != 1) {
            return taken ? taken
                         : usage_error("unknown decode option %s (valid: --json --binary --backend "
                                       "--default-backend --bug --semantics --poison --map)", argv[i]);
        }
    }
    if (!path) return usage_error("decode needs a program file");
    char err[256], *data;
    size_t size;
    if (!ff_read_file(path, PROGRAM_FILE_MAX, &data, &size, err, sizeof err))
        return usage_error("%s", err);
    /* A text program is read as text unless --binary says otherwise, as repro does. */
    bool text = !ro.binary && ff_program_is_text((const uint8_t *)data, size);
    ff_program prog;
    bool ok = text ? ff_program_parse(&prog, data, err, sizeof err)
                   : ff_program_decode(&prog, (const uint8_t *)data, size);
    free(data);
    if (!ok) return usage_error("%s: %s", path, text ? err : "host out of memory");
    if (!ff_exec_check_backend(&prog, err, sizeof err)) {
        ff_program_free(&prog);
        return usage_error("%s: %s", path, err);
    }
    name_forced(&prog, &ro);
    if (json) {
        ok = decode_json(&prog, path, size, text);
    } else {
        printf("# decoded from %s (%zu bytes)\n", path, size);
        ff_program_print(&prog, stdout);
    }
    ff_program_free(&prog);
    return ok ? 0 : usage_error("host out of memory");
}

static int cmd_repro(int argc, char **argv)
{
    repro_opts ro = {.semantics = -1, .poison = -1, .bug = -1, .timeout_s = 10};
    const char **files = calloc((size_t)argc, sizeof *files);
    int nfiles = 0, worst = 0;
    if (!files) return usage_error("host out of memory");
    bool options = true;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int taken;
        if (!options || a[0] != '-' || !a[1]) files[nfiles++] = a;
        else if (strcmp(a, "--") == 0) options = false;
        else if (strcmp(a, "--keep-going") == 0) ro.keep_going = true;
        else if (strcmp(a, "--quiet") == 0) ro.quiet = true;
        else if (strcmp(a, "--json") == 0) ro.json = ro.quiet = true;
        else if (strcmp(a, "--expect") == 0) ro.expect = ro.quiet = true;
        else if (strcmp(a, "--timeout") == 0 && i + 1 < argc) {
            char *end;
            unsigned long t = strtoul(argv[++i], &end, 10);
            if (*end || !*argv[i] || argv[i][0] == '-' || t > 86400) {
                free(files);
                return usage_error("--timeout takes 0 to 86400 seconds, not '%s'", argv[i]);
            }
            ro.timeout_s = (unsigned)t;
        }
        else if ((taken = replay_option(argc, argv, &i, &ro)) != 1) {
            free(files);
            return taken ? taken
                         : usage_error("unknown repro option %s (valid: --backend --default-backend --bug "
                                       "--semantics --poison --keep-going --quiet --json "
                                       "--timeout --expect --binary)", a);
        }
    }
    if (!nfiles) {
        free(files);
        return usage_error("repro needs at least one program file");
    }
    if (ro.expect && ro.json) {
        free(files);
        return usage_error("--expect and --json do not go together");
    }
    ff_verdict_install(ro.json, ro.quiet, ro.timeout_s);
    for (int i = 0; i < nfiles; i++) {
        int rc = repro_one(files[i], &ro);
        if (rc > worst) worst = rc;
    }
    free(files);
    return worst;
}

/* ---------------------------------------------------------------- minimize */

/* minimize --json: the written result replayed, its findings as repro --json gives
 * them, then one line saying what was minimized and where it went. False when the
 * result cannot be read back. */
static bool minimized_json(const char *file, const char *out_path, const char *signature,
                           const ff_minimize_result *res, const ff_target *targets, size_t n,
                           const ff_exec_opts *xo)
{
    char err[256];
    ff_program small;
    if (!ff_program_load(&small, out_path, false, err, sizeof err)) {
        fprintf(stderr, "fftool: %s\n", err);
        return false;
    }
    ff_exec_opts replay = *xo;
    replay.on_finding = report_finding;
    ff_exec *x = ff_exec_create(targets, n, &replay);
    if (!x) {
        ff_program_free(&small);
        fprintf(stderr, "fftool: host out of memory\n");
        return false;
    }
    ff_verdict_install(true, true, 0);
    ff_verdict_begin(out_path);
    ff_exec_run(x, &small);
    ff_verdict_end();
    ff_exec_destroy(x);
    ff_program_free(&small);
    printf("{\"event\":\"minimized\",\"file\":");
    json_str(file);
    printf(",\"output\":");
    json_str(out_path);
    printf(",\"signature\":");
    json_str(signature);
    printf(",\"ops_before\":%zu,\"ops_after\":%zu,\"cpus_before\":%u,\"cpus_after\":%u,"
           "\"schedule_before\":%zu,\"schedule_after\":%zu,\"runs\":%zu,\"first\":%s}\n",
           res->ops_before, res->ops_after, res->cpus_before, res->cpus_after,
           res->schedule_before, res->schedule_after, res->runs, res->position ? "false" : "true");
    return true;
}

/* ", 2 CPUs -> sequential", ", 4 -> 2 CPUs, schedule 6 -> 2 bytes": what minimising did
 * to a concurrent program's CPUs and schedule ("" for a sequential one). */
static void concurrency_change(const ff_minimize_result *res, char *buf, size_t len)
{
    buf[0] = '\0';
    if (!res->cpus_before) return;
    if (!res->cpus_after) {
        snprintf(buf, len, ", %u CPUs -> sequential", res->cpus_before);
        return;
    }
    int n = res->cpus_after == res->cpus_before
                ? snprintf(buf, len, ", %u CPUs", res->cpus_after)
                : snprintf(buf, len, ", %u -> %u CPUs", res->cpus_before, res->cpus_after);
    if (n > 0 && (size_t)n < len && res->schedule_before != res->schedule_after)
        snprintf(buf + n, len - (size_t)n, ", schedule %zu -> %zu bytes", res->schedule_before,
                 res->schedule_after);
}

static int cmd_minimize(int argc, char **argv)
{
    repro_opts ro = {.semantics = -1, .poison = -1, .bug = -1};
    const char *file = NULL, *out_path = NULL, *signature = NULL;
    bool options = true, json = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        int taken;
        if (!options || a[0] != '-' || !a[1]) {
            if (file) return usage_error("minimize takes one program file");
            file = a;
        } else if (strcmp(a, "--") == 0) {
            options = false;
        } else if (strcmp(a, "--signature") == 0 && has_value) {
            signature = argv[++i];
        } else if (strcmp(a, "-o") == 0 && has_value) {
            out_path = argv[++i];
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if ((taken = replay_option(argc, argv, &i, &ro)) != 1) {
            return taken ? taken
                         : usage_error("unknown minimize option %s (valid: --backend --default-backend --bug "
                                       "--semantics --poison --signature --binary --json -o)", a);
        }
    }
    if (!file) return usage_error("minimize needs a program file");
    if (json && !out_path)
        return usage_error("minimize --json writes the program to a file: name it with -o OUT");
    char err[256];
    ff_program prog;
    if (!load_program(&prog, file, ro.binary, err, sizeof err)) return usage_error("%s", err);
    const char *list = run_targets(&ro, &prog);
    ff_target targets[16];
    size_t n;
    int rc = 2;
    if (!list) {
        usage_error("%s names no back-end: pass --backend NAME[,NAME...]", file);
        goto done;
    }
    ff_bug bug = ro.bug >= 0 ? (ff_bug)ro.bug : prog.bug;
    if (!ff_target_parse_list(list, targets, 16, &n, err, sizeof err) ||
        !ff_target_inject(targets, n, bug, err, sizeof err)) {
        usage_error("%s", err);
        goto done;
    }
    ff_exec_opts xo = {.semantics = ro.semantics, .poison = ro.poison, .map = ro.map};
    char first[FF_SIGNATURE_MAX];
    if (!signature) {
        ff_exec *x = ff_exec_create(targets, n, &xo);
        if (!x) {
            usage_error("host out of memory");
            goto done;
        }
        size_t found = ff_exec_run(x, &prog);
        if (found) ff_finding_signature(ff_exec_finding(x, 0), first, sizeof first);
        ff_exec_destroy(x);
        if (!found) {
            fprintf(stderr, "fftool: %s shows no finding: nothing to minimize\n", file);
            rc = 1;
            goto done;
        }
        signature = first;
    }
    ff_program small;
    ff_minimize_result res;
    if (!ff_minimize(&prog, targets, n, &xo, signature, &small, &res, err, sizeof err)) {
        fprintf(stderr, "fftool: %s: %s\n", file, err);
        rc = 1;
        goto done;
    }
    /* The result names what it runs on and what was forced, so it replays unflagged. */
    name_forced(&small, &ro);
    FILE *out = out_path ? fopen(out_path, "w") : stdout;
    if (!out) {
        usage_error("cannot write %s", out_path);
        ff_program_free(&small);
        goto done;
    }
    char cpus[96];
    concurrency_change(&res, cpus, sizeof cpus);
    fprintf(out, "# %s: minimized from %zu to %zu operations%s in %zu runs\n", signature,
            res.ops_before, res.ops_after, cpus, res.runs);
    ff_program_print(&small, out);
    bool written = out == stdout || fclose(out) == 0;
    ff_program_free(&small);
    if (!written) {
        usage_error("cannot write %s", out_path);
        goto done;
    }
    if (json) {
        rc = minimized_json(file, out_path, signature, &res, targets, n, &xo) ? 0 : 2;
        goto done;
    }
    fprintf(stderr, "%s: %zu -> %zu operations%s (%zu runs)%s\n", signature, res.ops_before,
            res.ops_after, cpus, res.runs, res.position ? "; other findings still come first" : "");
    rc = 0;
done:
    ff_program_free(&prog);
    return rc;
}

int main(int argc, char **argv)
{
    /* Line by line even into a pipe: an allocator that kills the process must not
     * take the trace so far with it. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2)
        return usage_error("usage: fftool list [--json] | map PRESET|FILE [--linux-fixups] [--json] | "
                           "decode [OPTIONS] FILE | encode FILE [-o OUT] | repro [OPTIONS] FILE... | "
                           "minimize [OPTIONS] FILE [-o OUT]");
    if (strcmp(argv[1], "repro") == 0) return cmd_repro(argc, argv);
    if (strcmp(argv[1], "minimize") == 0) return cmd_minimize(argc, argv);
    if (strcmp(argv[1], "decode") == 0) return cmd_decode(argc, argv);
    if (strcmp(argv[1], "validate") == 0) {
        /* Every back-end this build holds, plug-ins included, against the contract. */
        char err[256];
        for (size_t i = 0; i < ff_backend_count; i++)
            if (!ff_backend_validate(ff_backends[i], err, sizeof err)) return usage_error("%s", err);
        return 0;
    }
    bool json = false, fixups = false;
    const char *operand = NULL, *out_path = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = true;
        else if (strcmp(argv[i], "--linux-fixups") == 0) fixups = true;
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) out_path = argv[++i];
        else if (argv[i][0] == '-') return usage_error("unknown option %s", argv[i]);
        else if (!operand) operand = argv[i];
        else return usage_error("unexpected argument %s", argv[i]);
    }
    if (strcmp(argv[1], "list") == 0) {
        if (operand || fixups) return usage_error("list takes only --json");
        return cmd_list(json);
    }
    if (strcmp(argv[1], "map") == 0) {
        if (!operand) return usage_error("map needs a preset name or a map file");
        return cmd_map(operand, fixups, json);
    }
    if (strcmp(argv[1], "encode") == 0) {
        if (!operand) return usage_error("encode needs a program file");
        if (json || fixups) return usage_error("encode takes only a file and -o");
        return cmd_encode(operand, out_path);
    }
    return usage_error("unknown command %s (commands: list, map, decode, encode, repro, minimize, validate)", argv[1]);
}
