// SPDX-License-Identifier: MIT
/*
 * The real mimalloc (Microsoft's sources, compiled unpatched; prim.c is its
 * platform layer) as a heapkit backend on Unikraft, named "mimalloc" like
 * the hosted one (src/mimalloc/mimalloc.c), which it replaces here.
 *
 * mimalloc is one allocator per address space: its segments, arenas and
 * thread heaps are global. So there is one instance: the first create()
 * takes the region it is given (and every addmem after) as mimalloc's OS
 * memory, through a heapkit buddy instance that hands out segment-aligned
 * blocks. That is what ukboot's boot allocator needs; a second create() is
 * refused (mimalloc cannot keep a second instance's memory apart from the
 * first's without its arenas, whose heaps allocate only from the thread
 * that made them).
 *
 * Each request goes to the calling thread's mimalloc heap, mimalloc's
 * thread-local default heap once TLS is live; before that (ukboot creates
 * the boot allocator, then allocates the boot context's TLS from it) to
 * mimalloc's statically allocated main heap, passed explicitly, which is
 * the same heap mimalloc later makes the boot context's default (same
 * thread id, see prim.c). No bootstrap allocator, no TLS access before TLS.
 *
 * The struct uk_alloc the glue asks for right after create() comes before
 * any segment can: the first region may be smaller than one segment (572
 * KiB without paging) and the rest arrives by addmem. The instance keeps
 * room for that one block in its own header (room[]); it is never freed.
 */
#include "mimalloc.h"
#include "mimalloc/internal.h"
#include "mimalloc/prim.h"

#include <string.h>
#include <heapkit/backend.h>
#include "mi_glue.h"

#define ROOM_BYTES 1024   /* the glue's struct uk_alloc + priv: about 300 bytes */
#define MIN_ALIGN 16u     /* every malloc block: max_align_t (heapkit's HK_MIN_ALIGN) */
#define MAX_RANGES 16     /* regions remembered for the ownership check (ukboot adds a few) */

struct mi_inst {
	struct hk_alloc base;
	hk_alloc_t *pool;                /* buddy over the regions: mimalloc's OS memory */
	size_t managed;                  /* bytes handed to the instance */
	size_t in_use, peak;             /* usable bytes of live blocks (atomic; peak approximate) */
	uint64_t nr_allocs, nr_frees;    /* atomic */
	bool room_used;                  /* room[] handed out (boot context only) */
	unsigned nr_ranges;              /* ranges[] in use; more regions: mimalloc's own lookup */
	bool ranges_full;
	struct { uintptr_t lo, hi; } ranges[MAX_RANGES];   /* the pool's memory: create + addmem */
	_Alignas(64) char room[ROOM_BYTES];
};

static struct mi_inst *the_inst;   /* the one instance, once created */

static inline struct mi_inst *to_mi(hk_alloc_t *a) { return (struct mi_inst *)a; }

static inline bool in_room(struct mi_inst *m, const void *p)
{
	return (const char *)p >= m->room && (const char *)p < m->room + ROOM_BYTES;
}

/*
 * Whether p may be handed to mimalloc's free: inside the memory this
 * instance was given. mi_free trusts its argument: it finds the segment by
 * masking the pointer and writes into the page it finds there, so a pointer
 * another allocator returned would have mimalloc update whatever lies at the
 * segment-aligned address below it. That is the failure mode of the 2024
 * port (docs/unikraft.md, "The 2024 pthread_join fault"): here such a free
 * stops with a message instead.
 */
static bool owns(const struct mi_inst *m, const void *p)
{
	uintptr_t u = (uintptr_t)p;

	for (unsigned i = 0; i < m->nr_ranges; i++)
		if (u >= m->ranges[i].lo && u < m->ranges[i].hi)
			return true;
	return m->ranges_full && mi_is_in_heap_region(p);
}

static void add_range(struct mi_inst *m, uintptr_t lo, uintptr_t hi)
{
	if (m->nr_ranges < MAX_RANGES) {
		m->ranges[m->nr_ranges].lo = lo;
		m->ranges[m->nr_ranges].hi = hi;
		m->nr_ranges++;
	} else {
		m->ranges_full = true;
	}
}

