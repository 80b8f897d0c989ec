/*
 * ops.c — the operation-sequence language (see ops.h): binary decoder and canonical
 * encoder, text parser and canonical printer.
 *
 * Design:
 *   - Operations are FF_OP_LIST's lines: decoding, encoding, printing and parsing go
 *     over an operation's operand descriptors, with one switch on operand kinds each.
 *   - The binary decoder reads through a cursor that yields 0 past the end, so every
 *     byte string is a program; it stops at the first opcode boundary outside the
 *     input (zero padding never becomes an operation) or at FF_OPS_MAX operations.
 *   - The encoder writes the canonical form: the shortest num for each value
 *     (itself below 0xE0, else its interesting code, else u16/u32/u64), a log byte for
 *     powers of two and 64 + num otherwise. Decoding any bytes and re-encoding gives a
 *     program that decodes identically, because every decoded field is representable.
 *   - The printer writes every directive in a fixed order (backend if named,
 *     semantics, map and its regions, poison), so text -> binary -> text is exact.
 *   - The parser is strict: one pass over a private copy of the text, split into
 *     lines and words; the first problem ends the parse with
 *     "line N: what: offending text".
 *
 * Region edges in text are inclusive and computed with wrapping arithmetic, so an
 * empty binary region (size 0 KiB) prints as START-(START-1) and parses back.
 */
#include "ops.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Only maps cheap enough to build for every fuzz input; append only. */
const char *const ff_ops_fuzz_presets[] = {"tiny", "qemu", "pc-1g", "pc-4g"};
const size_t ff_ops_fuzz_preset_count = sizeof ff_ops_fuzz_presets / sizeof ff_ops_fuzz_presets[0];

/* Sizes, alignments, refcounts and addresses at the edges allocators get wrong: around
 * the small powers of two and the 4 KiB frame, the DMA32 end in frames (0xFFFFF,
 * 1 << 20), 32-bit and refcount limits, the 2^40 pfn and 2^52 address limits, and the
 * u64 edges where start + count wraps. All are >= 0xE0, so no value has two canonical
 * encodings. Stable across versions. */
const uint64_t ff_ops_interesting[24] = {
    256,
    511,
    512,
    513,
    1023,
    1024,
    4095,
    4096,
    4097,
    UINT64_C(1) << 18,
    (UINT64_C(1) << 18) + 1,
    0xFFFFF,
    UINT64_C(1) << 20,
    UINT64_C(1) << 31,
    (UINT64_C(1) << 31) + 1,
    0xFFFFFFFF,
    UINT64_C(1) << 32,
    UINT64_C(1) << 40,
    UINT64_C(1) << 52,
    UINT64_C(1) << 62,
    UINT64_C(1) << 63,
    (UINT64_C(1) << 63) + 1,
    UINT64_MAX - 1,
    UINT64_MAX,
};

#define NUM_INTERESTING 0xE0 /* first num byte naming an interesting value */
#define NUM_U16         0xF8
#define NUM_U32         0xF9
#define NUM_U64         0xFA /* 0xFA-0xFF all read a u64 */
#define LOG_NUM         64   /* first log byte followed by a num */
#define MAP_CUSTOM      7
#define FLAG_HARDENED   0x01
#define FLAG_POISON     0x02
#define FLAG_MAP_SHIFT  2
#define FLAG_BACKEND    0x20
#define FLAG_CPUS       0x40 /* honoured in version FF_OPS_VERSION_CPUS only */
#define CPUS_COUNT_MASK 7    /* the cpus byte: ncpus - 1 ... */
#define CPUS_PCT        0x08 /* ... and the schedule mode */
#define TAG_CPU_MASK    7    /* an operation's tag byte: its CPU (modulo ncpus) ... */
#define TAG_IRQ         0x80 /* ... and interrupt context, and then ... */
#define TAG_AFTER_SHIFT 3    /* ... the points an interrupt lets pass (bits 3-6) */
#define NAME_LEN_MAX    31
#define KIB             1024

/* Each operation's operands, then FF_OP_LIST made a table. A zero entry ends each
 * operand array (not counted), as C11 has no empty one and check has no operand. */
#define FF_OPERAND(syntax, kind, word) {FF_OPND_##kind, FF_SYN_##syntax, word},
#define X(id, name, keyword, weight, operands) static const ff_operand name##_operands[] = {operands{0}};
FF_OP_LIST(X)
#undef X
#undef FF_OPERAND

const ff_op_info ff_op_infos[FF_OP_KIND_COUNT] = {
#define X(id, name, keyword, weight, operands)                                                \
    [FF_OP_##id] = {#name, keyword, weight, name##_operands,                                 \
                    sizeof name##_operands / sizeof name##_operands[0] - 1},
    FF_OP_LIST(X)
#undef X
};

/* Text names of the zone byte's four values. */
static const char *const zone_words[FF_ZONE_COUNT + 1] = {"dma", "dma32", "normal", "invalid"};

const char *ff_op_kind_name(ff_op_kind kind)
{
    return (unsigned)kind < FF_OP_KIND_COUNT ? ff_op_infos[kind].name : "?";
}

ff_op ff_op_blank(ff_op_kind kind)
{
#define X(id, field, fallback) .field = fallback,
    return (ff_op){.kind = kind, FF_OPERAND_LIST(X)};
#undef X
}

/* ---------------------------------------------------------------- the program */

void ff_program_init(ff_program *p)
{
    *p = (ff_program){0};
    p->semantics = FF_SEM_HARDENED;
    p->preset = ff_ops_fuzz_presets[0];
}

void ff_program_free(ff_program *p)
{
    free(p->ops);
    ff_program_init(p);
}

bool ff_program_add(ff_program *p, const ff_op *op)
{
    if (p->nops >= FF_OPS_MAX) return false;
    if (p->nops == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        if (cap > FF_OPS_MAX) cap = FF_OPS_MAX;
        ff_op *ops = realloc(p->ops, cap * sizeof *ops);
        if (!ops) return false;
        p->ops = ops;
        p->cap = cap;
    }
    p->ops[p->nops++] = *op;
    return true;
}

/* Index of a fuzz preset by name; -1 when it is not one. */
static int fuzz_preset_index(const char *name)
{
    for (size_t i = 0; name && i < ff_ops_fuzz_preset_count; i++)
        if (strcmp(ff_ops_fuzz_presets[i], name) == 0) return (int)i;
    return -1;
}

/* ---------------------------------------------------------------- binary: decoding */

/* Reads the input; past its end every byte is 0. */
typedef struct cursor {
    const uint8_t *data;
    size_t size, pos;
} cursor;

static inline bool cursor_more(const cursor *c) { return c->pos < c->size; }

static inline uint8_t get_byte(cursor *c) { return cursor_more(c) ? c->data[c->pos++] : 0; }

static uint64_t get_le(cursor *c, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++) v |= (uint64_t)get_byte(c) << (8 * i);
    return v;
}

