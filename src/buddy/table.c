// SPDX-License-Identifier: MIT
/*
 * buddy table: the out-of-band size of every live large block.
 *
 * A large block (palloc, or malloc/memalign beyond the slab classes) has no
 * header: the caller gets the block's first byte, so a 1 GiB request takes
 * exactly one 1 GiB block. Its page count is kept here instead, keyed by its
 * address: open addressing, linear probing, Fibonacci hashing, deletion by
 * backward shift. The first 256 slots live in the instance's second metadata
 * page; past 3/4 load the table moves to a buddy block twice the size, and
 * moves back down as blocks are freed (back to the built-in page when it
 * empties, so availmem returns exactly to its start after a free-all).
 * A free of an address not in the table is an invalid free.
 */
#include "buddy/buddy.h"

/* --- Slots --------------------------------------------------------------------- */

static inline size_t slot_of(const struct buddy_table *t, uintptr_t addr)
{
	return (size_t)(((uint64_t)(addr >> HK_PAGE_SHIFT) * 0x9e3779b97f4a7c15ull) >> t->shift);
}

static void slots_insert(struct buddy_table *t, uintptr_t addr, size_t npages)
{
	size_t mask = t->cap - 1, i = slot_of(t, addr);
	while (t->slots[i].addr)
		i = (i + 1) & mask;
	t->slots[i].addr = addr;
	t->slots[i].npages = npages;
	t->count++;
}

/* --- Resizing ---------------------------------------------------------------------- */

static unsigned shift_for(size_t cap) { return 64u - hk_log2(cap); }

/* Move the table to cap slots; false (table unchanged) if memory is short. */
static bool table_resize(struct buddy *b, size_t cap)
{
	struct buddy_table *t = &b->table;
	struct table_entry *fresh = t->builtin;
	if (cap > TABLE_BUILTIN_CAP) {
		fresh = (struct table_entry *)_hk_buddy_pages_alloc(b, cap * sizeof *fresh / HK_PAGE_SIZE, 0);
		if (!fresh)
			return false;
	}
	hk_assert_internal(fresh != t->slots);
	struct table_entry *old = t->slots;
	size_t old_cap = t->cap;
	memset(fresh, 0, cap * sizeof *fresh);
	t->slots = fresh;
	t->cap = cap;
	t->shift = shift_for(cap);
	t->count = 0;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].addr)
			slots_insert(t, old[i].addr, old[i].npages);
	if (old != t->builtin) {
		uintptr_t o = (uintptr_t)old;
		_hk_buddy_pages_free(b, _hk_buddy_region_of(b, o), o, old_cap * sizeof *old / HK_PAGE_SIZE);
	}
	return true;
}

/* --- Operations ---------------------------------------------------------------------- */

void _hk_buddy_table_init(struct buddy *b, struct table_entry *builtin)
{
	struct buddy_table *t = &b->table;
	memset(builtin, 0, TABLE_BUILTIN_CAP * sizeof *builtin);
	t->slots = t->builtin = builtin;
	t->cap = TABLE_BUILTIN_CAP;
	t->count = 0;
	t->shift = shift_for(TABLE_BUILTIN_CAP);
}

struct table_entry *_hk_buddy_table_find(struct buddy *b, uintptr_t addr)
{
	struct buddy_table *t = &b->table;
	size_t mask = t->cap - 1, i = slot_of(t, addr);
	for (;;) {
		struct table_entry *e = &t->slots[i];
		if (e->addr == addr)
			return e;
		if (!e->addr)
			return NULL;
		i = (i + 1) & mask;
	}
}

bool _hk_buddy_table_insert(struct buddy *b, uintptr_t addr, size_t npages)
{
	struct buddy_table *t = &b->table;
	hk_assert_internal(addr && !_hk_buddy_table_find(b, addr));
	/* One slot must stay empty so probes end; grow now only if that is at stake. */
	if (t->count + 2 > t->cap && !table_resize(b, t->cap * 2))
		return false;
	slots_insert(t, addr, npages);
	/* Past 3/4 load, grow if memory allows; else run fuller for now. */
	if (t->count * 4 > t->cap * 3)
		table_resize(b, t->cap * 2);
	return true;
}

void _hk_buddy_table_remove(struct buddy *b, struct table_entry *e)
{
	struct buddy_table *t = &b->table;
	size_t mask = t->cap - 1, hole = (size_t)(e - t->slots);
	/* Backward shift: pull later entries of the probe run into the hole. */
	for (size_t j = (hole + 1) & mask; t->slots[j].addr; j = (j + 1) & mask) {
		size_t home = slot_of(t, t->slots[j].addr);
		bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
		if (movable) {
			t->slots[hole] = t->slots[j];
			hole = j;
		}
	}
	t->slots[hole].addr = 0;
	t->slots[hole].npages = 0;
	t->count--;
	/* Shrink below 1/8 load; an empty table goes back to the built-in page. */
	if (t->cap > TABLE_BUILTIN_CAP && t->count * 8 < t->cap) {
		size_t cap = t->cap / 4 > TABLE_BUILTIN_CAP ? t->cap / 4 : TABLE_BUILTIN_CAP;
		if (t->count == 0)
			cap = TABLE_BUILTIN_CAP;
		table_resize(b, cap);
	}
}

int _hk_buddy_table_check(struct buddy *b, struct hk_check_report *rep)
{
	struct buddy_table *t = &b->table;
	if (!hk_is_pow2(t->cap) || t->cap < TABLE_BUILTIN_CAP || t->count >= t->cap ||
	    (t->cap == TABLE_BUILTIN_CAP) != (t->slots == t->builtin))
		return _hk_check_fail(rep, t, "buddy: record table header inconsistent");
	size_t live = 0;
	for (size_t i = 0; i < t->cap; i++) {
		const struct table_entry *e = &t->slots[i];
		if (!e->addr)
			continue;
		live++;
		struct buddy_region *r = _hk_buddy_region_of(b, e->addr);
		if ((e->addr & (HK_PAGE_SIZE - 1)) || !r || !e->npages ||
		    (r->end - e->addr) / HK_PAGE_SIZE < e->npages)
			return _hk_check_fail(rep, (void *)e->addr, "buddy: live large block outside its region");
		if (_hk_buddy_table_find(b, e->addr) != e)
			return _hk_check_fail(rep, (void *)e->addr, "buddy: record table entry unreachable by its hash");
		if (_hk_buddy_block_is_free(b, r, e->addr, 0))
			return _hk_check_fail(rep, (void *)e->addr, "buddy: live large block is on a free list");
	}
	if (live != t->count)
		return _hk_check_fail(rep, t, "buddy: record table count disagrees with its slots");
	return 0;
}
