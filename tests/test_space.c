/*
 * test_space.c — the frame space: normalisation (rounding, overlap priority, merging,
 * zone splits, Linux's fix-ups), lookups, presets, and backing memory with poison.
 *
 * Expected layouts are written out by hand from the e820 rules, and a randomised
 * differential test checks the sweep against a per-frame reference model.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "space.h"
#include "unit.h"

#define F FF_FRAME_SIZE

/* Builds a space from a literal list of raw entries. */
static bool build(ff_space *s, const ff_e820_entry *entries, size_t n, bool fixups, char *err,
                  size_t errlen)
{
    ff_e820_map map;
    ff_e820_init(&map);
    for (size_t i = 0; i < n; i++)
        CHECK(ff_e820_add(&map, entries[i].start, entries[i].size, entries[i].type));
    ff_space_opts opts = {.linux_fixups = fixups};
    bool ok = ff_space_init(s, &map, &opts, err, errlen);
    ff_e820_free(&map);
    return ok;
}

#define BUILD(s, fixups, ...)                                                                 \
    do {                                                                                      \
        const ff_e820_entry build_entries_[] = {__VA_ARGS__};                                 \
        char build_err_[160] = "";                                                            \
        if (!build((s), build_entries_, sizeof build_entries_ / sizeof build_entries_[0],     \
                   (fixups), build_err_, sizeof build_err_))                                  \
            ff_test_fail(__FILE__, __LINE__, "space does not build: %s", build_err_);         \
    } while (0)

static void expect_regions(const ff_space *s, const ff_region *want, size_t n)
{
    CHECK_EQ(s->nregions, n);
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ(s->regions[i].start, want[i].start);
        CHECK_EQ(s->regions[i].end, want[i].end);
        CHECK_EQ(s->regions[i].type, want[i].type);
    }
}

#define EXPECT_REGIONS(s, ...)                                                              \
    do {                                                                                    \
        const ff_region want_[] = {__VA_ARGS__};                                            \
        expect_regions((s), want_, sizeof want_ / sizeof want_[0]);                         \
    } while (0)

static void expect_usable(const ff_space *s, const ff_range *want, size_t n)
{
    CHECK_EQ(s->nusable, n);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ(s->usable[i].start, want[i].start);
        CHECK_EQ(s->usable[i].count, want[i].count);
        total += want[i].count;
    }
    CHECK_EQ(s->usable_frames, total);
}

#define EXPECT_USABLE(s, ...)                                                               \
    do {                                                                                    \
        const ff_range want_[] = {__VA_ARGS__};                                             \
        expect_usable((s), want_, sizeof want_ / sizeof want_[0]);                          \
    } while (0)

/* ---------------------------------------------------------------- normalisation */

FF_TEST(space_type_names)
{
    CHECK_STREQ(ff_mem_type_name(FF_MEM_HOLE), "hole");
    CHECK_STREQ(ff_mem_type_name(FF_MEM_USABLE), "usable");
    CHECK_STREQ(ff_mem_type_name(FF_MEM_RESERVED), "reserved");
    CHECK_STREQ(ff_mem_type_name(FF_MEM_ACPI), "ACPI data");
    CHECK_STREQ(ff_mem_type_name(FF_MEM_NVS), "ACPI NVS");
    CHECK_STREQ(ff_mem_type_name(FF_MEM_UNUSABLE), "unusable");
    CHECK_STREQ(ff_mem_type_name((ff_mem_type)99), "?");
}

FF_TEST(space_usable_shrinks_to_whole_frames)
{
    ff_space s;
    /* [0x1800, 0x5800): frame 1 and frame 5 are only half RAM. */
    BUILD(&s, false, {0x1800, 0x4000, FF_MEM_USABLE});
    EXPECT_REGIONS(&s, {2, 5, FF_MEM_USABLE});
    EXPECT_USABLE(&s, {2, 3});
    CHECK_EQ(s.top, 5);
    ff_space_destroy(&s);
}

FF_TEST(space_reserved_grows_to_whole_frames)
{
    ff_space s;
    BUILD(&s, false, {0, 8 * F, FF_MEM_USABLE}, {0x1800, 0x801, FF_MEM_RESERVED}, /* 0x1800-0x2000 */
          {0x6fff, 2, FF_MEM_ACPI});                                             /* straddles 6|7 */
    EXPECT_REGIONS(&s, {0, 1, FF_MEM_USABLE}, {1, 3, FF_MEM_RESERVED}, {3, 6, FF_MEM_USABLE},
                   {6, 8, FF_MEM_ACPI});
    EXPECT_USABLE(&s, {0, 1}, {3, 3});
    ff_space_destroy(&s);
}

FF_TEST(space_unaligned_neighbours_meet_in_the_shared_frame)
{
    ff_space s;
    /* Usable up to 0x1800, reserved from there: the shared frame 1 is reserved. */
    BUILD(&s, false, {0, 0x1800, FF_MEM_USABLE}, {0x1800, 0x1800, FF_MEM_RESERVED});
    EXPECT_REGIONS(&s, {0, 1, FF_MEM_USABLE}, {1, 3, FF_MEM_RESERVED});
    ff_space_destroy(&s);
}

