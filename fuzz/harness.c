/*
 * harness.c — the engine-neutral fuzzing harness (contract in harness.h).
 *
 * The one place with process-wide state: engines call a plain function with no
 * context, so the executor and the options live here, built once.
 *
 * Crash sites. Fuzzers group crashes by the top frames of the stack, so each class
 * aborts from a function of its own. Each stores its class number before aborting,
 * which keeps the functions' bodies distinct: a linker folding identical functions
 * cannot merge them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "exec.h"
#include "harness.h"

#define KNOWN_MAX 256

static struct {
    ff_exec *exec;
    uint32_t crash_classes; /* bit per ff_class that crashes */
    char known[KNOWN_MAX][96]; /* signatures already found: noted, not crashed on */
    size_t nknown;
    const char *known_path;    /* re-read when it changes (long-lived engines: AFL++) */
    off_t known_size;          /* the file only grows: a new size means new lines */
    unsigned runs;
    bool mutator;
    int semantics, poison;     /* forced by an option, or -1 */
    char targets[FF_OPS_NAME_MAX]; /* the targets as a backend line names them, or "" if
                                      the list is too long for one */
    const ff_program *program; /* the input being run, for the report */
    ff_bug bug;                /* the injected bug switched on, or FF_BUG_NONE */
    const char *canary_path;   /* where the bug's first reach and trigger are noted */
    ff_canary canary_noted;    /* what has been noted there already */
} harness;

static volatile int crashed_class;

#define CRASH_SITE(fn, cls) \
    static __attribute__((noinline)) _Noreturn void fn(void) \
    { \
        crashed_class = cls; \
        abort(); \
    }
CRASH_SITE(crash_accepted_foreign_free, FF_CLASS_ACCEPTED_FOREIGN_FREE)
CRASH_SITE(crash_accepted_double_free, FF_CLASS_ACCEPTED_DOUBLE_FREE)
CRASH_SITE(crash_accepted_wrong_size_free, FF_CLASS_ACCEPTED_WRONG_SIZE_FREE)
CRASH_SITE(crash_accepted_misaligned_free, FF_CLASS_ACCEPTED_MISALIGNED_FREE)
CRASH_SITE(crash_rejected_valid_free, FF_CLASS_REJECTED_VALID_FREE)
CRASH_SITE(crash_double_handout, FF_CLASS_DOUBLE_HANDOUT)
CRASH_SITE(crash_out_of_map_alloc, FF_CLASS_OUT_OF_MAP_ALLOC)
CRASH_SITE(crash_out_of_zone_alloc, FF_CLASS_OUT_OF_ZONE_ALLOC)
CRASH_SITE(crash_misaligned_alloc, FF_CLASS_MISALIGNED_ALLOC)
CRASH_SITE(crash_wrong_size_alloc, FF_CLASS_WRONG_SIZE_ALLOC)
CRASH_SITE(crash_spurious_oom, FF_CLASS_SPURIOUS_OOM)
CRASH_SITE(crash_accepted_bad_request, FF_CLASS_ACCEPTED_BAD_REQUEST)
CRASH_SITE(crash_leak, FF_CLASS_LEAK)
CRASH_SITE(crash_accounting_drift, FF_CLASS_ACCOUNTING_DRIFT)
CRASH_SITE(crash_hang, FF_CLASS_HANG)
CRASH_SITE(crash_self_deadlock, FF_CLASS_SELF_DEADLOCK)
CRASH_SITE(crash_refcount_misuse, FF_CLASS_REFCOUNT_MISUSE)
CRASH_SITE(crash_metadata_mismatch, FF_CLASS_METADATA_MISMATCH)
CRASH_SITE(crash_structural_corruption, FF_CLASS_STRUCTURAL_CORRUPTION)
CRASH_SITE(crash_poison_corrupted, FF_CLASS_POISON_CORRUPTED)
CRASH_SITE(crash_divergence, FF_CLASS_DIVERGENCE)

static void (*const crash_sites[FF_CLASS_COUNT])(void) = {
    crash_accepted_foreign_free, crash_accepted_double_free, crash_accepted_wrong_size_free,
    crash_accepted_misaligned_free, crash_rejected_valid_free, crash_double_handout,
    crash_out_of_map_alloc, crash_out_of_zone_alloc, crash_misaligned_alloc,
    crash_wrong_size_alloc, crash_spurious_oom, crash_accepted_bad_request, crash_leak,
    crash_accounting_drift, crash_hang, crash_self_deadlock, crash_refcount_misuse,
    crash_metadata_mismatch, crash_structural_corruption, crash_poison_corrupted,
    crash_divergence,
};

