/*
 * test_mutator.c — the structure-aware mutator (fuzz/mutator.h) and the dictionary
 * (fuzz/ops.dict).
 *
 * Mutator: outputs are deterministic per seed, canonical (decode -> encode gives the
 * same bytes), never larger than max_size (buffers are exactly max_size bytes, so ASan
 * sees any write past it); over many seeds every mutation shows up (programs grow and
 * shrink, new kinds and operand values appear, the configuration changes, the back-end
 * name stays); the fallback gets about one call in eight and its size is returned;
 * crossover children are a prefix of one parent followed by a suffix of the other.
 * Programs with CPUs: outputs stay canonical with every tag below the CPU count; the
 * concurrency mutations (retag, irq, CPU count, schedule, mode) all happen, and
 * sequential programs sometimes become concurrent; an output too big for its buffer
 * loses its schedule's tail, then its cpus section, before the back-end name;
 * crossover retags the second parent's operations onto the first's CPUs.
 * Dictionary: every entry decodes to what its name says.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutator.h"
#include "ops.h"
#include "unit.h"

/* Relative to the checkout, where the unit tests run. */
#ifndef FF_OPS_DICT
#define FF_OPS_DICT "fuzz/ops.dict"
#endif

#define SEEDS    2000
#define BIG      4096
#define COUNT_OF(table) (sizeof(table) / sizeof((table)[0]))

/* ---------------------------------------------------------------- helpers */

typedef struct bytes {
    uint8_t *data;
    size_t size;
} bytes;

static bytes encode(const ff_program *p)
{
    bytes b = {0};
    CHECK(ff_program_encode(p, &b.data, &b.size));
    return b;
}

static ff_program parse(const char *text)
{
    ff_program p;
    char err[160] = "";
    if (!ff_program_parse(&p, text, err, sizeof err)) ff_test_fail(__FILE__, __LINE__, "%s", err);
    return p;
}

/* The canonical bytes of a program given as text. */
static bytes encode_text(const char *text)
{
    ff_program p = parse(text);
    bytes b = encode(&p);
    ff_program_free(&p);
    return b;
}

/* Decodes data into p and checks that re-encoding reproduces data exactly. */
static void decode_canonical(ff_program *p, const uint8_t *data, size_t size)
{
    CHECK(ff_program_decode(p, data, size));
    bytes again = encode(p);
    CHECK_EQ(again.size, size);
    CHECK(size == 0 || memcmp(again.data, data, size) == 0);
    free(again.data);
}

/* One mutation of `in` with `seed` into buf (BIG bytes), decoded into p (canonical);
 * returns the size written. */
static size_t mutate_decoded(const bytes *in, unsigned seed, uint8_t *buf, ff_program *p)
{
    memcpy(buf, in->data, in->size);
    size_t size = ff_mutate(buf, in->size, BIG, seed, NULL);
    decode_canonical(p, buf, size);
    return size;
}

/* A fresh malloc'd buffer of exactly max bytes holding the first max bytes of in. */
static uint8_t *buffer_of(bytes in, size_t max, size_t *size)
{
    uint8_t *buf = malloc(max ? max : 1);
    CHECK(buf != NULL);
    *size = in.size < max ? in.size : max;
    if (*size) memcpy(buf, in.data, *size);
    return buf;
}

static bool same_op(const ff_op *a, const ff_op *b)
{
    return a->kind == b->kind && a->handle == b->handle && a->zone == b->zone &&
           a->refs == b->refs && a->value == b->value && a->count == b->count &&
           a->align == b->align && a->offset == b->offset && a->paddr == b->paddr;
}

/* A fallback that marks what it touched: five bytes of 0xA5 (as far as they fit). */
#define MARK      0xA5
#define MARK_SIZE 5
static size_t marking_fallback(uint8_t *data, size_t size, size_t max_size)
{
    (void)size;
    for (size_t i = 0; i < MARK_SIZE && i < max_size; i++) data[i] = MARK;
    return MARK_SIZE;
}

/* A misbehaving fallback that claims more than the capacity. */
static size_t oversized_fallback(uint8_t *data, size_t size, size_t max_size)
{
    (void)data;
    (void)size;
    return max_size + 100;
}

/* Whether the output is the marking fallback's (a mutator output starts with the
 * version byte, never with MARK). */
static bool is_marked(const uint8_t *data, size_t size, size_t max)
{
    if (size == 0 || size != (max < MARK_SIZE ? max : MARK_SIZE)) return false;
    for (size_t i = 0; i < size; i++)
        if (data[i] != MARK) return false;
    return true;
}

static const char *const base_text = "backend bsa\n"
                                     "semantics hardened\n"
                                     "map tiny\n"
                                     "poison off\n"
                                     "alloc 1\nalloc 1\nalloc 2\nalloc 1\n"
                                     "drop h0\ndrop h1\n"
                                     "alloc 1\nalloc 1\n"
                                     "drop h0\ndrop h0\ndrop h2\n";

static const char *const concurrent_text = "backend bsa\n"
                                           "semantics hardened\n"
                                           "map tiny\n"
                                           "poison off\n"
                                           "cpus 3\n"
                                           "schedule direct 0:1 2:2 1:0\n"
                                           "cpu0 alloc 1\ncpu1 alloc 2\ncpu2 clone h0\n"
                                           "cpu0 drop h1\nirq1 drop h0\ncpu2 alloc 1\n"
                                           "cpu1 drop h0\ncpu0 check\n";

/* ---------------------------------------------------------------- ff_mutate */

FF_TEST(mutator_deterministic_per_seed)
{
    bytes in = encode_text(base_text);
    size_t distinct = 0;
    uint8_t prev[BIG];
    size_t prev_size = 0;
    for (unsigned seed = 0; seed < 200; seed++) {
        uint8_t a[BIG], b[BIG];
        memcpy(a, in.data, in.size);
        memcpy(b, in.data, in.size);
        size_t na = ff_mutate(a, in.size, BIG, seed, marking_fallback);
        size_t nb = ff_mutate(b, in.size, BIG, seed, marking_fallback);
        CHECK_EQ(na, nb);
        CHECK(memcmp(a, b, na) == 0);
        distinct += na != prev_size || memcmp(a, prev, na) != 0;
        memcpy(prev, a, na);
        prev_size = na;
    }
    /* Neighbouring seeds give different outputs. */
    CHECK(distinct > 180);
    free(in.data);
}

