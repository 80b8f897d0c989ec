/*
 * backend.h — the contract between framefuzz and a frame allocator back-end.
 *
 * A back-end is one C file that defines one `const ff_backend_def ff_backend_<name>`
 * and one line `FF_BACKEND(<name>)` in backends.def. It sees this header and nothing
 * else of framefuzz: not the metadata layer, not the oracle, not the frame space.
 *
 * What a back-end is given
 *   - the usable RAM as sorted, disjoint frame ranges, already split at zone
 *     boundaries (a range never straddles 16 MiB or 4 GiB);
 *   - an ff_env: the step hook every loop must call, and (when the policy asks for
 *     it) access to the host memory backing each simulated frame.
 *
 * What it must do
 *   - allocate `count` contiguous frames aligned to `align` frames, below the end
 *     of zone `zone`, or say why not;
 *   - free what its free rule (ff_free_rule) says names an allocation, answering
 *     success or one rejection code (a specific one, or FF_ERR_REJECTED when it does
 *     not tell reasons apart); a rejected free changes no state (validating back-ends
 *     only, see `validates_frees`);
 *   - optionally report its own free-frame counter (never recomputed: drift is a
 *     finding; without one there is no drift check);
 *   - optionally walk its own invariants.
 *
 * What it declares (ff_policy) is all an oracle knows of it: the oracle judges every
 * answer against the policy and never looks inside.
 *
 * Leaving a call early. Every loop in a back-end calls ff_step(env) once per
 * iteration. When a harness sets a step budget (it grows with the map and with the
 * frames the request names, up to 2^24 or the map's size), exhausting it leaves the
 * back-end through the hang handler and the operation is reported as a hang, named
 * after the call and the function that spent the budget: deterministic, with no wall
 * clock involved. A loop that never calls ff_step is caught only by the campaign's
 * wall-clock limit per input, much later. An allocator's own assertion calls
 * ff_panic(env, ...), which leaves the call the same way: a panic on a bad request
 * counts as the allocator catching it, a panic on a valid one is a finding
 * (allocator-panic); the run ends there either way. A back-end
 * left through either is never called again, except for destroy: its state (and any
 * global of its own) may be half-updated, so destroy must not trust it, and create
 * must build every instance from scratch.
 *
 * Several instances at once. framefuzz keeps one instance per memory map, semantics
 * and poison setting it has run (a fuzzer switches between them from one input to the
 * next), and calls them interleaved: everything an instance needs must hang off its
 * `self`. An allocator written around globals (a kernel's `kmem`) saves them into its
 * instance and loads those of `self` at the start of every hook when `self` is not
 * the instance it last ran (plugins/kmem.c shows how).
 *
 * Memory. An allocator that keeps structures inside the managed frames (in-band free
 * lists, headers) declares needs_backing and reaches frames in one of two ways.
 *   - Frame by frame: env->frame_mem(env->space, pfn) returns a frame's 4 KiB, made
 *     (filled with poison) the first time it is asked for in a run. All frames are
 *     one contiguous mapping, so frame_mem(space, 0) + pfn * FF_FRAME_SIZE is frame
 *     pfn, but only once frame_mem has been called for pfn in this run: before that,
 *     memory reached through a base holds whatever an earlier run left there, and a
 *     later frame_mem call (the program writing into a frame) re-fills the frame over
 *     what the allocator wrote. Cheapest: a run costs only the frames it asked for.
 *   - Through one base, as a kernel does (`base + pfn * 4096`): create calls
 *         unsigned char *base = ff_frame_base(env);
 *     before any frame_mem call, and every frame is valid through base for the whole
 *     run, zero at its start (the pristine pattern of such a run, instead of the
 *     usual poison). Nothing is ever filled behind the allocator's back. A run costs
 *     one system call more and a page fault per frame it writes. plugins/xv6.c
 *     reaches its in-band links this way.
 * An allocator that keeps its own metadata in frames it manages (a bitmap in the first
 * frames of RAM) takes them at create with ff_keep_frames(env, start, count): from
 * then on they are its own, never free, never expected back, and a free or hand-out
 * of one is judged as such.
 */
#ifndef FF_BACKEND_H
#define FF_BACKEND_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- frames and zones */

