"""framefuzz — fuzz and differentially test physical frame allocators.

The command-line front end (the root script `framefuzz` calls main). It builds what it
needs, runs the C tools and reports what they say; every verdict and every fact about
back-ends, presets and semantics comes from the C side (build/fftool), never from here.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from cli import bugs, campaign, compare, plugin, report
from cli.build import Build
from cli.events import HARNESS_JSON, fftool_events, harness_events


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit code 2."""

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def run_fftool(build, args):
    build.make_or_exit(build.fftool)
    return subprocess.run([build.fftool, *args]).returncode


def cmd_list(opts, build):
    return run_fftool(build, ["list"] + (["--json"] if opts.json else []))


def cmd_map(opts, build):
    args = ["map", opts.map]
    if opts.linux_fixups:
        args.append("--linux-fixups")
    if opts.json:
        args.append("--json")
    return run_fftool(build, args)


def cmd_decode(opts, build):
    # Binary always, as this command has always read its file.
    return run_fftool(build, ["decode", "--binary"] + (["--json"] if opts.json else []) +
                      ["--", opts.file])


def cmd_encode(opts, build):
    return run_fftool(build, ["encode", opts.file] + (["-o", opts.output] if opts.output else []))


def replay_options(opts):
    """fftool's options for what a replay runs on and with, as repro and minimize share
    them (a campaign's --default-backend and --map come from its campaign.json)."""
    args = []
    for flag, value in (("--default-backend", getattr(opts, "default_backend", None)),
                        ("--backend", opts.backend), ("--semantics", opts.semantics),
                        ("--poison", opts.poison), ("--map", getattr(opts, "map", None)),
                        ("--bug", opts.bug)):
        if value:
            args += [flag, value]
    if opts.binary:
        args.append("--binary")
    return args


def cmd_repro(opts, build):
    # What the replay runs on and with; then how it reports.
    replay = replay_options(opts)
    if opts.keep_going:
        replay.append("--keep-going")
    if opts.timeout is not None:
        replay += ["--timeout", str(opts.timeout)]
    args = ["repro", *replay]
    for flag, on in (("--quiet", opts.quiet), ("--json", opts.json), ("--expect", opts.expect)):
        if on:
            args.append(flag)
    if opts.json or opts.expect:
        return run_fftool(build, args + ["--"] + opts.files)
    build.make_or_exit(build.fftool)
    # The output streams through as it comes (a crash may cut it short).
    proc = subprocess.Popen([build.fftool, *args, "--", *opts.files], stdout=subprocess.PIPE,
                            text=True, errors="replace", bufsize=1)
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
    rc = proc.wait()
    # Died of a signal other than the time limit's: a file crashed the allocator.
    crashed = crashed_file(build, replay, opts.files) if rc < 0 and rc != -signal.SIGALRM \
        else None
    for path in opts.files:
        if opts.sanitize or path == crashed or sanitizer_finding(path):
            sanitized_replay(path, opts, build)
    return rc


def crashed_file(build, replay, files):
    """The file whose replay crashed the allocator (fftool died of it, going no further),
    found by replaying the files again, in order, in JSON; None when none does again."""
    for path in files:
        proc = subprocess.run([build.fftool, "repro", "--json", *replay, "--", path],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              errors="replace")
        if any(f["class"] == "engine-crash" for f in fftool_events(proc.stdout, "finding")):
            return path
        if proc.returncode < 0:
            return None  # it died of something else this time (the time limit)
    return None


def sanitizer_finding(path):
    """Whether path is the reproducer of a campaign finding only the sanitizers saw."""
    try:
        with open(os.path.join(os.path.dirname(os.path.abspath(path)), "finding.json")) as f:
            return bool(json.load(f).get("sanitizer_report"))
    except (OSError, ValueError):
        return False


def died_text(event):
    """The harness's died event, as a line for people."""
    if event["call"]:
        return f"framefuzz: died in {event['backend']} {event['call']} at op {event['op']}"
    return (f"framefuzz: died outside any back-end call, running {event['backend']} at op "
            f"{event['op']}")


