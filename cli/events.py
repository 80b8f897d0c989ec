"""events.py — framefuzz's own lines read as data, never as prose: the JSON objects a
harness run with --ff-json=on prints after "==framefuzz== " (fuzz/harness.h), the same
finding objects as `fftool repro --json` (fuzz/verdict.h)."""
import json

HARNESS_JSON = "--ff-json=on"
PREFIX = "==framefuzz== "


def harness_events(text, event=None):
    """The harness's JSON objects in its output, in order; only those whose "event" is
    `event` when given."""
    out = []
    for line in text.splitlines():
        if not line.startswith(PREFIX + "{"):
            continue
        try:
            obj = json.loads(line[len(PREFIX):])
        except ValueError:
            continue
        if event is None or obj.get("event") == event:
            out.append(obj)
    return out


def finding_signatures(text):
    """The signatures of the findings a harness reported, in order."""
    return [e["signature"] for e in harness_events(text, "finding")]


def fftool_events(text, event=None):
    """The JSON lines of an `fftool ... --json` run, in order (as harness_events)."""
    out = []
    for line in text.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and (event is None or obj.get("event") == event):
            out.append(obj)
    return out
