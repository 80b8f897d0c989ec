/*
 * oracle.h — the reference oracle: an independent shadow of the frame space and of the
 * metadata slots, against which every answer of a back-end and of the metadata layer
 * is judged.
 *
 * What it knows of a back-end is its declared ff_policy, its free-frame counter and,
 * when asked, the verdict of its own invariant walk. It never looks inside.
 *
 * How it is fed. The oracle is the metadata layer's observer (ff_oracle_observe):
 * every back-end alloc and free, every panic, hang and self-deadlock reaches it as it
 * happens, including the frees made while a panic unwinds. Around each operation the
 * executor tells it which operation runs (op_begin) and what the layer answered
 * (op_end), so it can keep the shadow of the references the program holds and judge
 * the layer too.
 *
 * The shadow, per frame below the top of the map: not RAM (a hole or a non-usable
 * region), free, or allocated — with the allocation's first frame, the count that was
 * asked and the count the policy says is reserved. Flags remember whether a frame was
 * ever handed out, whether the program holds it through from_unused while the
 * allocator held it free (a "phantom" reference, the #1760 shape), and whether the
 * program itself misused it (a raw free of frames it still held, a write into a frame
 * it held no reference to): findings that misuse alone explains are not the system's.
 * Plus the references the program holds on each frame. A bitmap of allocated frames
 * makes free-block searches word-at-a-time. Everything is reset in O(frames touched).
 *
 * Verdicts. A finding names its class, the operation and the back-end; its signature
 * is "class@backend". Each is handed to a callback as it is made: the first is what a
 * fuzzer reports, and a reproducer can go on to show what follows from it.
 */
#ifndef FF_ORACLE_H
#define FF_ORACLE_H

#include <stddef.h>

#include "backend.h"
#include "meta.h"
#include "space.h"

/* Every bug class, in a stable order: X(ID, name, function, what it means). The one
 * list: the enum, the names and summaries, and the harness's crash sites (one function
 * per class, named by `function`) are all made from it. */