/* A block of this instance, or a fatal error naming the pointer. */
static void check_owned(const struct mi_inst *m, const void *p)
{
	if (__builtin_expect(!owns(m, p), 0))
		_hk_fatal("mimalloc: free/realloc/usable_size of a pointer mimalloc never returned", p);
}

/* The calling context's heap: mimalloc's main heap until TLS is live. */
static inline mi_heap_t *heap_now(void)
{
	return __builtin_expect(_hk_mi_tls_live(), 1) ? mi_prim_get_default_heap() : _mi_heap_main_get();
}

static void *account(struct mi_inst *m, void *p)
{
	size_t now;
	size_t peak;

	if (!p)
		return NULL;
	now = __atomic_add_fetch(&m->in_use, mi_usable_size(p), __ATOMIC_RELAXED);
	__atomic_fetch_add(&m->nr_allocs, 1, __ATOMIC_RELAXED);
	peak = __atomic_load_n(&m->peak, __ATOMIC_RELAXED);
	while (now > peak && !__atomic_compare_exchange_n(&m->peak, &peak, now, true, __ATOMIC_RELAXED,
							  __ATOMIC_RELAXED))
		;
	return p;
}

/* mimalloc's aligned allocation, checked: a misaligned answer is asked again with another size. */
static void *aligned(mi_heap_t *h, size_t align, size_t size, bool zero)
{
	void *p = zero ? mi_heap_zalloc_aligned(h, size, align) : mi_heap_malloc_aligned(h, size, align);

	if (p && ((uintptr_t)p & (align - 1))) {
		mi_free(p);
		size += MIN_ALIGN;
		p = zero ? mi_heap_zalloc_aligned(h, size, align) : mi_heap_malloc_aligned(h, size, align);
		if (p && ((uintptr_t)p & (align - 1))) {
			mi_free(p);
			p = NULL;
		}
	}
	return p;
}

static void *alloc(hk_alloc_t *a, size_t align, size_t size, bool zero)
{
	struct mi_inst *m = to_mi(a);
	mi_heap_t *h = heap_now();
	void *p;

	if (align <= MIN_ALIGN)
		p = zero ? mi_heap_zalloc(h, size) : mi_heap_malloc(h, size);
	else
		p = aligned(h, align, size, zero);
	if (!p && !m->room_used && size <= ROOM_BYTES && align <= 64) {
		/* No segment fits yet (see the top): the glue's own struct. */
		m->room_used = true;
		return memset(m->room, 0, ROOM_BYTES);
	}
	return account(m, p);
}

static void *mi_op_malloc(hk_alloc_t *a, size_t size) { return alloc(a, MIN_ALIGN, size, false); }
static void *mi_op_calloc(hk_alloc_t *a, size_t size) { return alloc(a, MIN_ALIGN, size, true); }
static void *mi_op_memalign(hk_alloc_t *a, size_t align, size_t size) { return alloc(a, align, size, false); }

static size_t mi_op_usable_size(hk_alloc_t *a, void *p)
{
	struct mi_inst *m = to_mi(a);

	if (!p)
		return 0;
	if (in_room(m, p))
		return ROOM_BYTES;
	check_owned(m, p);
	return mi_usable_size(p);
}

static void mi_op_free(hk_alloc_t *a, void *p)
{
	struct mi_inst *m = to_mi(a);

	if (!p || in_room(m, p))
		return;
	check_owned(m, p);
	__atomic_sub_fetch(&m->in_use, mi_usable_size(p), __ATOMIC_RELAXED);
	__atomic_fetch_add(&m->nr_frees, 1, __ATOMIC_RELAXED);
	mi_free(p);
}

