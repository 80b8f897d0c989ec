/*
 * broken.c — TEST-ONLY back-ends and targets: one small, obviously correct allocator, and copies
 * of it that each carry exactly one deliberate, labelled flaw.
 *
 * Why. An oracle check that never fires proves nothing. Each variant below commits
 * one bug class the oracle knows (oracle.h) on a known, narrow input and
 * behaves like the control everywhere else, so a test can show that the check fires
 * on that input and stays silent on a near-identical one.
 *
 * The base allocator ("broken-none"). One state byte per RAM frame, indexed densely
 * through ff_runs (holes cost nothing); zero means free, so creation touches no
 * per-frame memory. An allocation is a head frame (USED|HEAD) followed by its tail
 * frames (USED): its length is implicit, it ends at the first frame that is not a
 * tail. Allocation is first fit from the lowest address over the joined runs: a
 * block may cross a zone boundary but never a hole, and must end at or below the
 * request's zone end. Frees follow the exact rule and are checked in the contract's
 * order: INVALID > FOREIGN > DOUBLE > MISALIGNED > WRONG_SIZE; a rejection changes
 * nothing. The free counter is kept, never recomputed; check() walks every frame.
 * Searches are O(frames): these back-ends only ever run on small test maps.
 *
 * The flaws. Each instance remembers the flaw of the def it was created through
 * (one create wrapper per variant). Every flaw is one `if (b->flaw == FLAW_X)` branch
 * with a comment naming the bug; two need a trace in the state encoding:
 *   F_PAD   broken-reserve: a head whose allocation holds one frame more than asked;
 *   F_LOST  broken-leak: a frame neither free nor allocatable. The leaky allocator
 *           believes it gave the frame back, so its counter and check() count it
 *           as free: only an outside observer can tell it is gone.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broken.h"
#include "targets.h"

/* ---------------------------------------------------------------- the variants */

/* X(ID, name, summary): every variant, in registry order. */
#define BROKEN_VARIANTS(X)                                                                    \
    X(NONE, "broken-none", "test-only control: first fit, exact validated frees, no flaw")    \
    X(FOREIGN, "broken-foreign", "test-only: accepts a free of frames that are not RAM")       \
    X(DOUBLE, "broken-double", "test-only: accepts a free of frames already free")            \
    X(WRONGSIZE, "broken-wrongsize", "test-only: accepts a free with the wrong count")         \
    X(MISALIGNED, "broken-misaligned", "test-only: accepts a free from inside an allocation")  \
    X(REJECTS, "broken-rejects", "test-only: rejects valid frees of 3 or more frames")        \
    X(HANDOUT, "broken-handout", "test-only: every 3rd allocation repeats the previous one")   \
    X(OUTOFMAP, "broken-outofmap", "test-only: 7-frame allocations return the frame past RAM") \
    X(ZONE, "broken-zone", "test-only: ignores zone limits, last fit over all RAM")           \
    X(MISALIGN, "broken-misalign", "test-only: ignores align, returns a misaligned fit")      \
    X(RESERVE, "broken-reserve", "test-only: reserves count+1 frames for 2 or more")          \
    X(OOM, "broken-oom", "test-only: search gives up after passing 16 allocated frames")      \
    X(LEAK, "broken-leak", "test-only: a free of 2 or more frames loses the last one")        \
    X(DRIFT, "broken-drift", "test-only: a free of 2 frames adds 3 to the counter")           \
    X(HANG, "broken-hang", "test-only: align 8 loops forever (set a step budget)")            \
    X(CORRUPT, "broken-corrupt", "test-only: a free of 5 frames leaves its head flag")        \
    X(POISON, "broken-poison", "test-only: writes 16 bytes into a freed frame, declares 8")   \
    X(BADREQ, "broken-badreq", "test-only: alloc(0) succeeds with one frame")                 \
    X(CODE, "broken-code", "test-only: rejects a foreign free as DOUBLE")                     \
    X(SELFLOCK, "broken-selflock", "test-only: locks itself; a free of 6 takes its lock twice") \
    X(IRQLOCAL, "broken-irqlocal", "test-only: locks itself; a free of 1 counts itself in its "  \
                                   "per-CPU state with interrupts on")                        \
    X(UNGUARDED, "broken-unguarded", "test-only: locks itself; a free of 2 works without its "   \
                                     "lock")

