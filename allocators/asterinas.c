/*
 * asterinas.c — a structural model of Asterinas's current frame allocator (OSDK's
 * frame-allocator crate, the successor of the buddy allocator of #1760).
 *
 * Three layers, as there:
 *   cache  per CPU, runs ("segments") of 1, 2, 3 or 4 frames, at most 12, 6, 6 and 6 of
 *          each. A request of n <= 4 frames aligned to at most n frames takes the
 *          segment pushed last; an empty array is first refilled with two thirds of its
 *          capacity in one pool allocation (8 single frames, 4 runs of 3 from a 12-frame
 *          block), cut into segments. A segment freed into a full array goes to the pools
 *          with two thirds of the others.
 *   pools  per CPU a buddy set of orders below 7, and one global buddy set of orders
 *          below 32. An allocation of order k = ceil(log2(max(n, align))) tries the
 *          CPU's set (k < 7), the global set, the other CPUs' sets, and then moves every
 *          CPU's set into the global one and tries that again. The frames of the chunk
 *          past n go back: chunks of order 7 and above to the global set, smaller ones to
 *          the CPU's. Every pool operation ends by balancing the CPU's set against the
 *          global set's size: at twice the expected size (global / CPUs / 2) or more a
 *          chunk moves out, below an eighth of it one moves in.
 *   buddy  a set keeps a list per order, newest first. Inserting a chunk merges it with
 *          its buddy while the buddy heads a free chunk of the same order in the same
 *          set; taking one splits the first non-empty order at or above the one asked,
 *          keeping the lower half and listing each upper half.
 * The free counter is kept per CPU (an allocation subtracts on its CPU, a free adds on
 * its own) and read as their sum.
 *
 * Concurrency as there (policy.locks_itself): every call runs with local interrupts off
 * (trap::disable_local); the per-CPU cache and counter are touched with them off and no
 * lock (ff_cpu_local); each CPU's set has a spinlock, and so has the global set, taken
 * on demand (OnDemandGlobalLock), its size published as it is let go; every access to a
 * set names the lock that guards it (ff_guarded). The lock order is
 * the real code's, including its one inversion: after a reclaim, the retry takes the
 * global lock before its own CPU's (every other path takes them the other way round).
 *
 * Where it departs from the real code (docs/concurrency.md lists these too):
 *   - num_cpus() is FF_MAX_CPUS: a run's CPUs are the first ones of an 8-CPU machine.
 *   - Free chunks are marked in arrays of its own, not in ostd's frame metadata. A chunk
 *     whose first frame already heads a free chunk, or has no metadata, panics, as
 *     FreeChunk::from_unused does; a frame the program still holds is not seen (ostd's
 *     metadata would refuse it), so the layer's frees are all it trusts.
 *   - No zone-limited allocation (alloc_in is not modelled): UNSUPPORTED.
 *   - drain (framefuzz's hook) empties every cache and CPU set into the global set, with
 *     no other call in flight (as stop_machine). The real allocator never drains its
 *     caches: a request can fail there while up to 66 frames per CPU sit in them;
 *     framefuzz drains and asks again instead, and judges that answer.
 *   - Balancing near exhaustion asks lesser_order_of for less than a page (the global
 *     set under 2 * CPUs frames, the CPU's set empty), whose subtraction overflows: a
 *     panic in a debug build, as here (a release build wraps to a huge order and
 *     recurses without end).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "bugs.h"

#define GLOBAL_ORDERS 32u /* MAX_BUDDY_ORDER: chunks of order 0..31 */
#define LOCAL_ORDERS  7u  /* MAX_LOCAL_BUDDY_ORDER */
#define GLOBAL_SET    0u  /* set 1 + c is CPU c's */
#define SETS          (1u + FF_MAX_CPUS)
#define CACHE_SIZES   4u
#define CACHE_MAX     12u
#define NO_FRAME      UINT64_MAX
#define PAGE_BYTES    FF_FRAME_SIZE
/* A request may name up to a top-order chunk. */
#define LARGEST       (UINT64_C(1) << (GLOBAL_ORDERS - 1))

