"""build.py — the build of framefuzz a command runs: the checkout's own, or a plug-in's
(a build directory of its own, made with the plug-in's make arguments). One object,
made once by cli.main and passed to whatever runs or builds a tool."""
import dataclasses
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class Build:
    dir: str = os.path.join(ROOT, "build")
    make_args: tuple = ()  # PLUGIN=... and the like, for a plug-in's build
    plugin: dict = None    # path, sources, cflags, sha1: what a campaign records and replays
    root: str = ROOT

    @property
    def fftool(self):
        return os.path.join(self.dir, "fftool")

    @property
    def libfuzzer_dir(self):
        return os.path.join(self.dir, "fuzz")

    @property
    def fast_dir(self):
        """The libFuzzer harnesses without sanitizers."""
        return os.path.join(self.dir, "fuzz-fast")

    @property
    def afl_dir(self):
        return os.path.join(self.dir, "afl")

    def tool(self, name):
        """A tool of this build: replay, ffcompare, fuzz/fuzz-diff, ..."""
        return os.path.join(self.dir, name)

    def make(self, *targets):
        """Brings build products (paths, or make's own targets) up to date; make's
        output, stdout and stderr together, in the result."""
        targets = [os.path.relpath(t, self.root) if os.path.isabs(t) else t for t in targets]
        return subprocess.run(["make", "-s", "-C", self.root, *self.make_args, *targets],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def make_or_exit(self, target):
        """make() for a command: on failure shows make's output and exits 1."""
        proc = self.make(target)
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout)
            sys.stderr.write(f"framefuzz: error: building {target} failed "
                             f"(run 'make setup' if tools are missing)\n")
            sys.exit(1)
