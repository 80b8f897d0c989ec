/*
 * test_ops.c — the operation language: exact round trips between text and binary for
 * every operation and directive, the canonical num/log encodings, decoding of random
 * bytes (stable under re-encoding), the parser's error messages and limits, and the
 * #1760 reproducer. Programs with CPUs: the version 2 binary form (cpus section, tag
 * bytes, their modulo rules, truncation), version 1 unchanged by flag bit 6, every
 * round trip over random version 2 inputs, the cpus and schedule directives and the
 * cpuK/irqK tags in text, their errors, and ff_op_format_in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "unit.h"

/* Captures the printer's output in a malloc'd string. */
static char *print_program(const ff_program *p)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    CHECK(out != NULL);
    ff_program_print(p, out);
    fclose(out);
    return buf;
}

/* text -> program -> binary -> program -> text must give back `text` exactly. */
static void check_text_round_trip(const char *text)
{
    ff_program p, q;
    char err[160] = "";
    uint8_t *bin;
    size_t size;
    if (!ff_program_parse(&p, text, err, sizeof err)) ff_test_fail(__FILE__, __LINE__, "%s", err);
    CHECK(ff_program_encode(&p, &bin, &size));
    CHECK(ff_program_decode(&q, bin, size));
    char *again = print_program(&q);
    CHECK_STREQ(again, text);
    free(again);
    free(bin);
    ff_program_free(&p);
    ff_program_free(&q);
}

/* binary -> program -> text -> program -> binary must give back the bytes exactly. */
static void check_binary_round_trip(const uint8_t *bytes, size_t size)
{
    ff_program p, q;
    char err[160] = "";
    uint8_t *bin;
    size_t len;
    CHECK(ff_program_decode(&p, bytes, size));
    char *text = print_program(&p);
    if (!ff_program_parse(&q, text, err, sizeof err))
        ff_test_fail(__FILE__, __LINE__, "%s in:\n%s", err, text);
    CHECK(ff_program_encode(&q, &bin, &len));
    CHECK_EQ(len, size);
    CHECK(memcmp(bin, bytes, size) == 0);
    free(bin);
    free(text);
    ff_program_free(&p);
    ff_program_free(&q);
}

static void check_same_program(const ff_program *a, const ff_program *b)
{
    CHECK_STREQ(a->backend, b->backend);
    CHECK_EQ(a->semantics, b->semantics);
    CHECK_EQ(a->poison, b->poison);
    CHECK(a->preset == b->preset);
    CHECK_EQ(a->nregions, b->nregions);
    for (size_t i = 0; i < a->nregions; i++) {
        CHECK_EQ(a->regions[i].start, b->regions[i].start);
        CHECK_EQ(a->regions[i].size, b->regions[i].size);
        CHECK_EQ(a->regions[i].type, b->regions[i].type);
    }
    CHECK_EQ(a->ncpus, b->ncpus);
    CHECK_EQ(a->sched_mode, b->sched_mode);
    CHECK_EQ(a->schedule_len, b->schedule_len);
    CHECK(memcmp(a->schedule, b->schedule, a->schedule_len) == 0);
    CHECK_EQ(a->nops, b->nops);
    for (size_t i = 0; i < a->nops; i++) {
        const ff_op *x = &a->ops[i], *y = &b->ops[i];
        CHECK_EQ(x->kind, y->kind);
        CHECK_EQ(x->cpu, y->cpu);
        CHECK_EQ(x->irq, y->irq);
        CHECK_EQ(x->irq_after, y->irq_after);
        CHECK_EQ(x->handle, y->handle);
        CHECK_EQ(x->zone, y->zone);
        CHECK_EQ(x->refs, y->refs);
        CHECK_EQ(x->value, y->value);
        CHECK_EQ(x->count, y->count);
        CHECK_EQ(x->align, y->align);
        CHECK_EQ(x->offset, y->offset);
        CHECK_EQ(x->paddr, y->paddr);
    }
}

/* Parses text that must be rejected; checks the message starts "line N: " and names
 * `needle`. */
static void expect_error(const char *text, unsigned line, const char *needle)
{
    ff_program p;
    char err[160] = "", want[32];
    CHECK(!ff_program_parse(&p, text, err, sizeof err));
    snprintf(want, sizeof want, "line %u: ", line);
    if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, needle))
        ff_test_fail(__FILE__, __LINE__, "want \"%s...%s\", got \"%s\"", want, needle, err);
    CHECK_EQ(p.nops, 0);
}

#define HEAD "semantics hardened\nmap tiny\npoison off\n"

FF_TEST(ops_defaults_and_names)
{
    ff_program p;
    ff_program_init(&p);
    CHECK_EQ(p.semantics, FF_SEM_HARDENED);
    CHECK_STREQ(p.preset, "tiny");
    CHECK(!p.poison);
    CHECK_STREQ(p.backend, "");
    CHECK_EQ(p.nops, 0);
    CHECK_EQ(ff_ops_fuzz_preset_count, 4);
    CHECK_STREQ(ff_op_kind_name(FF_OP_FROM_IN_USE), "from_in_use");
    CHECK_STREQ(ff_op_kind_name(FF_OP_KIND_COUNT), "?");
    /* Defaults of the optional operands. */
    CHECK(ff_program_parse(&p, "alloc 3\nfrom_in_use 0x5000\ndrop h1\n", NULL, 0));
    CHECK_EQ(p.nops, 3);
    CHECK_EQ(p.ops[0].align, 1);
    CHECK_EQ(p.ops[0].zone, FF_ZONE_NORMAL);
    CHECK_EQ(p.ops[1].count, 1);
    CHECK_EQ(p.ops[1].refs, 1);
    CHECK_EQ(p.ops[2].kind, FF_OP_DROP);
    CHECK_EQ(p.ops[2].handle, 1);
    ff_program_free(&p);
}

/* What the parser and printer assume of FF_OP_LIST: a keyword shared by several
 * operations starts with the short form and each later one lists the earlier one's
 * operands first; options follow the positionals; the kind names differ. */
FF_TEST(ops_table_is_well_formed)
{
    for (int k = 0; k < FF_OP_KIND_COUNT; k++) {
        const ff_op_info *info = &ff_op_infos[k];
        CHECK_STREQ(ff_op_kind_name((ff_op_kind)k), info->name);
        CHECK(info->weight > 0);
        CHECK(info->noperands < 32); /* the parser's bit per option */
        bool options = false;
        for (size_t i = 0; i < info->noperands; i++) {
            const ff_operand *d = &info->operands[i];
            bool is_option = d->syntax == FF_SYN_KEY || d->syntax == FF_SYN_KEY_SHOWN;
            CHECK_EQ(is_option, d->keyword != NULL);
            CHECK(is_option || !options);
            options |= is_option;
        }
        for (int j = 0; j < k; j++) {
            CHECK(strcmp(ff_op_infos[j].name, info->name) != 0);
            if (strcmp(ff_op_infos[j].keyword, info->keyword) != 0) continue;
            const ff_op_info *shorter = &ff_op_infos[j];
            CHECK(shorter->noperands < info->noperands);
            for (size_t i = 0; i < shorter->noperands; i++) {
                CHECK_EQ(shorter->operands[i].kind, info->operands[i].kind);
                CHECK_EQ(shorter->operands[i].syntax, FF_SYN_POS);
            }
            for (size_t i = shorter->noperands; i < info->noperands; i++)
                CHECK_EQ(info->operands[i].syntax, FF_SYN_POS);
        }
    }
}

FF_TEST(ops_interesting_values_distinct)
{
    for (size_t i = 0; i < 24; i++) {
        CHECK(ff_ops_interesting[i] >= 0xE0);
        for (size_t j = 0; j < i; j++) CHECK(ff_ops_interesting[i] != ff_ops_interesting[j]);
    }
}

