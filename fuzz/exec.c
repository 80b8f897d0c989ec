/*
 * exec.c — the executor (contract in exec.h).
 *
 * Cache. Building a space, a layer, a back-end and the oracle's baseline costs far
 * more than running a typical program, and fuzzers reuse a handful of maps. So a
 * "context" — one target over one map with one semantics and poison setting — is
 * built once, with its baseline (the fresh back-end's counter, invariant walk and the
 * leak check's blocks), and every later run resets it. Spaces and oracles are shared
 * by the contexts over the same map.
 *
 * Handles. The table holds what the program owns: a run of frames and how many
 * references to each frame it holds through this handle. Dropping a piece splits a
 * handle, so the table never names a reference that is gone.
 */
#include <stdlib.h>
#include <string.h>

#include "exec.h"

/* ---------------------------------------------------------------- cache */

typedef struct map_key {
    const char *preset; /* or NULL: custom regions */
    ff_e820_entry regions[FF_OPS_MAX_REGIONS];
    size_t nregions;
} map_key;

typedef struct space_entry {
    map_key key;
    uint64_t key_hash; /* compared first: most lookups meet many other maps */
    ff_space space;
    ff_oracle *oracle;
    bool ok;           /* false: the map has no usable RAM (err says why) */
    uint64_t last_used; /* the executor's clock when a run last asked for it */
    struct context *contexts; /* built over this map */
    char err[160];
} space_entry;

typedef struct ff_exec ff_exec;

typedef struct context {
    space_entry *se;
    const ff_target *target;
    ff_semantics sem;
    bool poison;
    ff_meta *meta;
    ff_oracle_baseline baseline;
    bool dirty; /* ran since it was last reset */
    ff_exec *x;
    struct context *next; /* the next over the same map */
} context;

/* A fuzzer comes back to the maps of its corpus: a map it meets again after the cache
 * dropped it costs a whole new machine, about ten ordinary runs. At 64 maps, half the
 * machines a buddy campaign built were such rebuilds. */
#define MAX_SPACES   1024
#define MAX_CONTEXTS 4096
/* Custom maps cached at once hold at most about this much host memory: their resident
 * frames, plus, per frame below top, the arrays of the map (the space's and the
 * oracle's) and of each machine over it (the layer's and the back-end's). */
#define CUSTOM_BUDGET_BYTES   (UINT64_C(256) << 20)
#define MAP_ARRAY_BYTES       56
#define MACHINE_ARRAY_BYTES   32
#define MAX_TARGETS  16
/* Past this many drop calls at the end, the leak check is skipped (a program holding
 * 2^31 references to a frame cannot be dropped in reasonable time). */
#define END_DROP_LIMIT 65536
/* Frames a run may take or drop references to, in all: past it, operations are
 * skipped. The work is per frame, and inputs are not equal: over a grown corpus the
 * largest inputs set the campaign's speed (at 2^14, 2^13 was 1.4-1.6x the executions
 * per second, at the same coverage). Blocks of order 13 (32 MiB) still fit, as does
 * the whole DMA zone (4096 frames); the maximum-order paths are reached through
 * alignment and merging, which cost no frames. */
#define RUN_FRAME_BUDGET (UINT64_C(1) << 13)
/* Invariant walks a run may ask for, and the usable frames they may cover in all: a
 * walk costs some back-ends O(their largest block) however small the map, others
 * O(the map), and fuzzers insert check operations freely. */
#define RUN_CHECKS      4
#define RUN_WALK_FRAMES (UINT64_C(1) << 16)
/* Maps with more usable frames than this skip the leak check's re-allocation. */
#define DRAIN_MAX_FRAMES 4096

/* ---------------------------------------------------------------- handles */

typedef struct handle {
    ff_pfn start;
    uint64_t count;
    uint64_t refs; /* references to each frame held through this handle */
} handle;

/* What the differential check looks at, for one operation on one target. */
enum { CMP_NONE, CMP_FREE, CMP_MALFORMED };
typedef struct outcome {
    uint8_t what;   /* CMP_* */
    uint8_t kind;   /* ff_free_kind, for CMP_FREE */
    uint8_t status; /* the back-end's ff_status */
} outcome;

struct ff_exec {
    ff_target targets[MAX_TARGETS];
    size_t ntargets;
    ff_exec_opts opts;

    space_entry *spaces[MAX_SPACES];
    size_t nspaces;
    size_t ncontexts; /* over all spaces */
    uint64_t clock; /* counts space lookups: what was used least recently goes first */

    handle *handles;
    size_t nhandles, handles_cap;

    ff_cpus *cpus;                /* made at the first concurrent program */
    bool on_cpus;                 /* a concurrent program is running on them now */
    size_t cpu_op[FF_CPUS_MAX];   /* each CPU's operation in flight, SIZE_MAX: none yet */
    size_t irq_op[FF_CPUS_MAX];   /* each CPU's interrupt in flight, SIZE_MAX: none */
    /* Each CPU's interrupts: the operations tagged irqN are raised in the program's
     * order as the CPU's task gets past them, and arrive one by one, each once it let
     * irq_after points with interrupts on pass. */
    struct irq_queue {
        size_t next;   /* the next interrupt operation (nops: none left) */
        size_t raised; /* operations before this index are raised */
        unsigned wait; /* points the next one still lets pass */
    } irq[FF_CPUS_MAX];

    /* The run in progress. */
    context *cur;
    size_t target_first;    /* index of the current target's first finding, or SIZE_MAX */
    size_t first_op[MAX_TARGETS]; /* each target's first finding's op (SIZE_MAX: none, or
                                     at the end), or where its oracle went blind */
    size_t blind_op;        /* the operation in which the current target's oracle went
                               blind (ff_oracle_blind), or SIZE_MAX */
    size_t counted;         /* first findings that count (not set aside by on_finding) */
    bool judging;           /* events go to the oracle */
    bool trace_events;      /* events go to the trace */
    /* What the back-end answered the operation in flight, per context (0: one CPU):
     * whether it reached the back-end, the answer, and for a raw free the shadow's
     * kind of free as the back-end took it (under its lock: with CPUs, not when the
     * operation began). */
    struct answer {
        bool event;
        bool classify; /* a raw free: classify it at its event */
        ff_status status;
        ff_free_kind kind;
    } answers[FF_CONTEXTS_MAX];
    outcome *outcomes;      /* [target][op] */
    size_t outcomes_cap;

    ff_finding *findings;
    size_t nfindings, findings_cap;
};

static _Noreturn void host_out_of_memory(void)
{
    fprintf(stderr, "framefuzz: host out of memory in the executor\n");
    abort();
}

/* A hash of what key_equal compares. */
static uint64_t key_hash(const map_key *k)
{
    if (k->preset) return ff_fnv1a(FF_FNV_START, k->preset, strlen(k->preset));
    uint64_t h = ff_fnv1a(FF_FNV_START, &k->nregions, sizeof k->nregions);
    for (size_t i = 0; i < k->nregions; i++) {
        const ff_e820_entry *r = &k->regions[i];
        h = ff_fnv1a(h, &r->start, sizeof r->start);
        h = ff_fnv1a(h, &r->size, sizeof r->size);
        h = ff_fnv1a(h, &r->type, sizeof r->type);
    }
    return h;
}