/* A frame is 4 KiB of simulated physical memory named by its frame number (pfn =
 * paddr >> 12). Physical addresses go up to 2^52, so a pfn needs 40 bits: it is
 * always a uint64_t, never an int. The rest of framefuzz speaks this vocabulary too. */
#define FF_FRAME_SHIFT 12
#define FF_FRAME_SIZE  (UINT64_C(1) << FF_FRAME_SHIFT)
/* Highest physical address bit the space accepts (x86-64 MAXPHYADDR is at most 52). */
#define FF_PADDR_BITS  52
#define FF_PFN_LIMIT   (UINT64_C(1) << (FF_PADDR_BITS - FF_FRAME_SHIFT))

typedef uint64_t ff_pfn;

/* x86 zones, as Linux draws them. Requests name the highest zone they accept. */
typedef enum ff_zone {
    FF_ZONE_DMA = 0,    /* below 16 MiB (ISA DMA) */
    FF_ZONE_DMA32 = 1,  /* below 4 GiB (32-bit devices) */
    FF_ZONE_NORMAL = 2, /* everything else */
    FF_ZONE_COUNT
} ff_zone;

#define FF_ZONE_DMA_END_PFN   (UINT64_C(16) << (20 - FF_FRAME_SHIFT))
#define FF_ZONE_DMA32_END_PFN (UINT64_C(4) << (30 - FF_FRAME_SHIFT))

static inline ff_zone ff_zone_of(ff_pfn pfn)
{
    if (pfn < FF_ZONE_DMA_END_PFN) return FF_ZONE_DMA;
    if (pfn < FF_ZONE_DMA32_END_PFN) return FF_ZONE_DMA32;
    return FF_ZONE_NORMAL;
}

/* First pfn past the end of a zone (FF_PFN_LIMIT for Normal). */
static inline ff_pfn ff_zone_end(ff_zone zone)
{
    switch (zone) {
    case FF_ZONE_DMA: return FF_ZONE_DMA_END_PFN;
    case FF_ZONE_DMA32: return FF_ZONE_DMA32_END_PFN;
    default: return FF_PFN_LIMIT;
    }
}

const char *ff_zone_name(ff_zone zone);

/* A run of frames [start, start + count). */
typedef struct ff_range {
    ff_pfn start;
    uint64_t count;
} ff_range;

static inline ff_pfn ff_range_end(ff_range r) { return r.start + r.count; }

/* Small bit helpers used by several layers. */
static inline bool ff_is_pow2(uint64_t x) { return x && !(x & (x - 1)); }

/* floor(log2(x)) for x > 0. */
static inline unsigned ff_log2(uint64_t x) { return 63u - (unsigned)__builtin_clzll(x); }

/* ceil(log2(x)) for x > 0. */
static inline unsigned ff_log2_ceil(uint64_t x) { return x <= 1 ? 0 : ff_log2(x - 1) + 1; }

/* ---------------------------------------------------------------- answers */

typedef enum ff_status {
    FF_OK = 0,
    FF_ERR_FOREIGN,     /* free: some frame is not RAM this back-end manages */
    FF_ERR_DOUBLE,      /* free: some frame is managed but already free */
    FF_ERR_MISALIGNED,  /* free: start lies inside an allocation, not at its first frame */
    FF_ERR_WRONG_SIZE,  /* free: right start, but not the allocation's frame count */
    FF_ERR_INVALID,     /* malformed request (see ff_alloc_req) or free (zero count, wraps) */
    FF_ERR_NOMEM,       /* alloc: no block satisfies the request */
    FF_ERR_UNSUPPORTED, /* the back-end does not offer this (e.g. a zone limit) */
    FF_ERR_REJECTED,    /* refused, reason not given: for allocators with one error code
                           (a NULL, a -EINVAL). A valid answer to any bad free and to any
                           request that may fail; in differential runs it agrees with
                           every specific refusal */
    FF_STATUS_COUNT
} ff_status;

const char *ff_status_name(ff_status status);

/* ---------------------------------------------------------------- requests */

/* A request is malformed, and must be answered FF_ERR_INVALID with no change of state,
 * when its count is 0, its align is neither 0, 1 nor a power of two, its zone is not a
 * zone, its count or align exceeds FF_PFN_LIMIT, or (unless max_order is FF_ORDER_ANY)
 * its count, its
 * align or, for power-of-two placement, 2^ceil(log2(max(count, align))) exceeds
 * 2^max_order. Any other request that cannot be met is FF_ERR_NOMEM. */
