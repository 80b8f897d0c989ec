/*
 * symbols.h — which code a back-end call was in: the frames of the back-end on the
 * stack when it hung, panicked or crashed, and the names of their functions. A hang
 * "in kfree_walk" and one "in buddy_split" are two bugs; "hang" alone would file them
 * as one.
 *
 * Frames are unwound from the call tables (.eh_frame) every C compiler emits on
 * x86-64, and named from the symbol table of the program or shared object holding
 * them, so a back-end's static functions have names too. A stripped object, or code
 * with no unwind tables, gives fewer frames or none: the finding stays, less precise.
 */
#ifndef FF_SYMBOLS_H
#define FF_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>

#define FF_FRAMES_MAX 32

typedef struct ff_frames {
    void *pc[FF_FRAMES_MAX]; /* innermost first */
    size_t n;
} ff_frames;

/* The frames on the stack, innermost first, leaving out this function itself. */
void ff_frames_capture(ff_frames *out);

/* The frames interrupted by a signal, starting at the interrupted instruction `pc`
 * (from the signal's context). For crash reports: called from a handler of a process
 * that is about to die. */
void ff_frames_capture_signal(ff_frames *out, const void *pc);

/* Cuts the frames at the first one in a function named in `stop` (a NULL-terminated
 * list): from there on they are the caller's, not the back-end's. */
void ff_frames_cut(ff_frames *frames, const char *const *stop);

/* The name of the function holding pc, from the symbol table of the object it lies
 * in (the dynamic symbols when the object is stripped), without a compiler's clone
 * suffix (spin.isra.0 is spin). False when none is known. */
bool ff_symbol_name(const void *pc, char *name, size_t len);

/* Whether pc lies in a system library (libc, the sanitizers' runtimes): frames there
 * say where the back-end called, not what it did. */
bool ff_symbol_in_system_library(const void *pc);

/* Up to `max` names of the back-end's own functions among frames (innermost first,
 * leaving out system libraries and the names in `ignore`, a NULL-terminated list, or
 * NULL), joined with `sep` into buf. Returns how many were named. */
size_t ff_frames_describe(const ff_frames *frames, const char *const *ignore, size_t max,
                          const char *sep, char *buf, size_t len);

#endif