FF_TEST(space_overlap_higher_type_wins_both_ways)
{
    ff_space s;
    BUILD(&s, false, {0, 16 * F, FF_MEM_USABLE}, {4 * F, 4 * F, FF_MEM_RESERVED});
    EXPECT_REGIONS(&s, {0, 4, FF_MEM_USABLE}, {4, 8, FF_MEM_RESERVED}, {8, 16, FF_MEM_USABLE});
    ff_space_destroy(&s);
    /* The same with the reserved entry first: order does not decide, the type does. */
    BUILD(&s, false, {4 * F, 4 * F, FF_MEM_RESERVED}, {0, 16 * F, FF_MEM_USABLE});
    EXPECT_REGIONS(&s, {0, 4, FF_MEM_USABLE}, {4, 8, FF_MEM_RESERVED}, {8, 16, FF_MEM_USABLE});
    ff_space_destroy(&s);
    /* A reserved entry wholly inside usable RAM and a usable one wholly inside reserved. */
    BUILD(&s, false, {0, 4 * F, FF_MEM_USABLE}, {10 * F, 10 * F, FF_MEM_RESERVED},
          {12 * F, 2 * F, FF_MEM_USABLE});
    EXPECT_REGIONS(&s, {0, 4, FF_MEM_USABLE}, {10, 20, FF_MEM_RESERVED});
    ff_space_destroy(&s);
}

FF_TEST(space_overlap_priority_follows_type_numbers)
{
    ff_space s;
    BUILD(&s, false, {0, 2 * F, FF_MEM_USABLE}, {10 * F, 10 * F, FF_MEM_NVS},
          {15 * F, 10 * F, FF_MEM_UNUSABLE}, {22 * F, 8 * F, FF_MEM_ACPI},
          {28 * F, 4 * F, FF_MEM_NVS}, {31 * F, 2 * F, FF_MEM_RESERVED});
    EXPECT_REGIONS(&s, {0, 2, FF_MEM_USABLE}, {10, 15, FF_MEM_NVS}, {15, 25, FF_MEM_UNUSABLE},
                   {25, 28, FF_MEM_ACPI}, {28, 32, FF_MEM_NVS}, {32, 33, FF_MEM_RESERVED});
    CHECK_EQ(s.top, 33);
    ff_space_destroy(&s);
}

FF_TEST(space_unsorted_input_gives_the_sorted_result)
{
    ff_space s;
    BUILD(&s, false, {0x100000, 0x100000, FF_MEM_USABLE}, {0x9fc00, 0x400, FF_MEM_RESERVED},
          {0xf0000, 0x10000, FF_MEM_RESERVED}, {0, 0x9fc00, FF_MEM_USABLE});
    EXPECT_REGIONS(&s, {0, 0x9f, FF_MEM_USABLE}, {0x9f, 0xa0, FF_MEM_RESERVED},
                   {0xf0, 0x100, FF_MEM_RESERVED}, {0x100, 0x200, FF_MEM_USABLE});
    EXPECT_USABLE(&s, {0, 0x9f}, {0x100, 0x100});
    ff_space_destroy(&s);
}

FF_TEST(space_empty_and_sub_frame_regions_vanish)
{
    ff_space s;
    BUILD(&s, false, {0, 4 * F, FF_MEM_USABLE}, {0x5001, 0xffe, FF_MEM_USABLE}, /* inside frame 5 */
          {0x7800, 0x1000, FF_MEM_USABLE},                                     /* no whole frame */
          {0x9000, 0, FF_MEM_RESERVED},                                        /* empty */
          {0xc000, 1, FF_MEM_NVS});                                            /* one byte */
    EXPECT_REGIONS(&s, {0, 4, FF_MEM_USABLE}, {0xc, 0xd, FF_MEM_NVS});
    EXPECT_USABLE(&s, {0, 4});
    ff_space_destroy(&s);
}

FF_TEST(space_adjacent_regions_of_one_type_merge)
{
    ff_space s;
    BUILD(&s, false, {4 * F, 4 * F, FF_MEM_USABLE}, {0, 4 * F, FF_MEM_USABLE},
          {6 * F, 6 * F, FF_MEM_USABLE}, {20 * F, F, FF_MEM_RESERVED},
          {21 * F, F, FF_MEM_RESERVED}, {22 * F, F, FF_MEM_ACPI});
    EXPECT_REGIONS(&s, {0, 12, FF_MEM_USABLE}, {20, 22, FF_MEM_RESERVED}, {22, 23, FF_MEM_ACPI});
    EXPECT_USABLE(&s, {0, 12});
    ff_space_destroy(&s);
}

FF_TEST(space_usable_ranges_split_at_zone_boundaries)
{
    ff_space s;
    /* One region from 16 MiB - 16 frames to 4 GiB + 16 frames: three zones. */
    BUILD(&s, false, {(FF_ZONE_DMA_END_PFN - 16) * F,
                      (FF_ZONE_DMA32_END_PFN - FF_ZONE_DMA_END_PFN + 32) * F, FF_MEM_USABLE});
    CHECK_EQ(s.nregions, 1);
    EXPECT_USABLE(&s, {FF_ZONE_DMA_END_PFN - 16, 16},
                  {FF_ZONE_DMA_END_PFN, FF_ZONE_DMA32_END_PFN - FF_ZONE_DMA_END_PFN},
                  {FF_ZONE_DMA32_END_PFN, 16});
    for (size_t i = 0; i < s.nusable; i++)
        CHECK_EQ(ff_zone_of(s.usable[i].start), ff_zone_of(ff_range_end(s.usable[i]) - 1));
    ff_space_destroy(&s);
}

FF_TEST(space_top_is_the_end_of_the_highest_region_of_any_type)
{
    ff_space s;
    BUILD(&s, false, {0, 4 * F, FF_MEM_USABLE}, {0xfffc0000, 0x40000, FF_MEM_RESERVED});
    CHECK_EQ(s.top, 0x100000);
    CHECK_EQ(s.usable_frames, 4);
    ff_space_destroy(&s);
}

