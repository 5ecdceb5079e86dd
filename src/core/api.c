// SPDX-License-Identifier: MIT
/*
 * The public calls on an instance. The malloc family's rules (argument
 * checks, zero sizes, overflow, errno, failure counts) are core/semantics.h's,
 * shared with the drop-in; this file instantiates them over the instance's
 * operations, so a backend's operations see only valid requests.
 */
#include "core/internal.h"
#include "core/annotate.h"
#include "core/semantics.h"

/*
 * Checker builds (HK_ASAN, HK_VALGRIND): the malloc family goes through
 * src/core/annotate.c, which announces blocks and quarantines freed ones.
 */
#if HK_ANNOTATE_ON
#define OP_MALLOC(a, size) _hk_annot_alloc((a), 0, (size), false)
#define OP_CALLOC(a, size) _hk_annot_alloc((a), 0, (size), true)
#define OP_MEMALIGN(a, align, size) _hk_annot_alloc((a), (align), (size), false)
#define OP_REALLOC(a, p, size) _hk_annot_realloc((a), (p), (size))
#define OP_FREE(a, p) _hk_annot_free((a), (p))
#define OP_FLUSH(a) _hk_annot_flush(a)
#else
#define OP_MALLOC(a, size) (a)->ops->malloc((a), (size))
#define OP_CALLOC(a, size) \
	((a)->ops->calloc ? (a)->ops->calloc((a), (size)) : _hk_compat_calloc((a), (size)))
#define OP_MEMALIGN(a, align, size) (a)->ops->memalign((a), (align), (size))
#define OP_REALLOC(a, p, size) \
	((a)->ops->realloc ? (a)->ops->realloc((a), (p), (size)) : _hk_compat_realloc((a), (p), (size)))
#define OP_FREE(a, p) (a)->ops->free((a), (p))
#define OP_FLUSH(a) ((void)(a))
#endif

/* --- Failure ------------------------------------------------------------- */

static void count_failure(void *ctx, size_t size, int err)
{
	(void)size, (void)err;
	__atomic_fetch_add(&((hk_alloc_t *)ctx)->nr_failed, 1, __ATOMIC_RELAXED);
}

/*
 * A NULL instance is a caller's bug, answered without a crash: requests fail
 * with EINVAL, queries answer 0, a free says what happened and returns.
 */
static hk_noinline void *no_instance(void)
{
	_hk_set_errno(HK_EINVAL);
	return NULL;
}

#define NO_INSTANCE(a, ret)                 \
	do {                                \
		if (hk_unlikely(!(a)))      \
			return ret;         \
	} while (0)

/* --- The malloc family: the rules in core/semantics.h over the operations --- */

static void *family_malloc(void *a, size_t size) { return OP_MALLOC((hk_alloc_t *)a, size); }
static void *family_calloc(void *a, size_t size) { return OP_CALLOC((hk_alloc_t *)a, size); }
static void *family_memalign(void *a, size_t align, size_t size) { return OP_MEMALIGN((hk_alloc_t *)a, align, size); }
static void *family_realloc(void *a, void *p, size_t size) { return OP_REALLOC((hk_alloc_t *)a, p, size); }
static void family_free(void *a, void *p) { OP_FREE((hk_alloc_t *)a, p); }
static size_t family_zero_size(void *a) { return hk_caps((hk_alloc_t *)a) & HK_CAP_ZERO_SIZE ? 0 : 1; }

/* Non-power-of-two alignments are EINVAL here (glibc's rounding is the drop-in's). */
static const struct hk_family instance_family = {
	.malloc = family_malloc,
	.calloc = family_calloc,
	.memalign = family_memalign,
	.realloc = family_realloc,
	.free = family_free,
	.failed = count_failure,
	.round_align = false,
	.zero_size = family_zero_size,
};

void *hk_malloc(hk_alloc_t *a, size_t size)
{
	NO_INSTANCE(a, no_instance());
	return hk_family_malloc(&instance_family, a, size);
}

void *hk_calloc(hk_alloc_t *a, size_t n, size_t size)
{
	NO_INSTANCE(a, no_instance());
	return hk_family_calloc(&instance_family, a, n, size);
}

void *hk_realloc(hk_alloc_t *a, void *p, size_t size)
{
	NO_INSTANCE(a, no_instance());
	return hk_family_realloc(&instance_family, a, p, size);
}

