// SPDX-License-Identifier: MIT
/*
 * shard: huge blocks. Each is a page-source block of its own, segment
 * aligned; over the OS, recently freed mappings are kept in a small cache
 * (SHARD_HUGE_CACHE entries, SHARD_HUGE_CACHE_BYTES in all) so a program
 * that frees and allocates big buffers in turn does not fault them in anew;
 * realloc resizes them without copying where the page source can remap.
 */
#include "shard/shard.h"

/* --- Mapping -------------------------------------------------------------------- */

/*
 * A huge block is a page-source block of its own, segment aligned, so free
 * tells it by its address. Over a buddy the buddy knows its size; over the
 * OS a header just below the block says what to unmap.
 */
struct shard_huge {
	void *base;           /* what map returned */
	size_t map_len;       /* what to unmap */
	size_t usable;        /* the request rounded to pages: <= map_len - align */
	size_t align;         /* the mapping's alignment (the block's offset in it) */
	uintptr_t magic;      /* block address ^ SHARD_HUGE_MAGIC */
};
#define SHARD_HUGE_MAGIC ((uintptr_t)0x5ead5ead5ead5eadull)
#define SHARD_HUGE_FREED ((uintptr_t)0xf9eef9eef9eef9eeull)   /* magic of a freed block whose mapping is cached */
_Static_assert(sizeof(struct shard_huge) <= SHARD_HUGE_HDR, "huge header fits below the block");

static struct shard_huge *huge_header(void *p) { return (struct shard_huge *)((uint8_t *)p - SHARD_HUGE_HDR); }

/*
 * Take a cached mapping for len bytes at align (lock held by caller): the
 * smallest that holds len, else (when the source can remap) the largest,
 * which the caller grows; NULL if none. Pages of a reused mapping are
 * resident already: reuse saves the faults, not just the mmap.
 */
static uint8_t *cache_take(struct shard *sh, size_t align, size_t len, size_t *map_len)
{
	int best = -1, big = -1;
	for (unsigned i = 0; i < sh->nr_huge_cached; i++) {
		struct shard_huge_span *c = &sh->huge_cache[i];
		if (c->align != align)
			continue;
		if (c->map_len - align >= len) {
			if (best < 0 || c->map_len < sh->huge_cache[best].map_len)
				best = (int)i;
		} else if (big < 0 || c->map_len > sh->huge_cache[big].map_len) {
			big = (int)i;
		}
	}
	if (best < 0 && sh->src->remap && big >= 0 && (sh->huge_cache[big].map_len - align) * SHARD_HUGE_SLACK >= len)
		best = big;   /* grown by at most SHARD_HUGE_SLACK times: a far larger request maps afresh */
	if (best < 0)
		return NULL;
	struct shard_huge_span *c = &sh->huge_cache[best];
	uint8_t *base = c->base;
	*map_len = c->map_len;
	sh->huge_cached_bytes -= c->map_len;
	*c = sh->huge_cache[sh->nr_huge_cached - 1];
	__atomic_store_n(&sh->nr_huge_cached, sh->nr_huge_cached - 1, __ATOMIC_RELAXED);
	return base;
}

