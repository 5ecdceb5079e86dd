// SPDX-License-Identifier: MIT
/*
 * The drop-in: the malloc family for Linux programs (LD_PRELOAD=libheapkit.so).
 *
 * Every call goes to the shard allocator's instance over OS pages, straight
 * to its inline fast paths (no operations table), with glibc's semantics:
 * errno ENOMEM on failure, requests over PTRDIFF_MAX refused, free keeps
 * errno, realloc(p, 0) frees and returns NULL, malloc(0) a unique pointer,
 * memalign/aligned_alloc round a non-power-of-two alignment up (glibc 2.36),
 * posix_memalign EINVAL for an alignment that is not a power-of-two
 * multiple of sizeof(void *).
 *
 * Built with HK_DROPIN_CHECKED=1 (libheapkit-checked.so) every call goes
 * through the checked instance over the same shard instance instead.
 */
#define _GNU_SOURCE
#include <errno.h>

/* free's slow paths may unmap: keep errno there, off the fast path. */
struct shard;
struct shard_page;
static void dropin_free_slow(struct shard *sh, void *p);
static void dropin_page_emptied(struct shard_page *pg);
#define HK_SHARD_FREE_SLOW dropin_free_slow
#define HK_SHARD_PAGE_EMPTIED dropin_page_emptied

#include "core/annotate.h"
#include "shard/shard.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#if defined(HK_DROPIN_CHECKED) && HK_DROPIN_CHECKED
#include "checked/checked.h"
#endif

#define HK_EXPORT __attribute__((visibility("default")))

__attribute__((noinline, unused)) static void dropin_free_slow(struct shard *sh, void *p)
{
	int saved = errno;
	_hk_shard_free_slow(sh, p);
	errno = saved;
}

__attribute__((noinline, unused)) static void dropin_page_emptied(struct shard_page *pg)
{
	int saved = errno;
	_hk_shard_page_emptied(pg);
	errno = saved;
}


/* --- The two back ends: shard directly, or the checked instance ----------------------- */

#if defined(HK_DROPIN_CHECKED) && HK_DROPIN_CHECKED

static hk_alloc_t *checked(void)
{
	hk_alloc_t *a = _hk_dropin_checked();
	if (hk_unlikely(!a))
		_hk_fatal("heapkit drop-in: no checked instance", NULL);
	return a;
}

static inline void *dropin_malloc(size_t size) { return hk_malloc(checked(), size); }
static inline void *dropin_calloc(size_t n, size_t size) { return hk_calloc(checked(), n, size); }
static inline void dropin_free(void *p)
{
	int saved = errno;
	hk_free(checked(), p);
	errno = saved;
}
static inline size_t dropin_usable(void *p) { return hk_usable_size(checked(), p); }
static inline void *dropin_realloc(void *p, size_t size) { return hk_realloc(checked(), p, size); }
static inline void *dropin_memalign(size_t align, size_t size) { return hk_memalign(checked(), align, size); }

#else

#define OS (&_hk_shard_os)
#define OS_SEG_MASK (~(uintptr_t)(((uintptr_t)1 << SHARD_SEG_SHIFT_OS) - 1))

static inline void *dropin_malloc(size_t size)
{
	void *p = _hk_shard_malloc(OS, size);
	if (p)
		HK_ANNOTATE_MALLOC(p, size, 0);
	return p;
}

static inline void dropin_free(void *p)
{
	if (p)
		HK_ANNOTATE_FREE(p);
	_hk_shard_free_masked(OS, p, OS_SEG_MASK);
}

static inline size_t dropin_usable(void *p)
{
	return p ? _hk_shard_usable(OS, p) : 0;
}

static void *dropin_calloc(size_t n, size_t size)
{
	size_t total;
	if (hk_unlikely(hk_mul_overflows(n, size, &total) || total > HK_MAX_REQUEST)) {
		errno = ENOMEM;
		return NULL;
	}
	_hk_shard_os_ensure();
	void *p = _hk_shard_calloc(OS, total);
	if (p)
		HK_ANNOTATE_MALLOC(p, total, 1);
	return p;
}

static void *dropin_realloc(void *p, size_t size)
{
	if (!p)
		return dropin_malloc(size);
	if (!size) {
		dropin_free(p);
		return NULL;
	}
	if (hk_unlikely(size > HK_MAX_REQUEST)) {
		errno = ENOMEM;
		return NULL;
	}
	size_t old = _hk_shard_usable(OS, p);
	if (size <= old && size >= old / 2) {
		HK_ANNOTATE_RESIZE(p, old, size);
		return p;
	}
	if (size > OS->large_max && ((uintptr_t)p & ~OS_SEG_MASK) == 0) {
		/* a huge block: resized in its mapping, or its pages moved, no copy */
		void *r = _hk_shard_huge_resize(OS, p, size);
		if (r) {
			if (r == p) {
				HK_ANNOTATE_RESIZE(p, old, size);
			} else {
				HK_ANNOTATE_FREE(p);
				HK_ANNOTATE_MALLOC(r, size, 0);
			}
			return r;
		}
	}
	void *q = dropin_malloc(size);
	if (!q)
		return NULL;
	memcpy(q, p, old < size ? old : size);
	dropin_free(p);
	return q;
}

