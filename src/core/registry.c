// SPDX-License-Identifier: MIT
/*
 * The registry of backends: the built-in ones (each defines its descriptor
 * in its own source, name, create, caps, summary and minimum region
 * included), and any registered at run time.
 */
#include "core/internal.h"

/* Built-in backends, in the order tools list them. */
static const struct hk_backend *const builtin[] = {
#ifdef HK_HAVE_BUDDY
	&_hk_buddy_backend,
#endif
#ifdef HK_HAVE_SHARD
	&_hk_shard_backend,
#endif
#ifdef HK_HAVE_TLSF
	&_hk_tlsf_backend,
#endif
#ifdef HK_HAVE_REGION
	&_hk_region_backend,
#endif
#ifdef HK_HAVE_MIMALLOC
	&_hk_mimalloc_backend,
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
		return builtin[i];
	i -= NR_BUILTIN;
	return i < __atomic_load_n(&nr_extra, __ATOMIC_ACQUIRE) ? extra[i] : NULL;
}

const struct hk_backend *hk_backend_find(const char *name)
{
	for (size_t i = 0, n = hk_backend_count(); name && i < n; i++)
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

/* --- Creating instances, and why it failed ---------------------------------- */

/* The reason of the last failed creation, in any thread: a static sentence. */
static const char *last_error;

static hk_alloc_t *create_fail(int err, const char *why)
{
	__atomic_store_n(&last_error, why, __ATOMIC_RELAXED);
	_hk_set_errno(err);
	return NULL;
}

const char *hk_last_error(void)
{
	const char *why = __atomic_load_n(&last_error, __ATOMIC_RELAXED);
	return why ? why : "no error";
}

hk_alloc_t *hk_backend_create(const struct hk_backend *b, void *base, size_t len)
{
	if (!b || !b->create)
		return create_fail(HK_EINVAL, "hk_create: no such backend");
	if (!base)
		return create_fail(HK_EINVAL, "hk_create: the region is NULL");
	if (len < b->min_region)
		return create_fail(HK_ENOMEM, "hk_create: the region is smaller than the backend's min_region");
	hk_alloc_t *a = b->create(base, len);
	return a ? a : create_fail(HK_ENOMEM, "hk_create: the backend refused the region (no room left after aligning it)");
}

hk_alloc_t *hk_create(const char *name, void *base, size_t len)
{
	const struct hk_backend *b = hk_backend_find(name);
	return b ? hk_backend_create(b, base, len) : create_fail(HK_EINVAL, "hk_create: no backend of that name");
}

void _hk_alloc_init(hk_alloc_t *a, const struct hk_alloc_ops *ops, const struct hk_backend *backend)
{
	a->ops = ops;
	a->backend = backend;
	a->nr_failed = 0;
	memset(&a->quarantine, 0, sizeof a->quarantine);
}
