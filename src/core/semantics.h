// SPDX-License-Identifier: MIT
/*
 * The malloc family's rules, written once: zero sizes, requests over
 * HK_MAX_REQUEST, calloc's overflow, realloc to 0 or from NULL, which
 * alignments each call accepts, errno and failure counts. A front end (the
 * instance API in src/core/api.c, the drop-in in src/override/override.c)
 * describes its operations in a `static const struct hk_family` and calls
 * the functions below; they are always inline, so the calls through the
 * family compile to direct calls of its operations.
 *
 * The operations see only valid requests, as struct hk_alloc_ops's do (see
 * <heapkit/backend.h>): sizes 1..HK_MAX_REQUEST (0 where f->zero_size says so), alignments a power of two
 * >= sizeof(void *), realloc and free of p != NULL.
 */
#ifndef HK_CORE_SEMANTICS_H
#define HK_CORE_SEMANTICS_H

#include "core/internal.h"

struct hk_family {
	void *(*malloc)(void *ctx, size_t size);
	void *(*calloc)(void *ctx, size_t size);                 /* malloc, zeroed */
	void *(*memalign)(void *ctx, size_t align, size_t size);
	void *(*realloc)(void *ctx, void *p, size_t size);       /* keeps min(old, size) bytes */
	void (*free)(void *ctx, void *p);
	/*
	 * A request refused or failed with errno err: count or report it (NULL:
	 * neither). size: what was asked, SIZE_MAX when n * size overflowed.
	 */
	void (*failed)(void *ctx, size_t size, int err);
	/*
	 * memalign with an alignment that is not a power of two: rounded up to
	 * one (glibc 2.36's memalign and aligned_alloc) or refused with EINVAL
	 * (the instance API).
	 */
	bool round_align;
	/* What a request of 0 bytes asks the operations for: 0 where this returns 0, else 1 (NULL: always 1). */
	size_t (*zero_size)(void *ctx);
};

/* The size the operations get for a request of size bytes. */
hk_inline size_t hk_family_size(const struct hk_family *f, void *ctx, size_t size)
{
	return hk_likely(size != 0) ? size : f->zero_size ? f->zero_size(ctx) : 1;
}

/* A refused request of size bytes: counted or reported, errno err, NULL. */
__attribute__((noinline, cold, unused)) static void *hk_family_fail(const struct hk_family *f, void *ctx, int err,
								    size_t size)
{
	if (f->failed)
		f->failed(ctx, size, err);
	_hk_set_errno(err);
	return NULL;
}

/* What an operation asked for size bytes returned: NULL is ENOMEM. */
hk_inline void *hk_family_result(const struct hk_family *f, void *ctx, void *p, size_t size)
{
	return hk_likely(p != NULL) ? p : hk_family_fail(f, ctx, HK_ENOMEM, size);
}

/* malloc(0) is a unique block of 1 byte (or 0: zero_size); over HK_MAX_REQUEST is ENOMEM. */
hk_inline void *hk_family_malloc(const struct hk_family *f, void *ctx, size_t size)
{
	if (hk_unlikely(size > HK_MAX_REQUEST))
		return hk_family_fail(f, ctx, HK_ENOMEM, size);
	return hk_family_result(f, ctx, f->malloc(ctx, hk_family_size(f, ctx, size)), size);
}

/* n * size zeroed bytes; an overflowing or too large product is ENOMEM; 0 as malloc's. */
hk_inline void *hk_family_calloc(const struct hk_family *f, void *ctx, size_t n, size_t size)
{
	size_t total;
	bool overflow = hk_mul_overflows(n, size, &total);
	if (hk_unlikely(overflow || total > HK_MAX_REQUEST))
		return hk_family_fail(f, ctx, HK_ENOMEM, overflow ? SIZE_MAX : total);
	return hk_family_result(f, ctx, f->calloc(ctx, hk_family_size(f, ctx, total)), total);
}

