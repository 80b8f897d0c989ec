/*
 * test_cpu.c — simulated CPUs: what a schedule makes of a few small tasks. A lost update
 * (read, point, write) shows whether and where a switch happened; a lock made of
 * block/wake shows waiting, waking and an ABBA deadlock; and many random schedules
 * over four CPUs check the bookkeeping (under ASan, the coroutines' stacks too).
 */
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "unit.h"

static ff_cpus *cpus;

static ff_cpus *the_cpus(void)
{
    if (!cpus) cpus = ff_cpus_create(0);
    CHECK(cpus != NULL);
    return cpus;
}

/* ---------------------------------------------------------------- lost update */

typedef struct counter {
    int value;
    int increments; /* per task */
} counter;

/* counter->value += 1, `increments` times, with a point between the read and the write. */
static void increment(void *arg)
{
    counter *k = arg;
    for (int i = 0; i < k->increments; i++) {
        int seen = k->value;
        ff_cpus_point(cpus, FF_POINT_ATOMIC);
        k->value = seen + 1;
    }
}

static int run_increments(unsigned n, int increments, ff_sched_mode mode, const uint8_t *bytes,
                          size_t len, ff_cpus_outcome *outcome)
{
    counter k = {0, increments};
    void *args[FF_CPUS_MAX];
    for (unsigned i = 0; i < n; i++) args[i] = &k;
    ff_schedule s = {mode, bytes, len};
    *outcome = ff_cpus_run(the_cpus(), n, increment, args, &s);
    return k.value;
}

FF_TEST(cpu_no_schedule_runs_each_cpu_to_its_end_in_turn)
{
    ff_cpus_outcome out;
    CHECK_EQ(run_increments(1, 5, FF_SCHED_DIRECT, NULL, 0, &out), 5);
    CHECK_EQ(out, FF_CPUS_DONE);
    CHECK_EQ(run_increments(3, 5, FF_SCHED_DIRECT, NULL, 0, &out), 15);
    CHECK_EQ(out, FF_CPUS_DONE);
    size_t n;
    const ff_switch *sw = ff_cpus_switches(cpus, &n);
    CHECK_EQ(n, 2); /* 0 finishes, then 1, then 2: hand-overs, no preemption */
    CHECK(!sw[0].preempted && sw[0].from == 0 && sw[0].to == 1);
    CHECK(!sw[1].preempted && sw[1].from == 1 && sw[1].to == 2);
    CHECK_EQ(ff_cpus_preemptions(cpus), 0);
}

FF_TEST(cpu_a_direct_switch_between_read_and_write_loses_an_update)
{
    ff_cpus_outcome out;
    /* At the first point (CPU 0 has read 0), switch to CPU 1: it reads 0 too. */
    const uint8_t at_first[] = {0, 1};
    CHECK_EQ(run_increments(2, 1, FF_SCHED_DIRECT, at_first, sizeof at_first, &out), 1);
    CHECK_EQ(out, FF_CPUS_DONE);
    CHECK_EQ(ff_cpus_preemptions(cpus), 1);
    size_t n;
    const ff_switch *sw = ff_cpus_switches(cpus, &n);
    CHECK(n >= 1 && sw[0].preempted && sw[0].from == 0 && sw[0].to == 1 && sw[0].point == 1 &&
          sw[0].why == FF_POINT_ATOMIC);
    /* The same bytes, the same interleaving. */
    CHECK_EQ(run_increments(2, 1, FF_SCHED_DIRECT, at_first, sizeof at_first, &out), 1);
    /* Naming the running CPU spends the entry without a switch: nothing is lost. */
    const uint8_t to_self[] = {0, 0};
    CHECK_EQ(run_increments(2, 1, FF_SCHED_DIRECT, to_self, sizeof to_self, &out), 2);
    CHECK_EQ(ff_cpus_preemptions(cpus), 0);
    /* A gap: CPU 0 does 3 of its 4 increments alone and is preempted after reading 3;
     * CPU 1 counts on to 7, then CPU 0 writes its 4 over it. */
    const uint8_t later[] = {3, 1};
    CHECK_EQ(run_increments(2, 4, FF_SCHED_DIRECT, later, sizeof later, &out), 4);
    /* A half entry at the end is no switch. */
    const uint8_t half[] = {0};
    CHECK_EQ(run_increments(2, 1, FF_SCHED_DIRECT, half, sizeof half, &out), 2);
}

