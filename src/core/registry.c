// SPDX-License-Identifier: MIT
/* The registry of backends: the built-in ones, and any registered at run time. */
#include "core/internal.h"

/* Built-in backends, in the order tools list them. */
static const struct hk_backend builtin[] = {
#ifdef HK_HAVE_BUDDY
	{ "buddy", "binary buddy page allocator: O(log n), coalescing, small blocks in slabs",
	  hk_buddy_create, HK_CAP_FREE | HK_CAP_THREADS | HK_CAP_ADDMEM | HK_CAP_PAGES | HK_CAP_EXACT_AVAIL | HK_CAP_RELEASE,
	  64 * 1024 },
#endif
#ifdef HK_HAVE_SHARD
	{ "shard", "mimalloc-class: thread-local heaps, sharded free lists, cross-thread frees",
	  hk_shard_create, HK_CAP_FREE | HK_CAP_THREADS | HK_CAP_ADDMEM | HK_CAP_PAGES | HK_CAP_EXACT_AVAIL | HK_CAP_RELEASE,
	  64 * 1024 },
#endif
#ifdef HK_HAVE_TLSF
	{ "tlsf", "two-level segregated fit: O(1) malloc and free, bounded latency",
	  hk_tlsf_create, HK_CAP_FREE | HK_CAP_THREADS | HK_CAP_ADDMEM | HK_CAP_PAGES | HK_CAP_EXACT_AVAIL | HK_CAP_RELEASE,
	  8 * 1024 },
#endif
#ifdef HK_HAVE_REGION
	{ "region", "bump allocator for boot time: free reclaims nothing",
	  hk_region_create, HK_CAP_THREADS | HK_CAP_ADDMEM | HK_CAP_PAGES | HK_CAP_RELEASE, 256 },
#endif
#ifdef HK_HAVE_MIMALLOC
	{ "mimalloc", "Debian's libmimalloc 2.0 confined to the region (exclusive arenas); hosted only",
	  hk_mimalloc_create, HK_CAP_FREE | HK_CAP_THREADS | HK_CAP_ADDMEM | HK_CAP_PAGES, 64u << 20 },
#endif
};
#define NR_BUILTIN (sizeof builtin / sizeof builtin[0])
#define NR_EXTRA 16

/* Run-time registrations; nr_extra only grows, entries are published before it. */
static const struct hk_backend *extra[NR_EXTRA];
static size_t nr_extra;
static hk_lock_t extra_lock = HK_LOCK_INIT;

static bool same_name(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

size_t hk_backend_count(void)
{
	return NR_BUILTIN + __atomic_load_n(&nr_extra, __ATOMIC_ACQUIRE);
}

const struct hk_backend *hk_backend_at(size_t i)
{
	if (i < NR_BUILTIN)
		return &builtin[i];
	i -= NR_BUILTIN;
	return i < __atomic_load_n(&nr_extra, __ATOMIC_ACQUIRE) ? extra[i] : NULL;
}

const struct hk_backend *hk_backend_find(const char *name)
{
	for (size_t i = 0, n = hk_backend_count(); i < n; i++)
		if (same_name(hk_backend_at(i)->name, name))
			return hk_backend_at(i);
	return NULL;
}

int hk_backend_register(const struct hk_backend *b)
{
	int rc = -1;
	hk_lock(&extra_lock);
	if (nr_extra < NR_EXTRA && !hk_backend_find(b->name)) {
		extra[nr_extra] = b;
		__atomic_store_n(&nr_extra, nr_extra + 1, __ATOMIC_RELEASE);
		rc = 0;
	}
	hk_unlock(&extra_lock);
	return rc;
}

hk_alloc_t *hk_create(const char *name, void *base, size_t len)
{
	const struct hk_backend *b = hk_backend_find(name);
	return b && len >= b->min_region ? b->create(base, len) : NULL;
}

void _hk_alloc_init(hk_alloc_t *a, const struct hk_alloc_ops *ops, const char *backend_name)
{
	a->ops = ops;
	a->backend = hk_backend_find(backend_name);
	a->nr_failed = 0;
	memset(&a->quarantine, 0, sizeof a->quarantine);
}