static uint64_t get_num(cursor *c)
{
    uint8_t b = get_byte(c);
    if (b < NUM_INTERESTING) return b;
    if (b < NUM_U16) return ff_ops_interesting[b - NUM_INTERESTING];
    if (b == NUM_U16) return get_le(c, 2);
    if (b == NUM_U32) return get_le(c, 4);
    return get_le(c, 8);
}

static uint64_t get_log(cursor *c)
{
    uint8_t b = get_byte(c);
    return b < LOG_NUM ? UINT64_C(1) << b : get_num(c);
}

/* A frame number, then the offset within the frame (its low 12 bits). */
static uint64_t get_paddr(cursor *c)
{
    uint64_t frame = get_num(c);
    return (frame << FF_FRAME_SHIFT) | (get_num(c) & (FF_FRAME_SIZE - 1));
}

static void decode_regions(ff_program *p, cursor *c)
{
    p->preset = NULL;
    p->nregions = 1 + get_byte(c) % FF_OPS_MAX_REGIONS;
    for (size_t i = 0; i < p->nregions; i++) {
        ff_e820_entry *e = &p->regions[i];
        e->start = get_le(c, 2) * KIB;
        e->size = get_le(c, 2) * KIB;
        e->type = (ff_mem_type)(FF_MEM_USABLE + get_byte(c) % (FF_MEM_UNUSABLE - FF_MEM_USABLE + 1));
    }
}

/* Whether names is a back-end name or a comma list of them, as far as the language
 * can tell: non-empty names of the characters a back-end's name may have
 * (ff_backend_validate), each maybe behind "pcp:" (per-CPU caches in front of it), and
 * not "all", which names no one back-end. Whether this build has them is its runner's
 * question (ff_exec_check_backend). */
static bool backend_names_well_formed(const char *names)
{
    static const char name_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789_-";
    if (strcmp(names, "all") == 0) return false;
    for (const char *p = names;; p++) {
        if (strncmp(p, "pcp:", 4) == 0) p += 4;
        size_t len = strspn(p, name_chars);
        if (len == 0) return false;
        p += len;
        if (*p == '\0') return true;
        if (*p != ',') return false;
    }
}

/* The name bytes are consumed even when they are no name. */
static void decode_backend(ff_program *p, cursor *c)
{
    size_t len = 1 + get_byte(c) % NAME_LEN_MAX;
    char name[NAME_LEN_MAX + 1];
    for (size_t i = 0; i < len; i++) name[i] = (char)get_byte(c);
    name[len] = '\0';
    if (strlen(name) == len && backend_names_well_formed(name)) memcpy(p->backend, name, len + 1);
}

static inline void get_operand(cursor *c, ff_op *op, ff_operand_kind kind)
{
    switch (kind) {
    case FF_OPND_COUNT: op->count = get_num(c); break;
    case FF_OPND_OFFSET: op->offset = get_num(c); break;
    case FF_OPND_ALIGN: op->align = get_log(c); break;
    case FF_OPND_ZONE: op->zone = (ff_zone)(get_byte(c) & 3); break;
    case FF_OPND_HANDLE: op->handle = get_byte(c); break;
    case FF_OPND_PADDR: op->paddr = get_paddr(c); break;
    case FF_OPND_VALUE: op->value = get_byte(c); break;
    case FF_OPND_REFS: op->refs = (uint32_t)get_num(c); break;
    }
}

/* The cpus section: the CPU count and schedule mode, the schedule's length, its bytes. */
static void decode_cpus(ff_program *p, cursor *c)
{
    uint8_t cpus = get_byte(c);
    p->ncpus = 1 + (cpus & CPUS_COUNT_MASK);
    p->sched_mode = (cpus & CPUS_PCT) ? FF_SCHED_PCT : FF_SCHED_DIRECT;
    p->schedule_len = get_byte(c) % (FF_SCHEDULE_MAX + 1);
    for (size_t i = 0; i < p->schedule_len; i++) p->schedule[i] = get_byte(c);
}

/* ncpus: the program's (0: sequential, no tag byte). */
static ff_op decode_op(cursor *c, unsigned ncpus)
{
    ff_op op = ff_op_blank((ff_op_kind)(get_byte(c) % FF_OP_KIND_COUNT));
    if (ncpus) {
        uint8_t tag = get_byte(c);
        op.cpu = (uint8_t)((tag & TAG_CPU_MASK) % ncpus);
        op.irq = (tag & TAG_IRQ) != 0;
        if (op.irq) op.irq_after = (uint8_t)((tag >> TAG_AFTER_SHIFT) & FF_IRQ_AFTER_MAX);
    }
    /* The loop over the kind's operands, unrolled by the preprocessor: one case per
     * operation reading its operands in turn, each get_operand folded to its kind's
     * reader (a loop over the table took about 15 % longer per input). */
    switch (op.kind) {
#define FF_OPERAND(syntax, kind, word) get_operand(c, &op, FF_OPND_##kind);
#define X(id, name, keyword, weight, operands)                                                \
    case FF_OP_##id: operands break;
        FF_OP_LIST(X)
#undef X
#undef FF_OPERAND
    case FF_OP_KIND_COUNT: break;
    }
    return op;
}