FF_TEST(ops_every_kind_text_round_trip)
{
    check_text_round_trip(HEAD
                          "alloc 1\n"
                          "alloc 0\n"
                          "alloc 5 align 8\n"
                          "alloc 7 align 3 zone dma\n"
                          "alloc 2 zone dma32\n"
                          "alloc 1 align 0 zone invalid\n"
                          "drop h0\n"
                          "drop h255\n"
                          "drop h3 +2 5\n"
                          "from_unused 0x1000 1\n"
                          "from_unused 0x1234 300\n"
                          "clone h7\n"
                          "from_in_use 0x2000 4 refs 1\n"
                          "from_in_use 0x0 0 refs 4294967295\n"
                          "raw_free 0xffffffffffffffff 18446744073709551615\n"
                          "write 0xabc000 0x00\n"
                          "write 0x1001 0xff\n"
                          "check\n");
}

FF_TEST(ops_directives_text_round_trip)
{
    check_text_round_trip("backend buddy\nsemantics asterinas-2024\nmap pc-4g\npoison on\ncheck\n");
    check_text_round_trip("semantics hardened\nmap qemu\npoison off\n");
    check_text_round_trip("backend freelist\nsemantics hardened\nmap custom\n"
                          "region 0x0-0x9fbff usable\n"
                          "region 0x9fc00-0x9ffff reserved\n"
                          "region 0x100000-0x3ffffff ACPI data\n"
                          "region 0x400-0x3ff ACPI NVS\n" /* empty */
                          "region 0x3fffc00-0x7fff7ff unusable\n"
                          "poison off\nalloc 1\n");
}

FF_TEST(ops_parser_accepts_variations)
{
    ff_program p;
    char err[160] = "";
    const char *text = "# a comment\n\n  poison   on  # trailing\r\n"
                       "map pc-1g\nsemantics asterinas-2024\nbackend bitmap\n"
                       "alloc 0x10 zone dma align 4\n"
                       "from_unused 4096\nfrom_in_use 0x3000 refs 9\nraw_free 0x7000\n"
                       "write 8192 17\n\tcheck";
    CHECK(ff_program_parse(&p, text, err, sizeof err));
    char *canon = print_program(&p);
    CHECK_STREQ(canon, "backend bitmap\nsemantics asterinas-2024\nmap pc-1g\npoison on\n"
                       "alloc 16 align 4 zone dma\nfrom_unused 0x1000 1\n"
                       "from_in_use 0x3000 1 refs 9\nraw_free 0x7000 1\nwrite 0x2000 0x11\ncheck\n");
    free(canon);
    ff_program_free(&p);
}

FF_TEST(ops_binary_round_trip_canonical)
{
    /* tiny map, hardened, poison, ops using small, interesting, u16, u32, u64 nums. */
    static const uint8_t prog[] = {
        1, 0x03,
        FF_OP_ALLOC, 5, 3, 2,                          /* alloc 5 align 8 */
        FF_OP_ALLOC, 0xE5, 64, 0xF8, 0xE0, 0x00, 3,    /* alloc 1024 align 224 zone invalid */
        FF_OP_ALLOC, 0xF8, 0x34, 0x12, 64, 0, 0,       /* alloc 0x1234 align 0 zone dma */
        FF_OP_DROP, 9,
        FF_OP_DROP_PIECE, 1, 0xF9, 0x78, 0x56, 0x34, 0x12, 0xF7,
        FF_OP_FROM_UNUSED, 0xFA, 1, 2, 3, 4, 5, 6, 7, 0, 0xF8, 0x23, 0x01, 1,
        FF_OP_CLONE, 200,
        FF_OP_FROM_IN_USE, 16, 0, 2, 0xF9, 0xFE, 0xFF, 0xFF, 0xFF,
        FF_OP_RAW_FREE, 0xE9, 0x10, 0xE7,        /* raw_free (1 << 18 frame) + 0x10, 4096 */
        FF_OP_WRITE, 0, 1, 0xAB,
        FF_OP_CHECK,
    };
    check_binary_round_trip(prog, sizeof prog);
    ff_program p;
    CHECK(ff_program_decode(&p, prog, sizeof prog));
    CHECK_EQ(p.nops, 11);
    CHECK_EQ(p.ops[0].align, 8);
    CHECK_EQ(p.ops[1].count, 1024);
    CHECK_EQ(p.ops[1].align, 224);
    CHECK_EQ(p.ops[1].zone, FF_OPS_ZONE_INVALID);
    CHECK_EQ(p.ops[2].count, 0x1234);
    CHECK_EQ(p.ops[2].align, 0);
    CHECK_EQ(p.ops[4].offset, 0x12345678);
    CHECK_EQ(p.ops[4].count, UINT64_MAX);
    CHECK_EQ(p.ops[5].paddr, (UINT64_C(0x0007060504030201) << 12) | 0x123);
    CHECK_EQ(p.ops[7].refs, 0xFFFFFFFE);
    CHECK_EQ(p.ops[8].paddr, (UINT64_C(1) << 18 << 12) | 0x10);
    CHECK_EQ(p.ops[8].count, 4096);
    CHECK_EQ(p.ops[9].paddr, 1);
    CHECK_EQ(p.ops[9].value, 0xAB);
    ff_program_free(&p);

    /* Custom regions and a back-end name. */
    static const uint8_t custom[] = {
        1, (7 << 2) | 0x20, 2,
        0, 0, 0x7f, 0x02, 0,       /* 0-639 KiB usable */
        0x00, 0x04, 0x00, 0x0C, 1, /* 1 MiB-4 MiB reserved */
        0x20, 0, 0, 0, 4,          /* empty unusable */
        2, 'b', 's', 'a',
        FF_OP_CHECK,
    };
    check_binary_round_trip(custom, sizeof custom);
    CHECK(ff_program_decode(&p, custom, sizeof custom));
    CHECK_STREQ(p.backend, "bsa");
    CHECK(p.preset == NULL);
    CHECK_EQ(p.nregions, 3);
    CHECK_EQ(p.regions[0].size, 0x27f * 1024);
    CHECK_EQ(p.regions[1].start, 1 << 20);
    CHECK_EQ(p.regions[1].type, FF_MEM_RESERVED);
    CHECK_EQ(p.regions[2].type, FF_MEM_UNUSABLE);
    CHECK_EQ(p.semantics, FF_SEM_ASTERINAS_2024);
    ff_program_free(&p);
}

FF_TEST(ops_decode_again_reuses_the_array_and_forgets_the_last_program)
{
    /* A long custom-map program with a back-end, then a short preset one into the same
     * program: the second must read as if decoded fresh, in the first's array. */
    static const uint8_t first[] = {
        1, (7 << 2) | 0x20 | 0x03, 0, 0, 0, 0x7f, 0x02, 0, 2, 'b', 's', 'a',
        FF_OP_ALLOC, 5, 3, 2, FF_OP_CHECK, FF_OP_CHECK, FF_OP_DROP, 9, FF_OP_CHECK,
    };
    static const uint8_t second[] = {1, 0x00, FF_OP_CHECK};
    ff_program p = {0}, fresh;
    CHECK(ff_program_decode_again(&p, first, sizeof first));
    CHECK_EQ(p.nops, 5);
    const ff_op *array = p.ops;
    CHECK(ff_program_decode_again(&p, second, sizeof second));
    CHECK(ff_program_decode(&fresh, second, sizeof second));
    CHECK(p.ops == array);
    CHECK_EQ(p.nops, 1);
    CHECK_EQ(p.ops[0].kind, FF_OP_CHECK);
    char *a = print_program(&p), *b = print_program(&fresh);
    CHECK_STREQ(a, b);
    free(a);
    free(b);
    ff_program_free(&p);
    ff_program_free(&fresh);
}

