# SPDX-License-Identifier: MIT
# heapkit's Unikraft library (label: unikraft): the Kraftfiles follow
# KraftKit's Kraftfile schema (v0.6) and carry the same kconfig as the
# defconfig fragments tools/uk-run.sh boots with; the library can be
# exported self-contained. No Unikraft tree is needed (booting is done by
# tools/uk-run.sh, see docs/unikraft.md).
find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_Interpreter_FOUND)
  set(HK_UKC ${PROJECT_SOURCE_DIR}/unikraft/configs)
  add_test(NAME kraftfile-schema-selftest
    COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/test/kraftfile.py --self-test)
  add_test(NAME kraftfile-app-test
    COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/test/kraftfile.py
      --configs ${HK_UKC}/base.config,${HK_UKC}/nolibc.config
      ${PROJECT_SOURCE_DIR}/unikraft/app-test/Kraftfile)
  add_test(NAME kraftfile-app-bench
    COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/test/kraftfile.py
      --configs ${HK_UKC}/base.config,${HK_UKC}/mimalloc.config,${HK_UKC}/musl.config
      ${PROJECT_SOURCE_DIR}/unikraft/app-bench/Kraftfile)
  set_tests_properties(kraftfile-schema-selftest kraftfile-app-test kraftfile-app-bench
    PROPERTIES LABELS unikraft TIMEOUT 60)
endif()
# export.sh makes a copy that reaches nothing outside itself: every source
# Makefile.uk compiles is inside the copy.
add_test(NAME unikraft-export COMMAND sh -c "d='${CMAKE_BINARY_DIR}/uk-export' && rm -rf \"$d\" && \
'${PROJECT_SOURCE_DIR}/unikraft/export.sh' \"$d\" >/dev/null && \
test -f \"$d/Config.uk\" && test -f \"$d/Makefile.uk\" && test -f \"$d/heapkit/include/heapkit.h\" && \
for x in core buddy region tlsf shard checked; do ls \"$d/heapkit/src/$x/\"*.c >/dev/null || exit 1; done && \
! grep -n '[.][.]/' \"$d/Makefile.uk\" \"$d/Config.uk\" | grep -v 'realpath [$](LIBHEAPKIT_BASE)/[.][.])'")
set_tests_properties(unikraft-export PROPERTIES LABELS unikraft TIMEOUT 60)
