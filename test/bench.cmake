# SPDX-License-Identifier: MIT
# Short checks of the benchmark lab (label: bench). Each runs in well under a
# few seconds: workloads use their tiny parameters.
set(HKB_WORKLOADS cache-scratch cache-thrash threadtest linux-scalability larson phong
    xmalloc mstress glibc-simple glibc-thread malloc-large fragmentation)
# Workloads that hold blocks across allocator calls, so a corrupting
# allocator must be caught even on one thread.
set(HKB_CATCHES_BROKEN threadtest larson phong xmalloc mstress glibc-simple
    glibc-thread malloc-large fragmentation)

add_test(NAME bench-list COMMAND hkbench list)
set_tests_properties(bench-list PROPERTIES LABELS bench
  PASS_REGULAR_EXPRESSION "larson.*allocators:.*system")

# Every workload, tiny, on system malloc and every backend that can free;
# its content checks must pass.
foreach(wl ${HKB_WORKLOADS})
  add_test(NAME bench-${wl} COMMAND hkbench test ${wl} --heap-mb 256)
  set_tests_properties(bench-${wl} PROPERTIES LABELS bench TIMEOUT 60)
endforeach()

# The checks can fail: a test double that corrupts live blocks must be caught.
string(REPLACE ";" "," HKB_BROKEN_LIST "${HKB_CATCHES_BROKEN}")
add_test(NAME bench-broken-caught COMMAND hkbench test ${HKB_BROKEN_LIST} --allocs broken --expect-fail)
set_tests_properties(bench-broken-caught PROPERTIES LABELS bench TIMEOUT 60)
# ... and a failing run exits non-zero with a message.
add_test(NAME bench-broken-run COMMAND hkbench run threadtest --tiny --allocs broken)
set_tests_properties(bench-broken-run PROPERTIES LABELS bench WILL_FAIL TRUE)
add_test(NAME bench-broken-message COMMAND hkbench run threadtest --tiny --allocs broken)
set_tests_properties(bench-broken-message PROPERTIES LABELS bench
  FAIL_REGULAR_EXPRESSION ",ok$" PASS_REGULAR_EXPRESSION "FAILED: block changed while live")

# Parameters are checked against their ranges.
add_test(NAME bench-param-range COMMAND hkbench run larson threads=0 --tiny)
set_tests_properties(bench-param-range PROPERTIES LABELS bench WILL_FAIL TRUE)

# run prints CSV rows, one per repetition.
add_test(NAME bench-run-csv COMMAND hkbench run glibc-simple --tiny --reps 2 --threads 1)
set_tests_properties(bench-run-csv PROPERTIES LABELS bench
  PASS_REGULAR_EXPRESSION "glibc-simple,system,1,iterations=20;batch=100;size=64,1,[0-9.]+,[0-9.e+]+,Mops/s,[0-9]+,-1,-1,higher,ok")

# LD_PRELOAD in a child: the row must come from the preloaded library.
add_test(NAME bench-preload COMMAND hkbench run glibc-thread --tiny --allocs mimalloc)
set_tests_properties(bench-preload PROPERTIES LABELS bench SKIP_RETURN_CODE 77
  PASS_REGULAR_EXPRESSION "glibc-thread,mimalloc,2,.*,ok")

# The drop-in comparison end to end (tiny parameters, one repetition).
add_test(NAME bench-compare COMMAND hkbench compare --tiny --reps 1
  --allocs heapkit,mimalloc,jemalloc,tcmalloc,system)
set_tests_properties(bench-compare PROPERTIES LABELS bench TIMEOUT 120
  PASS_REGULAR_EXPRESSION "geomean" FAIL_REGULAR_EXPRESSION "FAIL")

# A sweep and the report made from it.
find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_Interpreter_FOUND)
  set(HKB_TOUT ${CMAKE_BINARY_DIR}/bench-test-out)
  add_test(NAME bench-sweep-report COMMAND sh -c
    "mkdir -p '${HKB_TOUT}' && '$<TARGET_FILE:hkbench>' sweep --tiny --bench glibc-simple,larson \
--allocs system,buddy,tlsf,region --threads 1,2 --reps 2 --heap-mb 64 \
--csv '${HKB_TOUT}/sweep.csv' --json '${HKB_TOUT}/sweep.json' && \
'${Python3_EXECUTABLE}' '${PROJECT_SOURCE_DIR}/tools/report.py' --sweep '${HKB_TOUT}/sweep.csv' \
--baseline system --summary-csv '${HKB_TOUT}/summary.csv' --out '${HKB_TOUT}/report.html' && \
grep -q '<svg' '${HKB_TOUT}/report.html' && grep -q 'larson,.*,buddy,2,' '${HKB_TOUT}/summary.csv'")
  set_tests_properties(bench-sweep-report PROPERTIES LABELS bench TIMEOUT 120)
