# SPDX-License-Identifier: MIT
# The malloc-call recorder and the trace reader.
add_executable(trace_target test/trace_target.c)
target_link_libraries(trace_target PRIVATE Threads::Threads)
add_executable(trace_check test/trace_check.c)
target_link_libraries(trace_check PRIVATE hktrace_reader)
target_include_directories(trace_check PRIVATE ${PROJECT_SOURCE_DIR}/test)
# The recorder is preloaded into a plain program: not in sanitizer builds,
# whose runtime must come first in the process.
if(NOT HK_BUILD_TYPE_UC MATCHES "ASAN|TSAN")
  add_test(NAME trace-record COMMAND ${PROJECT_SOURCE_DIR}/test/trace.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(trace-record PROPERTIES LABELS trace)
endif()

# trace-info and replay of the traces kept in the repository, on every kind of allocator.
foreach(t python-queue gcc-cc1)
  add_test(NAME trace-info-${t} COMMAND hkbench trace-info ${PROJECT_SOURCE_DIR}/bench/traces/${t}.trace)
  set_tests_properties(trace-info-${t} PROPERTIES LABELS trace
    PASS_REGULAR_EXPRESSION "threads [0-9]+, calls [0-9]+")
endforeach()
foreach(alloc system buddy tlsf shard)
  add_test(NAME trace-replay-${alloc} COMMAND hkbench run replay
    trace=${PROJECT_SOURCE_DIR}/bench/traces/python-queue.trace --allocs ${alloc} --heap-mb 256)
  set_tests_properties(trace-replay-${alloc} PROPERTIES LABELS trace TIMEOUT 120
    PASS_REGULAR_EXPRESSION "replay,${alloc},.*,ok")
endforeach()
# A truncated trace is refused with a message, not replayed.
add_test(NAME trace-replay-truncated COMMAND sh -c
  "head -c 100000 ${PROJECT_SOURCE_DIR}/bench/traces/gcc-cc1.trace > trace-cut.trace && \
   ! ${CMAKE_BINARY_DIR}/hkbench run replay trace=trace-cut.trace --allocs system 2>&1 | grep -q ',ok' && \
   ${CMAKE_BINARY_DIR}/hkbench trace-info trace-cut.trace 2>&1 | grep 'truncated trace'")
set_tests_properties(trace-replay-truncated PROPERTIES LABELS trace)
