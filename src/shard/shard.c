// SPDX-License-Identifier: MIT
/*
 * shard: the instance. Page sources (a buddy instance over the region, or
 * the OS), geometry, create, the operations table, statistics, availmem and
 * the heap check.
 */
#include "shard/shard.h"

static const struct hk_alloc_ops shard_ops;

static inline struct shard *to_shard(hk_alloc_t *a) { return (struct shard *)a; }

/* --- Page sources -------------------------------------------------------------- */

#ifdef HK_HAVE_BUDDY
/* The buddy instance as a page source: it serves size-aligned power-of-two blocks. */
static void *buddy_map(struct hk_page_source *s, size_t len, size_t align)
{
	return hk_memalign((hk_alloc_t *)s->ctx, align, len);
}

static void buddy_unmap(struct hk_page_source *s, void *p, size_t len)
{
	(void)len;
	hk_free((hk_alloc_t *)s->ctx, p);
}
#endif

/* Metadata (heap structs): from the buddy, or whole OS pages. */
void *_hk_shard_meta_alloc(struct shard *sh, size_t size)
{
	if (sh->buddy)
		return hk_memalign(sh->buddy, 64, size);
	return sh->src->map(sh->src, hk_align_up(size, HK_PAGE_SIZE), HK_PAGE_SIZE);
}

void _hk_shard_meta_free(struct shard *sh, void *p, size_t size)
{
	if (sh->buddy)
		hk_free(sh->buddy, p);
	else
		sh->src->unmap(sh->src, p, hk_align_up(size, HK_PAGE_SIZE));
}

/* --- Geometry ----------------------------------------------------------------------- */

/* Fix segment and page sizes and the class limits for 2^seg_shift segments. */
static void shard_geometry(struct shard *sh, unsigned seg_shift)
{
	unsigned ps = seg_shift - SHARD_SEG_PAGES_SHIFT;
	if (seg_shift >= SHARD_SEG_SHIFT_MAX)
		ps = SHARD_PAGE_SHIFT_MAX;
	if (ps < SHARD_PAGE_SHIFT_MIN)
		ps = SHARD_PAGE_SHIFT_MIN;
	if (ps > SHARD_PAGE_SHIFT_MAX)
		ps = SHARD_PAGE_SHIFT_MAX;
	sh->seg_shift = seg_shift;
	sh->seg_size = (size_t)1 << seg_shift;
	sh->seg_mask = ~(uintptr_t)(sh->seg_size - 1);
	sh->page_shift = ps;
	sh->nr_pages = 1u << (seg_shift - ps);
	sh->seg_header = hk_align_up(sizeof(struct shard_segment) + sh->nr_pages * sizeof(struct shard_page),
				      (size_t)1 << SHARD_AREA_SHIFT);
	_Static_assert((1u << (SHARD_SEG_SHIFT_MAX - SHARD_AREA_SHIFT)) - 1 <= UINT16_MAX && SHARD_PAGE_SHIFT_MIN >= SHARD_AREA_SHIFT,
		       "a page's area_at holds where its blocks start");
	sh->small_max = ((size_t)1 << ps) >> SHARD_SMALL_FRAC_SHIFT;
	sh->medium_max = sh->seg_size >> SHARD_MEDIUM_FRAC_SHIFT;
	if (sh->medium_max < sh->small_max)
		sh->medium_max = sh->small_max;
	sh->large_max = sh->seg_size >> SHARD_LARGE_FRAC_SHIFT;
	sh->large_bin = shard_bin_of(sh->large_max);
	hk_assert(sh->nr_pages <= SHARD_MAX_PAGES && sh->large_bin < SHARD_NR_BINS);
	hk_assert(shard_bin_size(sh->large_bin) == sh->large_max);
}