/* Decodes into p, initialised but for its operation array, which it fills from the
 * start. */
static bool decode_into(ff_program *p, const uint8_t *data, size_t size)
{
    cursor c = {data, size, 0};
    /* Any version but FF_OPS_VERSION_CPUS reads as version 1. */
    uint8_t version = get_byte(&c);
    uint8_t flags = get_byte(&c);
    p->semantics = (flags & FLAG_HARDENED) ? FF_SEM_HARDENED : FF_SEM_ASTERINAS_2024;
    p->poison = (flags & FLAG_POISON) != 0;
    unsigned map = (flags >> FLAG_MAP_SHIFT) & 7;
    if (map == MAP_CUSTOM)
        decode_regions(p, &c);
    else
        p->preset = ff_ops_fuzz_presets[map % ff_ops_fuzz_preset_count];
    if (flags & FLAG_BACKEND) decode_backend(p, &c);
    if (version == FF_OPS_VERSION_CPUS && (flags & FLAG_CPUS)) decode_cpus(p, &c);
    while (cursor_more(&c) && p->nops < FF_OPS_MAX) {
        ff_op op = decode_op(&c, p->ncpus);
        if (!ff_program_add(p, &op)) {
            ff_program_free(p);
            return false;
        }
    }
    return true;
}

bool ff_program_decode(ff_program *p, const uint8_t *data, size_t size)
{
    ff_program_init(p);
    return decode_into(p, data, size);
}

bool ff_program_decode_again(ff_program *p, const uint8_t *data, size_t size)
{
    ff_op *ops = p->ops;
    size_t cap = p->cap;
    ff_program_init(p);
    p->ops = ops;
    p->cap = cap;
    return decode_into(p, data, size);
}

/* ---------------------------------------------------------------- binary: encoding */

/* Upper bounds of one encoded part, so the buffer is sized once. */
#define HEADER_MAX (2 + 1 + FF_OPS_MAX_REGIONS * 5 + 1 + NAME_LEN_MAX + 2 + FF_SCHEDULE_MAX)
#define OP_MAX     (1 + 1 + 2 * 9 + 9 + 9) /* opcode, tag, paddr, count, refs */

typedef struct writer {
    uint8_t *buf;
    size_t len;
} writer;

static inline void put_byte(writer *w, uint8_t b) { w->buf[w->len++] = b; }

static void put_le(writer *w, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++) put_byte(w, (uint8_t)(v >> (8 * i)));
}

static void put_num(writer *w, uint64_t v)
{
    if (v < NUM_INTERESTING) {
        put_byte(w, (uint8_t)v);
        return;
    }
    for (unsigned i = 0; i < 24; i++)
        if (ff_ops_interesting[i] == v) {
            put_byte(w, (uint8_t)(NUM_INTERESTING + i));
            return;
        }
    if (v <= UINT16_MAX) {
        put_byte(w, NUM_U16);
        put_le(w, v, 2);
    } else if (v <= UINT32_MAX) {
        put_byte(w, NUM_U32);
        put_le(w, v, 4);
    } else {
        put_byte(w, NUM_U64);
        put_le(w, v, 8);
    }
}

static void put_log(writer *w, uint64_t v)
{
    if (ff_is_pow2(v)) {
        put_byte(w, (uint8_t)ff_log2(v));
    } else {
        put_byte(w, LOG_NUM);
        put_num(w, v);
    }
}

static void put_paddr(writer *w, uint64_t paddr)
{
    put_num(w, paddr >> FF_FRAME_SHIFT);
    put_num(w, paddr & (FF_FRAME_SIZE - 1));
}

static void encode_op(writer *w, const ff_op *op, unsigned ncpus)
{
    put_byte(w, (uint8_t)op->kind);
    if (ncpus)
        put_byte(w, (uint8_t)(op->cpu | (op->irq ? TAG_IRQ | (op->irq_after & FF_IRQ_AFTER_MAX)
                                                                 << TAG_AFTER_SHIFT
                                                   : 0)));
    if ((unsigned)op->kind >= FF_OP_KIND_COUNT) return;
    const ff_op_info *info = &ff_op_infos[op->kind];
    for (size_t i = 0; i < info->noperands; i++) {
        switch (info->operands[i].kind) {
        case FF_OPND_COUNT: put_num(w, op->count); break;
        case FF_OPND_OFFSET: put_num(w, op->offset); break;
        case FF_OPND_ALIGN: put_log(w, op->align); break;
        case FF_OPND_ZONE:
            put_byte(w, (unsigned)op->zone < FF_ZONE_COUNT ? (uint8_t)op->zone : FF_ZONE_COUNT);
            break;
        case FF_OPND_HANDLE: put_byte(w, op->handle); break;
        case FF_OPND_PADDR: put_paddr(w, op->paddr); break;
        case FF_OPND_VALUE: put_byte(w, op->value); break;
        case FF_OPND_REFS: put_num(w, op->refs); break;
        }
    }
}

size_t ff_program_encoded_max(const ff_program *p) { return HEADER_MAX + p->nops * OP_MAX; }

bool ff_program_encode(const ff_program *p, uint8_t **data, size_t *size)
{
    uint8_t *buf = malloc(ff_program_encoded_max(p));
    if (!buf) return false;
    *size = ff_program_encode_into(p, buf);
    *data = buf;
    return true;
}

