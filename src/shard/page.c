// SPDX-License-Identifier: MIT
/*
 * shard: pages and segments, and the slow paths of malloc and free.
 *
 * malloc's slow path finds a page with a free block for the size class:
 * it walks the bin's queue collecting each page's other lists into free,
 * moves pages that stay full to the back of the queue, and otherwise makes a fresh
 * page (from a small segment with a free slot, a reclaimed abandoned
 * segment, or a new segment). Huge sizes go to the page source directly.
 */
#include "shard/shard.h"

const struct shard_page _hk_shard_empty_page;
uint64_t _hk_shard_xthread_collected;   /* ... by heaps that are gone, and in abandoned segments */

/* --- Locating blocks --------------------------------------------------------- */

struct shard_segment *_hk_shard_segment_of(struct shard *sh, const void *p)
{
	return (struct shard_segment *)((uintptr_t)p & sh->seg_mask);
}

struct shard_page *_hk_shard_page_of(struct shard_segment *seg, const void *p)
{
	return &seg->pages[((uintptr_t)p - (uintptr_t)seg) >> seg->page_shift];
}

/* The head of a medium page when pg is one of its continuation slots. */
static inline struct shard_page *page_head(struct shard_page *pg)
{
	return (page_flags(pg) & PAGE_CONT) ? pg - pg->slots : pg;
}

/* --- Page queues ---------------------------------------------------------------- */

void _hk_shard_pq_remove(struct shard_pq *q, struct shard_page *pg)
{
	if (q->room_last == pg)
		q->room_last = pg->prev;   /* pages before one with room have room */
	if (pg->prev)
		pg->prev->next = pg->next;
	else
		q->first = pg->next;
	if (pg->next)
		pg->next->prev = pg->prev;
	else
		q->last = pg->prev;
	pg->next = pg->prev = NULL;
}

/* Link pg in after at (NULL: first); room_last is the caller's. */
static void pq_insert_after(struct shard_pq *q, struct shard_page *at, struct shard_page *pg)
{
	struct shard_page *next = at ? at->next : q->first;
	pg->prev = at;
	pg->next = next;
	if (next)
		next->prev = pg;
	else
		q->last = pg;
	if (at)
		at->next = pg;
	else
		q->first = pg;
}

/* Put pg (a page with room) first. */
void _hk_shard_pq_push(struct shard_pq *q, struct shard_page *pg)
{
	if (!q->room_last)
		q->room_last = pg;
	pq_insert_after(q, NULL, pg);
}

/* Point the direct slots of bin b at its first page (or the empty page). */
static void heap_direct_update(struct shard_heap *h, unsigned b)
{
	size_t size = shard_bin_size(b);
	if (size > SHARD_DIRECT_MAX)
		return;
	struct shard_page *pg = shard_direct_page(h, b);
	size_t lo, hi;
	shard_direct_slots(b, &lo, &hi);
	if (h->direct[hi] == pg)
		return;   /* every slot of the bin is set together */
	for (size_t g = lo; g <= hi; g++)
		h->direct[g] = pg;
}

/* Take pg off its bin's queue. */
static void heap_page_unlink(struct shard_heap *h, struct shard_page *pg)
{
	bool first = h->bins[pg->bin].first == pg;
	_hk_shard_pq_remove(&h->bins[pg->bin], pg);
	if (page_flags(pg) & PAGE_IN_FULL) {
		h->nr_full[pg->bin]--;
		page_flags_set(pg, page_flags(pg) & ~PAGE_IN_FULL);
	}
	if (first)
		heap_direct_update(h, pg->bin);
}

/* pg has no free block: to the back of its queue, behind the pages with room. */
static void heap_page_to_full(struct shard_heap *h, struct shard_page *pg)
{
	struct shard_pq *q = &h->bins[pg->bin];
	heap_page_unlink(h, pg);
	page_flags_set(pg, page_flags(pg) | PAGE_IN_FULL);
	h->nr_full[pg->bin]++;
	pq_insert_after(q, q->last, pg);
	if (q->first == pg)
		heap_direct_update(h, pg->bin);
}

/* Put pg at the front of its bin's queue. */
static void heap_page_push(struct shard_heap *h, struct shard_page *pg)
{
	_hk_shard_pq_push(&h->bins[pg->bin], pg);
	heap_direct_update(h, pg->bin);
}