int hk_posix_memalign(hk_alloc_t *a, void **out, size_t align, size_t size)
{
	NO_INSTANCE(a, HK_EINVAL);
	return hk_family_posix_memalign(&instance_family, a, out, align, size);
}

void *hk_memalign(hk_alloc_t *a, size_t align, size_t size)
{
	NO_INSTANCE(a, no_instance());
	return hk_family_memalign(&instance_family, a, align, size);
}

void hk_free(hk_alloc_t *a, void *p)
{
	if (hk_unlikely(!a)) {
		if (p)
			_hk_report("free on a NULL instance (block not freed)", p);
		return;
	}
	if (p)
		OP_FREE(a, p);
}

size_t hk_usable_size(hk_alloc_t *a, void *p)
{
	return p && a ? HK_ANNOTATE_BACKEND(a->ops->usable_size(a, p)) : 0;
}

/* --- Pages, memory, introspection --------------------------------------- */

void *hk_palloc(hk_alloc_t *a, size_t npages)
{
	size_t bytes;
	NO_INSTANCE(a, no_instance());
	if (!npages || hk_mul_overflows(npages, HK_PAGE_SIZE, &bytes) || bytes > HK_MAX_REQUEST)
		return hk_family_fail(&instance_family, a, npages ? HK_ENOMEM : HK_EINVAL, npages ? SIZE_MAX : 0);
	if (a->ops->palloc)
		return hk_family_result(&instance_family, a, HK_ANNOTATE_BACKEND(a->ops->palloc(a, npages)), bytes);
	return hk_family_result(&instance_family, a, HK_ANNOTATE_BACKEND(a->ops->memalign(a, HK_PAGE_SIZE, bytes)),
				bytes);
}

void hk_pfree(hk_alloc_t *a, void *p, size_t npages)
{
	if (!p || !npages)
		return;
	if (hk_unlikely(!a)) {
		_hk_report("pfree on a NULL instance (pages not freed)", p);
		return;
	}
	if (a->ops->pfree)
		HK_ANNOTATE_BACKEND_VOID(a->ops->pfree(a, p, npages));
	else
		HK_ANNOTATE_BACKEND_VOID(a->ops->free(a, p));
}

int hk_addmem(hk_alloc_t *a, void *base, size_t len)
{
	if (!a || !base || !len || !a->ops->addmem)
		return -HK_EINVAL;
	return a->ops->addmem(a, base, len);
}

size_t hk_maxalloc(hk_alloc_t *a)
{
	NO_INSTANCE(a, 0);
	OP_FLUSH(a);
	return a->ops->maxalloc(a);
}

size_t hk_availmem(hk_alloc_t *a)
{
	NO_INSTANCE(a, 0);
	OP_FLUSH(a);
	return a->ops->availmem(a);
}

void hk_stats_get(hk_alloc_t *a, struct hk_stats *out)
{
	memset(out, 0, sizeof *out);
	NO_INSTANCE(a, );
	OP_FLUSH(a);
	a->ops->stats(a, out);
	out->nr_failed = __atomic_load_n(&a->nr_failed, __ATOMIC_RELAXED);
}

int hk_check(hk_alloc_t *a, struct hk_check_report *r)
{
	struct hk_check_report dummy;
	if (!a)
		return _hk_check_fail(r, NULL, "a NULL instance");
	return HK_ANNOTATE_BACKEND(a->ops->check(a, r ? r : &dummy));
}

unsigned hk_caps(const hk_alloc_t *a) { return a && a->backend ? a->backend->caps : 0; }
const char *hk_name(const hk_alloc_t *a) { return a && a->backend ? a->backend->name : "?"; }

void hk_destroy(hk_alloc_t *a)
{
	if (a)
		OP_FLUSH(a);
	if (a && a->ops->destroy)
		a->ops->destroy(a);
}

/* --- Compat helpers ------------------------------------------------------ */

void *_hk_compat_calloc(hk_alloc_t *a, size_t size)
{
	void *p = a->ops->malloc(a, size);
	if (p)
		memset(p, 0, size);
	return p;
}

void *_hk_compat_realloc(hk_alloc_t *a, void *p, size_t size)
{
	size_t old = a->ops->usable_size(a, p);
	void *q = a->ops->malloc(a, size);
	if (!q)
		return NULL;
	memcpy(q, p, old < size ? old : size);
	a->ops->free(a, p);
	return q;
}