FF_TEST(mutator_output_is_canonical)
{
    bytes in = encode_text(base_text);
    uint8_t buf[BIG];
    size_t size = in.size;
    memcpy(buf, in.data, size);
    /* A chain of mutations, as a fuzzer applies them to its own outputs. */
    for (unsigned seed = 0; seed < SEEDS; seed++) {
        size = ff_mutate(buf, size, 512, seed * 7919u, NULL);
        CHECK(size >= 2 && size <= 512);
        ff_program p;
        decode_canonical(&p, buf, size);
        CHECK_STREQ(p.backend, "bsa");
        ff_program_free(&p);
    }
    free(in.data);
}

FF_TEST(mutator_arbitrary_bytes_become_canonical)
{
    /* Inputs that are not canonical (non-shortest nums, junk opcodes, a truncated op). */
    uint64_t x = 0x1760;
    for (unsigned seed = 0; seed < 500; seed++) {
        uint8_t buf[256];
        size_t size = seed % 200;
        for (size_t i = 0; i < size; i++) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            buf[i] = (uint8_t)(x >> 56);
        }
        size = ff_mutate(buf, size, sizeof buf, seed, NULL);
        CHECK(size <= sizeof buf);
        ff_program p;
        decode_canonical(&p, buf, size);
        ff_program_free(&p);
    }
}

FF_TEST(mutator_never_exceeds_max_size)
{
    static const size_t tiny_sizes[] = {0, 1, 2, 3, 5, 6, 8, 12, 20, 64};
    /* A big header (custom map, three regions, back-end) and a minimal one with a name. */
    const char *texts[] = {
        "backend bsa\nsemantics asterinas-2024\nmap custom\n"
        "region 0x0-0xffff usable\nregion 0x18000-0x1ffff usable\n"
        "region 0x20000-0x20fff ACPI NVS\npoison on\n"
        "alloc 32\ndrop h0\nfrom_unused 0x1000 1\ndrop h0\n"
        "from_in_use 0x2000 4 refs 2147483647\nraw_free 0x100000000 4096\n"
        "write 0x3000 0xaa\ncheck\nalloc 1 align 4 zone dma\nclone h0\ndrop h0 +1 1\n",
        "backend bsa\nsemantics hardened\nmap tiny\npoison off\n"
        "alloc 1\nalloc 1\nfrom_unused 0x1000 1\ncheck\nalloc 1\n",
        concurrent_text,
    };
    for (size_t t = 0; t < COUNT_OF(texts); t++) {
        bytes in = encode_text(texts[t]);
        for (size_t s = 0; s < COUNT_OF(tiny_sizes); s++) {
            size_t max = tiny_sizes[s];
            for (unsigned seed = 0; seed < 300; seed++) {
                size_t size;
                uint8_t *buf = buffer_of(in, max, &size);
                /* A truncated input may have lost the name's bytes already. */
                ff_program before;
                CHECK(ff_program_decode(&before, buf, size));
                bool named = before.backend[0] != '\0';
                ff_program_free(&before);
                size_t out = ff_mutate(buf, size, max, seed, seed % 2 ? marking_fallback : NULL);
                CHECK(out <= max);
                if (max >= 2 && !is_marked(buf, out, max)) {
                    ff_program p;
                    decode_canonical(&p, buf, out);
                    /* The name goes last: a preset header with it takes 6 bytes. */
                    CHECK_STREQ(p.backend, named && max >= 6 ? "bsa" : "");
                    ff_program_free(&p);
                }
                free(buf);
            }
        }
        free(in.data);
    }
}

FF_TEST(mutator_size_beyond_capacity_is_clamped)
{
    /* A caller passing size > max_size must not make the mutator read past max_size. */
    bytes in = encode_text("semantics hardened\nmap tiny\npoison off\nalloc 1\nalloc 2\nalloc 3\n");
    size_t size;
    uint8_t *buf = buffer_of(in, 6, &size);
    CHECK(in.size > 6);
    for (unsigned seed = 0; seed < 50; seed++) {
        memcpy(buf, in.data, 6);
        size_t out = ff_mutate(buf, in.size, 6, seed, NULL);
        CHECK(out <= 6);
    }
    free(buf);
    free(in.data);
}

FF_TEST(mutator_full_program_comes_out_at_the_operation_cap)
{
    /* FF_OPS_MAX checks (a hand-written reproducer, a byte mutation's output): the
     * output keeps its first FF_MUTATE_OPS_MAX operations. */
    size_t size = 2 + FF_OPS_MAX;
    uint8_t *buf = malloc(size);
    CHECK(buf != NULL);
    for (unsigned seed = 0; seed < 40; seed++) {
        buf[0] = FF_OPS_VERSION;
        buf[1] = 0x01;
        memset(buf + 2, FF_OP_CHECK, FF_OPS_MAX);
        size_t out = ff_mutate(buf, size, size, seed, NULL);
        CHECK(out <= size);
        ff_program p;
        decode_canonical(&p, buf, out);
        CHECK_EQ(p.nops, FF_MUTATE_OPS_MAX);
        ff_program_free(&p);
    }
    free(buf);
}

