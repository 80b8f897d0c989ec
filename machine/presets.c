/*
 * presets.c — named memory maps, so a run can say "qemu" instead of shipping a file.
 *
 * Each preset is a function that appends raw e820 entries, exactly as firmware (or the
 * kernel, after keeping frame 0 back) would report them. Presets already encode what
 * they keep back, so they are built without Linux's fix-ups. The generic PCs share one
 * builder parameterised by the amount of RAM; the table below is the only list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "space.h"

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)
#define TiB (UINT64_C(1) << 40)

/* Inclusive bounds read like the boot log that the layouts come from. */
static void add(ff_e820_map *map, uint64_t first, uint64_t last, ff_mem_type type)
{
    /* Cannot fail: ff_space_init_preset reserves room for every preset's entries. */
    (void)ff_e820_add(map, first, last - first + 1, type);
}

/* ---------------------------------------------------------------- tiny */

/* 50 usable frames with one of each awkward feature: a reserved range, a hole, an ACPI
 * NVS frame between RAM, ranges at odd frame numbers and a cluster straddling 16 MiB
 * (frames 4088-4103), so a fuzzer reaches every edge within a few operations. Frame 0
 * is usable on purpose: the #1760 scenario needs frame 1 inside a larger free block. */
static void build_tiny(ff_e820_map *map)
{
    add(map, 0x0000000, 0x000ffff, FF_MEM_USABLE);   /* frames 0-15 */
    add(map, 0x0010000, 0x0011fff, FF_MEM_RESERVED); /* frames 16-17, then a hole */
    add(map, 0x0018000, 0x001ffff, FF_MEM_USABLE);   /* frames 24-31 */
    add(map, 0x0020000, 0x0020fff, FF_MEM_NVS);      /* frame 32 */
    add(map, 0x0021000, 0x002afff, FF_MEM_USABLE);   /* frames 33-42 */
    add(map, 0x0ff8000, 0x1007fff, FF_MEM_USABLE);   /* frames 4088-4103 */
}

/* ---------------------------------------------------------------- qemu */

/* A QEMU/SeaBIOS PC with 128 MiB as the guest kernel sees it: frame 0 kept back, the
 * EBDA at 0x9FC00 rounded out to its frame, the BIOS area, the top 128 KiB of RAM held
 * by firmware, and the flash and LAPIC-adjacent ranges below 4 GiB. */
static void build_qemu(ff_e820_map *map)
{
    add(map, 0x00000000, 0x00000fff, FF_MEM_RESERVED);
    add(map, 0x00001000, 0x0009efff, FF_MEM_USABLE);
    add(map, 0x0009f000, 0x0009ffff, FF_MEM_RESERVED);
    add(map, 0x000f0000, 0x000fffff, FF_MEM_RESERVED);
    add(map, 0x00100000, 0x07fdffff, FF_MEM_USABLE);
    add(map, 0x07fe0000, 0x07ffffff, FF_MEM_RESERVED);
    add(map, 0xfeffc000, 0xfeffffff, FF_MEM_RESERVED);
    add(map, 0xfffc0000, 0xffffffff, FF_MEM_RESERVED);
}

/* ---------------------------------------------------------------- generic PCs */

/* Where low RAM stops and the PCI hole begins on a big PC. */
#define PC_LOW_RAM_END (3 * GiB)
#define PC_ACPI_DATA   (128 * KiB)
#define PC_ACPI_NVS    (64 * KiB)

/* A PC with `ram` bytes (at least 2 MiB): conventional memory below the EBDA, the
 * legacy BIOS area, RAM from 1 MiB up to 3 GiB with the ACPI tables at its top, a PCI
 * hole up to 4 GiB (IOAPIC, LAPIC, firmware flash) and the rest of the RAM remapped
 * above 4 GiB. Usable frames total `ram` less about 600 KiB. */