typedef struct ff_alloc_req {
    uint64_t count; /* frames wanted; 0 is a malformed request */
    uint64_t align; /* required alignment in frames: a power of two; 0 or 1 = none */
    ff_zone zone;   /* highest zone the block may lie in (FF_ZONE_NORMAL = anywhere) */
} ff_alloc_req;

/* ---------------------------------------------------------------- policy */

typedef enum ff_placement {
    /* Blocks are power-of-two sized and naturally aligned: a request of n frames with
     * alignment a returns a start aligned to 2^ceil(log2(max(n, a))). Guarantee: if a
     * free, naturally aligned block of that order lies inside one zone, within the
     * request's zone limit, the allocation succeeds. */
    FF_PLACE_POW2_NATURAL,
    /* Any contiguous run aligned as requested. Guarantee: if such a run of free frames
     * lies within the zone limit, the allocation succeeds. */
    FF_PLACE_ANY_RUN,
    /* A start aligned as requested and no more (a buddy system whose per-CPU caches
     * hand out runs cut from larger blocks: three frames at +3). Guarantee as
     * FF_PLACE_POW2_NATURAL: a free, naturally aligned block of 2^ceil(log2(max(n, a)))
     * frames (at least 2^fit_order) inside one zone, within the limit, is served. */
    FF_PLACE_AS_ASKED,
} ff_placement;

typedef enum ff_rounding {
    FF_ROUND_NONE, /* reserves exactly the frames asked for (excess is given back) */
    FF_ROUND_POW2, /* reserves 2^ceil(log2(max(count, align))) frames, keeping the excess */
} ff_rounding;

typedef enum ff_free_rule {
    FF_FREE_EXACT,      /* a free names one allocation: its first frame and the count
                           that was requested */
    FF_FREE_PIECEWISE,  /* any run of allocated frames may be freed, in any order */
    FF_FREE_SIZE_CLASS, /* a free names one allocation: its first frame and any count of
                           the same power-of-two size class as the count requested or
                           the block reserved (free 4 frames of a 3-frame allocation);
                           the whole block comes back. Needs FF_ROUND_POW2 */
    FF_FREE_BY_ADDRESS, /* a free names one allocation by its first frame alone (kfree,
                           free_pages without an order): the count framefuzz passes
                           means nothing, and the whole allocation comes back */
} ff_free_rule;

/* max_order of a back-end whose blocks are limited only by the RAM. */
#define FF_ORDER_ANY 255u

typedef struct ff_policy {
    ff_placement placement;
    ff_rounding rounding;
    ff_free_rule free_rule;
    unsigned max_order;      /* largest block is 2^max_order frames; count and align are
                                limited to it (0: single frames only; FF_ORDER_ANY: no
                                limit beyond the RAM) */
    bool validates_frees;    /* false only for known-buggy reference models */
    bool honours_zone;       /* false: a zone-limited request answers UNSUPPORTED */
    bool honours_align;      /* false: align beyond the natural one answers UNSUPPORTED */
    bool needs_backing;      /* keeps its structures inside free frames (ff_env.frame_mem) */
    uint32_t inband_bytes;   /* bytes at the start of a free frame it may write; the rest
                                of a free frame must keep its poison */
    uint8_t fit_order;       /* power-of-two placements: the guarantee needs a free block
                                of at least 2^fit_order frames, whatever the request (a
                                cache refilled in batches asks the buddy for a batch);
                                0 for none */
    bool locks_itself;       /* called without framefuzz's allocator lock, from several
                                CPUs at once: it guards its state with ff_spin_lock and
                                per-CPU state with interrupts off (see "Concurrency") */
} ff_policy;

/* ---------------------------------------------------------------- environment */

/* The CPUs a back-end may be called on: ff_cpu_id is below it. */
#define FF_MAX_CPUS 8

/* Why a back-end call was left early (the value ff_step and ff_panic longjmp with). */
typedef enum ff_exit {
    FF_EXIT_HANG = 1,     /* the step budget was exhausted */
    FF_EXIT_PANIC = 2,    /* the allocator's own assertion failed (ff_panic) */
    FF_EXIT_DEADLOCK = 3, /* it took a spinlock its own CPU holds (ff_spin_lock) */
} ff_exit;

