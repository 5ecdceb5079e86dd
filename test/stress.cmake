# SPDX-License-Identifier: MIT
# Stress, fork, misuse and checker tests (docs/safety.md). The runner itself,
# hkstress, is built by tools/stress.cmake; the fuzzer by test/fuzz/run.sh.

option(HK_VALGRIND "Announce blocks to valgrind (client requests in the instance API)" OFF)
if(HK_VALGRIND)
  target_compile_definitions(hk_objs PUBLIC HK_VALGRIND=1)
endif()

set(HK_STRESS_SANITIZED OFF)
if(HK_BUILD_TYPE_UC STREQUAL "ASAN" OR HK_BUILD_TYPE_UC STREQUAL "TSAN")
  set(HK_STRESS_SANITIZED ON)
endif()

# --- The backends: one entry per allocator directory with sources ------------------
set(HK_STRESS_BACKENDS ${HK_BUILT_BACKENDS})
if(MIMALLOC_LIBRARY AND MIMALLOC_INCLUDE_DIR)
  list(APPEND HK_STRESS_BACKENDS mimalloc)
endif()

# Sanitized builds do a third of the work (they run 3-15x slower).
if(HK_BUILD_TYPE_UC STREQUAL "TSAN")
  set(HK_STRESS_ARGS --threads 4 --rounds 3 --scale 1)
  set(HK_STRESS_CHECKED_ARGS --threads 3 --rounds 2)
elseif(HK_STRESS_SANITIZED)
  set(HK_STRESS_ARGS --threads 4 --rounds 3 --scale 1)
  set(HK_STRESS_CHECKED_ARGS --threads 3 --rounds 2)
else()
  set(HK_STRESS_ARGS --threads 4 --rounds 6 --scale 1)
  set(HK_STRESS_CHECKED_ARGS --threads 4 --rounds 3)
endif()

foreach(b ${HK_STRESS_BACKENDS})
  add_test(NAME stress-${b} COMMAND hkstress --allocs ${b} ${HK_STRESS_ARGS})
  set(labels stress)
  if(NOT b STREQUAL "mimalloc")
    list(APPEND labels tsan)
  endif()
  set_tests_properties(stress-${b} PROPERTIES LABELS "${labels}" TIMEOUT 300)
  add_test(NAME stress-checked-${b} COMMAND hkstress --allocs ${b} --checked ${HK_STRESS_CHECKED_ARGS})
  set_tests_properties(stress-checked-${b} PROPERTIES LABELS stress TIMEOUT 300)
endforeach()
add_test(NAME stress-system COMMAND hkstress --allocs system ${HK_STRESS_ARGS})
set_tests_properties(stress-system PROPERTIES LABELS stress TIMEOUT 300)

# --- The drop-ins, when src/override builds them --------------------------------------
set(HK_DROPIN "")
set(HK_DROPIN_CHECKED "")
get_property(hk_targets DIRECTORY ${PROJECT_SOURCE_DIR} PROPERTY BUILDSYSTEM_TARGETS)
foreach(t ${hk_targets})
  get_target_property(type ${t} TYPE)
  if(NOT type STREQUAL "SHARED_LIBRARY")
    continue()
  endif()
  get_target_property(out ${t} OUTPUT_NAME)
  if(NOT out)
    set(out ${t})
  endif()
  if(out STREQUAL "heapkit")
    set(HK_DROPIN ${t})
  elseif(out STREQUAL "heapkit-checked")
    set(HK_DROPIN_CHECKED ${t})
  endif()
endforeach()

# -DHK_VALGRIND=ON: the drop-ins announce their blocks too.
if(HK_VALGRIND)
  foreach(t ${HK_DROPIN} ${HK_DROPIN_CHECKED})
    target_compile_definitions(${t} PRIVATE HK_VALGRIND=1)
  endforeach()
endif()

# The drop-in cannot be preloaded into a sanitized process (the sanitizer owns malloc).
if(HK_DROPIN AND NOT HK_STRESS_SANITIZED)
  add_test(NAME stress-dropin COMMAND hkstress --allocs system ${HK_STRESS_ARGS})
  set_tests_properties(stress-dropin PROPERTIES LABELS "stress;dropin" TIMEOUT 300
    ENVIRONMENT "LD_PRELOAD=$<TARGET_FILE:${HK_DROPIN}>")
endif()

if(HK_DROPIN_CHECKED AND NOT HK_STRESS_SANITIZED)
  add_test(NAME stress-dropin-checked COMMAND hkstress --allocs system ${HK_STRESS_CHECKED_ARGS})
  set_tests_properties(stress-dropin-checked PROPERTIES LABELS "stress;dropin" TIMEOUT 300
    ENVIRONMENT "LD_PRELOAD=$<TARGET_FILE:${HK_DROPIN_CHECKED}>")
endif()

# --- Fork while threads allocate ---------------------------------------------------------
add_executable(fork-test test/fork.c)
target_link_libraries(fork-test PRIVATE hkalloc)
if(HK_STRESS_SANITIZED)
  set(HK_FORK_ROUNDS 8)
else()
  set(HK_FORK_ROUNDS 30)
endif()
add_test(NAME fork COMMAND fork-test ${HK_FORK_ROUNDS})
set_tests_properties(fork PROPERTIES LABELS "stress" TIMEOUT 120)
if(HK_DROPIN AND NOT HK_STRESS_SANITIZED)
  add_test(NAME fork-dropin COMMAND fork-test 30)
  set_tests_properties(fork-dropin PROPERTIES LABELS "stress;dropin" TIMEOUT 120
    ENVIRONMENT "LD_PRELOAD=$<TARGET_FILE:${HK_DROPIN}>")
