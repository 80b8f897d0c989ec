/*
 * workload.c — the named workloads of `framefuzz compare` (contract in workload.h).
 *
 * Sizes scale with the space, so the same workload means the same pressure on 1 GiB
 * and on 1 TiB, with a cap on the number of events that keeps a run short. A name
 * "corpus:DIR" replays a fuzz corpus: its programs' allocations and drops.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "space.h"
#include "workload.h"

const ff_workload_info ff_workloads[] = {
    {"boot", "boot-time fill with single frames until memory runs out, then release all"},
    {"churn", "order-0 churn: single frames allocated and freed at random, ~1000 live"},
    {"kernel", "kernel-like mix: single frames, 4-frame stacks, 2 MiB huge frames"},
    {"storm", "fragmentation storm: fill with 8-frame blocks, free every other, ask for 64"},
    {"dma32", "requests limited to DMA32 (below 4 GiB) among unlimited ones"},
    {"lifetimes", "long-lived allocations kept to the end among short-lived churn"},
    {"huge", "2 MiB churn: 512-frame blocks, 512-aligned, allocated and freed at random, "
             "a quarter of RAM (at most 1000 blocks) live"},
};
const size_t ff_workload_count = sizeof ff_workloads / sizeof ff_workloads[0];

/* The cap on allocations per workload: a run stays well under a second. */
#define MAX_ALLOCS 200000

/* huge: a 2 MiB block, and the most blocks live at once. Each allocation moves 512
 * frames through the checked pass's oracle, so a quarter of MAX_ALLOCS keeps that pass
 * as short as the other workloads' (the timed pass does not mind). */
#define HUGE_FRAMES   512u
#define HUGE_LIVE_MAX 1000u
#define HUGE_ALLOCS   (MAX_ALLOCS / 4)

static uint64_t next_random(uint64_t *s)
{
    uint64_t x = *s += UINT64_C(0x9E3779B97F4A7C15);
    x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
    return x ^ (x >> 31);
}

static bool push(ff_workload *w, ff_wl_event e)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 1024;
        ff_wl_event *grown = realloc(w->ev, cap * sizeof *grown);
        if (!grown) return false;
        w->ev = grown;
        w->cap = cap;
    }
    w->ev[w->n++] = e;
    return true;
}

static bool alloc_ev(ff_workload *w, uint64_t count, uint64_t align, ff_zone zone)
{
    return push(w, (ff_wl_event){.req = {count, align, zone}});
}

static bool free_ev(ff_workload *w, size_t target)
{
    return push(w, (ff_wl_event){.is_free = true, .target = target});
}

/* Live allocation indices, with O(1) removal of a random one. */
typedef struct live_set {
    size_t *at;
    size_t n;
} live_set;

static size_t take_random(live_set *l, uint64_t *seed)
{
    size_t i = next_random(seed) % l->n;
    size_t v = l->at[i];
    l->at[i] = l->at[--l->n];
    return v;
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* A fuzz corpus as a workload: every program of the directory in name order, its
 * allocations as allocations and its drops as frees of the handles they name (other
 * operations have no back-end call of their own). */
static bool build_corpus(ff_workload *w, const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) return false;
    bool ok = true;
    size_t *live = malloc(sizeof *live * (FF_OPS_MAX + 1));
    if (!live) ok = false;
    for (int i = 0; i < n; i++) {
        char path[4096], err[200], *data;
        size_t size, nlive = 0;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        bool is_file = names[i]->d_name[0] != '.';
        free(names[i]);
        if (!ok || !is_file || !ff_read_file(path, 4u << 20, &data, &size, err, sizeof err)) continue;
        ff_program p;
        bool decoded = ff_program_decode(&p, (const uint8_t *)data, size);
        free(data);
        if (!decoded) continue;
        for (size_t k = 0; ok && k < p.nops && w->n < 2 * MAX_ALLOCS; k++) {
            const ff_op *op = &p.ops[k];
            if (op->kind == FF_OP_ALLOC && op->zone < FF_ZONE_COUNT) {
                live[nlive++] = w->n;
                ok = alloc_ev(w, op->count, op->align, op->zone);
            } else if ((op->kind == FF_OP_DROP || op->kind == FF_OP_DROP_PIECE) && nlive) {
                size_t h = op->handle % nlive;
                ok = free_ev(w, live[h]);
                memmove(&live[h], &live[h + 1], (nlive - h - 1) * sizeof *live);
                nlive--;
            }
        }
        while (ok && nlive) ok = free_ev(w, live[--nlive]); /* what each program left */
        ff_program_free(&p);
    }
    free(names);
    free(live);
    w->measure_at = w->n;
    return ok && w->n > 0;
}

