/*
 * minimize.h — operation-level delta debugging: the shortest program (ops.h) that
 * still shows a given finding.
 *
 * A candidate is kept when the finding's signature is still a root cause (exec.h) in
 * a keep-going run and comes no later among the root causes than before. So findings
 * that only precede it (already-known bugs a campaign ran past) are shed along with
 * the operations behind them, and the result replays with the finding first; a
 * candidate where it only follows from another finding does not count. Handles are
 * resolved modulo the live set, so every candidate is a meaningful program.
 *
 * Delta debugging after Zeller's ddmin, removing chunks only: cut the program into n
 * parts and try it without each; on success keep the smaller program and coarsen,
 * else double n, down to single operations; then remove single operations until none
 * can go. Then a concurrent program's CPUs and schedule are simplified while the finding
 * stays: without CPUs if it shows without them, else with each CPU's operations moved
 * onto a lower one where that keeps it, the schedule's entries removed one by one
 * from the end (each entry is at most one preemption), and the CPUs no operation uses
 * dropped. Deterministic: same input, same result.
 */
#ifndef FF_MINIMIZE_H
#define FF_MINIMIZE_H

#include "exec.h"

typedef struct ff_minimize_result {
    size_t runs;       /* programs executed */
    size_t ops_before, ops_after;
    unsigned cpus_before, cpus_after;       /* 0: sequential */
    size_t schedule_before, schedule_after; /* schedule bytes */
    size_t position;   /* index of the signature among the result's root causes (0 = first) */
} ff_minimize_result;

/* Minimises p for the finding `signature` ("class@backend") on the targets, with the
 * semantics and poison overrides of opts (its trace and callbacks are ignored). out
 * receives the result (free it with ff_program_free). Returns false, with a one-line
 * reason in err, when p does not show the finding or host memory runs out. */
bool ff_minimize(const ff_program *p, const ff_target *targets, size_t ntargets,
                 const ff_exec_opts *opts, const char *signature, ff_program *out,
                 ff_minimize_result *result, char *err, size_t errlen);

#endif
