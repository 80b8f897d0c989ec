/*
 * mutator.h — a structure-aware mutator for the operation-sequence language (ops.h).
 *
 * Byte-level mutation of a framefuzz input mostly breaks operand boundaries: one
 * flipped byte turns `alloc 1` into a u64 escape that swallows the next three
 * operations. This mutator works one level up. It decodes the bytes into an
 * ff_program, edits the program (insert, delete, swap, duplicate, replace or retype
 * operations, tweak one operand towards values allocators get wrong, change the
 * configuration, move operations between CPUs and edit the schedule, make a
 * sequential program concurrent) and writes the canonical encoding back, so every output is a
 * well-formed program that decodes and re-encodes to itself.
 *
 * The interface is engine-neutral; each engine needs a few lines of adapter:
 *
 *   libFuzzer  LLVMFuzzerCustomMutator(d, s, max, seed)
 *                  -> ff_mutate(d, s, max, seed, LLVMFuzzerMutate)
 *              LLVMFuzzerCustomCrossOver(a, as, b, bs, out, max, seed)
 *                  -> ff_crossover(a, as, b, bs, out, max, seed)
 *   AFL++      afl_custom_fuzz copies the input into its own buffer of max_size
 *              bytes and calls ff_mutate with a seed from its RNG and no fallback
 *              (AFL++ runs its own havoc stage besides).
 *
 * Both calls are deterministic for a given seed and keep no state between calls.
 */
#ifndef FF_MUTATOR_H
#define FF_MUTATOR_H

#include <stddef.h>
#include <stdint.h>

/* Operations in a program the mutator writes, at most (see mutator.c for why). */
#define FF_MUTATE_OPS_MAX 64

/* Byte-level fallback the engine provides (libFuzzer: LLVMFuzzerMutate). Returns new size. */
typedef size_t (*ff_byte_mutator)(uint8_t *data, size_t size, size_t max_size);

/* Mutates data in place (capacity max_size), deterministic for a given seed. Returns
 * the new size (<= max_size). About one call in eight hands the bytes to fallback
 * instead, when it is non-NULL, and returns what it returns (at most max_size).
 * The output is a canonical encoding whenever max_size >= 2 (the shortest header) of
 * at most FF_MUTATE_OPS_MAX operations, growth slowing from half that on; operations
 * that do not fit are dropped from the end, and if even the header alone does not
 * fit, the schedule's last bytes, extra regions, then the custom map, then the cpus
 * section (the program turns sequential), then the back-end name go. */
size_t ff_mutate(uint8_t *data, size_t size, size_t max_size, unsigned int seed,
                 ff_byte_mutator fallback);

/* Crossover: a program made of a prefix of a's operations and a suffix of b's (config
 * of a, its CPUs and schedule included: b's operations are retagged modulo a's CPU
 * count, and untagged when a is sequential), cut at FF_MUTATE_OPS_MAX operations. When
 * both have operations the child keeps at least one of each. Returns the
 * size written to out (<= max_out_size); 0 only when the host runs out of memory or
 * max_out_size is 0. */
size_t ff_crossover(const uint8_t *a, size_t asize, const uint8_t *b, size_t bsize, uint8_t *out,
                    size_t max_out_size, unsigned int seed);

#endif
