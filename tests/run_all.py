"""run_all.py — what `make test` runs: every test suite, one summary.

1. the C unit tests, built from scratch with ASan+UBSan (clang);
2. warning-free builds: the tools with clang, everything with gcc;
3. a short libFuzzer run on the program decoder and parser (ASan+UBSan);
4. the CLI, end to end: listings, maps, programs, and bad input (one-line errors, exit 2).
The last line is "N passed, N failed" over all of them.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_E820 = os.path.join(os.path.dirname(ROOT), "shared", "e820")

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


def cli(args):
    return run([os.path.join(ROOT, "framefuzz"), *args])


def one_line_error(proc):
    lines = proc.stderr.strip().splitlines()
    return proc.returncode == 2 and len(lines) == 1, proc.stdout + proc.stderr


def cli_tests():
    proc = cli(["list"])
    report("cli: list names every back-end, preset and semantics",
           proc.returncode == 0 and all(w in proc.stdout for w in (
               "buddy", "bitmap", "freelist", "bsa", "KNOWN-BUGGY", "tiny", "qemu", "pc-1t",
               "asterinas-2024", "hardened", "16 bytes per frame")),
           proc.stdout + proc.stderr)

    proc = cli(["list", "--json"])
    try:
        data = json.loads(proc.stdout)
        ok = ([b["name"] for b in data["backends"]] == ["buddy", "bitmap", "freelist", "bsa"]
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


def main():
    unit_tests()
    make("all", "build: library and tools warning-free with clang -Werror")
    make("gcc-check", "build: everything warning-free with gcc -Werror")
    make("fuzz-ops-smoke", "fuzz: 200,000 libFuzzer runs on the program decoder and parser, "
                           "no finding")
    cli_tests()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