FF_TEST(mutator_exercises_every_mutation)
{
    bytes in = encode_text(base_text);
    ff_program base;
    CHECK(ff_program_decode(&base, in.data, in.size));
    size_t grew = 0, shrank = 0, reshaped = 0, unchanged = 0;
    size_t kinds[FF_OP_KIND_COUNT] = {0};
    size_t semantics = 0, poison = 0, preset = 0, custom = 0;
    size_t new_count = 0, aligned = 0, zoned = 0, misaligned = 0, ref_edge = 0, zone_edge = 0;
    size_t handle = 0, retyped = 0;
    for (unsigned seed = 0; seed < SEEDS; seed++) {
        uint8_t buf[BIG];
        ff_program p;
        size_t size = mutate_decoded(&in, seed, buf, &p);
        CHECK_STREQ(p.backend, "bsa");
        grew += p.nops > base.nops;
        shrank += p.nops < base.nops;
        unchanged += size == in.size && memcmp(buf, in.data, size) == 0;
        if (p.nops == base.nops) {
            size_t diff = 0;
            for (size_t i = 0; i < p.nops; i++) diff += !same_op(&p.ops[i], &base.ops[i]);
            reshaped += diff > 0;
        }
        semantics += p.semantics != base.semantics;
        poison += p.poison != base.poison;
        preset += p.preset && strcmp(p.preset, "tiny") != 0;
        custom += p.preset == NULL;
        for (size_t i = 0; i < p.nops; i++) {
            const ff_op *op = &p.ops[i];
            kinds[op->kind]++;
            new_count += op->kind == FF_OP_ALLOC && op->count != 1 && op->count != 2;
            aligned += op->kind == FF_OP_ALLOC && op->align != 1;
            zoned += op->kind == FF_OP_ALLOC && op->zone != FF_ZONE_NORMAL;
            handle += op->kind == FF_OP_DROP && op->handle > 2;
            misaligned += (op->paddr & 0xfff) != 0;
            ref_edge += op->kind == FF_OP_FROM_IN_USE && op->refs == FF_REF_MAX;
            uint64_t frame = op->paddr >> 12;
            zone_edge += op->paddr && (frame == 0x1000 || frame == 0x100000);
            /* Same position, every operand kept, another kind: a retyped operation. */
            if (p.nops == base.nops && op->kind != base.ops[i].kind) {
                ff_op as_base = *op;
                as_base.kind = base.ops[i].kind;
                retyped += same_op(&as_base, &base.ops[i]);
            }
        }
        ff_program_free(&p);
    }
    CHECK(grew > SEEDS / 5);
    CHECK(shrank > SEEDS / 10);
    CHECK(reshaped > SEEDS / 10);
    CHECK(unchanged < SEEDS / 10);
    for (int k = 0; k < FF_OP_KIND_COUNT; k++)
        if (kinds[k] == 0) ff_test_fail(__FILE__, __LINE__, "kind %s never appeared", ff_op_kind_name(k));
    CHECK(semantics > 10 && poison > 10 && preset > 10 && custom > 10);
    CHECK(new_count > 50 && aligned > 20 && zoned > 20 && handle > 10);
    CHECK(misaligned > 10 && ref_edge > 3 && zone_edge > 3 && retyped > 10);
    ff_program_free(&base);
    free(in.data);
}

FF_TEST(mutator_custom_map_regions_mutate)
{
    bytes in = encode_text("semantics hardened\nmap custom\nregion 0x0-0xffff usable\npoison off\n"
                           "alloc 1\n");
    size_t nregions[FF_OPS_MAX_REGIONS + 1] = {0};
    size_t moved = 0, typed = 0;
    for (unsigned seed = 0; seed < SEEDS; seed++) {
        uint8_t buf[BIG];
        ff_program p;
        mutate_decoded(&in, seed, buf, &p);
        if (!p.preset) {
            nregions[p.nregions]++;
            moved += p.regions[0].start != 0 || p.regions[0].size != 0x10000;
            typed += p.regions[0].type != FF_MEM_USABLE;
        }
        ff_program_free(&p);
    }
    CHECK(nregions[1] > SEEDS / 2 && nregions[2] > 0);
    CHECK(moved > 0 && typed > 0);
    free(in.data);
}

FF_TEST(mutator_fallback_called_sometimes)
{
    bytes in = encode_text(base_text);
    size_t marked = 0;
    for (unsigned seed = 0; seed < SEEDS; seed++) {
        uint8_t buf[BIG];
        memcpy(buf, in.data, in.size);
        size_t size = ff_mutate(buf, in.size, sizeof buf, seed, marking_fallback);
        marked += is_marked(buf, size, sizeof buf);
        /* Without a fallback the bytes never come from one. */
        memcpy(buf, in.data, in.size);
        size = ff_mutate(buf, in.size, sizeof buf, seed, NULL);
        CHECK(!is_marked(buf, size, sizeof buf));
    }
    /* About one in eight (250 of 2000). */
    CHECK(marked > 150 && marked < 350);
    /* A fallback claiming more than the capacity is clamped to it. */
    size_t clamped = 0;
    for (unsigned seed = 0; seed < 200; seed++) {
        uint8_t buf[BIG];
        memcpy(buf, in.data, in.size);
        size_t size = ff_mutate(buf, in.size, 100, seed, oversized_fallback);
        CHECK(size <= 100);
        clamped += size == 100;
    }
    CHECK(clamped > 0);
    free(in.data);
}

FF_TEST(mutator_empty_input)
{
    size_t with_ops = 0;
    for (unsigned seed = 0; seed < 200; seed++) {
        uint8_t buf[64];
        size_t size = ff_mutate(buf, 0, sizeof buf, seed, NULL);
        CHECK(size >= 2 && size <= sizeof buf);
        ff_program p;
        decode_canonical(&p, buf, size);
        with_ops += p.nops > 0;
        ff_program_free(&p);
    }
    CHECK(with_ops > 150);
    /* Nothing fits in no bytes; nothing is written either. */
    CHECK_EQ(ff_mutate(NULL, 0, 0, 1, NULL), 0);
}

/* A hardened tiny-map program of n operations: alloc 1, drop h0, alternating. */
static bytes long_program(size_t n)
{
    ff_program p;
    ff_program_init(&p);
    strcpy(p.backend, "bsa");
    p.preset = "tiny";
    for (size_t i = 0; i < n; i++) {
        ff_op op = {.kind = i % 2 ? FF_OP_DROP : FF_OP_ALLOC, .zone = FF_ZONE_NORMAL, .refs = 1,
                    .count = 1, .align = 1};
        CHECK(ff_program_add(&p, &op));
    }
    bytes b = encode(&p);
    ff_program_free(&p);
    return b;
}

