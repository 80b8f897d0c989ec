/*
 * ops.h — the operation-sequence language: what one fuzz input asks framefuzz to do.
 *
 * A program is a configuration (metadata semantics, memory map, poisoning, optionally
 * the back-end) and a sequence of operations on the metadata layer. It has two forms:
 *
 * Binary — what fuzzers mutate. Every byte string decodes to a program (missing bytes
 * read as zero, opcodes are taken modulo the number of kinds, trailing bytes are
 * ignored), so nearly every input is meaningful. The first byte is the format
 * version: a corpus stays replayable when the language grows, because a newer decoder
 * still reads every older version.
 *
 *   byte 0     version: FF_OPS_VERSION_CPUS (2) honours flag bit 6; any other byte
 *              reads as FF_OPS_VERSION (1), whose programs are sequential
 *   byte 1     flags: bit 0 semantics (0 asterinas-2024, 1 hardened), bit 1 poison,
 *              bits 2-4 map (index into ff_ops_fuzz_presets, modulo its size;
 *              7 = custom regions follow), bit 5 a back-end name follows, bit 6 (in
 *              version 2 only) a cpus section follows; bit 7 unused
 *   [custom]   n = 1 + byte % FF_OPS_MAX_REGIONS regions of 5 bytes: start in KiB
 *              (u16 LE), size in KiB (u16 LE), e820 type (1 + byte % 5)
 *   [backend]  a byte L, then 1 + L % 31 name bytes: a back-end name or a comma list
 *              of them, else (bytes no name has) "no back-end named"; one this build
 *              lacks runs as none named (ff_exec_check_backend)
 *   [cpus]     a byte c: ncpus = 1 + (c & 7), schedule mode (c >> 3) & 1 (0 direct,
 *              1 PCT), bits 4-7 unused; a byte L: schedule_len = L % (FF_SCHEDULE_MAX
 *              + 1); then that many schedule bytes (cpu.h says what they mean)
 *   ops        an opcode byte (kind = byte % FF_OP_KIND_COUNT); with a cpus section a
 *              tag byte t (cpu = (t & 7) % ncpus, irq = bit 7, and for an interrupt
 *              irq_after = bits 3-6, else they are unused); then
 *              its operands in FF_OP_LIST's order, each in its kind's binary form
 *              (FF_OPERAND_LIST):
 *              num: one byte b; b < 0xE0 is the value; 0xE0-0xF7 pick one of 24
 *              interesting values (ff_ops_interesting); 0xF8 a u16, 0xF9 a u32,
 *              0xFA-0xFF a u64 follows (little-endian).
 *              log: one byte b; b < 64 means 1 << b; else a num follows (so any
 *              alignment, also a non-power of two, can be expressed).
 *              paddr: frame:num then low 12 bits:num (a misaligned address when non-zero).
 * The canonical encoding of a sequential program (ncpus 0) is version 1 without bit 6,
 * the form every program had before CPUs; a program with ncpus > 0 is version 2 with
 * bit 6, c = (ncpus - 1) | mode << 3, and t = cpu | irq << 7 | irq_after << 3.
 *
 * Text — what people read, write, diff and commit. One line per directive or
 * operation; '#' starts a comment; blank lines are ignored. Numbers are decimal or
 * 0x-hex. The printer writes the canonical form; the parser accepts it and the
 * variations noted below.
 *
 *   backend NAME[,NAME...]        (optional) the back-end a reproducer was found on, or
 *                                 the back-ends of a differential one (up to 16 names;
 *                                 only a line of at most 31 characters has a binary form)
 *   bug NAME                      (optional) the injected bug (bugs.h) switched on: text
 *                                 only; a binary input gets it from the harness (--ff-bug)
 *   semantics asterinas-2024|hardened
 *   map PRESET | map custom       any preset (only tiny, qemu, pc-1g and pc-4g have a
 *                                 binary form); then, for custom, lines:
 *   region 0xSTART-0xEND TYPE     bytes, END inclusive, KiB-granular; TYPE as e820
 *                                 prints it (usable, reserved, ACPI data, ACPI NVS, unusable)
 *   poison on|off
 *   cpus N                        (optional) N = 1..FF_CPUS_MAX CPUs, each running its
 *                                 operations as a task (cpu.h); without it the program
 *                                 is sequential
 *   schedule direct G:C G:C ...   (optional, needs cpus) the schedule bytes in pairs:
 *                                 after G more preemption points, switch to CPU C
 *                                 (both 0..255, C taken modulo N when run); an odd
 *                                 last byte stands alone as G at the end. An empty
 *                                 direct schedule, the default, is printed as no line
 *   schedule pct [priorities P,P,... [changes G,G,...]]
 *                                 (optional, needs cpus) PCT: the first min(N, length)
 *                                 bytes are the CPUs' priorities, the rest change
 *                                 points; changes need all N priorities, and are left
 *                                 out when there are none (`schedule pct` alone: empty)
 *                                 At most FF_SCHEDULE_MAX bytes either way.
 *   [TAG] KEYWORD OPERANDS...     one operation: FF_OP_LIST gives each one's operands
 *                                 and their syntax; for example
 *                                 alloc COUNT [align A] [zone dma|dma32|normal|invalid],
 *                                 drop hN [+OFFSET COUNT], from_in_use 0xPADDR [COUNT] [refs R].
 *                                 TAG, in a program with a cpus line only: cpuK (CPU K
 *                                 issues it) or irqK (it arrives in interrupt context
 *                                 on CPU K), or irqK+A (... after letting A points
 *                                 with interrupts on pass, at most FF_IRQ_AFTER_MAX),
 *                                 K below N; none means cpu0. The printer
 *                                 writes it on every operation of such a program
 *                                 (`cpu1 alloc 4`, `irq0 drop h1`), and never otherwise.
 * Directives come before the first operation; the printer writes them in the order
 * above. Defaults: semantics hardened, map tiny, poison off, sequential; an operand's
 * default is its kind's (FF_OPERAND_LIST).
 *
 * Handles: hN names the N-th live handle, modulo the number live when the operation
 * runs (the executor resolves it), so mutated programs stay meaningful.
 *
 * Round trips are exact: text -> binary -> text reproduces the canonical text (of a
 * program with a binary form: a fuzz preset, a backend line of 31 characters at most), and
 * canonical binary -> text -> binary reproduces the bytes. Arbitrary fuzzer bytes
 * decode to a program whose canonical encoding decodes to the same program.
 */
