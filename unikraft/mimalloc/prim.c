// SPDX-License-Identifier: MIT
/*
 * mimalloc's porting interface (its include/mimalloc/prim.h: the _mi_prim_*
 * functions) on Unikraft, over heapkit: no OS, no mmap, no pthread keys.
 * Written here; mimalloc's sources are compiled unpatched (Makefile.uk).
 *
 *   OS memory    blocks of a heapkit buddy instance (the "page pool") over
 *                the regions ukboot hands the boot allocator (create and
 *                addmem; see backend.c). Blocks come aligned as asked (a
 *                buddy block of 2^k pages is 2^k-page aligned), so mimalloc
 *                never over-allocates to align; memory is always committed
 *                (commit, decommit, reset and protect are no-ops) and there
 *                is no partial free.
 *   options      built-in values answered through _mi_prim_getenv (the
 *                documented way mimalloc reads its options); see options[].
 *   thread id    _hk_mi_thread_id (hkmi.h): 1 for the boot context before
 *                and after it gets its thread pointer, the thread pointer
 *                (%fs:0, the TCB self pointer) for every other context.
 *   thread exit  a uksched termination callback: mi_thread_done() on the
 *                exiting thread's TLS, so its pages go back (abandoned, to
 *                be reclaimed) before its stack and TLS are released.
 *   time         ukplat_monotonic_clock(); output uk_pr_warn(); no strong
 *                randomness (TCG has no RDSEED): mimalloc's weak seed.
 *
 * Thread-local state: mimalloc 2.1.7 has two thread-locals, its default heap
 * pointer (_mi_heap_default, 8 bytes, 8-aligned) and a bool (options.c):
 * both within Unikraft's TLS layout, which assumes 8-byte alignment (a
 * static assertion below checks the pointer). The default heap is read only
 * once TLS is live: before that backend.c passes mimalloc's main heap
 * explicitly (mi_heap_malloc & co.), so nothing runs before TLS exists but
 * mimalloc itself, on its statically allocated main heap.
 */
#include "mimalloc.h"
#include "mimalloc/internal.h"
#include "mimalloc/prim.h"

#include <errno.h>
#include <string.h>
#include <heapkit.h>
#include <uk/config.h>
#include <uk/print.h>
#include <uk/plat/tls.h>
#include <uk/plat/time.h>
#if CONFIG_LIBUKSCHED
#include <uk/thread.h>
#endif
#include "hkmi.h"
#include "mi_glue.h"

_Static_assert(sizeof(_mi_heap_default) == 8 && _Alignof(mi_heap_t *) <= 8,
	       "mimalloc's thread-local default heap fits Unikraft's 8-byte TLS alignment");

/* --- The page pool ---------------------------------------------------------- */

static hk_alloc_t *pool;   /* set once, before mimalloc's first request */

void _hk_mi_pool_set(hk_alloc_t *p) { pool = p; }

void _mi_prim_mem_init(mi_os_mem_config_t *config)
{
	config->page_size = HK_PAGE_SIZE;
	config->large_page_size = 0;
	config->alloc_granularity = HK_PAGE_SIZE;
	config->has_overcommit = false;
	config->has_partial_free = false;
	config->has_virtual_reserve = false;
}

int _mi_prim_alloc(size_t size, size_t try_alignment, bool commit, bool allow_large, bool *is_large,
		   bool *is_zero, void **addr)
{
	(void)commit;
	(void)allow_large;
	*is_large = false;
	*is_zero = false;
	*addr = pool ? hk_memalign(pool, try_alignment < HK_PAGE_SIZE ? HK_PAGE_SIZE : try_alignment, size)
		     : NULL;
	return *addr ? 0 : ENOMEM;
}

int _mi_prim_free(void *addr, size_t size)
{
	(void)size;
	hk_free(pool, addr);
	return 0;
}

int _mi_prim_commit(void *addr, size_t size, bool *is_zero)
{
	(void)addr;
	(void)size;
	*is_zero = false;
	return 0;
}

int _mi_prim_decommit(void *addr, size_t size, bool *needs_recommit)
{
	(void)addr;
	(void)size;
	*needs_recommit = false;
	return 0;
}

int _mi_prim_reset(void *addr, size_t size)
{
	(void)addr;
	(void)size;
	return 0;
}

int _mi_prim_protect(void *addr, size_t size, bool protect)
{
	(void)addr;
	(void)size;
	(void)protect;
	return 0;
}

int _mi_prim_alloc_huge_os_pages(void *hint_addr, size_t size, int numa_node, bool *is_zero, void **addr)
{
	(void)hint_addr;
	(void)size;
	(void)numa_node;
	*is_zero = false;
	*addr = NULL;
	return ENOMEM;
}

size_t _mi_prim_numa_node(void) { return 0; }
size_t _mi_prim_numa_node_count(void) { return 1; }

/* --- Time, process, output, options, randomness ------------------------------- */

mi_msecs_t _mi_prim_clock_now(void)
{
	return (mi_msecs_t)(ukplat_monotonic_clock() / 1000000u);
}

