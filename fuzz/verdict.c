/*
 * verdict.c — findings of a replay as text or JSON lines, and the findings of a crash
 * or a time-out (contract in verdict.h).
 *
 * The handlers run in a process that is about to die. They use write(2) for output
 * and format into static buffers; naming frames reads symbol tables through mappings
 * (symbols.c), never the heap, since a crash may come from a corrupted one. An
 * alternate signal stack lets a stack overflow in the allocator be reported too.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "exec.h"
#include "symbols.h"
#include "verdict.h"

static struct {
    bool json, quiet;
    unsigned timeout_s;
    bool installed;
    const char *file;
    char first[FF_SIGNATURE_MAX + 32]; /* the file's first finding, "SIG op N" */
    size_t findings;
} verdict;

static char line[4096]; /* one output line; the handlers' too (they never return) */

static void put(const char *s)
{
    size_t n = strlen(s);
    while (n) {
        ssize_t k = write(STDOUT_FILENO, s, n);
        if (k <= 0) return;
        s += k;
        n -= (size_t)k;
    }
}

size_t ff_json_string(const char *s, char *buf, size_t len)
{
    size_t n = 0;
    if (len < 3) {
        if (len) buf[0] = 0;
        return 0;
    }
    buf[n++] = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8] = {(char)c, 0};
        if (c == '"' || c == '\\') snprintf(esc, sizeof esc, "\\%c", c);
        else if (c < 0x20) snprintf(esc, sizeof esc, "\\u%04x", c);
        size_t k = strlen(esc);
        if (n + k + 2 > len) break; /* room for the closing quote and the NUL */
        memcpy(buf + n, esc, k);
        n += k;
    }
    buf[n++] = '"';
    buf[n] = 0;
    return n;
}

/* "op N", "at end" or "at start", as verdicts write it. */
static void where_of(size_t op, char *buf, size_t len)
{
    if (op == FF_OP_AT_END) snprintf(buf, len, "at end");
    else if (op == FF_EXEC_AT_START) snprintf(buf, len, "at start");
    else snprintf(buf, len, "op %zu", op);
}

/* One finding as a JSON line into buf; file NULL is "file":null. */
static void json_finding(char *buf, size_t len, const char *file, const char *cls,
                         const char *backend, const char *state, size_t op, const char *message,
                         bool consequence, bool fatal)
{
    char sig[FF_SIGNATURE_MAX], qfile[600], qsig[2 * FF_SIGNATURE_MAX], qstate[256], qmsg[700],
        opnum[32], where[32];
    snprintf(sig, sizeof sig, "%s@%s%s%s", cls, backend, state[0] ? ":" : "", state);
    if (file) ff_json_string(file, qfile, sizeof qfile);
    else snprintf(qfile, sizeof qfile, "null");
    ff_json_string(sig, qsig, sizeof qsig);
    ff_json_string(state, qstate, sizeof qstate);
    ff_json_string(message, qmsg, sizeof qmsg);
    if (op == FF_OP_AT_END || op == FF_EXEC_AT_START) snprintf(opnum, sizeof opnum, "null");
    else snprintf(opnum, sizeof opnum, "%zu", op);
    where_of(op, where, sizeof where);
    snprintf(buf, len,
             "{\"event\":\"finding\",\"file\":%s,\"signature\":%s,\"class\":\"%s\",\"backend\":\"%s\","
             "\"state\":%s,\"op\":%s,\"where\":\"%s\",\"message\":%s,\"consequence\":%s,"
             "\"fatal\":%s}\n",
             qfile, qsig, cls, backend, qstate, opnum, where, qmsg, consequence ? "true" : "false",
             fatal ? "true" : "false");
}

void ff_finding_json(const ff_finding *f, const char *file, char *buf, size_t len)
{
    json_finding(buf, len, file, ff_class_name(f->cls), f->backend, f->state, f->op, f->detail,
                 f->consequence, false);
}

void ff_verdict_finding(const ff_finding *f)
{
    char sig[FF_SIGNATURE_MAX], where[32];
    ff_finding_signature(f, sig, sizeof sig);
    where_of(f->op, where, sizeof where);
    if (!verdict.first[0] && !f->consequence)
        snprintf(verdict.first, sizeof verdict.first, "%s %s", sig, where);
    verdict.findings++;
    if (!verdict.json) return;
    ff_finding_json(f, verdict.file ? verdict.file : "", line, sizeof line);
    put(line);
}

/* ---------------------------------------------------------------- dying */

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    case SIGFPE: return "SIGFPE";
    case SIGABRT: return "SIGABRT";
    case SIGTRAP: return "SIGTRAP";
    default: return "SIGALRM";
    }
}

/* The call in progress, as the trace writes calls. */
static void call_text(const ff_meta_call_site *c, char *buf, size_t len)
{
    if (c->call == FF_BCALL_ALLOC)
        snprintf(buf, len, "alloc(%llu, align %llu)", (unsigned long long)c->count,
                 (unsigned long long)c->align);
    else if (c->call == FF_BCALL_FREE)
        snprintf(buf, len, "free(0x%llx, %llu)", (unsigned long long)c->start,
                 (unsigned long long)c->count);
    else
        snprintf(buf, len, "%s()", ff_backend_call_name(c->call));
}

