/*
 * test_e820.c — the raw map container, the boot-log parser, the file loader and the
 * printer, including the real maps in ../shared/e820 (skipped when absent).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "space.h"
#include "unit.h"

#define SHARED_E820 "../shared/e820/"

static void expect_entry(const ff_e820_map *map, size_t i, uint64_t start, uint64_t size,
                         ff_mem_type type)
{
    CHECK(i < map->count);
    CHECK_EQ(map->entries[i].start, start);
    CHECK_EQ(map->entries[i].size, size);
    CHECK_EQ(map->entries[i].type, type);
}

/* Parses text that must be rejected; checks the message names `line` and `needle`. */
static void expect_error(const char *text, size_t line, const char *needle)
{
    ff_e820_map map;
    char err[160] = "", want[32];
    ff_e820_init(&map);
    CHECK(!ff_e820_parse(&map, text, err, sizeof err));
    CHECK_EQ(map.count, 0);
    snprintf(want, sizeof want, "line %zu: ", line);
    if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, needle))
        ff_test_fail(__FILE__, __LINE__, "\"%s\" should start \"%s\" and name \"%s\"", err, want,
                     needle);
    CHECK(!strchr(err, '\n'));
    ff_e820_free(&map);
}

/* ---------------------------------------------------------------- the container */

FF_TEST(e820_add_grows_and_free_resets)
{
    ff_e820_map map;
    ff_e820_init(&map);
    CHECK_EQ(map.count, 0);
    for (uint64_t i = 0; i < 1000; i++) CHECK(ff_e820_add(&map, i * 0x1000, 0x1000, FF_MEM_USABLE));
    CHECK_EQ(map.count, 1000);
    CHECK(map.capacity >= 1000);
    expect_entry(&map, 999, 999 * 0x1000, 0x1000, FF_MEM_USABLE);
    ff_e820_free(&map);
    CHECK(map.entries == NULL && map.count == 0 && map.capacity == 0);
    ff_e820_free(&map); /* twice is harmless */
}

/* ---------------------------------------------------------------- the parser */

FF_TEST(e820_parses_every_line_form)
{
    const char *text =
        "[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"
        "<6>[    0.000000] BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved\n"
        "Dec 30 22:05:18 ubuntu kernel: BIOS-e820: [mem 0x00000000000f0000-0x00000000000fffff] reserved\n"
        "BIOS-e820: [mem 0x0000000000100000-0x000000007ffdefff] usable\n"
        "[mem 0x7ffdf000-0x7fffffff] ACPI data\n"
        "0xb0000000-0xbfffffff ACPI NVS\n"
        "  \t0XFED1C000 - 0xfed1ffff   unusable  \r\n"
        "[mem 0x100000000-0x17fffffff]\tusable"; /* no final newline */
    ff_e820_map map;
    char err[160] = "";
    ff_e820_init(&map);
    if (!ff_e820_parse(&map, text, err, sizeof err)) ff_test_fail(__FILE__, __LINE__, "%s", err);
    CHECK_EQ(map.count, 8);
    expect_entry(&map, 0, 0, 0x9fc00, FF_MEM_USABLE);
    expect_entry(&map, 1, 0x9fc00, 0x400, FF_MEM_RESERVED);
    expect_entry(&map, 2, 0xf0000, 0x10000, FF_MEM_RESERVED);
    expect_entry(&map, 3, 0x100000, 0x7fedf000, FF_MEM_USABLE);
    expect_entry(&map, 4, 0x7ffdf000, 0x21000, FF_MEM_ACPI);
    expect_entry(&map, 5, 0xb0000000, 0x10000000, FF_MEM_NVS);
    expect_entry(&map, 6, 0xfed1c000, 0x4000, FF_MEM_UNUSABLE);
    expect_entry(&map, 7, 0x100000000, 0x80000000, FF_MEM_USABLE);
    ff_e820_free(&map);
}

