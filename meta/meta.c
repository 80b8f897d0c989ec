/*
 * meta.c — the refcounted frame metadata layer (contract in meta.h).
 *
 * One 16-byte slot per frame below the top of the map, stored one array per field in
 * a lazily mapped allocation, so a 1 TiB space costs only the slots its operations
 * touch, and a pass over many frames reads only the fields it asks about. The
 * all-zero slot is the initial state (a state of ST_INITIAL implies all zero), and
 * what it means depends on the semantics and the region:
 *   asterinas-2024  unused (refcount 0), whatever the region: no protection;
 *   hardened        owned by the allocator if the frame is usable RAM, else pinned.
 * A frame given back to the back-end returns to the zero slot, so "owned by the
 * allocator" never needs to be written.
 *
 * Every block of 64 slots changed since the last reset is logged once, with the fields
 * written there, and reset zeroes exactly those: a pass over an operation's frames logs
 * them a block at a time, not slot by slot.
 *
 * Allocations made through the layer are remembered in their slots: the head holds the
 * number of frames not yet released, every other member its distance to the head. A
 * back-end that wants exact frees gets the allocation back when that count reaches 0.
 *
 * The allocator lock is a holder id. Taking it while holding it is the self-deadlock
 * of #1760: reported, never spun on. With per-CPU caches each CPU's cache has a lock of
 * its own, and the locks a CPU holds feed a lock-order graph; with CPUs, the state each
 * lock guards records who touched it without it (data races).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta.h"
#include "symbols.h"

/* The fuzzers' coverage follows this layer's decisions (what a semantics does with a
 * request, when frames go back, panics and deadlocks), not its bookkeeping: per-frame
 * passes, logging, budgets, and the queries checkers make. Their counters would tell
 * the fuzzer only how many frames an operation named, cost an increment per frame that
 * also keeps those loops from being vectorised, and make libFuzzer track a feature
 * each per run. Never inlined where coverage is on: clang instruments a function's
 * code again once it is inlined into an instrumented caller (inlined, these helpers
 * gave a buddy run 38 of the layer's counters; as functions of their own, 20). */
#if defined(__has_feature)
#if __has_feature(coverage_sanitizer)
#define FF_NO_COVERAGE __attribute__((no_sanitize("coverage"), noinline))
#endif
#endif
#ifndef FF_NO_COVERAGE
#define FF_NO_COVERAGE /* no coverage instrumentation in this build: inline at will */
/* Bookkeeping on every back-end call, inlined where no coverage is counted. */
#define FF_CALL_BOOKKEEPING __attribute__((always_inline)) inline
#else
#define FF_CALL_BOOKKEEPING FF_NO_COVERAGE
#endif

/* ---------------------------------------------------------------- slots */

enum slot_state_raw {
    ST_INITIAL = 0, /* see the file comment */
    ST_IN_USE,      /* refcount >= 1 */
    ST_PENDING,     /* released; its allocation still has frames in use */
};

enum slot_flags {
    F_MEMBER = 1 << 1, /* part of an allocation made through the layer */
    F_HEAD = 1 << 2,   /* its first frame */
};

/* A slot's fields, one array each (struct ff_meta), widest first so that each array
 * starts aligned, with the bit that logs a block's writes to it. */
enum slot_field {
    SF_LINK = 1 << 0,
    SF_REFCOUNT = 1 << 1,
    SF_STATE = 1 << 2,
    SF_USAGE = 1 << 3,
    SF_FLAGS = 1 << 4,
    SF_ORDER = 1 << 5,
};
#define SLOT_FIELDS(X) \
    X(link, SF_LINK) X(refcount, SF_REFCOUNT) X(state, SF_STATE) X(usage, SF_USAGE) \
    X(flags, SF_FLAGS) X(order, SF_ORDER)

#define NO_HOLDER (-1)

/* Lock classes, the nodes of the lock-order graph (as lockdep's): every CPU's cache
 * lock is one class; a back-end that locks itself adds one per lock name. */
enum lock_class { LOCK_ZONE, LOCK_PCP, LOCK_FIRST_BACKEND, LOCK_CLASSES = 8 };
#define LOCK_EDGES_TOLD 8 /* edges a run keeps the story of (all are in the graph) */

typedef struct layer_lock {
    int holder;         /* NO_HOLDER or the CPU holding it */
    bool holder_in_irq; /* ... which took it in its interrupt handler */
    uint8_t cls;        /* enum lock_class */
} layer_lock;

/* State a lock guards, as the data-race check sees it (a lockset check, as Eraser's):
 * which contexts touched it in this run, and which of them without the lock. */
typedef struct guarded {
    uint16_t touched, unlocked; /* bit per context (ff_cpus_context) */
} guarded;

/* One CPU's cache: runs of i + 1 frames in run[i][0 .. n[i]), oldest first. */
typedef struct pcp_cache {
    layer_lock lock;
    uint8_t n[FF_PCP_RUN_MAX];
    ff_pfn run[FF_PCP_RUN_MAX][FF_PCP_HIGH];
} pcp_cache;

/* The per-CPU caches and the lock-order graph, which only they and a back-end's own
 * locks make (one lock class else): allocated only for a layer with caches or over a
 * back-end that locks itself. */
typedef struct pcp_state {
    pcp_cache cache[FF_CPUS_MAX];
    const char *class_name[LOCK_CLASSES]; /* kept across runs: a lock's class is its name */
    unsigned nclasses;
    uint64_t order_seen; /* bit a * LOCK_CLASSES + b: b was taken while a was held */
    struct lock_edge {   /* how the first edges of the run were taken, for a report */
        uint8_t a, b;
        char how[126];
    } edge[LOCK_EDGES_TOLD];
    unsigned nedges;
    bool order_reported; /* a cycle was reported in this run */
    char order_reason[2 * sizeof(struct lock_edge) + 16]; /* ... and how */
} pcp_state;
_Static_assert(LOCK_CLASSES * LOCK_CLASSES <= 64, "the lock-order graph is one 64-bit word");

/* Frames a check walk may cover beyond the map: arrays sized to a largest block. */
#define CHECK_WALK_SLACK (UINT64_C(1) << 20)

struct ff_meta {
    ff_space *space;
    const ff_backend_def *def;
    void *backend;
    ff_meta_opts opts;
    ff_env env;
    /* Where ff_step, ff_panic and a self-deadlock leave a back-end call, per context: a
     * back-end that locks itself has calls of several contexts in flight at once. */
    jmp_buf hang_jmp[FF_CONTEXTS_MAX];
    char panic_message[200];

    ff_range *kept;        /* frames the back-end kept at create (ff_keep_frames) */
    size_t nkept, kept_cap;
    bool creating;
    bool keep_refused;     /* ff_keep_frames outside create, or out of host memory */
    const char *base_refused; /* why ff_frame_base said no at create, or NULL */
    bool used_base;           /* the instance reaches frames through ff_frame_base */
    bool reached_frames;      /* it asked for a frame's memory since the last reset */

    /* The slots of the frames below space->top, one array per field, carved from one
     * lazily mapped allocation: a pass over an operation's frames reads and writes only
     * the fields it needs (whether a range is untouched is a byte per frame), each a
     * plain scan or fill the compiler vectorises. */
    uint64_t *link;     /* head: frames not yet released; member: distance to the head */
    uint32_t *refcount;
    uint8_t *state;     /* enum slot_state_raw */
    uint8_t *usage;     /* the caller's usage tag */
    uint8_t *flags;     /* enum slot_flags */
    uint8_t *order;     /* head: ceil(log2(frames of the allocation)) */
    uint64_t nslots;
    /* Blocks of LOG_BLOCK slots written since reset, each logged once, with the fields
     * written there (enum slot_field; 0: not logged): reset zeroes just those. The log
     * has room for every block. */
    size_t *log;
    size_t log_count;
    uint8_t *block_logged;
    size_t nblocks;

    ff_cpus *cpus;   /* the simulated CPUs of a concurrent run, or NULL: one CPU */
    layer_lock zone; /* the allocator lock */
    /* Locks are tracked (held per CPU, the lock-order graph) with several CPUs or
     * several lock classes; else the allocator lock is a flag (lock_acquire). */
    bool tracked;
    uint8_t held[FF_CPUS_MAX]; /* per CPU: bit per lock class it holds */
    pcp_state *pcp;            /* with opts.pcp or a back-end that locks itself, else NULL */
    /* A back-end that locks itself (policy.locks_itself) is called without the
     * allocator lock; in_backend has a bit per context inside one of its calls. */
    bool self_locking;
    uint16_t in_backend;
    guarded cpu_local_guard[FF_CPUS_MAX]; /* its per-CPU state, guarded by interrupts off */
    uint8_t spin_held[FF_CPUS_MAX][LOCK_CLASSES]; /* its locks each CPU holds, by class */
    const ff_spinlock *waited[FF_CPUS_MAX];       /* the lock each CPU last waited for */
    /* With CPUs: the back-end's state (the allocator lock guards it) and each cache's
     * (its lock), for the data-race check; one report per run. */
    guarded backend_guard, cache_guard[FF_CPUS_MAX];
    bool race_reported;
    char race_reason[200];
    ff_meta_status death; /* FF_META_OK while alive; PANIC, DEADLOCK or HANG after */
    ff_meta_last lasts[FF_CONTEXTS_MAX]; /* each context's last operation: they interleave */
    ff_meta_last *last; /* the running context's: lasts[0] with one CPU, else set again
                           wherever the context may have changed (came_back) */
};

static inline unsigned cpu_now(const ff_meta *m) { return m->cpus ? ff_cpus_current(m->cpus) : 0; }
_Static_assert(FF_CPUS_MAX == FF_MAX_CPUS, "a back-end's per-CPU state covers every simulated CPU");
#define LAST(m) ((m)->last)

/* Concurrent runs: the CPUs ran; the context running now may be another. */
static void came_back(ff_meta *m) { m->last = &m->lasts[ff_cpus_context(m->cpus)]; }

#define SLOT_FIELD_BYTES(field, bit) +sizeof *((ff_meta *)NULL)->field
#define SLOT_BYTES (0 SLOT_FIELDS(SLOT_FIELD_BYTES))
_Static_assert(SLOT_BYTES == 16, "a metadata slot must stay at 16 bytes");

#define LOG_BLOCK 64
/* block_logged: the block is in the log (its field bits may be clear again: a release
 * that zeroed the whole block leaves reset nothing to do there). */
#define BLOCK_LISTED 0x80

/* Logs the writes to `fields` of the slots of [start, end) (below nslots), a block at a
 * time. The log never grows: no allocation in a run, and no path here that depends on
 * what ran before, as fuzzers' coverage needs. */
FF_NO_COVERAGE static void log_slots(ff_meta *m, ff_pfn start, ff_pfn end, uint8_t fields)
{
    if (start >= end) return;
    size_t last = (size_t)((end - 1) / LOG_BLOCK);
    for (size_t b = (size_t)(start / LOG_BLOCK); b <= last; b++) {
        uint8_t had = m->block_logged[b];
        if ((had & fields) == fields) continue;
        if (!(had & BLOCK_LISTED)) m->log[m->log_count++] = b;
        m->block_logged[b] = had | fields | BLOCK_LISTED;
    }
}

FF_NO_COVERAGE static void log_slot(ff_meta *m, ff_pfn pfn, uint8_t fields)
{
    log_slots(m, pfn, pfn + 1, fields);
}

/* Sets n elements of array from index `from` to value (zero, or any value in a byte
 * array: past a few slots it is a memset). Spans of a few slots, the common
 * allocation, are stored one by one: a call to memset per field costs more. */
#define SMALL_SPAN 8
#define FILL_SLOTS(array, from, n, value)                                              \
    do {                                                                               \
        if ((n) > SMALL_SPAN)                                                          \
            memset(&(array)[from], (value), (n) * sizeof *(array));                    \
        else                                                                           \
            for (uint64_t k_ = 0; k_ < SMALL_SPAN; k_++)                               \
                if (k_ < (n)) (array)[(from) + k_] = (value);                          \
    } while (0)

