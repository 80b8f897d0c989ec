/*
 * afl_main.c — the AFL++ engine glue: the same harness as every other engine, in
 * AFL++'s persistent mode (many inputs per process, read from shared memory), with
 * the expensive start-up done before the fork server starts. Build it with
 * afl-clang-fast (`make afl`); options as in harness.h, from the environment
 * (FRAMEFUZZ_TARGETS, ...) or --ff- flags after the target.
 */
#include <unistd.h> /* read(), used by the persistent-mode macros */

#include "harness.h"

#ifndef FF_DEFAULT_TARGETS
#error "build with -DFF_DEFAULT_TARGETS='\"name\"' (or '\"all\"' for the differential target)"
#endif

#ifndef __AFL_FUZZ_TESTCASE_LEN
#error "build with afl-clang-fast: this file uses AFL++'s persistent-mode macros"
#endif

__AFL_FUZZ_INIT();

int main(int argc, char **argv)
{
    ff_harness_init(argc, argv, FF_DEFAULT_TARGETS);
    __AFL_INIT();
    const unsigned char *input = __AFL_FUZZ_TESTCASE_BUF;
    while (__AFL_LOOP(100000)) ff_harness_run(input, (size_t)__AFL_FUZZ_TESTCASE_LEN);
    return 0;
}
