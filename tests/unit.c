/* unit.c — runs the registered tests; see unit.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"

static ff_test *tests_head, **tests_tail = &tests_head;
static jmp_buf test_exit;

void ff_test_register(ff_test *test)
{
    *tests_tail = test;
    tests_tail = &test->next;
}

_Noreturn void ff_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    printf("  %s:%d: ", file, line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    longjmp(test_exit, 1);
}

static int selected(const char *name, int nfilters, char **filters)
{
    if (nfilters == 0) return 1;
    for (int i = 0; i < nfilters; i++)
        if (strstr(name, filters[i])) return 1;
    return 0;
}

int main(int argc, char **argv)
{
    /* Live across setjmp: volatile, so a failed test's longjmp cannot clobber them. */
    volatile unsigned passed = 0, failed = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (ff_test *volatile t = tests_head; t; t = t->next) {
        if (!selected(t->name, argc - 1, argv + 1)) continue;
        if (setjmp(test_exit) == 0) {
            t->fn();
            printf("ok   %s\n", t->name);
            passed++;
        } else {
            printf("FAIL %s\n", t->name);
            failed++;
        }
    }
    printf("%u passed, %u failed\n", (unsigned)passed, (unsigned)failed);
    return failed ? 1 : 0;
}
