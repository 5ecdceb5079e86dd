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

/* free keeps errno: the platform seam saves it around munmap/madvise/mremap (src/platform/hosted.c). */
#include "core/annotate.h"
#include "core/semantics.h"
#include "shard/shard.h"
#include "override/options.h"

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#if defined(HK_DROPIN_CHECKED) && HK_DROPIN_CHECKED
#include "checked/checked.h"
#endif

#define HK_EXPORT __attribute__((visibility("default")))


/* --- The two back ends: shard directly, or the checked instance ----------------------- */

#if defined(HK_DROPIN_CHECKED) && HK_DROPIN_CHECKED

static hk_alloc_t *checked(void)
{
	hk_alloc_t *a = _hk_dropin_checked();
	if (hk_unlikely(!a))
		_hk_fatal("heapkit drop-in: no checked instance", NULL);
	return a;
}

/* malloc(0): a block of zero usable bytes (hk_malloc would ask for 1) */
static inline void *dropin_malloc(size_t size) { return _hk_checked_alloc_as(checked(), 0, size, HK_FORM_MALLOC); }
static inline void dropin_free(void *p)
{
	int saved = errno;
	hk_free(checked(), p);
	errno = saved;
}
static inline size_t dropin_usable(void *p) { return hk_usable_size(checked(), p); }
/* The family's operations (see below): requests already valid. */
static void *dropin_zalloc(void *ctx, size_t size) { return (void)ctx, hk_calloc(checked(), 1, size); }
static void *dropin_resize(void *ctx, void *p, size_t size) { return (void)ctx, hk_realloc(checked(), p, size); }
static void *dropin_aligned(size_t align, size_t size) { return hk_memalign(checked(), align, size); }
/* calloc(0), memalign(a, 0): zero usable bytes too */
static size_t dropin_zero_size(void *ctx) { return (void)ctx, 0; }
#define DROPIN_ZERO_SIZE dropin_zero_size

#else

#include "override/fast.h"   /* dropin_malloc, dropin_free */

/* calloc(0): as malloc(0), an address nothing may touch (zero_trap), else 1 byte */
static size_t dropin_zero_size(void *ctx) { return (void)ctx, OS->zero_trap ? 0 : 1; }
#define DROPIN_ZERO_SIZE dropin_zero_size

static inline size_t dropin_usable(void *p)
{
	return p ? _hk_shard_usable(OS, p) : 0;
}

/* The family's operations (see below): requests already valid (core/semantics.h). */
static void *dropin_zalloc(void *ctx, size_t size)
{
	(void)ctx;
	_hk_shard_os_ensure();
	void *p = _hk_shard_calloc(OS, size);
	if (p)
		HK_ANNOTATE_MALLOC(p, size, 1);
	return p;
}

