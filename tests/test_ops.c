/*
 * test_ops.c — the operation language: exact round trips between text and binary for
 * every operation and directive, the canonical num/log encodings, decoding of random
 * bytes (stable under re-encoding), the parser's error messages and limits, and the
 * #1760 reproducer.
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
    CHECK_EQ(a->nops, b->nops);
    for (size_t i = 0; i < a->nops; i++) {
        const ff_op *x = &a->ops[i], *y = &b->ops[i];
        CHECK_EQ(x->kind, y->kind);
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
