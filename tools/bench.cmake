# SPDX-License-Identifier: MIT
# hkbench: the all-in-one benchmark runner (list, run, test, sweep, compare).
add_executable(hkbench
  ${PROJECT_SOURCE_DIR}/tools/hkbench.c
  ${PROJECT_SOURCE_DIR}/tools/hkbench_host.c
  ${PROJECT_SOURCE_DIR}/tools/hkbench_plan.c
  ${PROJECT_SOURCE_DIR}/tools/hkbench_sweep.c
  ${PROJECT_SOURCE_DIR}/tools/hkcompare.c
  ${PROJECT_SOURCE_DIR}/tools/hkbench_trace.c)
target_include_directories(hkbench PRIVATE ${PROJECT_SOURCE_DIR}/tools)
target_compile_definitions(hkbench PRIVATE HKB_REPORT_PY="${PROJECT_SOURCE_DIR}/tools/report.py"
  HKB_SOURCE_DIR="${PROJECT_SOURCE_DIR}" HKB_BUILD_TYPE="${CMAKE_BUILD_TYPE}"
  HKB_INSTALL_LIBDIR="${CMAKE_INSTALL_LIBDIR}")
target_link_libraries(hkbench PRIVATE hkbench_lib hkalloc m ${CMAKE_DL_LIBS})