/* Of 1000 mutations of an n-operation program, how many come out longer. */
static size_t grown_of(size_t n)
{
    bytes in = long_program(n);
    size_t grown = 0;
    for (unsigned seed = 0; seed < 1000; seed++) {
        uint8_t buf[BIG];
        memcpy(buf, in.data, in.size);
        size_t size = ff_mutate(buf, in.size, BIG, seed, NULL);
        ff_program p;
        decode_canonical(&p, buf, size);
        CHECK(p.nops <= FF_MUTATE_OPS_MAX);
        grown += p.nops > n;
        ff_program_free(&p);
    }
    free(in.data);
    return grown;
}

FF_TEST(mutator_growth_slows_towards_the_operation_cap)
{
    /* Short programs grow freely; one short of the cap, growth is refused (a later
     * round of the same call may grow what an earlier one shrank, rarely). */
    size_t short_grown = grown_of(8), long_grown = grown_of(FF_MUTATE_OPS_MAX - 1);
    CHECK(short_grown > 200);
    CHECK(long_grown < 20);
}

/* ---------------------------------------------------------------- concurrency */

/* Checks what every program with CPUs the mutator writes holds: tags below the count,
 * a schedule no longer than FF_SCHEDULE_MAX. */
static void check_cpus_well_formed(const ff_program *p)
{
    CHECK(p->ncpus <= FF_CPUS_MAX);
    CHECK(p->schedule_len <= FF_SCHEDULE_MAX);
    for (size_t i = 0; i < p->nops; i++) {
        CHECK(p->ncpus == 0 ? p->ops[i].cpu == 0 && !p->ops[i].irq : p->ops[i].cpu < p->ncpus);
    }
}

FF_TEST(mutator_concurrent_output_is_canonical_and_deterministic)
{
    bytes in = encode_text(concurrent_text);
    uint8_t buf[BIG], again[BIG];
    size_t size = in.size;
    memcpy(buf, in.data, size);
    for (unsigned seed = 0; seed < SEEDS; seed++) {
        memcpy(again, buf, size);
        size_t again_size = ff_mutate(again, size, 512, seed * 7919u, NULL);
        size = ff_mutate(buf, size, 512, seed * 7919u, NULL);
        CHECK_EQ(size, again_size);
        CHECK(memcmp(buf, again, size) == 0);
        CHECK(size >= 2 && size <= 512);
        ff_program p;
        decode_canonical(&p, buf, size);
        CHECK_STREQ(p.backend, "bsa");
        check_cpus_well_formed(&p);
        ff_program_free(&p);
    }
    free(in.data);
}

FF_TEST(mutator_concurrency_mutations_occur)
{
    bytes in = encode_text(concurrent_text);
    ff_program base;
    CHECK(ff_program_decode(&base, in.data, in.size));
    size_t retagged = 0, irq_flipped = 0, ncpus_changed = 0, schedule_edited = 0;
    size_t mode_switched = 0, schedule_grew = 0, schedule_shrank = 0, fresh_on_other_cpus = 0;
    for (unsigned seed = 0; seed < SEEDS; seed++) {
        uint8_t buf[BIG];
        ff_program p;
        mutate_decoded(&in, seed, buf, &p);
        check_cpus_well_formed(&p);
        ncpus_changed += p.ncpus != base.ncpus;
        mode_switched += p.sched_mode != base.sched_mode;
        schedule_grew += p.schedule_len > base.schedule_len;
        schedule_shrank += p.schedule_len < base.schedule_len;
        schedule_edited += p.schedule_len == base.schedule_len &&
                           memcmp(p.schedule, base.schedule, base.schedule_len) != 0;
        if (p.nops == base.nops && p.ncpus == base.ncpus) {
            /* Same operations but for a tag: retagged, or an irq flipped. */
            size_t cpu_diff = 0, irq_diff = 0, other = 0;
            for (size_t i = 0; i < p.nops; i++) {
                ff_op untagged = p.ops[i];
                untagged.cpu = base.ops[i].cpu;
                untagged.irq = base.ops[i].irq;
                other += !same_op(&untagged, &base.ops[i]);
                cpu_diff += p.ops[i].cpu != base.ops[i].cpu;
                irq_diff += p.ops[i].irq != base.ops[i].irq;
            }
            retagged += other == 0 && cpu_diff > 0;
            irq_flipped += other == 0 && irq_diff > 0;
        }
        for (size_t i = 0; i < p.nops; i++)
            fresh_on_other_cpus += p.ops[i].kind == FF_OP_FROM_UNUSED && p.ops[i].cpu > 0;
        ff_program_free(&p);
    }
    /* A quarter of the rounds: retag 4, irq 1, cpus 2, schedule 3, sequential 1 of 11. */
    CHECK(retagged > 80 && irq_flipped > 20 && ncpus_changed > 50);
    CHECK(schedule_edited > 20 && schedule_grew > 20 && schedule_shrank > 20 && mode_switched > 5);
    CHECK(fresh_on_other_cpus > 20);
    ff_program_free(&base);
    free(in.data);
}

FF_TEST(mutator_sequential_programs_sometimes_become_concurrent)
{
    bytes in = encode_text(base_text);
    size_t concurrent = 0, alternating = 0, shaped = 0;
    for (unsigned seed = 0; seed < SEEDS; seed++) {
        uint8_t buf[BIG];
        ff_program p;
        mutate_decoded(&in, seed, buf, &p);
        check_cpus_well_formed(&p);
        if (p.ncpus) {
            concurrent++;
            CHECK_EQ(buf[0], FF_OPS_VERSION_CPUS);
            /* Two CPUs and an empty or short direct schedule, unless a later round of
             * the same call changed that. */
            shaped += p.ncpus == 2 && p.sched_mode == FF_SCHED_DIRECT && p.schedule_len <= 4;
            size_t alternate = 0;
            for (size_t i = 0; i < p.nops; i++) alternate += p.ops[i].cpu == i % 2;
            alternating += p.nops > 4 && alternate == p.nops;
        } else {
            CHECK_EQ(buf[0], FF_OPS_VERSION);
        }
        ff_program_free(&p);
    }
    /* One round in 32, about two rounds a call: some 6 % of the calls. */
    CHECK(concurrent > SEEDS / 40 && concurrent < SEEDS / 8);
    CHECK(shaped > concurrent / 2 && alternating > 5 && alternating < concurrent);
    free(in.data);
}