/* Zeroes the slots of [start, end) (below nslots): in each block, the fields written
 * since reset (the others are still zero), one fill per field over blocks alike. */
FF_NO_COVERAGE static void zero_slots(ff_meta *m, ff_pfn start, ff_pfn end)
{
    for (ff_pfn lo = start; lo < end;) {
        size_t b = (size_t)(lo / LOG_BLOCK);
        uint8_t written = m->block_logged[b];
        ff_pfn hi = (ff_pfn)(b + 1) * LOG_BLOCK;
        while (hi < end && m->block_logged[hi / LOG_BLOCK] == written) hi += LOG_BLOCK;
        if (hi > end) hi = end;
#define ZERO_FIELD(field, bit) \
    if (written & (bit)) FILL_SLOTS(m->field, lo, hi - lo, 0);
        SLOT_FIELDS(ZERO_FIELD)
#undef ZERO_FIELD
        /* Whole blocks zeroed hold nothing for reset to clear. */
        for (ff_pfn w = (lo + LOG_BLOCK - 1) / LOG_BLOCK; (w + 1) * LOG_BLOCK <= hi; w++)
            m->block_logged[w] &= BLOCK_LISTED;
        lo = hi;
    }
}

/* Zeroes every logged block of slots and empties the log. */
FF_NO_COVERAGE static void forget_slots(ff_meta *m)
{
    for (size_t i = 0; i < m->log_count; i++) {
        ff_pfn lo = (ff_pfn)m->log[i] * LOG_BLOCK;
        if (m->block_logged[m->log[i]] != BLOCK_LISTED)
            zero_slots(m, lo, m->nslots - lo < LOG_BLOCK ? m->nslots : lo + LOG_BLOCK);
        m->block_logged[m->log[i]] = 0;
    }
    m->log_count = 0;
}

/* Frames [start, end) going back to the back-end: their slots return to zero. */
FF_NO_COVERAGE static void release_slots(ff_meta *m, ff_pfn start, ff_pfn end)
{
    zero_slots(m, start, end);
    /* INJECTED BUG layer-freed-keeps-slot: the freed frame keeps a live slot (its canary
     * counts frames). */
    if (m->opts.bug != FF_BUG_NONE)
        for (ff_pfn p = start; p < end; p++)
            if (FF_BUG(m->opts.bug, LAYER_FREED_KEEPS_SLOT, true)) {
                log_slot(m, p, SF_STATE);
                m->state[p] = ST_IN_USE;
            }
}

static ff_slot_state view_state(const ff_meta *m, ff_pfn pfn)
{
    if (pfn >= m->nslots) return FF_SLOT_NONE;
    switch (m->state[pfn]) {
    case ST_IN_USE: return FF_SLOT_IN_USE;
    case ST_PENDING: return FF_SLOT_PENDING;
    default: break;
    }
    if (m->opts.semantics == FF_SEM_ASTERINAS_2024) return FF_SLOT_UNUSED;
    return ff_space_is_usable(m->space, pfn) ? FF_SLOT_ALLOCATOR : FF_SLOT_PINNED;
}

/* ---------------------------------------------------------------- reporting */

FF_NO_COVERAGE static void emit(ff_meta *m, const ff_event *ev)
{
    if (m->opts.observer) m->opts.observer(m->opts.observer_ctx, ev);
}