static bool key_equal(const map_key *a, const map_key *b)
{
    if (a->preset || b->preset) return a->preset && b->preset && strcmp(a->preset, b->preset) == 0;
    if (a->nregions != b->nregions) return false;
    for (size_t i = 0; i < a->nregions; i++)
        if (a->regions[i].start != b->regions[i].start || a->regions[i].size != b->regions[i].size ||
            a->regions[i].type != b->regions[i].type)
            return false;
    return true;
}

static void context_destroy(context *c)
{
    ff_meta_destroy(c->meta);
    ff_oracle_baseline_free(&c->baseline);
    free(c);
}

static void space_entry_destroy(space_entry *se)
{
    ff_oracle_destroy(se->oracle);
    if (se->ok) ff_space_destroy(&se->space);
    free(se);
}

/* Destroys the contexts over se. */
static void contexts_evict(ff_exec *x, space_entry *se)
{
    while (se->contexts) {
        context *c = se->contexts;
        se->contexts = c->next;
        context_destroy(c);
        x->ncontexts--;
    }
}

/* What a custom map's cache entry holds on to: its resident frames and, roughly, its
 * per-frame arrays (a differential run builds a machine per target over one map). */
static uint64_t custom_footprint(const space_entry *se)
{
    if (!se->ok) return 0;
    uint64_t per_frame = MAP_ARRAY_BYTES;
    for (const context *c = se->contexts; c; c = c->next) per_frame += MACHINE_ARRAY_BYTES;
    return (uint64_t)se->space.resident_count * FF_FRAME_SIZE + se->space.top * per_frame;
}

/* Destroys the least recently used custom map's entry other than spare, contexts
 * first. False when there is none. */
static bool evict_oldest_custom(ff_exec *x, const space_entry *spare)
{
    size_t oldest = SIZE_MAX;
    for (size_t i = 0; i < x->nspaces; i++)
        if (!x->spaces[i]->key.preset && x->spaces[i] != spare &&
            (oldest == SIZE_MAX || x->spaces[i]->last_used < x->spaces[oldest]->last_used))
            oldest = i;
    if (oldest == SIZE_MAX) return false;
    space_entry *se = x->spaces[oldest];
    contexts_evict(x, se);
    space_entry_destroy(se);
    x->spaces[oldest] = x->spaces[--x->nspaces];
    return true;
}

/* Makes room for one more map: fuzzers come back to the maps of their corpus input
 * after input, so what goes is the custom map used least recently, until the others
 * fit the budget. The few presets stay: rebuilding a large one costs more than any
 * input, and there are far fewer of them than MAX_SPACES. */
static void make_room(ff_exec *x)
{
    for (;;) {
        uint64_t held = 0;
        for (size_t i = 0; i < x->nspaces; i++)
            if (!x->spaces[i]->key.preset) held += custom_footprint(x->spaces[i]);
        if ((x->nspaces < MAX_SPACES && held <= CUSTOM_BUDGET_BYTES) || !evict_oldest_custom(x, NULL))
            return;
    }
}

static space_entry *space_get(ff_exec *x, const map_key *key)
{
    uint64_t hash = key_hash(key);
    for (size_t i = 0; i < x->nspaces; i++)
        if (x->spaces[i]->key_hash == hash && key_equal(&x->spaces[i]->key, key)) {
            x->spaces[i]->last_used = ++x->clock;
            return x->spaces[i];
        }
    make_room(x);
    space_entry *se = calloc(1, sizeof *se);
    if (!se) host_out_of_memory();
    se->key = *key;
    se->key_hash = hash;
    se->last_used = ++x->clock;
    if (key->preset) {
        se->ok = ff_space_init_preset(&se->space, key->preset, se->err, sizeof se->err);
    } else {
        ff_e820_map map;
        ff_e820_init(&map);
        for (size_t i = 0; i < key->nregions; i++)
            if (!ff_e820_add(&map, key->regions[i].start, key->regions[i].size, key->regions[i].type))
                host_out_of_memory();
        ff_space_opts sopts = {0};
        se->ok = ff_space_init(&se->space, &map, &sopts, se->err, sizeof se->err);
        ff_e820_free(&map);
    }
    if (se->ok) {
        se->oracle = ff_oracle_create(&se->space);
        if (!se->oracle) host_out_of_memory();
    }
    x->spaces[x->nspaces++] = se;
    return se;
}

static void observe(void *ctx, const ff_event *ev);

/* The leak check's blocks a fresh instance gives: only those are owed at the end. */
static void baseline_drain(context *c)
{
    for (size_t i = 0; i < c->baseline.ndrain; i++) {
        ff_pfn start;
        c->baseline.drain_fresh_ok[i] = ff_meta_reserve(c->meta, &c->baseline.drain[i], &start) == FF_META_OK;
    }
}

/* The step budget of one back-end call: generous for any legitimate walk over the
 * map, finite so that a loop that never ends is a hang after a bounded time. */
static uint64_t step_budget(const ff_space *space) { return 1024 + 4 * space->usable_frames; }

static context *context_get(ff_exec *x, space_entry *se, const ff_target *t, ff_semantics sem,
                            bool poison, char *err, size_t errlen)
{
    for (context *c = se->contexts; c; c = c->next)
        if (c->target == t && c->sem == sem && c->poison == poison) return c;
    /* Contexts over other custom maps go first, oldest first; se itself stays (the
     * caller holds it). Past that, maps lose their contexts in the cache's order. */
    while (x->ncontexts == MAX_CONTEXTS && evict_oldest_custom(x, se)) {}
    for (size_t i = 0; x->ncontexts == MAX_CONTEXTS && i < x->nspaces; i++)
        contexts_evict(x, x->spaces[i]);
    context *c = calloc(1, sizeof *c);
    if (!c) host_out_of_memory();
    *c = (context){.se = se, .target = t, .sem = sem, .poison = poison, .x = x};
    ff_meta_opts mo = {.semantics = sem, .poison = poison, .step_budget = step_budget(&se->space),
                       .observer = observe, .observer_ctx = c, .bug = t->bug,
                       .pcp = t->pcp};
    c->meta = ff_meta_create(&se->space, t->def, &mo, err, errlen);
    if (!c->meta) {
        free(c);
        return NULL;
    }
    if (!ff_oracle_baseline_init(&c->baseline, c->meta, &se->space)) host_out_of_memory();
    baseline_drain(c);
    c->dirty = true;
    c->next = se->contexts;
    se->contexts = c;
    x->ncontexts++;
    return c;
}

/* ---------------------------------------------------------------- life cycle */

bool ff_exec_check_backend(ff_program *p, char *err, size_t errlen)
{
    ff_target targets[MAX_TARGETS];
    size_t n;
    char why[256];
    if (!p->backend[0] || ff_target_parse_list(p->backend, targets, MAX_TARGETS, &n, why, sizeof why))
        return true;
    if (!p->backend_line) {
        p->backend[0] = '\0';
        return true;
    }
    if (ff_target_refused(p->backend, why, sizeof why)) /* names it knows, not modelled so */
        snprintf(err, errlen, "line %zu: %s", p->backend_line, why);
    else
        snprintf(err, errlen, "line %zu: unknown backend: %.40s", p->backend_line, p->backend);
    return false;
}

