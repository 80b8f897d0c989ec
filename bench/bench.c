/*
 * bench.c — `make bench`: the speed and memory figures of the core engine.
 *
 * For every back-end, at 1 GiB and 64 GiB of simulated RAM (presets pc-1g, pc-64g):
 *   order-0   ns per alloc(1) + free pair, with 4096 other frames held
 *   order-9   ns per 2 MiB (512 frames, 512-aligned) alloc + free pair
 *   mixed     ns per alloc + free pair of a seeded kernel-like trace (1 to 512 frames,
 *             up to 2048 blocks live)
 *   layer     ns per order-0 pair through the metadata layer (hardened semantics)
 * each the median of 5 runs, with the spread (min-max).
 * Then the metadata bytes per frame, and the peak host memory of a 1 TiB space with
 * each back-end (measured in a child process, so each figure is its own).
 * Figures are reported, never asserted: targets are printed beside them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "measure.h"
#include "meta.h"

#define RUNS 5

typedef struct figure {
    double median, min, max;
    bool supported;
} figure;

static figure summarise(double *runs)
{
    qsort(runs, RUNS, sizeof *runs, ff_cmp_double);
    return (figure){runs[RUNS / 2], runs[0], runs[RUNS - 1], true};
}

static void die(const char *what)
{
    fprintf(stderr, "bench: %s\n", what);
    exit(1);
}

/* A back-end instance over a preset, driven directly. */
typedef struct bench_target {
    const ff_backend_def *def;
    ff_space space;
    ff_env env;
    void *self;
} bench_target;

static void target_open(bench_target *t, const ff_backend_def *def, const char *preset)
{
    char err[160];
    t->def = def;
    if (!ff_space_init_preset(&t->space, preset, err, sizeof err)) die(err);
    if (def->policy.needs_backing && !ff_space_enable_backing(&t->space, FF_POISON_DEFAULT))
        die("no backing memory");
    t->env = (ff_env){.frame_mem = ff_space_has_backing(&t->space) ? ff_space_frame_mem : NULL,
                      .space = &t->space};
    t->self = def->create(&t->env, t->space.usable, t->space.nusable);
    if (!t->self) die("back-end create failed");
}