/* Segments an array of (i + 1)-frame runs holds at most. */
static const unsigned cache_capacity[CACHE_SIZES] = {12, 6, 6, 6};

typedef struct buddy_set {
    ff_pfn head[GLOBAL_ORDERS]; /* per order, the chunk listed last, or NO_FRAME */
    uint64_t frames;            /* total_size, in frames */
    unsigned orders;            /* its orders: GLOBAL_ORDERS or LOCAL_ORDERS */
} buddy_set;

typedef struct cache_array {
    ff_pfn segment[CACHE_MAX];
    unsigned n;
} cache_array;

/* Everything but the per-frame arrays: copied whole on reset (the locks free). */
typedef struct model_state {
    buddy_set set[SETS];
    cache_array cache[FF_MAX_CPUS][CACHE_SIZES];
    int64_t free_on[FF_MAX_CPUS]; /* the per-CPU counter, in frames; may go negative */
    ff_spinlock global_lock;      /* GLOBAL_POOL's */
    ff_spinlock local_lock[FF_MAX_CPUS]; /* LOCAL_POOL's, one per CPU */
    uint64_t global_size;         /* GLOBAL_POOL_SIZE: the global set's size (frames) as
                                     of the last time its lock was let go */
} model_state;

/* OnDemandGlobalLock: the global set's lock, taken the first time it is needed. */
typedef struct global_guard {
    bool held;
} global_guard;

typedef struct asterinas {
    ff_env *env;
    ff_runs ram;
    ff_pfn top;         /* frames [0, top) have metadata: the end of the last RAM run */
    uint8_t *head;      /* per frame: 1 + the order of the free chunk it heads, or 0 */
    uint8_t *head_set;  /* ... and the set listing it */
    ff_pfn *next, *prev; /* list links of a free chunk's first frame */
    model_state s, pristine;
    ff_undo undo;
    char msg[160];
} asterinas;

/* ---------------------------------------------------------------- per-frame writes */

static void put_u8(asterinas *a, uint8_t *at, uint8_t v)
{
    ff_undo_save(&a->undo, at, sizeof *at);
    *at = v;
}

static void put_pfn(asterinas *a, ff_pfn *at, ff_pfn v)
{
    ff_undo_save(&a->undo, at, sizeof *at);
    *at = v;
}

/* ---------------------------------------------------------------- buddy sets */

static void list_push(asterinas *a, unsigned set, unsigned order, ff_pfn p)
{
    if (p >= a->top)
        ff_panic(a->env, "FreeChunk::from_unused(0x%" PRIx64 "): the frame has no metadata", p);
    buddy_set *bs = &a->s.set[set];
    ff_pfn old = bs->head[order];
    put_pfn(a, &a->next[p], old);
    put_pfn(a, &a->prev[p], NO_FRAME);
    if (old != NO_FRAME) put_pfn(a, &a->prev[old], p);
    bs->head[order] = p;
    put_u8(a, &a->head[p], (uint8_t)(order + 1));
    put_u8(a, &a->head_set[p], (uint8_t)set);
}

static void list_remove(asterinas *a, unsigned set, unsigned order, ff_pfn p)
{
    ff_pfn n = a->next[p], pv = a->prev[p];
    if (pv == NO_FRAME) a->s.set[set].head[order] = n;
    else put_pfn(a, &a->next[pv], n);
    if (n != NO_FRAME) put_pfn(a, &a->prev[n], pv);
    put_u8(a, &a->head[p], 0);
}

/* The lock of a set: what guards its lists and size. */
static ff_spinlock *set_lock(asterinas *a, unsigned set)
{
    return set == GLOBAL_SET ? &a->s.global_lock : &a->s.local_lock[set - 1];
}

