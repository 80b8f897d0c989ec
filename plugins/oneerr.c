/*
 * oneerr.c — an example plug-in: an allocator with one error code, as one that returns
 * NULL (or -EINVAL) for everything that goes wrong: FF_ERR_REJECTED.
 *
 *   framefuzz fuzz --plugin plugins/oneerr.c --target oneerr
 *   framefuzz fuzz --plugin plugins/oneerr.c --plugin-cflags=-DFF_EXAMPLE_BUG --target oneerr
 *   framefuzz repro --plugin plugins/oneerr.c FILE
 *
 * The contract feature. FF_ERR_REJECTED is a refusal that gives no reason. It is a valid
 * answer to every bad free (foreign, double, misaligned, wrong size, zero or wrapping)
 * and to every request that may fail (malformed, or out of memory), and in
 * differential runs it agrees with any specific refusal of another back-end. Nothing
 * in the policy declares it: the allocator still has to refuse exactly what backend.h
 * says must be refused (validates_frees), change nothing when it does, and succeed
 * where the placement policy guarantees a block. This one answers FF_ERR_REJECTED to
 * every bad free, to every malformed request and when memory runs out; FF_OK otherwise.
 *
 * This allocator: one bit per RAM frame (a host array, frames numbered densely across
 * holes), set while handed out; first fit, word at a time (placement FF_PLACE_ANY_RUN,
 * rounding FF_ROUND_NONE, any alignment, zone limits); free rule FF_FREE_EXACT, with the
 * count asked kept at each allocation's first frame.
 *
 * Its twin (-DFF_EXAMPLE_BUG): the check that a freed range is all allocated builds the
 * mask of the range's first word wrong when the range runs on into the next word (the
 * whole word instead of the bits from start on), so a valid free of an allocation
 * crossing a 64-frame word boundary is refused when a frame before it in that word is
 * free. framefuzz reports rejected-valid-free@oneerr.
 */
#include <stdlib.h>

#include "backend.h"

#define NONE UINT64_MAX

typedef struct oneerr {
    ff_env *env;
    ff_runs ram;
    uint64_t *bits;     /* per RAM frame (dense index): set while handed out */
    uint64_t *asked;    /* per RAM frame: count asked by the allocation starting there, else 0 */
    size_t words;
    uint64_t free_frames;
} oneerr;

static inline uint64_t dense(const ff_run *run, ff_pfn pfn) { return run->base + (pfn - run->start); }

/* Bits [lo, lo + len) of a word (lo < 64, 0 < len <= 64 - lo). */
static inline uint64_t span_mask(unsigned lo, unsigned len)
{
    return (len == 64 ? ~UINT64_C(0) : (UINT64_C(1) << len) - 1) << lo;
}

/* The length of the piece of [i, end) that lies in i's word. */
static inline unsigned piece(uint64_t i, uint64_t end)
{
    uint64_t room = 64 - i % 64;
    return (unsigned)(end - i < room ? end - i : room);
}

/* The last set bit in [i, i + n), or NONE. */
static uint64_t last_set(oneerr *a, uint64_t i, uint64_t n)
{
    for (uint64_t end = i + n; end > i;) {
        ff_step(a->env);
        uint64_t lo = (end - 1) / 64 * 64 > i ? (end - 1) / 64 * 64 : i;
        uint64_t bits = a->bits[lo / 64] & span_mask((unsigned)(lo % 64), (unsigned)(end - lo));
        if (bits) return lo / 64 * 64 + 63 - (unsigned)__builtin_clzll(bits);
        end = lo;
    }
    return NONE;
}

static bool all_set(oneerr *a, uint64_t i, uint64_t n)
{
    for (uint64_t end = i + n; i < end;) {
        ff_step(a->env);
        unsigned len = piece(i, end);
        uint64_t mask = span_mask((unsigned)(i % 64), len);
#ifdef FF_EXAMPLE_BUG
        /* EXAMPLE BUG (FF_EXAMPLE_BUG): when the range runs on into the next word, the
         * mask of this word is the whole word, not its bits from i on: a frame before
         * the range that is free fails the check, and a valid free is refused. */
        if (len < end - i) mask = ~UINT64_C(0);
#endif
        if ((a->bits[i / 64] & mask) != mask) return false;
        i += len;
    }
    return true;
}

static void set_bits(oneerr *a, uint64_t i, uint64_t n, bool value)
{
    for (uint64_t end = i + n; i < end;) {
        ff_step(a->env);
        unsigned len = piece(i, end);
        uint64_t mask = span_mask((unsigned)(i % 64), len);
        a->bits[i / 64] = value ? a->bits[i / 64] | mask : a->bits[i / 64] & ~mask;
        i += len;
    }
}

