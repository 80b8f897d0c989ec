#!/bin/sh
# check.sh — what `make oss-fuzz-check` runs: .clusterfuzzlite/build.sh the way
# OSS-Fuzz would, once with libFuzzer (ASan+UBSan) and once with the AFL++ driver, then
# every target it produced briefly, from its own seed corpus zip and with its own
# dictionary and options. Prints one line per check and fails on the first failure.
set -eu
cd "$(dirname "$0")/.."
B=build/oss-fuzz
rm -rf "$B"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

build() { # build ENGINE: env as OSS-Fuzz sets it, then build.sh
    mkdir -p "$B/$1"
    OUT="$PWD/$B/$1" bash -eu .clusterfuzzlite/build.sh
    for t in "$B/$1"/framefuzz_*; do
        case "$t" in *.zip|*.dict|*.options) continue ;; esac
        for f in "${t}_seed_corpus.zip" "$t.dict" "$t.options"; do
            [ -s "$f" ] || { echo "oss-fuzz-check: $f missing"; exit 1; }
        done
    done
    n=$(ls "$B/$1" | grep -vc '\.' || true)
    [ "$n" -gt 0 ] && [ "$n" -eq "$(ls "$B/$1"/*.options | wc -l)" ] ||
        { echo "oss-fuzz-check: build.sh with $1 made $n targets"; exit 1; }
    echo "ok   build.sh with $1: $n targets"
}

seeds() { # seeds TARGET DIR: the target's seed corpus, unpacked
    rm -rf "$2" && mkdir -p "$2"
    python3 -m zipfile -e "${1}_seed_corpus.zip" "$2"
}

CC=clang CXX=clang++ \
CFLAGS="-O1 -fno-omit-frame-pointer -gline-tables-only -fsanitize=address,undefined -fsanitize=fuzzer-no-link" \
CXXFLAGS="-O1 -fno-omit-frame-pointer -gline-tables-only -fsanitize=address,undefined -fsanitize=fuzzer-no-link" \
LIB_FUZZING_ENGINE="-fsanitize=fuzzer" build libfuzzer
for t in "$B"/libfuzzer/framefuzz_*; do
    case "$t" in *.zip|*.dict|*.options) continue ;; esac
    seeds "$t" "$work/seeds"
    mkdir -p "$work/corpus"
    "$t" -runs=3000 -seed=1 -dict="$t.dict" -max_len=1024 -artifact_prefix="$work/" \
        "$work/corpus" "$work/seeds" >"$work/log" 2>&1 ||
        { tail -n 30 "$work/log"; echo "oss-fuzz-check: $(basename "$t") failed"; exit 1; }
    rm -rf "$work/corpus"
    echo "ok   libfuzzer $(basename "$t"): 3000 runs, no finding"
done

CC=afl-clang-fast CXX=afl-clang-fast++ CFLAGS="-O1 -g" CXXFLAGS="-O1 -g" \
LIB_FUZZING_ENGINE=/usr/lib/afl/libAFLDriver.a AFL_QUIET=1 build afl
for t in "$B"/afl/framefuzz_*; do
    case "$t" in *.zip|*.dict|*.options) continue ;; esac
    seeds "$t" "$work/seeds"
    rm -rf "$work/afl"
    AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 \
        afl-fuzz -i "$work/seeds" -o "$work/afl" -x "$t.dict" -V 3 -- "$t" >"$work/log" 2>&1 ||
        { tail -n 30 "$work/log"; echo "oss-fuzz-check: $(basename "$t") failed under afl-fuzz"; exit 1; }
    crashes=$(ls "$work/afl/default/crashes" 2>/dev/null | grep -c '^id:' || true)
    [ "$crashes" -eq 0 ] || { echo "oss-fuzz-check: $(basename "$t") crashed under afl-fuzz"; exit 1; }
    echo "ok   afl $(basename "$t"): 3 s of afl-fuzz, no crash"
done