ff_exec *ff_exec_create(const ff_target *targets, size_t ntargets, const ff_exec_opts *opts)
{
    if (ntargets == 0 || ntargets > MAX_TARGETS) return NULL;
    ff_exec *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    memcpy(x->targets, targets, ntargets * sizeof *targets);
    x->ntargets = ntargets;
    x->opts = *opts;
    return x;
}

void ff_exec_destroy(ff_exec *x)
{
    if (!x) return;
    for (size_t i = 0; i < x->nspaces; i++) {
        contexts_evict(x, x->spaces[i]);
        space_entry_destroy(x->spaces[i]);
    }
    ff_cpus_destroy(x->cpus);
    free(x->handles);
    free(x->outcomes);
    free(x->findings);
    free(x);
}

size_t ff_exec_finding_count(const ff_exec *x) { return x->nfindings; }
const ff_finding *ff_exec_finding(const ff_exec *x, size_t i)
{
    return i < x->nfindings ? &x->findings[i] : NULL;
}

/* ---------------------------------------------------------------- tracing */

#define TRACE(x, ...) \
    do { \
        if ((x)->opts.trace) fprintf((x)->opts.trace, __VA_ARGS__); \
    } while (0)

static const char *zone_label(ff_zone zone)
{
    return (unsigned)zone < FF_ZONE_COUNT ? ff_zone_name(zone) : "invalid";
}

static void trace_finding(ff_exec *x, const ff_finding *f)
{
    if (!x->opts.trace) return;
    char sig[FF_SIGNATURE_MAX];
    ff_finding_signature(f, sig, sizeof sig);
    const char *mark = f->consequence ? "  .. then " : "  !! ";
    if (f->op == FF_OP_AT_END)
        fprintf(x->opts.trace, "%s%s at the end: %s\n", mark, sig, f->detail);
    else
        fprintf(x->opts.trace, "%s%s at op %zu: %s\n", mark, sig, f->op, f->detail);
}

ff_exec_position ff_exec_current;

/* Records a finding; the first on the current target is its root cause, the rest are
 * its consequences. */
static void record_finding(ff_exec *x, const ff_finding *found)
{
    if (x->nfindings == x->findings_cap) {
        size_t cap = x->findings_cap ? 2 * x->findings_cap : 16;
        ff_finding *p = realloc(x->findings, cap * sizeof *p);
        if (!p) host_out_of_memory();
        x->findings = p;
        x->findings_cap = cap;
    }
    ff_finding f = *found;
    f.consequence = x->target_first != SIZE_MAX;
    if (!f.consequence) x->target_first = x->nfindings;
    ff_exec_current.target_found = true;
    x->findings[x->nfindings++] = f;
    trace_finding(x, &f);
    bool counts = x->opts.on_finding ? x->opts.on_finding(x->opts.ctx, &f) : true;
    if (!f.consequence && counts) x->counted++;
}

static void oracle_finding(void *ctx, const ff_finding *f) { record_finding(ctx, f); }

/* What made a request one the allocator had to refuse, for the trace. */
static const char *panic_cause(const ff_oracle *o, const ff_policy *policy, const ff_event *ev)
{
    if (ev->call == FF_BCALL_FREE)
        return ff_free_kind_name(ff_oracle_classify_free(o, ev->start, ev->count));
    return ff_oracle_request_malformed(policy, ev->req) ? "a malformed request"
                                                        : "a request no placement guarantee covers";
}

/* The answer record of the context running now. */
static struct answer *answer_now(ff_exec *x)
{
    return &x->answers[x->on_cpus ? ff_cpus_context(x->cpus) : 0];
}

static void observe(void *ctx, const ff_event *ev)
{
    context *c = ctx;
    ff_exec *x = c->x;
    if (x->cur != c || !x->judging) return;
    if (ev->kind >= FF_EV_REF_ZERO && ev->kind <= FF_EV_REF_REVIVE) { /* the oracle's alone: one
                                                           per frame, too many to show */
        ff_oracle_observe(c->se->oracle, ev);
        return;
    }
    struct answer *answer = answer_now(x);
    const char *name = c->target->name;
    FILE *trace = x->opts.trace;
    if (!x->trace_events) x->opts.trace = NULL;
    switch (ev->kind) {
    case FF_EV_ALLOC:
        if (ev->cache) {
            if (ev->status == FF_OK)
                TRACE(x, "     %s alloc(%llu) = ok 0x%llx, into cpu%u's cache\n", name,
                      (unsigned long long)ev->req->count, (unsigned long long)ev->start, ev->cpu);
            else
                TRACE(x, "     %s alloc(%llu) = %s, refilling cpu%u's cache\n", name,
                      (unsigned long long)ev->req->count, ff_status_name(ev->status), ev->cpu);
            break;
        }
        answer->event = true;
        answer->status = ev->status;
        if (ev->status == FF_OK)
            TRACE(x, "     %s alloc(%llu, align %llu, zone %s) = ok 0x%llx\n", name,
                  (unsigned long long)ev->req->count, (unsigned long long)ev->req->align,
                  zone_label(ev->req->zone), (unsigned long long)ev->start);
        else
            TRACE(x, "     %s alloc(%llu, align %llu, zone %s) = %s\n", name,
                  (unsigned long long)ev->req->count, (unsigned long long)ev->req->align,
                  zone_label(ev->req->zone), ff_status_name(ev->status));
        break;
    case FF_EV_FREE:
        if (ev->cache) {
            TRACE(x, "     %s free(0x%llx, %llu) = %s, from cpu%u's cache\n", name,
                  (unsigned long long)ev->start, (unsigned long long)ev->count,
                  ff_status_name(ev->status), ev->cpu);
            break;
        }
        answer->event = true;
        answer->status = ev->status;
        if (answer->classify) answer->kind = ff_oracle_classify_free(c->se->oracle, ev->start, ev->count);
        TRACE(x, "     %s free(0x%llx, %llu) = %s\n", name, (unsigned long long)ev->start,
              (unsigned long long)ev->count, ff_status_name(ev->status));
        break;
    case FF_EV_PANIC:
        TRACE(x, "     PANIC%s: %s\n", ev->lock_held ? " with the allocator lock held" : "",
              ev->reason);
        break;
    case FF_EV_DEADLOCK: TRACE(x, "     DEADLOCK: %s\n", ev->reason); break;
    case FF_EV_HANG: TRACE(x, "     HANG: %s\n", ev->reason); break;
    case FF_EV_BACKEND_PANIC: TRACE(x, "     ALLOCATOR PANIC: %s\n", ev->reason); break;
    case FF_EV_REF_ZERO:
    case FF_EV_REF_TAKE:
    case FF_EV_REF_REVIVE: break; /* above */
    case FF_EV_CACHE_TAKE:
        TRACE(x, "     cpu%u's cache hands out 0x%llx (+%llu)\n", ev->cpu,
              (unsigned long long)ev->start, (unsigned long long)ev->count);
        break;
    case FF_EV_CACHE_PUT:
        TRACE(x, "     cpu%u's cache takes back 0x%llx (+%llu)\n", ev->cpu,
              (unsigned long long)ev->start, (unsigned long long)ev->count);
        break;
    case FF_EV_LOCK_ORDER: TRACE(x, "     LOCK ORDER: %s\n", ev->reason); break;
    case FF_EV_DATA_RACE: TRACE(x, "     DATA RACE: %s\n", ev->reason); break;
    case FF_EV_DRAIN:
        TRACE(x, "     %s drain: what each CPU held is back in the shared pools\n", name);
        break;
    case FF_EV_CALL: /* a free in flight explains what another CPU is handed meanwhile */
        if (ev->call == FF_BCALL_FREE && x->on_cpus)
            TRACE(x, "     %s free(0x%llx, %llu) begins\n", name, (unsigned long long)ev->start,
                  (unsigned long long)ev->count);
        break;
    }
    x->opts.trace = trace;
    size_t before = x->nfindings;
    bool blind = ff_oracle_blind(c->se->oracle) != NULL;
    ff_oracle_observe(c->se->oracle, ev);
    if (!blind && ff_oracle_blind(c->se->oracle)) {
        x->blind_op = ff_exec_current.op;
        TRACE(x, "     (%s: nothing more is judged, or run)\n", ff_oracle_blind(c->se->oracle));
    }
    if (ev->kind == FF_EV_BACKEND_PANIC && x->nfindings == before && ev->call != FF_BCALL_CHECK)
        TRACE(x, "     (the allocator caught a request it had to refuse: %s)\n",
              panic_cause(c->se->oracle, &c->target->def->policy, ev));
}

