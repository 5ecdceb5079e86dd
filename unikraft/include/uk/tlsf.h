// SPDX-License-Identifier: MIT
/*
 * ukboot's "tlsf" boot allocator, served by heapkit (tlsf).
 * ukboot includes this header when LIBUKBOOT_INITTLSF is chosen and calls
 * uk_tlsf_init() on the first free memory region; more come by addmem.
 */
#ifndef __UK_HEAPKIT_TLSF_H__
#define __UK_HEAPKIT_TLSF_H__

#include <uk/alloc.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The boot allocator over [base, base+len), registered with ukalloc; NULL on failure. */
struct uk_alloc *uk_tlsf_init(void *base, __sz len);

#ifdef __cplusplus
}
#endif
#endif /* __UK_HEAPKIT_TLSF_H__ */