static void target_close(bench_target *t)
{
    t->def->destroy(t->self);
    ff_space_destroy(&t->space);
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* ---------------------------------------------------------------- workloads */

#define HELD 4096

/* ns per pair of alloc(count, align) + free, with HELD single frames held. */
static figure pair_cost(const ff_backend_def *def, const char *preset, uint64_t count,
                        uint64_t align, long iterations)
{
    double runs[RUNS];
    for (int r = 0; r < RUNS; r++) {
        bench_target t;
        target_open(&t, def, preset);
        static ff_pfn held[HELD];
        ff_alloc_req one = {.count = 1, .zone = FF_ZONE_NORMAL};
        for (int i = 0; i < HELD; i++)
            if (def->alloc(t.self, &one, &held[i]) != FF_OK) die("warm-up alloc failed");
        ff_alloc_req req = {.count = count, .align = align, .zone = FF_ZONE_NORMAL};
        ff_pfn p;
        if (def->alloc(t.self, &req, &p) != FF_OK) {
            target_close(&t);
            return (figure){0};
        }
        def->free(t.self, p, count);
        double t0 = ff_now_ns();
        for (long i = 0; i < iterations; i++) {
            if (def->alloc(t.self, &req, &p) != FF_OK) die("alloc failed mid-run");
            def->free(t.self, p, count);
        }
        runs[r] = (ff_now_ns() - t0) / (double)iterations;
        target_close(&t);
    }
    return summarise(runs);
}

/* A kernel-like mix: mostly single frames, some 4-frame stacks, a few 2 MiB blocks. */
static uint64_t mixed_size(uint64_t *seed)
{
    uint64_t r = xorshift(seed) % 100;
    if (r < 70) return 1;
    if (r < 85) return 4;
    if (r < 93) return 16;
    if (r < 95) return 512;
    return 2 + xorshift(seed) % 7;
}

#define LIVE_MAX 2048

static figure mixed_cost(const ff_backend_def *def, const char *preset, long pairs)
{
    double runs[RUNS];
    static ff_pfn start[LIVE_MAX];
    static uint64_t count[LIVE_MAX];
    for (int r = 0; r < RUNS; r++) {
        bench_target t;
        target_open(&t, def, preset);
        uint64_t seed = 0x9e3779b97f4a7c15u;
        size_t live = 0;
        long allocs = 0;
        double t0 = ff_now_ns();
        while (allocs < pairs) {
            bool do_alloc = live == 0 || (live < LIVE_MAX && (xorshift(&seed) & 1));
            if (do_alloc) {
                uint64_t n = mixed_size(&seed);
                ff_alloc_req req = {.count = n, .align = n == 512 ? 512 : 1, .zone = FF_ZONE_NORMAL};
                if (def->alloc(t.self, &req, &start[live]) == FF_OK) count[live++] = n;
                allocs++;
            } else {
                size_t i = xorshift(&seed) % live;
                def->free(t.self, start[i], count[i]);
                start[i] = start[--live];
                count[i] = count[live];
            }
        }
        while (live) {
            live--;
            def->free(t.self, start[live], count[live]);
        }
        runs[r] = (ff_now_ns() - t0) / (double)pairs;
        target_close(&t);
    }
    return summarise(runs);
}

static figure layer_cost(const ff_backend_def *def, const char *preset, long iterations)
{
    double runs[RUNS];
    for (int r = 0; r < RUNS; r++) {
        char err[160];
        ff_space space;
        if (!ff_space_init_preset(&space, preset, err, sizeof err)) die(err);
        ff_meta_opts opts = {.semantics = FF_SEM_HARDENED};
        ff_meta *m = ff_meta_create(&space, def, &opts, err, sizeof err);
        if (!m) die(err);
        ff_alloc_req one = {.count = 1, .zone = FF_ZONE_NORMAL};
        ff_handle h;
        double t0 = ff_now_ns();
        for (long i = 0; i < iterations; i++) {
            if (ff_meta_alloc(m, &one, 1, &h) != FF_META_OK) die("layer alloc failed");
            ff_meta_drop(m, h);
        }
        runs[r] = (ff_now_ns() - t0) / (double)iterations;
        ff_meta_destroy(m);
        ff_space_destroy(&space);
    }
    return summarise(runs);
}

/* ---------------------------------------------------------------- memory */

/* Peak RSS (MiB) of a child that builds a 1 TiB space, the metadata layer and the
 * back-end, and runs 10,000 single-frame and 100 2 MiB allocations through it. */
static double tib_peak_mib(const ff_backend_def *def, double *create_ms)
{
    int fds[2];
    if (pipe(fds) != 0) die("pipe");
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        close(fds[0]);
        char err[160];
        ff_space space;
        double result[2] = {-1, -1};
        double t0 = ff_now_ns();
        ff_meta_opts opts = {.semantics = FF_SEM_HARDENED};
        ff_meta *m = NULL;
        if (ff_space_init_preset(&space, "pc-1t", err, sizeof err))
            m = ff_meta_create(&space, def, &opts, err, sizeof err);
        if (m) {
            result[1] = (ff_now_ns() - t0) / 1e6;
            static ff_handle h[10000];
            ff_alloc_req one = {.count = 1, .zone = FF_ZONE_NORMAL};
            ff_alloc_req huge = {.count = 512, .align = 512, .zone = FF_ZONE_NORMAL};
            for (int i = 0; i < 10000; i++) ff_meta_alloc(m, &one, 1, &h[i]);
            for (int i = 0; i < 10000; i++) ff_meta_drop(m, h[i]);
            for (int i = 0; i < 100; i++) ff_meta_alloc(m, &huge, 1, &h[i]);
            for (int i = 0; i < 100; i++) ff_meta_drop(m, h[i]);
            result[0] = (double)ff_status_kib("VmHWM:") / 1024.0;
        }
        if (write(fds[1], result, sizeof result) != (ssize_t)sizeof result) _exit(1);
        _exit(0);
    }
    close(fds[1]);
    double result[2] = {-1, -1};
    if (read(fds[0], result, sizeof result) != (ssize_t)sizeof result) result[0] = -1;
    close(fds[0]);
    waitpid(pid, NULL, 0);
    *create_ms = result[1];
    return result[0];
}

