/*
 * minimize.c — operation-level delta debugging (contract in minimize.h).
 */
#include <stdlib.h>
#include <string.h>

#include "minimize.h"

typedef struct minimizer {
    ff_exec *x;
    const char *signature;
    size_t runs;
    ff_program candidate; /* reused: its ops point into the caller's array */
} minimizer;

/* Where the signature stands among the root causes of ops[0..n), or SIZE_MAX when it
 * is not one (absent, or only a consequence of another). */
static size_t position_of(minimizer *mz, const ff_op *ops, size_t n)
{
    mz->candidate.ops = (ff_op *)ops;
    mz->candidate.nops = n;
    mz->runs++;
    size_t found = ff_exec_run(mz->x, &mz->candidate), roots = 0;
    for (size_t i = 0; i < found; i++) {
        const ff_finding *f = ff_exec_finding(mz->x, i);
        if (f->consequence) continue;
        char sig[FF_SIGNATURE_MAX];
        ff_finding_signature(f, sig, sizeof sig);
        if (strcmp(sig, mz->signature) == 0) return roots;
        roots++;
    }
    return SIZE_MAX;
}

/* Concurrency, simplified while the finding stays: first without CPUs at all (a
 * sequential reproducer says the most), else each CPU's operations onto a lower CPU
 * (fewer tasks), then the schedule's entries one by one from the end (fewer
 * preemptions), then the CPUs no operation uses. Operations stay where they are. */
static void simplify_cpus(minimizer *mz, ff_op *ops, size_t n, size_t *best)
{
    ff_program *c = &mz->candidate;
    if (!c->ncpus) return;
    ff_op *tags = malloc((n ? n : 1) * sizeof *tags);
    if (!tags) return; /* host memory: the operations are minimal already */
    memcpy(tags, ops, n * sizeof *ops);
    ff_program saved = *c;
    c->ncpus = 0;
    for (size_t i = 0; i < n; i++) ops[i].cpu = 0, ops[i].irq = false, ops[i].irq_after = 0;
    size_t pos = position_of(mz, ops, n);
    if (pos <= *best) {
        *best = pos;
        free(tags);
        return;
    }
    *c = saved;
    memcpy(ops, tags, n * sizeof *ops);
    for (unsigned from = c->ncpus; from-- > 1;)
        for (unsigned to = 0; to < from; to++) {
            for (size_t i = 0; i < n; i++) ops[i].cpu = tags[i].cpu == from ? (uint8_t)to : tags[i].cpu;
            pos = position_of(mz, ops, n);
            if (pos <= *best) {
                *best = pos;
                memcpy(tags, ops, n * sizeof *ops);
                break;
            }
            memcpy(ops, tags, n * sizeof *ops);
        }
    /* One entry at a time, the last first: a DIRECT entry is two bytes, a PCT change
     * point one (its first ncpus bytes are the priorities). */
    size_t entry = c->sched_mode == FF_SCHED_DIRECT ? 2 : 1;
    size_t keep = c->sched_mode == FF_SCHED_DIRECT ? 0 : c->ncpus;
    for (size_t at = c->schedule_len; at >= keep + entry;) {
        at -= entry;
        ff_program before = *c;
        memmove(&c->schedule[at], &c->schedule[at + entry], c->schedule_len - at - entry);
        c->schedule_len -= entry;
        pos = position_of(mz, ops, n);
        if (pos <= *best)
            *best = pos;
        else
            *c = before;
    }
    unsigned used = 1;
    for (size_t i = 0; i < n; i++)
        if (ops[i].cpu + 1u > used) used = ops[i].cpu + 1u;
    if (used < c->ncpus) {
        unsigned was = c->ncpus;
        c->ncpus = used;
        pos = position_of(mz, ops, n);
        if (pos <= *best)
            *best = pos;
        else
            c->ncpus = was;
    }
    free(tags);
}

/* Copies ops without the chunk [from, to) into scratch; returns the count. */
static size_t without(const ff_op *ops, size_t n, size_t from, size_t to, ff_op *scratch)
{
    memcpy(scratch, ops, from * sizeof *ops);
    memcpy(scratch + from, ops + to, (n - to) * sizeof *ops);
    return n - (to - from);
}

bool ff_minimize(const ff_program *p, const ff_target *targets, size_t ntargets,
                 const ff_exec_opts *opts, const char *signature, ff_program *out,
                 ff_minimize_result *result, char *err, size_t errlen)
{
    ff_exec_opts xo = *opts;
    xo.keep_going = true;
    xo.trace = NULL;
    xo.on_finding = NULL;
    minimizer mz = {.x = ff_exec_create(targets, ntargets, &xo), .signature = signature,
                    .candidate = *p};
    size_t n = p->nops;
    ff_op *ops = malloc((n ? n : 1) * sizeof *ops);
    ff_op *scratch = malloc((n ? n : 1) * sizeof *scratch);
    if (!mz.x || !ops || !scratch) {
        snprintf(err, errlen, "host out of memory");
        goto fail;
    }
    memcpy(ops, p->ops, n * sizeof *ops);
    size_t best = position_of(&mz, ops, n);
    if (best == SIZE_MAX) {
        snprintf(err, errlen, "the program does not show %s as a root cause (absent, or only "
                              "following another finding on its back-end)", signature);
        goto fail;
    }
    *result = (ff_minimize_result){.ops_before = n, .cpus_before = p->ncpus,
                                   .schedule_before = p->schedule_len};

    /* ddmin: try removing each of `chunks` parts; on success keep the smaller program
     * and coarsen again; else refine until parts are single operations. */
    size_t chunks = 2;
    while (n >= 2) {
        size_t size = (n + chunks - 1) / chunks;
        bool reduced = false;
        for (size_t from = 0; from < n; from += size) {
            size_t to = from + size < n ? from + size : n;
            size_t m = without(ops, n, from, to, scratch);
            size_t pos = position_of(&mz, scratch, m);
            if (pos <= best) {
                memcpy(ops, scratch, m * sizeof *ops);
                n = m;
                best = pos;
                reduced = true;
                break;
            }
        }
        if (reduced) {
            chunks = chunks > 2 ? chunks - 1 : 2;
        } else if (size == 1) {
            break;
        } else {
            chunks = chunks * 2 < n ? chunks * 2 : n;
        }
    }
    /* A last pass of single removals: ddmin's result is 1-minimal only in the limit. */
    for (size_t i = 0; i < n;) {
        size_t m = without(ops, n, i, i + 1, scratch);
        size_t pos = position_of(&mz, scratch, m);
        if (pos <= best) {
            memcpy(ops, scratch, m * sizeof *ops);
            n = m;
            best = pos;
        } else {
            i++;
        }
    }

    simplify_cpus(&mz, ops, n, &best);

    *out = mz.candidate;
    out->ops = ops;
    out->nops = out->cap = n;
    if (!n) {
        free(ops);
        out->ops = NULL;
    }
    result->runs = mz.runs;
    result->ops_after = n;
    result->cpus_after = out->ncpus;
    result->schedule_after = out->schedule_len;
    result->position = best;
    free(scratch);
    ff_exec_destroy(mz.x);
    return true;
fail:
    free(ops);
    free(scratch);
    ff_exec_destroy(mz.x);
    return false;
}
