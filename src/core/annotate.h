// SPDX-License-Identifier: MIT
/*
 * Announcing blocks to memory checkers. In builds that ask for it
 * (HK_VALGRIND=1: valgrind client requests; HK_ASAN=1 in a build compiled
 * with -fsanitize=address: ASan poisoning) the layer that hands blocks to the
 * application (src/core/api.c for instances, src/override for the drop-in)
 * calls these; elsewhere they expand to nothing and cost nothing.
 *
 *   HK_ANNOTATE_MALLOC(p, size, zeroed)  p was just handed out for size bytes
 *   HK_ANNOTATE_FREE(p, size)            p (size bytes) was just given back;
 *                                        size may be left out (valgrind only)
 *   HK_ANNOTATE_RESIZE(p, old, new)      p kept its address, size changed
 *   HK_ANNOTATE_REUSE(p, size)           the allocator takes a freed block
 *                                        back for its own use (free-list
 *                                        links, headers): make it accessible
 *   HK_ANNOTATE_INTERNAL_BEGIN()/END()   around allocator code that may touch
 *                                        freed blocks or read a neighbour's
 *                                        bytes (valgrind: no reports there);
 *                                        expressions, they nest
 *
 * A freed block is inaccessible until it is announced again, also to the
 * allocator itself: call HK_ANNOTATE_REUSE before the allocator writes into
 * it, or hold freed blocks back as the instance API does (a quarantine in
 * src/core/annotate.c gives them to the backend only when evicted).
 */
#ifndef HK_CORE_ANNOTATE_H
#define HK_CORE_ANNOTATE_H

#include <stddef.h>

/* --- Which checkers are on ------------------------------------------------ */

/* ASan only where the code is really compiled with it (not freestanding). */
#if defined(HK_ASAN) && HK_ASAN
#if defined(__SANITIZE_ADDRESS__)
#define HK_ANNOTATE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HK_ANNOTATE_ASAN 1
#endif
#endif
#endif
#ifndef HK_ANNOTATE_ASAN
#define HK_ANNOTATE_ASAN 0
#endif

#if defined(HK_VALGRIND) && HK_VALGRIND
#define HK_ANNOTATE_VALGRIND 1
#else
#define HK_ANNOTATE_VALGRIND 0
#endif

/* 1 when any checker is told about blocks (the instance API then quarantines). */
#define HK_ANNOTATE_ON (HK_ANNOTATE_ASAN || HK_ANNOTATE_VALGRIND)

#if HK_ANNOTATE_ASAN
#include <sanitizer/asan_interface.h>
#define hk_asan_poison(p, n) __asan_poison_memory_region((const volatile void *)(p), (n))
#define hk_asan_unpoison(p, n) __asan_unpoison_memory_region((const volatile void *)(p), (n))
#else
#define hk_asan_poison(p, n) ((void)(p), (void)(n))
#define hk_asan_unpoison(p, n) ((void)(p), (void)(n))
#endif

#if HK_ANNOTATE_VALGRIND
#include <valgrind/memcheck.h>
#define hk_vg_malloclike(p, n, zeroed) VALGRIND_MALLOCLIKE_BLOCK((p), (n), 0, (zeroed))
#define hk_vg_freelike(p) VALGRIND_FREELIKE_BLOCK((p), 0)
#define hk_vg_resize(p, old, new) VALGRIND_RESIZEINPLACE_BLOCK((p), (old), (new), 0)
#define hk_vg_defined(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#define hk_vg_quiet_begin() \
	((void)VALGRIND_DO_CLIENT_REQUEST_EXPR(0, VG_USERREQ__CHANGE_ERR_DISABLEMENT, 1, 0, 0, 0, 0))
#define hk_vg_quiet_end() \
	((void)VALGRIND_DO_CLIENT_REQUEST_EXPR(0, VG_USERREQ__CHANGE_ERR_DISABLEMENT, -1, 0, 0, 0, 0))
#else
#define hk_vg_malloclike(p, n, zeroed) ((void)(p), (void)(n), (void)(zeroed))
#define hk_vg_freelike(p) ((void)(p))
#define hk_vg_resize(p, old, new) ((void)(p), (void)(old), (void)(new))
#define hk_vg_defined(p, n) ((void)(p), (void)(n))
#define hk_vg_quiet_begin() ((void)0)
#define hk_vg_quiet_end() ((void)0)
#endif

/* --- The announcements ---------------------------------------------------- */

#define HK_ANNOTATE_MALLOC(p, size, zeroed) \
	do { \
		hk_asan_unpoison((p), (size)); \
		hk_vg_malloclike((p), (size), (zeroed)); \
	} while (0)

/* HK_ANNOTATE_FREE(p) or HK_ANNOTATE_FREE(p, size): the size is needed to poison. */
#define HK_ANNOTATE_FREE(...) HK_ANNOTATE_FREE_SIZED(__VA_ARGS__, 0, ~)
#define HK_ANNOTATE_FREE_SIZED(p, size, ...) \
	do { \
		hk_vg_freelike(p); \
		hk_asan_poison((p), (size)); \
	} while (0)

#define HK_ANNOTATE_RESIZE(p, old, new) \
	do { \
		size_t hk_old_ = (old), hk_new_ = (new); \
		hk_vg_resize((p), hk_old_, hk_new_); \
		if (hk_new_ < hk_old_) \
			hk_asan_poison((char *)(p) + hk_new_, hk_old_ - hk_new_); \
		else \
			hk_asan_unpoison((p), hk_new_); \
	} while (0)

#define HK_ANNOTATE_REUSE(p, size) \
	do { \
		hk_asan_unpoison((p), (size)); \
		hk_vg_defined((p), (size)); \
	} while (0)

#define HK_ANNOTATE_INTERNAL_BEGIN() hk_vg_quiet_begin()
#define HK_ANNOTATE_INTERNAL_END() hk_vg_quiet_end()

/*
 * A call into a backend, its value returned: under valgrind a backend may
 * read bytes it does not own (buddy probes a neighbour's tag; a neighbour may
 * sit poisoned in the quarantine), so errors inside it are not reported, the
 * application's are.
 */
#define HK_ANNOTATE_BACKEND(expr) \
	({ \
		HK_ANNOTATE_INTERNAL_BEGIN(); \
		__typeof__(expr) hk_backend_r_ = (expr); \
		HK_ANNOTATE_INTERNAL_END(); \
		hk_backend_r_; \
	})
#define HK_ANNOTATE_BACKEND_VOID(expr) \
	do { \
		HK_ANNOTATE_INTERNAL_BEGIN(); \
		expr; \
		HK_ANNOTATE_INTERNAL_END(); \
	} while (0)

/* --- The instance API in checker builds (src/core/annotate.c) ----------------
 * src/core/api.c routes the malloc family through these when HK_ANNOTATE_ON;
 * each takes requests already checked by api.c. */
#if HK_ANNOTATE_ON
struct hk_alloc;
/* malloc (align 0) or memalign, retried once after emptying the quarantine; zero: calloc. */
void *_hk_annot_alloc(struct hk_alloc *a, size_t align, size_t size, _Bool zero);
/* Poison p and hold it in the quarantine (or free it at once where free reclaims nothing). */
void _hk_annot_free(struct hk_alloc *a, void *p);
/* Keep p when it is big enough, else move it; p is untouched on failure. */
void *_hk_annot_realloc(struct hk_alloc *a, void *p, size_t size);
/* Give every held block back to the backend. */
void _hk_annot_flush(struct hk_alloc *a);
#endif

#endif /* HK_CORE_ANNOTATE_H */
