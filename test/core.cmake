# SPDX-License-Identifier: MIT
# The conformance suite (one ctest per backend compiled in, plus one over the
# whole registry) and the freestanding symbol check.
add_executable(conformance test/conformance.c)
target_link_libraries(conformance PRIVATE hkalloc)

foreach(dir ${HK_BUILT_BACKENDS})
  add_test(NAME conformance-${dir} COMMAND conformance ${dir})
  set_tests_properties(conformance-${dir} PROPERTIES LABELS "conformance;tsan" SKIP_RETURN_CODE 77)
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

# The include graph (tools/include-graph.py): no circle, src/core points to no
# backend, the lab uses only public headers, docs/layout.md's copy is current;
# and the checker itself finds a circle planted in a scratch tree.
find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_Interpreter_FOUND)
  add_test(NAME include-graph COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tools/include-graph.py
    --check --doc ${PROJECT_SOURCE_DIR}/docs/layout.md ${PROJECT_SOURCE_DIR})
  set_tests_properties(include-graph PROPERTIES LABELS "core;unit")
  add_test(NAME include-graph-finds COMMAND sh -c "d=$(mktemp -d) && mkdir -p $d/tools $d/src/core $d/src/shard && \
printf '#include \"b.h\"\\n' > $d/tools/a.h && printf '#include \"a.h\"\\n' > $d/tools/b.h && \
printf '#include \"shard/shard.h\"\\n' > $d/src/core/x.c && touch $d/src/shard/shard.h && \
'${Python3_EXECUTABLE}' '${PROJECT_SOURCE_DIR}/tools/include-graph.py' --check $d 2>&1; rm -rf $d")
  set_tests_properties(include-graph-finds PROPERTIES LABELS "core;unit"
    PASS_REGULAR_EXPRESSION "include circle: tools/a.h -> tools/b.h -> tools/a.h.*src/core points to a backend: src/core/x.c -> src/shard/shard.h.*2 rules broken")
endif()
