"""run_all.py — what `make test` runs: every test suite, one summary.

1. the C unit tests, built from scratch with ASan+UBSan (clang);
2. warning-free builds: the tools with clang, everything with gcc;
3. a short libFuzzer run on the program decoder and parser (ASan+UBSan);
4. the regression corpus: every reproducer replayed, its verdict compared with the
   "# expect:" lines it carries (one per bug class, each with a clean twin);
5. the fuzz harnesses: built (libFuzzer, ASan+UBSan), briefly run, and the replay
   driver checked against them; each bug class's crash site checked on the built
   harness; the AFL++ builds (persistent mode, CMPLOG, custom
   mutator) built and briefly run;
6. campaigns (framefuzz fuzz): findings, deduplication, SIGKILL and --resume;
7. the CLI, end to end: listings, maps, programs, repro, and bad input (one-line
   errors, exit 2);
8. the documentation: the README at most 12 KB, every relative link in it and docs/ resolving.
The last line is "N passed, N failed" over all of them.
"""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_E820 = os.path.join(os.path.dirname(ROOT), "shared", "e820")
sys.path.insert(0, ROOT)
from cli.seeds import registered_backends, seed_dirs, seed_files  # noqa: E402  (path above)

# The registered back-ends, in registration order (allocators/backends.def): a new
# back-end is one file and one line there, and no test names the list again.
BACKENDS = registered_backends()

passed = failed = 0


def report(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name}")
        for line in detail.rstrip().splitlines()[-30:]:
            print(f"  {line}")


def run(args, **kw):
    return subprocess.run(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, **kw)


def seed_corpus(tmp, target):
    """A directory of tmp holding a target's seeds, for tools that take one (afl-fuzz -i)."""
    path = os.path.join(tmp, "seeds-" + target)
    os.makedirs(path, exist_ok=True)
    for seed in seed_files(target):
        shutil.copy(seed, path)
    return path


def make(target, name):
    proc = run(["make", "-s", target])
    report(name, proc.returncode == 0, proc.stdout + proc.stderr)
    return proc.returncode == 0


def unit_tests():
    global passed, failed
    if not make("build/asan/unit", "build: unit tests with clang ASan+UBSan"):
        return
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=1",
               UBSAN_OPTIONS="print_stacktrace=1")
    proc = subprocess.run([os.path.join(ROOT, "build", "asan", "unit")], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sys.stdout.write(proc.stdout)
    m = re.search(r"^(\d+) passed, (\d+) failed$", proc.stdout, re.M)
    if not m or proc.returncode != 0 and int(m.group(2)) == 0:
        # A sanitizer abort or crash: the runner never reached its summary.
        report("unit tests ran to completion", False, proc.stdout)
        return
    passed += int(m.group(1))
    failed += int(m.group(2))
    # The CPUs' other way to switch (ucontext, where there is no x86-64 stack switch).
    if make("build/ucontext/unit", "build: unit tests switching CPUs with ucontext"):
        proc = subprocess.run([os.path.join(ROOT, "build", "ucontext", "unit"), "cpu_", "exec_"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
        report("unit: the CPU and executor tests pass with ucontext switching too",
               proc.returncode == 0 and re.search(r"^\d+ passed, 0 failed$", proc.stdout, re.M),
               proc.stdout[-3000:])


def cli(args):
    return run([os.path.join(ROOT, "framefuzz"), *args])


def one_line_error(proc):
    lines = proc.stderr.strip().splitlines()
    return proc.returncode == 2 and len(lines) == 1, proc.stdout + proc.stderr


def cli_tests():
    proc = cli(["list"])
    report("cli: list names every back-end, preset and semantics",
           proc.returncode == 0 and all(w in proc.stdout for w in (
               *BACKENDS, "KNOWN-BUGGY", "tiny", "qemu", "pc-1t", "asterinas-2024",
               "hardened", "16 bytes per frame")),
           proc.stdout + proc.stderr)

    proc = cli(["list", "--json"])
    try:
        data = json.loads(proc.stdout)
        ok = ([b["name"] for b in data["backends"]] == BACKENDS
              and data["metadata_bytes_per_frame"] <= 16
              and {p["name"] for p in data["presets"]} >= {"tiny", "qemu", "pc-4g", "pc-1t"}
              and next(p for p in data["presets"] if p["name"] == "tiny")["usable_frames"] == 50
              and not next(b for b in data["backends"] if b["name"] == "bsa")["policy"]["validates_frees"])
    except (ValueError, KeyError, StopIteration):
        ok = False
    report("cli: list --json is valid and agrees with the C side", ok, proc.stdout + proc.stderr)

    proc = cli(["map", "pc-4g", "--json"])
    try:
        data = json.loads(proc.stdout)
        zones = {u["zone"] for u in data["usable"]}
        ok = zones == {"DMA", "DMA32", "Normal"} and data["usable_frames"] > 1000000
    except (ValueError, KeyError):
        ok = False
    report("cli: map pc-4g has RAM in all three zones", ok, proc.stdout + proc.stderr)

    log = os.path.join(SHARED_E820, "qemu-q35-6g.log")
    if os.path.exists(log):
        proc = cli(["map", log, "--linux-fixups", "--json"])
        try:
            usable = json.loads(proc.stdout)["usable"]
            # Linux's own result for this map (printed in the log), as frame ranges.
            expected = [(0x1, 0x9f), (0x100, 0x7ffdf), (0x100000, 0x180000)]
            merged = []
            for u in usable:
                s, e = u["start_pfn"], u["start_pfn"] + u["frames"]
                if merged and merged[-1][1] == s:
                    merged[-1] = (merged[-1][0], e)
                else:
                    merged.append((s, e))
            ok = merged == expected
        except (ValueError, KeyError):
            ok = False
        report("cli: a pasted boot log gives Linux's own usable ranges", ok,
               proc.stdout + proc.stderr)

    with tempfile.NamedTemporaryFile("w", suffix=".e820", delete=False) as f:
        f.write("BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"
                "BIOS-e820: [mem 0x0000000000100000-0x00000000zzzzzzzz] usable\n")
        bad = f.name
    try:
        proc = cli(["map", bad])
        ok, detail = one_line_error(proc)
        report("cli: a malformed map line is a one-line error naming the line",
               ok and "line 2" in proc.stderr, detail)
    finally:
        os.unlink(bad)

    with tempfile.TemporaryDirectory() as tmp:
        text = os.path.join(tmp, "p.txt")
        binary = os.path.join(tmp, "p.bin")
        program = ("backend bsa\nsemantics asterinas-2024\nmap custom\n"
                   "region 0x0-0x7ffff usable\nregion 0xc8000-0xd6fff usable\npoison off\n"
                   "alloc 32\ndrop h0\nfrom_unused 0x1000 1\ndrop h0\n" + "alloc 1\n" * 10 +
                   "alloc 100 align 4 zone dma32\nraw_free 0x1000 1\nwrite 0x2008 0x41\ncheck\n")
        with open(text, "w") as f:
            f.write(program)
        enc = cli(["encode", text, "-o", binary])
        dec = cli(["decode", binary])
        body = "\n".join(l for l in dec.stdout.splitlines() if not l.startswith("#")) + "\n"
        report("cli: encode then decode gives the canonical text back",
               enc.returncode == 0 and dec.returncode == 0 and body == program,
               enc.stderr + dec.stdout + dec.stderr)

        garbage = os.path.join(tmp, "g.bin")
        with open(garbage, "wb") as f:
            f.write(bytes(range(256)) * 3)
        dec = cli(["decode", garbage])
        report("cli: decode turns arbitrary bytes into a program",
               dec.returncode == 0 and "semantics" in dec.stdout, dec.stdout + dec.stderr)

        bad = os.path.join(tmp, "bad.txt")
        with open(bad, "w") as f:
            f.write("semantics hardened\nalloc 1\nfrobnicate h0\n")
        ok, detail = one_line_error(cli(["encode", bad, "-o", binary]))
        report("cli: a bad program line is a one-line error naming the line",
               ok and "line 3" in detail, detail)

    for name, args in (("unknown command", ["frobnicate"]),
                       ("unknown option", ["list", "--bogus"]),
                       ("missing map file", ["map", "/nonexistent/map.txt"])):
        ok, detail = one_line_error(cli(args))
        report(f"cli: {name} is a one-line error with exit 2", ok, detail)


# The oracle's regression suite: one reproducer per class and its clean twin, on the
# test-only broken back-ends, which only the test build of fftool can run.
REGRESSIONS = os.path.join(ROOT, "tests", "regressions")
TEST_FFTOOL = os.path.join(ROOT, "build", "test", "fftool")
STORY = os.path.join(ROOT, "corpus", "regressions", "asterinas-1760.txt")
STORY_2CPUS = os.path.join(ROOT, "corpus", "regressions", "asterinas-1760-2cpus.txt")
FUZZ = os.path.join(ROOT, "build", "fuzz")
TEST_ONLY_SYMBOLS = ("ff_broken_find", "install_broken_targets")


def test_fftool(args):
    """fftool with the test-only targets, built first when needed."""
    run(["make", "-s", "build/test/fftool"])
    return run([TEST_FFTOOL, *args])


def docs_tests():
    """The README stays a README (at most 12,000 bytes, the rest in docs/), and every
    relative link in it and in docs/*.md reaches a file, and a heading where it names one."""
    size = os.path.getsize(os.path.join(ROOT, "README.md"))
    report(f"docs: README.md is at most 12,000 bytes ({size})", size <= 12000)
    pages = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))

    def slugs(path):  # GitHub's heading anchors
        with open(path) as f:
            text = re.sub(r"^```.*?^```", "", f.read(), flags=re.M | re.S)
        return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
                for h in re.findall(r"^#+ (.*)$", text, re.M)}
    for page in pages:
        with open(page) as f:
            text = re.sub(r"^```.*?^```", "", f.read(), flags=re.M | re.S)
        bad = []
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, frag = target.partition("#")
            path = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
            if not os.path.exists(path) or (frag and path.endswith(".md") and frag not in slugs(path)):
                bad.append(target)
        report(f"docs: every relative link in {os.path.relpath(page, ROOT)} resolves", not bad,
               "broken: " + ", ".join(bad))

def regression_tests():
    if not make("build/test/fftool", "build: fftool with the test-only targets"):
        return
    files = sorted(os.path.join(REGRESSIONS, f) for f in os.listdir(REGRESSIONS)
                   if f.endswith(".txt")) + [STORY, STORY_2CPUS]
    proc = test_fftool(["repro", "--expect", *files])
    for line in proc.stdout.splitlines():
        if line.startswith(("ok ", "FAIL ")):
            name = os.path.basename(line.split()[1])
            detail = "\n".join(l for l in proc.stdout.splitlines() if l.startswith("     "))
            report(f"regression: {name}", line.startswith("ok"), detail)
    seen = sum(1 for l in proc.stdout.splitlines() if l.startswith(("ok ", "FAIL ")))
    report("regression: every reproducer was replayed", seen == len(files) and seen >= 43,
           proc.stdout + proc.stderr)

    # The shipped programs hold none of the test-only code, and refuse its names.
    shipped = [os.path.join(ROOT, "build", p) for p in ("fftool", "replay", "ffcompare")]
    symbols = run(["nm", *shipped]).stdout
    report("test-only code: no shipped tool links the broken back-ends",
           not any(s in symbols for s in TEST_ONLY_SYMBOLS) and "ff_target_find" in symbols,
           symbols[-500:])
    ok, detail = one_line_error(cli(["repro", "--backend", "broken-hang", STORY]))
    report("test-only code: framefuzz repro --backend broken-hang is an unknown back-end",
           ok and "unknown back-end 'broken-hang'" in detail, detail)
    ok, detail = one_line_error(cli(["repro", os.path.join(REGRESSIONS, "hang.txt")]))
    report("test-only code: a program naming a broken back-end is refused by the shipped tool",
           ok and "broken-hang" in detail, detail)

    story = STORY
    proc = cli(["repro", "--expect", "--keep-going", story])
    report("regression: #1760 with --keep-going: foreign free, double hand-out, self-deadlock",
           proc.returncode == 0, proc.stdout + proc.stderr)
    proc = cli(["repro", "--semantics", "hardened", "--backend", "buddy,bitmap,freelist", story])
    report("regression: #1760 under hardened semantics is refused cleanly by the validating "
           "back-ends", proc.returncode == 0 and "verdict: clean" in proc.stdout
           and proc.stdout.count("-> in-use") == 3, proc.stdout[-2000:] + proc.stderr)
    proc = cli(["repro", story])
    trace = proc.stdout
    report("regression: a repro trace shows every operation with its result and the verdict",
           proc.returncode == 1 and "[3] drop h0" in trace and "bsa free(0x1, 1) = ok" in trace
           and "!! accepted-foreign-free@bsa at op 3" in trace
           and "verdict: accepted-foreign-free@bsa op 3" in trace, trace[-3000:] + proc.stderr)
    again = cli(["repro", story])
    report("regression: the same input gives the same trace", again.stdout == trace,
           again.stdout[-1000:])
    proc = cli(["repro", STORY_2CPUS])
    trace = proc.stdout
    report("regression: #1760 on two CPUs: cpu1's drop preempts cpu0 where the schedule says, "
           "each operation shows its CPU, and the foreign free is found at cpu1's operation",
           proc.returncode == 1 and "[4] cpu0 alloc 1\n  ~~ switch at point 165: cpu0 preempted at "
           "a lock acquire; cpu1 starts\n[3] cpu1 drop h0\n" in trace
           and "!! accepted-foreign-free@bsa at op 3" in trace, trace[-3000:] + proc.stderr)
    proc = cli(["minimize", STORY_2CPUS])
    report("regression: minimising the two-CPU story drops the CPUs it does not need",
           proc.returncode == 0 and "2 CPUs -> sequential" in proc.stderr
           and "cpus" not in proc.stdout and "from_unused 0x1000" in proc.stdout,
           proc.stdout + proc.stderr)


