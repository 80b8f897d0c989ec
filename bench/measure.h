/*
 * measure.h — what the benchmark programs (bench.c, compare.c) measure with: a
 * monotonic clock in nanoseconds, an order for sorting runs to take their median, and
 * a field of /proc/self/status (VmHWM = peak resident set, VmRSS = now) in KiB, or -1
 * where the file or field does not exist.
 */
#ifndef FF_MEASURE_H
#define FF_MEASURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double ff_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* qsort order for doubles, ascending. */
static inline int ff_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

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
