/* registry.c — turns backends.def into the table of back-ends. A plug-in build adds
 * its own one-line table through FF_PLUGIN_DEF (a path to a .def file the build
 * writes), so a user's allocator joins without an edit to the tree. */
#include <string.h>

#include "backend.h"

#define FF_BACKEND(name) extern const ff_backend_def ff_backend_##name;
#include "backends.def"
#ifdef FF_PLUGIN_DEF
#include FF_PLUGIN_DEF
#endif
#undef FF_BACKEND

const ff_backend_def *const ff_backends[] = {
#define FF_BACKEND(name) &ff_backend_##name,
#include "backends.def"
#ifdef FF_PLUGIN_DEF
#include FF_PLUGIN_DEF
#endif
#undef FF_BACKEND
};

const size_t ff_backend_count = sizeof ff_backends / sizeof ff_backends[0];

const ff_backend_def *ff_backend_find(const char *name)
{
    for (size_t i = 0; i < ff_backend_count; i++)
        if (strcmp(ff_backends[i]->name, name) == 0) return ff_backends[i];
    return NULL;
}
