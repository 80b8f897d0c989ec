/*
 * replay_main.c — the standalone replay driver: the harness with no fuzzer runtime.
 * Runs each file given (a crash artifact, a corpus entry) exactly as a fuzzer would,
 * crashing from the same class site on a finding; the glue AFL++-built harnesses and
 * debuggers use. Options as in harness.h.
 *
 *   replay [--ff-OPTION=VALUE...] FILE...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "space.h"

#ifndef FF_DEFAULT_TARGETS
#define FF_DEFAULT_TARGETS "all"
#endif

int main(int argc, char **argv)
{
    ff_harness_init(argc, argv, FF_DEFAULT_TARGETS);
    int files = 0;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--ff-", 5) == 0) continue;
        if (argv[i][0] == '-') {
            fprintf(stderr, "replay: unknown option %s (options are --ff-NAME=VALUE)\n", argv[i]);
            return 2;
        }
        char err[256], *data;
        size_t size;
        if (!ff_read_file(argv[i], 4u << 20, &data, &size, err, sizeof err)) {
            fprintf(stderr, "replay: %s\n", err);
            return 2;
        }
        ff_harness_run((const uint8_t *)data, size);
        free(data);
        printf("clean: %s\n", argv[i]);
        files++;
    }
    if (!files) {
        fprintf(stderr, "replay: usage: replay [--ff-OPTION=VALUE...] FILE...\n");
        return 2;
    }
    return 0;
}