/* ---------------------------------------------------------------- report */

static void print_figure(figure f, const char *unit_scale)
{
    if (!f.supported) {
        printf(" %22s", "unsupported");
        return;
    }
    char buf[64];
    snprintf(buf, sizeof buf, "%.1f (%.1f-%.1f)%s", f.median, f.min, f.max, unit_scale);
    printf(" %22s", buf);
}

int main(void)
{
    static const struct {
        const char *preset, *label;
    } sizes[] = {{"pc-1g", "1 GiB"}, {"pc-64g", "64 GiB"}};
    figure buddy_o0[2] = {{0}}, bitmap_o9_64 = {0};

    printf("framefuzz bench: ns per alloc+free pair, median of %d runs (min-max)\n\n", RUNS);
    printf("%-9s %-7s %22s %22s %22s %22s\n", "back-end", "RAM", "order-0", "order-9 (2 MiB)",
           "mixed trace", "order-0 via layer");
    for (size_t b = 0; b < ff_backend_count; b++) {
        const ff_backend_def *def = ff_backends[b];
        for (size_t s = 0; s < 2; s++) {
            figure o0 = pair_cost(def, sizes[s].preset, 1, 1, 200000);
            figure o9 = pair_cost(def, sizes[s].preset, 512, 512, 20000);
            figure mix = mixed_cost(def, sizes[s].preset, 100000);
            figure lay = layer_cost(def, sizes[s].preset, 200000);
            printf("%-9s %-7s", def->name, sizes[s].label);
            print_figure(o0, "");
            print_figure(o9, "");
            print_figure(mix, "");
            print_figure(lay, "");
            printf("\n");
            if (strcmp(def->name, "buddy") == 0) buddy_o0[s] = o0;
            if (strcmp(def->name, "bitmap") == 0 && s == 1) bitmap_o9_64 = o9;
        }
    }

    printf("\nmetadata: %zu bytes per frame\n", ff_meta_slot_bytes());
    printf("\n1 TiB space (preset pc-1t) + metadata layer + back-end, 10,000 order-0 and 100 "
           "2 MiB allocations:\n");
    double worst_mib = 0;
    for (size_t b = 0; b < ff_backend_count; b++) {
        double create_ms;
        double mib = tib_peak_mib(ff_backends[b], &create_ms);
        if (mib < 0) {
            printf("  %-9s could not be built\n", ff_backends[b]->name);
            worst_mib = 1e12;
            continue;
        }
        printf("  %-9s peak host RSS %8.1f MiB, built in %7.1f ms\n", ff_backends[b]->name, mib,
               create_ms);
        if (mib > worst_mib) worst_mib = mib;
    }

    printf("\ntargets:\n");
    printf("  buddy order-0 pair <= 40 ns:            %.1f ns at 1 GiB, %.1f ns at 64 GiB  %s\n",
           buddy_o0[0].median, buddy_o0[1].median,
           buddy_o0[0].median <= 40 && buddy_o0[1].median <= 40 ? "met" : "MISSED");
    printf("  bitmap 512-frame pair at 64 GiB <= 2 us: %.0f ns  %s\n", bitmap_o9_64.median,
           bitmap_o9_64.supported && bitmap_o9_64.median <= 2000 ? "met" : "MISSED");
    printf("  metadata <= 16 bytes per frame:          %zu  %s\n", ff_meta_slot_bytes(),
           ff_meta_slot_bytes() <= 16 ? "met" : "MISSED");
    printf("  1 TiB space <= 8 GiB host memory:        %.0f MiB at worst  %s\n", worst_mib,
           worst_mib <= 8192 ? "met" : "MISSED");
    return 0;
}
