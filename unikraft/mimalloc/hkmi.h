// SPDX-License-Identifier: MIT
/*
 * Forced into every mimalloc source compiled for Unikraft (Makefile.uk):
 * what mimalloc's own headers let a port choose without patching them.
 *
 * MI_PRIM_THREAD_ID: mimalloc's thread id (prim.h) is, by default on
 * x86-64 with gcc >= 11, the thread pointer itself. Under Unikraft the boot
 * allocator runs before any thread pointer is loaded (%fs is 0: reading
 * %fs:0 faults) and the boot context gets its thread pointer later, which
 * would change its id in the middle of its life. _hk_mi_thread_id (prim.c)
 * answers 1 for the boot context before and after, and the thread pointer
 * for every other context.
 */
#ifndef HK_UK_MIMALLOC_HKMI_H
#define HK_UK_MIMALLOC_HKMI_H

#include <stddef.h>

size_t _hk_mi_thread_id(void);
#define MI_PRIM_THREAD_ID _hk_mi_thread_id

#endif
