# framefuzz — build, test and benchmark.
#
#   make          static library and tools (build/)
#   make test     set-up check, then unit tests under ASan+UBSan (clang), a warning-free
#                 gcc build, and the CLI tests; ends with "N passed, N failed"
#   make bench    prints the speed and memory figures
#   make setup    installs what the project needs (Debian packages; root) or prints how

# clang unless the caller chose a compiler (make's built-in default, cc, does not count).
ifeq ($(origin CC),default)
CC      := clang
endif
GCC     ?= gcc
FUZZCC  ?= clang
PYTHON  ?= /usr/bin/python3
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CSTD    := -std=c11 -D_DEFAULT_SOURCE
INC     := -Iallocators -Imachine -Imeta -Ioracle -Ifuzz
CFLAGS  ?= -O2 -g
SANFLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZFLAGS := -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
# The library for the harness targets: sanitized, and instrumented for coverage where
# COVERED_SRC says. -O2, as the fast build: the loop vectoriser runs before ASan's
# instrumentation, so a pass over an operation's frames is checked a vector at a time
# (fixed seed, three runs each: the differential harness 6-15 % faster than at -O1,
# single back-ends about even).
FUZZLIBFLAGS := -O2 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
                -fno-sanitize-coverage=trace-cmp,indirect-calls
FUZZLIB_PLAINFLAGS := -O2 -g -fsanitize=address,undefined -fno-sanitize-recover=all
# In that library, framefuzz's own code (everything but the back-ends under test) leaves
# out the four UBSan checks that guard what ASan already guards there (alignment, null,
# object-size, pointer-overflow): each is a check per element of its per-frame loops and
# keeps the vectoriser out of them (the differential harness 25-35 % faster at a fixed
# seed). The back-ends and plug-ins keep every check; make unit-asan
# runs framefuzz's own code under all of them.
FRAMEWORK_UBSAN_OFF := -fno-sanitize=alignment,null,object-size,pointer-overflow

