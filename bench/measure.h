/*
 * measure.h — what the benchmark programs (bench.c, compare.c) measure with: a
 * monotonic clock in nanoseconds, an order for sorting runs to take their median, and
 * the fields of /proc/self/status (VmHWM = peak resident set, VmRSS = now, RssFile =
 * the part of it that maps files: program text and libraries) in KiB, or -1 where
 * the file or field does not exist.
 *
 * Two facts of Linux shape how a peak is read (ff_mem_sample): VmRSS is exact, but
 * the kernel records VmHWM only when memory is given back, from per-CPU counters that
 * can lag by a few hundred KiB; and code run for the first time faults in file pages
 * (64 KiB at a time), which are not memory anybody allocated. Writing "5" to
 * /proc/self/clear_refs restarts VmHWM at the current resident set.
 */
#ifndef FF_MEASURE_H
#define FF_MEASURE_H

#include <stdbool.h>
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

/* The resident set now, its recorded peak and its file-mapped part, in KiB (-1 each
 * where unknown), read in one pass over /proc/self/status. */
typedef struct ff_mem_sample {
    long rss, hwm, file;
} ff_mem_sample;

static inline ff_mem_sample ff_mem_sample_now(void)
{
    ff_mem_sample s = {-1, -1, -1};
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    if (!f) return s;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) s.rss = strtol(line + 6, NULL, 10);
        else if (strncmp(line, "VmHWM:", 6) == 0) s.hwm = strtol(line + 6, NULL, 10);
        else if (strncmp(line, "RssFile:", 8) == 0) s.file = strtol(line + 8, NULL, 10);
    }
    fclose(f);
    return s;
}

/* Restarts VmHWM at the current resident set; false where the kernel does not let it. */
static inline bool ff_mem_reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return false;
    bool ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

/* KiB the process added between two samples that nobody allocated as file pages: the
 * larger of the growth of the resident set and that of its recorded peak, each less
 * the file pages mapped meanwhile (they only grow, so at the peak there were at most
 * as many as now). The exact VmRSS wins unless memory was given back in between and
 * VmHWM caught a higher peak. -1 where a field is unknown. */
static inline long ff_mem_added_kib(ff_mem_sample before, ff_mem_sample now)
{
    if (before.rss < 0 || before.hwm < 0 || before.file < 0 || now.rss < 0 || now.hwm < 0 ||
        now.file < 0)
        return -1;
    long files = now.file - before.file;
    long by_rss = now.rss - before.rss - files, by_hwm = now.hwm - before.hwm - files;
    long added = by_rss > by_hwm ? by_rss : by_hwm;
    return added > 0 ? added : 0;
}

#endif
