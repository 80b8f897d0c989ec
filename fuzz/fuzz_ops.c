/*
 * fuzz_ops.c — libFuzzer target for the operation-sequence language itself (ops.h).
 *
 * framefuzz trusts its decoder and parser with every byte a fuzzer invents, and its
 * reproducers with every text a person writes, so both must be total and their round
 * trips exact. Each input is used three times:
 *
 *   as binary   decode -> encode gives B1; decode(B1) -> encode gives B1 again (the
 *               canonical form is a fixpoint); B1's program printed, parsed and
 *               encoded gives B1 again, and printing the parsed program reproduces
 *               the text (binary and text describe the same program).
 *   as binary with CPUs   the same, with the version byte and flag bit 6 set to ask
 *               for a cpus section (random bytes rarely spell it, and most seeds are
 *               sequential), so the tags and the schedule are checked on every input.
 *   as text     (up to the first NUL) when it parses, print -> parse -> print is a
 *               fixpoint and encode -> decode -> print gives the same text; when it
 *               does not, the error reads "line N: ...".
 *
 * A broken property prints one line naming it and aborts, so libFuzzer saves the
 * input. ASan and UBSan catch memory errors and undefined behaviour on the way;
 * every buffer and program is freed so LeakSanitizer sees no leak.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One contract broken: name it and stop, so libFuzzer keeps the input. */
static void broken(const char *property)
{
    fprintf(stderr, "fuzz_ops: property broken: %s\n", property);
    abort();
}

static inline void require(bool ok, const char *property)
{
    if (!ok) broken(property);
}

/* A host allocation failing is not a finding of the language: give up on the input. */
static inline void need_memory(bool ok)
{
    if (!ok) {
        fprintf(stderr, "fuzz_ops: out of host memory\n");
        abort();
    }
}

typedef struct bytes {
    uint8_t *data;
    size_t size;
} bytes;

typedef struct text {
    char *data;
    size_t size;
} text;

static bytes encode(const ff_program *p)
{
    bytes b = {0};
    need_memory(ff_program_encode(p, &b.data, &b.size));
    return b;
}

/* The canonical text of p, NUL-terminated, in a malloc'd buffer. */
static text print(const ff_program *p)
{
    text t = {0};
    FILE *out = open_memstream(&t.data, &t.size);
    need_memory(out != NULL);
    ff_program_print(p, out);
    need_memory(fclose(out) == 0 && t.data != NULL);
    return t;
}

static bool same_bytes(bytes a, bytes b)
{
    return a.size == b.size && (a.size == 0 || memcmp(a.data, b.data, a.size) == 0);
}

static bool same_text(text a, text b)
{
    return a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
}

/* Parses t into p, which the caller frees; the error is returned through err. */
static bool parse(ff_program *p, const char *t, char *err, size_t errlen)
{
    err[0] = '\0';
    return ff_program_parse(p, t, err, errlen);
}

static void check_binary(const uint8_t *data, size_t size)
{
    ff_program p, q, r;
    char err[256];

    need_memory(ff_program_decode(&p, data, size));
    bytes b1 = encode(&p);

    need_memory(ff_program_decode(&q, b1.data, b1.size));
    bytes b2 = encode(&q);
    require(same_bytes(b1, b2), "binary: encode(decode(encode(decode(x)))) == encode(decode(x))");
    free(b2.data);
    ff_program_free(&q);

    text t1 = print(&p);
    if (!parse(&r, t1.data, err, sizeof err)) {
        fprintf(stderr, "fuzz_ops: %s\n", err);
        broken("binary: the printed text of a decoded program parses");
    }
    bytes b3 = encode(&r);
    require(same_bytes(b1, b3), "binary: encode(parse(print(decode(x)))) == encode(decode(x))");
    text t2 = print(&r);
    require(same_text(t1, t2), "binary: print(parse(print(decode(x)))) == print(decode(x))");

    free(t2.data);
    free(b3.data);
    ff_program_free(&r);
    free(t1.data);
    free(b1.data);
    ff_program_free(&p);
}

/* Whether a text program can be said in binary: a fuzz preset (or custom regions) and a
 * backend line no longer than a binary name (ops.h). */
static bool has_binary_form(const ff_program *p)
{
    bool preset = !p->preset;
    for (size_t i = 0; i < ff_ops_fuzz_preset_count && !preset; i++)
        preset = strcmp(p->preset, ff_ops_fuzz_presets[i]) == 0;
    return preset && strlen(p->backend) < FF_OPS_NAME_MAX;
}

static void check_text(const uint8_t *data, size_t size)
{
    ff_program p, q, r;
    char err[256];

    /* A C string: the input up to its first NUL. */
    const uint8_t *nul = size ? memchr(data, 0, size) : NULL;
    size_t len = nul ? (size_t)(nul - data) : size;
    char *src = malloc(len + 1);
    need_memory(src != NULL);
    if (len) memcpy(src, data, len);
    src[len] = '\0';

    if (!parse(&p, src, err, sizeof err)) {
        require(strncmp(err, "line ", 5) == 0 && err[5] != '\0',
                "text: a parse error reads \"line N: ...\"");
        require(p.nops == 0 && p.ops == NULL, "text: a failed parse leaves no operations");
        free(src);
        return;
    }
    free(src);

    text t1 = print(&p);
    if (!parse(&q, t1.data, err, sizeof err)) {
        fprintf(stderr, "fuzz_ops: %s\n", err);
        broken("text: the printed text of a parsed program parses");
    }
    text t2 = print(&q);
    require(same_text(t1, t2), "text: print(parse(print(parse(x)))) == print(parse(x))");

    bytes b = encode(&p);
    need_memory(ff_program_decode(&r, b.data, b.size));
    text t3 = print(&r);
    require(!has_binary_form(&p) || same_text(t1, t3),
            "text: print(decode(encode(parse(x)))) == print(parse(x))");

    free(t3.data);
    ff_program_free(&r);
    free(b.data);
    free(t2.data);
    ff_program_free(&q);
    free(t1.data);
    ff_program_free(&p);
}

#define FLAG_CPUS 0x40 /* ops.h: flag bit 6, a cpus section follows (version 2) */

static void check_concurrent(const uint8_t *data, size_t size)
{
    size_t len = size < 2 ? 2 : size;
    uint8_t *copy = malloc(len);
    need_memory(copy != NULL);
    copy[0] = FF_OPS_VERSION_CPUS;
    copy[1] = (uint8_t)((size > 1 ? data[1] : 0) | FLAG_CPUS);
    if (size > 2) memcpy(copy + 2, data + 2, size - 2);
    check_binary(copy, len);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_binary(data, size);
    check_concurrent(data, size);
    check_text(data, size);
    return 0;
}
