// SPDX-License-Identifier: MIT
/* The platform seam on hosted Linux: mmap, pthreads, errno, stderr. */
#define _GNU_SOURCE
#include "core/internal.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>
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

/* --- Addresses nothing may touch (malloc(0)) ------------------------------------
 * An arena is one reservation: a bitmap of the addresses freed (read-write,
 * its pages touched as used), then 16 MiB without access, never backed,
 * handed out 16 bytes at a time from the bottom up and never again. */
#define ZERO_ARENA ((size_t)16 << 20)
#define ZERO_BITMAP (ZERO_ARENA / HK_MIN_ALIGN / 8)   /* 128 KiB: a bit per address */
#define ZERO_ARENAS 64
static struct zero_arena {
	uintptr_t base;
	uint64_t *freed;
} zero_arenas[ZERO_ARENAS];
static unsigned nr_zero_arenas;                     /* published after the entry is set */
static uintptr_t zero_next, zero_end;               /* in the newest arena (zero_lock) */
static hk_lock_t zero_lock = HK_LOCK_INIT;

void *_hk_zero_alloc(void)
{
	void *p = NULL;
	hk_lock(&zero_lock);
	unsigned n = nr_zero_arenas;
	if (zero_next == zero_end && n < ZERO_ARENAS) {
		int saved = errno;
		char *m = mmap(NULL, ZERO_BITMAP + ZERO_ARENA, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m != MAP_FAILED && mprotect(m, ZERO_BITMAP, PROT_READ | PROT_WRITE) != 0) {
			munmap(m, ZERO_BITMAP + ZERO_ARENA);
			m = MAP_FAILED;
		}
		if (m != MAP_FAILED) {
			zero_arenas[n].freed = (uint64_t *)m;
			zero_arenas[n].base = (uintptr_t)m + ZERO_BITMAP;
			zero_next = zero_arenas[n].base;
			zero_end = zero_next + ZERO_ARENA;
			__atomic_store_n(&nr_zero_arenas, n + 1, __ATOMIC_RELEASE);
		}
		errno = saved;
	}
	if (zero_next < zero_end) {
		p = (void *)zero_next;
		zero_next += HK_MIN_ALIGN;
	}
	hk_unlock(&zero_lock);
	return p;
}

void _hk_zero_fork_lock(int take) { hk_lock_hold(&zero_lock, take != 0); }

/* The arena holding a, or NULL (no lock: entries are set before they are counted). */
static const struct zero_arena *zero_arena_of(uintptr_t a)
{
	unsigned n = __atomic_load_n(&nr_zero_arenas, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n; i++)
		if (a - zero_arenas[i].base < ZERO_ARENA)
			return &zero_arenas[i];
	return NULL;
}

/* What a is, given its arena z; bit and word say where its freed bit lies. */
static enum hk_zero zero_state_in(const struct zero_arena *z, uintptr_t a, uint64_t *bit, uint64_t **word)
{
	size_t i = (a - z->base) / HK_MIN_ALIGN;
	*bit = (uint64_t)1 << (i % 64);
	*word = &z->freed[i / 64];
	if (a % HK_MIN_ALIGN)
		return HK_ZERO_NEVER;
	/* (an address past the newest arena's cursor was never handed out) */
	if (z == &zero_arenas[__atomic_load_n(&nr_zero_arenas, __ATOMIC_ACQUIRE) - 1] &&
	    a >= __atomic_load_n(&zero_next, __ATOMIC_RELAXED))
		return HK_ZERO_NEVER;
	return (__atomic_load_n(*word, __ATOMIC_RELAXED) & *bit) ? HK_ZERO_FREED : HK_ZERO_LIVE;
}

enum hk_zero _hk_zero_state(uintptr_t a)
{
	const struct zero_arena *z = zero_arena_of(a);
	uint64_t bit, *word;
	return z ? zero_state_in(z, a, &bit, &word) : HK_ZERO_NOT_OURS;
}

enum hk_zero _hk_zero_free(const void *p)
{
	const struct zero_arena *z = zero_arena_of((uintptr_t)p);
	uint64_t bit, *word;
	if (!z)
		return HK_ZERO_NOT_OURS;
	enum hk_zero st = zero_state_in(z, (uintptr_t)p, &bit, &word);
	if (st == HK_ZERO_LIVE && (__atomic_fetch_or(word, bit, __ATOMIC_RELAXED) & bit))
		st = HK_ZERO_FREED;   /* another thread freed it first */
	return st;
}

/* --- Faults on heapkit's memory, named ------------------------------------------ */

#define FAULT_NAMERS 4
static void (*fault_namers[FAULT_NAMERS])(uintptr_t addr, unsigned access);
static unsigned nr_fault_namers;
static hk_lock_t fault_lock = HK_LOCK_INIT;

static void on_fault(int sig, siginfo_t *si, void *ctx)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	unsigned access = 0;
#if defined(__x86_64__)
	/* the page-fault error code: bit 1 a write, bit 4 an instruction fetch */
	greg_t err = ((ucontext_t *)ctx)->uc_mcontext.gregs[REG_ERR];
	access = ((err & 2) ? HK_FAULT_WRITE : 0) | ((err & 16) ? HK_FAULT_EXEC : 0);
	if ((uintptr_t)((ucontext_t *)ctx)->uc_mcontext.gregs[REG_RIP] == a)
		access |= HK_FAULT_EXEC;
#else
	(void)ctx;
#endif
	unsigned n = __atomic_load_n(&nr_fault_namers, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n; i++)
		fault_namers[i](a, access);
	/* Not heapkit's: as if the handler had never been there, when the access faults again. */
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
}

void _hk_fault_namer_add(void (*namer)(uintptr_t addr, unsigned access))
{
	hk_lock(&fault_lock);
	unsigned n = nr_fault_namers;
	if (n < FAULT_NAMERS) {
		fault_namers[n] = namer;
		__atomic_store_n(&nr_fault_namers, n + 1, __ATOMIC_RELEASE);
	}
	if (n == 0) {
		struct sigaction old, sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = on_fault;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSEGV, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL)
			sigaction(SIGSEGV, &sa, NULL);
	}
	hk_unlock(&fault_lock);
}
