/*
 * meta.h — the refcounted frame metadata layer, shared by every back-end.
 *
 * Modelled on Asterinas' frame metadata: one slot per frame below the top of the map,
 * indexed by pfn. A handle holds one reference to each frame of a contiguous run.
 * Taking a frame builds its first reference (`from_unused`); `from_in_use` adds
 * references to frames already in use; dropping a handle drops one reference of each
 * of its frames, and a frame whose last reference goes is returned to the back-end.
 * This layer is the only caller of a back-end's alloc and free, and every such call
 * holds the (modelled, non-reentrant) allocator lock, unless the back-end locks itself
 * (policy.locks_itself): its calls then run on several CPUs at once, under its own
 * locks (backend.h, "concurrency"), and are told as they begin (FF_EV_CALL).
 *
 * Two semantics:
 *   asterinas-2024  faithful to Asterinas in 2024 (the #1760 seed). Refcount 0 means
 *                   unused, and from_unused takes any slot with refcount 0 — a frame
 *                   free inside the allocator, a reserved frame, a hole — because
 *                   non-usable memory has no metadata. Every failure panics. An
 *                   allocation builds its frames while still holding the allocator
 *                   lock, so a panic there unwinds, drops the frames built so far, and
 *                   their release re-enters the lock: the #1760 self-deadlock. Frames
 *                   go back one at a time (dealloc(pfn, 1)), as Page::drop did.
 *   hardened        as Asterinas later fixed it. Frames the allocator owns and every
 *                   non-usable frame are marked, so from_unused on them fails; the
 *                   lock is released before frames are built; a frame handed out that
 *                   is not the allocator's is refused; refcount overflow stops; errors
 *                   are values. Frames go back as maximal runs.
 * Both: a back-end whose free rule names allocations (exact, size class, by address)
 * gets an allocation back in one call, with the count it asked, once every frame of it
 * has been released (released frames wait, and cannot be taken meanwhile); a
 * FF_FREE_PIECEWISE back-end gets frames back as they go.
 *
 * Back-end calls run under a step budget that grows with the map and with the
 * request's count, and land here when the back-end hangs or panics (ff_panic): the
 * system is dead from then on, as after a kernel panic.
 *
 * Reset costs O(slots touched): every slot changed since the last reset is logged.
 */
#ifndef FF_META_H
#define FF_META_H

#include "backend.h"
#include "bugs.h"
#include "cpu.h"
#include "space.h"

typedef enum ff_semantics {
    FF_SEM_ASTERINAS_2024,
    FF_SEM_HARDENED,
    FF_SEM_COUNT
} ff_semantics;

const char *ff_semantics_name(ff_semantics sem);
const char *ff_semantics_summary(ff_semantics sem);
/* Returns false for an unknown name. */
bool ff_semantics_parse(const char *name, ff_semantics *sem);

/* Largest refcount; one more reference is an overflow. */
#define FF_REF_MAX UINT32_C(0x7fffffff)

typedef enum ff_meta_status {
    FF_META_OK,
    FF_META_NOT_ALIGNED,   /* address not frame-aligned */
    FF_META_OUT_OF_BOUND,  /* frame past the top of the map: it has no slot */
    FF_META_IN_USE,        /* from_unused: slot in use, pinned, owned by the allocator or pending */
    FF_META_UNUSED,        /* from_in_use or drop: the slot holds no reference */
    FF_META_OVERFLOW,      /* the refcount would pass FF_REF_MAX */
    FF_META_INVALID,       /* malformed request (zero count, range wraps) */
    FF_META_ALLOC_FAILED,  /* the back-end refused the allocation (see last.backend) */
    FF_META_FREE_REJECTED, /* the back-end refused a free (see last.backend) */
    FF_META_BAD_HANDOUT,   /* hardened: the back-end handed out a frame it does not own */
    FF_META_PANIC,         /* asterinas-2024: the kernel panicked (see last.reason) */
    FF_META_DEADLOCK,      /* the allocator lock was taken again by its holder */
    FF_META_HANG,          /* a back-end exhausted its step budget */
    FF_META_BACKEND_PANIC, /* the back-end's own assertion failed (ff_panic) */
    FF_META_DEAD,          /* an earlier panic, deadlock or hang stopped the system */
    FF_META_STATUS_COUNT
} ff_meta_status;

const char *ff_meta_status_name(ff_meta_status status);