/* ---------------------------------------------------------------- handle table */

static void handle_push(ff_exec *x, ff_pfn start, uint64_t count, uint64_t refs)
{
    if (x->nhandles == x->handles_cap) {
        size_t cap = x->handles_cap ? 2 * x->handles_cap : 64;
        handle *p = realloc(x->handles, cap * sizeof *p);
        if (!p) host_out_of_memory();
        x->handles = p;
        x->handles_cap = cap;
    }
    x->handles[x->nhandles++] = (handle){start, count, refs};
}

/* Puts a handle back where it was taken from (handle_remove), so that the handles'
 * numbering is as if it had never left. */
static void handle_insert(ff_exec *x, size_t i, handle h)
{
    handle_push(x, h.start, h.count, h.refs);
    if (i >= x->nhandles - 1) return;
    memmove(&x->handles[i + 1], &x->handles[i], (x->nhandles - 1 - i) * sizeof *x->handles);
    x->handles[i] = h;
}

static void handle_remove(ff_exec *x, size_t i)
{
    memmove(&x->handles[i], &x->handles[i + 1], (x->nhandles - i - 1) * sizeof *x->handles);
    x->nhandles--;
}

/* ---------------------------------------------------------------- operations */

/* What a run may still spend, shared by its CPUs. */
typedef struct budget {
    uint64_t frames_left; /* of RUN_FRAME_BUDGET */
    unsigned checks_left; /* of RUN_CHECKS */
    uint64_t walk_frames_left; /* of RUN_WALK_FRAMES */
} budget;

/* One target's run, as one CPU sees it (a concurrent run has one per CPU). */
typedef struct run {
    ff_exec *x;
    context *c;
    ff_oracle *o;
    ff_meta *m;
    size_t op;
    budget *budget;
    outcome *outcomes; /* this target's outcomes, one per operation, or NULL */
    outcome *out;      /* the running operation's, or NULL */
    const ff_program *p;
    unsigned cpu; /* the CPU whose operations this runs */
} run;

/* Whether the operation's answer goes to the differential check: only one given before
 * the target's first finding, or its oracle going blind, in time (with CPUs, an
 * operation earlier in the program may run later). */
static bool answer_counts(const run *r)
{
    return r->out && r->x->target_first == SIZE_MAX && r->x->blind_op == SIZE_MAX;
}

static void layer_result(run *r, ff_layer_call call, ff_meta_status st, ff_pfn start,
                         uint64_t count, uint32_t refs)
{
    ff_layer_result res = {call, st, start, count, refs};
    ff_oracle_op_end(r->o, &res);
}

static void begin_call(run *r, ff_layer_call call)
{
    *answer_now(r->x) = (struct answer){.event = false};
    ff_oracle_op_begin(r->o, r->op, call);
}

/* Takes frames of per-frame layer work from the run's budget; false (traced) when the
 * budget cannot pay for them and the operation is skipped. */
static bool spend_frames(run *r, uint64_t frames)
{
    if (frames > r->budget->frames_left) {
        TRACE(r->x, "  -> skipped: the run's budget of %llu frames is spent\n",
              (unsigned long long)RUN_FRAME_BUDGET);
        return false;
    }
    r->budget->frames_left -= frames;
    return true;
}

/* The frames handle index names (as pick_handle resolves it), 0 when none is live. */
static uint64_t handle_frames(const run *r, uint8_t index)
{
    return r->x->nhandles ? r->x->handles[index % r->x->nhandles].count : 0;
}

static void alloc_request(run *r, const ff_op *op)
{
    ff_alloc_req req = {.count = op->count, .align = op->align, .zone = op->zone};
    ff_handle h;
    begin_call(r, FF_CALL_ALLOC);
    ff_meta_status st = ff_meta_alloc(r->m, &req, 1, &h);
    if (st == FF_META_OK && h.count) {
        handle_push(r->x, h.start, h.count, 1);
        TRACE(r->x, "  -> ok: h%zu = [0x%llx, +%llu)\n", r->x->nhandles - 1,
              (unsigned long long)h.start, (unsigned long long)h.count);
    } else if (st == FF_META_OK) {
        TRACE(r->x, "  -> ok, and no frame to hold (a zero-size allocation)\n");
    } else {
        TRACE(r->x, "  -> %s\n", ff_meta_status_name(st));
        if (st == FF_META_BAD_HANDOUT) /* the layer's reason, as no event carries it */
            TRACE(r->x, "     layer: %s\n", ff_meta_last_detail(r->m)->reason);
    }
    const struct answer *a = answer_now(r->x);
    if (answer_counts(r) && a->event &&
        ff_oracle_request_malformed(&r->c->target->def->policy, &req))
        *r->out = (outcome){CMP_MALFORMED, 0, (uint8_t)a->status};
    layer_result(r, FF_CALL_ALLOC, st, h.start, h.count, 0);
}

static void do_alloc(run *r, const ff_op *op)
{
    if (spend_frames(r, op->count)) alloc_request(r, op);
}

/* Drops one reference of [start, +count), a piece of handle i, and splits the handle
 * so it keeps naming exactly what is still held. */
