"""campaign.py — `framefuzz fuzz`: run a fuzz campaign, watch it, keep what it finds.

A campaign directory survives anything: the engine (a crash) or the harness (a new
finding, --ff-save-new) writes every such input into artifacts/ itself, the moment it
finds it, and triage turns each into a finding —
one directory per distinct signature, written under a temporary name and renamed into
place, so a campaign killed at any instant loses nothing and never leaves half a
finding. `--resume DIR` continues with the same configuration and triages whatever
the last run left untriaged.

    DIR/campaign.json      the configuration (what --resume reuses)
    DIR/corpus/            the working corpus (merged with libFuzzer's -merge after each run)
    DIR/artifacts/         crash inputs as libFuzzer wrote them, finding inputs as the
                           harness saved them
    DIR/afl/               AFL++'s output (-o): instances main, sec1, ... with crashes/,
                           hangs/, queue/; they sync with corpus/ (-F), and a later
                           libFuzzer run reads their queues
    DIR/findings/SIG/      one per distinct root cause: reproducer (binary),
                           reproducer.txt (minimised at the end of a run), finding.json
                           (signature, class, back-end, where, message, what followed
                           from it in the same run, first seen, hits, minimised yet)
    DIR/known              signatures found so far: jobs started later skip them
    DIR/triaged            artifacts already triaged, one name a line
    DIR/progress.jsonl     progress snapshots
    DIR/running            "PID ENGINE_PID" while a run is on (stale after a kill)
    DIR/logs/              the engine's output

Verdicts and signatures come from the C side (fftool repro --json); nothing is judged
here, and programs are read through fftool too (decode --json). A signature is
CLASS@BACKEND, or CLASS@BACKEND:STATE where the class alone is too coarse (a hang's
call and function, a crash's call, signal and functions).
"""
import ctypes
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from cli.build import ROOT
from cli.events import HARNESS_JSON, fftool_events, harness_events
from cli.seeds import seed_dirs

DICT = os.path.join(ROOT, "fuzz", "ops.dict")

FORK_LINE = re.compile(r"^#(\d+): cov: (\d+) ft: (\d+) corp: (\d+) exec/s \d+ "
                       r"oom/timeout/crash: (\d+)/(\d+)/(\d+) time: (\d+)s job: (\d+)")
# libFuzzer's status line in a job of its own: "#RUNS  EVENT cov: C ft: F corp: N/SIZE ...".
PLAIN_LINE = re.compile(r"^#(\d+)\s+[A-Z]+\s+cov: (\d+) ft: (\d+) corp: (\d+)/")
# A job that ends this many times in a row while replaying its corpus, or this soon after
# its start with no new crash input, crashes at once (e.g. on inputs of the corpus only
# its build sees crash): it runs in fork mode.
QUICK_EXIT_S = 5
QUICK_EXITS_MAX = 3
# Every input's wall-clock limit (seconds), unless the campaign sets its own.
INPUT_TIMEOUT = 5


class CampaignError(Exception):
    """Bad input to a campaign: one line, exit 2."""


# ---------------------------------------------------------------- files

def write_atomically(path, data):
    """Writes bytes or text so that readers see the old file or the new one, never half."""
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    with os.fdopen(fd, mode) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def append_line(path, line):
    with open(path, "a") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_lines(path):
    try:
        with open(path) as f:
            return [l.strip() for l in f if l.strip()]
    except FileNotFoundError:
        return []


# ---------------------------------------------------------------- triage

def targets_of(config):
    """The back-end list the harness ran on, as repro takes it."""
    return config["backends"]


def signature_parts(signature):
    """(class, back-end, state) of CLASS@BACKEND[:STATE], where BACKEND may be pcp:NAME."""
    cls, _, rest = signature.partition("@")
    prefix = "pcp:" if rest.startswith("pcp:") else ""
    backend, _, state = rest[len(prefix):].partition(":")
    return cls, prefix + backend, state


def input_timeout(config):
    return config.get("input_timeout") or INPUT_TIMEOUT


def forced(config):
    """The replay options for what the campaign forced on every input."""
    args = []
    if config.get("semantics"):
        args += ["--semantics", config["semantics"]]
    if config.get("map"):
        args += ["--map", config["map"]]
    return args


def verdicts(build, config, path, keep_going):
    """Replays one input with fftool repro --json: the findings, each a dict (signature,
    class, backend, state, op, message, consequence), roots and what followed them; a
    crash or a time-out of the allocator is one of them. None when the input cannot be
    read, or the replay itself did not end."""
    args = [build.fftool, "repro", "--json", "--binary", "--backend", targets_of(config),
            "--timeout", str(input_timeout(config))] + forced(config)
    if keep_going:
        args.append("--keep-going")
    try:
        proc = subprocess.run(args + ["--", path], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, errors="replace",
                              timeout=2 * input_timeout(config) + 30)
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode == 2:
        return None  # unreadable: named and skipped by the caller
    return fftool_events(proc.stdout, "finding")


def where_of(finding):
    return finding.get("where") or ("at end" if finding["op"] is None else f"op {finding['op']}")


def reproducer_backends(config, signature):
    """What a finding's reproducer runs on: its own back-end (each runs the input on its
    own), or for a divergence, or a crash the replay could not place, every back-end."""
    cls, backend, _ = signature_parts(signature)
    if cls == "divergence" or backend not in targets_of(config).split(","):
        return targets_of(config)
    return backend


