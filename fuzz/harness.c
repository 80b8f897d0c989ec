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
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"
#include "harness.h"
#include "verdict.h"

#define KNOWN_MAX 256

static struct {
    ff_exec *exec;
    uint32_t crash_classes; /* bit per ff_class that crashes */
    int lifeline;           /* FRAMEFUZZ_LIFELINE: read end of the campaign's pipe, or -1 */
    char known[KNOWN_MAX][FF_SIGNATURE_MAX]; /* signatures already found: not crashed on */
    size_t nknown;
    char saved[KNOWN_MAX][FF_SIGNATURE_MAX]; /* new ones saved to save_dir: set aside */
    size_t nsaved;
    const char *save_dir;      /* --ff-save-new, or NULL: new root causes crash */
    const uint8_t *input;      /* the bytes being run, for save_dir */
    size_t input_size;
    const char *known_path;    /* re-read when it changes (long-lived engines: AFL++) */
    off_t known_size;          /* the file only grows: a new size means new lines */
    unsigned runs;
    bool mutator;
    bool json;                 /* --ff-json: the finding and died lines as JSON */
    unsigned cpus;             /* --ff-cpus: sequential inputs run on this many CPUs */
    int semantics, poison;     /* forced by an option, or -1 */
    const char *map;           /* forced by an option, or NULL */
    char targets[FF_OPS_BACKEND_MAX]; /* the targets as a backend line names them */
    const ff_program *program; /* the input being run, for the report */
    ff_bug bug;                /* the injected bug switched on, or FF_BUG_NONE */
    const char *canary_path;   /* where the bug's first reach and trigger are noted */
    ff_canary canary_noted;    /* what has been noted there already */
} harness;

static volatile int crashed_class;

/* In an AddressSanitizer build, the runtime calls this with its report of an error it
 * found (a heap overflow in the allocator, say) before it ends the process: where
 * framefuzz was, so triage can name the back-end and the call. Weak: plain builds have
 * no such runtime. (libFuzzer owns the sanitizers' death callback.) */
extern void __asan_set_error_report_callback(void (*callback)(const char *report))
    __attribute__((weak));

static void on_sanitizer_report(const char *report)
{
    (void)report; /* the runtime prints it itself */
    const ff_meta_call_site *c = &ff_meta_current_call;
    if (harness.json && (c->active || ff_exec_current.running)) {
        /* {"event":"died","backend":B,"call":CALL|null,"op":N} (harness.h) */
        char backend[160], call[64] = "null";
        ff_json_string(c->active ? c->backend : ff_exec_current.target, backend, sizeof backend);
        if (c->active) ff_json_string(ff_backend_call_name(c->call), call, sizeof call);
        fprintf(stderr, "==framefuzz== {\"event\":\"died\",\"backend\":%s,\"call\":%s,\"op\":%zu}\n",
                backend, call, ff_exec_current.op);
    } else if (c->active)
        fprintf(stderr, "==framefuzz== died in %s %s at op %zu\n", c->backend,
                ff_backend_call_name(c->call), ff_exec_current.op);
    else if (ff_exec_current.running)
        fprintf(stderr, "==framefuzz== died outside any back-end call, running %s at op %zu\n",
                ff_exec_current.target, ff_exec_current.op);
}

/* One crash site per class, made from the class list itself, so a class and its site
 * cannot fall out of step. */
#define X(id, name, function, summary)                                                      \
    static __attribute__((noinline)) _Noreturn void crash_##function(void)                  \
    {                                                                                       \
        crashed_class = FF_CLASS_##id;                                                      \
        abort();                                                                            \
    }
FF_CLASS_LIST(X)
#undef X