/* A spinlock of a back-end that locks itself (ff_spin_lock below). Zero but the name
 * when free: FF_SPINLOCK("the global pool lock") initialises one. */
typedef struct ff_spinlock {
    const char *name; /* its class: locks of one name are one node of the lock-order
                         graph, and reports name it */
    int32_t holder;   /* framefuzz's: 1 + the CPU holding it, 0 when free */
    uint8_t cls;      /* framefuzz's: 1 + its class, 0 before its first use */
    bool holder_in_irq; /* framefuzz's */
    uint16_t touched, unlocked; /* framefuzz's: who touched what it guards (ff_guarded) */
} ff_spinlock;

#define FF_SPINLOCK(label) ((ff_spinlock){.name = (label)})

typedef struct ff_env {
    uint64_t steps;       /* steps taken by the current operation */
    uint64_t step_budget; /* 0 = unbounded */
    jmp_buf *on_hang;     /* where ff_step and ff_panic leave a call (NULL: they abort) */
    /* Host memory backing simulated frame `pfn` (FF_FRAME_SIZE bytes), or NULL when the
     * space has no backing memory. Only for back-ends whose policy says needs_backing. */
    void *(*frame_mem)(void *space, ff_pfn pfn);
    void *space;
    /* framefuzz's own back-ends: the injected bug switched on, an ff_bug of the header
     * only they include (bugs.h); 0 when none. A plug-in ignores it. */
    int bug;
    /* framefuzz's side of ff_step_exhausted, ff_panic and ff_keep_frames (set by the
     * metadata layer; a plug-in never touches them). Fields are only ever appended, so
     * a plug-in built against an older header still reads the ones above. */
    void (*on_exit)(struct ff_env *env, ff_exit why, const char *message);
    void (*on_keep)(struct ff_env *env, ff_pfn start, uint64_t count);
    void *(*on_base)(struct ff_env *env);
    /* The instance will be put back with `reset` before every input (framefuzz's
     * layer): keep an undo log (ff_undo_start). Elsewhere (a benchmark) it is not. */
    bool resets;
    /* framefuzz's side of ff_cpu_id (NULL: one CPU). */
    unsigned (*on_cpu)(const struct ff_env *env);
    /* framefuzz's side of ff_spin_lock/unlock, ff_irq_disable/enable and ff_cpu_local
     * (NULL: no-ops, as in a benchmark). */
    void (*on_spin)(struct ff_env *env, ff_spinlock *lock, bool take);
    void (*on_irq)(struct ff_env *env, bool disable);
    void (*on_cpu_local)(struct ff_env *env);
    void (*on_guarded)(struct ff_env *env, ff_spinlock *lock);
} ff_env;

/* The simulated CPU the current call runs on (0 .. FF_MAX_CPUS - 1; 0 outside
 * framefuzz's layer), for per-CPU state: what a kernel's this_cpu reads. The layer
 * calls a back-end under its allocator lock with local interrupts off, so per-CPU
 * state needs no lock of its own; which CPU frees what is the program's choice. */
static inline unsigned ff_cpu_id(const ff_env *env)
{
    return env->on_cpu ? env->on_cpu(env) : 0;
}

/* ---------------------------------------------------------------- concurrency
 *
 * A back-end whose policy says locks_itself is called without framefuzz's allocator
 * lock: calls on several simulated CPUs run at once, interleaved where they pass one
 * of the points below, as the real code runs under its own locks. Between two points
 * a CPU runs alone. Outside framefuzz's layer (a benchmark) they do nothing.
 *   ff_spin_lock    a spinlock taken with local interrupts off (Linux's
 *                   spin_lock_irqsave, ostd's SpinLock<_, LocalIrqDisabled>): a CPU
 *                   that finds it held waits; its holder taking it again (its
 *                   interrupt handler included) is a self-deadlock that ends the run;
 *                   taking two classes in both orders is a lock-order cycle.
 *   ff_irq_disable  local interrupts off, nested (ostd's disable_local guard).
 *   ff_cpu_local    an access to the running CPU's own per-CPU state. With interrupts
 *                   on, an interrupt handler on this CPU may reach the same state in the
 *                   middle of it: two such contexts touching it, one with interrupts
 *                   on, is a data-race.
 *   ff_guarded      an access to shared state `lock` guards: two contexts touching it,
 *                   one without holding the lock, is a data-race (a lockset check, as
 *                   Eraser's), whatever this run's interleaving did with them.
 * The calls of such a back-end may reach it in any order of their answers; framefuzz
 * judges them as they could have happened (docs/concurrency.md). */