endif()

# The workload library stays portable (it links into a Unikraft image): it may
# use only heapkit's API and memset/memcpy/memmove/memcmp/strcmp from outside;
# the result row (bench/result.c) may also format and parse numbers
# (snprintf, vsnprintf, strtod, strtol, strtoul), which any libc has.
add_test(NAME bench-portable COMMAND sh -c
  "nm -A -u '$<TARGET_FILE:hkbench_lib>' | awk 'NF == 3 {print $1, $3}' | \
grep -v -E ':result[.]c[.]o: (v?snprintf|strto(d|l|ul))$' | awk '{print $2}' | sort -u | \
grep -v -E '^(hkb?_[a-z_0-9]+|mem(set|cpy|move|cmp)|strcmp|_GLOBAL_OFFSET_TABLE_|__stack_chk_fail|__[at]san_[a-z_0-9]+|__ubsan_[a-z_0-9]+)$' \
&& exit 1 || exit 0")
set_tests_properties(bench-portable PROPERTIES LABELS bench)

# The command-line convention (tools/opts.h): test/cli.sh checks --help (stdout,
# status 0), --version, an unknown option named with the nearest one and the one
# spelling --allocs for hkbench and each command, hkstress and hklatency; below,
# the issue's own example, other misspellings, and the table and JSON formats.
add_test(NAME cli-convention COMMAND ${PROJECT_SOURCE_DIR}/test/cli.sh ${CMAKE_BINARY_DIR} ${PROJECT_VERSION})
set_tests_properties(cli-convention PROPERTIES LABELS "bench;cli" TIMEOUT 60)
add_test(NAME cli-unknown-option COMMAND sh -c "'$<TARGET_FILE:hkbench>' sweep --alocs x 2>&1; test $? -eq 2")
set_tests_properties(cli-unknown-option PROPERTIES LABELS "bench;cli"
  PASS_REGULAR_EXPRESSION "unknown option '--alocs'; did you mean '--allocs'[?]")
add_test(NAME cli-unknown-everywhere COMMAND sh -c "\
'$<TARGET_FILE:hkbench>' run glibc-simple --tiny --repz 2 2>&1 | grep -q \"did you mean '--reps'\" && \
'$<TARGET_FILE:hkbench>' compare --basline x 2>&1 | grep -q \"did you mean '--baseline'\" && \
'$<TARGET_FILE:hkstress>' --thread 2 2>&1 | grep -q \"did you mean '--threads'\" && \
'$<TARGET_FILE:hklatency>' --allcs tlsf 2>&1 | grep -q \"did you mean '--allocs'\" && \
'$<TARGET_FILE:hkbench>' swep 2>&1 | grep -q \"did you mean 'sweep'\"")
set_tests_properties(cli-unknown-everywhere PROPERTIES LABELS "bench;cli")
add_test(NAME cli-run-table COMMAND hkbench run glibc-simple --tiny --reps 2 --format table)
set_tests_properties(cli-run-table PROPERTIES LABELS "bench;cli"
  PASS_REGULAR_EXPRESSION "benchmark +allocator +thr +rep.*\nglibc-simple +system +1 +0 .* Mops/s .* ok ")
add_test(NAME cli-run-json-null COMMAND hkbench run glibc-simple --tiny --format json --allocs system)
set_tests_properties(cli-run-json-null PROPERTIES LABELS "bench;cli"
  PASS_REGULAR_EXPRESSION "\"held_kb\": null, \"live_kb\": null.*\"cpu_seconds\": [0-9]")

# One row for every front end: the header tools/uk-sweep.sh writes is the one
# hkbench prints (bench/result.h's HKB_RESULT_CSV_HEADER, which the Unikraft image prints too).
add_test(NAME row-header-unikraft COMMAND sh -c "h=$('$<TARGET_FILE:hkbench>' run glibc-simple --tiny --allocs system | head -n 1) && \
grep -q -x \"header=$h\" '${PROJECT_SOURCE_DIR}/tools/uk-sweep.sh' && \
grep -q 'HKB_RESULT_CSV_HEADER' '${PROJECT_SOURCE_DIR}/unikraft/app-bench/main.c'")
set_tests_properties(row-header-unikraft PROPERTIES LABELS "bench;unit")
