"""bugs.py — `framefuzz bugs`: how fast framefuzz finds each injected bug (allocators/bugs.h),
measured the way Magma and FuzzBench measure fuzzers, on bugs whose ground truth is known.

For every bug and every configuration (engine, single or differential target, custom
mutator or not, seed corpus or empty), K independent trials run under a time limit. A
trial switches its bug on in the harness (--ff-bug), fuzzes, and counts as found only
when the finding's signature is the bug's own class on the bug's back-end; other
findings are noted, added to the trial's known list, and fuzzing goes on. The bug's
canary (--ff-canary) tells when its site was first reached and first triggered.

Every trial is one JSON line in DIR/trials.jsonl, written as it ends, so a killed run
keeps its trials and a rerun with the same --out does only the missing ones. The report
(DIR/report.md, DIR/index.html) gives per bug and configuration the found and censored
counts, the median time, a Kaplan-Meier survival curve with its restricted mean, and
between configurations Mann-Whitney U and Vargha-Delaney A12 (cli/stats.py).
"""
import concurrent.futures
import json
import math
import os
import shutil
import subprocess
import tempfile
import threading
import time

from cli import stats
from cli.build import ROOT
from cli.seeds import seed_dirs, seed_files
from cli.campaign import die_with_parent, signature_parts, stop_group
from cli.events import HARNESS_JSON, finding_signatures

DIFF_TARGETS = "buddy,bitmap,freelist"
DICT = os.path.join(ROOT, "fuzz", "ops.dict")  # as campaigns fuzz, both engines

# A configuration is one value of each axis, named by joining them:
# libfuzzer-single-mutator-seeded is the baseline every other is compared with.
AXES = (("libfuzzer", "afl"), ("single", "diff"), ("mutator", "plain"), ("seeded", "empty"))
BASELINE = "libfuzzer-single-mutator-seeded"
# The baseline, then each axis changed alone.
DEFAULT_CONFIGS = [BASELINE, "libfuzzer-diff-mutator-seeded", "libfuzzer-single-plain-seeded",
                   "libfuzzer-single-mutator-empty", "afl-single-mutator-seeded"]
TARGET_MEDIAN_S = 30  # the suite's target: median time to detect per bug, seed corpus


class BugsError(Exception):
    pass


def all_configs():
    names = [""]
    for axis in AXES:
        names = [f"{n}-{v}" if n else v for n in names for v in axis]
    return names


def parse_configs(text):
    """'default', 'all' or a comma list of configuration names."""
    if text == "default":
        return list(DEFAULT_CONFIGS)
    if text == "all":
        return all_configs()
    names = [n for n in text.split(",") if n]
    valid = all_configs()
    for n in names:
        if n not in valid:
            raise BugsError(f"unknown configuration '{n}' (ENGINE-TARGET-MUTATOR-CORPUS from "
                            f"{' '.join('|'.join(a) for a in AXES)}, or default, all)")
    if len(set(names)) != len(names) or not names:
        raise BugsError("--configs names each configuration once")
    return names


def config_axes(name):
    engine, target, mutator, corpus = name.split("-")
    return {"engine": engine, "diff": target == "diff", "mutator": mutator == "mutator",
            "seeded": corpus == "seeded"}


def bug_table(build):
    proc = subprocess.run([build.fftool, "list", "--json"], stdout=subprocess.PIPE, text=True)
    return json.loads(proc.stdout)["bugs"]


def pick_bugs(table, text):
    if text == "all":
        return table
    by_name = {b["name"]: b for b in table}
    names = [n for n in text.split(",") if n]
    for n in names:
        if n not in by_name:
            raise BugsError(f"unknown bug '{n}' (framefuzz list shows them)")
    return [by_name[n] for n in names]


# ---------------------------------------------------------------- one trial

def single_target(bug):
    """The target a single-target trial fuzzes: the bug's own back-end, buddy for layer
    bugs, buddy behind per-CPU caches for theirs."""
    return {"layer": "buddy", "pcp": "pcp:buddy"}.get(bug["where"], bug["where"])


