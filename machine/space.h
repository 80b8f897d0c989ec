/*
 * space.h — the simulated x86 physical frame space.
 *
 * A space is built from an e820-style memory map: typed regions in bytes, as firmware
 * reports them — unsorted, overlapping, with edges that are not frame-aligned. The
 * space normalises the map the way Linux does:
 *   - usable regions shrink inward to whole frames; every other type grows outward;
 *   - where regions overlap, the higher e820 type number wins (so usable loses to
 *     everything and "unusable" beats everything), as in Linux's e820__update_table;
 *   - empty regions vanish, adjacent regions of one type merge.
 * The result is a sorted list of typed frame ranges; a gap between them is a hole.
 * The usable ranges, split at zone boundaries, are what back-ends are given.
 *
 * Optional backing memory gives every frame below the top of the map 4 KiB of host
 * memory, reserved lazily. A frame's pristine content is the poison pattern: the
 * first touch of a frame materialises it, so "every free frame is poisoned" costs
 * nothing up front. Reset undoes every touch in O(frames touched).
 *
 * A run may instead reach frames directly (ff_space_direct): every frame is valid
 * through the base pointer without a touch, so nothing can be materialised over what
 * an allocator wrote. Pristine content is then zero, which host pages read as until
 * they are written; the pages written are found through the host's residency map and
 * given back at reset, so its cost still follows the frames touched.
 */
#ifndef FF_SPACE_H
#define FF_SPACE_H

#include <stddef.h>
#include <stdio.h>

#include "backend.h"

/* e820 region types, numbered as the firmware numbers them. */
typedef enum ff_mem_type {
    FF_MEM_HOLE = 0, /* not in the map at all */
    FF_MEM_USABLE = 1,
    FF_MEM_RESERVED = 2,
    FF_MEM_ACPI = 3,     /* ACPI reclaimable ("ACPI data") */
    FF_MEM_NVS = 4,      /* ACPI NVS */
    FF_MEM_UNUSABLE = 5, /* bad RAM */
    FF_MEM_TYPE_COUNT
} ff_mem_type;

const char *ff_mem_type_name(ff_mem_type type);

/* One entry of a raw map: bytes [start, start + size). */
typedef struct ff_e820_entry {
    uint64_t start;
    uint64_t size;
    ff_mem_type type;
} ff_e820_entry;

/* A raw map, as parsed or as a preset builds it. */
typedef struct ff_e820_map {
    ff_e820_entry *entries;
    size_t count;
    size_t capacity;
} ff_e820_map;

void ff_e820_init(ff_e820_map *map);
void ff_e820_free(ff_e820_map *map);
/* Appends one entry; returns false when host memory runs out. */
bool ff_e820_add(ff_e820_map *map, uint64_t start, uint64_t size, ff_mem_type type);

/*
 * Parses a map from text. Accepted, one per line:
 *   - the lines a Linux boot log prints, with any prefix (timestamps, "<6>", journald):
 *       BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable
 *     (end inclusive), and its "BIOS-provided physical RAM map:" header, which is skipped;
 *   - the same as Linux 6.15+ prints it, with a size column between range and TYPE
 *     (a decimal number, maybe with a fraction, and B, KB, MB, GB, TB, PB, KiB, MiB, GiB
 *     or TiB; skipped, not checked against the range, as the kernel rounds it):
 *       BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff]   639 KB System RAM
 *     its gap lines, "BIOS-e820: [gap 0xSTART-0xEND]" with or without a size, which must
 *     be well formed but add no entry, and its "[Firmware Bug]: out of order E820 entry!"
 *     warning, which is skipped;
 *   - the same without the prefix: "[mem 0xSTART-0xEND] [SIZE] TYPE",
 *     "0xSTART-0xEND [SIZE] TYPE" or "[gap 0xSTART-0xEND] [SIZE]";
 *   - blank lines and '#' comments.
 * TYPE: usable or "System RAM" (usable); reserved, "device reserved", "soft reserved",
 * "persistent (type N)", "persistent RAM", "persistent RAM (type N)", "type N" (all
 * reserved); "ACPI data"; "ACPI NVS"; unusable. Words are matched exactly.
 * On error returns false and writes "line N: what is wrong: <the text>" into err.
 */
bool ff_e820_parse(ff_e820_map *map, const char *text, char *err, size_t errlen);
bool ff_e820_load_file(ff_e820_map *map, const char *path, char *err, size_t errlen);
/* Reads a whole file of at most `max` bytes into a malloc'd buffer with a NUL after
 * its end. On failure returns false with a one-line reason naming the path. */
bool ff_read_file(const char *path, size_t max, char **data, size_t *size, char *err,
                  size_t errlen);
/* Writes the map back as "BIOS-e820: [mem ...] type" lines (normalised form). */
void ff_e820_print(const ff_e820_map *map, FILE *out);

/* ---------------------------------------------------------------- presets */

typedef struct ff_preset {
    const char *name;
    const char *summary;
    void (*build)(ff_e820_map *map); /* appends the preset's entries */
} ff_preset;

extern const ff_preset ff_presets[];
extern const size_t ff_preset_count;
const ff_preset *ff_preset_find(const char *name);

/* ---------------------------------------------------------------- the space */

typedef struct ff_region {
    ff_pfn start, end; /* frames [start, end) */
    ff_mem_type type;
} ff_region;

typedef struct ff_space_opts {
    /* Apply Linux's early x86 fix-ups: frame 0 is reserved, and 0xA0000-0xFFFFF
     * (VGA, option ROMs, BIOS) is removed from RAM. */
    bool linux_fixups;
} ff_space_opts;

