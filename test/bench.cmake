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
add_test(NAME bench-broken-caught COMMAND hkbench test ${HKB_BROKEN_LIST} --alloc broken --expect-fail)
set_tests_properties(bench-broken-caught PROPERTIES LABELS bench TIMEOUT 60)
# ... and a failing run exits non-zero with a message.
add_test(NAME bench-broken-run COMMAND hkbench run threadtest --tiny --alloc broken)
set_tests_properties(bench-broken-run PROPERTIES LABELS bench WILL_FAIL TRUE)
add_test(NAME bench-broken-message COMMAND hkbench run threadtest --tiny --alloc broken)
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
add_test(NAME bench-preload COMMAND hkbench run glibc-thread --tiny --alloc mimalloc)
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
# use only heapkit's API and memset/memcpy/memmove/memcmp/strcmp from outside.
add_test(NAME bench-portable COMMAND sh -c
  "nm -u '$<TARGET_FILE:hkbench_lib>' | awk 'NF == 2 {print $2}' | sort -u | \
grep -v -E '^(hkb?_[a-z_0-9]+|mem(set|cpy|move|cmp)|strcmp|_GLOBAL_OFFSET_TABLE_|__stack_chk_fail|__[at]san_[a-z_0-9]+|__ubsan_[a-z_0-9]+)$' \
&& exit 1 || exit 0")
set_tests_properties(bench-portable PROPERTIES LABELS bench)