FF_TEST(space_accepts_a_map_ending_exactly_at_2_52)
{
    ff_space s;
    uint64_t limit = UINT64_C(1) << FF_PADDR_BITS;
    BUILD(&s, false, {limit - 8 * F, 8 * F, FF_MEM_USABLE});
    CHECK_EQ(s.top, FF_PFN_LIMIT);
    EXPECT_USABLE(&s, {FF_PFN_LIMIT - 8, 8});
    CHECK_EQ(ff_space_type(&s, FF_PFN_LIMIT - 1), FF_MEM_USABLE);
    CHECK_EQ(ff_space_type(&s, FF_PFN_LIMIT), FF_MEM_HOLE);
    ff_space_destroy(&s);
}

/* Builds a bad map and checks that the message names what is wrong. */
static void expect_rejected(const ff_e820_entry *entries, size_t n, const char *needle,
                            const char *needle2)
{
    ff_space s;
    char err[200] = "";
    CHECK(!build(&s, entries, n, false, err, sizeof err));
    if (!strstr(err, needle) || (needle2 && !strstr(err, needle2)))
        ff_test_fail(__FILE__, __LINE__, "message \"%s\" lacks \"%s\"", err, needle);
    CHECK(!strchr(err, '\n'));
    CHECK_EQ(s.nregions, 0); /* failed init leaves nothing to free */
    CHECK(s.regions == NULL && s.usable == NULL && s.backing == NULL);
    ff_space_destroy(&s);
}

FF_TEST(space_rejects_bad_maps_with_a_named_entry)
{
    const ff_e820_entry overflow[] = {{0, 4 * F, FF_MEM_USABLE},
                                      {UINT64_MAX - F, 2 * F, FF_MEM_RESERVED}};
    expect_rejected(overflow, 2, "entry 2", "2^64");
    const ff_e820_entry past[] = {{0, 4 * F, FF_MEM_USABLE},
                                  {(UINT64_C(1) << FF_PADDR_BITS) - F, F + 1, FF_MEM_RESERVED}};
    expect_rejected(past, 2, "entry 2", "2^52");
    const ff_e820_entry far[] = {{UINT64_C(1) << 60, F, FF_MEM_USABLE}};
    expect_rejected(far, 1, "entry 1", "2^52");
    const ff_e820_entry bad_type[] = {{0, 4 * F, FF_MEM_USABLE}, {8 * F, F, FF_MEM_HOLE}};
    expect_rejected(bad_type, 2, "entry 2", "type");
    const ff_e820_entry no_ram[] = {{0, 4 * F, FF_MEM_RESERVED}, {0x1001, 0xfff, FF_MEM_USABLE}};
    expect_rejected(no_ram, 2, "no usable frame", NULL);
    expect_rejected(NULL, 0, "no usable frame", NULL);
}

FF_TEST(space_linux_fixups_reserve_frame_0_and_drop_the_bios_area)
{
    ff_space s;
    const ff_e820_entry pc[] = {{0, 0x9fc00, FF_MEM_USABLE},
                                {0x9fc00, 0x400, FF_MEM_RESERVED},
                                {0xf0000, 0x10000, FF_MEM_RESERVED},
                                {0x100000, 0x100000, FF_MEM_USABLE}};
    char err[160];
    CHECK(build(&s, pc, 4, true, err, sizeof err));
    EXPECT_REGIONS(&s, {0, 1, FF_MEM_RESERVED}, {1, 0x9f, FF_MEM_USABLE},
                   {0x9f, 0xa0, FF_MEM_RESERVED}, {0xf0, 0x100, FF_MEM_RESERVED},
                   {0x100, 0x200, FF_MEM_USABLE});
    ff_space_destroy(&s);

    /* Firmware claiming all of the first 2 MiB as RAM: 0xA0-0xFF becomes a hole, but a
     * reserved range there stays reserved. Without fix-ups nothing changes. */
    CHECK(build(&s, (const ff_e820_entry[]){{0, 0x200000, FF_MEM_USABLE},
                                            {0xc0000, 0x10000, FF_MEM_RESERVED}},
                2, true, err, sizeof err));
    EXPECT_REGIONS(&s, {0, 1, FF_MEM_RESERVED}, {1, 0xa0, FF_MEM_USABLE},
                   {0xc0, 0xd0, FF_MEM_RESERVED}, {0x100, 0x200, FF_MEM_USABLE});
    EXPECT_USABLE(&s, {1, 0x9f}, {0x100, 0x100});
    ff_space_destroy(&s);
    CHECK(build(&s, (const ff_e820_entry[]){{0, 0x200000, FF_MEM_USABLE},
                                            {0xc0000, 0x10000, FF_MEM_RESERVED}},
                2, false, err, sizeof err));
    EXPECT_REGIONS(&s, {0, 0xc0, FF_MEM_USABLE}, {0xc0, 0xd0, FF_MEM_RESERVED},
                   {0xd0, 0x200, FF_MEM_USABLE});
    ff_space_destroy(&s);

    /* A hole at frame 0 stays a hole; a frame-0-only map has nothing left. */
    CHECK(build(&s, (const ff_e820_entry[]){{F, F, FF_MEM_USABLE}}, 1, true, err, sizeof err));
    EXPECT_REGIONS(&s, {1, 2, FF_MEM_USABLE});
    ff_space_destroy(&s);
    CHECK(!build(&s, (const ff_e820_entry[]){{0, F, FF_MEM_USABLE}}, 1, true, err, sizeof err));
    CHECK(strstr(err, "no usable frame"));
    ff_space_destroy(&s);
}

/* ---------------------------------------------------------------- against a reference */

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* The type of frame pfn by the rules, one frame at a time: the highest type of the
 * entries that cover it after rounding. */