#ifndef FF_OPS_H
#define FF_OPS_H

#include <stddef.h>

#include "cpu.h"
#include "meta.h"

#define FF_OPS_VERSION     1   /* a sequential program's binary form */
#define FF_OPS_VERSION_CPUS 2  /* a program with a cpus section (ncpus > 0) */
#define FF_SCHEDULE_MAX    64  /* schedule bytes a program carries */
#define FF_IRQ_AFTER_MAX   15
#define FF_OPS_MAX         4096 /* operations in one program; more are ignored */
#define FF_OPS_MAX_REGIONS 8
#define FF_OPS_NAME_MAX    32  /* a back-end name in the binary form, with its NUL */
#define FF_OPS_BACKEND_MAX 512 /* a text program's backend line (16 names), with its NUL */

/* The operations, each on one line: the only place an operation is defined; the
 * decoder, encoder, printer, parser, mutator and executor are loops over it (the
 * executor calls do_NAME in exec.c). A line's position is its opcode (append only).
 *   X(ID, NAME, KEYWORD, WEIGHT, OPERANDS)
 * NAME names the kind (ff_op_kind_name) and its executor, KEYWORD starts its text
 * line, WEIGHT is how often the mutator draws it relative to the others (allocations
 * most, as they make the handles the others use), OPERANDS (ff_operand_kind, in
 * binary and text order) are written one after another, with no comma:
 *   FF_POS(K)         positional, required
 *   FF_POS_OPT(K)     positional, optional (its default when absent); always printed
 *   FF_KEY(K, "w")    the option `w VALUE`, optional, in any order with the other
 *                     options after the positionals; printed when not its default
 *   FF_KEY_SHOWN(K, "w")  the same, always printed
 * Operations sharing a keyword are told apart by their length: the first with it is
 * the short form, and a later one lists its operands first and more after them (drop
 * and drop_piece: `drop hN` or `drop hN +OFFSET COUNT`). */