static inline void ff_spin_lock(ff_env *env, ff_spinlock *lock)
{
    if (env->on_spin) env->on_spin(env, lock, true);
}

static inline void ff_spin_unlock(ff_env *env, ff_spinlock *lock)
{
    if (env->on_spin) env->on_spin(env, lock, false);
}

static inline void ff_irq_disable(ff_env *env)
{
    if (env->on_irq) env->on_irq(env, true);
}

static inline void ff_irq_enable(ff_env *env)
{
    if (env->on_irq) env->on_irq(env, false);
}

static inline void ff_cpu_local(ff_env *env)
{
    if (env->on_cpu_local) env->on_cpu_local(env);
}

static inline void ff_guarded(ff_env *env, ff_spinlock *lock)
{
    if (env->on_guarded) env->on_guarded(env, lock);
}

/* Called when env->steps passes env->step_budget; does not return. */
_Noreturn void ff_step_exhausted(ff_env *env);

/* The step hook: one call per loop iteration in every back-end. */
static inline void ff_step(ff_env *env)
{
    if (++env->steps > env->step_budget && env->step_budget)
        ff_step_exhausted(env);
}

/* The allocator's assertion failed: for an allocator's own BUG_ON/assert macro. Leaves
 * the call (does not return) and ends the run; the trace shows the message, and the
 * oracle judges whether the request deserved it (see the top of this file). Only from
 * alloc, free and check. */