def diff_targets(bug):
    """The targets a differential trial compares: behind per-CPU caches for their bugs,
    and beside the validating ones a back-end they leave out (the asterinas model)."""
    if bug["where"] == "pcp":
        return ",".join("pcp:" + b for b in DIFF_TARGETS.split(","))
    if bug["where"] != "layer" and bug["where"] not in DIFF_TARGETS.split(","):
        return f"{DIFF_TARGETS},{bug['where']}"
    return DIFF_TARGETS


def base_signature(sig):
    """CLASS@BACKEND of a signature that may name where (CLASS@BACKEND:STATE)."""
    cls, backend, _ = signature_parts(sig)
    return f"{cls}@{backend}"


def expected(bug, cfg):
    """The signatures (CLASS@BACKEND) that count as finding the bug."""
    if bug["where"] not in ("layer", "pcp"):
        backends = [bug["where"]]
    else:  # such a bug shows on whichever back-end runs under the layer or the caches
        backends = diff_targets(bug).split(",") if cfg["diff"] else [single_target(bug)]
    return {f"{bug['expect']}@{b}" for b in backends}


class Trial:
    def __init__(self, build, bug, config, index, limit, work):
        self.build = build
        self.bug, self.config, self.index, self.limit = bug, config, index, limit
        self.cfg = config_axes(config)
        self.seed = index + 1
        self.work = work
        self.targets = diff_targets(bug) if self.cfg["diff"] else single_target(bug)
        # A back-end behind per-CPU caches has no harness of its own: the differential
        # one runs it alone.
        self.target = "diff" if self.cfg["diff"] or ":" in self.targets else self.targets
        self.known = os.path.join(work, "known")
        self.canary = os.path.join(work, "canary")
        self.others = []

    def harness_flags(self):
        return [f"--ff-bug={self.bug['name']}", "--ff-semantics=hardened", HARNESS_JSON,
                f"--ff-canary={self.canary}", f"--ff-known={self.known}",
                f"--ff-targets={self.targets}"]

    def note_other(self, sig):
        self.others.append(sig)
        with open(self.known, "a") as f:
            f.write(sig + "\n")

    def run(self):
        os.makedirs(self.work, exist_ok=True)
        self.wall0 = time.time()
        try:
            found_s, sig, error = (self.run_afl if self.cfg["engine"] == "afl"
                                   else self.run_libfuzzer)()
        except subprocess.TimeoutExpired as e:  # a trial's failure, not the run's
            found_s, sig, error = None, None, f"{os.path.basename(e.cmd[0])} did not stop"
        except OSError as e:
            found_s, sig, error = None, None, f"cannot run a trial: {e}"
        return {"bug": self.bug["name"], "config": self.config, "trial": self.index,
                "seed": self.seed, "limit_s": self.limit, "found": found_s is not None,
                "time_s": round(found_s if found_s is not None else self.limit, 3),
                "signature": sig, "others": self.others, "error": error,
                **self.canary_times()}

    def canary_times(self):
        times = {"reached_s": None, "triggered_s": None}
        try:
            with open(self.canary) as f:
                for line in f:
                    what, _, t = line.partition(" ")
                    key = f"{what}_s"
                    if key in times and times[key] is None:
                        times[key] = round(max(0.0, float(t) - self.wall0), 3)
        except (OSError, ValueError):
            pass
        return times

    def run_libfuzzer(self):
        harness = os.path.join(self.build.libfuzzer_dir, f"fuzz-{self.target}")
        corpus = os.path.join(self.work, "corpus")
        os.makedirs(corpus, exist_ok=True)
        start = time.monotonic()
        while True:
            left = self.limit - (time.monotonic() - start)
            if left < 1:
                return None, None, None
            cmd = [harness, *self.harness_flags(),
                   f"--ff-mutator={'on' if self.cfg['mutator'] else 'off'}",
                   f"-seed={self.seed}", f"-max_total_time={math.ceil(left)}",
                   f"-artifact_prefix={self.work}/", f"-dict={DICT}", "-print_final_stats=0",
                   corpus]
            if self.cfg["seeded"]:
                cmd += seed_dirs(self.target)
            proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True, errors="replace", timeout=left + 60)
            elapsed = time.monotonic() - start
            sigs = finding_signatures(proc.stderr)
            if not sigs:
                if proc.returncode == 0:
                    return None, None, None  # the time ran out
                tail = [l for l in proc.stderr.splitlines() if "ERROR" in l][:1]
                return None, None, f"the harness failed: {(tail or ['exit %d' % proc.returncode])[0]}"
            if base_signature(sigs[0]) in expected(self.bug, self.cfg):
                return elapsed, sigs[0], None
            self.note_other(sigs[0])

    def run_afl(self):
        if not shutil.which("afl-fuzz"):
            return None, None, "afl-fuzz is not installed"
        target = os.path.join(self.build.afl_dir, f"fuzz-{self.target}")
        seeds = os.path.join(self.work, "seeds")
        os.makedirs(seeds, exist_ok=True)
        if self.cfg["seeded"]:
            for path in seed_files(self.target):
                shutil.copy(path, seeds)
        # afl-fuzz runs its seeds first and refuses to start when all of them crash, so
        # the seeds are run here first, as its dry run would: a seed that shows the bug
        # finds it; one that shows another finding makes that finding known.
        for name in sorted(os.listdir(seeds)):
            path = os.path.join(seeds, name)
            while (sig := self.replay(path)) is not None:
                if base_signature(sig) in expected(self.bug, self.cfg):
                    return time.time() - self.wall0, sig, None
                self.note_other(sig)
        if not os.listdir(seeds):
            with open(os.path.join(seeds, "empty"), "wb") as f:
                f.write(b"\x00")
        out = os.path.join(self.work, "afl")
        env = dict(os.environ, AFL_NO_UI="1", AFL_SKIP_CPUFREQ="1", AFL_NO_AFFINITY="1",
                   AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES="1", AFL_QUIET="1")
        if self.cfg["mutator"]:
            env["AFL_CUSTOM_MUTATOR_LIBRARY"] = os.path.join(self.build.afl_dir, "ff-mutator.so")
        cmd = ["afl-fuzz", "-i", seeds, "-o", out, "-s", str(self.seed), "-V", str(self.limit),
               "-c", target + ".cmplog", "-x", DICT, "--", target, *self.harness_flags()]
        # As campaigns run it: in a session of its own, with a lifeline, so that nothing it
        # started (the CMPLOG server's stopped persistent-mode children) outlives the trial.
        lifeline, lifeline_writer = os.pipe()
        env["FRAMEFUZZ_LIFELINE"] = str(lifeline)
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, errors="replace", env=env, start_new_session=True,
                                preexec_fn=die_with_parent, pass_fds=(lifeline,))
        os.close(lifeline)
        crashes = os.path.join(out, "default", "crashes")
        seen = set()
        try:
            while True:
                done = proc.poll() is not None
                for name in sorted(os.listdir(crashes)) if os.path.isdir(crashes) else []:
                    if name in seen or name == "README.txt":
                        continue
                    seen.add(name)
                    path = os.path.join(crashes, name)
                    sig = self.replay(path)
                    if sig is None:
                        continue
                    if base_signature(sig) in expected(self.bug, self.cfg):
                        return max(0.0, os.path.getmtime(path) - self.wall0), sig, None
                    if sig not in self.others:
                        self.note_other(sig)
                if done:
                    err = proc.stderr.read()
                    if proc.returncode not in (0, None) and "PROGRAM ABORT" in err:
                        line = err[err.index("PROGRAM ABORT"):].splitlines()[0]
                        return None, None, f"afl-fuzz failed: {line}"
                    return None, None, None
                time.sleep(0.2)
        finally:
            stop_group(proc)
            os.close(lifeline_writer)  # what is left of the run sees it close, and ends

    def replay(self, path):
        proc = subprocess.run([self.build.tool("replay"), *self.harness_flags(), path],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              errors="replace", timeout=60)
        sigs = finding_signatures(proc.stderr)
        return sigs[0] if sigs else None


