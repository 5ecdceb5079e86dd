// SPDX-License-Identifier: MIT
/*
 * ukboot's "tinyalloc" boot allocator, served by heapkit (the backend chosen in LIBHEAPKIT_TINYALLOC_BACKEND).
 * ukboot includes this header when LIBUKBOOT_INITTINYALLOC is chosen and calls
 * uk_tinyalloc_init() on the first free memory region; more come by addmem.
 */
#ifndef __UK_HEAPKIT_TINYALLOC_H__
#define __UK_HEAPKIT_TINYALLOC_H__

#include <uk/alloc.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The boot allocator over [base, base+len), registered with ukalloc; NULL on failure. */
struct uk_alloc *uk_tinyalloc_init(void *base, __sz len);

#ifdef __cplusplus
}
#endif
#endif /* __UK_HEAPKIT_TINYALLOC_H__ */
