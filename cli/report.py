"""report.py — `framefuzz report DIR`: a campaign as an HTML page and a markdown summary.

Everything comes from the campaign directory (campaign.json, progress.jsonl, findings/):
the distinct findings with their text reproducers, and plots of exec/s, coverage,
corpus size and findings over time, drawn with matplotlib (Debian's python3-matplotlib,
installed by the set-up step) into DIR/report/.
"""
import html
import json
import os

from cli.campaign import CampaignError, findings_of, read_lines


def load(path):
    try:
        with open(os.path.join(path, "campaign.json")) as f:
            config = json.load(f)
    except (OSError, ValueError) as e:
        raise CampaignError(f"{path} is not a campaign directory ({e})")
    progress = []
    for line in read_lines(os.path.join(path, "progress.jsonl")):
        try:
            progress.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a kill: the rest still counts
    return config, progress, findings_of(path)


def runs_of(progress):
    """Progress snapshots split into runs (a resumed campaign starts again at 0 s),
    laid end to end on one time axis."""
    runs, offset, last = [], 0.0, None
    for snap in progress:
        if last is None or snap["elapsed_s"] < last:
            if runs and runs[-1]:
                offset += runs[-1][-1]["elapsed_s"] - offset
            runs.append([])
        last = snap["elapsed_s"]
        runs[-1].append(dict(snap, t=offset + snap["elapsed_s"]))
    return runs


def plot(progress, findings, out_dir):
    """Draws the plots; returns [(file, title)]."""
    import matplotlib
    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    runs = runs_of(progress)
    charts = [("execs.png", "exec/s", "exec_per_s"), ("coverage.png", "coverage", "cov"),
              ("corpus.png", "corpus size (inputs)", "corpus")]
    made = []
    for name, title, key in charts:
        fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
        for i, run in enumerate(runs):
            ax.plot([s["t"] for s in run], [s[key] for s in run], color="tab:blue",
                    label="run" if i == 0 else None)
        ax.set_xlabel("campaign time (s)")
        ax.set_ylabel(title)
        ax.set_title(title + " over time")
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, name))
        plt.close(fig)
        made.append((name, title + " over time"))

    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
    times = sorted(f["first_seen_s"] for f in findings)
    if times:
        ax.step([0] + times, list(range(len(times) + 1)), where="post", color="tab:red")
    ax.set_xlabel("campaign time (s)")
    ax.set_ylabel("distinct findings")
    ax.set_title("distinct findings over time (first sighting)")
    ax.grid(alpha=0.3)
    ax.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "findings.png"))
    plt.close(fig)
    made.append(("findings.png", "distinct findings over time"))
    return made


def summary_numbers(progress):
    if not progress:
        return {"time_s": 0, "execs": 0, "peak_exec_per_s": 0, "cov": 0, "corpus": 0}
    runs = runs_of(progress)
    last = runs[-1][-1]
    return {"time_s": round(last["t"]), "execs": sum(r[-1]["execs"] for r in runs),
            "peak_exec_per_s": max(s["exec_per_s"] for s in progress),
            "cov": last["cov"], "corpus": last["corpus"]}


def reproducer_text(path, finding):
    try:
        with open(os.path.join(path, "findings", finding["signature"], "reproducer.txt")) as f:
            return f.read()
    except OSError:
        return "(reproducer missing)\n"


def sanitizer_text(path, finding):
    """The sanitizer's report kept beside an engine-crash's reproducer."""
    try:
        with open(os.path.join(path, "findings", finding["signature"],
                               finding["sanitizer_report"])) as f:
            return f.read()
    except OSError:
        return "(report missing)"


def consequences_text(finding):
    """What followed the root cause in the same run, one line each."""
    return [c if isinstance(c, str) else
            f"{c['signature']} {c['where']}" + (f" (x{c['times']})" if c["times"] > 1 else "")
            for c in finding.get("consequences", [])]


def markdown(path, config, numbers, findings, charts):
    lines = [f"# framefuzz campaign `{os.path.basename(os.path.abspath(path))}`", "",
             f"- target `{config['target']}` over `{config['backends']}`, engine "
             f"`{config['engine']}`, {config['jobs']} job(s), semantics "
             f"`{config.get('semantics') or 'from the inputs'}`, map "
             f"`{config.get('map') or 'from the inputs'}`",
             f"- {numbers['time_s']} s, {numbers['execs']} executions, peak "
             f"{numbers['peak_exec_per_s']} exec/s, coverage {numbers['cov']}, corpus "
             f"{numbers['corpus']} inputs",
             f"- **{len(findings)} distinct finding(s)**", ""]
    if findings:
        lines += ["| signature | where (in the input found) | first seen | hits |", "|---|---|---|---|"]
        lines += [f"| `{f['signature']}` | {f['where']} | {f['first_seen_s']} s | {f['hits']} |"
                  for f in findings]
        lines.append("")
    for f in findings:
        lines += [f"## `{f['signature']}`", ""]
        if f.get("message"):
            lines += [f.get("message"), ""]
        if consequences_text(f):
            lines += ["What followed from it in the same run:", ""]
            lines += [f"- `{c}`" for c in consequences_text(f)] + [""]
        if f.get("sanitizer_report"):
            lines += ["The sanitized harness's report (the plain replay survives it):", "", "```",
                      sanitizer_text(path, f).rstrip(), "```", ""]
        lines += [f"Replay: `./framefuzz repro {os.path.join(path, 'findings', f['signature'], 'reproducer.txt')}`"
                  + (f" ({f['replay_note']})" if f.get("replay_note") else ""),
                  "", "```", reproducer_text(path, f).rstrip(), "```", ""]
    lines += [f"![{title}]({name})" for name, title in charts]
    return "\n".join(lines) + "\n"