/* A reference to each frame of [start, start + count). */
typedef struct ff_handle {
    ff_pfn start;
    uint64_t count;
} ff_handle;

/* What an observer (the oracle, a tracer) is told of, in order. */
typedef enum ff_event_kind {
    FF_EV_ALLOC,         /* back-end alloc answered: req, status, start */
    FF_EV_FREE,          /* back-end free answered: start, count, status */
    FF_EV_PANIC,         /* the kernel panicked: reason, lock_held */
    FF_EV_DEADLOCK,      /* the lock was re-entered by its holder: reason */
    FF_EV_HANG,          /* a back-end call exhausted its step budget: call, reason, where */
    FF_EV_BACKEND_PANIC, /* the back-end called ff_panic: call, req or start and count,
                            reason (its message), where */
    /* Concurrent runs only (ff_meta_set_cpus), one frame each (start): the refcount
     * atomics whose old or new value is 0, as they happen. */
    FF_EV_REF_ZERO,      /* a drop took the last reference: the frame goes back */
    FF_EV_REF_TAKE,      /* from_unused (or asterinas-2024's alloc) took a frame at 0 */
    FF_EV_REF_REVIVE,    /* from_in_use added to a count that was 0 when it added */
    /* Per-CPU caches (ff_meta_opts.pcp): frames between a CPU's cache and the program. */
    FF_EV_CACHE_TAKE,    /* the cache of `cpu` handed [start, +count) to an allocation */
    FF_EV_CACHE_PUT,     /* [start, +count), released, went into the cache of `cpu` */
    FF_EV_LOCK_ORDER,    /* two lock classes were taken in both orders (reason): a
                            deadlock waiting for the right interleaving, as lockdep
                            reports it; the system goes on */
    FF_EV_DATA_RACE,     /* with CPUs, state a lock guards (the back-end's, a cache's)
                            was touched by two contexts, one without the lock (reason);
                            the system goes on */
    FF_EV_CALL,          /* a back-end that locks itself is being called (call, start,
                            count): its answer (FF_EV_ALLOC, _FREE, _DRAIN) may come after
                            other calls', begun later, have answered */
    FF_EV_DRAIN,         /* the back-end's drain hook gave what it held per CPU back to
                            its shared pools (after an allocation it refused, which is
                            then asked again, or before the leak check) */
} ff_event_kind;

/* The back-end hooks the layer calls, as events name them. */
typedef enum ff_backend_call {
    FF_BCALL_ALLOC,
    FF_BCALL_FREE,
    FF_BCALL_CHECK,
    FF_BCALL_CREATE,
    FF_BCALL_DESTROY,
    FF_BCALL_RESET,
    FF_BCALL_DRAIN,
} ff_backend_call;

const char *ff_backend_call_name(ff_backend_call call);

typedef struct ff_event {
    ff_event_kind kind;
    const ff_alloc_req *req; /* FF_EV_ALLOC; FF_EV_HANG and _BACKEND_PANIC in an alloc */
    ff_status status;        /* FF_EV_ALLOC, FF_EV_FREE */
    ff_pfn start;            /* block returned, or first frame freed */
    uint64_t count;          /* frames freed */
    bool lock_held;          /* FF_EV_PANIC */
    bool in_irq;             /* FF_EV_DEADLOCK: re-entered from an interrupt handler */
    bool cache;              /* FF_EV_ALLOC: a refill of `cpu`'s cache, not a hand-out to
                                the program; FF_EV_FREE: a drain of that cache */
    uint8_t cpu;             /* with cache, and FF_EV_CACHE_*: whose cache */
    ff_backend_call call;    /* FF_EV_HANG, FF_EV_BACKEND_PANIC */
    const char *reason;      /* FF_EV_PANIC, FF_EV_DEADLOCK, FF_EV_HANG, _BACKEND_PANIC */
    const char *where;       /* FF_EV_HANG, FF_EV_BACKEND_PANIC: the back-end's function
                                that spent the budget or panicked ("" when unknown) */
} ff_event;

typedef void (*ff_observer)(void *ctx, const ff_event *event);

