# SPDX-License-Identifier: MIT
# Front door: `make` builds, `make test` runs the tests, `make bench` the main job.
BUILD ?= build
TYPE ?= Release
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
PREFIX ?= /usr/local

.PHONY: all build test test-debug test-asan test-tsan test-all bench install clean

all: build

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(TYPE) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# The tests: release build, then the sanitizer builds' tests.
test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_FLAGS)

test-debug:
	$(MAKE) test BUILD=build-debug TYPE=Debug

test-asan:
	$(MAKE) test BUILD=build-asan TYPE=Asan

test-tsan:
	$(MAKE) test BUILD=build-tsan TYPE=Tsan CTEST_FLAGS="-L tsan"

test-all: test test-debug test-asan test-tsan

bench: build
	./tools/bench-main.sh $(BUILD)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf build build-debug build-asan build-tsan
