/*
 * compare.c — the C side of `framefuzz compare`: every back-end on the same workload
 * over the same memory map, as JSON lines.
 *
 *   ffcompare WORKLOAD PRESET [--backends LIST] [--runs N] [--seed S]
 *
 * Each back-end gets three kinds of pass over the trace:
 *   checked  through the metadata layer with the oracle judging every answer: the
 *            figures count only if this pass is clean (findings are reported);
 *   timed    straight against the back-end, each call timed, N runs (median and
 *            spread); out-of-memory answers counted; fragmentation measured from a
 *            shadow of the frames handed out, at the workload's measuring point:
 *            the largest free block the back-end's placement could hand out, and
 *            Linux's unusable-free-space index for order 9 (the share of free
 *            frames that lie outside any free, aligned 2 MiB block). A per-call
 *            figure includes one clock read (timer_ns, an empty timed interval:
 *            about 25 ns on a TSC clock), as much as a fast call itself; so each run
 *            also times one pass without per-call clocks: its wall time per
 *            allocation is an alloc+free pair where the trace frees what it
 *            allocates (the driver's loop included, so never less than the truth);
 *   memory   one more timed pass in a FRESH process: this program runs itself again
 *            (/proc/self/exe, internal mode --memory-probe), so no page an earlier
 *            pass left in the heap is reused unseen. That process builds the space,
 *            the workload and the driver's own arrays (touched, so they are resident
 *            before anything is measured), then measures what the pass adds:
 *              peak     the host memory the run added at its peak, file pages (code
 *                       run for the first time) left out;
 *              RAM      the simulated RAM the pass wrote: frames of the space's
 *                       backing memory an in-band back-end (freelist) keeps its
 *                       structures in; that is the simulated machine's memory;
 *              book     what the space grew for its own bookkeeping of those frames
 *                       (its touch log and touched-frame bitmap);
 *            and the back-end's own bookkeeping per usable frame at its peak is
 *            (peak - RAM - book) / usable frames, at least 0. The metadata layer's
 *            slot per frame (the checked pass's, ff_meta_slot_bytes) comes on top.
 * A back-end that panics (ff_panic) in a timed pass has no figures: its row says why
 * ("left"), as its checked pass's finding does.
 * Output: one JSON object per back-end.
 */
#include <malloc.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec.h"
#include "verdict.h"
#include "measure.h"
#include "workload.h"

static _Noreturn void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "ffcompare: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(2);
}

/* ---------------------------------------------------------------- the checked pass */

static void count_finding(void *ctx, const ff_finding *f)
{
    ff_finding *first = ctx;
    if (!first->backend[0]) *first = *f;
}

/* Runs the trace through the layer with the oracle; returns the findings' count and
 * the first in *first. */
static size_t checked_pass(ff_space *space, const ff_backend_def *def, const ff_workload *w,
                           ff_finding *first)
{
    ff_oracle *o = ff_oracle_create(space);
    ff_meta_opts mo = {.semantics = FF_SEM_HARDENED, .step_budget = 1024 + 4 * space->usable_frames,
                       .observer = ff_oracle_observe, .observer_ctx = o};
    char err[200];
    ff_meta *m = o ? ff_meta_create(space, def, &mo, err, sizeof err) : NULL;
    if (!m) die("cannot build the checked pass: %s", o ? err : "host memory");
    ff_oracle_baseline b;
    if (!ff_oracle_baseline_init(&b, m, space)) die("%s", "host memory");
    ff_oracle_begin(o, m, def->name, &b);
    size_t found = 0;
    *first = (ff_finding){0};
    ff_oracle_on_finding(o, count_finding, first);
    ff_handle *handles = calloc(w->n ? w->n : 1, sizeof *handles);
    if (!handles) die("%s", "host memory");
    for (size_t i = 0; i < w->n && !ff_meta_dead(m); i++) {
        const ff_wl_event *e = &w->ev[i];
        if (!e->is_free) {
            ff_oracle_op_begin(o, i, FF_CALL_ALLOC);
            ff_meta_status st = ff_meta_alloc(m, &e->req, 1, &handles[i]);
            ff_layer_result r = {FF_CALL_ALLOC, st, handles[i].start, handles[i].count, 0};
            ff_oracle_op_end(o, &r);
            if (st != FF_META_OK) handles[i].count = 0;
        } else if (handles[e->target].count) {
            ff_oracle_op_begin(o, i, FF_CALL_DROP);
            ff_meta_status st = ff_meta_drop(m, handles[e->target]);
            ff_layer_result r = {FF_CALL_DROP, st, handles[e->target].start,
                                 handles[e->target].count, 0};
            ff_oracle_op_end(o, &r);
            handles[e->target].count = 0;
        }
    }
    found = first->backend[0] ? 1 : 0;
    free(handles);
    ff_oracle_baseline_free(&b);
    ff_meta_destroy(m);
    ff_oracle_destroy(o);
    return found;
}