static void (*const crash_sites[FF_CLASS_COUNT])(void) = {
#define X(id, name, function, summary) [FF_CLASS_##id] = crash_##function,
    FF_CLASS_LIST(X)
#undef X
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

/* --ff-save-new: writes the input being run to save_dir under a name its bytes give,
 * through a hidden temporary file and a rename. False when it cannot (the caller
 * crashes instead, so the finding is not lost). */
static bool save_input(void)
{
    uint64_t hash = ff_fnv1a(FF_FNV_START, harness.input, harness.input_size);
    char path[4096], tmp[4096];
    snprintf(path, sizeof path, "%s/finding-%016llx", harness.save_dir, (unsigned long long)hash);
    snprintf(tmp, sizeof tmp, "%s/.finding-%016llx.%ld", harness.save_dir,
             (unsigned long long)hash, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return false;
    bool ok = fwrite(harness.input, 1, harness.input_size, f) == harness.input_size;
    ok = fclose(f) == 0 && ok;
    if (ok && rename(tmp, path) == 0) {
        fprintf(stderr, "==framefuzz== saved as %s; running on\n", path);
        return true;
    }
    remove(tmp);
    return false;
}

/* The finding report: one line (a JSON object under --ff-json), then the reproducer as
 * text. Only a root cause crashes: what follows it on the same back-end is its
 * consequence. A root cause already known, or of a class not asked for, is set aside
 * (false): its back-end's run ends, the others go on. */
static bool on_finding(void *ctx, const ff_finding *f)
{
    (void)ctx;
    if (f->consequence) return false;
    if (!(harness.crash_classes >> f->cls & 1)) return false;
    note_canary();
    char sig[FF_SIGNATURE_MAX];
    ff_finding_signature(f, sig, sizeof sig);
    for (size_t i = 0; i < harness.nknown; i++)
        if (strcmp(sig, harness.known[i]) == 0) return false;
    for (size_t i = 0; i < harness.nsaved; i++)
        if (strcmp(sig, harness.saved[i]) == 0) return false;
    if (harness.json) {
        char line[2048];
        ff_finding_json(f, NULL, line, sizeof line);
        fprintf(stderr, "==framefuzz== %s", line);
    } else if (f->op == FF_OP_AT_END)
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
        if (harness.map) {
            text.preset = harness.map;
            text.nregions = 0;
        }
        fprintf(stderr, "==framefuzz== reproducer (text form):\n");
        ff_program_print(&text, stderr);
    }
    fflush(stderr);
    if (harness.save_dir && harness.nsaved < KNOWN_MAX && save_input()) {
        memcpy(harness.saved[harness.nsaved++], sig, sizeof sig);
        return false;
    }
    crash_sites[f->cls]();
    return true;
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
    char line[FF_SIGNATURE_MAX + 2];
    while (harness.nknown < KNOWN_MAX && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] && strlen(line) < sizeof harness.known[0])
            memcpy(harness.known[harness.nknown++], line, strlen(line) + 1);
    }
    fclose(f);
}

static void die_with_parent(void);

/* The engines' coverage maps: libFuzzer's inline 8-bit counters, AFL++'s edge map (its
 * edges numbered below __afl_final_loc). Each is absent (null) from the other builds. */
extern uint8_t __start___sancov_cntrs[] __attribute__((weak));
extern uint8_t __stop___sancov_cntrs[] __attribute__((weak));
extern uint8_t *__afl_area_ptr __attribute__((weak));
extern uint32_t __afl_final_loc __attribute__((weak));

static uint8_t *coverage_map(size_t *n)
{
    if (__start___sancov_cntrs) {
        *n = (size_t)(__stop___sancov_cntrs - __start___sancov_cntrs);
        return __start___sancov_cntrs;
    }
    if (&__afl_area_ptr && &__afl_final_loc && __afl_area_ptr) {
        *n = __afl_final_loc;
        return __afl_area_ptr;
    }
    *n = 0;
    return NULL;
}

/* Coverage is the program's alone. Making a target ready runs back-end code (other
 * maps' machines torn down, create, reset, the baseline's allocations) whose paths
 * depend on what ran before: the maps the cache holds, a map met for the first time,
 * the length of the last run's undo log. Counted, it gives an input
 * features it does not have when run again (AFL++ measured such a campaign 45 % stable),
 * and the engine keeps inputs for them. The map is put back as it was before. */
static void coverage_paused(bool begin)
{
    static uint8_t *saved;
    static size_t saved_size;
    size_t n;
    uint8_t *map = coverage_map(&n);
    if (!map || !n) return;
    if (begin && saved_size < n) {
        free(saved);
        saved = malloc(n);
        saved_size = saved ? n : 0;
    }
    if (saved_size < n) return;
    if (begin)
        memcpy(saved, map, n);
    else
        memcpy(map, saved, n);
}