# ---------------------------------------------------------------- the run

def build_needed(configs, build):
    targets = ["build/replay", "build/fftool"]
    for c in map(config_axes, configs):
        if c["engine"] == "afl":
            if not shutil.which("afl-fuzz"):
                raise BugsError("AFL++ is not installed: run 'apt-get install -y afl++' as root "
                                "(or 'sh setup.sh')")
            targets.append("afl")
        else:
            targets.append("harnesses")
    proc = build.make(*sorted(set(targets)))
    if proc.returncode != 0:
        raise BugsError("building the harnesses failed:\n" + proc.stdout[-3000:])


TRIAL_KEYS = {"bug", "config", "trial", "limit_s", "found", "time_s", "others", "error",
              "reached_s", "triggered_s"}


def read_trials(path):
    """The trials recorded so far; lines torn by a kill, or not trials, are skipped."""
    trials = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and TRIAL_KEYS <= record.keys():
                    trials.append(record)
    except OSError:
        pass
    return trials


def run(build, bugs, configs, trials, limit, jobs, out, say):
    """Runs every trial not already in out/trials.jsonl (out exists); returns all of them."""
    log = os.path.join(out, "trials.jsonl")
    done = {(t["bug"], t["config"], t["trial"]) for t in read_trials(log)
            if t.get("limit_s") == limit}
    todo = [(b, c, k) for k in range(trials) for b in bugs for c in configs
            if (b["name"], c, k) not in done]
    lock = threading.Lock()
    work_root = tempfile.mkdtemp(prefix="ff-bugs-")
    total = len(bugs) * len(configs) * trials
    counter = {"n": total - len(todo)}  # the asked-for trials already done (the log may hold others)

    def one(item):
        bug, config, k = item
        work = os.path.join(work_root, f"{bug['name']}-{config}-{k}")
        record = Trial(build, bug, config, k, limit, work).run()
        shutil.rmtree(work, ignore_errors=True)
        with lock:
            with open(log, "a") as f:
                f.write(json.dumps(record) + "\n")
            counter["n"] += 1
            what = (f"found {record['signature']} in {record['time_s']:.1f} s" if record["found"]
                    else f"not found in {limit} s" + (f" ({record['error']})"
                                                      if record["error"] else ""))
            say(f"[{counter['n']}/{total}] {bug['name']} {config} #{k + 1}: {what}")
        return record

    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(one, todo))
    finally:
        shutil.rmtree(work_root, ignore_errors=True)
    wanted = {b["name"] for b in bugs}
    return [t for t in read_trials(log) if t.get("limit_s") == limit and t["bug"] in wanted
            and t["config"] in configs and t["trial"] < trials]