/* ---------------------------------------------------------------- the timed pass */

/* The driver's own arrays: where each allocation landed and whether it is still held.
 * Made once, resident before any pass, reused by every pass. */
typedef struct driver {
    ff_pfn *starts;
    bool *held;
    size_t n;
} driver;

/* Writes every page of [p, p + bytes): calloc may hand out untouched zero pages, which
 * would otherwise become resident inside a measured window. */
static void make_resident(void *p, size_t bytes)
{
    volatile unsigned char *c = p;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < bytes; i += page) c[i] = 0;
}

static driver driver_create(const ff_workload *w)
{
    size_t n = w->n ? w->n : 1;
    driver d = {calloc(n, sizeof *d.starts), calloc(n, sizeof *d.held), w->n};
    if (!d.starts || !d.held) die("%s", "host memory");
    make_resident(d.starts, n * sizeof *d.starts);
    make_resident(d.held, n * sizeof *d.held);
    return d;
}

static void driver_destroy(driver *d)
{
    free(d->starts);
    free(d->held);
}

typedef struct shadow {
    uint8_t *taken; /* a byte per frame below the top: simple, and only for measuring */
    ff_pfn top;
} shadow;

/* Largest free block the placement could hand out, and the unusable-free-space index
 * for order 9, from the shadow. */
static void fragmentation(const ff_space *space, const ff_policy *pol, const shadow *sh,
                          uint64_t *largest, double *unusable9)
{
    uint64_t free_frames = 0, in_free_2m = 0, best = 0;
    for (size_t r = 0; r < space->nusable; r++) {
        ff_pfn lo = space->usable[r].start, hi = ff_range_end(space->usable[r]);
        uint64_t run = 0;
        for (ff_pfn p = lo; p < hi; p++) {
            bool f = !sh->taken[p];
            free_frames += f;
            run = f ? run + 1 : 0;
            if (pol->placement == FF_PLACE_ANY_RUN && run > best) best = run;
        }
        for (ff_pfn p = (lo + 511) / 512 * 512; p + 512 <= hi; p += 512) {
            bool all = true;
            for (ff_pfn q = p; q < p + 512 && all; q++) all = !sh->taken[q];
            if (all) in_free_2m += 512;
        }
        if (pol->placement != FF_PLACE_ANY_RUN) /* naturally aligned blocks, as a buddy's */
            for (uint64_t size = UINT64_C(1) << 18; size > best; size >>= 1)
                for (ff_pfn p = (lo + size - 1) / size * size; p + size <= hi && size > best;
                     p += size) {
                    bool all = true;
                    for (ff_pfn q = p; q < p + size && all; q++) all = !sh->taken[q];
                    if (all) best = size;
                }
    }
    *largest = best;
    *unusable9 = free_frames ? 1.0 - (double)in_free_2m / (double)free_frames : 0.0;
}

typedef struct timing {
    double alloc_ns, free_ns; /* per call (a pass with per-call clocks) */
    double pass_ns;           /* per allocation (a pass without them) */
    uint64_t ooms;
    uint64_t largest;
    double unusable9;
    bool left;                /* the back-end panicked (ff_panic): no figures */
} timing;

