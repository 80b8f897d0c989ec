/*
 * verdict.h — how a replay reports findings: as the trace's text lines, or as JSON
 * lines a script reads (one object per finding, as it is made), including the two
 * findings the oracle cannot make because the allocator never answered:
 *
 *   engine-crash  the process got a fatal signal (a wild pointer, an abort in the
 *                 allocator or in the C library under it). The signature names the
 *                 back-end call, the signal and up to three of the back-end's own
 *                 functions on the stack: engine-crash@NAME:free:SIGSEGV:kfree,kmem_put.
 *                 A crash outside any back-end call says "outside" instead of a call.
 *   hang          a back-end call did not return within the wall-clock limit (a loop
 *                 that never calls ff_step): hang@NAME:CALL:FUNCTION, as a step-budget
 *                 hang is named. When framefuzz itself, not a back-end call, outlives the
 *                 limit, it is engine-timeout@NAME.
 *
 * Either is a consequence when the back-end already had a finding in this run (the
 * root cause). Output is written line by line with write(2), so nothing is lost in a
 * buffer when the process dies.
 *
 * JSON line of a finding (stable fields):
 *   {"event":"finding","file":F,"signature":S,"class":C,"backend":B,"state":T,
 *    "op":N|null,"where":"op N"|"at end"|"at start","message":M,"consequence":false,
 *    "fatal":false}   (fatal: the process died there, a crash or the time limit)
 * ("at start": while the back-end was built and its fresh state taken, before the
 * first operation).
 * and after each file, {"event":"verdict","file":F,"findings":N,"clean":bool}.
 * The fuzzing harness prints the same finding object under --ff-json=on (harness.h),
 * after "==framefuzz== ", with "file":null (its input has no name there).
 */
#ifndef FF_VERDICT_H
#define FF_VERDICT_H

#include <stdbool.h>

#include "oracle.h"

/* Installs the fatal-signal and alarm handlers (once per process). json: JSON lines
 * instead of text; quiet: the verdict line alone. timeout_s: the wall-clock limit per
 * program file, 0 for none. */
void ff_verdict_install(bool json, bool quiet, unsigned timeout_s);

/* Brackets the replay of one file: arms the time limit, forgets the last file's root
 * causes. */
void ff_verdict_begin(const char *file);
void ff_verdict_end(void);

/* Reports a finding the executor made (as its on_finding callback does): in JSON mode
 * prints its line; always remembers the first finding for a crash's verdict. */
void ff_verdict_finding(const ff_finding *f);

/* A finding's JSON line (the shape above, with its newline) into buf, as repro --json
 * and the harness's --ff-json print it; file NULL gives "file":null. */
void ff_finding_json(const ff_finding *f, const char *file, char *buf, size_t len);

/* Writes `s` as a JSON string (quoted, escaped) into buf; returns the length, or
 * stops short at len - 1. */
size_t ff_json_string(const char *s, char *buf, size_t len);

#endif
