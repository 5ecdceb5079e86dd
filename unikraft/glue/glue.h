// SPDX-License-Identifier: MIT
/* Shared between the glue's files (not for applications: see <uk/heapkit.h>). */
#ifndef HK_UK_GLUE_H
#define HK_UK_GLUE_H

#include <heapkit.h>
#include <uk/alloc.h>

/*
 * The boot allocator: create(base, len) wrapped in a registered struct
 * uk_alloc (the first registered is ukalloc's default). The banner names
 * the backend, ukboot's slot and how it was chosen ("heapkit.alloc" or
 * "default").
 */
struct uk_alloc *_uk_heapkit_boot(hk_alloc_t *(*create)(void *, size_t), const char *name,
				  void *base, __sz len, const char *slot, const char *how);

#endif /* HK_UK_GLUE_H */