typedef struct ff_meta_opts {
    ff_semantics semantics;
    bool poison;          /* poison frames as they go back (needs backing memory) */
    uint64_t step_budget; /* per back-end call, plus 4 steps per frame the call names
                             (count, align: up to 2^24, or the map's top if larger);
                             0 = unbounded */
    ff_observer observer; /* may be NULL */
    void *observer_ctx;
    ff_bug bug;           /* the injected bug switched on (bugs.h), for the layer and its
                             back-end alike; FF_BUG_NONE otherwise */
    bool pcp;             /* per-CPU caches in front of the back-end (below) */
} ff_meta_opts;

/* Detail of the last operation, beyond its status. */
typedef struct ff_meta_last {
    ff_status backend; /* the back-end's answer to its last call */
    ff_pfn pfn;        /* the frame the status is about */
    char reason[208];  /* for PANIC, DEADLOCK, HANG, BACKEND_PANIC, BAD_HANDOUT */
    char where[96];    /* for HANG, BACKEND_PANIC: the back-end's function, or "" */
} ff_meta_last;

typedef struct ff_meta ff_meta;

/* Builds the layer and a back-end over the space's usable RAM. Backing memory is
 * enabled on the space when the back-end needs it or poisoning is asked for. Returns
 * NULL with a one-line reason in err. */
ff_meta *ff_meta_create(ff_space *space, const ff_backend_def *def, const ff_meta_opts *opts,
                        char *err, size_t errlen);
void ff_meta_destroy(ff_meta *m);
/* A fresh back-end, every slot and frame back to its initial state: O(touched).
 * Returns false if the back-end cannot be rebuilt (host memory). */
bool ff_meta_reset(ff_meta *m);

/* Allocates through the back-end and takes every frame returned (one reference each). */
ff_meta_status ff_meta_alloc(ff_meta *m, const ff_alloc_req *req, uint8_t usage, ff_handle *out);
/* Takes count frames from paddr on with from_unused. */
ff_meta_status ff_meta_from_unused(ff_meta *m, uint64_t paddr, uint64_t count, uint8_t usage,
                                   ff_handle *out);
/* Adds `refs` references to each frame of [paddr, paddr + count) (a bulk clone). The
 * handle returned stands for one of them; the caller drops the rest explicitly. */
ff_meta_status ff_meta_from_in_use(ff_meta *m, uint64_t paddr, uint64_t count, uint32_t refs,
                                   ff_handle *out);
/* Drops one reference of every frame of h (a whole handle or any piece of one). */
ff_meta_status ff_meta_drop(ff_meta *m, ff_handle h);
/* Asks the back-end for a block and takes none of its frames: the frames stay out of
 * circulation until reset. What a leak check uses to see which blocks the back-end
 * can still give, without the per-frame cost of taking them. */
ff_meta_status ff_meta_reserve(ff_meta *m, const ff_alloc_req *req, ff_pfn *start);
/* Frees [paddr, paddr + count frames) straight into the back-end, under the lock, as a
 * caller of dealloc() would; metadata is not consulted. */
ff_meta_status ff_meta_raw_free(ff_meta *m, uint64_t paddr, uint64_t count);

/* Runs the layer on simulated CPUs (NULL: one CPU, as by default). With CPUs, the
 * allocator lock is held per CPU (a CPU asking for it while another holds it waits;
 * its holder asking again is the self-deadlock), and every lock acquire and release
 * and every refcount atomic is a preemption point: each frame's refcount is its own
 * atomic, asterinas-2024's from_in_use checks before it adds (check-then-act), and
 * its drops leave a frame at refcount 0 ("unused") before it goes back. A death
 * (panic, deadlock, hang) halts the other CPUs. */
void ff_meta_set_cpus(ff_meta *m, ff_cpus *cpus);

/* Per-CPU caches (ff_meta_opts.pcp), as Linux puts per-CPU page lists in front of the
 * buddy and Asterinas a per-CPU cache of small runs. Each CPU keeps runs of 1 to
 * FF_PCP_RUN_MAX frames, by size, under a lock of its own, taken with interrupts off.
 * A request for such a run (no alignment, any zone) is served from the running CPU's
 * cache; an empty one is first refilled with FF_PCP_BATCH allocations of that size from
 * the back-end, under the allocator lock. A released allocation of such a size goes
 * into the cache; a full one (FF_PCP_HIGH runs) first drains its oldest FF_PCP_BATCH to
 * the back-end. An allocation the back-end cannot serve drains every CPU's cache and
 * is asked once more. Lock order: a cache's lock, then the allocator lock. Raw frees
 * and the leak check's reservations go to the back-end itself. Every refill and drain
 * is a back-end call the oracle judges as such (FF_EV_ALLOC and FF_EV_FREE with
 * `cache`); frames in a cache are the allocator's, not the program's. */
