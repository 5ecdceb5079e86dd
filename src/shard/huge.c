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
_Static_assert(sizeof(struct shard_huge) <= SHARD_HUGE_HDR, "huge header fits below the block");

static struct shard_huge *huge_header(void *p) { return (struct shard_huge *)((uint8_t *)p - SHARD_HUGE_HDR); }

/* Take a cached mapping for len bytes at align (lock held by caller); NULL if none fits. */
static uint8_t *cache_take(struct shard *sh, size_t align, size_t len, size_t *map_len)
{
	for (unsigned i = 0; i < sh->nr_huge_cached; i++) {
		struct shard_huge_span *c = &sh->huge_cache[i];
		if (c->align == align && c->map_len - align >= len && c->map_len - align <= 2 * len) {
			uint8_t *base = c->base;
			*map_len = c->map_len;
			sh->huge_cached_bytes -= c->map_len;
			*c = sh->huge_cache[sh->nr_huge_cached - 1];
			__atomic_store_n(&sh->nr_huge_cached, sh->nr_huge_cached - 1, __ATOMIC_RELAXED);
			return base;
		}
	}
	return NULL;
}

/* Keep a freed mapping for reuse; false if the cache is full (caller unmaps). */
static bool cache_put(struct shard *sh, void *base, size_t map_len, size_t align)
{
	bool kept = false;
	hk_lock(&sh->lock);
	if (sh->nr_huge_cached < SHARD_HUGE_CACHE && sh->huge_cached_bytes + map_len <= SHARD_HUGE_CACHE_BYTES) {
		sh->huge_cache[sh->nr_huge_cached] = (struct shard_huge_span){ base, map_len, align };
		__atomic_store_n(&sh->nr_huge_cached, sh->nr_huge_cached + 1, __ATOMIC_RELAXED);
		sh->huge_cached_bytes += map_len;
		kept = true;
	}
	hk_unlock(&sh->lock);
	return kept;
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
		}
		if (base) {
			if (fresh)
				*fresh = false;
		} else {
			base = sh->src->map(sh->src, map_len, align);
			if (!base)
				return NULL;
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
	__atomic_fetch_add(&sh->huge_bytes, usable, __ATOMIC_RELAXED);
	__atomic_fetch_add(&sh->huge_allocs, 1, __ATOMIC_RELAXED);
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
		_hk_fatal("shard: free of a pointer this instance never returned", p);
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
		hh->magic = 0;
		if (len > SHARD_HUGE_CACHE_BYTES / 2 || !cache_put(sh, base, len, align))
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
	__atomic_fetch_add(&sh->huge_bytes, len - old, __ATOMIC_RELAXED);   /* wraps when shrinking */
	return p;
}
