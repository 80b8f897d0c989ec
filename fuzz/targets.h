/*
 * targets.h — what a program can run on: a registered back-end, with the injected bug
 * (bugs.h) its layer and back-end are built with. Below the executor (exec.c runs
 * targets, and checks the names a program records: ff_exec_check_backend); the
 * operation language only records names, and knows no target. Test programs add
 * targets of their own (tests/support: back-ends with deliberate flaws); the shipped
 * tools refuse those names like any unknown one.
 */
#ifndef FF_TARGETS_H
#define FF_TARGETS_H

#include <stdbool.h>
#include <stddef.h>

#include "backend.h"
#include "bugs.h"

/* What a program can run on: a back-end, and the injected bug (bugs.h) its layer and
 * back-end are built with: FF_BUG_NONE but for runs that switch a bug on
 * (ff_target_inject) and test targets whose flaw is in the layer. */
typedef struct ff_target {
    const char *name;
    const ff_backend_def *def;
    ff_bug bug;
    bool pcp; /* behind per-CPU caches (meta.h): named "pcp:NAME" */
} ff_target;

#define FF_PCP_PREFIX "pcp:"

/* A registered back-end, "pcp:" and one (that back-end behind per-CPU caches), or a
 * target the extension below knows. */
bool ff_target_find(const char *name, ff_target *target);
/* Whether a comma list names back-ends this build has in a combination it does not
 * model (caches in front of a back-end that locks itself), with the one-line reason. */
bool ff_target_refused(const char *list, char *err, size_t errlen);

/* Targets beyond the registered back-ends, looked up after them. Only test programs
 * install one (never listed to users, never in "all"). */
typedef bool ff_target_finder(const char *name, ff_target *target);
void ff_targets_extend(ff_target_finder *find);
/* Parses "a,b,c" (or "all": every registered back-end) into at most max targets.
 * False with a one-line reason naming the bad entry. */
bool ff_target_parse_list(const char *list, ff_target *targets, size_t max, size_t *n,
                          char *err, size_t errlen);

/* Switches `bug` on in the targets it lives in: its back-end, every target for a layer
 * bug, every pcp: target for a per-CPU cache bug. False with a one-line reason when none of the targets holds it. */
bool ff_target_inject(ff_target *targets, size_t n, ff_bug bug, char *err, size_t errlen);

#endif
