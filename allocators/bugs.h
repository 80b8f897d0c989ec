/*
 * bugs.h — the injected-bug suite: deliberate, labelled bugs in framefuzz's own
 * back-ends and metadata layer, so that how fast framefuzz finds each kind of allocator
 * bug can be measured on bugs whose ground truth is known (`framefuzz bugs`).
 *
 * Every bug is one site in the normal source (freelist-double-free-cycle is two: freelist
 * checks every node it walks, so a cycle needs a second slip), written
 *
 *     if (FF_BUG(env->bug, BUDDY_MAX_ORDER_LOST, order == max)) { ...the bug... }
 *
 * and is off unless a run names it (--ff-bug=NAME, FRAMEFUZZ_BUG, `repro --bug`): the
 * instance's switch (ff_env.bug, ff_meta_opts.bug) is FF_BUG_NONE otherwise. An
 * inactive site costs a compare and a branch, and the out-of-line call it guards some
 * register pressure (buddy's hot free path measured ~6% slower in a micro-benchmark; the
 * harnesses not measurably). No copy of a back-end exists: the harnesses users fuzz
 * with are the ones measured.
 *
 * Each site is a canary, as in Magma: a site executed while its bug is switched on
 * counts as *reached*, and when the condition that makes the bug act holds, as
 * *triggered*. A trial can then tell "never got there" from "got there, unnoticed".
 * The counts are process-wide, like the heap: framefuzz is single-threaded.
 *
 * Each bug names the finding it must produce, "class@where" ("layer" bugs show on
 * whichever back-end runs under the layer, "pcp" bugs on any back-end behind per-CPU
 * caches, pcp:NAME): a trial counts only when that class is found on that target.
 */
#ifndef FF_BUGS_H
#define FF_BUGS_H

#include <stdbool.h>
#include <stdint.h>