size_t ff_program_encode_into(const ff_program *p, uint8_t *buf)
{
    writer w = {buf, 0};
    size_t name_len = strnlen(p->backend, sizeof p->backend);
    if (name_len > NAME_LEN_MAX) name_len = 0; /* no binary form: see ff_program_encode */
    /* A preset that is no fuzz preset has no binary form: it falls back to the first. */
    int preset = fuzz_preset_index(p->preset);
    unsigned map = p->preset ? (unsigned)(preset < 0 ? 0 : preset) : MAP_CUSTOM;
    put_byte(&w, p->ncpus ? FF_OPS_VERSION_CPUS : FF_OPS_VERSION);
    put_byte(&w, (uint8_t)((p->semantics == FF_SEM_HARDENED ? FLAG_HARDENED : 0) |
                           (p->poison ? FLAG_POISON : 0) | (map << FLAG_MAP_SHIFT) |
                           (name_len ? FLAG_BACKEND : 0) | (p->ncpus ? FLAG_CPUS : 0)));
    if (map == MAP_CUSTOM) {
        size_t n = p->nregions ? p->nregions : 1;
        put_byte(&w, (uint8_t)(n - 1));
        for (size_t i = 0; i < n; i++) {
            const ff_e820_entry *e = &p->regions[i];
            put_le(&w, e->start / KIB, 2);
            put_le(&w, e->size / KIB, 2);
            put_byte(&w, (uint8_t)((unsigned)(e->type + 4) % 5)); /* type 1 + b % 5 */
        }
    }
    if (name_len) {
        put_byte(&w, (uint8_t)(name_len - 1));
        for (size_t i = 0; i < name_len; i++) put_byte(&w, (uint8_t)p->backend[i]);
    }
    if (p->ncpus) {
        put_byte(&w, (uint8_t)((p->ncpus - 1) | (p->sched_mode == FF_SCHED_PCT ? CPUS_PCT : 0)));
        put_byte(&w, (uint8_t)p->schedule_len);
        for (size_t i = 0; i < p->schedule_len; i++) put_byte(&w, p->schedule[i]);
    }
    for (size_t i = 0; i < p->nops; i++) encode_op(&w, &p->ops[i], p->ncpus);
    return w.len;
}

/* ---------------------------------------------------------------- text: printing */

/* An operand's value, to compare with its default. */
static uint64_t operand_value(const ff_op *op, ff_operand_kind kind)
{
    switch (kind) {
#define X(id, field, fallback) case FF_OPND_##id: return (uint64_t)op->field;
        FF_OPERAND_LIST(X)
#undef X
    }
    return 0;
}

static bool operand_at_default(const ff_op *op, ff_operand_kind kind)
{
    ff_op blank = ff_op_blank(op->kind);
    return operand_value(op, kind) == operand_value(&blank, kind);
}

/* Appends to buf as snprintf would, so a short buffer holds a prefix of the line. */
#define APPEND(buf, len, n, ...)                                                            \
    do {                                                                                    \
        if ((n) < (len)) {                                                                  \
            int k_ = snprintf((buf) + (n), (len) - (n), __VA_ARGS__);                       \
            (n) += k_ > 0 ? (size_t)k_ : 0;                                                 \
        }                                                                                   \
    } while (0)

void ff_op_format(const ff_op *op, char *buf, size_t len)
{
    if ((unsigned)op->kind >= FF_OP_KIND_COUNT) {
        snprintf(buf, len, "?");
        return;
    }
    const ff_op_info *info = &ff_op_infos[op->kind];
    size_t n = 0;
    APPEND(buf, len, n, "%s", info->keyword);
    for (size_t i = 0; i < info->noperands; i++) {
        const ff_operand *d = &info->operands[i];
        if (d->syntax == FF_SYN_KEY && operand_at_default(op, d->kind)) continue;
        if (d->keyword) APPEND(buf, len, n, " %s", d->keyword);
        switch (d->kind) {
        case FF_OPND_COUNT: APPEND(buf, len, n, " %" PRIu64, op->count); break;
        case FF_OPND_OFFSET: APPEND(buf, len, n, " +%" PRIu64, op->offset); break;
        case FF_OPND_ALIGN: APPEND(buf, len, n, " %" PRIu64, op->align); break;
        case FF_OPND_ZONE:
            APPEND(buf, len, n, " %s",
                   zone_words[(unsigned)op->zone < FF_ZONE_COUNT ? op->zone : FF_ZONE_COUNT]);
            break;
        case FF_OPND_HANDLE: APPEND(buf, len, n, " h%u", op->handle); break;
        case FF_OPND_PADDR: APPEND(buf, len, n, " 0x%" PRIx64, op->paddr); break;
        case FF_OPND_VALUE: APPEND(buf, len, n, " 0x%02x", op->value); break;
        case FF_OPND_REFS: APPEND(buf, len, n, " %" PRIu32, op->refs); break;
        }
    }
}

void ff_op_format_in(const ff_program *p, const ff_op *op, char *buf, size_t len)
{
    size_t n = 0;
    if (p->ncpus && op->irq && op->irq_after)
        APPEND(buf, len, n, "irq%u+%u ", op->cpu, op->irq_after);
    else if (p->ncpus)
        APPEND(buf, len, n, "%s%u ", op->irq ? "irq" : "cpu", op->cpu);
    if (n < len) ff_op_format(op, buf + n, len - n);
}

/* " WORD B,B,..." for n > 0 bytes. */
static void print_byte_list(FILE *out, const char *word, const uint8_t *bytes, size_t n)
{
    if (n == 0) return;
    fprintf(out, " %s ", word);
    for (size_t i = 0; i < n; i++) fprintf(out, "%s%u", i ? "," : "", bytes[i]);
}

/* The schedule line, but none for an empty direct schedule (the default). */
static void print_schedule(const ff_program *p, FILE *out)
{
    const uint8_t *s = p->schedule;
    size_t len = p->schedule_len;
    if (p->sched_mode == FF_SCHED_DIRECT) {
        if (len == 0) return;
        fprintf(out, "schedule direct");
        for (size_t i = 0; i + 1 < len; i += 2) fprintf(out, " %u:%u", s[i], s[i + 1]);
        if (len % 2) fprintf(out, " %u", s[len - 1]);
    } else {
        size_t priorities = len < p->ncpus ? len : p->ncpus;
        fprintf(out, "schedule pct");
        print_byte_list(out, "priorities", s, priorities);
        print_byte_list(out, "changes", s + priorities, len - priorities);
    }
    fputc('\n', out);
}