/* Where a timed pass lands when the back-end panics on the workload (a model of a real
 * allocator may, as asterinas does near exhaustion), and the panic's message. */
static jmp_buf landing;
static char left_why[256]; /* a JSON string, quotes included */

static void note_leaving(ff_env *env, ff_exit why, const char *message)
{
    (void)env;
    ff_json_string(why == FF_EXIT_PANIC ? message : "a hang", left_why, sizeof left_why);
}

/* What a back-end is built with outside the layer: backing memory when the space has
 * it, no step budget, a landing place for its panic. */
static ff_env backend_env(ff_space *space)
{
    return (ff_env){.frame_mem = ff_space_has_backing(space) ? ff_space_frame_mem : NULL,
                    .space = space, .on_hang = &landing, .on_exit = note_leaving};
}

static void *backend_create(ff_env *env, ff_space *space, const ff_backend_def *def)
{
    void *b = def->create(env, space->usable, space->nusable);
    if (!b) die("back-end %s cannot be built over this map", def->name);
    return b;
}

/* Runs the trace on back-end b, timing each call if per_call, else the whole pass. With
 * a shadow (sh), also measures fragmentation at the workload's measuring point. */
static timing run_trace(void *b, const ff_backend_def *def, const ff_workload *w, driver *d,
                        const ff_space *space, shadow *sh, bool per_call)
{
    memset(d->held, 0, d->n * sizeof *d->held);
    timing t = {0};
    double alloc_total = 0, free_total = 0;
    uint64_t allocs = 0, frees = 0;
    double pass_start = ff_now_ns();
    for (size_t i = 0; i < w->n; i++) {
        if (sh && i == w->measure_at) fragmentation(space, &def->policy, sh, &t.largest, &t.unusable9);
        const ff_wl_event *e = &w->ev[i];
        if (!e->is_free) {
            double t0 = per_call ? ff_now_ns() : 0;
            ff_status st = def->alloc(b, &e->req, &d->starts[i]);
            if (per_call) alloc_total += ff_now_ns() - t0;
            allocs++;
            d->held[i] = st == FF_OK;
            t.ooms += st != FF_OK;
            if (d->held[i] && sh)
                for (uint64_t k = 0; k < e->req.count && d->starts[i] + k < sh->top; k++)
                    sh->taken[d->starts[i] + k] = 1;
        } else if (d->held[e->target]) {
            const ff_alloc_req *req = &w->ev[e->target].req;
            ff_pfn start = d->starts[e->target];
            double t0 = per_call ? ff_now_ns() : 0;
            def->free(b, start, req->count);
            if (per_call) free_total += ff_now_ns() - t0;
            frees++;
            d->held[e->target] = false;
            if (sh)
                for (uint64_t k = 0; k < req->count && start + k < sh->top; k++)
                    sh->taken[start + k] = 0;
        }
    }
    double pass_total = ff_now_ns() - pass_start;
    if (sh && w->measure_at >= w->n) fragmentation(space, &def->policy, sh, &t.largest, &t.unusable9);
    t.pass_ns = allocs ? pass_total / (double)allocs : 0;
    t.alloc_ns = allocs ? alloc_total / (double)allocs : 0;
    t.free_ns = frees ? free_total / (double)frees : 0;
    return t;
}

/* run_trace, landing in *t->left when the back-end panics. No local here changes
 * after setjmp. */
static void guarded_trace(timing *t, void *b, const ff_backend_def *def, const ff_workload *w,
                          driver *d, const ff_space *space, shadow *sh, bool per_call)
{
    if (setjmp(landing)) {
        *t = (timing){.left = true};
        return;
    }
    *t = run_trace(b, def, w, d, space, sh, per_call);
}

