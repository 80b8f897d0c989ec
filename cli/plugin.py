"""plugin.py — `--plugin`: a user's allocator (C source, or a prebuilt shared object)
built into a build directory of its own, checked against the contract, and the Build
every tool then runs from; and a campaign's plug-in, rebuilt to replay or resume it."""
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys

from cli.build import ROOT, Build


def plugin_error(path, what):
    sys.stderr.write(f"framefuzz: error: plug-in {path}: {what}\n")
    sys.exit(2)


def shared_object_name(path):
    """The NAME of a prebuilt plug-in: the one ff_backend_NAME it exports. Exits 2 when
    it is no shared object, exports none or several, or was built with instrumentation
    a plain tool cannot load."""
    with open(path, "rb") as f:
        if f.read(4) != b"\x7fELF":
            plugin_error(path, "not a shared object (ELF); build it with "
                               "'cc -shared -fPIC -Iallocators FILE.c -o libNAME.so'")
    proc = subprocess.run(["nm", "-D", "-S", path], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        plugin_error(path, f"cannot read its symbols: {proc.stderr.strip()}")
    names, sizes, instrumented = [], [], set()
    for line in proc.stdout.splitlines():
        fields = line.split()
        kind, symbol = fields[-2], fields[-1].split("@")[0]
        match = re.fullmatch(r"ff_backend_(\w+)", symbol)
        if match and kind in "DdRrBbGgSs":
            names.append(match.group(1))
            sizes.append(int(fields[1], 16) if len(fields) == 4 else None)
        for prefix in ("__asan_", "__ubsan_", "__sanitizer_cov_", "__afl_"):
            if kind == "U" and symbol.startswith(prefix):
                instrumented.add(prefix.strip("_").split("_")[0])
    if instrumented:
        plugin_error(path, f"built with {', '.join(sorted(instrumented))} instrumentation; one "
                           f"shared object serves every tool, plain and instrumented alike, so "
                           f"build it without -fsanitize or afl-clang (or give the C source, "
                           f"which framefuzz builds for each)")
    if len(names) != 1:
        plugin_error(path, f"exports {len(names) or 'no'} ff_backend_NAME symbol"
                           f"{'s (' + ', '.join(names) + ')' if names else ''}; it must export "
                           f"exactly one `const ff_backend_def ff_backend_NAME`")
    # ff_backend_def only grows at its end: an object built against an older backend.h
    # holds a shorter one, whose missing hooks would be read from whatever follows it.
    want = contract_def_size()
    if sizes[0] is not None and want and sizes[0] < want:
        plugin_error(path, f"built against an older backend.h (its ff_backend_def is "
                           f"{sizes[0]} bytes, this framefuzz's {want}): rebuild it")
    return names[0]


def contract_def_size():
    """sizeof(ff_backend_def) as this checkout builds it, read off a built-in back-end."""
    base = Build()
    base.make_or_exit(base.fftool)
    proc = subprocess.run(["nm", "-S", base.fftool], stdout=subprocess.PIPE, text=True)
    for line in proc.stdout.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[3] == "ff_backend_buddy":
            return int(fields[1], 16)
    return None


def plugin_hash(path, sources):
    """The plug-in's content, as a campaign remembers it."""
    digest = hashlib.sha1()
    for p in [path, *sources]:
        with open(p, "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


def campaign_of(path):
    """The campaign directory holding path (a reproducer, an artifact), or None."""
    d = os.path.dirname(os.path.abspath(path))
    for _ in range(4):
        if os.path.isfile(os.path.join(d, "campaign.json")):
            return d
        d = os.path.dirname(d)
    return None


def campaign_plugin(directory, command):
    """A campaign run with a plug-in replays with it: rebuilt from where it was (with its
    sources and flags), with a warning when it changed since: its Build, or None for a
    campaign without one. Exits 2 when it is gone."""
    try:
        with open(os.path.join(directory, "campaign.json")) as f:
            spec = json.load(f).get("plugin")
    except (OSError, ValueError):
        return None  # campaign.py names what is wrong with the directory
    if not spec:
        return None
    for p in [spec["path"], *spec.get("sources", [])]:
        if not os.path.isfile(p):
            plugin_error(p, f"the campaign ran with this plug-in, which is gone: put it back "
                            f"to {command} the campaign")
    if plugin_hash(spec["path"], spec.get("sources", [])) != spec.get("sha1"):
        sys.stderr.write(f"framefuzz: warning: plug-in {spec['path']} changed since the "
                         f"campaign ran; its findings are replayed with the code as it is now\n")
    return use_plugin(spec["path"], command, spec.get("sources", []), spec.get("cflags", ""))


def absolute_paths(flags):
    """Compiler flags with the paths they name made absolute: the build runs elsewhere,
    and -Iinclude means the user's include/, as it would in their own build."""
    joined = ("-I", "-isystem", "-iquote", "-idirafter")  # also written -Ipath
    out, path_next = [], False
    for flag in flags:
        if path_next:
            flag, path_next = os.path.abspath(flag), False
        elif flag in joined + ("-include",):
            path_next = True
        else:
            opt = next((o for o in joined if flag.startswith(o) and len(flag) > len(o)), None)
            if opt:
                flag = opt + os.path.abspath(flag[len(opt):])
        out.append(flag)
    return shlex.join(out)


def plugin_build_dir(name, shared, path, sources, cflags):
    """build/plugin-so-NAME for a shared object; for C source, build/plugin-NAME-HASH, a
    directory per set of files (where they are) and flags, so a twin built with
    -DSOME_BUG and its plain self, or two plug-ins of one name, never rebuild each
    other."""
    if shared:
        return os.path.join(ROOT, "build", f"plugin-so-{name}")
    key = "\0".join([os.path.abspath(path), *sources, cflags]).encode()
    return os.path.join(ROOT, "build", f"plugin-{name}-{hashlib.sha1(key).hexdigest()[:8]}")


def use_plugin(path, command, sources=(), cflags=""):
    """Builds the plug-in (a C file with any more C files and compiler flags it needs,
    compiled where it is; or a prebuilt shared object linked into every tool) in a build
    directory of its own, checks it against the contract, and returns that build. Exits
    2 with what is wrong."""
    for p in [path, *sources]:
        if not os.path.isfile(p):
            plugin_error(p, "no such file")
    shared = path.endswith(".so")
    sources = [os.path.abspath(p) for p in sources]
    if shared and (sources or cflags):
        plugin_error(path, "a shared object is built already: --plugin-src and --plugin-cflags "
                           "are for a plug-in given as C source")
    if any(not p.endswith(".c") for p in sources):
        plugin_error(next(p for p in sources if not p.endswith(".c")),
                     "--plugin-src takes C files")
    names = [os.path.basename(p) for p in [path, *sources]]
    if len(set(names)) != len(names):
        plugin_error(path, "the plug-in's C files must have different file names")
    try:
        cflags = absolute_paths(shlex.split(cflags))
    except ValueError as e:
        plugin_error(path, f"--plugin-cflags: {e}")
    if shared:
        name = shared_object_name(path)
        make_args = [f"PLUGIN={os.path.abspath(path)}", f"PLUGIN_NAME={name}"]
    else:
        name = os.path.splitext(os.path.basename(path))[0]
        if not path.endswith(".c"):
            plugin_error(path, "a C file NAME.c or a shared object libNAME.so")
        make_args = [f"PLUGIN={os.path.abspath(path)}"]
    if not re.fullmatch(r"[a-z0-9_]{1,24}", name):
        plugin_error(path, f"the back-end name '{name}' is not 1 to 24 of [a-z0-9_] "
                           f"(a C file is named NAME.c and defines ff_backend_NAME)")
    build_dir = plugin_build_dir(name, shared, path, sources, cflags)
    make_args.append(f"PLUGIN_BUILD={os.path.relpath(build_dir, ROOT)}")
    if sources:
        make_args.append("PLUGIN_SRCS=" + " ".join(sources))
    if cflags:
        make_args.append(f"PLUGIN_CFLAGS={cflags}")
    build = Build(dir=build_dir, make_args=tuple(make_args),
                  plugin={"path": os.path.abspath(path), "sources": sources, "cflags": cflags,
                          "sha1": plugin_hash(path, sources)})
    proc = build.make(build.fftool)
    if proc.returncode != 0:
        errors = [l for l in proc.stdout.splitlines()
                  if "error" in l or "undefined reference" in l][:10]
        sys.stderr.write("\n".join(errors or proc.stdout.splitlines()[-10:]) + "\n")
        plugin_error(path, "does not build (above)" if not shared else
                           "does not link into framefuzz's tools (above)")
    proc = subprocess.run([build.fftool, "validate"], stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        plugin_error(path, proc.stderr.strip().removeprefix("fftool: "))
    if shared and command == "fuzz":
        sys.stderr.write(f"framefuzz: note: {os.path.basename(path)} is a prebuilt shared "
                         f"object without coverage instrumentation: the fuzzers are guided by "
                         f"framefuzz's own code reacting to it, not by its branches; give the "
                         f"C source for coverage inside the allocator\n")
    return build
