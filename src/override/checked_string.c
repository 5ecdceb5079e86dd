// SPDX-License-Identifier: MIT
/*
 * The checked drop-in's string functions: memcpy, mempcpy, memmove, memset,
 * strcpy, stpcpy, strncpy, strcat, strncat and their _FORTIFY_SOURCE forms
 * (__memcpy_chk, ...). Each one first asks the checked instance whether the
 * bytes it is about to write stay inside the destination block
 * (_hk_dropin_write_check: it aborts with the block, its size and the
 * overrun), then does the work with the C library's own function, looked up
 * once (dlsym RTLD_NEXT). Until that lookup is done (early in start-up) a
 * plain byte loop does it. Calls made inside the C library itself (its
 * hidden aliases) and copies the compiler inlined are not seen.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <string.h>

#include "core/internal.h"
#include "checked/checked.h"

#define HK_EXPORT __attribute__((visibility("default")))

/* --- The C library's functions ------------------------------------------------- */

typedef void *(*copy_fn)(void *, const void *, size_t);
typedef void *(*set_fn)(void *, int, size_t);

static copy_fn libc_memcpy, libc_memmove;
static set_fn libc_memset;
static __thread int resolving __attribute__((tls_model("initial-exec")));

/* Looked up once; NULL while not (yet) found. dlsym may copy: those copies take the byte loops. */
static void resolve(void)
{
	if (resolving)
		return;
	resolving = 1;
	copy_fn cpy = (copy_fn)dlsym(RTLD_NEXT, "memcpy");
	copy_fn mov = (copy_fn)dlsym(RTLD_NEXT, "memmove");
	set_fn set = (set_fn)dlsym(RTLD_NEXT, "memset");
	__atomic_store_n(&libc_memmove, mov, __ATOMIC_RELEASE);
	__atomic_store_n(&libc_memset, set, __ATOMIC_RELEASE);
	__atomic_store_n(&libc_memcpy, cpy, __ATOMIC_RELEASE);
	resolving = 0;
}

__attribute__((constructor(101))) static void string_init(void) { resolve(); }

/* Byte loops (volatile: the compiler must not turn them back into calls of these very functions). */
static void *bytes_move(void *d, const void *s, size_t n)
{
	volatile unsigned char *dp = d;
	const volatile unsigned char *sp = s;
	if (dp <= sp || dp >= sp + n) {
		for (size_t i = 0; i < n; i++)
			dp[i] = sp[i];
	} else {
		for (size_t i = n; i--;)
			dp[i] = sp[i];
	}
	return d;
}

static void *bytes_set(void *d, int c, size_t n)
{
	volatile unsigned char *dp = d;
	for (size_t i = 0; i < n; i++)
		dp[i] = (unsigned char)c;
	return d;
}

static inline void *do_copy(void *d, const void *s, size_t n)
{
	copy_fn f = __atomic_load_n(&libc_memcpy, __ATOMIC_ACQUIRE);
	if (hk_unlikely(!f)) {
		resolve();
		return bytes_move(d, s, n);
	}
	return f(d, s, n);
}

static inline void *do_move(void *d, const void *s, size_t n)
{
	copy_fn f = __atomic_load_n(&libc_memmove, __ATOMIC_ACQUIRE);
	return hk_likely(f != NULL) ? f(d, s, n) : bytes_move(d, s, n);
}

static inline void *do_set(void *d, int c, size_t n)
{
	set_fn f = __atomic_load_n(&libc_memset, __ATOMIC_ACQUIRE);
	return hk_likely(f != NULL) ? f(d, c, n) : bytes_set(d, c, n);
}

/* The length of s, up to max (strnlen without calling into what may not be looked up yet). */
static inline size_t len_upto(const char *s, size_t max)
{
	size_t n = 0;
	while (n < max && s[n])
		n++;
	return n;
}

/* _FORTIFY_SOURCE: the compiler knew the destination holds dlen bytes. */
extern void __chk_fail(void) __attribute__((noreturn));
static inline void fortify(size_t n, size_t dlen)
{
	if (hk_unlikely(n > dlen))
		__chk_fail();
}