FF_TEST(e820_type_words_linux_prints)
{
    const char *text = "0x0-0xfff type 12\n"
                       "0x1000-0x1fff persistent (type 7)\n"
                       "0x2000-0x2fff soft reserved\n"
                       "0x3000-0x3fff ACPI data\n"
                       "0x4000-0x4000 reserved\n"; /* a single byte */
    ff_e820_map map;
    char err[160] = "";
    ff_e820_init(&map);
    if (!ff_e820_parse(&map, text, err, sizeof err)) ff_test_fail(__FILE__, __LINE__, "%s", err);
    CHECK_EQ(map.count, 5);
    expect_entry(&map, 0, 0, 0x1000, FF_MEM_RESERVED);
    expect_entry(&map, 1, 0x1000, 0x1000, FF_MEM_RESERVED);
    expect_entry(&map, 2, 0x2000, 0x1000, FF_MEM_RESERVED);
    expect_entry(&map, 3, 0x3000, 0x1000, FF_MEM_ACPI);
    expect_entry(&map, 4, 0x4000, 1, FF_MEM_RESERVED);
    /* The largest representable ranges. */
    CHECK(ff_e820_parse(&map, "0x1-0xffffffffffffffff reserved", err, sizeof err));
    expect_entry(&map, 5, 1, UINT64_MAX, FF_MEM_RESERVED);
    ff_e820_free(&map);
}

FF_TEST(e820_skips_comments_blanks_and_the_header)
{
    const char *text = "# a comment\n"
                       "\n"
                       "   \t  \n"
                       "   # an indented comment with 0x0-0xfff usable\n"
                       "[    0.000000] BIOS-provided physical RAM map:\n"
                       "Dec 30 22:05:18 ubuntu kernel: BIOS-provided physical RAM map:\n"
                       "0x0-0xfff usable\n"
                       "\n";
    ff_e820_map map;
    char err[160] = "";
    ff_e820_init(&map);
    CHECK(ff_e820_parse(&map, text, err, sizeof err));
    CHECK_EQ(map.count, 1);
    CHECK(ff_e820_parse(&map, "", err, sizeof err));
    CHECK_EQ(map.count, 1);
    ff_e820_free(&map);
}

FF_TEST(e820_errors_name_the_line_and_the_problem)
{
    expect_error("0x0-0xfff usable\n"
                 "BIOS-e820: [mem 0x0000000000100000-0x00000000zzzzzzzz] usable\n",
                 2, "END is not");
    expect_error("# c\n\n0x0-0xfff usable\nhello world\n", 4, "not a map line");
    expect_error("[    0.000000] e820: update [mem 0x0-0xfff] usable ==> reserved\n", 1,
                 "not a map line");
    expect_error("BIOS-e820: [mem 0x2000-0x1000] usable\n", 1, "START is above END");
    expect_error("\n\nBIOS-e820: [mem 0x1000-0x1fff]\n", 3, "missing TYPE");
    expect_error("0x1000-0x1fff   \n", 1, "missing TYPE");
    expect_error("0x1000-0x1fff usable bonus\n", 1, "unknown TYPE: usable bonus");
    expect_error("0x1000-0x1fff Usable\n", 1, "unknown TYPE");
    expect_error("0x1000-0x1fff type\n", 1, "unknown TYPE");
    expect_error("0x1000-0x1fff type 1x\n", 1, "unknown TYPE");
    expect_error("0x1000-0x1fff persistent (type 7\n", 1, "unknown TYPE");
    expect_error("0x1000-0x1fff persistent (\n", 1, "unknown TYPE");
    expect_error("0x1000 0x1fff usable\n", 1, "expected '-'");
    expect_error("BIOS-e820: [mem 0x1000-0x1fff usable\n", 1, "expected ']'");
    expect_error("BIOS-e820: [mem 1000-0x1fff] usable\n", 1, "START is not");
    expect_error("BIOS-e820: [mem 0x-0x1fff] usable\n", 1, "START is not");
    expect_error("BIOS-e820:\n", 1, "START is not a 64-bit 0x hex number: (end of line)");
    expect_error("0x10000000000000000-0x10000000000000001 usable\n", 1, "START is not");
    expect_error("0x0-0xffffffffffffffff usable\n", 1, "2^64");
    expect_error("[mem 0x0-0xfff]usable\n", 1, "expected a blank");
    expect_error("0x1000-0x1fff,usable\n", 1, "expected a blank");
    /* The quote is cut short, the line number counts every line. */
    char text[400];
    snprintf(text, sizeof text, "%s", "\n\n\n\n\n\n\n\n\n0x0-0xfff ");
    size_t used = strlen(text);
    memset(text + used, 'x', 200);
    text[used + 200] = '\0';
    ff_e820_map map;
    char err[96];
    ff_e820_init(&map);
    CHECK(!ff_e820_parse(&map, text, err, sizeof err));
    CHECK(strncmp(err, "line 10: unknown TYPE: xxxx", 27) == 0);
    CHECK(strstr(err, "..."));
    CHECK(strlen(err) < 80);
    char tiny[5];
    CHECK(!ff_e820_parse(&map, text, tiny, sizeof tiny)); /* truncated, never overrun */
    CHECK_STREQ(tiny, "line");
    CHECK(!ff_e820_parse(&map, text, NULL, 0));
    ff_e820_free(&map);
}