# ---------------------------------------------------------------- the analysis

def summarize(records, bugs, configs, limit):
    """Per (bug, config): counts, medians, the Kaplan-Meier curve and its restricted mean."""
    rows = []
    for b in bugs:
        for c in configs:
            ts = [t for t in records if t["bug"] == b["name"] and t["config"] == c]
            if not ts:
                continue
            times = [t["time_s"] for t in ts]
            found = [t["found"] for t in ts]
            curve = stats.kaplan_meier(times, found)
            km_median = stats.km_median(curve)
            rows.append({
                "bug": b["name"], "config": c, "expect": b["expect"], "trials": len(ts),
                "found": sum(found), "censored": len(ts) - sum(found),
                "median_found_s": stats.median([t for t, f in zip(times, found) if f]),
                "km_median_s": float(km_median) if km_median is not None else None,
                "rmst_s": stats.restricted_mean(curve, limit),
                "reached": sum(t["reached_s"] is not None for t in ts),
                "triggered": sum(t["triggered_s"] is not None for t in ts),
                "others": sorted({o for t in ts for o in t["others"]}),
                "errors": sorted({t["error"] for t in ts if t["error"]}),
                "times": times, "found_flags": found, "curve": curve})
    return rows


def comparisons(rows, configs):
    """Each configuration against the baseline (or the first one measured), per bug:
    censored trials count as the limit, so they tie with one another."""
    base = BASELINE if BASELINE in configs else configs[0]
    out = []
    for r in rows:
        if r["config"] == base:
            continue
        b = next((x for x in rows if x["bug"] == r["bug"] and x["config"] == base), None)
        if not b:
            continue
        u, p = stats.mann_whitney_u(r["times"], b["times"])
        a12 = stats.vargha_delaney_a12(r["times"], b["times"])
        out.append({"bug": r["bug"], "config": r["config"], "baseline": base, "u": u, "p": p,
                    "a12": a12, "magnitude": stats.a12_magnitude(a12)})
    return out