TOOL_SRC  := fuzz/fftool.c
REPLAY_SRC := fuzz/replay_main.c
# AFL++ glue: the persistent-mode main (afl-clang-fast only) and the custom mutator.
AFL_SRC    := fuzz/afl_main.c fuzz/afl_mutator.c
# libFuzzer glue (each has its own LLVMFuzzerTestOneInput; clang only).
FUZZ_TARGETS := $(wildcard fuzz/fuzz_*.c)
# One libFuzzer target per registered back-end, and the differential one over all.
BACKENDS  := $(shell sed -n 's/^FF_BACKEND(\([a-z0-9_]*\)).*/\1/p' allocators/backends.def)
# Everything but the programs' mains goes into the library.
LIB_SRC   := $(sort $(wildcard allocators/*.c machine/*.c meta/*.c oracle/*.c) $(filter-out $(TOOL_SRC) $(REPLAY_SRC) $(AFL_SRC) $(FUZZ_TARGETS),$(wildcard fuzz/*.c)))
# Test-only code (tests/support: flawed back-ends and targets): linked into the unit
# tests and the test tools, never into the shipped programs, which refuse those names.
TEST_SUPPORT_SRC := $(wildcard tests/support/*.c)
TEST_SRC  := $(sort $(wildcard tests/test_*.c)) tests/unit.c $(TEST_SUPPORT_SRC)
TEST_INC  := -Itests -Itests/support
BENCH_SRC := bench/bench.c
HDRS      := $(wildcard allocators/*.h allocators/*.def machine/*.h meta/*.h oracle/*.h fuzz/*.h tests/*.h tests/support/*.h)
# What the fuzzers' coverage follows: the system under test (the back-ends and the
# metadata layer; a plug-in's sources too), not framefuzz's own
# plumbing (decoder, executor, oracle, simulated machine). Every counter a run hits
# costs libFuzzer's feature tracking time: with the plumbing instrumented it took more
# instructions per input than the harness itself, and its edges only echo what the
# allocator did.
UNDER_TEST_SRC := $(BACKENDS:%=allocators/%.c)
COVERED_SRC := $(UNDER_TEST_SRC) meta/meta.c
covered = $(filter $(1),$(COVERED_SRC))
under_test = $(filter $(1),$(UNDER_TEST_SRC))

B := build

# A plug-in allocator (`framefuzz --plugin FILE.c`, or `make PLUGIN=FILE.c ...`): built
# into every program in a build directory of its own, with a one-line registry of its
# own (FF_PLUGIN_DEF), so the tree is never touched. FILE.c defines
# `const ff_backend_def ff_backend_NAME`, NAME being its file name (plugins/extent.c).
# It is compiled where it is, as real code is: its own directory on the include path,
# with PLUGIN_SRCS (more of its C files) and PLUGIN_CFLAGS (-I, -D, ...) when given.
# Only its own objects and the registry are built for it; everything else is the main
# build's, shared by every plug-in. PLUGIN_BUILD names the build directory (framefuzz
# gives each set of sources and flags its own, so twins built with other flags do not
# rebuild each other).
# A prebuilt shared object (PLUGIN=libNAME.so, or PLUGIN_NAME=NAME when its file name
# says otherwise) is copied into the build directory and linked into every program
# instead, found there at run time through the programs' rpath.
MAIN_B := build
ifdef PLUGIN
# A source and a shared object of one name build apart: neither's objects leak into the other.
ifeq ($(suffix $(PLUGIN)),.so)
PLUGIN_NAME ?= $(patsubst lib%,%,$(basename $(notdir $(PLUGIN))))
PLUGIN_BUILD ?= build/plugin-so-$(PLUGIN_NAME)
else
PLUGIN_NAME := $(basename $(notdir $(PLUGIN)))
PLUGIN_BUILD ?= build/plugin-$(PLUGIN_NAME)
endif
B := $(PLUGIN_BUILD)
PLUGIN_DEF := $(CURDIR)/$(B)/plugin/plugin.def
BACKENDS += $(PLUGIN_NAME)

$(PLUGIN_DEF):
	@mkdir -p $(dir $@)
	echo 'FF_BACKEND($(PLUGIN_NAME))' > $@

# Objects are rebuilt when the plug-in's sources or flags change, whatever the files'
# time stamps (a file replaced by an older copy): the stamp holds their hash and is
# rewritten only when it differs. Headers it includes are tracked by the compiler (-MMD).
# Programs are linked to a temporary name and renamed into place, so one that is running
# (a campaign's fftool) can be rebuilt, and two builds never trip over each other's files.
PLUGIN_STAMP := $(B)/plugin/sources.stamp
.PHONY: plugin-stamp
plugin-stamp:
	@mkdir -p $(dir $(PLUGIN_STAMP))
	@new=$(PLUGIN_STAMP).$$$$; { echo '$(PLUGIN_CFLAGS)'; cat $(PLUGIN) $(PLUGIN_SRCS); } | sha1sum > $$new; \
	 if cmp -s $$new $(PLUGIN_STAMP); then rm -f $$new; else mv -f $$new $(PLUGIN_STAMP); fi
$(PLUGIN_STAMP): plugin-stamp

ifeq ($(suffix $(PLUGIN)),.so)
# The programs record the library by its SONAME when it has one, else by file name.
PLUGIN_SONAME := $(shell objdump -p $(PLUGIN) 2>/dev/null | sed -n 's/^ *SONAME *//p')
PLUGIN_SO := $(B)/plugin/$(or $(PLUGIN_SONAME),libff-$(PLUGIN_NAME).so)
PLUGIN_LINK := -L$(CURDIR)/$(B)/plugin -l:$(notdir $(PLUGIN_SO)) -Wl,-rpath,$(CURDIR)/$(B)/plugin

# Compared every time, copied only when it differs: file times within one build can
# come out of order (the kernel stamps files from a coarse clock).
$(PLUGIN_SO): plugin-stamp
	@mkdir -p $(dir $@)
	@cmp -s $(PLUGIN) $@ || cp $(PLUGIN) $@
PLUGIN_OBJ_NAMES :=
else
# Each plug-in source becomes plugin/NAME.o in every flavour (file names must differ).
PLUGIN_ALL_SRCS := $(PLUGIN) $(PLUGIN_SRCS)
PLUGIN_OBJ_NAMES := $(addprefix plugin/,$(notdir $(PLUGIN_ALL_SRCS:.c=.o)))
PLUGIN_INC := -I$(dir $(PLUGIN)) $(PLUGIN_CFLAGS)
vpath %.c $(sort $(dir $(PLUGIN_ALL_SRCS)))
endif
endif

# What every program of a plug-in build is relinked for: the plug-in itself (its stamp
# changes with its sources, flags or object, whatever their time stamps) and the object.
PLUGIN_DEPS := $(if $(PLUGIN),$(PLUGIN_STAMP) $(PLUGIN_SO))

# The library's objects for one flavour (build directory $(1)): in a plug-in build, the
# main build's objects but for the registry, which names the plug-in, and the plug-in's.
ifdef PLUGIN
lib_objs = $(patsubst %.c,$(MAIN_B)/$(1)/%.o,$(filter-out allocators/registry.c,$(LIB_SRC))) \
           $(B)/$(1)/allocators/registry.o $(addprefix $(B)/$(1)/,$(PLUGIN_OBJ_NAMES))
else
lib_objs = $(LIB_SRC:%.c=$(B)/$(1)/%.o)
endif
LIB_OBJ  := $(call lib_objs,rel)
FUZZLIB_OBJ := $(call lib_objs,fuzzlib)
HARNESSES := $(BACKENDS:%=$(B)/fuzz/fuzz-%) $(B)/fuzz/fuzz-diff

.PHONY: all test bench bench-fuzz setup clean unit-asan gcc-check fuzz-ops-smoke harnesses harnesses-fast afl oss-fuzz-check
all: $(B)/libframefuzz.a $(B)/fftool $(B)/replay $(B)/ffcompare

$(MAIN_B)/rel/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(INC) $(CFLAGS) -c $< -o $@

$(B)/libframefuzz.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/fftool: $(TOOL_SRC) $(B)/libframefuzz.a $(PLUGIN_DEPS)
	$(CC) $(CSTD) $(WARN) $(INC) $(CFLAGS) $< $(B)/libframefuzz.a $(PLUGIN_LINK) -o $@.tmp$$$$ && mv -f $@.tmp$$$$ $@

# The C side of `framefuzz compare`: workloads, a checked pass and a timed pass.
COMPARE_SRC := bench/compare.c bench/workload.c
$(B)/ffcompare: $(COMPARE_SRC) bench/workload.h bench/measure.h $(B)/libframefuzz.a $(PLUGIN_DEPS)
	$(CC) $(CSTD) $(WARN) $(INC) -Ibench -O2 -g $(COMPARE_SRC) $(B)/libframefuzz.a $(PLUGIN_LINK) -o $@.tmp$$$$ && mv -f $@.tmp$$$$ $@

# fftool with the test-only targets: what replays the oracle's regression suite
# (tests/regressions), whose reproducers run on those flawed back-ends.
$(B)/test/fftool: $(TOOL_SRC) $(TEST_SUPPORT_SRC) $(B)/libframefuzz.a
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(INC) $(TEST_INC) $(CFLAGS) $(TOOL_SRC) $(TEST_SUPPORT_SRC) $(B)/libframefuzz.a -o $@

# The differential harness with the test-only targets too: what shows that a finding of
# each class aborts from its own crash site (the reproducers of tests/regressions run
# on those targets).
$(B)/test/fuzz-diff: fuzz/fuzz_target.c $(FUZZLIB_OBJ) $(TEST_SUPPORT_SRC)
	@mkdir -p $(dir $@)
	$(FUZZCC) $(CSTD) $(WARN) $(INC) $(TEST_INC) $(FUZZFLAGS) -DFF_DEFAULT_TARGETS='"all"' $^ -o $@

# The standalone replay driver: the harness without any fuzzer runtime.
$(B)/replay: $(REPLAY_SRC) $(B)/libframefuzz.a $(PLUGIN_DEPS)
	$(CC) $(CSTD) $(WARN) $(INC) $(CFLAGS) $< $(B)/libframefuzz.a $(PLUGIN_LINK) -o $@.tmp$$$$ && mv -f $@.tmp$$$$ $@

$(B)/bench: $(BENCH_SRC) bench/measure.h $(B)/libframefuzz.a $(PLUGIN_DEPS)
	$(CC) $(CSTD) $(WARN) $(INC) -O2 -g $< $(B)/libframefuzz.a $(PLUGIN_LINK) -o $@.tmp$$$$ && mv -f $@.tmp$$$$ $@

# Unit tests: one binary, every part, built from scratch with ASan+UBSan.
$(B)/asan/unit: $(LIB_SRC) $(TEST_SRC) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(INC) $(TEST_INC) $(SANFLAGS) $(LIB_SRC) $(TEST_SRC) -o $@

# The same, switching coroutines with ucontext (machine/cpu.c's other way, for hosts
# other than x86-64).
$(B)/ucontext/unit: $(LIB_SRC) $(TEST_SRC) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(INC) $(TEST_INC) $(SANFLAGS) -DFF_CPU_UCONTEXT $(LIB_SRC) $(TEST_SRC) -o $@

unit-asan: $(B)/asan/unit
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 $(B)/asan/unit

# The same sources must build warning-free with gcc too.
gcc-check:
	@mkdir -p $(B)/gcc
	$(GCC) $(CSTD) $(WARN) $(INC) $(TEST_INC) -O2 $(LIB_SRC) $(TEST_SRC) -o $(B)/gcc/unit
	$(GCC) $(CSTD) $(WARN) $(INC) -O2 $(TOOL_SRC) $(LIB_SRC) -o $(B)/gcc/fftool
	$(GCC) $(CSTD) $(WARN) $(INC) -O2 $(REPLAY_SRC) $(LIB_SRC) -o $(B)/gcc/replay
	$(GCC) $(CSTD) $(WARN) $(INC) -O2 -c fuzz/afl_mutator.c -o $(B)/gcc/afl_mutator.o
	$(GCC) $(CSTD) $(WARN) $(INC) -Ibench -O2 $(COMPARE_SRC) $(LIB_SRC) -o $(B)/gcc/ffcompare
	$(GCC) $(CSTD) $(WARN) $(INC) -O2 $(BENCH_SRC) $(LIB_SRC) -o $(B)/gcc/bench

# The operation language's decoder and parser, fuzzed for their own contracts (clang).
$(B)/fuzz/ops_fuzzer: fuzz/fuzz_ops.c $(LIB_SRC) $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZCC) $(CSTD) $(WARN) $(INC) $(FUZZFLAGS) fuzz/fuzz_ops.c $(LIB_SRC) -o $@

# The harness targets: libFuzzer + ASan + UBSan (clang), with edge coverage but no
# comparison tracing: in per-frame and per-word loops (back-ends, layer, oracle) it
# costs most of every execution, and the inputs' interesting values come from the
# structure-aware mutator and the dictionary instead. No indirect-call tracing either:
# libFuzzer feeds it only to -use_value_profile (off by default), and the layer's calls
# through a back-end's function table, one callee per target, would tell it nothing.
$(MAIN_B)/fuzzlib/%.o: %.c $(HDRS) Makefile
	@mkdir -p $(dir $@)
	$(FUZZCC) $(CSTD) $(WARN) $(INC) $(if $(call covered,$<),$(FUZZLIBFLAGS),$(FUZZLIB_PLAINFLAGS)) \
	    $(if $(call under_test,$<),,$(FRAMEWORK_UBSAN_OFF)) -c $< -o $@

$(B)/fuzz/fuzz-diff: fuzz/fuzz_target.c $(FUZZLIB_OBJ) $(PLUGIN_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZCC) $(CSTD) $(WARN) $(INC) $(FUZZFLAGS) -DFF_DEFAULT_TARGETS='"all"' $(filter-out %.so %.stamp,$^) $(PLUGIN_LINK) -o $@.tmp$$$$ && mv -f $@.tmp$$$$ $@

$(B)/fuzz/fuzz-%: fuzz/fuzz_target.c $(FUZZLIB_OBJ) $(PLUGIN_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZCC) $(CSTD) $(WARN) $(INC) $(FUZZFLAGS) -DFF_DEFAULT_TARGETS='"$*"' $(filter-out %.so %.stamp,$^) $(PLUGIN_LINK) -o $@.tmp$$$$ && mv -f $@.tmp$$$$ $@

harnesses: $(HARNESSES)

# The same targets without sanitizers, for throughput: the oracle judges the
# allocators either way; ASan+UBSan additionally guard the framework's own memory.
FASTLIB_OBJ := $(call lib_objs,fastlib)
FAST_HARNESSES := $(BACKENDS:%=$(B)/fuzz-fast/fuzz-%) $(B)/fuzz-fast/fuzz-diff
FASTFLAGS := -O2 -g -fsanitize=fuzzer
FASTLIBFLAGS := -O2 -g -fsanitize=fuzzer-no-link -fno-sanitize-coverage=trace-cmp,indirect-calls
$(MAIN_B)/fastlib/%.o: %.c $(HDRS) Makefile
	@mkdir -p $(dir $@)
	$(FUZZCC) $(CSTD) $(WARN) $(INC) $(if $(call covered,$<),$(FASTLIBFLAGS),-O2 -g) -c $< -o $@

$(B)/fuzz-fast/fuzz-diff: fuzz/fuzz_target.c $(FASTLIB_OBJ) $(PLUGIN_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZCC) $(CSTD) $(WARN) $(INC) $(FASTFLAGS) -DFF_DEFAULT_TARGETS='"all"' $(filter-out %.so %.stamp,$^) $(PLUGIN_LINK) -o $@.tmp$$$$ && mv -f $@.tmp$$$$ $@

$(B)/fuzz-fast/fuzz-%: fuzz/fuzz_target.c $(FASTLIB_OBJ) $(PLUGIN_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZCC) $(CSTD) $(WARN) $(INC) $(FASTFLAGS) -DFF_DEFAULT_TARGETS='"$*"' $(filter-out %.so %.stamp,$^) $(PLUGIN_LINK) -o $@.tmp$$$$ && mv -f $@.tmp$$$$ $@

harnesses-fast: $(FAST_HARNESSES)

# The fast harness's instrumented objects with no engine: checks that an input's coverage
# is the same however its machine was made ready (tests/coverage_check.c).
$(B)/fuzz-fast/coverage-check: tests/coverage_check.c $(FASTLIB_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZCC) $(CSTD) $(WARN) $(INC) -O2 -g $^ -o $@.tmp$$$$ && mv -f $@.tmp$$$$ $@

# AFL++: the same harness built with afl-clang-fast in persistent mode, a CMPLOG build
# of each target (afl-fuzz -c), and the structure-aware mutator as a custom mutator.
AFL_CC      ?= afl-clang-fast
AFL_NAMES   := $(BACKENDS) diff
AFL_TARGETS := $(AFL_NAMES:%=$(B)/afl/fuzz-%) $(AFL_NAMES:%=$(B)/afl/fuzz-%.cmplog) \
               $(B)/afl/ff-mutator.so
AFLLIB_OBJ    := $(call lib_objs,afllib)
AFLCMPLOG_OBJ := $(call lib_objs,afllib-cmplog)
afl_targets = $(if $(filter diff,$(1)),all,$(1))

$(MAIN_B)/afllib/%.o: %.c $(HDRS) Makefile
	@mkdir -p $(dir $@)
	$(if $(call covered,$<),AFL_QUIET=1 $(AFL_CC),$(CC)) $(CSTD) $(WARN) $(INC) -O2 -g -c $< -o $@

$(MAIN_B)/afllib-cmplog/%.o: %.c $(HDRS) Makefile
	@mkdir -p $(dir $@)
	$(if $(call covered,$<),AFL_QUIET=1 AFL_LLVM_CMPLOG=1 $(AFL_CC),$(CC)) $(CSTD) $(WARN) $(INC) -O2 -g -c $< -o $@

# A plug-in build's own objects: the registry naming it, and its sources, in each
# flavour, compiled as the main objects of that flavour are. A plug-in's warnings are
# its author's to read, not a reason to refuse it.
ifdef PLUGIN
FLAVOUR_CC_rel := $(CC) $(CFLAGS)
FLAVOUR_CC_pic := $(CC) -O2 -g -fPIC
FLAVOUR_CC_fuzzlib := $(FUZZCC) $(FUZZLIBFLAGS)
FLAVOUR_CC_fastlib := $(FUZZCC) $(FASTLIBFLAGS)
FLAVOUR_CC_afllib := AFL_QUIET=1 $(AFL_CC) -O2 -g
FLAVOUR_CC_afllib-cmplog := AFL_QUIET=1 AFL_LLVM_CMPLOG=1 $(AFL_CC) -O2 -g
flavour_cc = $(FLAVOUR_CC_$(1))
define plugin_flavour
$(B)/$(1)/allocators/registry.o: allocators/registry.c $(HDRS) $(PLUGIN_DEF)
	@mkdir -p $$(dir $$@)
	$(call flavour_cc,$(1)) $(CSTD) -DFF_PLUGIN_DEF='"$(PLUGIN_DEF)"' $(WARN) $(INC) -c $$< -o $$@
$(B)/$(1)/plugin/%.o: %.c $(HDRS) $(PLUGIN_STAMP)
	@mkdir -p $$(dir $$@)
	$(call flavour_cc,$(1)) $(CSTD) -Wall -Wextra $(INC) $(PLUGIN_INC) -MMD -MP -c $$< -o $$@
endef
$(foreach f,rel pic fuzzlib fastlib afllib afllib-cmplog,$(eval $(call plugin_flavour,$(f))))
-include $(wildcard $(B)/*/plugin/*.d)
endif

$(B)/afl/fuzz-%.cmplog: fuzz/afl_main.c $(AFLCMPLOG_OBJ) $(PLUGIN_DEPS)
	@mkdir -p $(dir $@)
	AFL_QUIET=1 AFL_LLVM_CMPLOG=1 $(AFL_CC) $(CSTD) $(WARN) $(INC) -O2 -g \
	    -DFF_DEFAULT_TARGETS='"$(call afl_targets,$*)"' $(filter-out %.so %.stamp,$^) $(PLUGIN_LINK) -o $@.tmp$$$$ && mv -f $@.tmp$$$$ $@

$(B)/afl/fuzz-%: fuzz/afl_main.c $(AFLLIB_OBJ) $(PLUGIN_DEPS)
	@mkdir -p $(dir $@)
	AFL_QUIET=1 $(AFL_CC) $(CSTD) $(WARN) $(INC) -O2 -g \
	    -DFF_DEFAULT_TARGETS='"$(call afl_targets,$*)"' $(filter-out %.so %.stamp,$^) $(PLUGIN_LINK) -o $@.tmp$$$$ && mv -f $@.tmp$$$$ $@

# The custom mutator is a shared object: the library built position-independent, with
# the plug-in's objects (flavour pic) in a plug-in build.
$(B)/afl/ff-mutator.so: fuzz/afl_mutator.c $(LIB_SRC) $(HDRS) $(addprefix $(B)/pic/,$(PLUGIN_OBJ_NAMES)) $(PLUGIN_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(if $(PLUGIN),-DFF_PLUGIN_DEF='"$(PLUGIN_DEF)"') $(WARN) $(INC) -O2 -g -shared -fPIC \
	    fuzz/afl_mutator.c $(LIB_SRC) $(addprefix $(B)/pic/,$(PLUGIN_OBJ_NAMES)) $(PLUGIN_LINK) -o $@.tmp$$$$ && mv -f $@.tmp$$$$ $@

afl: $(AFL_TARGETS)

# .clusterfuzzlite/build.sh run as OSS-Fuzz would (libFuzzer and the AFL++ driver),
# then every target it produced, briefly.
oss-fuzz-check:
	@sh .clusterfuzzlite/check.sh

# A short, seeded run over corpus/ops. New inputs go to a throwaway first corpus
# directory, so corpus/ stays as committed.
fuzz-ops-smoke: $(B)/fuzz/ops_fuzzer
	@rm -rf $(B)/fuzz/ops-new && mkdir -p $(B)/fuzz/ops-new
	$(B)/fuzz/ops_fuzzer -runs=200000 -seed=1 -max_len=512 -artifact_prefix=$(B)/fuzz/ $(B)/fuzz/ops-new corpus/ops
	@rm -rf $(B)/fuzz/ops-new

test:
	@sh setup.sh --check
	@rm -rf $(B)/asan
	@$(PYTHON) tests/run_all.py

bench: $(B)/bench
	$(B)/bench

# The harnesses' exec/s and time to detect (libFuzzer, one core each).
# The reference for every harness's rate: libFuzzer over a target that does nothing.
$(B)/bench/empty-fuzzer: bench/empty_target.c
	@mkdir -p $(dir $@)
	$(FUZZCC) $(CSTD) $(WARN) $(FASTFLAGS) $< -o $@

bench-fuzz: $(HARNESSES) $(FAST_HARNESSES) $(B)/bench/empty-fuzzer
	$(PYTHON) bench/fuzzbench.py

setup:
	@sh setup.sh

clean:
	rm -rf $(B)
