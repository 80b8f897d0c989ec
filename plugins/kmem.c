/*
 * kmem.c — an example plug-in: an allocator written around global state, as a
 * kernel's is, that keeps its metadata (a bitmap) inside the frames it manages.
 *
 *   framefuzz fuzz --plugin plugins/kmem.c --target kmem
 *   framefuzz fuzz --plugin plugins/kmem.c --plugin-cflags=-DFF_EXAMPLE_BUG --target kmem
 *   framefuzz repro --plugin plugins/kmem.c FILE
 *
 * The contract features.
 *   Globals. All state is the file-scope `kmem`, which every function uses, as in a
 *   kernel. framefuzz keeps several instances alive (one per memory map, semantics and
 *   poison setting) and calls them interleaved, so each instance keeps a copy of the
 *   globals, and every hook starts with kmem_load(self): when self is not the instance
 *   whose state the globals hold, those are saved into their instance and self's are
 *   loaded. create saves the running instance's first and builds new globals from
 *   scratch. A call left through the hang handler (ff_step, ff_panic) may leave the
 *   globals half-updated: the instance is never called again but for destroy, which
 *   frees only what the instance recorded at create (its run table) and drops the
 *   globals unsaved.
 *   Metadata in managed frames. The bitmap (one bit per RAM frame, set while handed
 *   out) lives in the first frames of the first RAM run that holds it: create takes
 *   them with ff_keep_frames(env, start, count), calls env->frame_mem for each of them
 *   (a frame's memory is made the first time it is asked for), then uses them as one
 *   array (all frames are one contiguous mapping). Policy: needs_backing = true,
 *   inband_bytes = 0 (it writes only its kept frames, never a free one). The kept
 *   frames are never free and never handed out: the first-fit scan of their run starts
 *   past them (their bits stay clear), and free refuses them as foreign.
 *
 * Policy otherwise: first fit over single frames or runs (FF_PLACE_ANY_RUN,
 * FF_ROUND_NONE), any alignment, zone limits; free rule FF_FREE_PIECEWISE: any run of
 * allocated frames may be freed (FOREIGN for non-RAM or kept frames, DOUBLE for free
 * ones). The free counter is a global too.
 *
 * Its twin (-DFF_EXAMPLE_BUG): the first-fit scan starts at the first RAM frame instead
 * of past the bitmap, so it hands out its own metadata frames. framefuzz's oracle knows
 * the kept frames and reports double-handout@kmem.
 */
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#define NONE UINT64_MAX

static struct kmem {
    ff_env *env;
    ff_runs ram;    /* RAM runs (the table belongs to the instance: kmem_inst.ram) */
    uint64_t *bits; /* the bitmap, in the kept frames: per RAM frame (dense index) */
    ff_pfn meta;    /* the kept frames [meta, meta + nmeta) */
    uint64_t nmeta;
    uint64_t nfree; /* free frames */
} kmem;

typedef struct kmem_inst {
    struct kmem saved; /* its globals, while another instance's are loaded */
    ff_runs ram;       /* host memory it owns: set at create, never changed, freed by destroy */
} kmem_inst;

static kmem_inst *kmem_loaded; /* the instance whose state `kmem` holds, or NULL */

static void kmem_load(kmem_inst *self)
{
    if (kmem_loaded == self) return;
    if (kmem_loaded) kmem_loaded->saved = kmem;
    kmem = self->saved;
    kmem_loaded = self;
}

static inline uint64_t dense(const ff_run *run, ff_pfn pfn) { return run->base + (pfn - run->start); }

static inline uint64_t span_mask(unsigned lo, unsigned len)
{
    return (len == 64 ? ~UINT64_C(0) : (UINT64_C(1) << len) - 1) << lo;
}

static inline unsigned piece(uint64_t i, uint64_t end)
{
    uint64_t room = 64 - i % 64;
    return (unsigned)(end - i < room ? end - i : room);
}

