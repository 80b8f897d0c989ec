/*
 * compare.c — the C side of `framefuzz compare`: every back-end on the same workload
 * over the same memory map, as JSON lines.
 *
 *   ffcompare WORKLOAD PRESET [--backends LIST] [--runs N] [--seed S]
 *
 * Each back-end gets two passes over the trace:
 *   checked  through the metadata layer with the oracle judging every answer: the
 *            figures count only if this pass is clean (findings are reported);
 *   timed    straight against the back-end, each call timed, N runs (median and
 *            spread); out-of-memory answers counted; fragmentation measured from a
 *            shadow of the frames handed out, at the workload's measuring point:
 *            the largest free block the back-end's placement could hand out, and
 *            Linux's unusable-free-space index for order 9 (the share of free
 *            frames that lie outside any free, aligned 2 MiB block);
 *   memory   one more run in a child process: the peak host memory it added (MiB).
 * Output: one JSON object per back-end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/wait.h>
#include <unistd.h>

#include "exec.h"
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
static size_t checked_pass(ff_space *space, const ff_backend_ops *ops, const ff_workload *w,
                           ff_finding *first)
{
    ff_oracle *o = ff_oracle_create(space);
    ff_meta_opts mo = {.semantics = FF_SEM_HARDENED, .step_budget = 1024 + 4 * space->usable_frames,
                       .observer = ff_oracle_observe, .observer_ctx = o};
    char err[200];
    ff_meta *m = o ? ff_meta_create(space, ops, &mo, err, sizeof err) : NULL;
    if (!m) die("cannot build the checked pass: %s", o ? err : "host memory");
    ff_oracle_baseline b;
    if (!ff_oracle_baseline_init(&b, m, space)) die("%s", "host memory");
    ff_oracle_begin(o, m, ops->name, &b);
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
        if (pol->placement == FF_PLACE_POW2_NATURAL)
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
    double alloc_ns, free_ns; /* per call */
    uint64_t ooms;
    uint64_t largest;
    double unusable9;
} timing;

static timing timed_pass(ff_space *space, const ff_backend_ops *ops, const ff_workload *w,
                         bool measure)
{
    ff_env env = {.frame_mem = ff_space_has_backing(space) ? ff_space_frame_mem : NULL,
                  .space = space};
    void *b = ops->create(&env, space->usable, space->nusable);
    if (!b) die("back-end %s cannot be built over this map", ops->name);
    ff_pfn *starts = calloc(w->n ? w->n : 1, sizeof *starts);
    bool *held = calloc(w->n ? w->n : 1, sizeof *held);
    shadow sh = {measure ? calloc(space->top ? space->top : 1, 1) : NULL, space->top};
    if (!starts || !held || (measure && !sh.taken)) die("%s", "host memory");
    timing t = {0};
    double alloc_total = 0, free_total = 0;
    uint64_t allocs = 0, frees = 0;
    for (size_t i = 0; i < w->n; i++) {
        if (measure && i == w->measure_at) fragmentation(space, &ops->policy, &sh, &t.largest, &t.unusable9);
        const ff_wl_event *e = &w->ev[i];
        if (!e->is_free) {
            double t0 = ff_now_ns();
            ff_status st = ops->alloc(b, &e->req, &starts[i]);
            alloc_total += ff_now_ns() - t0;
            allocs++;
            held[i] = st == FF_OK;
            t.ooms += st != FF_OK;
            if (held[i] && measure)
                for (uint64_t k = 0; k < e->req.count && starts[i] + k < sh.top; k++)
                    sh.taken[starts[i] + k] = 1;
        } else if (held[e->target]) {
            const ff_alloc_req *req = &w->ev[e->target].req;
            double t0 = ff_now_ns();
            ops->free(b, starts[e->target], req->count);
            free_total += ff_now_ns() - t0;
            frees++;
            held[e->target] = false;
            if (measure)
                for (uint64_t k = 0; k < req->count && starts[e->target] + k < sh.top; k++)
                    sh.taken[starts[e->target] + k] = 0;
        }
    }
    if (measure && w->measure_at >= w->n) fragmentation(space, &ops->policy, &sh, &t.largest, &t.unusable9);
    t.alloc_ns = allocs ? alloc_total / (double)allocs : 0;
    t.free_ns = frees ? free_total / (double)frees : 0;
    ops->destroy(b);
    free(starts);
    free(held);
    free(sh.taken);
    ff_space_reset(space);
    return t;
}