/* X(ID, name, where, expected class, what the bug does) */
#define FF_BUG_LIST(X)                                                                       \
    X(BUDDY_FOREIGN_FREE, "buddy-foreign-free", "buddy", "accepted-foreign-free",            \
      "free takes frames in a hole or reserved range inside the span, unchecked")            \
    X(BUDDY_DOUBLE_FREE_MERGED, "buddy-double-free-merged", "buddy", "accepted-double-free", \
      "the double-free check looks at the block's own order only: a block already "          \
      "merged into a larger free block is freed again")                                      \
    X(BUDDY_MISALIGNED_MERGE, "buddy-misaligned-merge", "buddy", "accepted-misaligned-free", \
      "a free lying inside one allocation is accepted and merged, wherever it starts")       \
    X(BUDDY_MAX_ORDER_LOST, "buddy-max-order-lost", "buddy", "spurious-oom",                 \
      "a merge that reaches the maximum order (1 GiB: pc-4g holds such a block) forgets to " \
      "list the block, so a later request it could serve fails")                             \
    X(BUDDY_ROUNDING_LEAK, "buddy-rounding-leak", "buddy", "leak",                           \
      "a non-power-of-two allocation keeps the rounded block: the excess is never freed")    \
    X(BUDDY_ZONE_MERGE, "buddy-zone-merge", "buddy", "out-of-zone-alloc",                    \
      "a run of RAM crossing a zone boundary is freed into the zone it began in: its chunks " \
      "past the boundary are listed, and merge with their buddies, there")                   \
    X(BUDDY_HOLE_MERGE, "buddy-hole-merge", "buddy", "out-of-map-alloc",                     \
      "a buddy with no RAM in it (a hole or reserved range) counts as free: buddies merge "  \
      "across it")                                                                           \
    X(BITMAP_ALLOC_ZERO, "bitmap-alloc-zero", "bitmap", "accepted-bad-request",              \
      "alloc(0) succeeds and consumes a frame")                                              \
    X(BITMAP_TAIL_BITS, "bitmap-tail-bits", "bitmap", "out-of-map-alloc",                    \
      "the bits past the end of RAM in the last bitmap word start out free, inside the "     \
      "searched span")                                                                       \
    X(BITMAP_WORD_BOUNDARY, "bitmap-word-boundary", "bitmap", "double-handout",              \
      "a run taken at the next-fit hint that crosses a 64-frame word boundary is handed out " \
      "one frame early")                                                                     \
    X(BITMAP_HINT_DRIFT, "bitmap-hint-drift", "bitmap", "accounting-drift",                  \
      "a free below the next-fit hint moves the hint but not the free counter")              \
    X(BITMAP_EARLY_GIVEUP, "bitmap-early-giveup", "bitmap", "spurious-oom",                  \
      "the search gives up after two rejected candidates (spurious out-of-memory)")          \
    X(FREELIST_COALESCE_OVERLAP, "freelist-coalesce-overlap", "freelist",                    \
      "structural-corruption",                                                               \
      "a free coalesces with an extent one frame away as if adjacent: the merged extent "    \
      "swallows the allocated frame between them")                                           \
    X(FREELIST_DOUBLE_FREE_CYCLE, "freelist-double-free-cycle", "freelist", "hang",          \
      "a double free at the head of the list is linked to itself before it is refused, and " \
      "the walk's order check lets a self-link through: the list becomes a cycle")           \
    X(FREELIST_EARLY_GIVEUP, "freelist-early-giveup", "freelist", "spurious-oom",            \
      "first fit stops at the first extent too small for the request")                       \
    X(LAYER_REFCOUNT_WRAP, "layer-refcount-wrap", "layer", "refcount-misuse",                \
      "the refcount overflow check tests for a 32-bit wrap, not for the maximum")            \
    X(LAYER_FROM_UNUSED_OWNED, "layer-from-unused-owned", "layer", "refcount-misuse",        \
      "hardened from_unused takes frames the allocator owns")                                \
    X(LAYER_FREED_KEEPS_SLOT, "layer-freed-keeps-slot", "layer", "metadata-mismatch",        \
      "a frame given back to the back-end keeps a live metadata slot")                          \
    X(LAYER_LOCK_IRQ_UNSAFE, "layer-lock-irq-unsafe", "layer", "irq-deadlock",                \
      "with several CPUs, the allocator lock is taken without disabling interrupts: a free "  \
      "from an interrupt on the CPU holding it spins on it")                                  \
    X(LAYER_CHECK_THEN_ACT, "layer-check-then-act", "layer", "refcount-race",                 \
      "with several CPUs, hardened from_in_use checks a frame's count, then adds to it: "     \
      "another CPU may drop the last reference in between")                              \
    X(PCP_DRAIN_ALL_ABBA, "pcp-drain-all-abba", "pcp", "lock-order-cycle",                    \
      "per-CPU caches: an allocation the back-end cannot serve drains every cache while the " \
      "allocator lock is still held, taking cache locks inside it: the reverse of a refill's " \
      "order")                                                                                \
    X(PCP_DRAIN_LEAVES_ENTRY, "pcp-drain-leaves-entry", "pcp", "double-handout",              \
      "per-CPU caches: a drain gives its runs back to the back-end but leaves the last of "   \
      "them listed: the cache hands it out while the back-end holds it free")              \
    X(PCP_DRAIN_UNLOCKED, "pcp-drain-unlocked", "pcp", "data-race",                         \
      "per-CPU caches, with CPUs: a drain gives its runs back to the back-end without the "  \
      "allocator lock, while other CPUs call the back-end under it")                         \
    X(PCP_REFILL_PUBLISH_EARLY, "pcp-refill-publish-early", "pcp", "double-handout",          \
      "per-CPU caches: a refill lists each slot before the back-end gives its run, and a "   \
      "refusal leaves the slot listed with a stale run, which the cache hands out")          \
    X(ASTERINAS_CACHE_IRQ_ON, "asterinas-cache-irq-on", "asterinas", "data-race",            \
      "asterinas model: dealloc touches its CPU's cache without disabling local interrupts: " \
      "an interrupt on that CPU may reach the same cache in the middle of it")

typedef enum ff_bug {
    FF_BUG_NONE,
#define FF_BUG_ENUM(id, name, where, expect, summary) FF_BUG_##id,
    FF_BUG_LIST(FF_BUG_ENUM)
#undef FF_BUG_ENUM
    FF_BUG_COUNT
} ff_bug;

typedef struct ff_bug_info {
    const char *name;    /* e.g. "buddy-max-order-lost" */
    const char *where;   /* the back-end it lives in, or "layer" */
    const char *expect;  /* the oracle class that must find it */
    const char *summary; /* one line for `framefuzz list` */
} ff_bug_info;

/* Every bug but FF_BUG_NONE; NULL for FF_BUG_NONE or out of range. */
const ff_bug_info *ff_bug_info_of(ff_bug bug);
/* True with *bug set for a known name ("none" is FF_BUG_NONE). */
bool ff_bug_parse(const char *name, ff_bug *bug);

typedef struct ff_canary {
    uint64_t reached;   /* the site ran while its bug was on */
    uint64_t triggered; /* ... and the bug acted */
} ff_canary;

ff_canary ff_bug_canary(ff_bug bug);
void ff_bug_canary_reset(void);
/* The site's record keeping; returns `acts`. Use FF_BUG, not this. */
bool ff_bug_site(ff_bug bug, bool acts);

/* True when `bug` is the instance's switched-on bug and `acts`; records the canary.
 * `acts` is evaluated only when the bug is on. */
#define FF_BUG(active, ID, acts) ((active) == FF_BUG_##ID && ff_bug_site(FF_BUG_##ID, (acts)))

#endif