FF_TEST(cpu_pct_runs_the_highest_priority_and_change_points_bound_preemptions)
{
    ff_cpus_outcome out;
    /* Priorities from the first 3 bytes: CPU 2 highest, then 0, then 1; no change point. */
    const uint8_t order[] = {5, 1, 9};
    CHECK_EQ(run_increments(3, 2, FF_SCHED_PCT, order, sizeof order, &out), 6);
    size_t n;
    const ff_switch *sw = ff_cpus_switches(cpus, &n);
    CHECK_EQ(n, 2);
    CHECK(sw[0].from == 2 && sw[0].to == 0 && sw[1].from == 0 && sw[1].to == 1);
    CHECK_EQ(ff_cpus_preemptions(cpus), 0);
    /* One change point at CPU 2's first point (it has read 0): it drops below both, which
     * count to 2, and then writes its 1 over them. */
    const uint8_t one_change[] = {5, 1, 9, 0};
    CHECK_EQ(run_increments(3, 1, FF_SCHED_PCT, one_change, sizeof one_change, &out), 1);
    CHECK_EQ(ff_cpus_preemptions(cpus), 1);
    /* Never more preemptions than change points, whatever they are. */
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (int round = 0; round < 200; round++) {
        uint8_t bytes[4 + 6];
        for (size_t i = 0; i < sizeof bytes; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            bytes[i] = (uint8_t)(x % 5);
        }
        size_t len = 4 + (size_t)(x >> 20) % 7;
        int v = run_increments(4, 3, FF_SCHED_PCT, bytes, len, &out);
        CHECK(out == FF_CPUS_DONE && v >= 2 && v <= 12); /* a lost update can leave 2 */
        CHECK(ff_cpus_preemptions(cpus) <= len - 4);
    }
}

/* ---------------------------------------------------------------- a lock */

typedef struct lock {
    int holder; /* CPU + 1, or 0 */
} lock;

static void lock_take(lock *l)
{
    ff_cpus_point(cpus, FF_POINT_LOCK);
    while (l->holder) ff_cpus_block(cpus, l);
    l->holder = (int)ff_cpus_current(cpus) + 1;
}

static void lock_give(lock *l)
{
    l->holder = 0;
    ff_cpus_wake(cpus, l);
    ff_cpus_point(cpus, FF_POINT_UNLOCK);
}

typedef struct pair_job {
    lock *first, *second;
    int *done;
} pair_job;

static void take_both(void *arg)
{
    pair_job *j = arg;
    lock_take(j->first);
    ff_cpus_point(cpus, FF_POINT_CACHE);
    lock_take(j->second);
    (*j->done)++;
    lock_give(j->second);
    lock_give(j->first);
}

FF_TEST(cpu_a_waiting_cpu_runs_again_once_woken)
{
    lock a = {0}, b = {0};
    int done = 0;
    pair_job j = {&a, &b, &done};
    void *args[2] = {&j, &j};
    /* CPU 0 takes a, is preempted at its next point; CPU 1 waits for a; CPU 0 goes on. */
    const uint8_t bytes[] = {1, 1};
    ff_schedule s = {FF_SCHED_DIRECT, bytes, sizeof bytes};
    CHECK_EQ(ff_cpus_run(the_cpus(), 2, take_both, args, &s), FF_CPUS_DONE);
    CHECK_EQ(done, 2);
    CHECK(a.holder == 0 && b.holder == 0);
    CHECK(ff_cpus_waiting_for(cpus, 0) == NULL && ff_cpus_waiting_for(cpus, 1) == NULL);
}

FF_TEST(cpu_abba_is_a_deadlock_with_who_waits_for_what)
{
    lock a = {0}, b = {0};
    int done = 0;
    pair_job ab = {&a, &b, &done}, ba = {&b, &a, &done};
    void *args[2] = {&ab, &ba};
    /* Points: CPU 0 before a (0), after a (1): switch there; CPU 1 before b (2), after
     * b (3), before a: waits; CPU 0 before b: waits. */
    const uint8_t bytes[] = {1, 1};
    ff_schedule s = {FF_SCHED_DIRECT, bytes, sizeof bytes};
    CHECK_EQ(ff_cpus_run(the_cpus(), 2, take_both, args, &s), FF_CPUS_DEADLOCK);
    CHECK_EQ(done, 0);
    CHECK(ff_cpus_waiting_for(cpus, 0) == &b);
    CHECK(ff_cpus_waiting_for(cpus, 1) == &a);
    /* The CPUs are whole again for the next run. */
    a.holder = b.holder = 0;
    CHECK_EQ(ff_cpus_run(cpus, 2, take_both, args, &(ff_schedule){FF_SCHED_DIRECT, NULL, 0}),
             FF_CPUS_DONE);
    CHECK_EQ(done, 2);
}