typedef enum broken_flaw {
#define X(id, name, summary) FLAW_##id,
    BROKEN_VARIANTS(X)
#undef X
} broken_flaw;

/* broken-handout repeats every third allocation; broken-oom gives up after this many
 * allocated frames; broken-poison writes SCRIBBLE_BYTES but declares INBAND_BYTES. */
#define HANDOUT_EVERY  3u
#define OOM_PATIENCE   16u
#define OUTOFMAP_COUNT 7u
#define HANG_ALIGN     8u
#define INBAND_BYTES   8u
#define SCRIBBLE_BYTES 16u
#define SCRIBBLE_BYTE  0x5A

/* ---------------------------------------------------------------- state */

enum frame_flags {
    F_USED = 1u << 0, /* allocated */
    F_HEAD = 1u << 1, /* first frame of an allocation */
    F_PAD = 1u << 2,  /* on a head: one frame more reserved than asked (broken-reserve) */
    F_LOST = 1u << 3, /* leaked: neither free nor allocatable (broken-leak) */
};

typedef struct broken {
    ff_env *env;
    broken_flaw flaw;
    ff_runs ram;      /* managed RAM, adjacent ranges joined, frames numbered densely */
    uint8_t *state;   /* frame_flags per RAM frame; 0 = free */
    size_t state_bytes;
    uint64_t free_frames;
    uint64_t successes; /* allocations answered FF_OK (broken-handout) */
    ff_spinlock lock;   /* broken-selflock, broken-irqlocal: every call takes it */
    uint64_t calls_on[FF_MAX_CPUS]; /* ... and counts itself per CPU, interrupts off */
    ff_pfn last_start;  /* start of the last block really reserved (broken-handout) */
    char report[160];
} broken;

/* ---------------------------------------------------------------- frame states */

static inline uint8_t *frame(const broken *b, const ff_run *run, ff_pfn pfn)
{
    return &b->state[run->base + (pfn - run->start)];
}

static inline bool is_allocated(uint8_t s) { return s & F_USED; }
/* Free frames can be handed out; a stale head flag (broken-corrupt) does not stop that. */
static inline bool is_available(uint8_t s) { return !(s & (F_USED | F_LOST)); }
static inline bool is_tail(uint8_t s) { return s == F_USED; }
static inline bool is_aligned(ff_pfn pfn, uint64_t align) { return (pfn & (align - 1)) == 0; }
static inline ff_pfn min_pfn(ff_pfn a, ff_pfn b) { return a < b ? a : b; }
static inline ff_pfn max_pfn(ff_pfn a, ff_pfn b) { return a > b ? a : b; }

/* Sets frames [lo, hi) of one run to `value`. */
static void set_frames(broken *b, const ff_run *run, ff_pfn lo, ff_pfn hi, uint8_t value)
{
    for (ff_pfn pfn = lo; pfn < hi; pfn++) {
        ff_step(b->env);
        *frame(b, run, pfn) = value;
    }
}

/* The end of the allocation holding pfn (a head or a tail): its first non-tail frame. */
static ff_pfn allocation_end(broken *b, const ff_run *run, ff_pfn pfn)
{
    ff_pfn end = pfn + 1;
    while (end < run->end && is_tail(*frame(b, run, end))) {
        ff_step(b->env);
        end++;
    }
    return end;
}

static bool all_allocated(broken *b, const ff_run *run, ff_pfn lo, ff_pfn hi)
{
    for (ff_pfn pfn = lo; pfn < hi; pfn++) {
        ff_step(b->env);
        if (!is_allocated(*frame(b, run, pfn))) return false;
    }
    return true;
}

/* ---------------------------------------------------------------- create / destroy */

static void broken_destroy(void *self)
{
    broken *b = self;
    if (!b) return;
    ff_host_free(b->state, b->state_bytes);
    ff_runs_destroy(&b->ram);
    free(b);
}

static void *broken_create(ff_env *env, const ff_range *ranges, size_t nranges, broken_flaw flaw)
{
    if (!env || (nranges && !ranges)) return NULL;
    broken *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->env = env;
    b->flaw = flaw;
    b->lock = FF_SPINLOCK("the broken lock");
    if (!ff_runs_init(&b->ram, ranges, nranges)) {
        free(b);
        return NULL;
    }
    b->state_bytes = (size_t)b->ram.frames; /* < 2^40: fits a 64-bit size_t */
    if (!(b->state = ff_host_zalloc(b->state_bytes))) {
        broken_destroy(b);
        return NULL;
    }
    b->free_frames = b->ram.frames;
    return b;
}