STYLE = """body{font-family:system-ui,sans-serif;max-width:62rem;margin:2rem auto;padding:0 1rem;
color:#222}h1{font-size:1.5rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}
th{background:#f3f3f3}code,pre{font-family:ui-monospace,monospace}
pre{background:#f6f8fa;padding:.8rem;overflow-x:auto;border-radius:4px}
.plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(28rem,1fr));gap:1rem}
.plots img{width:100%;border:1px solid #ddd}.clean{color:#1a7f37;font-weight:bold}"""


def page(path, config, numbers, findings, charts):
    e = html.escape
    rows = "".join(f"<tr><td><a href='#{e(f['signature'])}'><code>{e(f['signature'])}</code></a>"
                   f"</td><td>{e(f['where'])}</td><td>{f['first_seen_s']} s</td>"
                   f"<td>{f['hits']}</td></tr>" for f in findings)
    table = (f"<table><tr><th>signature</th><th>where (in the input found)</th>"
             f"<th>first seen</th><th>hits</th>"
             f"</tr>{rows}</table>" if findings else "<p class='clean'>No finding.</p>")
    details = "".join(
        f"<h2 id='{e(f['signature'])}'><code>{e(f['signature'])}</code> {e(f['where'])}</h2>"
        + (f"<p>{e(f['message'])}</p>" if f.get("message") else "")
        + (f"<p>What followed from it in the same run:</p><ul>"
           + "".join(f"<li><code>{e(c)}</code></li>" for c in consequences_text(f)) + "</ul>"
           if consequences_text(f) else "")
        + (f"<p>The sanitized harness's report (the plain replay survives it):</p>"
           f"<pre>{e(sanitizer_text(path, f))}</pre>" if f.get("sanitizer_report") else "")
        + f"<p>Replay: <code>./framefuzz repro "
        f"{e(os.path.join(path, 'findings', f['signature'], 'reproducer.txt'))}</code>"
        + (f" ({e(f['replay_note'])})" if f.get("replay_note") else "") + "</p>"
        f"<pre>{e(reproducer_text(path, f))}</pre>" for f in findings)
    plots = "".join(f"<figure><img src='{e(n)}' alt='{e(t)}'><figcaption>{e(t)}</figcaption>"
                    f"</figure>" for n, t in charts)
    name = e(os.path.basename(os.path.abspath(path)))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>framefuzz campaign "
            f"{name}</title><style>{STYLE}</style></head><body>"
            f"<h1>framefuzz campaign <code>{name}</code></h1>"
            f"<p>Target <code>{e(config['target'])}</code> over <code>{e(config['backends'])}"
            f"</code>, engine {e(config['engine'])}, {config['jobs']} job(s), semantics "
            f"{e(config.get('semantics') or 'from the inputs')}, map "
            f"{e(config.get('map') or 'from the inputs')}.<br>{numbers['time_s']} s, "
            f"{numbers['execs']} executions, peak {numbers['peak_exec_per_s']} exec/s, "
            f"coverage {numbers['cov']}, corpus {numbers['corpus']} inputs.</p>"
            f"<h2>{len(findings)} distinct finding(s)</h2>{table}"
            f"<div class='plots'>{plots}</div>{details}</body></html>\n")


def report(path):
    """Writes DIR/report/index.html and report.md; returns the HTML path."""
    config, progress, findings = load(path)
    out_dir = os.path.join(path, "report")
    os.makedirs(out_dir, exist_ok=True)
    try:
        charts = plot(progress, findings, out_dir)
    except ImportError:
        raise CampaignError("matplotlib is missing: run 'apt-get install -y python3-matplotlib' "
                            "as root (or 'sh setup.sh')")
    numbers = summary_numbers(progress)
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write(markdown(path, config, numbers, findings, charts))
    html_path = os.path.join(out_dir, "index.html")
    with open(html_path, "w") as f:
        f.write(page(path, config, numbers, findings, charts))
    return html_path
