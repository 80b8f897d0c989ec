/*
 * e820.c — raw memory maps: the container, the boot-log parser, the file loader and
 * the printer.
 *
 * The parser reads what people paste: a Linux boot log (dmesg, dmesg with "<6>"
 * levels, journalctl), or the bare "[mem 0xSTART-0xEND] TYPE" / "0xSTART-0xEND TYPE"
 * form, one region per line, END inclusive. Logs of Linux 6.15 and later read the same:
 * their type words ("System RAM", "device reserved"), the size column between range and
 * type ("639 KB", "1.9 GB"; skipped) and their "[gap 0xSTART-0xEND]" lines (checked,
 * then dropped: a hole is what no entry covers). It works on one line at a time through a
 * cursor bounded by the line's end, so it never reads past the text. Every rejection
 * names the line and shows the text where the problem starts; a failed parse leaves
 * the map as it was.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "space.h"

/* ---------------------------------------------------------------- types */

const char *ff_mem_type_name(ff_mem_type type)
{
    static const char *const names[FF_MEM_TYPE_COUNT] = {
        "hole", "usable", "reserved", "ACPI data", "ACPI NVS", "unusable",
    };
    return (unsigned)type < FF_MEM_TYPE_COUNT ? names[type] : "?";
}

/* ---------------------------------------------------------------- the container */

void ff_e820_init(ff_e820_map *map) { *map = (ff_e820_map){0}; }

void ff_e820_free(ff_e820_map *map)
{
    free(map->entries);
    ff_e820_init(map);
}

bool ff_e820_add(ff_e820_map *map, uint64_t start, uint64_t size, ff_mem_type type)
{
    if (map->count == map->capacity) {
        size_t cap = map->capacity ? map->capacity * 2 : 16;
        if (cap > SIZE_MAX / sizeof(ff_e820_entry)) return false;
        ff_e820_entry *entries = realloc(map->entries, cap * sizeof *entries);
        if (!entries) return false;
        map->entries = entries;
        map->capacity = cap;
    }
    map->entries[map->count++] = (ff_e820_entry){start, size, type};
    return true;
}

/* ---------------------------------------------------------------- the parser */

/* How much of an offending line an error message quotes. */
#define QUOTE_MAX 40

typedef struct cursor {
    const char *p, *end; /* the unread rest of one line */
} cursor;

static inline bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }
static inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
static inline bool is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void skip_blanks(cursor *c)
{
    while (c->p < c->end && is_blank(*c->p)) c->p++;
}

/* Drops trailing blanks (and a DOS line's '\r'). */
static void trim_end(cursor *c)
{
    while (c->end > c->p && is_blank(c->end[-1])) c->end--;
}

static inline size_t remaining(const cursor *c) { return (size_t)(c->end - c->p); }

/* Consumes `lit` (case-sensitive) when the cursor starts with it. */
static bool take(cursor *c, const char *lit)
{
    size_t n = strlen(lit);
    if (remaining(c) < n || memcmp(c->p, lit, n) != 0) return false;
    c->p += n;
    return true;
}

/* Where `needle` first occurs in the cursor's text, or NULL. */
static const char *find(const cursor *c, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = c->p; (size_t)(c->end - p) >= n; p++)
        if (memcmp(p, needle, n) == 0) return p;
    return NULL;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* "0x" and hex digits, ending where a word would end. Leading zeros are free, but the
 * value must fit in 64 bits. */
static bool take_hex(cursor *c, uint64_t *value)
{
    if (!take(c, "0x") && !take(c, "0X")) return false;
    uint64_t v = 0;
    const char *digits = c->p;
    for (int d; c->p < c->end && (d = hex_digit(*c->p)) >= 0; c->p++) {
        if (v >> 60) return false;
        v = v << 4 | (uint64_t)d;
    }
    if (c->p == digits || (c->p < c->end && is_alnum(*c->p))) return false;
    *value = v;
    return true;
}

/* Decimal digits up to the end of the cursor, nothing else. */
static bool all_digits(const char *p, const char *end)
{
    if (p == end) return false;
    for (; p < end; p++)
        if (!is_digit(*p)) return false;
    return true;
}

/* Consumes one or more decimal digits. */
static bool take_digits(cursor *c)
{
    const char *digits = c->p;
    while (c->p < c->end && is_digit(*c->p)) c->p++;
    return c->p > digits;
}

/* The size column Linux 6.15+ prints between the range and the type (e820_print_size):
 * "639 KB", "1.9 GB", "12   GB" — digits, an optional fraction, blanks, a unit that
 * ends the word. It only repeats the range, rounded, so its value is not checked. On
 * failure the cursor is left where it was. */