/* BuddySet::insert_chunk: the chunk of 2^order frames at p, merged with its buddies. */
static void insert_chunk(asterinas *a, unsigned set, ff_pfn p, unsigned order)
{
    buddy_set *bs = &a->s.set[set];
    ff_guarded(a->env, set_lock(a, set));
    if (order >= bs->orders)
        ff_panic(a->env, "insert_chunk: order %u in a set of %u orders", order, bs->orders);
    if (p >= a->top)
        ff_panic(a->env, "FreeChunk::from_unused(0x%" PRIx64 "): the frame has no metadata", p);
    if (a->head[p])
        ff_panic(a->env, "FreeChunk::from_unused(0x%" PRIx64 "): the frame is not unused "
                         "(it heads a free chunk)", p);
    uint64_t inserted = UINT64_C(1) << order;
    for (unsigned o = order; o + 1 < bs->orders; o++) {
        ff_step(a->env);
        ff_pfn buddy = p ^ (UINT64_C(1) << o);
        if (buddy >= a->top || a->head[buddy] != o + 1 || a->head_set[buddy] != set) break;
        list_remove(a, set, o, buddy);
        p &= ~(UINT64_C(1) << o);
        order = o + 1;
    }
    list_push(a, set, order, p);
    bs->frames += inserted;
}

/* BuddySet::alloc_chunk: a chunk of 2^order frames, or NO_FRAME. */
static ff_pfn alloc_chunk(asterinas *a, unsigned set, unsigned order)
{
    buddy_set *bs = &a->s.set[set];
    ff_guarded(a->env, set_lock(a, set));
    unsigned i = order;
    while (i < bs->orders && bs->head[i] == NO_FRAME) i++;
    if (i >= bs->orders) return NO_FRAME;
    ff_pfn chunk = bs->head[i];
    list_remove(a, set, i, chunk);
    while (i > order) {
        i--;
        list_push(a, set, i, chunk + (UINT64_C(1) << i));
    }
    bs->frames -= UINT64_C(1) << order;
    return chunk;
}

/* BuddySet::drain_into: every chunk of set `from` into set `to`. */
static void drain_into(asterinas *a, unsigned from, unsigned to)
{
    buddy_set *bs = &a->s.set[from];
    ff_guarded(a->env, set_lock(a, from));
    for (unsigned o = 0; o < bs->orders; o++)
        while (bs->head[o] != NO_FRAME) {
            ff_step(a->env);
            ff_pfn p = bs->head[o];
            list_remove(a, from, o, p);
            bs->frames -= UINT64_C(1) << o;
            insert_chunk(a, to, p, o);
        }
}

/* ---------------------------------------------------------------- pools */

static void global_get(asterinas *a, global_guard *g)
{
    if (g->held) return;
    ff_spin_lock(a->env, &a->s.global_lock);
    g->held = true;
}

/* Dropping the guard publishes the global set's size (GLOBAL_POOL_SIZE). */
static void global_drop(asterinas *a, global_guard *g)
{
    if (!g->held) return;
    a->s.global_size = a->s.set[GLOBAL_SET].frames;
    ff_spin_unlock(a->env, &a->s.global_lock);
    g->held = false;
}

/* get_global_size: exact under the lock, else the last published size. */
static uint64_t global_size_of(const asterinas *a, const global_guard *g)
{
    return g->held ? a->s.set[GLOBAL_SET].frames : a->s.global_size;
}

/* lesser_order_of: the order of at most `bytes`. Below one page the Rust subtraction
 * overflows (see the top of the file). */
static unsigned lesser_order_of(asterinas *a, uint64_t bytes)
{
    uint64_t pages = bytes / PAGE_BYTES;
    if (!pages)
        ff_panic(a->env, "attempt to subtract with overflow: lesser_order_of(%" PRIu64
                         " bytes), less than a page", bytes);
    return ff_log2(pages);
}

/* balance_to: a chunk of `order` from set `from` to set `to`, else two of one order
 * less. The caller holds both sets' locks. */
