/*
 * harness.h — what every fuzzing engine calls: one function that runs an input's
 * bytes through the executor and the oracle, and crashes, from a site of its own per
 * bug class, when the oracle reports a root cause (never on its consequences). Engines (libFuzzer, AFL++, the
 * standalone replay driver) are thin mains around it.
 *
 * Options come from flags beginning with "--ff-" (libFuzzer ignores flags starting
 * with "--") or, for engines that own the command line, from the environment:
 *   --ff-targets=LIST    FRAMEFUZZ_TARGETS    back-ends (comma list or "all")
 *   --ff-semantics=S     FRAMEFUZZ_SEMANTICS  force asterinas-2024 or hardened
 *   --ff-poison=on|off   FRAMEFUZZ_POISON     force poisoning
 *   --ff-map=PRESET      FRAMEFUZZ_MAP        force the memory map (a preset)
 *   --ff-classes=LIST    FRAMEFUZZ_CLASSES    crash only on these classes (a first
 *                                             finding of another class ends that back-end's
 *                                             run; the other back-ends go on)
 *   --ff-mutator=on|off  FRAMEFUZZ_MUTATOR    the structure-aware mutator (libFuzzer)
 *   --ff-known=FILE      FRAMEFUZZ_KNOWN      signatures already found, one a line:
 *                                             not crashed on; that back-end's run ends
 *                                             there, since what follows is the known
 *                                             bug's consequence (a campaign adds to it
 *                                             as it triages, so later jobs look for new
 *                                             bugs)
 *   --ff-save-new=DIR    FRAMEFUZZ_SAVE_NEW   a new root cause does not crash: the input
 *                                             is written to DIR/finding-HASH (by rename,
 *                                             so no reader sees it half written), its
 *                                             signature is set aside like a known one,
 *                                             and the engine runs on (a campaign
 *                                             triages DIR as it goes; an engine restart
 *                                             per new bug is what this saves)
 *   --ff-bug=NAME        FRAMEFUZZ_BUG        switch an injected bug on (bugs.h) in the
 *                                             targets it lives in
 *   --ff-canary=FILE     FRAMEFUZZ_CANARY     append "reached T" and "triggered T" (T in
 *                                             seconds since the epoch) the first time
 *                                             this process reaches the bug's site and
 *                                             the first time the bug acts
 *   --ff-json=on|off     FRAMEFUZZ_JSON       the lines scripts read, as JSON after
 *                                             "==framefuzz== ": a finding (the object
 *                                             repro --json prints) and the sanitizer's
 *                                             death (a died event), shapes in verdict.h.
 *                                             Off: the same as prose, for people
 *   --ff-cpus=N          FRAMEFUZZ_CPUS       a benchmark's knob: every sequential input
 *                                             runs on N CPUs (1-8), its operations dealt
 *                                             round-robin, a switch to the next CPU at
 *                                             every other point (32 at most). A finding's
 *                                             text reproducer shows what ran; the raw
 *                                             input is the sequential program
 * FRAMEFUZZ_LIFELINE=FD: the read end of a pipe only a campaign writes to; the process
 * exits once that pipe is closed (the campaign died), checked every 4096 inputs.
 * A flag wins over the environment. A bad value prints one line and exits 2.
 */
#ifndef FF_HARNESS_H
#define FF_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>

/* Reads the options (argv may be NULL) over the built-in default target list. */
void ff_harness_init(int argc, char **argv, const char *default_targets);
/* Runs one input. Returns 0 (crashes instead on a finding). */
int ff_harness_run(const uint8_t *data, size_t size);
/* Whether the structure-aware mutator is on. */
bool ff_harness_mutator_on(void);

#endif