/* One create per variant: the instance learns its flaw from the def it came through. */
#define X(id, name, summary)                                                                  \
    static void *create_##id(ff_env *env, const ff_range *ranges, size_t nranges)             \
    {                                                                                         \
        return broken_create(env, ranges, nranges, FLAW_##id);                                \
    }
BROKEN_VARIANTS(X)
#undef X

/* ---------------------------------------------------------------- alloc */

/* Which starts a first-fit search may take: aligned ones (the contract), or only
 * misaligned ones (broken-misalign). */
typedef enum start_rule { START_ALIGNED, START_MISALIGNED } start_rule;

/*
 * The lowest start s allowed by `rule` with [s, s + count) available, inside one run
 * and ending at or below `limit`. One pass over the frames: `cand` is the start of
 * the available stretch being grown; a frame in use ends it.
 */
static bool first_fit(broken *b, uint64_t count, uint64_t align, ff_pfn limit, start_rule rule,
                      ff_pfn *at)
{
    uint64_t passed = 0; /* allocated frames the search has moved past */
    for (size_t r = 0; r < b->ram.count && b->ram.run[r].start < limit; r++) {
        ff_step(b->env);
        const ff_run *run = &b->ram.run[r];
        ff_pfn end = min_pfn(run->end, limit), cand = 0;
        bool open = false;
        for (ff_pfn pfn = run->start; pfn < end; pfn++) {
            ff_step(b->env);
            uint8_t s = *frame(b, run, pfn);
            if (!is_available(s)) {
                open = false;
                if (is_allocated(s)) passed++;
                /* FLAW spurious out-of-memory: the search gives up after 16 allocated frames. */
                if (b->flaw == FLAW_OOM && passed == OOM_PATIENCE) return false;
                continue;
            }
            if (!open && is_aligned(pfn, align) == (rule == START_ALIGNED)) {
                open = true;
                cand = pfn;
            }
            if (open && pfn - cand + 1 == count) {
                *at = cand;
                return true;
            }
        }
    }
    return false;
}

/* The highest aligned start with [s, s + count) available in one run, ignoring zones
 * (broken-zone). Walks down, counting the available frames from pfn up. */
static bool last_fit(broken *b, uint64_t count, uint64_t align, ff_pfn *at)
{
    for (size_t r = b->ram.count; r-- > 0;) {
        ff_step(b->env);
        const ff_run *run = &b->ram.run[r];
        uint64_t available_above = 0;
        for (ff_pfn pfn = run->end; pfn-- > run->start;) {
            ff_step(b->env);
            available_above = is_available(*frame(b, run, pfn)) ? available_above + 1 : 0;
            if (available_above >= count && is_aligned(pfn, align)) {
                *at = pfn;
                return true;
            }
        }
    }
    return false;
}

/* Reserves [at, at + frames) as one allocation; `head_flags` adds F_PAD. */
static void take(broken *b, ff_pfn at, uint64_t frames, uint8_t head_flags)
{
    const ff_run *run = ff_runs_find(&b->ram, at);
    set_frames(b, run, at, at + frames, F_USED);
    *frame(b, run, at) = F_USED | F_HEAD | head_flags;
    b->free_frames -= frames;
    b->successes++;
    b->last_start = at;
}

static ff_status broken_alloc(broken *b, const ff_alloc_req *req, ff_pfn *start)
{
    uint64_t count = req->count;
    uint64_t align = req->align > 1 ? req->align : 1;
    /* FLAW zero-size request: alloc(0) is served as a one-frame allocation. */
    if (b->flaw == FLAW_BADREQ && count == 0) count = 1;
    if (count == 0 || !ff_is_pow2(align) || (unsigned)req->zone >= FF_ZONE_COUNT)
        return FF_ERR_INVALID;

    /* FLAW hang: align 8 spins until the step budget ends it (forever without one). */
    if (b->flaw == FLAW_HANG && align == HANG_ALIGN)
        for (;;) ff_step(b->env);

    /* FLAW out-of-map allocation: 7 frames "come from" the frame past the top of RAM. */
    if (b->flaw == FLAW_OUTOFMAP && count == OUTOFMAP_COUNT && b->ram.count) {
        b->free_frames -= OUTOFMAP_COUNT;
        *start = b->ram.run[b->ram.count - 1].end;
        return FF_OK;
    }

    ff_pfn limit = ff_zone_end(req->zone), at = 0;

    /* FLAW wrong-size allocation: 2 or more frames reserve one frame more. */
    if (b->flaw == FLAW_RESERVE && count >= 2 && count < b->ram.frames &&
        first_fit(b, count + 1, align, limit, START_ALIGNED, &at)) {
        take(b, at, count + 1, F_PAD);
        *start = at;
        return FF_OK;
    }

    bool found;
    if (b->flaw == FLAW_ZONE && req->zone != FF_ZONE_NORMAL)
        found = last_fit(b, count, align, &at); /* FLAW zone ignored: last fit anywhere */
    else if (b->flaw == FLAW_MISALIGN && align > 1) /* FLAW align ignored: misaligned first */
        found = first_fit(b, count, align, limit, START_MISALIGNED, &at) ||
                first_fit(b, count, 1, limit, START_ALIGNED, &at);
    else
        found = first_fit(b, count, align, limit, START_ALIGNED, &at);
    if (!found) return FF_ERR_NOMEM;
    /* FLAW double hand-out: every third success returns the previous block again. */
    if (b->flaw == FLAW_HANDOUT && b->successes % HANDOUT_EVERY == HANDOUT_EVERY - 1) {
        b->successes++;
        *start = b->last_start;
        return FF_OK;
    }
    take(b, at, count, 0);
    *start = at;
    return FF_OK;
}

/* ---------------------------------------------------------------- free */

/* Frees [lo, hi) of one run. */
static void release(broken *b, const ff_run *run, ff_pfn lo, ff_pfn hi)
{
    set_frames(b, run, lo, hi, 0);
    b->free_frames += hi - lo;
}

/* Frees whatever RAM lies in [start, start + count) and counts all `count` frames
 * free, whatever they were (the unvalidated free of broken-foreign/-double). */
static ff_status release_blindly(broken *b, ff_pfn start, uint64_t count)
{
    ff_pfn end = start + count;
    for (size_t r = 0; r < b->ram.count; r++) {
        ff_step(b->env);
        const ff_run *run = &b->ram.run[r];
        ff_pfn lo = max_pfn(start, run->start), hi = min_pfn(end, run->end);
        if (lo < hi) set_frames(b, run, lo, hi, 0);
    }
    b->free_frames += count;
    return FF_OK;
}

/* broken-poison: scribbles past the in-band bytes it declared. */
static void scribble(broken *b, ff_pfn pfn)
{
    unsigned char *mem = b->env->frame_mem ? b->env->frame_mem(b->env->space, pfn) : NULL;
    if (mem) memset(mem, SCRIBBLE_BYTE, SCRIBBLE_BYTES);
}

static ff_status broken_free(broken *b, ff_pfn start, uint64_t count)
{
    if (count == 0 || start >= FF_PFN_LIMIT || count > FF_PFN_LIMIT - start) return FF_ERR_INVALID;
    ff_pfn end = start + count;

    /* Runs are maximal, so a managed range lies inside one of them. */
    const ff_run *run = ff_runs_find(&b->ram, start);
    if (!run || end > run->end) {
        /* FLAW accepted foreign free. */
        if (b->flaw == FLAW_FOREIGN) return release_blindly(b, start, count);
        /* FLAW wrong rejection code: a foreign free answers DOUBLE. */
        if (b->flaw == FLAW_CODE) return FF_ERR_DOUBLE;
        return FF_ERR_FOREIGN;
    }

    if (!all_allocated(b, run, start, end)) {
        /* FLAW accepted double free. */
        if (b->flaw == FLAW_DOUBLE) return release_blindly(b, start, count);
        return FF_ERR_DOUBLE;
    }

    uint8_t head = *frame(b, run, start);
    ff_pfn alloc_end = allocation_end(b, run, start);
    if (!(head & F_HEAD)) {
        /* FLAW accepted misaligned free: frees from start to the allocation's end. */
        if (b->flaw == FLAW_MISALIGNED) {
            release(b, run, start, alloc_end);
            return FF_OK;
        }
        return FF_ERR_MISALIGNED;
    }

    uint64_t asked = alloc_end - start - (head & F_PAD ? 1 : 0);
    if (count != asked) {
        /* FLAW accepted wrong-size free: frees exactly [start, start + count). */
        if (b->flaw == FLAW_WRONGSIZE) {
            release(b, run, start, end);
            return FF_OK;
        }
        return FF_ERR_WRONG_SIZE;
    }
    /* FLAW valid free rejected: 3 or more frames answer WRONG_SIZE. */
    if (b->flaw == FLAW_REJECTS && count >= 3) return FF_ERR_WRONG_SIZE;

    release(b, run, start, alloc_end);
    /* FLAW leak: the last frame is lost, yet counted free. */
    if (b->flaw == FLAW_LEAK && count >= 2) *frame(b, run, alloc_end - 1) = F_LOST;
    /* FLAW accounting drift: a free of 2 frames counts 3. */
    if (b->flaw == FLAW_DRIFT && count == 2) b->free_frames += 1;
    /* FLAW structural corruption: a free of 5 frames leaves its head flag set. */
    if (b->flaw == FLAW_CORRUPT && count == 5) *frame(b, run, start) = F_HEAD;
    /* FLAW free-frame corruption: 16 bytes written where 8 were declared. */
    if (b->flaw == FLAW_POISON) scribble(b, start);
    return FF_OK;
}

/* ---------------------------------------------------------------- locking itself */

static bool locks_itself(const broken *b)
{
    return b->flaw == FLAW_SELFLOCK || b->flaw == FLAW_IRQLOCAL || b->flaw == FLAW_UNGUARDED;
}

/* The calls of a variant that locks itself: interrupts off, a count in its per-CPU
 * state, then its lock around the control's work. */
static ff_status alloc_hook(void *self, const ff_alloc_req *req, ff_pfn *start)
{
    broken *b = self;
    if (!locks_itself(b)) return broken_alloc(b, req, start);
    ff_irq_disable(b->env);
    ff_cpu_local(b->env);
    b->calls_on[ff_cpu_id(b->env)]++;
    ff_spin_lock(b->env, &b->lock);
    ff_guarded(b->env, &b->lock);
    ff_status st = broken_alloc(b, req, start);
    ff_spin_unlock(b->env, &b->lock);
    ff_irq_enable(b->env);
    return st;
}

static ff_status free_hook(void *self, ff_pfn start, uint64_t count)
{
    broken *b = self;
    if (!locks_itself(b)) return broken_free(b, start, count);
    /* FLAW per-CPU state touched with interrupts on: a free of one frame. */
    bool irq_safe = !(b->flaw == FLAW_IRQLOCAL && count == 1);
    if (irq_safe) ff_irq_disable(b->env);
    ff_cpu_local(b->env);
    b->calls_on[ff_cpu_id(b->env)]++;
    /* FLAW unguarded shared state: a free of 2 frames works without the lock. */
    bool locked = !(b->flaw == FLAW_UNGUARDED && count == 2);
    if (locked) ff_spin_lock(b->env, &b->lock);
    /* FLAW self-deadlock: a free of 6 frames takes the lock it holds. */
    if (b->flaw == FLAW_SELFLOCK && count == 6) ff_spin_lock(b->env, &b->lock);
    ff_guarded(b->env, &b->lock);
    ff_status st = broken_free(b, start, count);
    if (locked) ff_spin_unlock(b->env, &b->lock);
    if (irq_safe) ff_irq_enable(b->env);
    return st;
}

/* ---------------------------------------------------------------- accounting and checks */

static uint64_t broken_free_frames(const void *self) { return ((const broken *)self)->free_frames; }

__attribute__((format(printf, 2, 3)))
static const char *report(broken *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->report, sizeof b->report, fmt, ap);
    va_end(ap);
    return b->report;
}