/* align: a power of two >= sizeof(void *). */
static void *dropin_memalign(size_t align, size_t size)
{
	if (hk_unlikely(size > HK_MAX_REQUEST || align > HK_MAX_REQUEST / 2)) {
		errno = ENOMEM;
		return NULL;
	}
	if (!_hk_shard_os_ensure()) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = _hk_shard_memalign(OS, align, size ? size : 1);
	if (!p)
		errno = ENOMEM;
	else
		HK_ANNOTATE_MALLOC(p, size, 0);
	return p;
}

#endif

/*
 * fork in a threaded program leaves a child that can allocate: hold the
 * locks across it (the checked instance's first, then shard's).
 */
#if defined(HK_DROPIN_CHECKED) && HK_DROPIN_CHECKED
static void fork_prepare(void)
{
	_hk_dropin_checked_fork_prepare();
	_hk_shard_fork_prepare();
}

static void fork_parent(void)
{
	_hk_shard_fork_parent();
	_hk_dropin_checked_fork_parent();
}

static void fork_child(void)
{
	_hk_shard_fork_child();
	_hk_dropin_checked_fork_child();
}
#else
#define fork_prepare _hk_shard_fork_prepare
#define fork_parent _hk_shard_fork_parent
#define fork_child _hk_shard_fork_child
#endif

__attribute__((constructor)) static void dropin_init(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* --- Alignment rules -------------------------------------------------------------------- */

/* memalign's: a non-power-of-two is rounded up; too large is EINVAL. */
static void *memalign_glibc(size_t align, size_t size)
{
	if (align <= HK_MIN_ALIGN)
		return dropin_malloc(size);
	if (align > SIZE_MAX / 2 + 1) {
		errno = EINVAL;
		return NULL;
	}
	if (!hk_is_pow2(align))
		align = (size_t)1 << hk_log2_up(align);
	return dropin_memalign(align, size);
}

static size_t page_size(void)
{
	return HK_PAGE_SIZE;
}

/* --- The exported malloc family ---------------------------------------------------------- */

HK_EXPORT void *malloc(size_t size) { return dropin_malloc(size); }

HK_EXPORT void free(void *p) { dropin_free(p); }

HK_EXPORT void cfree(void *p) { free(p); }
HK_EXPORT void *calloc(size_t n, size_t size) { return dropin_calloc(n, size); }
HK_EXPORT void *realloc(void *p, size_t size) { return dropin_realloc(p, size); }

HK_EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
	size_t total;
	if (hk_mul_overflows(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return dropin_realloc(p, total);
}

HK_EXPORT void *memalign(size_t align, size_t size) { return memalign_glibc(align, size); }
HK_EXPORT void *aligned_alloc(size_t align, size_t size) { return memalign_glibc(align, size); }

HK_EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
	if (align % sizeof(void *) || !hk_is_pow2(align))
		return EINVAL;
	int saved = errno;
	void *p = align <= HK_MIN_ALIGN ? dropin_malloc(size) : dropin_memalign(align, size);
	errno = saved;
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

HK_EXPORT void *valloc(size_t size) { return memalign_glibc(page_size(), size); }

HK_EXPORT void *pvalloc(size_t size)
{
	size_t ps = page_size();
	if (size > SIZE_MAX - ps) {
		errno = ENOMEM;
		return NULL;
	}
	size_t rounded = size ? hk_align_up(size, ps) : ps;
	return memalign_glibc(ps, rounded);
}

HK_EXPORT size_t malloc_usable_size(void *p) { return dropin_usable(p); }

/* glibc's internal names, which some programs and libraries call directly. */
HK_EXPORT void *__libc_malloc(size_t size) { return malloc(size); }
HK_EXPORT void __libc_free(void *p) { free(p); }
HK_EXPORT void __libc_cfree(void *p) { free(p); }
HK_EXPORT void *__libc_calloc(size_t n, size_t size) { return calloc(n, size); }
HK_EXPORT void *__libc_realloc(void *p, size_t size) { return realloc(p, size); }
HK_EXPORT void *__libc_memalign(size_t align, size_t size) { return memalign(align, size); }
HK_EXPORT void *__libc_valloc(size_t size) { return valloc(size); }
HK_EXPORT void *__libc_pvalloc(size_t size) { return pvalloc(size); }
HK_EXPORT int __posix_memalign(void **out, size_t align, size_t size) { return posix_memalign(out, align, size); }