/* realloc(NULL, n) is malloc(n); realloc(p, 0) frees p and returns NULL; on failure p is untouched. */
hk_inline void *hk_family_realloc(const struct hk_family *f, void *ctx, void *p, size_t size)
{
	if (!p)
		return hk_family_malloc(f, ctx, size);
	if (!size) {
		f->free(ctx, p);
		return NULL;
	}
	if (hk_unlikely(size > HK_MAX_REQUEST))
		return hk_family_fail(f, ctx, HK_ENOMEM, size);
	return hk_family_result(f, ctx, f->realloc(ctx, p, size), size);
}

/* reallocarray: realloc to n * size, ENOMEM when the product overflows. */
hk_inline void *hk_family_reallocarray(const struct hk_family *f, void *ctx, void *p, size_t n, size_t size)
{
	size_t total;
	if (hk_unlikely(hk_mul_overflows(n, size, &total)))
		return hk_family_fail(f, ctx, HK_ENOMEM, SIZE_MAX);
	return hk_family_realloc(f, ctx, p, total);
}

/* An alignment and size the memalign operation may be given: a power of two >= sizeof(void *), halves of the limit. */
hk_inline bool hk_family_aligned_fits(size_t align, size_t size)
{
	return size <= HK_MAX_REQUEST && align <= HK_MAX_REQUEST / 2;
}

/*
 * memalign: alignments below sizeof(void *) are raised; one that is not a
 * power of two is rounded up (f->round_align; EINVAL past the largest power
 * of two) or EINVAL; an alignment or size past the limits is ENOMEM.
 */
hk_inline void *hk_family_memalign(const struct hk_family *f, void *ctx, size_t align, size_t size)
{
	if (hk_unlikely(!hk_is_pow2(align))) {
		if (!f->round_align || align > SIZE_MAX / 2 + 1)
			return hk_family_fail(f, ctx, HK_EINVAL, size);
		align = align ? (size_t)1 << hk_log2_up(align) : 1;
	}
	if (align < sizeof(void *))
		align = sizeof(void *);
	if (hk_unlikely(!hk_family_aligned_fits(align, size)))
		return hk_family_fail(f, ctx, HK_ENOMEM, size);
	return hk_family_result(f, ctx, f->memalign(ctx, align, hk_family_size(f, ctx, size)), size);
}

/*
 * posix_memalign: EINVAL unless align is a power of two and a multiple of
 * sizeof(void *), ENOMEM when memory is short; the code is returned, *out is
 * written only on success, and errno is left to the operation.
 */
hk_inline int hk_family_posix_memalign(const struct hk_family *f, void *ctx, void **out, size_t align, size_t size)
{
	int rc = 0;
	void *p = NULL;
	if (!hk_is_pow2(align) || align < sizeof(void *))
		rc = HK_EINVAL;
	else if (!hk_family_aligned_fits(align, size) || !(p = f->memalign(ctx, align, hk_family_size(f, ctx, size))))
		rc = HK_ENOMEM;
	if (hk_unlikely(rc)) {
		if (f->failed)
			f->failed(ctx, size, rc);
		return rc;
	}
	*out = p;
	return 0;
}

/* valloc: memalign to a page. */
hk_inline void *hk_family_valloc(const struct hk_family *f, void *ctx, size_t size)
{
	return hk_family_memalign(f, ctx, HK_PAGE_SIZE, size);
}

/* pvalloc: whole pages, at least one; ENOMEM when rounding up overflows. */
hk_inline void *hk_family_pvalloc(const struct hk_family *f, void *ctx, size_t size)
{
	if (hk_unlikely(size > SIZE_MAX - HK_PAGE_SIZE))
		return hk_family_fail(f, ctx, HK_ENOMEM, size);
	return hk_family_memalign(f, ctx, HK_PAGE_SIZE, size ? hk_align_up(size, HK_PAGE_SIZE) : HK_PAGE_SIZE);
}

#endif /* HK_CORE_SEMANTICS_H */
