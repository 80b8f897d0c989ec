/*
 * fftool.c — the C side of the `framefuzz` CLI. The Python CLI never re-implements
 * what the C side knows; it asks this tool.
 *
 *   fftool list [--json]                       back-ends and their policies, presets,
 *                                              metadata semantics
 *   fftool map PRESET|FILE [--linux-fixups] [--json]
 *                                              what framefuzz makes of a memory map
 *   fftool decode FILE                         a binary program (fuzz input) as text
 *   fftool encode FILE [-o OUT]                a text program as binary
 *
 * Exit codes: 0 success, 2 bad usage or bad input (one line on stderr).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "ops.h"

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("fftool: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

/* JSON string with the escapes our own names and summaries can need. */
static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') putchar('\\');
        putchar(*s);
    }
    putchar('"');
}

static const char *placement_name(ff_placement p)
{
    return p == FF_PLACE_POW2_NATURAL ? "pow2-natural" : "any-run";
}

static const char *rounding_name(ff_rounding r) { return r == FF_ROUND_POW2 ? "pow2" : "none"; }
static const char *free_rule_name(ff_free_rule f) { return f == FF_FREE_EXACT ? "exact" : "piecewise"; }
static const char *yes_no(bool b) { return b ? "yes" : "no"; }

static void human_size(uint64_t frames, char *buf, size_t len)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    double v = (double)frames * 4.0;
    unsigned u = 0;
    while (v >= 1024.0 && u < 3) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, len, v < 10 && v != (double)(uint64_t)v ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static bool build_preset(ff_space *space, const ff_preset *p)
{
    char err[160];
    return ff_space_init_preset(space, p->name, err, sizeof err);
}

static int cmd_list(bool json)
{
    if (json) printf("{\"backends\":[");
    else printf("Back-ends:\n");
    for (size_t i = 0; i < ff_backend_count; i++) {
        const ff_backend_ops *b = ff_backends[i];
        const ff_policy *p = &b->policy;
        if (json) {
            printf("%s{\"name\":", i ? "," : "");
            json_str(b->name);
            printf(",\"summary\":");
            json_str(b->summary);
            printf(",\"policy\":{\"placement\":\"%s\",\"rounding\":\"%s\",\"free_rule\":\"%s\","
                   "\"max_order\":%u,\"validates_frees\":%s,\"honours_zone\":%s,"
                   "\"honours_align\":%s,\"needs_backing\":%s,\"inband_bytes\":%u,"
                   "\"invariant_check\":%s}}",
                   placement_name(p->placement), rounding_name(p->rounding),
                   free_rule_name(p->free_rule), p->max_order, p->validates_frees ? "true" : "false",
                   p->honours_zone ? "true" : "false", p->honours_align ? "true" : "false",
                   p->needs_backing ? "true" : "false", p->inband_bytes,
                   b->check ? "true" : "false");
        } else {
            printf("  %-9s %s\n", b->name, b->summary);
            printf("  %-9s placement=%s rounding=%s frees=%s max-order=%u validates-frees=%s "
                   "zones=%s align=%s in-band=%u invariant-check=%s\n",
                   "", placement_name(p->placement), rounding_name(p->rounding),
                   free_rule_name(p->free_rule), p->max_order, yes_no(p->validates_frees),
                   yes_no(p->honours_zone), yes_no(p->honours_align), p->inband_bytes,
                   yes_no(b->check != NULL));
        }
    }
    if (json) printf("],\"presets\":[");
    else printf("\nMemory-map presets:\n");
    for (size_t i = 0; i < ff_preset_count; i++) {
        const ff_preset *p = &ff_presets[i];
        ff_space space;
        if (!build_preset(&space, p)) return usage_error("preset %s does not build", p->name);
        if (json) {
            printf("%s{\"name\":", i ? "," : "");
            json_str(p->name);
            printf(",\"summary\":");
            json_str(p->summary);
            printf(",\"usable_frames\":%llu,\"top_pfn\":%llu}",
                   (unsigned long long)space.usable_frames, (unsigned long long)space.top);
        } else {
            char size[32];
            human_size(space.usable_frames, size, sizeof size);
            printf("  %-9s %-10s %s\n", p->name, size, p->summary);
        }
        ff_space_destroy(&space);
    }
    if (json) printf("],\"semantics\":[");
    else printf("\nMetadata semantics:\n");
    for (int s = 0; s < FF_SEM_COUNT; s++) {
        if (json) {
            printf("%s{\"name\":", s ? "," : "");
            json_str(ff_semantics_name((ff_semantics)s));
            printf(",\"summary\":");
            json_str(ff_semantics_summary((ff_semantics)s));
            printf("}");
        } else {
            printf("  %-15s %s\n", ff_semantics_name((ff_semantics)s),
                   ff_semantics_summary((ff_semantics)s));
        }
    }
    printf(json ? "],\"metadata_bytes_per_frame\":%zu}\n" : "\nMetadata: %zu bytes per frame.\n",
           ff_meta_slot_bytes());
    return 0;
}

