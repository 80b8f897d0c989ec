/*
 * unit.h — the unit-test runner's whole API.
 *
 *   FF_TEST(name) { CHECK(cond); CHECK_EQ(a, b); ... }
 *
 * Tests register themselves; `unit [FILTER...]` runs those whose name contains a
 * filter (all by default) and ends with the line "N passed, N failed".
 * A failed CHECK reports file:line and the expression, and ends that test.
 */
#ifndef FF_UNIT_H
#define FF_UNIT_H

#include <inttypes.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

typedef struct ff_test {
    const char *name;
    void (*fn)(void);
    struct ff_test *next;
} ff_test;

void ff_test_register(ff_test *test);
_Noreturn void ff_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define FF_TEST(name)                                                           \
    static void name(void);                                                     \
    static ff_test name##_entry = {#name, name, 0};                             \
    __attribute__((constructor)) static void name##_register(void)              \
    {                                                                           \
        ff_test_register(&name##_entry);                                        \
    }                                                                           \
    static void name(void)

#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond)) ff_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);      \
    } while (0)

/* Compares as unsigned 64-bit integers and prints both values on failure. */
#define CHECK_EQ(a, b)                                                          \
    do {                                                                        \
        uint64_t ff_a_ = (uint64_t)(a), ff_b_ = (uint64_t)(b);                  \
        if (ff_a_ != ff_b_)                                                     \
            ff_test_fail(__FILE__, __LINE__, "CHECK_EQ(%s, %s): %" PRIu64       \
                         " (0x%" PRIx64 ") != %" PRIu64 " (0x%" PRIx64 ")",     \
                         #a, #b, ff_a_, ff_a_, ff_b_, ff_b_);                   \
    } while (0)

#define CHECK_STREQ(a, b)                                                       \
    do {                                                                        \
        const char *ff_a_ = (a), *ff_b_ = (b);                                  \
        if (!ff_a_ || !ff_b_ || strcmp(ff_a_, ff_b_) != 0)                      \
            ff_test_fail(__FILE__, __LINE__, "CHECK_STREQ(%s, %s): \"%s\" != \"%s\"", \
                         #a, #b, ff_a_ ? ff_a_ : "(null)", ff_b_ ? ff_b_ : "(null)"); \
    } while (0)

#endif
