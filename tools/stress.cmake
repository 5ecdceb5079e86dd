# SPDX-License-Identifier: MIT
# hkstress: the stress runner (tools/hkstress.c); its tests are in test/stress.cmake.
add_executable(hkstress tools/hkstress.c)
target_link_libraries(hkstress PRIVATE hkalloc)