def sanitized_replay(path, opts, build):
    """Replays one file in the libFuzzer harness built with ASan+UBSan, where memory
    errors the plain replay survives or only half names (a heap overflow, a wild write)
    are caught at the faulting access, and prints the sanitizer's report."""
    print(f"\n--- {path} under ASan+UBSan (the fuzzing harness) ---")
    dec = subprocess.run([build.fftool, "decode", "--json"] + (["--binary"] if opts.binary else [])
                         + (["--bug", opts.bug] if opts.bug else []) + ["--", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, errors="replace")
    if dec.returncode != 0:
        print("not replayed: " + (dec.stderr.strip().splitlines() or ["it does not decode"])[-1])
        return
    program = json.loads(dec.stdout)
    targets = opts.backend or program["backend"] or getattr(opts, "default_backend", None)
    if not targets:
        print("not replayed: the program names no back-end (give --backend)")
        return
    harness = build.tool(os.path.join("fuzz", "fuzz-diff"))
    build.make_or_exit(harness)
    cmd = [harness, HARNESS_JSON, f"--ff-targets={targets}", "-runs=1",
           f"-timeout={opts.timeout if opts.timeout else 10}"]
    for flag, value in (("semantics", opts.semantics), ("poison", opts.poison),
                        ("map", getattr(opts, "map", None)), ("bug", program["bug"])):
        if value:
            cmd.append(f"--ff-{flag}={value}")
    with tempfile.TemporaryDirectory() as work:
        data = path
        if program["form"] == "text":
            data = os.path.join(work, "program.bin")
            enc = subprocess.run([build.fftool, "encode", path, "-o", data], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, errors="replace")
            if enc.returncode != 0:
                print("not replayed: the harness runs the binary form, and "
                      + (enc.stdout.strip().splitlines() or ["it has none"])[-1])
                return
        try:
            run = subprocess.run(cmd + [data], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 text=True, errors="replace", timeout=120)
        except subprocess.TimeoutExpired:
            print("not replayed: the harness did not finish within 120 s")
            return
    report = run.stderr.splitlines()
    # Each stack is cut where the allocator was called: below that is framefuzz's.
    keep, below = [], False
    for l in report:
        died = harness_events(l, "died")
        if died:
            keep.append(died_text(died[0]))
            continue
        frame = l.lstrip().startswith("#")
        below = frame and (below or any(f" in {c} " in l for c in campaign.LAYER_CALLS))
        if (frame and not below) or "ERROR:" in l or "runtime error" in l or \
                "SUMMARY" in l or "allocated by" in l or "is located" in l:
            keep.append(l)
    if any("Sanitizer" in l or "runtime error" in l for l in keep):
        print("\n".join(keep[:24]))
    elif run.returncode == 0:
        print("no memory error and no finding under the sanitizers")
    else:
        found = harness_events(run.stderr, "finding")
        print(f"finding {found[0]['signature']} {found[0]['where']}: {found[0]['message']}"
              if found else "no memory error under the sanitizers (the harness "
              f"exited {run.returncode})")


def cmd_minimize(opts, build):
    args = ["minimize", *replay_options(opts)]
    for flag, value in (("--signature", opts.signature), ("-o", opts.output)):
        if value:
            args += [flag, value]
    if opts.json:
        args.append("--json")
    return run_fftool(build, args + ["--", opts.file])


def cmd_fuzz(opts, build):
    if opts.jobs is not None and opts.jobs < 1:
        sys.stderr.write("framefuzz fuzz: error: --jobs must be at least 1\n")
        return 2
    if opts.time is not None and opts.time < 1:
        sys.stderr.write("framefuzz fuzz: error: --time must be at least 1 second\n")
        return 2
    if opts.timeout is not None and not 1 <= opts.timeout <= 3600:
        sys.stderr.write("framefuzz fuzz: error: --timeout takes 1 to 3600 seconds\n")
        return 2
    cores = os.cpu_count() or 1
    if opts.jobs is not None and opts.jobs > cores:
        # More jobs than cores only take turns on them, and each costs memory.
        sys.stderr.write(f"framefuzz fuzz: --jobs {opts.jobs} capped at {cores}, the "
                         f"machine's cores\n")
        opts.jobs = cores
    if not opts.resume:
        opts.jobs = opts.jobs or cores
        opts.time = opts.time or 60
    try:
        return campaign.run(opts, build)
    except campaign.CampaignError as e:
        sys.stderr.write(f"framefuzz fuzz: error: {e}\n")
        return 2


def cmd_triage(opts, build):
    build = plugin.campaign_plugin(opts.dir, "triage") or build
    build.make_or_exit(build.fftool)
    try:
        return campaign.triage(opts.dir, opts.json, build)
    except campaign.CampaignError as e:
        sys.stderr.write(f"framefuzz triage: error: {e}\n")
        return 2


def cmd_status(opts, _build):
    try:
        return campaign.status(opts.dir, opts.json)
    except campaign.CampaignError as e:
        sys.stderr.write(f"framefuzz status: error: {e}\n")
        return 2


def cmd_report(opts, _build):
    try:
        path = report.report(opts.dir)
    except campaign.CampaignError as e:
        sys.stderr.write(f"framefuzz report: error: {e}\n")
        return 2
    print(f"{path}  (and {os.path.join(os.path.dirname(path), 'report.md')})")
    return 0


def cmd_compare(opts, build):
    if opts.targets:
        fixed = [flag for flag, value in (("--workloads", opts.workloads), ("--maps", opts.maps),
                                          ("--backends", opts.backends)) if value is not None]
        if fixed:
            sys.stderr.write(f"framefuzz compare: error: --targets measures a fixed set of "
                             f"workloads, maps and back-ends: drop {', '.join(fixed)}\n")
            return 2
    if opts.runs < 1 or opts.runs > 100:
        sys.stderr.write("framefuzz compare: error: --runs takes 1 to 100\n")
        return 2
    ffcompare = build.tool("ffcompare")
    build.make_or_exit(ffcompare)
    if opts.targets:
        jobs = compare.TARGET_JOBS
    else:
        jobs = [(wl, preset, opts.backends) for preset in (opts.maps or "pc-1g").split(",")
                for wl in (opts.workloads or compare.DEFAULT_WORKLOADS).split(",")]
    try:
        rows = compare.measure_jobs(ffcompare, jobs, opts.runs, opts.seed)
    except compare.CompareError as e:
        sys.stderr.write(f"framefuzz compare: error: {e}\n")
        return 2
    run_peak = compare.run_peak_mib()
    judged = compare.targets(rows, run_peak)
    sys.stdout.write(compare.render(rows, opts.format, judged, run_peak))
    if opts.html:
        try:
            path = compare.write_html(rows, opts.html, judged)
        except ImportError:
            sys.stderr.write("framefuzz compare: error: matplotlib is missing: run 'apt-get "
                             "install -y python3-matplotlib' as root (or 'sh setup.sh')\n")
            return 2
        sys.stderr.write(f"framefuzz compare: wrote {path}\n")
    if opts.targets:
        return 0 if all(t["met"] for t in judged) else 1
    return 0


def cmd_bugs(opts, build):
    def fail(message):
        sys.stderr.write(f"framefuzz bugs: error: {message}\n")
        return 2
    if opts.trials is not None and not 1 <= opts.trials <= 1000:
        return fail("--trials takes 1 to 1000")
    if opts.time is not None and not 1 <= opts.time <= 86400:
        return fail("--time takes 1 to 86400 seconds")
    if opts.jobs is not None and opts.jobs < 1:
        return fail("--jobs must be at least 1")
    if opts.quick and opts.configs:
        return fail("--quick runs the baseline configuration only; drop --configs")
    build.make_or_exit(build.fftool)
    try:
        table = bugs.pick_bugs(bugs.bug_table(build), opts.bugs)
        configs = [bugs.BASELINE] if opts.quick else bugs.parse_configs(opts.configs or "default")
        trials = opts.trials or (1 if opts.quick else 5)
        limit = opts.time or (120 if opts.quick else 60)
        bugs.build_needed(configs, build)
    except bugs.BugsError as e:
        return fail(e)
    jobs = opts.jobs or os.cpu_count() or 1
    out = opts.out or time.strftime("bugs/%Y%m%d-%H%M%S")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        return fail(f"cannot use {out} for the results: {e.strerror}")
    say = (lambda line: None) if opts.json else (lambda line: print(line, flush=True))
    say(f"framefuzz bugs: {len(table)} bug(s) x {len(configs)} configuration(s) x {trials} "
        f"trial(s), limit {limit} s, {jobs} at a time; results in {out}")
    records = bugs.run(build, table, configs, trials, limit, jobs, out, say)
    rows = bugs.summarize(records, table, configs, limit)
    comps = bugs.comparisons(rows, configs)
    goals = bugs.targets(rows, limit)
    path = bugs.write_report(rows, comps, goals, configs, limit, trials, out)
    if opts.json:
        print(json.dumps({"rows": bugs.rows_json(rows), "comparisons": comps,
                          "targets": [{"target": n, "detail": d, "met": ok}
                                      for n, d, ok in goals], "report": path}, indent=2))
    else:
        print()
        sys.stdout.write(bugs.render_text(rows, comps, goals))
        print(f"\nreport: {path}  (and {os.path.join(out, 'report.md')})")
    for e in sorted({e for r in rows for e in r["errors"]}):
        sys.stderr.write(f"framefuzz bugs: warning: {e}\n")
    return 0 if all(r["found"] == r["trials"] for r in rows) else 1


def cmd_setup(_opts, build):
    return subprocess.run(["sh", os.path.join(build.root, "setup.sh")]).returncode


def main(argv):
    parser = Parser(prog="framefuzz", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    p = sub.add_parser("list", help="back-ends with their policies, memory-map presets, "
                                    "metadata semantics")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("map", help="show what framefuzz makes of a memory map "
                                   "(a preset name, or a file of e820 lines from a boot log)")
    p.add_argument("map", metavar="PRESET|FILE")
    p.add_argument("--linux-fixups", action="store_true",
                   help="apply Linux's early x86 fix-ups (frame 0 and 0xA0000-0xFFFFF reserved)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_map)

    p = sub.add_parser("decode", help="print a binary program (a fuzz input or crash artifact) "
                                      "as canonical text")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--json", action="store_true",
                   help="one JSON object: the configuration, the directive lines and each "
                        "operation with its operands and text")
    p.set_defaults(func=cmd_decode)

    p = sub.add_parser("encode", help="turn a text program into the binary form fuzzers use")
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="where to write the bytes (required when standard output is a terminal)")
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("repro", help="replay programs (text reproducers, corpus entries, crash "
                                     "artifacts) with the oracle: the trace and the verdict; "
                                     "exit 0 clean, 1 on a finding")
    p.add_argument("files", metavar="FILE", nargs="+")
    p.add_argument("--backend", metavar="LIST",
                   help="back-end(s) to run on, comma-separated, or 'all' "
                        "(default: the program's 'backend' line)")
    p.add_argument("--semantics", choices=["asterinas-2024", "hardened"],
                   help="override the program's metadata semantics")
    p.add_argument("--poison", choices=["on", "off"], help="override the program's poisoning")
    p.add_argument("--bug", metavar="NAME",
                   help="switch an injected bug on (framefuzz list names them), as the "
                        "program's 'bug' line does")
    p.add_argument("--keep-going", action="store_true",
                   help="run past the first finding, to show what follows from it")
    p.add_argument("--quiet", action="store_true", help="verdicts only, no trace")
    p.add_argument("--json", action="store_true",
                   help="JSON lines: each finding as it is made (signature, class, backend, "
                        "state, op, message, consequence), then each file's verdict")
    p.add_argument("--timeout", type=int, metavar="SECONDS",
                   help="wall-clock limit per file (default 10, 0 = none): a back-end call "
                        "still running then is a hang")
    p.add_argument("--expect", action="store_true",
                   help="check each file's '# expect:' lines instead (regression replay)")
    p.add_argument("--binary", action="store_true",
                   help="read every file as binary, even one that looks like text")
    p.add_argument("--sanitize", action="store_true",
                   help="replay each file in the ASan+UBSan harness too, and show what the "
                        "sanitizers report (done anyway for a file that crashes, and for a "
                        "campaign finding only the sanitizers saw)")
    p.set_defaults(func=cmd_repro)

    p = sub.add_parser("minimize", help="the shortest program that still shows a finding, as "
                                        "text (operation-level delta debugging)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--signature", metavar="CLASS@BACKEND",
                   help="the finding to keep (default: the program's first)")
    p.add_argument("--backend", metavar="LIST", help="as for repro")
    p.add_argument("--semantics", choices=["asterinas-2024", "hardened"], help="as for repro")
    p.add_argument("--poison", choices=["on", "off"], help="as for repro")
    p.add_argument("--bug", metavar="NAME", help="as for repro")
    p.add_argument("--binary", action="store_true", help="as for repro")
    p.add_argument("-o", "--output", metavar="OUT", help="write the text here (default: stdout)")
    p.add_argument("--json", action="store_true",
                   help="JSON lines (needs -o): the result's findings as repro --json gives "
                        "them, then what was minimized (operations before and after, runs)")
    p.set_defaults(func=cmd_minimize)

    p = sub.add_parser("fuzz", help="run a fuzz campaign (default: the differential target over "
                                    "every back-end, libFuzzer, all cores, 60 s)")
    p.add_argument("--target", default="diff", metavar="diff|NAME",
                   help="the harness: 'diff' runs every input on several back-ends "
                        "(default), a back-end name runs one (pcp:NAME: behind per-CPU "
                        "caches)")
    p.add_argument("--backends", metavar="LIST",
                   help="for --target diff: the back-ends compared (comma list; default all)")
    p.add_argument("--engine", choices=["libfuzzer", "afl"], default="libfuzzer",
                   help="libfuzzer (fork mode, default) or afl (AFL++: a main instance with "
                        "CMPLOG and secondaries, persistent mode, the custom mutator)")
    p.add_argument("--time", type=int, metavar="SECONDS", help="how long (default 60)")
    p.add_argument("--timeout", type=int, metavar="SECONDS",
                   help="every input's wall-clock limit (default 5): a back-end call still "
                        "running then is a hang, named after its function, for code that "
                        "does not call ff_step")
    p.add_argument("--jobs", type=int, metavar="N",
                   help="parallel jobs (default and at most: the machine's cores)")
    p.add_argument("--no-minimize", action="store_true",
                   help="leave the reproducers as found (framefuzz triage minimises them later)")
    p.add_argument("--seeds", action="append", metavar="DIR",
                   help="seed corpus directory (repeatable; default corpus/TARGET)")
    p.add_argument("--map", choices=["tiny", "qemu", "pc-1g", "pc-4g", "pc-64g", "pc-1t"],
                   help="force every input onto this memory map")
    p.add_argument("--semantics", choices=["hardened", "asterinas-2024", "input"],
                   default="hardened",
                   help="the metadata semantics: hardened (default) tests the back-ends; "
                        "asterinas-2024 the 2024 layer too (its from_unused lets any "
                        "back-end deadlock, as #1760 did); input lets each input choose")
    p.add_argument("--out", metavar="DIR", help="campaign directory (default campaigns/DATE)")
    p.add_argument("--resume", metavar="DIR", help="continue a stopped campaign")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--quiet", action="store_true", help="only the summary")
    group.add_argument("--json", action="store_true", help="JSON lines: progress, findings, "
                                                           "summary")
    p.set_defaults(func=cmd_fuzz)

    p = sub.add_parser("triage", help="triage a campaign's untriaged crash inputs and list its "
                                      "distinct findings (exit 1 if any)")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_triage)

    p = sub.add_parser("status", help="where a campaign stands: running or not, speed, "
                                      "corpus, coverage, findings")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("report", help="write DIR/report/index.html and report.md: findings with "
                                      "reproducers, plots of exec/s, coverage, corpus, findings")
    p.add_argument("dir", metavar="DIR")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("compare", help="every back-end on the same named workloads and maps: "
                                       "ns per alloc and free, out-of-memory, fragmentation, "
                                       "each run checked by the oracle")
    p.add_argument("--workloads", metavar="LIST",
                   help=f"comma list (default: all, {compare.DEFAULT_WORKLOADS})")
    p.add_argument("--maps", metavar="LIST",
                   help="presets, comma list (default pc-1g); e.g. pc-1g,pc-64g,pc-1t for scaling")
    p.add_argument("--backends", metavar="LIST", help="comma list (default: all)")
    p.add_argument("--runs", type=int, default=5, help="timed runs per figure (median, spread)")
    p.add_argument("--seed", type=int, default=1, help="the workloads' seed")
    p.add_argument("--format", choices=["table", "markdown", "csv", "json"], default="table")
    p.add_argument("--html", metavar="DIR", help="also write DIR/index.html and compare.md with "
                                                 "bar charts and, for several maps, scaling curves")
    p.add_argument("--targets", action="store_true",
                   help="measure just what the issue's targets need (buddy churn at pc-1g and "
                        "pc-64g, bitmap huge at pc-64g, every back-end on huge at pc-1t) and "
                        "exit 1 if one is not met")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("bugs", help="time to detect each injected bug (framefuzz list shows "
                                    "them): K trials per bug and configuration, survival "
                                    "curves, Mann-Whitney U and A12 between configurations")
    p.add_argument("--bugs", default="all", metavar="LIST", help="comma list (default: all)")
    p.add_argument("--configs", metavar="LIST",
                   help="ENGINE-TARGET-MUTATOR-CORPUS names, comma list, from "
                        "libfuzzer|afl, single|diff, mutator|plain, seeded|empty; 'all' for "
                        "all 16; default: the baseline libfuzzer-single-mutator-seeded and "
                        "each axis changed alone")
    p.add_argument("--trials", type=int, help="independent trials per bug and configuration "
                                              "(default 5)")
    p.add_argument("--time", type=int, help="limit per trial, seconds (default 60)")
    p.add_argument("--jobs", type=int, help="trials at a time, one core each (default: cores)")
    p.add_argument("--out", metavar="DIR", help="results directory (default bugs/DATE); an "
                                                "existing one keeps its finished trials")
    p.add_argument("--quick", action="store_true",
                   help="one trial of the baseline per bug, 120 s cap: each bug must be found "
                        "with its class (what make test runs)")
    p.add_argument("--json", action="store_true", help="machine-readable summary")
    p.set_defaults(func=cmd_bugs)

    p = sub.add_parser("setup", help="install what framefuzz needs (Debian packages)")
    p.set_defaults(func=cmd_setup)

    for name in ("list", "repro", "minimize", "fuzz", "compare"):
        sub.choices[name].add_argument(
            "--plugin", metavar="FILE.c|FILE.so",
            help="your own allocator: a C file NAME.c implementing backend.h (plugins/extent.c "
                 "is the template), compiled where it is (its directory on the include path) "
                 "into every tool; or a prebuilt shared object exporting ff_backend_NAME")
        sub.choices[name].add_argument(
            "--plugin-src", action="append", default=[], metavar="FILE.c",
            help="another C file of the plug-in (repeatable)")
        sub.choices[name].add_argument(
            "--plugin-cflags", metavar="FLAGS",
            help="compiler flags for the plug-in's files, given as --plugin-cflags='-I../include "
                 "-DDEBUG' (default: $FRAMEFUZZ_PLUGIN_CFLAGS)")
    opts = parser.parse_args(argv)
    build = Build()  # the checkout's, unless a plug-in's is made below
    if getattr(opts, "plugin", None):
        cflags = opts.plugin_cflags
        if cflags is None:
            cflags = os.environ.get("FRAMEFUZZ_PLUGIN_CFLAGS", "")
        build = plugin.use_plugin(opts.plugin, opts.command, opts.plugin_src, cflags)
    elif getattr(opts, "plugin_src", None) or getattr(opts, "plugin_cflags", None) is not None:
        parser.error("--plugin-src and --plugin-cflags go with --plugin")
    elif opts.command == "fuzz" and opts.resume:
        build = plugin.campaign_plugin(opts.resume, "resume") or build
    if opts.command in ("repro", "minimize"):
        # A campaign's reproducer or artifact replays as the campaign ran it: with its
        # plug-in, and an artifact naming no back-end on the back-ends its harness ran.
        first = opts.files[0] if opts.command == "repro" else opts.file
        home = plugin.campaign_of(first)
        if home:
            if not getattr(opts, "plugin", None):
                build = plugin.campaign_plugin(home, opts.command) or build
            with open(os.path.join(home, "campaign.json")) as f:
                config = json.load(f)
            opts.default_backend = config.get("backends")
            # What the campaign forced on every input, unless said otherwise here.
            opts.semantics = opts.semantics or config.get("semantics")
            opts.map = config.get("map")
    try:
        return opts.func(opts, build)
    except BrokenPipeError:
        # The reader went away (`framefuzz triage DIR | head`): what is still being
        # written goes nowhere, and the command ends as it would have, quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
