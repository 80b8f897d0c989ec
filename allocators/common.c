/* common.c — names of the shared enums, the step-hook exit and host memory. */
#include <stdlib.h>
#include <sys/mman.h>

#include "backend.h"

const char *ff_zone_name(ff_zone zone)
{
    static const char *const names[FF_ZONE_COUNT] = {"DMA", "DMA32", "Normal"};
    return (unsigned)zone < FF_ZONE_COUNT ? names[zone] : "?";
}

const char *ff_status_name(ff_status status)
{
    static const char *const names[FF_STATUS_COUNT] = {
        "ok", "foreign", "double", "misaligned", "wrong-size", "invalid", "nomem", "unsupported",
    };
    return (unsigned)status < FF_STATUS_COUNT ? names[status] : "?";
}

_Noreturn void ff_step_exhausted(ff_env *env)
{
    /* A budget without a landing place is a harness bug, not a back-end one. */
    if (!env->on_hang) abort();
    longjmp(*env->on_hang, 1);
}

/* Below this size calloc is cheaper than a mapping; above it, lazily mapped memory
 * keeps per-frame arrays over huge spaces from costing what they do not use. */
#define FF_HOST_MMAP_MIN (256u << 10)

void *ff_host_zalloc(size_t bytes)
{
    if (bytes < FF_HOST_MMAP_MIN) return calloc(1, bytes ? bytes : 1);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void ff_host_free(void *p, size_t bytes)
{
    if (!p) return;
    if (bytes < FF_HOST_MMAP_MIN)
        free(p);
    else
        munmap(p, bytes);
}