/* ---------------------------------------------------------------- Linux 6.15+ logs */

/* Parses text that must be accepted into a fresh map (the caller frees it). */
static void parse_ok(ff_e820_map *map, const char *text)
{
    char err[160] = "";
    ff_e820_init(map);
    if (!ff_e820_parse(map, text, err, sizeof err)) ff_test_fail(__FILE__, __LINE__, "%s", err);
}

FF_TEST(e820_new_format_log_parses_like_the_old)
{
    /* One map as Linux up to 6.14 prints it, and as 6.15+ prints it: sizes, new type
     * words, gap lines, the FW_BUG warning for an unsorted table, every prefix. */
    const char *old =
        "[    0.000000] BIOS-provided physical RAM map:\n"
        "[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"
        "[    0.000000] BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved\n"
        "[    0.000000] BIOS-e820: [mem 0x00000000000f0000-0x00000000000fffff] reserved\n"
        "[    0.000000] BIOS-e820: [mem 0x0000000000100000-0x000000007ffdbfff] usable\n"
        "[    0.000000] BIOS-e820: [mem 0x000000007ffdc000-0x000000007fffffff] ACPI data\n"
        "[    0.000000] BIOS-e820: [mem 0x00000000b0000000-0x00000000bfffffff] reserved\n"
        "[    0.000000] BIOS-e820: [mem 0x00000000fed1c000-0x00000000fed1ffff] ACPI NVS\n"
        "[    0.000000] BIOS-e820: [mem 0x00000000feffc000-0x00000000feffffff] unusable\n"
        "[    0.000000] BIOS-e820: [mem 0x00000000fffc0000-0x00000000ffffffff] reserved\n"
        "[    0.000000] BIOS-e820: [mem 0x0000000100000000-0x000000017fffffff] usable\n"
        "[    0.000000] BIOS-e820: [mem 0x0000000180000000-0x00000001bfffffff] persistent (type 12)\n"
        "[    0.000000] BIOS-e820: [mem 0x000000fd00000000-0x000000ffffffffff] reserved\n"
        "[    0.000000] BIOS-e820: [mem 0x00000000000a0000-0x00000000000a0fff] soft reserved\n";
    const char *new =
        "[    0.000000] BIOS-provided physical RAM map:\n"
        "[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff]  639   KB System RAM\n"
        "<6>[    0.000000] BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff]    1   KB device reserved\n"
        "[    0.000000] BIOS-e820: [gap 0x00000000000a0000-0x00000000000effff]  320   KB\n"
        "Dec 30 22:05:18 host kernel: BIOS-e820: [mem 0x00000000000f0000-0x00000000000fffff]   64   KB device reserved\n"
        "[    0.000000] BIOS-e820: [mem 0x0000000000100000-0x000000007ffdbfff]    1.9 GB System RAM\n"
        "[    0.000000] BIOS-e820: [mem 0x000000007ffdc000-0x000000007fffffff]  144   KB ACPI data\n"
        "[    0.000000] BIOS-e820: [gap 0x0000000080000000-0x00000000afffffff]  768   MB\n"
        "[    0.000000] BIOS-e820: [mem 0x00000000b0000000-0x00000000bfffffff]  256   MB device reserved\n"
        "[    0.000000] BIOS-e820: [gap 0x00000000c0000000-0x00000000fed1bfff] 1005.1 MB\n"
        "[    0.000000] BIOS-e820: [mem 0x00000000fed1c000-0x00000000fed1ffff]   16   KB ACPI NVS\n"
        "[    0.000000] BIOS-e820: [gap 0x00000000fed20000-0x00000000feffbfff]\n" /* no size */
        "[    0.000000] BIOS-e820: [mem 0x00000000feffc000-0x00000000feffffff]   16   KB unusable\n"
        "[    0.000000] BIOS-e820: [gap 0x00000000ff000000-0x00000000fffbffff]   15.7 MB\n"
        "[    0.000000] BIOS-e820: [mem 0x00000000fffc0000-0x00000000ffffffff]  256   KB device reserved\n"
        "[    0.000000] BIOS-e820: [mem 0x0000000100000000-0x000000017fffffff]    2   GB System RAM\n"
        "[    0.000000] BIOS-e820: [mem 0x0000000180000000-0x00000001bfffffff]    1   GB persistent RAM (type 12)\n"
        "[    0.000000] BIOS-e820: [gap 0x00000001c0000000-0x000000fcffffffff] 1007   GB\n"
        "[    0.000000] BIOS-e820: [mem 0x000000fd00000000-0x000000ffffffffff]   12   GB device reserved\n"
        "[    0.000000] [Firmware Bug]: out of order E820 entry!\n"
        "[    0.000000] BIOS-e820: [mem 0x00000000000a0000-0x00000000000a0fff]    4   KB soft reserved\r\n";
    ff_e820_map a, b;
    parse_ok(&a, old);
    parse_ok(&b, new);
    CHECK_EQ(a.count, 13);
    CHECK_EQ(b.count, a.count);
    for (size_t i = 0; i < a.count; i++) {
        CHECK_EQ(b.entries[i].start, a.entries[i].start);
        CHECK_EQ(b.entries[i].size, a.entries[i].size);
        CHECK_EQ(b.entries[i].type, a.entries[i].type);
    }
    expect_entry(&b, 0, 0, 0x9fc00, FF_MEM_USABLE);
    expect_entry(&b, 1, 0x9fc00, 0x400, FF_MEM_RESERVED);
    expect_entry(&b, 3, 0x100000, 0x7fedc000, FF_MEM_USABLE);
    expect_entry(&b, 9, 0x100000000, 0x80000000, FF_MEM_USABLE);
    expect_entry(&b, 10, 0x180000000, 0x40000000, FF_MEM_RESERVED);
    ff_e820_free(&a);
    ff_e820_free(&b);
}

