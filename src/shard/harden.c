// SPDX-License-Identifier: MIT
/*
 * shard: judging pointers before trusting them (HK_HARDEN, shard.h).
 *
 *   keys        per-process secrets for encoded links and stamps
 *   the map     one byte per 4 MiB of address space: what the OS instance mapped
 *   judging     what a pointer given to free/realloc/malloc_usable_size is,
 *               from heapkit's own metadata, before anything is read through it
 *   double free a block whose first word decodes as a link (shard_word_looks_free),
 *               confirmed on its page's lists
 *
 * Every misuse ends in one line, "heapkit: <call> of <what> at 0x<address>",
 * and abort: never a fault inside heapkit.
 */
#if defined(HK_HOSTED) && HK_HOSTED
#define _GNU_SOURCE
#endif
#include "shard/shard.h"

#if defined(HK_HOSTED) && HK_HOSTED
#include <sys/mman.h>
#include <sys/random.h>
#endif

/* --- Keys ----------------------------------------------------------------------------- */

struct shard_keys _hk_shard_keys = { 0xbf58476d1ce4e5b9ull, 0x94d049bb133111ebull };
static hk_lock_t keys_lock = HK_LOCK_INIT;
static bool keys_drawn;

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Draw the keys once, before the first segment of any instance exists. */
void _hk_shard_keys_init(void)
{
	if (__atomic_load_n(&keys_drawn, __ATOMIC_ACQUIRE))
		return;
	hk_lock(&keys_lock);
	if (!keys_drawn) {
		uint64_t seed[3] = { 0, 0, 0 };
#if defined(HK_HOSTED) && HK_HOSTED
		if (getrandom(seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
			seed[0] = seed[1] = seed[2] = 0;
#endif
		/* Address-space layout as a fallback (and the only source freestanding). */
		uint64_t s = (uint64_t)(uintptr_t)&seed ^ ((uint64_t)(uintptr_t)&_hk_shard_keys << 17) ^
			     (uint64_t)(uintptr_t)_hk_thread_slot_get();
		uintptr_t *k = &_hk_shard_keys.link_key;
		_Static_assert(sizeof _hk_shard_keys == 2 * sizeof(uintptr_t), "two keys, drawn in order");
		for (unsigned i = 0; i < 2; i++) {
			s = mix64(s + 0x9e3779b97f4a7c15ull + seed[i]);
			/* never 0, and never a small number or a canonical user address */
			k[i] = (uintptr_t)(s | ((uint64_t)1 << 63) | 1);
		}
		__atomic_store_n(&keys_drawn, true, __ATOMIC_RELEASE);
	}
	hk_unlock(&keys_lock);
}

/* --- The segment map ---------------------------------------------------------------------
 *
 * The OS instance's page source is wrapped: a map of exactly one aligned
 * segment marks its granule SHARD_MAP_SEG, any other map aligned to a
 * segment or more (a huge block: header granule plus the block) marks every
 * granule it touches SHARD_MAP_HUGE; an unmap of such a range clears them
 * first, so a granule never says "heapkit" once its memory may be gone.
 * Granules are never shared: every mapping marked starts on a granule.
 */

static const uint8_t map_none[1];
const uint8_t *_hk_shard_map_bytes = map_none;
uintptr_t _hk_shard_map_mask;
static uint8_t *map_bytes;                  /* the same table, writable */
static struct hk_page_source *map_inner;    /* the OS page source */

static void map_mark(uintptr_t lo, size_t len, uint8_t v)
{
	if (!map_bytes || !len)
		return;
	uintptr_t hi = lo + len - 1;
	if (hi >> SHARD_MAP_VA_BITS)
		return;
	for (uintptr_t g = lo >> SHARD_MAP_SHIFT; g <= hi >> SHARD_MAP_SHIFT; g++)
		__atomic_store_n(&map_bytes[g], v, __ATOMIC_RELEASE);
}

static bool map_covers(const void *p, size_t len, size_t align)
{
	return align >= ((size_t)1 << SHARD_MAP_SHIFT) && !((uintptr_t)p & (((uintptr_t)1 << SHARD_MAP_SHIFT) - 1)) &&
	       len >= ((size_t)1 << SHARD_MAP_SHIFT);
}

static void *wrap_map(struct hk_page_source *s, size_t len, size_t align)
{
	(void)s;
	void *p = map_inner->map(map_inner, len, align);
	if (p && map_covers(p, len, align))
		map_mark((uintptr_t)p, len,
			 len == ((size_t)1 << SHARD_MAP_SHIFT) && align == len ? SHARD_MAP_SEG : SHARD_MAP_HUGE);
	return p;
}

static void wrap_unmap(struct hk_page_source *s, void *p, size_t len)
{
	(void)s;
	if (map_covers(p, len, len))
		map_mark((uintptr_t)p, len, SHARD_MAP_NONE);
	map_inner->unmap(map_inner, p, len);
}

/* A huge mapping moved or resized: unmarked while it is in flux. */
static void *wrap_remap(struct hk_page_source *s, void *p, size_t old_len, size_t new_len, size_t align)
{
	(void)s;
	map_mark((uintptr_t)p, old_len, SHARD_MAP_NONE);
	void *q = map_inner->remap(map_inner, p, old_len, new_len, align);
	if (q)
		map_mark((uintptr_t)q, new_len, SHARD_MAP_HUGE);
	else
		map_mark((uintptr_t)p, old_len, SHARD_MAP_HUGE);
	return q;
}

static void wrap_purge(struct hk_page_source *s, void *p, size_t len)
{
	(void)s;
	map_inner->purge(map_inner, p, len);
}

static int wrap_protect(struct hk_page_source *s, void *p, size_t len, int rw)
{
	(void)s;
	return map_inner->protect(map_inner, p, len, rw);
}

static struct hk_page_source map_source;

/*
 * The OS instance's page source: os wrapped so it keeps the map, once the
 * map is reserved; os itself (and no judging) when it cannot be.
 */
struct hk_page_source *_hk_shard_map_source(struct hk_page_source *os)
{
	_hk_shard_keys_init();
	if (map_bytes)
		return &map_source;
	size_t len = SHARD_MAP_ENTRIES;
	void *t;
#if defined(HK_HOSTED) && HK_HOSTED
	t = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (t == MAP_FAILED)
		t = NULL;
#else
	t = os->map(os, len, HK_PAGE_SIZE);
#endif
	if (!t)
		return NULL;
	map_inner = os;
	map_source = (struct hk_page_source){ wrap_map, wrap_unmap, os->ctx, os->remap ? wrap_remap : NULL,
					      os->purge ? wrap_purge : NULL,
					      os->protect ? wrap_protect : NULL };
	map_bytes = t;
	__atomic_store_n(&_hk_shard_map_bytes, (const uint8_t *)t, __ATOMIC_RELEASE);
	__atomic_store_n(&_hk_shard_map_mask, SHARD_MAP_ENTRIES - 1, __ATOMIC_RELEASE);
	return &map_source;
}

/* --- Reports ---------------------------------------------------------------------------- */

/* "heapkit: <op> of <what> at p", abort. */
static __attribute__((noreturn, cold)) void misuse(const char *op, const char *what, const void *p)
{
	char buf[160];
	size_t n = 0;
	_hk_put(buf, sizeof buf, &n, op);
	_hk_put(buf, sizeof buf, &n, " of ");
	_hk_put(buf, sizeof buf, &n, what);
	buf[n] = 0;
	_hk_fatal(buf, p);
}

#define NEVER_RETURNED "a pointer heapkit never returned"
#define INTERIOR "a pointer into the middle of a block"

void _hk_shard_list_corrupt(const struct shard_page *pg, const void *block)
{
	char buf[160];
	size_t n = 0;
	_hk_put(buf, sizeof buf, &n, "free list corrupted (write after free?): a bad link on the page at ");
	_hk_put_hex(buf, sizeof buf, &n, (uintptr_t)pg);
	_hk_put(buf, sizeof buf, &n, ", in the free block");
	buf[n] = 0;
	_hk_fatal(buf, block);
}

/* --- Judging a pointer ------------------------------------------------------------------------ */

#if HK_HARDEN >= 1
/*
 * Whether base (region memory) starts a live segment. At a huge block's
 * start this reads the caller's block, which a checker may hold poisoned
 * (the instance API's quarantine): the read is the allocator's, not the
 * program's, so ASan is told to let it be.
 */
#if defined(__SANITIZE_ADDRESS__)
#define HK_NO_ASAN __attribute__((no_sanitize_address, noinline))
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HK_NO_ASAN __attribute__((no_sanitize_address, noinline))
#endif
#endif
#ifndef HK_NO_ASAN
#define HK_NO_ASAN
#endif
static HK_NO_ASAN bool seg_stamped(uintptr_t base)
{
	return ((const struct shard_segment *)base)->stamp == shard_seg_stamp((const struct shard_segment *)base);
}

/* A block's first word, read without ASan's view (the instance API asks while the block waits poisoned in its quarantine). */
static HK_NO_ASAN uintptr_t block_word(const struct shard_block *b) { return (uintptr_t)b->next; }

/* The region (create or addmem) of a region instance holding p, as [lo, hi); false if none. */
static bool region_of(struct shard *sh, uintptr_t p, uintptr_t *lo, uintptr_t *hi)
{
	if (sh->region_lo != UINTPTR_MAX && p - sh->region_lo < sh->region_span + sh->seg_size) {
		*lo = sh->region_lo;
		*hi = sh->region_lo + sh->region_span + sh->seg_size;
		return true;
	}
	unsigned n = __atomic_load_n(&sh->nr_ranges, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n && i < SHARD_RANGES; i++)
		if (p - sh->ranges[i].lo < sh->ranges[i].hi - sh->ranges[i].lo) {
			*lo = sh->ranges[i].lo;
			*hi = sh->ranges[i].hi;
			return true;
		}
	return false;
}
#endif

#define ZERO_FREED "a malloc(0) block that is free already (double free)"

/*
 * What p (not NULL) is: a huge block (the caller's huge path checks its
 * header), a live malloc(0) address, or a segment's block, with the
 * segment, the page's head and the block's start in *f. Anything else
 * aborts naming op and p.
 */
enum shard_judged _hk_shard_judge(struct shard *sh, void *p, const char *op, struct shard_found *f)
{
	/* a free before the first malloc (a pointer from before the preload): set up to judge it */
	if (hk_unlikely(!__atomic_load_n(&sh->src, __ATOMIC_ACQUIRE)) && sh == &_hk_shard_os)
		_hk_shard_os_ensure();
	uintptr_t a = (uintptr_t)p, base = a & sh->seg_mask;
#if HK_HARDEN >= 1
	unsigned judge = __atomic_load_n(&sh->judge, __ATOMIC_RELAXED);
	if (judge == SHARD_JUDGE_MAP) {
		if (a >> SHARD_MAP_VA_BITS)
			misuse(op, NEVER_RETURNED, p);
		unsigned v = map_bytes ? __atomic_load_n(&map_bytes[a >> SHARD_MAP_SHIFT], __ATOMIC_ACQUIRE) : 0;
#if defined(HK_HOSTED) && HK_HOSTED
		/* (before "huge": a huge mapping's last granule may hold the start of a malloc(0) arena) */
		if (v != SHARD_MAP_SEG && sh->zero_trap) {
			enum hk_zero z = _hk_zero_state(a);
			if (z == HK_ZERO_LIVE)
				return JUDGED_ZERO;
			if (z == HK_ZERO_FREED)
				misuse(op, ZERO_FREED, p);
			if (z == HK_ZERO_NEVER)
				misuse(op, NEVER_RETURNED, p);
		}
#endif
		if (v == SHARD_MAP_HUGE) {
			if (base != a)
				misuse(op, INTERIOR, p);
			return JUDGED_HUGE;
		}
		if (v != SHARD_MAP_SEG || base == a)
			misuse(op, NEVER_RETURNED, p);
	} else if (judge == SHARD_JUDGE_REGION) {
		uintptr_t lo, hi;
		if (!region_of(sh, a, &lo, &hi))
			misuse(op, NEVER_RETURNED, p);
		bool stamped = base >= lo && base + sh->seg_header <= hi && seg_stamped(base);
		if (base == a) {
			/* a segment's header is no block; a huge block is a live buddy block (the buddy judges) */
			if (stamped)
				misuse(op, NEVER_RETURNED, p);
			return JUDGED_HUGE;
		}
		if (!stamped)
			misuse(op, NEVER_RETURNED, p);
	} else
#endif
	if (base == a) {
		return JUDGED_HUGE;
	}
	struct shard_segment *seg = (struct shard_segment *)base;
	if (hk_unlikely(seg->kind == 0))
		misuse(op, NEVER_RETURNED, p);
	struct shard_page *pg = _hk_shard_page_of(seg, p);
	if (page_flags(pg) & PAGE_CONT)
		pg -= pg->slots;
	if (hk_unlikely(pg->bin == 0))
		misuse(op, NEVER_RETURNED, p);
	/* blocks carved so far (the owner's count; another thread, racing with it, bounds by what fits) */
	uint32_t carved = __atomic_load_n(&seg->owner, __ATOMIC_RELAXED) == shard_thread_self() ? pg->capacity : pg->reserved;
	uint32_t off;
	if (hk_unlikely(!shard_block_offset(seg, pg, a, carved, &off)))
		misuse(op, NEVER_RETURNED, p);
	if (hk_unlikely(off != 0 && (HK_HARDEN >= 1 && (!(page_flags(pg) & PAGE_HAS_ALIGNED) || (a & (HK_MIN_ALIGN - 1))))))
		misuse(op, INTERIOR, p);
	f->seg = seg;
	f->pg = pg;
	f->block = (struct shard_block *)(a - off);
	return JUDGED_BLOCK;
}

void _hk_shard_zero_free(void *p)
{
#if defined(HK_HOSTED) && HK_HOSTED
	if (_hk_zero_free(p) != HK_ZERO_LIVE)
		misuse("free", ZERO_FREED, p);
#else
	(void)p;
#endif
}

/* --- Double free ------------------------------------------------------------------------------ */

/* Whether b is on list, each link checked to stay on the page first; at most cap links. */
static bool list_holds(uintptr_t area, uintptr_t end, size_t bsize, const struct shard_block *list,
		       const struct shard_block *b, uint32_t cap)
{
	for (uint32_t n = 0; list && n <= cap; n++) {
		uintptr_t x = (uintptr_t)list;
		if (x < area || x >= end || (x - area) % bsize)
			return false;   /* a damaged or moving list: no verdict from it */
		if (list == b)
			return true;
		list = shard_link_get(list);
	}
	return false;
}

/*
 * b looks free (shard_word_looks_free): is it really (on one of its page's
 * lists)? Other threads' lists may move under the walk: then no verdict.
 */
bool _hk_shard_block_is_free(struct shard *sh, const struct shard_found *f)
{
	struct shard_page *pg = f->pg;
	uint32_t cap = __atomic_load_n(&f->seg->owner, __ATOMIC_RELAXED) == shard_thread_self() ? pg->capacity : pg->reserved;
	uintptr_t area = shard_page_area(f->seg, pg), end = area + (uintptr_t)cap * pg->block_size;
	const struct shard_block *b = f->block;
	return list_holds(area, end, pg->block_size, pg->free, b, cap) ||
	       list_holds(area, end, pg->block_size, pg->local_free, b, cap) ||
	       list_holds(area, end, pg->block_size,
			  shard_xt_head(f->seg, __atomic_load_n(&pg->xthread_free, __ATOMIC_ACQUIRE)), b, cap);
}

/* op of f's block: abort when it is free already (HK_HARDEN >= 1; a page with no block in use, always). */
void _hk_shard_check_not_free(struct shard *sh, const struct shard_found *f, const char *op, const void *p)
{
	/* (used is the owner's: read only by the owner) */
	if (hk_unlikely(__atomic_load_n(&f->seg->owner, __ATOMIC_RELAXED) == shard_thread_self() && f->pg->used == 0 &&
			!__atomic_load_n(&f->pg->xthread_free, __ATOMIC_RELAXED)))
		misuse(op, "a block that is free already (double free)", p);
#if HK_HARDEN >= 1
	if (hk_unlikely(shard_word_looks_free(block_word(f->block), f->block)) && _hk_shard_block_is_free(sh, f))
		misuse(op, "a block that is free already (double free)", p);
#else
	(void)sh;
#endif
}

/* --- Faults named (the drop-in's SIGSEGV handler) -------------------------------------------
 *
 * A fault in the program at an address heapkit can place: a malloc(0)
 * address, heap memory run as code, the closed part of a segment (an
 * overflow from a block below it), or unmapped memory within 4 MiB below or
 * past heapkit's mappings (an underflow or overflow that left them). One
 * line, "heapkit: <access> ... at 0x<address>", then abort. Anything else
 * is left to the default action. Reads only the map and segment headers,
 * which stay mapped while the map names them.
 */
#if defined(HK_HOSTED) && HK_HOSTED
/* "heapkit: write|read [<dist><rel><ref>]<tail> at a", abort (rel NULL: no distance). */
static __attribute__((noreturn)) void fault_report(unsigned access, uint64_t dist, const char *rel, uintptr_t ref,
						   const char *tail, uintptr_t a)
{
	char buf[240];
	size_t n = 0;
	_hk_put(buf, sizeof buf, &n, access & HK_FAULT_WRITE ? "write " : "read ");
	if (rel) {
		_hk_put_dec(buf, sizeof buf, &n, dist);
		_hk_put(buf, sizeof buf, &n, rel);
		_hk_put_hex(buf, sizeof buf, &n, ref);
	}
	_hk_put(buf, sizeof buf, &n, tail);
	buf[n] = 0;
	_hk_fatal(buf, (const void *)a);
}

static unsigned map_at(uintptr_t a)
{
	return a >> SHARD_MAP_VA_BITS ? SHARD_MAP_NONE : __atomic_load_n(&map_bytes[a >> SHARD_MAP_SHIFT], __ATOMIC_ACQUIRE);
}

/* a lies in seg's closed part: name the nearest page in use below it. */
static __attribute__((noreturn)) void fault_in_closed(unsigned access, const struct shard_segment *seg, uintptr_t a)
{
	unsigned i = (unsigned)((a - (uintptr_t)seg) >> seg->page_shift);
	for (unsigned j = i < seg->nr_pages ? i + 1 : seg->nr_pages; j-- > 0;) {
		const struct shard_page *pg = &seg->pages[j];
		if (!pg->bin || (page_flags(pg) & PAGE_CONT))
			continue;
		uintptr_t area = shard_page_area(seg, pg), end = area + (uintptr_t)pg->capacity * pg->block_size;
		if (end <= a)
			fault_report(access, a - end, " bytes past the last block carved on the page at ", area,
				     " (a heap overflow into a segment's closed part)", a);
	}
	fault_report(access, 0, NULL, 0, "in the closed part of heapkit's segment (a heap overflow?)", a);
}

void _hk_shard_fault_name(uintptr_t a, unsigned access)
{
	if (!map_bytes)
		return;
	enum hk_zero z = _hk_zero_state(a);
	if (z != HK_ZERO_NOT_OURS)
		_hk_fatal(access & HK_FAULT_WRITE ? (z == HK_ZERO_LIVE ? "write into a malloc(0) block (it has no usable bytes)"
								       : "write into a malloc(0) block after it was freed")
						  : (z == HK_ZERO_LIVE ? "read of a malloc(0) block (it has no usable bytes)"
								       : "read of a malloc(0) block after it was freed"),
			  (const void *)a);
	unsigned v = map_at(a);
	uintptr_t granule = (uintptr_t)1 << SHARD_MAP_SHIFT, g = a & ~(granule - 1);
	if (v != SHARD_MAP_NONE && (access & HK_FAULT_EXEC))
		_hk_fatal("execution of heap memory (heapkit's memory is not executable)", (const void *)a);
	if (v == SHARD_MAP_SEG) {
		const struct shard_segment *seg = (const struct shard_segment *)g;
		if (seg->kind == SEG_SMALL && seg->open_end && a - g >= seg->open_end)
			fault_in_closed(access, seg, a);
		return;   /* an open part faults only for reasons of the program's own */
	}
	if (v == SHARD_MAP_HUGE)
		fault_report(access, 0, NULL, 0, "past the end of a huge block's mapping (a heap overflow?)", a);
	if (map_at(g + granule) != SHARD_MAP_NONE)
		fault_report(access, g + granule - a, " bytes before heapkit's memory at ", g + granule,
			     " (a heap underflow?)", a);
	if (g >= granule && map_at(g - 1) != SHARD_MAP_NONE)
		fault_report(access, a - g, " bytes past the end of heapkit's memory at ", g,
			     " (a heap overflow?)", a);
}
#endif