static ff_mem_type reference_type(const ff_e820_entry *e, size_t n, ff_pfn pfn, bool fixups)
{
    ff_mem_type best = FF_MEM_HOLE;
    for (size_t i = 0; i < n; i++) {
        uint64_t end = e[i].start + e[i].size;
        bool usable = e[i].type == FF_MEM_USABLE;
        uint64_t first = usable ? (e[i].start + F - 1) / F : e[i].start / F;
        uint64_t last = usable ? end / F : (end + F - 1) / F;
        if (pfn >= first && pfn < last && e[i].type > best) best = e[i].type;
    }
    if (fixups && best == FF_MEM_USABLE) {
        if (pfn == 0) return FF_MEM_RESERVED;
        if (pfn >= 0xa0 && pfn < 0x100) return FF_MEM_HOLE;
    }
    return best;
}

FF_TEST(space_random_maps_match_a_per_frame_reference)
{
    uint64_t seed = 0x9e3779b97f4a7c15u;
    enum { FRAMES = 300, ENTRIES = 12 };
    for (int round = 0; round < 300; round++) {
        ff_e820_entry e[ENTRIES];
        size_t n = 1 + xorshift(&seed) % ENTRIES;
        for (size_t i = 0; i < n; i++) {
            /* Byte-granular edges so rounding is exercised; types 1..5. */
            e[i].start = xorshift(&seed) % (FRAMES * F);
            e[i].size = xorshift(&seed) % (40 * F);
            e[i].type = (ff_mem_type)(1 + xorshift(&seed) % 5);
        }
        /* Always some RAM, past where the random entries reach (below 340 frames). */
        e[0] = (ff_e820_entry){360 * F, 4 * F, FF_MEM_USABLE};
        bool fixups = round % 2;
        ff_space s;
        char err[160];
        if (!build(&s, e, n, fixups, err, sizeof err)) ff_test_fail(__FILE__, __LINE__, "%s", err);
        uint64_t usable = 0;
        for (ff_pfn pfn = 0; pfn < 370; pfn++) {
            ff_mem_type want = reference_type(e, n, pfn, fixups);
            CHECK_EQ(ff_space_type(&s, pfn), want);
            usable += want == FF_MEM_USABLE;
        }
        CHECK_EQ(s.usable_frames, usable);
        CHECK_EQ(s.top, 364);
        /* Regions: sorted, disjoint, non-empty, typed, maximal. */
        for (size_t i = 0; i < s.nregions; i++) {
            CHECK(s.regions[i].start < s.regions[i].end);
            CHECK(s.regions[i].type > FF_MEM_HOLE && s.regions[i].type < FF_MEM_TYPE_COUNT);
            if (i) CHECK(s.regions[i - 1].end <= s.regions[i].start);
            if (i && s.regions[i - 1].end == s.regions[i].start)
                CHECK(s.regions[i - 1].type != s.regions[i].type);
        }
        /* usable_in over random windows agrees with counting frames. */
        for (int k = 0; k < 20; k++) {
            ff_pfn a = xorshift(&seed) % (FRAMES + 80);
            uint64_t c = xorshift(&seed) % (FRAMES / 2);
            uint64_t want = 0;
            for (ff_pfn p = a; p < a + c; p++) want += ff_space_type(&s, p) == FF_MEM_USABLE;
            CHECK_EQ(ff_space_usable_in(&s, a, c), want);
        }
        ff_space_destroy(&s);
    }
}

FF_TEST(space_usable_in_edge_cases)
{
    ff_space s;
    CHECK(ff_space_init_preset(&s, "tiny", (char[128]){0}, 128));
    CHECK_EQ(ff_space_usable_in(&s, 0, UINT64_MAX), 50);
    CHECK_EQ(ff_space_usable_in(&s, 30, UINT64_MAX), 2 + 10 + 16);
    CHECK_EQ(ff_space_usable_in(&s, UINT64_MAX, UINT64_MAX), 0);
    CHECK_EQ(ff_space_usable_in(&s, 5, 0), 0);
    CHECK_EQ(ff_space_usable_in(&s, 16, 8), 0);     /* reserved and hole */
    CHECK_EQ(ff_space_usable_in(&s, 4090, 10), 10); /* across the 16 MiB split */
    CHECK_EQ(ff_space_usable_in(&s, 4104, 1000), 0);
    CHECK_EQ(ff_space_type(&s, UINT64_MAX), FF_MEM_HOLE);
    CHECK(!ff_space_is_usable(&s, 32));
    CHECK(ff_space_is_usable(&s, 0));
    ff_space_destroy(&s);
}

/* ---------------------------------------------------------------- presets */

FF_TEST(space_every_preset_builds)
{
    CHECK(ff_preset_count >= 6);
    for (size_t i = 0; i < ff_preset_count; i++) {
        ff_space s;
        char err[160] = "";
        CHECK(ff_presets[i].summary && ff_presets[i].summary[0]);
        CHECK(ff_preset_find(ff_presets[i].name) == &ff_presets[i]);
        if (!ff_space_init_preset(&s, ff_presets[i].name, err, sizeof err))
            ff_test_fail(__FILE__, __LINE__, "%s: %s", ff_presets[i].name, err);
        CHECK(s.usable_frames > 0);
        ff_space_destroy(&s);
    }
}

FF_TEST(space_unknown_preset_lists_the_valid_ones)
{
    ff_space s;
    char err[200] = "";
    CHECK(!ff_space_init_preset(&s, "pc-2t", err, sizeof err));
    CHECK(strstr(err, "pc-2t"));
    for (size_t i = 0; i < ff_preset_count; i++) CHECK(strstr(err, ff_presets[i].name));
    CHECK(ff_preset_find(NULL) == NULL);
    CHECK(!ff_space_init_preset(&s, NULL, err, sizeof err));
    char small[8];
    CHECK(!ff_space_init_preset(&s, "nope", small, sizeof small)); /* truncates, no overrun */
    CHECK_EQ(strlen(small), 7);
    ff_space_destroy(&s);
}