#define FF_CLASS_LIST(X)                                                                      \
    X(ACCEPTED_FOREIGN_FREE, "accepted-foreign-free", accepted_foreign_free,                  \
      "a free of frames the back-end never handed out (a hole, reserved, outside RAM, kept "   \
      "for its own metadata, or free and never given to the one freeing them) was accepted")   \
    X(ACCEPTED_DOUBLE_FREE, "accepted-double-free", accepted_double_free,                     \
      "a free of frames already given back was accepted")                                     \
    X(ACCEPTED_WRONG_SIZE_FREE, "accepted-wrong-size-free", accepted_wrong_size_free,         \
      "a free of the right first frame but a count its free rule does not allow was "         \
      "accepted")                                                                             \
    X(ACCEPTED_MISALIGNED_FREE, "accepted-misaligned-free", accepted_misaligned_free,         \
      "a free starting inside an allocation, not at its first frame, was accepted")           \
    X(REJECTED_VALID_FREE, "rejected-valid-free", rejected_valid_free,                        \
      "a validating back-end refused the free of exactly one of its allocations")             \
    X(DOUBLE_HANDOUT, "double-handout", double_handout,                                       \
      "an allocation returned a frame that is still handed out (or kept by the allocator)")   \
    X(OUT_OF_MAP_ALLOC, "out-of-map-alloc", out_of_map_alloc,                                 \
      "an allocation returned a hole, a reserved frame, or a frame past RAM")                 \
    X(OUT_OF_ZONE_ALLOC, "out-of-zone-alloc", out_of_zone_alloc,                              \
      "an allocation returned a block that ends past the zone the request allowed")           \
    X(MISALIGNED_ALLOC, "misaligned-alloc", misaligned_alloc,                                 \
      "an allocation is not aligned as the request or the placement policy demands")          \
    X(WRONG_SIZE_ALLOC, "wrong-size-alloc", wrong_size_alloc,                                 \
      "an allocation reserved another number of frames than the policy declares")             \
    X(SPURIOUS_OOM, "spurious-oom", spurious_oom,                                             \
      "an allocation failed although the shadow holds a block the placement policy "          \
      "guarantees")                                                                           \
    X(ACCEPTED_BAD_REQUEST, "accepted-bad-request", accepted_bad_request,                     \
      "a zero-size, overflowing or out-of-range request was not rejected")                    \
    X(LEAK, "leak", leak, "after every handle was dropped, memory did not come back")         \
    X(ACCOUNTING_DRIFT, "accounting-drift", accounting_drift,                                 \
      "the back-end's free-frame counter moved differently from the frames it gave and "      \
      "took")                                                                                 \
    X(HANG, "hang", hang,                                                                     \
      "a back-end call exhausted its deterministic step budget, or did not return within "    \
      "the wall-clock limit (the signature names the call and the function)")                 \
    X(SELF_DEADLOCK, "self-deadlock", self_deadlock,                                          \
      "the allocator lock was taken again by the CPU holding it (the #1760 hang)")            \
    X(REFCOUNT_MISUSE, "refcount-misuse", refcount_misuse,                                    \
      "the metadata layer granted a reference it must refuse (unused slot, overflow, "        \
      "frame in use or owned by the allocator)")                                              \
    X(METADATA_MISMATCH, "metadata-mismatch", metadata_mismatch,                              \
      "the metadata layer's slots disagree with the references the program holds")            \
    X(STRUCTURAL_CORRUPTION, "structural-corruption", structural_corruption,                  \
      "the back-end's own invariant walk fails (and did not on the fresh instance)")          \
    X(POISON_CORRUPTED, "poison-corrupted", poison_corrupted,                                 \
      "a frame was written while free: its poison changed before it was handed out")          \
    X(DIVERGENCE, "divergence", divergence,                                                   \
      "back-ends given the same operations answered differently where their contracts "       \
      "must agree")                                                                           \
    X(ALLOCATOR_PANIC, "allocator-panic", allocator_panic,                                    \
      "the allocator's own assertion (ff_panic) fired on a valid request (a panic on a bad "  \
      "one is the allocator catching it)")                                                    \
    X(INUSE_CORRUPTED, "inuse-corrupted", inuse_corrupted,                                    \
      "a frame the program held was changed by someone else while in use: it holds neither "  \
      "the poison it was handed out with nor what the program wrote")                       \
    X(REFCOUNT_RACE, "refcount-race", refcount_race,                                          \
      "with several CPUs, a reference was granted on a frame whose refcount reached 0 on "    \
      "another CPU (taken on its way back to the allocator, or added after a check that "     \
      "saw it in use): the frame goes back while held")                                     \
    X(IRQ_DEADLOCK, "irq-deadlock", irq_deadlock,                                             \
      "an interrupt handler took the allocator lock its CPU already held (taken with "        \
      "interrupts enabled): it spins forever")                                                \
    X(LOCK_ORDER_CYCLE, "lock-order-cycle", lock_order_cycle,                                 \
      "two locks were taken in both orders in one run (by any CPUs): a deadlock that waits "   \
      "only for the interleaving that runs both at once, found as lockdep finds it")           \
    X(DATA_RACE, "data-race", data_race,                                                      \
      "with several CPUs, state a lock guards (the back-end's, a per-CPU cache's) was "       \
      "touched by two CPUs (or a CPU and an interrupt handler), one of them without the "     \
      "lock: no lock orders the two, whatever this run's interleaving did with them")

typedef enum ff_class {
#define X(id, name, function, summary) FF_CLASS_##id,
    FF_CLASS_LIST(X)
#undef X
    FF_CLASS_COUNT
} ff_class;

const char *ff_class_name(ff_class cls);
/* One line: what the class means. */
const char *ff_class_summary(ff_class cls);
bool ff_class_parse(const char *name, ff_class *cls);

/* The operation index of findings from the end-of-run checks. */
#define FF_OP_AT_END SIZE_MAX