#define FF_OP_LIST(X)                                                                       \
    X(ALLOC, alloc, "alloc", 4, FF_POS(COUNT) FF_KEY(ALIGN, "align") FF_KEY(ZONE, "zone"))   \
    X(DROP, drop, "drop", 2, FF_POS(HANDLE))                                                \
    X(DROP_PIECE, drop_piece, "drop", 1, FF_POS(HANDLE) FF_POS(OFFSET) FF_POS(COUNT))       \
    X(FROM_UNUSED, from_unused, "from_unused", 2, FF_POS(PADDR) FF_POS_OPT(COUNT))          \
    X(CLONE, clone, "clone", 1, FF_POS(HANDLE))                                             \
    X(FROM_IN_USE, from_in_use, "from_in_use", 1,                                           \
      FF_POS(PADDR) FF_POS_OPT(COUNT) FF_KEY_SHOWN(REFS, "refs"))                           \
    X(RAW_FREE, raw_free, "raw_free", 1, FF_POS(PADDR) FF_POS_OPT(COUNT))                   \
    X(WRITE, write, "write", 1, FF_POS(PADDR) FF_POS(VALUE))                                \
    X(CHECK, check, "check", 1, )

typedef enum ff_op_kind {
#define X(id, name, keyword, weight, operands) FF_OP_##id,
    FF_OP_LIST(X)
#undef X
    FF_OP_KIND_COUNT
} ff_op_kind;

/* The kinds of operand: each fills one ff_op field, has one default (what an operation
 * not using it, or leaving an optional operand out, holds) and one form per language:
 *   X(ID, FIELD, DEFAULT)  binary / text */
#define FF_OPERAND_LIST(X)                                                                  \
    X(COUNT, count, 1)               /* num / N */                                        \
    X(OFFSET, offset, 0)             /* num / +N */                                       \
    X(ALIGN, align, 1)               /* log / N */                                        \
    X(ZONE, zone, FF_ZONE_NORMAL)    /* a byte & 3 / dma|dma32|normal|invalid */           \
    X(HANDLE, handle, 0)             /* a byte / hN */                                    \
    X(PADDR, paddr, 0)               /* paddr / N (printed 0x-hex) */                     \
    X(VALUE, value, 0)               /* a byte / N, at most 255 (printed 0xNN) */         \
    X(REFS, refs, 1)                 /* num, its low 32 bits / N below 2^32 */

typedef enum ff_operand_kind {
#define X(id, field, fallback) FF_OPND_##id,
    FF_OPERAND_LIST(X)
#undef X
} ff_operand_kind;

typedef enum ff_operand_syntax {
    FF_SYN_POS,       /* positional, required */
    FF_SYN_POS_OPT,   /* positional, optional */
    FF_SYN_KEY,       /* keyword option, printed when not its default */
    FF_SYN_KEY_SHOWN, /* keyword option, always printed */
} ff_operand_syntax;

typedef struct ff_operand {
    ff_operand_kind kind;
    ff_operand_syntax syntax;
    const char *keyword; /* an option's word, else NULL */
} ff_operand;

/* The operand makers of FF_OP_LIST. Whoever expands the list defines X for the
 * operations and FF_OPERAND(SYNTAX, KIND, WORD) for their operands (WORD is NULL but for
 * options); a user of the operations alone leaves FF_OPERAND undefined. */
#define FF_POS(k)             FF_OPERAND(POS, k, NULL)
#define FF_POS_OPT(k)         FF_OPERAND(POS_OPT, k, NULL)
#define FF_KEY(k, word)       FF_OPERAND(KEY, k, word)
#define FF_KEY_SHOWN(k, word) FF_OPERAND(KEY_SHOWN, k, word)

/* One operation kind, as FF_OP_LIST says it. */
typedef struct ff_op_info {
    const char *name;
    const char *keyword;
    unsigned weight;
    const ff_operand *operands;
    size_t noperands;
} ff_op_info;

extern const ff_op_info ff_op_infos[FF_OP_KIND_COUNT];

/* The zone byte's fourth value: a request naming no valid zone. */
#define FF_OPS_ZONE_INVALID ((ff_zone)FF_ZONE_COUNT)

/* One operation: its kind and the fields its operands fill (FF_OPERAND_LIST); the
 * fields it has no operand for hold their defaults. */
typedef struct ff_op {
    ff_op_kind kind;
    uint8_t handle;  /* an index into the live handles */
    ff_zone zone;    /* FF_OPS_ZONE_INVALID allowed */
    uint32_t refs;
    uint8_t value;   /* the byte written */
    uint64_t count;
    uint64_t align;
    uint64_t offset; /* the first frame of a piece within its handle */
    uint64_t paddr;
    uint8_t cpu;     /* the CPU issuing it: below the program's ncpus (0 when ncpus is 0) */
    bool irq;        /* it arrives in interrupt context on that CPU (ncpus > 0 only) */
    uint8_t irq_after; /* an interrupt: the points with interrupts on it lets pass, once
                          raised, before it arrives (0..FF_IRQ_AFTER_MAX) */
} ff_op;