FF_TEST(ops_num_encodings)
{
    struct { uint64_t v; size_t len; uint8_t first; } cases[] = {
        {0, 1, 0}, {0xDF, 1, 0xDF}, {0xE0, 3, 0xF8}, {256, 1, 0xE0}, {4097, 1, 0xE8},
        {UINT64_MAX, 1, 0xF7}, {0xFFFF, 3, 0xF8}, {0x10000, 5, 0xF9}, {0xFFFFFFFE, 5, 0xF9},
        {UINT64_C(0x100000001), 9, 0xFA}, {UINT64_MAX - 2, 9, 0xFA},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ff_program p, q;
        ff_program_init(&p);
        ff_op op = {.kind = FF_OP_DROP_PIECE, .offset = cases[i].v, .count = 1};
        CHECK(ff_program_add(&p, &op));
        uint8_t *bin;
        size_t size;
        CHECK(ff_program_encode(&p, &bin, &size));
        /* version, flags, opcode, handle, offset num, count 1 */
        CHECK_EQ(size, 4 + cases[i].len + 1);
        CHECK_EQ(bin[4], cases[i].first);
        CHECK(ff_program_decode(&q, bin, size));
        CHECK_EQ(q.ops[0].offset, cases[i].v);
        free(bin);
        ff_program_free(&p);
        ff_program_free(&q);
    }
    /* Every u64 form decodes, including 0xFB-0xFF and non-minimal forms. */
    static const uint8_t wide[] = {1, 0, FF_OP_DROP_PIECE, 0, 0xFF, 5, 0, 0, 0, 0, 0, 0, 0,
                                   0xF9, 7, 0, 0, 0};
    ff_program p;
    CHECK(ff_program_decode(&p, wide, sizeof wide));
    CHECK_EQ(p.ops[0].offset, 5);
    CHECK_EQ(p.ops[0].count, 7);
    ff_program_free(&p);
}

FF_TEST(ops_log_encodings)
{
    uint64_t aligns[] = {1, 2, UINT64_C(1) << 63, 0, 3, 6, 12, 4097, UINT64_MAX};
    size_t lens[] = {1, 1, 1, 2, 2, 2, 2, 2, 2};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        ff_program p, q;
        ff_program_init(&p);
        ff_op op = {.kind = FF_OP_ALLOC, .count = 1, .align = aligns[i], .zone = FF_ZONE_NORMAL};
        CHECK(ff_program_add(&p, &op));
        uint8_t *bin;
        size_t size;
        CHECK(ff_program_encode(&p, &bin, &size));
        CHECK_EQ(size, 2 + 1 + 1 + lens[i] + 1);
        CHECK(ff_program_decode(&q, bin, size));
        CHECK_EQ(q.ops[0].align, aligns[i]);
        check_binary_round_trip(bin, size);
        free(bin);
        ff_program_free(&p);
        ff_program_free(&q);
    }
}

FF_TEST(ops_backend_names)
{
    /* A well-formed name is kept whether or not this build has it (its runner checks
     * that: ff_exec_check_backend); one with a NUL or a character no name has inside
     * is consumed but not kept. */
    static const uint8_t unknown[] = {1, 0x20, 3, 'b', 'u', 'd', 'x', FF_OP_CHECK};
    static const uint8_t bad[] = {1, 0x20, 3, 'b', 'u', 'D', 'x', FF_OP_CHECK};
    static const uint8_t all[] = {1, 0x20, 2, 'a', 'l', 'l', FF_OP_CHECK};
    static const uint8_t list[] = {1, 0x20, 8, 'b', 'u', 'd', 'd', 'y', ',', 'b', 's', 'a'};
    static const uint8_t empty_name[] = {1, 0x20, 5, 'b', 'u', 'd', 'd', 'y', ','};
    static const uint8_t nul[] = {1, 0x20, 3, 'b', 's', 'a', 0, FF_OP_CHECK};
    static const uint8_t wrap[] = {1, 0x20, 31 + 5, 'b', 'u', 'd', 'd', 'y', 'y', FF_OP_CHECK - 9};
    ff_program p;
    CHECK(ff_program_decode(&p, unknown, sizeof unknown));
    CHECK_STREQ(p.backend, "budx");
    CHECK_EQ(p.backend_line, 0);
    CHECK_EQ(p.nops, 1);
    CHECK_EQ(p.ops[0].kind, FF_OP_CHECK);
    ff_program_free(&p);
    check_binary_round_trip(unknown, sizeof unknown);
    CHECK(ff_program_decode(&p, list, sizeof list));
    CHECK_STREQ(p.backend, "buddy,bsa");
    ff_program_free(&p);
    const struct {
        const uint8_t *bytes;
        size_t size;
    } dropped[] = {{bad, sizeof bad}, {all, sizeof all}, {empty_name, sizeof empty_name}};
    for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++) {
        CHECK(ff_program_decode(&p, dropped[i].bytes, dropped[i].size));
        CHECK_STREQ(p.backend, "");
        ff_program_free(&p);
    }
    CHECK(ff_program_decode(&p, nul, sizeof nul));
    CHECK_STREQ(p.backend, "");
    CHECK_EQ(p.nops, 1);
    ff_program_free(&p);
    /* Length 1 + 36 % 31 = 6: "buddyy", kept; the opcode wraps modulo 9. */
    CHECK(ff_program_decode(&p, wrap, sizeof wrap));
    CHECK_STREQ(p.backend, "buddyy");
    CHECK_EQ(p.nops, 1);
    ff_program_free(&p);
    static const uint8_t good[] = {1, 0x21, 4, 'b', 'u', 'd', 'd', 'y'};
    CHECK(ff_program_decode(&p, good, sizeof good));
    CHECK_STREQ(p.backend, "buddy");
    CHECK_EQ(p.nops, 0);
    ff_program_free(&p);
    check_binary_round_trip(good, sizeof good);
}

FF_TEST(ops_version_and_empty_input)
{
    ff_program p;
    CHECK(ff_program_decode(&p, NULL, 0));
    CHECK_EQ(p.nops, 0);
    CHECK_EQ(p.semantics, FF_SEM_ASTERINAS_2024);
    CHECK_STREQ(p.preset, "tiny");
    ff_program_free(&p);
    /* An unknown version reads as version 1 and is consumed. */
    static const uint8_t v9[] = {9, 0x06, FF_OP_CHECK};
    CHECK(ff_program_decode(&p, v9, sizeof v9));
    CHECK_STREQ(p.preset, "qemu");
    CHECK(p.poison);
    CHECK_EQ(p.nops, 1);
    ff_program_free(&p);
    /* Map indices past the preset list wrap: 6 % 4 = 2. */
    static const uint8_t wrapmap[] = {1, 6 << 2};
    CHECK(ff_program_decode(&p, wrapmap, sizeof wrapmap));
    CHECK_STREQ(p.preset, "pc-1g");
    ff_program_free(&p);
    /* A truncated operand reads as zeros; nothing follows the last opcode. */
    static const uint8_t cut[] = {1, 0, FF_OP_FROM_IN_USE, 0xF9, 0x01};
    CHECK(ff_program_decode(&p, cut, sizeof cut));
    CHECK_EQ(p.nops, 1);
    CHECK_EQ(p.ops[0].paddr, UINT64_C(1) << 12);
    CHECK_EQ(p.ops[0].count, 0);
    CHECK_EQ(p.ops[0].refs, 0);
    ff_program_free(&p);
    /* Custom header cut short: one region of zeros. */
    static const uint8_t custom[] = {1, 7 << 2};
    CHECK(ff_program_decode(&p, custom, sizeof custom));
    CHECK_EQ(p.nregions, 1);
    CHECK_EQ(p.regions[0].size, 0);
    CHECK_EQ(p.regions[0].type, FF_MEM_USABLE);
    ff_program_free(&p);
}

