// SPDX-License-Identifier: MIT
/*
 * ukboot's "mimalloc" boot allocator, served by heapkit (shard).
 * ukboot includes this header when LIBUKBOOT_INITMIMALLOC is chosen and calls
 * uk_mimalloc_init() on the first free memory region; more come by addmem.
 */
#ifndef __UK_HEAPKIT_MIMALLOC_H__
#define __UK_HEAPKIT_MIMALLOC_H__

#include <uk/alloc.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The boot allocator over [base, base+len), registered with ukalloc; NULL on failure. */
struct uk_alloc *uk_mimalloc_init(void *base, __sz len);

#ifdef __cplusplus
}
#endif
#endif /* __UK_HEAPKIT_MIMALLOC_H__ */
