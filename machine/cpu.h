/*
 * cpu.h — simulated CPUs: several tasks in flight at once, interleaved deterministically
 * at preemption points by a schedule a fuzz input carries.
 *
 * Execution stays single-threaded. Each CPU runs its task as a coroutine with a stack
 * of its own, and a context switch happens only where the running code calls
 * ff_cpus_point (a lock acquire or release, a refcount atomic, a per-CPU cache access,
 * optionally a back-end's loop step) or waits (ff_cpus_block). Between two points a
 * CPU runs alone, so the same schedule gives the same interleaving on every run and
 * every engine; coverage guidance explores interleavings through the schedule's bytes.
 *
 * Two ways to read the schedule, both bounding the number of preemptions by its length:
 *   FF_SCHED_DIRECT  entries of two bytes (gap, cpu): after passing `gap` more points,
 *                    switch to CPU `cpu % n` (or the next runnable one after it). An
 *                    entry naming the running CPU, or with no other CPU runnable, is
 *                    spent without a switch.
 *   FF_SCHED_PCT     as in PCT (Burckhardt et al., ASPLOS 2010), with the fuzzer's bytes
 *                    for its random choices: the first n bytes give the CPUs' priorities
 *                    (higher byte first, then lower index), each later byte is a change
 *                    point (a gap, as above) where the running CPU drops below every
 *                    other. The highest-priority runnable CPU always runs.
 * Past the schedule's end nothing preempts: the running CPU goes on until it finishes or
 * blocks. A CPU that finishes or blocks hands over to the next runnable one (DIRECT: the
 * next index after it, wrapping; PCT: the highest priority); that is no preemption.
 *
 * A CPU that cannot go on (a lock another CPU holds) waits with ff_cpus_block until
 * another wakes it with ff_cpus_wake. When every unfinished CPU waits, the run ends as
 * a deadlock, and ff_cpus_waiting_for says who waits for what. A task must not leave
 * its CPU by longjmp: whatever it sets up to unwind (a hang handler) it sets up on its
 * own stack.
 */
#ifndef FF_CPU_H
#define FF_CPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FF_CPUS_MAX     8
#define FF_CONTEXTS_MAX (2 * FF_CPUS_MAX) /* each CPU's task, and its interrupt handler */
#define FF_SWITCHES_MAX 256 /* the switches a run records for its trace */

/* Why a CPU may be preempted where it is. */
typedef enum ff_point {
    FF_POINT_LOCK,   /* about to acquire a lock */
    FF_POINT_HELD,   /* just acquired one */
    FF_POINT_UNLOCK, /* just released one */
    FF_POINT_ATOMIC, /* a refcount load, compare-and-swap or fetch-add */
    FF_POINT_CACHE,  /* a per-CPU cache access */
    FF_POINT_STEP,   /* a back-end's loop step (ff_step) */
    FF_POINT_COUNT
} ff_point;

typedef enum ff_sched_mode { FF_SCHED_DIRECT, FF_SCHED_PCT } ff_sched_mode;

typedef struct ff_schedule {
    ff_sched_mode mode;
    const uint8_t *bytes; /* read, never written; valid for the run */
    size_t len;
} ff_schedule;

typedef enum ff_cpus_outcome {
    FF_CPUS_DONE,     /* every task returned */
    FF_CPUS_DEADLOCK, /* every CPU whose task had not returned was waiting */
    FF_CPUS_HALTED,   /* ff_cpus_halt: the others were left where they were */
} ff_cpus_outcome;

/* One context switch as it happened, for a reproducer people can read. */
typedef struct ff_switch {
    uint64_t point;  /* the points passed by then, all CPUs together (the one it was at too) */
    uint8_t from, to;
    bool preempted;  /* `from` could have gone on (else it finished or waits) */
    ff_point why;    /* the point `from` was at when preempted (FF_POINT_COUNT when it
                        finished) */
} ff_switch;

/* Told of every switch as it happens, on the CPU leaving (a trace prints it in place). */
typedef void ff_switch_observer(void *ctx, const ff_switch *s);

typedef struct ff_cpus ff_cpus;
typedef void ff_task(void *arg);

/* The first member of every ff_cpus: what the inline functions below read. A point is
 * passed on every refcount atomic, and in nearly all of them there is nothing to do
 * (no switch due, no interrupt to take), yet the calls were a sixth of what a
 * concurrent run cost over the same operations in order. cpu.c keeps these up to
 * date; nothing else writes them.
 *
 * Code the fuzzers' coverage follows (the layer, the back-ends) calls them out of line
 * (cpu.c, FF_CPUS_IMPLEMENTATION, holds the external definitions): inlined there,
 * their branches would be counted as that code's own, and the corpus would grow with
 * inputs that differ only in where the schedule falls. */
#if defined(__has_feature) && !defined(FF_CPUS_IMPLEMENTATION)
#if __has_feature(coverage_sanitizer)
#define FF_CPUS_OUT_OF_LINE
#endif
#endif
typedef struct ff_cpus_view {
    uint64_t points;      /* points passed, all CPUs together */
    uint64_t quiet_until; /* points numbered below it have nothing to do (outside a run,
                             or halted: none has) */
    unsigned context;     /* ff_cpus_context */
} ff_cpus_view;

