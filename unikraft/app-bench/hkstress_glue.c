// SPDX-License-Identifier: MIT
/*
 * What tools/hkstress.c needs in the musl image beyond musl and Unikraft:
 *
 * - hkstress_tick (see hkstress_glue.h): a yield to the cooperative
 *   scheduler every hkstress_yield_every-th allocator call.
 * - malloc_usable_size: lib-musl forwards malloc & co. to the default ukalloc
 *   allocator but has no malloc_usable_size (--alloc system calls it). When
 *   the default allocator is heapkit's, the answer is its instance's usable
 *   size; for any other boot allocator there is no public way to ask, and 0
 *   makes hkstress fail loudly ("usable size 0 is below ...") rather than
 *   pass unchecked.
 */
#include <malloc.h>
#include <stddef.h>
#include <uk/alloc.h>
#include <uk/heapkit.h>
#include <uk/sched.h>

/* --- Yields ------------------------------------------------------------ */

unsigned hkstress_yield_every = 64;
static unsigned tick_calls;     /* allocator calls so far (one CPU, cooperative) */

void hkstress_tick(void)
{
	if (hkstress_yield_every && ++tick_calls % hkstress_yield_every == 0)
		uk_sched_yield();
}

/* --- malloc_usable_size ------------------------------------------------------------ */

size_t malloc_usable_size(void *p)
{
	hk_alloc_t *hk;

	if (!p)
		return 0;
	hk = uk_heapkit_instance(uk_alloc_get_default());
	return hk ? hk_usable_size(hk, p) : 0;
}
