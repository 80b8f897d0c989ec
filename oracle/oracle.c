/*
 * oracle.c — the reference oracle (contract in oracle.h).
 *
 * Two structures shadow the space:
 *   - `taken`, one bit per frame below the top: set while the back-end has the frame
 *     handed out. Every question about free blocks ("is this block free?", "is there
 *     a free aligned block of 2^k frames below this zone?") is a word-at-a-time scan
 *     of it, so judging a failed allocation costs O(frames / 64) at worst.
 *   - `frames`, one record per frame below the top, lazily zeroed: the references the
 *     program holds, flags, and for handed-out frames their allocation's first frame
 *     (and at that first frame, the counts asked and reserved).
 * Both log what they change; a new run clears exactly that.
 *
 * The back-end's free counter is compared with the shadow after every event. A finding
 * that explains a difference (an accepted double free bumps the counter) re-bases the
 * comparison, so one bug is reported once, under its own class.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"

/* ---------------------------------------------------------------- classes */

static const struct {
    const char *name, *summary;
} class_info[FF_CLASS_COUNT] = {
#define X(id, name, function, summary) [FF_CLASS_##id] = {name, summary},
    FF_CLASS_LIST(X)
#undef X
};

const char *ff_class_name(ff_class cls)
{
    return (unsigned)cls < FF_CLASS_COUNT ? class_info[cls].name : "?";
}

const char *ff_class_summary(ff_class cls)
{
    return (unsigned)cls < FF_CLASS_COUNT ? class_info[cls].summary : "?";
}

bool ff_class_parse(const char *name, ff_class *cls)
{
    for (int c = 0; c < FF_CLASS_COUNT; c++)
        if (strcmp(name, class_info[c].name) == 0) {
            *cls = (ff_class)c;
            return true;
        }
    return false;
}

void ff_finding_signature(const ff_finding *f, char *buf, size_t len)
{
    snprintf(buf, len, "%s@%s%s%s", ff_class_name(f->cls), f->backend, f->state[0] ? ":" : "",
             f->state);
}

bool ff_status_agree(ff_status a, ff_status b)
{
    if (a == b) return true;
    return a != FF_OK && b != FF_OK && (a == FF_ERR_REJECTED || b == FF_ERR_REJECTED);
}

const char *ff_free_kind_name(ff_free_kind kind)
{
    static const char *const names[] = {"valid",  "invalid",    "foreign",   "unowned",
                                        "double", "misaligned", "wrong-size"};
    return (unsigned)kind <= FF_FREE_KIND_WRONG_SIZE ? names[kind] : "?";
}

/* ---------------------------------------------------------------- state */

/* Word indices logged once each, for reset. */
typedef struct block_log {
    size_t *index;
    size_t count, cap;
    uint8_t *logged; /* one byte per word: what was written there (enum block_written);
                        0: not in index */
} block_log;

/* What a logged block had written: the taken log's words, or which of the shadow's
 * arrays, so that reset zeroes only those (a page no one touched stays unmapped). */
enum block_written {
    W_TAKEN = 1 << 0, /* the taken bitmap (its own log) */
    W_REFS = 1 << 1,
    W_FLAGS = 1 << 2,
    W_OWNER = 1 << 3, /* alloc */
};

enum frame_flags {
    FR_PHANTOM = 1 << 2, /* held through from_unused while the back-end held it free */
    FR_TAINTED = 1 << 3, /* the program misused it: its poison and slot prove nothing */
    FR_CACHED = 1 << 5,  /* in a per-CPU cache: the allocator's, not the program's */
    FR_UNPOISONED = 1 << 4, /* came back beyond the range its free named (by address, by
                               size class): never poisoned, so its content proves nothing */
};

#define FREED_MAX 32

/* What the oracle knows of an operation in flight. One per CPU: a concurrent run's
 * operations interleave, each judged as its own. */
typedef struct op_state {
    size_t op;
    ff_layer_call call;
    /* The last allocation event, for a layer answer about it. */
    bool last_alloc_ok;
    ff_pfn last_alloc_start;
    uint64_t last_alloc_asked, last_alloc_granted;
    uint32_t last_alloc_handout; /* its number (with CPUs, others may come before op_end) */
    struct freed_run { ff_pfn start; uint64_t count; } freed[FREED_MAX]; /* frames the
                                                            back-end took back in it */
    size_t nfreed;
    unsigned bit;      /* its context's bit in inflight */
    /* A back-end that locks itself: the free this context has in flight in it
     * (FF_EV_CALL), and whether a hand-out of its frames elsewhere applied it already. */
    bool free_in_flight, free_applied;
    ff_pfn free_start;
    uint64_t free_count;
} op_state;

/* Concurrent runs: a comparison of the layer's slots with the shadow put off while
 * another CPU's operation is in flight (its changes are half made). */
typedef struct deferred {
    ff_pfn start;
    uint64_t count;
    size_t op;
    bool freed;        /* frames given back (judge_freed_slots), else judge_slots' compare */
    const char *after; /* the operation, for the finding */
} deferred;
#define DEFERRED_MAX 64
#define DYING_MAX    64

/* One hand-out of the run (numbered from 1), as its frames see it. */
typedef struct handout {
    ff_pfn start;       /* its allocation's first frame */
    bool each_own_head; /* frames tracked one by one (out of the map): each its own head */
    bool watched;       /* handed out poisoned and checked: its frames hold poison and the
                           program's writes until they go back (ff_oracle_drop_begin) */
} handout;

/* A run of frames: an allocation the layer refused to take, or frames freed. */
typedef struct orphan {
    ff_pfn start;
    uint64_t count;
    uint64_t granted; /* orphans only: the frames the allocation reserved */
    uint32_t alloc;   /* orphans only: the hand-out (the shadow's alloc) */
} orphan;

/* Freed runs remembered per operation; an operation freeing more (asterinas-2024
 * gives frames back one by one) has its first ones checked. */

/* Frames held since a checked hand-out have their edges checked at every back-end call
 * while the program holds at most this many: a scribble there is then named in the
 * operation that made it. Past it, and for the rest of each frame, they are checked
 * when the program drops them. */
#define WATCH_EVERY_CALL_MAX 64

/* What an allocator writing where it should not hits: a header or link at the start of
 * a frame, a footer at its end. Checking these after every call names the operation
 * that wrote them at a small, fixed cost per call; the whole frame is checked when the
 * program drops it. */
#define WATCH_EDGE_BYTES 64

/* Hand-outs larger than this many frames are recorded whole (struct big_handout); smaller
 * ones frame by frame. */
#define BIG_HANDOUT 4096

struct ff_oracle {
    const ff_space *space;
    ff_pfn top;
    ff_runs ram; /* usable RAM joined into contiguous runs */

    /* The shadow of each frame below top, one array per field, so that a pass over an
     * operation's frames reads and writes only the fields it judges. */
    uint64_t *refs;    /* references the program holds */
    uint8_t *flags;    /* enum frame_flags */
    uint32_t *alloc;   /* handed out: which hand-out of the run (1, 2, ...) took it last */
    uint64_t *asked;   /* at a head: frames asked for */
    uint64_t *granted; /* at a head: frames the policy says are reserved */
    ff_pfn *heads;     /* where asked and granted were written in this run: one entry
                          each, not a block of 64 of both arrays to zero */
    size_t nheads, heads_cap;
    /* What each hand-out of the run says of its frames, by number: a hand-out writes
     * its number into `alloc` frame by frame and nothing else. */
    handout *handout;
    size_t handout_cap;
    /* Hand-outs of more than BIG_HANDOUT frames in this run, oldest first. Their frames'
     * number lives here, not in `alloc`: the block a power-of-two policy reserves for an
     * aligned request can be the whole map, and writing (then zeroing) it frame by frame
     * made one operation cost milliseconds. What a frame's latest hand-out says is what
     * counts (owner_of). */
    struct big_handout { ff_pfn start, end; uint32_t alloc; } *big;
    size_t nbig, big_cap;
    bool any_phantom; /* some frame was marked FR_PHANTOM in this run */

    uint64_t *taken; /* bit per frame: handed out */
    size_t taken_words;
    /* Bit g set while some word of taken[64g, 64g + 64) may be nonzero (was written in
     * this run): a scan for taken frames skips 4,096 free frames at a time. */
    uint64_t *taken_groups;
    /* What changed since the last run began, by word of `taken` (64 frames): the
     * words of `taken` themselves, and the blocks of the shadow arrays. Logged a block
     * at a time, a pass over a range logs it in words; kept apart, the leak check's
     * reservations over all of memory log only the bitmap. */
    block_log taken_log, shadow_log;

    /* The run being judged. */
    ff_meta *meta;
    ff_policy policy;
    bool has_counter;        /* the back-end keeps a free counter */
    const ff_range *kept;    /* frames the back-end kept at create: its own */
    size_t nkept;
    uint64_t kept_frames;
    const ff_oracle_baseline *baseline;
    const char *name; /* the caller's, for the run */
    uint64_t shadow_free;  /* usable frames not handed out */
    uint64_t counter_skew; /* back-end counter - shadow_free (mod 2^64), as last explained */
    op_state ops[FF_CONTEXTS_MAX]; /* each context's operation in flight */
    op_state *cur;             /* the running CPU's (cpu_enter) */
    const ff_cpus *cpus;       /* a concurrent run's CPUs, or NULL */
    unsigned inflight;         /* bit per context with an operation in flight */
    /* A back-end that locks itself: bit per context inside one of its calls, but the
     * one whose answer is being judged. While any is set the back-end's state is half
     * changed: its counter and its refusals are not judged. */
    unsigned busy;
    deferred deferred[DEFERRED_MAX];
    size_t ndeferred;
    /* Concurrent runs: frames whose refcount reached 0 that have not gone back to the
     * back-end yet (a few at a time: a drop gives each back before the next). */
    struct dying_run { ff_pfn start, end; } dying[DYING_MAX]; /* a drop's frames come
                                                                in order: a run each */
    size_t ndying;
    /* Per-CPU caches: the runs each CPU's cache holds, as their events said. */
    struct cached_run { ff_pfn start; uint64_t count, granted; } *cached[FF_CPUS_MAX];
    size_t ncached[FF_CPUS_MAX], cached_cap[FF_CPUS_MAX];
    bool any_cached; /* some frame went into a cache in this run */
    bool leak_phase, dead;
    const char *blind; /* dead by the program's misuse, not the system's: why
                          (ff_oracle_blind), else NULL */
    size_t findings_at_event; /* findings before the current event */
    uint32_t handouts; /* hand-outs judged in this run: the last one's number */
    struct written { ff_pfn pfn; uint32_t offset; uint8_t value; } *writes; /* the program's
                          writes into frames it held, in order */
    size_t nwrites, writes_cap;
    /* Frames watched since their hand-out (FR_WATCHED), while few, each with its edges
     * as the last check found them intact: an unchanged frame costs one compare. */
    struct watched {
        ff_pfn pfn;
        bool seen; /* edges holds what the last check passed */
        unsigned char edges[2 * WATCH_EDGE_BYTES];
    } watched[WATCH_EVERY_CALL_MAX];
    size_t nwatched;
    bool watch_overflow; /* too many to check at every call: checked when dropped only */
    bool watched_unpruned; /* an event with a finding skipped check_watched since the last */
    const orphan *giving_back; /* the orphan being given back (FF_CALL_GIVE_BACK) */

    orphan *orphans;
    size_t norphans, orphans_cap;

    size_t nfindings; /* made in this run */
    void (*on_finding)(void *ctx, const ff_finding *f);
    void *on_finding_ctx;
};

static _Noreturn void host_out_of_memory(void)
{
    fprintf(stderr, "framefuzz: host out of memory in the oracle\n");
    abort();
}

static void grow(void **array, size_t *cap, size_t elem)
{
    size_t n = *cap ? 2 * *cap : 64;
    void *p = realloc(*array, n * elem);
    if (!p) host_out_of_memory();
    *array = p;
    *cap = n;
}

/* Zeroes what the last run wrote into the shadow and the taken bitmap. */
static void forget_run(ff_oracle *o)
{
    for (size_t i = 0; i < o->taken_log.count; i++) {
        size_t w = o->taken_log.index[i];
        o->taken[w] = 0;
        o->taken_log.logged[w] = 0;
        o->taken_groups[w / 4096] = 0;
    }
    o->taken_log.count = 0;
    for (size_t i = 0; i < o->shadow_log.count; i++) {
        size_t w = o->shadow_log.index[i];
        ff_pfn lo = (ff_pfn)w * 64, n = o->top - lo < 64 ? o->top - lo : 64;
        uint8_t written = o->shadow_log.logged[w];
        o->shadow_log.logged[w] = 0;
        if (written & W_REFS) memset(&o->refs[lo], 0, n * sizeof *o->refs);
        if (written & W_FLAGS) memset(&o->flags[lo], 0, n * sizeof *o->flags);
        if (written & W_OWNER) memset(&o->alloc[lo], 0, n * sizeof *o->alloc);
    }
    o->shadow_log.count = 0;
    for (size_t i = 0; i < o->nheads; i++) o->asked[o->heads[i]] = o->granted[o->heads[i]] = 0;
    o->nheads = 0;
}