typedef struct ff_program {
    char backend[FF_OPS_BACKEND_MAX]; /* "" when not named; names checked by the runner
                                         (ff_exec_check_backend), not the language */
    size_t backend_line;           /* the text line naming it; 0 in a binary program */
    ff_bug bug;                    /* FF_BUG_NONE unless a bug line names one */
    ff_semantics semantics;
    bool poison;
    const char *preset;            /* a preset's name (ff_presets; only ff_ops_fuzz_presets
                                      have a binary form), or NULL for custom */
    ff_e820_entry regions[FF_OPS_MAX_REGIONS];
    size_t nregions;
    /* Concurrency: ncpus 0 is a sequential program (one CPU, no CPU tags, version 1);
     * 1..FF_CPUS_MAX runs each CPU's operations as its own task, interleaved at
     * preemption points as the schedule says (cpu.h). */
    unsigned ncpus;
    ff_sched_mode sched_mode;
    uint8_t schedule[FF_SCHEDULE_MAX];
    size_t schedule_len;
    ff_op *ops;
    size_t nops, cap;
} ff_program;

/* The presets a binary program can name, by index; stable across versions (append only). */
extern const char *const ff_ops_fuzz_presets[];
extern const size_t ff_ops_fuzz_preset_count;
/* The 24 values num bytes 0xE0-0xF7 stand for; stable across versions. */
extern const uint64_t ff_ops_interesting[24];

const char *ff_op_kind_name(ff_op_kind kind);
/* An operation of the kind with every operand at its default. */
ff_op ff_op_blank(ff_op_kind kind);

/* An empty program with the defaults above. */
void ff_program_init(ff_program *p);
void ff_program_free(ff_program *p);
/* Appends an operation; false when FF_OPS_MAX are there already or memory runs out. */
bool ff_program_add(ff_program *p, const ff_op *op);

/* Decode and parse initialise p themselves: free a program that holds operations
 * before reusing it for them. After a failure p holds nothing. */

/* Decodes any bytes; never fails except on host memory (false). An empty input, or
 * one whose version byte is neither 1 nor 2, decodes as version 1 (so fuzzers need not
 * discover the version byte) — the version byte is still consumed. */
bool ff_program_decode(ff_program *p, const uint8_t *data, size_t size);
/* ff_program_decode into a program decoded (or initialised) before, keeping its
 * operation array: a harness decodes every input into one program, with no allocation
 * once the array is large enough. Free it with ff_program_free when done. */
bool ff_program_decode_again(ff_program *p, const uint8_t *data, size_t size);
/* The canonical binary form into a malloc'd buffer; false on host memory. A backend
 * line longer than a binary name (FF_OPS_NAME_MAX - 1) is left out. */
bool ff_program_encode(const ff_program *p, uint8_t **data, size_t *size);
/* The same into buf, which holds at least ff_program_encoded_max(p) bytes; returns the
 * size written. For callers that encode often into one buffer (a mutator). */
size_t ff_program_encoded_max(const ff_program *p);
size_t ff_program_encode_into(const ff_program *p, uint8_t *buf);

/* Parses text. On error returns false with "line N: what is wrong" in err. */
bool ff_program_parse(ff_program *p, const char *text, char *err, size_t errlen);
/* The canonical text form. */
void ff_program_print(const ff_program *p, FILE *out);
/* One operation in canonical text form (no newline) into buf, without a CPU tag. */
void ff_op_format(const ff_op *op, char *buf, size_t len);
/* The same as a line of p prints it: with its tag (cpuK, irqK) when p->ncpus > 0. */
void ff_op_format_in(const ff_program *p, const ff_op *op, char *buf, size_t len);

/* Reads a program file: text when ff_program_is_text says so (unless binary is
 * set), else binary. On failure returns false with a one-line reason (naming the
 * file, and for text the line) in err. */
bool ff_program_load(ff_program *p, const char *path, bool binary, char *err, size_t errlen);

/* True when data looks like text (what `framefuzz repro` uses to pick a parser): it
 * is non-empty and every byte is printable ASCII, tab, CR or LF. */
bool ff_program_is_text(const uint8_t *data, size_t size);

#endif