void _mi_prim_process_info(mi_process_info_t *pinfo)
{
	(void)pinfo; /* mimalloc's defaults: statistics only */
}

void _mi_prim_out_stderr(const char *msg)
{
	uk_pr_warn("mimalloc: %s", msg);
}

/*
 * mimalloc's options, as its environment would give them (MIMALLOC_NAME).
 *
 * arena_reserve: mimalloc 2.1.7 can reclaim an exited thread's abandoned
 * segments only when they lie in an arena (arena.c keeps the abandoned
 * bitmap per arena; a segment straight from the OS is merely counted and
 * stays until every block in it is freed and collected, which nothing does
 * once its thread is gone). Without arenas, every thread that exits holding
 * a live block leaves at least a segment behind: about 2 MiB per pthread in
 * app-test's churn, 260 MiB after 130 threads. So mimalloc reserves arenas
 * from the pool as it needs them: 32768 KiB asked, of which it takes a
 * quarter (8 MiB) when the OS has no virtual reserve (ours: the pool is
 * real memory); it doubles the size every 8 arenas. When the pool cannot
 * give an arena (a small guest), segments come from the pool directly, as
 * before. Unnamed options keep mimalloc's defaults.
 */
static const struct {
	const char *name;
	const char *value;
} options[] = {
	{ "MIMALLOC_ARENA_RESERVE", "32768" },
	{ "MIMALLOC_MAX_SEGMENT_RECLAIM", "100" },
	{ "MIMALLOC_ALLOW_LARGE_OS_PAGES", "0" },
	/* Its messages print through a thread-local guard: none before TLS. */
	{ "MIMALLOC_SHOW_ERRORS", "0" },
	{ "MIMALLOC_VERBOSE", "0" },
};

/* Environment names compare without case, as on Unix: mimalloc asks for "mimalloc_arena_reserve". */
static bool name_is(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = (*a >= 'a' && *a <= 'z') ? (char)(*a - 'a' + 'A') : *a;
		char y = (*b >= 'a' && *b <= 'z') ? (char)(*b - 'a' + 'A') : *b;

		if (x != y)
			return false;
	}
	return *a == *b;
}

bool _mi_prim_getenv(const char *name, char *result, size_t result_size)
{
	for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
		size_t n = strlen(options[i].value);

		if (!name_is(name, options[i].name) || n + 1 > result_size)
			continue;
		memcpy(result, options[i].value, n + 1);
		return true;
	}
	return false;
}

bool _mi_prim_random_buf(void *buf, size_t buf_len)
{
	(void)buf;
	(void)buf_len;
	return false; /* mimalloc falls back to its weak seed */
}

/* --- Threads ---------------------------------------------------------------------- */

/*
 * Invariant: while tp_live is false only the boot context runs (ukboot has
 * not loaded a thread pointer yet); the first call that sees a thread
 * pointer runs on the boot context too (the boot allocator serves the boot
 * context's own structures right after its TLS is set), and records it as
 * boot_tp. Both are written once.
 */
static bool tp_live;
static uintptr_t boot_tp;

static __attribute__((noinline)) size_t thread_id_slow(void)
{
	uintptr_t tp = ukplat_tlsp_get();

	if (!tp)
		return 1;
	boot_tp = tp;
	__atomic_store_n(&tp_live, true, __ATOMIC_RELEASE);
	return 1;
}

size_t _hk_mi_thread_id(void)
{
	uintptr_t tp;

	if (__builtin_expect(!__atomic_load_n(&tp_live, __ATOMIC_RELAXED), 0))
		return thread_id_slow();
	tp = (uintptr_t)__builtin_thread_pointer();
	return tp == boot_tp ? 1 : tp;
}

bool _hk_mi_tls_live(void)
{
	return __atomic_load_n(&tp_live, __ATOMIC_RELAXED) || (thread_id_slow(), tp_live);
}

/* The exit callback below is static: nothing to set up per thread or process. */
void _mi_prim_thread_init_auto_done(void) {}
void _mi_prim_thread_done_auto_done(void) {}
void _mi_prim_thread_associate_default_heap(mi_heap_t *heap) { (void)heap; }

#if CONFIG_LIBUKSCHED
/*
 * On the exiting thread, with its TLS, before its stack and TLS are
 * released (uksched's termination callbacks; this one at the earliest
 * priority, so after every callback of a later priority that may still
 * allocate). Threads that never allocated have mimalloc's empty heap: then
 * nothing is done. Inactive until mimalloc is the allocator in use.
 */
static void mi_thread_exit(struct uk_thread *t)
{
	(void)t;
	if (pool && tp_live && _mi_heap_default != (mi_heap_t *)&_mi_heap_empty)
		mi_thread_done();
}

static int mi_thread_start(struct uk_thread *child, struct uk_thread *parent)
{
	(void)child;
	(void)parent;
	return 0;
}
UK_THREAD_INIT_PRIO_FLAGS(mi_thread_start, mi_thread_exit, UK_PRIO_EARLIEST, UK_THREAD_INITF_UKTLS);
#endif