static void drop_piece(run *r, size_t i, uint64_t offset, uint64_t count)
{
    handle h = r->x->handles[i];
    ff_handle piece = {h.start + offset, count};
    /* Out of the table before the layer runs: another CPU cannot pick it meanwhile (a
     * program dropping what it is dropping is its own misuse, not the layer's). */
    handle_remove(r->x, i);
    begin_call(r, FF_CALL_DROP);
    ff_oracle_drop_begin(r->o, piece.start, piece.count);
    ff_meta_status st = ff_meta_drop(r->m, piece);
    TRACE(r->x, "  -> %s\n", ff_meta_status_name(st));
    if (offset) handle_push(r->x, h.start, offset, h.refs);
    if (h.refs > 1) handle_push(r->x, piece.start, count, h.refs - 1);
    if (offset + count < h.count)
        handle_push(r->x, piece.start + count, h.count - offset - count, h.refs);
    layer_result(r, FF_CALL_DROP, st, piece.start, piece.count, 0);
}

static bool pick_handle(run *r, uint8_t index, size_t *i)
{
    if (r->x->nhandles == 0) {
        TRACE(r->x, "  -> skipped: no live handle\n");
        return false;
    }
    *i = index % r->x->nhandles;
    TRACE(r->x, "  (h%u is h%zu = [0x%llx, +%llu)%s)\n", index, *i,
          (unsigned long long)r->x->handles[*i].start,
          (unsigned long long)r->x->handles[*i].count,
          r->x->handles[*i].refs > 1 ? ", several references" : "");
    return true;
}

static void do_drop(run *r, const ff_op *op)
{
    size_t i;
    if (!spend_frames(r, handle_frames(r, op->handle)) || !pick_handle(r, op->handle, &i)) return;
    drop_piece(r, i, 0, r->x->handles[i].count);
}

static void do_drop_piece(run *r, const ff_op *op)
{
    size_t i;
    if (!spend_frames(r, op->count) || !pick_handle(r, op->handle, &i)) return;
    uint64_t n = r->x->handles[i].count;
    uint64_t offset = op->offset % n;
    uint64_t count = op->count ? op->count : 1;
    if (count > n - offset) count = n - offset;
    drop_piece(r, i, offset, count);
}

static void do_from_unused(run *r, const ff_op *op)
{
    if (!spend_frames(r, op->count)) return;
    ff_handle h;
    begin_call(r, FF_CALL_FROM_UNUSED);
    ff_meta_status st = ff_meta_from_unused(r->m, op->paddr, op->count, 1, &h);
    if (st == FF_META_OK) {
        handle_push(r->x, h.start, h.count, 1);
        TRACE(r->x, "  -> ok: h%zu = [0x%llx, +%llu)\n", r->x->nhandles - 1,
              (unsigned long long)h.start, (unsigned long long)h.count);
    } else {
        TRACE(r->x, "  -> %s\n", ff_meta_status_name(st));
    }
    layer_result(r, FF_CALL_FROM_UNUSED, st, op->paddr >> FF_FRAME_SHIFT, op->count, 0);
}

/* from_in_use of [paddr, +count); a clone passes the handle it borrowed from index
 * `at`, put back before the new one joins. */
static void from_in_use(run *r, uint64_t paddr, uint64_t count, uint32_t refs,
                        const handle *borrowed, size_t at)
{
    ff_handle h;
    begin_call(r, FF_CALL_FROM_IN_USE);
    ff_meta_status st = ff_meta_from_in_use(r->m, paddr, count, refs, &h);
    if (borrowed) handle_insert(r->x, at, *borrowed);
    if (st == FF_META_OK) {
        handle_push(r->x, h.start, h.count, refs);
        TRACE(r->x, "  -> ok: h%zu = [0x%llx, +%llu)\n", r->x->nhandles - 1,
              (unsigned long long)h.start, (unsigned long long)h.count);
    } else {
        TRACE(r->x, "  -> %s\n", ff_meta_status_name(st));
    }
    layer_result(r, FF_CALL_FROM_IN_USE, st, paddr >> FF_FRAME_SHIFT, count, refs);
}

static void do_clone(run *r, const ff_op *op)
{
    size_t i;
    if (!spend_frames(r, handle_frames(r, op->handle)) || !pick_handle(r, op->handle, &i)) return;
    /* Borrowed for the clone, as a clone holds its source: no other CPU drops it
     * meanwhile. */
    handle h = r->x->handles[i];
    handle_remove(r->x, i);
    from_in_use(r, h.start << FF_FRAME_SHIFT, h.count, 1, &h, i);
}

static void do_from_in_use(run *r, const ff_op *op)
{
    if (spend_frames(r, op->count)) from_in_use(r, op->paddr, op->count, op->refs, NULL, 0);
}

static void do_raw_free(run *r, const ff_op *op)
{
    /* Frames poisoned, merged, counted: as many as the map holds. */
    uint64_t top = r->c->se->space.top;
    if (!spend_frames(r, op->count < top ? op->count : top)) return;
    ff_pfn start = op->paddr >> FF_FRAME_SHIFT;
    begin_call(r, FF_CALL_RAW_FREE);
    answer_now(r->x)->classify = r->out != NULL; /* only a differential run compares it */
    ff_meta_status st = ff_meta_raw_free(r->m, op->paddr, op->count);
    TRACE(r->x, "  -> %s\n", ff_meta_status_name(st));
    const struct answer *a = answer_now(r->x);
    if (answer_counts(r) && a->event) *r->out = (outcome){CMP_FREE, (uint8_t)a->kind, (uint8_t)a->status};
    layer_result(r, FF_CALL_RAW_FREE, st, start, op->count, 0);
}

static void do_write(run *r, const ff_op *op)
{
    ff_space *space = &r->c->se->space;
    ff_pfn pfn = op->paddr >> FF_FRAME_SHIFT;
    uint32_t offset = (uint32_t)(op->paddr & (FF_FRAME_SIZE - 1));
    /* The space may have backing from another run; this run has it only if it asked. */
    bool backed = r->c->poison || r->c->target->def->policy.needs_backing;
    unsigned char *mem = backed ? ff_space_frame_mem(space, pfn) : NULL;
    if (!mem) {
        TRACE(r->x, "  -> skipped: %s\n", backed ? "past the top of the map"
                                                 : "no backing memory (poison is off)");
        return;
    }
    ff_oracle_op_begin(r->o, r->op, FF_CALL_NONE);
    if (!ff_oracle_write(r->o, pfn, offset, op->value)) {
        TRACE(r->x, "  -> skipped: the allocator's own bytes (in-band bytes of a free frame, "
                    "or a frame it keeps), which no allocator can defend\n");
        return;
    }
    ff_space_write(space, pfn, offset, op->value);
    TRACE(r->x, "  -> written\n");
}

/* An invariant walk, within the run's walk budgets; it costs no frames of work. */
static void do_check(run *r, const ff_op *op)
{
    (void)op;
    uint64_t walk = r->c->se->space.usable_frames;
    if (!r->budget->checks_left) {
        TRACE(r->x, "  -> skipped: the run's %d invariant walks are spent\n", RUN_CHECKS);
        return;
    }
    if (walk > r->budget->walk_frames_left) {
        TRACE(r->x, "  -> skipped: the run's walks over %llu frames in all are spent\n",
              (unsigned long long)RUN_WALK_FRAMES);
        return;
    }
    r->budget->checks_left--;
    r->budget->walk_frames_left -= walk;
    ff_oracle_op_begin(r->o, r->op, FF_CALL_NONE);
    const char *verdict = ff_meta_backend_check(r->m);
    TRACE(r->x, "  -> %s\n", verdict ? verdict : "holds");
    ff_oracle_check(r->o, verdict);
}

