/*
 * backend_fixture.h — one back-end instance under test, and the checks every
 * back-end's unit tests make of it. A test file defines OPS (the ff_backend_def under
 * test) before including this, and builds its own setup() on fixture_open(): whether
 * a fresh instance must pass check() is the back-end's business (bsa's does not).
 */
#ifndef FF_BACKEND_FIXTURE_H
#define FF_BACKEND_FIXTURE_H

#include <inttypes.h>
#include <string.h>

#include "backend.h"
#include "unit.h"

typedef struct fixture {
    ff_env env; /* no backing memory, no step budget unless a test sets one */
    void *b;
} fixture;

static inline void fixture_open(fixture *f, const ff_range *ranges, size_t n)
{
    memset(f, 0, sizeof *f);
    f->b = OPS->create(&f->env, ranges, n);
    CHECK(f->b != NULL);
}

static inline void teardown(fixture *f) { OPS->destroy(f->b); }

static inline uint64_t free_frames(fixture *f) { return OPS->free_frames(f->b); }

static inline ff_status alloc_in(fixture *f, uint64_t count, uint64_t align, ff_zone zone,
                                 ff_pfn *pfn)
{
    ff_alloc_req req = {.count = count, .align = align, .zone = zone};
    *pfn = ~(ff_pfn)0;
    return OPS->alloc(f->b, &req, pfn);
}

static inline void check_clean(fixture *f)
{
    const char *why = OPS->check(f->b);
    if (why) ff_test_fail(__FILE__, __LINE__, "check(): %s", why);
}

static inline void must_free(fixture *f, ff_pfn start, uint64_t count)
{
    ff_status st = OPS->free(f->b, start, count);
    if (st != FF_OK)
        ff_test_fail(__FILE__, __LINE__, "free(0x%" PRIx64 ", %" PRIu64 ") = %s", start, count,
                     ff_status_name(st));
}

/* A rejected free must answer `want` and change nothing observable. */
static inline void expect_rejected(fixture *f, ff_pfn start, uint64_t count, ff_status want)
{
    uint64_t before = free_frames(f);
    ff_status got = OPS->free(f->b, start, count);
    if (got != want)
        ff_test_fail(__FILE__, __LINE__, "free(0x%" PRIx64 ", %" PRIu64 ") = %s, want %s", start,
                     count, ff_status_name(got), ff_status_name(want));
    CHECK_EQ(free_frames(f), before);
    check_clean(f);
}

/* xorshift64: seeded, so every randomized test replays exactly. */
static inline uint64_t next_rand(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

#endif