FF_TEST(cpu_random_schedules_keep_the_books)
{
    uint64_t x = 42;
    for (int round = 0; round < 500; round++) {
        uint8_t bytes[32];
        for (size_t i = 0; i < sizeof bytes; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            bytes[i] = (uint8_t)(x & 7);
        }
        unsigned n = 1 + (unsigned)(x >> 40) % 4;
        ff_sched_mode mode = (x >> 50) & 1 ? FF_SCHED_PCT : FF_SCHED_DIRECT;
        ff_cpus_outcome out;
        int v = run_increments(n, 4, mode, bytes, (size_t)(x >> 32) % sizeof bytes, &out);
        CHECK(out == FF_CPUS_DONE && v >= (n == 1 ? 4 : 2) && v <= 4 * (int)n);
        size_t nsw;
        const ff_switch *sw = ff_cpus_switches(cpus, &nsw);
        unsigned preempted = 0;
        for (size_t i = 0; i < nsw; i++) {
            CHECK(sw[i].from < n && sw[i].to < n && sw[i].from != sw[i].to);
            if (i) CHECK(sw[i].point >= sw[i - 1].point && sw[i].from == sw[i - 1].to);
            preempted += sw[i].preempted;
        }
        CHECK_EQ(preempted, ff_cpus_preemptions(cpus));
    }
    ff_cpus_destroy(cpus);
    cpus = NULL;
}

/* ---------------------------------------------------------------- halt, observer */

static int after_halt; /* points passed by CPU 0 after it halted the system */

static void increment_steps_only(void *arg)
{
    ff_cpus_point(cpus, FF_POINT_ATOMIC);
    (*(int *)arg)++;
}

static void halt_at_first(void *arg)
{
    int *steps = arg;
    ff_cpus_point(cpus, FF_POINT_ATOMIC);
    if (ff_cpus_current(cpus) == 0) {
        ff_cpus_halt(cpus);
        for (int i = 0; i < 3; i++) { /* no point preempts a halted system */
            ff_cpus_point(cpus, FF_POINT_ATOMIC);
            after_halt++;
        }
    }
    (*steps)++;
}

FF_TEST(cpu_a_halt_lets_only_the_running_cpu_finish)
{
    int steps = 0;
    void *args[3] = {&steps, &steps, &steps};
    /* CPU 1 runs first (switch at point 0), then CPU 0 halts at its first point while a
     * schedule entry asks for CPU 2 at each later point. */
    const uint8_t bytes[] = {0, 1, 0, 0, 0, 2, 0, 2, 0, 2};
    after_halt = 0;
    ff_schedule s = {FF_SCHED_DIRECT, bytes, sizeof bytes};
    CHECK_EQ(ff_cpus_run(the_cpus(), 3, halt_at_first, args, &s), FF_CPUS_HALTED);
    CHECK_EQ(after_halt, 3);
    CHECK_EQ(steps, 1); /* CPU 0 finished; CPUs 1 and 2 never ran past their first point */
    /* Whole again. */
    steps = 0;
    CHECK_EQ(ff_cpus_run(cpus, 3, increment_steps_only, args, &(ff_schedule){FF_SCHED_DIRECT, NULL, 0}),
             FF_CPUS_DONE);
    CHECK_EQ(steps, 3);
}

typedef struct seen_switches {
    ff_switch s[8];
    int n;
} seen_switches;

static void note_switch(void *ctx, const ff_switch *sw)
{
    seen_switches *seen = ctx;
    if (seen->n < 8) seen->s[seen->n] = *sw;
    seen->n++;
}