#define CHECK(d, n, fn) _hk_dropin_write_check((d), (n), (fn))

/* --- The functions ------------------------------------------------------------ */

HK_EXPORT void *memcpy(void *d, const void *s, size_t n)
{
	CHECK(d, n, "memcpy");
	return do_copy(d, s, n);
}

HK_EXPORT void *mempcpy(void *d, const void *s, size_t n)
{
	CHECK(d, n, "mempcpy");
	return (char *)do_copy(d, s, n) + n;
}

HK_EXPORT void *memmove(void *d, const void *s, size_t n)
{
	CHECK(d, n, "memmove");
	return do_move(d, s, n);
}

HK_EXPORT void *memset(void *d, int c, size_t n)
{
	CHECK(d, n, "memset");
	return do_set(d, c, n);
}

HK_EXPORT char *strcpy(char *d, const char *s)
{
	size_t n = strlen(s) + 1;
	CHECK(d, n, "strcpy");
	return do_copy(d, s, n);
}

HK_EXPORT char *stpcpy(char *d, const char *s)
{
	size_t n = strlen(s);
	CHECK(d, n + 1, "stpcpy");
	do_copy(d, s, n + 1);
	return d + n;
}

/* strncpy writes exactly n bytes: the string, then zeros. */
HK_EXPORT char *strncpy(char *d, const char *s, size_t n)
{
	CHECK(d, n, "strncpy");
	size_t k = len_upto(s, n);
	do_copy(d, s, k);
	do_set(d + k, 0, n - k);
	return d;
}

HK_EXPORT char *strcat(char *d, const char *s)
{
	size_t at = strlen(d), n = strlen(s) + 1;
	CHECK(d + at, n, "strcat");
	do_copy(d + at, s, n);
	return d;
}

/* strncat writes at most n bytes of s and a terminating zero. */
HK_EXPORT char *strncat(char *d, const char *s, size_t n)
{
	size_t at = strlen(d), k = len_upto(s, n);
	CHECK(d + at, k + 1, "strncat");
	do_copy(d + at, s, k);
	d[at + k] = 0;
	return d;
}

/* --- Their _FORTIFY_SOURCE forms (dlen: what the compiler knows the destination holds) ------ */

HK_EXPORT void *__memcpy_chk(void *d, const void *s, size_t n, size_t dlen)
{
	fortify(n, dlen);
	return memcpy(d, s, n);
}

HK_EXPORT void *__mempcpy_chk(void *d, const void *s, size_t n, size_t dlen)
{
	fortify(n, dlen);
	return mempcpy(d, s, n);
}

HK_EXPORT void *__memmove_chk(void *d, const void *s, size_t n, size_t dlen)
{
	fortify(n, dlen);
	return memmove(d, s, n);
}

HK_EXPORT void *__memset_chk(void *d, int c, size_t n, size_t dlen)
{
	fortify(n, dlen);
	return memset(d, c, n);
}

HK_EXPORT char *__strcpy_chk(char *d, const char *s, size_t dlen)
{
	fortify(strlen(s) + 1, dlen);
	return strcpy(d, s);
}

HK_EXPORT char *__stpcpy_chk(char *d, const char *s, size_t dlen)
{
	fortify(strlen(s) + 1, dlen);
	return stpcpy(d, s);
}

HK_EXPORT char *__strncpy_chk(char *d, const char *s, size_t n, size_t dlen)
{
	fortify(n, dlen);
	return strncpy(d, s, n);
}

HK_EXPORT char *__strcat_chk(char *d, const char *s, size_t dlen)
{
	fortify(strlen(d) + strlen(s) + 1, dlen);
	return strcat(d, s);
}

HK_EXPORT char *__strncat_chk(char *d, const char *s, size_t n, size_t dlen)
{
	fortify(strlen(d) + len_upto(s, n) + 1, dlen);
	return strncat(d, s, n);
}
