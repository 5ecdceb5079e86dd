// SPDX-License-Identifier: MIT
/*
 * Shared inside the library: constants, bit tricks, the lock, graded
 * assertions and fatal reports. Backends include this and nothing from libc
 * but <string.h>'s memcpy/memset/memmove.
 */
#ifndef HK_CORE_INTERNAL_H
#define HK_CORE_INTERNAL_H

#include <heapkit.h>
#include <heapkit/backend.h>
#include <heapkit/platform.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* --- Constants ---------------------------------------------------------------
 * Base shifts; everything else derives from them. */
#define HK_PAGE_SHIFT 12                         /* 4 KiB pages */
#define HK_WORD_SIZE sizeof(void *)              /* 8 on 64-bit */
#define HK_MIN_ALIGN 16u                         /* every malloc block of 9 bytes or more: max_align_t */
#define HK_TINY_ALIGN 8u                         /* a block of 8 bytes or fewer may be aligned only so far */
_Static_assert(HK_BLOCK_ALIGN(HK_TINY_ALIGN) == HK_TINY_ALIGN && HK_BLOCK_ALIGN(HK_TINY_ALIGN + 1) == HK_MIN_ALIGN,
	       "the public alignment contract (heapkit.h)");
_Static_assert((1u << HK_PAGE_SHIFT) == HK_PAGE_SIZE, "page shift and size agree");
_Static_assert(HK_MIN_ALIGN >= 2 * sizeof(void *), "blocks hold two words");

/*
 * What to ask malloc for when align <= HK_MIN_ALIGN is wanted: a block of
 * HK_TINY_ALIGN bytes or fewer may be only that far aligned (shard's 8-byte
 * class), so a larger alignment asks for a 16-byte block.
 */
static inline size_t hk_small_align_size(size_t align, size_t size)
{
	return align > HK_TINY_ALIGN && size <= HK_TINY_ALIGN ? HK_MIN_ALIGN : size;
}

/* --- Compiler helpers ---------------------------------------------------- */
#define hk_likely(x) __builtin_expect(!!(x), 1)
#define hk_unlikely(x) __builtin_expect(!!(x), 0)
#define hk_noinline __attribute__((noinline))
#define hk_inline static inline __attribute__((always_inline))
#define hk_container_of(p, type, field) ((type *)((char *)(p) - offsetof(type, field)))

/* --- Bits ---------------------------------------------------------------- */
static inline bool hk_is_pow2(size_t x) { return x && !(x & (x - 1)); }
static inline uintptr_t hk_align_up(uintptr_t x, size_t a) { return (x + a - 1) & ~(uintptr_t)(a - 1); }
static inline uintptr_t hk_align_down(uintptr_t x, size_t a) { return x & ~(uintptr_t)(a - 1); }
/* Index of the highest set bit; x != 0. */
static inline unsigned hk_log2(size_t x) { return (unsigned)(sizeof(size_t) * 8 - 1 - (unsigned)__builtin_clzl(x)); }
/* Smallest k with 2^k >= x; x != 0. */
static inline unsigned hk_log2_up(size_t x) { return x <= 1 ? 0 : hk_log2(x - 1) + 1; }
static inline unsigned hk_ctz(size_t x) { return (unsigned)__builtin_ctzl(x); }
/* a * b, or false on overflow. */
static inline bool hk_mul_overflows(size_t a, size_t b, size_t *out) { return __builtin_mul_overflow(a, b, out); }

/* Tell the CPU we are spinning. */
static inline void hk_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

/* --- The lock -----------------------------------------------------------
 * A test-and-test-and-set spinlock that yields while it waits, so it makes
 * progress on a cooperative single-CPU scheduler. One word, zero is unlocked. */
typedef struct { unsigned v; } hk_lock_t;
#define HK_LOCK_INIT { 0 }

static inline void hk_lock(hk_lock_t *l)
{
	for (;;) {
		if (!__atomic_exchange_n(&l->v, 1u, __ATOMIC_ACQUIRE))
			return;
		for (int spins = 0; __atomic_load_n(&l->v, __ATOMIC_RELAXED); spins++) {
			if (spins < 64)
				hk_cpu_relax();
			else
				_hk_yield();
		}
	}
}
static inline bool hk_trylock(hk_lock_t *l) { return !__atomic_exchange_n(&l->v, 1u, __ATOMIC_ACQUIRE); }
static inline void hk_unlock(hk_lock_t *l) { __atomic_store_n(&l->v, 0u, __ATOMIC_RELEASE); }
/* Around fork: take the lock (take) or let it go. */
static inline void hk_lock_hold(hk_lock_t *l, bool take)
{
	if (take)
		hk_lock(l);
	else
		hk_unlock(l);
}

/* --- Fatal reports ------------------------------------------------------
 * "heapkit: <what> at 0x<addr>" on the error console, then abort. Formats
 * without printf or allocation, so it is safe inside the allocator. */
__attribute__((noreturn, cold)) void _hk_fatal(const char *what, const void *addr);
/* The same line without aborting (for reports that let the caller decide). */
void _hk_report(const char *what, const void *addr);
/* Build such a line: append s, v as 0x<hex> or v in decimal, to buf at *n, leaving room for a final newline. */
void _hk_put(char *buf, size_t cap, size_t *n, const char *s);
void _hk_put_hex(char *buf, size_t cap, size_t *n, uintptr_t v);
void _hk_put_dec(char *buf, size_t cap, size_t *n, uint64_t v);

/* --- Graded assertions --------------------------------------------------
 * HK_ASSERT_LEVEL: 0 off, 1 cheap (hk_assert), 2 internal, 3 expensive.
 * Debug builds default to 2, release to 0. */
#ifndef HK_ASSERT_LEVEL
#ifdef NDEBUG
#define HK_ASSERT_LEVEL 0
#else
#define HK_ASSERT_LEVEL 2
#endif
#endif
#define HK_STR2(x) #x
#define HK_STR(x) HK_STR2(x)
#define hk_assert_at(level, cond) \
	((HK_ASSERT_LEVEL >= (level) && hk_unlikely(!(cond))) \
		 ? _hk_fatal("assertion failed: " #cond " (" __FILE__ ":" HK_STR(__LINE__) ")", NULL) \
		 : (void)0)
#define hk_assert(cond) hk_assert_at(1, cond)
#define hk_assert_internal(cond) hk_assert_at(2, cond)
#define hk_assert_expensive(cond) hk_assert_at(3, cond)

#endif /* HK_CORE_INTERNAL_H */