static void set_reason(ff_meta *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_reason(ff_meta *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(LAST(m)->reason, sizeof LAST(m)->reason, fmt, ap);
    va_end(ap);
}

/* The system stops: a panic, a deadlock or a hang halts every other CPU where it is;
 * the one that died finishes what it is doing (a panic's unwinding). */
static void die(ff_meta *m, ff_meta_status death)
{
    m->death = death;
    if (m->cpus) ff_cpus_halt(m->cpus);
}

/* asterinas-2024 failure: the kernel panics. */
static void panic(ff_meta *m, ff_pfn pfn)
{
    die(m, FF_META_PANIC);
    LAST(m)->pfn = pfn;
    ff_event ev = {.kind = FF_EV_PANIC, .start = pfn,
                   .lock_held = m->zone.holder == (int)cpu_now(m), .reason = LAST(m)->reason};
    emit(m, &ev);
}

/* ---------------------------------------------------------------- lock and calls */

/* A preemption point of a concurrent run: where another CPU may run. */
static inline void point(ff_meta *m, ff_point why)
{
    if (m->cpus && ff_cpus_point(m->cpus, why)) came_back(m);
}

/* Concurrent runs: tells the observer of a refcount atomic on frame pfn whose old or
 * new value was 0 (the oracle judges the interleaving from these, never from the
 * layer's internals). */
static void ref_event(ff_meta *m, ff_event_kind kind, ff_pfn pfn)
{
    ff_event ev = {.kind = kind, .start = pfn, .count = 1};
    if (m->opts.observer) m->opts.observer(m->opts.observer_ctx, &ev);
}

static const char *lock_name(const ff_meta *m, const layer_lock *l)
{
    return ff_meta_lock_name(m, &l->holder);
}

/* Lock class cls is about to be taken by cpu: every class it holds gains an edge to
 * it, and an edge both ways is a cycle, reported once per run (lockdep's check: the
 * deadlock needs only the right interleaving, which this run need not have had). */
static const char *edge_story(const pcp_state *ps, unsigned a, unsigned b)
{
    for (unsigned i = 0; i < ps->nedges; i++)
        if (ps->edge[i].a == a && ps->edge[i].b == b) return ps->edge[i].how;
    return "the other order was taken before";
}

static void note_order(ff_meta *m, unsigned cpu, unsigned cls, const char *call)
{
    uint8_t held = m->held[cpu] & (uint8_t)~(1u << cls);
    for (unsigned a = 0; held && a < LOCK_CLASSES; a++) {
        if (!(held & (1u << a))) continue;
        pcp_state *ps = m->pcp;
        uint64_t edge = UINT64_C(1) << (a * LOCK_CLASSES + cls);
        if (!(ps->order_seen & edge)) {
            ps->order_seen |= edge;
            if (ps->nedges < LOCK_EDGES_TOLD) {
                struct lock_edge *e = &ps->edge[ps->nedges++];
                e->a = (uint8_t)a;
                e->b = (uint8_t)cls;
                snprintf(e->how, sizeof e->how, "cpu%u took %s while holding %s, in %s", cpu,
                         ps->class_name[cls], ps->class_name[a], call);
            }
        }
        if (!(ps->order_seen & (UINT64_C(1) << (cls * LOCK_CLASSES + a))) || ps->order_reported)
            continue;
        ps->order_reported = true;
        snprintf(ps->order_reason, sizeof ps->order_reason, "%s; earlier %s",
                 edge_story(ps, a, cls), edge_story(ps, cls, a));
        ff_event ev = {.kind = FF_EV_LOCK_ORDER, .reason = ps->order_reason};
        emit(m, &ev);
    }
}

/* Takes lock l for a call on [pfn, +count), interrupts off while it is held, waiting
 * while another CPU holds it; false when its holder asks again (its own interrupt
 * handler included): the system has deadlocked. */
static __attribute__((noinline)) bool lock_take(ff_meta *m, layer_lock *l, const char *call,
                                               ff_pfn pfn, uint64_t count)
{
    if (l == &m->zone && m->self_locking) return true; /* it takes locks of its own */
    point(m, FF_POINT_LOCK);
    int me = (int)cpu_now(m);
    if (l->holder == me) {
        /* Its interrupt handler asking for what the code it interrupted holds. */
        bool irq = ff_cpus_in_irq(m->cpus) && !l->holder_in_irq;
        set_reason(m, "cpu %d re-entered %s it holds%s, in %s(0x%llx, %llu)", me, lock_name(m, l),
                   irq ? " from an interrupt handler" : "", call, (unsigned long long)pfn,
                   (unsigned long long)count);
        die(m, FF_META_DEADLOCK);
        LAST(m)->pfn = pfn;
        ff_event ev = {.kind = FF_EV_DEADLOCK, .start = pfn, .count = count, .in_irq = irq,
                       .reason = LAST(m)->reason};
        emit(m, &ev);
        return false;
    }
    note_order(m, (unsigned)me, l->cls, call);
    if (m->cpus) {
        /* INJECTED BUG layer-lock-irq-unsafe: interrupts stay on while the lock is held. */
        if (l != &m->zone || !FF_BUG(m->opts.bug, LAYER_LOCK_IRQ_UNSAFE, true))
            ff_cpus_irq_disable(m->cpus);
        while (l->holder != NO_HOLDER) ff_cpus_block(m->cpus, &l->holder);
        came_back(m);
    }
    l->holder = me;
    l->holder_in_irq = ff_cpus_in_irq(m->cpus);
    m->held[me] |= (uint8_t)(1u << l->cls);
    point(m, FF_POINT_HELD);
    return true;
}

static void lock_drop(ff_meta *m, layer_lock *l)
{
    if (l == &m->zone && m->self_locking) return;
    m->held[l->holder] &= (uint8_t)~(1u << l->cls);
    l->holder = NO_HOLDER;
    if (!m->cpus) return;
    ff_cpus_wake(m->cpus, &l->holder);
    if (l != &m->zone || m->opts.bug != FF_BUG_LAYER_LOCK_IRQ_UNSAFE) ff_cpus_irq_enable(m->cpus);
    if (ff_cpus_point(m->cpus, FF_POINT_UNLOCK)) came_back(m);
}

/* The allocator lock. One CPU, no other lock class, the lock free: the common case,
 * inline. */
static inline bool lock_acquire(ff_meta *m, const char *call, ff_pfn pfn, uint64_t count)
{
    if (m->tracked || m->zone.holder != NO_HOLDER) return lock_take(m, &m->zone, call, pfn, count);
    m->zone.holder = 0;
    return true;
}

static inline void lock_release(ff_meta *m)
{
    if (m->tracked) {
        lock_drop(m, &m->zone);
        return;
    }
    m->zone.holder = NO_HOLDER;
}

static void context_name(unsigned ctx, char *buf, size_t len)
{
    if (ctx < FF_CPUS_MAX) snprintf(buf, len, "cpu%u", ctx);
    else snprintf(buf, len, "cpu%u's interrupt handler", ctx - FF_CPUS_MAX);
}

/* The lockset check (as Eraser's) of state g, which the running context touches now,
 * holding what guards it or not. Two contexts having touched it, one of them unguarded,
 * is a data race: nothing orders their accesses, whatever this run's interleaving did
 * with them. True, with the two contexts named, when that is to be reported (once per
 * run; the system goes on). Concurrent runs only. */
static bool lockset_race(ff_meta *m, uint16_t *touched, uint16_t *unlocked, bool guarded_now,
                         char *bare_name, char *other_name, size_t len)
{
    uint16_t bit = (uint16_t)(1u << ff_cpus_context(m->cpus));
    *touched |= bit;
    if (!guarded_now) *unlocked |= bit;
    if (m->race_reported || !*unlocked || !(*touched & (*touched - 1))) return false;
    m->race_reported = true;
    unsigned bare = (unsigned)__builtin_ctz(*unlocked);
    context_name(bare, bare_name, len);
    context_name((unsigned)__builtin_ctz(*touched & (uint16_t)~(1u << bare)), other_name, len);
    return true;
}

static void report_race(ff_meta *m)
{
    ff_event ev = {.kind = FF_EV_DATA_RACE, .reason = m->race_reason};
    emit(m, &ev);
}

/* ---------------------------------------------------------------- a back-end's own locks */

static ff_meta *meta_of(ff_env *env)
{
    return (ff_meta *)(void *)((char *)env - offsetof(ff_meta, env));
}

/* A point, or with `waits_for` a wait, inside a call of a back-end that locks itself.
 * Other contexts may run meanwhile and make calls of their own, so this context's call
 * state (steps, budget, landing place, the crash report's record) is put back when it
 * resumes: the locals here live on its own stack. */
static void backend_switch(ff_meta *m, ff_point why, const ff_spinlock *waits_for)
{
    if (!m->cpus) return;
    uint64_t steps = m->env.steps, budget = m->env.step_budget;
    jmp_buf *on_hang = m->env.on_hang;
    ff_meta_call_site site = ff_meta_current_call;
    if (waits_for) {
        m->waited[cpu_now(m)] = waits_for;
        ff_cpus_block(m->cpus, &waits_for->holder);
    } else if (!ff_cpus_point(m->cpus, why)) {
        return;
    }
    came_back(m);
    m->env.steps = steps;
    m->env.step_budget = budget;
    m->env.on_hang = on_hang;
    ff_meta_current_call = site;
}

static const char *spin_name(const ff_spinlock *l)
{
    return l->name ? l->name : "a lock of the back-end";
}

/* The lock-order class of a back-end's lock: one per name, kept across runs. */
static unsigned spin_class(ff_meta *m, ff_spinlock *l)
{
    if (!l->cls) {
        pcp_state *ps = m->pcp;
        const char *name = spin_name(l);
        unsigned c = LOCK_FIRST_BACKEND;
        while (c < ps->nclasses && strcmp(ps->class_name[c], name) != 0) c++;
        if (c == ps->nclasses && c < LOCK_CLASSES) ps->class_name[ps->nclasses++] = name;
        if (c == LOCK_CLASSES) c = LOCK_CLASSES - 1; /* more names than classes: they share */
        l->cls = (uint8_t)(c + 1);
    }
    return l->cls - 1u;
}

/* ff_spin_lock: interrupts off, then the lock, waiting while another CPU holds it. Its
 * holder asking again is the self-deadlock: the call is left, the system dead. */
static void spin_take(ff_meta *m, ff_spinlock *l)
{
    unsigned cls = spin_class(m, l);
    if (m->cpus) ff_cpus_irq_disable(m->cpus);
    backend_switch(m, FF_POINT_LOCK, NULL);
    unsigned me = cpu_now(m);
    if (l->holder == (int32_t)me + 1) {
        bool irq = ff_cpus_in_irq(m->cpus) && !l->holder_in_irq;
        set_reason(m, "cpu %u re-entered %s it holds%s, in %s's %s", me, spin_name(l),
                   irq ? " from an interrupt handler" : "", m->def->name,
                   ff_backend_call_name(ff_meta_current_call.call));
        die(m, FF_META_DEADLOCK);
        ff_event ev = {.kind = FF_EV_DEADLOCK, .in_irq = irq, .reason = LAST(m)->reason};
        emit(m, &ev);
        longjmp(*m->env.on_hang, FF_EXIT_DEADLOCK);
    }
    char call[64];
    snprintf(call, sizeof call, "%s's %s", m->def->name,
             ff_backend_call_name(ff_meta_current_call.call));
    note_order(m, me, cls, call);
    while (l->holder) backend_switch(m, FF_POINT_LOCK, l);
    l->holder = (int32_t)me + 1;
    l->holder_in_irq = ff_cpus_in_irq(m->cpus);
    m->spin_held[me][cls]++;
    m->held[me] |= (uint8_t)(1u << cls);
    backend_switch(m, FF_POINT_HELD, NULL);
}

static void spin_drop(ff_meta *m, ff_spinlock *l)
{
    unsigned me = cpu_now(m), cls = spin_class(m, l);
    if (l->holder != (int32_t)me + 1)
        ff_panic(&m->env, "released %s, which cpu%u does not hold", spin_name(l), me);
    l->holder = 0;
    if (!--m->spin_held[me][cls]) m->held[me] &= (uint8_t)~(1u << cls);
    if (!m->cpus) return;
    ff_cpus_wake(m->cpus, &l->holder);
    ff_cpus_irq_enable(m->cpus);
    backend_switch(m, FF_POINT_UNLOCK, NULL);
}

/* ff_guarded: the lockset check of the state lock l guards, within the back-end's calls
 * (what create and reset build is no one's access). */
static void layer_guarded(ff_env *env, ff_spinlock *l)
{
    ff_meta *m = meta_of(env);
    if (!m->cpus || !(m->in_backend & (1u << ff_cpus_context(m->cpus)))) return;
    char a[40], b[40];
    if (!lockset_race(m, &l->touched, &l->unlocked, l->holder == (int32_t)cpu_now(m) + 1, a, b,
                      sizeof a))
        return;
    snprintf(m->race_reason, sizeof m->race_reason,
             "%s touched what %s guards without it, and %s touched it too: no common lock "
             "orders them", a, spin_name(l), b);
    report_race(m);
}

static void layer_spin(ff_env *env, ff_spinlock *lock, bool take)
{
    if (take) spin_take(meta_of(env), lock);
    else spin_drop(meta_of(env), lock);
}

/* ff_irq_disable/enable: enabling is where a pending interrupt comes. */
static void layer_irq(ff_env *env, bool disable)
{
    ff_meta *m = meta_of(env);
    if (!m->cpus) return;
    if (disable) {
        ff_cpus_irq_disable(m->cpus);
        return;
    }
    ff_cpus_irq_enable(m->cpus);
    backend_switch(m, FF_POINT_UNLOCK, NULL);
}

/* ff_cpu_local: a point, and the lockset check of the running CPU's per-CPU state, whose
 * "lock" is interrupts off: its task and its interrupt handler both touching it, one
 * with interrupts on, is a data race. */
static void layer_cpu_local(ff_env *env)
{
    ff_meta *m = meta_of(env);
    backend_switch(m, FF_POINT_CACHE, NULL);
    if (!m->cpus) return;
    unsigned cpu = cpu_now(m);
    char a[40], b[40];
    guarded *g = &m->cpu_local_guard[cpu];
    if (!lockset_race(m, &g->touched, &g->unlocked, ff_cpus_irq_off(m->cpus), a, b, sizeof a))
        return;
    snprintf(m->race_reason, sizeof m->race_reason,
             "%s touched cpu%u's per-CPU state of %s with interrupts on, and %s touched it "
             "too: nothing orders them", a, cpu, m->def->name, b);
    report_race(m);
}

/* The running context touches state g, which lock l guards (what: the state, as a
 * report names it): the lockset check. Concurrent runs only. */
static void guard_touch(ff_meta *m, guarded *g, const layer_lock *l, const char *what)
{
    char a[40], b[40];
    if (!lockset_race(m, &g->touched, &g->unlocked, l->holder == (int)cpu_now(m), a, b, sizeof a))
        return;
    snprintf(m->race_reason, sizeof m->race_reason,
             "%s touched %s without %s, and %s touched it too: no common lock orders them",
             a, what, lock_name(m, l), b);
    report_race(m);
}

/* Every lock free, every cache empty, the lock-order graph blank. */
static void locks_reset(ff_meta *m)
{
    m->zone = (layer_lock){.holder = NO_HOLDER, .cls = LOCK_ZONE};
    m->tracked = m->cpus || m->opts.pcp || m->self_locking;
    memset(m->held, 0, sizeof m->held); /* a death may leave bits set */
    m->in_backend = 0;
    if (m->self_locking) {
        memset(m->spin_held, 0, sizeof m->spin_held);
        memset(m->cpu_local_guard, 0, sizeof m->cpu_local_guard);
        memset(m->waited, 0, sizeof m->waited);
    }
    m->backend_guard = (guarded){0};
    memset(m->cache_guard, 0, sizeof m->cache_guard);
    m->race_reported = false;
    if (!m->pcp) return;                /* one lock class: no edge, no cache */
    m->pcp->order_seen = 0;
    m->pcp->nedges = 0;
    m->pcp->order_reported = false;
    for (unsigned c = 0; c < FF_CPUS_MAX; c++)
        m->pcp->cache[c] = (pcp_cache){.lock = {.holder = NO_HOLDER, .cls = LOCK_PCP}};
}

ff_meta_call_site ff_meta_current_call;

/* The functions below that call into a back-end (never inlined): on the stack, the
 * frames deeper than the first of them are the back-end's. */
const char *const ff_meta_call_functions[] = {"call_alloc", "call_free", "call_drain",
                                              "create_backend", "destroy_backend",
                                              "reset_backend", "ff_meta_backend_check", NULL};

const char *ff_backend_call_name(ff_backend_call call)
{
    static const char *const names[] = {"alloc", "free", "check", "create", "destroy", "reset",
                                        "drain"};
    return (unsigned)call <= FF_BCALL_DRAIN ? names[call] : "?";
}

/* The budget of one call: the base, plus 4 steps per frame the call may walk
 * (saturating). */
FF_NO_COVERAGE static uint64_t call_budget(const ff_meta *m, uint64_t frames)
{
    uint64_t base = m->opts.step_budget;
    if (!base) return 0;
    uint64_t room = (UINT64_MAX - base) / 4;
    return base + 4 * (frames < room ? frames : room);
}

/* The frames a request naming n of them lets a back-end walk, frame by frame, before
 * the call counts as a hang: all of them, up to REQUEST_WALK_MAX or the map's top if
 * that is larger. A walk past that many frames for one call is no allocator's
 * legitimate work (at 2^63 frames of alignment, uncapped, a call had 2^65 steps, and
 * a cycle in a free list spun for good). */
#define REQUEST_WALK_MAX (UINT64_C(1) << 24)
FF_NO_COVERAGE static uint64_t walkable(const ff_meta *m, uint64_t n)
{
    uint64_t cap = m->nslots > REQUEST_WALK_MAX ? m->nslots : REQUEST_WALK_MAX;
    return n < cap ? n : cap;
}

FF_NO_COVERAGE static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Arms a back-end call: its budget, the running context's landing place (setjmp on
 * *m->env.on_hang next), and the record a crash report reads. The calls of a back-end
 * that locks itself are told as they begin: several may be in flight. */
/* A call of a back-end that locks itself begins: told, and counted in flight. */
static __attribute__((noinline)) void self_locked_call(ff_meta *m, ff_backend_call call,
                                                      ff_pfn start, uint64_t count)
{
    if (call == FF_BCALL_CREATE || call == FF_BCALL_DESTROY || call == FF_BCALL_RESET) return;
    m->in_backend |= (uint16_t)(1u << ff_cpus_context(m->cpus));
    ff_event ev = {.kind = FF_EV_CALL, .call = call, .start = start, .count = count};
    emit(m, &ev);
}

FF_CALL_BOOKKEEPING static void call_enter(ff_meta *m, ff_backend_call call, ff_pfn start,
                                      uint64_t count, uint64_t align, uint64_t budget_frames)
{
    m->env.steps = 0;
    m->env.step_budget = call_budget(m, budget_frames);
    if (m->cpus) m->env.on_hang = &m->hang_jmp[ff_cpus_context(m->cpus)]; /* one CPU: any */
    LAST(m)->where[0] = 0;
    ff_meta_current_call = (ff_meta_call_site){.backend = m->def->name, .call = call,
                                               .start = start, .count = count, .align = align};
    ff_meta_current_call.active = true;
    if (m->self_locking) self_locked_call(m, call, start, count);
}

FF_NO_COVERAGE static void call_leave(ff_meta *m)
{
    ff_meta_current_call.active = false;
    if (m->self_locking) m->in_backend &= (uint16_t)~(1u << ff_cpus_context(m->cpus));
}

/* env->on_exit: the back-end is leaving through ff_step or ff_panic. Names the
 * back-end's function that did, while its frames are still on the stack. */