/* Each kind's executor, from the operation list: a new operation needs its do_NAME,
 * which pays for its work from the run's budgets before doing it (spend_frames; a
 * write costs none, a check its walk). */
static void (*const executors[FF_OP_KIND_COUNT])(run *r, const ff_op *op) = {
#define X(id, name, keyword, weight, operands) [FF_OP_##id] = do_##name,
    FF_OP_LIST(X)
#undef X
};

static void run_op(run *r, const ff_op *op) { executors[op->kind](r, op); }

/* ---------------------------------------------------------------- end of run */

static void give_back_orphan(void *ctx, ff_pfn start, uint64_t count)
{
    run *r = ctx;
    begin_call(r, FF_CALL_GIVE_BACK);
    TRACE(r->x, "[end] give back the block the layer refused: raw_free 0x%llx %llu\n",
          (unsigned long long)(start << FF_FRAME_SHIFT), (unsigned long long)count);
    ff_meta_status st = ff_meta_raw_free(r->m, start << FF_FRAME_SHIFT, count);
    layer_result(r, FF_CALL_GIVE_BACK, st, start, count, 0);
}

/* A target's run ends with its system, or at its first finding. */
/* Whether the target's run ends here: the system died, a finding (unless going on), or
 * its oracle went blind: nothing more is judged, and what the program's misuse did to
 * the back-end's state may crash it (a link followed into a frame another CPU wrote),
 * which would be no bug of its own. */
static bool stop(const run *r)
{
    return ff_meta_dead(r->m) || r->x->blind_op != SIZE_MAX ||
           (!r->x->opts.keep_going && r->x->target_first != SIZE_MAX);
}

static void drop_all(run *r)
{
    ff_exec *x = r->x;
    while (x->nhandles && !stop(r)) {
        TRACE(x, "[end] drop h%zu = [0x%llx, +%llu)\n", x->nhandles - 1,
              (unsigned long long)x->handles[x->nhandles - 1].start,
              (unsigned long long)x->handles[x->nhandles - 1].count);
        drop_piece(r, x->nhandles - 1, 0, x->handles[x->nhandles - 1].count);
    }
}

/* With everything given back, a back-end that places power-of-two blocks owes again
 * each top-order block a fresh instance gave. One frame at that alignment per block
 * asks for it at the cost of one frame, not 2^max_order: a merge that reached the top
 * order and was never listed shows as the request that fails (spurious-oom). */
static void ask_top_order_again(run *r)
{
    const ff_policy *pol = &r->c->target->def->policy;
    const ff_oracle_baseline *b = &r->c->baseline;
    if (pol->placement != FF_PLACE_POW2_NATURAL || pol->max_order >= 64) return;
    const uint64_t top = UINT64_C(1) << pol->max_order;
    size_t owed = 0;
    for (size_t i = 0; i < b->ndrain && b->drain[i].count == top; i++) owed += b->drain_fresh_ok[i];
    if (!owed) return;
    TRACE(r->x, "[end] everything given back: ask for one frame at each of the %zu top-order "
                "(%llu-frame) blocks a fresh instance gave\n",
          owed, (unsigned long long)top);
    for (size_t i = 0; i < owed && !stop(r); i++) {
        TRACE(r->x, "[end] alloc 1 align 0x%llx\n", (unsigned long long)top);
        alloc_request(r, &(ff_op){.kind = FF_OP_ALLOC, .count = 1, .align = top, .zone = FF_ZONE_NORMAL});
    }
    drop_all(r);
}

/* Per-CPU caches (the layer's, or those of a back-end with a drain hook) give every
 * run back before the leak check: what stays out then is lost. */
static void drain_caches(run *r)
{
    if (!r->c->target->pcp && !r->c->target->def->drain) return;
    TRACE(r->x, "[end] drain every CPU's cache\n");
    begin_call(r, FF_CALL_NONE);
    ff_meta_drain_caches(r->m);
    layer_result(r, FF_CALL_NONE, FF_META_OK, 0, 0, 0);
}

static void end_of_run(run *r)
{
    ff_exec *x = r->x;
    r->op = ff_exec_current.op = FF_OP_AT_END;
    r->out = NULL; /* what the end asks is not compared across targets */
    uint64_t drops = 0;
    for (size_t i = 0; i < x->nhandles; i++) drops += x->handles[i].refs;
    if (drops > END_DROP_LIMIT) {
        TRACE(x, "[end] %llu references held: too many to drop; no leak check\n",
              (unsigned long long)drops);
        return;
    }
    drop_all(r);
    if (stop(r)) return;
    ff_oracle_orphans(r->o, give_back_orphan, r);
    if (stop(r)) return;
    /* Asking for all of memory again costs a back-end O(frames): on the large presets
     * only the top-order blocks are asked for again, one frame each. */
    if (r->c->se->space.usable_frames > DRAIN_MAX_FRAMES) {
        ask_top_order_again(r);
        if (stop(r)) return;
        drain_caches(r);
        if (stop(r)) return;
        ff_oracle_leak_begin(r->o);
        TRACE(x, "[end] leak check: every frame given back (no re-allocation on a map "
                 "this large)\n");
        return;
    }
    drain_caches(r);
    if (stop(r)) return;
    ff_oracle_leak_begin(r->o);
    TRACE(x, "[end] leak check: everything given back, ask for all of memory again\n");
    const ff_oracle_baseline *b = &r->c->baseline;
    for (size_t i = 0; i < b->ndrain && !stop(r); i++) {
        if (!b->drain_fresh_ok[i]) continue;
        ff_pfn start;
        begin_call(r, FF_CALL_RESERVE);
        x->trace_events = false; /* the blocks themselves are noise; findings still show */
        ff_meta_status st = ff_meta_reserve(r->m, &b->drain[i], &start);
        x->trace_events = true;
        if (st != FF_META_OK)
            TRACE(x, "     alloc(%llu) for the leak check = %s\n",
                  (unsigned long long)b->drain[i].count, ff_meta_status_name(st));
        layer_result(r, FF_CALL_RESERVE, st, start, b->drain[i].count, 0);
    }
}

/* ---------------------------------------------------------------- the operations' CPUs */

/* Runs operation i of the program, as the CPU r runs for. */
static inline void run_one(run *r, size_t i)
{
    const ff_op *op = &r->p->ops[i];
    r->op = ff_exec_current.op = i;
    if (r->p->ncpus) (op->irq ? r->x->irq_op : r->x->cpu_op)[r->cpu] = i;
    r->out = r->outcomes ? &r->outcomes[i] : NULL;
    if (r->x->opts.trace) {
        char text[144];
        ff_op_format_in(r->p, op, text, sizeof text);
        fprintf(r->x->opts.trace, "[%zu] %s\n", i, text);
    }
    run_op(r, op);
}

