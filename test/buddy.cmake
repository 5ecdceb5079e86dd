# SPDX-License-Identifier: MIT
# The buddy backend's own tests (test/buddy.c), one ctest each: buddy-NAME.
if(EXISTS ${PROJECT_SOURCE_DIR}/src/buddy/buddy.c)
  add_executable(test-buddy test/buddy.c)
  target_link_libraries(test-buddy PRIVATE hkalloc)
  foreach(name small-cost big-block segments regions coalesce realloc invalid-free threads recreate)
    add_test(NAME buddy-${name} COMMAND test-buddy ${name})
    set_tests_properties(buddy-${name} PROPERTIES LABELS "buddy;unit" TIMEOUT 120 SKIP_RETURN_CODE 77)
  endforeach()
  set_tests_properties(buddy-threads PROPERTIES LABELS "buddy;unit;tsan")
endif()
