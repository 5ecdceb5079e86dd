// SPDX-License-Identifier: MIT
/*
 * A heapkit instance as a struct uk_alloc: every operation ukalloc knows is
 * served natively by the instance (none through ukalloc's compat helpers),
 * and each one feeds ukalloc's statistics when LIBUKALLOC_IFSTATS is on.
 *
 * The struct uk_alloc is the instance's own first allocation; the heapkit
 * instance pointer sits in its priv[] tail. Sizes counted in ukalloc's
 * statistics are usable sizes, on allocation and on free alike, so
 * cur_mem_use returns to its value when everything is freed.
 */
#include "core/internal.h"

#include <errno.h>
#include <uk/config.h>
#include <uk/alloc_impl.h>
#include <uk/arch/limits.h>
#include <uk/assert.h>
#include <uk/essentials.h>
#include <uk/print.h>
#include <uk/heapkit.h>
#include "glue.h"

/* A region handed to the instance (create or addmem). */
struct heapkit_region {
	char *base;                      /* first byte */
	__sz len;                        /* bytes */
};

/*
 * What follows the struct uk_alloc in the same block. Invariant: regions[0]
 * is the create() region, regions[1..nr_regions) the first addmem()s that
 * succeeded, in order; written only under Unikraft's cooperative boot.
 */
struct heapkit_priv {
	hk_alloc_t *hk;                  /* the instance serving this uk_alloc */
	unsigned nr_regions;             /* entries of regions[] in use */
	struct heapkit_region regions[UK_HEAPKIT_NR_REGIONS]; /* for uk_heapkit_region_of */
};

static inline struct heapkit_priv *priv_of(struct uk_alloc *a)
{
	return (struct heapkit_priv *)a->priv;
}

static inline hk_alloc_t *inst_of(struct uk_alloc *a)
{
	return priv_of(a)->hk;
}

static void region_remember(struct uk_alloc *a, void *base, __sz len)
{
	struct heapkit_priv *pv = priv_of(a);

	if (pv->nr_regions < UK_HEAPKIT_NR_REGIONS)
		pv->regions[pv->nr_regions++] = (struct heapkit_region){ base, len };
}


/* --- Statistics hooks ---------------------------------------------------------
 * No-ops unless LIBUKALLOC_IFSTATS; a NULL p counts as ENOMEM. */
#if CONFIG_LIBUKALLOC_IFSTATS
#define stats_alloc(a, p, size) uk_alloc_stats_count_alloc((a), (p), (size))
#define stats_free(a, p, size) uk_alloc_stats_count_free((a), (p), (size))
#define usable_if_stats(a, p) hk_usable_size(inst_of(a), (p))
#else
#define stats_alloc(a, p, size) ((void)(a), (void)(p), (void)(size))
#define stats_free(a, p, size) ((void)(a), (void)(p), (void)(size))
#define usable_if_stats(a, p) ((void)(p), (__sz)0)
#endif

static inline void *count_alloc(struct uk_alloc *a, void *p, __sz asked)
{
	stats_alloc(a, p, p ? usable_if_stats(a, p) : asked);
	return p;
}

/* --- The malloc family -------------------------------------------------------- */

static void *op_malloc(struct uk_alloc *a, __sz size)
{
	return count_alloc(a, hk_malloc(inst_of(a), size), size);
}

static void *op_calloc(struct uk_alloc *a, __sz nmemb, __sz size)
{
	return count_alloc(a, hk_calloc(inst_of(a), nmemb, size), nmemb * size);
}

static void *op_realloc(struct uk_alloc *a, void *p, __sz size)
{
	__sz old = p ? usable_if_stats(a, p) : 0;
	void *q = hk_realloc(inst_of(a), p, size);

	if (q || !size) {
		/* Moved, resized in place, or freed by realloc(p, 0). */
		stats_free(a, p, old);
		if (q)
			stats_alloc(a, q, usable_if_stats(a, q));
	} else {
		stats_alloc(a, NULL, size);
	}
	return q;
}

static int op_posix_memalign(struct uk_alloc *a, void **memptr, __sz align, __sz size)
{
	int rc = hk_posix_memalign(inst_of(a), memptr, align, size);

	count_alloc(a, rc ? NULL : *memptr, size);
	return rc;
}

static void *op_memalign(struct uk_alloc *a, __sz align, __sz size)
{
	return count_alloc(a, hk_memalign(inst_of(a), align, size), size);
}

static void op_free(struct uk_alloc *a, void *p)
{
	if (!p)
		return;
	stats_free(a, p, usable_if_stats(a, p));
	hk_free(inst_of(a), p);
}

/* --- Pages --------------------------------------------------------------------- */

static void *op_palloc(struct uk_alloc *a, unsigned long num_pages)
{
	void *p = hk_palloc(inst_of(a), num_pages);

	uk_alloc_stats_count_palloc(a, p, num_pages);
	return p;
}

static void op_pfree(struct uk_alloc *a, void *p, unsigned long num_pages)
{
	if (!p)
		return;
	uk_alloc_stats_count_pfree(a, p, num_pages);
	hk_pfree(inst_of(a), p, num_pages);
}

/* --- Memory and introspection -------------------------------------------------- */