/* Segments of about len/32 over a fixed region, within [16 KiB, 1 MiB]. */
static unsigned region_seg_shift(size_t len)
{
	unsigned s = hk_log2(len);
	s = s > SHARD_REGION_SEGS_SHIFT ? s - SHARD_REGION_SEGS_SHIFT : 0;
	if (s < SHARD_SEG_SHIFT_MIN)
		s = SHARD_SEG_SHIFT_MIN;
	if (s > SHARD_SEG_SHIFT_REGION_MAX)
		s = SHARD_SEG_SHIFT_REGION_MAX;
	return s;
}

static void shard_init(struct shard *sh, struct shard_heap *first)
{
	_hk_alloc_init(&sh->base, &shard_ops, &_hk_shard_backend);
	sh->lock = (hk_lock_t)HK_LOCK_INIT;
	if (first) {
		_hk_shard_heap_init(first, sh);
		first->inst = NULL;
		sh->first_heap = first;
		sh->heap_pool = first;
	}
}

#if defined(HK_SHARD_SINGLE) && HK_SHARD_SINGLE
#if !(defined(HK_HOSTED) && HK_HOSTED)
#error "HK_SHARD_SINGLE is the hosted drop-in's build"
#endif
/* The thread slot (platform.h), starting at the empty heap in every thread (shard.h, shard_heap_current). */
__thread void *_hk_tls_slot __attribute__((tls_model("initial-exec"))) = (void *)&_hk_shard_empty_heap;
#endif

/* --- Create ------------------------------------------------------------------------- */

hk_alloc_t *hk_shard_create(void *base, size_t len)
{
	if (!base || len < 4 * HK_PAGE_SIZE)
		return NULL;
#if defined(HK_SHARD_SINGLE) && HK_SHARD_SINGLE
	return NULL;   /* this build serves the OS instance only (see shard.h) */
#endif
#ifdef HK_HAVE_BUDDY
	hk_alloc_t *buddy = hk_buddy_create(base, len);
	if (!buddy)
		return NULL;
	struct shard *sh = hk_memalign(buddy, 64, sizeof(struct shard) + sizeof(struct shard_heap));
	if (!sh) {
		hk_destroy(buddy);
		return NULL;
	}
	memset(sh, 0, sizeof *sh);
	sh->buddy = buddy;
	sh->region_src = (struct hk_page_source){ buddy_map, buddy_unmap, buddy, NULL, NULL, NULL };
	sh->src = &sh->region_src;
#else
	/* No buddy in this build: metadata in the region, segments from the OS. */
	uintptr_t b = hk_align_up((uintptr_t)base, 64);
	if (b + sizeof(struct shard) + sizeof(struct shard_heap) > (uintptr_t)base + len || !_hk_os_pages())
		return NULL;
	struct shard *sh = (struct shard *)b;
	memset(sh, 0, sizeof *sh);
	sh->src = _hk_os_pages();
	sh->os_zero = true;
#endif
	shard_geometry(sh, region_seg_shift(len));
	shard_init(sh, (struct shard_heap *)(sh + 1));
#ifdef HK_HAVE_BUDDY
	/* Segments and huge blocks lie in the region: judged by its range and the segments' stamps. */
	_hk_shard_keys_init();
	sh->judge = SHARD_JUDGE_REGION;
	sh->region_lo = len >= sh->seg_size ? (uintptr_t)base : UINTPTR_MAX;
	sh->region_span = len >= sh->seg_size ? len - sh->seg_size : 0;
#endif
	sh->bytes_managed = len;
	return &sh->base;
}

/* --- The instance over OS pages (the drop-in's) ---------------------------------- */

struct shard _hk_shard_os;
static hk_lock_t os_init_lock = HK_LOCK_INIT;