FF_TEST(mutator_concurrent_programs_sometimes_become_sequential)
{
    bytes in = encode_text(concurrent_text);
    ff_program base;
    CHECK(ff_program_decode(&base, in.data, in.size));
    size_t sequential = 0, same_ops = 0;
    for (unsigned seed = 0; seed < SEEDS; seed++) {
        uint8_t buf[BIG];
        ff_program p;
        mutate_decoded(&in, seed, buf, &p);
        check_cpus_well_formed(&p);
        if (!p.ncpus) {
            sequential++;
            CHECK_EQ(buf[0], FF_OPS_VERSION);
            /* The operations in order (untagged: checked above), unless another round
             * of the same call changed them. */
            bool same = p.nops == base.nops;
            for (size_t i = 0; same && i < p.nops; i++) same = same_op(&p.ops[i], &base.ops[i]);
            same_ops += same;
        }
        ff_program_free(&p);
    }
    /* One round in 44, about two rounds a call: some 4 % of the calls. */
    CHECK(sequential > SEEDS / 60 && sequential < SEEDS / 10);
    CHECK(same_ops > sequential / 4);
    ff_program_free(&base);
    free(in.data);
}

FF_TEST(mutator_concurrent_header_shrinks_schedule_then_cpus_before_the_name)
{
    /* backend bsa (6 header bytes) and a cpus section of 2 + 64: 72 bytes before any
     * operation. Crossover keeps its first parent's configuration whole, so what an
     * output too small for it keeps is fit()'s choice alone. */
    char text[1024] = "backend bsa\ncpus 2\nschedule direct";
    for (unsigned i = 0; i < FF_SCHEDULE_MAX / 2; i++) strcat(text, " 1:1");
    strcat(text, "\ncpu0 alloc 1\ncpu1 alloc 1\ncpu1 drop h0\n");
    bytes in = encode_text(text);
    CHECK_EQ(in.size, 72 + 5 + 5 + 3); /* alloc: opcode, tag, count, align, zone */
    static const size_t sizes[] = {2, 5, 6, 7, 8, 9, 20, 71, 72, 80};
    for (size_t s = 0; s < COUNT_OF(sizes); s++) {
        size_t max = sizes[s];
        for (unsigned seed = 0; seed < 50; seed++) {
            uint8_t *out = malloc(max);
            CHECK(out != NULL);
            size_t size = ff_crossover(in.data, in.size, in.data, in.size, out, max, seed);
            CHECK(size <= max);
            ff_program p;
            decode_canonical(&p, out, size);
            check_cpus_well_formed(&p);
            /* The schedule's tail goes first, then the cpus section, then the name. */
            CHECK_EQ(p.ncpus, max >= 8 ? 2 : 0);
            CHECK_EQ(p.schedule_len, max >= 72 ? 64 : max >= 8 ? max - 8 : 0);
            CHECK_STREQ(p.backend, max >= 6 ? "bsa" : "");
            ff_program_free(&p);
            free(out);
        }
    }
    free(in.data);
}

/* ---------------------------------------------------------------- ff_crossover */

/* a: alloc 100 .. alloc 119 (asterinas, poison, qemu, bsa); b: raw_free of frames
 * 200 .. 229 (hardened, tiny, no back-end). */
static void crossover_parents(bytes *a, bytes *b)
{
    ff_program pa, pb;
    ff_program_init(&pa);
    ff_program_init(&pb);
    strcpy(pa.backend, "bsa");
    pa.semantics = FF_SEM_ASTERINAS_2024;
    pa.poison = true;
    pa.preset = "qemu";
    for (uint64_t i = 0; i < 20; i++) {
        ff_op op = {.kind = FF_OP_ALLOC, .zone = FF_ZONE_NORMAL, .refs = 1, .count = 100 + i, .align = 1};
        CHECK(ff_program_add(&pa, &op));
    }
    for (uint64_t i = 0; i < 30; i++) {
        ff_op op = {.kind = FF_OP_RAW_FREE, .zone = FF_ZONE_NORMAL, .refs = 1, .count = 1, .align = 1,
                    .paddr = (200 + i) << 12};
        CHECK(ff_program_add(&pb, &op));
    }
    *a = encode(&pa);
    *b = encode(&pb);
    ff_program_free(&pa);
    ff_program_free(&pb);
}

FF_TEST(mutator_crossover_mixes_parents)
{
    bytes a, b;
    crossover_parents(&a, &b);
    bool prefix_len_seen[21] = {false}, suffix_start_seen[30] = {false};
    for (unsigned seed = 0; seed < 500; seed++) {
        uint8_t out[BIG], again[BIG];
        size_t size = ff_crossover(a.data, a.size, b.data, b.size, out, sizeof out, seed);
        CHECK_EQ(ff_crossover(a.data, a.size, b.data, b.size, again, sizeof again, seed), size);
        CHECK(memcmp(out, again, size) == 0);
        ff_program c;
        decode_canonical(&c, out, size);
        CHECK_STREQ(c.backend, "bsa");
        CHECK_EQ(c.semantics, FF_SEM_ASTERINAS_2024);
        CHECK(c.poison);
        CHECK_STREQ(c.preset, "qemu");
        /* alloc 100, 101, ... then raw_free of consecutive frames ending at 229. */
        size_t i = 0;
        while (i < c.nops && c.ops[i].kind == FF_OP_ALLOC) {
            CHECK_EQ(c.ops[i].count, 100 + i);
            i++;
        }
        CHECK(i >= 1 && i <= 20 && i < c.nops);
        size_t tail = c.nops - i;
        CHECK(tail >= 1 && tail <= 30);
        for (size_t j = i; j < c.nops; j++) {
            CHECK_EQ(c.ops[j].kind, FF_OP_RAW_FREE);
            CHECK_EQ(c.ops[j].paddr >> 12, 230 - tail + (j - i));
        }
        prefix_len_seen[i] = true;
        suffix_start_seen[30 - tail] = true;
        ff_program_free(&c);
    }
    for (size_t i = 1; i <= 20; i++) CHECK(prefix_len_seen[i]);
    for (size_t j = 0; j < 30; j++) CHECK(suffix_start_seen[j]);
    free(a.data);
    free(b.data);
}