static void oe_destroy(void *self)
{
    oneerr *a = self;
    if (!a) return;
    ff_host_free(a->bits, a->words * sizeof(uint64_t));
    ff_host_free(a->asked, (a->ram.frames ? a->ram.frames : 1) * sizeof(uint64_t));
    ff_runs_destroy(&a->ram);
    free(a);
}

static void *oe_create(ff_env *env, const ff_range *ranges, size_t nranges)
{
    if (!env || (nranges && !ranges)) return NULL;
    oneerr *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->env = env;
    if (!ff_runs_init(&a->ram, ranges, nranges)) goto fail;
    a->words = (size_t)(a->ram.frames / 64 + 1);
    a->bits = ff_host_zalloc(a->words * sizeof(uint64_t));
    a->asked = ff_host_zalloc((a->ram.frames ? a->ram.frames : 1) * sizeof(uint64_t));
    if (!a->bits || !a->asked) goto fail;
    a->free_frames = a->ram.frames;
    return a;
fail:
    oe_destroy(a);
    return NULL;
}

static ff_status oe_alloc(void *self, const ff_alloc_req *req, ff_pfn *start)
{
    oneerr *a = self;
    uint64_t n = req->count, align = req->align > 1 ? req->align : 1;
    if (n == 0 || n > FF_PFN_LIMIT || !ff_is_pow2(align) || align > FF_PFN_LIMIT ||
        (unsigned)req->zone >= FF_ZONE_COUNT)
        return FF_ERR_REJECTED;
    ff_pfn limit = ff_zone_end(req->zone);
    for (size_t r = 0; r < a->ram.count; r++) {
        const ff_run *run = &a->ram.run[r];
        ff_pfn hi = run->end < limit ? run->end : limit;
        /* Candidates at aligned starts; past the last allocated frame of a failed one. */
        for (ff_pfn p = (run->start + align - 1) / align * align; p < hi && n <= hi - p;) {
            ff_step(a->env);
            uint64_t taken = last_set(a, dense(run, p), n);
            if (taken == NONE) {
                set_bits(a, dense(run, p), n, true);
                a->asked[dense(run, p)] = n;
                a->free_frames -= n;
                *start = p;
                return FF_OK;
            }
            p = (run->start + (taken - run->base) + 1 + align - 1) / align * align;
        }
    }
    return FF_ERR_REJECTED;
}

static ff_status oe_free(void *self, ff_pfn start, uint64_t count)
{
    oneerr *a = self;
    if (count == 0 || count > FF_PFN_LIMIT || start > FF_PFN_LIMIT - count) return FF_ERR_REJECTED;
    const ff_run *run = ff_runs_find(&a->ram, start);
    if (!run || count > run->end - start) return FF_ERR_REJECTED; /* not all RAM */
    uint64_t i = dense(run, start);
    if (!all_set(a, i, count)) return FF_ERR_REJECTED;            /* some frame is free */
    if (a->asked[i] != count) return FF_ERR_REJECTED;            /* no allocation of count at start */
    set_bits(a, i, count, false);
    a->asked[i] = 0;
    a->free_frames += count;
    return FF_OK;
}

static uint64_t oe_free_frames(const void *self) { return ((const oneerr *)self)->free_frames; }

/* The counter is the number of clear bits, and no bit past the last RAM frame is set. */
static const char *oe_check(void *self)
{
    oneerr *a = self;
    uint64_t set = 0;
    for (size_t w = 0; w < a->words; w++) {
        ff_step(a->env);
        set += (uint64_t)__builtin_popcountll(a->bits[w]);
    }
    if (a->bits[a->words - 1] >> (a->ram.frames % 64)) return "a bit past the last RAM frame is set";
    return a->ram.frames - set == a->free_frames ? NULL : "the free counter disagrees with the bitmap";
}

const ff_backend_def ff_backend_oneerr = {
    .name = "oneerr",
    .summary = "example plug-in: first-fit bitmap with one error code (FF_ERR_REJECTED) for every refusal",
    .policy =
        {
            .placement = FF_PLACE_ANY_RUN,
            .rounding = FF_ROUND_NONE,
            .free_rule = FF_FREE_EXACT,
            .max_order = FF_ORDER_ANY,
            .validates_frees = true,
            .honours_zone = true,
            .honours_align = true,
            .needs_backing = false,
            .inband_bytes = 0,
        },
    .create = oe_create,
    .destroy = oe_destroy,
    .alloc = oe_alloc,
    .free = oe_free,
    .free_frames = oe_free_frames,
    .check = oe_check,
};
