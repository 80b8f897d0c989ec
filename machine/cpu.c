/*
 * cpu.c — simulated CPUs as coroutines under a deterministic schedule (contract in
 * cpu.h).
 *
 * Coroutines have one stack per CPU, made once and reused by every run. On x86-64 a
 * switch saves the six callee-saved registers on the stack it leaves and loads the
 * other's (~15 ns); elsewhere (or with FF_CPU_UCONTEXT) it is a swapcontext (~250 ns here,
 * as glibc also saves the signal
 * mask): switches happen only where the schedule preempts or a CPU finishes or waits,
 * a few per program, so nothing faster is worth the assembly. Under AddressSanitizer
 * every switch is announced to it (start/finish_switch_fiber), or it would take the
 * coroutines' stacks for overflows of the one it knows.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && !defined(FF_CPU_UCONTEXT)
/* A coroutine's context is the stack pointer its last switch left: the callee-saved
 * registers (System V x86-64) are on that stack, above them where to return. */
typedef void *context;
void ff_stack_switch(void **save, void *load);
__asm__(".text\n"
        ".p2align 4\n"
        ".globl ff_stack_switch\n"
        ".hidden ff_stack_switch\n"
        ".type ff_stack_switch,@function\n"
        "ff_stack_switch:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    movq %rsp, (%rdi)\n"
        "    movq %rsi, %rsp\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        ".size ff_stack_switch,.-ff_stack_switch\n");

/* A context that starts entry on [stack, +size) at its first switch: six zero
 * registers, then entry as the return address, with the stack aligned as after a call
 * (entry never returns: above it lies a null return address). */
static void context_make(context *ctx, char *stack, size_t size, void (*entry)(void))
{
    void **sp = (void **)(((uintptr_t)stack + size) & ~(uintptr_t)15);
    *--sp = NULL;
    *--sp = (void *)(uintptr_t)entry;
    for (int i = 0; i < 6; i++) *--sp = NULL;
    *ctx = sp;
}

static void context_switch(context *save, context *load) { ff_stack_switch(save, *load); }
#else
#include <ucontext.h>
typedef ucontext_t context;

static void context_make(context *ctx, char *stack, size_t size, void (*entry)(void))
{
    getcontext(ctx);
    ctx->uc_stack.ss_sp = stack;
    ctx->uc_stack.ss_size = size;
    ctx->uc_link = NULL;
    makecontext(ctx, entry, 0);
}

static void context_switch(context *save, context *load) { swapcontext(save, load); }
#endif

/* Continues on load for good: what runs now is left where it is (its stack is made
 * afresh before it is used again). */
static _Noreturn void context_leave(context *load)
{
    context abandoned;
    context_switch(&abandoned, load);
    abort(); /* nothing switches back to an abandoned context */
}

#define FF_CPUS_IMPLEMENTATION /* cpu.h's inline functions defined here too */
#include "cpu.h"

#if defined(__SANITIZE_ADDRESS__)
#define FF_FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FF_FIBER_ASAN 1
#endif
#endif
#ifdef FF_FIBER_ASAN
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/asan_interface.h>
#define FIBER_LEAVING(save, bottom, size) __sanitizer_start_switch_fiber(save, bottom, size)
#define FIBER_ARRIVED(save, bottom, size) __sanitizer_finish_switch_fiber(save, bottom, size)
/* A coroutine left for good (deadlock, halt) keeps its frames' redzones poisoned: a
 * fresh one on that stack must not meet them. */
#define STACK_FRESH(stack, size) __asan_unpoison_memory_region(stack, size)
#else
#define STACK_FRESH(stack, size) ((void)(stack), (void)(size))
#define FIBER_LEAVING(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#define FIBER_ARRIVED(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#endif

/* Enough for a back-end call with its hang handler under ASan+UBSan, whose frames are
 * several times a plain build's. */
#define STACK_DEFAULT (512u << 10)

typedef enum cpu_state { CPU_RUNNABLE, CPU_WAITING, CPU_FINISHED } cpu_state;

typedef struct cpu {
    context ctx;
    char *stack;
    cpu_state state;
    const void *waiting_for;
    void *arg;
    int priority; /* PCT: the highest runnable runs */
    unsigned irq_off; /* interrupts disabled, nested this deep */
    bool in_irq;      /* running an interrupt handler */
    bool irq_raised;  /* the hook has something for it (ff_cpus_irq_raise) */
} cpu;

struct ff_cpus {
    ff_cpus_view v; /* first: cpu.h's inline functions read it */
    size_t stack_bytes;
    cpu cpu[FF_CPUS_MAX];
    unsigned n, current;
    bool running;
    bool halted;        /* only the running CPU goes on (ff_cpus_halt) */
    unsigned exclusive; /* ff_cpus_exclusive_begin, nested: nothing preempts */
    ff_task *task;
    ff_switch_observer *observer;
    void *observer_ctx;
    ff_irq_hook *irq_hook;
    void *irq_ctx;
    context main_ctx;
    const void *main_bottom; /* the caller's stack, for ASan: learnt at the first switch */
    size_t main_size;

    ff_schedule schedule;
    size_t pos;         /* the next schedule byte to read */
    bool switch_armed;  /* a switch (DIRECT) or change point (PCT) waits at switch_at */
    uint64_t switch_at;
    uint8_t switch_cpu; /* DIRECT: where it goes */
    int lowest;         /* PCT: the priority a change point gives, lower each time */

    ff_switch switches[FF_SWITCHES_MAX];
    size_t nswitches;
    unsigned preemptions;
    ff_cpus_outcome outcome;
};

/* The CPUs whose task a fresh coroutine starts: makecontext passes only ints. */
static ff_cpus *starting;

/* Sets what cpu.h's inline functions read, after anything they depend on changed:
 * the next point with something to do is the armed switch, or the next one at all
 * when the running CPU may take an interrupt. */
static void settle(ff_cpus *c)
{
    const cpu *p = &c->cpu[c->current];
    if (!c->running || c->halted || c->exclusive)
        c->v.quiet_until = UINT64_MAX;
    else if (c->irq_hook && p->irq_raised && !p->irq_off && !p->in_irq)
        c->v.quiet_until = 0;
    else
        c->v.quiet_until = c->switch_armed ? c->switch_at : UINT64_MAX;
    c->v.context = c->running ? c->current + (p->in_irq ? FF_CPUS_MAX : 0) : 0;
}

ff_cpus *ff_cpus_create(size_t stack_bytes)
{
    ff_cpus *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->stack_bytes = stack_bytes ? stack_bytes : STACK_DEFAULT;
    settle(c);
    for (unsigned i = 0; i < FF_CPUS_MAX; i++) {
        c->cpu[i].stack = malloc(c->stack_bytes);
        if (!c->cpu[i].stack) {
            ff_cpus_destroy(c);
            return NULL;
        }
    }
    return c;
}

void ff_cpus_destroy(ff_cpus *c)
{
    if (!c) return;
    for (unsigned i = 0; i < FF_CPUS_MAX; i++) free(c->cpu[i].stack);
    free(c);
}

static uint8_t schedule_byte(ff_cpus *c)
{
    return c->pos < c->schedule.len ? c->schedule.bytes[c->pos++] : 0;
}

/* Reads the next switch (DIRECT) or change point (PCT), if the schedule has one. */
static void arm_next_switch(ff_cpus *c)
{
    size_t entry = c->schedule.mode == FF_SCHED_DIRECT ? 2 : 1;
    c->switch_armed = c->pos + entry <= c->schedule.len;
    if (c->switch_armed) {
        c->switch_at = c->v.points + schedule_byte(c);
        if (c->schedule.mode == FF_SCHED_DIRECT) c->switch_cpu = schedule_byte(c);
    }
    settle(c);
}

/* The CPU to hand over to when `current` cannot or may not go on, or c->n if none:
 * DIRECT, the first runnable from `from` on (wrapping), never `current`; PCT, the
 * highest-priority runnable one (`current` too when it may go on). */
static unsigned next_cpu(const ff_cpus *c, unsigned from, bool current_may_run)
{
    unsigned best = c->n;
    if (c->halted) return current_may_run ? c->current : best;
    if (c->schedule.mode == FF_SCHED_DIRECT) {
        for (unsigned k = 0; k < c->n; k++) {
            unsigned i = (from + k) % c->n;
            if (i != c->current && c->cpu[i].state == CPU_RUNNABLE) return i;
        }
        return best;
    }
    for (unsigned i = 0; i < c->n; i++) {
        if (c->cpu[i].state != CPU_RUNNABLE || (i == c->current && !current_may_run)) continue;
        if (best == c->n || c->cpu[i].priority > c->cpu[best].priority) best = i;
    }
    return best;
}

static void record_switch(ff_cpus *c, unsigned from, unsigned to, bool preempted, ff_point why);

static void cpu_entry(void)
{
    ff_cpus *c = starting;
    FIBER_ARRIVED(NULL, c->main_bottom ? NULL : &c->main_bottom,
                  c->main_bottom ? NULL : &c->main_size);
    unsigned self = c->current;
    c->task(c->cpu[self].arg);
    c->cpu[self].state = CPU_FINISHED;
    unsigned to = next_cpu(c, self + 1, false);
    if (to == c->n) {
        for (unsigned i = 0; i < c->n && !c->halted; i++)
            if (c->cpu[i].state == CPU_WAITING) c->outcome = FF_CPUS_DEADLOCK;
        if (c->halted) c->outcome = FF_CPUS_HALTED;
        c->running = false;
        settle(c);
        FIBER_LEAVING(NULL, c->main_bottom, c->main_size);
        context_leave(&c->main_ctx);
    }
    /* This coroutine is done for good: nothing returns to it. */
    record_switch(c, self, to, false, FF_POINT_COUNT);
    c->current = to;
    settle(c);
    starting = c;
    FIBER_LEAVING(NULL, c->cpu[to].stack, c->stack_bytes);
    context_leave(&c->cpu[to].ctx);
}

/* Makes CPU i's coroutine fresh, to start its task at the first switch to it. */
static void cpu_prepare(ff_cpus *c, unsigned i)
{
    cpu *p = &c->cpu[i];
    STACK_FRESH(p->stack, c->stack_bytes);
    context_make(&p->ctx, p->stack, c->stack_bytes, cpu_entry);
}

/* Records a switch and tells the observer, still on the CPU leaving. */
static void record_switch(ff_cpus *c, unsigned from, unsigned to, bool preempted, ff_point why)
{
    ff_switch s = {c->v.points, (uint8_t)from, (uint8_t)to, preempted, why};
    if (c->nswitches < FF_SWITCHES_MAX) c->switches[c->nswitches] = s;
    c->nswitches++;
    if (preempted) c->preemptions++;
    if (c->observer) c->observer(c->observer_ctx, &s);
}

/* From the running CPU to `to`, which resumes where it left off (or starts). Returns
 * when the running CPU is switched back to. */
static void switch_to(ff_cpus *c, unsigned to, bool preempted, ff_point why)
{
    unsigned from = c->current;
    record_switch(c, from, to, preempted, why);
    c->current = to;
    settle(c);
    starting = c;
    void *fake_stack = NULL;
    FIBER_LEAVING(&fake_stack, c->cpu[to].stack, c->stack_bytes);
    context_switch(&c->cpu[from].ctx, &c->cpu[to].ctx);
    FIBER_ARRIVED(fake_stack, NULL, NULL);
}

ff_cpus_outcome ff_cpus_run(ff_cpus *c, unsigned n, ff_task *task, void *const args[],
                            const ff_schedule *schedule)
{
    c->n = n < 1 ? 1 : n > FF_CPUS_MAX ? FF_CPUS_MAX : n;
    c->task = task;
    c->schedule = *schedule;
    c->pos = 0;
    c->v.points = 0;
    c->nswitches = 0;
    c->preemptions = 0;
    c->outcome = FF_CPUS_DONE;
    c->halted = false;
    c->exclusive = 0;
    c->main_bottom = NULL;
    c->main_size = 0;
    c->lowest = 0;
    for (unsigned i = 0; i < c->n; i++) {
        c->cpu[i].state = CPU_RUNNABLE;
        c->cpu[i].waiting_for = NULL;
        c->cpu[i].arg = args[i];
        c->cpu[i].irq_off = 0;
        c->cpu[i].in_irq = false;
        c->cpu[i].irq_raised = false;
        cpu_prepare(c, i);
    }
    c->current = 0;
    if (c->schedule.mode == FF_SCHED_PCT) {
        /* Priorities n..1: the higher byte first, the lower index on a tie. */
        uint8_t key[FF_CPUS_MAX];
        for (unsigned i = 0; i < c->n; i++) key[i] = schedule_byte(c);
        for (unsigned i = 0; i < c->n; i++) {
            int above = 0;
            for (unsigned j = 0; j < c->n; j++)
                above += key[j] > key[i] || (key[j] == key[i] && j < i);
            c->cpu[i].priority = (int)c->n - above;
        }
        c->current = next_cpu(c, 0, true);
    }
    c->running = true;
    arm_next_switch(c);
    starting = c;
    void *fake_stack = NULL;
    FIBER_LEAVING(&fake_stack, c->cpu[c->current].stack, c->stack_bytes);
    context_switch(&c->main_ctx, &c->cpu[c->current].ctx);
    FIBER_ARRIVED(fake_stack, NULL, NULL);
    c->current = 0;
    settle(c);
    return c->outcome;
}

/* The running CPU takes an interrupt here, if it may; true when the hook ran. */
static bool interrupt(ff_cpus *c)
{
    cpu *p = &c->cpu[c->current];
    if (!c->irq_hook || !p->irq_raised || p->irq_off || p->in_irq || c->halted) return false;
    p->in_irq = true;
    settle(c);
    c->irq_hook(c->irq_ctx, c->current);
    p->in_irq = false;
    settle(c);
    if (!c->halted) return true;
    /* The system died in the handler: the code it interrupted never resumes. */
    c->outcome = FF_CPUS_HALTED;
    c->running = false;
    settle(c);
    FIBER_LEAVING(NULL, c->main_bottom, c->main_size);
    context_leave(&c->main_ctx);
}

/* The external definitions of cpu.h's inline functions. */
extern inline bool ff_cpus_point(ff_cpus *c, ff_point why);
extern inline unsigned ff_cpus_context(const ff_cpus *c);
extern inline bool ff_cpus_in_irq(const ff_cpus *c);
extern inline unsigned ff_cpus_current(const ff_cpus *c);

/* ff_cpus_point when the point may have something to do. */
bool ff_cpus_point_slow(ff_cpus *c, ff_point why)
{
    if (!c->running || c->halted || c->exclusive) return false;
    uint64_t at = c->v.points++;
    if (!c->switch_armed || at != c->switch_at) return interrupt(c);
    unsigned to;
    if (c->schedule.mode == FF_SCHED_DIRECT) {
        unsigned target = c->switch_cpu % c->n;
        to = target == c->current ? c->n : next_cpu(c, target, false);
    } else {
        c->cpu[c->current].priority = --c->lowest;
        to = next_cpu(c, 0, true);
    }
    arm_next_switch(c);
    bool switched = to < c->n && to != c->current;
    if (switched) switch_to(c, to, true, why);
    return interrupt(c) || switched;
}

void ff_cpus_on_interrupt(ff_cpus *c, ff_irq_hook *fn, void *ctx)
{
    c->irq_hook = fn;
    c->irq_ctx = ctx;
    settle(c);
}

void ff_cpus_interrupt(ff_cpus *c)
{
    if (c && c->running) interrupt(c);
}

void ff_cpus_irq_raise(ff_cpus *c, unsigned i, bool raised)
{
    if (!c->running || i >= c->n) return;
    c->cpu[i].irq_raised = raised;
    settle(c);
}

void ff_cpus_irq_disable(ff_cpus *c)
{
    if (!c || !c->running) return;
    c->cpu[c->current].irq_off++;
    settle(c);
}

void ff_cpus_irq_enable(ff_cpus *c)
{
    if (!c || !c->running || !c->cpu[c->current].irq_off) return;
    c->cpu[c->current].irq_off--;
    settle(c);
}

void ff_cpus_block(ff_cpus *c, const void *resource)
{
    unsigned self = c->current;
    c->cpu[self].state = CPU_WAITING;
    c->cpu[self].waiting_for = resource;
    unsigned to = next_cpu(c, self + 1, false);
    if (to == c->n) {
        /* Every unfinished CPU waits (or, halted, this one does): it is left where it
         * is, for good. */
        c->outcome = c->halted ? FF_CPUS_HALTED : FF_CPUS_DEADLOCK;
        c->running = false;
        settle(c);
        FIBER_LEAVING(NULL, c->main_bottom, c->main_size);
        context_leave(&c->main_ctx);
    }
    switch_to(c, to, false, FF_POINT_LOCK);
}

void ff_cpus_wake(ff_cpus *c, const void *resource)
{
    for (unsigned i = 0; i < c->n; i++)
        if (c->cpu[i].state == CPU_WAITING && c->cpu[i].waiting_for == resource) {
            c->cpu[i].state = CPU_RUNNABLE;
            c->cpu[i].waiting_for = NULL;
        }
}

void ff_cpus_exclusive_begin(ff_cpus *c)
{
    if (!c || !c->running) return;
    c->exclusive++;
    settle(c);
}

void ff_cpus_exclusive_end(ff_cpus *c)
{
    if (!c || !c->running || !c->exclusive) return;
    c->exclusive--;
    settle(c);
}

bool ff_cpus_irq_off(const ff_cpus *c)
{
    return c && c->running && (c->cpu[c->current].irq_off || c->cpu[c->current].in_irq);
}

void ff_cpus_halt(ff_cpus *c)
{
    if (!c || !c->running) return;
    c->halted = true;
    settle(c);
}

void ff_cpus_observe(ff_cpus *c, ff_switch_observer *fn, void *ctx)
{
    c->observer = fn;
    c->observer_ctx = ctx;
}

const void *ff_cpus_waiting_for(const ff_cpus *c, unsigned i)
{
    return i < c->n && c->cpu[i].state == CPU_WAITING ? c->cpu[i].waiting_for : NULL;
}

const ff_switch *ff_cpus_switches(const ff_cpus *c, size_t *n)
{
    *n = c->nswitches < FF_SWITCHES_MAX ? c->nswitches : FF_SWITCHES_MAX;
    return c->switches;
}

unsigned ff_cpus_preemptions(const ff_cpus *c) { return c->preemptions; }