/* The median empty timed interval: the clock read each per-call figure includes. */
static double timer_ns(void)
{
    double t[1001];
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        double t0 = ff_now_ns();
        t[i] = ff_now_ns() - t0;
    }
    qsort(t, sizeof t / sizeof *t, sizeof *t, ff_cmp_double);
    return t[sizeof t / sizeof *t / 2];
}

/* One timed pass on a fresh back-end; the space is reset afterwards. */
static timing timed_pass(ff_space *space, const ff_backend_def *def, const ff_workload *w,
                         driver *d, shadow *sh, bool per_call)
{
    ff_env env = backend_env(space);
    void *b = backend_create(&env, space, def);
    timing t;
    guarded_trace(&t, b, def, w, d, space, sh, per_call);
    def->destroy(b);
    ff_space_reset(space);
    return t;
}

/* ---------------------------------------------------------------- the memory pass */

#define PROBE_FLAG  "--memory-probe"
#define PROBE_USAGE PROBE_FLAG " is internal (ffcompare runs itself with it): " \
                    PROBE_FLAG " WORKLOAD PRESET BACKEND SEED"

/* Bytes of [p, p + bytes) resident in host memory, in whole pages; 0 when unknown. */
static uint64_t resident_bytes(const void *p, size_t bytes)
{
    if (!p || !bytes) return 0;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = (uintptr_t)p / page * page;
    uintptr_t hi = ((uintptr_t)p + bytes + page - 1) / page * page;
    size_t pages = (size_t)((hi - lo) / page);
    unsigned char *vec = malloc(pages);
    uint64_t resident = 0;
    if (vec && mincore((void *)lo, (size_t)(hi - lo), vec) == 0)
        for (size_t i = 0; i < pages; i++) resident += vec[i] & 1;
    free(vec);
    return resident * page;
}

/* Resident bytes of the space's own bookkeeping of touched frames: its touch log and
 * its touched-frame bitmap (a bit per frame below the top). */
static uint64_t space_book_bytes(const ff_space *space)
{
    if (!ff_space_has_backing(space)) return 0;
    return resident_bytes(space->touched_log, space->touched_cap * sizeof *space->touched_log) +
           resident_bytes(space->touched_bits, (size_t)((space->top + 63) / 64) * sizeof(uint64_t));
}

/* The fresh process of the memory pass (see the top). Prints "PEAK RAM BOOK" in bytes:
 * the host memory the run added at its peak (-1 when /proc cannot say), of it the
 * simulated RAM the pass touched, and the growth of the space's own bookkeeping. */
static int memory_probe(int argc, char **argv)
{
    if (argc != 6) die("%s", PROBE_USAGE);
    /* glibc raises its mmap threshold whenever a mapped block is freed, as building the
     * workload does; growing buffers then stay on the heap and leave their old copies
     * resident. Pinning a fresh process's threshold keeps the window free of that. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    const char *workload = argv[2], *preset = argv[3], *backend = argv[4];
    char *end;
    uint64_t seed = strtoull(argv[5], &end, 0);
    if (!argv[5][0] || *end) die(PROBE_FLAG ": the seed '%s' is not a number", argv[5]);
    ff_space space;
    char err[256];
    if (!ff_space_init_preset(&space, preset, err, sizeof err)) die("%s", err);
    ff_target target;
    if (!ff_target_find(backend, &target) || target.pcp)
        die(PROBE_FLAG ": unknown back-end '%s'", backend);
    const ff_backend_def *def = target.def;
    ff_workload w;
    if (!ff_workload_build(&w, workload, space.usable_frames, seed))
        die(PROBE_FLAG ": unknown workload '%s'", workload);
    if (def->policy.needs_backing && !ff_space_enable_backing(&space, FF_POISON_DEFAULT))
        die("%s", "cannot reserve backing memory");
    driver d = driver_create(&w);
    ff_env env = backend_env(&space);
    uint64_t book_before = space_book_bytes(&space);

    /* The window: from here on, everything that becomes resident is the run's. The
     * heap's free memory is given back first, so the run cannot reuse it unseen. */
    malloc_trim(0);
    (void)ff_mem_reset_peak(); /* without it VmHWM only weighs less: see ff_mem_added_kib */
    ff_mem_sample before = ff_mem_sample_now();
    void *b = backend_create(&env, &space, def);
    timing t;
    guarded_trace(&t, b, def, &w, &d, &space, NULL, true);
    /* Sampled before destroy gives memory back and before a reset undoes the touches. */
    long added_kib = t.left ? -1 : ff_mem_added_kib(before, ff_mem_sample_now());
    uint64_t ram = space.touched_count * FF_FRAME_SIZE;
    uint64_t book = space_book_bytes(&space);
    book = book > book_before ? book - book_before : 0;
    def->destroy(b);

    printf("%lld %llu %llu\n", added_kib < 0 ? -1LL : (long long)added_kib * 1024,
           (unsigned long long)ram, (unsigned long long)book);
    driver_destroy(&d);
    ff_workload_free(&w);
    ff_space_destroy(&space);
    return 0;
}