/* Every frame's state is one the allocator can make, every tail follows its
 * allocation, and the counter equals the frames believed free. */
static const char *broken_check(void *self)
{
    broken *b = self;
    uint64_t believed_free = 0;
    for (size_t r = 0; r < b->ram.count; r++) {
        ff_step(b->env);
        const ff_run *run = &b->ram.run[r];
        bool in_allocation = false;
        for (ff_pfn pfn = run->start; pfn < run->end; pfn++) {
            ff_step(b->env);
            uint8_t s = *frame(b, run, pfn);
            if (s == 0 || s == F_LOST) {
                believed_free++;
                in_allocation = false;
            } else if (s == F_HEAD) {
                return report(b, "free frame 0x%" PRIx64 " still marked as an allocation head",
                              pfn);
            } else if (s == (F_USED | F_HEAD) || s == (F_USED | F_HEAD | F_PAD)) {
                if ((s & F_PAD) && (pfn + 1 == run->end || !is_tail(*frame(b, run, pfn + 1))))
                    return report(b, "padded allocation at 0x%" PRIx64 " has no extra frame", pfn);
                in_allocation = true;
            } else if (s == F_USED) {
                if (!in_allocation)
                    return report(b, "allocated frame 0x%" PRIx64 " belongs to no allocation", pfn);
            } else {
                return report(b, "frame 0x%" PRIx64 " has the impossible state 0x%x", pfn, s);
            }
        }
    }
    if (believed_free != b->free_frames)
        return report(b, "%" PRIu64 " frames are free but the counter says %" PRIu64, believed_free,
                      b->free_frames);
    return NULL;
}

