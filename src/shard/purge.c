// SPDX-License-Identifier: MIT
/*
 * shard: purging, giving back memory that is free but still committed.
 *
 * One policy for memory that is free but still committed (see struct shard):
 * a page slot released while its segment lives is marked (purge_new); a
 * scan, at most every purge_delay ms, gives back (the page source's purge:
 * MADV_DONTNEED) the slots that stayed marked for a whole scan period
 * (purge_old), so memory refilled within purge_delay is never faulted in
 * twice; an empty segment waits in the cache for cache_delay before it is
 * unmapped. Any thread may scan, under the instance lock (so no segment is
 * unmapped under it) and each segment's purge_lock; a thread that takes a
 * marked slot clears the mark under that lock, so it never writes memory a
 * scan is purging.
 */
#include "shard/shard.h"

/* Give back the memory of seg's slots in mask (purge_lock held). */
static void segment_purge_slots(struct shard *sh, struct shard_segment *seg, uint64_t mask)
{
	while (mask) {
		unsigned i = hk_ctz(mask), n = 0;
		while (i + n < 64 && ((mask >> (i + n)) & 1))
			n++;
		mask &= ~shard_slot_bits(i, n);
		uintptr_t lo = shard_slot_area(sh, seg, i);
		uintptr_t hi = (uintptr_t)seg + ((uintptr_t)(i + n) << seg->page_shift);
		lo = hk_align_up(lo, HK_PAGE_SIZE);
		if (hi > lo) {
			sh->src->purge(sh->src, (void *)lo, hi - lo);
			__atomic_fetch_add(&sh->ctr.purge_calls, 1, __ATOMIC_RELAXED);
			__atomic_fetch_add(&sh->ctr.purged_bytes, hi - lo, __ATOMIC_RELAXED);
		}
	}
}

/* Slots idx..idx+span of seg are being taken: no scan may purge them any more. */
void _hk_shard_purge_unmark(struct shard_segment *seg, unsigned idx, unsigned span)
{
	uint64_t bits = shard_slot_bits(idx, span);
	if (!((__atomic_load_n(&seg->purge_new, __ATOMIC_ACQUIRE) | __atomic_load_n(&seg->purge_old, __ATOMIC_ACQUIRE)) &
	      bits))
		return;
	hk_lock(&seg->purge_lock);
	__atomic_store_n(&seg->purge_new, seg->purge_new & ~bits, __ATOMIC_RELAXED);
	__atomic_store_n(&seg->purge_old, seg->purge_old & ~bits, __ATOMIC_RELAXED);
	hk_unlock(&seg->purge_lock);
}

/*
 * Purge work appeared: arm the scans, and have the purge thread woken (if
 * the drop-in runs one) at the next safe point (_hk_shard_purge_safe_point:
 * the end of a malloc or free slow path, where waking may allocate).
 */
void _hk_shard_purge_arm(struct shard *sh)
{
	/*
	 * An exchange, not a load first: the work was published before this
	 * call and a scan disarms before it reads the work, so one of the two
	 * must see the other (a read-only test would need a fence, which TSan
	 * cannot model). Arming happens on slow paths only.
	 */
	if (!__atomic_exchange_n(&sh->purge_armed, 1, __ATOMIC_SEQ_CST))
		__atomic_store_n(&sh->purge_kick, 1, __ATOMIC_RELAXED);
}

/* Slots in bits of seg were released holding memory: mark them. */
void _hk_shard_purge_mark(struct shard *sh, struct shard_segment *seg, uint64_t bits)
{
	if (!sh->clock_ms || sh->purge_never || !sh->src->purge || seg->kind != SEG_SMALL)
		return;
	hk_lock(&seg->purge_lock);
	__atomic_store_n(&seg->purge_new, seg->purge_new | bits, __ATOMIC_RELAXED);
	hk_unlock(&seg->purge_lock);
	_hk_shard_purge_arm(sh);
}

/*
 * One scan (force: give back everything marked and cached now). Returns
 * whether anything is still waiting (a later scan has work).
 */