/* Set up _hk_shard_os on first use; false where there is no OS. */
hk_noinline bool _hk_shard_os_ensure(void)
{
	struct shard *sh = &_hk_shard_os;
	if (__atomic_load_n(&sh->src, __ATOMIC_ACQUIRE))
		return true;
	struct hk_page_source *os = _hk_os_pages();
	if (!os)
		return false;
	hk_lock(&os_init_lock);
	if (!sh->src) {
		shard_geometry(sh, SHARD_SEG_SHIFT_OS);
		sh->os_zero = true;
		sh->cache_max = SHARD_CACHE_OS;
		sh->purge_delay_ms = SHARD_PURGE_DELAY_MS;
		sh->cache_delay_ms = SHARD_CACHE_DELAY_MS;
		sh->huge_cache_max = SHARD_HUGE_CACHE_BYTES;
		shard_init(sh, NULL);
		/* the page source that keeps the segment map; the OS itself (nothing judged) without one */
		struct hk_page_source *judged = _hk_shard_map_source(os);
		sh->judge = judged ? SHARD_JUDGE_MAP : SHARD_JUDGE_TRUST;
		__atomic_store_n(&sh->src, judged ? judged : os, __ATOMIC_RELEASE);
	}
	hk_unlock(&os_init_lock);
	return true;
}

hk_alloc_t *_hk_shard_os_instance(void)
{
	return _hk_shard_os_ensure() ? &_hk_shard_os.base : NULL;
}

/* fork in a threaded program: hold the locks across it, free them in both halves. */
void _hk_shard_fork_prepare(void)
{
	hk_lock(&os_init_lock);
	hk_lock(&_hk_shard_os.lock);
	_hk_shard_records_lock(true);
#if defined(HK_HOSTED) && HK_HOSTED
	_hk_zero_fork_lock(1);   /* malloc(0)'s arenas */
#endif
}

void _hk_shard_fork_parent(void)
{
#if defined(HK_HOSTED) && HK_HOSTED
	_hk_zero_fork_lock(0);
#endif
	_hk_shard_records_lock(false);
	hk_unlock(&_hk_shard_os.lock);
	hk_unlock(&os_init_lock);
}

void _hk_shard_fork_child(void)
{
	_hk_shard_fork_parent();
}

/* --- Operations ----------------------------------------------------------------------- */

static void *shard_malloc(hk_alloc_t *a, size_t size) { return _hk_shard_malloc(to_shard(a), size); }
static void *shard_calloc(hk_alloc_t *a, size_t size) { return _hk_shard_calloc(to_shard(a), size); }
static void *shard_realloc(hk_alloc_t *a, void *p, size_t size) { return _hk_shard_realloc(to_shard(a), p, size); }
static void shard_free(hk_alloc_t *a, void *p) { _hk_shard_free(to_shard(a), p); }
static size_t shard_usable(hk_alloc_t *a, void *p) { return _hk_shard_usable(to_shard(a), p); }

static void *shard_memalign(hk_alloc_t *a, size_t align, size_t size)
{
	return _hk_shard_memalign(to_shard(a), align, size);
}

static int shard_addmem(hk_alloc_t *a, void *base, size_t len)
{
	struct shard *sh = to_shard(a);
	if (!sh->buddy)
		return -HK_EINVAL;
	int rc = hk_addmem(sh->buddy, base, len);
	if (rc == 0) {
		hk_lock(&sh->lock);
		sh->bytes_managed += len;
		if (sh->nr_ranges < SHARD_RANGES) {
			sh->ranges[sh->nr_ranges] = (struct shard_range){ (uintptr_t)base, (uintptr_t)base + len };
			__atomic_store_n(&sh->nr_ranges, sh->nr_ranges + 1, __ATOMIC_RELEASE);
		} else {
			/* more regions than it keeps: it trusts pointers */
			__atomic_store_n(&sh->judge, SHARD_JUDGE_TRUST, __ATOMIC_RELAXED);
		}
		hk_unlock(&sh->lock);
	}
	return rc;
}

/* Bytes of unused page slots in live segments plus cached segments. Lock held. */
static size_t segments_free_bytes(struct shard *sh)
{
	size_t n = sh->nr_cached * sh->seg_size;
	size_t page = (size_t)1 << sh->page_shift;
	for (struct shard_segment *seg = sh->segments; seg; seg = seg->all_next)
		if (seg->kind == SEG_SMALL)
			for (uint64_t m = seg->free_mask; m; m &= m - 1)   /* no libgcc popcount */
				n += page;
	return n;
}