typedef struct ff_finding {
    ff_class cls;
    size_t op;          /* operation index, or FF_OP_AT_END */
    char backend[64];   /* the back-end (for divergence: the one that deviated) */
    char state[96];     /* where, for classes too coarse alone: for a hang or an allocator
                           panic "CALL:FUNCTION" (the back-end call, the function that
                           spent the budget or panicked), else "" */
    char detail[256];   /* what was seen, with frame numbers */
    bool consequence;   /* follows an earlier finding on the same back-end in this run:
                           shown, never a signature of its own (set by the executor) */
} ff_finding;

/* The longest signature (class, back-end, state and separators). */
#define FF_SIGNATURE_MAX 192

/* "class@backend", or "class@backend:state" when the finding has a state. */
void ff_finding_signature(const ff_finding *f, char *buf, size_t len);

/* What the layer answered to one operation of the program. */
typedef enum ff_layer_call {
    FF_CALL_ALLOC,
    FF_CALL_DROP,        /* one reference of each frame of [start, +count) */
    FF_CALL_FROM_UNUSED,
    FF_CALL_FROM_IN_USE, /* refs references of each frame */
    FF_CALL_RAW_FREE,
    FF_CALL_GIVE_BACK,   /* end of run: a block the layer refused to take, returned to the
                            back-end as it handed it out (not judged as a free) */
    FF_CALL_RESERVE,     /* leak check: a block asked for and never taken */
    FF_CALL_NONE,        /* an operation that calls no layer function (check, write) */
} ff_layer_call;

typedef struct ff_layer_result {
    ff_layer_call call;
    ff_meta_status status;
    ff_pfn start;   /* the frames the call was about (alloc: the handle returned) */
    uint64_t count;
    uint32_t refs;  /* FF_CALL_FROM_IN_USE */
} ff_layer_result;

/* A baseline taken on the fresh back-end, before any operation: what a just-built
 * instance already does is its design, not a finding (bsa's frame-0 quirk). */
typedef struct ff_oracle_baseline {
    uint64_t free_frames;      /* its counter */
    char check[160];           /* its invariant walk's verdict, "" when it holds */
    /* The leak check's blocks (ff_oracle_drain_plan), and which of them a fresh
     * instance gave: only those must be given again at the end. */
    ff_alloc_req *drain;
    bool *drain_fresh_ok;
    size_t ndrain;
} ff_oracle_baseline;

typedef struct ff_oracle ff_oracle;

/* An oracle for runs over `space`. NULL on host memory. */
ff_oracle *ff_oracle_create(const ff_space *space);
void ff_oracle_destroy(ff_oracle *o);

/* Blocks that together make up all usable RAM, as the back-end's placement policy
 * would hand them out, largest first: the leak check asks for each at the end. The
 * caller frees reqs. False on host memory. */
bool ff_oracle_drain_plan(const ff_space *space, const ff_policy *policy, ff_alloc_req **reqs,
                          size_t *n);
/* Fills b for the fresh instance behind m (its free counter and invariant walk; the
 * drain plan is the caller's to run, recording successes). */
bool ff_oracle_baseline_init(ff_oracle_baseline *b, ff_meta *m, const ff_space *space);
void ff_oracle_baseline_free(ff_oracle_baseline *b);

/* Judges a concurrent run on these CPUs (NULL: one CPU, the default): each CPU's
 * operation in flight is its own (op_begin/op_end name the running CPU's), the
 * layer's refcount events are judged as they come, and comparisons of the layer's
 * slots with the shadow wait until no other operation is half done. */
void ff_oracle_set_cpus(ff_oracle *o, const ff_cpus *cpus);
/* Why the program's own misuse ended the judging of this run, or NULL: with CPUs, a raw
 * free of frames another CPU was being handed, on a back-end that keeps in-band bytes
 * (that CPU then writes its frames, which the back-end holds free); a raw free of frames
 * in a per-CPU cache (they are then both free and cached). */
