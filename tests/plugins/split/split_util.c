/* split_util.c — TEST-ONLY: the plug-in's second C file (--plugin-src). */
#include "split.h"
#include <split_config.h>

ff_status split_validate(const ff_alloc_req *req)
{
    uint64_t align = req->align > 1 ? req->align : 1;
    uint64_t largest = UINT64_C(1) << SPLIT_MAX_ORDER;
    if (req->count == 0 || req->count > largest || !ff_is_pow2(align) || align > largest ||
        (unsigned)req->zone >= FF_ZONE_COUNT)
        return FF_ERR_INVALID;
    return FF_OK;
}