def decoded(build, config, path, signature):
    """An input as fftool decode --json gives it, naming what it runs on and what the
    campaign forced, so its text replays with no flags."""
    proc = subprocess.run([build.fftool, "decode", "--json", "--binary", "--backend",
                           reproducer_backends(config, signature)] + forced(config) + ["--", path],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise CampaignError(proc.stderr.strip() or f"cannot decode {path}")
    return json.loads(proc.stdout)


def program_text(directives, operations):
    """Canonical program text from decode --json's lines."""
    return "\n".join(directives + [op["text"] for op in operations]) + "\n"


def text_reproducer(build, config, path, signature):
    """The canonical text of an input, naming what it runs on, so it replays with no
    flags."""
    program = decoded(build, config, path, signature)
    return program_text(program["directives"], program["operations"])


def first_root(found, signature):
    """Whether the replay's first root cause is `signature`."""
    roots = [f for f in found or [] if not f["consequence"]]
    return bool(roots) and roots[0]["signature"] == signature


def replay_note(build, config, path, signature, sanitizer_only=False):
    """What `framefuzz repro FILE` alone does not do for a stored text reproducer: None
    when it shows `signature` as its first finding, else one line saying what it takes
    (kept in the reproducer's header and in finding.json)."""
    if sanitizer_only:
        return ("the plain replay survives it: `framefuzz repro` replays it under ASan+UBSan "
                "too, where it shows")
    try:
        proc = subprocess.run([build.fftool, "repro", "--json", "--keep-going", "--timeout",
                               str(input_timeout(config)), "--", path],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              errors="replace", timeout=2 * input_timeout(config) + 30)
    except subprocess.TimeoutExpired:
        return "its replay did not end: see the campaign's logs/"
    found = fftool_events(proc.stdout, "finding")
    if first_root(found, signature):
        return None
    if any(f["signature"] == signature for f in found):
        return ("an earlier finding comes first: `framefuzz repro --keep-going` shows this one "
                "after it")
    return "the replay does not show it: the engine saw it (see the campaign's logs/)"


def reproducer_header(meta):
    """The comment lines a stored reproducer starts with."""
    head = (f"# {meta['signature']} {meta['where']}, found by framefuzz fuzz "
            f"({os.path.basename(meta['artifact'])})\n")
    if meta.get("replay_note"):
        head += f"# replay: {meta['replay_note']}\n"
    return head


def byte_minimized(build, config, name, path, signature, work, seconds=60.0):
    """The engine's own byte-level minimiser (libFuzzer -minimize_crash, afl-tmin) on a
    crash input, crashing only on the finding's class, for at most `seconds` (its child
    runs go past libFuzzer's -max_total_time); the result when it still shows the very
    finding first, else the input itself."""
    cls = signature_parts(signature)[0]
    options = [f"--ff-targets={config['backends']}", f"--ff-classes={cls}"]
    if config.get("semantics"):
        options.append(f"--ff-semantics={config['semantics']}")
    if config.get("map"):
        options.append(f"--ff-map={config['map']}")
    out = os.path.join(work, "bytes")
    if name.startswith("afl" + os.sep):
        cmd = ["afl-tmin", "-i", path, "-o", out, "--",
               os.path.join(build.afl_dir, f"fuzz-{config['target']}")] + options
        env = dict(os.environ, AFL_QUIET="1", AFL_NO_AFFINITY="1")
    else:
        cmd = [os.path.join(build.libfuzzer_dir, f"fuzz-{config['target']}")] + options + \
              ["-minimize_crash=1", "-max_total_time=3", f"-exact_artifact_path={out}", path]
        env = None
    # A session of its own: the minimiser runs the target in child processes, which
    # go with it when time is up. What it wrote by then (each smaller crash replaces
    # the last) is still worth checking.
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=env, start_new_session=True, preexec_fn=die_with_parent)
    except OSError:
        return path
    try:
        proc.wait(timeout=max(1.0, seconds))
    except subprocess.TimeoutExpired:
        stop_group(proc)
    if os.path.exists(out) and first_root(verdicts(build, config, out, False), signature):
        return out
    return path


