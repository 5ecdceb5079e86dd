# SPDX-License-Identifier: MIT
# The result row (bench/result.h): parse, print, missing values, statistics (test/report.c).
add_executable(test_result ${PROJECT_SOURCE_DIR}/test/report.c)
target_link_libraries(test_result PRIVATE hkbench_lib m)
add_test(NAME result-row COMMAND test_result)
set_tests_properties(result-row PROPERTIES LABELS "report;unit" TIMEOUT 30)

# The report's structure (tools/report.py) on a tiny sweep the test writes:
# summary first, unique ids, the two groups, the advice lines (test/report.py).
find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_Interpreter_FOUND)
  add_test(NAME report-structure COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/test/report.py
    ${PROJECT_SOURCE_DIR}/tools/report.py ${CMAKE_BINARY_DIR}/report-test-out)
  set_tests_properties(report-structure PROPERTIES LABELS "report;unit" TIMEOUT 60
    PASS_REGULAR_EXPRESSION "report: all checks passed")
endif()