def targets(rows, limit):
    """The suite's targets, judged on what was measured."""
    missed = [r for r in rows if r["found"] < r["trials"]]
    lines = [("every injected bug found in every trial",
              f"{sum(r['found'] for r in rows)}/{sum(r['trials'] for r in rows)} trials found"
              + ("; missed: " + ", ".join(f"{r['bug']} ({r['config']}, {r['found']}/"
                                          f"{r['trials']})" for r in missed) if missed else ""),
              not missed)]
    seeded = [r for r in rows if config_axes(r["config"])["seeded"]]
    if seeded:
        slow = [r for r in seeded if r["km_median_s"] is None or r["km_median_s"] > TARGET_MEDIAN_S]
        worst = max(seeded, key=lambda r: r["km_median_s"] if r["km_median_s"] is not None
                    else math.inf)
        worst_text = (f"{worst['km_median_s']:.1f} s" if worst["km_median_s"] is not None
                      else f"> {limit} s")
        lines.append((f"median time-to-detect <= {TARGET_MEDIAN_S} s per bug, one core, "
                      f"seed corpus", f"slowest {worst['bug']} ({worst['config']}): {worst_text}"
                      + ("; over: " + ", ".join(f"{r['bug']} ({r['config']})" for r in slow)
                         if slow else ""), not slow))
    return lines


def fmt_s(v):
    return "-" if v is None else f"{v:.1f}"


def table(rows):
    heads = ["bug", "configuration", "found", "median s", "KM median s", "RMST s",
             "reached", "triggered", "other findings"]
    body = [[r["bug"], r["config"], f"{r['found']}/{r['trials']}", fmt_s(r["median_found_s"]),
             fmt_s(r["km_median_s"]), f"{r['rmst_s']:.1f}", f"{r['reached']}/{r['trials']}",
             f"{r['triggered']}/{r['trials']}", ", ".join(r["others"]) or "-"] for r in rows]
    return heads, body


def render_text(rows, comps, goals):
    heads, body = table(rows)
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(heads)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(heads, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(b, widths)) for b in body]
    if comps:
        lines += ["", "Against the baseline (censored trials count as the limit):"]
        lines += [f"  {c['bug']:28} {c['config']:32} A12 {c['a12']:.2f} ({c['magnitude']}), "
                  f"Mann-Whitney p {c['p']:.3g}" for c in comps]
    lines += ["", "Targets:"]
    lines += [f"  {'met    ' if ok else 'NOT MET'}  {name}: {detail}" for name, detail, ok in goals]
    return "\n".join(lines) + "\n"


def render_markdown(rows, comps, goals, limit, trials, plots):
    heads, body = table(rows)
    md = ["# framefuzz bugs: time to detect the injected bugs", "",
          f"{trials} trial(s) per bug and configuration, limit {limit} s each, one core per "
          "trial. *found* counts trials whose finding was the bug's own class on its own "
          "back-end; the others are censored at the limit. *KM median* and *RMST* "
          "(restricted mean survival time up to the limit) come from the Kaplan-Meier "
          "estimate, which accounts for censoring; *reached*/*triggered* are the bug's "
          "canary.", "", "## Targets", ""]
    md += [f"- **{'met' if ok else 'NOT MET'}** — {name}: {detail}" for name, detail, ok in goals]
    md += ["", "## Per bug and configuration", "", "| " + " | ".join(heads) + " |",
           "|" + "---|" * len(heads)]
    md += ["| " + " | ".join(b) + " |" for b in body]
    if comps:
        md += ["", "## Configurations against the baseline", "",
               "A12 < 0.5: the configuration tends to detect sooner than the baseline. "
               "Censored trials count as the limit.", "",
               "| bug | configuration | baseline | A12 | effect | Mann-Whitney U | p |",
               "|---|---|---|---|---|---|---|"]
        md += [f"| {c['bug']} | {c['config']} | {c['baseline']} | {c['a12']:.2f} | "
               f"{c['magnitude']} | {c['u']:.1f} | {c['p']:.3g} |" for c in comps]
    if plots:
        md += ["", "## Survival curves", ""] + [f"![{t}]({n})" for n, t in plots]
    return "\n".join(md) + "\n"