FF_TEST(space_preset_tiny_layout)
{
    ff_space s;
    CHECK(ff_space_init_preset(&s, "tiny", (char[128]){0}, 128));
    EXPECT_REGIONS(&s, {0, 16, FF_MEM_USABLE}, {16, 18, FF_MEM_RESERVED}, {24, 32, FF_MEM_USABLE},
                   {32, 33, FF_MEM_NVS}, {33, 43, FF_MEM_USABLE}, {4088, 4104, FF_MEM_USABLE});
    /* 4088-4103 straddles 16 MiB (frame 4096): five ranges, 50 frames. */
    EXPECT_USABLE(&s, {0, 16}, {24, 8}, {33, 10}, {4088, 8}, {4096, 8});
    CHECK_EQ(s.top, 4104);
    CHECK_EQ(ff_space_type(&s, 20), FF_MEM_HOLE);
    ff_space_destroy(&s);
}

FF_TEST(space_preset_qemu_layout)
{
    ff_space s;
    CHECK(ff_space_init_preset(&s, "qemu", (char[128]){0}, 128));
    EXPECT_REGIONS(&s, {0, 1, FF_MEM_RESERVED}, {1, 0x9f, FF_MEM_USABLE},
                   {0x9f, 0xa0, FF_MEM_RESERVED}, {0xf0, 0x100, FF_MEM_RESERVED},
                   {0x100, 0x7fe0, FF_MEM_USABLE}, {0x7fe0, 0x8000, FF_MEM_RESERVED},
                   {0xfeffc, 0xff000, FF_MEM_RESERVED}, {0xfffc0, 0x100000, FF_MEM_RESERVED});
    EXPECT_USABLE(&s, {1, 0x9e}, {0x100, 0xf00}, {0x1000, 0x6fe0});
    CHECK_EQ(s.usable_frames, 32638);
    CHECK_EQ(s.top, 0x100000);
    ff_space_destroy(&s);
}

/* Low RAM of a generic PC, as frame ranges: 0x1-0x9e, then 1 MiB up to the ACPI tables
 * (192 KiB, 48 frames) below `low_end_pfn`, split at 16 MiB. */
static void expect_pc(const char *name, ff_pfn low_end_pfn, uint64_t high_frames, ff_pfn top)
{
    ff_space s;
    CHECK(ff_space_init_preset(&s, name, (char[128]){0}, 128));
    CHECK_EQ(s.usable[0].start, 1);
    CHECK_EQ(s.usable[0].count, 0x9e);
    CHECK_EQ(s.usable[1].start, 0x100);
    CHECK_EQ(s.usable[1].count, 0xf00);
    CHECK_EQ(s.usable[2].start, 0x1000);
    CHECK_EQ(s.usable[2].count, low_end_pfn - 48 - 0x1000);
    CHECK_EQ(ff_space_type(&s, low_end_pfn - 48), FF_MEM_ACPI);
    CHECK_EQ(ff_space_type(&s, low_end_pfn - 1), FF_MEM_NVS);
    if (high_frames) {
        CHECK_EQ(s.nusable, 4);
        CHECK_EQ(s.usable[3].start, FF_ZONE_DMA32_END_PFN);
        CHECK_EQ(s.usable[3].count, high_frames);
        CHECK_EQ(ff_space_type(&s, 0xfee00), FF_MEM_RESERVED); /* LAPIC */
        CHECK_EQ(ff_space_type(&s, 0xfffff), FF_MEM_RESERVED); /* firmware */
        CHECK_EQ(ff_space_type(&s, 0xd0000), FF_MEM_HOLE);     /* PCI hole */
    } else {
        CHECK_EQ(s.nusable, 3);
    }
    /* RAM less about 600 KiB: 0x9e + (low RAM from 1 MiB) + high. */
    CHECK_EQ(s.usable_frames, 0x9e + (low_end_pfn - 48 - 0x100) + high_frames);
    CHECK_EQ(s.top, top);
    ff_space_destroy(&s);
}

