// SPDX-License-Identifier: MIT
/*
 * The public malloc family on an instance: the semantics every backend
 * shares (argument checks, zero sizes, overflow, errno, failure counts) live
 * here once, so a backend's operations see only valid requests.
 */
#include "core/internal.h"
#include "core/annotate.h"

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
/*
 * Under valgrind a backend may read bytes it does not own (a neighbour's tag
 * that sits poisoned in the quarantine): its errors are not reported there.
 */
#define QUIET(expr) \
	({ \
		HK_ANNOTATE_INTERNAL_BEGIN(); \
		__typeof__(expr) quiet_r_ = (expr); \
		HK_ANNOTATE_INTERNAL_END(); \
		quiet_r_; \
	})
#define QUIET_VOID(expr) \
	do { \
		HK_ANNOTATE_INTERNAL_BEGIN(); \
		expr; \
		HK_ANNOTATE_INTERNAL_END(); \
	} while (0)

/* --- Failure ------------------------------------------------------------- */

static hk_noinline void *fail_null(hk_alloc_t *a, int err)
{
	if (a)
		__atomic_fetch_add(&a->nr_failed, 1, __ATOMIC_RELAXED);
	_hk_set_errno(err);
	return NULL;
}

/*
 * A NULL instance is a caller's bug, answered without a crash: requests fail
 * with EINVAL, queries answer 0, a free says what happened and returns.
 */
#define NO_INSTANCE(a, ret)                 \
	do {                                \
		if (hk_unlikely(!(a)))      \
			return ret;         \
	} while (0)

static void *checked(hk_alloc_t *a, void *p)
{
	return hk_likely(p != NULL) ? p : fail_null(a, HK_ENOMEM);
}

/* --- The malloc family --------------------------------------------------- */

void *hk_malloc(hk_alloc_t *a, size_t size)
{
	NO_INSTANCE(a, fail_null(NULL, HK_EINVAL));
	if (hk_unlikely(size > HK_MAX_REQUEST))
		return fail_null(a, HK_ENOMEM);
	return checked(a, OP_MALLOC(a, size ? size : 1));
}

void *hk_calloc(hk_alloc_t *a, size_t n, size_t size)
{
	size_t total;
	NO_INSTANCE(a, fail_null(NULL, HK_EINVAL));
	if (hk_unlikely(hk_mul_overflows(n, size, &total) || total > HK_MAX_REQUEST))
		return fail_null(a, HK_ENOMEM);
	if (!total)
		total = 1;
	return checked(a, OP_CALLOC(a, total));
}

void *hk_realloc(hk_alloc_t *a, void *p, size_t size)
{
	NO_INSTANCE(a, fail_null(NULL, HK_EINVAL));
	if (!p)
		return hk_malloc(a, size);
	if (!size) {
		OP_FREE(a, p);
		return NULL;
	}
	if (hk_unlikely(size > HK_MAX_REQUEST))
		return fail_null(a, HK_ENOMEM);
	return checked(a, OP_REALLOC(a, p, size));
}

/* 0 if align is acceptable for posix_memalign. */
static bool align_valid(size_t align)
{
	return hk_is_pow2(align) && align >= sizeof(void *);
}

int hk_posix_memalign(hk_alloc_t *a, void **out, size_t align, size_t size)
{
	NO_INSTANCE(a, HK_EINVAL);
	if (!align_valid(align)) {
		__atomic_fetch_add(&a->nr_failed, 1, __ATOMIC_RELAXED);
		return HK_EINVAL;
	}
	if (size > HK_MAX_REQUEST || align > HK_MAX_REQUEST / 2) {
		__atomic_fetch_add(&a->nr_failed, 1, __ATOMIC_RELAXED);
		return HK_ENOMEM;
	}
	void *p = OP_MEMALIGN(a, align, size ? size : 1);
	if (!p) {
		__atomic_fetch_add(&a->nr_failed, 1, __ATOMIC_RELAXED);
		return HK_ENOMEM;
	}
	*out = p;
	return 0;
}

void *hk_memalign(hk_alloc_t *a, size_t align, size_t size)
{
	NO_INSTANCE(a, fail_null(NULL, HK_EINVAL));
	if (!hk_is_pow2(align))
		return fail_null(a, HK_EINVAL);
	if (align < sizeof(void *))
		align = sizeof(void *);
	if (size > HK_MAX_REQUEST || align > HK_MAX_REQUEST / 2)
		return fail_null(a, HK_ENOMEM);
	return checked(a, OP_MEMALIGN(a, align, size ? size : 1));
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
	return p && a ? QUIET(a->ops->usable_size(a, p)) : 0;
}

/* --- Pages, memory, introspection --------------------------------------- */

void *hk_palloc(hk_alloc_t *a, size_t npages)
{
	size_t bytes;
	NO_INSTANCE(a, fail_null(NULL, HK_EINVAL));
	if (!npages || hk_mul_overflows(npages, HK_PAGE_SIZE, &bytes) || bytes > HK_MAX_REQUEST)
		return fail_null(a, npages ? HK_ENOMEM : HK_EINVAL);
	if (a->ops->palloc)
		return checked(a, QUIET(a->ops->palloc(a, npages)));
	return checked(a, QUIET(a->ops->memalign(a, HK_PAGE_SIZE, bytes)));
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
		QUIET_VOID(a->ops->pfree(a, p, npages));
	else
		QUIET_VOID(a->ops->free(a, p));
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
	return QUIET(a->ops->check(a, r ? r : &dummy));
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
