/*
 * host_memory.h — what this process holds of the host's memory, for the benchmarks:
 * a field of /proc/self/status (VmHWM = peak resident set, VmRSS = now), in KiB, or
 * -1 where the file or field does not exist.
 */
#ifndef FF_HOST_MEMORY_H
#define FF_HOST_MEMORY_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline long ff_status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    size_t len = strlen(field);
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, len) == 0) kib = strtol(line + len, NULL, 10);
    fclose(f);
    return kib;
}

#endif