/* Keep a freed mapping for reuse (cache_delay, then the purge scan unmaps it); false if full. */
static bool cache_put(struct shard *sh, void *base, size_t map_len, size_t align)
{
	bool kept = false;
	if (!sh->clock_ms)
		return false;
	hk_lock(&sh->lock);
	while (sh->nr_huge_cached && (sh->nr_huge_cached == SHARD_HUGE_CACHE ||
				      sh->huge_cached_bytes + map_len > sh->huge_cache_max)) {
		/* full: the oldest entry makes room (unmapped by the caller after the lock) */
		unsigned old = 0;
		for (unsigned i = 1; i < sh->nr_huge_cached; i++)
			if (sh->huge_cache[i].cached_at < sh->huge_cache[old].cached_at)
				old = i;
		if (sh->huge_cache[old].map_len > map_len)
			break;
		struct shard_huge_span o = sh->huge_cache[old];
		sh->huge_cached_bytes -= o.map_len;
		sh->huge_cache[old] = sh->huge_cache[--sh->nr_huge_cached];
		hk_unlock(&sh->lock);
		sh->src->unmap(sh->src, o.base, o.map_len);
		__atomic_fetch_add(&sh->ctr.seg_unmaps, 1, __ATOMIC_RELAXED);
		hk_lock(&sh->lock);
	}
	if (sh->nr_huge_cached < SHARD_HUGE_CACHE && sh->huge_cached_bytes + map_len <= sh->huge_cache_max) {
		sh->huge_cache[sh->nr_huge_cached] = (struct shard_huge_span){ base, map_len, align, sh->clock_ms() };
		__atomic_store_n(&sh->nr_huge_cached, sh->nr_huge_cached + 1, __ATOMIC_RELAXED);
		sh->huge_cached_bytes += map_len;
		kept = true;
	}
	hk_unlock(&sh->lock);
	if (kept)
		_hk_shard_purge_arm(sh);
	return kept;
}

/*
 * Fit a cached mapping of map_len to len + align: grown by remap (its pages
 * kept), or trimmed when it is over SHARD_HUGE_SLACK times the request (a
 * program that frees a big buffer and asks for another of a different size
 * pays faults only for the growth).
 */
static uint8_t *cache_fit(struct shard *sh, uint8_t *base, size_t *map_len, size_t align, size_t len)
{
	size_t room = *map_len - align;
	if (room >= len && room / SHARD_HUGE_SLACK <= len)
		return base;
	uint8_t *nb = sh->src->remap ? sh->src->remap(sh->src, base, *map_len, len + align, align) : NULL;
	if (!nb) {
		if (room >= len)
			return base;
		sh->src->unmap(sh->src, base, *map_len);
		return NULL;
	}
	*map_len = len + align;
	return nb;
}

/* Huge blocks hold huge bytes now: with this thread's other blocks, a peak candidate (stats takes the highest). */
static void huge_peak_note(struct shard *sh, size_t huge)
{
	struct shard_heap *h = shard_heap_current();
	size_t now = huge + (SHARD_HEAP_MATCHES(h, sh) ? shard_heap_live(h) : 0);
	hk_lock(&sh->lock);
	if (now > sh->peak_bytes)
		sh->peak_bytes = now;
	hk_unlock(&sh->lock);
}

static void *huge_map(struct shard *sh, size_t align, size_t size, bool *fresh)
{
	void *p;
	if (size > HK_MAX_REQUEST || align > HK_MAX_REQUEST / 2)
		return NULL;
	if (align < sh->seg_size)
		align = sh->seg_size;
	size_t usable;
	if (sh->buddy) {
		p = hk_memalign(sh->buddy, align, size);
		if (!p)
			return NULL;
		usable = hk_usable_size(sh->buddy, p);
	} else {
		size_t len = hk_align_up(size, HK_PAGE_SIZE);
		if (len < size || len + align < len)
			return NULL;
		size_t map_len = len + align;
		uint8_t *base = NULL;
		if (__atomic_load_n(&sh->nr_huge_cached, __ATOMIC_RELAXED)) {
			hk_lock(&sh->lock);
			base = cache_take(sh, align, len, &map_len);
			hk_unlock(&sh->lock);
			if (base)
				base = cache_fit(sh, base, &map_len, align, len);
		}
		if (base) {
			__atomic_fetch_add(&sh->ctr.huge_cache_hits, 1, __ATOMIC_RELAXED);
			if (fresh)
				*fresh = false;
		} else {
			base = sh->src->map(sh->src, map_len, align);
			if (!base)
				return NULL;
			__atomic_fetch_add(&sh->ctr.huge_maps, 1, __ATOMIC_RELAXED);
			if (fresh)
				*fresh = sh->os_zero;
		}
		p = base + align;
		struct shard_huge *hh = huge_header(p);
		hh->base = base;
		hh->map_len = map_len;
		hh->align = align;
		hh->usable = len;
		hh->magic = (uintptr_t)p ^ SHARD_HUGE_MAGIC;
		usable = hh->usable;
	}
	__atomic_fetch_add(&sh->huge_live, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&sh->huge_allocs, 1, __ATOMIC_RELAXED);
	huge_peak_note(sh, __atomic_add_fetch(&sh->huge_bytes, usable, __ATOMIC_RELAXED));
	return p;
}

