// SPDX-License-Identifier: MIT
/*
 * The checked wrapper's bounds of a write: the checked drop-in's memcpy,
 * memmove, memset, strcpy, strncpy, strcat, ... ask here before they write
 * (src/override/checked_string.c), and a write that would leave its block or land
 * in a freed one stops the program with the block, its size and the
 * overrun. The live and held blocks are checked.c's.
 */
#include "checked/checked_impl.h"

#define SCAN_BACK 512u         /* how far before a write's start a small block's start is looked for */
#define LARGE_SCAN_PAGES 64u   /* how many pages before a page-crossing write a large block's start is */

/* Die for a write of n bytes at d that b's bounds (or its free) forbid: what, at offset off of b. */
__attribute__((noreturn)) static void write_die(const struct blk *b, uintptr_t d, size_t n, const char *fn,
						const char *what, long off)
{
	char msg[192];
	size_t k = 0;
	_hk_put(msg, sizeof msg, &k, "checked: ");
	_hk_put(msg, sizeof msg, &k, fn);
	_hk_put(msg, sizeof msg, &k, " of ");
	_hk_put_dec(msg, sizeof msg, &k, n);
	_hk_put(msg, sizeof msg, &k, " bytes at offset ");
	if (d < b->p)
		_hk_put(msg, sizeof msg, &k, "-");
	_hk_put_dec(msg, sizeof msg, &k, d < b->p ? b->p - d : d - b->p);
	_hk_put(msg, sizeof msg, &k, ": ");
	_hk_put(msg, sizeof msg, &k, what);
	_hk_put(msg, sizeof msg, &k, " (before the write)");
	msg[k] = 0;
	_hk_ck_die(msg, (void *)b->p, b, true, off);
}

/* The first word of a small block's front canary sits 32 bytes before u: a cheap filter before a table probe. */
static bool canary_before(uintptr_t u, uintptr_t floor)
{
	if (u - FRONT_BYTES < floor)
		return false;
	uint64_t w;
	memcpy(&w, (const void *)(u - FRONT_BYTES), sizeof w);
	return w == 0x0101010101010101ull * CANARY_BYTE;
}

/* A held small block could start at u: its front canary's last word before it, zeros (the freed fill) at it. */
static bool held_looking(uintptr_t u, uintptr_t floor)
{
	if (u - sizeof(uint64_t) < floor)
		return false;
	uint64_t before, at;
	memcpy(&before, (const void *)(u - sizeof before), sizeof before);
	memcpy(&at, (const void *)u, sizeof at);
	return before == 0x0101010101010101ull * CANARY_BYTE && at == 0x0101010101010101ull * FREED_BYTE;
}

/*
 * [dst, dst + n) written: die if it starts in a live block's front canary
 * (up to 32 bytes before the block), runs past the end of the live block it
 * starts in (found when the block starts at most SCAN_BACK bytes before the
 * write on the same page, at the start of that page, or, for a write that
 * leaves its page, a large block up to LARGE_SCAN_PAGES pages before), or
 * starts in a held block. A write further into a large block is left to its
 * guard page, which traps the first byte out of bounds.
 */
void _hk_checked_write_check(hk_alloc_t *a, const void *dst, size_t n, const char *fn)
{
	struct checked *c = to_checked(a);
	uintptr_t d = (uintptr_t)dst, down = hk_align_down(d, HK_MIN_ALIGN);
	uintptr_t floor = hk_align_down(d, HK_PAGE_SIZE);   /* the scan reads dst's page only: it is mapped */
	const struct blk *b = NULL;
	c_lock(c);
	/* a block starting just after d: the write starts in its front canary */
	for (uintptr_t u = down + HK_MIN_ALIGN; u <= down + FRONT_BYTES; u += HK_MIN_ALIGN) {
		b = _hk_ck_table_find(c, u);
		if (b && !(b->flags & BLK_ZERO))
			write_die(b, d, n, fn, "write before the start of the block", -(long)(b->p - d));
	}
	/* the block d lies in: its start at or before d, SCAN_BACK bytes at most, then d's page's start */
	for (uintptr_t u = down;; u = (down - u >= SCAN_BACK) ? floor : u - HK_MIN_ALIGN) {
		b = (u == down || u == floor || canary_before(u, floor)) ? _hk_ck_table_find(c, u) : NULL;
		if (b)
			break;
		if (u == down && held_looking(u, floor) && (b = _hk_ck_ring_find(c, u)) != NULL && d - u < (b->size ? b->size : 1))
			write_die(b, d, n, fn, "write into the block after it was freed", (long)(d - u));
		if (u == floor)
			break;
	}
	/* a write that leaves its page may run out of a large block that starts pages before it */
	for (size_t k = 1; !b && k <= LARGE_SCAN_PAGES && (d - floor) + n > HK_PAGE_SIZE && floor > k * HK_PAGE_SIZE; k++) {
		b = _hk_ck_table_find(c, floor - k * HK_PAGE_SIZE);
		if (b && (!(b->flags & BLK_LARGE) || d >= blk_data_end(b)))
			b = NULL;                       /* not a large block d lies in */
	}
	if (b) {
		uintptr_t in = d - b->p;                /* where the write starts in the block */
		bool inside = in <= b->size && n <= b->size - in;
		/* a block that ends before d (and its canary) is not this write's */
		if (!inside && (b->p >= down || d < _hk_ck_blk_end(c, b)))
			write_die(b, d, n, fn, "write past the end of the block", (long)(in > b->size ? in : b->size));
	}
	c_unlock(c);
}