/* The last set bit in [i, i + n), or NONE. */
static uint64_t last_set(uint64_t i, uint64_t n)
{
    for (uint64_t end = i + n; end > i;) {
        ff_step(kmem.env);
        uint64_t lo = (end - 1) / 64 * 64 > i ? (end - 1) / 64 * 64 : i;
        uint64_t bits = kmem.bits[lo / 64] & span_mask((unsigned)(lo % 64), (unsigned)(end - lo));
        if (bits) return lo / 64 * 64 + 63 - (unsigned)__builtin_clzll(bits);
        end = lo;
    }
    return NONE;
}

static bool all_set(uint64_t i, uint64_t n)
{
    for (uint64_t end = i + n; i < end;) {
        ff_step(kmem.env);
        unsigned len = piece(i, end);
        uint64_t mask = span_mask((unsigned)(i % 64), len);
        if ((kmem.bits[i / 64] & mask) != mask) return false;
        i += len;
    }
    return true;
}

static void set_bits(uint64_t i, uint64_t n, bool value)
{
    for (uint64_t end = i + n; i < end;) {
        ff_step(kmem.env);
        unsigned len = piece(i, end);
        uint64_t mask = span_mask((unsigned)(i % 64), len);
        kmem.bits[i / 64] = value ? kmem.bits[i / 64] | mask : kmem.bits[i / 64] & ~mask;
        i += len;
    }
}

static void kmem_destroy(void *p)
{
    kmem_inst *self = p;
    if (!self) return;
    if (kmem_loaded == self) { /* its globals go with it, unsaved and untrusted */
        kmem_loaded = NULL;
        memset(&kmem, 0, sizeof kmem);
    }
    ff_runs_destroy(&self->ram);
    free(self);
}

static void *kmem_create(ff_env *env, const ff_range *ranges, size_t nranges)
{
    if (!env || !env->frame_mem || (nranges && !ranges)) return NULL;
    kmem_inst *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    if (!ff_runs_init(&self->ram, ranges, nranges)) goto fail;
    /* The bitmap's frames: the first ones of the first RAM run that holds them all. */
    uint64_t nmeta = (self->ram.frames + 8 * FF_FRAME_SIZE - 1) / (8 * FF_FRAME_SIZE);
    const ff_run *home = NULL;
    for (size_t r = 0; r < self->ram.count && nmeta && !home; r++) {
        ff_step(env);
        if (self->ram.run[r].end - self->ram.run[r].start >= nmeta) home = &self->ram.run[r];
    }
    if (nmeta && !home) goto fail;
    uint64_t *bits = NULL;
    for (uint64_t i = 0; i < nmeta; i++) { /* each frame's memory is made when first asked for */
        ff_step(env);
        void *mem = env->frame_mem(env->space, home->start + i);
        if (!mem) goto fail;
        if (i == 0) bits = mem;
    }
    if (nmeta) memset(bits, 0, nmeta * FF_FRAME_SIZE);
    if (nmeta) ff_keep_frames(env, home->start, nmeta);
    /* The running instance's globals are saved; this one's are built from scratch. */
    if (kmem_loaded) kmem_loaded->saved = kmem;
    kmem = (struct kmem){.env = env, .ram = self->ram, .bits = bits, .meta = nmeta ? home->start : 0,
                         .nmeta = nmeta, .nfree = self->ram.frames - nmeta};
    kmem_loaded = self;
    return self;
fail:
    ff_runs_destroy(&self->ram);
    free(self);
    return NULL;
}

