/*
 * split.c — TEST-ONLY plug-in built as real code is: from more than one C file
 * (--plugin-src split_util.c), a header beside it ("split.h") and one found through an
 * include path, with a macro from the command line
 * (--plugin-cflags='-Iinclude -DSPLIT_MAX_ORDER=4'). The allocator: single frames and
 * runs of at most 2^SPLIT_MAX_ORDER frames, first fit over a host byte per RAM frame,
 * frees by start (the count is ignored).
 */
#include <stdlib.h>
#include <string.h>

#include "split.h"
#include <split_config.h>

typedef struct split {
    ff_env *env;
    ff_runs ram;
    uint64_t *len; /* per RAM frame: at an allocation's start, its length; else 0 */
    uint8_t *used;
    uint64_t nfree;
} split;

static void *sp_create(ff_env *env, const ff_range *ranges, size_t n)
{
    split *s = calloc(1, sizeof *s);
    if (!s || !ff_runs_init(&s->ram, ranges, n)) {
        free(s);
        return NULL;
    }
    s->env = env;
    s->len = calloc(s->ram.frames + 1, sizeof *s->len);
    s->used = calloc(s->ram.frames + 1, 1);
    s->nfree = s->ram.frames;
    return s;
}

static void sp_destroy(void *self)
{
    split *s = self;
    ff_runs_destroy(&s->ram);
    free(s->len);
    free(s->used);
    free(s);
}

static ff_status sp_alloc(void *self, const ff_alloc_req *req, ff_pfn *start)
{
    split *s = self;
    ff_status st = split_validate(req);
    if (st != FF_OK) return st;
    uint64_t align = req->align > 1 ? req->align : 1;
    for (size_t r = 0; r < s->ram.count; r++) {
        const ff_run *run = &s->ram.run[r];
        for (ff_pfn p = (run->start + align - 1) / align * align;
             p < run->end && req->count <= run->end - p && p + req->count <= ff_zone_end(req->zone);
             p += align) {
            ff_step(s->env);
            uint64_t i = run->base + (p - run->start), k = 0;
            while (k < req->count && !s->used[i + k]) k++;
            if (k < req->count) continue;
            memset(&s->used[i], 1, req->count);
            s->len[i] = req->count;
            s->nfree -= req->count;
            *start = p;
            return FF_OK;
        }
    }
    return FF_ERR_NOMEM;
}

static ff_status sp_free(void *self, ff_pfn start, uint64_t count)
{
    (void)count; /* by address */
    split *s = self;
    const ff_run *run = ff_runs_find(&s->ram, start);
    if (!run) return FF_ERR_FOREIGN;
    uint64_t i = run->base + (start - run->start);
    if (!s->used[i]) return FF_ERR_DOUBLE;
    if (!s->len[i]) return FF_ERR_MISALIGNED;
    memset(&s->used[i], 0, s->len[i]);
    s->nfree += s->len[i];
    s->len[i] = 0;
    return FF_OK;
}

static uint64_t sp_free_frames(const void *self) { return ((const split *)self)->nfree; }

const ff_backend_def ff_backend_split = {
    .name = "split",
    .summary = "TEST-ONLY: a plug-in of two C files, two headers and command-line flags",
    .policy = {.placement = FF_PLACE_ANY_RUN, .rounding = FF_ROUND_NONE,
               .free_rule = FF_FREE_BY_ADDRESS, .max_order = SPLIT_MAX_ORDER,
               .validates_frees = true, .honours_zone = true, .honours_align = true},
    .create = sp_create,
    .destroy = sp_destroy,
    .alloc = sp_alloc,
    .free = sp_free,
    .free_frames = sp_free_frames,
};