static void balance_to(asterinas *a, unsigned from, unsigned to, unsigned order)
{
    ff_step(a->env);
    ff_pfn chunk = alloc_chunk(a, from, order);
    unsigned to_orders = a->s.set[to].orders;
    if (chunk == NO_FRAME) {
        if (order > 1) {
            balance_to(a, from, to, order - 1);
            balance_to(a, from, to, order - 1);
        }
    } else if (order >= to_orders) {
        unsigned piece = to_orders - 1;
        for (uint64_t i = 0; i < UINT64_C(1) << (order - piece); i++) {
            ff_step(a->env);
            insert_chunk(a, to, chunk + (i << piece), piece);
        }
    } else {
        insert_chunk(a, to, chunk, order);
    }
}

/* balancing::balance of CPU cpu's set (its lock held) against the global one (sizes in
 * bytes, the global one's as get_global_size reads it). */
static void balance(asterinas *a, unsigned cpu, global_guard *g)
{
    unsigned local = 1 + cpu;
    uint64_t global_size = global_size_of(a, g) * PAGE_BYTES;
    uint64_t local_size = a->s.set[local].frames * PAGE_BYTES;
    uint64_t expected = global_size / FF_MAX_CPUS / 2;
    uint64_t minimal = expected / 8, maximal = expected * 2;
    if (local_size >= maximal) {
        if (!local_size) return;
        unsigned order = lesser_order_of(a, local_size - expected);
        global_get(a, g);
        balance_to(a, local, GLOBAL_SET, order);
    } else if (local_size < minimal) {
        if (!global_size) return;
        unsigned order = lesser_order_of(a, expected - local_size);
        global_get(a, g);
        balance_to(a, GLOBAL_SET, local, order);
    }
}

/* do_dealloc: [p, +n) cut into aligned chunks, each to the global set (order 7 and
 * above) or the CPU's (its lock held). */
static void do_dealloc(asterinas *a, unsigned cpu, global_guard *g, ff_pfn p, uint64_t n)
{
    while (n) {
        unsigned order = ff_log2(n);
        if (p && (unsigned)__builtin_ctzll(p) < order) order = (unsigned)__builtin_ctzll(p);
        if (order >= LOCAL_ORDERS) global_get(a, g);
        insert_chunk(a, order >= LOCAL_ORDERS ? GLOBAL_SET : 1 + cpu, p, order);
        p += UINT64_C(1) << order;
        n -= UINT64_C(1) << order;
    }
}

/* drain_local_pool: CPU c's set into the global one, its lock then the global lock. */
static void drain_local_pool(asterinas *a, unsigned c)
{
    ff_spin_lock(a->env, &a->s.local_lock[c]);
    if (a->s.set[1 + c].frames) {
        global_guard g = {false};
        global_get(a, &g);
        drain_into(a, 1 + c, GLOBAL_SET);
        global_drop(a, &g);
    }
    ff_spin_unlock(a->env, &a->s.local_lock[c]);
}

/* reclaim_local_pools: every CPU's set into the global one, the others' first. */
static void reclaim_local_pools(asterinas *a, unsigned cpu)
{
    for (unsigned c = 0; c < FF_MAX_CPUS; c++)
        if (c != cpu) drain_local_pool(a, c);
    drain_local_pool(a, cpu);
}

/* pools::alloc: count frames aligned to `align`, or NO_FRAME. The lock order is the real
 * code's: the CPU's set, then the global one, each let go before the other CPUs' sets
 * are visited; after a reclaim the global set is locked first (see the top). */