static void *mi_op_realloc(hk_alloc_t *a, void *p, size_t size)
{
	struct mi_inst *m = to_mi(a);
	size_t old;
	void *q;

	if (in_room(m, p))
		return _hk_compat_realloc(a, p, size);
	check_owned(m, p);
	old = mi_usable_size(p);
	q = mi_heap_realloc(heap_now(), p, size);
	if (!q)
		return NULL;
	__atomic_sub_fetch(&m->in_use, old, __ATOMIC_RELAXED);
	__atomic_fetch_add(&m->nr_frees, 1, __ATOMIC_RELAXED);
	return account(m, q);
}

static int mi_op_addmem(hk_alloc_t *a, void *base, size_t len)
{
	struct mi_inst *m = to_mi(a);
	int rc = hk_addmem(m->pool, base, len);

	if (rc == 0) {
		m->managed += len;
		add_range(m, (uintptr_t)base, (uintptr_t)base + len);
	}
	return rc;
}

/* What the pool can still give (mimalloc's free pages inside its segments are not counted). */
static size_t mi_op_availmem(hk_alloc_t *a) { return hk_availmem(to_mi(a)->pool); }
static size_t mi_op_maxalloc(hk_alloc_t *a) { return hk_maxalloc(to_mi(a)->pool); }

static void mi_op_stats(hk_alloc_t *a, struct hk_stats *out)
{
	struct mi_inst *m = to_mi(a);

	out->nr_allocs = __atomic_load_n(&m->nr_allocs, __ATOMIC_RELAXED);
	out->nr_frees = __atomic_load_n(&m->nr_frees, __ATOMIC_RELAXED);
	out->bytes_in_use = __atomic_load_n(&m->in_use, __ATOMIC_RELAXED);
	out->peak_bytes = __atomic_load_n(&m->peak, __ATOMIC_RELAXED);
	out->bytes_managed = m->managed;
}

/* The pool's own check (mimalloc keeps its checks to debug builds). */
static int mi_op_check(hk_alloc_t *a, struct hk_check_report *r)
{
	return hk_check(to_mi(a)->pool, r);
}

static const struct hk_alloc_ops mi_ops = {
	.malloc = mi_op_malloc,
	.calloc = mi_op_calloc,
	.realloc = mi_op_realloc,
	.memalign = mi_op_memalign,
	.free = mi_op_free,
	.usable_size = mi_op_usable_size,
	.addmem = mi_op_addmem,
	.maxalloc = mi_op_maxalloc,
	.availmem = mi_op_availmem,
	.stats = mi_op_stats,
	.check = mi_op_check,
};

/* The instance header at the start of the region, the buddy pool over the rest. */
hk_alloc_t *hk_mimalloc_create(void *base, size_t len)
{
	uintptr_t b = ((uintptr_t)base + 63) & ~(uintptr_t)63;
	uintptr_t pool_base = (b + sizeof(struct mi_inst) + HK_PAGE_SIZE - 1) & ~(uintptr_t)(HK_PAGE_SIZE - 1);
	uintptr_t end = (uintptr_t)base + len;
	struct mi_inst *m = (struct mi_inst *)b;

	if (!base || the_inst || pool_base >= end)
		return NULL;
	memset(m, 0, sizeof *m);
	m->pool = hk_buddy_create((void *)pool_base, end - pool_base);
	if (!m->pool)
		return NULL;
	_hk_alloc_init(&m->base, &mi_ops, &_hk_mimalloc_backend);
	m->managed = len;
	add_range(m, pool_base, end);
	_hk_mi_pool_set(m->pool);
	the_inst = m;
	return &m->base;
}

/* Two segments (MI_SEGMENT_SIZE, set in Makefile.uk) beside the pool's metadata. */
const struct hk_backend _hk_mimalloc_backend = {
	.name = "mimalloc",
	.summary = "Microsoft's mimalloc " HK_MI_VERSION " (one instance: the boot allocator's memory)",
	.create = hk_mimalloc_create,
	.caps = HK_CAP_FREE | HK_CAP_THREADS | HK_CAP_ADDMEM,
	.min_region = 2 * MI_SEGMENT_SIZE + 4 * HK_PAGE_SIZE,
};