static void layer_exit(ff_env *env, ff_exit why, const char *message)
{
    ff_meta *m = (ff_meta *)(void *)((char *)env - offsetof(ff_meta, env));
    snprintf(m->panic_message, sizeof m->panic_message, "%s", why == FF_EXIT_PANIC ? message : "");
    static const char *const framework[] = {"layer_exit", "leave", "ff_step_exhausted",
                                            "ff_panic", "ff_step", NULL};
    ff_frames frames;
    ff_frames_capture(&frames);
    ff_frames_cut(&frames, ff_meta_call_functions);
    ff_frames_describe(&frames, framework, 1, "", LAST(m)->where, sizeof LAST(m)->where);
}

/* A back-end call was left through ff_step or ff_panic (why): the system is dead. */
static void backend_left(ff_meta *m, ff_backend_call call, const ff_alloc_req *req,
                         ff_pfn start, uint64_t count, int why)
{
    if (why == FF_EXIT_DEADLOCK) return; /* spin_take told it */
    char args[96];
    if (call == FF_BCALL_ALLOC)
        snprintf(args, sizeof args, "alloc(%llu, align %llu)", (unsigned long long)req->count,
                 (unsigned long long)req->align);
    else if (call == FF_BCALL_FREE)
        snprintf(args, sizeof args, "free(0x%llx, %llu)", (unsigned long long)start,
                 (unsigned long long)count);
    else
        snprintf(args, sizeof args, "%s()", ff_backend_call_name(call));
    const char *in = LAST(m)->where[0] ? " in " : "";
    ff_event ev = {.req = req, .start = start, .count = count, .call = call,
                   .reason = LAST(m)->reason, .where = LAST(m)->where};
    if (why == FF_EXIT_PANIC) {
        set_reason(m, "%s panicked in %s%s%s: %s", m->def->name, args, in, LAST(m)->where,
                   m->panic_message);
        die(m, FF_META_BACKEND_PANIC);
        ev.kind = FF_EV_BACKEND_PANIC;
    } else {
        set_reason(m, "%s %s passed its budget of %llu steps%s%s", m->def->name, args,
                   (unsigned long long)m->env.step_budget, in, LAST(m)->where);
        die(m, FF_META_HANG);
        ev.kind = FF_EV_HANG;
    }
    LAST(m)->pfn = start;
    emit(m, &ev);
}

/* Back-end calls: false when the back-end left through ff_step or ff_panic. No local
 * of these functions changes after setjmp, so nothing is indeterminate after a jump. */
static __attribute__((noinline)) bool call_alloc(ff_meta *m, const ff_alloc_req *req, ff_pfn *start,
                                                ff_status *status)
{
    call_enter(m, FF_BCALL_ALLOC, 0, req->count, req->align,
               walkable(m, sat_add(req->count, req->align)));
    int why = setjmp(*m->env.on_hang);
    if (why) {
        call_leave(m);
        backend_left(m, FF_BCALL_ALLOC, req, 0, req->count, why);
        return false;
    }
    if (m->cpus && !m->self_locking)
        guard_touch(m, &m->backend_guard, &m->zone, "the back-end's state (in an alloc)");
    *status = m->def->alloc(m->backend, req, start);
    call_leave(m);
    return true;
}

static __attribute__((noinline)) bool call_free(ff_meta *m, ff_pfn start, uint64_t count,
                                               ff_status *status)
{
    call_enter(m, FF_BCALL_FREE, start, count, 0, walkable(m, count));
    int why = setjmp(*m->env.on_hang);
    if (why) {
        call_leave(m);
        backend_left(m, FF_BCALL_FREE, NULL, start, count, why);
        return false;
    }
    if (m->cpus && !m->self_locking)
        guard_touch(m, &m->backend_guard, &m->zone, "the back-end's state (in a free)");
    *status = m->def->free(m->backend, start, count);
    call_leave(m);
    return true;
}

/* The back-end's drain hook (a back-end that has one), under the allocator lock. */
static __attribute__((noinline)) bool call_drain(ff_meta *m)
{
    call_enter(m, FF_BCALL_DRAIN, 0, 0, 0, walkable(m, m->nslots));
    int why = setjmp(*m->env.on_hang);
    if (why) {
        call_leave(m);
        backend_left(m, FF_BCALL_DRAIN, NULL, 0, 0, why);
        return false;
    }
    if (m->cpus && !m->self_locking)
        guard_touch(m, &m->backend_guard, &m->zone, "the back-end's state (in a drain)");
    m->def->drain(m->backend);
    call_leave(m);
    ff_event ev = {.kind = FF_EV_DRAIN};
    emit(m, &ev);
    return true;
}

/* A back-end holding frames per CPU refused: they go back (its drain hook) and the
 * request is asked again. */
static __attribute__((noinline)) bool drain_and_alloc(ff_meta *m, const ff_alloc_req *req,
                                                     ff_pfn *start, ff_status *st)
{
    if (!m->self_locking) return call_drain(m) && call_alloc(m, req, start, st);
    /* A drain reaches every CPU's state: it runs alone (as stop_machine), and only while
     * no other call is in flight, holding locks or per-CPU state half changed. Else the
     * refusal stands, and the oracle does not judge it (other calls were in flight). */
    if (m->in_backend) return true;
    ff_cpus_exclusive_begin(m->cpus);
    bool alive = call_drain(m);
    ff_cpus_exclusive_end(m->cpus);
    return alive && call_alloc(m, req, start, st);
}

/* alloc, as the layer asks the back-end for a block (under the allocator lock unless the
 * back-end locks itself). A refusal of a back-end that holds frames per CPU is final only
 * once those went back: only the answer after its drain is told. */
static inline bool backend_alloc(ff_meta *m, const ff_alloc_req *req, ff_pfn *start, ff_status *st)
{
    if (!call_alloc(m, req, start, st)) return false;
    if (*st != FF_ERR_NOMEM || !m->def->drain) return true;
    return drain_and_alloc(m, req, start, st);
}

/* Poisons [start, +count) but the frames the back-end keeps for its own metadata: a
 * free naming them (a foreign free) must not scribble over the allocator's structures. */
static void poison_freed(ff_meta *m, ff_pfn start, uint64_t count)
{
    uint32_t skip = m->def->policy.inband_bytes;
    if (start >= FF_PFN_LIMIT) return;
    ff_pfn end = count > FF_PFN_LIMIT - start ? FF_PFN_LIMIT : start + count;
    for (size_t i = 0; i < m->nkept && start < end; i++) {
        ff_pfn ks = m->kept[i].start, ke = ff_range_end(m->kept[i]);
        if (ke <= start || ks >= end) continue;
        if (ks > start) ff_space_poison(m->space, start, ks - start, skip);
        start = ke;
    }
    if (start < end) ff_space_poison(m->space, start, end - start, skip);
}

/* dealloc(start, count) as a kernel caller makes it: lock, free, unlock. Frames are
 * poisoned as the caller gives them up, outside the back-end's in-band bytes and the
 * frames it keeps for itself, so any later write past those bytes — the back-end's own
 * included — shows at the next hand-out. (A refused free leaves its frames poisoned:
 * only free frames' poison is ever checked.) False when the system died on the way. */
static bool backend_free(ff_meta *m, ff_pfn start, uint64_t count, ff_status *status)
{
    if (!lock_acquire(m, "dealloc", start, count)) return false;
    if (m->opts.poison) poison_freed(m, start, count);
    if (!call_free(m, start, count, status)) return false;
    LAST(m)->backend = *status;
    /* Told while the lock is held: with several CPUs, the observer hears the back-end's
     * answers in the order it gave them. */
    ff_event ev = {.kind = FF_EV_FREE, .status = *status, .start = start, .count = count};
    emit(m, &ev);
    lock_release(m);
    return true;
}

/* ---------------------------------------------------------------- per-CPU caches */

/* The frames are the caller's now, in-band bytes included: from here, poison and what
 * the caller writes are all they may hold (the oracle checks it when they go back). */
static inline void poison_handed_out(ff_meta *m, ff_pfn start, uint64_t count)
{
    if (m->opts.poison) ff_space_poison_head(m->space, start, count, m->def->policy.inband_bytes);
}


static inline bool pcp_serves(const ff_meta *m, const ff_alloc_req *req)
{
    return m->opts.pcp && req->count - 1 < FF_PCP_RUN_MAX && req->align <= 1 &&
           req->zone == FF_ZONE_NORMAL;
}

/* Gives the oldest `runs` runs of i + 1 frames in cpu's cache back to the back-end, under
 * the allocator lock (taken here unless zone_held). False when the system died. */
static bool pcp_drain(ff_meta *m, unsigned cpu, unsigned i, unsigned runs, bool zone_held)
{
    pcp_cache *pc = &m->pcp->cache[cpu];
    if (runs > pc->n[i]) runs = pc->n[i];
    if (!runs) return true;
    /* INJECTED BUG pcp-drain-unlocked: the runs go back without the allocator lock. */
    bool lock = !zone_held && !FF_BUG(m->opts.bug, PCP_DRAIN_UNLOCKED, m->cpus != NULL);
    if (lock && !lock_acquire(m, "a cache drain", pc->run[i][0], i + 1)) return false;
    if (m->cpus) guard_touch(m, &m->cache_guard[cpu], &pc->lock, "a cache's runs (in a drain)");
    for (unsigned r = 0; r < runs; r++) {
        ff_status st;
        if (!call_free(m, pc->run[i][r], i + 1, &st)) return false;
        LAST(m)->backend = st;
        ff_event ev = {.kind = FF_EV_FREE, .status = st, .start = pc->run[i][r], .count = i + 1,
                       .cache = true, .cpu = (uint8_t)cpu};
        emit(m, &ev);
    }
    /* INJECTED BUG pcp-drain-leaves-entry: the last run given back stays listed. */
    unsigned unlisted = runs - FF_BUG(m->opts.bug, PCP_DRAIN_LEAVES_ENTRY, true);
    pc->n[i] = (uint8_t)(pc->n[i] - unlisted);
    memmove(pc->run[i], pc->run[i] + unlisted, pc->n[i] * sizeof pc->run[i][0]);
    if (lock) lock_release(m);
    return true;
}

static bool cache_empty(const pcp_cache *pc)
{
    unsigned runs = 0;
    for (unsigned i = 0; i < FF_PCP_RUN_MAX; i++) runs |= pc->n[i];
    return runs == 0;
}

static bool pcp_holds_frames(const ff_meta *m)
{
    for (unsigned c = 0; m->opts.pcp && c < FF_CPUS_MAX; c++)
        if (!cache_empty(&m->pcp->cache[c])) return true;
    return false;
}

/* Every CPU's cache back to the back-end, each under its own lock, then the allocator
 * lock (zone_held: that one is held already). */
static bool pcp_drain_all(ff_meta *m, bool zone_held)
{
    for (unsigned c = 0; c < FF_CPUS_MAX; c++) {
        pcp_cache *pc = &m->pcp->cache[c];
        if (cache_empty(pc)) continue;
        if (!lock_take(m, &pc->lock, "a drain of every cache", 0, 0)) return false;
        for (unsigned i = 0; i < FF_PCP_RUN_MAX; i++)
            if (!pcp_drain(m, c, i, FF_PCP_HIGH, zone_held)) return false;
        lock_drop(m, &pc->lock);
    }
    return true;
}

/* An empty cache asks the back-end for FF_PCP_BATCH runs like req, under the allocator
 * lock; *status is the first answer when none came. */