FF_TEST(e820_new_type_words)
{
    ff_e820_map map;
    parse_ok(&map, "0x0-0xfff System RAM\n"
                   "[mem 0x1000-0x1fff] device reserved\n"
                   "0x2000-0x2fff persistent RAM\n"
                   "0x3000-0x3fff persistent RAM (type 7)\n"
                   "0x4000-0x4fff persistent RAM (type 12)\n"
                   "BIOS-e820: [mem 0x5000-0x5fff] 4 KB System RAM\n"
                   "BIOS-e820: [mem 0x6000-0x6fff] 4 KB device reserved\n"
                   "BIOS-e820: [mem 0x7000-0x7fff] 4 KB persistent RAM (type 7)\n"
                   "BIOS-e820: [mem 0x8000-0x8fff] 4 KB type 13\n");
    CHECK_EQ(map.count, 9);
    expect_entry(&map, 0, 0, 0x1000, FF_MEM_USABLE);
    expect_entry(&map, 1, 0x1000, 0x1000, FF_MEM_RESERVED);
    expect_entry(&map, 2, 0x2000, 0x1000, FF_MEM_RESERVED);
    expect_entry(&map, 3, 0x3000, 0x1000, FF_MEM_RESERVED);
    expect_entry(&map, 4, 0x4000, 0x1000, FF_MEM_RESERVED);
    expect_entry(&map, 5, 0x5000, 0x1000, FF_MEM_USABLE);
    expect_entry(&map, 6, 0x6000, 0x1000, FF_MEM_RESERVED);
    expect_entry(&map, 7, 0x7000, 0x1000, FF_MEM_RESERVED);
    expect_entry(&map, 8, 0x8000, 0x1000, FF_MEM_RESERVED);
    ff_e820_free(&map);
}

