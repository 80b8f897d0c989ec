/* split.h — TEST-ONLY: a header beside the plug-in, included as "split.h". */
#ifndef SPLIT_H
#define SPLIT_H
#include "backend.h"
/* In split_util.c, another file of the plug-in (--plugin-src). */
ff_status split_validate(const ff_alloc_req *req);
#endif