static bool pcp_refill(ff_meta *m, unsigned cpu, const ff_alloc_req *req, ff_status *status)
{
    pcp_cache *pc = &m->pcp->cache[cpu];
    unsigned i = (unsigned)req->count - 1;
    if (!lock_acquire(m, "a cache refill", 0, req->count)) return false;
    for (unsigned r = 0; r < FF_PCP_BATCH; r++) {
        ff_pfn start = 0;
        ff_status st;
        /* INJECTED BUG pcp-refill-publish-early: the slot is listed before the back-end
         * gives its run, and a refusal leaves it listed, holding a stale run. */
        bool early = FF_BUG(m->opts.bug, PCP_REFILL_PUBLISH_EARLY, true);
        if (early) pc->n[i]++;
        if (!call_alloc(m, req, &start, &st)) return false;
        LAST(m)->backend = st;
        ff_event ev = {.kind = FF_EV_ALLOC, .req = req, .status = st, .start = start,
                       .cache = true, .cpu = (uint8_t)cpu};
        emit(m, &ev);
        if (st != FF_OK) {
            if (!r) *status = st;
            break;
        }
        poison_handed_out(m, start, req->count); /* the cache's now, not the back-end's */
        pc->run[i][early ? pc->n[i] - 1 : pc->n[i]++] = start;
    }
    lock_release(m);
    return true;
}

/* A request the running CPU's cache serves: *status FF_OK with *start, or the back-end's
 * refusal of the refill. */
static bool pcp_alloc(ff_meta *m, const ff_alloc_req *req, ff_pfn *start, ff_status *status)
{
    unsigned cpu = cpu_now(m), i = (unsigned)req->count - 1;
    pcp_cache *pc = &m->pcp->cache[cpu];
    if (!lock_take(m, &pc->lock, "alloc", 0, req->count)) return false;
    point(m, FF_POINT_CACHE);
    if (m->cpus) guard_touch(m, &m->cache_guard[cpu], &pc->lock, "a cache's runs (in an alloc)");
    if (!pc->n[i] && !pcp_refill(m, cpu, req, status)) return false;
    if (pc->n[i]) {
        *start = pc->run[i][--pc->n[i]]; /* the newest: its frames are the warmest */
        *status = FF_OK;
        ff_event ev = {.kind = FF_EV_CACHE_TAKE, .start = *start, .count = req->count, .cpu = (uint8_t)cpu};
        emit(m, &ev);
    }
    lock_drop(m, &pc->lock);
    return true;
}

/* A released allocation of count frames goes into the running CPU's cache, a full one
 * draining its oldest runs first. */
static bool pcp_free(ff_meta *m, ff_pfn start, uint64_t count)
{
    unsigned cpu = cpu_now(m), i = (unsigned)count - 1;
    pcp_cache *pc = &m->pcp->cache[cpu];
    if (!lock_take(m, &pc->lock, "dealloc", start, count)) return false;
    point(m, FF_POINT_CACHE);
    if (m->cpus) guard_touch(m, &m->cache_guard[cpu], &pc->lock, "a cache's runs (in a free)");
    if (pc->n[i] == FF_PCP_HIGH && !pcp_drain(m, cpu, i, FF_PCP_BATCH, false)) return false;
    if (m->opts.poison) poison_freed(m, start, count);
    pc->run[i][pc->n[i]++] = start;
    ff_event ev = {.kind = FF_EV_CACHE_PUT, .start = start, .count = count, .cpu = (uint8_t)cpu};
    emit(m, &ev);
    lock_drop(m, &pc->lock);
    return true;
}

/* The layer gives released frames back: to the cache when one takes runs of that size,
 * else to the back-end. */
static inline __attribute__((always_inline)) bool give_back(ff_meta *m, ff_pfn start,
                                                           uint64_t count, ff_status *status)
{
    if (!m->opts.pcp || count - 1 >= FF_PCP_RUN_MAX) return backend_free(m, start, count, status);
    *status = FF_OK;
    return pcp_free(m, start, count);
}

/* ---------------------------------------------------------------- release */

/* Frames whose last reference went, waiting to be given back together. */
typedef struct release_batch {
    ff_pfn start;
    uint64_t count;
    bool rejected; /* the back-end refused some of them */
} release_batch;

static bool batch_flush(ff_meta *m, release_batch *b)
{
    if (!b->count) return true;
    ff_status st;
    bool alive = give_back(m, b->start, b->count, &st);
    if (alive && st != FF_OK) b->rejected = true;
    b->count = 0;
    return alive;
}

/* The first frame after the head that is not one of its allocation's members. */
FF_NO_COVERAGE static ff_pfn allocation_end(const ff_meta *m, ff_pfn head)
{
    ff_pfn p = head + 1;
    while (p < m->nslots && (m->flags[p] & (F_MEMBER | F_HEAD)) == F_MEMBER &&
           m->link[p] == p - head)
        p++;
    return p;
}

/* Members [pfn, +n) of the allocation at head, at most as many as it has not released
 * yet, lost their last reference. False when the system died giving it back. */
static bool release_members(ff_meta *m, ff_pfn head, ff_pfn pfn, uint64_t n, release_batch *b)
{
    log_slots(m, pfn, pfn + n, SF_STATE | SF_USAGE);
    log_slot(m, head, SF_LINK);
    FILL_SLOTS(m->state, pfn, n, ST_PENDING);
    FILL_SLOTS(m->usage, pfn, n, 0);
    if ((m->link[head] -= n) > 0) return true;
    /* The whole allocation is released: give it back in one call. */
    ff_pfn end = allocation_end(m, head);
    release_slots(m, head, end);
    ff_status st;
    if (!give_back(m, head, end - head, &st)) return false;
    if (st != FF_OK) b->rejected = true;
    return true;
}

/* Frame pfn, of no allocation the back-end must get back whole, lost its last
 * reference. False when the system died giving it back. */
static bool release_frame(ff_meta *m, ff_pfn pfn, release_batch *b)
{
    release_slots(m, pfn, pfn + 1);
    if (m->opts.semantics == FF_SEM_ASTERINAS_2024) {
        /* Page::drop: dealloc(pfn, 1), one frame at a time. */
        b->start = pfn;
        b->count = 1;
        return batch_flush(m, b);
    }
    if (b->count && b->start + b->count == pfn) {
        b->count++;
        return true;
    }
    if (!batch_flush(m, b)) return false;
    b->start = pfn;
    b->count = 1;
    return true;
}

/* Whether [start, +count) is one whole allocation, none of it released yet, whose
 * frames each hold their one reference: the drop of a handle as alloc returned it. An
 * allocation's members stay in place until it is released whole (mark_allocation
 * writes them, release_slots clears them together; hand-outs never overlap), and only
 * a frame in use holds a reference: so the head, its count of frames not released, the
 * frame after it and one pass over the refcounts decide. */
FF_NO_COVERAGE static bool sole_holder_of_allocation(const ff_meta *m, ff_pfn start, uint64_t count)
{
    if (m->def->policy.free_rule == FF_FREE_PIECEWISE || start >= m->nslots ||
        count > m->nslots - start || (m->flags[start] & F_HEAD) == 0 || m->link[start] != count)
        return false;
    ff_pfn next = start + count; /* and the allocation ends there */
    if (next < m->nslots && (m->flags[next] & (F_MEMBER | F_HEAD)) == F_MEMBER &&
        m->link[next] == count)
        return false;
    uint32_t bad = 0;
    for (uint64_t i = 0; i < count; i++) bad |= m->refcount[start + i] ^ 1;
    return bad == 0;
}

/* The drop of a whole allocation by its sole holder: what the frame-by-frame path ends
 * in, at once: every slot released, then the allocation given back in one call. */
static ff_meta_status drop_allocation(ff_meta *m, ff_pfn start, uint64_t count)
{
    release_slots(m, start, start + count);
    ff_status st;
    if (!give_back(m, start, count, &st)) return m->death;
    return st == FF_OK ? FF_META_OK : FF_META_FREE_REJECTED;
}

/* Concurrent runs: the fetch-sub of frame p's refcount, a preemption point. The frame
 * was in use when the drop began; whether it still holds a reference is known only
 * now. False (with the reason, and for asterinas-2024 the panic) when it holds none. */
static bool concurrent_decrement_ok(ff_meta *m, ff_pfn p)
{
    point(m, FF_POINT_ATOMIC);
    if (m->refcount[p]) return true;
    LAST(m)->pfn = p;
    set_reason(m, "drop(0x%llx): the page holds no reference", (unsigned long long)(p << FF_FRAME_SHIFT));
    if (m->opts.semantics == FF_SEM_ASTERINAS_2024) panic(m, p);
    return false;
}

/* Concurrent runs: drop_each_frame an atomic at a time: each frame's fetch-sub is a
 * point, and each frame whose count reaches 0 goes back then (an allocation's members
 * one by one). */
static ff_meta_status drop_each_frame_concurrent(ff_meta *m, ff_pfn start, uint64_t count)
{
    release_batch b = {0};
    bool exact = m->def->policy.free_rule != FF_FREE_PIECEWISE;
    log_slots(m, start, start + count, SF_REFCOUNT);
    for (ff_pfn p = start; p < start + count; p++) {
        if (!concurrent_decrement_ok(m, p)) return m->death ? m->death : FF_META_UNUSED;
        if (--m->refcount[p] != 0) continue;
        ref_event(m, FF_EV_REF_ZERO, p);
        bool alive = !exact || !(m->flags[p] & F_MEMBER)
                         ? release_frame(m, p, &b)
                         : release_members(m, (m->flags[p] & F_HEAD) ? p : p - m->link[p], p, 1, &b);
        if (!alive) return m->death;
    }
    if (!batch_flush(m, &b)) return m->death;
    return b.rejected ? FF_META_FREE_REJECTED : FF_META_OK;
}

/* Drops one reference of each frame of [start, start + count), all known to be in
 * use, one by one. Returns the status of the drop, or the death it caused. */
static ff_meta_status drop_each_frame(ff_meta *m, ff_pfn start, uint64_t count)
{
    if (m->cpus) return drop_each_frame_concurrent(m, start, count);
    release_batch b = {0};
    bool exact = m->def->policy.free_rule != FF_FREE_PIECEWISE;
    log_slots(m, start, start + count, SF_REFCOUNT);
    for (uint64_t i = 0; i < count; i++) {
        ff_pfn p = start + i;
        if (--m->refcount[p] != 0) continue;
        if (!exact || !(m->flags[p] & F_MEMBER)) {
            if (!release_frame(m, p, &b)) return m->death;
            continue;
        }
        /* The next frames of its allocation that lose their last reference too go with
         * it, as many as it has left: what releasing them one by one ends in. */
        ff_pfn head = (m->flags[p] & F_HEAD) ? p : p - m->link[p];
        uint64_t n = 1;
        while (i + n < count && n < m->link[head] && m->refcount[p + n] == 1 &&
               (m->flags[p + n] & (F_MEMBER | F_HEAD)) == F_MEMBER &&
               m->link[p + n] == p + n - head)
            m->refcount[p + n++] = 0;
        if (!release_members(m, head, p, n, &b)) return m->death;
        i += n - 1;
    }
    if (!batch_flush(m, &b)) return m->death;
    return b.rejected ? FF_META_FREE_REJECTED : FF_META_OK;
}

static ff_meta_status drop_frames(ff_meta *m, ff_pfn start, uint64_t count)
{
    return !m->cpus && sole_holder_of_allocation(m, start, count)
               ? drop_allocation(m, start, count)
               : drop_each_frame(m, start, count);
}

/* asterinas-2024: a panic unwinds, dropping the frames the operation had built; a
 * release that re-enters the held lock turns the panic into a deadlock. */
static ff_meta_status panic_and_unwind(ff_meta *m, ff_pfn failed, ff_pfn built_start,
                                       uint64_t built)
{
    panic(m, failed);
    if (built) drop_frames(m, built_start, built);
    return m->death;
}

/* ---------------------------------------------------------------- taking frames */

/* Takes [start, +count), unused frames below nslots: the first reference of each. */
FF_NO_COVERAGE static void take_frames(ff_meta *m, ff_pfn start, uint64_t count, uint8_t usage)
{
    if (!count) return;
    log_slots(m, start, start + count, SF_STATE | SF_REFCOUNT | SF_USAGE);
    FILL_SLOTS(m->state, start, count, ST_IN_USE);
    for (uint64_t i = 0; i < count; i++) m->refcount[start + i] = 1;
    FILL_SLOTS(m->usage, start, count, usage);
}

