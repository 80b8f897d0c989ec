/*
 * mutator.c — the structure-aware mutator (see mutator.h).
 *
 * One call: decode the input (every byte string is a program), apply one to four
 * mutations drawn from a splitmix64 stream seeded by the engine's seed, encode, and
 * shrink until the encoding fits. Nothing survives a call, so the same seed and input
 * always give the same output.
 *
 * Mutations and their rough weights (out of 20):
 *   insert 4     a fresh operation of any kind at any position
 *   delete 4     one operation, now and then a run of up to 8
 *   swap 2       two operations trade places
 *   duplicate 2  a copy next to the original (builds runs like #1760's ten allocs)
 *                or anywhere
 *   tweak 4      one operand nudged (+-1, *2, /2, frame +-1, misalignment toggled) or
 *                redrawn, or the kind changed while the operands stay
 *   replace 2    an operation redrawn from scratch
 *   config 2     semantics, poison, preset, or (one in eight) the custom map's regions
 * The back-end name is never mutated: it says which allocator a reproducer was for.
 *
 * Concurrency (ops.h's cpus section) takes one round in four of a program with CPUs:
 *   retag 4      an operation moves to another CPU
 *   irq 1        an operation enters or leaves interrupt context, or an interrupt
 *                arrives at another point
 *   cpus 2       the CPU count changes (mostly by one), operations retagged modulo it
 *   schedule 3   a schedule entry (direct: gap and CPU) or byte (PCT) inserted,
 *                deleted or changed; one edit in eight switches the mode
 *   sequential 1 the program drops its CPUs: its operations in order on one
 * and one round in 32 of a sequential program makes it concurrent: two CPUs, the
 * operations alternating between them or spread at random, an empty or short direct
 * schedule. Most seeds are sequential, and this is how fuzzers reach interleavings
 * from them. Fresh operations of a concurrent program go to any of its CPUs.
 *
 * Why concurrent programs go sequential too: an input that reached new code in the
 * back-end while on CPUs stays in the corpus on CPUs, though its coverage needed none,
 * and so do its mutants; a concurrent run costs more than the same operations in
 * order (a sixth more over a grown buddy corpus), and after 10 s from the seeds half
 * of a corpus was concurrent. The sequential mutant is smaller, so when it keeps every
 * feature its parent was kept for, libFuzzer replaces the parent with it
 * (-reduce_inputs): programs stay concurrent where their coverage needs it.
 *
 * Operands are drawn towards the values allocators get wrong, since the executor's
 * state is unknown here: counts of 1 and other small counts, powers of two and their
 * neighbours, ff_ops_interesting; frames of the tiny preset (0-47), around the zone
 * boundaries (pfn 0x1000 and 0x100000), at the edges of a custom map's regions, at
 * powers of two; now and then a misaligned address; refcounts at 0, 1 and the
 * FF_REF_MAX overflow edge.
 *
 * Program length: libFuzzer switches its own length control off when a custom mutator
 * is present, and with nothing holding it back a corpus drifts towards the largest
 * programs max_len allows (a buddy corpus averaged 500 bytes after 10 s, a tenth of it
 * at 4 KiB), while each execution costs in proportion to its operations. Longer
 * programs reached no more code: over 10 s from the seeds, buddy's coverage was the
 * same (353-354 edges) with programs capped at 32, 64, 128 or 4096 operations, and
 * every injected bug was found as fast at 64 as without a cap. So growth (insert,
 * duplicate) turns into deletion with a probability that rises from 0 at
 * OPS_TYPICAL operations to 1 at FF_MUTATE_OPS_MAX, and no output has more than
 * FF_MUTATE_OPS_MAX (a longer input keeps its first ones).
 *
 * Fitting the output: the encoding is a header followed by the operations, each
 * encoded on its own, so the longest fitting prefix of operations is found by a
 * binary search over the operation count. This path only runs when the output would
 * exceed max_size, so the handful of extra encodings does not matter.
 */
#include "mutator.h"

#include <stdlib.h>
#include <string.h>

#include "ops.h"

