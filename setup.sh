#!/bin/sh
# setup.sh — makes sure this machine has what framefuzz needs, installing Debian
# packages when run as root, else printing the exact command to run.
#
#   sh setup.sh           check, install what is missing, say what was done
#   sh setup.sh --check   the same, silent when nothing is missing (used by make)
set -u

quiet=0
[ "${1:-}" = "--check" ] && quiet=1

# Debian packages and what each provides.
packages="make gcc clang llvm libclang-rt-dev python3 afl++ python3-matplotlib strace"

missing=""
need() { # need PACKAGE TEST...
    pkg=$1; shift
    if ! "$@" >/dev/null 2>&1; then
        case " $missing " in *" $pkg "*) ;; *) missing="$missing $pkg" ;; esac
    fi
}

probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
printf 'int main(void) { return 0; }\n' > "$probe_dir/p.c"

need make    command -v make
need gcc     command -v gcc
need clang   command -v clang
need llvm    command -v llvm-symbolizer
need python3 test -x /usr/bin/python3
need afl++   command -v afl-clang-fast
need afl++   command -v afl-fuzz
# The test that the per-execution path makes no memory-mapping system call.
need strace  command -v strace
# Plots in reports: Debian's matplotlib, for the Debian python3 the tools run on.
need python3-matplotlib /usr/bin/python3 -c "import matplotlib"
# The sanitizer runtimes: only a real link proves they are there.
command -v clang >/dev/null 2>&1 &&
    need libclang-rt-dev clang -fsanitize=address,undefined "$probe_dir/p.c" -o "$probe_dir/p"

if [ -z "$missing" ]; then
    [ $quiet -eq 1 ] || echo "framefuzz setup: everything needed is installed ($packages)"
    exit 0
fi

cmd="apt-get update && apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
    echo "framefuzz setup: missing:$missing" >&2
    echo "framefuzz setup: run as root:  $cmd" >&2
    exit 1
fi
echo "framefuzz setup: installing$missing"
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -q && apt-get install -y -q --no-install-recommends $missing; } >"$probe_dir/apt.log" 2>&1; then
    tail -n 20 "$probe_dir/apt.log" >&2
    echo "framefuzz setup: installing$missing failed (see above)" >&2
    exit 1
fi
echo "framefuzz setup: done"