FF_TEST(space_preset_pc_layouts)
{
    const uint64_t gib = 1u << 18; /* frames */
    expect_pc("pc-1g", gib, 0, gib);
    expect_pc("pc-4g", 3 * gib, gib, 5 * gib);
    expect_pc("pc-64g", 3 * gib, 61 * gib, 65 * gib);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

FF_TEST(space_preset_pc_1t_is_2_28_frames_and_builds_instantly)
{
    ff_space s;
    double t0 = now_ms();
    CHECK(ff_space_init_preset(&s, "pc-1t", (char[128]){0}, 128));
    double ms = now_ms() - t0;
    CHECK_EQ(s.usable_frames, (UINT64_C(1) << 28) - 146); /* 584 KiB kept back */
    CHECK_EQ(s.top, (UINT64_C(1) << 28) + (UINT64_C(1) << 18));
    CHECK_EQ(s.nusable, 4);
    CHECK_EQ(ff_space_usable_in(&s, 0, UINT64_MAX), s.usable_frames);
    CHECK(ms < 20.0);
    ff_space_destroy(&s);
}

/* ---------------------------------------------------------------- backing memory */

static ff_space tiny_with_backing(unsigned char poison)
{
    ff_space s;
    CHECK(ff_space_init_preset(&s, "tiny", (char[128]){0}, 128));
    CHECK(!ff_space_has_backing(&s));
    CHECK(ff_space_frame_mem(&s, 0) == NULL);
    CHECK(ff_space_enable_backing(&s, poison));
    CHECK(ff_space_has_backing(&s));
    return s;
}

FF_TEST(space_frame_mem_materialises_poison_on_first_touch)
{
    ff_space s = tiny_with_backing(0xAA);
    CHECK_EQ(s.touched_count, 0);
    unsigned char *m = ff_space_frame_mem(&s, 33);
    CHECK(m != NULL);
    CHECK_EQ(s.touched_count, 1);
    for (size_t i = 0; i < F; i++)
        if (m[i] != 0xAA) ff_test_fail(__FILE__, __LINE__, "byte %zu is 0x%02x", i, m[i]);
    m[7] = 1;
    /* A second touch returns the same memory and keeps what was written. */
    CHECK(ff_space_frame_mem(&s, 33) == m);
    CHECK_EQ(m[7], 1);
    CHECK_EQ(s.touched_count, 1);
    /* Frames in holes and reserved ranges below top have memory too; past top not. */
    CHECK(ff_space_frame_mem(&s, 20) != NULL);
    CHECK(ff_space_frame_mem(&s, 4103) != NULL);
    CHECK(ff_space_frame_mem(&s, 4104) == NULL);
    CHECK(ff_space_frame_mem(&s, UINT64_MAX) == NULL);
    CHECK_EQ(s.touched_count, 3);
    /* Enabling again: fine with the same poison, refused with another. */
    CHECK(ff_space_enable_backing(&s, 0xAA));
    CHECK(!ff_space_enable_backing(&s, 0x55));
    ff_space_destroy(&s);
    CHECK(!ff_space_has_backing(&s));
}

FF_TEST(space_poison_intact_finds_the_first_changed_byte_and_respects_skip)
{
    ff_space s = tiny_with_backing(0x5A);
    ff_pfn bad = 0;
    uint32_t off = 0;
    /* Untouched frames are intact without being touched. */
    CHECK(ff_space_poison_intact(&s, 0, UINT64_MAX, 0, FF_FRAME_SIZE, &bad, &off));
    CHECK_EQ(s.touched_count, 0);

    unsigned char *a = ff_space_frame_mem(&s, 3);
    unsigned char *b = ff_space_frame_mem(&s, 40);
    CHECK(ff_space_poison_intact(&s, 0, 4104, 0, FF_FRAME_SIZE, &bad, &off));
    b[4095] = 0;
    CHECK(!ff_space_poison_intact(&s, 0, 4104, 0, FF_FRAME_SIZE, &bad, &off));
    CHECK_EQ(bad, 40);
    CHECK_EQ(off, 4095);
    a[8] = 1; /* a lower frame is the first bad one */
    a[100] = 1;
    CHECK(!ff_space_poison_intact(&s, 0, 4104, 0, FF_FRAME_SIZE, &bad, &off));
    CHECK_EQ(bad, 3);
    CHECK_EQ(off, 8);
    /* skip hides the first bytes of each frame only. */
    CHECK(!ff_space_poison_intact(&s, 3, 1, 16, FF_FRAME_SIZE, &bad, &off));
    CHECK_EQ(off, 100);
    CHECK(ff_space_poison_intact(&s, 3, 1, 101, FF_FRAME_SIZE, &bad, &off));
    CHECK(ff_space_poison_intact(&s, 4, 36, 0, FF_FRAME_SIZE, &bad, &off)); /* range excludes both */
    CHECK(ff_space_poison_intact(&s, 0, 4104, (uint32_t)F, FF_FRAME_SIZE, &bad, &off));
    /* to bounds the bytes checked: a change at or past it is not looked at. */
    CHECK(ff_space_poison_intact(&s, 3, 1, 16, 100, &bad, &off));
    CHECK(!ff_space_poison_intact(&s, 3, 1, 16, 101, &bad, &off));
    CHECK_EQ(off, 100);
    /* Unaligned changes at every offset of a word are found. */
    for (uint32_t o = 4088; o < 4096; o++) {
        a[o] = 0;
        CHECK(!ff_space_poison_intact(&s, 3, 1, 101, FF_FRAME_SIZE, &bad, &off));
        CHECK_EQ(off, o);
        a[o] = 0x5A;
    }
    /* skip leaves a back-end's in-band bytes alone. */
    a[0] = 0x11;
    a[20] = 0x22;
    ff_space_poison(&s, 3, 1, 16);
    CHECK_EQ(a[0], 0x11);
    CHECK_EQ(a[20], 0x5A);
    /* Poisoning refills the touched frames a check saw changed, and fixes them. */
    CHECK(!ff_space_poison_intact(&s, 0, 4104, 0, FF_FRAME_SIZE, &bad, &off));
    CHECK_EQ(off, 0); /* the in-band byte, seen now that skip is 0 */
    ff_space_poison(&s, 0, 4104, 0);
    CHECK(ff_space_poison_intact(&s, 0, UINT64_MAX, 0, FF_FRAME_SIZE, &bad, &off));
    CHECK_EQ(a[0], 0x5A);
    CHECK_EQ(a[8], 0x5A);
    CHECK_EQ(s.touched_count, 2); /* untouched frames stay untouched: they are poison */
    ff_space_poison(&s, UINT64_MAX - 1, UINT64_MAX, 0); /* nothing there, no wrap */
    ff_space_destroy(&s);
}

FF_TEST(space_next_maybe_written_names_what_a_frame_by_frame_question_would)
{
    ff_space s = tiny_with_backing(0x5A);
    CHECK(s.top > 200);
    CHECK_EQ(ff_space_next_maybe_written(&s, 0, 200), 200); /* pristine */
    ff_space_write(&s, 3, 0, 1);
    ff_space_write(&s, 130, 0, 1);
    for (ff_pfn from = 0; from < 200; from++) {
        ff_pfn expect = 200;
        for (ff_pfn p = from; p < 200; p++)
            if (ff_space_maybe_written(&s, p)) {
                expect = p;
                break;
            }
        CHECK_EQ(ff_space_next_maybe_written(&s, from, 200), expect);
    }
    CHECK_EQ(ff_space_next_maybe_written(&s, 4, 130), 130); /* the end bounds it */
    CHECK_EQ(ff_space_next_maybe_written(&s, s.top - 1, s.top + 10), s.top + 10);
    CHECK(ff_space_direct(&s) != NULL); /* every frame may be written */
    CHECK_EQ(ff_space_next_maybe_written(&s, 7, 200), 7);
    CHECK_EQ(ff_space_next_maybe_written(&s, s.top, s.top + 10), s.top + 10);
    ff_space_destroy(&s);
}

FF_TEST(space_poison_refills_what_the_program_wrote_and_keeps_what_a_check_must_see)
{
    ff_space s = tiny_with_backing(0x5A);
    unsigned char *node = ff_space_frame_mem(&s, 3), *data = ff_space_frame_mem(&s, 9);
    ff_pfn bad = 0;
    uint32_t off = 0;
    /* A back-end's links in its in-band bytes, and nothing else: the free refills
     * nothing, and the frame is still poison past them. */
    node[0] = 0x11;
    ff_space_poison(&s, 3, 1, 16);
    CHECK_EQ(node[0], 0x11);
    CHECK(ff_space_poison_intact(&s, 3, 1, 16, FF_FRAME_SIZE, &bad, &off));
    /* The program's bytes go at the free. */
    ff_space_write(&s, 9, 100, 0x22);
    CHECK_EQ(data[100], 0x22);
    ff_space_poison(&s, 9, 1, 16);
    CHECK_EQ(data[100], 0x5A);
    ff_space_write(&s, 9, 4, 0x23); /* in-band bytes stay the next holder's */
    ff_space_poison(&s, 9, 1, 16);
    CHECK_EQ(data[4], 0x23);
    /* A stray write of the back-end past its in-band bytes is not refilled away: the
     * next check sees it, and only then does a free refill it. */
    node[200] = 0x33;
    ff_space_poison(&s, 3, 1, 16);
    CHECK(!ff_space_poison_intact(&s, 0, UINT64_MAX, 16, FF_FRAME_SIZE, &bad, &off));
    CHECK_EQ(bad, 3);
    CHECK_EQ(off, 200);
    ff_space_poison(&s, 3, 1, 16);
    CHECK(ff_space_poison_intact(&s, 0, UINT64_MAX, 16, FF_FRAME_SIZE, &bad, &off));
    CHECK_EQ(node[0], 0x11);
    /* A frame first touched after a reset holds the poison whole: nothing to refill. */
    ff_space_write(&s, 9, 300, 0x24);
    ff_space_reset(&s);
    data = ff_space_frame_mem(&s, 9);
    CHECK_EQ(data[300], 0x5A);
    data[301] = 0x25; /* the back-end's, unseen */
    ff_space_poison(&s, 9, 1, 16);
    CHECK_EQ(data[301], 0x25);
    ff_space_destroy(&s);
}

FF_TEST(space_reset_undoes_touches_and_costs_only_them)
{
    ff_space s = tiny_with_backing(0xAA);
    ff_pfn touched[] = {0, 1, 2, 40, 4095, 4096, 7};
    for (size_t i = 0; i < sizeof touched / sizeof touched[0]; i++)
        memset(ff_space_frame_mem(&s, touched[i]), 0x11, F);
    CHECK_EQ(s.touched_count, 7);
    CHECK(!ff_space_poison_intact(&s, 0, UINT64_MAX, 0, FF_FRAME_SIZE, &(ff_pfn){0}, &(uint32_t){0}));
    ff_space_reset(&s);
    CHECK_EQ(s.touched_count, 0);
    for (size_t w = 0; w < (s.top + 63) / 64; w++) CHECK_EQ(s.touched_bits[w], 0);
    CHECK(ff_space_poison_intact(&s, 0, UINT64_MAX, 0, FF_FRAME_SIZE, &(ff_pfn){0}, &(uint32_t){0}));
    /* The next touch materialises poison again. */
    for (size_t i = 0; i < sizeof touched / sizeof touched[0]; i++) {
        unsigned char *m = ff_space_frame_mem(&s, touched[i]);
        CHECK_EQ(m[0], 0xAA);
        CHECK_EQ(m[F - 1], 0xAA);
    }
    CHECK_EQ(s.touched_count, 7);
    ff_space_reset(&s);
    ff_space_reset(&s); /* twice is harmless */
    CHECK_EQ(s.touched_count, 0);
    ff_space_destroy(&s);

    /* Without backing every backing call is a harmless no-op. */
    CHECK(ff_space_init_preset(&s, "tiny", (char[128]){0}, 128));
    ff_space_poison(&s, 0, 10, 0);
    CHECK(ff_space_poison_intact(&s, 0, 10, 0, FF_FRAME_SIZE, NULL, NULL));
    ff_space_reset(&s);
    ff_space_destroy(&s);
}

FF_TEST(space_direct_mode_reaches_every_frame_through_the_base)
{
    ff_space s = tiny_with_backing(0xAA);
    /* A run that touched frames already cannot switch: they hold the other pattern. */
    ((unsigned char *)ff_space_frame_mem(&s, 5))[0] = 1;
    CHECK(ff_space_direct(&s) == NULL);
    ff_space_reset(&s);
    unsigned char *base = ff_space_direct(&s);
    CHECK(base == s.backing);
    CHECK(ff_space_direct(&s) == base); /* asking twice is fine */
    CHECK_EQ(s.poison, 0);
    /* Frame 5 held 0xAA and a 1 from the run before: zero now, as every frame is. */
    CHECK_EQ(base[5 * F], 0);
    CHECK_EQ(base[5 * F + 1], 0);
    CHECK(ff_space_poison_intact(&s, 0, UINT64_MAX, 0, FF_FRAME_SIZE, &(ff_pfn){0}, &(uint32_t){0}));
    /* Writes through the base are seen without a touch, and frame_mem fills nothing. */
    base[40 * F + 9] = 7;
    base[4100 * F] = 3;
    CHECK(ff_space_frame_mem(&s, 40) == base + 40 * F);
    CHECK_EQ(base[40 * F + 9], 7);
    CHECK_EQ(s.touched_count, 0);
    ff_pfn bad = 0;
    uint32_t off = 0;
    CHECK(!ff_space_poison_intact(&s, 0, UINT64_MAX, 0, FF_FRAME_SIZE, &bad, &off));
    CHECK_EQ(bad, 40);
    CHECK_EQ(off, 9);
    CHECK(ff_space_poison_intact(&s, 40, 1, 10, FF_FRAME_SIZE, &bad, &off)); /* skip covers it */
    CHECK(!ff_space_poison_intact(&s, 41, UINT64_MAX, 0, FF_FRAME_SIZE, &bad, &off));
    CHECK_EQ(bad, 4100);
    ff_space_poison(&s, 0, UINT64_MAX, 0);
    CHECK(ff_space_poison_intact(&s, 0, UINT64_MAX, 0, FF_FRAME_SIZE, &bad, &off));
    base[7 * F] = 9;
    ff_space_poison_head(&s, 7, 1, 1);
    CHECK_EQ(base[7 * F], 0);
    /* Reset gives every page back: zero again, and the next run is the usual kind. */
    base[3 * F + 3] = 5;
    ff_space_reset(&s);
    CHECK(!s.direct);
    CHECK_EQ(s.poison, 0xAA);
    CHECK_EQ(base[3 * F + 3], 0);
    CHECK_EQ(base[40 * F + 9], 0);
    CHECK_EQ(((unsigned char *)ff_space_frame_mem(&s, 3))[3], 0xAA);
    ff_space_reset(&s);
    CHECK(ff_space_direct(&s) == base);
    CHECK_EQ(base[3 * F + 3], 0);
    ff_space_destroy(&s);

    /* Without backing there is no base. */
    CHECK(ff_space_init_preset(&s, "tiny", (char[128]){0}, 128));
    CHECK(ff_space_direct(&s) == NULL);
    ff_space_destroy(&s);
}

FF_TEST(space_a_backing_used_before_shows_none_of_its_bytes)
{
    /* A destroyed space's backing is kept for the next space of its size: that space
     * must see poison where the first wrote, and zero in direct mode. */
    ff_space a = tiny_with_backing(0xAA);
    unsigned char *mem = a.backing;
    memset(ff_space_frame_mem(&a, 5), 0x11, F);
    ((unsigned char *)ff_space_frame_mem(&a, 9))[100] = 0x22;
    ff_space_destroy(&a);
    ff_space b = tiny_with_backing(0x5A);
    CHECK(b.backing == mem); /* the same mapping, reused without a system call */
    CHECK(!b.all_zero);
    CHECK(ff_space_poison_intact(&b, 0, UINT64_MAX, 0, FF_FRAME_SIZE, &(ff_pfn){0}, &(uint32_t){0}));
    CHECK_EQ(((unsigned char *)ff_space_frame_mem(&b, 5))[17], 0x5A);
    CHECK_EQ(((unsigned char *)ff_space_frame_mem(&b, 9))[100], 0x5A);
    ff_space_reset(&b);
    unsigned char *base = ff_space_direct(&b);
    CHECK(base != NULL);
    for (size_t i = 0; i < 10 * F; i++)
        if (base[i]) {
            CHECK_EQ(base[i], 0);
            break;
        }
    ff_space_destroy(&b);
}

/* Resident set size in bytes, from /proc/self/statm. */
static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%llu %llu", &size, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

FF_TEST(space_backing_a_terabyte_costs_only_what_is_touched)
{
    ff_space s;
    CHECK(ff_space_init_preset(&s, "pc-1t", (char[128]){0}, 128));
    uint64_t before = rss_bytes();
    double t0 = now_ms();
    CHECK(ff_space_enable_backing(&s, FF_POISON_DEFAULT));
    /* A thousand frames spread over the whole terabyte, each in its own bitmap word. */
    size_t touched = 0;
    for (ff_pfn pfn = 1; pfn < s.top; pfn += s.top / 1000, touched++) {
        unsigned char *m = ff_space_frame_mem(&s, pfn);
        CHECK(m != NULL);
        m[0] = 1;
    }
    CHECK(ff_space_frame_mem(&s, s.top - 1) != NULL);
    CHECK_EQ(s.touched_count, touched + 1);
    CHECK(touched >= 1000);
    ff_pfn bad;
    uint32_t off;
    CHECK(!ff_space_poison_intact(&s, 0, UINT64_MAX, 0, FF_FRAME_SIZE, &bad, &off));
    CHECK_EQ(bad, 1);
    CHECK(ff_space_poison_intact(&s, 0, UINT64_MAX, 1, FF_FRAME_SIZE, &bad, &off));
    uint64_t grown = rss_bytes() - before;
    ff_space_reset(&s); /* a space this large hands the pages back */
    CHECK_EQ(s.touched_count, 0);
    CHECK(ff_space_poison_intact(&s, 0, UINT64_MAX, 0, FF_FRAME_SIZE, &bad, &off));
    unsigned char *again = ff_space_frame_mem(&s, 1);
    CHECK_EQ(again[0], FF_POISON_DEFAULT);
    double ms = now_ms() - t0;
    ff_space_destroy(&s);
    if (grown >= (UINT64_C(64) << 20))
        ff_test_fail(__FILE__, __LINE__, "RSS grew by %llu MiB", (unsigned long long)(grown >> 20));
    CHECK(ms < 1000.0);
}