FF_TEST(e820_size_column_every_unit_and_fractions)
{
    /* The size is skipped, never compared with the range: the kernel rounds it. */
    static const char *const sizes[] = {
        "1 B",     "0.5 KB", "4 KB",    "1.9 MB", "1005.1 MB", "12   GB", "2 TB",
        "1.0 PB",  "4 KiB",  "1.5 MiB", "3 GiB",  "0.1 TiB",   "7GB",     "  999.99   KB",
        "\t64\tKB"};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char text[200];
        snprintf(text, sizeof text,
                 "BIOS-e820: [mem 0x1000-0x1fff] %s System RAM\n"
                 "0x2000-0x2fff %s ACPI NVS\n"
                 "BIOS-e820: [gap 0x3000-0x3fff] %s\n"
                 "[mem 0x4000-0x4fff] %s usable\n",
                 sizes[i], sizes[i], sizes[i], sizes[i]);
        ff_e820_map map;
        char err[160] = "";
        ff_e820_init(&map);
        if (!ff_e820_parse(&map, text, err, sizeof err))
            ff_test_fail(__FILE__, __LINE__, "size \"%s\": %s", sizes[i], err);
        CHECK_EQ(map.count, 3);
        expect_entry(&map, 0, 0x1000, 0x1000, FF_MEM_USABLE);
        expect_entry(&map, 1, 0x2000, 0x1000, FF_MEM_NVS);
        expect_entry(&map, 2, 0x4000, 0x1000, FF_MEM_USABLE);
        ff_e820_free(&map);
    }
}

FF_TEST(e820_gap_lines_add_no_entry)
{
    ff_e820_map map;
    parse_ok(&map, "BIOS-e820: [gap 0x00000000000a0000-0x00000000000effff]   320 KB\n"
                   "[    0.000000] BIOS-e820: [gap 0x00000000000a0000-0x00000000000effff]\n"
                   "[gap 0xa0000-0xeffff] 320 KB\n"
                   "[gap 0xa0000 - 0xeffff]\n"
                   "[gap 0x1000-0x1000]\n" /* a single byte */
                   "BIOS-e820: [gap 0x1-0xffffffffffffffff] 16384 PB\n"
                   "  \t\r\n");
    CHECK_EQ(map.count, 0);
    ff_e820_free(&map);
    parse_ok(&map, "BIOS-e820: [mem 0x0-0x9fbff] 639 KB System RAM\n"
                   "BIOS-e820: [gap 0xa0000-0xeffff] 320 KB\n"
                   "BIOS-e820: [mem 0xf0000-0xfffff] 64 KB device reserved\n");
    CHECK_EQ(map.count, 2);
    expect_entry(&map, 0, 0, 0x9fc00, FF_MEM_USABLE);
    expect_entry(&map, 1, 0xf0000, 0x10000, FF_MEM_RESERVED);
    ff_e820_free(&map);
}