FF_TEST(mutator_crossover_cuts_long_children_and_keeps_both_parents)
{
    bytes a = long_program(2 * FF_MUTATE_OPS_MAX), b;
    {
        ff_program pb;
        ff_program_init(&pb);
        for (size_t i = 0; i < 2 * FF_MUTATE_OPS_MAX; i++) {
            ff_op op = {.kind = FF_OP_CHECK, .zone = FF_ZONE_NORMAL, .refs = 1, .count = 1,
                        .align = 1};
            CHECK(ff_program_add(&pb, &op));
        }
        b = encode(&pb);
        ff_program_free(&pb);
    }
    size_t longest = 0;
    for (unsigned seed = 0; seed < 500; seed++) {
        uint8_t out[BIG];
        size_t size = ff_crossover(a.data, a.size, b.data, b.size, out, sizeof out, seed);
        ff_program c;
        decode_canonical(&c, out, size);
        CHECK(c.nops <= FF_MUTATE_OPS_MAX);
        CHECK(c.ops[0].kind != FF_OP_CHECK && c.ops[c.nops - 1].kind == FF_OP_CHECK);
        if (c.nops > longest) longest = c.nops;
        ff_program_free(&c);
    }
    CHECK_EQ(longest, FF_MUTATE_OPS_MAX);
    free(a.data);
    free(b.data);
}

FF_TEST(mutator_crossover_fits_and_handles_empty)
{
    static const size_t tiny_sizes[] = {0, 1, 2, 3, 6, 8, 20};
    bytes a, b;
    crossover_parents(&a, &b);
    for (size_t s = 0; s < COUNT_OF(tiny_sizes); s++) {
        size_t max = tiny_sizes[s];
        for (unsigned seed = 0; seed < 100; seed++) {
            uint8_t *out = malloc(max ? max : 1);
            CHECK(out != NULL);
            size_t size = ff_crossover(a.data, a.size, b.data, b.size, out, max, seed);
            CHECK(size <= max);
            CHECK_EQ(size, max < 2 ? max : size);
            if (max >= 2) {
                ff_program c;
                decode_canonical(&c, out, size);
                ff_program_free(&c);
            }
            free(out);
        }
    }
    /* Empty parents: the child takes the empty parent's (default) config or b's ops. */
    uint8_t out[BIG];
    size_t size = ff_crossover(NULL, 0, NULL, 0, out, sizeof out, 3);
    CHECK_EQ(size, 2);
    CHECK_EQ(out[0], FF_OPS_VERSION);
    CHECK_EQ(out[1], 0);
    size = ff_crossover(NULL, 0, b.data, b.size, out, sizeof out, 3);
    ff_program c;
    decode_canonical(&c, out, size);
    CHECK(c.nops >= 1 && c.ops[c.nops - 1].kind == FF_OP_RAW_FREE);
    CHECK_EQ(c.semantics, FF_SEM_ASTERINAS_2024);
    ff_program_free(&c);
    size = ff_crossover(a.data, a.size, NULL, 0, out, sizeof out, 3);
    decode_canonical(&c, out, size);
    CHECK(c.nops >= 1 && c.ops[0].kind == FF_OP_ALLOC);
    CHECK_STREQ(c.backend, "bsa");
    ff_program_free(&c);
    free(a.data);
    free(b.data);
}

FF_TEST(mutator_crossover_retags_onto_the_first_parents_cpus)
{
    /* a: 2 CPUs, PCT; b: 8 CPUs, operation i on CPU i % 8, every third in interrupt
     * context (clone hI, so each is told apart). */
    ff_program pa, pb, seq;
    ff_program_init(&pa);
    ff_program_init(&pb);
    ff_program_init(&seq);
    pa.ncpus = 2;
    pa.sched_mode = FF_SCHED_PCT;
    pa.schedule_len = 3;
    memcpy(pa.schedule, (const uint8_t[]){5, 9, 1}, 3);
    pb.ncpus = 8;
    for (unsigned i = 0; i < 24; i++) {
        ff_op op = ff_op_blank(FF_OP_ALLOC);
        op.cpu = (uint8_t)(i % 2);
        CHECK(ff_program_add(&pa, &op));
        CHECK(ff_program_add(&seq, &op));
        op = ff_op_blank(FF_OP_CLONE);
        op.handle = (uint8_t)i;
        op.cpu = (uint8_t)(i % 8);
        op.irq = i % 3 == 0;
        CHECK(ff_program_add(&pb, &op));
    }
    bytes a = encode(&pa), b = encode(&pb), s = encode(&seq);
    size_t b_ops = 0, b_irq = 0;
    for (unsigned seed = 0; seed < 300; seed++) {
        uint8_t out[BIG];
        /* Onto a's two CPUs: b's tags modulo 2, irq kept; a's config whole. */
        size_t size = ff_crossover(a.data, a.size, b.data, b.size, out, sizeof out, seed);
        ff_program c;
        decode_canonical(&c, out, size);
        CHECK_EQ(c.ncpus, 2);
        CHECK_EQ(c.sched_mode, FF_SCHED_PCT);
        CHECK_EQ(c.schedule_len, 3);
        CHECK(memcmp(c.schedule, pa.schedule, 3) == 0);
        for (size_t i = 0; i < c.nops; i++) {
            const ff_op *op = &c.ops[i];
            if (op->kind == FF_OP_ALLOC) {
                CHECK_EQ(op->cpu, i % 2);
                continue;
            }
            CHECK_EQ(op->cpu, op->handle % 8 % 2);
            CHECK_EQ(op->irq, op->handle % 3 == 0);
            b_ops++;
            b_irq += op->irq;
        }
        ff_program_free(&c);
        /* Onto a sequential parent: untagged, version 1. */
        size = ff_crossover(s.data, s.size, b.data, b.size, out, sizeof out, seed);
        CHECK_EQ(out[0], FF_OPS_VERSION);
        decode_canonical(&c, out, size);
        CHECK_EQ(c.ncpus, 0);
        for (size_t i = 0; i < c.nops; i++) CHECK(c.ops[i].cpu == 0 && !c.ops[i].irq);
        CHECK(c.ops[c.nops - 1].kind == FF_OP_CLONE);
        ff_program_free(&c);
    }
    CHECK(b_ops > 1000 && b_irq > 300);
    free(a.data);
    free(b.data);
    free(s.data);
    ff_program_free(&pa);
    ff_program_free(&pb);
    ff_program_free(&seq);
}