static bool take_size(cursor *c)
{
    static const char *const units[] = {"B",  "KB",  "MB",  "GB",  "TB",
                                        "PB", "KiB", "MiB", "GiB", "TiB"};
    cursor t = *c;
    if (!take_digits(&t)) return false;
    if (take(&t, ".") && !take_digits(&t)) return false;
    skip_blanks(&t);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        size_t n = strlen(units[i]);
        if (remaining(&t) >= n && memcmp(t.p, units[i], n) == 0 &&
            (remaining(&t) == n || is_blank(t.p[n]))) {
            c->p = t.p + n;
            return true;
        }
    }
    return false;
}

/* The type words Linux prints (e820_print_type), exactly as it prints them, before
 * and since 6.15 ("System RAM", "device reserved", "persistent RAM (type N)"); types
 * it has no name for are reserved memory as far as an allocator is concerned. */
static bool parse_type(const cursor *c, ff_mem_type *type)
{
    static const struct {
        const char *word;
        ff_mem_type type;
    } words[] = {
        {"usable", FF_MEM_USABLE},     {"reserved", FF_MEM_RESERVED},
        {"ACPI data", FF_MEM_ACPI},    {"ACPI NVS", FF_MEM_NVS},
        {"unusable", FF_MEM_UNUSABLE}, {"soft reserved", FF_MEM_RESERVED},
        {"System RAM", FF_MEM_USABLE}, {"device reserved", FF_MEM_RESERVED},
        {"persistent RAM", FF_MEM_RESERVED},
    };
    size_t n = remaining(c);
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strlen(words[i].word) == n && memcmp(c->p, words[i].word, n) == 0) {
            *type = words[i].type;
            return true;
        }
    /* "type N", "persistent (type N)" and "persistent RAM (type N)" */
    cursor t = *c;
    if (take(&t, "persistent (") || take(&t, "persistent RAM (")) {
        if (remaining(&t) == 0 || t.end[-1] != ')') return false;
        t.end--;
    }
    if (!take(&t, "type ") || !all_digits(t.p, t.end)) return false;
    *type = FF_MEM_RESERVED;
    return true;
}

/* Writes "line N: what: <quoted text>" and returns false. */
static bool parse_error(char *err, size_t errlen, size_t line, const char *what, const char *at,
                        const char *end)
{
    if (!err || !errlen) return false;
    size_t n = (size_t)(end - at);
    if (n == 0)
        snprintf(err, errlen, "line %zu: %s: (end of line)", line, what);
    else
        snprintf(err, errlen, "line %zu: %s: %.*s%s", line, what, (int)(n < QUOTE_MAX ? n : QUOTE_MAX),
                 at, n > QUOTE_MAX ? "..." : "");
    return false;
}

/* Parses one line (no '\n'). Comments, the log's header, Linux's warning about an
 * unsorted table and gap lines add nothing; a gap line is checked all the same. */
