/*
 * bugs.c — the injected-bug table and its canaries (contract in bugs.h).
 */
#include <string.h>

#include "bugs.h"

static const ff_bug_info bug_table[FF_BUG_COUNT] = {
    [FF_BUG_NONE] = {"none", "", "", "no injected bug"},
#define FF_BUG_ROW(id, name, where, expect, summary) [FF_BUG_##id] = {name, where, expect, summary},
    FF_BUG_LIST(FF_BUG_ROW)
#undef FF_BUG_ROW
};

/* Process-wide, like the heap: framefuzz is single-threaded (bugs.h). */
static ff_canary canaries[FF_BUG_COUNT];

const ff_bug_info *ff_bug_info_of(ff_bug bug)
{
    return bug > FF_BUG_NONE && bug < FF_BUG_COUNT ? &bug_table[bug] : NULL;
}

bool ff_bug_parse(const char *name, ff_bug *bug)
{
    for (int b = FF_BUG_NONE; b < FF_BUG_COUNT; b++)
        if (strcmp(bug_table[b].name, name) == 0) {
            *bug = (ff_bug)b;
            return true;
        }
    return false;
}

ff_canary ff_bug_canary(ff_bug bug)
{
    return bug > FF_BUG_NONE && bug < FF_BUG_COUNT ? canaries[bug] : (ff_canary){0};
}

void ff_bug_canary_reset(void)
{
    memset(canaries, 0, sizeof canaries);
}

bool ff_bug_site(ff_bug bug, bool acts)
{
    canaries[bug].reached++;
    canaries[bug].triggered += acts;
    return acts;
}