/* Marks [start, +count) as one allocation's members; with take, also takes each frame's
 * first reference. A fill per field, as allocations can be large. */
FF_NO_COVERAGE static void mark_allocation(ff_meta *m, ff_pfn start, uint64_t count, bool take,
                                           uint8_t usage)
{
    if (!count) return;
    ff_pfn end = start + count;
    log_slots(m, start, end, SF_FLAGS | SF_LINK);
    log_slot(m, start, SF_ORDER);
    uint8_t *flags = m->flags; /* a local: byte stores cannot change it, so loops vectorise */
    if (take) {
        take_frames(m, start, count, usage);
        FILL_SLOTS(flags, start, count, F_MEMBER); /* taken slots were all zero */
    } else {
        for (ff_pfn p = start; p < end; p++) flags[p] |= F_MEMBER;
    }
    for (ff_pfn p = start; p < end; p++) m->link[p] = p - start;
    flags[start] |= F_HEAD;
    m->link[start] = count;
    m->order[start] = (uint8_t)ff_log2_ceil(count);
}

/* Every operation starts here: nothing runs on a dead system, and the detail of the
 * last operation is cleared. */
FF_NO_COVERAGE static bool op_begin(ff_meta *m)
{
    if (m->cpus) came_back(m); /* an operation of another context (an interrupt's) */
    if (m->death != FF_META_OK) return false;
    LAST(m)->reason[0] = 0;
    return true;
}

/* asterinas-2024: how many frames of [start, +count), from start, Page::from_unused
 * builds one by one before one will not be: any slot with refcount 0 will do. */
FF_NO_COVERAGE static uint64_t buildable_2024(const ff_meta *m, ff_pfn start, uint64_t count)
{
    uint64_t i = 0;
    while (i < count && start + i < m->nslots && m->state[start + i] == ST_INITIAL) i++;
    return i;
}

/* asterinas-2024: builds pages one by one; the first that cannot be built panics, and
 * the unwinding drops the pages built so far. */
static ff_meta_status build_frames_2024(ff_meta *m, ff_pfn start, uint64_t count, uint8_t usage)
{
    /* Pages are built in order up to the first that cannot be: what was built before it
     * is what the unwinding drops. With several CPUs each is a compare-and-swap of its
     * own, 0 -> 1, which may meet a frame another CPU just dropped to 0. */
    uint64_t built = 0;
    if (m->cpus) {
        for (; built < count; built++) {
            ff_pfn p = start + built;
            point(m, FF_POINT_ATOMIC);
            if (p >= m->nslots || m->state[p] != ST_INITIAL) break;
            take_frames(m, p, 1, usage);
            ref_event(m, FF_EV_REF_TAKE, p);
        }
    } else {
        built = buildable_2024(m, start, count);
        take_frames(m, start, built, usage);
    }
    if (built == count) return FF_META_OK;
    ff_pfn pfn = start + built;
    if (pfn >= m->nslots)
        set_reason(m, "from_unused(0x%llx): out of bound of the metadata array",
                   (unsigned long long)(pfn << FF_FRAME_SHIFT));
    else
        set_reason(m, "from_unused(0x%llx): page already in use (refcount %u)",
                   (unsigned long long)(pfn << FF_FRAME_SHIFT), m->refcount[pfn]);
    return panic_and_unwind(m, pfn, start, built);
}

/* Whether every slot of [start, +count) (below nslots) is in its initial state: one
 * branch-free pass. */
FF_NO_COVERAGE static bool slots_initial(const ff_meta *m, ff_pfn start, uint64_t count)
{
    uint8_t states = 0;
    for (uint64_t i = 0; i < count; i++) states |= m->state[start + i];
    return states == ST_INITIAL;
}

/* An allocation straight from the back-end, under the allocator lock, left held. With
 * per-CPU caches, one the back-end cannot serve drains them all and asks again. */
static bool direct_alloc(ff_meta *m, const ff_alloc_req *req, ff_pfn *start, ff_status *st)
{
    if (!lock_acquire(m, "alloc", 0, req->count) || !backend_alloc(m, req, start, st)) return false;
    ff_event ev = {.kind = FF_EV_ALLOC, .req = req, .status = *st, .start = *start};
    emit(m, &ev);
    if (*st != FF_ERR_NOMEM || !pcp_holds_frames(m)) return true;
    /* INJECTED BUG pcp-drain-all-abba: the caches are drained under the allocator lock,
     * each cache's lock taken inside it: the reverse of a refill's order. */
    if (FF_BUG(m->opts.bug, PCP_DRAIN_ALL_ABBA, true)) {
        if (!pcp_drain_all(m, true)) return false;
    } else {
        lock_release(m);
        if (!pcp_drain_all(m, false) || !lock_acquire(m, "alloc", 0, req->count)) return false;
    }
    if (!backend_alloc(m, req, start, st)) return false;
    ev.status = *st;
    ev.start = *start;
    emit(m, &ev);
    return true;
}

ff_meta_status ff_meta_alloc(ff_meta *m, const ff_alloc_req *req, uint8_t usage, ff_handle *out)
{
    if (!op_begin(m)) return FF_META_DEAD;
    *out = (ff_handle){0};

    ff_pfn start = 0;
    ff_status st = FF_ERR_NOMEM;
    /* Served by a per-CPU cache (its lock is released by now), else by the back-end under
     * the allocator lock, still held. */
    bool cached = pcp_serves(m, req);
    if (cached && !pcp_alloc(m, req, &start, &st)) return m->death;
    if (cached && st == FF_ERR_NOMEM && pcp_holds_frames(m)) cached = false;
    if (!cached && !direct_alloc(m, req, &start, &st)) return m->death;
    LAST(m)->backend = st;
    LAST(m)->pfn = start;
    if (st != FF_OK) {
        if (!cached) lock_release(m);
        return FF_META_ALLOC_FAILED;
    }

    uint64_t count = req->count;
    if (m->opts.semantics == FF_SEM_ASTERINAS_2024) {
        /* The pages are built while the allocator lock is still held. */
        ff_meta_status built = build_frames_2024(m, start, count, usage);
        if (built != FF_META_OK) return built;
        /* Built, the frames are in use: with CPUs, another may hold them as soon as the
         * lock goes, so their in-band bytes are the caller's before then. */
        poison_handed_out(m, start, count);
        if (!cached) lock_release(m);
        mark_allocation(m, start, count, false, 0);
    } else {
        if (!cached) lock_release(m); /* with CPUs, a point: another may run before the take */
        /* One range query instead of a region lookup per frame. */
        bool all_usable = start < m->nslots && count <= m->nslots - start &&
                          ff_space_usable_in(m->space, start, count) == count;
        bool all_initial = all_usable && slots_initial(m, start, count); /* the common case */
        for (uint64_t i = 0; !all_initial && i < count; i++) {
            ff_pfn pfn = start + i;
            if (all_usable && m->state[pfn] == ST_INITIAL) continue; /* the allocator's */
            ff_slot_state vs = view_state(m, pfn);
            if (vs != FF_SLOT_ALLOCATOR) {
                /* Taking it would corrupt someone else's frame: refuse, and keep the
                 * allocation out of circulation rather than free what is not ours. */
                set_reason(m, "%s handed out frame 0x%llx, which is %s, not the allocator's",
                           m->def->name, (unsigned long long)pfn, ff_slot_state_name(vs));
                LAST(m)->pfn = pfn;
                return FF_META_BAD_HANDOUT;
            }
        }
        mark_allocation(m, start, count, true, usage);
        poison_handed_out(m, start, count);
    }
    *out = (ff_handle){start, count};
    return FF_META_OK;
}

ff_meta_status ff_meta_reserve(ff_meta *m, const ff_alloc_req *req, ff_pfn *start)
{
    if (!op_begin(m)) return FF_META_DEAD;
    ff_status st;
    *start = 0;
    if (!lock_acquire(m, "alloc", 0, req->count) || !backend_alloc(m, req, start, &st))
        return m->death;
    LAST(m)->backend = st;
    LAST(m)->pfn = *start;
    ff_event ev = {.kind = FF_EV_ALLOC, .req = req, .status = st, .start = *start};
    emit(m, &ev);
    lock_release(m);
    return st == FF_OK ? FF_META_OK : FF_META_ALLOC_FAILED;
}

/* The frames named by a caller's physical address: false with the status when the
 * range is malformed or the address is not frame-aligned (a panic in 2024). */
static inline bool caller_frames(ff_meta *m, const char *what, uint64_t paddr, uint64_t count,
                          ff_pfn *start, ff_meta_status *st)
{
    *start = paddr >> FF_FRAME_SHIFT;
    if (!count || *start + count < *start || *start + count > FF_PFN_LIMIT) {
        *st = FF_META_INVALID;
        return false;
    }
    if (!(paddr & (FF_FRAME_SIZE - 1))) return true;
    if (m->opts.semantics == FF_SEM_HARDENED) {
        *st = FF_META_NOT_ALIGNED;
        return false;
    }
    set_reason(m, "%s(0x%llx): address not page-aligned", what, (unsigned long long)paddr);
    panic(m, *start);
    *st = m->death;
    return false;
}

ff_meta_status ff_meta_from_unused(ff_meta *m, uint64_t paddr, uint64_t count, uint8_t usage,
                                   ff_handle *out)
{
    if (!op_begin(m)) return FF_META_DEAD;
    *out = (ff_handle){0};
    ff_pfn start;
    ff_meta_status st;
    if (!caller_frames(m, "from_unused", paddr, count, &start, &st)) return st;

    if (m->opts.semantics == FF_SEM_ASTERINAS_2024) {
        st = build_frames_2024(m, start, count, usage);
        if (st != FF_META_OK) return st;
    } else {
        /* All or nothing: hardened never leaves half a segment behind. With several
         * CPUs each frame is its own compare-and-swap, and a refusal gives back what
         * was taken. */
        for (uint64_t i = 0; i < count; i++) {
            point(m, FF_POINT_ATOMIC);
            ff_slot_state vs = view_state(m, start + i);
            LAST(m)->pfn = start + i;
            st = FF_META_OK;
            if (vs == FF_SLOT_NONE) st = FF_META_OUT_OF_BOUND;
            /* INJECTED BUG layer-from-unused-owned: frames the allocator owns count as unused. */
            else if (FF_BUG(m->opts.bug, LAYER_FROM_UNUSED_OWNED, vs == FF_SLOT_ALLOCATOR)) st = FF_META_OK;
            else if (vs != FF_SLOT_UNUSED) st = FF_META_IN_USE;
            if (st != FF_META_OK) {
                if (m->cpus) zero_slots(m, start, start + i);
                return st;
            }
            if (m->cpus) {
                take_frames(m, start + i, 1, usage);
                ref_event(m, FF_EV_REF_TAKE, start + i);
            }
        }
        if (!m->cpus) take_frames(m, start, count, usage);
    }
    *out = (ff_handle){start, count};
    return FF_META_OK;
}

/* Checks that every frame of [start, +count) holds a reference; on failure records
 * which and returns the status (hardened) or panics (asterinas-2024). */
/* Whether every slot of [start, +count) has a slot, is in use and takes refs_to_add
 * more references: one branch-free pass. */
FF_NO_COVERAGE static bool all_in_use(const ff_meta *m, ff_pfn start, uint64_t count,
                                      uint32_t refs_to_add)
{
    if (start >= m->nslots || count > m->nslots - start) return false;
    bool bad = false;
    for (uint64_t i = 0; i < count; i++)
        bad |= (m->state[start + i] != ST_IN_USE) |
               (refs_to_add > FF_REF_MAX - m->refcount[start + i]);
    return !bad;
}

