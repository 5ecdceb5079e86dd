# SPDX-License-Identifier: MIT
# The LD_PRELOAD drop-in: libheapkit.so (shard over OS pages, straight calls)
# and libheapkit-checked.so (every call through the checked instance), both
# in the build directory's root. Only the malloc family is exported.
set(HK_DROPIN_SOURCES)
foreach(dir core shard)
  file(GLOB srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${dir}/*.c)
  list(APPEND HK_DROPIN_SOURCES ${srcs})
endforeach()
list(APPEND HK_DROPIN_SOURCES ${PROJECT_SOURCE_DIR}/src/platform/hosted.c
  ${PROJECT_SOURCE_DIR}/src/override/override.c ${PROJECT_SOURCE_DIR}/src/override/options.c)

function(hk_dropin_library target output defs extra_sources)
  add_library(${target} SHARED ${HK_DROPIN_SOURCES} ${extra_sources})
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME ${output}
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}
    C_VISIBILITY_PRESET hidden)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src)
  target_compile_definitions(${target} PRIVATE HK_HOSTED=1 HK_HAVE_SHARD=1 ${defs})
  # -falign-functions=64: the inline fast paths start on a cache line (where they fell by chance, the same code
  # measured up to 1.5x slower on glibc-simple: docs/shard.md, "Code placement")
  target_compile_options(${target} PRIVATE -ftls-model=initial-exec -falign-functions=64
    -fno-builtin-malloc -fno-builtin-calloc -fno-builtin-realloc -fno-builtin-free)
  target_link_libraries(${target} PRIVATE Threads::Threads ${CMAKE_DL_LIBS})
  target_link_options(${target} PRIVATE -Wl,--no-undefined)
endfunction()

# C++ operators new/delete in both (src/override/cxx*.c: C, with unwind tables so
# std::bad_alloc passes through); src/override/checked_*.c only in the checked one.
file(GLOB HK_CXX_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/override/cxx*.c)
set_source_files_properties(${HK_CXX_SOURCES} PROPERTIES COMPILE_OPTIONS "-fexceptions")
file(GLOB HK_DROPIN_CHECKED_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/override/checked_*.c)

hk_dropin_library(heapkit_dropin heapkit "HK_SHARD_SINGLE=1" "${HK_CXX_SOURCES}")

if(EXISTS ${PROJECT_SOURCE_DIR}/src/checked)
  file(GLOB HK_CHECKED_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/checked/*.c)
  if(HK_CHECKED_SOURCES)
    hk_dropin_library(heapkit_dropin_checked heapkit-checked "HK_DROPIN_CHECKED=1;HK_HAVE_CHECKED=1"
      "${HK_CHECKED_SOURCES};${HK_CXX_SOURCES};${HK_DROPIN_CHECKED_SOURCES}")
  endif()
endif()

# dropin-tuning: huge-block resize (mremap), the huge cache with calloc, purge at thread exit.
if(NOT HK_BUILD_TYPE_UC STREQUAL "ASAN" AND NOT HK_BUILD_TYPE_UC STREQUAL "TSAN")
  add_executable(dropin-tuning ${PROJECT_SOURCE_DIR}/src/override/dropin_tuning.c)
  target_link_libraries(dropin-tuning PRIVATE Threads::Threads ${CMAKE_DL_LIBS})
  target_include_directories(dropin-tuning PRIVATE ${PROJECT_SOURCE_DIR}/test)
  target_compile_options(dropin-tuning PRIVATE -fno-builtin)
  add_test(NAME dropin-tuning COMMAND dropin-tuning)
  set_tests_properties(dropin-tuning PROPERTIES LABELS "dropin;unit" TIMEOUT 120
    ENVIRONMENT "LD_PRELOAD=$<TARGET_FILE:heapkit_dropin>")
endif()

# cxx-test: a C++ program (iostream, containers, aligned, sized and nothrow new, bad_alloc)
# under both drop-ins. C++ is enabled for it alone, where a C++ compiler exists.
include(CheckLanguage)
check_language(CXX)
if(CMAKE_CXX_COMPILER AND NOT HK_BUILD_TYPE_UC STREQUAL "ASAN" AND NOT HK_BUILD_TYPE_UC STREQUAL "TSAN")
  enable_language(CXX)
  add_executable(cxx-test ${PROJECT_SOURCE_DIR}/src/override/cxx_test.cc)
  set_target_properties(cxx-test PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON)
  target_compile_options(cxx-test PRIVATE -fsized-deallocation)
  target_link_libraries(cxx-test PRIVATE ${CMAKE_DL_LIBS})
  set(HK_CXX_TEST $<TARGET_FILE:cxx-test>)
  foreach(lib heapkit_dropin heapkit_dropin_checked)
    if(TARGET ${lib})
      string(REPLACE "heapkit_dropin" "dropin" name ${lib})
      string(REPLACE "_" "-" name ${name})
      add_test(NAME ${name}-cxx COMMAND cxx-test)
      set_tests_properties(${name}-cxx PROPERTIES LABELS "dropin;unit" TIMEOUT 60
        ENVIRONMENT "LD_PRELOAD=$<TARGET_FILE:${lib}>")
    endif()
  endforeach()
endif()

install(TARGETS heapkit_dropin LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
if(TARGET heapkit_dropin_checked)
  install(TARGETS heapkit_dropin_checked LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
endif()
