// SPDX-License-Identifier: MIT
/* The platform seam on hosted Linux: mmap, pthreads, errno, stderr. */
#define _GNU_SOURCE
#include "core/internal.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* --- Pages from the OS ---------------------------------------------------
 * The seam owns the calls that change errno (mmap, munmap, madvise, mremap),
 * so every function here leaves errno as it found it: free and its slow paths
 * keep the caller's errno, and a failed map is reported by its NULL (the
 * front end sets ENOMEM). */

/* Map len bytes aligned to align: over-map by align, trim both ends. */
static void *os_map_raw(struct hk_page_source *s, size_t len, size_t align)
{
	(void)s;
	if (align <= HK_PAGE_SIZE) {
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		return p == MAP_FAILED ? NULL : p;
	}
	if (len + align < len)
		return NULL;
	char *raw = mmap(NULL, len + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	char *p = (char *)hk_align_up((uintptr_t)raw, align);
	if (p > raw)
		munmap(raw, (size_t)(p - raw));
	size_t tail = (size_t)(raw + len + align - (p + len));
	if (tail)
		munmap(p + len, tail);
	return p;
}

static void *os_map(struct hk_page_source *s, size_t len, size_t align)
{
	int saved = errno;
	void *p = os_map_raw(s, len, align);
	errno = saved;
	return p;
}

static void os_unmap(struct hk_page_source *s, void *p, size_t len)
{
	(void)s;
	int saved = errno;
	munmap(p, len);
	errno = saved;
}

/* Resize in place when the addresses after p are free, else move the pages
 * (no copy) onto a fresh aligned range. */
static void *os_remap(struct hk_page_source *s, void *p, size_t old_len, size_t new_len, size_t align)
{
	int saved = errno;
	void *q = mremap(p, old_len, new_len, 0);
	if (q == MAP_FAILED) {
		void *dst = os_map_raw(s, new_len, align);
		q = dst ? mremap(p, old_len, new_len, MREMAP_MAYMOVE | MREMAP_FIXED, dst) : NULL;
		if (q == MAP_FAILED) {
			munmap(dst, new_len);
			q = NULL;
		}
	}
	errno = saved;
	return q;
}

static void os_purge(struct hk_page_source *s, void *p, size_t len)
{
	(void)s;
	int saved = errno;
	madvise(p, len, MADV_DONTNEED);
	errno = saved;
}

static int os_protect(struct hk_page_source *s, void *p, size_t len, int rw)
{
	(void)s;
	int saved = errno;
	int rc = mprotect(p, len, rw ? PROT_READ | PROT_WRITE : PROT_NONE);
	errno = saved;
	return rc == 0 ? 0 : -1;
}

static struct hk_page_source os_pages = { os_map, os_unmap, NULL, os_remap, os_purge, os_protect };

struct hk_page_source *_hk_os_pages(void) { return &os_pages; }

/* --- Threads ------------------------------------------------------------- */

#if !(defined(HK_SHARD_SINGLE) && HK_SHARD_SINGLE)   /* (there shard.c defines it, starting at its empty heap) */
__thread void *_hk_tls_slot __attribute__((tls_model("initial-exec")));
#endif

static pthread_key_t exit_key;
static void (*exit_fn)(void *);
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static int exit_ok;

static void exit_trampoline(void *arg)
{
	exit_fn(arg);
}

static void exit_key_create(void)
{
	exit_ok = pthread_key_create(&exit_key, exit_trampoline) == 0;
}

int _hk_thread_exit_init(void (*fn)(void *arg))
{
	if (!__atomic_load_n(&exit_fn, __ATOMIC_ACQUIRE))
		__atomic_store_n(&exit_fn, fn, __ATOMIC_RELEASE);
	pthread_once(&exit_once, exit_key_create);
	return exit_ok ? 0 : -1;
}

int _hk_thread_exit_arm(void *arg)
{
	if (!exit_ok)
		return -1;
	return pthread_setspecific(exit_key, arg) == 0 ? 0 : -1;
}

void _hk_yield(void) { sched_yield(); }

/* --- Errors -------------------------------------------------------------- */

void _hk_set_errno(int e) { errno = e; }

void _hk_write_error(const char *msg, size_t len)
{
	while (len) {
		ssize_t n = write(2, msg, len);
		if (n <= 0)
			return;
		msg += n;
		len -= (size_t)n;
	}
}

void _hk_abort(void) { abort(); }