/* Bytes of taken_groups: a bit per 64 words of taken. */
static size_t taken_groups_bytes(const ff_oracle *o)
{
    return (o->taken_words + 64 * 64 - 1) / (64 * 64) * sizeof(uint64_t);
}

/* The shadow arrays, widest element first so that each starts aligned, carved from one
 * lazily mapped allocation: a map's first run touches only the pages it uses. */
#define SHADOW_ARRAYS(X) X(refs) X(asked) X(granted) X(alloc) X(flags)
#define SHADOW_FIELD_BYTES(field) +sizeof *((ff_oracle *)NULL)->field
#define SHADOW_BYTES_PER_FRAME (0 SHADOW_ARRAYS(SHADOW_FIELD_BYTES))

ff_oracle *ff_oracle_create(const ff_space *space)
{
    ff_oracle *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    o->space = space;
    o->top = space->top;
    for (unsigned k = 0; k < FF_CONTEXTS_MAX; k++) o->ops[k].bit = 1u << k;
    o->cur = &o->ops[0];
    o->taken_words = (size_t)((space->top + 63) / 64);
    char *shadow = ff_host_zalloc(space->top * SHADOW_BYTES_PER_FRAME);
    bool mapped = shadow != NULL;
#define CARVE_SHADOW(field) \
    o->field = (void *)shadow; \
    shadow += space->top * sizeof *o->field;
    if (mapped) {
        SHADOW_ARRAYS(CARVE_SHADOW)
    }
#undef CARVE_SHADOW
    o->taken = ff_host_zalloc(o->taken_words * sizeof(uint64_t));
    o->taken_groups = ff_host_zalloc(taken_groups_bytes(o));
    o->taken_log.logged = ff_host_zalloc(o->taken_words);
    o->shadow_log.logged = ff_host_zalloc(o->taken_words);
    if (!mapped || !o->taken || !o->taken_groups || !o->taken_log.logged || !o->shadow_log.logged ||
        !ff_runs_init(&o->ram, space->usable, space->nusable)) {
        ff_oracle_destroy(o);
        return NULL;
    }
    return o;
}

void ff_oracle_destroy(ff_oracle *o)
{
    if (!o) return;
    /* What the logs name is all that was written since the last run began: zeroed,
     * the arrays are as they were mapped, to be reused without a system call. */
    forget_run(o);
    ff_host_free_zeroed(o->refs, o->top * SHADOW_BYTES_PER_FRAME);
    ff_host_free_zeroed(o->taken, o->taken_words * sizeof(uint64_t));
    ff_host_free_zeroed(o->taken_groups, taken_groups_bytes(o));
    ff_host_free_zeroed(o->taken_log.logged, o->taken_words);
    ff_host_free_zeroed(o->shadow_log.logged, o->taken_words);
    ff_runs_destroy(&o->ram);
    free(o->taken_log.index);
    free(o->shadow_log.index);
    free(o->orphans);
    free(o->big);
    free(o->heads);
    free(o->handout);
    free(o->writes);
    for (unsigned c = 0; c < FF_CPUS_MAX; c++) free(o->cached[c]);
    free(o);
}

/* Logs word w for reset, before `what` (enum block_written) changes there. */
static void log_touch(block_log *l, size_t w, uint8_t what)
{
    if (!l->logged[w]) {
        if (l->count == l->cap) grow((void **)&l->index, &l->cap, sizeof *l->index);
        l->index[l->count++] = w;
    }
    l->logged[w] |= what;
}

/* Logs `what` of the shadow of pfn (below top) for reset, before it changes. */
static void shadow_touch(ff_oracle *o, ff_pfn pfn, uint8_t what)
{
    log_touch(&o->shadow_log, (size_t)(pfn / 64), what);
}

/* The same for [start, end). */
static void shadow_touch_range(ff_oracle *o, ff_pfn start, ff_pfn end, uint8_t what)
{
    if (start >= end) return;
    for (size_t w = (size_t)(start / 64); w <= (size_t)((end - 1) / 64); w++)
        log_touch(&o->shadow_log, w, what);
}

static void flags_set(ff_oracle *o, ff_pfn p, uint8_t bits)
{
    shadow_touch(o, p, W_FLAGS);
    o->flags[p] |= bits;
}

static void flags_clear(ff_oracle *o, ff_pfn p, uint8_t bits)
{
    shadow_touch(o, p, W_FLAGS);
    o->flags[p] &= (uint8_t)~bits;
}

/* The first frame of [p, end) (below top) with a flag of `mask` set, or end. A block of
 * 64 frames whose flags were not written in this run is skipped whole. */
static ff_pfn next_flagged(const ff_oracle *o, ff_pfn p, ff_pfn end, uint8_t mask)
{
    while (p < end) {
        size_t w = (size_t)(p / 64);
        ff_pfn hi = (ff_pfn)(w + 1) * 64 < end ? (ff_pfn)(w + 1) * 64 : end;
        if (o->shadow_log.logged[w] & W_FLAGS) {
            uint8_t any = 0; /* branch-free first: most blocks have none */
            for (ff_pfn q = p; q < hi; q++) any |= o->flags[q];
            if (any & mask)
                for (ff_pfn q = p; q < hi; q++)
                    if (o->flags[q] & mask) return q;
        }
        p = hi;
    }
    return end;
}

/* What the latest hand-out covering frame p said of it (all zero if none did). */
typedef struct frame_owner {
    ff_pfn head;    /* its allocation's first frame */
    uint32_t alloc; /* which hand-out of the run; 0: never handed out */
    bool watched;   /* handout.watched */
} frame_owner;

static frame_owner owner_of(const ff_oracle *o, ff_pfn p)
{
    uint32_t n = o->alloc[p];
    /* Hand-out numbers grow through the run: only big ones newer than the frame's own
     * can stand over it. */
    for (size_t i = o->nbig; i-- > 0 && o->big[i].alloc > n;)
        if (p >= o->big[i].start && p < o->big[i].end) {
            n = o->big[i].alloc;
            break;
        }
    if (!n) return (frame_owner){0};
    const handout *h = &o->handout[n];
    return (frame_owner){h->each_own_head ? p : h->start, n, h->watched};
}

/* ---------------------------------------------------------------- the taken bitmap */

static inline bool is_taken(const ff_oracle *o, ff_pfn pfn)
{
    return o->taken[pfn / 64] >> (pfn % 64) & 1;
}

/* Mask of bits [lo, hi) within one word (0 <= lo < hi <= 64). */
static inline uint64_t bits_between(unsigned lo, unsigned hi)
{
    uint64_t upper = hi == 64 ? ~UINT64_C(0) : (UINT64_C(1) << hi) - 1;
    return upper & ~((UINT64_C(1) << lo) - 1);
}

/* Whether taken word w's group of 64 words was written in this run. */
static inline bool group_written(const ff_oracle *o, size_t w)
{
    return o->taken_groups[w / 4096] >> (w / 64 % 64) & 1;
}

/* Sets (or clears) the taken bits of [start, end), a word at a time. */
static void taken_set(ff_oracle *o, ff_pfn start, ff_pfn end, bool value)
{
    while (start < end) {
        size_t w = (size_t)(start / 64);
        unsigned lo = start % 64;
        unsigned hi = end - start >= 64 - lo ? 64 : lo + (unsigned)(end - start);
        log_touch(&o->taken_log, w, W_TAKEN);
        o->taken_groups[w / 4096] |= UINT64_C(1) << (w / 64 % 64);
        if (value)
            o->taken[w] |= bits_between(lo, hi);
        else
            o->taken[w] &= ~bits_between(lo, hi);
        start += hi - lo;
    }
}

/* Frames of [start, end) with the taken bit equal to `value`. */
static uint64_t taken_count(const ff_oracle *o, ff_pfn start, ff_pfn end, bool value)
{
    uint64_t n = 0;
    while (start < end) {
        size_t w = (size_t)(start / 64);
        unsigned lo = start % 64;
        unsigned hi = end - start >= 64 - lo ? 64 : lo + (unsigned)(end - start);
        uint64_t mask = bits_between(lo, hi), bits = (value ? o->taken[w] : ~o->taken[w]) & mask;
        /* Usually every bit or none: no popcount then (a long sequence on baseline x86-64) */
        n += bits == mask ? hi - lo : bits ? (uint64_t)__builtin_popcountll(bits) : 0;
        start += hi - lo;
    }
    return n;
}

/* The last taken frame in [start, end), or end when none is. */
static ff_pfn last_taken(const ff_oracle *o, ff_pfn start, ff_pfn end)
{
    while (start < end) {
        ff_pfn last = end - 1;
        size_t w = (size_t)(last / 64);
        if (!group_written(o, w)) { /* 64 words with nothing taken */
            end = (ff_pfn)(w / 64) * 64 * 64;
            continue;
        }
        unsigned hi = (unsigned)(last % 64) + 1;
        unsigned lo = (ff_pfn)w * 64 < start ? (unsigned)(start % 64) : 0;
        uint64_t bits = o->taken[w] & bits_between(lo, hi);
        if (bits) return (ff_pfn)w * 64 + 63 - (unsigned)__builtin_clzll(bits);
        end = (ff_pfn)w * 64 + lo;
    }
    return UINT64_MAX;
}

/* The first taken frame in [start, end), or UINT64_MAX. */
static ff_pfn first_taken(const ff_oracle *o, ff_pfn start, ff_pfn end)
{
    while (start < end) {
        size_t w = (size_t)(start / 64);
        if (!group_written(o, w)) { /* 64 words with nothing taken */
            start = (ff_pfn)(w / 64 + 1) * 64 * 64;
            continue;
        }
        unsigned lo = start % 64;
        unsigned hi = end - start >= 64 - lo ? 64 : lo + (unsigned)(end - start);
        uint64_t bits = o->taken[w] & bits_between(lo, hi);
        if (bits) return (ff_pfn)w * 64 + (unsigned)__builtin_ctzll(bits);
        start += hi - lo;
    }
    return UINT64_MAX;
}

/* First start >= lo, a multiple of align, of `count` untaken frames within [lo, hi);
 * UINT64_MAX when there is none. Jumps past the last taken frame of each candidate,
 * so a scan is O((hi - lo) / 64) words plus one step per candidate rejected. */
static ff_pfn find_untaken(const ff_oracle *o, ff_pfn lo, ff_pfn hi, uint64_t count,
                           uint64_t align)
{
    ff_pfn p = (lo + align - 1) / align * align;
    while (p >= lo && p < hi && count <= hi - p) {
        ff_pfn t = last_taken(o, p, p + count);
        if (t == UINT64_MAX) return p;
        ff_pfn next = (t + 1 + align - 1) / align * align;
        if (next <= p) break; /* wrapped */
        p = next;
    }
    return UINT64_MAX;
}

/* ---------------------------------------------------------------- findings */

static void vfinding(ff_oracle *o, ff_class cls, const char *state, const char *fmt, va_list ap)
{
    o->nfindings++;
    if (!o->on_finding) return;
    ff_finding f = {.cls = cls, .op = o->cur->op};
    snprintf(f.backend, sizeof f.backend, "%s", o->name);
    snprintf(f.state, sizeof f.state, "%s", state);
    vsnprintf(f.detail, sizeof f.detail, fmt, ap);
    o->on_finding(o->on_finding_ctx, &f);
}

