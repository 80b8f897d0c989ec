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
 * framefuzz's JSON forms, all of them here, one object a line, field names stable
 * (scripts read these, never the prose lines beside them):
 *
 * A finding (fftool repro --json, minimize --json; the harness under --ff-json=on):
 *   {"event":"finding","file":F,"signature":S,"class":C,"backend":B,"state":T,
 *    "op":N|null,"where":"op N"|"at end"|"at start","message":M,"consequence":false,
 *    "fatal":false}   (fatal: the process died there, a crash or the time limit)
 * ("at start": while the back-end was built and its fresh state taken, before the
 * first operation). The harness prints it after "==framefuzz== " on stderr, with
 * "file":null (its input has no name there).
 * After each file repro replays, {"event":"verdict","file":F,"findings":N,"clean":bool}
 * (and "died":SIGNAL when the replay died there).
 * The harness's sanitizer death callback, under --ff-json=on, after "==framefuzz== ":
 *   {"event":"died","backend":B,"call":CALL|null,"op":N}   (null: outside any call)
 * fftool minimize --json, after the result's findings:
 *   {"event":"minimized","file":IN,"output":OUT,"signature":S,"ops_before":N,
 *    "ops_after":N,"cpus_before":N,"cpus_after":N,"schedule_before":N,
 *    "schedule_after":N,"runs":N,"first":bool}   (first: S is the result's first root
 *    cause; cpus 0: sequential; schedule in bytes)
 * fftool decode --json, the program as one object:
 *   {"file":F,"bytes":N,"form":"binary"|"text","backend":LIST|null,"bug":NAME|null,
 *    "semantics":S,"map":PRESET|"custom","regions":[{"start":B,"end":B,"type":T}],
 *    "poison":bool,"cpus":N,"schedule":{"mode":"direct"|"pct","bytes":[B...]},
 *    "directives":[LINE...],"operations":[{"op":KIND,"text":LINE,"cpu":K,"irq":bool,
 *    "irq_after":N,...}]}   (irq_after: an interrupt's only)
 *   cpus is 0 for a sequential program, which has no "schedule" and no operation
 *   "cpu" or "irq"; with cpus > 0 all three are there (the schedule's bytes as ops.h
 *   says, possibly none). directives are the canonical text's lines before the first
 *   operation and each operation's text its line (its cpuK or irqK tag included), so
 *   the directives and then the texts are the canonical program. Operands by kind
 *   (numbers; a region's end inclusive, in bytes):
 *   alloc count align zone (dma|dma32|normal|invalid); drop, clone handle; drop_piece
 *   handle offset count; from_unused, raw_free paddr count; from_in_use paddr count
 *   refs; write paddr value; check none.
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
