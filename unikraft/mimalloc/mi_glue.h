// SPDX-License-Identifier: MIT
/* Between the mimalloc backend (backend.c) and its platform layer (prim.c). */
#ifndef HK_UK_MIMALLOC_GLUE_H
#define HK_UK_MIMALLOC_GLUE_H

#include <stdbool.h>
#include <heapkit.h>

/* The heapkit instance mimalloc's "OS memory" comes from (set once, first). */
void _hk_mi_pool_set(hk_alloc_t *pool);
/* Whether this context has its thread pointer (once true, true for good). */
bool _hk_mi_tls_live(void);
/* heapkit's fatal error (src/core): the message and the address, then abort. */
__attribute__((noreturn, cold)) void _hk_fatal(const char *what, const void *addr);

#endif
