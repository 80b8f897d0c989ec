/*
 * frame.h — the vocabulary every layer of framefuzz shares: frame numbers, frame
 * ranges and x86 zones.
 *
 * A frame is 4 KiB of simulated physical memory named by its frame number (pfn =
 * paddr >> 12). Physical addresses go up to 2^52, so a pfn needs 40 bits: it is
 * always a uint64_t, never an int.
 */
#ifndef FF_FRAME_H
#define FF_FRAME_H

#include <stdbool.h>
#include <stdint.h>

#define FF_FRAME_SHIFT 12
#define FF_FRAME_SIZE  (UINT64_C(1) << FF_FRAME_SHIFT)
/* Highest physical address bit the space accepts (x86-64 MAXPHYADDR is at most 52). */
#define FF_PADDR_BITS  52
#define FF_PFN_LIMIT   (UINT64_C(1) << (FF_PADDR_BITS - FF_FRAME_SHIFT))

typedef uint64_t ff_pfn;

/* x86 zones, as Linux draws them. Requests name the highest zone they accept. */
typedef enum ff_zone {
    FF_ZONE_DMA = 0,    /* below 16 MiB (ISA DMA) */
    FF_ZONE_DMA32 = 1,  /* below 4 GiB (32-bit devices) */
    FF_ZONE_NORMAL = 2, /* everything else */
    FF_ZONE_COUNT
} ff_zone;

#define FF_ZONE_DMA_END_PFN   (UINT64_C(16) << (20 - FF_FRAME_SHIFT))
#define FF_ZONE_DMA32_END_PFN (UINT64_C(4) << (30 - FF_FRAME_SHIFT))

static inline ff_zone ff_zone_of(ff_pfn pfn)
{
    if (pfn < FF_ZONE_DMA_END_PFN) return FF_ZONE_DMA;
    if (pfn < FF_ZONE_DMA32_END_PFN) return FF_ZONE_DMA32;
    return FF_ZONE_NORMAL;
}

/* First pfn past the end of a zone (FF_PFN_LIMIT for Normal). */
static inline ff_pfn ff_zone_end(ff_zone zone)
{
    switch (zone) {
    case FF_ZONE_DMA: return FF_ZONE_DMA_END_PFN;
    case FF_ZONE_DMA32: return FF_ZONE_DMA32_END_PFN;
    default: return FF_PFN_LIMIT;
    }
}

const char *ff_zone_name(ff_zone zone);

/* A run of frames [start, start + count). */
typedef struct ff_range {
    ff_pfn start;
    uint64_t count;
} ff_range;

static inline ff_pfn ff_range_end(ff_range r) { return r.start + r.count; }

/* Small bit helpers used by several layers. */
static inline bool ff_is_pow2(uint64_t x) { return x && !(x & (x - 1)); }

/* floor(log2(x)) for x > 0. */
static inline unsigned ff_log2(uint64_t x) { return 63u - (unsigned)__builtin_clzll(x); }

/* ceil(log2(x)) for x > 0. */
static inline unsigned ff_log2_ceil(uint64_t x) { return x <= 1 ? 0 : ff_log2(x - 1) + 1; }

#endif