/* ---------------------------------------------------------------- registry */

/* All variants declare the control's policy; only broken-poison claims in-band bytes. */
#define X(id, name_, summary_)                                                                \
    static const ff_backend_def ops_##id = {                                                  \
        .name = name_,                                                                        \
        .summary = summary_,                                                                  \
        .policy =                                                                             \
            {                                                                                 \
                .placement = FF_PLACE_ANY_RUN,                                                \
                .rounding = FF_ROUND_NONE,                                                    \
                .free_rule = FF_FREE_EXACT,                                                   \
                .max_order = FF_ORDER_ANY,                                                               \
                .validates_frees = true,                                                      \
                .honours_zone = true,                                                         \
                .honours_align = true,                                                        \
                .needs_backing = FLAW_##id == FLAW_POISON,                                    \
                .inband_bytes = FLAW_##id == FLAW_POISON ? INBAND_BYTES : 0,                  \
                .locks_itself = FLAW_##id == FLAW_SELFLOCK || FLAW_##id == FLAW_IRQLOCAL ||   \
                                FLAW_##id == FLAW_UNGUARDED,                                  \
            },                                                                                \
        .create = create_##id,                                                                \
        .destroy = broken_destroy,                                                            \
        .alloc = alloc_hook,                                                                  \
        .free = free_hook,                                                                    \
        .free_frames = broken_free_frames,                                                    \
        .check = broken_check,                                                                \
    };