/* Free bytes: first gives back what the caller's heap and dead threads' segments hold empty. */
static size_t shard_availmem(hk_alloc_t *a)
{
	struct shard *sh = to_shard(a);
	_hk_shard_reclaim_all(sh);
	hk_lock(&sh->lock);
	size_t n = segments_free_bytes(sh);
	hk_unlock(&sh->lock);
	return n + (sh->buddy ? hk_availmem(sh->buddy) : 0);
}

static size_t shard_maxalloc(hk_alloc_t *a)
{
	struct shard *sh = to_shard(a);
	size_t m = HK_MAX_REQUEST;
	if (sh->buddy) {
		/*
		 * Segments and huge blocks are segment-aligned buddy blocks, and the
		 * buddy's maxalloc is its longest free run, wherever it starts. A run
		 * of m bytes holds a naturally aligned block of the largest power of
		 * two <= m / 2, which the buddy keeps as one free block: that much a
		 * request is sure to get.
		 */
		m = hk_maxalloc(sh->buddy);
		m = m >= 2 * HK_PAGE_SIZE ? (size_t)1 << hk_log2(m / 2) : 0;
	}
	if (m >= sh->seg_size)
		return m;
	/* No room for a segment-aligned block: only what free page slots can serve. */
	hk_lock(&sh->lock);
	size_t slots = segments_free_bytes(sh);
	hk_unlock(&sh->lock);
	return slots ? sh->small_max : 0;
}

/*
 * count_slow from now on. The fast paths that did not count (the drop-in's)
 * left the heaps' counts behind: each restarts from what its pages hold, as
 * if its live blocks were its only allocations. Meant for the start (the
 * drop-in's constructor): a thread that runs meanwhile may take a fast
 * malloc or free before it sees the flag, or lose the mark on a page whose
 * flags it changes at the same time.
 */
void _hk_shard_count_all(struct shard *sh)
{
	hk_lock(&sh->lock);
	__atomic_store_n(&sh->count_slow, true, __ATOMIC_RELAXED);
	for (struct shard_heap *h = sh->heaps; h; h = h->inst_next) {
		h->nr_allocs = 0;
		h->peak_bytes = 0;
		h->peak_slack = 0;
	}
	/* one pass: every page in use is marked and counted to its segment's heap (none while abandoned) */
	for (struct shard_segment *seg = sh->segments; seg; seg = seg->all_next)
		for (unsigned i = 0; i < seg->nr_pages; i++) {
			struct shard_page *pg = &seg->pages[i];
			if (!pg->bin || (page_flags(pg) & PAGE_CONT))
				continue;
			page_flags_set(pg, page_flags(pg) | PAGE_COUNTED);
			if (seg->heap) {
				seg->heap->nr_allocs += pg->used;
				seg->heap->peak_bytes += (size_t)pg->used * pg->block_size;
			}
		}
	for (struct shard_heap *h = sh->heaps; h; h = h->inst_next)
		_hk_shard_direct_refresh(h);
	sh->gone_allocs = 0;
	sh->peak_bytes = 0;
	hk_unlock(&sh->lock);
}

uint64_t _hk_shard_xthread_count(struct shard *sh)
{
	hk_lock(&sh->lock);
	uint64_t n = __atomic_load_n(&_hk_shard_xthread_collected, __ATOMIC_RELAXED);
	for (struct shard_heap *h = sh->heaps; h; h = h->inst_next)
		n += __atomic_load_n(&h->xthread_collected, __ATOMIC_RELAXED);
	hk_unlock(&sh->lock);
	return n;
}

/*
 * Statistics: block counts from every page (racy reads while threads run).
 * The peak is the highest of every heap's own peak (kept by malloc, exact
 * for one thread), a huge block's allocation (huge.c) and what this call
 * sees.
 */