static ff_pfn pools_alloc(asterinas *a, unsigned cpu, uint64_t count, uint64_t align)
{
    ff_spinlock *local = &a->s.local_lock[cpu];
    global_guard g = {false};
    unsigned size_order = ff_log2_ceil(count), align_order = ff_log2_ceil(align);
    unsigned order = size_order > align_order ? size_order : align_order;
    ff_spin_lock(a->env, local);
    ff_pfn chunk = NO_FRAME;
    if (order < LOCAL_ORDERS) chunk = alloc_chunk(a, 1 + cpu, order);
    if (chunk == NO_FRAME) {
        global_get(a, &g);
        chunk = alloc_chunk(a, GLOBAL_SET, order);
    }
    if (chunk == NO_FRAME) { /* alloc_from_remote_pool, holding no lock of its own */
        global_drop(a, &g);
        ff_spin_unlock(a->env, local);
        for (unsigned c = 0; chunk == NO_FRAME && order < LOCAL_ORDERS && c < FF_MAX_CPUS; c++) {
            if (c == cpu) continue;
            ff_spin_lock(a->env, &a->s.local_lock[c]);
            chunk = alloc_chunk(a, 1 + c, order);
            ff_spin_unlock(a->env, &a->s.local_lock[c]);
        }
        ff_spin_lock(a->env, local);
    }
    if (chunk == NO_FRAME) {
        global_drop(a, &g);
        ff_spin_unlock(a->env, local);
        reclaim_local_pools(a, cpu);
        global_get(a, &g);
        chunk = alloc_chunk(a, GLOBAL_SET, order);
        ff_spin_lock(a->env, local);
    }
    uint64_t size = UINT64_C(1) << order;
    if (chunk != NO_FRAME && size > count) do_dealloc(a, cpu, &g, chunk + count, size - count);
    balance(a, cpu, &g);
    global_drop(a, &g);
    ff_spin_unlock(a->env, local);
    return chunk;
}

/* pools::dealloc of runs of k frames. */
static void pools_dealloc(asterinas *a, unsigned cpu, const ff_pfn *runs, unsigned n, uint64_t k)
{
    global_guard g = {false};
    ff_spin_lock(a->env, &a->s.local_lock[cpu]);
    for (unsigned i = 0; i < n; i++) do_dealloc(a, cpu, &g, runs[i], k);
    balance(a, cpu, &g);
    global_drop(a, &g);
    ff_spin_unlock(a->env, &a->s.local_lock[cpu]);
}

/* ---------------------------------------------------------------- per-CPU cache */

/* CacheArray::alloc of (i + 1)-frame segments, on the running CPU with interrupts off. */
static ff_pfn cache_array_alloc(asterinas *a, unsigned cpu, unsigned i)
{
    cache_array *ca = &a->s.cache[cpu][i];
    ff_cpu_local(a->env);
    if (ca->n) return ca->segment[--ca->n];
    uint64_t k = i + 1, refill = cache_capacity[i] * 2 / 3;
    ff_pfn got = pools_alloc(a, cpu, refill * k, 1);
    if (got == NO_FRAME) return NO_FRAME;
    ff_cpu_local(a->env);
    for (uint64_t j = 1; j < refill; j++) ca->segment[ca->n++] = got + j * k;
    return got;
}

/* CacheArray::dealloc: a full array sends this segment and two thirds of its own to the
 * pools. */
static void cache_array_dealloc(asterinas *a, unsigned cpu, unsigned i, ff_pfn p)
{
    cache_array *ca = &a->s.cache[cpu][i];
    ff_cpu_local(a->env);
    if (ca->n < cache_capacity[i]) {
        ca->segment[ca->n++] = p;
        return;
    }
    ff_pfn flushed[CACHE_MAX];
    unsigned n = cache_capacity[i] * 2 / 3 + 1;
    flushed[0] = p;
    for (unsigned j = 1; j < n; j++) flushed[j] = ca->segment[--ca->n];
    pools_dealloc(a, cpu, flushed, n, i + 1);
}

/* ---------------------------------------------------------------- hooks */

/* The per-CPU counter (TOTAL_FREE_SIZE), interrupts off. */
static void count_free(asterinas *a, unsigned cpu, int64_t frames)
{
    ff_cpu_local(a->env);
    a->s.free_on[cpu] += frames;
}

static ff_status as_alloc(void *self, const ff_alloc_req *req, ff_pfn *start)
{
    asterinas *a = self;
    uint64_t align = req->align > 1 ? req->align : 1;
    if (!req->count || req->count > LARGEST || align > LARGEST || !ff_is_pow2(align) ||
        (unsigned)req->zone >= FF_ZONE_COUNT ||
        ff_log2_ceil(req->count > align ? req->count : align) >= GLOBAL_ORDERS)
        return FF_ERR_INVALID;
    if (req->zone != FF_ZONE_NORMAL) return FF_ERR_UNSUPPORTED;
    ff_irq_disable(a->env); /* trap::disable_local: this CPU's state is its own */
    unsigned cpu = ff_cpu_id(a->env);
    ff_pfn got = align > req->count || req->count > CACHE_SIZES
                     ? pools_alloc(a, cpu, req->count, align)
                     : cache_array_alloc(a, cpu, (unsigned)req->count - 1);
    if (got != NO_FRAME) count_free(a, cpu, -(int64_t)req->count);
    ff_irq_enable(a->env);
    if (got == NO_FRAME) return FF_ERR_NOMEM;
    *start = got;
    return FF_OK;
}

