# SPDX-License-Identifier: MIT
# The front door. Every target configures and builds with CMake in $(BUILD)
# first; the build prints one line per file compiled and nothing else.
#
#   make            build everything (libraries, drop-ins, tools, tests) in build/
#   make test       build, then run the whole ctest suite in build/
#   make bench      build, then tools/bench-main.sh: compare, sweep, latency, report
#                   in bench-out/ (about 2-3 minutes on 2 cores)
#   make install    build, then install into $(PREFIX) (see README: Install)
#
# Variables: BUILD (build directory), TYPE (Release|Debug|Asan|Tsan), JOBS,
# CMAKE_FLAGS (extra -D options), CTEST_FLAGS, PREFIX (default /usr/local).
BUILD ?= build
TYPE ?= Release
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
PREFIX ?= /usr/local

# No "Entering/Leaving directory" lines from make's recursion (CMake's
# makefiles call make again for every target).
MAKEFLAGS += --no-print-directory

.PHONY: all build test test-debug test-asan test-tsan test-level0 test-fuzz test-all bench install clean

all: build

# Configure (quietly) and build; CMake's own progress lines only.
build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(TYPE) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The release build's whole suite: conformance per backend, stress, misuse,
# drop-in, fuzz corpus, benchmark smoke runs, report, CLI and install checks.
test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_FLAGS)

# The same suite in a Debug build (build-debug/).
test-debug:
	@$(MAKE) test BUILD=build-debug TYPE=Debug

# ASan+UBSan build (build-asan/): every test but those labelled bench
# (blocks are poisoned: docs/safety.md).
test-asan:
	@$(MAKE) test BUILD=build-asan TYPE=Asan CTEST_FLAGS="-LE bench"

# The build without the fast paths' checks (-DHK_HARDEN=0, build-level0/; docs/safety.md):
# the whole suite, which leaves out the checks' own tests there.
test-level0:
	@$(MAKE) test BUILD=build-level0 CMAKE_FLAGS="$(CMAKE_FLAGS) -DHK_HARDEN=0"

# TSan build (build-tsan/): only the tests labelled tsan (the thread-safe
# backends' conformance and stress).
test-tsan:
	@$(MAKE) test BUILD=build-tsan TYPE=Tsan CTEST_FLAGS="-L tsan"

# The heap fuzzer (clang, libFuzzer, build-fuzz/) for FUZZ_SECONDS over the
# kept corpus.
FUZZ_SECONDS ?= 25
test-fuzz:
	@HK_FUZZ_BUILD=$(CURDIR)/build-fuzz ./test/fuzz/run.sh $(FUZZ_SECONDS)

# All of the above, one after the other.
test-all: test test-debug test-asan test-tsan test-level0 test-fuzz

# The benchmarks (tools/bench-main.sh): the drop-in comparison, the sweep of
# every workload x allocator x 1,2 threads, hklatency, the standard programs
# when built (bench/originals), and bench-out/report.html. BENCH_QUICK=1 for
# a smoke run in seconds.
bench: build
	@./tools/bench-main.sh $(BUILD)

# Headers, libhkalloc.{a,so.0}, libhkalloc_freestanding.a, the drop-ins
# libheapkit.so.0 and libheapkit-checked.so.0, hkbench/hkstress/hklatency,
# heapkit.pc and the CMake package, into $(PREFIX).
install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

# Remove the build directories this Makefile makes (not bench-out/).
clean:
	rm -rf build build-debug build-asan build-tsan build-fuzz
