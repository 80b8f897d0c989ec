/*
 * broken.h — TEST-ONLY back-ends with known flaws, to prove the oracle's checks fire.
 *
 * "broken-none" is a small, correct first-fit allocator (the control). Every other
 * entry is the same allocator with exactly one labelled flaw, one per bug class the
 * oracle must recognise (see broken.c for the list). They live in a registry of their
 * own and never in allocators/backends.def, and only programs that link broken.c (the
 * unit tests, build/test/fftool) can name them as targets: the shipped tools, the fuzz
 * targets and the differential runs never see them. Two more targets, broken-refcount
 * and broken-slot, run broken-none under a layer with an injected bug.
 *
 * broken-hang loops forever on purpose: whoever runs it must set env.step_budget and
 * env.on_hang.
 */
#ifndef FF_BROKEN_H
#define FF_BROKEN_H

#include "backend.h"

/* TEST-ONLY. Each entry is the base allocator with one labelled flaw. */
extern const ff_backend_def *const ff_broken_backends[];
extern const size_t ff_broken_backend_count;
const ff_backend_def *ff_broken_find(const char *name); /* NULL if unknown */

#endif
