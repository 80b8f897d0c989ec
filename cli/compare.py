"""compare.py — `framefuzz compare`: every back-end on the same named workloads over the
same memory maps, side by side. The measuring is build/ffcompare's (C); this renders
it as a terminal table, markdown, CSV or JSON."""
import csv
import io
import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLUMNS = [("backend", "back-end"), ("workload", "workload"), ("preset", "map"),
           ("alloc", "ns/alloc"), ("free", "ns/free"), ("ooms", "OOM"),
           ("largest_free_block", "largest free"), ("unusable_index_order9", "unusable(9)"),
           ("checked", "oracle")]


class CompareError(Exception):
    pass


def measure(ffcompare, workloads, presets, backends, runs, seed):
    rows = []
    for preset in presets:
        for wl in workloads:
            args = [ffcompare, wl, preset, "--runs", str(runs), "--seed", str(seed)]
            if backends:
                args += ["--backends", backends]
            proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if proc.returncode != 0:
                raise CompareError(proc.stderr.strip().removeprefix("ffcompare: "))
            rows += [json.loads(l) for l in proc.stdout.splitlines() if l.startswith("{")]
    return rows


def cell(row, key):
    if key in ("alloc", "free"):
        f = row[f"{key}_ns"]
        return f"{f['median']:.1f} ({f['min']:.1f}-{f['max']:.1f})"
    if key == "unusable_index_order9":
        return f"{row[key]:.3f}"
    if key == "checked":
        return "clean" if row["checked"] else row["finding"]
    return str(row[key])


def render(rows, fmt):
    if fmt == "json":
        return json.dumps(rows, indent=2) + "\n"
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
        return "\n".join(lines) + "\n"
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(heads)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(heads, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in table]
    return "\n".join(lines) + "\n"
