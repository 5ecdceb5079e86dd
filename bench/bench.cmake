# SPDX-License-Identifier: MIT
# The benchmark library: the harness and one file per workload. Portable C
# (no OS calls), so it links into hkbench here and into a Unikraft image.
file(GLOB HKB_LIB_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/bench/*.c)
add_library(hkbench_lib STATIC ${HKB_LIB_SOURCES})
target_include_directories(hkbench_lib PUBLIC ${PROJECT_SOURCE_DIR}/bench)
target_link_libraries(hkbench_lib PUBLIC hkalloc hktrace_reader)
