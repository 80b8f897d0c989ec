/* support.c — the back-end support code the contract (backend.h) declares: names of the
 * shared enums, ff_keep_frames and ff_frame_base, the undo log, host memory, contiguous
 * RAM runs (ff_runs) and the validation of a back-end's table. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
        "rejected",
    };
    return (unsigned)status < FF_STATUS_COUNT ? names[status] : "?";
}

/* Leaves the back-end call through the layer's landing place, telling it why first. */
static _Noreturn void leave(ff_env *env, ff_exit why, const char *message)
{
    /* A budget without a landing place is a harness bug, not a back-end one. */
    if (!env->on_hang) {
        if (why == FF_EXIT_PANIC) fprintf(stderr, "framefuzz: allocator panic: %s\n", message);
        abort();
    }
    if (env->on_exit) env->on_exit(env, why, message);
    longjmp(*env->on_hang, (int)why);
}

/* noinline: the layer names the function that spent the budget from the return
 * addresses on the stack, which must include the back-end's loop. */
__attribute__((noinline)) _Noreturn void ff_step_exhausted(ff_env *env)
{
    leave(env, FF_EXIT_HANG, "");
}

__attribute__((noinline)) _Noreturn void ff_panic(ff_env *env, const char *fmt, ...)
{
    char message[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    leave(env, FF_EXIT_PANIC, message);
}

void ff_keep_frames(ff_env *env, ff_pfn start, uint64_t count)
{
    /* Outside the layer (a unit test, a timed pass) nobody keeps score of frames. */
    if (env->on_keep) env->on_keep(env, start, count);
}

bool ff_undo_grow(ff_undo *u)
{
    size_t cap = u->cap ? 2 * u->cap : 256;
    ff_undo_entry *log = cap <= SIZE_MAX / sizeof *log ? realloc(u->log, cap * sizeof *log) : NULL;
    if (!log) {
        u->lost = true;
        u->on = false; /* nothing more to save: the instance will be rebuilt */
        return false;
    }
    u->log = log;
    u->cap = cap;
    return true;
}

bool ff_undo_rewind(ff_undo *u)
{
    if (u->lost || !u->on) return false;
    /* Saves are words and link pairs: copies of a size known here compile to moves,
     * not a library call each. */
    for (size_t i = u->count; i-- > 0;) {
        const ff_undo_entry *e = &u->log[i];
        switch (e->size) {
        case 4: memcpy(e->at, e->old, 4); break;
        case 8: memcpy(e->at, e->old, 8); break;
        case 16: memcpy(e->at, e->old, 16); break;
        default: memcpy(e->at, e->old, e->size); break;
        }
    }
    u->count = 0;
    return true;
}

void ff_undo_destroy(ff_undo *u)
{
    free(u->log);
    *u = (ff_undo){0};
}

void *ff_frame_base(ff_env *env)
{
    return env->on_base ? env->on_base(env) : NULL;
}

/* Below this size calloc is cheaper than a mapping; above it, lazily mapped memory
 * keeps per-frame arrays over huge spaces from costing what they do not use. */
#define FF_HOST_MMAP_MIN (256u << 10)

/*
 * Mappings freed recently, kept for reuse, all zero. A harness builds layers, oracles
 * and back-ends for every new map a fuzzer tries, and creating and tearing down their
 * large arrays each time costs more than the runs over them. Mappings come in
 * power-of-two sizes so that arrays over maps of about the same size share them. A
 * mapping given back dirty is emptied with MADV_DONTNEED, which drops only the pages
 * that were touched and leaves the rest reading as zero; one its owner zeroed itself
 * keeps its pages and costs no system call at all. Process-wide, like the heap it
 * stands beside; framefuzz is single-threaded.
 */
#define KEPT_MAPPINGS 16
#define KEPT_CLASS_MAX ((size_t)1 << 30) /* larger mappings are exactly the size asked */
static struct kept {
    void *p;
    size_t bytes;
} kept[KEPT_MAPPINGS]; /* oldest first */
static size_t nkept;

static size_t mapping_bytes(size_t bytes)
{
    if (bytes > KEPT_CLASS_MAX) return bytes;
    size_t c = FF_HOST_MMAP_MIN;
    while (c < bytes) c *= 2;
    return c;
}

void *ff_host_zalloc(size_t bytes)
{
    if (bytes < FF_HOST_MMAP_MIN) return calloc(1, bytes ? bytes : 1);
    size_t len = mapping_bytes(bytes);
    for (size_t i = nkept; i-- > 0;) /* the newest first: its pages are the likeliest in place */
        if (kept[i].bytes == len) {
            void *p = kept[i].p;
            memmove(&kept[i], &kept[i + 1], (nkept - i - 1) * sizeof kept[0]);
            nkept--;
            return p;
        }
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void host_give_back(void *p, size_t bytes, bool zeroed)
{
    if (!p) return;
    if (bytes < FF_HOST_MMAP_MIN) {
        free(p);
        return;
    }
    size_t len = mapping_bytes(bytes);
    if (!zeroed && madvise(p, len, MADV_DONTNEED) != 0) {
        munmap(p, len);
        return;
    }
    if (nkept == KEPT_MAPPINGS) { /* the oldest goes */
        munmap(kept[0].p, kept[0].bytes);
        memmove(&kept[0], &kept[1], (KEPT_MAPPINGS - 1) * sizeof kept[0]);
        nkept--;
    }
    kept[nkept++] = (struct kept){p, len};
}

void ff_host_free(void *p, size_t bytes) { host_give_back(p, bytes, false); }
void ff_host_free_zeroed(void *p, size_t bytes) { host_give_back(p, bytes, true); }

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

bool ff_backend_validate(const ff_backend_def *def, char *err, size_t errlen)
{
    const char *name = def->name ? def->name : "";
    if (!*name || strlen(name) > 24 || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(name)) {
        snprintf(err, errlen, "name '%s' must be 1-24 characters of [a-z0-9_-]", name);
        return false;
    }
    const struct {
        const char *hook;
        bool present;
    } hooks[] = {{"create", def->create != NULL}, {"destroy", def->destroy != NULL},
                 {"alloc", def->alloc != NULL},   {"free", def->free != NULL}};
    for (size_t i = 0; i < sizeof hooks / sizeof hooks[0]; i++)
        if (!hooks[i].present) {
            snprintf(err, errlen, "%s: the required hook .%s is missing", name, hooks[i].hook);
            return false;
        }
    const ff_policy *p = &def->policy;
    if ((unsigned)p->placement > FF_PLACE_AS_ASKED || (unsigned)p->rounding > FF_ROUND_POW2 ||
        (unsigned)p->free_rule > FF_FREE_BY_ADDRESS) {
        snprintf(err, errlen, "%s: policy has an unknown placement, rounding or free rule", name);
        return false;
    }
    if (p->max_order > 40 && p->max_order != FF_ORDER_ANY) {
        snprintf(err, errlen, "%s: policy max_order %u is past the frame space (at most 40, or FF_ORDER_ANY)", name,
                 p->max_order);
        return false;
    }
    if (p->fit_order && (p->placement == FF_PLACE_ANY_RUN || p->fit_order > 40)) {
        snprintf(err, errlen, "%s: policy fit_order %u needs a power-of-two placement and at "
                              "most 40", name, p->fit_order);
        return false;
    }
    if (p->rounding == FF_ROUND_POW2 && p->placement != FF_PLACE_POW2_NATURAL) {
        snprintf(err, errlen, "%s: policy rounds to powers of two but places any run: "
                              "power-of-two rounding needs power-of-two placement", name);
        return false;
    }
    if (p->free_rule == FF_FREE_SIZE_CLASS && p->rounding != FF_ROUND_POW2) {
        snprintf(err, errlen, "%s: policy frees by power-of-two size class but does not round "
                              "to powers of two: size-class frees need power-of-two rounding",
                 name);
        return false;
    }
    if (p->inband_bytes >= FF_FRAME_SIZE) {
        snprintf(err, errlen, "%s: policy inband_bytes %u leaves nothing of a %u-byte frame to check",
                 name, p->inband_bytes, (unsigned)FF_FRAME_SIZE);
        return false;
    }
    if (p->inband_bytes && !p->needs_backing) {
        snprintf(err, errlen, "%s: policy declares %u in-band bytes but not needs_backing: "
                              "in-band structures live in the frames' backing memory",
                 name, p->inband_bytes);
        return false;
    }
    return true;
}