/* p != NULL, 1 <= size <= HK_MAX_REQUEST: in place when it fits, a huge block in its mapping, else moved. */
static void *dropin_resize(void *ctx, void *p, size_t size)
{
	(void)ctx;
	size_t old = _hk_shard_usable_op(OS, p, "realloc");   /* judges p: a bad pointer aborts here */
	if (size <= old && size >= old / 2) {
		HK_ANNOTATE_RESIZE(p, old, size);
		return p;
	}
	if (size > OS->large_max && old && ((uintptr_t)p & ~OS_SEG_MASK) == 0) {
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

/* align: a power of two above HK_MIN_ALIGN, within the limits. */
static void *dropin_aligned(size_t align, size_t size)
{
	if (!_hk_shard_os_ensure())
		return NULL;
	void *p = _hk_shard_memalign(OS, align, size);
	if (p)
		HK_ANNOTATE_MALLOC(p, size, 0);
	return p;
}

#endif

/* --- glibc's rules (core/semantics.h) over the back end ------------------------------------ */

static void *family_malloc(void *ctx, size_t size) { return (void)ctx, dropin_malloc(size); }
static void family_free(void *ctx, void *p) { (void)ctx, dropin_free(p); }
/* Blocks over 8 bytes are HK_MIN_ALIGN-aligned already: a smaller alignment is a malloc. */
static void *family_memalign(void *ctx, size_t align, size_t size)
{
	(void)ctx;
	return align <= HK_MIN_ALIGN ? dropin_malloc(hk_small_align_size(align, size)) : dropin_aligned(align, size);
}

/* A failed request: a line on stderr with HEAPKIT_SHOW_ERRORS=1 (options.c). */
static hk_noinline void dropin_failed(void *ctx, size_t size, int err)
{
	(void)ctx;
	_hk_options_report_failure(size, err);
}

/* Failures reported, not counted; non-power-of-two alignments rounded up (glibc 2.36). */
static const struct hk_family dropin_family = {
	.malloc = family_malloc,
	.calloc = dropin_zalloc,
	.memalign = family_memalign,
	.realloc = dropin_resize,
	.free = family_free,
	.failed = dropin_failed,
	.round_align = true,
	.zero_size = DROPIN_ZERO_SIZE,
};

static void *dropin_calloc(size_t n, size_t size) { return hk_family_calloc(&dropin_family, NULL, n, size); }
static void *dropin_realloc(void *p, size_t size) { return hk_family_realloc(&dropin_family, NULL, p, size); }
/* glibc's memalign and aligned_alloc. */
static void *dropin_memalign(size_t align, size_t size) { return hk_family_memalign(&dropin_family, NULL, align, size); }

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
static void purge_thread_forget(void);
static void fork_child(void)
{
	_hk_shard_fork_child();
	purge_thread_forget();
}
#endif

/* --- Purging while the program runs ------------------------------------------------------
 *
 * shard's purge policy (src/shard/page.c) needs a clock, and, so that memory
 * goes back even when every thread that freed it stays idle, someone to scan
 * when no thread calls the allocator: a purge thread, started the first time
 * purge work appears (at a safe point of a slow path, see purge_safe_point),
 * that scans every purge delay while work is pending and sleeps on a
 * condition variable otherwise. It blocks every signal and allocates nothing.
 * HEAPKIT_PURGE_THREAD=0: no thread; scans then run only from the slow paths.
 */
#if !(defined(HK_DROPIN_CHECKED) && HK_DROPIN_CHECKED)
static uint64_t dropin_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static pthread_mutex_t purge_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t purge_cv = PTHREAD_COND_INITIALIZER;
static int purge_started;   /* purge_mu: 0 none, 1 running, -1 could not start */
static int purge_kicked;    /* purge_mu */

static void purge_sleep_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void *purge_main(void *arg)
{
	(void)arg;
	for (;;) {
		purge_sleep_ms(OS->purge_delay_ms);
		if (_hk_shard_purge_due(OS))
			continue;
		pthread_mutex_lock(&purge_mu);
		while (!purge_kicked)
			pthread_cond_wait(&purge_cv, &purge_mu);
		purge_kicked = 0;
		pthread_mutex_unlock(&purge_mu);
	}
	return NULL;
}

/* shard's purge_wake: at a safe point of a slow path (may allocate: pthread_create). */
static void dropin_purge_wake(void)
{
	int saved = errno;
	pthread_mutex_lock(&purge_mu);
	if (purge_started == 0) {
		pthread_attr_t attr;
		pthread_t t;
		sigset_t all, old;
		purge_started = -1;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, 64 << 10);
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		if (pthread_create(&t, &attr, purge_main, NULL) == 0) {
			purge_started = 1;
			pthread_setname_np(t, "heapkit-purge");
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		pthread_attr_destroy(&attr);
	}
	purge_kicked = 1;
	pthread_cond_signal(&purge_cv);
	pthread_mutex_unlock(&purge_mu);
	errno = saved;
}

/* In a fork child: the thread is gone; start another when work appears. */
static void purge_thread_forget(void)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	purge_mu = mu;
	purge_cv = cv;
	purge_kicked = 0;
	if (purge_started == 1)
		purge_started = 0;
}

/* --- Options, verbose and statistics (options.c: HEAPKIT_*) -------------------------------- */

/* The options in force on the OS instance; the purge thread only if asked. */
static void dropin_options_apply(void)
{
	_hk_options_init();
	_hk_shard_os_ensure();
	/* the fast paths count nothing (fast.h): the statistics shown at exit come from the slow paths */
	if (_hk_option(HK_OPT_SHOW_STATS))
		_hk_shard_count_all(OS);
	long long delay = _hk_option(HK_OPT_PURGE_DELAY);
	OS->cache_max = (size_t)_hk_option(HK_OPT_SEGMENT_CACHE);
	OS->cache_delay_ms = (uint32_t)_hk_option(HK_OPT_CACHE_DELAY);
	OS->huge_cache_max = (size_t)_hk_option(HK_OPT_HUGE_CACHE);
	OS->purge_never = delay < 0;
	OS->purge_delay_ms = delay > 0 ? (uint32_t)delay : 1;
	OS->purge_wake = _hk_option(HK_OPT_PURGE_THREAD) && delay >= 0 ? dropin_purge_wake : NULL;
#if HK_HARDEN >= 1
	/* (a malloc(0) address is told from a block by the judge, which HK_HARDEN=0 does not run) */
	OS->zero_trap = _hk_option(HK_OPT_ZERO_TRAP) && OS->judge == SHARD_JUDGE_MAP;
#endif
	if (_hk_option(HK_OPT_FAULT_REPORT))
		_hk_fault_namer_add(_hk_shard_fault_name);
	__atomic_store_n(&OS->clock_ms, dropin_clock_ms, __ATOMIC_RELEASE);
	long long reserve = _hk_option(HK_OPT_RESERVE);
	if (reserve > 0) {
		size_t want = ((size_t)reserve + OS->seg_size - 1) / OS->seg_size;
		size_t got = _hk_shard_reserve(OS, want);
		if (got < want) {
			struct hk_line l = { .n = 0 };
			_hk_line_str(&l, "heapkit: HEAPKIT_RESERVE: mapped ");
			_hk_line_u64(&l, got);
			_hk_line_str(&l, " of ");
			_hk_line_u64(&l, want);
			_hk_line_str(&l, " segments");
			_hk_line_flush(&l);
		}
	}
	if (_hk_option(HK_OPT_VERBOSE)) {
		struct hk_line l = { .n = 0 };
		_hk_line_str(&l, "heapkit: libheapkit.so ");
		_hk_line_str(&l, hk_version());
		_hk_line_str(&l, " (shard over OS pages: segments ");
		_hk_line_bytes(&l, OS->seg_size);
		_hk_line_str(&l, ", pages ");
		_hk_line_bytes(&l, (uint64_t)1 << OS->page_shift);
		_hk_line_str(&l, ", huge above ");
		_hk_line_bytes(&l, OS->large_max);
		_hk_line_str(&l, ") loaded in pid ");
		_hk_line_u64(&l, (uint64_t)getpid());
		_hk_line_flush(&l);
		_hk_line_str(&l, "heapkit: options (HEAPKIT_*):");
		_hk_line_flush(&l);
		_hk_options_print();
	}
}

/* One statistics line: label, then values. */
static void stat_line(const char *label, const char *a, uint64_t va, const char *b, uint64_t vb, int bytes)
{
	struct hk_line l = { .n = 0 };
	_hk_line_str(&l, "heapkit: ");
	_hk_line_str(&l, label);
	_hk_line_pad(&l, 30);
	_hk_line_str(&l, a);
	if (bytes)
		_hk_line_bytes(&l, va);
	else
		_hk_line_u64(&l, va);
	if (b) {
		_hk_line_str(&l, b);
		if (bytes)
			_hk_line_bytes(&l, vb);
		else
			_hk_line_u64(&l, vb);
	}
	_hk_line_flush(&l);
}

/* HEAPKIT_SHOW_STATS=1: what the instance did, at exit. Walks the segments under the lock; allocates nothing. */
static void dropin_show_stats(void)
{
	struct shard *sh = OS;
	struct hk_stats st;
	uint64_t live[SHARD_NR_BINS] = { 0 }, pages[SHARD_NR_BINS] = { 0 };
	size_t segs = 0, small = 0, large = 0, abandoned = 0, slots_free = 0;
	if (!sh->src)
		return;
	hk_stats_get(&sh->base, &st);
	hk_lock(&sh->lock);
	for (struct shard_segment *seg = sh->segments; seg; seg = seg->all_next) {
		segs++;
		if (seg->kind == SEG_SMALL)
			small++;
		else
			large++;
		if (__atomic_load_n(&seg->owner, __ATOMIC_RELAXED) == SEG_ABANDONED)
			abandoned++;
		for (unsigned i = 0; i < seg->nr_pages; i++) {
			struct shard_page *pg = &seg->pages[i];
			if (!pg->bin) {
				slots_free++;
				continue;
			}
			if (page_flags(pg) & PAGE_CONT)
				continue;
			pages[pg->bin]++;
			live[pg->bin] += __atomic_load_n(&pg->used, __ATOMIC_RELAXED);
		}
	}
	size_t cached = sh->nr_cached, huge_cached = sh->nr_huge_cached, huge_cached_bytes = sh->huge_cached_bytes;
	hk_unlock(&sh->lock);
	struct hk_line l = { .n = 0 };
	_hk_line_str(&l, "heapkit: statistics of libheapkit.so ");
	_hk_line_str(&l, hk_version());
	_hk_line_str(&l, ", pid ");
	_hk_line_u64(&l, (uint64_t)getpid());
	_hk_line_flush(&l);
	stat_line("memory in use", "now ", st.bytes_in_use, ", peak ", st.peak_bytes, 1);
	stat_line("blocks", "allocated ", st.nr_allocs, ", freed ", st.nr_frees, 0);
	stat_line("cross-thread frees", "collected ", _hk_shard_xthread_count(sh),
		  NULL, 0, 0);
	stat_line("segments (4 MiB)", "live ", segs, ", small ", small, 0);
	stat_line("", "large ", large, ", abandoned ", abandoned, 0);
	stat_line("", "free page slots ", slots_free, ", cached empty ", cached, 0);
	stat_line("OS mappings", "segments mapped ", sh->ctr.seg_maps, ", unmapped ", sh->ctr.seg_unmaps, 0);
	stat_line("", "segment cache hits ", sh->ctr.cache_hits, ", huge mapped ", sh->ctr.huge_maps, 0);
	stat_line("", "abandoned at thread exit ", sh->ctr.abandons, ", reclaimed ", sh->ctr.reclaims, 0);
	stat_line("huge blocks", "live ", sh->huge_live, ", bytes ", sh->huge_bytes, 0);
	stat_line("", "cache hits ", sh->ctr.huge_cache_hits, ", cached now ", huge_cached, 0);
	stat_line("", "cached bytes ", huge_cached_bytes, NULL, 0, 1);
	stat_line("purge", "scans ", sh->ctr.purge_scans, ", madvise calls ", sh->ctr.purge_calls, 0);
	stat_line("", "bytes purged ", sh->ctr.purged_bytes, NULL, 0, 1);
	_hk_line_str(&l, "heapkit: per size class (blocks in use / pages):");
	_hk_line_flush(&l);
	for (unsigned b = 1; b < SHARD_NR_BINS; b++) {
		if (!pages[b])
			continue;
		_hk_line_str(&l, "heapkit:   ");
		_hk_line_u64(&l, shard_bin_size(b));
		_hk_line_str(&l, " B");
		_hk_line_pad(&l, 22);
		_hk_line_u64(&l, live[b]);
		_hk_line_str(&l, " / ");
		_hk_line_u64(&l, pages[b]);
		_hk_line_flush(&l);
	}
}

__attribute__((destructor)) static void dropin_fini(void)
{
	if (_hk_option(HK_OPT_SHOW_STATS))
		dropin_show_stats();
}

static void dropin_purge_init(void) { dropin_options_apply(); }
#else
static void dropin_purge_init(void) { _hk_options_init(); }
#endif

__attribute__((constructor)) static void dropin_init(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	dropin_purge_init();
}

/* --- The exported malloc family ---------------------------------------------------------- */

/*
 * A malloc that failed (shard's slow path set errno): reported with
 * HEAPKIT_SHOW_ERRORS=1, without its size, which malloc would have to keep
 * across the slow call at a cost of 3 instructions on every fast path.
 */
static hk_noinline __attribute__((cold)) void *dropin_malloc_failed(void)
{
	dropin_failed(NULL, HK_FAILED_SIZE_UNKNOWN, HK_ENOMEM);
	return NULL;
}

HK_EXPORT void *malloc(size_t size)
{
	void *p = dropin_malloc(size);
	return hk_likely(p != NULL) ? p : dropin_malloc_failed();
}

HK_EXPORT void free(void *p) { dropin_free(p); }

HK_EXPORT void cfree(void *p) { free(p); }
HK_EXPORT void *calloc(size_t n, size_t size) { return dropin_calloc(n, size); }
HK_EXPORT void *realloc(void *p, size_t size) { return dropin_realloc(p, size); }

HK_EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
	return hk_family_reallocarray(&dropin_family, NULL, p, n, size);
}

HK_EXPORT void *memalign(size_t align, size_t size) { return dropin_memalign(align, size); }
HK_EXPORT void *aligned_alloc(size_t align, size_t size) { return dropin_memalign(align, size); }

/* Returns the code; errno is kept. */
HK_EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
	int saved = errno;
	int rc = hk_family_posix_memalign(&dropin_family, NULL, out, align, size);
	errno = saved;
	return rc;
}

HK_EXPORT void *valloc(size_t size) { return hk_family_valloc(&dropin_family, NULL, size); }
HK_EXPORT void *pvalloc(size_t size) { return hk_family_pvalloc(&dropin_family, NULL, size); }

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