BROKEN_VARIANTS(X)
#undef X

const ff_backend_def *const ff_broken_backends[] = {
#define X(id, name, summary) &ops_##id,
    BROKEN_VARIANTS(X)
#undef X
};

const size_t ff_broken_backend_count = sizeof ff_broken_backends / sizeof ff_broken_backends[0];

const ff_backend_def *ff_broken_find(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < ff_broken_backend_count; i++)
        if (strcmp(ff_broken_backends[i]->name, name) == 0) return ff_broken_backends[i];
    return NULL;
}

/* ---------------------------------------------------------------- targets */

/* Targets whose flaw is in the layer, not the back-end: the correct broken-none under a
 * layer with the injected bug on. */
static const struct {
    const char *name;
    ff_bug bug;
} layer_fault_targets[] = {
    {"broken-refcount", FF_BUG_LAYER_FROM_UNUSED_OWNED},
    {"broken-slot", FF_BUG_LAYER_FREED_KEEPS_SLOT},
};

static bool find_broken_target(const char *name, ff_target *target)
{
    const ff_backend_def *def = ff_broken_find(name);
    if (def) {
        *target = (ff_target){def->name, def, FF_BUG_NONE, false};
        return true;
    }
    for (size_t i = 0; i < sizeof layer_fault_targets / sizeof layer_fault_targets[0]; i++)
        if (strcmp(name, layer_fault_targets[i].name) == 0) {
            *target = (ff_target){layer_fault_targets[i].name, ff_broken_find("broken-none"),
                                  layer_fault_targets[i].bug, false};
            return true;
        }
    return false;
}

/* Linking this file into a program is what makes the broken targets runnable there:
 * the test tools and unit tests link it, the shipped tools never do. */
__attribute__((constructor)) static void install_broken_targets(void)
{
    ff_targets_extend(find_broken_target);
}