typedef struct ff_space {
    ff_region *regions; /* sorted, disjoint, typed; gaps are holes */
    size_t nregions;
    ff_range *usable;   /* usable RAM split at zone boundaries: what back-ends get */
    size_t nusable;
    ff_pfn top;         /* first frame past the highest region of any type */
    uint64_t usable_frames;

    /* Backing memory (NULL until ff_space_enable_backing). */
    unsigned char *backing;
    size_t backing_bytes;   /* the mapping's length: at least top frames */
    uint64_t *touched_bits; /* one bit per frame below top */
    /* One bit per frame: past its in-band bytes, a touched frame may differ from the
     * poison because the program wrote it or a check found it changed. Without it, a
     * touched frame is poison there but for stray writes of the back-end, which the
     * next hand-out's check must still see. */
    uint64_t *written_bits;
    ff_pfn *touched_log;    /* frames touched since the last reset */
    size_t touched_count, touched_cap;
    uint64_t *resident_bits; /* one bit per frame: touched since the pages were given back */
    ff_pfn *resident_log;    /* those frames, to clear their bits at the give-back */
    size_t resident_count, resident_cap;
    unsigned char poison;      /* the pristine pattern of this run */
    unsigned char base_poison; /* the pattern asked for at ff_space_enable_backing */
    bool direct;               /* this run reaches frames through the base (pristine: 0) */
    bool all_zero;             /* every host page of the backing reads as zero */
} ff_space;

/* Builds a space from a raw map. Returns false (with a one-line reason in err) when
 * the map has no usable frame or reaches past FF_PADDR_BITS. */
bool ff_space_init(ff_space *space, const ff_e820_map *map, const ff_space_opts *opts,
                   char *err, size_t errlen);
bool ff_space_init_preset(ff_space *space, const char *preset, char *err, size_t errlen);
void ff_space_destroy(ff_space *space);

/* Type of the region holding pfn (FF_MEM_HOLE for gaps and frames past the top). */
ff_mem_type ff_space_type(const ff_space *space, ff_pfn pfn);
static inline bool ff_space_is_usable(const ff_space *space, ff_pfn pfn)
{
    return ff_space_type(space, pfn) == FF_MEM_USABLE;
}
/* Number of usable frames within [start, start + count). */
uint64_t ff_space_usable_in(const ff_space *space, ff_pfn start, uint64_t count);

/* ---------------------------------------------------------------- backing memory */

#define FF_POISON_DEFAULT 0xAA

/* Reserves host memory for every frame below top (lazily: nothing is touched).
 * Returns false when the host refuses the reservation. */
bool ff_space_enable_backing(ff_space *space, unsigned char poison);
static inline bool ff_space_has_backing(const ff_space *space) { return space->backing != NULL; }

/* The 4 KiB of host memory of frame pfn (pfn < top), materialised with poison on first
 * touch. NULL without backing or for pfn >= top. Matches ff_env.frame_mem. */
void *ff_space_frame_mem(void *space, ff_pfn pfn);

/* Fills frames with the poison pattern, except the first `skip` bytes of each frame
 * (where a back-end may keep in-band links). Frames past the top are ignored, and so
 * are frames that no one but the back-end wrote since they last held the pattern (the
 * caller's `skip` is the same every time: the back-end's in-band bytes). */
void ff_space_poison(ff_space *space, ff_pfn start, uint64_t count, uint32_t skip);
/* The program's write of one byte into frame pfn, which frame_mem has touched. */
void ff_space_write(ff_space *space, ff_pfn pfn, uint32_t offset, unsigned char value);
/* Fills the first `bytes` bytes of each frame with the poison pattern: the in-band bytes
 * of frames just handed out, which are the new holder's from now on. */
void ff_space_poison_head(ff_space *space, ff_pfn start, uint64_t count, uint32_t bytes);
/* Whether frame pfn may hold anything but the pristine pattern: touched since the last
 * reset, or reachable through the base (direct mode). A bit test: for checkers that
 * look at a few frames often. */
static inline bool ff_space_maybe_written(const ff_space *space, ff_pfn pfn)
{
    return space->backing && pfn < space->top &&
           (space->direct || (space->touched_bits[pfn / 64] >> (pfn % 64) & 1));
}
/* The first frame of [pfn, end) that ff_space_maybe_written names, or end: a bitmap
 * scan, for checkers that would otherwise ask frame by frame. */
ff_pfn ff_space_next_maybe_written(const ff_space *space, ff_pfn pfn, ff_pfn end);
/* The bytes of frame pfn when it was touched since the last reset, outside direct mode;
 * else NULL. For checkers that compare a few frames often. */
static inline const unsigned char *ff_space_touched_frame(const ff_space *space, ff_pfn pfn)
{
    if (!space->backing || space->direct || pfn >= space->top ||
        !(space->touched_bits[pfn / 64] >> (pfn % 64) & 1))
        return NULL;
    return space->backing + pfn * FF_FRAME_SIZE;
}
/* Checks that bytes [from, to) of each frame hold the poison pattern. Returns true when
 * intact; else stores the first changed byte's frame and offset. Untouched frames are
 * intact by definition and cost nothing. */
bool ff_space_poison_intact(const ff_space *space, ff_pfn start, uint64_t count, uint32_t from,
                            uint32_t to, ff_pfn *bad_pfn, uint32_t *bad_offset);

/* Undoes every touch since the last reset: O(frames touched). Ends direct mode. */
void ff_space_reset(ff_space *space);

/* Switches this run to direct mode and returns the base of the backing (frame pfn at
 * base + pfn * FF_FRAME_SIZE), every frame below top pristine (zero) and valid without
 * a touch. Until the next reset, frame_mem never fills a frame, and poisoning and its
 * checks cover every frame the host holds a page for. NULL without backing, or when
 * this run has touched frames already (they hold the other pattern). */
void *ff_space_direct(ff_space *space);

#endif