static _Noreturn void bad_option(const char *what, const char *value, const char *valid)
{
    fprintf(stderr, "framefuzz: bad %s '%s' (valid: %s)\n", what, value, valid);
    exit(2);
}

/* Notes the first reach and the first trigger of the injected bug's site, with the
 * wall-clock time: a benchmark tells "never reached" from "reached, not detected". */
static void note_canary(void)
{
    if (!harness.canary_path || harness.bug == FF_BUG_NONE) return;
    ff_canary now = ff_bug_canary(harness.bug);
    bool reached = now.reached && !harness.canary_noted.reached;
    bool triggered = now.triggered && !harness.canary_noted.triggered;
    if (!reached && !triggered) return;
    harness.canary_noted = now;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double t = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    FILE *f = fopen(harness.canary_path, "a");
    if (!f) return; /* a lost note costs a figure, never the run */
    if (reached) fprintf(f, "reached %.3f\n", t);
    if (triggered) fprintf(f, "triggered %.3f\n", t);
    fclose(f);
}

/* The finding report: one line a script can parse, then the reproducer as text. */
static void on_finding(void *ctx, const ff_finding *f)
{
    (void)ctx;
    if (!(harness.crash_classes >> f->cls & 1)) return;
    note_canary();
    char sig[96];
    ff_finding_signature(f, sig, sizeof sig);
    for (size_t i = 0; i < harness.nknown; i++)
        if (strcmp(sig, harness.known[i]) == 0) return;
    if (f->op == FF_OP_AT_END)
        fprintf(stderr, "==framefuzz== FINDING %s at end: %s\n", sig, f->detail);
    else
        fprintf(stderr, "==framefuzz== FINDING %s at op %zu: %s\n", sig, f->op, f->detail);
    if (harness.program) {
        /* Self-contained: names what it ran on and what the options forced, so
         * `framefuzz repro FILE` replays it with no flags. */
        ff_program text = *harness.program;
        memcpy(text.backend, harness.targets, sizeof text.backend);
        text.bug = harness.bug;
        if (harness.semantics >= 0) text.semantics = (ff_semantics)harness.semantics;
        if (harness.poison >= 0) text.poison = harness.poison != 0;
        fprintf(stderr, "==framefuzz== reproducer (text form):\n");
        ff_program_print(&text, stderr);
    }
    fflush(stderr);
    crash_sites[f->cls]();
}

/* "--ff-NAME=value" from argv, else the environment variable, else NULL. */
static const char *option(int argc, char **argv, const char *flag, const char *env)
{
    size_t len = strlen(flag);
    const char *value = NULL;
    for (int i = 1; argv && i < argc; i++)
        if (strncmp(argv[i], flag, len) == 0 && argv[i][len] == '=') value = argv[i] + len + 1;
    return value ? value : getenv(env);
}

static int on_off(const char *what, const char *value)
{
    if (!value) return -1;
    if (strcmp(value, "on") == 0) return 1;
    if (strcmp(value, "off") == 0) return 0;
    bad_option(what, value, "on off");
}

static uint32_t parse_classes(const char *list)
{
    uint32_t mask = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *name = strtok(buf, ","); name; name = strtok(NULL, ",")) {
        ff_class cls;
        if (!ff_class_parse(name, &cls)) {
            char valid[1024];
            size_t n = 0;
            for (int c = 0; c < FF_CLASS_COUNT && n < sizeof valid; c++)
                n += (size_t)snprintf(valid + n, sizeof valid - n, "%s%s", c ? " " : "",
                                      ff_class_name((ff_class)c));
            bad_option("class", name, valid);
        }
        mask |= UINT32_C(1) << cls;
    }
    return mask;
}

/* The signatures a campaign has already found, one per line; a missing file is an
 * empty list (nothing found yet). */
static void read_known(const char *path)
{
    struct stat st;
    harness.known_size = stat(path, &st) == 0 ? st.st_size : 0;
    harness.nknown = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[128];
    while (harness.nknown < KNOWN_MAX && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] && strlen(line) < sizeof harness.known[0])
            memcpy(harness.known[harness.nknown++], line, strlen(line) + 1);
    }
    fclose(f);
}