static int cmd_map(const char *what, bool fixups, bool json)
{
    char err[256];
    ff_space space;
    ff_space_opts opts = {.linux_fixups = fixups};
    if (ff_preset_find(what)) {
        if (fixups) return usage_error("--linux-fixups applies to map files, not presets");
        if (!ff_space_init_preset(&space, what, err, sizeof err)) return usage_error("%s", err);
    } else {
        ff_e820_map map;
        ff_e820_init(&map);
        bool ok = ff_e820_load_file(&map, what, err, sizeof err) &&
                  ff_space_init(&space, &map, &opts, err, sizeof err);
        ff_e820_free(&map);
        if (!ok) return usage_error("%s: %s", what, err);
    }
    if (json) {
        printf("{\"regions\":[");
        for (size_t i = 0; i < space.nregions; i++)
            printf("%s{\"start_pfn\":%llu,\"end_pfn\":%llu,\"type\":\"%s\"}", i ? "," : "",
                   (unsigned long long)space.regions[i].start,
                   (unsigned long long)space.regions[i].end,
                   ff_mem_type_name(space.regions[i].type));
        printf("],\"usable\":[");
        for (size_t i = 0; i < space.nusable; i++)
            printf("%s{\"start_pfn\":%llu,\"frames\":%llu,\"zone\":\"%s\"}", i ? "," : "",
                   (unsigned long long)space.usable[i].start,
                   (unsigned long long)space.usable[i].count,
                   ff_zone_name(ff_zone_of(space.usable[i].start)));
        printf("],\"usable_frames\":%llu,\"top_pfn\":%llu}\n",
               (unsigned long long)space.usable_frames, (unsigned long long)space.top);
    } else {
        char size[32];
        printf("Regions (whole frames, after normalisation):\n");
        for (size_t i = 0; i < space.nregions; i++) {
            const ff_region *r = &space.regions[i];
            human_size(r->end - r->start, size, sizeof size);
            printf("  [mem 0x%012llx-0x%012llx] %-10s %s\n",
                   (unsigned long long)(r->start << FF_FRAME_SHIFT),
                   (unsigned long long)((r->end << FF_FRAME_SHIFT) - 1), ff_mem_type_name(r->type),
                   size);
        }
        printf("Usable RAM by zone (what back-ends are given):\n");
        for (size_t i = 0; i < space.nusable; i++) {
            const ff_range *u = &space.usable[i];
            human_size(u->count, size, sizeof size);
            printf("  pfn 0x%09llx-0x%09llx %-6s %s\n", (unsigned long long)u->start,
                   (unsigned long long)(ff_range_end(*u) - 1), ff_zone_name(ff_zone_of(u->start)),
                   size);
        }
        human_size(space.usable_frames, size, sizeof size);
        printf("%llu usable frames (%s); top of map at pfn 0x%llx\n",
               (unsigned long long)space.usable_frames, size, (unsigned long long)space.top);
    }
    ff_space_destroy(&space);
    return 0;
}

/* Programs are at most FF_OPS_MAX operations: a few hundred KiB in either form. */
#define PROGRAM_FILE_MAX (4u << 20)

static int cmd_decode(const char *path)
{
    char err[256], *data;
    size_t size;
    if (!ff_read_file(path, PROGRAM_FILE_MAX, &data, &size, err, sizeof err))
        return usage_error("%s", err);
    ff_program prog;
    bool ok = ff_program_decode(&prog, (const uint8_t *)data, size);
    free(data);
    if (!ok) return usage_error("%s: host out of memory", path);
    printf("# decoded from %s (%zu bytes)\n", path, size);
    ff_program_print(&prog, stdout);
    ff_program_free(&prog);
    return 0;
}

static int cmd_encode(const char *path, const char *out_path)
{
    if (!out_path && isatty(STDOUT_FILENO))
        return usage_error("encode writes binary: name a file with -o FILE");
    char err[256], *text;
    size_t size;
    if (!ff_read_file(path, PROGRAM_FILE_MAX, &text, &size, err, sizeof err))
        return usage_error("%s", err);
    ff_program prog;
    bool parsed = !memchr(text, '\0', size) && ff_program_parse(&prog, text, err, sizeof err);
    if (!parsed && memchr(text, '\0', size)) snprintf(err, sizeof err, "holds a NUL byte: not a text program");
    free(text);
    if (!parsed) return usage_error("%s: %s", path, err);
    uint8_t *bin;
    size_t len;
    bool encoded = ff_program_encode(&prog, &bin, &len);
    ff_program_free(&prog);
    if (!encoded) return usage_error("%s: host out of memory", path);
    FILE *out = out_path ? fopen(out_path, "wb") : stdout;
    bool written = out && fwrite(bin, 1, len, out) == len;
    if (out && out != stdout) written = fclose(out) == 0 && written;
    free(bin);
    if (!written) return usage_error("cannot write %s", out_path ? out_path : "standard output");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("usage: fftool list [--json] | map PRESET|FILE [--linux-fixups] [--json] | "
                           "decode FILE | encode FILE [-o OUT]");
    bool json = false, fixups = false;
    const char *operand = NULL, *out_path = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = true;
        else if (strcmp(argv[i], "--linux-fixups") == 0) fixups = true;
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) out_path = argv[++i];
        else if (argv[i][0] == '-') return usage_error("unknown option %s", argv[i]);
        else if (!operand) operand = argv[i];
        else return usage_error("unexpected argument %s", argv[i]);
    }
    if (strcmp(argv[1], "list") == 0) {
        if (operand || fixups) return usage_error("list takes only --json");
        return cmd_list(json);
    }
    if (strcmp(argv[1], "map") == 0) {
        if (!operand) return usage_error("map needs a preset name or a map file");
        return cmd_map(operand, fixups, json);
    }
    if (strcmp(argv[1], "decode") == 0 || strcmp(argv[1], "encode") == 0) {
        if (!operand) return usage_error("%s needs a program file", argv[1]);
        if (json || fixups) return usage_error("%s takes only a file (and -o for encode)", argv[1]);
        if (argv[1][0] == 'd') {
            if (out_path) return usage_error("decode writes text to standard output; no -o");
            return cmd_decode(operand);
        }
        return cmd_encode(operand, out_path);
    }
    return usage_error("unknown command %s (commands: list, map, decode, encode)", argv[1]);
}