void ff_program_print(const ff_program *p, FILE *out)
{
    if (p->backend[0]) fprintf(out, "backend %s\n", p->backend);
    if (p->bug != FF_BUG_NONE) fprintf(out, "bug %s\n", ff_bug_info_of(p->bug)->name);
    fprintf(out, "semantics %s\n", ff_semantics_name(p->semantics));
    if (p->preset) {
        fprintf(out, "map %s\n", p->preset);
    } else {
        fprintf(out, "map custom\n");
        for (size_t i = 0; i < p->nregions; i++) {
            const ff_e820_entry *e = &p->regions[i];
            fprintf(out, "region 0x%" PRIx64 "-0x%" PRIx64 " %s\n", e->start,
                    e->start + e->size - 1, ff_mem_type_name(e->type));
        }
    }
    fprintf(out, "poison %s\n", p->poison ? "on" : "off");
    if (p->ncpus) {
        fprintf(out, "cpus %u\n", p->ncpus);
        print_schedule(p, out);
    }
    char line[160];
    for (size_t i = 0; i < p->nops; i++) {
        ff_op_format_in(p, &p->ops[i], line, sizeof line);
        fprintf(out, "%s\n", line);
    }
}

bool ff_program_is_text(const uint8_t *data, size_t size)
{
    if (size == 0) return false;
    for (size_t i = 0; i < size; i++) {
        uint8_t b = data[i];
        if (!((b >= 0x20 && b < 0x7f) || b == '\t' || b == '\r' || b == '\n')) return false;
    }
    return true;
}

/* ---------------------------------------------------------------- text: parsing */

#define WORDS_MAX 8 /* on a line, but a schedule line's */
/* A schedule line: its keyword, its mode and a word per byte (a direct one's entries
 * take two bytes a word, so a schedule too long by up to 32 entries is read whole and
 * reported as too long). */
#define SCHEDULE_WORDS_MAX (2 + FF_SCHEDULE_MAX)

typedef struct parser {
    ff_program *p;
    size_t line;
    char *err;
    size_t errlen;
    char *words[SCHEDULE_WORDS_MAX];
    size_t nwords;
    bool ops_started;
    bool custom;          /* `map custom` seen */
    size_t custom_line;   /* where, for "no region" */
    size_t cpus_line;     /* the cpus line, 0 when none */
    size_t schedule_line; /* the schedule line, 0 when none; what it said of a PCT one: */
    size_t priorities;    /* the priorities it listed */
    bool changes;         /* whether it listed change points */
} parser;

/* Reports "line N: " and the message and returns false, so callers can
 * `return fail(...)`. */
__attribute__((format(printf, 3, 4)))
static bool fail_line(parser *ps, size_t line, const char *fmt, ...)
{
    if (!ps->err || !ps->errlen) return false;
    int n = snprintf(ps->err, ps->errlen, "line %zu: ", line);
    if (n < 0 || (size_t)n >= ps->errlen) return false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return false;
}

/* "line N: what: text", the text cut short. */
static bool fail_at(parser *ps, size_t line, const char *what, const char *text)
{
    return fail_line(ps, line, "%s: %.40s", what, text);
}

static bool fail(parser *ps, const char *what, const char *text)
{
    return fail_at(ps, ps->line, what, text);
}

/* Decimal or 0x-hex, the full u64 range; no sign, no trailing junk, no overflow. */
static bool parse_u64(const char *s, uint64_t *out)
{
    unsigned base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s) return false;
    uint64_t v = 0;
    for (; *s; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9') d = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f') d = (unsigned)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F') d = (unsigned)(*s - 'A' + 10);
        else return false;
        if (d >= base || v > (UINT64_MAX - d) / base) return false;
        v = v * base + d;
    }
    *out = v;
    return true;
}

static bool word_num(parser *ps, size_t i, uint64_t *out)
{
    return parse_u64(ps->words[i], out) || fail(ps, "bad number", ps->words[i]);
}

/* hN with N in 0..255. */
static bool word_handle(parser *ps, size_t i, uint8_t *out)
{
    const char *w = ps->words[i];
    uint64_t v;
    if (w[0] != 'h' || !parse_u64(w + 1, &v)) return fail(ps, "bad handle (want h0..h255)", w);
    if (v > UINT8_MAX) return fail(ps, "handle out of range (h0..h255)", w);
    *out = (uint8_t)v;
    return true;
}

/* Requires between min and max words on the line, the keyword included. */
static bool want_words(parser *ps, size_t min, size_t max)
{
    if (ps->nwords < min) return fail(ps, "missing operand", ps->words[0]);
    if (ps->nwords > max) return fail(ps, "unexpected operand", ps->words[max]);
    return true;
}

static bool parse_region(parser *ps)
{
    if (!ps->custom) return fail(ps, "region without map custom", ps->words[0]);
    if (ps->nwords < 3) return fail(ps, "missing operand", ps->words[0]);
    if (ps->p->nregions == FF_OPS_MAX_REGIONS) return fail(ps, "too many regions", ps->words[1]);
    char *range = ps->words[1], *dash = strchr(range, '-');
    uint64_t start, end;
    if (!dash) return fail(ps, "bad region (want 0xSTART-0xEND)", range);
    *dash = '\0';
    bool ok = parse_u64(range, &start) && parse_u64(dash + 1, &end);
    *dash = '-';
    if (!ok) return fail(ps, "bad number", range);
    /* Wrapping on purpose: END = START - 1 is an empty region. */
    uint64_t size = end + 1 - start;
    if (start % KIB || (end + 1) % KIB) return fail(ps, "region not KiB-aligned", range);
    if (start / KIB > UINT16_MAX || size / KIB > UINT16_MAX)
        return fail(ps, "region out of range (start and size below 64 MiB)", range);
    /* The type is the rest of the line: some e820 names are two words. */
    char type_name[32] = "";
    for (size_t i = 2; i < ps->nwords; i++) {
        size_t used = strlen(type_name);
        snprintf(type_name + used, sizeof type_name - used, "%s%s", i > 2 ? " " : "", ps->words[i]);
    }
    for (int t = FF_MEM_USABLE; t < FF_MEM_TYPE_COUNT; t++)
        if (strcmp(type_name, ff_mem_type_name((ff_mem_type)t)) == 0) {
            ps->p->regions[ps->p->nregions++] = (ff_e820_entry){start, size, (ff_mem_type)t};
            return true;
        }
    return fail(ps, "unknown region type", ps->words[2]);
}