/* ---------------------------------------------------------------- ops.dict */

typedef struct dict_entry {
    char name[64];
    uint8_t bytes[64];
    size_t size;
} dict_entry;

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One `name="value"` line (AFL syntax: \xNN, \\ and \" escapes); false when malformed. */
static bool parse_dict_line(const char *line, dict_entry *e)
{
    const char *eq = strchr(line, '=');
    if (!eq || eq == line || (size_t)(eq - line) >= sizeof e->name || eq[1] != '"') return false;
    memcpy(e->name, line, (size_t)(eq - line));
    e->name[eq - line] = '\0';
    e->size = 0;
    for (const char *s = eq + 2; *s != '"'; s++) {
        if (!*s || e->size == sizeof e->bytes) return false;
        if (*s != '\\') {
            e->bytes[e->size++] = (uint8_t)*s;
            continue;
        }
        s++;
        if (*s == '\\' || *s == '"') {
            e->bytes[e->size++] = (uint8_t)*s;
        } else if (*s == 'x' && hex_digit(s[1]) >= 0 && hex_digit(s[2]) >= 0) {
            e->bytes[e->size++] = (uint8_t)(hex_digit(s[1]) * 16 + hex_digit(s[2]));
            s += 2;
        } else {
            return false;
        }
    }
    return true;
}

/* Reads the dictionary; returns the number of entries. */
static size_t load_dict(dict_entry *entries, size_t cap)
{
    FILE *f = fopen(FF_OPS_DICT, "r");
    if (!f) ff_test_fail(__FILE__, __LINE__, "cannot open %s (run from the checkout)", FF_OPS_DICT);
    char line[512];
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0' || line[0] == '#') continue;
        CHECK(n < cap);
        if (!parse_dict_line(line, &entries[n])) {
            fclose(f);
            ff_test_fail(__FILE__, __LINE__, "malformed dictionary line: %s", line);
        }
        n++;
    }
    fclose(f);
    return n;
}

/* hdr_TOKENS: the entry alone is a canonical header whose config the tokens spell. */
static void check_header_entry(const dict_entry *e)
{
    ff_program p;
    decode_canonical(&p, e->bytes, e->size);
    CHECK_EQ(p.nops, 0);
    bool sem = false, map = false, poison = false, pct = false;
    unsigned ncpus = 0, sched = 0;
    const char *backend = "";
    char name[64];
    strcpy(name, e->name);
    for (char *tok = strtok(name + 4, "_"); tok; tok = strtok(NULL, "_")) {
        if (strcmp(tok, "asterinas") == 0 || strcmp(tok, "hardened") == 0) {
            CHECK_EQ(p.semantics, tok[0] == 'h' ? FF_SEM_HARDENED : FF_SEM_ASTERINAS_2024);
            sem = true;
        } else if (strcmp(tok, "poison") == 0) {
            poison = true;
        } else if (strcmp(tok, "custom") == 0) {
            CHECK(p.preset == NULL);
            map = true;
        } else if (sscanf(tok, "cpus%u", &ncpus) == 1 || sscanf(tok, "sched%u", &sched) == 1) {
            continue;
        } else if (strcmp(tok, "pct") == 0) {
            pct = true;
        } else if (ff_backend_find(tok)) {
            backend = tok;
            CHECK_STREQ(p.backend, tok);
        } else if (strspn(tok, "0123456789") == strlen(tok)) {
            continue; /* an issue number */
        } else {
            /* A preset, spelled without its dash. */
            char spelled[16] = "";
            for (size_t i = 0; p.preset && p.preset[i] && i < sizeof spelled - 1; i++)
                if (p.preset[i] != '-') spelled[strlen(spelled)] = p.preset[i];
            if (strcmp(spelled, tok) != 0)
                ff_test_fail(__FILE__, __LINE__, "%s: token %s does not match", e->name, tok);
            map = true;
        }
    }
    if (!sem || !map) ff_test_fail(__FILE__, __LINE__, "%s names no semantics or map", e->name);
    CHECK_EQ(p.poison, poison);
    CHECK_STREQ(p.backend, backend);
    CHECK_EQ(p.ncpus, ncpus);
    CHECK_EQ(p.sched_mode, pct ? FF_SCHED_PCT : FF_SCHED_DIRECT);
    CHECK_EQ(p.schedule_len, sched);
    ff_program_free(&p);
}

/* The operation kind a name starts with (the longest that fits, so drop_piece is not
 * drop); fails the test when there is none. */