bool _hk_shard_purge(struct shard *sh, bool force)
{
	if (!sh->clock_ms || !sh->src || !sh->src->purge)
		return false;
	uint64_t now = sh->clock_ms();
	struct shard_segment *drop = NULL;
	bool pending = false;
	/* Disarmed while scanning: work marked from now on arms again (and kicks the purge thread). */
	__atomic_store_n(&sh->purge_armed, 0, __ATOMIC_SEQ_CST);
	hk_lock(&sh->lock);
	__atomic_fetch_add(&sh->ctr.purge_scans, 1, __ATOMIC_RELAXED);
	for (struct shard_segment *seg = sh->segments; seg; seg = seg->all_next) {
		if (!(__atomic_load_n(&seg->purge_new, __ATOMIC_RELAXED) | __atomic_load_n(&seg->purge_old, __ATOMIC_RELAXED)))
			continue;
		hk_lock(&seg->purge_lock);
		uint64_t m = force ? seg->purge_old | seg->purge_new : seg->purge_old;
		segment_purge_slots(sh, seg, m);
		uint64_t keep = force ? 0 : seg->purge_new;
		__atomic_store_n(&seg->purge_old, keep, __ATOMIC_RELEASE);
		__atomic_store_n(&seg->purge_new, 0, __ATOMIC_RELEASE);
		pending |= keep != 0;
		hk_unlock(&seg->purge_lock);
	}
	for (struct shard_segment **pp = &sh->cache; *pp;) {
		struct shard_segment *seg = *pp;
		if (!force && sh->nr_cached <= sh->cache_reserved) {
			pp = &seg->next;   /* the reservation stays */
		} else if (force || now - seg->cached_at >= sh->cache_delay_ms) {
			*pp = seg->next;
			sh->nr_cached--;
			seg->next = drop;
			drop = seg;
		} else {
			pp = &seg->next;
			pending = true;
		}
	}
	struct shard_huge_span spans[SHARD_HUGE_CACHE];
	unsigned nr_spans = 0;
	for (unsigned i = 0; i < sh->nr_huge_cached;) {
		struct shard_huge_span *c = &sh->huge_cache[i];
		if (force || now - c->cached_at >= sh->cache_delay_ms) {
			spans[nr_spans++] = *c;
			sh->huge_cached_bytes -= c->map_len;
			*c = sh->huge_cache[--sh->nr_huge_cached];
		} else {
			pending = true;
			i++;
		}
	}
	hk_unlock(&sh->lock);
	if (pending)
		__atomic_store_n(&sh->purge_armed, 1, __ATOMIC_SEQ_CST);
	while (drop) {
		struct shard_segment *seg = drop;
		drop = seg->next;
		sh->src->unmap(sh->src, seg, sh->seg_size);
		__atomic_fetch_add(&sh->ctr.seg_unmaps, 1, __ATOMIC_RELAXED);
	}
	for (unsigned i = 0; i < nr_spans; i++) {
		sh->src->unmap(sh->src, spans[i].base, spans[i].map_len);
		__atomic_fetch_add(&sh->ctr.seg_unmaps, 1, __ATOMIC_RELAXED);
	}
	return pending;
}

/*
 * A scan if the deadline has passed (one thread wins it), so scans are at
 * least purge_delay apart. Returns whether work may still be pending.
 */
bool _hk_shard_purge_due(struct shard *sh)
{
	uint64_t now = sh->clock_ms(), next = __atomic_load_n(&sh->purge_next, __ATOMIC_RELAXED);
	if (now < next || !__atomic_compare_exchange_n(&sh->purge_next, &next, now + sh->purge_delay_ms, false,
						       __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return true;
	return _hk_shard_purge(sh, false);
}

/* From the slow paths: a scan when armed and due. */
void _hk_shard_purge_tick(struct shard *sh)
{
	if (sh->clock_ms && __atomic_load_n(&sh->purge_armed, __ATOMIC_RELAXED))
		_hk_shard_purge_due(sh);
}