/* The schedule bytes word w spells, appended: numbers 0..255, sep between two (a
 * direct entry's ':', a PCT list's ','); *count says how many. */
static bool parse_schedule_bytes(parser *ps, size_t w, char sep, size_t *count)
{
    ff_program *p = ps->p;
    char *word = ps->words[w];
    *count = 0;
    for (char *s = word;; s++) {
        char *end = strchr(s, sep);
        if (end) *end = '\0';
        uint64_t v;
        bool ok = parse_u64(s, &v);
        if (end) *end = sep;
        if (!ok) return fail(ps, "bad number", word);
        if (v > UINT8_MAX) return fail(ps, "schedule byte out of range (0..255)", word);
        if (p->schedule_len == FF_SCHEDULE_MAX)
            return fail_line(ps, ps->line, "schedule longer than %d bytes: %.40s", FF_SCHEDULE_MAX,
                             word);
        p->schedule[p->schedule_len++] = (uint8_t)v;
        ++*count;
        if (!end) return true;
        s = end;
    }
}

/* schedule direct [G:C ...] [G]  |  schedule pct [priorities P,... [changes G,...]]
 * Whether a PCT schedule's lists suit the CPU count is check_directives' question. */
static bool parse_schedule(parser *ps)
{
    ff_program *p = ps->p;
    if (ps->nwords < 2) return fail(ps, "missing operand", ps->words[0]);
    const char *mode = ps->words[1];
    size_t n, w = 2;
    p->schedule_len = 0;
    ps->schedule_line = ps->line;
    ps->priorities = 0;
    ps->changes = false;
    if (strcmp(mode, "direct") == 0) {
        p->sched_mode = FF_SCHED_DIRECT;
        for (; w < ps->nwords; w++) {
            if (!parse_schedule_bytes(ps, w, ':', &n)) return false;
            /* An odd byte left over ends the line alone. */
            if (n != 2 && !(n == 1 && w + 1 == ps->nwords))
                return fail(ps, "bad schedule entry (want GAP:CPU)", ps->words[w]);
        }
        return true;
    }
    if (strcmp(mode, "pct") != 0) return fail(ps, "unknown schedule (want direct or pct)", mode);
    p->sched_mode = FF_SCHED_PCT;
    static const char *const lists[] = {"priorities", "changes"}; /* in order, each optional */
    for (size_t l = 0; l < 2 && w < ps->nwords; l++, w += 2) {
        if (strcmp(ps->words[w], lists[l]) != 0)
            return fail(ps, l ? "unexpected operand" : "bad pct schedule (want priorities P,...)",
                        ps->words[w]);
        if (w + 1 == ps->nwords) return fail(ps, "missing operand", ps->words[w]);
        if (!parse_schedule_bytes(ps, w + 1, ',', l ? &n : &ps->priorities)) return false;
        ps->changes = l == 1;
    }
    return w >= ps->nwords || fail(ps, "unexpected operand", ps->words[w]);
}

static bool parse_directive(parser *ps, const char *word)
{
    ff_program *p = ps->p;
    if (strcmp(word, "region") == 0) return parse_region(ps);
    if (strcmp(word, "schedule") == 0) return parse_schedule(ps);
    if (!want_words(ps, 2, 2)) return false;
    const char *arg = ps->words[1];
    if (strcmp(word, "backend") == 0) {
        if (strlen(arg) >= FF_OPS_BACKEND_MAX || !backend_names_well_formed(arg))
            return fail(ps, "unknown backend", arg);
        strcpy(p->backend, arg);
        p->backend_line = ps->line;
    } else if (strcmp(word, "bug") == 0) {
        if (!ff_bug_parse(arg, &p->bug)) return fail(ps, "unknown injected bug", arg);
    } else if (strcmp(word, "semantics") == 0) {
        if (!ff_semantics_parse(arg, &p->semantics)) return fail(ps, "unknown semantics", arg);
    } else if (strcmp(word, "poison") == 0) {
        if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0)
            return fail(ps, "poison must be on or off", arg);
        p->poison = strcmp(arg, "on") == 0;
    } else if (strcmp(word, "cpus") == 0) {
        uint64_t n;
        if (!parse_u64(arg, &n) || n < 1 || n > FF_CPUS_MAX)
            return fail_line(ps, ps->line, "bad cpus count (want 1..%d): %.40s", FF_CPUS_MAX, arg);
        p->ncpus = (unsigned)n;
        ps->cpus_line = ps->line;
    } else { /* map */
        if (p->nregions) return fail(ps, "map after regions", arg);
        ps->custom = strcmp(arg, "custom") == 0;
        ps->custom_line = ps->line;
        /* Any preset, so a reproducer of a campaign forced onto pc-64g says so; only the
         * fuzz presets have a binary form (ff_program_encode). */
        int i = fuzz_preset_index(arg);
        const ff_preset *preset = ff_preset_find(arg);
        if (!ps->custom && !preset) return fail(ps, "unknown preset", arg);
        p->preset = ps->custom ? NULL : i >= 0 ? ff_ops_fuzz_presets[i] : preset->name;
    }
    return true;
}