def seed_tests():
    """Every target's seeds (cli/seeds.py) replay, and the validating back-ends' are
    clean under hardened semantics (a seed that crashes would stop a campaign at once);
    no seed is stored twice."""
    for target in ("buddy", "bitmap", "freelist", "diff"):
        seeds = seed_files(target)
        backends = "buddy,bitmap,freelist" if target == "diff" else target
        proc = cli(["repro", "--quiet", "--binary", "--semantics", "hardened", "--backend",
                    backends, *seeds])
        report(f"seeds: the {target} target's ({len(seeds)} programs) are clean on {backends}",
               len(seeds) >= 5 and proc.returncode == 0, proc.stdout + proc.stderr)
    seeds = seed_files("bsa")
    proc = cli(["repro", "--quiet", "--binary", "--backend", "bsa", *seeds])
    report("seeds: the bsa target's replay, and bsa's known flaws show in them",
           len(seeds) >= 5 and proc.returncode == 1 and "@bsa" in proc.stdout,
           proc.stdout + proc.stderr)
    contents = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "corpus", "*", "*"))):
        with open(path, "rb") as f:
            contents.setdefault(f.read(), []).append(os.path.relpath(path, ROOT))
    copies = [paths for paths in contents.values() if len(paths) > 1]
    report("seeds: no file of corpus/ is stored twice", not copies, str(copies))


def harness_tests():
    if not make("harnesses", "build: libFuzzer harnesses (per back-end and differential), "
                             "ASan+UBSan"):
        return
    make("build/replay", "build: standalone replay driver")
    # The per-execution path makes no memory-mapping system call once warm: replaying
    # every seed once and three times makes the same calls (strace counts them).
    seeds = sorted(glob.glob(os.path.join(ROOT, "corpus", "*", "*")))
    seeds = [f for f in seeds if os.sep + "regressions" + os.sep not in f and
             os.sep + "bugs" + os.sep not in f and not f.endswith(".txt")]
    counts = {}
    for times in (1, 3):
        for options in (["--ff-poison=off"], ["--ff-poison=on"], ["--ff-map=pc-64g"]):
            with tempfile.NamedTemporaryFile("r", suffix=".strace") as out:
                run(["strace", "-f", "-c", "-o", out.name, "-e", "trace=mmap,munmap,madvise",
                     os.path.join(ROOT, "build", "replay"), "--ff-targets=all", "--ff-classes=",
                     *options, *(seeds * times)])
                calls = {m.group(2): int(m.group(1)) for m in
                         re.finditer(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$",
                                     out.read(), re.M)}
            counts.setdefault(options[0], []).append(calls)
    report(f"harness: after warm-up an execution makes no mmap, munmap or madvise (all "
           f"back-ends, {len(seeds)} seeds replayed once and three times: poison off, on, and "
           f"on a 64 GiB map)",
           len(seeds) >= 15 and all(once == thrice for once, thrice in counts.values()),
           str(counts))
    # Coverage is a function of the input: building or resetting a machine runs back-end
    # code whose paths depend on earlier runs, and must not count.
    if make("build/fuzz-fast/coverage-check", "build: the coverage check (the fast harness's "
                                                "instrumented objects, no engine)"):
        proc = run([os.path.join(ROOT, "build", "fuzz-fast", "coverage-check")])
        report("harness: an input covers the same counters whether its machine is built, reset "
               "after itself, or met again after other maps", proc.returncode == 0,
               proc.stdout + proc.stderr)
        # The layer's bookkeeping stays out of coverage only as functions of its own:
        # clang instruments a body again once it is inlined into an instrumented caller.
        source = open(os.path.join(ROOT, "meta", "meta.c")).read()
        helpers = re.findall(r"^FF_NO_COVERAGE (?:static )?[\w\s*]*?\b(\w+)\(", source, re.M)
        listing = run(["objdump", "-dr", os.path.join(ROOT, "build", "fastlib", "meta",
                                                      "meta.o")]).stdout
        bodies = dict(re.findall(r"^[0-9a-f]+ <(\w+)>:\n(.*?)(?=\n\n|\Z)", listing, re.M | re.S))
        bad = [h for h in helpers if h not in bodies or "__sancov_cntrs" in bodies[h]]
        report(f"harness: the layer's {len(helpers)} bookkeeping functions (FF_NO_COVERAGE) are "
               f"functions of their own with no coverage counter", len(helpers) > 20 and not bad,
               "inlined or instrumented: " + ", ".join(bad))
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus")
        os.mkdir(corpus)
        proc = run([os.path.join(FUZZ, "fuzz-diff"), "--ff-targets=buddy,bitmap,freelist",
                    "--ff-semantics=hardened", "-runs=4000", "-seed=1",
                    f"-artifact_prefix={tmp}/", "-dict=fuzz/ops.dict", corpus,
                    *seed_dirs("diff")])
        report("fuzz: differential target over the validating back-ends, 4,000 runs, no finding",
               proc.returncode == 0, proc.stderr[-3000:])

        bsa_corpus = os.path.join(tmp, "bsa")
        os.mkdir(bsa_corpus)
        proc = run([os.path.join(FUZZ, "fuzz-bsa"), "--ff-classes=accepted-foreign-free",
                    "-seed=1", "-max_total_time=60", f"-artifact_prefix={tmp}/", bsa_corpus])
        crashes = [os.path.join(tmp, f) for f in os.listdir(tmp) if f.startswith("crash-")]
        report("fuzz: the bsa target finds an accepted foreign free from an empty corpus",
               proc.returncode != 0 and "FINDING accepted-foreign-free@bsa" in proc.stderr
               and len(crashes) == 1, proc.stderr[-3000:])
        text = proc.stderr.split("==framefuzz== reproducer (text form):\n", 1)[-1]
        text = text.split("==", 1)[0]
        printed = os.path.join(tmp, "printed.txt")
        with open(printed, "w") as f:
            f.write(text)
        repro = cli(["repro", "--quiet", printed])
        report("fuzz: the reproducer a finding prints replays with no flags, same finding",
               repro.returncode == 1 and "accepted-foreign-free@bsa" in repro.stdout
               and text.startswith("backend bsa\n"), text + repro.stdout + repro.stderr)
        if crashes:
            replay = run([os.path.join(ROOT, "build", "replay"), "--ff-targets=bsa",
                          "--ff-classes=accepted-foreign-free", crashes[0]])
            report("fuzz: the replay driver reproduces the artifact from the same crash site",
                   replay.returncode != 0 and
                   "FINDING accepted-foreign-free@bsa" in replay.stderr, replay.stderr[-2000:])
            repro = cli(["repro", "--keep-going", "--binary", "--backend", "bsa", crashes[0]])
            report("fuzz: framefuzz repro reads the binary artifact and names the finding",
                   repro.returncode == 1 and "accepted-foreign-free@bsa" in repro.stdout,
                   repro.stdout[-2000:] + repro.stderr)
        saved, grown = os.path.join(tmp, "saved"), os.path.join(tmp, "saved-corpus")
        os.mkdir(saved)
        os.mkdir(grown)
        proc = run([os.path.join(FUZZ, "fuzz-bsa"), "--ff-classes=accepted-foreign-free",
                    f"--ff-save-new={saved}", "-seed=1", "-runs=3000",
                    f"-artifact_prefix={tmp}/keep-", grown, os.path.join(ROOT, "corpus", "bsa")])
        names = [n for n in os.listdir(saved)]
        replayed = cli(["repro", "--quiet", "--binary", "--backend", "bsa",
                        os.path.join(saved, names[0])]) if len(names) == 1 else None
        report("fuzz: with --ff-save-new a new finding is saved once and the engine runs on",
               proc.returncode == 0 and "Done 3000 runs" in proc.stderr and len(names) == 1
               and names[0].startswith("finding-") and replayed is not None
               and "accepted-foreign-free@bsa" in replayed.stdout,
               f"{names} " + proc.stderr[-1500:])
        clean = run([os.path.join(ROOT, "build", "replay"), "--ff-targets=buddy",
                     os.path.join(ROOT, "corpus", "ops", "tall.txt")])
        report("fuzz: the replay driver runs a clean input to completion",
               clean.returncode == 0 and "clean:" in clean.stdout, clean.stdout + clean.stderr)
        for name, args in (("unknown target", ["--ff-targets=nope"]),
                           ("unknown class", ["--ff-classes=nope"]),
                           ("bad semantics", ["--ff-semantics=nope"]),
                           ("a save-new path that is no directory",
                            ["--ff-save-new=/nonexistent/dir"])):
            bad = run([os.path.join(ROOT, "build", "replay"), *args,
                       os.path.join(ROOT, "corpus", "ops", "tall.txt")])
            ok, detail = one_line_error(bad)
            report(f"fuzz: harness option with {name} is a one-line error, exit 2", ok, detail)