static ff_meta_status require_in_use(ff_meta *m, ff_pfn start, uint64_t count, const char *what,
                                     uint32_t refs_to_add)
{
    /* The common case, every slot fine, in one pass; the loop below names the first
     * that is not. */
    if (all_in_use(m, start, count, refs_to_add)) return FF_META_OK;
    bool faithful = m->opts.semantics == FF_SEM_ASTERINAS_2024;
    for (uint64_t i = 0; i < count; i++) {
        ff_pfn pfn = start + i;
        ff_meta_status st = FF_META_OK;
        if (pfn >= m->nslots) {
            st = FF_META_OUT_OF_BOUND;
            set_reason(m, "%s(0x%llx): out of bound of the metadata array", what,
                       (unsigned long long)(pfn << FF_FRAME_SHIFT));
        } else if (m->state[pfn] != ST_IN_USE) {
            st = FF_META_UNUSED;
            set_reason(m, "%s(0x%llx): the page holds no reference", what,
                       (unsigned long long)(pfn << FF_FRAME_SHIFT));
        } else if (refs_to_add > FF_REF_MAX - m->refcount[pfn] &&
                   /* INJECTED BUG layer-refcount-wrap: only a 32-bit wrap is caught */
                   !FF_BUG(m->opts.bug, LAYER_REFCOUNT_WRAP,
                           (uint32_t)(m->refcount[pfn] + refs_to_add) >= refs_to_add)) {
            st = FF_META_OVERFLOW;
            set_reason(m, "%s(0x%llx): reference count overflow (%u + %u)", what,
                       (unsigned long long)(pfn << FF_FRAME_SHIFT), m->refcount[pfn],
                       refs_to_add);
        }
        if (st == FF_META_OK) continue;
        LAST(m)->pfn = pfn;
        if (!faithful) return st;
        panic(m, pfn);
        return m->death;
    }
    return FF_META_OK;
}

/* Adds refs references to each frame of [start, +count), all checked in use. */
FF_NO_COVERAGE static void add_refs(ff_meta *m, ff_pfn start, uint64_t count, uint32_t refs)
{
    log_slots(m, start, start + count, SF_REFCOUNT);
    for (uint64_t i = 0; i < count; i++) m->refcount[start + i] += refs;
}

/* Concurrent runs: each frame's references are an atomic of their own, interleaved
 * with the other CPUs. asterinas-2024 checks the count, then adds to it (another CPU
 * may drop the last reference in between); hardened adds only to a count it finds in
 * use, in one compare-and-swap, and gives back what it took when a later frame
 * refuses. */
static ff_meta_status add_refs_concurrent(ff_meta *m, ff_pfn start, uint64_t count, uint32_t refs)
{
    bool faithful = m->opts.semantics == FF_SEM_ASTERINAS_2024;
    for (uint64_t i = 0; i < count; i++) {
        ff_pfn p = start + i;
        point(m, FF_POINT_ATOMIC);
        ff_meta_status st = require_in_use(m, p, 1, "from_in_use", refs);
        if (st != FF_META_OK) {
            if (!faithful && i) {
                /* Each frame before p holds the refs taken here on top of at least one
                 * other when they were taken: all but one go back without reaching 0,
                 * the last as a drop. */
                log_slots(m, start, p, SF_REFCOUNT);
                for (ff_pfn q = start; q < p; q++) m->refcount[q] -= refs - 1;
                ff_meta_status undo = drop_each_frame(m, start, i);
                if (undo != FF_META_OK && undo != FF_META_FREE_REJECTED) return undo;
            }
            return st;
        }
        /* The add, apart from its check. INJECTED BUG layer-check-then-act: hardened
         * too. */
        if (faithful || FF_BUG(m->opts.bug, LAYER_CHECK_THEN_ACT, true)) point(m, FF_POINT_ATOMIC);
        log_slot(m, p, SF_REFCOUNT | SF_STATE);
        if (m->refcount[p] == 0) { /* a frame another CPU gave up meanwhile: revived */
            m->state[p] = ST_IN_USE;
            ref_event(m, FF_EV_REF_REVIVE, p);
        }
        m->refcount[p] += refs;
    }
    return FF_META_OK;
}

ff_meta_status ff_meta_from_in_use(ff_meta *m, uint64_t paddr, uint64_t count, uint32_t refs,
                                   ff_handle *out)
{
    if (!op_begin(m)) return FF_META_DEAD;
    *out = (ff_handle){0};
    ff_pfn start;
    ff_meta_status st;
    if (refs == 0) return FF_META_INVALID;
    if (!caller_frames(m, "from_in_use", paddr, count, &start, &st)) return st;
    st = m->cpus ? add_refs_concurrent(m, start, count, refs)
                 : require_in_use(m, start, count, "from_in_use", refs);
    if (st != FF_META_OK) return st;
    if (!m->cpus) add_refs(m, start, count, refs);
    *out = (ff_handle){start, count};
    return FF_META_OK;
}

ff_meta_status ff_meta_drop(ff_meta *m, ff_handle h)
{
    if (!op_begin(m)) return FF_META_DEAD;
    if (h.count == 0 || h.start + h.count < h.start) return FF_META_INVALID;
    /* The common drop, a handle as alloc returned it, proves its frames in use itself
     * (one CPU: with several, every frame's decrement is an atomic of its own). */
    if (!m->cpus && sole_holder_of_allocation(m, h.start, h.count))
        return drop_allocation(m, h.start, h.count);
    ff_meta_status st = require_in_use(m, h.start, h.count, "drop", 0);
    if (st != FF_META_OK) return st;
    return drop_each_frame(m, h.start, h.count);
}

bool ff_meta_drain_caches(ff_meta *m)
{
    if (!op_begin(m)) return false;
    if (m->opts.pcp && !pcp_drain_all(m, false)) return false;
    if (!m->def->drain) return true;
    if (!lock_acquire(m, "a drain", 0, 0) || !call_drain(m)) return false;
    lock_release(m);
    return true;
}

ff_meta_status ff_meta_raw_free(ff_meta *m, uint64_t paddr, uint64_t count)
{
    if (!op_begin(m)) return FF_META_DEAD;
    if (paddr & (FF_FRAME_SIZE - 1)) {
        /* asterinas-2024 callers computed dealloc(paddr / PAGE_SIZE, n): the offset is
         * silently dropped. Hardened refuses the address. */
        if (m->opts.semantics == FF_SEM_HARDENED) return FF_META_NOT_ALIGNED;
    }
    ff_pfn start = paddr >> FF_FRAME_SHIFT;
    ff_status st;
    if (!backend_free(m, start, count, &st)) return m->death;
    return st == FF_OK ? FF_META_OK : FF_META_FREE_REJECTED;
}

/* ---------------------------------------------------------------- life cycle */

/* env->on_keep: the back-end takes frames for its own metadata (ff_keep_frames). */
static void layer_keep(ff_env *env, ff_pfn start, uint64_t count)
{
    ff_meta *m = (ff_meta *)(void *)((char *)env - offsetof(ff_meta, env));
    if (!count) return;
    if (!m->creating) {
        m->keep_refused = true;
        return;
    }
    if (m->nkept == m->kept_cap) {
        size_t cap = m->kept_cap ? 2 * m->kept_cap : 8;
        ff_range *grown = realloc(m->kept, cap * sizeof *grown);
        if (!grown) {
            m->keep_refused = true;
            return;
        }
        m->kept = grown;
        m->kept_cap = cap;
    }
    m->kept[m->nkept++] = (ff_range){start, count};
}

/* env->frame_mem: a frame's memory, noting that the back-end reached one. */
static void *layer_frame_mem(void *layer, ff_pfn pfn)
{
    ff_meta *m = layer;
    m->reached_frames = true;
    return ff_space_frame_mem(m->space, pfn);
}

/* env->on_base: the back-end asks for every frame through one base pointer
 * (ff_frame_base). */
static void *layer_base(ff_env *env)
{
    ff_meta *m = (ff_meta *)(void *)((char *)env - offsetof(ff_meta, env));
    if (!m->creating) return NULL; /* documented: from create only */
    if (!m->def->policy.needs_backing) {
        m->base_refused = "its policy does not declare needs_backing";
        return NULL;
    }
    void *base = ff_space_direct(m->space);
    if (!base) m->base_refused = "it had touched frames through frame_mem first";
    m->used_base = base != NULL;
    return base;
}

/* env->on_cpu: the CPU the back-end's call runs on. */
static unsigned layer_cpu(const ff_env *env)
{
    const ff_meta *m = (const ff_meta *)(const void *)((const char *)env - offsetof(ff_meta, env));
    return cpu_now(m);
}

static int by_start(const void *a, const void *b)
{
    const ff_range *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* The kept frames must be usable RAM the back-end was given, each frame kept once. */
static bool kept_frames_valid(ff_meta *m, char *err, size_t errlen)
{
    if (m->nkept) qsort(m->kept, m->nkept, sizeof *m->kept, by_start);
    for (size_t i = 0; i < m->nkept; i++) {
        ff_range r = m->kept[i];
        bool ram = r.start < m->nslots && r.count <= m->nslots - r.start &&
                   ff_space_usable_in(m->space, r.start, r.count) == r.count;
        bool overlaps = i && m->kept[i - 1].start + m->kept[i - 1].count > r.start;
        if (!ram || overlaps) {
            snprintf(err, errlen, "%s kept frames [0x%llx, +%llu) at create, which %s", m->def->name,
                     (unsigned long long)r.start, (unsigned long long)r.count,
                     ram ? "it had kept already" : "are not usable RAM it was given");
            return false;
        }
    }
    if (m->keep_refused) snprintf(err, errlen, "%s called ff_keep_frames outside create", m->def->name);
    return !m->keep_refused;
}

/* Building a back-end is not an operation: it runs unbudgeted. A panic in create
 * means the back-end cannot manage this space. Returns NULL with the reason in err. */
static __attribute__((noinline)) void *create_backend(ff_meta *m, char *err, size_t errlen)
{
    m->nkept = 0;
    m->keep_refused = false;
    m->base_refused = NULL;
    m->used_base = false;
    m->creating = true;
    call_enter(m, FF_BCALL_CREATE, 0, 0, 0, 0);
    m->env.step_budget = 0;
    void *backend = NULL;
    if (setjmp(*m->env.on_hang)) {
        call_leave(m);
        m->creating = false;
        snprintf(err, errlen, "back-end %s panicked at create: %s", m->def->name, m->panic_message);
        return NULL;
    }
    backend = m->def->create(&m->env, m->space->usable, m->space->nusable);
    call_leave(m);
    m->creating = false;
    if (!backend) {
        if (m->base_refused)
            snprintf(err, errlen, "back-end %s could not be created: ff_frame_base refused it, as %s",
                     m->def->name, m->base_refused);
        else
            snprintf(err, errlen, "back-end %s could not be created over this space", m->def->name);
        return NULL;
    }
    if (!kept_frames_valid(m, err, errlen)) {
        m->def->destroy(backend);
        return NULL;
    }
    return backend;
}

/* A panic in destroy has nothing left to judge: the instance is gone either way. */
static __attribute__((noinline)) void destroy_backend(ff_meta *m)
{
    call_enter(m, FF_BCALL_DESTROY, 0, 0, 0, 0);
    m->env.step_budget = 0;
    if (!setjmp(*m->env.on_hang)) m->def->destroy(m->backend);
    call_leave(m);
    m->backend = NULL;
}

/* Gives the slots and their log back. Every slot written since the last reset is in a
 * logged block: zeroing those leaves the arrays as they were mapped, to be reused
 * without a system call. */
static void free_slots(ff_meta *m)
{
    if (m->link && m->block_logged) forget_slots(m);
    ff_host_free_zeroed(m->link, m->nslots * SLOT_BYTES);
    ff_host_free(m->log, m->nblocks * sizeof *m->log);
    ff_host_free(m->block_logged, m->nblocks);
}

ff_meta *ff_meta_create(ff_space *space, const ff_backend_def *def, const ff_meta_opts *opts,
                        char *err, size_t errlen)
{
    if ((def->policy.needs_backing || opts->poison) && !ff_space_has_backing(space) &&
        !ff_space_enable_backing(space, FF_POISON_DEFAULT)) {
        snprintf(err, errlen, "cannot reserve host backing memory for %llu frames",
                 (unsigned long long)space->top);
        return NULL;
    }
    ff_meta *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "host out of memory");
        return NULL;
    }
    m->space = space;
    m->def = def;
    m->opts = *opts;
    m->nslots = space->top;
    m->self_locking = def->policy.locks_itself;
    if ((opts->pcp || m->self_locking) && !(m->pcp = calloc(1, sizeof *m->pcp))) {
        snprintf(err, errlen, "host out of memory");
        free(m);
        return NULL;
    }
    if (m->pcp) {
        m->pcp->class_name[LOCK_ZONE] = "the allocator lock";
        m->pcp->class_name[LOCK_PCP] = "a per-CPU cache lock";
        m->pcp->nclasses = LOCK_FIRST_BACKEND;
    }
    locks_reset(m);
    m->last = &m->lasts[0];
    m->env = (ff_env){.bug = opts->bug, .step_budget = opts->step_budget, .on_hang = &m->hang_jmp[0],
                      .frame_mem = ff_space_has_backing(space) ? layer_frame_mem : NULL,
                      .space = m, .on_exit = layer_exit, .on_keep = layer_keep,
                      .on_base = layer_base, .resets = true, .on_cpu = layer_cpu,
                      .on_spin = layer_spin, .on_irq = layer_irq, .on_cpu_local = layer_cpu_local,
                      .on_guarded = layer_guarded};
    m->nblocks = (size_t)((m->nslots + LOG_BLOCK - 1) / LOG_BLOCK);
    char *slots = ff_host_zalloc(m->nslots * SLOT_BYTES);
    if (slots) {
#define CARVE_FIELD(field, bit) \
    m->field = (void *)slots; \
    slots += m->nslots * sizeof *m->field;
        SLOT_FIELDS(CARVE_FIELD)
#undef CARVE_FIELD
    }
    m->log = ff_host_zalloc(m->nblocks * sizeof *m->log);
    m->block_logged = ff_host_zalloc(m->nblocks);
    if (!m->link || !m->log || !m->block_logged) {
        snprintf(err, errlen, "cannot reserve metadata for %llu frames",
                 (unsigned long long)m->nslots);
        free_slots(m);
        free(m->pcp);
        free(m);
        return NULL;
    }
    /* A new back-end starts on pristine frames, whatever ran on this space before. */
    ff_space_reset(space);
    m->backend = create_backend(m, err, errlen);
    if (!m->backend) {
        free_slots(m);
        free(m->kept);
        free(m->pcp);
        free(m);
        return NULL;
    }
    return m;
}

