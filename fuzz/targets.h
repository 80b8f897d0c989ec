/*
 * targets.h — what a program can run on: a registered back-end, or a test-only broken
 * one, with the injected bug (bugs.h) its layer and back-end are built with. Below the
 * executor (exec.c runs targets, and checks the names a program records:
 * ff_exec_check_backend); the operation language only records names, and knows no
 * target.
 */
#ifndef FF_TARGETS_H
#define FF_TARGETS_H

#include <stdbool.h>
#include <stddef.h>

#include "backend.h"
#include "bugs.h"

/* What a program can run on: a back-end, and the injected bug (bugs.h) its layer and
 * back-end are built with: FF_BUG_NONE but for the test-only layer targets and runs
 * that switch a bug on (ff_target_inject). */
typedef struct ff_target {
    const char *name;
    const ff_backend_ops *ops;
    ff_bug bug;
} ff_target;

/* A registered back-end or a test-only broken target (never listed to users). */
bool ff_target_find(const char *name, ff_target *target);
/* Parses "a,b,c" (or "all": every registered back-end) into at most max targets.
 * False with a one-line reason naming the bad entry. */
bool ff_target_parse_list(const char *list, ff_target *targets, size_t max, size_t *n,
                          char *err, size_t errlen);

/* Switches `bug` on in the targets it lives in: its back-end, or every target for a
 * layer bug. False with a one-line reason when none of the targets holds it. */
bool ff_target_inject(ff_target *targets, size_t n, ff_bug bug, char *err, size_t errlen);

#endif