static void shard_stats(hk_alloc_t *a, struct hk_stats *out)
{
	struct shard *sh = to_shard(a);
	uint64_t allocs, live = 0;
	size_t bytes = 0;
	hk_lock(&sh->lock);
	allocs = sh->gone_allocs;
	for (struct shard_heap *h = sh->heaps; h; h = h->inst_next) {
		allocs += __atomic_load_n(&h->nr_allocs, __ATOMIC_RELAXED);
		size_t peak = __atomic_load_n(&h->peak_bytes, __ATOMIC_RELAXED);
		if (peak > sh->peak_bytes)
			sh->peak_bytes = peak;
	}
	for (struct shard_segment *seg = sh->segments; seg; seg = seg->all_next)
		for (unsigned i = 0; i < seg->nr_pages; i++) {
			struct shard_page *pg = &seg->pages[i];
			if (!pg->bin || (page_flags(pg) & PAGE_CONT))
				continue;
			uint32_t used = __atomic_load_n(&pg->used, __ATOMIC_RELAXED);
			live += used;
			bytes += (size_t)used * pg->block_size;
		}
	allocs += __atomic_load_n(&sh->huge_allocs, __ATOMIC_RELAXED);
	live += __atomic_load_n(&sh->huge_live, __ATOMIC_RELAXED);
	bytes += __atomic_load_n(&sh->huge_bytes, __ATOMIC_RELAXED);
	if (bytes > sh->peak_bytes)
		sh->peak_bytes = bytes;
	out->nr_allocs = allocs;
	out->nr_frees = allocs >= live ? allocs - live : 0;
	out->bytes_in_use = bytes;
	out->peak_bytes = sh->peak_bytes;
	out->bytes_managed = sh->bytes_managed;
	hk_unlock(&sh->lock);
}

/* --- The heap check ----------------------------------------------------------------------- */

/* Count a page list, each block inside the page's carved area and on a block boundary; -1 if not. */
static long list_count(uintptr_t area, struct shard_page *pg, struct shard_block *b)
{
	long n = 0;
	uintptr_t end = area + (uintptr_t)pg->capacity * pg->block_size;
	for (; b; b = shard_link_get(b)) {
		uintptr_t x = (uintptr_t)b;
		if (x < area || x >= end || (x - area) % pg->block_size || ++n > (long)pg->capacity)
			return -1;
	}
	return n;
}

static int page_check(struct shard *sh, struct shard_segment *seg, struct shard_page *pg, struct hk_check_report *r)
{
	if (pg->bin > sh->large_bin || pg->block_size != shard_bin_size(pg->bin))
		return _hk_check_fail(r, pg, "shard: page header overwritten (size class)");
	if (pg->used > pg->capacity || pg->capacity > pg->reserved || pg->index >= seg->nr_pages)
		return _hk_check_fail(r, pg, "shard: page counts inconsistent");
	uintptr_t area = shard_page_area(seg, pg);
	if (area != shard_slot_area(sh, seg, pg->index))
		return _hk_check_fail(r, pg, "shard: page header overwritten (where its blocks start)");
	long nf = list_count(area, pg, pg->free), nl = list_count(area, pg, pg->local_free);
	if (nf < 0 || nl < 0)
		return _hk_check_fail(r, pg, "shard: free list leaves its page (corrupted block link)");
	if ((uint64_t)nf + (uint64_t)nl + pg->used != pg->capacity)
		return _hk_check_fail(r, pg, "shard: free lists and used count disagree");
	return 0;
}