/* xorshift64*: deterministic bytes for the random-input test. */
static uint64_t next_random(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * UINT64_C(0x2545F4914F6CDD1D);
}

FF_TEST(ops_random_bytes_stable)
{
    uint64_t state = 0x1760;
    uint8_t buf[300];
    size_t named = 0, custom = 0, ops = 0;
    for (int iter = 0; iter < 4000; iter++) {
        size_t size = next_random(&state) % sizeof buf;
        for (size_t i = 0; i < size; i++) buf[i] = (uint8_t)next_random(&state);
        /* Bias the flags towards custom maps and back-end names now and then. */
        if (size > 1 && iter % 4 == 0) buf[1] |= 7 << 2;
        if (size > 5 && iter % 8 == 1) {
            buf[1] = (uint8_t)((buf[1] & ~(7 << 2)) | 0x20);
            buf[2] = 2;
            memcpy(buf + 3, "bsa", 3);
        }
        ff_program p, q, r;
        uint8_t *bin;
        size_t len;
        CHECK(ff_program_decode(&p, buf, size));
        CHECK(ff_program_encode(&p, &bin, &len));
        CHECK(ff_program_decode(&q, bin, len));
        check_same_program(&p, &q);
        named += p.backend[0] != '\0';
        custom += p.preset == NULL;
        ops += p.nops;
        /* And the text form of any program parses back to the same program. */
        char *text = print_program(&p);
        char err[160] = "";
        if (!ff_program_parse(&r, text, err, sizeof err))
            ff_test_fail(__FILE__, __LINE__, "%s in:\n%s", err, text);
        check_same_program(&p, &r);
        free(text);
        free(bin);
        ff_program_free(&p);
        ff_program_free(&q);
        ff_program_free(&r);
    }
    /* The biases above did reach the rarer paths. */
    CHECK(named >= 400);
    CHECK(custom >= 1000);
    CHECK(ops >= 100000);
}

FF_TEST(ops_max_ops)
{
    /* FF_OPS_MAX + 10 check opcodes: the rest is ignored. */
    size_t size = 2 + FF_OPS_MAX + 10;
    uint8_t *bytes = calloc(size, 1);
    CHECK(bytes != NULL);
    memset(bytes + 2, FF_OP_CHECK, size - 2);
    ff_program p;
    CHECK(ff_program_decode(&p, bytes, size));
    CHECK_EQ(p.nops, FF_OPS_MAX);
    ff_op op = {.kind = FF_OP_CHECK};
    CHECK(!ff_program_add(&p, &op));
    ff_program_free(&p);
    free(bytes);

    /* Text: FF_OPS_MAX ops parse, one more is an error on its line. */
    size_t cap = 6 * (FF_OPS_MAX + 2) + 1;
    char *text = malloc(cap);
    CHECK(text != NULL);
    text[0] = '\0';
    for (size_t i = 0, at = 0; i < FF_OPS_MAX; i++) at += (size_t)sprintf(text + at, "check\n");
    char err[160] = "";
    CHECK(ff_program_parse(&p, text, err, sizeof err));
    CHECK_EQ(p.nops, FF_OPS_MAX);
    ff_program_free(&p);
    strcat(text, "check\n");
    expect_error(text, FF_OPS_MAX + 1, "too many operations");
    free(text);
}

FF_TEST(ops_parse_errors)
{
    expect_error("alloc 1\nfrobnicate 3\n", 2, "unknown word: frobnicate");
    expect_error("alloc x1\n", 1, "bad number: x1");
    expect_error("alloc 18446744073709551616\n", 1, "bad number");
    expect_error("alloc 0x10000000000000000\n", 1, "bad number");
    expect_error("alloc 0x\n", 1, "bad number");
    expect_error("alloc -1\n", 1, "bad number");
    expect_error("\nalloc\n", 2, "missing operand");
    expect_error("alloc 1 align\n", 1, "missing operand");
    expect_error("alloc 1 zone high\n", 1, "unknown zone: high");
    expect_error("alloc 1 align 2 align 4\n", 1, "repeated option");
    expect_error("alloc 1 colour 2\n", 1, "unknown word: colour");
    expect_error("drop h256\n", 1, "handle out of range (h0..h255): h256");
    expect_error("drop 3\n", 1, "bad handle");
    expect_error("clone\n", 1, "missing operand");
    expect_error("clone h1 h2\n", 1, "unexpected operand: h2");
    expect_error("drop h1 +3\n", 1, "missing operand");
    expect_error("drop h1 3 4\n", 1, "bad offset");
    expect_error("from_in_use 0x1000 1 refs 4294967296\n", 1, "refs out of range");
    expect_error("from_in_use 0x1000 1 refs\n", 1, "missing operand");
    expect_error("from_in_use 0x1000 1 2\n", 1, "unexpected operand: 2");
    expect_error("from_unused 0x1000 1 2\n", 1, "unexpected operand: 2");
    expect_error("write 0x1000 256\n", 1, "value out of range");
    expect_error("drop h1 x\n", 1, "missing operand: x");
    expect_error("drop h1 +3 4 5\n", 1, "unexpected operand: 5");
    expect_error("drop_piece h1 +3 4\n", 1, "unknown word: drop_piece");
    expect_error("from_in_use 0x1000 refs 2 3\n", 1, "unexpected operand: 3");
    expect_error("from_in_use 0x1000 1 zone 2\n", 1, "unexpected operand: zone");
    expect_error("alloc 1 zone dma align x\n", 1, "bad number: x");
    expect_error("write 0x1000\n", 1, "missing operand");
    expect_error("check now\n", 1, "unexpected operand");
    expect_error("map custom\nregion 0x100-0x7ff usable\n", 2, "not KiB-aligned");
    expect_error("map custom\nregion 0x0-0x400 usable\n", 2, "not KiB-aligned");
    expect_error("map custom\nregion 0x4000000-0x40003ff usable\n", 2, "region out of range");
    expect_error("map custom\nregion 0x0-0x3ffffff usable\n", 2, "region out of range");
    expect_error("map custom\nregion 0x0-0x3ff\n", 2, "missing operand");
    expect_error("map custom\nregion 0x0-0x3ff free\n", 2, "unknown region type: free");
    expect_error("map custom\nregion 0x0_0x3ff usable\n", 2, "bad region");
    expect_error("map custom\nregion 0x0-0xz usable\n", 2, "bad number");
    expect_error("map custom\n"
                 "region 0x0-0x3ff usable\nregion 0x0-0x3ff usable\nregion 0x0-0x3ff usable\n"
                 "region 0x0-0x3ff usable\nregion 0x0-0x3ff usable\nregion 0x0-0x3ff usable\n"
                 "region 0x0-0x3ff usable\nregion 0x0-0x3ff usable\nregion 0x0-0x3ff usable\n",
                 10, "too many regions");
    expect_error("map tiny\nregion 0x0-0x3ff usable\n", 2, "region without map custom");
    expect_error("poison on\nmap custom\n", 2, "map custom without region");
    expect_error("map custom\n\nalloc 1\n", 1, "map custom without region");
    expect_error("map custom\nregion 0x0-0x3ff usable\nmap tiny\n", 3, "map after regions");
    expect_error("alloc 1\nsemantics hardened\n", 2, "directive after an operation");
    expect_error("check\nregion 0x0-0x3ff usable\n", 2, "directive after an operation");
    expect_error("backend all\n", 1, "unknown backend: all");
    expect_error("backend buddy,\n", 1, "unknown backend: buddy,");
    expect_error("backend Buddy\n", 1, "unknown backend: Buddy");
    expect_error("map pc-2t\n", 1, "unknown preset: pc-2t");
    expect_error("semantics linux\n", 1, "unknown semantics: linux");
    expect_error("poison maybe\n", 1, "poison must be on or off");
    expect_error("poison\n", 1, "missing operand");
    expect_error("map tiny qemu\n", 1, "unexpected operand: qemu");
    expect_error("a b c d e f g h i j\n", 1, "too many words");
    /* Offending text is truncated. */
    ff_program p;
    char err[160] = "";
    CHECK(!ff_program_parse(&p, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", err,
                            sizeof err));
    CHECK(strlen(err) < 80);
    CHECK(strncmp(err, "line 1: unknown word: xxxx", 26) == 0);
}

