// SPDX-License-Identifier: MIT
/*
 * The release drop-in's malloc and free, inline over shard's fast paths:
 * the exported malloc family (override.c) and the C++ operators (cxx.c)
 * both reach shard without a call through the PLT.
 */
#ifndef HK_OVERRIDE_FAST_H
#define HK_OVERRIDE_FAST_H

#include "core/annotate.h"
#include "shard/shard.h"

#define OS (&_hk_shard_os)
#define OS_SEG_MASK (~(uintptr_t)(((uintptr_t)1 << SHARD_SEG_SHIFT_OS) - 1))

/* p (NULL or a block of size bytes) told to the checkers (ASan, Valgrind; nothing in a plain build). */
hk_inline void *dropin_handed_out(void *p, size_t size)
{
	if (p)
		HK_ANNOTATE_MALLOC(p, size, 0);
	return p;
}

/*
 * The fast path alone (NULL: take dropin_malloc_slow) and the slow path
 * alone (NULL with errno set: memory is out). Nothing counted on the fast
 * path: HEAPKIT_SHOW_STATS=1 sets the instance's count_slow, and every
 * malloc and free goes slow, which counts.
 */
hk_inline void *dropin_malloc_fast(size_t size)
{
	return dropin_handed_out(_hk_shard_malloc_fast(OS, size, OS_SEG_MASK, false), size);
}
hk_inline void *dropin_malloc_slow(size_t size) { return dropin_handed_out(_hk_shard_malloc_slow(OS, size), size); }

/* size bytes from the OS instance; NULL with errno set by the slow path. */
hk_inline void *dropin_malloc(size_t size)
{
	void *p = dropin_malloc_fast(size);
	return hk_likely(p != NULL) ? p : dropin_malloc_slow(size);
}

/* free(p), p NULL or not; a pointer heapkit does not know is judged on the slow path. */
hk_inline void dropin_free(void *p)
{
	if (p)
		HK_ANNOTATE_FREE(p);
	/* (no count either: with statistics wanted every page says PAGE_COUNTED and free goes slow) */
	_hk_shard_free_masked(OS, p, OS_SEG_MASK, false);
}

#endif /* HK_OVERRIDE_FAST_H */