/* The finding of a death: a crash, or the alarm (sig == SIGALRM). */
static void report_death(int sig, const void *pc)
{
    const ff_meta_call_site *c = &ff_meta_current_call;
    bool in_call = c->active;
    const char *backend = in_call ? c->backend : ff_exec_current.target ? ff_exec_current.target : "?";
    size_t op = ff_exec_current.running ? ff_exec_current.op : FF_OP_AT_END;
    bool consequence = ff_exec_current.running && ff_exec_current.target_found;
    ff_frames frames;
    ff_frames_capture_signal(&frames, pc);
    if (in_call) ff_frames_cut(&frames, ff_meta_call_functions);
    char names[160], call[96], state[FF_SIGNATURE_MAX], message[512];
    call_text(c, call, sizeof call);
    const char *cls;
    if (sig != SIGALRM) {
        cls = "engine-crash";
        if (!ff_frames_describe(&frames, NULL, 3, ",", names, sizeof names))
            snprintf(names, sizeof names, "unknown");
        snprintf(state, sizeof state, "%s:%s:%s", in_call ? ff_backend_call_name(c->call) : "outside",
                 signal_name(sig), names);
        snprintf(message, sizeof message, "%s %s%s (functions on the stack: %s)", signal_name(sig),
                 in_call ? "in " : "outside any back-end call", in_call ? call : "", names);
    } else if (in_call) {
        cls = "hang";
        ff_frames_describe(&frames, NULL, 1, "", names, sizeof names);
        snprintf(state, sizeof state, "%s%s%s", ff_backend_call_name(c->call), names[0] ? ":" : "",
                 names);
        snprintf(message, sizeof message,
                 "%s %s did not return within %u s%s%s (a loop that never calls ff_step?)",
                 backend, call, verdict.timeout_s, names[0] ? " in " : "", names);
    } else {
        cls = "engine-timeout";
        state[0] = 0;
        snprintf(message, sizeof message,
                 "framefuzz itself, outside any back-end call, did not finish within %u s", verdict.timeout_s);
    }
    char where[32];
    where_of(op, where, sizeof where);
    if (verdict.json) {
        json_finding(line, sizeof line, verdict.file ? verdict.file : "", cls, backend, state, op,
                     message, consequence, true);
        put(line);
        char file[600];
        ff_json_string(verdict.file ? verdict.file : "", file, sizeof file);
        snprintf(line, sizeof line,
                 "{\"event\":\"verdict\",\"file\":%s,\"findings\":%zu,\"clean\":false,\"died\":\"%s\"}\n",
                 file, verdict.findings + 1, signal_name(sig));
        put(line);
        return;
    }
    char sig_text[FF_SIGNATURE_MAX];
    snprintf(sig_text, sizeof sig_text, "%s@%s%s%s", cls, backend, state[0] ? ":" : "", state);
    snprintf(line, sizeof line, "%s%s %s: %s\n", consequence ? "  .. then " : "  !! ", sig_text,
             where, message);
    if (!verdict.quiet) put(line);
    if (verdict.first[0] && consequence)
        snprintf(line, sizeof line, "verdict: %s; then %s %s  (%s)\n", verdict.first, sig_text, where,
                 verdict.file ? verdict.file : "?");
    else
        snprintf(line, sizeof line, "verdict: %s %s  (%s)\n", sig_text, where,
                 verdict.file ? verdict.file : "?");
    put(line);
}

static void on_death(int sig, siginfo_t *info, void *context)
{
    (void)info;
    const ucontext_t *uc = context;
    const void *pc = NULL;
#if defined(__x86_64__)
    pc = (const void *)uc->uc_mcontext.gregs[REG_RIP];
#else
    (void)uc;
#endif
    report_death(sig, pc);
    /* Die of the same signal, so whoever ran us sees how. */
    signal(sig, SIG_DFL);
    raise(sig);
}

void ff_verdict_install(bool json, bool quiet, unsigned timeout_s)
{
    verdict.json = json;
    verdict.quiet = quiet;
    verdict.timeout_s = timeout_s;
    if (verdict.installed) return;
    verdict.installed = true;
    static char alt[1 << 16];
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt};
    sigaltstack(&ss, NULL);
    struct sigaction sa = {.sa_sigaction = on_death, .sa_flags = SA_SIGINFO | SA_ONSTACK};
    sigemptyset(&sa.sa_mask);
    const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGALRM};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) sigaction(fatal[i], &sa, NULL);
    /* Load what unwinding and naming need now, not first in a dying process. */
    ff_frames warm;
    ff_frames_capture(&warm);
    char name[8];
    if (warm.n) ff_symbol_name(warm.pc[0], name, sizeof name);
}

void ff_verdict_begin(const char *file)
{
    verdict.file = file;
    verdict.first[0] = 0;
    verdict.findings = 0;
    if (verdict.timeout_s) alarm(verdict.timeout_s);
}

void ff_verdict_end(void)
{
    if (verdict.timeout_s) alarm(0);
    verdict.file = NULL;
}
