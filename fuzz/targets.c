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

/* "pcp:NAME" for each registered back-end, made once: a target's name outlives it. */
static const char *pcp_name(size_t index)
{
    static char names[64][64];
    if (index >= sizeof names / sizeof names[0]) return NULL;
    if (!names[index][0])
        snprintf(names[index], sizeof names[index], FF_PCP_PREFIX "%s", ff_backends[index]->name);
    return names[index];
}

bool ff_target_find(const char *name, ff_target *target)
{
    bool pcp = strncmp(name, FF_PCP_PREFIX, strlen(FF_PCP_PREFIX)) == 0;
    const char *base = pcp ? name + strlen(FF_PCP_PREFIX) : name;
    for (size_t i = 0; i < ff_backend_count; i++) {
        if (strcmp(ff_backends[i]->name, base) != 0) continue;
        /* A back-end that locks itself keeps its per-CPU state its own way: the layer's
         * caches are not modelled in front of it (pcp_refused says so). */
        if (pcp && ff_backends[i]->policy.locks_itself) return false;
        const char *full = pcp ? pcp_name(i) : ff_backends[i]->name;
        if (!full) return false;
        *target = (ff_target){full, ff_backends[i], FF_BUG_NONE, pcp};
        return true;
    }
    return extra_targets && extra_targets(name, target);
}

/* Whether name is "pcp:NAME" for a back-end that locks itself, with the one-line reason:
 * it keeps per-CPU state its own way, and the layer's caches are not modelled in front
 * of it. */
static bool pcp_refused(const char *name, char *err, size_t errlen)
{
    if (strncmp(name, FF_PCP_PREFIX, strlen(FF_PCP_PREFIX)) != 0) return false;
    const ff_backend_def *under = ff_backend_find(name + strlen(FF_PCP_PREFIX));
    if (!under || !under->policy.locks_itself) return false;
    snprintf(err, errlen, "'%s': %s locks itself and keeps per-CPU state of its own; name it "
                          "without " FF_PCP_PREFIX, name, under->name);
    return true;
}

bool ff_target_refused(const char *list, char *err, size_t errlen)
{
    char name[64];
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len < sizeof name) {
            memcpy(name, p, len);
            name[len] = 0;
            if (pcp_refused(name, err, errlen)) return true;
        }
        p += len + (p[len] == ',');
    }
    return false;
}

bool ff_target_parse_list(const char *list, ff_target *targets, size_t max, size_t *n, char *err,
                          size_t errlen)
{
    *n = 0;
    if (strcmp(list, "all") == 0) {
        for (size_t i = 0; i < ff_backend_count && *n < max; i++)
            targets[(*n)++] = (ff_target){ff_backends[i]->name, ff_backends[i], FF_BUG_NONE, false};
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
            if (pcp_refused(name, err, errlen)) return false;
            int k = snprintf(err, errlen, "unknown back-end '%s' (valid:", name);
            for (size_t i = 0; i < ff_backend_count && k >= 0 && (size_t)k < errlen; i++)
                k += snprintf(err + k, errlen - (size_t)k, " %s", ff_backends[i]->name);
            if (k >= 0 && (size_t)k < errlen)
                snprintf(err + k, errlen - (size_t)k, ", each maybe as " FF_PCP_PREFIX "NAME)");
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
    bool layer = strcmp(info->where, "layer") == 0, pcp = strcmp(info->where, "pcp") == 0;
    bool placed = false;
    for (size_t i = 0; i < n; i++)
        if (layer || (pcp && targets[i].pcp) ||
            (!pcp && strcmp(targets[i].def->name, info->where) == 0)) {
            targets[i].bug = bug;
            placed = true;
        }
    if (!placed)
        snprintf(err, errlen, "bug %s lives in %s, which is not among the targets", info->name,
                 pcp ? "per-CPU caches (a pcp:NAME target)" : info->where);
    return placed;
}