/*
 * A full page got a free block: back among the pages with room, behind the
 * last of them, so malloc takes the page it is using and the others in the
 * order they got room back: a page put first with one free block would be
 * full again at the next malloc and each free into it would bounce it back
 * (two slow paths per operation); taken last, it has had the most time to
 * get blocks back.
 */
static void heap_page_unfull(struct shard_heap *h, struct shard_page *pg)
{
	heap_page_unlink(h, pg);
	struct shard_pq *q = &h->bins[pg->bin];
	struct shard_page *at = q->room_last;
	if (!at) {
		heap_page_push(h, pg);
		return;
	}
	pq_insert_after(q, at, pg);
	q->room_last = pg;
}

/* --- Page lists ------------------------------------------------------------------ */

/* The owner's count of n blocks other threads gave back to pg. */
static void page_count_collected(struct shard_page *pg, uint32_t n)
{
	struct shard_segment *seg = shard_page_segment(pg);
	if (seg->heap) {   /* (NULL: an abandoned segment collected in place) */
		seg->heap->peak_slack += (intptr_t)((size_t)n * pg->block_size);
		/* (the owner's own count: a shared counter here cost every collection a contended atomic) */
		__atomic_store_n(&seg->heap->xthread_collected, seg->heap->xthread_collected + n, __ATOMIC_RELAXED);
	} else {
		__atomic_fetch_add(&_hk_shard_xthread_collected, n, __ATOMIC_RELAXED);
	}
}

/*
 * Take other threads' frees, then local_free onto free if free is empty.
 * The stack's word says how many blocks it holds, so it becomes a list as
 * it is (no block is read) when a list is empty to take it: local_free, or
 * free after local_free moves there. Only with both in use is it walked, to
 * put it before local_free. Owner only (or under the lock while abandoned).
 */
void _hk_shard_page_collect(struct shard_page *pg)
{
	if (__atomic_load_n(&pg->xthread_free, __ATOMIC_RELAXED)) {
		uintptr_t w = __atomic_exchange_n(&pg->xthread_free, 0, __ATOMIC_ACQUIRE);
		struct shard_block *list = shard_xt_head(shard_page_segment(pg), w);
		uint32_t n = shard_xt_count(w);
		if (hk_unlikely(n > pg->used || !list))
			_hk_shard_list_corrupt(pg, list);
		if (!pg->local_free) {
			pg->local_free = list;
		} else if (!pg->free) {
			pg->free = pg->local_free;
			pg->local_free = list;
		} else {
			struct shard_block *tail = list, *next;
			uint32_t walked = 1;
			while ((next = shard_link_get(tail)) != NULL) {
#if HK_HARDEN >= 1
				if (hk_unlikely(shard_link_strays(tail, next, ~(((uintptr_t)1 << SHARD_SEG_SHIFT_MAX) - 1)) ||
						walked >= n))
					_hk_shard_list_corrupt(pg, tail);
#endif
				tail = next;
				walked++;
			}
#if HK_HARDEN >= 1
			if (hk_unlikely(walked != n))   /* a link cut short: as many links as the word counts, no fewer */
				_hk_shard_list_corrupt(pg, tail);
#endif
			shard_link_set(tail, pg->local_free);
			pg->local_free = list;
		}
		pg->used -= n;
		page_count_collected(pg, n);
	}
	if (!pg->free && pg->local_free) {
		pg->free = pg->local_free;
		pg->local_free = NULL;
	}
}

/*
 * Carve up to SHARD_EXTEND_BYTES more blocks onto free (which is empty), one
 * at least. (Two at least would keep a block just freed from being the next
 * one handed out for big classes too, but touches a page more per fresh
 * page: mstress's peak RSS rose 12 %.)
 */
