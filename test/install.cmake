# SPDX-License-Identifier: MIT
# make install into a temporary prefix, then consumers built with pkg-config
# (the README's example) and with CMake (find_package(heapkit 0.2)) and run
# (test/install.sh). Not in sanitizer builds: their libraries need the
# sanitizer's runtime in every consumer.
if(NOT HK_BUILD_TYPE_UC STREQUAL "ASAN" AND NOT HK_BUILD_TYPE_UC STREQUAL "TSAN")
  find_program(HK_PKG_CONFIG pkg-config)
  if(HK_PKG_CONFIG)
    add_test(NAME install-consumers COMMAND sh ${PROJECT_SOURCE_DIR}/test/install.sh
      ${CMAKE_BINARY_DIR} ${PROJECT_SOURCE_DIR})
    set_tests_properties(install-consumers PROPERTIES LABELS "install" TIMEOUT 120
      ENVIRONMENT "CC=${CMAKE_C_COMPILER}" PASS_REGULAR_EXPRESSION "install: OK")
  endif()
endif()