FF_TEST(ops_is_text)
{
    CHECK(!ff_program_is_text((const uint8_t *)"", 0));
    CHECK(ff_program_is_text((const uint8_t *)"alloc 1\r\n\tcheck ~", 17));
    static const uint8_t bin[] = {1, 0x03, 0, 5};
    CHECK(!ff_program_is_text(bin, sizeof bin));
    CHECK(!ff_program_is_text((const uint8_t *)"check\x7f", 6));
    CHECK(!ff_program_is_text((const uint8_t *)"caf\xc3\xa9", 5));
}

FF_TEST(ops_format_one_op)
{
    char buf[64];
    ff_op op = {.kind = FF_OP_ALLOC, .count = 32, .align = 1, .zone = FF_ZONE_DMA32};
    ff_op_format(&op, buf, sizeof buf);
    CHECK_STREQ(buf, "alloc 32 zone dma32");
    op = (ff_op){.kind = FF_OP_WRITE, .paddr = 0x1fff, .value = 7};
    ff_op_format(&op, buf, sizeof buf);
    CHECK_STREQ(buf, "write 0x1fff 0x07");
    /* A short buffer truncates instead of overflowing. */
    op = (ff_op){.kind = FF_OP_ALLOC, .count = UINT64_MAX, .align = 3, .zone = FF_OPS_ZONE_INVALID};
    ff_op_format(&op, buf, 12);
    CHECK_STREQ(buf, "alloc 18446");
    ff_op_format(&op, buf, 34);
    CHECK_STREQ(buf, "alloc 18446744073709551615 align ");
}

FF_TEST(ops_issue_1760_reproducer)
{
    const char *text = "# Asterinas #1760: from_unused on a free frame, then a panicking allocation\n"
                       "backend bsa\n"
                       "semantics asterinas-2024\n"
                       "map custom\n"
                       "region 0x0-0x7ffff usable\n"
                       "region 0xc8000-0xd6fff usable\n"
                       "alloc 32\n"
                       "drop h0\n"
                       "from_unused 0x1000\n"
                       "drop h0\n"
                       "alloc 1\nalloc 1\nalloc 1\nalloc 1\nalloc 1\n"
                       "alloc 1\nalloc 1\nalloc 1\nalloc 1\nalloc 1\n"
                       "alloc 100\n";
    ff_program p;
    char err[160] = "";
    CHECK(ff_program_parse(&p, text, err, sizeof err));
    CHECK_STREQ(p.backend, "bsa");
    CHECK_EQ(p.semantics, FF_SEM_ASTERINAS_2024);
    CHECK(!p.poison);
    CHECK(p.preset == NULL);
    CHECK_EQ(p.nregions, 2);
    CHECK_EQ(p.regions[0].start, 0);
    CHECK_EQ(p.regions[0].size, 0x80000);
    CHECK_EQ(p.regions[1].start, 0xc8000);
    CHECK_EQ(p.regions[1].size, 0xf000);
    CHECK_EQ(p.regions[1].type, FF_MEM_USABLE);
    CHECK_EQ(p.nops, 15);
    CHECK_EQ(p.ops[0].count, 32);
    CHECK_EQ(p.ops[2].kind, FF_OP_FROM_UNUSED);
    CHECK_EQ(p.ops[2].paddr, 0x1000);
    CHECK_EQ(p.ops[2].count, 1);
    CHECK_EQ(p.ops[14].count, 100);
    /* Its binary form replays to the same program and prints canonically. */
    uint8_t *bin;
    size_t size;
    CHECK(ff_program_encode(&p, &bin, &size));
    check_binary_round_trip(bin, size);
    ff_program q;
    CHECK(ff_program_decode(&q, bin, size));
    check_same_program(&p, &q);
    char *canon = print_program(&q);
    CHECK(strstr(canon, "backend bsa\nsemantics asterinas-2024\nmap custom\n"
                        "region 0x0-0x7ffff usable\nregion 0xc8000-0xd6fff usable\npoison off\n"
                        "alloc 32\ndrop h0\nfrom_unused 0x1000 1\ndrop h0\nalloc 1\n") == canon);
    free(canon);
    free(bin);
    ff_program_free(&p);
    ff_program_free(&q);
}

FF_TEST(ops_any_preset_in_text)
{
    /* A reproducer of a campaign forced onto a large map says so; only the fuzz presets
     * have a binary form. */
    ff_program p;
    char err[200];
    CHECK(ff_program_parse(&p, "map pc-1t\nalloc 1\n", err, sizeof err));
    CHECK_STREQ(p.preset, "pc-1t");
    ff_program_free(&p);
}

/* ---------------------------------------------------------------- programs with CPUs */

#define FLAG_CPUS 0x40 /* flag bit 6: a cpus section follows (version 2) */

