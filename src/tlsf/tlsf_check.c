// SPDX-License-Identifier: MIT
/*
 * tlsf: the heap check. Walks every block of every area, then every free
 * list, and reports the first inconsistency with the address where it is:
 *   - boundary tags: sane spans, BLOCK_PREV_FREE agreeing with the block
 *     before, prev_phys pointing back at it, the chain ending exactly at the
 *     area's sentinel;
 *   - no two free neighbours;
 *   - bitmaps agreeing with the lists, each free block listed once, in the
 *     list its span maps to, with consistent links;
 *   - totals: free spans add up to availmem, used sizes to bytes_in_use.
 * O(heap); meant for tests and debugging, not for the fast path.
 */
#include "tlsf/tlsf_internal.h"

/* Totals gathered by the walk, compared at the end. */
struct walk_totals {
	size_t nr_free;      /* free blocks met in the areas */
	size_t free_span;    /* their spans */
	size_t used_bytes;   /* usable sizes of used blocks */
};

/* Walk one area's block chain. */
static int area_walk(const struct tlsf_area *ar, struct walk_totals *t, struct hk_check_report *r)
{
	struct tlsf_block *b = ar->first, *prev = NULL;
	if ((uintptr_t)ar->first != (uintptr_t)(ar + 1) || (uintptr_t)ar->sentinel % ALIGN_SIZE)
		return _hk_check_fail(r, ar, "tlsf: area record overwritten");
	while (b != ar->sentinel) {
		size_t span = block_span(b);
		if (b->header & BLOCK_FLAGS & ~(BLOCK_FREE | BLOCK_PREV_FREE))
			return _hk_check_fail(r, b, "tlsf: block header has reserved bits set");
		if (span < BLOCK_SPAN_MIN || span > SPAN_MAX)
			return _hk_check_fail(r, b, "tlsf: block span out of range");
		if ((uintptr_t)ar->sentinel - (uintptr_t)b < span)
			return _hk_check_fail(r, b, "tlsf: block runs past the end of its area");
		bool prev_free = prev && block_is_free(prev);
		if (block_is_prev_free(b) != prev_free)
			return _hk_check_fail(r, b, "tlsf: prev-free tag disagrees with the block before");
		if (prev_free && b->prev_phys != prev)
			return _hk_check_fail(r, b, "tlsf: prev_phys does not point at the free block before");
		if (block_is_free(b)) {
			if (block_next(b)->prev_phys != b)
				return _hk_check_fail(r, b, "tlsf: free block's end tag (next prev_phys) does not point back");
			if (prev_free)
				return _hk_check_fail(r, b, "tlsf: two free blocks are neighbours (missed merge)");
			t->nr_free++;
			t->free_span += span;
		} else {
			t->used_bytes += block_usable(b);
		}
		prev = b;
		b = block_next(b);
	}
	if (block_span(b) != 0 || block_is_free(b))
		return _hk_check_fail(r, b, "tlsf: area sentinel overwritten");
	if (block_is_prev_free(b) != (prev && block_is_free(prev)) ||
	    (block_is_prev_free(b) && b->prev_phys != prev))
		return _hk_check_fail(r, b, "tlsf: sentinel's tags disagree with the last block");
	return 0;
}

/* Whether b lies in one of the instance's areas, at a block boundary or not. */
static bool block_in_areas(const struct tlsf_control *c, const struct tlsf_block *b)
{
	for (const struct tlsf_area *ar = c->areas; ar; ar = ar->next)
		if ((uintptr_t)b >= (uintptr_t)ar->first && (uintptr_t)b < (uintptr_t)ar->sentinel)
			return true;
	return false;
}

/* Check the lists against the bitmaps and the mapping; counts listed blocks. */
static int lists_walk(const struct tlsf_control *c, size_t limit, size_t *nr_listed, struct hk_check_report *r)
{
	for (unsigned fl = 0; fl < FL_COUNT; fl++) {
		if (!!(c->fl_bitmap & (1u << fl)) != !!c->sl_bitmap[fl])
			return _hk_check_fail(r, &c->sl_bitmap[fl], "tlsf: first-level bitmap disagrees with its row");
		for (unsigned sl = 0; sl < SL_COUNT; sl++) {
			struct tlsf_block *b = c->heads[fl][sl], *prev = NULL;
			if (!!(c->sl_bitmap[fl] & (1u << sl)) != (b != NULL))
				return _hk_check_fail(r, &c->heads[fl][sl], "tlsf: second-level bitmap disagrees with its list");
			for (; b; prev = b, b = b->next_free) {
				if ((uintptr_t)b % ALIGN_SIZE || !block_in_areas(c, b))
					return _hk_check_fail(r, b, "tlsf: free list points outside the heap");
				if (++*nr_listed > limit)
					return _hk_check_fail(r, b, "tlsf: more listed blocks than free blocks (a cycle?)");
				if (!block_is_free(b))
					return _hk_check_fail(r, b, "tlsf: used block in a free list");
				if (b->prev_free != prev)
					return _hk_check_fail(r, b, "tlsf: free list back link broken");
				unsigned want_fl, want_sl;
				mapping_insert(block_span(b), &want_fl, &want_sl);
				if (want_fl != fl || want_sl != sl)
					return _hk_check_fail(r, b, "tlsf: free block in the wrong list for its size");
			}
		}
	}
	return 0;
}

int _hk_tlsf_check(hk_alloc_t *a, struct hk_check_report *r)
{
	struct tlsf_control *c = to_control(a);
	struct walk_totals t = { 0, 0, 0 };
	size_t nr_listed = 0;
	int rc = 0;
	hk_lock(&c->lock);
	for (const struct tlsf_area *ar = c->areas; ar && !rc; ar = ar->next)
		rc = area_walk(ar, &t, r);
	if (!rc)
		rc = lists_walk(c, t.nr_free, &nr_listed, r);
	if (!rc && nr_listed != t.nr_free)
		rc = _hk_check_fail(r, c, "tlsf: a free block is missing from the free lists");
	if (!rc && t.free_span != c->free_span)
		rc = _hk_check_fail(r, c, "tlsf: free spans do not add up to availmem");
	if (!rc && t.used_bytes != c->counters.bytes_in_use)
		rc = _hk_check_fail(r, c, "tlsf: used blocks do not add up to bytes_in_use");
	hk_unlock(&c->lock);
	return rc;
}
