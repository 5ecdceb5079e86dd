# SPDX-License-Identifier: MIT
# The malloc-call recorder and the trace reader.
add_executable(trace_target test/trace_target.c)
target_link_libraries(trace_target PRIVATE Threads::Threads)
add_executable(trace_check test/trace_check.c)
target_link_libraries(trace_check PRIVATE hktrace_reader)
target_include_directories(trace_check PRIVATE ${PROJECT_SOURCE_DIR}/test)
add_test(NAME trace-record COMMAND ${PROJECT_SOURCE_DIR}/test/trace.sh ${CMAKE_BINARY_DIR})
set_tests_properties(trace-record PROPERTIES LABELS trace)