static int op_addmem(struct uk_alloc *a, void *base, __sz len)
{
	int rc = hk_addmem(inst_of(a), base, len);

	if (rc == 0)
		region_remember(a, base, len);
	else
		uk_pr_warn("heapkit: addmem %p-%p refused (%d)\n", base, (char *)base + len, rc);
	return rc;
}

static __ssz clamp_ssz(size_t v)
{
	return v > (size_t)__SSZ_MAX ? __SSZ_MAX : (__ssz)v;
}

static __ssz op_maxalloc(struct uk_alloc *a)
{
	return clamp_ssz(hk_maxalloc(inst_of(a)));
}

static __ssz op_availmem(struct uk_alloc *a)
{
	return clamp_ssz(hk_availmem(inst_of(a)));
}

static long op_pmaxalloc(struct uk_alloc *a)
{
	return (long)(hk_maxalloc(inst_of(a)) >> HK_PAGE_SHIFT);
}

static long op_pavailmem(struct uk_alloc *a)
{
	return (long)(hk_availmem(inst_of(a)) >> HK_PAGE_SHIFT);
}

/* --- Instances ------------------------------------------------------------------ */

_Static_assert(HK_PAGE_SIZE == __PAGE_SIZE, "heapkit pages are Unikraft pages");

/* Wrap hk (created over [base, base+len)) in a registered struct uk_alloc carved from hk itself. */
static struct uk_alloc *wrap(hk_alloc_t *hk, void *base, __sz len)
{
	struct uk_alloc *a;

#if CONFIG_LIBHEAPKIT_CHECKED
	hk_alloc_t *checked = hk_checked_create(hk, 0);

	if (!checked)
		return NULL;
	hk = checked;
#endif
	a = hk_malloc(hk, sizeof(*a) + sizeof(struct heapkit_priv));
	if (!a)
		return NULL;
	memset(a, 0, sizeof(*a) + sizeof(struct heapkit_priv));
	priv_of(a)->hk = hk;
	region_remember(a, base, len);

	a->malloc = op_malloc;
	a->calloc = op_calloc;
	a->realloc = op_realloc;
	a->posix_memalign = op_posix_memalign;
	a->memalign = op_memalign;
	a->free = op_free;
	a->palloc = op_palloc;
	a->pfree = op_pfree;
	a->maxalloc = op_maxalloc;
	a->availmem = op_availmem;
	a->pmaxalloc = op_pmaxalloc;
	a->pavailmem = op_pavailmem;
	a->addmem = op_addmem;

	uk_alloc_stats_reset(a);
	uk_alloc_register(a);
	return a;
}

/* The create() of a backend enabled in this build, or NULL. */
static hk_alloc_t *(*create_of(const char *backend))(void *, size_t)
{
	const struct hk_backend *b = hk_backend_find(backend);

	return b ? b->create : NULL;
}

struct uk_alloc *_uk_heapkit_boot(hk_alloc_t *(*create)(void *, size_t), const char *name,
				  void *base, __sz len, const char *slot, const char *how)
{
	hk_alloc_t *hk = create(base, len);
	struct uk_alloc *a = hk ? wrap(hk, base, len) : NULL;

	if (!a) {
		uk_pr_err("heapkit: %s over %p-%p failed\n", name, base, (char *)base + len);
		return NULL;
	}
	uk_pr_info("heapkit: %s is the boot allocator (%s%s%s; ukboot slot \"%s\"), first region %p-%p (%lu KiB)\n",
		   name, how, strcmp(how, "default") ? "=" : " ", strcmp(how, "default") ? name : CONFIG_LIBHEAPKIT_BOOT_DEFAULT,
		   slot, base, (char *)base + len, (unsigned long)(len >> 10));
	return a;
}

struct uk_alloc *uk_heapkit_create(const char *backend, void *base, __sz len)
{
	hk_alloc_t *(*create)(void *, size_t) = create_of(backend);
	hk_alloc_t *hk = create ? create(base, len) : NULL;

	return hk ? wrap(hk, base, len) : NULL;
}

hk_alloc_t *uk_heapkit_instance(struct uk_alloc *a)
{
	return a && a->malloc == op_malloc ? inst_of(a) : NULL;
}

int uk_heapkit_stats(struct uk_alloc *a, struct hk_stats *out)
{
	hk_alloc_t *hk = uk_heapkit_instance(a);

	if (!hk)
		return -EINVAL;
	hk_stats_get(hk, out);
	return 0;
}

int uk_heapkit_check(struct uk_alloc *a)
{
	hk_alloc_t *hk = uk_heapkit_instance(a);
	struct hk_check_report r;

	if (!hk)
		return -EINVAL;
	if (hk_check(hk, &r) == 0)
		return 0;
	uk_pr_crit("heapkit: heap check of %s: %s at %p\n", hk_name(hk), r.what, r.addr);
	return -1;
}

int uk_heapkit_region_of(struct uk_alloc *a, const void *p)
{
	struct heapkit_priv *pv;

	if (!uk_heapkit_instance(a))
		return -EINVAL;
	pv = priv_of(a);
	for (unsigned i = 0; i < pv->nr_regions; i++)
		if ((const char *)p >= pv->regions[i].base &&
		    (const char *)p < pv->regions[i].base + pv->regions[i].len)
			return (int)i;
	return -ENOENT;
}