FF_TEST(cpu_the_observer_hears_every_switch_as_recorded)
{
    seen_switches seen = {.n = 0};
    ff_cpus_observe(the_cpus(), note_switch, &seen);
    ff_cpus_outcome out;
    const uint8_t at_first[] = {0, 1};
    run_increments(2, 2, FF_SCHED_DIRECT, at_first, sizeof at_first, &out);
    ff_cpus_observe(cpus, NULL, NULL);
    size_t n;
    const ff_switch *sw = ff_cpus_switches(cpus, &n);
    CHECK_EQ((size_t)seen.n, n);
    CHECK(n >= 2);
    for (size_t i = 0; i < n && i < 8; i++)
        CHECK(memcmp(&seen.s[i], &sw[i], sizeof sw[i]) == 0);
    CHECK(seen.s[0].preempted && seen.s[n - 1].why == FF_POINT_COUNT); /* a finish last */
}

/* ---------------------------------------------------------------- interrupts */

typedef struct irq_job {
    int handled;      /* interrupts taken */
    int handled_at[4]; /* the task's step when each came */
    int step;
    bool disable_middle; /* interrupts off around the middle points */
    int raise_at;        /* the step from which an interrupt is raised */
} irq_job;

static void handler(void *ctx, unsigned cpu)
{
    irq_job *j = ctx;
    CHECK(ff_cpus_in_irq(cpus));
    CHECK_EQ(ff_cpus_context(cpus), cpu + FF_CPUS_MAX);
    if (j->handled < 4) j->handled_at[j->handled] = j->step;
    j->handled++;
    ff_cpus_point(cpus, FF_POINT_ATOMIC); /* no interrupt nests in this one */
}

static void four_points(void *arg)
{
    irq_job *j = arg;
    for (j->step = 0; j->step < 4; j->step++) {
        if (j->step == j->raise_at) ff_cpus_irq_raise(cpus, 0, true);
        if (j->disable_middle && j->step == 1) ff_cpus_irq_disable(cpus);
        ff_cpus_point(cpus, FF_POINT_ATOMIC);
        if (j->disable_middle && j->step == 2) ff_cpus_irq_enable(cpus);
    }
    CHECK(!ff_cpus_in_irq(cpus));
}

FF_TEST(cpu_interrupts_come_at_points_with_interrupts_on_and_never_nest)
{
    irq_job j = {0};
    void *args[1] = {&j};
    ff_cpus_on_interrupt(the_cpus(), handler, &j);
    CHECK_EQ(ff_cpus_run(cpus, 1, four_points, args, &(ff_schedule){FF_SCHED_DIRECT, NULL, 0}),
             FF_CPUS_DONE);
    CHECK_EQ(j.handled, 4); /* one per point of the task, none from the handler's own */
    j = (irq_job){.disable_middle = true};
    CHECK_EQ(ff_cpus_run(cpus, 1, four_points, args, &(ff_schedule){FF_SCHED_DIRECT, NULL, 0}),
             FF_CPUS_DONE);
    CHECK_EQ(j.handled, 2); /* steps 1 and 2 ran with interrupts off */
    CHECK(j.handled_at[0] == 0 && j.handled_at[1] == 3);
    j = (irq_job){.raise_at = 2};
    CHECK_EQ(ff_cpus_run(cpus, 1, four_points, args, &(ff_schedule){FF_SCHED_DIRECT, NULL, 0}),
             FF_CPUS_DONE);
    CHECK_EQ(j.handled, 2); /* none before one was raised */
    CHECK(j.handled_at[0] == 2 && j.handled_at[1] == 3);
    ff_cpus_on_interrupt(cpus, NULL, NULL);
    CHECK(!ff_cpus_in_irq(cpus) && ff_cpus_context(cpus) == 0); /* outside a run */
}

static void halting_handler(void *ctx, unsigned cpu)
{
    (void)cpu;
    (*(int *)ctx)++;
    ff_cpus_halt(cpus);
}

static void count_steps(void *arg)
{
    int *after = arg;
    ff_cpus_irq_raise(cpus, 0, true);
    ff_cpus_point(cpus, FF_POINT_LOCK);
    (*after)++; /* never reached: the handler halted the system */
}

FF_TEST(cpu_a_system_halted_in_a_handler_never_resumes_what_it_interrupted)
{
    int handled = 0, after = 0;
    void *args[1] = {&after};
    ff_cpus_on_interrupt(the_cpus(), halting_handler, &handled);
    CHECK_EQ(ff_cpus_run(cpus, 1, count_steps, args, &(ff_schedule){FF_SCHED_DIRECT, NULL, 0}),
             FF_CPUS_HALTED);
    ff_cpus_on_interrupt(cpus, NULL, NULL);
    CHECK_EQ(handled, 1);
    CHECK_EQ(after, 0);
}
