# SPDX-License-Identifier: MIT
# The shard backend's tests (test/shard.c, one ctest each: shard-NAME) and the
# drop-in's (test/dropin*.c, test/dropin*.sh: dropin-NAME).
if(EXISTS ${PROJECT_SOURCE_DIR}/src/shard/shard.c)
  add_executable(test-shard test/shard.c)
  target_link_libraries(test-shard PRIVATE hkalloc)
  foreach(name tiny-grow whole-2mib instances16 before-threads thread-exit destroy-detach classes aligned
          threads-migrate peak block-starts)
    add_test(NAME shard-${name} COMMAND test-shard ${name})
    set_tests_properties(shard-${name} PROPERTIES LABELS "shard;unit;tsan" TIMEOUT 120)
  endforeach()
endif()

# --- The drop-in (not in sanitized builds: the sanitizer owns malloc there) --------------
if(TARGET heapkit_dropin AND NOT HK_BUILD_TYPE_UC STREQUAL "ASAN" AND NOT HK_BUILD_TYPE_UC STREQUAL "TSAN")
  add_executable(dropin-test test/dropin.c)
  target_link_libraries(dropin-test PRIVATE Threads::Threads ${CMAKE_DL_LIBS})
  target_include_directories(dropin-test PRIVATE ${PROJECT_SOURCE_DIR}/test ${PROJECT_SOURCE_DIR}/include)   # (heapkit.h: HK_BLOCK_ALIGN only)
  target_compile_options(dropin-test PRIVATE -fno-builtin)
  add_test(NAME dropin-semantics COMMAND dropin-test)
  add_test(NAME dropin-glibc-reference COMMAND dropin-test --any)
  set_tests_properties(dropin-semantics PROPERTIES LABELS "dropin;unit" TIMEOUT 120
    ENVIRONMENT "LD_PRELOAD=$<TARGET_FILE:heapkit_dropin>")
  set_tests_properties(dropin-glibc-reference PROPERTIES LABELS "dropin;unit" TIMEOUT 120)

  # dropin-purge: memory back while threads idle after a burst; a fill-and-free cycle's faults vs mimalloc;
  # huge buffers of varying size refit without refaulting
  add_executable(dropin-purge test/dropin_purge.c)
  target_link_libraries(dropin-purge PRIVATE Threads::Threads)
  target_include_directories(dropin-purge PRIVATE ${PROJECT_SOURCE_DIR}/test)
  target_compile_options(dropin-purge PRIVATE -fno-builtin)
  add_test(NAME dropin-purge COMMAND dropin-purge)
  set_tests_properties(dropin-purge PROPERTIES LABELS "dropin" TIMEOUT 120
    ENVIRONMENT "LD_PRELOAD=$<TARGET_FILE:heapkit_dropin>")

  add_executable(dropin-fork test/dropin_fork.c)
  target_link_libraries(dropin-fork PRIVATE Threads::Threads)
  add_test(NAME dropin-fork COMMAND dropin-fork 30)
  set_tests_properties(dropin-fork PROPERTIES LABELS "dropin" TIMEOUT 120
    ENVIRONMENT "LD_PRELOAD=$<TARGET_FILE:heapkit_dropin>")
  if(TARGET heapkit_dropin_checked)
    add_test(NAME dropin-checked-semantics COMMAND dropin-test)
    set_tests_properties(dropin-checked-semantics PROPERTIES LABELS "dropin;unit" TIMEOUT 120
      ENVIRONMENT "LD_PRELOAD=$<TARGET_FILE:heapkit_dropin_checked>")
  endif()

  add_test(NAME dropin-programs
    COMMAND ${PROJECT_SOURCE_DIR}/test/dropin_programs.sh $<TARGET_FILE:heapkit_dropin>
            ${CMAKE_BINARY_DIR}/dropin-programs)
  set_tests_properties(dropin-programs PROPERTIES LABELS "dropin" TIMEOUT 300)
endif()
