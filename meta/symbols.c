/*
 * symbols.c — frames and function names of a back-end call (contract in symbols.h).
 *
 * Unwinding uses the compiler runtime's _Unwind_Backtrace. Where the back-end's frames
 * end is found by name: the layer's functions that call into a back-end are never
 * inlined, so the first frame in one of them is the caller's.
 *
 * Names come from the object's ELF symbol table (.symtab, which holds static
 * functions too), read through a read-only mapping of the file and scanned linearly:
 * no heap is touched, so a crash handler may use it even when the crash came from a
 * corrupted heap. Objects are mapped once and stay mapped.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unwind.h>

#include "symbols.h"

/* ---------------------------------------------------------------- unwinding */

typedef struct walk {
    ff_frames *out;
    size_t skip;        /* frames still to leave out */
    uintptr_t start_pc; /* signal: leave out frames until this one; 0 otherwise */
} walk;

static _Unwind_Reason_Code on_frame(struct _Unwind_Context *ctx, void *arg)
{
    walk *w = arg;
    uintptr_t pc = _Unwind_GetIP(ctx);
    if (w->start_pc) {
        if (pc != w->start_pc) return _URC_NO_REASON;
        w->start_pc = 0;
    } else if (w->skip) {
        w->skip--;
        return _URC_NO_REASON;
    }
    if (!pc) return _URC_END_OF_STACK;
    w->out->pc[w->out->n++] = (void *)pc;
    return w->out->n == FF_FRAMES_MAX ? _URC_END_OF_STACK : _URC_NO_REASON;
}

__attribute__((noinline)) void ff_frames_capture(ff_frames *out)
{
    out->n = 0;
    walk w = {out, 1, 0}; /* 1: this function */
    _Unwind_Backtrace(on_frame, &w);
}

void ff_frames_capture_signal(ff_frames *out, const void *pc)
{
    out->n = 0;
    walk w = {out, 0, (uintptr_t)pc};
    _Unwind_Backtrace(on_frame, &w);
    if (out->n == 0 && pc) out->pc[out->n++] = (void *)pc; /* no unwind info: the pc alone */
}

static bool named_in(const char *name, const char *const *list)
{
    for (; list && *list; list++)
        if (strcmp(*list, name) == 0) return true;
    return false;
}

void ff_frames_cut(ff_frames *frames, const char *const *stop)
{
    for (size_t i = 0; i < frames->n; i++) {
        char name[128];
        if (ff_symbol_name(frames->pc[i], name, sizeof name) && named_in(name, stop)) {
            frames->n = i;
            return;
        }
    }
}

/* ---------------------------------------------------------------- objects */

typedef struct object {
    uintptr_t bias;   /* load address - link address */
    char path[256];
    bool system;      /* a system library */
    bool mapped;      /* the file was read (its symbol table may still be absent) */
    const Elf64_Sym *syms;
    size_t nsyms;
    const char *strtab;
    size_t strtab_size;
} object;

#define OBJECTS_MAX 32
static object objects[OBJECTS_MAX];
static size_t nobjects;

typedef struct lookup {
    uintptr_t pc;
    uintptr_t bias;
    const char *name;
    bool found;
} lookup;

static int find_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    lookup *l = arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (l->pc >= lo && l->pc < lo + ph->p_memsz) {
            l->bias = info->dlpi_addr;
            l->name = info->dlpi_name;
            l->found = true;
            return 1;
        }
    }
    return 0;
}