static int shard_check(hk_alloc_t *a, struct hk_check_report *r)
{
	struct shard *sh = to_shard(a);
	int rc = 0;
	/* The caller's heap: its live bytes are the sum over its pages (only this thread changes either). */
	struct shard_heap *mine = _hk_shard_heap_find(sh);
	size_t live = 0;
	hk_lock(&sh->lock);
	for (struct shard_segment *seg = sh->segments; seg && !rc; seg = seg->all_next) {
		if ((uintptr_t)seg & ~sh->seg_mask)
			rc = _hk_check_fail(r, seg, "shard: segment not aligned");
		else if (seg->kind != SEG_SMALL && seg->kind != SEG_LARGE)
			rc = _hk_check_fail(r, seg, "shard: segment header overwritten (kind)");
		else if (seg->page_shift != (seg->kind == SEG_LARGE ? sh->seg_shift : sh->page_shift) ||
			 seg->nr_pages != (seg->kind == SEG_LARGE ? 1 : sh->nr_pages))
			rc = _hk_check_fail(r, seg, "shard: segment header overwritten (geometry)");
		for (unsigned i = 0; i < seg->nr_pages && !rc; i++) {
			struct shard_page *pg = &seg->pages[i];
			bool unused = (seg->free_mask >> i) & 1;
			if (unused != (pg->bin == 0))
				rc = _hk_check_fail(r, pg, "shard: page slot mask disagrees with the page");
			else if (!unused && (page_flags(pg) & PAGE_CONT))
				rc = pg->slots > i || pg[-(int)pg->slots].bin != pg->bin ||
						     pg[-(int)pg->slots].slots <= pg->slots
					     ? _hk_check_fail(r, pg, "shard: continuation slot without its head")
					     : 0;
			else if (!unused && __atomic_load_n(&pg->xthread_free, __ATOMIC_RELAXED) == 0)
				rc = page_check(sh, seg, pg, r);
			if (!unused && !(page_flags(pg) & PAGE_CONT) && seg->heap == mine)
				live += (size_t)pg->used * pg->block_size;
		}
	}
	if (!rc && mine && live != shard_heap_live(mine))
		rc = _hk_check_fail(r, mine, "shard: the heap's live bytes disagree with its pages");
	hk_unlock(&sh->lock);
	if (!rc && sh->buddy)
		rc = hk_check(sh->buddy, r);
	return rc;
}

/* --- Destroy ----------------------------------------------------------------------------- */

static void shard_destroy(hk_alloc_t *a)
{
	struct shard *sh = to_shard(a);
	_hk_shard_heaps_detach(sh);
	if (sh->buddy) {
		/* The region outlives the instance: no stamp may judge its memory for a later one. */
		for (struct shard_segment *seg = sh->segments; seg; seg = seg->all_next)
			seg->stamp = 0;
		for (struct shard_segment *seg = sh->cache; seg; seg = seg->next)
			seg->stamp = 0;
		hk_destroy(sh->buddy);
		return;
	}
	/* Over the OS: unmap every segment (huge blocks are the caller's to free). */
	while (sh->segments) {
		struct shard_segment *seg = sh->segments;
		sh->segments = seg->all_next;
		sh->src->unmap(sh->src, seg, sh->seg_size);
	}
	while (sh->cache) {
		struct shard_segment *seg = sh->cache;
		sh->cache = seg->next;
		sh->src->unmap(sh->src, seg, sh->seg_size);
	}
	for (unsigned i = 0; i < sh->nr_huge_cached; i++)
		sh->src->unmap(sh->src, sh->huge_cache[i].base, sh->huge_cache[i].map_len);
}

static const struct hk_alloc_ops shard_ops = {
	.malloc = shard_malloc,
	.calloc = shard_calloc,
	.realloc = shard_realloc,
	.memalign = shard_memalign,
	.free = shard_free,
	.usable_size = shard_usable,
	.addmem = shard_addmem,
	.maxalloc = shard_maxalloc,
	.availmem = shard_availmem,
	.stats = shard_stats,
	.check = shard_check,
	.destroy = shard_destroy,
};

/* The registry's entry; the smallest region holds four of the smallest segments. */
const struct hk_backend _hk_shard_backend = {
	.name = "shard",
	.summary = "mimalloc-class: thread-local heaps, sharded free lists, cross-thread frees",
	.create = hk_shard_create,
	.caps = HK_CAP_FREE | HK_CAP_THREADS | HK_CAP_ADDMEM | HK_CAP_PAGES | HK_CAP_EXACT_AVAIL | HK_CAP_RELEASE,
	.min_region = (size_t)4 << SHARD_SEG_SHIFT_MIN, /* 65536 */
};
