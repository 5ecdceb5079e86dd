# SPDX-License-Identifier: MIT
# libheapkit-trace.so: the LD_PRELOAD recorder of malloc-family calls.
add_library(heapkit_trace SHARED ${PROJECT_SOURCE_DIR}/src/trace/recorder.c)
set_target_properties(heapkit_trace PROPERTIES
  OUTPUT_NAME heapkit-trace
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}
  C_VISIBILITY_PRESET hidden)
target_include_directories(heapkit_trace PRIVATE ${PROJECT_SOURCE_DIR}/include)
target_compile_options(heapkit_trace PRIVATE -ftls-model=initial-exec -fno-builtin-malloc -fno-builtin-free
  -fno-builtin-calloc -fno-builtin-realloc)
target_link_libraries(heapkit_trace PRIVATE Threads::Threads ${CMAKE_DL_LIBS})
target_link_options(heapkit_trace PRIVATE -Wl,--no-undefined)
install(TARGETS heapkit_trace LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})

# The reader: no OS needed, so the bench library (and a unikernel) can link it.
add_library(hktrace_reader STATIC ${PROJECT_SOURCE_DIR}/src/trace/reader.c)
target_include_directories(hktrace_reader PUBLIC ${PROJECT_SOURCE_DIR}/include)
