// SPDX-License-Identifier: MIT
/*
 * mimalloc: Debian's libmimalloc (2.0.x) behind heapkit's interface, confined
 * to the regions it is handed. Hosted only; built where libmimalloc-dev is.
 *
 * Each region becomes an exclusive mimalloc arena (mi_manage_os_memory_ex);
 * each thread gets, per instance and per arena, a heap created in that arena
 * (mi_heap_new_in_arena), since a mimalloc heap may only allocate from the
 * thread that made it and only from one arena. Allocation tries the thread's
 * heaps in arena order; free goes to mi_free, which finds the owner itself.
 *
 * mimalloc cannot say how much of an arena is free, so availmem and maxalloc
 * are this wrapper's accounting (bytes managed minus usable bytes live); what
 * holds and what does not is measured in docs/mimalloc.md.
 *
 * The library is opened with dlopen(RTLD_LOCAL) on first use, never linked:
 * Debian builds it to replace malloc, and linking it would silently make it
 * the malloc of every program that links heapkit.
 */
#include "core/internal.h"

#include <dlfcn.h>
#include <mimalloc.h>
#include <pthread.h>

/* --- The library, opened on first use ------------------------------------ */

#define MI_LIBRARY "libmimalloc.so.2"

static struct {
	__typeof__(mi_manage_os_memory_ex) *manage_os_memory_ex;
	__typeof__(mi_heap_new_in_arena) *heap_new_in_arena;
	__typeof__(mi_heap_malloc_aligned) *heap_malloc_aligned;
	__typeof__(mi_heap_zalloc_aligned) *heap_zalloc_aligned;
	__typeof__(mi_free) *free;
	__typeof__(mi_usable_size) *usable_size;
	__typeof__(mi_arena_area) *arena_area;
	__typeof__(mi_heap_visit_blocks) *heap_visit_blocks;
} mi;
static pthread_once_t mi_once = PTHREAD_ONCE_INIT;
static bool mi_loaded;