FF_TEST(ops_cpus_binary_decode)
{
    /* Two CPUs, direct, schedule 7 1 9; alloc 5 on CPU 1 in interrupt context; check
     * with tag 0x0F: CPU 7 % 2 = 1, bits 3-6 ignored, no irq. */
    static const uint8_t two[] = {2, FLAG_CPUS | 0x01, 0x01, 3, 7, 1, 9,
                                  FF_OP_ALLOC, 0x81, 5, 0, 2, FF_OP_CHECK, 0x0F};
    ff_program p;
    CHECK(ff_program_decode(&p, two, sizeof two));
    CHECK_EQ(p.ncpus, 2);
    CHECK_EQ(p.sched_mode, FF_SCHED_DIRECT);
    CHECK_EQ(p.schedule_len, 3);
    CHECK(memcmp(p.schedule, (const uint8_t[]){7, 1, 9}, 3) == 0);
    CHECK_EQ(p.semantics, FF_SEM_HARDENED);
    CHECK_EQ(p.nops, 2);
    CHECK_EQ(p.ops[0].kind, FF_OP_ALLOC);
    CHECK_EQ(p.ops[0].cpu, 1);
    CHECK(p.ops[0].irq);
    CHECK_EQ(p.ops[0].count, 5);
    CHECK_EQ(p.ops[0].zone, FF_ZONE_NORMAL);
    CHECK_EQ(p.ops[1].kind, FF_OP_CHECK);
    CHECK_EQ(p.ops[1].cpu, 1);
    CHECK(!p.ops[1].irq);
    ff_program_free(&p);

    /* The cpus byte: ncpus from bits 0-2, PCT from bit 3, bits 4-7 ignored; the length
     * byte modulo 65. */
    static const struct {
        uint8_t c, len;
        unsigned ncpus;
        ff_sched_mode mode;
        size_t schedule_len;
    } cases[] = {
        {0x00, 0, 1, FF_SCHED_DIRECT, 0}, {0x0A, 1, 3, FF_SCHED_PCT, 1},
        {0xF7, 64, 8, FF_SCHED_DIRECT, 64}, {0x7F, 65, 8, FF_SCHED_PCT, 0},
        {0x1C, 200, 5, FF_SCHED_PCT, 200 % 65},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t bytes[4 + FF_SCHEDULE_MAX + 3] = {2, FLAG_CPUS, cases[i].c, cases[i].len};
        for (size_t b = 0; b < cases[i].schedule_len; b++) bytes[4 + b] = (uint8_t)(0x10 + b);
        size_t size = 4 + cases[i].schedule_len;
        bytes[size++] = FF_OP_DROP;
        bytes[size++] = 0x07; /* CPU 7, modulo ncpus */
        bytes[size++] = 3;    /* h3 */
        CHECK(ff_program_decode(&p, bytes, size));
        CHECK_EQ(p.ncpus, cases[i].ncpus);
        CHECK_EQ(p.sched_mode, cases[i].mode);
        CHECK_EQ(p.schedule_len, cases[i].schedule_len);
        for (size_t b = 0; b < p.schedule_len; b++) CHECK_EQ(p.schedule[b], 0x10 + b);
        CHECK_EQ(p.nops, 1);
        CHECK_EQ(p.ops[0].cpu, 7 % cases[i].ncpus);
        CHECK_EQ(p.ops[0].handle, 3);
        ff_program_free(&p);
    }

    /* The cpus section comes after the custom regions and the back-end name. */
    static const uint8_t after[] = {2, FLAG_CPUS | 0x20 | (7 << 2), 0, 0, 0, 0x40, 0, 0,
                                    2, 'b', 's', 'a', 0x02, 1, 4, FF_OP_CHECK, 2};
    CHECK(ff_program_decode(&p, after, sizeof after));
    CHECK(p.preset == NULL);
    CHECK_EQ(p.nregions, 1);
    CHECK_EQ(p.regions[0].size, 64 * 1024);
    CHECK_STREQ(p.backend, "bsa");
    CHECK_EQ(p.ncpus, 3);
    CHECK_EQ(p.schedule_len, 1);
    CHECK_EQ(p.schedule[0], 4);
    CHECK_EQ(p.nops, 1);
    CHECK_EQ(p.ops[0].cpu, 2);
    ff_program_free(&p);
    check_binary_round_trip(after, sizeof after);

    /* Truncated: the section and the tags read zeros past the end. */
    static const uint8_t header_only[] = {2, FLAG_CPUS};
    CHECK(ff_program_decode(&p, header_only, sizeof header_only));
    CHECK_EQ(p.ncpus, 1);
    CHECK_EQ(p.schedule_len, 0);
    CHECK_EQ(p.nops, 0);
    ff_program_free(&p);
    static const uint8_t short_schedule[] = {2, FLAG_CPUS, 0x01, 5, 3};
    CHECK(ff_program_decode(&p, short_schedule, sizeof short_schedule));
    CHECK_EQ(p.ncpus, 2);
    CHECK_EQ(p.schedule_len, 5);
    CHECK(memcmp(p.schedule, (const uint8_t[]){3, 0, 0, 0, 0}, 5) == 0);
    CHECK_EQ(p.nops, 0);
    ff_program_free(&p);
    static const uint8_t no_tag[] = {2, FLAG_CPUS, 0x01, 0, FF_OP_DROP};
    CHECK(ff_program_decode(&p, no_tag, sizeof no_tag));
    CHECK_EQ(p.nops, 1);
    CHECK_EQ(p.ops[0].kind, FF_OP_DROP);
    CHECK_EQ(p.ops[0].cpu, 0);
    CHECK(!p.ops[0].irq);
    CHECK_EQ(p.ops[0].handle, 0);
    ff_program_free(&p);
}

FF_TEST(ops_cpus_flag_needs_version_2)
{
    /* Any version byte but 2 reads as version 1, flag bit 6 ignored: the bytes after
     * the header are operations, as before CPUs. Version 2 without bit 6 is sequential. */
    const uint8_t tail[] = {FF_OP_ALLOC, 3, 0, 1, FF_OP_CHECK};
    ff_program want;
    uint8_t bytes[2 + sizeof tail] = {1, 0x05};
    memcpy(bytes + 2, tail, sizeof tail);
    CHECK(ff_program_decode(&want, bytes, sizeof bytes));
    CHECK_EQ(want.nops, 2);
    for (unsigned version = 0; version < 256; version++)
        for (unsigned bit6 = 0; bit6 < 2; bit6++) {
            if (version == 2 && bit6) continue;
            bytes[0] = (uint8_t)version;
            bytes[1] = (uint8_t)(0x05 | (bit6 ? FLAG_CPUS : 0));
            ff_program p;
            CHECK(ff_program_decode(&p, bytes, sizeof bytes));
            check_same_program(&want, &p);
            CHECK_EQ(p.ncpus, 0);
            ff_program_free(&p);
        }
    /* A sequential program encodes as version 1 without bit 6: its operations' CPU
     * fields and a schedule left in it are not written. */
    uint8_t *bin;
    size_t size;
    want.ops[0].cpu = 3;
    want.ops[1].irq = true;
    want.schedule_len = 2;
    want.sched_mode = FF_SCHED_PCT;
    CHECK(ff_program_encode(&want, &bin, &size));
    bytes[0] = 1;
    bytes[1] = 0x05;
    CHECK_EQ(size, sizeof bytes);
    CHECK(memcmp(bin, bytes, size) == 0);
    free(bin);
    ff_program_free(&want);
}

FF_TEST(ops_cpus_encoding)
{
    ff_program p;
    ff_program_init(&p);
    p.ncpus = 4;
    p.sched_mode = FF_SCHED_PCT;
    p.schedule_len = 2;
    p.schedule[0] = 0xAB;
    p.schedule[1] = 0x00;
    ff_op op = ff_op_blank(FF_OP_CLONE);
    op.cpu = 3;
    op.irq = true;
    op.handle = 9;
    CHECK(ff_program_add(&p, &op));
    op.cpu = 2;
    op.irq = false;
    CHECK(ff_program_add(&p, &op));
    uint8_t *bin;
    size_t size;
    CHECK(ff_program_encode(&p, &bin, &size));
    static const uint8_t want[] = {2, FLAG_CPUS | 0x01, 0x03 | 0x08, 2, 0xAB, 0x00,
                                   FF_OP_CLONE, 0x83, 9, FF_OP_CLONE, 0x02, 9};
    CHECK_EQ(size, sizeof want);
    CHECK(memcmp(bin, want, size) == 0);
    free(bin);
    ff_program_free(&p);
}

FF_TEST(ops_cpus_encoded_max_holds_the_largest_program)
{
    /* Every header part at its longest and operations at their longest: the encoding
     * fits in ff_program_encoded_max bytes (ASan sees a write past the buffer). */
    ff_program p;
    ff_program_init(&p);
    memset(p.backend, 'a', 31);
    p.preset = NULL;
    p.nregions = FF_OPS_MAX_REGIONS;
    for (size_t i = 0; i < p.nregions; i++)
        p.regions[i] = (ff_e820_entry){0xFFFF * 1024, 0xFFFF * 1024, FF_MEM_USABLE};
    p.ncpus = FF_CPUS_MAX;
    p.schedule_len = FF_SCHEDULE_MAX;
    memset(p.schedule, 0xFF, sizeof p.schedule);
    for (int k = 0; k < FF_OP_KIND_COUNT; k++) {
        ff_op op = {.kind = (ff_op_kind)k, .handle = 255, .zone = FF_OPS_ZONE_INVALID,
                    .refs = UINT32_MAX - 1, .value = 255, .count = UINT64_MAX - 2,
                    .align = UINT64_MAX - 2, .offset = UINT64_MAX - 2,
                    .paddr = UINT64_MAX - 2, .cpu = 7, .irq = true};
        CHECK(ff_program_add(&p, &op));
    }
    size_t max = ff_program_encoded_max(&p);
    uint8_t *buf = malloc(max);
    CHECK(buf != NULL);
    size_t size = ff_program_encode_into(&p, buf);
    CHECK(size <= max);
    check_binary_round_trip(buf, size);
    free(buf);
    ff_program_free(&p);
}