FF_TEST(e820_new_format_errors_name_the_line)
{
    /* A gap line is checked like a mem line. */
    expect_error("BIOS-e820: [mem 0x0-0xfff] 4 KB System RAM\n"
                 "BIOS-e820: [gap 0x0000zz0000-0x00000000000effff]   320 KB\n",
                 2, "START is not");
    expect_error("\n\nBIOS-e820: [gap 0xa0000-0xefffg]\n", 3, "END is not");
    expect_error("BIOS-e820: [gap 0xeffff-0xa0000]   320 KB\n", 1,
                 "START is above END: [gap 0xeffff-0xa0000]");
    expect_error("BIOS-e820: [gap 0xa0000 0xeffff]\n", 1, "expected '-'");
    expect_error("BIOS-e820: [gap 0xa0000-0xeffff 320 KB\n", 1, "expected ']'");
    expect_error("BIOS-e820: [gap 0xa0000-0xeffff]320 KB\n", 1, "expected a blank");
    expect_error("BIOS-e820: [gap]\n", 1, "START is not");
    expect_error("BIOS-e820: [gap 0x0-0xffffffffffffffff]\n", 1, "2^64");
    /* A gap carries a size at most. */
    expect_error("BIOS-e820: [gap 0xa0000-0xeffff]   320 KB device reserved\n", 1,
                 "a gap line takes only a SIZE: device reserved");
    expect_error("BIOS-e820: [gap 0xa0000-0xeffff]  320   KB ...\n", 1, "only a SIZE: ...");
    expect_error("[gap 0xa0000-0xeffff] usable\n", 1, "only a SIZE");
    /* A size is not a type. */
    expect_error("0x0-0xfff usable\nBIOS-e820: [mem 0x1000-0x1fff]   4 KB\n", 2, "missing TYPE");
    expect_error("[    0.000000] BIOS-e820: [mem 0x1000-0x1fff]    1.9 GB   \n", 1, "missing TYPE");
    expect_error("0x1000-0x1fff 4KB\n", 1, "missing TYPE");
    /* A malformed size. */
    expect_error("BIOS-e820: [mem 0x1000-0x1fff] 4 XB System RAM\n", 1,
                 "bad SIZE (want e.g. 639 KB or 1.9 GB): 4 XB System RAM");
    expect_error("BIOS-e820: [mem 0x1000-0x1fff] 4 System RAM\n", 1, "bad SIZE");
    expect_error("BIOS-e820: [mem 0x1000-0x1fff] 4\n", 1, "bad SIZE");
    expect_error("BIOS-e820: [mem 0x1000-0x1fff] 1. GB System RAM\n", 1, "bad SIZE");
    expect_error("BIOS-e820: [mem 0x1000-0x1fff] 1.9GBSystem RAM\n", 1, "bad SIZE");
    expect_error("BIOS-e820: [mem 0x1000-0x1fff] 4 kb System RAM\n", 1, "bad SIZE");
    expect_error("BIOS-e820: [gap 0x1000-0x1fff] 4 K\n", 1, "bad SIZE");
    /* Unknown labels stay unknown, with or without a size. */
    expect_error("BIOS-e820: [mem 0x1000-0x1fff]    4 KB System ROM\n", 1,
                 "unknown TYPE: System ROM");
    expect_error("BIOS-e820: [mem 0x1000-0x1fff]    4 KB system RAM\n", 1, "unknown TYPE");
    expect_error("BIOS-e820: [mem 0x1000-0x1fff] device  reserved\n", 1, "unknown TYPE");
    expect_error("BIOS-e820: [mem 0x1000-0x1fff] 4 KB kernel usable RAM\n", 1, "unknown TYPE");
    expect_error("0x1000-0x1fff persistent RAM (type 7\n", 1, "unknown TYPE");
    expect_error("0x1000-0x1fff persistent RAM (type)\n", 1, "unknown TYPE");
    expect_error("0x1000-0x1fff persistent RAM type 7\n", 1, "unknown TYPE");
    expect_error("0x1000-0x1fff System RAM 4 KB\n", 1, "unknown TYPE");
    /* Only the exact warning is skipped. */
    expect_error("[    0.000000] [Firmware Bug]: something else\n", 1, "not a map line");
    /* Gap lines count like any other line. */
    expect_error("BIOS-e820: [gap 0xa0000-0xeffff] 320 KB\n"
                 "BIOS-e820: [gap 0xa0000-0xeffff] 320 KB\n"
                 "BIOS-e820: [mem 0x1000-0x1fff] 4 KB\n",
                 3, "missing TYPE");
}