static void build_pc(ff_e820_map *map, uint64_t ram)
{
    add(map, 0x00000000, 0x00000fff, FF_MEM_RESERVED); /* frame 0 kept back */
    add(map, 0x00001000, 0x0009efff, FF_MEM_USABLE);
    add(map, 0x0009f000, 0x0009ffff, FF_MEM_RESERVED); /* EBDA */
    add(map, 0x000e0000, 0x000fffff, FF_MEM_RESERVED); /* BIOS */

    uint64_t low_end = ram < PC_LOW_RAM_END ? ram : PC_LOW_RAM_END;
    uint64_t acpi = low_end - PC_ACPI_NVS - PC_ACPI_DATA;
    add(map, 1 * MiB, acpi - 1, FF_MEM_USABLE);
    add(map, acpi, acpi + PC_ACPI_DATA - 1, FF_MEM_ACPI);
    add(map, low_end - PC_ACPI_NVS, low_end - 1, FF_MEM_NVS);
    if (ram <= PC_LOW_RAM_END) return;

    add(map, 0xfec00000, 0xfec00fff, FF_MEM_RESERVED); /* IOAPIC */
    add(map, 0xfee00000, 0xfee00fff, FF_MEM_RESERVED); /* LAPIC */
    add(map, 0xffc00000, 0xffffffff, FF_MEM_RESERVED); /* firmware flash */
    add(map, 4 * GiB, 4 * GiB + (ram - PC_LOW_RAM_END) - 1, FF_MEM_USABLE);
}

static void build_pc_1g(ff_e820_map *map) { build_pc(map, 1 * GiB); }
static void build_pc_4g(ff_e820_map *map) { build_pc(map, 4 * GiB); }
static void build_pc_64g(ff_e820_map *map) { build_pc(map, 64 * GiB); }
static void build_pc_1t(ff_e820_map *map) { build_pc(map, 1 * TiB); }

/* ---------------------------------------------------------------- the table */

const ff_preset ff_presets[] = {
    {"tiny", "50 frames with a hole, reserved and NVS frames, and 16 MiB straddled: for fuzzing",
     build_tiny},
    {"qemu", "QEMU/SeaBIOS PC with 128 MiB, as its guest kernel sees it: realistic and small",
     build_qemu},
    {"pc-1g", "PC with 1 GiB, all below the PCI hole: DMA and DMA32 zones", build_pc_1g},
    {"pc-4g", "PC with 4 GiB: 3 GiB low, PCI hole, 1 GiB above 4 GiB: all three zones",
     build_pc_4g},
    {"pc-64g", "PC with 64 GiB: a server-sized Normal zone", build_pc_64g},
    {"pc-1t", "PC with 1 TiB (2^28 frames): proves nothing costs O(frames) up front",
     build_pc_1t},
};
const size_t ff_preset_count = sizeof ff_presets / sizeof ff_presets[0];

const ff_preset *ff_preset_find(const char *name)
{
    for (size_t i = 0; name && i < ff_preset_count; i++)
        if (strcmp(ff_presets[i].name, name) == 0) return &ff_presets[i];
    return NULL;
}

/* More entries than any preset appends. */
#define PRESET_MAX_ENTRIES 32

bool ff_space_init_preset(ff_space *space, const char *preset, char *err, size_t errlen)
{
    const ff_preset *p = ff_preset_find(preset);
    if (!p) {
        memset(space, 0, sizeof *space);
        if (!err || !errlen) return false;
        int n = snprintf(err, errlen, "unknown preset '%s' (valid:", preset ? preset : "(null)");
        for (size_t i = 0; i < ff_preset_count && n >= 0 && (size_t)n < errlen; i++)
            n += snprintf(err + n, errlen - (size_t)n, " %s", ff_presets[i].name);
        if (n >= 0 && (size_t)n < errlen) snprintf(err + n, errlen - (size_t)n, ")");
        return false;
    }
    /* Room up front, so that the builders' appends cannot fail half-way. */
    ff_e820_map map;
    ff_e820_init(&map);
    map.entries = malloc(PRESET_MAX_ENTRIES * sizeof *map.entries);
    if (!map.entries) {
        memset(space, 0, sizeof *space);
        if (err && errlen) snprintf(err, errlen, "out of host memory building preset %s", p->name);
        return false;
    }
    map.capacity = PRESET_MAX_ENTRIES;
    p->build(&map);
    ff_space_opts opts = {.linux_fixups = false};
    bool ok = ff_space_init(space, &map, &opts, err, errlen);
    ff_e820_free(&map);
    return ok;
}
