#!/bin/bash -eu
# build.sh — builds framefuzz's fuzz targets the way OSS-Fuzz and ClusterFuzzLite do:
# compile with $CC $CFLAGS, link with $CXX $CXXFLAGS $LIB_FUZZING_ENGINE, write the
# targets to $OUT with a seed corpus zip, a dictionary and an options file each.
#
# Targets: framefuzz_NAME for every registered back-end (allocators/backends.def) and
# framefuzz_diff (all of them compared), under hardened semantics. The models of real
# allocators with known flaws (bsa, asterinas) are left out: their bugs are known, and a
# continuous fuzzer would report them forever.
#
# Run from the checkout ($SRC/framefuzz in the OSS-Fuzz image), or locally through
# `make oss-fuzz-check`.
cd "$(dirname "$0")/.."

STD="-std=c11 -D_DEFAULT_SOURCE -Iallocators -Imachine -Imeta -Ioracle -Ifuzz"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

KNOWN_FLAWED="bsa asterinas"
registered=$(sed -n 's/^FF_BACKEND(\([a-z0-9_]*\)).*/\1/p' allocators/backends.def)
backends_all=$(echo "$registered" | grep -vxF "$(printf '%s\n' $KNOWN_FLAWED)" | paste -sd, -)

# AFL++ instruments only the system under test (the back-ends and the metadata layer),
# as the Makefile's builds do. It must not instrument the harness: the harness reads
# AFL++'s edge map through weak references to __afl_area_ptr, and the instrumentation
# of that file would declare a second one the runtime does not define.
printf 'allocators/%s.c\n' $registered > "$WORK/covered.txt"
echo meta/meta.c >> "$WORK/covered.txt"
export AFL_LLVM_ALLOWLIST="$WORK/covered.txt"

# The library: every source but the programs' mains and the engine glue.
objs=""
for src in allocators/*.c machine/*.c meta/*.c oracle/*.c fuzz/*.c; do
    case "$src" in
        fuzz/fftool.c|fuzz/replay_main.c|fuzz/afl_*.c|fuzz/fuzz_*.c) continue ;;
    esac
    obj="$WORK/$(echo "$src" | tr / _).o"
    $CC $CFLAGS $STD -c "$src" -o "$obj"
    objs="$objs $obj"
done

zip_seeds() { # zip_seeds ZIP DIR...: the files of every DIR, flat
    zip=$1; shift
    files=""
    for dir in "$@"; do files="$files $(ls -d "$dir"/*)"; done
    if command -v zip >/dev/null 2>&1; then
        zip -q -j "$zip" $files
    else
        python3 -m zipfile -c "$zip" $files
    fi
}

for target in $(echo "$backends_all" | tr , ' ') diff; do
    name="framefuzz_$target"
    backends=$target
    [ "$target" = diff ] && backends=$backends_all
    $CC $CFLAGS $STD "-DFF_DEFAULT_TARGETS=\"$backends\"" '-DFF_DEFAULT_SEMANTICS="hardened"' \
        -c fuzz/fuzz_target.c -o "$WORK/$name.o"
    $CXX $CXXFLAGS "$WORK/$name.o" $objs $LIB_FUZZING_ENGINE -o "$OUT/$name"
    rm -f "$OUT/${name}_seed_corpus.zip"
    # The seeds: the common ones and the target's back-ends' own (cli/seeds.py's rule).
    seed_dirs=corpus/common
    for b in $(echo "$backends" | tr , ' '); do
        if [ -d "corpus/$b" ]; then seed_dirs="$seed_dirs corpus/$b"; fi
    done
    zip_seeds "$OUT/${name}_seed_corpus.zip" $seed_dirs
    cp fuzz/ops.dict "$OUT/$name.dict"
    printf '[libfuzzer]\ndict = %s.dict\nmax_len = 1024\n' "$name" > "$OUT/$name.options"
done