/* --- Huge blocks ---------------------------------------------------------------------- */

/*
 * A huge block; when memory is short, give back what the heaps hold and
 * retry. *fresh (if asked) says the memory is zero from the OS.
 */
void *_hk_shard_huge_alloc(struct shard *sh, size_t align, size_t size, bool *fresh)
{
	void *p = huge_map(sh, align, size, fresh);
	if (hk_likely(p != NULL))
		return p;
	_hk_shard_reclaim_all(sh);
	return huge_map(sh, align, size, fresh);
}

size_t _hk_shard_huge_usable(struct shard *sh, void *p)
{
	if (sh->buddy)
		return hk_usable_size(sh->buddy, p);
	struct shard_huge *hh = huge_header(p);
	if (hk_unlikely(hh->magic != ((uintptr_t)p ^ SHARD_HUGE_MAGIC)))
		_hk_fatal(hh->magic == ((uintptr_t)p ^ SHARD_HUGE_FREED) ? "free of a block that is free already (double free)"
									  : "free of a pointer heapkit never returned",
			  p);
	return hh->usable;
}

void _hk_shard_huge_free(struct shard *sh, void *p)
{
	size_t usable = _hk_shard_huge_usable(sh, p);
	__atomic_fetch_sub(&sh->huge_live, 1, __ATOMIC_RELAXED);
	__atomic_fetch_sub(&sh->huge_bytes, usable, __ATOMIC_RELAXED);
	if (sh->buddy) {
		hk_free(sh->buddy, p);
	} else {
		struct shard_huge *hh = huge_header(p);
		void *base = hh->base;
		size_t len = hh->map_len, align = hh->align;
		hh->magic = (uintptr_t)p ^ SHARD_HUGE_FREED;
		if (len > sh->huge_cache_max / 2 || !cache_put(sh, base, len, align))
			sh->src->unmap(sh->src, base, len);
	}
}


/*
 * Resize a huge block over the OS without copying: within its mapping by
 * moving its usable end (a cached mapping may be longer than the block),
 * else through the page source's remap (mremap: in place, or the pages
 * moved to a new aligned range). Returns the block, perhaps moved, or NULL
 * when it cannot (a buddy below, no remap, or remap failed): the caller
 * copies then. size > large_max.
 */
void *_hk_shard_huge_resize(struct shard *sh, void *p, size_t size)
{
	if (sh->buddy || size > HK_MAX_REQUEST)
		return NULL;
	size_t old = _hk_shard_huge_usable(sh, p);
	struct shard_huge *hh = huge_header(p);
	size_t len = hk_align_up(size, HK_PAGE_SIZE), align = hh->align, room = hh->map_len - align;
	if (len > room || len < room / 2) {
		if (!sh->src->remap || len + align < len)
			return NULL;
		uint8_t *base = sh->src->remap(sh->src, hh->base, hh->map_len, len + align, align);
		if (!base)
			return NULL;
		p = base + align;
		hh = huge_header(p);
		hh->base = base;
		hh->map_len = len + align;
		hh->magic = (uintptr_t)p ^ SHARD_HUGE_MAGIC;
	}
	hh->usable = len;
	size_t huge = __atomic_add_fetch(&sh->huge_bytes, len - old, __ATOMIC_RELAXED);   /* wraps when shrinking */
	if (len > old)
		huge_peak_note(sh, huge);
	return p;
}