endif()
if(HK_DROPIN_CHECKED AND NOT HK_STRESS_SANITIZED)
  add_test(NAME fork-dropin-checked COMMAND fork-test 10)
  set_tests_properties(fork-dropin-checked PROPERTIES LABELS "stress;dropin" TIMEOUT 120
    ENVIRONMENT "LD_PRELOAD=$<TARGET_FILE:${HK_DROPIN_CHECKED}>")
endif()

# --- Misuse: the checked build, ASan, valgrind ------------------------------------------
add_executable(misuse test/misuse.c)
target_link_libraries(misuse PRIVATE hkalloc ${CMAKE_DL_LIBS})
# the misuses call memcpy, strcpy, ... as written: the checked drop-in must see them
target_compile_options(misuse PRIVATE -fno-builtin)
add_test(NAME misuse-checked COMMAND misuse checked)
set_tests_properties(misuse-checked PROPERTIES LABELS "misuse" TIMEOUT 120)
if(HK_DROPIN_CHECKED AND NOT HK_STRESS_SANITIZED)
  add_test(NAME misuse-dropin-checked COMMAND misuse preload $<TARGET_FILE:${HK_DROPIN_CHECKED}>)
  set_tests_properties(misuse-dropin-checked PROPERTIES LABELS "misuse;dropin" TIMEOUT 120)
  # real programs (python3, sort, gzip, git, C++) give the same output under the checked drop-in
  add_test(NAME dropin-programs-checked
    COMMAND ${PROJECT_SOURCE_DIR}/test/dropin_programs.sh $<TARGET_FILE:${HK_DROPIN_CHECKED}>
            ${CMAKE_BINARY_DIR}/dropin-programs-checked)
  set_tests_properties(dropin-programs-checked PROPERTIES LABELS "dropin" TIMEOUT 300)
endif()
if(HK_BUILD_TYPE_UC STREQUAL "ASAN")
  add_test(NAME misuse-asan COMMAND misuse asan)
  set_tests_properties(misuse-asan PROPERTIES LABELS "misuse" TIMEOUT 120)
endif()

find_program(HK_VALGRIND_EXE valgrind)
if(HK_VALGRIND_EXE AND NOT HK_STRESS_SANITIZED)
  # The allocators once more, announcing blocks to valgrind, for the valgrind tests.
  add_library(hkalloc_vg STATIC ${HK_ALLOC_SOURCES} src/platform/hosted.c)
  target_include_directories(hkalloc_vg PUBLIC include src)
  target_compile_definitions(hkalloc_vg PUBLIC HK_HOSTED=1 ${HK_HAVE_DEFS} HK_VALGRIND=1)
  target_link_libraries(hkalloc_vg PUBLIC Threads::Threads)
  add_executable(misuse-vg test/misuse.c)
  target_link_libraries(misuse-vg PRIVATE hkalloc_vg)
  add_test(NAME misuse-valgrind COMMAND misuse-vg valgrind ${HK_VALGRIND_EXE})
  set_tests_properties(misuse-valgrind PROPERTIES LABELS "misuse;valgrind" TIMEOUT 300)
  # A short stress of every backend under memcheck: the annotations must not raise false reports.
  add_executable(hkstress-vg tools/hkstress.c)
  target_link_libraries(hkstress-vg PRIVATE hkalloc_vg)
  foreach(b ${HK_STRESS_BACKENDS})
    if(b STREQUAL "mimalloc")
      continue()
    endif()
    add_test(NAME valgrind-stress-${b}
      COMMAND ${HK_VALGRIND_EXE} -q --error-exitcode=99 $<TARGET_FILE:hkstress-vg>
              --allocs ${b} --threads 2 --rounds 1 --region 64)
    set_tests_properties(valgrind-stress-${b} PROPERTIES LABELS "stress;valgrind" TIMEOUT 300)
  endforeach()
  # Memcheck over a small program on the drop-in: no errors allowed.
  if(HK_DROPIN)
    add_test(NAME valgrind-dropin
      COMMAND ${HK_VALGRIND_EXE} -q --error-exitcode=99 --trace-children=no
              --soname-synonyms=somalloc=nouserintercepts
              $<TARGET_FILE:fork-test> 2)
    set_tests_properties(valgrind-dropin PROPERTIES LABELS "valgrind;dropin" TIMEOUT 300
      ENVIRONMENT "LD_PRELOAD=$<TARGET_FILE:${HK_DROPIN}>")
  endif()
endif()

# The kept fuzz corpus, replayed by a plain gcc build of the fuzz target
# against the backends the fuzzer picks, and against mimalloc alone (too big
# for the fuzzer's region, and it never gives its region back).
add_executable(fuzz-corpus test/fuzz/fuzz_heap.c)
target_compile_definitions(fuzz-corpus PRIVATE HK_FUZZ_STANDALONE=1)
target_link_libraries(fuzz-corpus PRIVATE hkalloc)
add_test(NAME fuzz-corpus COMMAND fuzz-corpus ${PROJECT_SOURCE_DIR}/test/fuzz/corpus)
set_tests_properties(fuzz-corpus PROPERTIES LABELS fuzz)
if(HK_HAVE_MIMALLOC_BACKEND)
  add_test(NAME fuzz-corpus-mimalloc COMMAND fuzz-corpus ${PROJECT_SOURCE_DIR}/test/fuzz/corpus)
  set_tests_properties(fuzz-corpus-mimalloc PROPERTIES LABELS "fuzz;mimalloc" ENVIRONMENT HK_FUZZ_ONLY=mimalloc)
endif()