const char *ff_oracle_blind(const ff_oracle *o);

/* Starts judging a run on m (fresh or just reset): O(frames touched by the last run).
 * `name`, the back-end's name in findings, must outlive the run. */
void ff_oracle_begin(ff_oracle *o, ff_meta *m, const char *name, const ff_oracle_baseline *b);

/* The layer observer (ff_meta_opts.observer, with the oracle as context). */
void ff_oracle_observe(void *oracle, const ff_event *ev);

/* Brackets one operation. */
void ff_oracle_op_begin(ff_oracle *o, size_t index, ff_layer_call call);
void ff_oracle_op_end(ff_oracle *o, const ff_layer_result *r);
/* The program writes one byte into frame pfn at offset: false when the oracle advises
 * skipping it (it would overwrite the in-band bytes of a frame the back-end holds
 * free: corruption no back-end can defend against). */
bool ff_oracle_write(ff_oracle *o, ff_pfn pfn, uint32_t offset, uint8_t value);
/* The program is about to drop [start, +count) (after op_begin): with poisoning on,
 * each frame it holds since a checked hand-out must hold the poison it was handed out
 * with, but for the bytes the program wrote. Anything else is inuse-corrupted. (The
 * same check runs after every back-end alloc and free while the program holds few such
 * frames.) With CPUs, the program's references to them go here, not when the drop
 * returns: another CPU may be handed the frames, or end a drop of the same frames,
 * before it does. */
void ff_oracle_drop_begin(ff_oracle *o, ff_pfn start, uint64_t count);
/* The back-end's invariant walk answered verdict (NULL = holds). */
void ff_oracle_check(ff_oracle *o, const char *verdict);

/* End of run, after every handle was dropped: allocations the layer refused to take
 * (hardened, bad hand-out) are still out, whole or in part; calls fn for each so the
 * executor can give them back (as FF_CALL_GIVE_BACK). */
void ff_oracle_orphans(ff_oracle *o, void (*fn)(void *ctx, ff_pfn start, uint64_t count),
                       void *ctx);
/* Starts the leak check: from here a failed allocation the shadow says must succeed
 * is a leak. Reports frames that never came back and a counter off its baseline. */
void ff_oracle_leak_begin(ff_oracle *o);

/* Called for every finding as it is made (the executor collects them; a fuzzer's
 * harness aborts): may not return. */
void ff_oracle_on_finding(ff_oracle *o, void (*fn)(void *ctx, const ff_finding *f), void *ctx);

/* What the shadow holds for a free of [start, +count) right now, before the back-end
 * answers, under the back-end's free rule: how a validating back-end must answer it.
 * Used by the executor's differential check. */
typedef enum ff_free_kind {
    FF_FREE_KIND_VALID,
    FF_FREE_KIND_INVALID, /* zero count or wrapping range */
    FF_FREE_KIND_FOREIGN, /* some frame is not usable RAM below the top */
    FF_FREE_KIND_UNOWNED, /* free frames never handed to whoever frees them */
    FF_FREE_KIND_DOUBLE,  /* free frames that came back from their own allocation */
    FF_FREE_KIND_MISALIGNED,
    FF_FREE_KIND_WRONG_SIZE,
} ff_free_kind;
ff_free_kind ff_oracle_classify_free(const ff_oracle *o, ff_pfn start, uint64_t count);
const char *ff_free_kind_name(ff_free_kind kind);

/* Whether a request is malformed under the back-end's policy (must be rejected). */
bool ff_oracle_request_malformed(const ff_policy *policy, const ff_alloc_req *req);

/* Whether the request may fail now: malformed, or no block the placement policy
 * guarantees is free in the shadow. */
bool ff_oracle_alloc_may_fail(const ff_oracle *o, const ff_alloc_req *req);

/* Whether two answers to the same request agree: equal, or both refusals with at
 * least one of them FF_ERR_REJECTED (a refusal that gives no reason). */
bool ff_status_agree(ff_status a, ff_status b);

#endif