/* Peak host memory (MiB) of the back-end running the workload once, measured in a child
 * whose only other memory is the space and the process itself; -1 if unmeasurable. */
static double peak_mib(ff_space *space, const ff_backend_ops *ops, const ff_workload *w)
{
    int fds[2];
    if (pipe(fds) != 0) return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        long before = ff_status_kib("VmRSS:");
        timed_pass(space, ops, w, false);
        long peak = ff_status_kib("VmHWM:");
        double mib = before >= 0 && peak >= 0 ? (double)(peak - before) / 1024.0 : -1;
        ssize_t wrote = write(fds[1], &mib, sizeof mib);
        _exit(wrote == (ssize_t)sizeof mib ? 0 : 1);
    }
    close(fds[1]);
    double mib = -1;
    if (pid < 0 || read(fds[0], &mib, sizeof mib) != (ssize_t)sizeof mib) mib = -1;
    close(fds[0]);
    if (pid > 0) waitpid(pid, NULL, 0);
    return mib;
}

int main(int argc, char **argv)
{
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
    ff_workload w;
    if (!ff_workload_build(&w, workload, space.usable_frames, seed)) {
        char valid[256] = "";
        for (size_t i = 0; i < ff_workload_count; i++)
            strcat(strcat(valid, i ? " " : ""), ff_workloads[i].name);
        fprintf(stderr, "ffcompare: unknown workload '%s' (valid: %s corpus:DIR)\n", workload,
                valid);
        return 2;
    }
    for (size_t t = 0; t < n; t++) {
        const ff_backend_ops *ops = targets[t].ops;
        if (ops->policy.needs_backing && !ff_space_has_backing(&space) &&
            !ff_space_enable_backing(&space, FF_POISON_DEFAULT))
            die("%s", "cannot reserve backing memory");
        /* First, while nothing of this back-end is resident in this process yet. */
        double peak = peak_mib(&space, ops, &w);
        ff_finding first;
        size_t findings = checked_pass(&space, ops, &w, &first);
        ff_space_reset(&space);
        double a[100], f[100];
        timing measured = timed_pass(&space, ops, &w, true);
        for (int r = 0; r < runs; r++) {
            timing tr = timed_pass(&space, ops, &w, false);
            a[r] = tr.alloc_ns;
            f[r] = tr.free_ns;
        }
        qsort(a, (size_t)runs, sizeof *a, ff_cmp_double);
        qsort(f, (size_t)runs, sizeof *f, ff_cmp_double);
        char sig[96] = "";
        if (findings) ff_finding_signature(&first, sig, sizeof sig);
        printf("{\"backend\":\"%s\",\"workload\":\"%s\",\"preset\":\"%s\",\"usable_frames\":%llu,"
               "\"events\":%zu,\"alloc_ns\":{\"median\":%.1f,\"min\":%.1f,\"max\":%.1f},"
               "\"free_ns\":{\"median\":%.1f,\"min\":%.1f,\"max\":%.1f},\"ooms\":%llu,"
               "\"largest_free_block\":%llu,\"unusable_index_order9\":%.4f,"
               "\"metadata_bytes_per_frame\":%zu,\"peak_host_mib\":%.1f,\"checked\":%s,"
               "\"finding\":\"%s\"}\n",
               ops->name, workload, preset, (unsigned long long)space.usable_frames, w.n,
               a[runs / 2], a[0], a[runs - 1], f[runs / 2], f[0], f[runs - 1],
               (unsigned long long)measured.ooms, (unsigned long long)measured.largest,
               measured.unusable9, ff_meta_slot_bytes(), peak, findings ? "false" : "true", sig);
        fflush(stdout);
    }
    ff_workload_free(&w);
    ff_space_destroy(&space);
    return 0;
}