/* dealloc trusts its caller, as the real one does: no free is refused. */
static ff_status as_free(void *self, ff_pfn start, uint64_t count)
{
    asterinas *a = self;
    if (!count || count > FF_PFN_LIMIT || start > FF_PFN_LIMIT - count) return FF_ERR_INVALID;
    /* INJECTED BUG asterinas-cache-irq-on: interrupts stay on for a free into the cache. */
    bool irq_off = !FF_BUG(a->env->bug, ASTERINAS_CACHE_IRQ_ON, count <= CACHE_SIZES);
    if (irq_off) ff_irq_disable(a->env);
    unsigned cpu = ff_cpu_id(a->env);
    count_free(a, cpu, (int64_t)count);
    if (count <= CACHE_SIZES) cache_array_dealloc(a, cpu, (unsigned)count - 1, start);
    else pools_dealloc(a, cpu, &start, 1, count);
    if (irq_off) ff_irq_enable(a->env);
    return FF_OK;
}

static uint64_t as_free_frames(const void *self)
{
    const asterinas *a = self;
    int64_t total = 0;
    for (unsigned c = 0; c < FF_MAX_CPUS; c++) total += a->s.free_on[c];
    return (uint64_t)total;
}

/* framefuzz's hook, run with no other call in flight: every cache into its CPU's set,
 * then every CPU's set into the global one. */
static void as_drain(void *self)
{
    asterinas *a = self;
    for (unsigned c = 0; c < FF_MAX_CPUS; c++) {
        global_guard g = {false};
        ff_spin_lock(a->env, &a->s.local_lock[c]);
        for (unsigned i = 0; i < CACHE_SIZES; i++) {
            cache_array *ca = &a->s.cache[c][i];
            while (ca->n) do_dealloc(a, c, &g, ca->segment[--ca->n], i + 1);
        }
        global_drop(a, &g);
        ff_spin_unlock(a->env, &a->s.local_lock[c]);
    }
    reclaim_local_pools(a, 0);
}

static const char *as_check(void *self)
{
    asterinas *a = self;
    uint64_t held = 0;
    for (unsigned set = 0; set < SETS; set++) {
        const buddy_set *bs = &a->s.set[set];
        uint64_t frames = 0;
        for (unsigned o = 0; o < bs->orders; o++) {
            ff_pfn before = NO_FRAME;
            for (ff_pfn p = bs->head[o]; p != NO_FRAME; before = p, p = a->next[p]) {
                ff_step(a->env);
                if (p >= a->top || a->head[p] != o + 1 || a->head_set[p] != set ||
                    a->prev[p] != before || (p & ((UINT64_C(1) << o) - 1))) {
                    snprintf(a->msg, sizeof a->msg, "set %u, order %u: chunk 0x%" PRIx64
                             " is not a free head of that list", set, o, p);
                    return a->msg;
                }
                frames += UINT64_C(1) << o;
            }
        }
        if (frames != bs->frames) {
            snprintf(a->msg, sizeof a->msg, "set %u lists %" PRIu64 " frames, its total says %"
                     PRIu64, set, frames, bs->frames);
            return a->msg;
        }
        held += frames;
    }
    for (unsigned c = 0; c < FF_MAX_CPUS; c++)
        for (unsigned i = 0; i < CACHE_SIZES; i++) held += a->s.cache[c][i].n * (i + 1u);
    if (held != as_free_frames(a)) {
        snprintf(a->msg, sizeof a->msg, "the pools and caches hold %" PRIu64
                 " frames, the counters say %" PRIu64, held, as_free_frames(a));
        return a->msg;
    }
    return NULL;
}

