/*
 * workload.h — named, deterministic allocation workloads for `framefuzz compare`.
 *
 * A workload is a seeded trace of allocation requests and frees of earlier
 * allocations, the same for every back-end. Frees name allocations by their index in
 * the trace, so a trace replays on any back-end whatever blocks it hands out; a request
 * a back-end refuses simply has nothing to free later.
 */
#ifndef FF_WORKLOAD_H
#define FF_WORKLOAD_H

#include "backend.h"

typedef struct ff_wl_event {
    bool is_free;
    ff_alloc_req req; /* alloc */
    size_t target;    /* free: index of the alloc event it frees */
} ff_wl_event;

typedef struct ff_workload {
    ff_wl_event *ev;
    size_t n, cap;
    size_t measure_at; /* fragmentation is measured after this many events */
} ff_workload;

typedef struct ff_workload_info {
    const char *name, *summary;
} ff_workload_info;

extern const ff_workload_info ff_workloads[];
extern const size_t ff_workload_count;

/* Builds workload `name` (or "corpus:DIR", the replay of a fuzz corpus's allocations
 * and drops) for a space of usable_frames frames with the seed. False for an unknown
 * name, an unreadable or empty corpus, or host memory. */
bool ff_workload_build(ff_workload *w, const char *name, uint64_t usable_frames, uint64_t seed);
void ff_workload_free(ff_workload *w);

#endif