FF_TEST(ops_cpus_random_bytes_round_trip)
{
    /* Random inputs asking for a cpus section: decode -> encode -> decode is the same
     * program, the canonical bytes survive text, and the text survives binary. */
    uint64_t state = 0x15;
    uint8_t buf[300];
    size_t pct = 0, odd_direct = 0, irqs = 0, tagged = 0, named = 0, custom = 0, long_schedule = 0;
    for (int iter = 0; iter < 4000; iter++) {
        size_t size = 6 + next_random(&state) % (sizeof buf - 6);
        for (size_t i = 0; i < size; i++) buf[i] = (uint8_t)next_random(&state);
        buf[0] = 2;
        buf[1] |= FLAG_CPUS;
        /* A quarter named (the cpus section follows the name), a quarter custom. */
        if (iter % 4 == 1) {
            buf[1] = (uint8_t)((buf[1] & ~(7 << 2)) | 0x20);
            buf[2] = 2;
            memcpy(buf + 3, "bsa", 3);
        } else if (iter % 4 == 2) {
            buf[1] |= 7 << 2;
        }
        ff_program p, q;
        uint8_t *bin;
        size_t len;
        CHECK(ff_program_decode(&p, buf, size));
        CHECK(p.ncpus >= 1 && p.ncpus <= FF_CPUS_MAX);
        CHECK(ff_program_encode(&p, &bin, &len));
        CHECK(ff_program_decode(&q, bin, len));
        check_same_program(&p, &q);
        check_binary_round_trip(bin, len);
        char *text = print_program(&p);
        check_text_round_trip(text);
        pct += p.sched_mode == FF_SCHED_PCT;
        odd_direct += p.sched_mode == FF_SCHED_DIRECT && p.schedule_len % 2;
        long_schedule += p.schedule_len > 32;
        named += p.backend[0] != '\0';
        custom += p.preset == NULL;
        for (size_t i = 0; i < p.nops; i++) {
            CHECK(p.ops[i].cpu < p.ncpus);
            irqs += p.ops[i].irq;
            tagged += p.ops[i].cpu > 0;
        }
        free(text);
        free(bin);
        ff_program_free(&p);
        ff_program_free(&q);
    }
    CHECK(pct > 1000 && odd_direct > 500 && long_schedule > 500);
    CHECK(irqs > 10000 && tagged > 10000 && named > 900 && custom > 900);
}

FF_TEST(ops_cpus_text_round_trip)
{
    check_text_round_trip(HEAD "cpus 1\ncpu0 alloc 1\nirq0 check\n");
    check_text_round_trip(HEAD "cpus 2\ncpu0 alloc 4\ncpu1 clone h0\nirq1 drop h0\ncpu0 drop h0 +1 2\n");
    check_text_round_trip("backend buddy\n" HEAD "cpus 3\nschedule direct 0:1 5:2 255:255\n"
                          "cpu2 alloc 1 zone dma\n");
    /* An odd last byte stands alone; C is printed raw, whatever the CPU count. */
    check_text_round_trip(HEAD "cpus 2\nschedule direct 1:7 4\ncpu1 check\n");
    check_text_round_trip(HEAD "cpus 2\nschedule direct 9\n");
    /* PCT: empty, priorities short of the CPU count, all of them, and change points. */
    check_text_round_trip(HEAD "cpus 4\nschedule pct\ncpu3 check\n");
    check_text_round_trip(HEAD "cpus 4\nschedule pct priorities 3,1\n");
    check_text_round_trip(HEAD "cpus 2\nschedule pct priorities 200,100\n");
    check_text_round_trip(HEAD "cpus 2\nschedule pct priorities 0,0 changes 1,0,255\nirq1 alloc 2\n");
    check_text_round_trip("semantics hardened\nmap custom\nregion 0x0-0xffff usable\npoison on\n"
                          "cpus 8\nschedule pct priorities 1,2,3,4,5,6,7,8\ncpu7 alloc 1\n");
    /* The longest schedules: 32 direct entries, 8 priorities and 56 change points. */
    char text[1024] = HEAD "cpus 8\nschedule direct";
    for (unsigned i = 0; i < FF_SCHEDULE_MAX / 2; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), " %u:%u", i, i % 8);
    strcat(text, "\ncpu5 check\n");
    check_text_round_trip(text);
    snprintf(text, sizeof text, HEAD "cpus 8\nschedule pct priorities 1,2,3,4,5,6,7,8 changes ");
    for (unsigned i = 8; i < FF_SCHEDULE_MAX; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%s%u", i > 8 ? "," : "", i);
    strcat(text, "\n");
    check_text_round_trip(text);
}

FF_TEST(ops_cpus_parser_accepts_variations)
{
    /* No tag is cpu0; an empty direct schedule is the default (no line); numbers may be
     * hex; cpus may follow the schedule line; a later schedule line replaces one before. */
    ff_program p;
    char err[160] = "";
    CHECK(ff_program_parse(&p, "schedule direct 0x10:1\nschedule direct\ncpus 2\nalloc 1\ncpu1 check\n",
                           err, sizeof err));
    CHECK_EQ(p.ncpus, 2);
    CHECK_EQ(p.schedule_len, 0);
    CHECK_EQ(p.ops[0].cpu, 0);
    char *canon = print_program(&p);
    CHECK_STREQ(canon, HEAD "cpus 2\ncpu0 alloc 1\ncpu1 check\n");
    free(canon);
    ff_program_free(&p);
    CHECK(ff_program_parse(&p, "cpus 2\nschedule pct priorities 0x10,2 changes 0x0\nirq0x1 check\n",
                           err, sizeof err));
    canon = print_program(&p);
    CHECK_STREQ(canon, HEAD "cpus 2\nschedule pct priorities 16,2 changes 0\nirq1 check\n");
    free(canon);
    ff_program_free(&p);
    /* A sequential program prints no tag, whatever its operations' fields hold. */
    CHECK(ff_program_parse(&p, "alloc 1\n", err, sizeof err));
    p.ops[0].cpu = 1;
    p.ops[0].irq = true;
    canon = print_program(&p);
    CHECK_STREQ(canon, HEAD "alloc 1\n");
    free(canon);
    ff_program_free(&p);
}

