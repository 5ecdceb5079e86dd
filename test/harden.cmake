# SPDX-License-Identifier: MIT
# The release build's misuse checks (test/harden.c, docs/safety.md "The release
# build"): the drop-in, a shard instance over a region, and the table beside
# glibc's malloc. (HK_HARDEN=0 promises nothing: no test.)
if(TARGET heapkit_dropin AND NOT HK_BUILD_TYPE_UC STREQUAL "ASAN" AND NOT HK_BUILD_TYPE_UC STREQUAL "TSAN"
   AND NOT HK_HARDEN STREQUAL "0")
  add_executable(harden test/harden.c)
  target_link_libraries(harden PRIVATE hkalloc Threads::Threads ${CMAKE_DL_LIBS})
  target_compile_options(harden PRIVATE -fno-builtin)
  add_test(NAME harden-dropin COMMAND harden preload $<TARGET_FILE:heapkit_dropin>)
  add_test(NAME harden-region COMMAND harden region)
  add_test(NAME harden-table COMMAND harden table $<TARGET_FILE:heapkit_dropin>)
  set_tests_properties(harden-dropin harden-region harden-table PROPERTIES LABELS "misuse;dropin" TIMEOUT 120)
endif()