/* CPUs with stacks of stack_bytes each (0: a default that holds a back-end call under
 * the sanitizers); NULL when host memory runs out. Made once, run many times. */
ff_cpus *ff_cpus_create(size_t stack_bytes);
void ff_cpus_destroy(ff_cpus *c);

/* Runs task(args[i]) on CPU i, for i < n (1..FF_CPUS_MAX), interleaved as the schedule
 * says, until every task returned or the CPUs deadlock. CPU 0 starts (PCT: the
 * highest-priority one). */
ff_cpus_outcome ff_cpus_run(ff_cpus *c, unsigned n, ff_task *task, void *const args[],
                            const ff_schedule *schedule);

/* A preemption point of the running CPU: returns when the schedule lets it go on;
 * true when other code ran meanwhile (another CPU, or an interrupt handler here).
 * Inline when there is nothing to do; ff_cpus_point_slow (cpu.c) does the rest. */
bool ff_cpus_point_slow(ff_cpus *c, ff_point why);
#ifdef FF_CPUS_OUT_OF_LINE
bool ff_cpus_point(ff_cpus *c, ff_point why);
#else
inline bool ff_cpus_point(ff_cpus *c, ff_point why)
{
    if (!c) return false;
    ff_cpus_view *v = (ff_cpus_view *)c;
    if (v->points >= v->quiet_until) return ff_cpus_point_slow(c, why);
    v->points++;
    return false;
}
#endif
/* The running CPU waits for `resource` (any address naming it): returns once another
 * CPU woke it and the schedule runs it again. */
void ff_cpus_block(ff_cpus *c, const void *resource);
/* Every CPU waiting for `resource` may run again (when the schedule picks it). */
void ff_cpus_wake(ff_cpus *c, const void *resource);

/* The running CPU runs alone until the matching end (nested): no point preempts it and
 * no interrupt comes, as under Linux's stop_machine. It must not wait meanwhile. */
void ff_cpus_exclusive_begin(ff_cpus *c);
void ff_cpus_exclusive_end(ff_cpus *c);
/* Whether the running CPU has interrupts off (or is in its interrupt handler, where
 * none nests); false outside a run. */
bool ff_cpus_irq_off(const ff_cpus *c);

/* The system stopped (a kernel panic halts every other CPU): from now on only the
 * running CPU goes on, no point preempts it, and the run ends when it returns or
 * waits (FF_CPUS_HALTED). */
void ff_cpus_halt(ff_cpus *c);
/* Sets the switch observer for the runs to come (NULL: none). */
void ff_cpus_observe(ff_cpus *c, ff_switch_observer *fn, void *ctx);

/* Interrupts. A CPU's are enabled unless disabled (nested: each disable needs its
 * enable). At every point where the running CPU has them enabled, is not in an
 * interrupt handler already and has an interrupt raised, the hook runs there, on that
 * CPU's stack, as its interrupt handler (ff_cpus_in_irq meanwhile): it may run an
 * operation in interrupt context, which passes points of its own (other CPUs may run;
 * no interrupt nests). When the system halts in a handler (ff_cpus_halt), what it
 * interrupted never resumes: the run ends there. */
typedef void ff_irq_hook(void *ctx, unsigned cpu);
void ff_cpus_on_interrupt(ff_cpus *c, ff_irq_hook *fn, void *ctx);
/* Whether CPU i has an interrupt raised, for the hook to be asked at its points (none
 * at the start of a run): points where none can come cost no call. */
void ff_cpus_irq_raise(ff_cpus *c, unsigned i, bool raised);
/* The running CPU takes an interrupt now if it may (a task at its end: the CPU idles). */
void ff_cpus_interrupt(ff_cpus *c);
void ff_cpus_irq_disable(ff_cpus *c);
void ff_cpus_irq_enable(ff_cpus *c);
/* Who runs now, as a context: the running CPU, plus FF_CPUS_MAX in its interrupt
 * handler (0 outside ff_cpus_run). Per-operation state is kept per context.
 * ff_cpus_current: the CPU running now (within a task), 0 outside ff_cpus_run. */
#ifdef FF_CPUS_OUT_OF_LINE
unsigned ff_cpus_context(const ff_cpus *c);
bool ff_cpus_in_irq(const ff_cpus *c);
unsigned ff_cpus_current(const ff_cpus *c);
#else
inline unsigned ff_cpus_context(const ff_cpus *c)
{
    return c ? ((const ff_cpus_view *)c)->context : 0;
}
inline bool ff_cpus_in_irq(const ff_cpus *c) { return ff_cpus_context(c) >= FF_CPUS_MAX; }
inline unsigned ff_cpus_current(const ff_cpus *c) { return ff_cpus_context(c) % FF_CPUS_MAX; }
#endif
/* After a run: what `cpu` waits for, or NULL if it does not. */
const void *ff_cpus_waiting_for(const ff_cpus *c, unsigned cpu);
/* After a run: its switches, in order (the first FF_SWITCHES_MAX; *n counts those
 * only), and how many preempted a CPU that could have gone on. */
const ff_switch *ff_cpus_switches(const ff_cpus *c, size_t *n);
unsigned ff_cpus_preemptions(const ff_cpus *c);

#endif