_Noreturn void ff_panic(ff_env *env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* From create only: frames [start, start + count) of the usable RAM are the
 * allocator's own from now on (where it keeps its metadata). They are never free,
 * never handed out and never expected back; they must be RAM it was given, and are
 * taken before anything else runs. */
void ff_keep_frames(ff_env *env, ff_pfn start, uint64_t count);

/* From create only, and before any frame_mem call: every frame through one pointer.
 * Frame pfn's 4 KiB are at base + pfn * FF_FRAME_SIZE for every pfn below the top of
 * the map, all of them valid and zero at the start of every run, with no frame_mem
 * call ever needed (see "Memory" at the top). NULL when the policy does not declare
 * needs_backing, or outside framefuzz's layer; create then fails with the reason. */
void *ff_frame_base(ff_env *env);

/* ---------------------------------------------------------------- operations */

typedef struct ff_backend_def {
    const char *name;    /* short, [a-z0-9_-] */
    const char *summary; /* one line for `framefuzz list` */
    ff_policy policy;

    /* Build an allocator over `ranges` (sorted, disjoint, zone-split usable RAM). All
     * of it starts free. Returns NULL when the back-end cannot manage such a space
     * (host memory exhausted); it must not crash on any range list. */
    void *(*create)(ff_env *env, const ff_range *ranges, size_t nranges);
    void (*destroy)(void *self);

    ff_status (*alloc)(void *self, const ff_alloc_req *req, ff_pfn *start);
    ff_status (*free)(void *self, ff_pfn start, uint64_t count);

    /* Optional (NULL = no counter, no drift check): the back-end's own count of free
     * frames (kept frames are not free). */
    uint64_t (*free_frames)(const void *self);

    /* Optional (NULL = unsupported): walk every invariant of the back-end's own
     * structures. Returns NULL when all hold, else a description of the first
     * violation (valid until the next call on this instance). */
    const char *(*check)(void *self);

    /* Optional (NULL = framefuzz destroys and re-creates the instance before every
     * input): put the instance back exactly as create left it, in time proportional
     * to what changed since (not to the map), with no system call — the fuzzer does
     * this before every input. An ff_undo (below) does it for arrays. False when it
     * cannot (e.g. its undo log ran out of host memory): framefuzz then destroys and
     * re-creates it. Never called on an instance left through the hang handler or
     * ff_panic. Same bytes in, same answers out: nothing observable may differ from a
     * fresh instance. */
    bool (*reset)(void *self);

    /* Optional (NULL = it keeps no frames away from other CPUs): give every frame held
     * per CPU (caches, CPU-local pools) back to the shared pools, as a CPU going offline
     * does. framefuzz calls it when an allocation fails and then asks once more, so a
     * refusal is judged with nothing held away, and before its leak check. The free
     * counter must not move. */
    void (*drain)(void *self);
} ff_backend_def;

/* The registry (backends.def): every back-end, in a stable order. */
extern const ff_backend_def *const ff_backends[];
extern const size_t ff_backend_count;
const ff_backend_def *ff_backend_find(const char *name);

/* Whether def keeps this contract as far as can be seen without running it: a name of
 * [a-z0-9_-], every required hook, a policy that can hold. False with a one-line
 * reason naming what is wrong (for plug-ins, whose authors need to hear it). */
bool ff_backend_validate(const ff_backend_def *def, char *err, size_t errlen);

/* ---------------------------------------------------------------- contiguous RAM */

/*
 * The ranges a back-end is given are split at zone boundaries, but RAM is contiguous
 * across those splits. ff_runs joins them back into maximal runs of contiguous RAM and
 * numbers RAM frames densely (`base`), so per-frame state can skip holes.
 */
typedef struct ff_run {
    ff_pfn start, end; /* frames [start, end) */
    uint64_t base;     /* RAM frames in the runs before this one */
} ff_run;

typedef struct ff_runs {
    ff_run *run;
    size_t count;
    uint64_t frames; /* RAM frames in all runs */
} ff_runs;

/* False, with nothing allocated, unless the ranges are sorted, disjoint and below
 * FF_PFN_LIMIT (empty ranges are skipped), or when host memory runs out. */
bool ff_runs_init(ff_runs *runs, const ff_range *ranges, size_t nranges);
void ff_runs_destroy(ff_runs *runs);
/* The run holding pfn, or NULL for a hole or a frame outside RAM: O(log runs). */
const ff_run *ff_runs_find(const ff_runs *runs, ff_pfn pfn);

/* ---------------------------------------------------------------- undo log */

/*
 * The old contents of memory a back-end changed since create, for `reset`: save a
 * location before writing it, and ff_undo_rewind puts every saved location back,
 * newest first, in O(saves). Saving is off until the back-end calls ff_undo_start at
 * the end of create (and stays off where nobody resets); from then on every write to
 * per-block or per-frame memory must be saved first (small fields of the instance
 * itself are cheaper to copy whole).
 */
#define FF_UNDO_MAX_BYTES 16
typedef struct ff_undo_entry {
    void *at;
    size_t size;
    unsigned char old[FF_UNDO_MAX_BYTES];
} ff_undo_entry;

typedef struct ff_undo {
    ff_undo_entry *log;
    size_t count, cap;
    bool on;   /* saving */
    bool lost; /* host memory ran out: the log is incomplete, reset must rebuild */
} ff_undo;

bool ff_undo_grow(ff_undo *u);

/* End of create: from here on, saves are kept if the instance will be reset. */
static inline void ff_undo_start(ff_undo *u, const ff_env *env) { u->on = env->resets; }

/* Remembers the `size` (at most FF_UNDO_MAX_BYTES) bytes at `at`, about to change. */
static inline void ff_undo_save(ff_undo *u, void *at, size_t size)
{
    if (!u->on || (u->count == u->cap && !ff_undo_grow(u))) return;
    ff_undo_entry *e = &u->log[u->count++];
    e->at = at;
    e->size = size;
    __builtin_memcpy(e->old, at, size);
}

/* Puts back everything saved, newest first, and empties the log. False (with nothing
 * put back) when nothing was being saved or the log is incomplete. */
bool ff_undo_rewind(ff_undo *u);
void ff_undo_destroy(ff_undo *u);

/* ---------------------------------------------------------------- host memory */

/*
 * Zero-filled host memory for a back-end's own arrays. Large requests are reserved
 * lazily (pages materialise when first touched), so a per-frame array over 1 TiB of
 * simulated RAM costs only what is used. Returns NULL on failure.
 */
void *ff_host_zalloc(size_t bytes);
void ff_host_free(void *p, size_t bytes);
/* ff_host_free for memory the caller has put back to all zero itself (e.g. from a log
 * of what it wrote): kept for reuse as it is, pages still in place, with no system
 * call. */
void ff_host_free_zeroed(void *p, size_t bytes);

#endif
