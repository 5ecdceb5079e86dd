# SPDX-License-Identifier: MIT
# The conformance suite (one ctest per backend compiled in, plus one over the
# whole registry) and the freestanding symbol check.
add_executable(conformance test/conformance.c)
target_link_libraries(conformance PRIVATE hkalloc)

foreach(dir ${HK_ALLOC_DIRS})
  if(dir STREQUAL "core" OR dir STREQUAL "checked")
    continue()
  endif()
  file(GLOB srcs ${PROJECT_SOURCE_DIR}/src/${dir}/*.c)
  if(srcs)
    add_test(NAME conformance-${dir} COMMAND conformance ${dir})
    set_tests_properties(conformance-${dir} PROPERTIES LABELS "conformance;tsan" SKIP_RETURN_CODE 77)
  endif()
endforeach()
add_test(NAME conformance-registry COMMAND conformance)
set_tests_properties(conformance-registry PROPERTIES LABELS conformance)

add_test(NAME freestanding-symbols
  COMMAND ${PROJECT_SOURCE_DIR}/test/freestanding-symbols.sh $<TARGET_FILE:hkalloc_freestanding>)
set_tests_properties(freestanding-symbols PROPERTIES LABELS core)
if(MIMALLOC_LIBRARY AND MIMALLOC_INCLUDE_DIR)
  add_test(NAME conformance-mimalloc COMMAND conformance mimalloc)
  set_tests_properties(conformance-mimalloc PROPERTIES LABELS conformance)
  add_executable(mimalloc-table test/mimalloc.c)
  target_include_directories(mimalloc-table PRIVATE ${MIMALLOC_INCLUDE_DIR})
  # This test calls the library itself too (its own bugs are rows of the table).
  target_link_libraries(mimalloc-table PRIVATE hkalloc ${MIMALLOC_LIBRARY})
  add_test(NAME mimalloc-table COMMAND mimalloc-table)
  set_tests_properties(mimalloc-table PROPERTIES LABELS mimalloc)
endif()
