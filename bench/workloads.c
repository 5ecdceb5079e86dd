// SPDX-License-Identifier: MIT
/* The workloads compiled into the bench library, in listing order. */
#include "harness.h"

#define WORKLOADS(X) \
	X(cache_scratch) X(cache_thrash) X(threadtest) X(linux_scalability) X(larson) \
	X(phong) X(xmalloc) X(mstress) X(glibc_simple) X(glibc_thread) X(malloc_large) \
	X(fragmentation) X(replay)

#define DECLARE(n) extern const struct hkb_workload hkb_wl_##n;
WORKLOADS(DECLARE)
#undef DECLARE

#define ENTRY(n) &hkb_wl_##n,
static const struct hkb_workload *const all[] = { WORKLOADS(ENTRY) };
#undef ENTRY

size_t hkb_workload_count(void) { return sizeof all / sizeof all[0]; }

const struct hkb_workload *hkb_workload_at(size_t i)
{
	return i < hkb_workload_count() ? all[i] : NULL;
}

const struct hkb_workload *hkb_workload_find(const char *name)
{
	for (size_t i = 0; i < hkb_workload_count(); i++)
		if (!strcmp(all[i]->name, name))
			return all[i];
	return NULL;
}