/* Maps the file and finds its .symtab and the string table it names. */
static void read_symbols(object *o)
{
    o->mapped = true;
    int fd = open(o->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st;
    void *map = MAP_FAILED;
    if (fstat(fd, &st) == 0 && st.st_size >= (off_t)sizeof(Elf64_Ehdr))
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return;
    size_t size = (size_t)st.st_size;
    const unsigned char *base = map;
    const Elf64_Ehdr *eh = map;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff > size ||
        eh->e_shnum > (size - eh->e_shoff) / sizeof(Elf64_Shdr))
        return;
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(base + eh->e_shoff);
    for (size_t i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum) continue;
        const Elf64_Shdr *str = &sh[sh[i].sh_link];
        if (sh[i].sh_offset > size || sh[i].sh_size > size - sh[i].sh_offset ||
            str->sh_offset > size || str->sh_size > size - str->sh_offset)
            return;
        o->syms = (const Elf64_Sym *)(base + sh[i].sh_offset);
        o->nsyms = sh[i].sh_size / sizeof(Elf64_Sym);
        o->strtab = (const char *)(base + str->sh_offset);
        o->strtab_size = str->sh_size;
        return;
    }
}

static bool is_system_path(const char *path)
{
    return strncmp(path, "/lib", 4) == 0 || strncmp(path, "/usr/lib", 8) == 0 || !*path ||
           strstr(path, "linux-vdso") != NULL;
}

static object *object_of(const void *pc)
{
    lookup l = {.pc = (uintptr_t)pc};
    if (!dl_iterate_phdr(find_object, &l) || !l.found) return NULL;
    /* The program itself has no name in the list: read it through /proc. */
    bool main_program = !l.name || !*l.name;
    for (size_t i = 0; i < nobjects; i++)
        if (objects[i].bias == l.bias) return &objects[i];
    if (nobjects == OBJECTS_MAX) return NULL;
    object *o = &objects[nobjects++];
    o->bias = l.bias;
    snprintf(o->path, sizeof o->path, "%s", main_program ? "/proc/self/exe" : l.name);
    o->system = !main_program && is_system_path(l.name);
    return o;
}

bool ff_symbol_in_system_library(const void *pc)
{
    const object *o = object_of(pc);
    return !o || o->system;
}

/* A compiler's copy of a function is named after it with a suffix no C identifier can
 * hold (gcc: .isra.0, .constprop.0, .part.0, .cold; clang: .llvm.N): the function's own
 * name is what comes before the first dot, so every compiler names a finding alike. */
static void cut_clone_suffix(char *name)
{
    char *dot = strchr(name, '.');
    if (dot && dot != name) *dot = 0;
}

bool ff_symbol_name(const void *pc, char *name, size_t len)
{
    object *o = object_of(pc);
    if (o && !o->mapped) read_symbols(o);
    uintptr_t at = (uintptr_t)pc - (o ? o->bias : 0);
    const Elf64_Sym *best = NULL;
    for (size_t i = 0; o && i < o->nsyms; i++) {
        const Elf64_Sym *s = &o->syms[i];
        if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || s->st_name >= o->strtab_size) continue;
        /* A return address may sit one past a noreturn call at the very end. */
        if (at >= s->st_value && at <= s->st_value + s->st_size && s->st_size) {
            best = s;
            if (at < s->st_value + s->st_size) break;
        }
    }
    if (best) {
        snprintf(name, len, "%s", o->strtab + best->st_name);
        cut_clone_suffix(name);
        return true;
    }
    Dl_info info;
    if (dladdr(pc, &info) && info.dli_sname) {
        snprintf(name, len, "%s", info.dli_sname);
        cut_clone_suffix(name);
        return true;
    }
    return false;
}

size_t ff_frames_describe(const ff_frames *frames, const char *const *ignore, size_t max,
                          const char *sep, char *buf, size_t len)
{
    size_t named = 0, used = 0;
    if (len) buf[0] = 0;
    for (size_t i = 0; i < frames->n && named < max; i++) {
        char name[128];
        if (ff_symbol_in_system_library(frames->pc[i]) ||
            !ff_symbol_name(frames->pc[i], name, sizeof name))
            continue;
        if (named_in(name, ignore)) continue;
        int k = snprintf(buf + used, len - used, "%s%s", named ? sep : "", name);
        if (k < 0 || (size_t)k >= len - used) break;
        used += (size_t)k;
        named++;
    }
    return named;
}
