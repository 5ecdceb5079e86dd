# SPDX-License-Identifier: MIT
# The report's structure (tools/report.py) on a tiny sweep the test writes:
# summary first, unique ids, the two groups, the advice lines (test/report.py).
find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_Interpreter_FOUND)
  add_test(NAME report-structure COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/test/report.py
    ${PROJECT_SOURCE_DIR}/tools/report.py ${CMAKE_BINARY_DIR}/report-test-out)
  set_tests_properties(report-structure PROPERTIES LABELS "report;unit" TIMEOUT 60
    PASS_REGULAR_EXPRESSION "report: all checks passed")
endif()
