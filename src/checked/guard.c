// SPDX-License-Identifier: MIT
/*
 * The checked wrapper's hosted helpers (checked_impl.h): large blocks between
 * guard pages, freed large blocks made inaccessible without touching their
 * pages, a no-access arena for malloc(0), a SIGSEGV handler that names the
 * block a trapped access hit (the drop-in), the exit check, and the stacks
 * of HEAPKIT_BACKTRACE=1. Nothing here exists where there is no OS.
 */
#if defined(HK_HOSTED) && HK_HOSTED
#define _GNU_SOURCE
#include "checked/checked_impl.h"

#include <execinfo.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE HK_PAGE_SIZE

/* --- Large blocks ------------------------------------------------------------ */

static bool no_access(uintptr_t p, size_t len) { return mprotect((void *)p, len, PROT_NONE) == 0; }

/* len bytes aligned to align (> PAGE: over-map and trim), read-write; 0 if none. */
static uintptr_t os_map(size_t len, size_t align)
{
	size_t extra = align > PAGE ? align : 0;
	if (len + extra < len)
		return 0;
	char *raw = mmap(NULL, len + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return 0;
	char *p = (char *)hk_align_up((uintptr_t)raw, align > PAGE ? align : PAGE);
	if (p > raw)
		munmap(raw, (size_t)(p - raw));
	if (raw + len + extra > p + len)
		munmap(p + len, (size_t)(raw + len + extra - (p + len)));
	return (uintptr_t)p;
}

bool _hk_ck_large_alloc(struct checked *c, size_t align, size_t size, struct blk *b)
{
	size_t a = align > PAGE ? align : PAGE;
	size_t data = hk_align_up(size, PAGE);
	if (data < size || data > HK_MAX_REQUEST - a - PAGE)
		return false;
	size_t len = a + data + PAGE;
	uintptr_t base = c->os_large ? os_map(len, a) : (uintptr_t)c->inner->ops->memalign(c->inner, a, len);
	if (!base)
		return false;
	b->base = base;
	b->p = base + a;
	b->flags = BLK_LARGE | (c->os_large ? BLK_OS : 0);
	if (!no_access(base, a) || !no_access(b->p + data, PAGE)) {
		_hk_ck_large_drop(c, b);
		return false;
	}
	return true;
}

void _hk_ck_large_retire(struct checked *c, const struct blk *b)
{
	size_t len = blk_map_len(b);
	if (b->flags & BLK_OS) {
		/* a fresh no-access mapping over it: its pages go back at once */
		if (mmap((void *)b->base, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) !=
		    MAP_FAILED)
			return;
	}
	madvise((void *)b->base, len, MADV_DONTNEED);
	no_access(b->base, len);
}

void _hk_ck_large_drop(struct checked *c, const struct blk *b)
{
	size_t len = blk_map_len(b);
	if (b->flags & BLK_OS) {
		munmap((void *)b->base, len);
	} else {
		mprotect((void *)b->base, len, PROT_READ | PROT_WRITE);
		c->inner->ops->free(c->inner, (void *)b->base);
	}
}

void _hk_ck_large_release(struct checked *c, const struct blk *b)
{
	_hk_ck_large_drop(c, b);
}

bool _hk_ck_large_resize(struct checked *c, struct blk *b, size_t size)
{
	if (!(b->flags & BLK_OS) || b->p - b->base != PAGE)
		return false;
	size_t data = hk_align_up(size, PAGE);
	if (data < size || data > HK_MAX_REQUEST - 2 * PAGE)
		return false;
	size_t old_len = blk_map_len(b), len = data + 2 * PAGE;
	/* one protection over the whole range, so that it is one mapping mremap can move */
	if (mprotect((void *)b->base, old_len, PROT_READ | PROT_WRITE) != 0)
		return false;
	void *q = mremap((void *)b->base, old_len, len, MREMAP_MAYMOVE);
	if (q == MAP_FAILED) {
		no_access(b->base, PAGE);
		no_access(blk_data_end(b), PAGE);
		return false;
	}
	b->base = (uintptr_t)q;
	b->p = b->base + PAGE;
	b->size = size;
	no_access(b->base, PAGE);
	no_access(blk_data_end(b), PAGE);
	return true;
}

/* --- Stacks (HEAPKIT_BACKTRACE=1) ------------------------------------------------------- */

#define STACK_FRAMES 12
#define STACK_SKIP 2                    /* _hk_ck_stack_save and the wrapper's own frame */
#define DEPOT_SLOTS 65536u              /* distinct stacks kept (a mapping touched as used) */
struct stack_rec {
	uint32_t hash;                  /* 0: empty */
	uint32_t n;                     /* frames */
	void *f[STACK_FRAMES];
};
static struct stack_rec *depot;
static hk_lock_t depot_lock = HK_LOCK_INIT;

bool _hk_ck_stacks_wanted(void)
{
	const char *v = getenv("HEAPKIT_BACKTRACE");
	if (!v || v[0] != '1')
		return false;
	void *d = mmap(NULL, DEPOT_SLOTS * sizeof *depot, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (d == MAP_FAILED)
		return false;
	depot = d;
	void *f[4];
	backtrace(f, 4);                /* its first call loads the unwinder, which allocates: now, not in malloc */
	return true;
}

uint32_t _hk_ck_stack_save(void)
{
	void *f[STACK_FRAMES + STACK_SKIP];
	int n = backtrace(f, STACK_FRAMES + STACK_SKIP) - STACK_SKIP;
	if (n <= 0 || !depot)
		return 0;
	uint32_t h = 2166136261u;
	for (int i = 0; i < n; i++)
		h = (h ^ (uint32_t)((uintptr_t)f[STACK_SKIP + i] >> 2)) * 16777619u;
	h |= 1;
	uint32_t id = 0;
	hk_lock(&depot_lock);
	for (uint32_t k = 0, i = h % DEPOT_SLOTS; k < 64; k++, i = (i + 1) % DEPOT_SLOTS) {
		struct stack_rec *r = &depot[i];
		if (r->hash == h && r->n == (uint32_t)n && !memcmp(r->f, f + STACK_SKIP, (size_t)n * sizeof(void *))) {
			id = i + 1;
			break;
		}
		if (!r->hash) {
			r->hash = h;
			r->n = (uint32_t)n;
			memcpy(r->f, f + STACK_SKIP, (size_t)n * sizeof(void *));
			id = i + 1;
			break;
		}
	}
	hk_unlock(&depot_lock);
	return id;
}

void _hk_ck_stack_print(const char *title, uint32_t id, bool current)
{
	if (!depot)
		return;
	_hk_write_error("  ", 2);
	_hk_write_error(title, strlen(title));
	_hk_write_error(":\n", 2);
	if (current) {
		void *f[STACK_FRAMES + STACK_SKIP];
		int n = backtrace(f, STACK_FRAMES + STACK_SKIP);
		if (n > STACK_SKIP)
			backtrace_symbols_fd(f + STACK_SKIP, n - STACK_SKIP, 2);
	} else if (id && id <= DEPOT_SLOTS) {
		backtrace_symbols_fd(depot[id - 1].f, (int)depot[id - 1].n, 2);
	}
}

/* --- The drop-in: trapped accesses named, the exit check --------------------------------- */

static struct checked *hooked;         /* the drop-in's instance */

/* A trapped access at a inside a large block's mapping (live or held): die naming it. */
static void fault_in_large(const struct blk *b, uintptr_t a, bool write, bool held)
{
	char what[128];
	size_t n = 0;
	const char *s = held ? (write ? "checked: write into the block after it was freed"
				      : "checked: read of the block after it was freed")
		      : a < b->p ? (write ? "checked: write before the start of the block (guard page)"
					  : "checked: read before the start of the block (guard page)")
				 : (write ? "checked: write past the end of the block (guard page)"
					  : "checked: read past the end of the block (guard page)");
	while (s[n] && n + 1 < sizeof what) {
		what[n] = s[n];
		n++;
	}
	what[n] = 0;
	_hk_ck_die(what, (void *)b->p, b, true, (long)((intptr_t)a - (intptr_t)b->p));
}

/* The fault handler's namer (the platform's, src/platform/hosted.c): a malloc(0) address, a large block's guard or a held block. */
static void checked_fault(uintptr_t a, unsigned access)
{
	bool write = (access & HK_FAULT_WRITE) != 0;
	struct checked *c = hooked;
	if (_hk_zero_state(a) != HK_ZERO_NOT_OURS) {
		struct blk z = { .p = hk_align_down(a, HK_MIN_ALIGN), .flags = BLK_ZERO };
		_hk_ck_die(write ? "checked: write into a malloc(0) block" : "checked: read of a malloc(0) block",
			   (void *)z.p, &z, true, (long)(a - z.p));
	}
	if (c) {
		for (size_t i = 0; i < c->table_cap; i++) {
			const struct blk *b = &c->table[i];
			if (b->p > SLOT_GONE && (b->flags & BLK_LARGE) && a - b->base < blk_map_len(b))
				fault_in_large(b, a, write, false);
		}
		for (size_t i = 0; i < c->ring_len; i++) {
			const struct blk *b = &c->ring[(c->ring_head + i) % c->ring_cap];
			if ((b->flags & BLK_LARGE) && a - b->base < blk_map_len(b))
				fault_in_large(b, a, write, true);
		}
	}
}

__attribute__((destructor)) static void checked_at_exit(void)
{
	if (hooked)
		_hk_ck_exit_check(hooked);
}

void _hk_ck_dropin_hooks(struct checked *c)
{
	hooked = c;
	_hk_fault_namer_add(checked_fault);
	c->stacks = _hk_ck_stacks_wanted();
}
#endif