#define FALLBACK_ONE_IN 8 /* how often the engine's byte mutator gets the input */
#define MAX_ROUNDS      4 /* mutations in one call, at most */
#define DELETE_RUN_MAX  8
#define OPS_TYPICAL     (FF_MUTATE_OPS_MAX / 2) /* growth starts turning into deletion */
#define TINY_FRAMES     48 /* the tiny preset's RAM lies in frames 0-42 */
#define FRAME_LOW_MASK  (FF_FRAME_SIZE - 1)
#define KIB             1024
#define REGION_KIB_MAX  0xFFFF /* a region's start and size are u16 KiB in binary */
#define CONCURRENCY_ONE_IN   4  /* rounds of a concurrent program mutating its CPUs */
#define GO_CONCURRENT_ONE_IN 32 /* rounds making a sequential program concurrent */
#define GAP_SMALL            8  /* schedule gaps mostly below this: switches come soon */
#define N_INTERESTING   COUNT_OF(ff_ops_interesting)

#define COUNT_OF(table) (sizeof(table) / sizeof((table)[0]))

/* ---------------------------------------------------------------- randomness */

/* splitmix64: each output is a full hash of the state, so the neighbouring seeds an
 * engine passes still give unrelated streams. */
typedef struct rng {
    uint64_t state;
} rng;