#define FF_PCP_RUN_MAX 4
#define FF_PCP_HIGH    8
#define FF_PCP_BATCH   4
/* Gives every run in every CPU's cache back to the back-end, and has a back-end with a
 * drain hook give back what it holds per CPU (end of a run, before its leak check).
 * False when the system died on the way. */
bool ff_meta_drain_caches(ff_meta *m);

/* What a CPU waiting on `resource` (ff_cpus_waiting_for) waits for: "the allocator
 * lock", "cpuN's cache lock", a back-end's lock by its name, or "a lock" for anything
 * else. */
const char *ff_meta_lock_name(const ff_meta *m, const void *resource);

/* The detail of the last operation of the CPU running now. */
const ff_meta_last *ff_meta_last_detail(const ff_meta *m);
bool ff_meta_dead(const ff_meta *m);

/* What the layer holds for one frame. */
typedef enum ff_slot_state {
    FF_SLOT_UNUSED,    /* may be taken with from_unused */
    FF_SLOT_IN_USE,    /* refcount >= 1 */
    FF_SLOT_ALLOCATOR, /* hardened: owned by the allocator */
    FF_SLOT_PINNED,    /* hardened: not usable RAM, never dropped */
    FF_SLOT_PENDING,   /* released, waiting for the rest of its allocation */
    FF_SLOT_NONE,      /* past the top of the map: no slot */
} ff_slot_state;

typedef struct ff_slot_view {
    ff_slot_state state;
    uint32_t refcount;
    uint8_t usage;
} ff_slot_view;

const char *ff_slot_state_name(ff_slot_state state);
ff_slot_view ff_meta_slot(const ff_meta *m, ff_pfn pfn);
/* Just the refcount of pfn's slot (0 past the top): cheaper than ff_meta_slot. */
uint32_t ff_meta_refcount(const ff_meta *m, ff_pfn pfn);
/* The refcounts of [start, +count), which must lie below the map's top: read-only, and
 * valid until the next call into the layer. Checkers compare a run of frames in bulk. */
const uint32_t *ff_meta_refcounts(const ff_meta *m, ff_pfn start, uint64_t count);
/* The first frame of [start, end) whose slot is in use or holds references, or end. */
ff_pfn ff_meta_first_live(const ff_meta *m, ff_pfn start, ff_pfn end);

/* The back-end behind the layer. */
const ff_backend_def *ff_meta_backend(const ff_meta *m);
/* Its free counter (ff_meta_has_counter), 0 when it keeps none. */
uint64_t ff_meta_backend_free_frames(const ff_meta *m);
bool ff_meta_has_counter(const ff_meta *m);
/* The frames the back-end kept for itself at create (ff_keep_frames), sorted and
 * disjoint. */
const ff_range *ff_meta_kept(const ff_meta *m, size_t *n);
/* The back-end's invariant walk: NULL when it holds or the back-end has none. */
const char *ff_meta_backend_check(ff_meta *m);
ff_semantics ff_meta_semantics(const ff_meta *m);
/* Whether frames are poisoned as they go back. */
bool ff_meta_poisoning(const ff_meta *m);
/* Whether the back-end reached any frame's memory (frame_mem, or a base pointer) since
 * the last reset: if not, no call of it wrote a frame. */
bool ff_meta_backend_reached_frames(const ff_meta *m);

/* Bytes of metadata per frame (the slot size). */
size_t ff_meta_slot_bytes(void);

/* The back-end call in progress, process-wide, for a crash or time-out report: the
 * last layer to call into a back-end records it before the call and clears `active`
 * after. A signal handler may read it. */
typedef struct ff_meta_call_site {
    volatile bool active;
    const char *backend;
    ff_backend_call call;
    ff_pfn start;        /* free: first frame */
    uint64_t count;      /* alloc, free */
    uint64_t align;      /* alloc */
} ff_meta_call_site;

extern ff_meta_call_site ff_meta_current_call;
/* The layer's functions that call into a back-end, by name (NULL-terminated): on the
 * stack, the frames deeper than the first of them are the back-end's (symbols.h). */
extern const char *const ff_meta_call_functions[];

#endif
