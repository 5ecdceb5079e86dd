# SPDX-License-Identifier: MIT
# tlsf's own tests (beyond the conformance suite): one ctest per test in test/tlsf.c.
add_executable(test_tlsf test/tlsf.c)
target_link_libraries(test_tlsf PRIVATE hkalloc)

if(EXISTS ${PROJECT_SOURCE_DIR}/src/tlsf/tlsf.c)
  foreach(t realloc-inplace overhead random fragmentation addmem threads check-detects misuse)
    add_test(NAME tlsf-${t} COMMAND test_tlsf ${t})
    set_tests_properties(tlsf-${t} PROPERTIES LABELS "tlsf;unit" TIMEOUT 120 SKIP_RETURN_CODE 77)
  endforeach()
  set_tests_properties(tlsf-threads PROPERTIES LABELS "tlsf;unit;tsan")
endif()