static inline uint64_t rng_next(rng *r)
{
    uint64_t z = (r->state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* [0, n) for n > 0; the modulo bias is far below what matters here. */
static inline uint64_t rng_below(rng *r, uint64_t n) { return rng_next(r) % n; }

static inline bool one_in(rng *r, uint64_t n) { return rng_below(r, n) == 0; }

static inline size_t random_index(rng *r, size_t n) { return (size_t)rng_below(r, n); }

/* 2^k - 1, 2^k or 2^k + 1 for k in [0, max_log]. */
static inline uint64_t pow2_neighbour(rng *r, unsigned max_log)
{
    uint64_t pow = UINT64_C(1) << rng_below(r, max_log + 1);
    return pow + rng_below(r, 3) - 1;
}

static inline uint64_t interesting(rng *r) { return ff_ops_interesting[rng_below(r, N_INTERESTING)]; }

/* ---------------------------------------------------------------- operands */

static uint64_t gen_count(rng *r)
{
    switch (rng_below(r, 8)) {
    case 0:
    case 1:
    case 2: return 1;
    case 3: return rng_below(r, 9);
    case 4: return pow2_neighbour(r, 20);
    case 5: return interesting(r);
    case 6: return UINT64_C(1) << rng_below(r, 11);
    default: return rng_next(r) >> rng_below(r, 64); /* any magnitude */
    }
}

/* Mostly powers of two; 0 and non-powers of two come from the neighbours. */
static uint64_t gen_align(rng *r)
{
    switch (rng_below(r, 8)) {
    case 0:
    case 1:
    case 2: return 1;
    case 3:
    case 4: return UINT64_C(1) << rng_below(r, 11);
    case 5: return UINT64_C(1) << rng_below(r, 64);
    case 6: return pow2_neighbour(r, 12);
    default: return interesting(r);
    }
}

static ff_zone gen_zone(rng *r)
{
    static const ff_zone zones[] = {FF_ZONE_NORMAL, FF_ZONE_NORMAL, FF_ZONE_NORMAL, FF_ZONE_DMA,
                                    FF_ZONE_DMA,    FF_ZONE_DMA32,  FF_ZONE_DMA32,  FF_OPS_ZONE_INVALID};
    return zones[rng_below(r, COUNT_OF(zones))];
}

/* Handles resolve modulo the live count, so small indices are the meaningful ones. */
static uint8_t gen_handle(rng *r) { return (uint8_t)(one_in(r, 4) ? rng_below(r, 256) : rng_below(r, 4)); }

static uint32_t gen_refs(rng *r)
{
    static const uint32_t edges[] = {0, 1, 1, 2, FF_REF_MAX - 1, FF_REF_MAX, FF_REF_MAX + 1, UINT32_MAX};
    return one_in(r, 8) ? (uint32_t)rng_next(r) : edges[rng_below(r, COUNT_OF(edges))];
}

static uint8_t gen_value(rng *r)
{
    static const uint8_t values[] = {0x00, 0xff, 0xaa, 0x55};
    return one_in(r, 2) ? values[rng_below(r, COUNT_OF(values))] : (uint8_t)rng_next(r);
}

/* A frame at the first or last-plus-one frame of a custom region, give or take one. */
static uint64_t region_edge_frame(rng *r, const ff_program *p)
{
    const ff_e820_entry *e = &p->regions[rng_below(r, p->nregions)];
    uint64_t edge = one_in(r, 2) ? e->start : e->start + e->size;
    return (edge >> FF_FRAME_SHIFT) + rng_below(r, 3) - 1;
}

static uint64_t gen_frame(rng *r, const ff_program *p)
{
    switch (rng_below(r, 8)) {
    case 0:
    case 1:
    case 2: return rng_below(r, TINY_FRAMES);
    case 3: {
        uint64_t edge = one_in(r, 2) ? FF_ZONE_DMA_END_PFN : FF_ZONE_DMA32_END_PFN;
        return edge + rng_below(r, 17) - 8;
    }
    case 4:
        if (!p->preset && p->nregions) return region_edge_frame(r, p);
        return rng_below(r, TINY_FRAMES);
    case 5: return pow2_neighbour(r, 40);
    case 6: return interesting(r);
    default: return rng_below(r, 0x2000);
    }
}

/* A non-zero offset within a frame. */
static uint64_t gen_misalignment(rng *r)
{
    static const uint64_t offsets[] = {1, 8, FF_FRAME_SIZE / 2, FRAME_LOW_MASK};
    return one_in(r, 2) ? offsets[rng_below(r, COUNT_OF(offsets))] : 1 + rng_below(r, FRAME_LOW_MASK);
}

static uint64_t gen_paddr(rng *r, const ff_program *p)
{
    uint64_t paddr = gen_frame(r, p) << FF_FRAME_SHIFT;
    return one_in(r, 16) ? paddr | gen_misalignment(r) : paddr;
}

/* Each kind as often as its weight in FF_OP_LIST says. */
static ff_op_kind gen_kind(rng *r)
{
    enum {
#define X(id, name, keyword, weight, operands) +(weight)
        TOTAL_WEIGHT = 0 FF_OP_LIST(X)
#undef X
    };
    uint64_t roll = rng_below(r, TOTAL_WEIGHT);
    int k = 0;
    while (roll >= ff_op_infos[k].weight) roll -= ff_op_infos[k++].weight;
    return (ff_op_kind)k;
}

static void gen_operand(rng *r, ff_op *op, ff_operand_kind kind, const ff_program *p)
{
    switch (kind) {
    case FF_OPND_COUNT: op->count = gen_count(r); break;
    case FF_OPND_OFFSET: /* mostly within the small handles programs hold */
        op->offset = one_in(r, 2) ? rng_below(r, 4) : gen_count(r);
        break;
    case FF_OPND_ALIGN: op->align = gen_align(r); break;
    case FF_OPND_ZONE: op->zone = gen_zone(r); break;
    case FF_OPND_HANDLE: op->handle = gen_handle(r); break;
    case FF_OPND_PADDR: op->paddr = gen_paddr(r, p); break;
    case FF_OPND_VALUE: op->value = gen_value(r); break;
    case FF_OPND_REFS: op->refs = gen_refs(r); break;
    }
}

/* Operands a kind does not use keep their defaults, so they read as they would decode. */
static ff_op gen_op(rng *r, const ff_program *p)
{
    ff_op op = ff_op_blank(gen_kind(r));
    const ff_op_info *info = &ff_op_infos[op.kind];
    for (size_t i = 0; i < info->noperands; i++) gen_operand(r, &op, info->operands[i].kind, p);
    if (p->ncpus) op.cpu = (uint8_t)rng_below(r, p->ncpus);
    return op;
}

/* ---------------------------------------------------------------- operand tweaks */

/* Unsigned arithmetic wraps on purpose: 0 - 1 and 2^63 * 2 are good test values. */
static uint64_t tweak_num(rng *r, uint64_t v)
{
    switch (rng_below(r, 6)) {
    case 0: return v + 1;
    case 1: return v - 1;
    case 2: return v * 2;
    case 3: return v / 2;
    case 4: return interesting(r);
    default: return gen_count(r);
    }
}

static uint64_t tweak_align(rng *r, uint64_t align)
{
    switch (rng_below(r, 3)) {
    case 0: return align * 2;
    case 1: return align / 2;
    default: return gen_align(r);
    }
}

static uint64_t tweak_paddr(rng *r, uint64_t paddr, const ff_program *p)
{
    switch (rng_below(r, 4)) {
    case 0: return paddr + FF_FRAME_SIZE;
    case 1: return paddr - FF_FRAME_SIZE;
    case 2: /* misaligned <-> aligned */
        return (paddr & FRAME_LOW_MASK) ? paddr & ~FRAME_LOW_MASK : paddr | gen_misalignment(r);
    default: return gen_paddr(r, p);
    }
}

static uint32_t tweak_refs(rng *r, uint32_t refs)
{
    switch (rng_below(r, 4)) {
    case 0: return refs + 1;
    case 1: return refs - 1;
    case 2: return FF_REF_MAX;
    default: return gen_refs(r);
    }
}

static void tweak_operand(rng *r, ff_op *op, ff_operand_kind kind, const ff_program *p)
{
    switch (kind) {
    case FF_OPND_COUNT: op->count = tweak_num(r, op->count); break;
    case FF_OPND_OFFSET: op->offset = tweak_num(r, op->offset); break;
    case FF_OPND_ALIGN: op->align = tweak_align(r, op->align); break;
    case FF_OPND_ZONE: /* always a different one of the four zone bytes */
        op->zone = (ff_zone)(((unsigned)op->zone + 1 + rng_below(r, FF_ZONE_COUNT)) % (FF_ZONE_COUNT + 1));
        break;
    case FF_OPND_HANDLE:
        op->handle = one_in(r, 2) ? (uint8_t)(op->handle + (one_in(r, 2) ? 1 : -1)) : gen_handle(r);
        break;
    case FF_OPND_PADDR: op->paddr = tweak_paddr(r, op->paddr, p); break;
    case FF_OPND_VALUE: op->value ^= (uint8_t)(1u << rng_below(r, 8)); break;
    case FF_OPND_REFS: op->refs = tweak_refs(r, op->refs); break;
    }
}

/* One operand changed, or (1 in 8, and always for check) the kind: operands shared by
 * both kinds stay, e.g. from_unused 0x1000 becomes raw_free 0x1000. */
static void tweak_op(rng *r, ff_op *op, const ff_program *p)
{
    const ff_op_info *info = &ff_op_infos[op->kind];
    if (info->noperands == 0 || one_in(r, 8)) {
        op->kind = (ff_op_kind)(((unsigned)op->kind + 1 + rng_below(r, FF_OP_KIND_COUNT - 1)) %
                                FF_OP_KIND_COUNT);
        return;
    }
    tweak_operand(r, op, info->operands[random_index(r, info->noperands)].kind, p);
}

/* ---------------------------------------------------------------- configuration */

/* A start in KiB: 0, the legacy 640 KiB hole, 1 MiB, 16 MiB, or anywhere (frame-aligned
 * or not). */
static uint64_t gen_region_start_kib(rng *r)
{
    static const uint64_t starts[] = {0, 640, 1024, 16 * 1024};
    switch (rng_below(r, 3)) {
    case 0: return starts[rng_below(r, COUNT_OF(starts))];
    case 1: return 4 * rng_below(r, (REGION_KIB_MAX + 1) / 4);
    default: return rng_below(r, REGION_KIB_MAX + 1);
    }
}

/* A size in KiB: a few frames, a sub-frame sliver, empty, the maximum, or any. */
static uint64_t gen_region_size_kib(rng *r)
{
    switch (rng_below(r, 6)) {
    case 0:
    case 1: return 4 * (1 + rng_below(r, 64));
    case 2: return 1 + rng_below(r, 7);
    case 3: return one_in(r, 2) ? 0 : REGION_KIB_MAX;
    case 4: return 4 * rng_below(r, (REGION_KIB_MAX + 1) / 4);
    default: return rng_below(r, REGION_KIB_MAX + 1);
    }
}

static ff_mem_type gen_region_type(rng *r)
{
    if (!one_in(r, 4)) return FF_MEM_USABLE;
    return (ff_mem_type)(FF_MEM_RESERVED + rng_below(r, FF_MEM_UNUSABLE - FF_MEM_RESERVED + 1));
}

static ff_e820_entry gen_region(rng *r)
{
    return (ff_e820_entry){gen_region_start_kib(r) * KIB, gen_region_size_kib(r) * KIB, gen_region_type(r)};
}

/* Moves a KiB quantity by a frame or by a single KiB, or redraws it; stays a u16. */
static uint64_t tweak_kib(rng *r, uint64_t bytes, uint64_t fresh_kib)
{
    static const uint64_t deltas[] = {4, (uint64_t)-4, 1, (uint64_t)-1};
    uint64_t kib = one_in(r, 3) ? fresh_kib : bytes / KIB + deltas[rng_below(r, COUNT_OF(deltas))];
    return (kib & REGION_KIB_MAX) * KIB;
}

static void mutate_regions(rng *r, ff_program *p)
{
    if (p->preset || p->nregions == 0) { /* a preset becomes a fresh custom map */
        p->preset = NULL;
        p->nregions = 1 + rng_below(r, 3);
        for (size_t i = 0; i < p->nregions; i++) p->regions[i] = gen_region(r);
        return;
    }
    ff_e820_entry *e = &p->regions[rng_below(r, p->nregions)];
    switch (rng_below(r, 5)) {
    case 0: e->start = tweak_kib(r, e->start, gen_region_start_kib(r)); break;
    case 1: e->size = tweak_kib(r, e->size, gen_region_size_kib(r)); break;
    case 2: e->type = gen_region_type(r); break;
    case 3:
        if (p->nregions < FF_OPS_MAX_REGIONS) p->regions[p->nregions++] = gen_region(r);
        break;
    default:
        if (p->nregions > 1) *e = p->regions[--p->nregions];
        break;
    }
}

/* A preset index other than current's (any, when the map is custom). */
static size_t other_preset(rng *r, const char *current)
{
    size_t n = ff_ops_fuzz_preset_count;
    for (size_t i = 0; current && i < n; i++)
        if (strcmp(ff_ops_fuzz_presets[i], current) == 0)
            return n > 1 ? (i + 1 + random_index(r, n - 1)) % n : i;
    return random_index(r, n);
}

/* A map never seen before costs the executor a whole new machine (the space, the
 * layer, the oracle, the back-end and its baseline), about ten ordinary runs: region
 * changes get one config mutation in eight, the cached presets three. */
static void mutate_config(rng *r, ff_program *p)
{
    switch (rng_below(r, 8)) {
    case 0:
    case 1:
        p->semantics = p->semantics == FF_SEM_HARDENED ? FF_SEM_ASTERINAS_2024 : FF_SEM_HARDENED;
        break;
    case 2:
    case 3: p->poison = !p->poison; break;
    case 4:
    case 5:
    case 6: p->preset = ff_ops_fuzz_presets[other_preset(r, p->preset)]; break;
    default: mutate_regions(r, p); break;
    }
}

/* ---------------------------------------------------------------- concurrency */

/* Preemption points to pass before a switch: mostly few, so switches land inside the
 * first operations' critical sections. */
static uint8_t gen_gap(rng *r) { return (uint8_t)(one_in(r, 4) ? rng_next(r) : rng_below(r, GAP_SMALL)); }

/* A byte for position i of p's schedule, as its mode reads that position (cpu.h). */
static uint8_t gen_schedule_byte(rng *r, const ff_program *p, size_t i)
{
    if (p->sched_mode == FF_SCHED_PCT) return i < p->ncpus ? (uint8_t)rng_next(r) : gen_gap(r);
    return i % 2 ? (uint8_t)rng_below(r, p->ncpus) : gen_gap(r);
}

/* A direct schedule is edited an entry (gap, CPU) at a time, so the entries after the
 * edit keep their meaning; a PCT one a byte at a time. */
static void mutate_schedule(rng *r, ff_program *p)
{
    uint8_t *s = p->schedule;
    size_t len = p->schedule_len, unit = p->sched_mode == FF_SCHED_DIRECT ? 2 : 1;
    if (one_in(r, 8)) {
        p->sched_mode = p->sched_mode == FF_SCHED_DIRECT ? FF_SCHED_PCT : FF_SCHED_DIRECT;
        return;
    }
    uint64_t roll = len == 0 ? 0 : rng_below(r, 3);
    if (roll == 0 && len + unit > FF_SCHEDULE_MAX) roll = 2;
    if (roll == 0) { /* insert */
        size_t at = unit * random_index(r, len / unit + 1);
        memmove(s + at + unit, s + at, len - at);
        for (size_t i = at; i < at + unit; i++) s[i] = gen_schedule_byte(r, p, i);
        p->schedule_len += unit;
    } else if (roll == 1) { /* delete; a direct schedule's odd last byte is an entry too */
        size_t at = unit * random_index(r, (len + unit - 1) / unit);
        size_t n = len - at < unit ? len - at : unit;
        memmove(s + at, s + at + n, len - at - n);
        p->schedule_len -= n;
    } else { /* change */
        size_t i = random_index(r, len);
        s[i] = one_in(r, 2) ? gen_schedule_byte(r, p, i) : (uint8_t)(s[i] + (one_in(r, 2) ? 1 : -1));
    }
}

/* Mostly one more or one fewer, now and then any other count of 1..FF_CPUS_MAX. */
static void mutate_ncpus(rng *r, ff_program *p)
{
    unsigned n = p->ncpus;
    if (one_in(r, 4) || n == 1 || n == FF_CPUS_MAX)
        n = 1 + (unsigned)((n + rng_below(r, FF_CPUS_MAX - 1)) % FF_CPUS_MAX); /* any but n */
    else
        n = one_in(r, 2) ? n + 1 : n - 1;
    p->ncpus = n;
    for (size_t i = 0; i < p->nops; i++) p->ops[i].cpu = (uint8_t)(p->ops[i].cpu % n);
}

/* Two CPUs, the operations alternating between them or spread at random, and an
 * empty or short direct schedule. */
static void go_concurrent(rng *r, ff_program *p)
{
    bool alternate = one_in(r, 2);
    p->ncpus = 2;
    p->sched_mode = FF_SCHED_DIRECT;
    for (size_t i = 0; i < p->nops; i++)
        p->ops[i].cpu = (uint8_t)(alternate ? i % 2 : rng_below(r, 2));
    p->schedule_len = one_in(r, 2) ? 0 : 2 * (1 + random_index(r, 2));
    for (size_t i = 0; i < p->schedule_len; i++) p->schedule[i] = gen_schedule_byte(r, p, i);
}

/* Its operations in order on one CPU: no tags, no schedule (ops.h's version 1). */
static void go_sequential(ff_program *p)
{
    p->ncpus = 0;
    p->sched_mode = FF_SCHED_DIRECT;
    p->schedule_len = 0;
    for (size_t i = 0; i < p->nops; i++) {
        p->ops[i].cpu = 0;
        p->ops[i].irq = false;
        p->ops[i].irq_after = 0;
    }
}

/* One concurrency mutation of a program with CPUs (weights above). Retagging needs
 * two CPUs and an operation, the irq flip an operation; without them the schedule
 * changes instead. */
static void mutate_concurrency(rng *r, ff_program *p)
{
    uint64_t roll = rng_below(r, 11);
    if (roll == 10) {
        go_sequential(p);
        return;
    }
    if ((roll < 4 && (p->ncpus < 2 || p->nops == 0)) || (roll == 4 && p->nops == 0)) roll = 9;
    if (roll < 4) {
        ff_op *op = &p->ops[random_index(r, p->nops)];
        op->cpu = (uint8_t)((op->cpu + 1 + rng_below(r, p->ncpus - 1)) % p->ncpus);
    } else if (roll == 4) {
        /* In or out of interrupt context, or an interrupt arriving at another point. */
        ff_op *op = &p->ops[random_index(r, p->nops)];
        if (op->irq && one_in(r, 2))
            op->irq_after = (uint8_t)rng_below(r, FF_IRQ_AFTER_MAX + 1);
        else
            op->irq = !op->irq;
        if (!op->irq) op->irq_after = 0;
    } else if (roll < 7) {
        mutate_ncpus(r, p);
    } else {
        mutate_schedule(r, p);
    }
}

/* ---------------------------------------------------------------- the sequence */

/* False when the program is full (FF_OPS_MAX) or the host is out of memory. */
static bool insert_at(ff_program *p, size_t pos, ff_op op)
{
    if (!ff_program_add(p, &op)) return false;
    memmove(&p->ops[pos + 1], &p->ops[pos], (p->nops - 1 - pos) * sizeof *p->ops);
    p->ops[pos] = op;
    return true;
}

static void delete_run(ff_program *p, size_t pos, size_t n)
{
    memmove(&p->ops[pos], &p->ops[pos + n], (p->nops - pos - n) * sizeof *p->ops);
    p->nops -= n;
}

static void mutate_delete(rng *r, ff_program *p)
{
    size_t pos = random_index(r, p->nops);
    size_t n = one_in(r, 4) ? 1 + random_index(r, DELETE_RUN_MAX) : 1;
    if (n > p->nops - pos) n = p->nops - pos;
    delete_run(p, pos, n);
}

static void mutate_swap(rng *r, ff_program *p)
{
    size_t i = random_index(r, p->nops);
    size_t j = (i + 1 + random_index(r, p->nops - 1)) % p->nops; /* j != i */
    ff_op t = p->ops[i];
    p->ops[i] = p->ops[j];
    p->ops[j] = t;
}

static void mutate_duplicate(rng *r, ff_program *p)
{
    size_t i = random_index(r, p->nops);
    size_t at = one_in(r, 2) ? i + 1 : random_index(r, p->nops + 1);
    (void)insert_at(p, at, p->ops[i]);
}

/* Whether a growth of a program of nops operations is turned into a deletion: never
 * below OPS_TYPICAL, always from FF_MUTATE_OPS_MAX - 1 on, linearly in between. */
static bool growth_refused(rng *r, size_t nops)
{
    return nops >= OPS_TYPICAL &&
           rng_below(r, FF_MUTATE_OPS_MAX - OPS_TYPICAL) <= nops - OPS_TYPICAL;
}

/* One mutation. A program without operations can only grow or change its config; one
 * with a single operation cannot swap, so it grows instead; a long one grows less. */
static void mutate_once(rng *r, ff_program *p)
{
    if (one_in(r, p->ncpus ? CONCURRENCY_ONE_IN : GO_CONCURRENT_ONE_IN)) {
        if (p->ncpus)
            mutate_concurrency(r, p);
        else
            go_concurrent(r, p);
        return;
    }
    uint64_t roll = rng_below(r, 20);
    if ((p->nops == 0 && roll < 18) || (p->nops == 1 && roll >= 8 && roll < 10)) roll = 0;
    bool grows = roll < 4 || (roll >= 10 && roll < 12);
    if (grows && growth_refused(r, p->nops)) roll = 4; /* a deletion */
    if (roll < 4)
        (void)insert_at(p, random_index(r, p->nops + 1), gen_op(r, p));
    else if (roll < 8)
        mutate_delete(r, p);
    else if (roll < 10)
        mutate_swap(r, p);
    else if (roll < 12)
        mutate_duplicate(r, p);
    else if (roll < 16)
        tweak_op(r, &p->ops[random_index(r, p->nops)], p);
    else if (roll < 18)
        p->ops[random_index(r, p->nops)] = gen_op(r, p);
    else
        mutate_config(r, p);
}

/* ---------------------------------------------------------------- scratch */

/* The programs and the encoding buffer a mutation works in, kept from call to call: an
 * engine mutates once per execution, and allocating them afresh each time cost more
 * than the mutation itself (under ASan most of all). Engines mutate from one thread. */
static ff_program scratch_a, scratch_b;
static uint8_t *scratch_bin;
static size_t scratch_bin_cap;

/* p's encoding, in the scratch buffer until the next call; NULL when the host is out
 * of memory. */
static const uint8_t *encode_scratch(const ff_program *p, size_t *size)
{
    size_t need = ff_program_encoded_max(p);
    if (need > scratch_bin_cap) {
        uint8_t *bin = realloc(scratch_bin, need);
        if (!bin) return NULL;
        scratch_bin = bin;
        scratch_bin_cap = need;
    }
    *size = ff_program_encode_into(p, scratch_bin);
    return scratch_bin;
}

/* ---------------------------------------------------------------- fitting the output */

/* Bytes in the encoding of p's first nops operations; SIZE_MAX when the host is out of
 * memory, which then counts as "does not fit". */
static size_t encoded_size(ff_program *p, size_t nops)
{
    size_t all = p->nops, size;
    p->nops = nops;
    if (!encode_scratch(p, &size)) size = SIZE_MAX;
    p->nops = all;
    return size;
}

/* Shrinks p, whose encoding exceeds max bytes, until it fits when it can (max >= 2):
 * the header only when it alone is too big (the schedule's tail, extra regions, the
 * custom map, the cpus section with the tags, the back-end name), then trailing
 * operations. */
static void fit(ff_program *p, size_t max)
{
    size_t header = encoded_size(p, 0), over = header > max ? header - max : 0;
    p->schedule_len -= over < p->schedule_len ? over : p->schedule_len;
    if (!p->preset && p->nregions > 1 && encoded_size(p, 0) > max) p->nregions = 1;
    if (!p->preset && encoded_size(p, 0) > max) {
        p->preset = ff_ops_fuzz_presets[0];
        p->nregions = 0;
    }
    if (p->ncpus && encoded_size(p, 0) > max) p->ncpus = 0;
    if (p->backend[0] && encoded_size(p, 0) > max) p->backend[0] = '\0';
    /* The largest operation count that fits: lo fits (or is 0), hi + 1 does not. */
    size_t lo = 0, hi = p->nops;
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        if (encoded_size(p, mid) <= max)
            lo = mid;
        else
            hi = mid - 1;
    }
    p->nops = lo;
}

/* Writes p, its first FF_MUTATE_OPS_MAX operations shrunk to fit, into out; false when
 * the host is out of memory. Below the 2-byte shortest header only a prefix of it fits
 * (it still decodes, not canonically). */
static bool emit(ff_program *p, uint8_t *out, size_t max, size_t *written)
{
    if (p->nops > FF_MUTATE_OPS_MAX) p->nops = FF_MUTATE_OPS_MAX;
    size_t size;
    const uint8_t *bin = encode_scratch(p, &size);
    if (!bin) return false;
    if (size > max) { /* the rare path: encode again after shrinking */
        fit(p, max);
        if (!(bin = encode_scratch(p, &size))) return false;
        if (size > max) size = max;
    }
    if (size) memcpy(out, bin, size);
    *written = size;
    return true;
}

/* ---------------------------------------------------------------- the interface */

size_t ff_mutate(uint8_t *data, size_t size, size_t max_size, unsigned int seed,
                 ff_byte_mutator fallback)
{
    rng r = {seed};
    if (size > max_size) size = max_size; /* never read past the capacity */
    if (fallback && one_in(&r, FALLBACK_ONE_IN)) {
        size_t n = fallback(data, size, max_size);
        return n <= max_size ? n : max_size;
    }
    ff_program *p = &scratch_a;
    if (!ff_program_decode_again(p, data, size)) return size;
    unsigned rounds = 1;
    while (rounds < MAX_ROUNDS && one_in(&r, 2)) rounds++;
    for (unsigned i = 0; i < rounds; i++) mutate_once(&r, p);
    size_t written = size; /* out of host memory: the input stays as it was */
    (void)emit(p, data, max_size, &written);
    return written;
}

size_t ff_crossover(const uint8_t *a, size_t asize, const uint8_t *b, size_t bsize, uint8_t *out,
                    size_t max_out_size, unsigned int seed)
{
    rng r = {seed};
    ff_program *pa = &scratch_a, *pb = &scratch_b;
    size_t written = 0;
    if (!ff_program_decode_again(pa, a, asize) || !ff_program_decode_again(pb, b, bsize))
        return 0;
    /* A non-empty prefix of a and a non-empty suffix of b, so the child mixes both;
     * the suffix is cut short where the child reaches FF_MUTATE_OPS_MAX. */
    size_t prefix_max = pa->nops < FF_MUTATE_OPS_MAX ? pa->nops : FF_MUTATE_OPS_MAX - 1;
    pa->nops = prefix_max ? 1 + random_index(&r, prefix_max) : 0;
    size_t from = pb->nops ? random_index(&r, pb->nops) : 0;
    for (size_t i = from; i < pb->nops && pa->nops < FF_MUTATE_OPS_MAX; i++) {
        /* On a's CPUs: retagged modulo their count (a sequential program has no tags). */
        ff_op op = pb->ops[i];
        if (pa->ncpus) op.cpu = (uint8_t)(op.cpu % pa->ncpus);
        if (!ff_program_add(pa, &op)) break; /* out of host memory */
    }
    (void)emit(pa, out, max_out_size, &written);
    return written;
}
