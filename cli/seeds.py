"""seeds.py — the committed seeds a fuzz target starts from, each file stored once.

corpus/common holds what every allocator starts from (churn, misuse, poison, the 2024
layer); corpus/NAME a registered back-end's own (its maps and shapes). A back-end's
target starts from both; the differential target, and any target with no folder of
its own (a plug-in's), from the common seeds and every back-end's.
"""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "corpus")


def registered_backends():
    """The built-in back-ends, in registration order (allocators/backends.def)."""
    with open(os.path.join(ROOT, "allocators", "backends.def")) as f:
        return re.findall(r"^FF_BACKEND\((\w+)\)", f.read(), re.M)


def seed_dirs(target):
    """The seed directories of a target ("diff", a back-end's or a plug-in's name)."""
    own = os.path.join(CORPUS, target)
    if target != "diff" and target in registered_backends() and os.path.isdir(own):
        names = [target]
    else:
        names = registered_backends()
    dirs = [os.path.join(CORPUS, "common")] + [os.path.join(CORPUS, n) for n in names]
    return [d for d in dirs if os.path.isdir(d)]


def seed_files(target):
    """The seed files of a target, sorted by name."""
    return sorted((os.path.join(d, n) for d in seed_dirs(target) for n in os.listdir(d)),
                  key=os.path.basename)