/* Reads operand d of op from word i. */
static bool parse_operand(parser *ps, size_t i, const ff_operand *d, ff_op *op)
{
    const char *w = ps->words[i];
    uint64_t v;
    switch (d->kind) {
    case FF_OPND_COUNT: return word_num(ps, i, &op->count);
    case FF_OPND_OFFSET:
        if (w[0] != '+' || !parse_u64(w + 1, &op->offset)) return fail(ps, "bad offset (want +N)", w);
        return true;
    case FF_OPND_ALIGN: return word_num(ps, i, &op->align);
    case FF_OPND_ZONE: {
        size_t z = 0;
        while (z <= FF_ZONE_COUNT && strcmp(w, zone_words[z]) != 0) z++;
        if (z > FF_ZONE_COUNT) return fail(ps, "unknown zone", w);
        op->zone = (ff_zone)z;
        return true;
    }
    case FF_OPND_HANDLE: return word_handle(ps, i, &op->handle);
    case FF_OPND_PADDR: return word_num(ps, i, &op->paddr);
    case FF_OPND_VALUE:
        if (!word_num(ps, i, &v)) return false;
        if (v > UINT8_MAX) return fail(ps, "value out of range (0..255)", w);
        op->value = (uint8_t)v;
        return true;
    case FF_OPND_REFS:
        if (!word_num(ps, i, &v)) return false;
        if (v > UINT32_MAX) return fail(ps, "refs out of range (0..2^32-1)", w);
        op->refs = (uint32_t)v;
        return true;
    }
    return false;
}

static bool is_option(const ff_operand *d) { return d->keyword != NULL; }

/* The operand of info that the option word names, or NULL. */
static const ff_operand *option_named(const ff_op_info *info, const char *word)
{
    for (size_t i = 0; i < info->noperands; i++)
        if (is_option(&info->operands[i]) && strcmp(info->operands[i].keyword, word) == 0)
            return &info->operands[i];
    return NULL;
}

/* The operation after kind sharing its keyword (the longer form: FF_OP_LIST), or
 * FF_OP_KIND_COUNT. */
static ff_op_kind longer_form(ff_op_kind kind)
{
    int k = kind + 1;
    while (k < FF_OP_KIND_COUNT && strcmp(ff_op_infos[k].keyword, ff_op_infos[kind].keyword) != 0) k++;
    return (ff_op_kind)k;
}

/* Words an operation's line may hold, its keyword included. */
static size_t words_min(const ff_op_info *info)
{
    size_t n = 1;
    for (size_t i = 0; i < info->noperands; i++) n += info->operands[i].syntax == FF_SYN_POS;
    return n;
}

static size_t words_max(const ff_op_info *info)
{
    size_t n = 1;
    for (size_t i = 0; i < info->noperands; i++) n += is_option(&info->operands[i]) ? 2 : 1;
    return n;
}

/* Fills op, of the first kind with the line's keyword, from the line: the positional
 * operands, then a longer form's further ones when words are left (all of them, or
 * "missing operand" naming the first word), then the options, in any order, each at
 * most once. False after reporting. */
static bool parse_operands(parser *ps, ff_op *op)
{
    size_t w = 1, o = 0, n = ps->nwords;
    ff_op_kind longest = op->kind;
    for (ff_op_kind k = longer_form(op->kind); k < FF_OP_KIND_COUNT; k = longer_form(k)) longest = k;
    if (!want_words(ps, words_min(&ff_op_infos[op->kind]), words_max(&ff_op_infos[longest])))
        return false;
    const ff_op_info *info = &ff_op_infos[op->kind];
    bool optional_positional = false;
    for (;;) {
        for (; o < info->noperands && !is_option(&info->operands[o]); o++) {
            const ff_operand *d = &info->operands[o];
            if (d->syntax == FF_SYN_POS_OPT) {
                optional_positional = true;
                if (w == n || option_named(info, ps->words[w])) continue; /* its default */
            }
            if (!parse_operand(ps, w++, d, op)) return false;
        }
        ff_op_kind longer = longer_form(op->kind);
        if (w == n || longer == FF_OP_KIND_COUNT) break;
        if (n - w < words_min(&ff_op_infos[longer]) - words_min(info))
            return fail(ps, "missing operand", ps->words[w]);
        op->kind = longer;
        info = &ff_op_infos[longer];
    }
    size_t noptions = 0;
    for (size_t i = o; i < info->noperands; i++) noptions += is_option(&info->operands[i]);
    if (n - w > 2 * noptions) return fail(ps, "unexpected operand", ps->words[w + 2 * noptions]);
    unsigned seen = 0;
    for (; w < n; w += 2) {
        const ff_operand *d = option_named(info, ps->words[w]);
        /* Past an optional positional operand a stray word reads as one operand too
         * many; where only options may stand, as a word the language does not know. */
        if (!d) return fail(ps, optional_positional ? "unexpected operand" : "unknown word", ps->words[w]);
        unsigned bit = 1u << (unsigned)(d - info->operands);
        if (seen & bit) return fail(ps, "repeated option", ps->words[w]);
        if (w + 1 >= n) return fail(ps, "missing operand", ps->words[w]);
        seen |= bit;
        if (!parse_operand(ps, w + 1, d, op)) return false;
    }
    return true;
}

static bool parse_op(parser *ps, ff_op_kind kind, uint8_t cpu, bool irq, uint8_t irq_after)
{
    ff_op op = ff_op_blank(kind);
    op.cpu = cpu;
    op.irq = irq;
    op.irq_after = irq_after;
    if (!parse_operands(ps, &op)) return false;
    if (ps->p->nops >= FF_OPS_MAX) return fail(ps, "too many operations (FF_OPS_MAX)", ps->words[0]);
    if (!ff_program_add(ps->p, &op)) return fail(ps, "out of host memory", ps->words[0]);
    return true;
}