/* CPU cpu's first interrupt operation from index i on, or nops. */
static size_t next_irq(const ff_program *p, unsigned cpu, size_t i)
{
    while (i < p->nops && !(p->ops[i].irq && p->ops[i].cpu == cpu)) i++;
    return i;
}

/* The operations before index i are raised on CPU r's: the CPUs ask the hook at its
 * points only while one of them is still to come. */
static void raise_before(run *r, size_t i)
{
    struct irq_queue *q = &r->x->irq[r->cpu];
    bool was = q->next < q->raised;
    q->raised = i;
    if (!was && q->next < i) ff_cpus_irq_raise(r->x->cpus, r->cpu, true);
}

/* The interrupt hook: CPU cpu, with an interrupt raised, may take it here. */
static void on_interrupt(void *ctx, unsigned cpu)
{
    run *r = &((run *)ctx)[cpu];
    struct irq_queue *q = &r->x->irq[cpu];
    if (stop(r)) return;
    if (q->wait) {
        q->wait--;
        return;
    }
    size_t i = q->next;
    q->next = next_irq(r->p, cpu, i + 1);
    if (q->next < r->p->nops) q->wait = r->p->ops[q->next].irq_after;
    if (q->next >= q->raised) ff_cpus_irq_raise(r->x->cpus, cpu, false);
    TRACE(r->x, "  ^^ cpu%u takes an interrupt\n", cpu);
    run_one(r, i);
    r->x->irq_op[cpu] = SIZE_MAX;
}

/* A CPU's task: its operations, in the program's order, raising its interrupts as it
 * gets past them; at its end, the interrupts still to come arrive while it idles. */
static void cpu_task(void *arg)
{
    run *r = arg;
    struct irq_queue *q = &r->x->irq[r->cpu];
    for (size_t i = 0; i < r->p->nops; i++) {
        if (r->p->ops[i].cpu != r->cpu || r->p->ops[i].irq) continue;
        if (stop(r)) break;
        raise_before(r, i);
        run_one(r, i);
    }
    raise_before(r, r->p->nops);
    while (q->next < r->p->nops && !stop(r)) {
        q->wait = 0;
        ff_cpus_interrupt(r->x->cpus);
    }
}

static const char *point_name(ff_point why)
{
    static const char *const names[FF_POINT_COUNT] = {
        [FF_POINT_LOCK] = "a lock acquire", [FF_POINT_HELD] = "a lock just taken",
        [FF_POINT_UNLOCK] = "a lock release", [FF_POINT_ATOMIC] = "a refcount atomic",
        [FF_POINT_CACHE] = "a cache access", [FF_POINT_STEP] = "a loop step"};
    return (unsigned)why < FF_POINT_COUNT ? names[why] : "?";
}

/* Each switch in the trace where it happens, and the operation the crash report names
 * follows the CPU running. */
static void on_switch(void *ctx, const ff_switch *sw)
{
    ff_exec *x = ctx;
    size_t resumed = x->irq_op[sw->to] != SIZE_MAX ? x->irq_op[sw->to] : x->cpu_op[sw->to];
    if (resumed != SIZE_MAX) ff_exec_current.op = resumed;
    if (!x->opts.trace) return;
    char to[64];
    if (resumed == SIZE_MAX)
        snprintf(to, sizeof to, "cpu%u starts", sw->to);
    else
        snprintf(to, sizeof to, "cpu%u resumes [%zu]", sw->to, resumed);
    if (sw->preempted)
        fprintf(x->opts.trace, "  ~~ switch at point %llu: cpu%u preempted at %s; %s\n",
                (unsigned long long)sw->point, sw->from, point_name(sw->why), to);
    else if (sw->why == FF_POINT_COUNT)
        fprintf(x->opts.trace, "  ~~ cpu%u is done; %s\n", sw->from, to);
    else
        fprintf(x->opts.trace, "  ~~ cpu%u waits for %s; %s\n", sw->from,
                ff_meta_lock_name(x->cur->meta, ff_cpus_waiting_for(x->cpus, sw->from)), to);
}

/* A concurrent program: each CPU's operations as its own task, interleaved at the
 * layer's preemption points as the program's schedule says. */
static void run_on_cpus(run *base)
{
    ff_exec *x = base->x;
    const ff_program *p = base->p;
    if (!x->cpus && !(x->cpus = ff_cpus_create(0))) host_out_of_memory();
    run runs[FF_CPUS_MAX], irq_runs[FF_CPUS_MAX];
    void *args[FF_CPUS_MAX];
    for (unsigned k = 0; k < p->ncpus; k++) {
        runs[k] = *base;
        runs[k].cpu = k;
        irq_runs[k] = runs[k];
        args[k] = &runs[k];
        x->cpu_op[k] = x->irq_op[k] = SIZE_MAX;
        size_t first = next_irq(p, k, 0);
        x->irq[k] = (struct irq_queue){first, 0, first < p->nops ? p->ops[first].irq_after : 0};
    }
    ff_cpus_observe(x->cpus, on_switch, x);
    /* No interrupt in the program: no hook to ask at every point. */
    bool irqs = false;
    for (unsigned k = 0; k < p->ncpus; k++) irqs |= x->irq[k].next < p->nops;
    ff_cpus_on_interrupt(x->cpus, irqs ? on_interrupt : NULL, irq_runs);
    ff_meta_set_cpus(base->m, x->cpus);
    ff_oracle_set_cpus(base->o, x->cpus);
    ff_schedule schedule = {p->sched_mode, p->schedule, p->schedule_len};
    x->on_cpus = true;
    ff_cpus_outcome ended = ff_cpus_run(x->cpus, p->ncpus, cpu_task, args, &schedule);
    x->on_cpus = false;
    ff_meta_set_cpus(base->m, NULL);
    ff_oracle_set_cpus(base->o, NULL);
    TRACE(x, "  ~~ %u preemptions\n", ff_cpus_preemptions(x->cpus));
    if (ended != FF_CPUS_DEADLOCK || ff_meta_dead(base->m)) return;
    /* Every CPU left waits for a lock no running CPU will give up. */
    ff_finding f = {.cls = FF_CLASS_HANG, .op = FF_OP_AT_END};
    snprintf(f.backend, sizeof f.backend, "%s", base->c->target->name);
    snprintf(f.state, sizeof f.state, "cpus:deadlock");
    int len = snprintf(f.detail, sizeof f.detail, "the CPUs deadlocked:");
    for (unsigned k = 0; k < p->ncpus && len > 0 && (size_t)len < sizeof f.detail; k++)
        if (ff_cpus_waiting_for(x->cpus, k))
            len += snprintf(f.detail + len, sizeof f.detail - (size_t)len,
                            " cpu%u waits in [%zu] for %s", k, x->cpu_op[k],
                            ff_meta_lock_name(base->m, ff_cpus_waiting_for(x->cpus, k)));
    record_finding(x, &f);
}

/* ---------------------------------------------------------------- one target */