void ff_meta_destroy(ff_meta *m)
{
    if (!m) return;
    destroy_backend(m);
    free_slots(m);
    free(m->kept);
    free(m->pcp);
    free(m);
}

/* Puts a living instance back as create left it (def->reset). False when it cannot,
 * or panicked or spun doing so: it must then be rebuilt. */
static __attribute__((noinline)) bool reset_backend(ff_meta *m)
{
    if (!m->backend || !m->def->reset) return false;
    call_enter(m, FF_BCALL_RESET, 0, 0, 0, 0);
    m->env.step_budget = 0;
    volatile bool ok = false; /* set between setjmp and a longjmp that may skip it */
    if (!setjmp(*m->env.on_hang)) ok = m->def->reset(m->backend);
    call_leave(m);
    /* The frames it reaches through its base are pristine again only in direct mode. */
    if (ok && m->used_base && !ff_space_direct(m->space)) ok = false;
    return ok;
}

bool ff_meta_reset(ff_meta *m)
{
    /* An instance left through the hang handler or a panic is never trusted again. */
    bool reuse = m->death == FF_META_OK && m->def->reset;
    forget_slots(m);
    m->reached_frames = false; /* a reset below that reaches frames sets it again */
    locks_reset(m);
    m->death = FF_META_OK;
    /* What the old one said (the others' too: ff_meta_set_cpus) goes. */
    m->lasts[0].backend = FF_OK;
    m->lasts[0].pfn = 0;
    m->lasts[0].reason[0] = m->lasts[0].where[0] = '\0';
    m->env.steps = 0;
    ff_space_reset(m->space);
    if (reuse && reset_backend(m)) return true;
    destroy_backend(m);
    ff_space_reset(m->space);
    char err[256];
    m->backend = create_backend(m, err, sizeof err);
    return m->backend != NULL;
}

void ff_meta_set_cpus(ff_meta *m, ff_cpus *cpus)
{
    for (unsigned k = 0; cpus && k < FF_CONTEXTS_MAX; k++) { /* what the last run said goes */
        m->lasts[k].backend = FF_OK;
        m->lasts[k].pfn = 0;
        m->lasts[k].reason[0] = m->lasts[k].where[0] = '\0';
    }
    m->cpus = cpus;
    m->tracked = cpus || m->opts.pcp || m->self_locking;
    m->last = &m->lasts[0];
}

/* ---------------------------------------------------------------- inspection */

const char *ff_meta_lock_name(const ff_meta *m, const void *resource)
{
    static const char *const names[FF_CPUS_MAX] = {"cpu0's cache lock", "cpu1's cache lock",
                                                   "cpu2's cache lock", "cpu3's cache lock",
                                                   "cpu4's cache lock", "cpu5's cache lock",
                                                   "cpu6's cache lock", "cpu7's cache lock"};
    if (resource == &m->zone.holder) return "the allocator lock";
    for (unsigned c = 0; c < FF_CPUS_MAX; c++) {
        if (m->pcp && resource == &m->pcp->cache[c].lock.holder) return names[c];
        if (m->waited[c] && resource == &m->waited[c]->holder) return spin_name(m->waited[c]);
    }
    return "a lock";
}

FF_NO_COVERAGE const ff_meta_last *ff_meta_last_detail(const ff_meta *m)
{
    return &m->lasts[m->cpus ? ff_cpus_context(m->cpus) : 0];
}
FF_NO_COVERAGE bool ff_meta_dead(const ff_meta *m) { return m->death != FF_META_OK; }
FF_NO_COVERAGE const ff_backend_def *ff_meta_backend(const ff_meta *m) { return m->def; }
FF_NO_COVERAGE ff_semantics ff_meta_semantics(const ff_meta *m) { return m->opts.semantics; }
FF_NO_COVERAGE bool ff_meta_poisoning(const ff_meta *m) { return m->opts.poison; }
FF_NO_COVERAGE bool ff_meta_backend_reached_frames(const ff_meta *m)
{
    return m->reached_frames || m->used_base;
}
size_t ff_meta_slot_bytes(void) { return SLOT_BYTES; }
FF_NO_COVERAGE bool ff_meta_has_counter(const ff_meta *m) { return m->def->free_frames != NULL; }

FF_NO_COVERAGE uint64_t ff_meta_backend_free_frames(const ff_meta *m)
{
    return m->def->free_frames ? m->def->free_frames(m->backend) : 0;
}

FF_NO_COVERAGE const ff_range *ff_meta_kept(const ff_meta *m, size_t *n)
{
    *n = m->nkept;
    return m->kept;
}

__attribute__((noinline)) const char *ff_meta_backend_check(ff_meta *m)
{
    if (!m->def->check || m->death != FF_META_OK) return NULL;
    /* A back-end that locks itself is walked only with no call of it half done. */
    if (m->self_locking && m->in_backend) return NULL;
    /* A walk may take a few steps per frame of the map, and per word of structures
     * sized by a back-end's largest block in each zone: room for all that. */
    call_enter(m, FF_BCALL_CHECK, 0, 0, 0, 16 * (m->space->top + CHECK_WALK_SLACK));
    const char *verdict;
    int why = setjmp(*m->env.on_hang);
    if (why) {
        call_leave(m);
        backend_left(m, FF_BCALL_CHECK, NULL, 0, 0, why);
        verdict = LAST(m)->reason;
    } else {
        verdict = m->def->check(m->backend);
        call_leave(m);
    }
    return verdict;
}

FF_NO_COVERAGE uint32_t ff_meta_refcount(const ff_meta *m, ff_pfn pfn)
{
    return pfn < m->nslots ? m->refcount[pfn] : 0;
}

FF_NO_COVERAGE const uint32_t *ff_meta_refcounts(const ff_meta *m, ff_pfn start, uint64_t count)
{
    if (start > m->nslots || count > m->nslots - start) {
        fprintf(stderr, "framefuzz: refcounts of [0x%llx, +%llu) asked past the map's top\n",
                (unsigned long long)start, (unsigned long long)count);
        abort();
    }
    return &m->refcount[start];
}

FF_NO_COVERAGE ff_pfn ff_meta_first_live(const ff_meta *m, ff_pfn start, ff_pfn end)
{
    ff_pfn stop = end < m->nslots ? end : m->nslots;
    /* Usually none: a branch-free pass a block at a time, then the one that has it. */
    for (ff_pfn lo = start; lo < stop; lo += LOG_BLOCK) {
        ff_pfn hi = stop - lo < LOG_BLOCK ? stop : lo + LOG_BLOCK;
        uint32_t live = 0;
        for (ff_pfn p = lo; p < hi; p++) live |= m->refcount[p] | (m->state[p] == ST_IN_USE);
        if (!live) continue;
        for (ff_pfn p = lo; p < hi; p++)
            if (m->refcount[p] || m->state[p] == ST_IN_USE) return p;
    }
    return end;
}

FF_NO_COVERAGE ff_slot_view ff_meta_slot(const ff_meta *m, ff_pfn pfn)
{
    ff_slot_view v = {.state = view_state(m, pfn)};
    if (pfn < m->nslots) {
        v.refcount = m->refcount[pfn];
        v.usage = m->usage[pfn];
    }
    return v;
}

/* ---------------------------------------------------------------- names */

const char *ff_semantics_name(ff_semantics sem)
{
    return sem == FF_SEM_ASTERINAS_2024 ? "asterinas-2024" : sem == FF_SEM_HARDENED ? "hardened" : "?";
}

const char *ff_semantics_summary(ff_semantics sem)
{
    switch (sem) {
    case FF_SEM_ASTERINAS_2024:
        return "faithful to Asterinas in 2024 (#1760): refcount 0 means unused, from_unused open "
               "to any unused slot, no metadata for non-usable memory, failures panic, frames "
               "built under the allocator lock, freed one at a time";
    case FF_SEM_HARDENED:
        return "as Asterinas fixed it: allocator-owned and non-usable frames refuse from_unused, "
               "lock released before frames are built, overflow stops, errors are values, "
               "frames freed as runs";
    default: return "?";
    }
}

bool ff_semantics_parse(const char *name, ff_semantics *sem)
{
    for (int s = 0; s < FF_SEM_COUNT; s++)
        if (strcmp(name, ff_semantics_name((ff_semantics)s)) == 0) {
            *sem = (ff_semantics)s;
            return true;
        }
    return false;
}

const char *ff_meta_status_name(ff_meta_status status)
{
    static const char *const names[FF_META_STATUS_COUNT] = {
        "ok",           "not-aligned",   "out-of-bound", "in-use",   "unused",
        "overflow",     "invalid",       "alloc-failed", "free-rejected",
        "bad-handout",  "panic",         "deadlock",     "hang",     "backend-panic",
        "dead",
    };
    return (unsigned)status < FF_META_STATUS_COUNT ? names[status] : "?";
}

const char *ff_slot_state_name(ff_slot_state state)
{
    static const char *const names[] = {"unused", "in use", "allocator-owned",
                                        "pinned", "pending", "out of bound"};
    return (unsigned)state <= FF_SLOT_NONE ? names[state] : "?";
}