static ff_op_kind kind_named(const dict_entry *e, const char *rest)
{
    int kind = -1;
    size_t best = 0;
    for (int k = 0; k < FF_OP_KIND_COUNT; k++) {
        const char *kn = ff_op_kind_name((ff_op_kind)k);
        size_t len = strlen(kn);
        if (strncmp(rest, kn, len) == 0 && (rest[len] == '\0' || rest[len] == '_') && len > best) {
            kind = k;
            best = len;
        }
    }
    if (kind < 0) ff_test_fail(__FILE__, __LINE__, "%s names no operation kind", e->name);
    return (ff_op_kind)kind;
}

/* op_KIND_*: after a header, the entry is canonical and its first operation is KIND. */
static void check_op_entry(const dict_entry *e)
{
    ff_op_kind kind = kind_named(e, e->name + 3);
    uint8_t buf[80] = {FF_OPS_VERSION, 0x01};
    memcpy(buf + 2, e->bytes, e->size);
    ff_program p;
    decode_canonical(&p, buf, 2 + e->size);
    if (p.nops == 0 || p.ops[0].kind != kind)
        ff_test_fail(__FILE__, __LINE__, "%s decodes to %s", e->name,
                     p.nops ? ff_op_kind_name(p.ops[0].kind) : "nothing");
    ff_program_free(&p);
}

/* tagged_KIND_*_cpuN|irqN: after a two-CPU header, the entry is canonical and its
 * first operation is KIND on CPU N, in interrupt context for irqN. */
static void check_tagged_entry(const dict_entry *e)
{
    ff_op_kind kind = kind_named(e, e->name + 7);
    const char *tag = strrchr(e->name, '_') + 1;
    unsigned cpu;
    bool tagged = strncmp(tag, "cpu", 3) == 0 || strncmp(tag, "irq", 3) == 0;
    if (!tagged || sscanf(tag + 3, "%u", &cpu) != 1)
        ff_test_fail(__FILE__, __LINE__, "%s ends in no cpuN or irqN", e->name);
    uint8_t buf[80] = {FF_OPS_VERSION_CPUS, 0x41, 0x01, 0x00};
    memcpy(buf + 4, e->bytes, e->size);
    ff_program p;
    decode_canonical(&p, buf, 4 + e->size);
    CHECK_EQ(p.ncpus, 2);
    CHECK(p.nops > 0);
    CHECK_EQ(p.ops[0].kind, kind);
    CHECK_EQ(p.ops[0].cpu, cpu);
    CHECK_EQ(p.ops[0].irq, tag[0] == 'i');
    ff_program_free(&p);
}

/* num_V / align_V: the entry as an alloc's count / alignment decodes to V and is
 * consumed exactly (the alloc's remaining operands decode as written). */
static void check_value_entry(const dict_entry *e, bool is_align)
{
    const char *hex = strchr(e->name, '_') + 1;
    uint64_t want = strtoull(hex, NULL, 16);
    uint8_t buf[80] = {FF_OPS_VERSION, 0x01, FF_OP_ALLOC};
    size_t n = 3;
    if (is_align) buf[n++] = 7; /* count 7 */
    memcpy(buf + n, e->bytes, e->size);
    n += e->size;
    if (!is_align) buf[n++] = 0; /* align 1 */
    buf[n++] = 1;                /* zone dma32 */
    ff_program p;
    CHECK(ff_program_decode(&p, buf, n));
    CHECK_EQ(p.nops, 1);
    CHECK_EQ(p.ops[0].kind, FF_OP_ALLOC);
    CHECK_EQ(is_align ? p.ops[0].align : p.ops[0].count, want);
    CHECK_EQ(is_align ? p.ops[0].count : p.ops[0].align, is_align ? 7 : 1);
    CHECK_EQ(p.ops[0].zone, FF_ZONE_DMA32);
    ff_program_free(&p);
}

FF_TEST(mutator_dict_entries_decode_as_named)
{
    dict_entry entries[200];
    size_t n = load_dict(entries, sizeof entries / sizeof entries[0]);
    size_t per_kind[FF_OP_KIND_COUNT] = {0}, headers = 0, nums = 0, aligns = 0, tagged = 0;
    size_t concurrent_headers = 0;
    for (size_t i = 0; i < n; i++) {
        const dict_entry *e = &entries[i];
        CHECK(e->size > 0);
        for (size_t j = 0; j < i; j++) CHECK(strcmp(entries[j].name, e->name) != 0);
        if (strncmp(e->name, "hdr_", 4) == 0) {
            check_header_entry(e);
            headers++;
            concurrent_headers += e->bytes[0] == FF_OPS_VERSION_CPUS;
        } else if (strncmp(e->name, "tagged_", 7) == 0) {
            check_tagged_entry(e);
            tagged++;
        } else if (strncmp(e->name, "op_", 3) == 0) {
            check_op_entry(e);
            per_kind[e->bytes[0] % FF_OP_KIND_COUNT]++;
        } else if (strncmp(e->name, "num_", 4) == 0) {
            check_value_entry(e, false);
            nums++;
        } else if (strncmp(e->name, "align_", 6) == 0) {
            check_value_entry(e, true);
            aligns++;
        } else {
            ff_test_fail(__FILE__, __LINE__, "unknown entry class: %s", e->name);
        }
    }
    for (int k = 0; k < FF_OP_KIND_COUNT; k++) CHECK(per_kind[k] > 0);
    /* All 24 interesting escapes and the u16, u32 and u64 forms. */
    CHECK(headers >= 10 && nums >= 27 && aligns >= 4);
    CHECK(concurrent_headers >= 6 && tagged >= 6);
}

FF_TEST(mutator_dict_parser_rejects_malformed_lines)
{
    dict_entry e;
    CHECK(parse_dict_line("a=\"\\x01\\\\\\\"b\"", &e));
    CHECK_EQ(e.size, 4);
    CHECK_EQ(e.bytes[0], 1);
    CHECK_EQ(e.bytes[1], '\\');
    CHECK_EQ(e.bytes[2], '"');
    CHECK_EQ(e.bytes[3], 'b');
    CHECK(!parse_dict_line("a=\"\\x0g\"", &e));
    CHECK(!parse_dict_line("a=\"unterminated", &e));
    CHECK(!parse_dict_line("=\"x\"", &e));
}
