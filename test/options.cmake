# SPDX-License-Identifier: MIT
# The drop-in's runtime options (HEAPKIT_*): test/options.sh runs
# test/options_target.c under libheapkit.so. Not in sanitizer builds, whose
# runtime must come first in the process.
add_executable(options_target test/options_target.c)
target_link_libraries(options_target PRIVATE Threads::Threads)
target_compile_options(options_target PRIVATE -fno-builtin)
if(TARGET heapkit_dropin AND NOT HK_BUILD_TYPE_UC MATCHES "ASAN|TSAN")
  add_test(NAME dropin-options COMMAND ${PROJECT_SOURCE_DIR}/test/options.sh ${CMAKE_BINARY_DIR} ${HK_HARDEN})
  set_tests_properties(dropin-options PROPERTIES LABELS "dropin;cli" TIMEOUT 60)
endif()
