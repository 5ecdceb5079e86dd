# SPDX-License-Identifier: MIT
# The release build's misuse checks (test/harden.c, docs/safety.md "The release
# build"): the drop-in at the configured HK_HARDEN level, the full level (a
# second drop-in, libheapkit-full.so, built when the default is configured),
# a shard instance over a region, and the table beside glibc's malloc.
# (HK_HARDEN=0 promises nothing: no test.)
if(TARGET heapkit_dropin AND NOT HK_BUILD_TYPE_UC STREQUAL "ASAN" AND NOT HK_BUILD_TYPE_UC STREQUAL "TSAN"
   AND NOT HK_HARDEN STREQUAL "0")
  add_executable(harden test/harden.c)
  target_link_libraries(harden PRIVATE hkalloc Threads::Threads ${CMAKE_DL_LIBS})
  target_compile_options(harden PRIVATE -fno-builtin)
  add_test(NAME harden-dropin COMMAND harden preload $<TARGET_FILE:heapkit_dropin> ${HK_HARDEN})
  add_test(NAME harden-region COMMAND harden region ${HK_HARDEN})
  set_tests_properties(harden-dropin harden-region PROPERTIES LABELS "misuse;dropin" TIMEOUT 120)
  if(HK_HARDEN STREQUAL "1")
    hk_dropin_library(heapkit_dropin_full heapkit-full "HK_SHARD_SINGLE=1;HK_HARDEN=2" "${HK_CXX_SOURCES}")
    add_test(NAME harden-dropin-full COMMAND harden preload $<TARGET_FILE:heapkit_dropin_full> 2)
    add_test(NAME harden-table COMMAND harden table $<TARGET_FILE:heapkit_dropin> 1
      $<TARGET_FILE:heapkit_dropin_full> 2)
    set_tests_properties(harden-dropin-full harden-table PROPERTIES LABELS "misuse;dropin" TIMEOUT 120)
  endif()
endif()