static void finding(ff_oracle *o, ff_class cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void finding(ff_oracle *o, ff_class cls, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfinding(o, cls, "", fmt, ap);
    va_end(ap);
}

/* A finding whose signature says where (ff_finding.state). */
static void finding_in(ff_oracle *o, ff_class cls, const char *state, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void finding_in(ff_oracle *o, ff_class cls, const char *state, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfinding(o, cls, state, fmt, ap);
    va_end(ap);
}

void ff_oracle_on_finding(ff_oracle *o, void (*fn)(void *ctx, const ff_finding *f), void *ctx)
{
    o->on_finding = fn;
    o->on_finding_ctx = ctx;
}

/* ---------------------------------------------------------------- policy arithmetic */

static inline uint64_t pow2_cover(uint64_t count, uint64_t align)
{
    uint64_t n = count > align ? count : align;
    return UINT64_C(1) << ff_log2_ceil(n);
}

bool ff_oracle_request_malformed(const ff_policy *policy, const ff_alloc_req *req)
{
    if (req->count == 0 || (unsigned)req->zone >= FF_ZONE_COUNT) return true;
    if (req->align > 1 && !ff_is_pow2(req->align)) return true;
    /* 2^ceil(log2(n)) must exist, and no request can outgrow the frame space. */
    if (req->count > FF_PFN_LIMIT || req->align > FF_PFN_LIMIT) return true;
    if (policy->max_order != FF_ORDER_ANY) {
        uint64_t largest = UINT64_C(1) << policy->max_order;
        if (req->count > largest || req->align > largest) return true;
        if (policy->placement != FF_PLACE_ANY_RUN && pow2_cover(req->count, req->align) > largest)
            return true;
    }
    return false;
}

/* Frames the policy says a well-formed request reserves. */
static uint64_t granted_of(const ff_policy *policy, const ff_alloc_req *req)
{
    return policy->rounding == FF_ROUND_POW2 ? pow2_cover(req->count, req->align) : req->count;
}

/* The alignment a returned block must have. */
static uint64_t alignment_of(const ff_policy *policy, const ff_alloc_req *req)
{
    if (policy->placement == FF_PLACE_POW2_NATURAL) return pow2_cover(req->count, req->align);
    return req->align > 1 ? req->align : 1;
}

/* Whether [start, +count) is all usable RAM, below the top. */
static bool all_ram(const ff_oracle *o, ff_pfn start, uint64_t count)
{
    if (start >= o->top || count > o->top - start) return false;
    return ff_space_usable_in(o->space, start, count) == count;
}

/* Frames of the free block a power-of-two placement's guarantee needs for req. */
static uint64_t guarantee_block_size(const ff_policy *pol, const ff_alloc_req *req)
{
    uint64_t size = pow2_cover(req->count, req->align);
    uint64_t floor = UINT64_C(1) << pol->fit_order;
    return size > floor ? size : floor;
}

/* A block the policy guarantees for req, from the shadow: its first frame, or
 * UINT64_MAX when the failure was allowed. */
static ff_pfn guaranteed_block(const ff_oracle *o, const ff_alloc_req *req)
{
    const ff_policy *pol = &o->policy;
    if (ff_oracle_request_malformed(pol, req)) return UINT64_MAX;
    if (req->zone != FF_ZONE_NORMAL && !pol->honours_zone) return UINT64_MAX;
    if (req->align > 1 && !pol->honours_align) return UINT64_MAX;
    ff_pfn limit = req->zone == FF_ZONE_NORMAL ? UINT64_MAX : ff_zone_end(req->zone);
    if (pol->placement != FF_PLACE_ANY_RUN) {
        /* A free, naturally aligned block inside one zone-split range. */
        uint64_t size = guarantee_block_size(pol, req);
        for (size_t i = 0; i < o->space->nusable; i++) {
            ff_pfn lo = o->space->usable[i].start, hi = ff_range_end(o->space->usable[i]);
            if (hi > limit) hi = limit;
            ff_pfn at = find_untaken(o, lo, hi, size, size);
            if (at != UINT64_MAX) return at;
        }
        return UINT64_MAX;
    }
    uint64_t align = req->align > 1 ? req->align : 1;
    for (size_t i = 0; i < o->ram.count; i++) {
        ff_pfn lo = o->ram.run[i].start, hi = o->ram.run[i].end;
        if (hi > limit) hi = limit;
        ff_pfn at = find_untaken(o, lo, hi, req->count, align);
        if (at != UINT64_MAX) return at;
    }
    return UINT64_MAX;
}

/* ---------------------------------------------------------------- baseline and drain plan */

static int by_count_desc(const void *a, const void *b)
{
    const ff_alloc_req *x = a, *y = b;
    return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

static bool plan_add(ff_alloc_req **reqs, size_t *n, size_t *cap, uint64_t count)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 16;
        ff_alloc_req *p = realloc(*reqs, c * sizeof *p);
        if (!p) return false;
        *reqs = p;
        *cap = c;
    }
    (*reqs)[(*n)++] = (ff_alloc_req){.count = count, .align = 1, .zone = FF_ZONE_NORMAL};
    return true;
}

bool ff_oracle_drain_plan(const ff_space *space, const ff_policy *policy, ff_alloc_req **reqs,
                          size_t *n)
{
    size_t cap = 0;
    *reqs = NULL;
    *n = 0;
    uint64_t largest =
        policy->max_order == FF_ORDER_ANY ? UINT64_MAX : UINT64_C(1) << policy->max_order;
    if (policy->placement != FF_PLACE_ANY_RUN) {
        /* Each zone-split range cut into maximal naturally aligned blocks. */
        for (size_t i = 0; i < space->nusable; i++) {
            ff_pfn p = space->usable[i].start, end = ff_range_end(space->usable[i]);
            while (p < end) {
                uint64_t size = p ? p & -p : UINT64_C(1) << 62;
                while (size > end - p || size > largest) size >>= 1;
                if (!plan_add(reqs, n, &cap, size)) goto oom;
                p += size;
            }
        }
    } else {
        ff_runs runs;
        if (!ff_runs_init(&runs, space->usable, space->nusable)) goto oom;
        for (size_t i = 0; i < runs.count; i++)
            for (uint64_t left = runs.run[i].end - runs.run[i].start; left;) {
                uint64_t size = left < largest ? left : largest;
                if (!plan_add(reqs, n, &cap, size)) {
                    ff_runs_destroy(&runs);
                    goto oom;
                }
                left -= size;
            }
        ff_runs_destroy(&runs);
    }
    qsort(*reqs, *n, sizeof **reqs, by_count_desc);
    return true;
oom:
    free(*reqs);
    *reqs = NULL;
    *n = 0;
    return false;
}

bool ff_oracle_baseline_init(ff_oracle_baseline *b, ff_meta *m, const ff_space *space)
{
    memset(b, 0, sizeof *b);
    b->free_frames = ff_meta_backend_free_frames(m);
    const char *verdict = ff_meta_backend_check(m);
    snprintf(b->check, sizeof b->check, "%s", verdict ? verdict : "");
    if (!ff_oracle_drain_plan(space, &ff_meta_backend(m)->policy, &b->drain, &b->ndrain))
        return false;
    b->drain_fresh_ok = calloc(b->ndrain ? b->ndrain : 1, sizeof *b->drain_fresh_ok);
    if (!b->drain_fresh_ok) {
        ff_oracle_baseline_free(b);
        return false;
    }
    return true;
}

void ff_oracle_baseline_free(ff_oracle_baseline *b)
{
    free(b->drain);
    free(b->drain_fresh_ok);
    memset(b, 0, sizeof *b);
}

/* ---------------------------------------------------------------- runs */

void ff_oracle_begin(ff_oracle *o, ff_meta *m, const char *name, const ff_oracle_baseline *b)
{
    forget_run(o);
    o->meta = m;
    o->policy = ff_meta_backend(m)->policy;
    o->has_counter = ff_meta_has_counter(m);
    o->baseline = b;
    o->name = name;
    o->shadow_free = o->space->usable_frames;
    /* The frames the back-end kept at create are its own: out, never to come back. */
    o->kept = ff_meta_kept(m, &o->nkept);
    o->kept_frames = 0;
    for (size_t i = 0; i < o->nkept; i++) {
        taken_set(o, o->kept[i].start, ff_range_end(o->kept[i]), true);
        o->kept_frames += o->kept[i].count;
    }
    o->shadow_free -= o->kept_frames;
    o->counter_skew = b->free_frames - o->shadow_free;
    /* Only a sequential run's: the others start at their op_begin. */
    o->ops[0].op = 0;
    o->ops[0].call = FF_CALL_NONE;
    o->ops[0].nfreed = 0;
    o->ops[0].last_alloc_ok = false;
    o->cur = &o->ops[0];
    o->inflight = 0;
    o->busy = 0;
    for (size_t c = 0; c < FF_CONTEXTS_MAX; c++) o->ops[c].free_in_flight = false;
    o->ndeferred = 0;
    o->ndying = 0;
    o->leak_phase = o->dead = false;
    o->blind = NULL;
    if (o->any_cached) memset(o->ncached, 0, sizeof o->ncached);
    o->any_cached = false;
    o->norphans = 0;
    o->nwrites = 0;
    o->nwatched = 0;
    o->nbig = 0;
    o->any_phantom = false;
    o->watch_overflow = false;
    o->watched_unpruned = false;
    o->nfindings = 0;
    o->handouts = 0;
}

/* The operation state of the CPU running now: every entry point starts here. */
static __attribute__((noinline)) op_state *context_enter(ff_oracle *o)
{
    return o->cur = &o->ops[ff_cpus_context(o->cpus)];
}

static inline op_state *cpu_enter(ff_oracle *o)
{
    return o->cpus ? context_enter(o) : o->cur; /* one CPU: always ops[0] */
}

const char *ff_oracle_blind(const ff_oracle *o) { return o->blind; }

void ff_oracle_set_cpus(ff_oracle *o, const ff_cpus *cpus)
{
    o->cpus = cpus;
    o->cur = &o->ops[0];
}

static inline void op_state_begin(op_state *s, size_t index, ff_layer_call call)
{
    s->op = index;
    s->call = call;
    s->nfreed = 0;
    s->last_alloc_ok = false;
}

static __attribute__((noinline)) void context_op_begin(ff_oracle *o, size_t index, ff_layer_call call)
{
    op_state *s = context_enter(o);
    op_state_begin(s, index, call);
    /* A check or a write calls no layer function and has no op_end. */
    if (call != FF_CALL_NONE) o->inflight |= s->bit;
}

void ff_oracle_op_begin(ff_oracle *o, size_t index, ff_layer_call call)
{
    if (o->cpus)
        context_op_begin(o, index, call);
    else
        op_state_begin(o->cur, index, call);
}

/* ---------------------------------------------------------------- free classification */

/* Whether any frame of [start, +count) is one the back-end kept for itself. */
static bool kept_in(const ff_oracle *o, ff_pfn start, uint64_t count)
{
    for (size_t i = 0; i < o->nkept; i++)
        if (o->kept[i].start < start + count && start < ff_range_end(o->kept[i])) return true;
    return false;
}

/* The frames of taken word w that the back-end kept at create, as bits. */
static uint64_t kept_bits(const ff_oracle *o, size_t w)
{
    ff_pfn lo = (ff_pfn)w * 64, hi = lo + 64;
    uint64_t bits = 0;
    for (size_t i = 0; i < o->nkept; i++) {
        ff_pfn ks = o->kept[i].start, ke = ff_range_end(o->kept[i]);
        if (ke <= lo || ks >= hi) continue;
        bits |= bits_between((unsigned)((ks > lo ? ks : lo) - lo),
                             (unsigned)((ke < hi ? ke : hi) - lo));
    }
    return bits;
}

/* A free by address names the allocation starting at `start`, whatever the count. */
static ff_free_kind classify_by_address(const ff_oracle *o, ff_pfn start)
{
    if (start >= o->top || !ff_space_is_usable(o->space, start)) return FF_FREE_KIND_FOREIGN;
    if (kept_in(o, start, 1)) return FF_FREE_KIND_UNOWNED;
    if (!is_taken(o, start))
        return !owner_of(o, start).alloc || (o->flags[start] & FR_PHANTOM) ? FF_FREE_KIND_UNOWNED
                                                                          : FF_FREE_KIND_DOUBLE;
    return owner_of(o, start).head == start ? FF_FREE_KIND_VALID : FF_FREE_KIND_MISALIGNED;
}

ff_free_kind ff_oracle_classify_free(const ff_oracle *o, ff_pfn start, uint64_t count)
{
    if (o->policy.free_rule == FF_FREE_BY_ADDRESS) return classify_by_address(o, start);
    if (count == 0 || start + count < start) return FF_FREE_KIND_INVALID;
    if (!all_ram(o, start, count)) return FF_FREE_KIND_FOREIGN;
    if (kept_in(o, start, count)) return FF_FREE_KIND_UNOWNED;
    ff_pfn end = start + count;
    if (taken_count(o, start, end, false)) {
        /* Some frame is free: a double free if it came back from one of its own
         * allocations, foreign if the back-end never gave it to whoever frees it. */
        for (ff_pfn p = start; p < end; p++) {
            if (is_taken(o, p)) continue;
            if (!owner_of(o, p).alloc || (o->flags[p] & FR_PHANTOM)) return FF_FREE_KIND_UNOWNED;
        }
        return FF_FREE_KIND_DOUBLE;
    }
    if (o->policy.free_rule == FF_FREE_PIECEWISE) return FF_FREE_KIND_VALID;
    ff_pfn head = owner_of(o, start).head;
    if (head != start) return FF_FREE_KIND_MISALIGNED;
    if (o->policy.free_rule == FF_FREE_SIZE_CLASS) {
        uint64_t size_class = pow2_cover(count, 1);
        return size_class == pow2_cover(o->asked[head], 1) || size_class == o->granted[head]
                   ? FF_FREE_KIND_VALID
                   : FF_FREE_KIND_WRONG_SIZE;
    }
    if (count != o->asked[head]) return FF_FREE_KIND_WRONG_SIZE;
    return FF_FREE_KIND_VALID;
}

/* ---------------------------------------------------------------- judging events */

static uint64_t counter(const ff_oracle *o) { return ff_meta_backend_free_frames(o->meta); }

/* After an event: the counter must have moved exactly as the shadow did, unless a
 * finding of this event explains the difference. */
static void judge_counter(ff_oracle *o, const char *what)
{
    if (!o->has_counter || o->busy) return; /* judged at the next answer with none half done */
    /* Modular: a buggy back-end's counter may wrap below zero. */
    uint64_t skew = counter(o) - o->shadow_free;
    if (skew == o->counter_skew) return;
    if (o->nfindings == o->findings_at_event)
        finding(o, FF_CLASS_ACCOUNTING_DRIFT,
                "after %s the free counter says %llu, the shadow %llu free frames (off by %lld, "
                "was %lld)",
                what, (unsigned long long)counter(o), (unsigned long long)o->shadow_free,
                (long long)skew, (long long)o->counter_skew);
    o->counter_skew = skew;
}

/* The record of the hand-out being judged (number o->handouts). */
static handout *current_handout(ff_oracle *o)
{
    while (o->handouts >= o->handout_cap)
        grow((void **)&o->handout, &o->handout_cap, sizeof *o->handout);
    return &o->handout[o->handouts];
}

/* A frame of [start, end) the program holds through from_unused (phantom) now has two
 * holders, by the layer's doing: what it holds says nothing about the back-end from
 * here on (tainted). Rare: looked for only when some frame was marked. */
static void taint_phantoms(ff_oracle *o, ff_pfn start, ff_pfn end)
{
    if (!o->any_phantom) return;
    for (ff_pfn p = next_flagged(o, start, end, FR_PHANTOM); p < end;
         p = next_flagged(o, p + 1, end, FR_PHANTOM)) {
        flags_clear(o, p, FR_PHANTOM);
        flags_set(o, p, FR_TAINTED);
    }
}

/* Hands frames [start, end) (all RAM below top) to one allocation in the shadow,
 * watched from here when `watched`; with each_own_head, every frame is tracked as an
 * allocation of its own. */
static void shadow_hand_out(ff_oracle *o, ff_pfn start, ff_pfn end, uint64_t asked, bool watched,
                            bool each_own_head)
{
    o->shadow_free -= taken_count(o, start, end, false);
    taken_set(o, start, end, true);
    if (o->cur->call == FF_CALL_RESERVE) return; /* the leak check takes no frames */
    if (o->nheads == o->heads_cap) grow((void **)&o->heads, &o->heads_cap, sizeof *o->heads);
    o->heads[o->nheads++] = start;
    o->asked[start] = asked;
    o->granted[start] = end - start;
    *current_handout(o) = (handout){start, each_own_head, watched};
    if (end - start > BIG_HANDOUT) {
        if (o->nbig == o->big_cap) grow((void **)&o->big, &o->big_cap, sizeof *o->big);
        o->big[o->nbig++] = (struct big_handout){start, end, o->handouts};
    } else {
        shadow_touch_range(o, start, end, W_OWNER);
        uint32_t n = o->handouts;
        for (ff_pfn p = start; p < end; p++) o->alloc[p] = n;
    }
    taint_phantoms(o, start, end);
}

static void shadow_give_back(ff_oracle *o, ff_pfn start, ff_pfn end)
{
    o->shadow_free += taken_count(o, start, end, true);
    taken_set(o, start, end, false);
}

static void check_watched(ff_oracle *o, const char *when);

static void watch(ff_oracle *o, ff_pfn start, ff_pfn end)
{
    if (o->watch_overflow) return;
    if (end - start > WATCH_EVERY_CALL_MAX - o->nwatched) {
        o->watch_overflow = true;
        return;
    }
    for (ff_pfn p = start; p < end; p++) {
        o->watched[o->nwatched].pfn = p;
        o->watched[o->nwatched++].seen = false;
    }
}

/* Poison of the frames of a hand-out, skipping frames the program itself misused. Only
 * frames someone wrote are looked at (the space knows which), so the search runs over
 * the range and skips a misused frame when it turns up. */
static inline __attribute__((always_inline)) void judge_poison(ff_oracle *o, ff_pfn start,
                                                              ff_pfn end)
{
    if (!ff_meta_poisoning(o->meta)) return;
    uint32_t skip = o->policy.inband_bytes;
    ff_pfn bad;
    uint32_t off;
    for (ff_pfn p = start; p < end; p = bad + 1) {
        if (ff_space_poison_intact(o->space, p, end - p, skip, FF_FRAME_SIZE, &bad, &off)) return;
        if (o->flags[bad] & (FR_TAINTED | FR_UNPOISONED)) continue;
        const unsigned char *mem = ff_space_frame_mem((void *)o->space, bad);
        finding(o, FF_CLASS_POISON_CORRUPTED,
                "frame 0x%llx handed out with byte %u changed while it was free "
                "(0x%02x, poison 0x%02x; the back-end may use %u in-band bytes)",
                (unsigned long long)bad, off, mem ? mem[off] : 0, o->space->poison, skip);
        return;
    }
}

/* Whether the program misused a frame of [start, +count) (FR_TAINTED). */
static bool tainted_in(const ff_oracle *o, ff_pfn start, uint64_t count)
{
    ff_pfn end = start >= o->top ? start : count > o->top - start ? o->top : start + count;
    return next_flagged(o, start, end, FR_TAINTED) < end;
}

/* The block an allocation returned, for the layer's answer about it (op_end). */
static void note_alloc(ff_oracle *o, ff_pfn start, uint64_t asked, uint64_t granted)
{
    o->cur->last_alloc_start = start;
    o->cur->last_alloc_asked = asked;
    o->cur->last_alloc_granted = granted;
    o->cur->last_alloc_handout = o->handouts;
    o->cur->last_alloc_ok = true;
}

static void cache_fill(ff_oracle *o, unsigned cpu, ff_pfn start, uint64_t count, uint64_t granted);
static void apply_frees_in_flight(ff_oracle *o, ff_pfn start, ff_pfn end);

static void judge_alloc(ff_oracle *o, const ff_event *ev)
{
    const ff_alloc_req *req = ev->req;
    const ff_policy *pol = &o->policy;
    bool malformed = ff_oracle_request_malformed(pol, req);
    if (ev->status != FF_OK) {
        judge_counter(o, "a failed allocation");
        if (o->busy) return; /* frames in flight elsewhere: the guarantee is not known */
        ff_pfn at = guaranteed_block(o, req);
        /* A block holding a frame the program misused (its in-band bytes may have been
         * written, by a CPU that took it while another freed it) guarantees nothing. */
        if (at == UINT64_MAX) return;
        uint64_t block = pol->placement == FF_PLACE_ANY_RUN ? req->count
                                                            : guarantee_block_size(pol, req);
        if (tainted_in(o, at, block)) return;
        if (o->leak_phase) {
            if (o->cur->call == FF_CALL_RESERVE)
                finding(o, FF_CLASS_LEAK,
                        "with everything given back, alloc(%llu) failed (%s) although frames "
                        "[0x%llx, +%llu) are free, and a fresh instance gave such a block",
                        (unsigned long long)req->count, ff_status_name(ev->status),
                        (unsigned long long)at, (unsigned long long)req->count);
            return;
        }
        finding(o, FF_CLASS_SPURIOUS_OOM,
                "alloc(%llu, align %llu, zone %s) failed (%s) although [0x%llx, +%llu) is free "
                "and the %s placement guarantees it",
                (unsigned long long)req->count, (unsigned long long)req->align,
                ff_zone_name(req->zone), ff_status_name(ev->status), (unsigned long long)at,
                (unsigned long long)block,
                pol->placement == FF_PLACE_ANY_RUN ? "any-run" : "power-of-two");
        return;
    }

    ff_pfn start = ev->start;
    /* Frees in flight whose frames this hand-out holds happened first, inside the
     * back-end: judged before it. */
    if (o->busy)
        apply_frees_in_flight(o, start,
                              req->count > UINT64_MAX - start ? UINT64_MAX : start + req->count);
    o->handouts++;
    uint64_t before = o->shadow_free + o->counter_skew;
    uint64_t now = counter(o);
    uint64_t reserved = before - now; /* what the counter says it took */
    uint64_t granted;
    if (malformed) {
        finding(o, FF_CLASS_ACCEPTED_BAD_REQUEST,
                "alloc(%llu, align %llu, zone %u) must be rejected, yet returned frame 0x%llx",
                (unsigned long long)req->count, (unsigned long long)req->align,
                (unsigned)req->zone, (unsigned long long)start);
        granted = o->has_counter && !o->busy && now < before && reserved <= FF_PFN_LIMIT ? reserved : 1;
    } else {
        granted = granted_of(pol, req);
    }

    ff_pfn end = start + granted;
    if (end < start || !all_ram(o, start, granted)) {
        if (!malformed)
            finding(o, FF_CLASS_OUT_OF_MAP_ALLOC,
                    "alloc(%llu) returned [0x%llx, +%llu), which is not all usable RAM "
                    "(first frame: %s)",
                    (unsigned long long)req->count, (unsigned long long)start,
                    (unsigned long long)granted,
                    start < o->top ? ff_mem_type_name(ff_space_type(o->space, start))
                                   : "past the top of the map");
        /* Track whatever RAM it did return. */
        ff_pfn lo = start < o->top ? start : o->top;
        ff_pfn hi = end < start || end > o->top ? o->top : end;
        for (ff_pfn p = lo; p < hi; p++)
            if (ff_space_is_usable(o->space, p) && !is_taken(o, p))
                shadow_hand_out(o, p, p + 1, 1, false, true);
        judge_counter(o, "an allocation");
        if (!ev->cache) note_alloc(o, start, malformed ? granted : req->count, granted);
        return;
    }
    ff_pfn clash = first_taken(o, start, end);
    if (clash != UINT64_MAX && kept_in(o, clash, 1)) {
        finding(o, FF_CLASS_DOUBLE_HANDOUT,
                "alloc(%llu) returned [0x%llx, +%llu), but frame 0x%llx is one the allocator "
                "kept for its own metadata at create",
                (unsigned long long)req->count, (unsigned long long)start,
                (unsigned long long)granted, (unsigned long long)clash);
    } else if (clash != UINT64_MAX) {
        ff_pfn owner = owner_of(o, clash).head;
        finding(o, FF_CLASS_DOUBLE_HANDOUT,
                "alloc(%llu) returned [0x%llx, +%llu), but frame 0x%llx is still handed out "
                "(allocation at 0x%llx)",
                (unsigned long long)req->count, (unsigned long long)start,
                (unsigned long long)granted, (unsigned long long)clash, (unsigned long long)owner);
    } else if (!malformed && req->zone != FF_ZONE_NORMAL && end > ff_zone_end(req->zone)) {
        finding(o, FF_CLASS_OUT_OF_ZONE_ALLOC,
                "alloc(%llu, zone %s) returned [0x%llx, +%llu), past the zone's end 0x%llx",
                (unsigned long long)req->count, ff_zone_name(req->zone),
                (unsigned long long)start, (unsigned long long)granted,
                (unsigned long long)ff_zone_end(req->zone));
    } else if (!malformed && start % alignment_of(pol, req)) {
        finding(o, FF_CLASS_MISALIGNED_ALLOC,
                "alloc(%llu, align %llu) returned frame 0x%llx, not a multiple of %llu",
                (unsigned long long)req->count, (unsigned long long)req->align,
                (unsigned long long)start, (unsigned long long)alignment_of(pol, req));
    } else if (!malformed && o->has_counter && !o->busy && reserved != granted) {
        finding(o, FF_CLASS_WRONG_SIZE_ALLOC,
                "alloc(%llu) took %lld frames off the free counter; the policy reserves %llu",
                (unsigned long long)req->count, (long long)(before - now),
                (unsigned long long)granted);
    } else {
        judge_poison(o, start, end);
    }
    bool watched = o->nfindings == o->findings_at_event && ff_meta_poisoning(o->meta) &&
                   o->cur->call == FF_CALL_ALLOC && !ev->cache;
    shadow_hand_out(o, start, end, malformed ? granted : req->count, watched, false);
    if (watched) watch(o, start, end);
    judge_counter(o, "an allocation");
    if (ev->cache)
        cache_fill(o, ev->cpu, start, malformed ? granted : req->count, granted);
    else
        note_alloc(o, start, malformed ? granted : req->count, granted);
}

static ff_class class_of_free(ff_free_kind kind)
{
    switch (kind) {
    case FF_FREE_KIND_INVALID: return FF_CLASS_ACCEPTED_BAD_REQUEST;
    case FF_FREE_KIND_FOREIGN:
    case FF_FREE_KIND_UNOWNED: return FF_CLASS_ACCEPTED_FOREIGN_FREE;
    case FF_FREE_KIND_DOUBLE: return FF_CLASS_ACCEPTED_DOUBLE_FREE;
    case FF_FREE_KIND_MISALIGNED: return FF_CLASS_ACCEPTED_MISALIGNED_FREE;
    default: return FF_CLASS_ACCEPTED_WRONG_SIZE_FREE;
    }
}

static const char *why_free_is_bad(ff_free_kind kind)
{
    switch (kind) {
    case FF_FREE_KIND_INVALID: return "a zero-size or wrapping range";
    case FF_FREE_KIND_FOREIGN: return "not all usable RAM below the top of the map";
    case FF_FREE_KIND_UNOWNED: return "free frames the back-end never handed to whoever frees them";
    case FF_FREE_KIND_DOUBLE: return "frames already given back";
    case FF_FREE_KIND_MISALIGNED: return "not the first frame of its allocation";
    case FF_FREE_KIND_WRONG_SIZE: return "not the count its allocation asked for";
    default: return "valid";
    }
}

/* Frames the back-end took back during the current operation: once the operation's
 * references are counted off, none of them may keep a live slot. */
static void note_freed(ff_oracle *o, ff_pfn start, ff_pfn end)
{
    /* raw frees and give-backs bypass the metadata on purpose */
    if (o->cur->call == FF_CALL_RAW_FREE || o->cur->call == FF_CALL_GIVE_BACK) return;
    op_state *s = o->cur;
    if (s->nfreed < sizeof s->freed / sizeof s->freed[0])
        s->freed[s->nfreed++] = (struct freed_run){start, end - start};
}

static void judge_freed_slots(ff_oracle *o, ff_pfn start, ff_pfn end)
{
    if (end > o->top) end = o->top;
    for (ff_pfn p = ff_meta_first_live(o->meta, start, end); p < end;
         p = ff_meta_first_live(o->meta, p + 1, end)) {
        if (o->refs[p] || (o->flags[p] & FR_TAINTED)) continue;
        ff_slot_view v = ff_meta_slot(o->meta, p);
        finding(o, FF_CLASS_METADATA_MISMATCH,
                "frame 0x%llx went back to the back-end but its slot is still %s "
                "(refcount %u)",
                (unsigned long long)p, ff_slot_state_name(v.state), v.refcount);
        return;
    }
}

/* The frames of an orphan below the top, [start, end). */
static ff_pfn orphan_end(const ff_oracle *o, const orphan *b)
{
    return b->granted > o->top - b->start ? o->top : b->start + b->granted;
}

/* Whether frame p is still out from the orphan's own hand-out. */
static bool own_frame(const ff_oracle *o, const orphan *b, ff_pfn p)
{
    return is_taken(o, p) && owner_of(o, p).alloc == b->alloc;
}

/* Whether any frame of the orphan is still out from its own hand-out. */
static bool orphan_out(const ff_oracle *o, const orphan *b)
{
    for (ff_pfn p = first_taken(o, b->start, orphan_end(o, b)); p != UINT64_MAX;
         p = first_taken(o, p + 1, orphan_end(o, b)))
        if (owner_of(o, p).alloc == b->alloc) return true;
    return false;
}

/* Whether all of the orphan's RAM is still out from its own hand-out. */
static bool orphan_whole(const ff_oracle *o, const orphan *b)
{
    for (ff_pfn p = b->start; p < orphan_end(o, b); p++)
        if (ff_space_is_usable(o->space, p) && !kept_in(o, p, 1) && !own_frame(o, b, p)) return false;
    return true;
}

/* The executor returning a block the layer refused: the back-end's own hand-out, not a
 * free of the program's to judge. What it takes back comes back in the shadow. */
static void judge_give_back(ff_oracle *o, const ff_event *ev)
{
    const orphan *b = o->giving_back;
    /* Refusing the very allocation it handed out, whole and in the map, is refusing a
     * valid free. */
    if (ev->status != FF_OK && o->policy.validates_frees &&
        ff_oracle_classify_free(o, ev->start, ev->count) == FF_FREE_KIND_VALID)
        finding(o, FF_CLASS_REJECTED_VALID_FREE,
                "free(0x%llx, %llu) gives back the block it handed out at the end, yet was "
                "rejected (%s)",
                (unsigned long long)ev->start, (unsigned long long)ev->count,
                ff_status_name(ev->status));
    if (ev->status == FF_OK && b) {
        ff_pfn lo = b->start, hi = orphan_end(o, b);
        if (o->policy.free_rule == FF_FREE_PIECEWISE) { /* just the run given */
            lo = ev->start;
            hi = ev->count > hi - ev->start ? hi : ev->start + ev->count;
        }
        for (ff_pfn p = lo; p < hi; p++)
            if (own_frame(o, b, p)) shadow_give_back(o, p, p + 1);
    }
    judge_counter(o, "a give-back");
}

static bool dying(const ff_oracle *o, ff_pfn p)
{
    for (size_t i = 0; i < o->ndying; i++)
        if (p >= o->dying[i].start && p < o->dying[i].end) return true;
    return false;
}

/* Frame p's count reached 0 (FF_EV_REF_ZERO): it is dying until it goes back. */
static void note_dying(ff_oracle *o, ff_pfn p)
{
    for (size_t i = 0; i < o->ndying; i++)
        if (o->dying[i].end == p) {
            o->dying[i].end++;
            return;
        }
    if (o->ndying < DYING_MAX) o->dying[o->ndying++] = (struct dying_run){p, p + 1};
}

/* The program's misuse left the system in a state no allocator answers for (why):
 * nothing more of this run is judged. */
static void go_blind(ff_oracle *o, const char *why)
{
    o->blind = why;
    o->dead = true;
}

/* A raw free gave back [start, end), the whole of what came back (by address: the
 * allocation): frames the program still holds references to are its own misuse, and
 * their poison and slots prove nothing from now on. */
static void taint_held(ff_oracle *o, ff_pfn start, ff_pfn end)
{
    if (o->cur->call != FF_CALL_RAW_FREE) return;
    /* With CPUs, a drop in flight has given its references up, but the layer may still
     * hold them, or be on its way to give the frames back (dying): those count too. */
    for (ff_pfn p = start; p < end && p < o->top; p++)
        if (o->refs[p] || (o->cpus && (ff_meta_refcount(o->meta, p) || dying(o, p))))
            flags_set(o, p, FR_TAINTED);
}

/* An accepted free named [start, named_end) and gave back [start, end). Frames a per-CPU
 * cache holds that went back while still listed there have two owners from now on: by
 * the program's doing when it freed them itself, or dropped a handle its raw free left
 * stale (a double free no cache can see). The run is not judged further. */
static void cached_given_back(ff_oracle *o, ff_pfn start, ff_pfn end, ff_pfn named_end)
{
    if (start >= o->top) return;
    ff_pfn stop = end < o->top ? end : o->top;
    ff_pfn named = named_end > stop ? (named_end < o->top ? named_end : o->top) : stop;
    if (next_flagged(o, start, stop, FR_CACHED) < stop &&
        (o->cur->call == FF_CALL_RAW_FREE || next_flagged(o, start, named, FR_TAINTED) < named))
        go_blind(o, "the program's misuse gave frames that sit in a per-CPU cache back to the "
                    "back-end (a double free no cache can see)");
}

static inline __attribute__((always_inline)) void judge_cached_given_back(ff_oracle *o, ff_pfn start,
                                                                         ff_pfn end, ff_pfn named_end)
{
    if (o->any_cached) cached_given_back(o, start, end, named_end);
}

/* Concurrent runs: an accepted free of [start, end), by the program (raw_free) or by a
 * drop of a handle its own misuse left stale, gave back frames another CPU's
 * allocation was handed and has not taken yet (its operation is in flight): the
 * program's doing (a correct drop never frees a frame the back-end handed out again:
 * that hand-out was judged when it happened). */
static void taint_in_flight(ff_oracle *o, ff_pfn start, ff_pfn end)
{
    for (unsigned k = 0; k < FF_CONTEXTS_MAX; k++) {
        const op_state *s = &o->ops[k];
        if (s == o->cur || !(o->inflight & s->bit) || !s->last_alloc_ok) continue;
        ff_pfn lo = s->last_alloc_start > start ? s->last_alloc_start : start;
        ff_pfn hi = ff_range_end((ff_range){s->last_alloc_start, s->last_alloc_granted});
        if (hi > end) hi = end;
        for (ff_pfn p = lo; p < hi && p < o->top; p++) flags_set(o, p, FR_TAINTED);
        /* That CPU writes the frames it takes, now free: where the back-end keeps its
         * links inside free frames, its whole state proves nothing from here. */
        if (lo < hi && o->policy.inband_bytes) go_blind(o, "the program freed frames another CPU was being handed, on a back-end that "
                        "keeps links in free frames");
    }
}


/* A free refused because the program itself had already freed part of it (a raw free
 * of frames it held): the rest stays out, and that is the program's doing, not a leak
 * of the back-end's. */
static void taint_taken(ff_oracle *o, ff_pfn start, uint64_t count)
{
    ff_pfn end = count > o->top - start ? o->top : start + count;
    for (ff_pfn p = start; p < end; p++)
        if (is_taken(o, p) && !kept_in(o, p, 1)) flags_set(o, p, FR_TAINTED);
}

/* The layer poisoned what a free names, [start, +count), before the call. */
static void note_poisoned(ff_oracle *o, ff_pfn start, uint64_t count)
{
    if (!ff_meta_poisoning(o->meta) || start >= o->top) return;
    ff_pfn end = count > o->top - start ? o->top : start + count;
    for (ff_pfn p = next_flagged(o, start, end, FR_UNPOISONED); p < end;
         p = next_flagged(o, p + 1, end, FR_UNPOISONED))
        flags_clear(o, p, FR_UNPOISONED);
}

static void judge_free(ff_oracle *o, const ff_event *ev)
{
    note_poisoned(o, ev->start, ev->count);
    if (o->cpus && ev->status == FF_OK) {
        /* What went back: a free by address takes back the allocation that starts there,
         * whatever count it names. */
        ff_pfn end = ev->count > UINT64_MAX - ev->start ? UINT64_MAX : ev->start + ev->count;
        if (o->policy.free_rule == FF_FREE_BY_ADDRESS && ev->start < o->top &&
            is_taken(o, ev->start) && owner_of(o, ev->start).head == ev->start)
            end = ev->start + o->granted[ev->start];
        taint_in_flight(o, ev->start, end);
    }
    if (o->cur->call == FF_CALL_GIVE_BACK) {
        judge_give_back(o, ev);
        return;
    }
    ff_pfn start = ev->start;
    uint64_t count = ev->count;
    ff_free_kind kind = ff_oracle_classify_free(o, start, count);
    if (ev->status != FF_OK) {
        if (kind == FF_FREE_KIND_VALID && o->policy.validates_frees)
            finding(o, FF_CLASS_REJECTED_VALID_FREE,
                    "free(0x%llx, %llu) names exactly one allocation, yet was rejected (%s)",
                    (unsigned long long)start, (unsigned long long)count,
                    ff_status_name(ev->status));
        else if (tainted_in(o, start, count))
            taint_taken(o, start, count);
        judge_counter(o, "a rejected free");
        return;
    }
    if (kind != FF_FREE_KIND_VALID)
        finding(o, class_of_free(kind), "free(0x%llx, %llu) was accepted, but it is %s",
                (unsigned long long)start, (unsigned long long)count, why_free_is_bad(kind));

    bool by_address = o->policy.free_rule == FF_FREE_BY_ADDRESS;
    if (kind == FF_FREE_KIND_VALID && o->policy.free_rule != FF_FREE_PIECEWISE) {
        /* The whole reservation comes back, rounding excess included; what the free did
         * not name the layer did not poison. */
        ff_pfn end = start + o->granted[start];
        shadow_give_back(o, start, end);
        for (ff_pfn p = start + (count < end - start ? count : end - start); p < end; p++)
            flags_set(o, p, FR_UNPOISONED);
        note_freed(o, start, by_address ? end : start + count);
        taint_held(o, start, end);
        judge_cached_given_back(o, start, end, count > UINT64_MAX - start ? UINT64_MAX : start + count);
    } else if (kind != FF_FREE_KIND_INVALID && start < o->top) {
        /* A bad free by address names one frame; what else it took is unknown. */
        uint64_t n = by_address ? 1 : count;
        ff_pfn end = n > o->top - start ? o->top : start + n;
        shadow_give_back(o, start, end);
        for (ff_pfn p = next_flagged(o, start, end, FR_PHANTOM); p < end;
             p = next_flagged(o, p + 1, end, FR_PHANTOM))
            flags_clear(o, p, FR_PHANTOM);
        taint_held(o, start, end); /* first: a frame still held went back by misuse */
        judge_cached_given_back(o, start, end, count > UINT64_MAX - start ? UINT64_MAX : start + count);
        judge_freed_slots(o, start, end);
    }
    judge_counter(o, "a free");
}

/* "CALL:FUNCTION" of a hang or a panic: the back-end call and its function that spent
 * the budget or panicked. */
static void call_state(const ff_event *ev, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s", ff_backend_call_name(ev->call), ev->where[0] ? ":" : "", ev->where);
}

bool ff_oracle_alloc_may_fail(const ff_oracle *o, const ff_alloc_req *req)
{
    return guaranteed_block(o, req) == UINT64_MAX;
}

/* The allocator's own assertion fired. On a request it had to refuse (a bad free, a
 * malformed request, one no guarantee covers) it caught the misuse: the trace shows
 * it, nothing is found. On a valid one the assertion itself is the bug. */
static void judge_backend_panic(ff_oracle *o, const ff_event *ev)
{
    char state[96];
    call_state(ev, state, sizeof state);
    switch (ev->call) {
    case FF_BCALL_ALLOC: {
        ff_pfn at = o->busy ? UINT64_MAX : guaranteed_block(o, ev->req); /* as for a free */
        if (at != UINT64_MAX)
            finding_in(o, FF_CLASS_ALLOCATOR_PANIC, state,
                       "%s, although [0x%llx, +%llu) is free and the placement guarantees the "
                       "request", ev->reason, (unsigned long long)at,
                       (unsigned long long)granted_of(&o->policy, ev->req));
        break;
    }
    case FF_BCALL_FREE:
        if (o->cur->call == FF_CALL_GIVE_BACK) break; /* its own bad hand-out, returned */
        /* With other calls in flight, what they did inside the back-end is not known: the
         * panic may be the allocator catching their misuse (a double free of a frame that
         * now sits in a cache this free flushes). */
        if (o->busy) break;
        if (ff_oracle_classify_free(o, ev->start, ev->count) == FF_FREE_KIND_VALID)
            finding_in(o, FF_CLASS_ALLOCATOR_PANIC, state,
                       "%s, although the free names exactly one allocation", ev->reason);
        break;
    case FF_BCALL_CHECK:
        /* An assertion in the invariant walk is the walk failing. */
        if (!o->baseline || strcmp(ev->reason, o->baseline->check) != 0)
            finding(o, FF_CLASS_STRUCTURAL_CORRUPTION, "invariant walk: %s", ev->reason);
        break;
    default: break;
    }
}

/* Concurrent runs: while another CPU has an operation in flight, the judgment of
 * [start, +count) waits until none has (flush_deferred); returns whether it waits.
 * Past DEFERRED_MAX waiting, one goes unjudged. */
static bool defer(ff_oracle *o, ff_pfn start, uint64_t count, bool freed, const char *after)
{
    if (!o->inflight) return false;
    if (o->ndeferred < DEFERRED_MAX)
        o->deferred[o->ndeferred++] = (deferred){start, count, o->cur->op, freed, after};
    return true;
}

/* The layer's refcounts over [start, +count) (below top) must equal the references the
 * program holds, but on frames it misused: one finding per operation, the first
 * mismatch. */
static void compare_slots(ff_oracle *o, ff_pfn start, uint64_t count, const char *after)
{
    const uint32_t *refcounts = ff_meta_refcounts(o->meta, start, count);
    const uint64_t *refs = &o->refs[start];
    for (uint64_t i = 0; i < count; i++) {
        if (refcounts[i] == refs[i] || (o->flags[start + i] & FR_TAINTED)) continue;
        finding(o, FF_CLASS_METADATA_MISMATCH,
                "after %s frame 0x%llx has refcount %u in the layer, but the program "
                "holds %llu references",
                after, (unsigned long long)(start + i), refcounts[i],
                (unsigned long long)refs[i]);
        break;
    }
}

/* Concurrent runs: no operation is in flight any more, so the shadow of references is
 * exact again: the judgments that waited are made, each as its operation's. */
static void flush_deferred(ff_oracle *o)
{
    size_t op = o->cur->op;
    for (size_t i = 0; i < o->ndeferred && o->nfindings == o->findings_at_event; i++) {
        const deferred *d = &o->deferred[i];
        o->cur->op = d->op;
        if (d->freed)
            judge_freed_slots(o, d->start, d->start + d->count);
        else if (d->start < o->top)
            compare_slots(o, d->start, d->count, d->after);
    }
    o->cur->op = op;
    o->ndeferred = 0;
}


/* Concurrent runs: the refcount atomics at 0 (FF_EV_REF_*). A frame whose count a drop
 * took to 0 is on its way back to the back-end until the free. A reference added to a
 * count that was 0 when it was added (from_in_use had seen it in use) is a race the
 * layer lost: the frame goes back while someone holds it. */
static void judge_ref_event(ff_oracle *o, const ff_event *ev)
{
    ff_pfn p = ev->start;
    unsigned cpu = ff_cpus_current(o->cpus);
    switch (ev->kind) {
    case FF_EV_REF_TAKE:
        /* from_unused on a frame another CPU holds, is being handed, or is giving back
         * (its count is 0 in those windows) takes what is not the program's: its own
         * misuse, after which the frame proves nothing. (An alloc taking a frame still
         * out was judged at the back-end's answer.) */
        if (o->cur->call == FF_CALL_FROM_UNUSED && p < o->top && (is_taken(o, p) || dying(o, p)))
            flags_set(o, p, FR_TAINTED);
        break;
    case FF_EV_REF_REVIVE:
        finding(o, FF_CLASS_REFCOUNT_RACE,
                "cpu%u's from_in_use added a reference to frame 0x%llx after another CPU "
                "dropped its count to 0: it checked the count, then added to it, and the "
                "last reference went in between",
                cpu, (unsigned long long)p);
        break;
    default: break;
    }
}

/* Frames [start, +count) went back to the back-end: none of them is dying now. */
static void forget_dying(ff_oracle *o, ff_pfn start, uint64_t count)
{
    ff_pfn end = count > UINT64_MAX - start ? UINT64_MAX : start + count;
    for (size_t i = 0; i < o->ndying;) {
        struct dying_run *d = &o->dying[i];
        if (d->end <= start || d->start >= end) {
            i++;
        } else if (d->start >= start && d->end <= end) { /* all of it went back */
            *d = o->dying[--o->ndying];
        } else if (d->start < start && d->end > end) { /* the middle went back */
            if (o->ndying < DYING_MAX) o->dying[o->ndying++] = (struct dying_run){end, d->end};
            d->end = start;
            i++;
        } else { /* one end went back */
            if (d->start < start) d->end = start; else d->start = end;
            i++;
        }
    }
}

/* ---------------------------------------------------------------- per-CPU caches */

static struct cached_run *cache_find(ff_oracle *o, unsigned cpu, ff_pfn start)
{
    for (size_t i = 0; i < o->ncached[cpu]; i++)
        if (o->cached[cpu][i].start == start) return &o->cached[cpu][i];
    return NULL;
}

/* The CPU whose cache holds frame p (a run's first frame or not), or FF_CPUS_MAX. */
static unsigned cache_holding(const ff_oracle *o, ff_pfn p)
{
    if (!o->any_cached) return FF_CPUS_MAX;
    for (unsigned c = 0; c < FF_CPUS_MAX; c++)
        for (size_t i = 0; i < o->ncached[c]; i++)
            if (p - o->cached[c][i].start < o->cached[c][i].granted) return c;
    return FF_CPUS_MAX;
}

/* Frames [start, +granted) are in cpu's cache from now on: count frames of a run. */
static void cache_fill(ff_oracle *o, unsigned cpu, ff_pfn start, uint64_t count, uint64_t granted)
{
    if (o->ncached[cpu] == o->cached_cap[cpu])
        grow((void **)&o->cached[cpu], &o->cached_cap[cpu], sizeof *o->cached[cpu]);
    o->cached[cpu][o->ncached[cpu]++] = (struct cached_run){start, count, granted};
    o->any_cached = true;
    ff_pfn end = granted > o->top - start ? o->top : start + granted;
    shadow_touch_range(o, start, end, W_FLAGS);
    for (ff_pfn p = start; p < end; p++) o->flags[p] |= FR_CACHED;
}

static void cache_unlist(ff_oracle *o, unsigned cpu, struct cached_run *r)
{
    ff_pfn end = r->granted > o->top - r->start ? o->top : r->start + r->granted;
    for (ff_pfn p = r->start; p < end; p++) flags_clear(o, p, FR_CACHED);
    *r = o->cached[cpu][--o->ncached[cpu]];
}

/* What frame p is, for a finding about a cache handing it out or taking it. */
static void describe_frame(const ff_oracle *o, ff_pfn p, char *buf, size_t len)
{
    unsigned c = p < o->top ? cache_holding(o, p) : FF_CPUS_MAX;
    if (p >= o->top || !ff_space_is_usable(o->space, p))
        snprintf(buf, len, "is not usable RAM");
    else if (c < FF_CPUS_MAX)
        snprintf(buf, len, "is in cpu%u's cache", c);
    else if (is_taken(o, p))
        snprintf(buf, len, "is handed out (allocation at 0x%llx)",
                 (unsigned long long)owner_of(o, p).head);
    else
        snprintf(buf, len, "the back-end holds free");
}

/* A cache handed [start, +count) to an allocation: one of its own runs, else a frame
 * owned twice. */
static void judge_cache_take(ff_oracle *o, const ff_event *ev)
{
    ff_pfn start = ev->start;
    struct cached_run *r = cache_find(o, ev->cpu, start);
    if (!r || r->count != ev->count) {
        char what[96];
        describe_frame(o, start, what, sizeof what);
        if (start >= o->top || !(o->flags[start] & FR_TAINTED))
            finding(o, FF_CLASS_DOUBLE_HANDOUT,
                    "cpu%u's cache handed out [0x%llx, +%llu), which it does not hold: frame "
                    "0x%llx %s",
                    ev->cpu, (unsigned long long)start, (unsigned long long)ev->count,
                    (unsigned long long)start, what);
        return;
    }
    uint64_t granted = r->granted;
    cache_unlist(o, ev->cpu, r);
    ff_pfn end = start + granted;
    judge_poison(o, start, start + ev->count);
    o->handouts++;
    bool watched = o->nfindings == o->findings_at_event && ff_meta_poisoning(o->meta);
    shadow_hand_out(o, start, end, ev->count, watched, false);
    if (watched) watch(o, start, end);
    note_alloc(o, start, ev->count, granted);
}

/* A released allocation [start, +count) went into a cache: frames out, none in a cache. */
static void judge_cache_put(ff_oracle *o, const ff_event *ev)
{
    ff_pfn start = ev->start;
    uint64_t count = ev->count, granted = count;
    if (start >= o->top || count > o->top - start) return; /* the layer releases what it took */
    /* Frames the program misused (a stale handle left by its raw free of frames it held)
     * may be the back-end's free frames too: the cache takes them unchecked, as a real
     * one would, and from here they have two owners by the program's doing. */
    if (tainted_in(o, start, count)) {
        go_blind(o, "the program's misuse put frames of unknown owner into a per-CPU cache (a "
                    "drop through a handle its raw free left stale)");
        return;
    }
    /* A cache takes frees unchecked: one the layer makes that names no allocation whole
     * (asterinas-2024 recycling a frame that was never the program's, as in #1760, or
     * unwinding a panic frame by frame) is accepted. */
    ff_free_kind kind = ff_oracle_classify_free(o, start, count);
    if (o->flags[start] & FR_CACHED) /* the allocator's: handed to no one, or given back */
        kind = (o->flags[start] & FR_PHANTOM) ? FF_FREE_KIND_UNOWNED : FF_FREE_KIND_DOUBLE;
    /* A from_unused that panicked unwinds what it built: frames handed to no one. */
    if (kind != FF_FREE_KIND_VALID && o->cur->call == FF_CALL_FROM_UNUSED)
        kind = FF_FREE_KIND_UNOWNED;
    if (kind != FF_FREE_KIND_VALID) {
        char what[96];
        describe_frame(o, start, what, sizeof what);
        finding(o, class_of_free(kind),
                "cpu%u's cache took back [0x%llx, +%llu) unchecked, but it is %s (frame 0x%llx "
                "%s)",
                ev->cpu, (unsigned long long)start, (unsigned long long)count,
                why_free_is_bad(kind), (unsigned long long)start, what);
        if (!(o->flags[start] & FR_CACHED)) cache_fill(o, ev->cpu, start, count, count);
        return;
    }
    if (o->policy.free_rule != FF_FREE_PIECEWISE)
        granted = o->granted[start];
    cache_fill(o, ev->cpu, start, count, granted);
    if (o->ndying) forget_dying(o, start, granted);
    note_freed(o, start, start + count);
}

/* A drain gave [start, +count) from a cache back to the back-end (judged as a free). */
static void judge_cache_drain(ff_oracle *o, const ff_event *ev)
{
    struct cached_run *r = cache_find(o, ev->cpu, ev->start);
    bool listed = r && r->count == ev->count;
    if (listed && ev->status == FF_OK) cache_unlist(o, ev->cpu, r);
    size_t before = o->nfindings;
    judge_free(o, ev);
    if (!listed && ev->status == FF_OK && o->nfindings == before && !tainted_in(o, ev->start, ev->count))
        finding(o, FF_CLASS_ACCEPTED_DOUBLE_FREE,
                "cpu%u's cache gave back [0x%llx, +%llu), which it did not hold",
                ev->cpu, (unsigned long long)ev->start, (unsigned long long)ev->count);
}

/* A back-end that locks itself handed out [start, end) while another context's free
 * of some of those frames was still in flight: the frames had gone back inside the
 * back-end before that free answered. Such frees are judged now, as answered (a later
 * refusal is then a finding of its own), so the hand-out is judged as the order of
 * events inside the back-end had it. */
static void apply_frees_in_flight(ff_oracle *o, ff_pfn start, ff_pfn end)
{
    op_state *me = o->cur;
    for (unsigned c = 0; c < FF_CONTEXTS_MAX; c++) {
        op_state *s = &o->ops[c];
        if (!(o->busy & (1u << c)) || !s->free_in_flight || s->free_applied) continue;
        ff_pfn s_end = s->free_count > UINT64_MAX - s->free_start ? UINT64_MAX
                                                                  : s->free_start + s->free_count;
        if (s_end <= start || s->free_start >= end) continue;
        s->free_applied = true;
        o->cur = s;
        ff_event fe = {.kind = FF_EV_FREE, .status = FF_OK, .start = s->free_start,
                       .count = s->free_count};
        judge_free(o, &fe);
        if (o->ndying) forget_dying(o, fe.start, fe.count);
        o->cur = me;
    }
}

/* The answer to a free that apply_frees_in_flight judged already: nothing more, unless
 * the back-end refused it after handing its frames to another. */
static bool free_applied_already(ff_oracle *o, const ff_event *ev)
{
    op_state *s = o->cur;
    if (ev->cache) return false;
    s->free_in_flight = false;
    if (!s->free_applied) return false;
    if (ev->status != FF_OK)
        finding(o, FF_CLASS_DOUBLE_HANDOUT,
                "free(0x%llx, %llu) was refused (%s) after its frames were handed out to "
                "another caller while it was in flight",
                (unsigned long long)ev->start, (unsigned long long)ev->count,
                ff_status_name(ev->status));
    return true;
}

void ff_oracle_observe(void *oracle, const ff_event *ev)
{
    ff_oracle *o = oracle;
    if (!o->meta || o->dead) return;
    /* One per frame a drop gives up: the frame is dying until it goes back. A frame the
     * program took with from_unused while the back-end held it free (or misused) was
     * never the program's to give back: what follows is judged as that misuse's. */
    if (ev->kind == FF_EV_REF_ZERO) {
        if (ev->start >= o->top || !(o->flags[ev->start] & (FR_PHANTOM | FR_TAINTED)))
            note_dying(o, ev->start);
        return;
    }
    cpu_enter(o);
    o->findings_at_event = o->nfindings;
    /* An answer of the back-end (or the end of its call): that call is no longer in
     * flight. Other events may come from inside a call (a lock-order report). */
    if (o->busy && (ev->kind == FF_EV_ALLOC || ev->kind == FF_EV_FREE ||
                    ev->kind == FF_EV_DRAIN || ev->kind == FF_EV_HANG ||
                    ev->kind == FF_EV_BACKEND_PANIC || ev->kind == FF_EV_DEADLOCK))
        o->busy &= ~(1u << (unsigned)(o->cur - o->ops));
    switch (ev->kind) {
    case FF_EV_CALL:
        o->busy |= 1u << (unsigned)(o->cur - o->ops);
        o->cur->free_in_flight = ev->call == FF_BCALL_FREE;
        o->cur->free_applied = false;
        o->cur->free_start = ev->start;
        o->cur->free_count = ev->count;
        break;
    case FF_EV_ALLOC:
        judge_alloc(o, ev);
        /* A hand-out with no finding took no watched frame (one still held is taken: a
         * clash), so unless an earlier event left the list unpruned, only the frames'
         * edges can have changed: nothing to look at when the back-end reached no
         * frame's memory. */
        if (o->nfindings != o->findings_at_event)
            o->watched_unpruned = true;
        else if (o->watched_unpruned || ff_meta_backend_reached_frames(o->meta))
            check_watched(o, "after the back-end's alloc");
        break;
    case FF_EV_FREE:
        if (o->cur->free_in_flight && free_applied_already(o, ev)) break;
        if (ev->cache)
            judge_cache_drain(o, ev);
        else
            judge_free(o, ev); /* a raw free of dying frames is misuse: judged as dying */
        if (o->ndying && ev->status == FF_OK) forget_dying(o, ev->start, ev->count);
        if (o->nfindings != o->findings_at_event)
            o->watched_unpruned = true;
        else
            check_watched(o, "after the back-end's free");
        break;
    case FF_EV_PANIC: break; /* the kernel's answer to misuse; what follows is judged */
    case FF_EV_DEADLOCK:
        o->dead = true;
        finding(o, ev->in_irq ? FF_CLASS_IRQ_DEADLOCK : FF_CLASS_SELF_DEADLOCK, "%s", ev->reason);
        break;
    case FF_EV_HANG: {
        o->dead = true;
        char state[96];
        call_state(ev, state, sizeof state);
        finding_in(o, FF_CLASS_HANG, state, "%s", ev->reason);
        break;
    }
    case FF_EV_BACKEND_PANIC:
        judge_backend_panic(o, ev);
        o->dead = true;
        break;
    case FF_EV_REF_ZERO:
    case FF_EV_REF_TAKE:
    case FF_EV_REF_REVIVE: judge_ref_event(o, ev); break;
    case FF_EV_CACHE_TAKE:
        judge_cache_take(o, ev);
        if (o->nfindings != o->findings_at_event) o->watched_unpruned = true;
        break;
    case FF_EV_CACHE_PUT: judge_cache_put(o, ev); break;
    case FF_EV_LOCK_ORDER: finding(o, FF_CLASS_LOCK_ORDER_CYCLE, "%s", ev->reason); break;
    case FF_EV_DATA_RACE: finding(o, FF_CLASS_DATA_RACE, "%s", ev->reason); break;
    case FF_EV_DRAIN: judge_counter(o, "a drain of what the back-end held per CPU"); break;
    }
}

/* ---------------------------------------------------------------- judging the layer */

/* References the program gained on each frame of an operation's range (DROP_ONE: it
 * gave one up, where it held any). */
#define DROP_ONE UINT64_MAX

/* Applies the program's change of references over [start, +count), then the layer's
 * refcounts there must equal the references the program holds, except on frames the
 * program misused. One pass: operations can name many frames. */
static void judge_slots(ff_oracle *o, ff_pfn start, uint64_t count, uint64_t gained,
                        const char *after)
{
    if (start >= o->top) return;
    if (count > o->top - start) count = o->top - start;
    shadow_touch_range(o, start, start + count, W_REFS);
    const uint32_t *refcounts = ff_meta_refcounts(o->meta, start, count);
    uint64_t *refs = &o->refs[start];
    if (defer(o, start, count, false, after)) {
        if (gained != DROP_ONE)
            for (uint64_t i = 0; i < count; i++) refs[i] += gained;
        else
            for (uint64_t i = 0; i < count; i++) refs[i] -= refs[i] != 0;
        return;
    }
    /* The change and the common case, all equal, in one branch-free pass. */
    uint64_t differ = 0;
    if (gained != DROP_ONE)
        for (uint64_t i = 0; i < count; i++) {
            refs[i] += gained;
            differ |= refcounts[i] ^ refs[i];
        }
    else
        for (uint64_t i = 0; i < count; i++) {
            refs[i] -= refs[i] != 0;
            differ |= refcounts[i] ^ refs[i];
        }
    if (differ) compare_slots(o, start, count, after);
}

static void judge_from_unused(ff_oracle *o, ff_pfn start, uint64_t count)
{
    bool hardened = ff_meta_semantics(o->meta) == FF_SEM_HARDENED;
    for (uint64_t i = 0; i < count; i++) {
        ff_pfn p = start + i;
        if (p >= o->top) {
            finding(o, FF_CLASS_REFCOUNT_MISUSE,
                    "from_unused granted frame 0x%llx, past the top of the map",
                    (unsigned long long)p);
            return;
        }
        if (o->refs[p]) {
            finding(o, FF_CLASS_REFCOUNT_MISUSE,
                    "from_unused granted frame 0x%llx, which holds %llu references",
                    (unsigned long long)p, (unsigned long long)o->refs[p]);
            return;
        }
        if (hardened && (!is_taken(o, p) || (o->flags[p] & FR_CACHED))) {
            finding(o, FF_CLASS_REFCOUNT_MISUSE,
                    "hardened from_unused granted frame 0x%llx, which is %s",
                    (unsigned long long)p,
                    !ff_space_is_usable(o->space, p) ? "not usable RAM"
                    : is_taken(o, p)                 ? "owned by the allocator (in a per-CPU cache)"
                                                     : "owned by the allocator (free)");
            return;
        }
    }
}

static void judge_from_in_use(ff_oracle *o, ff_pfn start, uint64_t count, uint32_t refs)
{
    for (uint64_t i = 0; i < count; i++) {
        ff_pfn p = start + i;
        uint64_t held = p < o->top ? o->refs[p] : 0;
        if (held == 0) {
            finding(o, FF_CLASS_REFCOUNT_MISUSE,
                    "from_in_use added references to frame 0x%llx, which holds none",
                    (unsigned long long)p);
            return;
        }
        if (held + refs > FF_REF_MAX) {
            finding(o, FF_CLASS_REFCOUNT_MISUSE,
                    "from_in_use took frame 0x%llx to %llu references, past the maximum %llu",
                    (unsigned long long)p, (unsigned long long)(held + refs),
                    (unsigned long long)FF_REF_MAX);
            return;
        }
    }
}

static void add_orphan(ff_oracle *o, ff_pfn start, uint64_t count, uint64_t granted,
                       uint32_t number)
{
    if (o->norphans == o->orphans_cap) grow((void **)&o->orphans, &o->orphans_cap, sizeof *o->orphans);
    o->orphans[o->norphans++] = (orphan){start, count, granted, number};
}

void ff_oracle_op_end(ff_oracle *o, const ff_layer_result *r)
{
    op_state *s = cpu_enter(o);
    if (o->cpus) o->inflight &= ~s->bit;
    if (!o->meta || o->dead) return;
    if (ff_meta_dead(o->meta)) {
        o->dead = true; /* a panic: nothing runs any more */
        return;
    }
    o->findings_at_event = o->nfindings;
    switch (r->call) {
    case FF_CALL_ALLOC:
        if (r->status == FF_META_OK) {
            judge_slots(o, r->start, r->count, 1, "alloc");
        } else if (r->status == FF_META_BAD_HANDOUT && s->last_alloc_ok) {
            /* The layer keeps the block out of circulation: it must come back at the end. */
            add_orphan(o, s->last_alloc_start, s->last_alloc_asked, s->last_alloc_granted,
                       s->last_alloc_handout);
        }
        break;
    case FF_CALL_FROM_UNUSED:
        if (r->status != FF_META_OK) break;
        /* Concurrent runs judge each grant as it happens (judge_ref_event): the shadow
         * of references is exact only when no other operation is half done. */
        if (!o->cpus) judge_from_unused(o, r->start, r->count);
        for (uint64_t i = 0; i < r->count && r->start + i < o->top; i++)
            if (!is_taken(o, r->start + i) || (o->flags[r->start + i] & FR_CACHED)) {
                flags_set(o, r->start + i, FR_PHANTOM);
                o->any_phantom = true;
            }
        judge_slots(o, r->start, r->count, 1, "from_unused");
        break;
    case FF_CALL_FROM_IN_USE:
        if (r->status != FF_META_OK) break;
        if (!o->cpus) judge_from_in_use(o, r->start, r->count, r->refs);
        judge_slots(o, r->start, r->count, r->refs, "from_in_use");
        break;
    case FF_CALL_DROP:
        if (r->status == FF_META_OK || r->status == FF_META_FREE_REJECTED) {
            /* With CPUs the references went at the drop's start (ff_oracle_drop_begin). */
            judge_slots(o, r->start, r->count, o->cpus ? 0 : DROP_ONE, "drop");
            for (size_t i = 0; i < s->nfreed && o->nfindings == o->findings_at_event; i++)
                if (!defer(o, s->freed[i].start, s->freed[i].count, true, "drop"))
                    judge_freed_slots(o, s->freed[i].start, s->freed[i].start + s->freed[i].count);
        } else {
            finding(o, FF_CLASS_METADATA_MISMATCH,
                    "drop of [0x%llx, +%llu), references the program holds, answered %s",
                    (unsigned long long)r->start, (unsigned long long)r->count,
                    ff_meta_status_name(r->status));
        }
        break;
    case FF_CALL_RAW_FREE: /* judged as the back-end answered (judge_free) */
    case FF_CALL_GIVE_BACK:
    case FF_CALL_RESERVE:
    case FF_CALL_NONE: break;
    }
    if (o->cpus && !o->inflight && o->ndeferred) flush_deferred(o);
}

/* The program wrote value at offset of a frame it holds: part of what the frame may hold. */
static void note_write(ff_oracle *o, ff_pfn pfn, uint32_t offset, uint8_t value)
{
    /* What the frame must hold changed: its edges as last seen prove nothing now. */
    for (size_t i = 0; i < o->nwatched; i++)
        if (o->watched[i].pfn == pfn) o->watched[i].seen = false;
    if (o->nwrites == o->writes_cap) grow((void **)&o->writes, &o->writes_cap, sizeof *o->writes);
    o->writes[o->nwrites++] = (struct written){pfn, offset, value};
}

/* The value the program last wrote at [pfn, offset], or -1. */
static int written_at(const ff_oracle *o, ff_pfn pfn, uint32_t offset)
{
    for (size_t i = o->nwrites; i-- > 0;)
        if (o->writes[i].pfn == pfn && o->writes[i].offset == offset) return o->writes[i].value;
    return -1;
}

/* Whether frame p is watched and still held as handed out. */
static bool watching(const ff_oracle *o, ff_pfn p)
{
    return !(o->flags[p] & FR_TAINTED) && owner_of(o, p).watched && o->refs[p] && is_taken(o, p);
}

/* Bytes [from, to) of a watched frame must hold the poison it was handed out with
 * but for the program's writes. False after reporting the first byte that differs. */
static bool in_use_intact(ff_oracle *o, ff_pfn p, uint32_t from, uint32_t to, const char *when)
{
    if (!ff_space_maybe_written(o->space, p)) return true; /* pristine: nothing to compare */
    const unsigned char *mem = NULL;
    ff_pfn bad;
    uint32_t off = from;
    while (off < to && !ff_space_poison_intact(o->space, p, 1, off, to, &bad, &off)) {
        if (!mem) mem = ff_space_frame_mem((void *)o->space, p);
        int wrote = written_at(o, p, off);
        if (wrote < 0 || (uint8_t)wrote != mem[off]) {
            finding(o, FF_CLASS_INUSE_CORRUPTED,
                    "frame 0x%llx, held by the program since the allocation at 0x%llx, has "
                    "byte %u = 0x%02x, but %s 0x%02x there: someone else wrote it while it "
                    "was in use (seen %s)", (unsigned long long)p,
                    (unsigned long long)owner_of(o, p).head, off, mem[off],
                    wrote < 0 ? "it was handed out with poison" : "the program wrote",
                    wrote < 0 ? o->space->poison : (unsigned)wrote, when);
            return false;
        }
        off++;
    }
    return true;
}

void ff_oracle_drop_begin(ff_oracle *o, ff_pfn start, uint64_t count)
{
    if (!o->meta || o->dead || start >= o->top) return;
    ff_pfn end = count > o->top - start ? o->top : start + count;
    o->findings_at_event = o->nfindings;
    /* A frame no one touched since the reset holds its poison: only the others. */
    if (ff_meta_poisoning(o->meta))
        for (ff_pfn p = ff_space_next_maybe_written(o->space, start, end); p < end;
             p = ff_space_next_maybe_written(o->space, p + 1, end))
            if (watching(o, p) && !in_use_intact(o, p, 0, FF_FRAME_SIZE, "as the program dropped it"))
                break;
    if (!o->cpus) return;
    /* With CPUs the references go now: another CPU may be handed the frames before the
     * drop returns, and another drop of the same frames may end first. */
    shadow_touch_range(o, start, end, W_REFS);
    for (ff_pfn p = start; p < end; p++) o->refs[p] -= o->refs[p] != 0;
}

/* Edges as the last check passed them are intact still; anything else is checked byte
 * by byte against the poison and the program's writes, and remembered when it passes. */
static bool watched_edges_intact(ff_oracle *o, struct watched *w, const char *when)
{
    const unsigned char *mem = ff_space_touched_frame(o->space, w->pfn);
    if (mem && w->seen && memcmp(mem, w->edges, WATCH_EDGE_BYTES) == 0 &&
        memcmp(mem + FF_FRAME_SIZE - WATCH_EDGE_BYTES, w->edges + WATCH_EDGE_BYTES,
               WATCH_EDGE_BYTES) == 0)
        return true;
    if (!in_use_intact(o, w->pfn, 0, WATCH_EDGE_BYTES, when) ||
        !in_use_intact(o, w->pfn, FF_FRAME_SIZE - WATCH_EDGE_BYTES, FF_FRAME_SIZE, when))
        return false;
    w->seen = mem != NULL;
    if (mem) {
        memcpy(w->edges, mem, WATCH_EDGE_BYTES);
        memcpy(w->edges + WATCH_EDGE_BYTES, mem + FF_FRAME_SIZE - WATCH_EDGE_BYTES,
               WATCH_EDGE_BYTES);
    }
    return true;
}

/* The edges of every watched frame after a back-end call, forgetting those no longer
 * held. */
static void check_watched(ff_oracle *o, const char *when)
{
    /* A back-end that reached no frame's memory in this run wrote none: the frames are
     * only forgotten once no longer held. */
    bool examine = ff_meta_backend_reached_frames(o->meta);
    size_t keep = 0;
    o->watched_unpruned = false;
    for (size_t i = 0; i < o->nwatched; i++) {
        ff_pfn p = o->watched[i].pfn;
        /* Kept while handed out: the program takes its reference after the call. */
        if (!is_taken(o, p) || !owner_of(o, p).watched) continue;
        struct watched *w = &o->watched[keep++];
        if (w != &o->watched[i]) *w = o->watched[i];
        /* A frame no one touched since the reset holds its poison: nothing to compare. */
        if (examine && ff_space_maybe_written(o->space, p) && watching(o, p) &&
            !watched_edges_intact(o, w, when)) {
            /* one finding: the rest keep, unexamined and unpruned */
            o->watched_unpruned = true;
            while (++i < o->nwatched) o->watched[keep++] = o->watched[i];
            break;
        }
    }
    o->nwatched = keep;
}

bool ff_oracle_write(ff_oracle *o, ff_pfn pfn, uint32_t offset, uint8_t value)
{
    if (pfn >= o->top) return true;
    /* A write into a frame the program holds no reference to (or freed raw) is a use
     * after free by the program, and one into a frame it holds through from_unused
     * while the back-end holds it free writes the back-end's free memory: either way
     * this frame's poison no longer says anything about the back-end. Into a frame it
     * was handed, it is part of what the frame may hold. */
    if (!o->refs[pfn] || (o->flags[pfn] & (FR_TAINTED | FR_PHANTOM)))
        flags_set(o, pfn, FR_TAINTED);
    else if (owner_of(o, pfn).watched) note_write(o, pfn, offset, value);
    /* The allocator's own metadata frames: a write there is corruption of its
     * structures, which it cannot defend against. */
    if (kept_in(o, pfn, 1)) return false;
    /* The in-band bytes of a frame the back-end holds free are its own: overwriting
     * them tests how it survives memory corruption, which no allocator can promise,
     * not its logic. (A write past them still shows as corrupted poison.) */
    return is_taken(o, pfn) || offset >= o->policy.inband_bytes;
}

void ff_oracle_check(ff_oracle *o, const char *verdict)
{
    if (!verdict || !o->meta || o->dead) return;
    if (o->baseline && strcmp(verdict, o->baseline->check) == 0) return;
    finding(o, FF_CLASS_STRUCTURAL_CORRUPTION, "invariant walk: %s", verdict);
}

/* ---------------------------------------------------------------- end of run */

void ff_oracle_orphans(ff_oracle *o, void (*fn)(void *ctx, ff_pfn start, uint64_t count),
                       void *ctx)
{
    /* What is still out of that very hand-out goes back, wherever the block starts (a
     * hole, past RAM). Frames the program freed meanwhile (its own raw_free, a drop of
     * frames it held twice), or handed out there since, are not the block's any more:
     * a back-end that frees piecewise gets the block's runs still out; any other gets the
     * block only while all of its RAM is still out (else it is the program's mess). */
    for (size_t i = 0; i < o->norphans; i++) {
        const orphan *b = &o->orphans[i];
        if (b->start >= o->top || !orphan_out(o, b)) continue;
        o->giving_back = b;
        if (o->policy.free_rule != FF_FREE_PIECEWISE) {
            if (orphan_whole(o, b)) fn(ctx, b->start, b->count);
        } else {
            for (ff_pfn p = b->start; p < orphan_end(o, b);) {
                ff_pfn q = p;
                while (q < orphan_end(o, b) && own_frame(o, b, q)) q++;
                if (q > p) fn(ctx, p, q - p);
                p = q + 1;
            }
        }
        o->giving_back = NULL;
    }
}

void ff_oracle_leak_begin(ff_oracle *o)
{
    cpu_enter(o)->op = FF_OP_AT_END;
    o->leak_phase = true;
    if (o->dead) return;
    o->findings_at_event = o->nfindings;
    uint64_t out = o->space->usable_frames - o->kept_frames - o->shadow_free;
    if (!out) return;
    /* Frames the program's own misuse kept out (taint_taken) are not the back-end's loss.
     * Every taken frame lies in a word of the bitmap written in this run (the others
     * were cleared when it began): only those are looked at, whatever the map's size. */
    ff_pfn first = UINT64_MAX;
    uint64_t tainted = 0;
    for (size_t i = 0; i < o->taken_log.count; i++) {
        size_t w = o->taken_log.index[i];
        uint64_t bits = o->taken[w] & ~kept_bits(o, w), taint = 0;
        if (!bits) continue;
        /* A word at a time: a leak can hold every frame of a large map. */
        const uint8_t *flags = &o->flags[(ff_pfn)w * 64];
        unsigned n = o->top - (ff_pfn)w * 64 < 64 ? (unsigned)(o->top - (ff_pfn)w * 64) : 64;
        for (unsigned j = 0; j < n; j++) taint |= (uint64_t)((flags[j] & FR_TAINTED) != 0) << j;
        tainted += (uint64_t)__builtin_popcountll(bits & taint);
        bits &= ~taint;
        if (bits && (ff_pfn)w * 64 + (ff_pfn)__builtin_ctzll(bits) < first)
            first = (ff_pfn)w * 64 + (ff_pfn)__builtin_ctzll(bits);
    }
    out = out > tainted ? out - tainted : 0;
    if (out) {
        ff_pfn head = first < o->top ? owner_of(o, first).head : first;
        unsigned cache = first < o->top ? cache_holding(o, first) : FF_CPUS_MAX;
        char in_cache[48] = "";
        if (cache < FF_CPUS_MAX)
            snprintf(in_cache, sizeof in_cache, ", stranded in cpu%u's cache", cache);
        finding(o, FF_CLASS_LEAK,
                "with every handle dropped and every cache drained, %llu frames were never "
                "given back (first: 0x%llx, of the allocation at 0x%llx asking %llu and "
                "reserving %llu%s)",
                (unsigned long long)out, (unsigned long long)first, (unsigned long long)head,
                (unsigned long long)(head < o->top ? o->asked[head] : 0),
                (unsigned long long)(head < o->top ? o->granted[head] : 0), in_cache);
        /* The leak check below asks only for what the shadow holds free. */
    }
}