void ff_harness_init(int argc, char **argv, const char *default_targets)
{
    const char *lifeline = getenv("FRAMEFUZZ_LIFELINE");
    harness.lifeline = lifeline ? atoi(lifeline) : -1;
    if (lifeline) { /* a campaign's: die with the parent, in every process forked too */
        die_with_parent();
        (void)pthread_atfork(NULL, NULL, die_with_parent);
    }
    if (__asan_set_error_report_callback) __asan_set_error_report_callback(on_sanitizer_report);
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
    ff_exec_opts xo = {.semantics = -1, .poison = -1, .on_finding = on_finding,
                       .preparing = coverage_paused};
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
    harness.save_dir = option(argc, argv, "--ff-save-new", "FRAMEFUZZ_SAVE_NEW");
    struct stat dir;
    if (harness.save_dir && (stat(harness.save_dir, &dir) != 0 || !S_ISDIR(dir.st_mode))) {
        fprintf(stderr, "framefuzz: bad save-new '%s': not a directory\n", harness.save_dir);
        exit(2);
    }

    harness.mutator = on_off("mutator", option(argc, argv, "--ff-mutator", "FRAMEFUZZ_MUTATOR")) != 0;
    harness.json = on_off("json", option(argc, argv, "--ff-json", "FRAMEFUZZ_JSON")) == 1;
    const char *cpus = option(argc, argv, "--ff-cpus", "FRAMEFUZZ_CPUS");
    if (cpus) {
        char *end;
        unsigned long k = strtoul(cpus, &end, 10);
        if (*end || end == cpus || k < 1 || k > FF_CPUS_MAX) bad_option("cpus", cpus, "1 to 8");
        harness.cpus = (unsigned)k;
    }
    harness.semantics = xo.semantics;
    harness.poison = xo.poison;
    harness.map = xo.map ? ff_preset_find(xo.map)->name : NULL;
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
    if (harness.known_path && harness.runs % 4096 == 0 && stat(harness.known_path, &st) == 0 &&
        st.st_size != harness.known_size)
        read_known(harness.known_path);
}

/* AFL++'s fork server and persistent-mode children stop themselves between inputs;
 * a stopped process checks no lifeline, but a SIGKILL from the parent's death still
 * ends it. (Cleared by fork: pthread_atfork sets it again in each child.) */
static void die_with_parent(void)
{
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) _exit(0); /* orphaned already */
}

/* A campaign's engines and every job they fork hold the read end of a pipe whose only
 * writer is the campaign: end of file there means it died (even by SIGKILL, with
 * nobody left to stop them), and so do they. Looked at now and then, like the known
 * file. */
static void check_lifeline(void)
{
    if (harness.lifeline < 0 || harness.runs % 4096) return;
    struct pollfd p = {.fd = harness.lifeline, .events = POLLIN};
    if (poll(&p, 1, 0) == 1 && (p.revents & (POLLIN | POLLHUP))) _exit(0);
}

/* --ff-cpus: a sequential program's operations dealt round-robin to n CPUs, and a
 * schedule that switches to the next CPU at every other point, as long as it lasts. */
static void deal(ff_program *p, unsigned n)
{
    p->ncpus = n;
    for (size_t i = 0; i < p->nops; i++) p->ops[i].cpu = (uint8_t)(i % n);
    p->sched_mode = FF_SCHED_DIRECT;
    p->schedule_len = FF_SCHEDULE_MAX;
    for (size_t e = 0; e < FF_SCHEDULE_MAX / 2; e++) {
        p->schedule[2 * e] = 1;
        p->schedule[2 * e + 1] = (uint8_t)((e + 1) % n);
    }
}

int ff_harness_run(const uint8_t *data, size_t size)
{
    harness.runs++;
    refresh_known();
    check_lifeline();
    /* One program for every input: its operation array is allocated once, not per run. */
    static ff_program prog;
    if (!ff_program_decode_again(&prog, data, size)) {
        fprintf(stderr, "framefuzz: host out of memory decoding an input\n");
        abort();
    }
    if (harness.cpus && !prog.ncpus) deal(&prog, harness.cpus);
    harness.program = &prog;
    harness.input = data;
    harness.input_size = size;
    ff_exec_run(harness.exec, &prog);
    note_canary();
    harness.program = NULL;
    return 0;
}