void ff_harness_init(int argc, char **argv, const char *default_targets)
{
    const char *list = option(argc, argv, "--ff-targets", "FRAMEFUZZ_TARGETS");
    ff_target targets[16];
    size_t n;
    char err[512];
    if (!ff_target_parse_list(list ? list : default_targets, targets, 16, &n, err, sizeof err)) {
        fprintf(stderr, "framefuzz: %s\n", err);
        exit(2);
    }
    const char *bug = option(argc, argv, "--ff-bug", "FRAMEFUZZ_BUG");
    if (bug) {
        if (!ff_bug_parse(bug, &harness.bug)) {
            char valid[2048];
            size_t len = 0;
            for (int b = FF_BUG_NONE; b < FF_BUG_COUNT && len < sizeof valid; b++)
                len += (size_t)snprintf(valid + len, sizeof valid - len, "%s%s", b ? " " : "",
                                        b ? ff_bug_info_of((ff_bug)b)->name : "none");
            bad_option("bug", bug, valid);
        }
        if (!ff_target_inject(targets, n, harness.bug, err, sizeof err)) {
            fprintf(stderr, "framefuzz: %s\n", err);
            exit(2);
        }
    }
    harness.canary_path = option(argc, argv, "--ff-canary", "FRAMEFUZZ_CANARY");
    ff_exec_opts xo = {.semantics = -1, .poison = -1, .on_finding = on_finding};
    const char *sem = option(argc, argv, "--ff-semantics", "FRAMEFUZZ_SEMANTICS");
    if (sem) {
        ff_semantics s;
        if (!ff_semantics_parse(sem, &s)) bad_option("semantics", sem, "asterinas-2024 hardened");
        xo.semantics = (int)s;
    }
    xo.poison = on_off("poison", option(argc, argv, "--ff-poison", "FRAMEFUZZ_POISON"));
    xo.map = option(argc, argv, "--ff-map", "FRAMEFUZZ_MAP");
    if (xo.map && !ff_preset_find(xo.map)) {
        char valid[512];
        size_t len = 0;
        for (size_t i = 0; i < ff_preset_count && len < sizeof valid; i++)
            len += (size_t)snprintf(valid + len, sizeof valid - len, "%s%s", i ? " " : "",
                                    ff_presets[i].name);
        bad_option("map", xo.map, valid);
    }
    const char *classes = option(argc, argv, "--ff-classes", "FRAMEFUZZ_CLASSES");
    harness.crash_classes = classes ? parse_classes(classes) : ~UINT32_C(0);
    const char *known = option(argc, argv, "--ff-known", "FRAMEFUZZ_KNOWN");
    if (known) read_known(known);
    harness.known_path = known;
    /* Some findings do not crash: run past them to reach the others. */
    xo.keep_going = classes != NULL || known != NULL;
    harness.mutator = on_off("mutator", option(argc, argv, "--ff-mutator", "FRAMEFUZZ_MUTATOR")) != 0;
    harness.semantics = xo.semantics;
    harness.poison = xo.poison;
    char list_text[16 * 64] = "";
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(list_text + len, sizeof list_text - len, "%s%s", i ? "," : "",
                                targets[i].name);
    if (len < sizeof harness.targets) memcpy(harness.targets, list_text, len + 1);
    harness.exec = ff_exec_create(targets, n, &xo);
    if (!harness.exec) {
        fprintf(stderr, "framefuzz: host out of memory\n");
        exit(2);
    }
}

bool ff_harness_mutator_on(void) { return harness.mutator; }

/* A campaign appends to the known file as it triages; an engine that keeps one
 * process for hours (AFL++'s persistent mode) looks again now and then. */
static void refresh_known(void)
{
    struct stat st;
    if (harness.known_path && ++harness.runs % 4096 == 0 && stat(harness.known_path, &st) == 0 &&
        st.st_size != harness.known_size)
        read_known(harness.known_path);
}

int ff_harness_run(const uint8_t *data, size_t size)
{
    refresh_known();
    ff_program prog;
    if (!ff_program_decode(&prog, data, size)) {
        fprintf(stderr, "framefuzz: host out of memory decoding an input\n");
        abort();
    }
    harness.program = &prog;
    ff_exec_run(harness.exec, &prog);
    note_canary();
    harness.program = NULL;
    ff_program_free(&prog);
    return 0;
}
