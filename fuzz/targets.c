/*
 * targets.c — back-end names to targets (contract in targets.h).
 */
#include <stdio.h>
#include <string.h>

#include "targets.h"

/* Set only in test programs (tests/support): the shipped tools know the registered
 * back-ends alone. */
static ff_target_finder *extra_targets;

void ff_targets_extend(ff_target_finder *find) { extra_targets = find; }

bool ff_target_find(const char *name, ff_target *target)
{
    const ff_backend_def *def = ff_backend_find(name);
    if (def) {
        *target = (ff_target){def->name, def, FF_BUG_NONE};
        return true;
    }
    return extra_targets && extra_targets(name, target);
}

bool ff_target_parse_list(const char *list, ff_target *targets, size_t max, size_t *n, char *err,
                          size_t errlen)
{
    *n = 0;
    if (strcmp(list, "all") == 0) {
        for (size_t i = 0; i < ff_backend_count && *n < max; i++)
            targets[(*n)++] = (ff_target){ff_backends[i]->name, ff_backends[i], FF_BUG_NONE};
        return true;
    }
    const char *p = list;
    for (;;) {
        size_t len = strcspn(p, ",");
        char name[64];
        if (len == 0 || len >= sizeof name) {
            snprintf(err, errlen, "empty or overlong back-end name in '%s'", list);
            return false;
        }
        memcpy(name, p, len);
        name[len] = 0;
        if (*n == max) {
            snprintf(err, errlen, "more than %zu back-ends in '%s'", max, list);
            return false;
        }
        if (!ff_target_find(name, &targets[*n])) {
            int k = snprintf(err, errlen, "unknown back-end '%s' (valid:", name);
            for (size_t i = 0; i < ff_backend_count && k >= 0 && (size_t)k < errlen; i++)
                k += snprintf(err + k, errlen - (size_t)k, " %s", ff_backends[i]->name);
            if (k >= 0 && (size_t)k < errlen) snprintf(err + k, errlen - (size_t)k, ")");
            return false;
        }
        for (size_t i = 0; i < *n; i++)
            if (strcmp(targets[i].name, name) == 0) {
                snprintf(err, errlen, "back-end '%s' named twice", name);
                return false;
            }
        (*n)++;
        if (!p[len]) return true;
        p += len + 1;
    }
}

bool ff_target_inject(ff_target *targets, size_t n, ff_bug bug, char *err, size_t errlen)
{
    const ff_bug_info *info = ff_bug_info_of(bug);
    if (!info) return true; /* none: nothing to switch on */
    bool layer = strcmp(info->where, "layer") == 0, placed = false;
    for (size_t i = 0; i < n; i++)
        if (layer || strcmp(targets[i].def->name, info->where) == 0) {
            targets[i].bug = bug;
            placed = true;
        }
    if (!placed) snprintf(err, errlen, "bug %s lives in %s, which is not among the targets",
                          info->name, info->where);
    return placed;
}