static ff_status kmem_alloc(void *self, const ff_alloc_req *req, ff_pfn *start)
{
    kmem_load(self);
    uint64_t n = req->count, align = req->align > 1 ? req->align : 1;
    if (n == 0 || n > FF_PFN_LIMIT || !ff_is_pow2(align) || align > FF_PFN_LIMIT ||
        (unsigned)req->zone >= FF_ZONE_COUNT)
        return FF_ERR_INVALID;
    ff_pfn limit = ff_zone_end(req->zone);
    for (size_t r = 0; r < kmem.ram.count; r++) {
        const ff_run *run = &kmem.ram.run[r];
        ff_pfn lo = run->start, hi = run->end < limit ? run->end : limit;
#ifdef FF_EXAMPLE_BUG
        /* EXAMPLE BUG (FF_EXAMPLE_BUG): the scan starts at the first RAM frame, not past
         * the bitmap: the kept frames' bits are clear, so they are handed out. */
#else
        if (kmem.nmeta && lo == kmem.meta) lo += kmem.nmeta; /* the bitmap is not free */
#endif
        for (ff_pfn p = (lo + align - 1) / align * align; p < hi && n <= hi - p;) {
            ff_step(kmem.env);
            uint64_t taken = last_set(dense(run, p), n);
            if (taken == NONE) {
                set_bits(dense(run, p), n, true);
                kmem.nfree -= n;
                *start = p;
                return FF_OK;
            }
            p = (run->start + (taken - run->base) + 1 + align - 1) / align * align;
        }
    }
    return FF_ERR_NOMEM;
}

static ff_status kmem_free(void *self, ff_pfn start, uint64_t count)
{
    kmem_load(self);
    if (count == 0 || count > FF_PFN_LIMIT || start > FF_PFN_LIMIT - count) return FF_ERR_INVALID;
    const ff_run *run = ff_runs_find(&kmem.ram, start);
    if (!run || count > run->end - start) return FF_ERR_FOREIGN;
    if (start < kmem.meta + kmem.nmeta && kmem.meta < start + count) return FF_ERR_FOREIGN; /* kept */
    if (!all_set(dense(run, start), count)) return FF_ERR_DOUBLE;
    set_bits(dense(run, start), count, false);
    kmem.nfree += count;
    return FF_OK;
}

static uint64_t kmem_free_frames(const void *self)
{
    return self == kmem_loaded ? kmem.nfree : ((const kmem_inst *)self)->saved.nfree;
}

/* The kept frames' bits are clear, so is every bit past the last RAM frame, and the
 * counter is the number of clear bits outside the kept frames. */
static const char *kmem_check(void *self)
{
    kmem_load(self);
    if (!kmem.nmeta) return NULL;
    const ff_run *home = ff_runs_find(&kmem.ram, kmem.meta);
    if (!home || last_set(dense(home, kmem.meta), kmem.nmeta) != NONE) return "a kept frame's bit is set";
    uint64_t words = kmem.nmeta * FF_FRAME_SIZE / 8, set = 0;
    for (uint64_t w = 0; w < words; w++) {
        ff_step(kmem.env);
        set += (uint64_t)__builtin_popcountll(kmem.bits[w]);
    }
    if (last_set(kmem.ram.frames, words * 64 - kmem.ram.frames) != NONE)
        return "a bit past the last RAM frame is set";
    return kmem.ram.frames - kmem.nmeta - set == kmem.nfree ? NULL
                                                             : "the free counter disagrees with the bitmap";
}

const ff_backend_def ff_backend_kmem = {
    .name = "kmem",
    .summary = "example plug-in: kernel-style globals, first-fit bitmap kept in its own frames",
    .policy =
        {
            .placement = FF_PLACE_ANY_RUN,
            .rounding = FF_ROUND_NONE,
            .free_rule = FF_FREE_PIECEWISE,
            .max_order = FF_ORDER_ANY,
            .validates_frees = true,
            .honours_zone = true,
            .honours_align = true,
            .needs_backing = true,
            .inband_bytes = 0,
        },
    .create = kmem_create,
    .destroy = kmem_destroy,
    .alloc = kmem_alloc,
    .free = kmem_free,
    .free_frames = kmem_free_frames,
    .check = kmem_check,
};