bool ff_workload_build(ff_workload *w, const char *name, uint64_t frames, uint64_t seed)
{
    if (strncmp(name, "corpus:", 7) == 0) {
        memset(w, 0, sizeof *w);
        if (build_corpus(w, name + 7)) return true;
        ff_workload_free(w);
        return false;
    }
    memset(w, 0, sizeof *w);
    uint64_t s = seed;
    live_set live = {calloc(MAX_ALLOCS + 1, sizeof(size_t)), 0};
    bool ok = live.at != NULL;
    uint64_t allocs = min_u64(frames, MAX_ALLOCS);
    if (!ok) return false;

    if (strcmp(name, "boot") == 0) {
        for (uint64_t i = 0; ok && i < allocs; i++) ok = alloc_ev(w, 1, 1, FF_ZONE_NORMAL);
        w->measure_at = w->n;
        for (size_t i = 0; ok && i < allocs; i++) ok = free_ev(w, i);
    } else if (strcmp(name, "churn") == 0 || strcmp(name, "dma32") == 0 ||
               strcmp(name, "kernel") == 0 || strcmp(name, "lifetimes") == 0) {
        bool kernel = name[0] == 'k', dma32 = name[0] == 'd', lifetimes = name[0] == 'l';
        size_t target_live = (size_t)min_u64(1000, frames / 64 + 1);
        for (uint64_t i = 0; ok && i < allocs; i++) {
            uint64_t r = next_random(&s) % 100, count = 1, align = 1;
            if (kernel && r >= 70) count = align = r >= 90 ? 512 : 4;
            ff_zone zone = dma32 && r < 40 ? FF_ZONE_DMA32 : FF_ZONE_NORMAL;
            size_t idx = w->n;
            ok = alloc_ev(w, count, align, zone);
            /* lifetimes: one in ten lives to the end and is never churned */
            if (ok && !(lifetimes && r < 10)) live.at[live.n++] = idx;
            while (ok && live.n > target_live) ok = free_ev(w, take_random(&live, &s));
        }
        w->measure_at = w->n;
        while (ok && live.n) ok = free_ev(w, take_random(&live, &s));
    } else if (strcmp(name, "storm") == 0) {
        uint64_t blocks = min_u64(frames / 8, MAX_ALLOCS / 2);
        for (uint64_t i = 0; ok && i < blocks; i++) ok = alloc_ev(w, 8, 8, FF_ZONE_NORMAL);
        for (uint64_t i = 0; ok && i < blocks; i += 2) ok = free_ev(w, (size_t)i);
        for (uint64_t i = 0; ok && i < blocks / 16; i++) ok = alloc_ev(w, 64, 64, FF_ZONE_NORMAL);
        w->measure_at = w->n;
    } else if (strcmp(name, "huge") == 0) {
        /* Frames / 8 allocations of 512 frames (up to the cap) hand out every usable
         * frame about 64 times, and at most a quarter of the space's 2 MiB blocks is
         * live, so a free aligned block always exists: no OOM where RAM has any. */
        uint64_t blocks = frames / HUGE_FRAMES;
        size_t target_live = (size_t)min_u64(HUGE_LIVE_MAX, blocks / 4 + 1);
        uint64_t huge_allocs = min_u64(frames / 8, HUGE_ALLOCS);
        for (uint64_t i = 0; ok && i < huge_allocs; i++) {
            live.at[live.n++] = w->n;
            ok = alloc_ev(w, HUGE_FRAMES, HUGE_FRAMES, FF_ZONE_NORMAL);
            while (ok && live.n > target_live) ok = free_ev(w, take_random(&live, &s));
        }
        w->measure_at = w->n;
        while (ok && live.n) ok = free_ev(w, take_random(&live, &s));
    } else {
        ok = false;
    }
    free(live.at);
    if (!ok) ff_workload_free(w);
    return ok;
}

void ff_workload_free(ff_workload *w)
{
    free(w->ev);
    memset(w, 0, sizeof *w);
}