def isolated_minimized(build, config, program, signature, budget_s=60):
    """Operation-level delta debugging for a finding that kills the process it shows in
    (a crash, a call that never returns), which the in-process minimiser cannot run:
    every candidate replays in a process of its own, with a short time limit. Stops
    after budget_s seconds with the best so far. None when the program (decode --json's)
    does not show it."""
    header, ops = program["directives"], program["operations"]
    deadline = time.monotonic() + budget_s
    timeout = min(input_timeout(config), 2)

    def shows(candidate):
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write(program_text(header, candidate))
        try:
            proc = subprocess.run([build.fftool, "repro", "--json", "--timeout", str(timeout),
                                   "--", f.name], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True, errors="replace",
                                  timeout=timeout + 30)
            found = fftool_events(proc.stdout, "finding")
        except subprocess.TimeoutExpired:
            found = []
        finally:
            os.unlink(f.name)
        return first_root(found, signature)

    if not shows(ops):
        return None
    chunks = 2
    while len(ops) >= 2 and time.monotonic() < deadline:
        size = -(-len(ops) // chunks)
        for start in range(0, len(ops), size):
            candidate = ops[:start] + ops[start + size:]
            if time.monotonic() < deadline and shows(candidate):
                ops, chunks = candidate, max(chunks - 1, 2)
                break
        else:
            if size == 1:
                break
            chunks = min(2 * chunks, len(ops))
    return program_text(header, ops)


def minimized_reproducer(build, config, name, path, signature, fatal=False, budget_s=600.0):
    """The shortest text program with the same finding: operation-level delta debugging
    (fftool minimize, fast); when more than two operations remain, the engine's
    byte-level minimiser too (slow: it shrinks operands delta debugging keeps), and the
    shorter result. A finding that kills the process (fatal) is minimised a process per
    candidate instead. Gives up after budget_s seconds. None when the finding does not
    reproduce alone (or in time)."""
    deadline = time.monotonic() + budget_s
    if fatal:
        return isolated_minimized(build, config, decoded(build, config, path, signature),
                                  signature, budget_s=min(60.0, budget_s))
    args = [build.fftool, "minimize", "--json", "--binary", "--backend",
            reproducer_backends(config, signature), "--signature", signature] + forced(config)

    def ddmin(start, work):
        """(operations, text) of fftool minimize's result, or None."""
        # A candidate that crashes or never ends takes the minimiser with it: the finding
        # then stays as found.
        out = os.path.join(work, "minimized.txt")
        try:
            proc = subprocess.run(args + ["-o", out, "--", start], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, errors="replace",
                                  timeout=max(1.0, min(120.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            return None
        done = fftool_events(proc.stdout, "minimized")
        if proc.returncode != 0 or not done:
            return None
        with open(out) as f:
            return done[0]["ops_after"], f.read()

    with tempfile.TemporaryDirectory() as work:
        best = ddmin(path, work)
        # The byte-level pass takes seconds: only with time to spare.
        if best is None or best[0] <= 2 or deadline - time.monotonic() < 20:
            return best and best[1]
        # What is left of the budget, less the delta debugging pass after it.
        start = byte_minimized(build, config, name, path, signature, work,
                               min(60.0, deadline - time.monotonic() - 5))
        other = ddmin(start, work) if start != path else None
    if other and (other[0], len(other[1])) < (best[0], len(best[1])):
        return other[1]
    return best[1]


def minimize_pending(camp, deadline=None):
    """Minimises the reproducers of findings that have not been yet (a finding is kept
    at once, as found; making it small takes seconds, so it waits for the end of a
    run or for `framefuzz triage`), until the deadline: what is left stays pending.
    Each file is replaced atomically."""
    for meta in findings_of(camp.dir):
        if meta.get("minimized", True):
            continue
        budget = deadline - time.monotonic() if deadline is not None else 600.0
        if budget <= 0:
            return
        fdir = os.path.join(camp.dir, "findings", meta["signature"])
        small = minimized_reproducer(camp.build, camp.config, meta["artifact"],
                                     os.path.join(fdir, "reproducer"), meta["signature"],
                                     meta.get("fatal", False), budget)
        if small is None and deadline is not None and time.monotonic() >= deadline:
            return  # cut short: still pending, for framefuzz triage
        if small:
            # Kept only if it shows the finding first; what it still needs is said again.
            with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
                f.write(small)
            note = replay_note(camp.build, camp.config, f.name, meta["signature"],
                               bool(meta.get("sanitizer_report")))
            os.unlink(f.name)
            if note is None or note == meta.get("replay_note"):
                meta["replay_note"] = note
                write_atomically(os.path.join(fdir, "reproducer.txt"),
                                 reproducer_header(meta) + small)
        meta["minimized"] = True
        write_atomically(os.path.join(fdir, "finding.json"), json.dumps(meta, indent=2) + "\n")


def artifacts(root):
    """Every crash input the engines wrote, as paths relative to the campaign: libFuzzer's
    artifacts/, and AFL++'s crashes/ and hangs/ of every instance under afl/."""
    out = [os.path.join("artifacts", n) for n in os.listdir(os.path.join(root, "artifacts"))
           if not n.startswith(".")]
    afl = os.path.join(root, "afl")
    for inst in sorted(os.listdir(afl)) if os.path.isdir(afl) else []:
        for kind in ("crashes", "hangs"):
            d = os.path.join(afl, inst, kind)
            if os.path.isdir(d):
                out += [os.path.join("afl", inst, kind, n) for n in os.listdir(d)
                        if n.startswith("id:")]
    return sorted(out)


SANITIZER_KIND = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer): ([\w-]+)")
SANITIZER_UB = re.compile(r"runtime error: (.*)")
SANITIZER_FRAME = re.compile(r"^\s*#\d+ 0x[0-9a-f]+ in (\S+) (\S+)")
# The layer's functions that call into a back-end (meta.c): frames past them are not the
# allocator's.
LAYER_CALLS = ("call_alloc", "call_free", "create_backend", "destroy_backend",
               "reset_backend", "ff_meta_backend_check")


def sanitizer_verdict(build, config, name, path):
    """An artifact the plain replay shows clean, replayed in the sanitized harness (ASan +
    UBSan), which is where the engine found it crashing: the sanitizer's report, and a
    finding record naming the back-end, the call, the kind of error and the allocator's
    functions on the stack (engine-crash@NAME:CALL:KIND:f1,f2,f3). None when the harness
    does not crash either (or the artifact is AFL++'s, whose harness has no sanitizer)."""
    if not name.startswith("artifacts" + os.sep):
        return None
    cmd = [os.path.join(build.libfuzzer_dir, f"fuzz-{config['target']}"), HARNESS_JSON,
           f"--ff-targets={targets_of(config)}", "-runs=1", f"-timeout={input_timeout(config)}"]
    if config.get("semantics"):
        cmd.append(f"--ff-semantics={config['semantics']}")
    try:
        proc = subprocess.run(cmd + [path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, errors="replace", timeout=4 * input_timeout(config) + 30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    report = proc.stderr
    kind = SANITIZER_KIND.search(report)
    ub = SANITIZER_UB.search(report)
    if proc.returncode == 0 or not (kind or ub):
        return None
    # Where framefuzz was, when inside a back-end call.
    died = next((e for e in harness_events(report, "died") if e["call"]), None)
    frames = []
    for m in map(SANITIZER_FRAME.match, report.splitlines()):
        if not m:
            continue
        func, where = m.groups()
        if func in LAYER_CALLS:
            break
        if "compiler-rt" in where or "sanitizer" in where or where.startswith("/usr/"):
            continue
        if func not in frames:
            frames.append(func)
    what = kind.group(2) if kind else "undefined-behavior"
    backend = died["backend"] if died else config["target"]
    call = died["call"] if died else "outside"
    state = f"{call}:{what}:{','.join(frames[:3]) or 'unknown'}"
    return {"signature": f"engine-crash@{backend}:{state}", "class": "engine-crash",
            "backend": backend, "state": state,
            "op": died["op"] if died else None,
            "where": f"op {died['op']}" if died else "at end",
            "message": f"{what} under the sanitizers (the plain replay survives it)"
                       + (f": {ub.group(1)}" if ub else "")
                       + f"; the allocator's functions on the stack: {', '.join(frames[:3]) or 'unknown'}",
            "consequence": False, "fatal": True, "sanitizer_report": report}


def engine_verdict(config, name):
    """What an engine saw that the replay does not reproduce (e.g. a heap overflow only
    the sanitizers see): an AFL++ hang is the hang class; anything else keeps the
    engine's own name. A finding record as verdicts gives them."""
    kind = os.path.basename(name).split("-", 1)[0].split(":", 1)[0]
    cls = "hang" if os.sep + "hangs" + os.sep in name else f"engine-{kind}"
    return {"signature": f"{cls}@{config['target']}", "class": cls,
            "backend": config["target"], "state": "", "op": None, "consequence": False,
            "message": f"the {'AFL++' if name.startswith('afl') else 'libFuzzer'} harness "
                       f"reported {kind}, which the replay does not show (see logs/)"}


UNREADABLE = object()  # triage_one: the artifact could not be replayed; it stays untriaged


def triage_one(camp, name):
    """Turns one artifact (a path relative to the campaign) into a finding — new, or
    one more hit of a known one. Returns the finding record when it is new, None when
    it is a known one, UNREADABLE when it cannot be replayed (it is then left untriaged:
    nothing found is ever dropped)."""
    config, root = camp.config, camp.dir
    path = os.path.join(root, name)
    found = verdicts(camp.build, config, path, keep_going=True)
    if found is None:
        return UNREADABLE
    roots = [f for f in found if not f["consequence"]] or \
        [sanitizer_verdict(camp.build, config, name, path) or engine_verdict(config, name)]
    # The harness crashed on the first root cause it did not know yet.
    known = set(read_lines(os.path.join(root, "known")))
    finding = next((f for f in roots if f["signature"] not in known), roots[0])
    signature = finding["signature"]
    where = where_of(finding)
    # What followed from it on its back-end in the same run.
    after = found[found.index(finding) + 1:] if finding in found else []
    consequences = {}  # each signature once: where it first showed, and how often
    for f in after:
        if not f["consequence"]:
            break
        if f["signature"] == signature:
            continue  # the same bug again: no consequence of itself
        c = consequences.setdefault(f["signature"], {"signature": f["signature"],
                                                     "where": where_of(f), "times": 0})
        c["times"] += 1
    consequences = list(consequences.values())
    fdir = os.path.join(root, "findings", signature)
    if os.path.isdir(fdir):
        meta_path = os.path.join(fdir, "finding.json")
        with open(meta_path) as f:
            meta = json.load(f)
        meta["hits"] += 1
        write_atomically(meta_path, json.dumps(meta, indent=2) + "\n")
        return None
    with open(path, "rb") as f:
        data = f.read()
    tmp = tempfile.mkdtemp(dir=os.path.join(root, "findings"), prefix=".tmp-")
    cls, backend, _ = signature_parts(signature)
    meta = {"signature": signature, "class": cls, "backend": backend, "where": where,
            "message": finding["message"], "consequences": consequences,
            "fatal": finding.get("fatal", False), "artifact": name,
            "first_seen_s": round(camp.campaign_time(), 1), "hits": 1, "minimized": False}
    with open(os.path.join(tmp, "reproducer"), "wb") as f:
        f.write(data)
    if finding.get("sanitizer_report"):
        # The evidence: what the sanitizer saw, beside the reproducer.
        with open(os.path.join(tmp, "sanitizer.txt"), "w") as f:
            f.write(finding["sanitizer_report"])
        meta["sanitizer_report"] = "sanitizer.txt"
    text = text_reproducer(camp.build, config, path, signature)
    with open(os.path.join(tmp, "reproducer.txt"), "w") as f:
        f.write(text)
    meta["replay_note"] = replay_note(camp.build, config, os.path.join(tmp, "reproducer.txt"), signature,
                                      bool(meta.get("sanitizer_report")))
    with open(os.path.join(tmp, "reproducer.txt"), "w") as f:
        f.write(reproducer_header(meta) + text)
    with open(os.path.join(tmp, "finding.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    os.replace(tmp, fdir)
    append_line(os.path.join(root, "known"), signature)
    return meta


def listed_backends(build):
    """Every back-end the C side lists, with its policy."""
    proc = subprocess.run([build.fftool, "list", "--json"], stdout=subprocess.PIPE, text=True)
    return json.loads(proc.stdout)["backends"]


def registered_backends(build):
    """The back-ends `all` stands for, from the C side."""
    return [b["name"] for b in listed_backends(build)]


def earlier_runs_s(root):
    """How long the campaign's earlier runs took: the last progress snapshot of each (a
    run's clock starts again at 0)."""
    total, last = 0.0, 0.0
    for line in read_lines(os.path.join(root, "progress.jsonl")):
        try:
            t = json.loads(line)["elapsed_s"]
        except (ValueError, KeyError):
            continue
        if t < last:
            total += last
        last = t
    return total + last


# ---------------------------------------------------------------- the campaign

class Campaign:
    def __init__(self, opts, build):
        self.opts = opts
        self.build = build
        self.started = time.monotonic()
        self.progress = {"execs": 0, "cov": 0, "corpus": 0, "crashes": 0}
        self.ticks = 0
        self.rate_window = [(0.0, 0)]
        self.last_rate, self.last_execs, self.last_change = 0.0, 0, 0.0
        self.exec_base = 0  # executions of engine runs before a restart
        self.quick_exits = {}  # build directory -> jobs in a row that ended at their start
        self.merged = None
        self.unreadable = set()  # artifacts this run could not replay: left untriaged
        self.lock = threading.Lock()
        # Engines get the read end; the write end stays here, and closes when this
        # process ends, however it ends (see the harness's check_lifeline).
        self.lifeline, self.lifeline_writer = os.pipe()
        if opts.resume:
            self.dir = opts.resume
            try:
                with open(os.path.join(self.dir, "campaign.json")) as f:
                    self.config = json.load(f)
            except (OSError, ValueError) as e:
                raise CampaignError(f"{self.dir} is not a campaign directory ({e})")
            if opts.time:
                self.config["time"] = opts.time
        else:
            self.dir = opts.out or time.strftime("campaigns/%Y%m%d-%H%M%S")
            if os.path.exists(os.path.join(self.dir, "campaign.json")):
                raise CampaignError(f"{self.dir} already holds a campaign: use --resume {self.dir}")
            self.config = self.make_config(opts, build)
        if self.config["engine"] == "afl" and not (shutil.which("afl-fuzz") and
                                                    shutil.which("afl-clang-fast")):
            raise CampaignError("AFL++ is not installed: run 'apt-get install -y afl++' as "
                                "root (or 'sh setup.sh')")
        for sub in ("corpus", "artifacts", "findings", "logs"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        # A kill during the last corpus merge: the old corpus is whole or already swapped.
        if not os.path.isdir(os.path.join(self.dir, "corpus")) and \
                os.path.isdir(os.path.join(self.dir, "corpus.old")):
            os.rename(os.path.join(self.dir, "corpus.old"), os.path.join(self.dir, "corpus"))
        shutil.rmtree(os.path.join(self.dir, "corpus.merging"), ignore_errors=True)
        self.earlier_runs_s = earlier_runs_s(self.dir)
        write_atomically(os.path.join(self.dir, "campaign.json"),
                         json.dumps(self.config, indent=2) + "\n")

    @staticmethod
    def make_config(opts, build):
        target = opts.target
        listed = listed_backends(build)
        known = [b["name"] for b in listed]
        self_locking = {b["name"] for b in listed if b["policy"].get("locks_itself")}
        if target.startswith("pcp:") and target.removeprefix("pcp:") in known:
            # A back-end behind per-CPU caches has no harness of its own: the
            # differential one runs it alone.
            if opts.backends:
                raise CampaignError("--backends is for --target diff")
            target, opts.backends = "diff", target
        if target != "diff" and target not in known:
            raise CampaignError(f"unknown target '{target}' (valid: diff {' '.join(known)}, "
                                f"each maybe as pcp:NAME)")
        backends = opts.backends or (",".join(known) if target == "diff" else target)
        for name in backends.split(","):
            if name.removeprefix("pcp:") not in known:
                raise CampaignError(f"unknown back-end '{name}' in --backends "
                                    f"(valid: {' '.join(known)}, each maybe as pcp:NAME)")
            if name.startswith("pcp:") and name.removeprefix("pcp:") in self_locking:
                raise CampaignError(f"'{name}': {name.removeprefix('pcp:')} locks itself and keeps "
                                    f"per-CPU state of its own; name it without pcp:")
        if opts.backends and target != "diff":
            raise CampaignError("--backends is for --target diff")
        seeds = [os.path.abspath(s) for s in (opts.seeds or [])]
        if not seeds:
            seeds = seed_dirs(target)
        for s in seeds:
            if not os.path.isdir(s):
                raise CampaignError(f"seed directory {s} does not exist")
        semantics = None if opts.semantics == "input" else opts.semantics
        return {"engine": opts.engine, "target": target, "backends": backends,
                "semantics": semantics, "map": opts.map, "time": opts.time,
                "jobs": opts.jobs, "seeds": seeds, "input_timeout": opts.timeout or INPUT_TIMEOUT,
                "plugin": build.plugin, "created": time.strftime("%Y-%m-%d %H:%M:%S")}

    def elapsed(self):
        """Seconds into this run."""
        return time.monotonic() - self.started

    def campaign_time(self):
        """Seconds into the campaign: earlier runs (before --resume) laid end to end."""
        return self.earlier_runs_s + self.elapsed()

    def rate(self, execs):
        """exec/s over the last 10 s: engines report executions in bursts. While no new
        count arrives (libFuzzer's fork mode restarting its jobs) the last window in which
        executions advanced stands, rather than a 0 that is no measurement."""
        now = self.elapsed()
        self.rate_window.append((now, execs))
        while len(self.rate_window) > 2 and now - self.rate_window[1][0] >= 10:
            self.rate_window.pop(0)
        t0, e0 = self.rate_window[0]
        rate = (execs - e0) / (now - t0) if now > t0 else 0.0
        if execs != self.last_execs:
            self.last_rate, self.last_execs, self.last_change = rate, execs, now
        # A stall of more than 30 s is no restart: then 0 is the truth.
        return self.last_rate if now - self.last_change <= 30 else rate

    # -------------------------------------------------- output

    def emit(self, event):
        if self.opts.json:
            print(json.dumps(event), flush=True)

    def say_warning(self, text):
        sys.stderr.write(f"framefuzz: {text}\n")

    def findings(self):
        out = []
        for name in sorted(os.listdir(os.path.join(self.dir, "findings"))):
            if name.startswith("."):
                continue
            try:
                with open(os.path.join(self.dir, "findings", name, "finding.json")) as f:
                    out.append(json.load(f))
            except (OSError, ValueError):
                continue
        return out

    def status_line(self):
        with self.lock:
            p = dict(self.progress)
        by_class = {}
        for f in self.findings():
            by_class[f["class"]] = by_class.get(f["class"], 0) + 1
        rate = self.rate(p["execs"])
        classes = ", ".join(f"{c} {n}" for c, n in sorted(by_class.items())) or "none"
        line = (f"[{int(self.elapsed()) // 60:02d}:{int(self.elapsed()) % 60:02d}] "
                f"{rate:7.0f} exec/s  corpus {p['corpus']}  cov {p['cov']}  "
                f"findings {sum(by_class.values())}: {classes}")
        return line, p, rate, by_class

    # -------------------------------------------------- the engine

    def harness_options(self):
        """The harness's --ff- options for this campaign."""
        c = self.config
        args = [f"--ff-targets={c['backends']}", f"--ff-known={os.path.join(self.dir, 'known')}"]
        if c.get("semantics"):
            args.append(f"--ff-semantics={c['semantics']}")
        if c.get("map"):
            args.append(f"--ff-map={c['map']}")
        return args

    def libfuzzer_builds(self):
        """As the engines advise: most jobs on the harness without sanitizers, which
        runs several times faster, and one on the ASan+UBSan build, which also sees the
        memory errors the oracle cannot (a single job runs the fast build)."""
        jobs = self.config["jobs"]
        return [self.build.libfuzzer_dir if jobs >= 2 and i == jobs - 1 else self.build.fast_dir
                for i in range(jobs)]

    def libfuzzer_command(self, seconds, build_dir, fork):
        """One job: a libFuzzer process of its own over the shared corpus, which it
        reloads as the others add to it. A new finding ends it (the runner triages the
        finding, so the harness sets it aside from then on, and starts the job again);
        a known one costs nothing. With fork, libFuzzer's fork mode keeps the job going
        through crashes itself: for a job that crashes again as soon as it starts."""
        c = self.config
        # AFL++ instances of this campaign (an earlier --engine afl run) feed it too.
        afl_queues = sorted(glob.glob(os.path.join(self.dir, "afl", "*", "queue")))
        keep_going = (["-fork=1", "-ignore_crashes=1", "-ignore_timeouts=1", "-ignore_ooms=1"]
                      if fork else [])
        # A new root cause is saved into artifacts/ by the harness, which runs on: the
        # loop triages it as it comes, and no job restarts for it.
        save_new = [f"--ff-save-new={os.path.join(self.dir, 'artifacts')}"]
        return ([os.path.join(build_dir, f"fuzz-{c['target']}")] + self.harness_options() +
                save_new + keep_going +
                [f"-max_total_time={seconds}", f"-timeout={input_timeout(c)}",
                 f"-artifact_prefix={os.path.join(self.dir, 'artifacts')}/", f"-dict={DICT}",
                 os.path.join(self.dir, "corpus")] + c["seeds"] + afl_queues)

    def afl_commands(self, seconds):
        """One afl-fuzz per job sharing DIR/afl: a main instance with CMPLOG, syncing the
        libFuzzer corpus in, and secondaries."""
        c = self.config
        seeds = os.path.join(self.dir, "afl-seeds")
        os.makedirs(seeds, exist_ok=True)
        for src in c["seeds"] + [os.path.join(self.dir, "corpus")]:
            for i, n in enumerate(sorted(os.listdir(src))[:1000]):
                p = os.path.join(src, n)
                if not os.path.isfile(p):
                    continue
                try:
                    if os.path.getsize(p) > 1 << 20:
                        raise OSError("larger than 1 MiB")
                    with open(p, "rb") as f:
                        data = f.read()
                except OSError as e:
                    self.say_warning(f"seed {p} skipped: {e}")
                    continue
                name = f"{os.path.basename(src)}-{i:04d}"
                with open(os.path.join(seeds, name), "wb") as f:
                    f.write(data)
        if not os.listdir(seeds):
            with open(os.path.join(seeds, "empty"), "wb") as f:
                f.write(b"\x01\x02")
        target = os.path.join(self.build.afl_dir, f"fuzz-{c['target']}")
        cmds = []
        for job in range(c["jobs"]):
            # The main instance syncs the libFuzzer corpus in (-F is main-only); the
            # secondaries get it from the main through the shared output directory.
            role = (["-M", "main", "-c", target + ".cmplog", "-F", os.path.join(self.dir, "corpus")]
                    if job == 0 else ["-S", f"sec{job}"])
            cmds.append(["afl-fuzz", "-i", seeds, "-o", os.path.join(self.dir, "afl")] + role +
                        ["-x", DICT, "-V", str(seconds), "-t", str(1000 * input_timeout(c)),
                         "--", target] + self.harness_options())
        return cmds

    def merge_corpus(self):
        """Corpus upkeep: libFuzzer's -merge keeps the inputs that add coverage, into a
        new directory that replaces the old one only once complete (a kill midway
        leaves the old corpus, and the half-merged one is thrown away next time)."""
        corpus = os.path.join(self.dir, "corpus")
        merged = os.path.join(self.dir, "corpus.merging")
        shutil.rmtree(merged, ignore_errors=True)
        os.makedirs(merged)
        before = len(os.listdir(corpus))
        # A finding the merge meets is saved like the jobs' (and triaged after it): a
        # crash would restart the merge's inner process at every such input.
        cmd = ([os.path.join(self.build.fast_dir, f"fuzz-{self.config['target']}")] +
               self.harness_options() +
               [f"--ff-save-new={os.path.join(self.dir, 'artifacts')}",
                "-merge=1", f"-merge_control_file={os.path.join(self.dir, 'merge.ctl')}",
                f"-timeout={input_timeout(self.config)}",
                f"-artifact_prefix={os.path.join(self.dir, 'artifacts')}/", merged, corpus])
        with open(os.path.join(self.dir, "logs", "merge.log"), "a") as log:
            rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
        if rc != 0 or (before and not os.listdir(merged)):
            shutil.rmtree(merged, ignore_errors=True)
            self.say_warning("corpus merge failed (see logs/merge.log); the corpus stays as is")
            return
        old = os.path.join(self.dir, "corpus.old")
        shutil.rmtree(old, ignore_errors=True)
        os.rename(corpus, old)
        os.rename(merged, corpus)
        shutil.rmtree(old, ignore_errors=True)
        if os.path.exists(os.path.join(self.dir, "merge.ctl")):
            os.unlink(os.path.join(self.dir, "merge.ctl"))
        self.merged = (before, len(os.listdir(corpus)))

    def afl_progress(self):
        execs = corpus = 0
        cov = 0.0
        for stats in glob.glob(os.path.join(self.dir, "afl", "*", "fuzzer_stats")):
            values = {}
            for line in read_lines(stats):
                key, _, value = line.partition(":")
                values[key.strip()] = value.strip()
            execs += int(values.get("execs_done", 0))
            corpus = max(corpus, int(values.get("corpus_count", 0)))
            cov = max(cov, float(values.get("bitmap_cvg", "0%").rstrip("%") or 0))
        with self.lock:
            self.progress = {"execs": execs, "cov": cov, "corpus": corpus, "crashes": 0}

    def read_engine(self, engine, stream, log):
        for line in stream:
            log.write(line)
            m = FORK_LINE.match(line)
            if m:
                now = {"execs": int(m.group(1)), "cov": int(m.group(2)),
                       "corpus": int(m.group(4)), "crashes": int(m.group(7))}
            else:
                m = PLAIN_LINE.match(line)
                if not m:
                    continue
                now = {"execs": int(m.group(1)), "cov": int(m.group(2)),
                       "corpus": int(m.group(4)), "crashes": 0}
                if line.split()[1] == "INITED":  # its corpus replayed: from here it fuzzes
                    now["inited"] = True
            with self.lock:
                job = self.engine_progress[engine]
                job.update(now)
                # Engines share the corpus: executions and crashes add up, over restarts too.
                ps = self.engine_progress
                self.progress = {"execs": self.exec_base + sum(p["base"] + p["execs"] for p in ps),
                                 "cov": max(p["cov"] for p in ps),
                                 "corpus": max(p["corpus"] for p in ps),
                                 "crashes": sum(p["crashes"] for p in ps)}

    def triage_pending(self, deadline=None):
        done = set(read_lines(os.path.join(self.dir, "triaged")))
        for name in (n for n in artifacts(self.dir) if n not in done and n not in self.unreadable):
            if deadline is not None and time.monotonic() > deadline:
                return
            meta = triage_one(self, name)
            if meta is UNREADABLE:
                self.unreadable.add(name)
                self.say_warning(f"artifact {name} could not be replayed; it stays untriaged "
                                 f"(framefuzz triage {self.dir} tries again)")
                continue
            append_line(os.path.join(self.dir, "triaged"), name)
            if meta:
                self.emit({"event": "finding", **meta})
                if not self.opts.json and not self.opts.quiet:
                    self.clear_line()
                    print(f"new finding: {meta['signature']} {meta['where']}  "
                          f"-> {os.path.join(self.dir, 'findings', meta['signature'])}",
                          flush=True)

    def clear_line(self):
        if sys.stdout.isatty():
            sys.stdout.write("\r\033[K")

    def stall_limit(self):
        """Seconds without new executions after which the engine counts as stuck: well past
        what inputs at their time limit and fork mode's restarts can explain."""
        override = os.environ.get("FRAMEFUZZ_STALL_S")
        return float(override) if override else max(60.0, 6.0 * input_timeout(self.config))

    def run_engines(self, seconds):
        """Runs the engines for `seconds`; returns whether they stalled (stopped making
        progress), in which case they were stopped, whole process groups and all. A
        libFuzzer job that ends early (at a new finding) is started again once what it
        found is triaged."""
        afl = self.config["engine"] == "afl"
        env = dict(os.environ, AFL_NO_UI="1", AFL_SKIP_CPUFREQ="1", AFL_AUTORESUME="1",
                   AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES="1", AFL_NO_AFFINITY="1",
                   AFL_CUSTOM_MUTATOR_LIBRARY=os.path.join(self.build.afl_dir, "ff-mutator.so"),
                   FRAMEFUZZ_LIFELINE=str(self.lifeline))
        if not afl:
            # A crashing job's stack is not read: no symbolizer run per crash. (AFL++
            # sets its own, and refuses options it did not choose.)
            env.update(ASAN_OPTIONS=sanitizer_options("ASAN_OPTIONS"),
                       UBSAN_OPTIONS=sanitizer_options("UBSAN_OPTIONS"))
        if afl:
            jobs = [{"command": lambda left, cmd=cmd: cmd} for cmd in self.afl_commands(seconds)]
        else:
            jobs = [{"command": lambda left, d=d: self.libfuzzer_command(
                        left, d, self.quick_exits.get(d, 0) >= QUICK_EXITS_MAX)}
                    for d in self.libfuzzer_builds()]
        self.engine_progress = [{"base": 0, "execs": 0, "cov": 0, "corpus": 0, "crashes": 0}
                                for _ in jobs]
        logs = [open(os.path.join(self.dir, "logs", f"engine-{i}.log"), "a")
                for i in range(len(jobs))]
        end = self.elapsed() + seconds

        def start(i):
            cmd = jobs[i]["command"](max(1, round(end - self.elapsed())))
            # A session of its own: stopping it stops every job it forked.
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, errors="replace", env=env,
                                    start_new_session=True, preexec_fn=die_with_parent,
                                    pass_fds=(self.lifeline,))
            reader = threading.Thread(target=self.read_engine, args=(i, proc.stdout, logs[i]),
                                      daemon=True)
            reader.start()
            jobs[i].update(proc=proc, reader=reader, started=self.elapsed(), build=cmd[0],
                           artifacts=set(artifacts(self.dir)))
            write_atomically(os.path.join(self.dir, "running"),
                             " ".join(str(p) for p in [os.getpid()] +
                                      [j["proc"].pid for j in jobs if "proc" in j]) + "\n")

        stalled = False
        try:
            for i in range(len(jobs)):
                start(i)
            # libFuzzer's fork mode looks at its time limit only between jobs: the
            # campaign's --time is kept here.
            while not stalled and self.elapsed() < end:
                time.sleep(1)
                if afl:
                    self.afl_progress()
                else:
                    self.triage_pending()  # what the jobs saved and ran on (skips the rest)
                self.tick()
                stalled = self.elapsed() - self.last_change > self.stall_limit()
                ended = [i for i, j in enumerate(jobs) if j["proc"].poll() is not None]
                if afl and len(ended) == len(jobs):
                    break
                for i in ([] if afl else ended):
                    if jobs[i].get("done"):
                        continue
                    self.job_ended(jobs[i], self.engine_progress[i])
                    if self.elapsed() < end - 1:
                        start(i)
                    else:
                        jobs[i]["done"] = True
                if all(j.get("done") for j in jobs):
                    break
        finally:
            for j in jobs:
                if "proc" in j:
                    stop_group(j["proc"])
            for j in jobs:
                if "reader" in j:
                    j["reader"].join(timeout=5)
            for log in logs:
                log.close()
        return stalled

    def job_ended(self, job, progress):
        """A libFuzzer job ended before its time: its executions stay counted, and what
        it found is triaged (so the harness knows it) before it starts again."""
        job["reader"].join(timeout=5)
        with self.lock:
            inited = progress.pop("inited", False)
            progress["base"] += progress["execs"]
            progress["execs"] = 0
        self.triage_pending()
        build = os.path.dirname(job["build"])
        # Ending at a new crash input is what a job does. A crash while the engine still
        # replays the corpus recurs at every start, saved or not, as the next start
        # replays the same corpus (and the other jobs keep adding to it); so does one at
        # once on an input already saved (its name is the input's hash). Again and again,
        # it is a crash the job cannot get past.
        stuck = not inited or (self.elapsed() - job["started"] < QUICK_EXIT_S and
                               set(artifacts(self.dir)) <= job["artifacts"])
        self.quick_exits[build] = self.quick_exits.get(build, 0) + 1 if stuck else 0
        if self.quick_exits[build] == QUICK_EXITS_MAX:
            self.say_warning(f"a job on {os.path.basename(build)} crashed {QUICK_EXITS_MAX} times "
                             f"as it started: it runs in libFuzzer's fork mode from now on")

    def run(self):
        # Campaign time starts now: building a plug-in and the harnesses is not fuzzing,
        # and must not count into a finding's time to detect.
        self.started = time.monotonic()
        self.rate_window = [(0.0, self.progress["execs"])]
        self.triage_pending()  # what a killed run left behind
        afl = self.config["engine"] == "afl"
        interrupted = False
        try:
            # An engine that stops making progress is restarted, on the same corpus and
            # findings, for the time left.
            while self.run_engines(max(1, round(self.config["time"] - self.elapsed()))):
                self.say_warning(f"the engine made no progress for {self.stall_limit():.0f} s: "
                                 f"restarted on the same corpus")
                self.exec_base = self.progress["execs"]
                self.last_change = self.elapsed()
                if self.elapsed() >= self.config["time"]:
                    break
        except KeyboardInterrupt:
            interrupted = True
        os.unlink(os.path.join(self.dir, "running"))
        # Stopped by hand: what can be triaged in a moment is, the rest waits for
        # `framefuzz triage` or --resume (the artifacts are on disk, nothing is lost).
        # A second Ctrl-C cuts any of this short the same way.
        try:
            self.triage_pending(deadline=time.monotonic() + (2 if interrupted else 120))
            if not afl and not interrupted:
                self.merge_corpus()
                self.triage_pending(deadline=time.monotonic() + 120)
            if not interrupted and not self.opts.no_minimize:
                self.minimize(budget_s=min(60.0, max(10.0, self.config["time"] / 6)))
        except KeyboardInterrupt:
            interrupted = True
        self.say_left_over(interrupted)
        return self.summary()

    def minimize(self, budget_s):
        pending = sum(1 for f in self.findings() if not f.get("minimized", True))
        if pending and not self.opts.quiet and not self.opts.json:
            self.clear_line()
            print(f"minimising {pending} reproducer(s), at most {budget_s:.0f} s "
                  f"(Ctrl-C leaves them for framefuzz triage) ...", flush=True)
        minimize_pending(self, deadline=time.monotonic() + budget_s)

    def say_left_over(self, interrupted):
        untriaged = len([n for n in artifacts(self.dir)
                         if n not in set(read_lines(os.path.join(self.dir, "triaged")))])
        unminimized = sum(1 for f in self.findings() if not f.get("minimized", True))
        if untriaged or unminimized:
            self.say_warning(f"{'stopped: ' if interrupted else ''}{untriaged} artifact(s) "
                             f"untriaged, {unminimized} reproducer(s) not minimised: "
                             f"framefuzz triage {self.dir} finishes them")

    def tick(self):
        self.triage_pending()
        line, p, rate, by_class = self.status_line()
        snapshot = {"event": "progress", "elapsed_s": round(self.elapsed(), 1),
                    "execs": p["execs"], "exec_per_s": round(rate), "corpus": p["corpus"],
                    "cov": p["cov"], "findings": by_class}
        append_line(os.path.join(self.dir, "progress.jsonl"), json.dumps(snapshot))
        self.emit(snapshot)
        if self.opts.json or self.opts.quiet:
            return
        if sys.stdout.isatty():
            sys.stdout.write("\r\033[K" + line)
            sys.stdout.flush()
        elif self.ticks % 10 == 0:  # a log, not a terminal: a line every 10 s
            print(line, flush=True)
        self.ticks += 1

    def summary(self):
        found = self.findings()
        if self.opts.json:
            self.emit({"event": "summary", "dir": self.dir, "findings": found})
            return 1 if found else 0
        self.clear_line()
        print(f"campaign {self.dir}: {len(found)} distinct finding(s) in "
              f"{int(self.elapsed())} s" + (f"; corpus merged from {self.merged[0]} to "
                                          f"{self.merged[1]} inputs" if self.merged else ""))
        for f in found:
            print(f"  {f['signature']:40} {f['where']:12} hits {f['hits']:5}  "
                  f"{os.path.join(self.dir, 'findings', f['signature'], 'reproducer.txt')}")
        return 1 if found else 0


def sanitizer_options(name):
    """The user's options for a sanitizer, with symbolizing off."""
    return ":".join(o for o in (os.environ.get(name, ""), "symbolize=0") if o)


def die_with_parent():
    """In a forked engine before it starts: it is killed when the campaign dies, even by
    SIGKILL (the jobs it forks follow through the lifeline pipe)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:
        os._exit(1)


def stop_group(proc):
    """Stops a process started in a session of its own, and everything it started."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=2)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # jobs left behind (AFL++'s CMPLOG server)
    except ProcessLookupError:
        pass
    proc.wait()


def make(build, targets_needed):
    """Brings fftool and the harnesses needed up to date (quietly unless it fails)."""
    proc = build.make(build.fftool, *targets_needed)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:])
        raise CampaignError("building the harnesses failed (run 'sh setup.sh' if tools "
                            "are missing)")


def interrupt(signum, frame):
    """SIGTERM and SIGHUP stop a campaign as Ctrl-C does: engines, their jobs and any
    build are stopped, and what was found stays."""
    raise KeyboardInterrupt


def run(opts, build):
    """`framefuzz fuzz` on the build given; returns the exit status."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)
    try:
        return start(opts, build)
    except KeyboardInterrupt:
        return 130  # stopped before fuzzing began: nothing to keep


def start(opts, build):
    make(build, [])
    camp = Campaign(opts, build)
    target = camp.config["target"]
    if camp.config["engine"] == "afl":
        make(build, [os.path.join(build.afl_dir, f)
                     for f in (f"fuzz-{target}", f"fuzz-{target}.cmplog", "ff-mutator.so")])
    else:
        make(build, [os.path.join(d, f"fuzz-{target}")
                     for d in (build.fast_dir, build.libfuzzer_dir)])
    if not opts.quiet and not opts.json:
        c = camp.config
        print(f"framefuzz fuzz: {c['target']} over {c['backends']}, {c['engine']}, {c['jobs']} "
              f"job(s), {c['time']} s, semantics {c.get('semantics') or 'from the inputs'}, "
              f"map {c.get('map') or 'from the inputs'} -> {camp.dir}", flush=True)
    return camp.run()


# ---------------------------------------------------------------- triage and status

class Opened:
    """A campaign directory opened for triage or status, not for running."""

    def __init__(self, path, build):
        self.dir = path
        self.build = build
        try:
            with open(os.path.join(path, "campaign.json")) as f:
                self.config = json.load(f)
        except (OSError, ValueError) as e:
            raise CampaignError(f"{path} is not a campaign directory ({e})")
        self.started = time.monotonic()
        self.opts = None

    def campaign_time(self):
        return earlier_runs_s(self.dir)

    def say_warning(self, text):
        sys.stderr.write(f"framefuzz: {text}\n")


def findings_of(path):
    out = []
    fdir = os.path.join(path, "findings")
    for name in sorted(os.listdir(fdir)) if os.path.isdir(fdir) else []:
        if name.startswith("."):
            continue
        try:
            with open(os.path.join(fdir, name, "finding.json")) as f:
                out.append(json.load(f))
        except (OSError, ValueError):
            continue
    return out


def triage(path, as_json, build):
    """`framefuzz triage DIR`: triages what is untriaged, then lists the findings."""
    camp = Opened(path, build)
    done = set(read_lines(os.path.join(path, "triaged")))
    new, unreadable = 0, []
    for name in artifacts(path):
        if name in done:
            continue
        meta = triage_one(camp, name)
        if meta is UNREADABLE:
            unreadable.append(name)
            continue
        new += meta is not None
        append_line(os.path.join(path, "triaged"), name)
    minimize_pending(camp)
    found = findings_of(path)
    if as_json:
        print(json.dumps({"dir": path, "new": new, "findings": found, "unreadable": unreadable}))
    else:
        print(f"{path}: {len(found)} distinct finding(s), {new} new")
        for name in unreadable:
            sys.stderr.write(f"framefuzz triage: artifact {name} could not be replayed; it stays "
                             f"untriaged\n")
        for f in found:
            print(f"  {f['signature']:40} {f['where']:12} hits {f['hits']:5}  "
                  f"{os.path.join(path, 'findings', f['signature'], 'reproducer.txt')}")
    # An artifact that could not be replayed is no verdict: never "clean".
    return 1 if found else 2 if unreadable else 0


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def status(path, as_json):
    """`framefuzz status DIR`: where a campaign stands (like afl-whatsup)."""
    camp = Opened(path, None)  # status runs no tool
    c = camp.config
    runs = read_lines(os.path.join(path, "running"))
    pids = [int(x) for x in runs[0].split()] if runs else []
    running = bool(pids) and all(alive(p) for p in pids)
    last = {}
    for line in read_lines(os.path.join(path, "progress.jsonl"))[-1:]:
        last = json.loads(line)
    found = findings_of(path)
    by_class = {}
    for f in found:
        by_class[f["class"]] = by_class.get(f["class"], 0) + 1
    pending = len(set(artifacts(path)) - set(read_lines(os.path.join(path, "triaged"))))
    state = "running" if running else ("stopped while running (killed?): --resume it"
                                       if pids else "stopped")
    info = {"dir": path, "state": state, "target": c["target"], "backends": c["backends"],
            "engine": c["engine"], "semantics": c.get("semantics") or "from the inputs",
            "elapsed_s": last.get("elapsed_s", 0), "execs": last.get("execs", 0),
            "exec_per_s": last.get("exec_per_s", 0), "corpus": last.get("corpus", 0),
            "cov": last.get("cov", 0), "findings": by_class, "untriaged": max(pending, 0)}
    if as_json:
        print(json.dumps(info))
        return 0
    print(f"{path}: {state}")
    print(f"  {c['engine']}, target {c['target']} over {c['backends']}, semantics "
          f"{info['semantics']}, {c['jobs']} job(s)")
    print(f"  last run: {info['elapsed_s']:.0f} s, {info['execs']} execs, "
          f"{info['exec_per_s']} exec/s, corpus {info['corpus']}, cov {info['cov']}")
    classes = ", ".join(f"{k} {v}" for k, v in sorted(by_class.items())) or "none"
    print(f"  findings: {len(found)} distinct ({classes}); {info['untriaged']} untriaged")
    return 0
