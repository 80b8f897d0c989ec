/*
 * xv6.c — an example plug-in: xv6's kalloc, a single-frame free list whose links live
 * inside the free frames themselves.
 *
 *   framefuzz fuzz --plugin plugins/xv6.c --target xv6
 *   framefuzz repro --plugin plugins/xv6.c FILE
 *
 * As in xv6, kfree() pushes a frame on the list by writing the link into the frame, and
 * kalloc() pops the head. As in a kernel, a frame's memory is one addition away from a
 * base (xv6's P2V): create asks for that base with ff_frame_base, and every frame is
 * valid through it for the whole run, with no per-frame call. Two departures, both for the simulation's sake: frames that
 * were never freed are handed out from a per-range frontier instead of being threaded
 * onto the list at boot (xv6's freerange touches every frame; here that would
 * materialise every frame of a 4 GiB map), and frees are checked for range and size,
 * as xv6 checks alignment and range before it panics.
 *
 * Like xv6, it does not check for double frees: freeing a frame twice puts it on the
 * list twice, and it is handed out twice. `framefuzz fuzz --plugin plugins/xv6.c`
 * reports that within seconds (accepted-double-free@xv6, then double-handout@xv6) — a
 * real finding, the one xv6's comments warn about.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#define NIL UINT64_MAX

typedef struct xv6_range {
    ff_pfn end;      /* first frame past the range */
    ff_pfn frontier; /* frames from here to end were never handed out */
} xv6_range;

typedef struct xv6 {
    ff_env *env;
    unsigned char *base; /* frame pfn's memory is base + pfn * FF_FRAME_SIZE */
    ff_runs ram;       /* managed RAM, to tell foreign frames */
    xv6_range *ranges; /* one per RAM run */
    ff_pfn head;       /* the free list: freed frames, last freed first, or NIL */
    uint64_t free_frames;
} xv6;

/* The in-band link: the first 8 bytes of a free frame name the next free frame. */
static uint64_t *link_of(xv6 *k, ff_pfn pfn)
{
    return (uint64_t *)(void *)(k->base + pfn * FF_FRAME_SIZE);
}

static void *xv6_create(ff_env *env, const ff_range *ranges, size_t nranges)
{
    if (!env) return NULL;
    unsigned char *base = ff_frame_base(env); /* needs_backing: the links live in frames */
    if (!base) return NULL;
    xv6 *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    k->env = env;
    k->base = base;
    k->head = NIL;
    if (!ff_runs_init(&k->ram, ranges, nranges)) goto fail;
    k->ranges = calloc(k->ram.count ? k->ram.count : 1, sizeof *k->ranges);
    if (!k->ranges) goto fail;
    for (size_t i = 0; i < k->ram.count; i++) {
        ff_step(env);
        k->ranges[i] = (xv6_range){k->ram.run[i].end, k->ram.run[i].start};
    }
    k->free_frames = k->ram.frames;
    return k;
fail:
    ff_runs_destroy(&k->ram);
    free(k);
    return NULL;
}

static void xv6_destroy(void *self)
{
    xv6 *k = self;
    if (!k) return;
    ff_runs_destroy(&k->ram);
    free(k->ranges);
    free(k);
}

/* kalloc(): one frame, the list's head first, else the first never-used frame. */
static ff_status xv6_alloc(void *self, const ff_alloc_req *req, ff_pfn *start)
{
    xv6 *k = self;
    if (req->count == 0 || req->count > 1 || (unsigned)req->zone >= FF_ZONE_COUNT ||
        (req->align > 1 && !ff_is_pow2(req->align)) || req->align > FF_PFN_LIMIT)
        return FF_ERR_INVALID;
    if (req->zone != FF_ZONE_NORMAL || req->align > 1) return FF_ERR_UNSUPPORTED;
    if (k->head != NIL) {
        *start = k->head;
        k->head = *link_of(k, k->head); /* as xv6: the link is trusted */
        k->free_frames--;
        return FF_OK;
    }
    for (size_t i = 0; i < k->ram.count; i++) {
        ff_step(k->env);
        if (k->ranges[i].frontier < k->ranges[i].end) {
            *start = k->ranges[i].frontier++;
            k->free_frames--;
            return FF_OK;
        }
    }
    return FF_ERR_NOMEM;
}

/* kfree(): range and size are checked; a double free is not (xv6's own flaw). */
static ff_status xv6_free(void *self, ff_pfn start, uint64_t count)
{
    xv6 *k = self;
    if (count == 0 || count > FF_PFN_LIMIT || start > FF_PFN_LIMIT - count) return FF_ERR_INVALID;
    if (!ff_runs_find(&k->ram, start)) return FF_ERR_FOREIGN;
    if (count != 1) return FF_ERR_WRONG_SIZE;
    *link_of(k, start) = k->head;
    k->head = start;
    k->free_frames++;
    return FF_OK;
}

static uint64_t xv6_free_frames(const void *self) { return ((const xv6 *)self)->free_frames; }

/* The list holds managed frames only, below their range's frontier, and no more of
 * them than the counter allows (which also ends a walk round a cycle). */
static const char *xv6_check(void *self)
{
    xv6 *k = self;
    uint64_t listed = 0, unused = 0;
    for (size_t i = 0; i < k->ram.count; i++) {
        ff_step(k->env);
        unused += k->ranges[i].end - k->ranges[i].frontier;
    }
    for (ff_pfn p = k->head; p != NIL; p = *link_of(k, p)) {
        ff_step(k->env);
        const ff_run *run = ff_runs_find(&k->ram, p);
        if (!run) return "the free list holds a frame that is not managed RAM";
        if (p >= k->ranges[run - k->ram.run].frontier)
            return "the free list holds a frame that was never handed out";
        if (++listed + unused > k->free_frames)
            return "the free list holds more frames than the counter (a cycle, or a double free)";
    }
    if (listed + unused != k->free_frames) return "the free counter disagrees with the free list";
    return NULL;
}

const ff_backend_def ff_backend_xv6 = {
    .name = "xv6",
    .summary = "example plug-in: xv6's kalloc, single frames on an in-band free list",
    .policy =
        {
            .placement = FF_PLACE_ANY_RUN,
            .rounding = FF_ROUND_NONE,
            .free_rule = FF_FREE_EXACT,
            .max_order = 0, /* single frames only */
            .validates_frees = true,
            .honours_zone = false,
            .honours_align = false,
            .needs_backing = true,
            .inband_bytes = sizeof(uint64_t),
        },
    .create = xv6_create,
    .destroy = xv6_destroy,
    .alloc = xv6_alloc,
    .free = xv6_free,
    .free_frames = xv6_free_frames,
    .check = xv6_check,
};
