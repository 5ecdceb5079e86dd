# SPDX-License-Identifier: MIT
# buddy-scale: the buddy backend's cost per operation as its region grows (a benchmark).
if(EXISTS ${PROJECT_SOURCE_DIR}/src/buddy/buddy.c)
  add_executable(buddy-scale tools/buddy-scale.c)
  target_link_libraries(buddy-scale PRIVATE hkalloc)
endif()