static bool parse_line(ff_e820_map *map, cursor c, size_t line, char *err, size_t errlen)
{
    skip_blanks(&c);
    trim_end(&c);
    if (remaining(&c) == 0 || *c.p == '#') return true;
    if (find(&c, "BIOS-provided physical RAM map")) return true;
    /* e820__print_table's FW_BUG line among the entries (6.15+): the parser takes maps
     * in any order anyway. */
    if (find(&c, "[Firmware Bug]: out of order E820 entry")) return true;
    const char *tag = find(&c, "BIOS-e820:");
    if (tag) {
        c.p = tag + strlen("BIOS-e820:");
        skip_blanks(&c);
    }

    const char *range = c.p; /* quoted by messages about the range as a whole */
    bool gap = take(&c, "[gap"); /* 6.15+: the hole before the next entry */
    bool bracketed = gap || take(&c, "[mem");
    if (bracketed) skip_blanks(&c);
    uint64_t start, last;
    const char *at = c.p;
    bool looks_hex = remaining(&c) >= 2 && c.p[0] == '0' && (c.p[1] == 'x' || c.p[1] == 'X');
    if (!take_hex(&c, &start)) {
        if (!bracketed && !tag && !looks_hex)
            return parse_error(err, errlen, line,
                               "not a map line (want [mem 0xSTART-0xEND] TYPE)", at, c.end);
        return parse_error(err, errlen, line, "START is not a 64-bit 0x hex number", at, c.end);
    }
    skip_blanks(&c);
    if (!take(&c, "-"))
        return parse_error(err, errlen, line, "expected '-' after START", c.p, c.end);
    skip_blanks(&c);
    at = c.p;
    if (!take_hex(&c, &last))
        return parse_error(err, errlen, line, "END is not a 64-bit 0x hex number", at, c.end);
    if (bracketed) {
        skip_blanks(&c);
        if (!take(&c, "]"))
            return parse_error(err, errlen, line, "expected ']' after END", c.p, c.end);
    }
    if (start > last) return parse_error(err, errlen, line, "START is above END", range, c.end);
    if (start == 0 && last == UINT64_MAX)
        return parse_error(err, errlen, line, "range covers all 2^64 bytes", range, c.end);

    if (c.p < c.end && !is_blank(*c.p))
        return parse_error(err, errlen, line,
                           gap ? "expected a blank before SIZE" : "expected a blank before TYPE",
                           c.p, c.end);
    skip_blanks(&c);
    if (c.p < c.end && is_digit(*c.p)) { /* 6.15+: "639 KB", "1.9 GB" */
        if (!take_size(&c))
            return parse_error(err, errlen, line, "bad SIZE (want e.g. 639 KB or 1.9 GB)", c.p,
                               c.end);
        skip_blanks(&c);
    }
    if (gap) {
        if (remaining(&c) != 0)
            return parse_error(err, errlen, line, "a gap line takes only a SIZE", c.p, c.end);
        return true;
    }
    if (remaining(&c) == 0) return parse_error(err, errlen, line, "missing TYPE", range, c.end);
    ff_mem_type type;
    if (!parse_type(&c, &type)) return parse_error(err, errlen, line, "unknown TYPE", c.p, c.end);
    if (!ff_e820_add(map, start, last - start + 1, type))
        return parse_error(err, errlen, line, "out of host memory", range, c.end);
    return true;
}

bool ff_e820_parse(ff_e820_map *map, const char *text, char *err, size_t errlen)
{
    size_t before = map->count;
    size_t line = 1;
    for (const char *p = text;; line++) {
        const char *nl = strchr(p, '\n');
        cursor c = {p, nl ? nl : p + strlen(p)};
        if (!parse_line(map, c, line, err, errlen)) {
            map->count = before;
            return false;
        }
        if (!nl) return true;
        p = nl + 1;
    }
}

/* ---------------------------------------------------------------- files */

/* A memory map is a few kilobytes; anything this large is the wrong file. */
#define MAP_FILE_MAX (1u << 20)

bool ff_read_file(const char *path, size_t max, char **data, size_t *size, char *err,
                  size_t errlen)
{
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (err && errlen) snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return false;
    }
    char *buf = malloc(max + 1);
    if (!buf) {
        fclose(f);
        if (err && errlen) snprintf(err, errlen, "out of host memory reading %s", path);
        return false;
    }
    size_t n = fread(buf, 1, max + 1, f);
    int read_errno = errno;
    bool failed = ferror(f);
    fclose(f);
    if (failed || n > max) {
        if (err && errlen) {
            if (failed)
                snprintf(err, errlen, "cannot read %s: %s", path, strerror(read_errno));
            else
                snprintf(err, errlen, "%s is larger than %zu KiB", path, max >> 10);
        }
        free(buf);
        return false;
    }
    buf[n] = '\0';
    *data = buf;
    *size = n;
    return true;
}

bool ff_e820_load_file(ff_e820_map *map, const char *path, char *err, size_t errlen)
{
    char *buf;
    size_t n;
    if (!ff_read_file(path, MAP_FILE_MAX, &buf, &n, err, errlen)) return false;
    bool ok = false;
    if (memchr(buf, '\0', n)) {
        if (err && errlen) snprintf(err, errlen, "%s holds a NUL byte: not a text memory map", path);
    } else {
        ok = ff_e820_parse(map, buf, err, errlen);
    }
    free(buf);
    return ok;
}

void ff_e820_print(const ff_e820_map *map, FILE *out)
{
    for (size_t i = 0; i < map->count; i++) {
        const ff_e820_entry *e = &map->entries[i];
        /* An empty entry has no inclusive end to print; one past 2^64 ends at its top. */
        if (e->size == 0) continue;
        uint64_t last = e->size - 1 > UINT64_MAX - e->start ? UINT64_MAX : e->start + e->size - 1;
        fprintf(out, "BIOS-e820: [mem 0x%016llx-0x%016llx] %s\n", (unsigned long long)e->start,
                (unsigned long long)last, ff_mem_type_name(e->type));
    }
}