static void mi_open(void)
{
	void *h = dlopen(MI_LIBRARY, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return;
#define MI_SYM(field) (*(void **)&mi.field = dlsym(h, "mi_" #field))
	mi_loaded = MI_SYM(manage_os_memory_ex) && MI_SYM(heap_new_in_arena) && MI_SYM(heap_malloc_aligned) &&
		    MI_SYM(heap_zalloc_aligned) && MI_SYM(free) && MI_SYM(usable_size) && MI_SYM(arena_area) &&
		    MI_SYM(heap_visit_blocks);
#undef MI_SYM
}

static bool mi_available(void)
{
	pthread_once(&mi_once, mi_open);
	return mi_loaded;
}

/* --- Instances and their per-thread heaps -------------------------------- */

#define MI_MAX_ARENAS 16   /* regions one instance can hold */
#define MI_TL_SLOTS 16     /* instances a thread can use at once */

struct mi_instance {
	struct hk_alloc base;
	uint64_t id;                           /* unique over the process; never reused */
	hk_lock_t lock;                        /* guards arenas[] growth */
	int nr_arenas;                         /* arenas[0..nr_arenas) are valid (atomic) */
	mi_arena_id_t arenas[MI_MAX_ARENAS];
	size_t managed;                        /* bytes of all arenas */
	size_t in_use;                         /* usable bytes of live blocks (atomic) */
	size_t peak;                           /* highest in_use seen (atomic, approximate) */
	uint64_t nr_allocs, nr_frees;          /* atomic */
};

/* A thread's heaps for one instance: heaps[i] allocates from arenas[i]. */
struct mi_thread_heaps {
	uint64_t instance_id;                  /* 0: slot unused */
	mi_heap_t *heaps[MI_MAX_ARENAS];
};

static __thread struct mi_thread_heaps mi_tl[MI_TL_SLOTS];  /* this thread's slots */
static uint64_t mi_next_id = 1;

static inline struct mi_instance *to_mi(hk_alloc_t *a) { return (struct mi_instance *)a; }

/* This thread's heap table for instance m, made on first use. */
static struct mi_thread_heaps *thread_heaps(struct mi_instance *m)
{
	struct mi_thread_heaps *free_slot = NULL;
	for (int i = 0; i < MI_TL_SLOTS; i++) {
		if (mi_tl[i].instance_id == m->id)
			return &mi_tl[i];
		if (!mi_tl[i].instance_id && !free_slot)
			free_slot = &mi_tl[i];
	}
	if (!free_slot)
		free_slot = &mi_tl[m->id % MI_TL_SLOTS]; /* evict: its heaps stay alive in mimalloc */
	memset(free_slot, 0, sizeof *free_slot);
	free_slot->instance_id = m->id;
	return free_slot;
}

/* Heap of this thread for arena i, made on first use. */
static mi_heap_t *arena_heap(struct mi_instance *m, struct mi_thread_heaps *t, int i)
{
	if (!t->heaps[i])
		t->heaps[i] = mi.heap_new_in_arena(m->arenas[i]);
	return t->heaps[i];
}

static void account_alloc(struct mi_instance *m, void *p)
{
	size_t n = mi.usable_size(p);
	size_t now = __atomic_add_fetch(&m->in_use, n, __ATOMIC_RELAXED) ;
	__atomic_fetch_add(&m->nr_allocs, 1, __ATOMIC_RELAXED);
	size_t peak = __atomic_load_n(&m->peak, __ATOMIC_RELAXED);
	while (now > peak && !__atomic_compare_exchange_n(&m->peak, &peak, now, true, __ATOMIC_RELAXED,
							  __ATOMIC_RELAXED))
		;
}

static void account_free(struct mi_instance *m, void *p)
{
	__atomic_sub_fetch(&m->in_use, mi.usable_size(p), __ATOMIC_RELAXED);
	__atomic_fetch_add(&m->nr_frees, 1, __ATOMIC_RELAXED);
}

/* --- Operations ------------------------------------------------------------ */

/* Try each arena's heap in order; zero asks for zeroed memory. */
static void *mimalloc_alloc(hk_alloc_t *a, size_t align, size_t size, bool zero)
{
	struct mi_instance *m = to_mi(a);
	struct mi_thread_heaps *t = thread_heaps(m);
	if (!t)
		return NULL;
	int n = __atomic_load_n(&m->nr_arenas, __ATOMIC_ACQUIRE);
	for (int i = 0; i < n; i++) {
		mi_heap_t *h = arena_heap(m, t, i);
		if (!h)
			continue;
		void *p = zero ? mi.heap_zalloc_aligned(h, size, align) : mi.heap_malloc_aligned(h, size, align);
		if (p && ((uintptr_t)p & (align - 1))) {
			/*
			 * mimalloc 2.0.9 returns misaligned blocks when size == align
			 * for 256..1024 (measured; docs/mimalloc.md): ask again with a
			 * size that is no multiple of align, which takes its other path.
			 */
			mi.free(p);
			size_t more = size + HK_MIN_ALIGN;
			p = zero ? mi.heap_zalloc_aligned(h, more, align) : mi.heap_malloc_aligned(h, more, align);
			if (p && ((uintptr_t)p & (align - 1))) {
				mi.free(p);
				p = NULL;
			}
		}
		if (p) {
			account_alloc(m, p);
			return p;
		}
	}
	return NULL;
}

static void *mimalloc_malloc(hk_alloc_t *a, size_t size) { return mimalloc_alloc(a, HK_MIN_ALIGN, size, false); }
static void *mimalloc_calloc(hk_alloc_t *a, size_t size) { return mimalloc_alloc(a, HK_MIN_ALIGN, size, true); }
static void *mimalloc_memalign(hk_alloc_t *a, size_t align, size_t size)
{
	return mimalloc_alloc(a, align < HK_MIN_ALIGN ? HK_MIN_ALIGN : align, size, false);
}

static void mimalloc_free(hk_alloc_t *a, void *p)
{
	account_free(to_mi(a), p);
	mi.free(p);
}

static size_t mimalloc_usable_size(hk_alloc_t *a, void *p) { return mi.usable_size(p); }

/*
 * mimalloc 2.0 takes an arena only in whole segments (32 MiB) at a 32 MiB
 * aligned address: given a misaligned start it accepts the region, then
 * serves nothing from it or crashes (measured: docs/mimalloc.md). So the
 * region is trimmed to its aligned part, and refused when none is left.
 */
#define MI_ARENA_ALIGN ((size_t)32 << 20)  /* 32 MiB: mimalloc 2.0's segment size */

static int mimalloc_addmem(hk_alloc_t *a, void *base, size_t len)
{
	struct mi_instance *m = to_mi(a);
	uintptr_t start = hk_align_up((uintptr_t)base, MI_ARENA_ALIGN);
	uintptr_t end = hk_align_down((uintptr_t)base + len, MI_ARENA_ALIGN);
	if (start >= end || end < (uintptr_t)base)
		return -HK_EINVAL;
	base = (void *)start;
	len = end - start;
	mi_arena_id_t id;
	int rc = -HK_EINVAL;
	hk_lock(&m->lock);
	if (m->nr_arenas < MI_MAX_ARENAS && mi.manage_os_memory_ex(base, len, true, false, false, -1, true, &id)) {
		m->arenas[m->nr_arenas] = id;
		m->managed += len;
		__atomic_store_n(&m->nr_arenas, m->nr_arenas + 1, __ATOMIC_RELEASE);
		rc = 0;
	}
	hk_unlock(&m->lock);
	return rc;
}

static size_t mimalloc_availmem(hk_alloc_t *a)
{
	struct mi_instance *m = to_mi(a);
	size_t used = __atomic_load_n(&m->in_use, __ATOMIC_RELAXED);
	return used < m->managed ? m->managed - used : 0;
}

static void mimalloc_stats(hk_alloc_t *a, struct hk_stats *out)
{
	struct mi_instance *m = to_mi(a);
	out->nr_allocs = __atomic_load_n(&m->nr_allocs, __ATOMIC_RELAXED);
	out->nr_frees = __atomic_load_n(&m->nr_frees, __ATOMIC_RELAXED);
	out->bytes_in_use = __atomic_load_n(&m->in_use, __ATOMIC_RELAXED);
	out->peak_bytes = __atomic_load_n(&m->peak, __ATOMIC_RELAXED);
	out->bytes_managed = m->managed;
}

/* The check: every live block mimalloc reports for this thread's heaps lies in an arena. */
struct visit_ctx {
	struct mi_instance *m;
	const void *bad;
};

static bool in_arenas(struct mi_instance *m, const void *p)
{
	for (int i = 0; i < m->nr_arenas; i++) {
		size_t size;
		char *area = mi.arena_area(m->arenas[i], &size);
		if (area && (const char *)p >= area && (const char *)p < area + size)
			return true;
	}
	return false;
}

static bool visit_block(const mi_heap_t *h, const mi_heap_area_t *area, void *block, size_t size, void *arg)
{
	struct visit_ctx *v = arg;
	if (block && !in_arenas(v->m, block)) {
		v->bad = block;
		return false;
	}
	return true;
}

static int mimalloc_check(hk_alloc_t *a, struct hk_check_report *r)
{
	struct mi_instance *m = to_mi(a);
	struct mi_thread_heaps *t = thread_heaps(m);
	if (!t)
		return 0;
	struct visit_ctx v = { m, NULL };
	for (int i = 0; i < m->nr_arenas; i++)
		if (t->heaps[i] && !mi.heap_visit_blocks(t->heaps[i], true, visit_block, &v) && v.bad)
			return _hk_check_fail(r, v.bad, "mimalloc: a block of the instance lies outside its regions");
	return 0;
}

static void mimalloc_destroy(hk_alloc_t *a)
{
	/*
	 * mimalloc cannot give an arena back: the regions stay registered with
	 * it for the life of the process, so the caller must not reuse them.
	 * The thread's heaps are dropped; their blocks die with the arena.
	 */
	struct mi_instance *m = to_mi(a);
	for (int i = 0; i < MI_TL_SLOTS; i++)
		if (mi_tl[i].instance_id == m->id)
			mi_tl[i].instance_id = 0;
}

static const struct hk_alloc_ops mimalloc_ops = {
	.malloc = mimalloc_malloc,
	.calloc = mimalloc_calloc,
	.memalign = mimalloc_memalign,
	.free = mimalloc_free,
	.usable_size = mimalloc_usable_size,
	.addmem = mimalloc_addmem,
	.maxalloc = mimalloc_availmem,
	.availmem = mimalloc_availmem,
	.stats = mimalloc_stats,
	.check = mimalloc_check,
	.destroy = mimalloc_destroy,
};

/* The instance header sits at the start of the region; the arena is the aligned part after it. */
hk_alloc_t *hk_mimalloc_create(void *base, size_t len)
{
	if (!mi_available())
		return NULL;
	uintptr_t b = hk_align_up((uintptr_t)base, _Alignof(struct mi_instance));
	uintptr_t end = (uintptr_t)base + len;
	uintptr_t arena = b + sizeof(struct mi_instance);
	if (!base || arena >= end)
		return NULL;
	struct mi_instance *m = (struct mi_instance *)b;
	memset(m, 0, sizeof *m);
	_hk_alloc_init(&m->base, &mimalloc_ops, &_hk_mimalloc_backend);
	m->id = __atomic_fetch_add(&mi_next_id, 1, __ATOMIC_RELAXED);
	if (mimalloc_addmem(&m->base, (void *)arena, end - arena) != 0)
		return NULL;
	return &m->base;
}

/*
 * Two segments: a page-aligned region of that size always holds one whole
 * 32 MiB-aligned segment after the instance header.
 */
const struct hk_backend _hk_mimalloc_backend = {
	.name = "mimalloc",
	.summary = "Debian's libmimalloc 2.0 confined to the region (exclusive arenas); hosted only",
	.create = hk_mimalloc_create,
	.caps = HK_CAP_FREE | HK_CAP_THREADS | HK_CAP_ADDMEM | HK_CAP_PAGES,
	.min_region = 2 * MI_ARENA_ALIGN,
};
