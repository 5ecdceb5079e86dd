# SPDX-License-Identifier: MIT
# The benchmark library: the harness and one file per workload. Portable C
# (no OS calls), so it links into hkbench here and into a Unikraft image.
file(GLOB HKB_LIB_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/bench/*.c)
add_library(hkbench_lib STATIC ${HKB_LIB_SOURCES})
target_include_directories(hkbench_lib PUBLIC ${PROJECT_SOURCE_DIR}/bench)
target_link_libraries(hkbench_lib PUBLIC hkalloc hktrace_reader)

# The standard-programs driver (bench/originals/run.sh, table.py) on a fake originals directory:
# tiny stand-in programs built by the test, so its logic is tested without the fetched sources.
find_program(HKB_PYTHON3 python3)
if(HKB_PYTHON3)
  add_test(NAME bench-originals-driver
    COMMAND sh ${PROJECT_SOURCE_DIR}/bench/originals/test.sh ${CMAKE_CURRENT_BINARY_DIR}/originals-test)
  set_tests_properties(bench-originals-driver PROPERTIES LABELS bench TIMEOUT 120
    ENVIRONMENT "CC=${CMAKE_C_COMPILER}" PASS_REGULAR_EXPRESSION "originals test: ok")
endif()
