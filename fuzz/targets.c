/*
 * targets.c — back-end names to targets (contract in targets.h).
 */
#include <stdio.h>
#include <string.h>

#include "broken.h"
#include "targets.h"

/* Test-only targets whose bug is in the layer, not the back-end: the correct broken-none
 * under a layer with the injected bug on. */
static const struct {
    const char *name;
    ff_bug bug;
} layer_fault_targets[] = {
    {"broken-refcount", FF_BUG_LAYER_FROM_UNUSED_OWNED},
    {"broken-slot", FF_BUG_LAYER_FREED_KEEPS_SLOT},
};

bool ff_target_find(const char *name, ff_target *target)
{
    const ff_backend_ops *ops = ff_backend_find(name);
    if (!ops) ops = ff_broken_find(name);
    if (ops) {
        *target = (ff_target){ops->name, ops, FF_BUG_NONE};
        return true;
    }
    for (size_t i = 0; i < sizeof layer_fault_targets / sizeof layer_fault_targets[0]; i++)
        if (strcmp(name, layer_fault_targets[i].name) == 0) {
            *target = (ff_target){layer_fault_targets[i].name, ff_broken_find("broken-none"),
                                  layer_fault_targets[i].bug};
            return target->ops != NULL;
        }
    return false;
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
        if (layer || strcmp(targets[i].ops->name, info->where) == 0) {
            targets[i].bug = bug;
            placed = true;
        }
    if (!placed) snprintf(err, errlen, "bug %s lives in %s, which is not among the targets",
                          info->name, info->where);
    return placed;
}