static void as_destroy(void *self)
{
    asterinas *a = self;
    if (!a) return;
    ff_host_free(a->head, a->top * sizeof *a->head);
    ff_host_free(a->head_set, a->top * sizeof *a->head_set);
    ff_host_free(a->next, a->top * sizeof *a->next);
    ff_host_free(a->prev, a->top * sizeof *a->prev);
    ff_undo_destroy(&a->undo);
    ff_runs_destroy(&a->ram);
    ff_host_free(a, sizeof *a);
}

static void *as_create(ff_env *env, const ff_range *ranges, size_t nranges)
{
    asterinas *a = ff_host_zalloc(sizeof *a);
    if (!a) return NULL;
    a->env = env;
    if (!ff_runs_init(&a->ram, ranges, nranges)) {
        ff_host_free(a, sizeof *a);
        return NULL;
    }
    a->top = a->ram.count ? a->ram.run[a->ram.count - 1].end : 1; /* never a 0-byte array */
    if (!(a->head = ff_host_zalloc(a->top * sizeof *a->head)) ||
        !(a->head_set = ff_host_zalloc(a->top * sizeof *a->head_set)) ||
        !(a->next = ff_host_zalloc(a->top * sizeof *a->next)) ||
        !(a->prev = ff_host_zalloc(a->top * sizeof *a->prev))) {
        as_destroy(a);
        return NULL;
    }
    for (unsigned set = 0; set < SETS; set++) {
        a->s.set[set].orders = set == GLOBAL_SET ? GLOBAL_ORDERS : LOCAL_ORDERS;
        for (unsigned o = 0; o < GLOBAL_ORDERS; o++) a->s.set[set].head[o] = NO_FRAME;
    }
    /* add_free_memory: each run of RAM, cut into aligned chunks, into the global set. */
    for (size_t r = 0; r < a->ram.count; r++) {
        ff_pfn p = a->ram.run[r].start;
        for (uint64_t n = a->ram.run[r].end - p; n;) {
            unsigned order = ff_log2(n);
            if (p && (unsigned)__builtin_ctzll(p) < order) order = (unsigned)__builtin_ctzll(p);
            if (order >= GLOBAL_ORDERS) order = GLOBAL_ORDERS - 1;
            insert_chunk(a, GLOBAL_SET, p, order);
            p += UINT64_C(1) << order;
            n -= UINT64_C(1) << order;
        }
    }
    a->s.free_on[0] = (int64_t)a->ram.frames;
    a->s.global_size = a->s.set[GLOBAL_SET].frames;
    a->s.global_lock = FF_SPINLOCK("the global pool lock");
    for (unsigned c = 0; c < FF_MAX_CPUS; c++)
        a->s.local_lock[c] = FF_SPINLOCK("a CPU's local pool lock");
    a->pristine = a->s;
    ff_undo_start(&a->undo, env);
    return a;
}

static bool as_reset(void *self)
{
    asterinas *a = self;
    if (!ff_undo_rewind(&a->undo)) return false;
    a->s = a->pristine;
    return true;
}

const ff_backend_def ff_backend_asterinas = {
    .name = "asterinas",
    .summary = "model of Asterinas's current allocator: per-CPU caches, CPU and global buddy sets",
    .policy =
        {
            .placement = FF_PLACE_AS_ASKED,
            .rounding = FF_ROUND_NONE,
            .free_rule = FF_FREE_PIECEWISE,
            .max_order = GLOBAL_ORDERS - 1,
            .validates_frees = false,
            .honours_zone = false,
            .honours_align = true,
            .fit_order = 4, /* a 3- or 4-frame cache refill asks for a 16-frame block */
            .locks_itself = true,
        },
    .create = as_create,
    .destroy = as_destroy,
    .alloc = as_alloc,
    .free = as_free,
    .free_frames = as_free_frames,
    .check = as_check,
    .reset = as_reset,
    .drain = as_drain,
};
