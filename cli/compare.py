"""compare.py — `framefuzz compare`: every back-end on the same named workloads over the
same memory maps, side by side. The measuring is build/ffcompare's (C); this renders
it as a terminal table, markdown, CSV or JSON, and judges the issue's targets from the
rows measured (never from anything else)."""
import csv
import io
import json
import os
import resource
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLUMNS = [("backend", "back-end"), ("workload", "workload"), ("preset", "map"),
           ("alloc", "ns/alloc"), ("free", "ns/free"), ("pair", "ns/pair"), ("ooms", "OOM"),
           ("largest_free_block", "largest free"), ("unusable_index_order9", "unusable(9)"),
           ("peak_host_mib", "peak MiB"), ("meta", "meta B/frame"), ("checked", "oracle")]
DEFAULT_WORKLOADS = "boot,churn,kernel,storm,dma32,lifetimes,huge"

# The targets. A speed target names the rows it is judged on (back-end,
# workload, maps; None = any map); its figure is the alloc+free pair of the passes
# timed without per-call clocks (median). The sum of the per-call medians (ns/alloc +
# ns/free) is shown beside it: each of those carries a clock read (timer_ns, ~20 ns),
# which alone would fail a 40 ns bound.
PAIR_TARGETS = [
    ("buddy order-0 alloc+free pair", "buddy", "churn", None, 40.0),
    ("bitmap 512-frame contiguous alloc+free pair", "bitmap", "huge", ("pc-64g",), 2000.0),
]
# compare at 1 TiB: the run's peak resident set, over all of its processes.
MEMORY_TARGET = ("compare at 1 TiB: peak host memory of the run", "pc-1t", 8192.0)
# What `compare --targets` measures: exactly the rows the targets are judged on. The
# memory target runs every back-end on `huge`, the heaviest workload at pc-1t (its
# checked pass hands out 25 million frames; the next, kernel, peaks at half of it).
TARGET_JOBS = [("churn", "pc-1g", "buddy"), ("churn", "pc-64g", "buddy"),
               ("huge", "pc-64g", "bitmap"), ("huge", "pc-1t", None)]


class CompareError(Exception):
    pass


def measure_jobs(ffcompare, jobs, runs, seed):
    """Runs ffcompare for each (workload, preset, backends or None = all); the rows."""
    rows = []
    for wl, preset, backends in jobs:
        args = [ffcompare, wl, preset, "--runs", str(runs), "--seed", str(seed)]
        if backends:
            args += ["--backends", backends]
        proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            raise CompareError(proc.stderr.strip().removeprefix("ffcompare: "))
        rows += [json.loads(l) for l in proc.stdout.splitlines() if l.startswith("{")]
    return rows


def run_peak_mib():
    """The peak resident set of any process of this run so far (MiB): every ffcompare
    and the fresh processes of its memory passes, which it waits for, and this one."""
    kib = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
              resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return round(kib / 1024, 1)


def _verdict(name, where, figure, bound, unit, met, note=""):
    return {"target": name, "where": where, "figure": figure, "bound": bound, "unit": unit,
            "met": met, "note": note}


def targets(rows, run_peak=None):
    """The targets the rows measured let us judge, one entry per row judged: the figure,
    the bound and whether it is met. A target none of whose rows were measured is left
    out. A pair counts only from a clean checked pass without out-of-memory answers."""
    out = []
    for name, backend, workload, presets, bound in PAIR_TARGETS:
        for r in rows:
            if r["backend"] != backend or r["workload"] != workload or \
                    presets is not None and r["preset"] not in presets:
                continue
            pair = r["pair_ns"]["median"]
            calls = r["alloc_ns"]["median"] + r["free_ns"]["median"]
            faults = ([] if r["checked"] else [f"oracle: {r['finding']}"]) + \
                ([f"{r['ooms']} OOM"] if r["ooms"] else []) + \
                ([f"panicked: {r['left']}"] if r.get("left") else [])
            note = "; ".join(faults + [f"per-call medians {calls:.1f} ns, each with a "
                                       f"{r['timer_ns']:g} ns clock read"])
            out.append(_verdict(name, f"{workload}, {r['preset']}", pair, bound, "ns",
                                pair <= bound and not faults, note))
    name, preset, bound = MEMORY_TARGET
    if run_peak is not None and any(r["preset"] == preset for r in rows):
        out.append(_verdict(name, f"{preset}, every process", run_peak, bound, "MiB",
                            run_peak <= bound))
    return out


def target_line(t):
    verdict = "met" if t["met"] else "NOT MET"
    note = f" ({t['note']})" if t["note"] else ""
    return (f"{t['target']} [{t['where']}]: {t['figure']:g} {t['unit']}, bound "
            f"{t['bound']:g} {t['unit']}: {verdict}{note}")


def cell(row, key):
    if row.get("left") and key not in ("backend", "workload", "preset", "checked"):
        return "-"  # the back-end panicked on the workload: no figures
    if key == "checked" and row.get("left"):
        return row["finding"] or f"panicked: {row['left']}"
    if key in ("alloc", "free", "pair"):
        f = row[f"{key}_ns"]
        return f"{f['median']:.1f} ({f['min']:.1f}-{f['max']:.1f})"
    if key == "unusable_index_order9":
        return f"{row[key]:.3f}"
    if key == "peak_host_mib":
        return f"{row[key]:.1f}" if row[key] >= 0 else "?"
    if key == "meta":
        own = row["backend_bytes_per_frame"]
        return f"{row['layer_bytes_per_frame']}+" + (f"{own:.2f}" if own >= 0 else "?")
    if key == "checked":
        return "clean" if row["checked"] else row["finding"]
    return str(row[key])