static void page_extend(struct shard *sh, struct shard_segment *seg, struct shard_page *pg)
{
	size_t n = SHARD_EXTEND_BYTES / pg->block_size;
	if (n < 1)
		n = 1;
	if (n > (size_t)pg->reserved - pg->capacity)
		n = pg->reserved - pg->capacity;
	uint8_t *b = (uint8_t *)shard_page_area(seg, pg) + (size_t)pg->capacity * pg->block_size;
	for (size_t i = 0; i + 1 < n; i++, b += pg->block_size)
		shard_link_set((struct shard_block *)b, (struct shard_block *)(b + pg->block_size));
	shard_link_set((struct shard_block *)b, NULL);
	pg->free = (struct shard_block *)((uint8_t *)shard_page_area(seg, pg) + (size_t)pg->capacity * pg->block_size);
	pg->capacity += (uint32_t)n;
}

/* Page idx spanning span slots for bin: header, continuation slots, no blocks yet. */
static void page_init(struct shard *sh, struct shard_segment *seg, unsigned idx, unsigned bin, unsigned span)
{
	struct shard_page *pg = &seg->pages[idx];
	size_t bytes = seg->kind == SEG_LARGE ? sh->seg_size : (size_t)span << sh->page_shift;
	if (idx == 0)
		bytes -= sh->seg_header;
	pg->free = pg->local_free = NULL;
	__atomic_store_n(&pg->xthread_free, 0, __ATOMIC_RELAXED);
	pg->used = pg->capacity = 0;
	pg->block_size = (uint32_t)shard_bin_size(bin);
	pg->block_magic = shard_block_magic(pg->block_size);
	pg->reserved = (uint16_t)(bytes / pg->block_size);
	pg->area_at = (uint16_t)((shard_slot_area(sh, seg, idx) - (uintptr_t)seg) >> SHARD_AREA_SHIFT);
	page_flags_set(pg, __atomic_load_n(&sh->count_slow, __ATOMIC_RELAXED) ? PAGE_COUNTED : 0);
	pg->bin = (uint8_t)bin;
	pg->index = (uint8_t)idx;
	pg->slots = (uint8_t)span;
	pg->next = pg->prev = NULL;
	for (unsigned k = 1; k < span; k++) {
		struct shard_page *c = &seg->pages[idx + k];
		memset(c, 0, sizeof *c);
		page_flags_set(c, PAGE_CONT);
		c->bin = (uint8_t)bin;
		c->index = (uint8_t)(idx + k);
		c->slots = (uint8_t)k;
		c->block_size = pg->block_size;
	}
	seg->free_mask &= ~shard_slot_bits(idx, span);
	_hk_shard_purge_unmark(seg, idx, span);
}

/* --- Segments ---------------------------------------------------------------------- */

/* Map n segments into the cache for good (HEAPKIT_RESERVE); how many were mapped. */
size_t _hk_shard_reserve(struct shard *sh, size_t n)
{
	size_t got = 0;
	for (; got < n; got++) {
		struct shard_segment *seg = sh->src->map(sh->src, sh->seg_size, sh->seg_size);
		if (!seg)
			break;
		__atomic_fetch_add(&sh->ctr.seg_maps, 1, __ATOMIC_RELAXED);
		hk_lock(&sh->lock);
		seg->kind = 0;
		seg->next = sh->cache;
		sh->cache = seg;
		sh->nr_cached++;
		sh->cache_reserved++;
		hk_unlock(&sh->lock);
	}
	return got;
}

/*
 * Open seg's first end bytes to access. Over a page source with protect, a
 * fresh small segment is left without access past its first
 * SHARD_OPEN_STEP (the header and the first pages): page slots open, a step
 * at a time, as pages come to use them, so a far overflow or underflow from
 * a block into the segment's unused part faults at the write. False when
 * the OS refused (no memory: the caller fails as for a failed map).
 */
static bool segment_open(struct shard *sh, struct shard_segment *seg, size_t end)
{
	if (!seg->open_end || end <= seg->open_end)
		return true;
	size_t to = hk_align_up(end, SHARD_OPEN_STEP);
	if (to > sh->seg_size)
		to = sh->seg_size;
	if (sh->src->protect(sh->src, (char *)seg + seg->open_end, to - seg->open_end, 1) != 0)
		return false;
	seg->open_end = to == sh->seg_size ? 0 : (uint32_t)to;
	return true;
}