FF_TEST(e820_failed_parse_leaves_the_map_as_it_was)
{
    ff_e820_map map;
    char err[160];
    ff_e820_init(&map);
    CHECK(ff_e820_add(&map, 0, 0x1000, FF_MEM_USABLE));
    CHECK(!ff_e820_parse(&map, "0x1000-0x1fff usable\n0x2000-0x2fff\n", err, sizeof err));
    CHECK_EQ(map.count, 1);
    CHECK(ff_e820_parse(&map, "0x1000-0x1fff usable\n", err, sizeof err));
    CHECK_EQ(map.count, 2); /* parsing appends */
    ff_e820_free(&map);
}

FF_TEST(e820_print_then_parse_round_trips)
{
    ff_e820_map map, again;
    ff_e820_init(&map);
    ff_e820_init(&again);
    for (size_t i = 0; i < ff_preset_count; i++) ff_presets[i].build(&map);
    CHECK(ff_e820_add(&map, 0x1234, 0x10, FF_MEM_UNUSABLE));
    CHECK(ff_e820_add(&map, 0x5000, 0, FF_MEM_USABLE)); /* empty: not printed */
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    CHECK(out != NULL);
    ff_e820_print(&map, out);
    fclose(out);
    const char *first = "BIOS-e820: [mem 0x0000000000000000-0x000000000000ffff] usable\n";
    CHECK(strncmp(buf, first, strlen(first)) == 0);
    char err[160] = "";
    if (!ff_e820_parse(&again, buf, err, sizeof err)) ff_test_fail(__FILE__, __LINE__, "%s", err);
    free(buf);
    CHECK_EQ(again.count, map.count - 1);
    for (size_t i = 0; i < again.count; i++) {
        CHECK_EQ(again.entries[i].start, map.entries[i].start);
        CHECK_EQ(again.entries[i].size, map.entries[i].size);
        CHECK_EQ(again.entries[i].type, map.entries[i].type);
    }
    ff_e820_free(&map);
    ff_e820_free(&again);
}

/* ---------------------------------------------------------------- files */

static bool shared_present(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f) fclose(f);
    return f != NULL;
}

/* Loads a shared map and builds its space; false (a skip) when the file is absent. */
static bool load_shared(const char *name, bool fixups, ff_e820_map *map, ff_space *space)
{
    char path[128];
    snprintf(path, sizeof path, SHARED_E820 "%s", name);
    if (!shared_present(path)) return false;
    char err[200] = "";
    ff_e820_init(map);
    if (!ff_e820_load_file(map, path, err, sizeof err)) ff_test_fail(__FILE__, __LINE__, "%s", err);
    ff_space_opts opts = {.linux_fixups = fixups};
    if (!ff_space_init(space, map, &opts, err, sizeof err))
        ff_test_fail(__FILE__, __LINE__, "%s: %s", name, err);
    return true;
}

FF_TEST(e820_shared_qemu_6g_gives_linux_s_own_ranges)
{
    ff_e820_map map;
    ff_space s;
    if (!load_shared("qemu-q35-6g.log", true, &map, &s)) return;
    CHECK_EQ(map.count, 9);
    /* "# expected node ranges" in the log, as frames [start, end). */
    const ff_range expected[] = {{0x1, 0x9e}, {0x100, 0x7ffdf - 0x100}, {0x100000, 0x80000}};
    ff_range merged[8];
    size_t n = 0;
    for (size_t i = 0; i < s.nusable; i++) {
        if (n && ff_range_end(merged[n - 1]) == s.usable[i].start)
            merged[n - 1].count += s.usable[i].count;
        else {
            CHECK(n < 8);
            merged[n++] = s.usable[i];
        }
    }
    CHECK_EQ(n, 3);
    for (size_t i = 0; i < 3; i++) {
        CHECK_EQ(merged[i].start, expected[i].start);
        CHECK_EQ(merged[i].count, expected[i].count);
    }
    CHECK_EQ(ff_space_type(&s, 0), FF_MEM_RESERVED);
    CHECK_EQ(s.top, 0x180000);
    ff_space_destroy(&s);
    ff_e820_free(&map);
}