typedef struct memory {
    double peak_mib;          /* host memory the run added at its peak; -1 unknown */
    double ram_mib;           /* of it, simulated RAM the pass wrote (in-band back-ends) */
    double backend_per_frame; /* the back-end's own bookkeeping, bytes per usable frame */
} memory;

extern char **environ;

/* Runs the memory pass of one back-end in a fresh process (this program, re-executed
 * with PROBE_FLAG) and reads its answer from a pipe. All -1 when it cannot be run. */
static memory measure_memory(const char *workload, const char *preset, const char *backend,
                             uint64_t seed, uint64_t usable_frames)
{
    memory m = {-1, -1, -1};
    int fds[2];
    if (pipe(fds) != 0) return m;
    char seed_arg[24];
    snprintf(seed_arg, sizeof seed_arg, "%llu", (unsigned long long)seed);
    char *args[] = {"ffcompare", PROBE_FLAG, (char *)workload, (char *)preset, (char *)backend,
                    seed_arg, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    if (fds[1] != STDOUT_FILENO) {
        posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
        posix_spawn_file_actions_addclose(&fa, fds[1]);
    }
    pid_t pid;
    int spawn_err = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    char out[128];
    size_t len = 0;
    ssize_t got;
    while (!spawn_err && len + 1 < sizeof out &&
           (got = read(fds[0], out + len, sizeof out - 1 - len)) > 0)
        len += (size_t)got;
    out[len] = '\0';
    close(fds[0]);
    int status = 0;
    if (spawn_err || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
        return m;
    long long peak;
    unsigned long long ram, book;
    if (sscanf(out, "%lld %llu %llu", &peak, &ram, &book) != 3 || peak < 0) return m;
    long long own = peak - (long long)ram - (long long)book;
    m.peak_mib = (double)peak / (1 << 20);
    m.ram_mib = (double)ram / (1 << 20);
    m.backend_per_frame = own > 0 && usable_frames ? (double)own / (double)usable_frames : 0;
    return m;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], PROBE_FLAG) == 0) return memory_probe(argc, argv);
    if (argc < 3) die("%s", "usage: ffcompare WORKLOAD PRESET [--backends LIST] [--runs N] [--seed S]");
    const char *workload = argv[1], *preset = argv[2], *list = "all";
    int runs = 5;
    uint64_t seed = 1;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--backends") == 0 && i + 1 < argc) list = argv[++i];
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) seed = strtoull(argv[++i], NULL, 0);
        else die("unknown option %s (valid: --backends --runs --seed)", argv[i]);
    }
    if (runs < 1 || runs > 100) die("%s", "--runs takes 1 to 100");
    ff_space space;
    char err[256];
    if (!ff_space_init_preset(&space, preset, err, sizeof err)) die("%s", err);
    ff_target targets[16];
    size_t n;
    if (!ff_target_parse_list(list, targets, 16, &n, err, sizeof err)) die("%s", err);
    for (size_t t = 0; t < n; t++)
        if (targets[t].pcp)
            die("compare measures back-ends alone, not %s: per-CPU caches are framefuzz's "
                "layer (name the back-end without pcp:)", targets[t].name);
    ff_workload w;
    if (!ff_workload_build(&w, workload, space.usable_frames, seed)) {
        char valid[256] = "";
        for (size_t i = 0; i < ff_workload_count; i++)
            strcat(strcat(valid, i ? " " : ""), ff_workloads[i].name);
        fprintf(stderr, "ffcompare: unknown workload '%s' (valid: %s corpus:DIR)\n", workload,
                valid);
        return 2;
    }
    driver d = driver_create(&w);
    double timer = timer_ns();
    for (size_t t = 0; t < n; t++) {
        const ff_backend_def *def = targets[t].def;
        if (def->policy.needs_backing && !ff_space_has_backing(&space) &&
            !ff_space_enable_backing(&space, FF_POISON_DEFAULT))
            die("%s", "cannot reserve backing memory");
        memory mem = measure_memory(workload, preset, targets[t].name, seed, space.usable_frames);
        ff_finding first;
        size_t findings = checked_pass(&space, def, &w, &first);
        ff_space_reset(&space);
        shadow sh = {calloc(space.top ? space.top : 1, 1), space.top};
        if (!sh.taken) die("%s", "host memory");
        timing measured = timed_pass(&space, def, &w, &d, &sh, true);
        free(sh.taken);
        double a[100] = {0}, f[100] = {0}, p[100] = {0};
        for (int r = 0; r < runs && !measured.left; r++) {
            timing tr = timed_pass(&space, def, &w, &d, NULL, true);
            a[r] = tr.alloc_ns;
            f[r] = tr.free_ns;
            p[r] = timed_pass(&space, def, &w, &d, NULL, false).pass_ns;
        }
        qsort(a, (size_t)runs, sizeof *a, ff_cmp_double);
        qsort(f, (size_t)runs, sizeof *f, ff_cmp_double);
        qsort(p, (size_t)runs, sizeof *p, ff_cmp_double);
        char sig[FF_SIGNATURE_MAX] = "";
        if (findings) ff_finding_signature(&first, sig, sizeof sig);
        size_t layer = ff_meta_slot_bytes();
        double meta = mem.backend_per_frame < 0 ? -1 : (double)layer + mem.backend_per_frame;
        printf("{\"backend\":\"%s\",\"workload\":\"%s\",\"preset\":\"%s\",\"usable_frames\":%llu,"
               "\"events\":%zu,\"alloc_ns\":{\"median\":%.1f,\"min\":%.1f,\"max\":%.1f},"
               "\"free_ns\":{\"median\":%.1f,\"min\":%.1f,\"max\":%.1f},"
               "\"pair_ns\":{\"median\":%.1f,\"min\":%.1f,\"max\":%.1f},\"timer_ns\":%.1f,"
               "\"ooms\":%llu,"
               "\"largest_free_block\":%llu,\"unusable_index_order9\":%.4f,"
               "\"peak_host_mib\":%.1f,\"ram_touched_mib\":%.1f,"
               "\"backend_bytes_per_frame\":%.2f,\"layer_bytes_per_frame\":%zu,"
               "\"metadata_bytes_per_frame\":%.2f,\"checked\":%s,\"finding\":\"%s\","
               "\"left\":%s}\n",
               def->name, workload, preset, (unsigned long long)space.usable_frames, w.n,
               a[runs / 2], a[0], a[runs - 1], f[runs / 2], f[0], f[runs - 1], p[runs / 2], p[0],
               p[runs - 1], timer,
               (unsigned long long)measured.ooms, (unsigned long long)measured.largest,
               measured.unusable9, mem.peak_mib, mem.ram_mib, mem.backend_per_frame, layer, meta,
               findings ? "false" : "true", sig, measured.left ? left_why : "\"\"");
        fflush(stdout);
    }
    driver_destroy(&d);
    ff_workload_free(&w);
    ff_space_destroy(&space);
    return 0;
}