def marked(mark):
    """Live processes whose environment holds FRAMEFUZZ_TEST_MARK=mark."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if f"FRAMEFUZZ_TEST_MARK={mark}".encode() in f.read().split(b"\0"):
                    with open(f"/proc/{entry}/stat") as st:
                        if st.read().rsplit(")", 1)[1].split()[0] != "Z":
                            found.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return found


AFL_LEFT = []  # processes an AFL++ run left behind (run_afl)


def run_afl(args, env):
    """afl-fuzz as a campaign runs it: in a session of its own, with a lifeline, so that
    everything it started (its CMPLOG fork server and the persistent-mode children, which
    sit stopped between inputs in sessions of their own) dies with it. What is left is
    noted in AFL_LEFT, and killed."""
    mark = f"{os.getpid()}-{time.monotonic_ns()}"
    lifeline, writer = os.pipe()
    env = dict(env, FRAMEFUZZ_LIFELINE=str(lifeline), FRAMEFUZZ_TEST_MARK=mark)
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, start_new_session=True, pass_fds=(lifeline,))
    os.close(lifeline)
    out, err = proc.communicate()
    os.close(writer)
    time.sleep(0.5)
    left = marked(mark)
    AFL_LEFT.extend(left)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def crash_site_tests():
    """Fuzzers tell bugs apart by the function a crash comes from, so each bug class
    aborts from a site of its own, crash_<function> (harness.c, from FF_CLASS_LIST).
    Checked on the built harness, not on the table that generates it: every class has
    its site and no site is left over (nm), each site is named after its class, and a
    real finding of each class with a reproducer (tests/regressions/CLASS.txt) aborts
    from its class's site (the first framefuzz frame of libFuzzer's stack). The harness
    is the differential one with the test-only targets those reproducers run on."""
    harness = os.path.join(ROOT, "build", "test", "fuzz-diff")
    if not make("build/test/fuzz-diff", "build: the differential libFuzzer harness with the "
                                        "test-only targets, ASan+UBSan"):
        return
    with open(os.path.join(ROOT, "oracle", "oracle.h")) as f:
        classes = re.findall(r'^\s*X\((\w+), "([a-z0-9-]+)", (\w+),', f.read(), re.M)
    misnamed = [name for _, name, function in classes if function != name.replace("-", "_")]
    report(f"crash sites: each of the {len(classes)} classes' crash function is named after it",
           len(classes) > 20 and not misnamed, "misnamed: " + ", ".join(misnamed))
    symbols = run(["nm", harness]).stdout
    sites = set(re.findall(r"^[0-9a-f]+ [tT] (crash_\w+)$", symbols, re.M))
    wanted = {"crash_" + function for _, _, function in classes}
    report(f"crash sites: the harness has one crash function per class, {len(wanted)}, and no "
           f"other", sites == wanted,
           f"missing: {sorted(wanted - sites)}, not a class's: {sorted(sites - wanted)}")
    wrong, tried = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for _, name, function in classes:
            program = os.path.join(REGRESSIONS, name + ".txt")
            if not os.path.exists(program):
                continue
            tried += 1
            text = open(program).read()
            backends = re.search(r"^backend (\S+)$", text, re.M).group(1)
            # An injected bug is the harness's switch, not the binary input's.
            bug = re.search(r"^bug (\S+)$", text, re.M)
            bugless = os.path.join(tmp, name + ".txt")
            with open(bugless, "w") as f:
                f.write(re.sub(r"^bug \S+\n", "", text, flags=re.M))
            binary = os.path.join(tmp, name + ".bin")
            encoded = test_fftool(["encode", bugless, "-o", binary])
            if encoded.returncode != 0:
                wrong.append(f"{name}: {encoded.stderr.strip()}")
                continue
            proc = subprocess.run([harness, f"-artifact_prefix={tmp}/", f"--ff-targets={backends}"]
                                  + ([f"--ff-bug={bug.group(1)}"] if bug else []) + [binary],
                                  cwd=tmp, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
            frames = re.findall(r"^\s*#\d+ 0x[0-9a-f]+ in (\S+) " + re.escape(ROOT) + r"/\S+\.c:",
                                proc.stderr, re.M)
            if f"{name}@" not in proc.stderr or not frames or frames[0] != "crash_" + function:
                wrong.append(f"{name}: first framefuzz frame {frames[:1]}, finding of this class "
                             f"{'reported' if name + '@' in proc.stderr else 'missing'}")
    report(f"crash sites: a finding of each of the {tried} classes with a reproducer aborts from "
           f"its own site", tried >= 20 and not wrong, "\n".join(wrong))


def launcher_tests():
    """What the launcher adds around fftool: --bug on repro and minimize, and output cut
    short by its reader."""
    with tempfile.TemporaryDirectory() as tmp:
        plain = os.path.join(tmp, "plain.txt")
        with open(os.path.join(ROOT, "corpus", "bugs", "buddy-foreign-free.txt")) as f:
            text = "".join(l for l in f if not l.startswith("bug "))
        with open(plain, "w") as f:
            f.write(text)
        clean = cli(["repro", "--quiet", plain])
        found = cli(["repro", "--quiet", "--bug", "buddy-foreign-free", plain])
        report("cli: repro --bug switches an injected bug on for a program naming none",
               clean.returncode == 0 and found.returncode == 1
               and "verdict: accepted-foreign-free@buddy op 0" in found.stdout,
               clean.stdout + found.stdout + found.stderr)
        small = os.path.join(tmp, "small.txt")
        proc = cli(["minimize", "--bug", "buddy-foreign-free", "-o", small, plain])
        again = cli(["repro", "--quiet", small]) if os.path.exists(small) else proc
        report("cli: minimize --bug writes the bug into the reproducer, which replays with no flags",
               proc.returncode == 0 and again.returncode == 1
               and "bug buddy-foreign-free" in open(small).read()
               and "accepted-foreign-free@buddy" in again.stdout, proc.stderr + again.stdout)
        ok, detail = one_line_error(cli(["repro", "--bug", "nope", plain]))
        report("cli: repro --bug with an unknown bug is a one-line error, exit 2", ok, detail)
    # A reader that stops early: no traceback, whatever the command was writing.
    # (40 traces: more than a pipe holds, so the writer always meets the closed end.)
    proc = subprocess.run(f"'{os.path.join(ROOT, 'framefuzz')}' repro --keep-going "
                          + " ".join([f"'{STORY}'"] * 40) + " | head -1",
                          shell=True, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
    report("cli: output cut short by its reader (| head -1) ends without a traceback",
           proc.stdout.count("\n") == 1 and "Traceback" not in proc.stderr
           and "BrokenPipe" not in proc.stderr, proc.stderr[-1500:])


def backend_name_tests():
    """The language records a program's back-end names; its runner checks them. What a
    user sees: a text program naming a back-end this build lacks is a one-line error
    naming the line, exit 2; a binary one (a crash input, a plug-in's artifact) still
    replays, as naming no back-end."""
    with tempfile.TemporaryDirectory() as tmp:
        text = os.path.join(tmp, "slab.txt")
        with open(text, "w") as f:
            f.write("map tiny\nbackend buddy,slab\nalloc 1\n")
        for command in (["repro"], ["minimize"], ["encode", "-o", os.path.join(tmp, "x.bin")]):
            proc = run([os.path.join(ROOT, "build", "fftool"), command[0], text, *command[1:]])
            ok, detail = one_line_error(proc)
            report(f"backend names: fftool {command[0]} of a text program naming an unknown "
                   f"back-end says which line, exit 2",
                   ok and proc.stderr.strip() == f"fftool: {text}: line 2: unknown backend: buddy,slab",
                   detail)
        binary = os.path.join(tmp, "extent.bin")
        with open(binary, "wb") as f:  # backend "extent" (a plug-in absent here), alloc 1
            f.write(bytes([1, 0x20, 5]) + b"extent" + bytes([0, 1, 0, 2]))
        decoded = run([os.path.join(ROOT, "build", "fftool"), "decode", binary])
        proc = run([os.path.join(ROOT, "build", "fftool"), "repro", "--default-backend", "buddy",
                    binary])
        report("backend names: a binary program naming a back-end this build lacks replays as "
               "naming none",
               decoded.returncode == 0 and "backend" not in decoded.stdout
               and proc.returncode == 0 and "== buddy," in proc.stdout,
               decoded.stdout + decoded.stderr + proc.stdout + proc.stderr)


def afl_tests():
    """The same harness under AFL++: persistent mode, CMPLOG, the custom mutator."""
    if not make("afl", "build: AFL++ targets (persistent mode), CMPLOG builds, custom mutator"):
        return
    env = dict(os.environ, AFL_NO_UI="1", AFL_SKIP_CPUFREQ="1",
               AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES="1", AFL_NO_AFFINITY="1",
               AFL_CUSTOM_MUTATOR_LIBRARY=os.path.join(ROOT, "build", "afl", "ff-mutator.so"))
    afl = os.path.join(ROOT, "build", "afl")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "diff")
        proc = run_afl(["afl-fuzz", "-i", seed_corpus(tmp, "diff"), "-o", out,
                        "-c", os.path.join(afl, "fuzz-diff.cmplog"), "-V", "5", "--",
                        os.path.join(afl, "fuzz-diff"), "--ff-targets=buddy,bitmap,freelist",
                        "--ff-semantics=hardened"], env)
        stats = {}
        try:
            with open(os.path.join(out, "default", "fuzzer_stats")) as f:
                for line in f:
                    key, _, value = line.partition(":")
                    stats[key.strip()] = value.strip()
        except OSError:
            pass
        report("afl: 5 s of the differential target (CMPLOG, custom mutator) over the "
               "validating back-ends, no crash",
               proc.returncode == 0 and int(stats.get("execs_done", "0")) > 1000
               and stats.get("saved_crashes") == "0", proc.stdout[-2000:] + proc.stderr[-2000:])

        out = os.path.join(tmp, "bsa")
        proc = run_afl(["afl-fuzz", "-i", seed_corpus(tmp, "bsa"), "-o", out, "-V",
                        "5", "--", os.path.join(afl, "fuzz-bsa"),
                        "--ff-classes=accepted-foreign-free"], env)
        crashes = sorted(glob.glob(os.path.join(out, "default", "crashes", "id:*")))
        report("afl: the bsa target saves crashes for accepted foreign frees",
               proc.returncode == 0 and len(crashes) > 0, proc.stdout[-2000:] + proc.stderr[-2000:])
        if crashes:
            repro = cli(["repro", "--quiet", "--binary", "--backend", "bsa", "--keep-going",
                         crashes[0]])
            report("afl: framefuzz repro replays an AFL++ crash and names the finding",
                   repro.returncode == 1 and "accepted-foreign-free@bsa" in repro.stdout,
                   repro.stdout + repro.stderr)
    report("afl: nothing an AFL++ run started outlives it (CMPLOG fork server, stopped "
           "persistent-mode children)", not AFL_LEFT, str(AFL_LEFT))


def running_pids(camp):
    """The runner and engine pids a campaign recorded while it ran."""
    try:
        with open(os.path.join(camp, "running")) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def group_alive(pgid):
    """Whether any process is left in a process group (zombies aside), from /proc."""
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # not a process, or gone meanwhile
        if fields[0] != "Z" and int(fields[2]) == pgid:  # state, ppid, pgrp
            return True
    return False


def bsa_campaign_with_artifacts(out, *options):
    """A campaign on the bsa target started in a session of its own, returned once its
    engine has written two artifacts (or after a minute): the process and artifacts/."""
    proc = subprocess.Popen([os.path.join(ROOT, "framefuzz"), "fuzz", *options, "--target",
                             "bsa", "--out", out, "--quiet"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    artifacts = os.path.join(out, "artifacts")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (os.path.isdir(artifacts) and
                                               len(os.listdir(artifacts)) >= 2):
        time.sleep(0.2)
    return proc, artifacts


def stopped_cleanly(tmp, signame):
    """Stops a running campaign with signame, as Ctrl-C or `timeout` would: it must end
    within 5 s, leave no process of its own, and lose nothing (--resume triages every
    artifact)."""
    out = os.path.join(tmp, signame.lower())
    proc, artifacts = bsa_campaign_with_artifacts(out, "--time", "120")
    pids = running_pids(out)
    proc.send_signal(getattr(signal, signame))  # the runner alone, as `timeout` does
    start = time.monotonic()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    took = time.monotonic() - start
    time.sleep(0.5)
    left = [pid for pid in pids if group_alive(pid)]
    resumed = cli(["fuzz", "--resume", out, "--time", "1", "--quiet", "--no-minimize"])
    names = {os.path.join("artifacts", n) for n in os.listdir(artifacts)
             if not n.startswith(".")} if os.path.isdir(artifacts) else set()
    triaged = set(open(os.path.join(out, "triaged")).read().split()) \
        if os.path.exists(os.path.join(out, "triaged")) else set()
    report(f"fuzz: {signame} stops a campaign within 5 s, no engine or job of it left, and "
           f"--resume triages every artifact",
           len(pids) >= 2 and took <= 5 and not left and names and names <= triaged,
           f"took {took:.1f} s, left {left}, untriaged {sorted(names - triaged)}, "
           f"resume: {resumed.stdout[-500:]}{resumed.stderr[-500:]}")


def campaign_tests():
    """framefuzz fuzz: findings written as found, deduplicated, replayable; a campaign
    killed with SIGKILL loses nothing and resumes."""
    # The live rate while libFuzzer's fork mode restarts its jobs (no new count for a
    # while) is the last window in which executions advanced; a stall past 30 s reads 0.
    sys.path.insert(0, ROOT)
    from cli import campaign as camp
    from cli.build import Build
    live = camp.Campaign.__new__(camp.Campaign)
    live.rate_window, live.last_rate, live.last_execs, live.last_change = [(0.0, 0)], 0.0, 0, 0.0
    clock = [0.0]
    live.elapsed = lambda: clock[0]
    seen = []
    for t, execs in ((5, 5000), (10, 10000), (14, 10000), (20, 10000), (30, 10000), (45, 10000)):
        clock[0] = t
        seen.append(round(live.rate(execs)))
    report("fuzz: the progress line keeps the last rate while jobs restart, and reads 0 after a "
           "30 s stall", seen[:5] == [1000] * 5 and seen[5] == 0, str(seen))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "camp")
        proc = cli(["fuzz", "--time", "6", "--jobs", "1", "--out", out, "--json"])
        events = []
        for line in proc.stdout.splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                pass
        summary = [e for e in events if e.get("event") == "summary"]
        found = summary[0]["findings"] if summary else []
        report("fuzz: a 6 s campaign (differential, all back-ends) reports progress and "
               "finds bsa's bugs, and none on the validating back-ends",
               proc.returncode == 1 and any(e.get("event") == "progress" for e in events)
               and sum(f["backend"] == "bsa" for f in found) >= 3
               and all(f["backend"] in ("bsa", "asterinas") for f in found),
               proc.stdout[-2000:] + proc.stderr[-2000:])
        sigs = [f["signature"] for f in found]
        report("fuzz: one finding per signature", len(sigs) == len(set(sigs)), str(sigs))
        # Each new bug was saved by the job, which ran on: libFuzzer started once.
        with open(os.path.join(out, "logs", "engine-0.log")) as f:
            starts = f.read().count("INFO: Seed:")
        report("fuzz: a new finding costs no engine restart (the job saves it and runs on)",
               len(found) >= 3 and starts == 1, f"{len(found)} findings, {starts} starts")
        rep = cli(["report", out])
        page_path = os.path.join(out, "report", "index.html")
        page = open(page_path).read() if os.path.exists(page_path) else ""
        pngs = [f for f in ("execs.png", "coverage.png", "corpus.png", "findings.png")
                if os.path.getsize(os.path.join(out, "report", f)) > 5000] \
            if os.path.isdir(os.path.join(out, "report")) else []
        report("report: HTML page and markdown with every finding, its reproducer and four "
               "matplotlib plots",
               rep.returncode == 0 and len(pngs) == 4 and all(sg in page for sg in sigs)
               and "<pre>" in page and os.path.exists(os.path.join(out, "report", "report.md")),
               rep.stdout + rep.stderr)
        ok = bool(found)
        for f in found:
            d = os.path.join(out, "findings", f["signature"])
            text = os.path.join(d, "reproducer.txt")
            replay = cli(["repro", "--quiet", "--keep-going", text])
            ok = ok and os.path.exists(os.path.join(d, "reproducer")) and \
                f["signature"] in replay.stdout
        report("fuzz: every finding's text reproducer replays its signature with no flags",
               ok, "")

        # The corpus merge meets an input with a finding the campaign has not filed: it
        # is saved for triage, and the merge runs on rather than restarting at it.
        merge_dir = os.path.join(tmp, "merge")
        for sub in ("corpus", "artifacts", "logs"):
            os.makedirs(os.path.join(merge_dir, sub))
        if found:
            shutil.copy(os.path.join(out, "findings", found[0]["signature"], "reproducer"),
                        os.path.join(merge_dir, "corpus", "finding"))
        shutil.copy(seed_files("diff")[0], os.path.join(merge_dir, "corpus", "seed"))
        merger = camp.Campaign.__new__(camp.Campaign)
        merger.dir = merge_dir
        merger.build = Build()
        merger.config = json.load(open(os.path.join(out, "campaign.json")))
        merger.merge_corpus()
        with open(os.path.join(merge_dir, "logs", "merge.log")) as f:
            merge_log = f.read()
        report("fuzz: the corpus merge saves a finding it meets and runs in one attempt",
               bool(found) and "successful in 1 attempt" in merge_log
               and any(n.startswith("finding-") for n in os.listdir(
                   os.path.join(merge_dir, "artifacts"))), merge_log[-1500:])

        # The engine's byte-level minimiser runs the target in child processes, past its
        # own -max_total_time: it gets a time limit, and nothing of it outlives that.
        # A long input (bsa's rounding leak after 300 clean pairs) keeps it busy for a minute.
        big = os.path.join(tmp, "bigleak.txt")
        with open(big, "w") as f:
            f.write("semantics asterinas-2024\nmap tiny\n" + "alloc 3\ndrop h0\n" * 300 +
                    "alloc 3\n")
        cli(["encode", big, "-o", big + ".bin"])
        config = {"target": "bsa", "backends": "bsa", "semantics": None, "map": None}
        work = os.path.join(tmp, "bytes")
        os.mkdir(work)
        t0 = time.monotonic()
        camp.byte_minimized(Build(), config, "artifacts/big", big + ".bin", "leak@bsa", work, 2.0)
        took = time.monotonic() - t0
        time.sleep(0.5)
        left = subprocess.run(["pgrep", "-f", work], stdout=subprocess.PIPE, text=True).stdout
        report("triage: the byte-level minimiser keeps its time limit and leaves no process",
               took < 5.0 and not left.strip(), f"{took:.1f} s, left: {left}")

        out = os.path.join(tmp, "afl")
        proc = cli(["fuzz", "--engine", "afl", "--time", "5", "--jobs", "2", "--out", out,
                    "--json"])
        summary = [json.loads(l) for l in proc.stdout.splitlines()
                   if l.startswith("{") and '"summary"' in l]
        found = summary[0]["findings"] if summary else []
        report("fuzz: a 5 s AFL++ campaign (main with CMPLOG + secondary) finds bsa's bugs, "
               "triaged from afl/*/crashes",
               proc.returncode == 1 and len(found) >= 2
               and all(f["artifact"].startswith("afl/") for f in found)
               and os.path.isdir(os.path.join(out, "afl", "main", "queue"))
               and os.path.isdir(os.path.join(out, "afl", "sec1", "queue")),
               proc.stdout[-2000:] + proc.stderr[-2000:])

        # Killed at any moment: artifacts the engine wrote are triaged on resume.
        out = os.path.join(tmp, "killed")
        proc, artifacts = bsa_campaign_with_artifacts(out, "--time", "60", "--jobs", "1")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        names = [os.path.join("artifacts", n) for n in os.listdir(artifacts)
                 if not n.startswith(".")] if os.path.isdir(artifacts) else []
        st = cli(["status", out])
        report("status: a killed campaign shows as stopped while running, with untriaged "
               "inputs", st.returncode == 0 and "killed" in st.stdout, st.stdout + st.stderr)
        resumed = cli(["fuzz", "--resume", out, "--time", "2", "--quiet"])
        triaged = set()
        if os.path.exists(os.path.join(out, "triaged")):
            with open(os.path.join(out, "triaged")) as f:
                triaged = {l.strip() for l in f}
        findings = [n for n in os.listdir(os.path.join(out, "findings")) if not n.startswith(".")]
        report("fuzz: a campaign killed with SIGKILL loses no finding: --resume triages "
               "what it left",
               len(names) >= 2 and set(names) <= triaged and len(findings) >= 1
               and resumed.returncode == 1, resumed.stdout[-1500:] + resumed.stderr[-1500:])

        # The runner SIGKILLed: its engines and every job they forked go with it.
        left = [pid for pid in running_pids(out) if group_alive(pid)]
        report("fuzz: when the campaign is SIGKILLed its engines and their jobs die with it",
               not left, str(left))
        for signame in ("SIGTERM", "SIGINT"):
            stopped_cleanly(tmp, signame)

        st = cli(["status", "--json", out])
        try:
            info = json.loads(st.stdout)
        except ValueError:
            info = {}
        report("status: after --resume the campaign is stopped, everything triaged",
               info.get("state") == "stopped" and info.get("untriaged") == 0
               and sum(info.get("findings", {}).values()) >= 1, st.stdout + st.stderr)
        tri = cli(["triage", out])
        report("triage: lists the distinct findings, exit 1",
               tri.returncode == 1 and "distinct finding" in tri.stdout and "@bsa" in tri.stdout,
               tri.stdout + tri.stderr)

    with tempfile.TemporaryDirectory() as bare:
        for tool in ("make", "sh"):
            os.symlink(shutil.which(tool), os.path.join(bare, tool))
        proc = run([os.path.join(ROOT, "framefuzz"), "fuzz", "--engine", "afl", "--time", "1",
                    "--out", os.path.join(bare, "camp")], env=dict(os.environ, PATH=bare))
        ok, detail = one_line_error(proc)
        report("cli: fuzz --engine afl without AFL++ names the install command, exit 2, "
               "and creates nothing",
               ok and "apt-get install -y afl++" in proc.stderr
               and not os.path.exists(os.path.join(bare, "camp")), detail)

    for name, args in (("unknown target", ["fuzz", "--target", "nope"]),
                       ("unknown target behind caches", ["fuzz", "--target", "pcp:nope"]),
                       ("a target behind caches and --backends",
                        ["fuzz", "--target", "pcp:buddy", "--backends", "buddy"]),
                       ("a directory that is no campaign", ["status", "/nonexistent/campaign"]),
                       ("a directory that is no campaign", ["triage", "/nonexistent/campaign"]),
                       ("a directory that is no campaign", ["report", "/nonexistent/campaign"]),
                       ("unknown back-end", ["fuzz", "--backends", "buddy,nope"]),
                       ("caches in front of a back-end that locks itself",
                        ["fuzz", "--backends", "pcp:asterinas,buddy"]),
                       ("caches in front of a back-end that locks itself",
                        ["fuzz", "--target", "pcp:asterinas"]),
                       ("missing campaign", ["fuzz", "--resume", "/nonexistent/campaign"]),
                       ("bad job count", ["fuzz", "--jobs", "0"])):
        ok, detail = one_line_error(cli(args))
        report(f"cli: {args[0]} with {name} is a one-line error, exit 2", ok, detail)


def xv6_double_free(tmp, plugin):
    """Writes the program that shows xv6's own flaw (it frees a frame twice) and replays it
    with the plug-in; returns the program's path and the replay."""
    prog = os.path.join(tmp, "double.txt")
    with open(prog, "w") as f:
        f.write("backend xv6\nmap tiny\nalloc 1\ndrop h0\nraw_free 0x0\n")
    return prog, cli(["repro", "--plugin", plugin, "--quiet", prog])


def plugin_tests():
    """Bring your own allocator: one C file, built into every tool in a directory of its
    own; the tree is untouched; bad plug-ins get a clear message."""
    tracked = {f: open(os.path.join(ROOT, f)).read()
               for f in ("allocators/backends.def", "allocators/registry.c")}
    xv6 = os.path.join(ROOT, "plugins", "xv6.c")
    extent = os.path.join(ROOT, "plugins", "extent.c")
    proc = cli(["list", "--plugin", xv6])
    report("plugin: list --plugin shows the plug-in beside the built-in back-ends",
           proc.returncode == 0 and "xv6" in proc.stdout and "buddy" in proc.stdout,
           proc.stdout + proc.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        _, proc = xv6_double_free(tmp, xv6)
        report("plugin: repro --plugin shows xv6's own flaw (an accepted double free)",
               proc.returncode == 1 and "accepted-double-free@xv6 op 2" in proc.stdout,
               proc.stdout + proc.stderr)
        out = os.path.join(tmp, "camp")
        proc = cli(["fuzz", "--plugin", extent, "--backends", "buddy,bitmap,freelist,extent",
                    "--time", "5", "--jobs", "1", "--out", out, "--quiet"])
        report("plugin: fuzz --plugin runs the differential target with the plug-in, clean",
               proc.returncode == 0 and "0 distinct finding" in proc.stdout,
               proc.stdout + proc.stderr)

        bad = {"syntax.c": ('#include "backend.h"\nconst ff_backend_def ff_backend_syntax = {',
                            "syntax.c:", "does not build"),
               "nohook.c": ('#include "backend.h"\nconst ff_backend_def ff_backend_nohook = '
                            '{.name = "nohook"};\n', "required hook .create is missing", ""),
               "Bad-Name.c": ("", "the back-end name 'Bad-Name' is not 1 to 24 of [a-z0-9_]", "")}
        for name, (text, expect1, expect2) in bad.items():
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write(text)
            proc = cli(["list", "--plugin", path])
            report(f"plugin: a bad plug-in ({name}) gets a message naming what is wrong, exit 2",
                   proc.returncode == 2 and expect1 in proc.stderr and expect2 in proc.stderr,
                   proc.stderr)
        policy = os.path.join(tmp, "badpolicy.c")
        with open(xv6) as f:
            text = f.read().replace("ff_backend_xv6", "ff_backend_badpolicy") \
                .replace('"xv6"', '"badpolicy"').replace(".inband_bytes = sizeof(uint64_t)",
                                                         ".inband_bytes = 4096")
        with open(policy, "w") as f:
            f.write(text)
        proc = cli(["list", "--plugin", policy])
        report("plugin: an impossible policy is named, exit 2",
               proc.returncode == 2 and "inband_bytes 4096" in proc.stderr, proc.stderr)
    report("plugin: the source tree is untouched",
           all(open(os.path.join(ROOT, f)).read() == t for f, t in tracked.items()), "")


def fuzz_json(args):
    """Runs a campaign with --json; returns (process, signatures of its findings)."""
    proc = cli(["fuzz", *args, "--json"])
    summary = [json.loads(l) for l in proc.stdout.splitlines()
               if l.startswith("{") and '"summary"' in l]
    found = summary[0]["findings"] if summary else []
    return proc, sorted(f["signature"] for f in found), found


def repro_json(args):
    """framefuzz repro --json: (process, the finding events)."""
    proc = cli(["repro", "--json", *args])
    events = []
    for line in proc.stdout.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            pass
    return proc, [e for e in events if e.get("event") == "finding"]


MISBEHAVE = os.path.join(ROOT, "tests", "plugins", "misbehave.c")


def misbehaving(way):
    """The plug-in options of the TEST-ONLY allocator that misbehaves in one way."""
    return ["--plugin", MISBEHAVE, f"--plugin-cflags=-DMISBEHAVE_{way}"]


def precision_tests():
    """Real allocators, no false alarms (issue #11): a finding per root cause, the
    allocator's own crashes, panics and endless loops named where they happen, plug-ins
    built like real code."""
    with tempfile.TemporaryDirectory() as tmp:
        def program(name, text):
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write(text)
            return path

        # A crash after a root cause is its consequence, and the trace survives a pipe.
        dbl = program("double.txt", "backend misbehave\nmap tiny\nalloc 2\ndrop h0\n"
                                    "raw_free 0x0 2\nalloc 1\n")
        proc, found = repro_json([*misbehaving("DOUBLE"), "--keep-going", dbl])
        sigs = [(f["signature"], f["consequence"], f.get("fatal")) for f in found]
        report("repro: a crash that follows a finding is its consequence; the finding stays "
               "the root cause",
               sigs == [("accepted-double-free@misbehave", False, False),
                        ("engine-crash@misbehave:alloc:SIGSEGV:wild_write,mb_alloc", True, True)],
               proc.stdout + proc.stderr)
        segv = program("segv.txt", "backend misbehave\nmap tiny\nalloc 2\nalloc 7\n")
        proc = cli(["repro", *misbehaving("SEGV"), segv])  # stdout is a pipe here
        report("repro: when the allocator crashes, the trace so far reaches a pipe, then the "
               "crash, named by call, signal and the allocator's functions",
               "[1] alloc 7" in proc.stdout and "ok: h0 = [0x0, +2)" in proc.stdout
               and "!! engine-crash@misbehave:alloc:SIGSEGV:wild_write,mb_alloc op 1"
               in proc.stdout and proc.returncode not in (0, 1, 2), proc.stdout + proc.stderr)
        abrt = program("abort.txt", "backend misbehave\nmap tiny\nalloc 3\ndrop h0\n"
                                    "raw_free 0x0 3\n")
        proc, found = repro_json([*misbehaving("ABORT"), abrt])
        report("repro: an allocator that abort()s is an engine-crash named SIGABRT in its "
               "function",
               [f["signature"] for f in found] == ["engine-crash@misbehave:free:SIGABRT:mb_free"],
               proc.stdout + proc.stderr)
        spin = program("spin.txt", "backend misbehave\nmap tiny\nalloc 3\ndrop h0\n")
        start = time.monotonic()
        proc, found = repro_json([*misbehaving("SPIN"), "--timeout", "1", spin])
        report("repro: a call that never returns (no ff_step) is a hang named by call and "
               "function, after the time limit",
               [f["signature"] for f in found] == ["hang@misbehave:free:mb_free"]
               and found[0]["op"] == 1 and time.monotonic() - start < 30,
               proc.stdout + proc.stderr)

        # Campaigns: one signature per root cause.
        proc, sigs, _ = fuzz_json(["--plugin", os.path.join(ROOT, "plugins", "xv6.c"),
                                   "--target", "xv6", "--time", "10", "--out",
                                   os.path.join(tmp, "xv6")])
        report("fuzz: xv6's unchecked frees come out as their root causes only (no double "
               "hand-out, drift, leak or crash signatures after them)",
               sigs and set(sigs) <= {"accepted-double-free@xv6", "accepted-foreign-free@xv6"},
               str(sigs) + proc.stderr[-1500:])
        out = os.path.join(tmp, "double")
        proc, sigs, found = fuzz_json([*misbehaving("DOUBLE"), "--target", "misbehave",
                                       "--time", "8", "--out", out])
        with open(os.path.join(out, "campaign.json")) as f:
            config = json.load(f)
        report("fuzz: an allocator that crashes after accepting a double free is filed under "
               "the double free, never as an engine-crash",
               "accepted-double-free@misbehave" in sigs
               and not any(s.startswith("engine-crash") for s in sigs),
               str(sigs) + proc.stderr[-1500:])
        report("fuzz: a plug-in target fuzzes from the default seed corpus",
               config.get("seeds") == seed_dirs("diff"), str(config))
        out = os.path.join(tmp, "segv")
        proc, sigs, found = fuzz_json([*misbehaving("SEGV"), "--backends", "bitmap,misbehave",
                                       "--time", "8", "--out", out])
        text = ""
        if len(sigs) == 1:
            with open(os.path.join(out, "findings", sigs[0], "reproducer.txt")) as f:
                text = f.read()
        replay = cli(["repro", *misbehaving("SEGV"), "--quiet",
                      os.path.join(out, "findings", sigs[0], "reproducer.txt")]) if sigs else None
        report("fuzz: a crash in a differential campaign names the back-end that crashed, and "
               "its reproducer replays with no flags",
               sigs == ["engine-crash@misbehave:alloc:SIGSEGV:wild_write,mb_alloc"]
               and "backend misbehave\n" in text and replay is not None
               and sigs[0] in replay.stdout, str(sigs) + text + proc.stderr[-1500:])
        out = os.path.join(tmp, "spin")
        start = time.monotonic()
        proc, sigs, found = fuzz_json([*misbehaving("SPIN"), "--target", "misbehave",
                                       "--time", "8", "--timeout", "1", "--out", out])
        took = time.monotonic() - start
        small = ""
        if sigs == ["hang@misbehave:free:mb_free"]:
            with open(os.path.join(out, "findings", sigs[0], "reproducer.txt")) as f:
                small = f.read()
        ops = [l for l in small.splitlines() if l and not l.startswith(
            ("#", "backend", "semantics", "map", "region", "poison"))]
        report("fuzz: a loop without ff_step is caught by the per-input time limit, filed as "
               "hang@misbehave:free:mb_free with a minimal reproducer, and the campaign ends",
               sigs == ["hang@misbehave:free:mb_free"] and 1 <= len(ops) <= 2 and took < 120,
               f"{sigs} {took:.0f} s\n{small}" + proc.stderr[-1500:])

        # A back-end line longer than a binary name replays with no flags.
        long_line = program("long.txt", "backend buddy,bitmap,freelist,bsa,broken-none\n"
                                        "map tiny\nalloc 0\n")
        proc = test_fftool(["repro", "--quiet", long_line])
        report("repro: a differential reproducer naming 5 back-ends (37 characters) replays "
               "with no flags", proc.returncode == 1 and "accepted-bad-request@bsa" in proc.stdout,
               proc.stdout + proc.stderr)

        # A map pasted from a Linux 6.15+ boot log reads as the older format does.
        old = program("old.map", "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"
                                 "BIOS-e820: [mem 0x00000000000f0000-0x00000000000fffff] reserved\n"
                                 "BIOS-e820: [mem 0x0000000000100000-0x000000007ffdefff] usable\n")
        new = program("new.map", "[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff]"
                                 "   639 KB System RAM\n"
                                 "[    0.000000] BIOS-e820: [gap 0x000000000009fc00-0x00000000000effff]"
                                 "   321 KB\n"
                                 "[    0.000000] BIOS-e820: [mem 0x00000000000f0000-0x00000000000fffff]"
                                 "    64 KB device reserved\n"
                                 "[    0.000000] BIOS-e820: [mem 0x0000000000100000-0x000000007ffdefff]"
                                 "   1.9 GB System RAM\n")
        a, b = cli(["map", "--json", old]), cli(["map", "--json", new])
        report("map: a Linux 6.15+ log (System RAM, device reserved, sizes, gap lines) reads as "
               "the older format", a.returncode == 0 and a.stdout == b.stdout,
               a.stdout + b.stdout + b.stderr)

    # Built like real code: more files, a header beside it, one on an include path, a -D.
    split = os.path.join(ROOT, "tests", "plugins", "split")
    proc = subprocess.run([os.path.join(ROOT, "framefuzz"), "list", "--plugin", "split.c",
                           "--plugin-src", "split_util.c",
                           "--plugin-cflags=-Iinclude -DSPLIT_MAX_ORDER=4"],
                          cwd=split, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    report("plugin: built where it is, with another C file, a relative include path and a "
           "macro from --plugin-cflags",
           proc.returncode == 0 and "TEST-ONLY: a plug-in of two C files" in proc.stdout
           and "frees=by-address max-order=4" in proc.stdout, proc.stdout + proc.stderr)
    proc = subprocess.run([os.path.join(ROOT, "framefuzz"), "list", "--plugin", "split.c"],
                          cwd=split, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    report("plugin: a plug-in missing its flags gets the compiler's error on its own file, "
           "exit 2",
           proc.returncode == 2 and "split.c:" in proc.stderr and "split_config.h" in proc.stderr,
           proc.stderr)


def campaign_plugin_tests():
    """A campaign remembers its plug-in: triage, repro and minimize of what it stored
    work with no flags, and nothing found is ever dropped as unreadable."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "xv6")
        proc, sigs, _ = fuzz_json(["--plugin", os.path.join(ROOT, "plugins", "xv6.c"),
                                   "--target", "xv6", "--time", "5", "--out", out])
        # As a killed run leaves it: artifacts written, nothing triaged.
        for name in ("triaged", "known"):
            if os.path.exists(os.path.join(out, name)):
                os.unlink(os.path.join(out, name))
        shutil.rmtree(os.path.join(out, "findings"), ignore_errors=True)
        os.makedirs(os.path.join(out, "findings"))
        huge = os.path.join(out, "artifacts", "crash-huge")
        with open(huge, "wb") as f:
            f.write(b"\x01" * (5 << 20))  # past what a program can be: cannot be replayed
        tri = cli(["triage", "--json", out])
        try:
            info = json.loads(tri.stdout)
        except ValueError:
            info = {}
        again = sorted(f["signature"] for f in info.get("findings", []))
        report("triage: a plug-in campaign is triaged with no flags, and finds again what the "
               "campaign found", sigs and again == sigs and tri.returncode == 1,
               f"{sigs} {again}\n" + tri.stdout[-1000:] + tri.stderr[-1000:])
        st = cli(["status", "--json", out])
        try:
            untriaged = json.loads(st.stdout).get("untriaged")
        except ValueError:
            untriaged = None
        report("triage: an artifact that cannot be replayed stays untriaged, named and counted",
               info.get("unreadable") == ["artifacts/crash-huge"] and untriaged == 1,
               tri.stdout[-1000:] + st.stdout)
        os.unlink(huge)
        stored = sorted(glob.glob(os.path.join(out, "findings", "*", "reproducer.txt")))
        replays = [cli(["repro", "--quiet", path]) for path in stored]
        report("repro: a plug-in campaign's reproducers replay as their signature with no flags",
               stored and all(f"verdict: {os.path.basename(os.path.dirname(path))} " in r.stdout
                              for path, r in zip(stored, replays)),
               "".join(r.stdout + r.stderr for r in replays))
        # A crash only the sanitizers see: named, with the sanitizer's report kept and shown.
        ovf = os.path.join(tmp, "overflow")
        proc, sigs, _ = fuzz_json([*misbehaving("OVERFLOW"), "--target", "misbehave", "--time",
                                   "6", "--out", ovf])
        sig = "engine-crash@misbehave:alloc:heap-buffer-overflow:overflow_by_one,mb_alloc"
        shown = cli(["repro", os.path.join(ovf, "findings", sig, "reproducer.txt")]) \
            if sigs == [sig] else proc
        report("fuzz: a heap overflow only the sanitizers see is an engine-crash naming the call, "
               "the error and the allocator's functions; repro shows the sanitizer's report",
               sigs == [sig] and os.path.exists(os.path.join(ovf, "findings", sig, "sanitizer.txt"))
               and "AddressSanitizer: heap-buffer-overflow" in shown.stdout
               and "in overflow_by_one" in shown.stdout, str(sigs) + shown.stdout[-1500:])
        # A seed only the sanitizers crash on ends the ASan+UBSan job while it replays the
        # corpus, again and again (the plain job keeps adding inputs that crash it too, each
        # a new crash input): after three times the job goes on in libFuzzer's fork mode,
        # which gets past it, and the campaign still ends on time.
        seeds = os.path.join(tmp, "asan-only-seed")
        os.makedirs(seeds)
        with open(os.path.join(tmp, "seed.txt"), "w") as f:
            f.write("backend misbehave\nmap tiny\nalloc 5\n")
        cli(["encode", os.path.join(tmp, "seed.txt"), "-o", os.path.join(seeds, "overflow")])
        began = time.monotonic()
        loop = cli(["fuzz", *misbehaving("OVERFLOW"), "--target", "misbehave", "--time", "20",
                    "--jobs", "2", "--seeds", seeds, "--out", os.path.join(tmp, "loop"),
                    "--quiet", "--no-minimize"])
        took = time.monotonic() - began
        report("fuzz: a job that crashes on a seed as it starts, again and again, goes on in "
               "fork mode, and the campaign ends on time",
               loop.returncode in (0, 1) and "runs in libFuzzer's fork mode" in loop.stderr
               and took < 20 + 30, f"{took:.0f} s\n" + loop.stderr[-1500:])
        # Any program, campaign or not: --sanitize replays it in the sanitized harness too,
        # and a program that crashes the plain replay is replayed there anyway.
        prog = os.path.join(tmp, "overflow.txt")
        with open(prog, "w") as f:
            f.write("backend misbehave\nmap tiny\nalloc 5\n")
        plain = cli(["repro", *misbehaving("OVERFLOW"), prog])
        both = cli(["repro", *misbehaving("OVERFLOW"), "--sanitize", prog])
        report("repro --sanitize: a program the plain replay finds clean shows the heap overflow "
               "under ASan, at the allocator's function, its stack cut at the allocator's call",
               "verdict: clean" in plain.stdout and "AddressSanitizer" not in plain.stdout
               and "AddressSanitizer: heap-buffer-overflow" in both.stdout
               and "in overflow_by_one" in both.stdout and "in mb_alloc" in both.stdout
               and "LLVMFuzzerTestOneInput" not in both.stdout, plain.stdout + both.stdout)
        with open(prog, "w") as f:
            f.write("backend misbehave\nmap tiny\nalloc 7\n")
        crash = cli(["repro", *misbehaving("SEGV"), prog])
        report("repro: a program that crashes the allocator is replayed under the sanitizers too, "
               "which name the faulting access",
               "verdict: engine-crash@misbehave:alloc:SIGSEGV" in crash.stdout
               and "null pointer" in crash.stdout, crash.stdout + crash.stderr)
        # A scribble on a frame in use, and every reproducer of campaigns over broken
        # plug-ins replays as its own signature, first, with no flags.
        stored, replays = [], []
        for way, seconds in (("SCRIBBLE", "10"), ("DOUBLE", "6"), ("SEGV", "6")):
            camp = os.path.join(tmp, way.lower())
            proc, sigs, found = fuzz_json([*misbehaving(way), "--target", "misbehave", "--time",
                                           seconds, "--out", camp])
            if way == "SCRIBBLE":
                report("fuzz: an in-band allocator writing one frame past its block is found as "
                       "inuse-corrupted within 30 s",
                       sigs == ["inuse-corrupted@misbehave"] and found[0]["first_seen_s"] < 30,
                       str(found) + proc.stderr[-1000:])
            for sig in sigs:
                path = os.path.join(camp, "findings", sig, "reproducer.txt")
                stored.append(sig)
                replays.append(cli(["repro", "--quiet", path]).stdout)
        report("repro: every reproducer stored by campaigns over broken plug-ins replays as its "
               "signature, first, with no flags",
               len(stored) >= 3 and all(r.startswith(f"verdict: {sig} ")
                                        for sig, r in zip(stored, replays)),
               "\n".join(f"{sig}: {r}" for sig, r in zip(stored, replays)))
        artifact = sorted(glob.glob(os.path.join(out, "artifacts", "*")))[:1]
        proc = cli(["minimize", *artifact]) if artifact else None
        report("minimize: a plug-in campaign's binary artifact (no back-end named) minimises with "
               "no flags", proc is not None and proc.returncode == 0 and "backend xv6" in proc.stdout,
               (proc.stdout + proc.stderr) if proc else "no artifact")


def stall_tests():
    """An engine that stops making progress is stopped, every job it forked with it, and
    restarted on the same corpus for the time left; the campaign still ends on time."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "stall")
        env = dict(os.environ, FRAMEFUZZ_STALL_S="6")
        start = time.monotonic()
        proc = subprocess.Popen([os.path.join(ROOT, "framefuzz"), "fuzz", "--target", "buddy",
                                 "--time", "24", "--jobs", "1", "--out", out, "--quiet"],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        running = os.path.join(out, "running")
        engine = None
        while time.monotonic() - start < 60 and engine is None:
            time.sleep(0.5)
            try:
                with open(running) as f:
                    engine = int(f.read().split()[1])
            except (OSError, IndexError, ValueError):
                pass
        time.sleep(3)
        if engine:
            os.killpg(engine, signal.SIGSTOP)  # the engine and its jobs freeze
        stdout, stderr = proc.communicate(timeout=300)
        took = time.monotonic() - start
        alive_left = engine is not None and subprocess.run(
            ["ps", "-o", "pid=", "-g", str(engine)], stdout=subprocess.PIPE,
            text=True).stdout.strip()
        corpus = os.listdir(os.path.join(out, "corpus")) if os.path.isdir(
            os.path.join(out, "corpus")) else []
        report("fuzz: a frozen engine is restarted on the same corpus, nothing of it is left "
               "running, and the campaign ends on time",
               engine is not None and proc.returncode == 0 and "restarted" in stderr
               and not alive_left and corpus and took < 90,
               f"{took:.0f} s, left: {alive_left!r}\n" + stdout[-800:] + stderr[-800:])


EXAMPLES = [  # plug-in, the class its FF_EXAMPLE_BUG twin is found as
    ("sizeclass", "accepted-wrong-size-free"),
    ("kfree", "accepted-misaligned-free"),
    ("oneerr", "rejected-valid-free"),
    ("kmem", "double-handout"),
    ("assert", "allocator-panic"),
]


def example_tests():
    """The example plug-ins, one per contract feature for real allocators: each fuzzes
    clean, and its labelled twin (-DFF_EXAMPLE_BUG) shows its bug as exactly one
    signature of the right class."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, cls in EXAMPLES:
            plugin = os.path.join(ROOT, "plugins", f"{name}.c")
            proc, sigs, _ = fuzz_json(["--plugin", plugin, "--target", name, "--time", "8",
                                       "--out", os.path.join(tmp, name)])
            report(f"example {name}: 8 s of fuzzing, no finding",
                   proc.returncode == 0 and sigs == [], str(sigs) + proc.stderr[-1500:])
            proc, sigs, _ = fuzz_json(["--plugin", plugin, "--plugin-cflags=-DFF_EXAMPLE_BUG",
                                       "--target", name, "--time", "10",
                                       "--out", os.path.join(tmp, name + "-bug")])
            report(f"example {name}: its twin's bug is found as one {cls} signature",
                   len(sigs) == 1 and sigs[0].split("@")[0] == cls
                   and sigs[0].split("@")[1].split(":")[0] == name,
                   str(sigs) + proc.stderr[-1500:])
        # What the example plug-ins once turned up that was framefuzz's, not theirs.
        for replay in sorted(glob.glob(os.path.join(ROOT, "tests", "plugins", "replays", "*.txt"))):
            name = os.path.basename(replay).split("-")[0]
            proc = cli(["repro", "--plugin", os.path.join(ROOT, "plugins", f"{name}.c"), "--expect",
                        replay])
            report(f"example {name}: {os.path.basename(replay)} replays as expected",
                   proc.returncode == 0, proc.stdout + proc.stderr)
        # One error code beside back-ends that name each refusal: no divergence.
        proc, sigs, _ = fuzz_json(["--plugin", os.path.join(ROOT, "plugins", "oneerr.c"),
                                   "--backends", "bitmap,freelist,oneerr", "--time", "10",
                                   "--out", os.path.join(tmp, "oneerr-diff")])
        report("example oneerr: beside bitmap and freelist, its one refusal code is no "
               "divergence", proc.returncode == 0 and sigs == [], str(sigs) + proc.stderr[-1500:])


def shared_plugin_tests():
    """A prebuilt shared object as a plug-in: linked into every tool and harness from a
    build directory of its own; bad objects get a message naming what is wrong."""
    xv6 = os.path.join(ROOT, "plugins", "xv6.c")
    with tempfile.TemporaryDirectory() as tmp:
        def shared(name, source, *flags):
            out = os.path.join(tmp, name)
            proc = run(["clang", "-std=c11", "-D_DEFAULT_SOURCE", "-O2", "-shared", "-fPIC",
                        "-Iallocators", *flags, source, "-o", out])
            return out if proc.returncode == 0 else proc.stderr
        lib = shared("libxv6.so", xv6, "-Wl,-soname,libxv6.so.1")
        prog, proc = xv6_double_free(tmp, lib)
        report("plugin .so: repro --plugin libxv6.so (with a SONAME) shows xv6's double free",
               proc.returncode == 1 and "accepted-double-free@xv6 op 2" in proc.stdout,
               proc.stdout + proc.stderr)
        build = os.path.join(ROOT, "build", "plugin-so-xv6")
        binary = os.path.join(tmp, "double.bin")
        enc = run([os.path.join(build, "fftool"), "encode", prog, "-o", binary])
        made = run(["make", "-s", f"PLUGIN={lib}", "PLUGIN_NAME=xv6",
                    "build/plugin-so-xv6/fuzz/fuzz-xv6", "build/plugin-so-xv6/replay",
                    "build/plugin-so-xv6/afl/fuzz-xv6"])
        found = []
        if enc.returncode == 0 and made.returncode == 0:
            for harness, how in (("fuzz/fuzz-xv6", "arg"), ("replay", "arg"),
                                 ("afl/fuzz-xv6", "stdin")):
                with open(binary, "rb") as f:
                    proc = subprocess.run(
                        [os.path.join(build, harness), "--ff-semantics=hardened",
                         "--ff-targets=xv6",
                         *([binary] if how == "arg" else [])],
                        stdin=f if how == "stdin" else subprocess.DEVNULL, cwd=tmp,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                found.append("accepted-double-free@xv6" in proc.stderr + proc.stdout
                             and proc.returncode != 0)
        report("plugin .so: the libFuzzer, replay and AFL++ harnesses link it and find the "
               "double free", found == [True, True, True],
               enc.stderr + made.stdout + made.stderr + str(found))
        with open(xv6) as f:
            renamed = f.read().replace("example plug-in: xv6's kalloc", "rebuilt xv6")
        with open(os.path.join(tmp, "xv6.c"), "w") as f:
            f.write(renamed)
        relib = shared("libxv6.so", os.path.join(tmp, "xv6.c"))
        os.utime(relib, (0, 0))  # older than the copy framefuzz made of the first one
        proc = cli(["list", "--plugin", relib])
        report("plugin .so: a replaced object of the same name is picked up, whatever its "
               "time stamp", proc.returncode == 0 and "rebuilt xv6" in proc.stdout,
               proc.stdout + proc.stderr)

        with open(os.path.join(tmp, "notelf.so"), "w") as f:
            f.write("not an object\n")
        with open(os.path.join(tmp, "none.c"), "w") as f:
            f.write("int unrelated;\n")
        with open(os.path.join(tmp, "missing.c"), "w") as f:
            f.write(renamed.replace("ff_runs_find(", "ff_runs_lookup("))
        # An object built against the backend.h before `reset` was added to the contract.
        old_include = os.path.join(tmp, "old-include")
        os.makedirs(old_include)
        for header in ("backend.h",):
            with open(os.path.join(ROOT, "allocators", header)) as f:
                text = f.read()
            if header == "backend.h":
                text = text.replace("    bool (*reset)(void *self);\n", "")
            with open(os.path.join(old_include, header), "w") as f:
                f.write(text)
        with open(os.path.join(tmp, "old.c"), "w") as f:
            f.write(renamed)
        old_lib = os.path.join(tmp, "libold.so")
        made = run(["clang", "-std=c11", "-D_DEFAULT_SOURCE", "-O2", "-shared", "-fPIC",
                    f"-I{old_include}", os.path.join(tmp, "old.c"), "-o", old_lib])
        bad = {"not ELF": (os.path.join(tmp, "notelf.so"), "not a shared object"),
               "older contract": (old_lib if made.returncode == 0 else made.stderr,
                                  "built against an older backend.h"),
               "no back-end": (shared("libnone.so", os.path.join(tmp, "none.c")),
                               "exports no ff_backend_NAME"),
               "ASan-built": (shared("libasan.so", xv6, "-fsanitize=address"),
                              "built with asan instrumentation"),
               "unresolved symbol": (shared("libmissing.so", os.path.join(tmp, "missing.c"),
                                            "-Wno-implicit-function-declaration"),
                                     "undefined reference to `ff_runs_lookup'")}
        for name, (path, expect) in bad.items():
            proc = cli(["list", "--plugin", path])
            report(f"plugin .so: a bad shared object ({name}) is named with what is wrong, "
                   f"exit 2", proc.returncode == 2 and expect in proc.stderr
                   and path in proc.stderr, proc.stderr)


def compare_tests():
    proc = cli(["compare", "--workloads", "churn,storm", "--maps", "tiny", "--runs", "2",
                "--format", "json"])
    try:
        rows = json.loads(proc.stdout)["rows"]
    except (ValueError, KeyError):
        rows = []
    names = {r["backend"] for r in rows}
    # asterinas panics balancing near exhaustion (the flaw of the code it models): its
    # storm row on 50 frames says so instead of giving figures.
    left = [(r["backend"], r["workload"]) for r in rows if r.get("left")]
    report("compare: every back-end on each workload, each run checked by the oracle; a "
           "back-end that panics on one gets a row saying so",
           proc.returncode == 0 and len(rows) == 2 * len(BACKENDS) and names == set(BACKENDS)
           and all(r["alloc_ns"]["median"] > 0 and r["checked"] for r in rows if not r["left"])
           and all(r["ooms"] > 0 for r in rows if r["workload"] == "storm" and not r["left"])
           and left == [("asterinas", "storm")]
           and all("lesser_order_of" in r["left"] and r["alloc_ns"]["median"] == 0
                   for r in rows if r["left"]),
           proc.stdout[-2000:] + proc.stderr)
    again = cli(["compare", "--workloads", "storm", "--maps", "tiny", "--runs", "1",
                 "--format", "json"])
    try:
        keep = [(r["backend"], r["ooms"], r["largest_free_block"], r["unusable_index_order9"])
                for r in json.loads(again.stdout)["rows"]]
        first = [(r["backend"], r["ooms"], r["largest_free_block"], r["unusable_index_order9"])
                 for r in rows if r["workload"] == "storm"]
    except (ValueError, KeyError):
        keep, first = [], [1]
    report("compare: workloads are deterministic (same counts and fragmentation)",
           keep == first, again.stdout + again.stderr)
    for fmt, marker in (("markdown", "| back-end |"), ("csv", "back-end,workload"),
                        ("table", "ns/alloc")):
        proc = cli(["compare", "--workloads", "churn", "--maps", "tiny", "--runs", "1",
                    "--format", fmt])
        # The buddy target is judged on churn rows: after the table, never in csv.
        report(f"compare: --format {fmt}" + (", targets after the table" if fmt != "csv" else
                                             ", rows only"),
               proc.returncode == 0 and marker in proc.stdout
               and ("buddy order-0 alloc+free pair [churn, tiny]" in proc.stdout) == (fmt != "csv"),
               proc.stdout + proc.stderr)
    proc = cli(["compare", "--workloads", "corpus:corpus/common", "--maps", "tiny", "--runs", "1",
                "--format", "json"])
    try:
        rows = {r["backend"]: r for r in json.loads(proc.stdout)["rows"]}
    except (ValueError, KeyError):
        rows = {}
    report("compare: a fuzz corpus replays as a workload, checked (bsa's drift shows)",
           proc.returncode == 0 and rows.get("buddy", {}).get("checked") is True
           and rows.get("bsa", {}).get("finding", "").endswith("@bsa"),
           proc.stdout[-1500:] + proc.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        proc = cli(["compare", "--workloads", "churn", "--maps", "tiny,qemu", "--runs", "1",
                    "--html", tmp])
        files = set(os.listdir(tmp))
        page = open(os.path.join(tmp, "index.html")).read() if "index.html" in files else ""
        report("compare: --html writes a page with bar charts and scaling curves (matplotlib)",
               proc.returncode == 0 and {"alloc_ns.png", "free_ns.png", "scaling-churn.png",
                                         "compare.md"} <= files and "<table>" in page
               and "<h2>Targets</h2>" in page and "Targets:" in
               open(os.path.join(tmp, "compare.md")).read(), proc.stderr + str(files))

    # Memory, measured in a fresh process per back-end, and the huge workload.
    proc = cli(["compare", "--workloads", "churn,huge", "--maps", "pc-1g", "--runs", "1",
                "--format", "json"])
    try:
        out = json.loads(proc.stdout)
        rows = {(r["backend"], r["workload"]): r for r in out["rows"]}
    except (ValueError, KeyError):
        out, rows = {}, {}
    report("compare: --format json is one object: rows, targets, the run's peak host memory",
           proc.returncode == 0 and set(out) == {"rows", "targets", "run_peak_host_mib"}
           and len(rows) == 2 * len(BACKENDS) and out["run_peak_host_mib"] > 0
           and [(t["target"], t["where"]) for t in out["targets"]] ==
           [("buddy order-0 alloc+free pair", "churn, pc-1g")]
           and out["targets"][0]["met"] in (True, False), proc.stdout[-2000:] + proc.stderr)
    huge = [r for (_, wl), r in rows.items() if wl == "huge"]
    report("compare: huge hands out 2 MiB blocks on pc-1g without OOM, checked, every back-end",
           len(huge) == len(BACKENDS) and all(r["ooms"] == 0 and r["checked"] and r["events"] >= 2000
                                  and r["pair_ns"]["median"] > 0 for r in huge),
           json.dumps(huge)[-2000:])
    proc = cli(["compare", "--workloads", "huge", "--maps", "tiny", "--runs", "1",
                "--backends", "buddy,bitmap", "--format", "json"])
    try:
        tiny = json.loads(proc.stdout)["rows"]
    except (ValueError, KeyError):
        tiny = []
    # Each allocation of the trace is followed by its free: half the events.
    report("compare: every huge allocation is out of memory on tiny (50 frames)",
           len(tiny) == 2 and all(2 * r["ooms"] == r["events"] > 0 for r in tiny),
           proc.stdout[-1500:] + proc.stderr)
    own = {b: rows.get((b, "churn"), {}).get("backend_bytes_per_frame", -1)
           for b in ("buddy", "bitmap", "freelist", "bsa")}
    # bitmap.c keeps two bits per frame over the span of RAM (free frames, allocation
    # heads) and two summary trees of 64-way words over the frame bits (1/64 + 1/64^2 +
    # ... bits per frame each): 2 + 2/63 = 2.03 bits = 0.254 bytes per frame. The frame
    # bits are all written at create, the heads where allocations start (churn's next
    # fit sweeps nearly all of pc-1g), and resident memory comes in whole pages (a few
    # pages, < 0.1 B/frame here). Hence [0.20, 0.40]: a per-frame byte more, or the
    # driver's 9 bytes per event, fails.
    report(f"compare: bitmap's own metadata at pc-1g is its 2.03 bits per frame "
           f"({own['bitmap']} B/frame)", 0.20 <= own["bitmap"] <= 0.40, json.dumps(own))
    report(f"compare: bsa's own metadata (no per-frame state) is under half of bitmap's "
           f"({own['bsa']} B/frame)", 0 <= own["bsa"] < own["bitmap"] / 2,
           json.dumps(own))
    fl = rows.get(("freelist", "churn"), {})
    report("compare: freelist's in-band frames count in peak host memory, not in metadata",
           fl.get("ram_touched_mib", 0) > 0 and fl["peak_host_mib"] >= fl["ram_touched_mib"]
           and 0 <= fl["backend_bytes_per_frame"] < 0.5, json.dumps(fl))
    report("compare: metadata bytes per frame = the back-end's own + the layer's slot",
           rows and all(r["layer_bytes_per_frame"] > 0 and abs(
               r["metadata_bytes_per_frame"] - r["layer_bytes_per_frame"] -
               r["backend_bytes_per_frame"]) < 0.006 for r in rows.values()),
           json.dumps(list(rows.values()))[-2000:])
    ffcompare = os.path.join(ROOT, "build", "ffcompare")
    probe, usage = run([ffcompare, "--memory-probe", "churn"]), run([ffcompare])
    report("compare: ffcompare's internal --memory-probe is not in its usage and refuses misuse",
           "--memory-probe" not in usage.stderr and probe.returncode == 2
           and len(probe.stderr.strip().splitlines()) == 1, probe.stderr + usage.stderr)

    # The targets, judged on hand-made rows (pure Python).
    sys.path.insert(0, ROOT)
    from cli import compare as cmp

    def row(backend, workload, preset, pair, ooms=0, finding=""):
        return {"backend": backend, "workload": workload, "preset": preset,
                "alloc_ns": {"median": pair}, "free_ns": {"median": pair},
                "pair_ns": {"median": pair}, "timer_ns": 25.0, "ooms": ooms,
                "checked": not finding, "finding": finding}
    made = [row("buddy", "churn", "pc-1g", 20.0), row("buddy", "churn", "pc-64g", 45.0),
            row("bitmap", "huge", "pc-64g", 1500.0), row("bitmap", "huge", "pc-1g", 9999.0),
            row("bitmap", "churn", "pc-64g", 9999.0), row("bsa", "huge", "pc-1t", 1.0)]
    judged = [(t["where"], t["figure"], t["met"]) for t in cmp.targets(made, 9000.0)]
    lines = [cmp.target_line(t) for t in cmp.targets(made, 9000.0)]
    report("compare: targets are judged on the rows they name (buddy churn on any map, bitmap "
           "huge at pc-64g, the run's peak when pc-1t ran), met or NOT MET",
           judged == [("churn, pc-1g", 20.0, True), ("churn, pc-64g", 45.0, False),
                      ("huge, pc-64g", 1500.0, True), ("pc-1t, every process", 9000.0, False)]
           and lines[0].startswith("buddy order-0 alloc+free pair [churn, pc-1g]: 20 ns")
           and lines[0].split(": ")[2].startswith("met")
           and all(": NOT MET" in lines[i] for i in (1, 3)), "\n".join(lines))
    report("compare: a target whose rows were not measured is not listed",
           cmp.targets([row("bitmap", "huge", "pc-1g", 1.0), row("bsa", "churn", "pc-1t", 1.0)])
           == [] and cmp.targets([row("bitmap", "churn", "pc-64g", 1.0)], 100.0) == []
           and [t["where"] for t in cmp.targets(made[:3], 100.0)] ==
           ["churn, pc-1g", "churn, pc-64g", "huge, pc-64g"], "")
    bad = cmp.targets([row("buddy", "churn", "pc-1g", 10.0, finding="double-alloc@buddy"),
                       row("buddy", "churn", "pc-64g", 10.0, ooms=3)])
    report("compare: a fast pair with an oracle finding or out-of-memory answers is NOT MET",
           [t["met"] for t in bad] == [False, False] and "double-alloc@buddy" in bad[0]["note"]
           and "3 OOM" in bad[1]["note"], json.dumps(bad))

    for name, args in (("unknown workload", ["compare", "--workloads", "nope"]),
                       ("unknown map", ["compare", "--maps", "nope"]),
                       ("unknown back-end", ["compare", "--backends", "nope"]),
                       ("a back-end behind per-CPU caches", ["compare", "--backends", "pcp:buddy",
                                                             "--workloads", "boot", "--maps",
                                                             "tiny", "--runs", "1"]),
                       ("--targets and --maps", ["compare", "--targets", "--maps", "pc-1g"]),
                       ("--targets and --workloads", ["compare", "--targets", "--workloads",
                                                      "churn"])):
        ok, detail = one_line_error(cli(args))
        report(f"cli: compare with {name} is a one-line error, exit 2", ok, detail)


def bugs_tests():
    """The injected-bug suite: each bug has a reproducer that shows its class only with the
    bug on; each is found by fuzzing, with its class, within a generous cap (so a change
    that blinds the oracle fails here); the statistics match hand-computed values."""
    proc = run([os.path.join(ROOT, "build", "fftool"), "list", "--json"])
    table = json.loads(proc.stdout)["bugs"] if proc.returncode == 0 else []
    # AFL++ trials that run to their limit stop afl-fuzz and everything it started: the
    # CMPLOG server's stopped persistent-mode children, in sessions of their own, too
    # (three trials: a child is left only when it is stopped as the trial ends).
    with tempfile.TemporaryDirectory() as tmp:
        mark = f"bugs-afl-{os.getpid()}"
        trial = run([os.path.join(ROOT, "framefuzz"), "bugs", "--bugs", "buddy-max-order-lost",
                     "--configs", "afl-single-mutator-seeded", "--trials", "3", "--time", "8",
                     "--out", os.path.join(tmp, "afl")],
                    env=dict(os.environ, FRAMEFUZZ_TEST_MARK=mark))
        time.sleep(1)
        left = marked(mark)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        report("bugs: AFL++ trials leave no process behind",
               trial.returncode in (0, 1) and "afl-single-mutator-seeded" in trial.stdout
               and not left, f"left: {left}\n" + trial.stdout[-800:] + trial.stderr[-800:])
    report("bugs: list shows at least 15 injected bugs, each with its class and place",
           len(table) >= 15 and all(b["expect"] and b["where"] for b in table), proc.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        for bug in table:
            path = os.path.join(ROOT, "corpus", "bugs", bug["name"] + ".txt")
            if not os.path.exists(path):
                report(f"bugs: {bug['name']} has a reproducer in corpus/bugs", False, path)
                continue
            on = cli(["repro", "--expect", path])
            off_path = os.path.join(tmp, bug["name"] + ".txt")
            with open(path) as f, open(off_path, "w") as g:
                g.write("".join(l for l in f if not l.startswith("bug ")))
            off = cli(["repro", "--quiet", off_path])
            canary = cli(["repro", "--quiet", path])
            report(f"bugs: corpus/bugs/{bug['name']}.txt shows {bug['expect']} with the bug on, "
                   f"clean with it off, and its canary triggers",
                   on.returncode == 0 and off.returncode == 0 and "verdict: clean" in off.stdout
                   and re.search(r"canary \S+: reached [1-9]\d*, triggered [1-9]", canary.stdout),
                   on.stdout + off.stdout + canary.stdout + on.stderr)
        out = os.path.join(tmp, "quick")
        proc = cli(["bugs", "--quick", "--json", "--out", out])
        try:
            rows = {r["bug"]: r for r in json.loads(proc.stdout)["rows"]}
        except (ValueError, KeyError):
            rows = {}
        for bug in table:
            r = rows.get(bug["name"])
            report(f"bugs: fuzzing finds {bug['name']} as {bug['expect']} (quick: one libFuzzer "
                   f"trial from the seeds, 120 s cap)" + (f", in {r['times'][0]:.1f} s"
                                                          if r and r["found"] else ""),
                   r is not None and r["found"] == r["trials"] == 1,
                   json.dumps(r) if r else proc.stdout[-2000:] + proc.stderr[-2000:])
        report("bugs: the quick run writes its report (markdown and HTML)",
               all(os.path.exists(os.path.join(out, f)) for f in ("report.md", "index.html")),
               "")
    for name, args in (("unknown bug", ["bugs", "--bugs", "nope"]),
                       ("unknown configuration", ["bugs", "--configs", "libfuzzer-x-y-z"]),
                       ("zero trials", ["bugs", "--trials", "0"]),
                       ("--quick with --configs", ["bugs", "--quick", "--configs", "all"]),
                       ("a file as results directory", ["bugs", "--quick", "--out",
                                                        os.path.join(ROOT, "README.md")])):
        ok, detail = one_line_error(cli(args))
        report(f"cli: bugs with {name} is a one-line error, exit 2", ok, detail)
    with tempfile.TemporaryDirectory() as tmp:
        # A results file that a kill tore, or that holds lines no trial wrote, is read
        # past: the trials it lacks are run, and the report covers them.
        with open(os.path.join(tmp, "trials.jsonl"), "w") as f:
            f.write('{"x": 1}\n[1, 2]\n{"bug": "layer-freed-keeps-slot"\n')
        proc = cli(["bugs", "--bugs", "layer-freed-keeps-slot", "--configs",
                    "libfuzzer-single-mutator-seeded", "--trials", "1", "--out", tmp, "--json"])
        try:
            rows = json.loads(proc.stdout)["rows"]
        except (ValueError, KeyError):
            rows = []
        report("bugs: a torn or foreign trials.jsonl is read past, and the missing trial runs",
               proc.returncode == 0 and len(rows) == 1 and rows[0]["found"] == 1,
               proc.stdout[-1500:] + proc.stderr[-1500:])
    import unittest
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import test_stats

    def cases(suite):
        for t in suite:
            yield from cases(t) if isinstance(t, unittest.TestSuite) else [t]
    for case in cases(unittest.defaultTestLoader.loadTestsFromModule(test_stats)):
        result = unittest.TestResult()
        case.run(result)
        report(f"stats: {case.id().split('.', 1)[1]}", result.wasSuccessful(),
               "".join(text for _, text in result.failures + result.errors))


def repro_cli_tests():
    with tempfile.TemporaryDirectory() as tmp:
        nameless = os.path.join(tmp, "nameless.txt")
        with open(nameless, "w") as f:
            f.write("semantics hardened\nalloc 1\n")
        for name, args in (("names no back-end", ["repro", nameless]),
                           ("unknown back-end", ["repro", "--backend", "nope", nameless]),
                           ("missing file", ["repro", "/nonexistent/p.txt"]),
                           ("bad program line", ["repro", os.path.join(ROOT, "corpus", "ops",
                                                                       "tbad.txt")])):
            ok, detail = one_line_error(cli(args))
            report(f"cli: repro with a file that {name} is a one-line error, exit 2"
                   if name != "unknown back-end" else
                   "cli: repro --backend with an unknown back-end is a one-line error, exit 2",
                   ok, detail)
        small = os.path.join(tmp, "small.txt")
        story = STORY
        proc = cli(["minimize", "-o", small, story])
        replay = cli(["repro", "--quiet", small]) if os.path.exists(small) else proc
        ops = [l for l in open(small).read().splitlines()
               if l and not l.startswith(("#", "backend", "semantics", "map", "region",
                                          "poison"))] if os.path.exists(small) else []
        report("cli: minimize cuts #1760 to the operation its root cause needs (the page built "
               "at 0x1000, dropped at the end), shown first",
               proc.returncode == 0 and "verdict: accepted-foreign-free@bsa" in replay.stdout
               and ops == ["from_unused 0x1000 1"], proc.stderr + replay.stdout + "\n".join(ops))
        # What a stored reproducer needs beyond `repro FILE` is said, and nothing when
        # it needs nothing.
        sys.path.insert(0, ROOT)
        from cli import campaign as camp
        from cli.build import Build
        notes = [camp.replay_note(Build(), {}, story, sig) for sig in
                 ("accepted-foreign-free@bsa", "self-deadlock@bsa", "leak@bsa")]
        report("triage: a reproducer's header says what replaying it takes: nothing when it "
               "shows its finding first, --keep-going when an earlier one comes first, the "
               "logs when it does not show it",
               notes[0] is None and "--keep-going" in (notes[1] or "")
               and "does not show it" in (notes[2] or "")
               and camp.reproducer_header({"signature": "x@y", "where": "op 1",
                                           "artifact": "artifacts/crash-1",
                                           "replay_note": notes[1]}).count("\n# replay: ") == 1,
               str(notes))
        proc = cli(["minimize", "--signature", "self-deadlock@bsa", story])
        report("cli: minimize will not make a root cause of what only follows one (#1760's "
               "deadlock follows its foreign free), exit 1",
               proc.returncode == 1 and "does not show self-deadlock@bsa" in proc.stderr,
               proc.stderr)
        proc = cli(["minimize", nameless, "--backend", "buddy"])
        report("cli: minimize of a clean program says so and exits 1",
               proc.returncode == 1 and "no finding" in proc.stderr, proc.stderr)
        ok, detail = one_line_error(cli(["minimize", "/nonexistent/p.txt"]))
        report("cli: minimize with a missing file is a one-line error, exit 2", ok, detail)
        proc = cli(["repro", "--backend", "all", nameless])
        report("cli: repro --backend all runs every back-end and exits 0 when clean",
               proc.returncode == 0 and proc.stdout.count("== ") == len(BACKENDS),
               proc.stdout + proc.stderr)


def json_tests():
    """Issue 14 item 6: the C side and the Python side speak JSON, not prose. Each JSON
    form is checked field by field, so a reworded trace line cannot pass for it, and
    no Python caller may parse framefuzz's prose lines again."""
    fftool = os.path.join(ROOT, "build", "fftool")
    finding_keys = {"event", "file", "signature", "class", "backend", "state", "op", "where",
                    "message", "consequence", "fatal"}

    def lines(text):
        out = []
        for line in text.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append(None)
        return out

    with tempfile.TemporaryDirectory() as tmp:
        # A real finding: bsa accepts the free of a frame already given back.
        story = os.path.join(tmp, "story.txt")
        with open(story, "w") as f:
            f.write("backend bsa\nsemantics hardened\nmap tiny\npoison off\n"
                    "alloc 1\ndrop h0\nraw_free 0x0 1\n")
        binary = os.path.join(tmp, "story.bin")
        run([fftool, "encode", story, "-o", binary])
        repro = [e for e in lines(run([fftool, "repro", "--json", story]).stdout)
                 if e and e.get("event") == "finding"]
        # The harness: --ff-json=on (or FRAMEFUZZ_JSON=on) makes its finding line the
        # object repro --json prints, after "==framefuzz== ".
        seen = {}
        for how, extra, env in (("flag", ["--ff-json=on"], None),
                                ("env", [], dict(os.environ, FRAMEFUZZ_JSON="on"))):
            proc = run([os.path.join(ROOT, "build", "replay"), "--ff-targets=bsa",
                        *extra, binary], env=env)
            events = [json.loads(l[len("==framefuzz== "):]) for l in proc.stderr.splitlines()
                      if l.startswith("==framefuzz== {")]
            seen[how] = events
            report(f"harness: --ff-json ({how}): the finding is one JSON object with the fields "
                   f"repro --json gives, and no prose finding line",
                   proc.returncode != 0 and len(events) == 1 and set(events[0]) == finding_keys
                   and events[0]["file"] is None and len(repro) == 1
                   and {k: v for k, v in events[0].items() if k != "file"}
                   == {k: v for k, v in repro[0].items() if k != "file"}
                   and events[0]["signature"] == "accepted-foreign-free@bsa"
                   and events[0]["op"] == 2 and events[0]["where"] == "op 2"
                   and "FINDING" not in proc.stderr, proc.stderr + str(repro))
        proc = run([os.path.join(ROOT, "build", "replay"), "--ff-targets=bsa", binary])
        report("harness: without --ff-json the finding stays a line for people, no JSON",
               "==framefuzz== FINDING accepted-foreign-free@bsa at op 2" in proc.stderr
               and "==framefuzz== {" not in proc.stderr, proc.stderr)
        ok, detail = one_line_error(run([os.path.join(ROOT, "build", "replay"), "--ff-json=yes",
                                         binary]))
        report("harness: a bad --ff-json value is a one-line error, exit 2", ok, detail)
        # What Python reads of a harness: the JSON objects, never the prose around them.
        sys.path.insert(0, ROOT)
        from cli import events as ev
        report("cli: the harness's findings are read from its JSON lines only",
               ev.finding_signatures("\n".join(
                   ["==framefuzz== FINDING x@y at op 1: prose", "==framefuzz== {bad json"] +
                   ["==framefuzz== " + json.dumps(e) for e in seen["flag"]]))
               == ["accepted-foreign-free@bsa"]
               and ev.harness_events('==framefuzz== {"event":"died","backend":"b","call":null,'
                                     '"op":3}', "died") == [{"event": "died", "backend": "b",
                                                             "call": None, "op": 3}], "")

        # decode --json: the configuration, the canonical directive lines, and every
        # operation with its operands and its canonical line, for every binary seed.
        seeds = sorted(f for f in glob.glob(os.path.join(ROOT, "corpus", "*", "*"))
                       if os.sep + "regressions" + os.sep not in f and not f.endswith(".txt"))
        operands = {"alloc": {"count", "align", "zone"}, "drop": {"handle"},
                    "clone": {"handle"}, "drop_piece": {"handle", "offset", "count"},
                    "from_unused": {"paddr", "count"}, "raw_free": {"paddr", "count"},
                    "from_in_use": {"paddr", "count", "refs"}, "write": {"paddr", "value"},
                    "check": set()}
        bad, kinds = [], set()
        for seed in seeds:
            dec = run([fftool, "decode", "--json", "--binary", seed])
            text = run([fftool, "decode", "--binary", seed]).stdout.split("\n", 1)[1]
            try:
                prog = json.loads(dec.stdout)
                ops = prog["operations"]
                kinds |= {o["op"] for o in ops}
                rebuilt = "\n".join(prog["directives"] + [o["text"] for o in ops]) + "\n"
                tags = {"cpu", "irq"} if prog["cpus"] else set()
                good = (dec.returncode == 0 and rebuilt == text and prog["form"] == "binary"
                        and prog["bytes"] == os.path.getsize(seed)
                        and prog["semantics"] in ("hardened", "asterinas-2024")
                        and ("schedule" in prog) == (prog["cpus"] > 0)
                        and all(set(o) == {"op", "text"} | tags | operands[o["op"]]
                                | ({"irq_after"} if o.get("irq") else set()) for o in ops)
                        and all(o["zone"] in ("dma", "dma32", "normal", "invalid")
                                for o in ops if o["op"] == "alloc"))
            except (ValueError, KeyError):
                good = False
            if not good:
                bad.append(seed + ": " + dec.stdout[:300] + dec.stderr)
        report(f"cli: decode --json of {len(seeds)} seeds: its directives and operations' "
               f"lines are the canonical text, each operation with its kind's operands",
               len(seeds) >= 15 and not bad and kinds == set(operands), "\n".join(bad[:5]))
        # The same program as text, and what forcing options write into it.
        dec = run([fftool, "decode", "--json", "--backend", "buddy", "--semantics",
                   "asterinas-2024", "--map", "pc-1g", "--bug", "buddy-foreign-free", story])
        try:
            prog = json.loads(dec.stdout)
            ok = (prog["form"] == "text" and prog["backend"] == "buddy"
                  and prog["semantics"] == "asterinas-2024" and prog["map"] == "pc-1g"
                  and prog["bug"] == "buddy-foreign-free" and prog["poison"] is False
                  and prog["regions"] == []
                  and prog["directives"][:2] == ["backend buddy", "bug buddy-foreign-free"]
                  and [o["text"] for o in prog["operations"]]
                  == ["alloc 1", "drop h0", "raw_free 0x0 1"]
                  and prog["operations"][2] == {"op": "raw_free", "text": "raw_free 0x0 1",
                                                "paddr": 0, "count": 1})
        except (ValueError, KeyError, IndexError):
            ok = False
        report("cli: decode --json reads a text program, with the forced back-end, semantics, "
               "map and bug written in", ok, dec.stdout + dec.stderr)
        # A program with CPUs: its count, its schedule's mode and bytes, each operation's
        # CPU and context, and tagged lines that rebuild the canonical text.
        concurrent = os.path.join(tmp, "concurrent.txt")
        canonical = ("semantics hardened\nmap tiny\npoison off\ncpus 3\n"
                     "schedule pct priorities 4,5,6 changes 1\n"
                     "cpu0 alloc 2\ncpu2 clone h0\nirq1 drop h0\n")
        with open(concurrent, "w") as f:
            f.write(canonical)
        dec = run([fftool, "decode", "--json", concurrent])
        try:
            prog = json.loads(dec.stdout)
            ok = (prog["cpus"] == 3 and prog["schedule"] == {"mode": "pct", "bytes": [4, 5, 6, 1]}
                  and prog["directives"][-2:] == ["cpus 3", "schedule pct priorities 4,5,6 changes 1"]
                  and [(o["cpu"], o["irq"]) for o in prog["operations"]]
                  == [(0, False), (2, False), (1, True)]
                  and prog["operations"][2] == {"op": "drop", "text": "irq1 drop h0", "cpu": 1,
                                                "irq": True, "irq_after": 0, "handle": 0}
                  and "\n".join(prog["directives"] + [o["text"] for o in prog["operations"]])
                  + "\n" == canonical
                  and "cpus" in json.loads(run([fftool, "decode", "--json", story]).stdout)
                  and json.loads(run([fftool, "decode", "--json", story]).stdout)["cpus"] == 0)
        except (ValueError, KeyError, IndexError):
            ok = False
        report("cli: decode --json of a program with CPUs: the count, the schedule, each "
               "operation's cpu and irq, and tagged lines that are the canonical text",
               ok, dec.stdout + dec.stderr)
        custom = os.path.join(tmp, "custom.txt")
        with open(custom, "w") as f:
            f.write("map custom\nregion 0x0-0x9ffff usable\nregion 0x100000-0x3fffff usable\n"
                    "alloc 2 align 2 zone dma\n")
        encoded = os.path.join(tmp, "custom.bin")
        cli(["encode", custom, "-o", encoded])
        as_bytes, dec = cli(["decode", "--json", custom]), cli(["decode", "--json", encoded])
        try:
            ok = (json.loads(as_bytes.stdout)["form"] == "binary"
                  and cli(["decode", custom]).stdout.startswith("# decoded from")
                  and json.loads(dec.stdout)["map"] == "custom"
                  and json.loads(dec.stdout)["regions"]
                  == [{"start": 0, "end": 0x9ffff, "type": "usable"},
                      {"start": 0x100000, "end": 0x3fffff, "type": "usable"}])
        except (ValueError, KeyError):
            ok = False
        report("cli: framefuzz decode reads its file as binary, as always; --json gives a "
               "custom map's regions", ok, as_bytes.stdout[:300] + dec.stdout + dec.stderr)
        for args in (["decode", "--json", "/nonexistent/p"], ["decode", "--json", "--bogus", story],
                     ["decode", story, story]):
            ok, detail = one_line_error(run([fftool, *args]))
            report(f"cli: fftool {' '.join(args[:3])}... is a one-line error, exit 2", ok, detail)

        # minimize --json: the result's findings, then where it went and how small it got.
        small = os.path.join(tmp, "small.txt")
        proc = cli(["minimize", "--json", story, "-o", small])
        got = lines(proc.stdout)
        try:
            done = got[-1]
            ok = (proc.returncode == 0 and None not in got and len(got) == 2
                  and set(got[0]) == finding_keys and got[0]["file"] == small
                  and got[0]["signature"] == "accepted-foreign-free@bsa"
                  and set(done) == {"event", "file", "output", "signature", "ops_before",
                                    "ops_after", "cpus_before", "cpus_after", "schedule_before",
                                    "schedule_after", "runs", "first"}
                  and done["cpus_before"] == done["cpus_after"] == 0
                  and done["event"] == "minimized" and done["output"] == small
                  and done["signature"] == got[0]["signature"] and done["first"] is True
                  and done["ops_before"] == 3 and done["runs"] > 0
                  and done["ops_after"] == len(json.loads(run(
                      [fftool, "decode", "--json", small]).stdout)["operations"]) == 1)
        except (ValueError, KeyError, IndexError, TypeError):
            ok = False
        report("cli: minimize --json: the result's finding as repro --json gives it, then a "
               "minimized line (operations before and after, runs, output)", ok,
               proc.stdout + proc.stderr)
        ok, detail = one_line_error(run([fftool, "minimize", "--json", story]))
        report("cli: minimize --json without -o is a one-line error, exit 2", ok, detail)

    # The sanitizer's death callback's line: a died event naming the back-end call,
    # which repro --sanitize shows people as a line of its own.
    with tempfile.TemporaryDirectory() as tmp:
        prog = os.path.join(tmp, "overflow.txt")
        with open(prog, "w") as f:
            f.write("backend misbehave\nmap tiny\nalloc 5\n")
        both = cli(["repro", *misbehaving("OVERFLOW"), "--sanitize", prog])
        report("harness: under --ff-json the sanitizer's death is a died event (back-end, call, "
               "op), which repro --sanitize shows as a line",
               "framefuzz: died in misbehave alloc at op 0" in both.stdout
               and "AddressSanitizer: heap-buffer-overflow" in both.stdout, both.stdout + both.stderr)

    # No Python caller reads framefuzz's own lines as prose: findings, verdicts, deaths
    # and the program language come as JSON.
    sources = [os.path.join(ROOT, "framefuzz")] + sorted(
        glob.glob(os.path.join(ROOT, "cli", "*.py")) + glob.glob(os.path.join(ROOT, "bench", "*.py")))
    prose = re.compile(r"framefuzz== (FINDING|died)|verdict: \.\*|"
                       r"startswith\(\(?\"(backend|semantics|map|region|poison) ")
    hits = [f"{os.path.relpath(p, ROOT)}:{n}: {l.strip()}" for p in sources
            for n, l in enumerate(open(p), 1) if prose.search(l)]
    report("cli: no Python caller parses framefuzz's prose (FINDING, verdict, died lines, the "
           "language's keywords)", not hits, "\n".join(hits))


def main():
    # `run_all.py GROUP...` runs only the named groups (e.g. unit_tests precision_tests).
    if len(sys.argv) > 1:
        for name in sys.argv[1:]:
            group = globals().get(name)
            if not name.endswith("_tests") or not callable(group):
                sys.exit(f"run_all.py: no test group '{name}'")
            group()
        print(f"{passed} passed, {failed} failed")
        return 1 if failed else 0
    unit_tests()
    make("all", "build: library and tools warning-free with clang -Werror")
    if make("gcc-check", "build: everything warning-free with gcc -Werror"):
        # gcc clones and folds functions clang leaves alone (.isra.0, identical bodies):
        # findings named after functions must come out the same.
        proc = run([os.path.join(ROOT, "build", "gcc", "unit")])
        report("unit: the unit tests built with gcc -O2 pass too", proc.returncode == 0,
               proc.stdout + proc.stderr)
    make("fuzz-ops-smoke", "fuzz: 200,000 libFuzzer runs on the program decoder and parser, "
                           "no finding")
    regression_tests()
    seed_tests()
    harness_tests()
    crash_site_tests()
    afl_tests()
    make("oss-fuzz-check", "oss-fuzz: .clusterfuzzlite/build.sh with libFuzzer and the AFL++ "
                           "driver, every target run briefly")
    campaign_tests()
    plugin_tests()
    shared_plugin_tests()
    precision_tests()
    campaign_plugin_tests()
    stall_tests()
    example_tests()
    compare_tests()
    cli_tests()
    docs_tests()
    repro_cli_tests()
    backend_name_tests()
    launcher_tests()
    bugs_tests()
    json_tests()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