/* A segment for h, from the cache or the page source; NULL when none. */
static struct shard_segment *segment_alloc(struct shard_heap *h, unsigned kind)
{
	struct shard *sh = h->inst;
	struct shard_segment *seg = NULL;
	uint32_t open_end = 0;
	hk_lock(&sh->lock);
	if (sh->cache) {
		seg = sh->cache;
		sh->cache = seg->next;
		sh->nr_cached--;
		sh->ctr.cache_hits++;
		open_end = seg->open_end;
	}
	hk_unlock(&sh->lock);
	if (!seg) {
		seg = sh->src->map(sh->src, sh->seg_size, sh->seg_size);
		if (!seg)
			return NULL;
		__atomic_fetch_add(&sh->ctr.seg_maps, 1, __ATOMIC_RELAXED);
		size_t start = hk_align_up(sh->seg_header, SHARD_OPEN_STEP);
		if (kind == SEG_SMALL && sh->src->protect && start < sh->seg_size &&
		    sh->src->protect(sh->src, (char *)seg + start, sh->seg_size - start, 0) == 0)
			open_end = (uint32_t)start;
	}
	hk_assert(((uintptr_t)seg & ~sh->seg_mask) == 0);
	memset(seg, 0, sh->seg_header);
	seg->open_end = open_end;
	if (kind == SEG_LARGE && !segment_open(sh, seg, sh->seg_size)) {
		sh->src->unmap(sh->src, seg, sh->seg_size);
		__atomic_fetch_add(&sh->ctr.seg_unmaps, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	seg->stamp = shard_seg_stamp(seg);
	seg->heap = h;
	seg->kind = (uint8_t)kind;
	seg->page_shift = (uint8_t)(kind == SEG_LARGE ? sh->seg_shift : sh->page_shift);
	seg->nr_pages = (uint16_t)(kind == SEG_LARGE ? 1 : sh->nr_pages);
	seg->free_mask = seg->nr_pages == 64 ? ~(uint64_t)0 : ((uint64_t)1 << seg->nr_pages) - 1;
	__atomic_store_n(&seg->owner, h->owner, __ATOMIC_RELEASE);
	hk_lock(&sh->lock);
	seg->all_next = sh->segments;
	if (sh->segments)
		sh->segments->all_prev = seg;
	sh->segments = seg;
	hk_unlock(&sh->lock);
	return seg;
}

/* Give an empty segment back (to the cache or the page source). Not on any heap list. */
void _hk_shard_segment_release(struct shard *sh, struct shard_segment *seg)
{
	hk_lock(&sh->lock);
	if (seg->all_prev)
		seg->all_prev->all_next = seg->all_next;
	else
		sh->segments = seg->all_next;
	if (seg->all_next)
		seg->all_next->all_prev = seg->all_prev;
	__atomic_store_n(&seg->owner, SEG_ABANDONED, __ATOMIC_RELAXED);
	seg->kind = 0;
	seg->stamp = 0;
	bool keep = sh->nr_cached < sh->cache_reserved || (sh->nr_cached < sh->cache_max + sh->cache_reserved && sh->clock_ms);
	if (keep) {
		seg->cached_at = sh->clock_ms();
		seg->next = sh->cache;
		sh->cache = seg;
		sh->nr_cached++;
	}
	hk_unlock(&sh->lock);
	if (!keep) {
		sh->src->unmap(sh->src, seg, sh->seg_size);
		__atomic_fetch_add(&sh->ctr.seg_unmaps, 1, __ATOMIC_RELAXED);
	} else {
		_hk_shard_purge_arm(sh);
	}
}

static void heap_small_segs_remove(struct shard_heap *h, struct shard_segment *seg)
{
	if (seg->prev)
		seg->prev->next = seg->next;
	else
		h->small_segs = seg->next;
	if (seg->next)
		seg->next->prev = seg->prev;
	seg->next = seg->prev = NULL;
}

static void heap_small_segs_push(struct shard_heap *h, struct shard_segment *seg)
{
	seg->prev = NULL;
	seg->next = h->small_segs;
	if (h->small_segs)
		h->small_segs->prev = seg;
	h->small_segs = seg;
}

/*
 * pg is empty and on none of h's lists: give its slot back; the segment
 * goes back when all its slots are free.
 */
void _hk_shard_segment_page_release(struct shard *sh, struct shard_heap *h, struct shard_segment *seg,
				    struct shard_page *pg)
{
	uint64_t all = seg->nr_pages == 64 ? ~(uint64_t)0 : ((uint64_t)1 << seg->nr_pages) - 1;
	bool was_full = seg->free_mask == 0;
	unsigned span = seg->kind == SEG_LARGE ? 1 : pg->slots;
	for (unsigned k = 0; k < span; k++)
		pg[k].bin = 0;
	seg->free_mask |= shard_slot_bits(pg->index, span);
	if (seg->free_mask != all && pg->capacity)
		_hk_shard_purge_mark(sh, seg, shard_slot_bits(pg->index, span));
	if (seg->free_mask == all) {
		if (seg->kind == SEG_SMALL && !was_full && h)
			heap_small_segs_remove(h, seg);
		_hk_shard_segment_release(sh, seg);
	} else if (was_full && h) {
		heap_small_segs_push(h, seg);
	}
	_hk_shard_purge_tick(sh);
}

/* Free page pg of heap h: off h's lists, slot back to its segment. */
void _hk_shard_page_free(struct shard_heap *h, struct shard_page *pg)
{
	heap_page_unlink(h, pg);
	_hk_shard_segment_page_release(h->inst, h, shard_page_segment(pg), pg);
}

/* First free run of span slots (span a power of two, aligned to span), or -1. */
static int segment_find_run(struct shard_segment *seg, unsigned span)
{
	uint64_t run = (span < 64 ? (uint64_t)1 << span : 0) - 1;
	for (unsigned i = 0; i + span <= seg->nr_pages; i += span)
		if (((seg->free_mask >> i) & run) == run)
			return (int)i;
	return -1;
}

/* A fresh page of bin for h, on the front of its queue; NULL when memory is out. */
static struct shard_page *page_fresh(struct shard_heap *h, unsigned bin)
{
	struct shard *sh = h->inst;
	size_t bsize = shard_bin_size(bin);
	struct shard_segment *seg;
	int idx = 0;
	if (bsize <= sh->medium_max) {
		unsigned span = 1;
		if (bsize > sh->small_max) {
			size_t slots = ((bsize << SHARD_MEDIUM_BLOCKS_SHIFT) + ((size_t)1 << sh->page_shift) - 1) >>
				       sh->page_shift;
			span = 1u << hk_log2_up(slots);
			if (span > sh->nr_pages / 2)
				span = sh->nr_pages / 2;
		}
		idx = -1;
		for (int tries = 0;; tries++) {
			for (seg = h->small_segs; seg && (idx = segment_find_run(seg, span)) < 0; seg = seg->next)
				;
			/* No room in h's segments: take over an abandoned one before mapping another. */
			if (seg || tries == SHARD_RECLAIM_TRIES || !__atomic_load_n(&sh->abandoned, __ATOMIC_RELAXED) ||
			    !_hk_shard_reclaim_one(h))
				break;
			/* the reclaimed segment may have brought a page of this bin with room */
			struct shard_page *q = h->bins[bin].first;
			if (q && !(page_flags(q) & PAGE_IN_FULL)) {
				_hk_shard_page_collect(q);
				if (q->free)
					return q;
			}
		}
		if (!seg) {
			seg = segment_alloc(h, SEG_SMALL);
			if (!seg)
				return NULL;
			heap_small_segs_push(h, seg);
			idx = 0;
		}
		if (!segment_open(sh, seg, (size_t)((unsigned)idx + span) << sh->page_shift))
			return NULL;
		page_init(sh, seg, (unsigned)idx, bin, span);
		if (!seg->free_mask)
			heap_small_segs_remove(h, seg);
	} else {
		seg = segment_alloc(h, SEG_LARGE);
		if (!seg)
			return NULL;
		page_init(sh, seg, 0, bin, 1);
	}
	struct shard_page *pg = &seg->pages[idx];
	page_extend(sh, seg, pg);
	heap_page_push(h, pg);
	h->fresh[bin]++;
	_hk_shard_purge_tick(sh);
	return pg;
}

/* --- Finding a page ------------------------------------------------------------------- */

/*
 * Full pages (at the back of their queue) may have been freed into by other
 * threads, which do not tell the owner. Look again before making a fresh
 * page, backing off while looking finds little: after a rescan that found
 * fewer free blocks than it looked at pages, the next waits for twice as
 * many fresh pages (up to a sixteenth as many as the bin has full ones), so
 * a thread that only fills memory pays a bounded share per page it makes;
 * after one that found more, the next is at once. A producer whose blocks
 * other threads free (xmalloc-test) so reuses its pages instead of carving
 * new ones while the old ones fill with returned blocks.
 */
static bool heap_full_rescan(struct shard_heap *h, unsigned bin, bool force)
{
	uint32_t wait = h->rescan_wait[bin] ? ((uint32_t)1 << h->rescan_wait[bin]) - 1 : 0;
	if (wait > h->nr_full[bin] / 16)
		wait = h->nr_full[bin] / 16;
	if (!h->nr_full[bin] || (!force && h->fresh[bin] < wait))
		return false;
	h->fresh[bin] = 0;
	size_t looked = 0, got = 0;
	struct shard_page *prev;
	for (struct shard_page *pg = h->bins[bin].last; pg && (page_flags(pg) & PAGE_IN_FULL); pg = prev) {
		prev = pg->prev;
		looked++;
		if (!__atomic_load_n(&pg->xthread_free, __ATOMIC_RELAXED))
			continue;
		_hk_shard_page_collect(pg);
		if (pg->free) {
			got += pg->capacity - pg->used;
			heap_page_unfull(h, pg);
		}
	}
	if (got >= looked)
		h->rescan_wait[bin] = 0;
	else if (h->rescan_wait[bin] < 31)
		h->rescan_wait[bin]++;
	return got != 0;
}

/* A page of bin with a free block, at the front of its queue; NULL if out of memory. */
static struct shard_page *heap_find_page(struct shard_heap *h, unsigned bin)
{
	struct shard *sh = h->inst;
	struct shard_pq *q = &h->bins[bin];
	bool rescanned = false, reclaimed = false;
	for (;;) {
		struct shard_page *next;
		for (struct shard_page *pg = q->first; pg && !(page_flags(pg) & PAGE_IN_FULL); pg = next) {
			next = pg->next;
			_hk_shard_page_collect(pg);
			if (!pg->free && pg->capacity < pg->reserved)
				page_extend(sh, shard_page_segment(pg), pg);
			if (pg->free) {
				if (q->first != pg) {
					heap_page_unlink(h, pg);
					heap_page_push(h, pg);
				}
				return pg;
			}
			heap_page_to_full(h, pg);
		}
		if (!rescanned) {
			rescanned = true;
			if (heap_full_rescan(h, bin, false))
				continue;
		}
		/* (abandoned segments are taken over in page_fresh, when h has no free slot left) */
		struct shard_page *pg = page_fresh(h, bin);
		if (pg)
			return pg;
		/* Out of memory: take back what others gave, then try once more. */
		if (reclaimed)
			return NULL;
		reclaimed = true;
		_hk_shard_reclaim_all(h->inst);
		heap_full_rescan(h, bin, true);
		_hk_shard_heap_collect(h, true);
	}
}

/* --- malloc and free: the slow paths ---------------------------------------------------- */

static void *malloc_slow(struct shard *sh, size_t size)
{
	if (hk_unlikely(!sh->src) && !(sh == &_hk_shard_os && _hk_shard_os_ensure()))
		return NULL;
	if (size == 0) {
#if defined(HK_HOSTED) && HK_HOSTED
		void *z = sh->zero_trap ? _hk_zero_alloc() : NULL;
		if (z)
			return z;
#endif
		size = 1;
	}
	if (size > sh->large_max)
		return _hk_shard_huge_alloc(sh, 0, size, NULL);
	struct shard_heap *h = _hk_shard_heap_get(sh);
	if (hk_unlikely(!h))
		return NULL;
	struct shard_page *pg = heap_find_page(h, shard_bin_of(size));
	if (!pg)
		return NULL;
	struct shard_block *b = pg->free, *next = shard_link_get(b);
#if HK_HARDEN >= 1
	/* the slow path checks the whole page's bounds, not just the segment's */
	uintptr_t area = shard_page_area(shard_page_segment(pg), pg);
	if (hk_unlikely(next && ((uintptr_t)next - area >= (uintptr_t)pg->capacity * pg->block_size ||
				 ((uintptr_t)next - area) % pg->block_size)))
		_hk_shard_list_corrupt(pg, b);
#endif
	void *p = shard_block_take(h, pg, b, next, true);
	_hk_shard_purge_safe_point(sh);   /* after the take: waking the purge thread may allocate */
	return p;
}

/* Everything the fast path could not do; NULL with ENOMEM when memory is out. */
hk_noinline void *_hk_shard_malloc_slow(struct shard *sh, size_t size)
{
	void *p = malloc_slow(sh, size);
	if (hk_unlikely(!p))
		_hk_set_errno(HK_ENOMEM);
	return p;
}

/* The owner's free of block b on pg when the fast path could not. */
static void free_local(struct shard_segment *seg, struct shard_page *pg, struct shard_block *b)
{
	shard_link_set(b, pg->local_free);
	pg->local_free = b;
	pg->used--;
	seg->heap->peak_slack += (intptr_t)pg->block_size;
	if (page_flags(pg) & PAGE_IN_FULL) {
		if (pg->used == 0) {
			_hk_shard_page_free(seg->heap, pg);
			return;
		}
		_hk_shard_page_collect(pg);
		heap_page_unfull(seg->heap, pg);
	} else if (pg->used == 0) {
		_hk_shard_page_emptied(pg);
	}
}

/* Another thread's free: push on the page's atomic stack. */
static void free_remote(struct shard_segment *seg, struct shard_page *pg, struct shard_block *b)
{
	uintptr_t old = __atomic_load_n(&pg->xthread_free, __ATOMIC_RELAXED);
	uintptr_t top = shard_xt_top((uintptr_t)b - (uintptr_t)seg), mix = shard_link_mix(b);
	do {
		shard_link_set_mixed(b, shard_xt_head(seg, old), mix);
	} while (!__atomic_compare_exchange_n(&pg->xthread_free, &old, shard_xt_push(old, top), true,
					      __ATOMIC_RELEASE, __ATOMIC_RELAXED));
}

/*
 * The fast path's free of p on a known segment that is not the owner's
 * plain local case. Another thread's block (small or medium page, no
 * aligned blocks inside) is judged here
 * as the slow path would (a used page slot, inside its carved blocks, on a
 * block boundary, not looking free) and pushed on the page's atomic list:
 * a cross-thread free costs no second map lookup and no full judgement.
 * Anything else, or anything wrong, goes to the slow path, which names it.
 */
hk_noinline void _hk_shard_free_other(struct shard *sh, struct shard_segment *seg, void *p)
{
	uintptr_t a = (uintptr_t)p;
	struct shard_page *pg = page_head(_hk_shard_page_of(seg, p));
	if (hk_likely(__atomic_load_n(&seg->owner, __ATOMIC_RELAXED) != shard_thread_self() &&
		      !(page_flags(pg) & PAGE_HAS_ALIGNED) && pg->bin != 0)) {
		struct shard_block *b = p;
		/* (a before the page's blocks wraps to a quotient above any count) */
		if (hk_likely(shard_block_starts(pg, (uint32_t)(a - shard_page_area(seg, pg)), pg->reserved)
#if HK_HARDEN >= 1
			      && !shard_word_looks_free((uintptr_t)b->next, b)
#endif
			      )) {
			free_remote(seg, pg, b);
			return;
		}
	}
	_hk_shard_free_slow(p, sh);
}

/*
 * Everything the fast path could not do. The pointer is judged first
 * (harden.c): a pointer heapkit never returned, one into the middle of a
 * block or a block that is free already aborts with its message.
 */
hk_noinline void _hk_shard_free_slow(void *p, struct shard *sh)
{
	if (!p)
		return;
	struct shard_found f;
	enum shard_judged j = _hk_shard_judge(sh, p, "free", &f);
	if (j != JUDGED_BLOCK) {
		if (j == JUDGED_ZERO)
			_hk_shard_zero_free(p);
		else
			_hk_shard_huge_free(sh, p);
		return;
	}
	_hk_shard_check_not_free(sh, &f, "free", p);
	if (__atomic_load_n(&f.seg->owner, __ATOMIC_ACQUIRE) == shard_thread_self()) {
		free_local(f.seg, f.pg, f.block);
		_hk_shard_purge_safe_point(sh);
	} else {
		free_remote(f.seg, f.pg, f.block);
	}
}

/*
 * The owner's free made pg empty. Keep it when it is the only page of its
 * bin (a malloc/free loop should not churn pages); else give it back.
 */
hk_noinline void _hk_shard_page_emptied(struct shard_page *pg)
{
	struct shard_heap *h = shard_page_segment(pg)->heap;
	struct shard_pq *q = &h->bins[pg->bin];
	if (!(page_flags(pg) & PAGE_IN_FULL) && q->first == pg && q->last == pg)
		return;
	_hk_shard_page_free(h, pg);
	_hk_shard_purge_safe_point(h->inst);
}

/* Collect every page of h; give back the empty ones (all: even a bin's last). */
void _hk_shard_heap_collect(struct shard_heap *h, bool all)
{
	struct shard_page *pg, *next;
	for (unsigned b = 1; b <= h->inst->large_bin; b++) {
		for (pg = h->bins[b].first; pg; pg = next) {
			next = pg->next;
			_hk_shard_page_collect(pg);
			if (pg->used == 0 && (all || h->bins[b].first != pg || next))
				_hk_shard_page_free(h, pg);
			else if ((page_flags(pg) & PAGE_IN_FULL) && pg->free)
				heap_page_unfull(h, pg);
		}
	}
}

/* --- Aligned, sized, resized ---------------------------------------------------------- */

void *_hk_shard_memalign(struct shard *sh, size_t align, size_t size)
{
	if (align <= SHARD_GRANULE)
		return _hk_shard_malloc(sh, hk_small_align_size(align, size));
	if (size == 0)
		size = 1;   /* no malloc(0) address is aligned past the granule: a real block */
	if (align >= sh->seg_size || size > sh->large_max || size + align - 1 > sh->large_max)
		return _hk_shard_huge_alloc(sh, align, size, NULL);
	/* A block of a class that is a multiple of align, starting aligned: no offset. */
	uint8_t *p = _hk_shard_malloc(sh, size + align - 1);
	if (!p)
		return NULL;
	uint8_t *q = (uint8_t *)hk_align_up((uintptr_t)p, align);
	if (q != p) {
		struct shard_page *head = page_head(_hk_shard_page_of(_hk_shard_segment_of(sh, p), p));
		page_flags_set(head, page_flags(head) | PAGE_HAS_ALIGNED);
	}
	return q;
}

/* Usable bytes at p (not NULL), judged for op ("realloc", "malloc_usable_size"); 0 only for a malloc(0) address. */
size_t _hk_shard_usable_op(struct shard *sh, void *p, const char *op)
{
	struct shard_found f;
	enum shard_judged j = _hk_shard_judge(sh, p, op, &f);
	if (j != JUDGED_BLOCK)
		return j == JUDGED_ZERO ? 0 : _hk_shard_huge_usable(sh, p);
	_hk_shard_check_not_free(sh, &f, op, p);
	return f.pg->block_size - (size_t)((uint8_t *)p - (uint8_t *)f.block);
}

size_t _hk_shard_usable(struct shard *sh, void *p) { return _hk_shard_usable_op(sh, p, "malloc_usable_size"); }

void *_hk_shard_realloc(struct shard *sh, void *p, size_t size)
{
	size_t usable = _hk_shard_usable_op(sh, p, "realloc");
	if (size <= usable && size >= usable / 2)
		return p;
	if (size > sh->large_max && usable && ((uintptr_t)p & ~sh->seg_mask) == 0) {
		void *r = _hk_shard_huge_resize(sh, p, size);
		if (r)
			return r;
	}
	void *q = _hk_shard_malloc(sh, size);
	if (!q)
		return NULL;
	memcpy(q, p, usable < size ? usable : size);
	_hk_shard_free(sh, p);
	return q;
}

void *_hk_shard_calloc(struct shard *sh, size_t size)
{
	if (size > sh->large_max && sh->os_zero) {
		bool fresh = false;
		void *h = _hk_shard_huge_alloc(sh, 0, size, &fresh);
		if (!h)
			_hk_set_errno(HK_ENOMEM);
		else if (!fresh)
			memset(h, 0, size);
		return h;   /* a fresh mapping is zero already */
	}
	void *p = _hk_shard_malloc(sh, size);
	if (p)
		memset(p, 0, size);
	return p;
}