/* Splits one line (comment removed) into words; false when there are too many. */
static bool split_words(parser *ps, char *line)
{
    char *hash = strchr(line, '#');
    if (hash) *hash = '\0';
    ps->nwords = 0;
    for (char *s = line;;) {
        while (*s == ' ' || *s == '\t' || *s == '\r') s++;
        if (!*s) return true;
        bool schedule = ps->nwords && strcmp(ps->words[0], "schedule") == 0;
        if (ps->nwords == (schedule ? SCHEDULE_WORDS_MAX : WORDS_MAX))
            return fail(ps, "too many words", s);
        ps->words[ps->nwords++] = s;
        while (*s && *s != ' ' && *s != '\t' && *s != '\r') s++;
        if (*s) *s++ = '\0';
    }
}

static const char *plural(size_t n, const char *one, const char *many) { return n == 1 ? one : many; }

/* What the directives say together, checked once they are all read: before the first
 * operation, or at the end of a program with none. */
static bool check_directives(parser *ps)
{
    unsigned ncpus = ps->p->ncpus;
    if (ps->custom && ps->p->nregions == 0)
        return fail_at(ps, ps->custom_line, "map custom without region", "map custom");
    if (ps->schedule_line && !ps->cpus_line)
        return fail_at(ps, ps->schedule_line, "schedule without cpus", "schedule");
    /* A PCT schedule's bytes are a priority per CPU, then change points. */
    if (ps->priorities > ncpus || (ps->changes && ps->priorities < ncpus))
        return fail_line(ps, ps->schedule_line, "%s%zu %s but the program has %u %s",
                         ps->changes ? "changes after " : "", ps->priorities,
                         plural(ps->priorities, "priority", "priorities"), ncpus,
                         plural(ncpus, "cpu", "cpus"));
    return true;
}

/* A tag cpuK, irqK or irqK+N: true with its CPU, context and the points an interrupt
 * lets pass (N, unchecked) when word is one. */
static bool parse_tag(const char *word, uint64_t *cpu, bool *irq, uint64_t *after)
{
    bool in_irq = strncmp(word, "irq", 3) == 0;
    if (!in_irq && strncmp(word, "cpu", 3) != 0) return false;
    char number[24];
    const char *plus = in_irq ? strchr(word, '+') : NULL;
    size_t len = plus ? (size_t)(plus - word - 3) : strlen(word + 3);
    if (len >= sizeof number) return false;
    memcpy(number, word + 3, len);
    number[len] = '\0';
    *after = 0;
    if (!parse_u64(number, cpu) || (plus && !parse_u64(plus + 1, after))) return false;
    *irq = in_irq;
    return true;
}

static bool parse_line(parser *ps, char *line)
{
    static const char *const directives[] = {"backend", "bug",  "semantics", "map",
                                             "region",  "poison", "cpus",    "schedule"};
    if (!split_words(ps, line)) return false;
    if (ps->nwords == 0) return true;
    const char *word = ps->words[0], *tag = NULL;
    for (size_t i = 0; i < sizeof directives / sizeof directives[0]; i++)
        if (strcmp(word, directives[i]) == 0)
            return ps->ops_started ? fail(ps, "directive after an operation", word)
                                   : parse_directive(ps, word);
    uint64_t cpu = 0, after = 0;
    bool irq = false;
    if (parse_tag(word, &cpu, &irq, &after)) {
        unsigned ncpus = ps->p->ncpus;
        if (!ncpus) return fail(ps, "cpu tag without a cpus line", word);
        if (after > FF_IRQ_AFTER_MAX)
            return fail_line(ps, ps->line, "%.40s: an interrupt lets at most %d points pass",
                             word, FF_IRQ_AFTER_MAX);
        if (cpu >= ncpus)
            return fail_line(ps, ps->line, "%.40s but the program has %u %s", word, ncpus,
                             plural(ncpus, "cpu", "cpus"));
        tag = word;
        memmove(ps->words, ps->words + 1, --ps->nwords * sizeof ps->words[0]);
        if (ps->nwords == 0) return fail(ps, "missing operation after tag", tag);
        word = ps->words[0];
    }
    /* The first operation with the keyword: a longer form sharing it is told by its
     * operands (parse_operands). */
    for (int k = 0; k < FF_OP_KIND_COUNT; k++)
        if (strcmp(word, ff_op_infos[k].keyword) == 0) {
            if (!ps->ops_started && !check_directives(ps)) return false;
            ps->ops_started = true;
            return parse_op(ps, (ff_op_kind)k, (uint8_t)cpu, irq, (uint8_t)after);
        }
    return fail(ps, tag ? "not an operation after tag" : "unknown word", word);
}

bool ff_program_parse(ff_program *p, const char *text, char *err, size_t errlen)
{
    ff_program_init(p);
    parser ps = {.p = p, .err = err, .errlen = errlen};
    char *copy = strdup(text);
    if (!copy) {
        if (err && errlen) snprintf(err, errlen, "line 0: out of host memory");
        return false;
    }
    bool ok = true;
    char *line = copy;
    for (ps.line = 1; ok && line; ps.line++) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        ok = parse_line(&ps, line);
        line = nl ? nl + 1 : NULL;
    }
    if (ok && !ps.ops_started) ok = check_directives(&ps);
    free(copy);
    if (!ok) ff_program_free(p);
    return ok;
}

/* Programs are at most FF_OPS_MAX operations: a few hundred KiB in either form. */
#define PROGRAM_FILE_MAX (4u << 20)

bool ff_program_load(ff_program *p, const char *path, bool binary, char *err, size_t errlen)
{
    char *data;
    size_t size;
    ff_program_init(p);
    if (!ff_read_file(path, PROGRAM_FILE_MAX, &data, &size, err, errlen)) return false;
    bool ok;
    if (!binary && ff_program_is_text((const uint8_t *)data, size)) {
        char why[200];
        ok = ff_program_parse(p, data, why, sizeof why);
        if (!ok) snprintf(err, errlen, "%s: %s", path, why);
    } else {
        ok = ff_program_decode(p, (const uint8_t *)data, size);
        if (!ok) snprintf(err, errlen, "%s: host out of memory", path);
    }
    free(data);
    return ok;
}