static void map_key_of(const ff_program *p, map_key *key)
{
    memset(key, 0, sizeof *key);
    key->preset = p->preset;
    if (!p->preset) {
        key->nregions = p->nregions;
        memcpy(key->regions, p->regions, p->nregions * sizeof p->regions[0]);
    }
}

static void run_target(ff_exec *x, size_t ti, const ff_program *p, outcome *out)
{
    const ff_target *t = &x->targets[ti];
    ff_semantics sem = x->opts.semantics >= 0 ? (ff_semantics)x->opts.semantics : p->semantics;
    bool poison = x->opts.poison >= 0 ? x->opts.poison != 0 : p->poison;
    map_key key;
    map_key_of(p, &key);
    if (x->opts.map) key = (map_key){.preset = x->opts.map};
    /* From here to the first operation: making room in the cache (machines torn down),
     * building or resetting this target's machine. */
    if (x->opts.preparing) x->opts.preparing(true);
    space_entry *se = space_get(x, &key);
    TRACE(x, "== %s, semantics %s, map %s, poison %s\n", t->name, ff_semantics_name(sem),
          key.preset ? key.preset : "custom", poison ? "on" : "off");
    if (!se->ok) {
        if (x->opts.preparing) x->opts.preparing(false);
        TRACE(x, "   map not runnable: %s\n", se->err);
        return;
    }
    /* Building (or resetting) the back-end runs it too: a crash there is at the start. */
    ff_exec_current = (ff_exec_position){.target = t->name, .op = FF_EXEC_AT_START};
    ff_exec_current.running = true;
    char err[200];
    context *c = context_get(x, se, t, sem, poison, err, sizeof err);
    if (c && c->dirty && !ff_meta_reset(c->meta)) host_out_of_memory();
    if (x->opts.preparing) x->opts.preparing(false);
    if (!c) {
        TRACE(x, "   %s\n", err);
        ff_exec_current.running = false;
        return;
    }
    c->dirty = true;

    budget b = {RUN_FRAME_BUDGET, RUN_CHECKS, RUN_WALK_FRAMES};
    run r = {.x = x, .c = c, .o = se->oracle, .m = c->meta, .budget = &b, .outcomes = out, .p = p};
    ff_oracle_begin(r.o, c->meta, t->name, &c->baseline);
    ff_oracle_on_finding(r.o, oracle_finding, x);
    x->cur = c;
    x->judging = x->trace_events = true;
    x->nhandles = 0;
    x->target_first = SIZE_MAX;
    x->blind_op = SIZE_MAX;

    if (p->ncpus) {
        run_on_cpus(&r);
    } else {
        for (size_t i = 0; i < p->nops && !stop(&r); i++) run_one(&r, i);
    }
    if (!stop(&r)) end_of_run(&r);
    else if (ff_meta_dead(c->meta)) TRACE(x, "   the system is dead: nothing more runs\n");
    x->judging = false;
    x->cur = NULL;
    ff_exec_current.running = false;
    /* Its answers from its first finding on are that finding's consequences. */
    x->first_op[ti] = x->target_first == SIZE_MAX ? SIZE_MAX : x->findings[x->target_first].op;
    if (x->blind_op < x->first_op[ti]) x->first_op[ti] = x->blind_op; /* nothing after counts */
}

/* ---------------------------------------------------------------- differential */

/* Two targets' answers to one operation are bound to agree when their contracts make
 * the same promise about it. */
static bool bound_to_agree(const ff_exec *x, size_t a, size_t b, size_t op, const outcome *oa,
                       const outcome *ob)
{
    if (oa->what == CMP_NONE || oa->what != ob->what) return false;
    if (op >= x->first_op[a] || op >= x->first_op[b]) return false;
    const ff_policy *pa = &x->targets[a].def->policy, *pb = &x->targets[b].def->policy;
    if (!pa->validates_frees || !pb->validates_frees) return false;
    if (oa->what == CMP_FREE) return pa->free_rule == pb->free_rule && oa->kind == ob->kind;
    return true;
}

static void find_divergences(ff_exec *x, const ff_program *p)
{
    size_t n = x->ntargets;
    size_t first_divergence[MAX_TARGETS]; /* each target's, as a finding index */
    for (size_t t = 0; t < n; t++) first_divergence[t] = SIZE_MAX;
    for (size_t op = 0; op < p->nops; op++) {
        for (size_t t = 0; t < n; t++) {
            const outcome *ot = &x->outcomes[t * p->nops + op];
            /* Agreement with the others that make the same promise. */
            size_t agree = 0, differ = 0, other = SIZE_MAX;
            for (size_t u = 0; u < n; u++) {
                if (u == t) continue;
                const outcome *ou = &x->outcomes[u * p->nops + op];
                if (!bound_to_agree(x, t, u, op, ot, ou)) continue;
                if (ff_status_agree((ff_status)ou->status, (ff_status)ot->status)) {
                    agree++;
                } else {
                    differ++;
                    if (other == SIZE_MAX) other = u;
                }
            }
            /* The one outvoted (or, in a tie, the later one) deviates. */
            size_t with_t = agree + 1;
            if (differ < with_t || (differ == with_t && t < other)) continue;
            const outcome *oo = &x->outcomes[other * p->nops + op];
            char text[128];
            ff_op_format_in(p, &p->ops[op], text, sizeof text);
            ff_finding f = {.cls = FF_CLASS_DIVERGENCE, .op = op};
            snprintf(f.backend, sizeof f.backend, "%s", x->targets[t].name);
            snprintf(f.detail, sizeof f.detail,
                     "'%s' (%s): %s answered %s, %s answered %s", text,
                     ot->what == CMP_FREE ? ff_free_kind_name((ff_free_kind)ot->kind)
                                          : "malformed request",
                     x->targets[t].name, ff_status_name((ff_status)ot->status),
                     x->targets[other].name, ff_status_name((ff_status)oo->status));
            /* A target's later divergences follow from its first. */
            x->target_first = first_divergence[t];
            record_finding(x, &f);
            first_divergence[t] = x->target_first;
            if (!x->opts.keep_going && x->counted) return;
        }
    }
}

size_t ff_exec_run(ff_exec *x, const ff_program *p)
{
    x->nfindings = 0;
    bool differential = x->ntargets > 1 && p->nops > 0;
    if (differential) {
        size_t need = x->ntargets * p->nops;
        if (need > x->outcomes_cap) {
            outcome *o = realloc(x->outcomes, need * sizeof *o);
            if (!o) host_out_of_memory();
            x->outcomes = o;
            x->outcomes_cap = need;
        }
        if (need) memset(x->outcomes, 0, need * sizeof *x->outcomes);
    }
    x->counted = 0;
    for (size_t t = 0; t < x->ntargets; t++) x->first_op[t] = SIZE_MAX;
    for (size_t t = 0; t < x->ntargets; t++) {
        if (x->counted && !x->opts.keep_going) break;
        run_target(x, t, p, differential ? &x->outcomes[t * p->nops] : NULL);
    }
    if (differential && (!x->counted || x->opts.keep_going)) find_divergences(x, p);
    return x->nfindings;
}