def plot(rows, configs, limit, out):
    """One Kaplan-Meier figure per bug (a curve per configuration). [(file, title)]."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    made = []
    for bug in dict.fromkeys(r["bug"] for r in rows):
        fig, ax = plt.subplots(figsize=(5.2, 3.0), dpi=100)
        for r in (r for r in rows if r["bug"] == bug):
            xs, ys = stats.survival_points(r["curve"], limit)
            ax.step(xs, ys, where="post", label=r["config"])
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlim(0, limit)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("seconds")
        ax.set_ylabel("P(not yet found)")
        ax.set_title(bug, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
        fig.tight_layout()
        name = f"km-{bug}.png"
        fig.savefig(os.path.join(out, name))
        plt.close(fig)
        made.append((name, f"Kaplan-Meier survival, {bug}"))
    return made


def write_report(rows, comps, goals, configs, limit, trials, out):
    """DIR/report.md and DIR/index.html; plots when matplotlib is there."""
    try:
        plots = plot(rows, configs, limit, out)
    except ImportError:
        plots = []
    md = render_markdown(rows, comps, goals, limit, trials, plots)
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write(md)
    import html
    e = html.escape
    heads, body = table(rows)
    comp_rows = "".join(
        f"<tr><td>{e(c['bug'])}</td><td>{e(c['config'])}</td><td>{c['a12']:.2f}</td>"
        f"<td>{e(c['magnitude'])}</td><td>{c['u']:.1f}</td><td>{c['p']:.3g}</td></tr>"
        for c in comps)
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>framefuzz bugs</title>"
            "<style>body{font-family:system-ui,sans-serif;max-width:80rem;margin:2rem auto;"
            "padding:0 1rem}table{border-collapse:collapse;font-size:.85rem;margin:1rem 0}"
            "td,th{border:1px solid #ccc;padding:.2rem .45rem;text-align:left}"
            "th{background:#f3f3f3}.bad{color:#b00;font-weight:bold}.good{color:#070}"
            ".plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(24rem,1fr));"
            "gap:.8rem}.plots img{width:100%;border:1px solid #ddd}</style></head><body>"
            f"<h1>framefuzz bugs</h1><p>{trials} trial(s) per bug and configuration, limit "
            f"{limit} s, one core per trial. A trial counts only when its finding is the "
            "bug's own class on its own back-end.</p><h2>Targets</h2><ul>"
            + "".join(f"<li><span class='{'good' if ok else 'bad'}'>{'met' if ok else 'NOT MET'}"
                      f"</span> — {e(n)}: {e(d)}</li>" for n, d, ok in goals)
            + "</ul><h2>Per bug and configuration</h2><table><tr>"
            + "".join(f"<th>{e(h)}</th>" for h in heads) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in b) + "</tr>" for b in body)
            + "</table>"
            + ("<h2>Against the baseline</h2><p>A12 &lt; 0.5: detects sooner than the "
               "baseline; censored trials count as the limit.</p><table><tr><th>bug</th>"
               "<th>configuration</th><th>A12</th><th>effect</th><th>U</th><th>p</th></tr>"
               + comp_rows + "</table>" if comps else "")
            + "<div class='plots'>"
            + "".join(f"<figure><img src='{e(n)}' alt='{e(t)}'></figure>" for n, t in plots)
            + "</div></body></html>\n")
    path = os.path.join(out, "index.html")
    with open(path, "w") as f:
        f.write(page)
    return path


def rows_json(rows):
    return [{k: v for k, v in r.items() if k not in ("curve", "found_flags")} for r in rows]
