/*
 * exec.h — the executor: runs a program (ops.h) on one back-end, or on several in
 * turn, through the metadata layer, with the oracle judging every answer.
 *
 * One run of a program on a target:
 *   1. the space for the program's map, the layer and the back-end are taken from a
 *      cache and reset (O(what the last run touched)), so a fuzzer's per-input cost
 *      is the input's own work;
 *   2. each operation goes through the layer; handles the program holds are kept in a
 *      table, and "hN" names the N-th live one, modulo how many are live;
 *   3. at the end every handle is dropped, blocks the layer refused to take are given
 *      back, and the leak check asks the back-end for all of its memory again.
 * One finding per root cause. The first finding on a target is the finding; what
 * follows on that target in the same run follows from it, and is marked a consequence
 * (shown with keep_going, never a signature of its own). A target's run stops at its
 * first finding unless keep_going is set, and always when the simulated system died
 * (a panic, a hang, a self-deadlock, the back-end's own panic). A first finding the
 * caller sets aside (on_finding returns false: a campaign's known bug) stops that
 * target only; the other targets still run.
 *
 * Differential mode (several targets): the same program runs on each target, and
 * afterwards answers that contracts say must agree are compared, operation by
 * operation: raw frees whose shadow classification is the same on validating
 * back-ends with the same free rule, and requests every policy calls malformed. A
 * refusal that gives no reason (FF_ERR_REJECTED) agrees with every refusal. A
 * target's answers count only before its first finding. A target answering otherwise
 * than the majority is reported as a divergence.
 *
 * Deterministic: the same program gives the same findings and the same trace, on any
 * engine, whatever ran before.
 */
#ifndef FF_EXEC_H
#define FF_EXEC_H

#include <stdio.h>

#include "oracle.h"
#include "ops.h"
#include "targets.h"

typedef struct ff_exec_opts {
    int semantics;       /* -1: as the program says, else an ff_semantics */
    int poison;          /* -1: as the program says, else 0 or 1 */
    const char *map;     /* NULL: as the program says, else a preset name (ff_preset_find) */
    bool keep_going;     /* run past findings (reproduction); else stop at the first */
    FILE *trace;         /* the operation trace, or NULL (fuzzing: no formatting) */
    /* Called for each finding as it is made (consequences too, marked); may not return
     * (a fuzzer's abort). For a first finding, false sets it aside: it does not end
     * the run for the other targets. NULL: every first finding counts. */
    bool (*on_finding)(void *ctx, const ff_finding *f);
    void *ctx;
    /* Called with true before a target is made ready for a run (machines of other maps
     * torn down to make room, its back-end built or reset, its baseline taken) and with
     * false after: the code that runs there takes paths set by earlier runs, not by the
     * program. NULL: nothing. */
    void (*preparing)(bool begin);
} ff_exec_opts;

typedef struct ff_exec ff_exec;

/* FNV-1a over n bytes, continuing from h (FF_FNV_START to begin): names saved inputs,
 * keys cached maps. Not for adversaries. */
#define FF_FNV_START UINT64_C(0xcbf29ce484222325)
static inline uint64_t ff_fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * UINT64_C(0x100000001b3);
    return h;
}

/* The check the language leaves to whoever runs a program: whether its backend line
 * names targets of this build (ff_target_parse_list), made before the program is run,
 * printed or encoded. A text program naming any other is an error: false, with
 * "line N: unknown backend: NAME" in err. A binary program's name that names none
 * (fuzzer bytes, a plug-in this build lacks) is dropped, so the program runs as one
 * naming no back-end and a crash input always replays. */
bool ff_exec_check_backend(ff_program *p, char *err, size_t errlen);

/* NULL on host memory. The targets are copied. */
ff_exec *ff_exec_create(const ff_target *targets, size_t ntargets, const ff_exec_opts *opts);
void ff_exec_destroy(ff_exec *x);

/* Runs p on every target; returns the number of findings (also retrievable below).
 * A map that cannot be built is reported in the trace and runs nothing. */
size_t ff_exec_run(ff_exec *x, const ff_program *p);
size_t ff_exec_finding_count(const ff_exec *x);
const ff_finding *ff_exec_finding(const ff_exec *x, size_t i);

/* What the executor is running, process-wide, for a crash or time-out report (with
 * ff_meta_current_call): a signal handler may read it. */
typedef struct ff_exec_position {
    volatile bool running;
    const char *target; /* the target's name */
    volatile size_t op; /* operation index, FF_OP_AT_END, or FF_EXEC_AT_START while the
                           back-end is built and its baseline taken */
    volatile bool target_found; /* the running target has had its first finding */
} ff_exec_position;

#define FF_EXEC_AT_START (FF_OP_AT_END - 1)

extern ff_exec_position ff_exec_current;

#endif