FF_TEST(ops_cpus_parse_errors)
{
    expect_error("cpus 0\n", 1, "line 1: bad cpus count (want 1..8): 0");
    expect_error("cpus 9\n", 1, "line 1: bad cpus count (want 1..8): 9");
    expect_error("cpus two\n", 1, "line 1: bad cpus count (want 1..8): two");
    expect_error("cpus\n", 1, "missing operand: cpus");
    expect_error("cpus 2 3\n", 1, "unexpected operand: 3");
    expect_error("alloc 1\ncpus 2\n", 2, "directive after an operation: cpus");
    expect_error("cpus 2\nalloc 1\nschedule pct\n", 3, "directive after an operation: schedule");
    /* Tags. */
    expect_error(HEAD "alloc 1\ncpu1 alloc 1\n", 5, "line 5: cpu tag without a cpus line: cpu1");
    expect_error("irq0 check\n", 1, "line 1: cpu tag without a cpus line: irq0");
    expect_error("cpus 2\n" HEAD "cpu0 alloc 1\ncpu2 alloc 1\n", 6,
                 "line 6: cpu2 but the program has 2 cpus");
    expect_error("cpus 1\nirq1 check\n", 2, "line 2: irq1 but the program has 1 cpu");
    expect_error("cpus 2\ncpu1\n", 2, "line 2: missing operation after tag: cpu1");
    expect_error("cpus 2\ncpu1 poison on\n", 2, "line 2: not an operation after tag: poison");
    expect_error("cpus 2\ncpu1 cpu0 check\n", 2, "line 2: not an operation after tag: cpu0");
    expect_error("cpus 2\ncpuX check\n", 2, "line 2: unknown word: cpuX");
    expect_error("cpus 2\ncpu1 alloc\n", 2, "line 2: missing operand: alloc");
    /* Schedules. */
    expect_error("schedule direct 1:1\n", 1, "line 1: schedule without cpus: schedule");
    expect_error("schedule pct\ncheck\n", 1, "line 1: schedule without cpus: schedule");
    expect_error("cpus 2\nschedule\n", 2, "line 2: missing operand: schedule");
    expect_error("cpus 2\nschedule random 1\n", 2,
                 "line 2: unknown schedule (want direct or pct): random");
    expect_error("cpus 2\nschedule direct 1 2:1\n", 2, "line 2: bad schedule entry (want GAP:CPU): 1");
    expect_error("cpus 2\nschedule direct 1:2:3\n", 2,
                 "line 2: bad schedule entry (want GAP:CPU): 1:2:3");
    expect_error("cpus 2\nschedule direct 1:\n", 2, "line 2: bad number: 1:");
    expect_error("cpus 2\nschedule direct :1\n", 2, "line 2: bad number: :1");
    expect_error("cpus 2\nschedule direct 1:256\n", 2,
                 "line 2: schedule byte out of range (0..255): 1:256");
    expect_error("cpus 2\nschedule pct changes 1\n", 2,
                 "line 2: bad pct schedule (want priorities P,...): changes");
    expect_error("cpus 2\nschedule pct priorities\n", 2, "line 2: missing operand: priorities");
    expect_error("cpus 2\nschedule pct priorities 1,2 changes\n", 2, "line 2: missing operand: changes");
    expect_error("cpus 2\nschedule pct priorities 1,2 changes 3 4\n", 2, "line 2: unexpected operand: 4");
    expect_error("cpus 2\nschedule pct priorities 1,2 priorities 3\n", 2,
                 "line 2: unexpected operand: priorities");
    expect_error("cpus 2\nschedule pct priorities 1,,2\n", 2, "line 2: bad number: 1,,2");
    expect_error("cpus 2\nschedule pct priorities 1,2,\n", 2, "line 2: bad number: 1,2,");
    expect_error("cpus 2\nschedule pct priorities 1,2,3\n", 2,
                 "line 2: 3 priorities but the program has 2 cpus");
    expect_error("cpus 3\nschedule pct priorities 1 changes 4\ncheck\n", 2,
                 "line 2: changes after 1 priority but the program has 3 cpus");
    expect_error("schedule pct priorities 1,2\ncpus 1\n", 1,
                 "line 1: 2 priorities but the program has 1 cpu");
    /* More than FF_SCHEDULE_MAX bytes, in either form. */
    char text[1024] = "cpus 2\nschedule direct";
    for (unsigned i = 0; i <= FF_SCHEDULE_MAX / 2; i++) strcat(text, " 1:1");
    expect_error(text, 2, "line 2: schedule longer than 64 bytes: 1:1");
    snprintf(text, sizeof text, "cpus 2\nschedule direct");
    for (unsigned i = 0; i < FF_SCHEDULE_MAX / 2; i++) strcat(text, " 1:1");
    strcat(text, " 2");
    expect_error(text, 2, "line 2: schedule longer than 64 bytes: 2");
    snprintf(text, sizeof text, "cpus 2\nschedule pct priorities 1,2 changes 0");
    for (unsigned i = 2; i < FF_SCHEDULE_MAX; i++) strcat(text, ",0");
    expect_error(text, 2, "line 2: schedule longer than 64 bytes: 0,0,0");
    /* Too many words, however long a schedule line may be. */
    snprintf(text, sizeof text, "cpus 2\nschedule direct");
    for (unsigned i = 0; i < FF_SCHEDULE_MAX + 1; i++) strcat(text, " 1:1");
    expect_error(text, 2, "line 2: too many words: 1:1");
}

FF_TEST(ops_format_in_tags_concurrent_programs_only)
{
    char buf[64];
    ff_program p;
    ff_program_init(&p);
    ff_op op = ff_op_blank(FF_OP_ALLOC);
    op.count = 4;
    op.cpu = 1;
    ff_op_format_in(&p, &op, buf, sizeof buf);
    CHECK_STREQ(buf, "alloc 4");
    p.ncpus = 2;
    ff_op_format_in(&p, &op, buf, sizeof buf);
    CHECK_STREQ(buf, "cpu1 alloc 4");
    op = ff_op_blank(FF_OP_DROP);
    op.handle = 1;
    op.irq = true;
    ff_op_format_in(&p, &op, buf, sizeof buf);
    CHECK_STREQ(buf, "irq0 drop h1");
    /* A short buffer holds a prefix, within the tag or after it. */
    ff_op_format_in(&p, &op, buf, 3);
    CHECK_STREQ(buf, "ir");
    ff_op_format_in(&p, &op, buf, 9);
    CHECK_STREQ(buf, "irq0 dro");
    ff_op_format_in(&p, &op, buf, 6);
    CHECK_STREQ(buf, "irq0 ");
}

FF_TEST(ops_an_interrupt_says_how_many_points_it_lets_pass)
{
    /* Tag bits 3-6 are an interrupt's irq_after, and nothing for a CPU's operation. */
    static const uint8_t bytes[] = {2, FLAG_CPUS, 0x01, 0, FF_OP_CHECK, 0x80 | 5 << 3 | 1,
                                    FF_OP_CHECK, 15 << 3};
    ff_program p;
    CHECK(ff_program_decode(&p, bytes, sizeof bytes));
    CHECK_EQ(p.nops, 2);
    CHECK(p.ops[0].irq && p.ops[0].cpu == 1 && p.ops[0].irq_after == 5);
    CHECK(!p.ops[1].irq && p.ops[1].irq_after == 0);
    uint8_t *enc;
    size_t n;
    CHECK(ff_program_encode(&p, &enc, &n));
    CHECK(n == sizeof bytes && enc[5] == (0x80 | 5 << 3 | 1) && enc[7] == 0);
    free(enc);
    char buf[64];
    ff_op_format_in(&p, &p.ops[0], buf, sizeof buf);
    CHECK_STREQ(buf, "irq1+5 check");
    ff_program_free(&p);
    check_text_round_trip(HEAD "cpus 2\ncpu0 alloc 1\nirq1+15 drop h0\nirq0 check\n");
    /* +0 is the plain tag; a CPU's operation has no delay; at most 15. */
    CHECK(ff_program_parse(&p, "cpus 1\nirq0+0 check\n", buf, sizeof buf));
    CHECK(p.ops[0].irq && p.ops[0].irq_after == 0);
    ff_program_free(&p);
    expect_error("cpus 1\nirq0+16 check\n", 2,
                 "line 2: irq0+16: an interrupt lets at most 15 points pass");
    expect_error("cpus 1\ncpu0+1 check\n", 2, "line 2: unknown word: cpu0+1");
    expect_error("cpus 1\nirq0+ check\n", 2, "line 2: unknown word: irq0+");
}
