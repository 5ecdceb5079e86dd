# SPDX-License-Identifier: MIT
# hklatency: per-call latency and fragmentation of the backends side by side
# (a benchmark, not a test: no ctest entry). See docs/tlsf.md.
add_executable(hklatency tools/hklatency.c)
target_link_libraries(hklatency PRIVATE hkalloc)