FF_TEST(e820_shared_qemu_18g_parses)
{
    ff_e820_map map;
    ff_space s;
    if (!load_shared("qemu-q35-18g.log", false, &map, &s)) return;
    CHECK_EQ(map.count, 10);
    CHECK_EQ(s.nregions, 10);
    /* 0x9f + (0x7ffde - 0x100) + 14 GiB of frames; frame 0 usable without fix-ups. */
    CHECK_EQ(s.usable_frames, 0x9f + (0x7ffde - 0x100) + 0x380000);
    CHECK_EQ(s.nusable, 4);
    CHECK_EQ(s.top, 0x480000);
    CHECK_EQ(ff_space_type(&s, 0xb0000), FF_MEM_RESERVED);
    ff_space_destroy(&s);
    ff_e820_free(&map);
}

FF_TEST(e820_shared_vmware_5g_parses)
{
    ff_e820_map map;
    ff_space s;
    if (!load_shared("vmware-5g.log", false, &map, &s)) return;
    CHECK_EQ(map.count, 12);
    CHECK_EQ(s.nregions, 12);
    /* 0x9e800 rounds down to frame 0x9e, and the reserved range out to the same frame. */
    CHECK_EQ(ff_space_type(&s, 0x9d), FF_MEM_USABLE);
    CHECK_EQ(ff_space_type(&s, 0x9e), FF_MEM_RESERVED);
    CHECK_EQ(ff_space_type(&s, 0xbfed0), FF_MEM_ACPI);
    CHECK_EQ(ff_space_type(&s, 0xbfeff), FF_MEM_NVS);
    CHECK_EQ(ff_space_type(&s, 0xbff00), FF_MEM_USABLE);
    CHECK_EQ(s.usable_frames, 0x9e + (0xbfed0 - 0x100) + 0x100 + 0x40000);
    CHECK_EQ(s.top, 0x140000);
    ff_space_destroy(&s);
    ff_e820_free(&map);
}

/* Writes `len` bytes to a fresh temporary file; its path goes into `path`. */
static void write_temp(char *path, size_t pathlen, const char *data, size_t len)
{
    snprintf(path, pathlen, "/tmp/ff_e820_test_XXXXXX");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    CHECK(f != NULL);
    CHECK_EQ(fwrite(data, 1, len, f), len);
    fclose(f);
}

FF_TEST(e820_load_file_errors_name_the_file)
{
    ff_e820_map map;
    char err[200] = "", path[64];
    ff_e820_init(&map);

    CHECK(!ff_e820_load_file(&map, "/nonexistent/map.txt", err, sizeof err));
    CHECK(strstr(err, "/nonexistent/map.txt"));
    CHECK(strstr(err, strerror(ENOENT)));

    CHECK(!ff_e820_load_file(&map, "/tmp", err, sizeof err)); /* a directory */
    CHECK(strstr(err, "/tmp"));

    size_t big = (1u << 20) + 1;
    char *data = malloc(big);
    CHECK(data != NULL);
    memset(data, '\n', big);
    write_temp(path, sizeof path, data, big);
    free(data);
    CHECK(!ff_e820_load_file(&map, path, err, sizeof err));
    unlink(path);
    CHECK(strstr(err, path));
    CHECK(strstr(err, "larger than"));

    static const char nul[] = "0x0-0xfff usable\n\0x1000-0x1fff usable\n";
    write_temp(path, sizeof path, nul, sizeof nul - 1);
    CHECK(!ff_e820_load_file(&map, path, err, sizeof err));
    unlink(path);
    CHECK(strstr(err, "NUL"));

    static const char bad[] = "0x0-0xfff usable\r\n0x1000-0x1fff usable\r\n\r\njunk\r\n";
    write_temp(path, sizeof path, bad, sizeof bad - 1);
    CHECK(!ff_e820_load_file(&map, path, err, sizeof err));
    CHECK(strstr(err, "line 4: "));
    CHECK_EQ(map.count, 0);
    unlink(path);

    static const char good[] = "0x0-0xfff usable\r\n0x1000-0x1fff reserved";
    write_temp(path, sizeof path, good, sizeof good - 1);
    CHECK(ff_e820_load_file(&map, path, err, sizeof err));
    unlink(path);
    CHECK_EQ(map.count, 2);
    expect_entry(&map, 1, 0x1000, 0x1000, FF_MEM_RESERVED);
    ff_e820_free(&map);
}
