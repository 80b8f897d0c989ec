/* common.c — the contract's shared services: names of the shared enums, the step-hook
 * exit, contiguous RAM runs and host memory. */
#include <stdlib.h>
#include <sys/mman.h>

#include "backend.h"

const char *ff_zone_name(ff_zone zone)
{
    static const char *const names[FF_ZONE_COUNT] = {"DMA", "DMA32", "Normal"};
    return (unsigned)zone < FF_ZONE_COUNT ? names[zone] : "?";
}

const char *ff_status_name(ff_status status)
{
    static const char *const names[FF_STATUS_COUNT] = {
        "ok", "foreign", "double", "misaligned", "wrong-size", "invalid", "nomem", "unsupported",
    };
    return (unsigned)status < FF_STATUS_COUNT ? names[status] : "?";
}

_Noreturn void ff_step_exhausted(ff_env *env)
{
    /* A budget without a landing place is a harness bug, not a back-end one. */
    if (!env->on_hang) abort();
    longjmp(*env->on_hang, 1);
}

/* Below this size calloc is cheaper than a mapping; above it, lazily mapped memory
 * keeps per-frame arrays over huge spaces from costing what they do not use. */
#define FF_HOST_MMAP_MIN (256u << 10)

/*
 * Mappings freed recently, kept for reuse. A harness rebuilds a back-end for every
 * input, and creating and tearing down a large mapping each time costs more than the
 * input's own work. A kept mapping is emptied with MADV_DONTNEED, which drops only
 * the pages that were touched and leaves the rest reading as zero, so reuse is as
 * cheap as it is correct. Process-wide, like the heap it stands beside; framefuzz is
 * single-threaded.
 */
#define KEPT_MAPPINGS 16
static struct kept {
    void *p;
    size_t bytes;
} kept[KEPT_MAPPINGS];

void *ff_host_zalloc(size_t bytes)
{
    if (bytes < FF_HOST_MMAP_MIN) return calloc(1, bytes ? bytes : 1);
    for (size_t i = 0; i < KEPT_MAPPINGS; i++)
        if (kept[i].p && kept[i].bytes == bytes) {
            void *p = kept[i].p;
            kept[i].p = NULL;
            return p;
        }
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void ff_host_free(void *p, size_t bytes)
{
    if (!p) return;
    if (bytes < FF_HOST_MMAP_MIN) {
        free(p);
        return;
    }
    for (size_t i = 0; i < KEPT_MAPPINGS; i++)
        if (!kept[i].p && madvise(p, bytes, MADV_DONTNEED) == 0) {
            kept[i] = (struct kept){p, bytes};
            return;
        }
    munmap(p, bytes);
}

bool ff_runs_init(ff_runs *runs, const ff_range *ranges, size_t nranges)
{
    *runs = (ff_runs){0};
    runs->run = calloc(nranges ? nranges : 1, sizeof *runs->run);
    if (!runs->run) return false;
    for (size_t i = 0; i < nranges; i++) {
        ff_range r = ranges[i];
        if (r.count == 0) continue;
        if (r.start >= FF_PFN_LIMIT || r.count > FF_PFN_LIMIT - r.start) goto bad;
        ff_run *last = runs->count ? &runs->run[runs->count - 1] : NULL;
        if (last && r.start < last->end) goto bad;
        if (last && r.start == last->end)
            last->end += r.count;
        else
            runs->run[runs->count++] = (ff_run){r.start, ff_range_end(r), runs->frames};
        runs->frames += r.count;
    }
    return true;
bad:
    ff_runs_destroy(runs);
    return false;
}

void ff_runs_destroy(ff_runs *runs)
{
    free(runs->run);
    *runs = (ff_runs){0};
}

const ff_run *ff_runs_find(const ff_runs *runs, ff_pfn pfn)
{
    size_t lo = 0, hi = runs->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pfn < runs->run[mid].start)
            hi = mid;
        else if (pfn >= runs->run[mid].end)
            lo = mid + 1;
        else
            return &runs->run[mid];
    }
    return NULL;
}