def render(rows, fmt, judged=(), run_peak=None):
    """The rows in a format; the targets judged follow the table (table, markdown) or
    join the rows in one object (json); csv is the rows only."""
    if fmt == "json":
        return json.dumps({"rows": rows, "targets": list(judged),
                           "run_peak_host_mib": run_peak}, indent=2) + "\n"
    table = [[cell(r, k) for k, _ in COLUMNS] for r in rows]
    heads = [h for _, h in COLUMNS]
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(heads)
        w.writerows(table)
        return out.getvalue()
    if fmt == "markdown":
        lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
        lines += ["| " + " | ".join(row) + " |" for row in table]
        if judged:
            lines += ["", "Targets:", ""] + [f"- {target_line(t)}" for t in judged]
        return "\n".join(lines) + "\n"
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(heads)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(heads, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in table]
    if judged:
        lines += ["", "targets:"] + [f"  {target_line(t)}" for t in judged]
    return "\n".join(lines) + "\n"


def plots(rows, out_dir):
    """Bar charts of ns per alloc and per free for each workload, and, when several
    maps were measured, a scaling curve per back-end. Returns [(file, title)]."""
    import matplotlib
    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    made = []
    rows = [r for r in rows if not r.get("left")]  # a panicked pass has no figures
    if not rows:
        return made
    backends = sorted({r["backend"] for r in rows}, key=[r["backend"] for r in rows].index)
    workloads = sorted({r["workload"] for r in rows}, key=[r["workload"] for r in rows].index)
    maps = sorted({r["preset"] for r in rows}, key=lambda p: next(
        r["usable_frames"] for r in rows if r["preset"] == p))
    for key, title in (("alloc_ns", "ns per alloc"), ("free_ns", "ns per free")):
        fig, ax = plt.subplots(figsize=(8, 3.6), dpi=100)
        width = 0.8 / max(len(backends), 1)
        for i, b in enumerate(backends):
            values = [next((r[key]["median"] for r in rows if r["backend"] == b and
                            r["workload"] == w and r["preset"] == maps[-1]), 0) for w in workloads]
            ax.bar([x + i * width for x in range(len(workloads))], values, width, label=b)
        ax.set_xticks([x + width * (len(backends) - 1) / 2 for x in range(len(workloads))])
        ax.set_xticklabels(workloads)
        ax.set_yscale("log")
        ax.set_ylabel(title + " (log)")
        ax.set_title(f"{title}, median, map {maps[-1]}")
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        name = f"{key}.png"
        fig.savefig(os.path.join(out_dir, name))
        plt.close(fig)
        made.append((name, f"{title} by workload"))
    if len(maps) > 1:
        for w in workloads:
            fig, ax = plt.subplots(figsize=(7, 3.4), dpi=100)
            for b in backends:
                pts = [(r["usable_frames"] * 4096 / 2**30, r["alloc_ns"]["median"])
                       for r in rows if r["backend"] == b and r["workload"] == w]
                pts.sort()
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=b)
            ax.set_xscale("log", base=2)
            ax.set_xlabel("simulated RAM (GiB)")
            ax.set_ylabel("ns per alloc")
            ax.set_title(f"scaling: {w}")
            ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
            fig.tight_layout()
            name = f"scaling-{w}.png"
            fig.savefig(os.path.join(out_dir, name))
            plt.close(fig)
            made.append((name, f"ns per alloc against RAM, {w}"))
    return made


def page(rows, charts, judged=()):
    import html
    e = html.escape
    heads = "".join(f"<th>{e(h)}</th>" for _, h in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{e(cell(r, k))}</td>" for k, _ in COLUMNS) + "</tr>"
                   for r in rows)
    goals = ("<h2>Targets</h2><ul>" + "".join(f"<li>{e(target_line(t))}</li>" for t in judged)
             + "</ul>") if judged else ""
    figs = "".join(f"<figure><img src='{e(n)}' alt='{e(t)}'><figcaption>{e(t)}</figcaption>"
                   f"</figure>" for n, t in charts)
    return ("<!doctype html><html><head><meta charset='utf-8'><title>framefuzz compare</title>"
            "<style>body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;"
            "padding:0 1rem}table{border-collapse:collapse;font-size:.9rem}td,th{border:1px "
            "solid #ccc;padding:.25rem .5rem;text-align:left}th{background:#f3f3f3}"
            ".plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(30rem,1fr));"
            "gap:1rem}.plots img{width:100%;border:1px solid #ddd}</style></head><body>"
            "<h1>framefuzz compare</h1><p>Times are medians of the timed runs (range in "
            "brackets); the oracle column says whether the checked pass was clean. Peak MiB "
            "is the host memory one run added in a fresh process, simulated RAM an in-band "
            "back-end writes included; meta B/frame is the metadata layer's slot plus the "
            "back-end's own bookkeeping per usable frame at its peak.</p>"
            f"<table><tr>{heads}</tr>{body}</table>{goals}<div class='plots'>{figs}</div>"
            "</body></html>\n")


def write_html(rows, out_dir, judged=()):
    charts = plots(rows, out_dir)
    path = os.path.join(out_dir, "index.html")
    with open(path, "w") as f:
        f.write(page(rows, charts, judged))
    with open(os.path.join(out_dir, "compare.md"), "w") as f:
        f.write("# framefuzz compare\n\n" + render(rows, "markdown", judged) + "\n" +
                "\n".join(f"![{t}]({n})" for n, t in charts) + "\n")
    return path
