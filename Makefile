# SPDX-License-Identifier: MIT
# Front door: `make` builds, `make test` runs the tests, `make bench` the main job.
BUILD ?= build
TYPE ?= Release
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
PREFIX ?= /usr/local

.PHONY: all build test test-debug test-asan test-tsan test-fuzz test-all bench install clean

all: build

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(TYPE) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# The tests: release build, then the sanitizer builds' tests.
test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_FLAGS)

test-debug:
	$(MAKE) test BUILD=build-debug TYPE=Debug

# ASan+UBSan: every test but the benchmarks (blocks are poisoned: docs/safety.md).
test-asan:
	$(MAKE) test BUILD=build-asan TYPE=Asan CTEST_FLAGS="-LE bench"

# TSan: the tests labelled tsan (the thread-safe backends' conformance and stress).
test-tsan:
	$(MAKE) test BUILD=build-tsan TYPE=Tsan CTEST_FLAGS="-L tsan"

# The heap fuzzer (clang, libFuzzer) for FUZZ_SECONDS over the kept corpus.
FUZZ_SECONDS ?= 25
test-fuzz:
	HK_FUZZ_BUILD=$(CURDIR)/build-fuzz ./test/fuzz/run.sh $(FUZZ_SECONDS)

test-all: test test-debug test-asan test-tsan test-fuzz

bench: build
	./tools/bench-main.sh $(BUILD)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf build build-debug build-asan build-tsan build-fuzz
