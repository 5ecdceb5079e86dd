// SPDX-License-Identifier: MIT
/*
 * shard: thread records, per-thread heaps, thread exit, abandon and reclaim.
 *
 * A thread's first allocation takes a record from a process-wide pool and
 * stores its encoding in the platform's thread slot; each instance the
 * thread uses gets a heap of its own, chained on the record. When the thread
 * exits, each heap's segments are abandoned: they go on their instance's
 * abandoned list, other threads keep freeing into them through the pages'
 * atomic lists, and a thread that needs memory (or availmem) reclaims them.
 */
#include "shard/shard.h"

/* Matches no instance; every direct slot is the empty page, so even a fast path that skips the instance test fails over to the slow path. */
const struct shard_heap _hk_shard_empty_heap = {
	.thread = (struct shard_thread *)&_hk_shard_empty_thread,
	.direct = { [0 ... SHARD_DIRECT_SLOTS - 1] = (struct shard_page *)&_hk_shard_empty_page },
};
const struct shard_thread _hk_shard_empty_thread = { .heap = (struct shard_heap *)&_hk_shard_empty_heap };

/* --- Thread records ------------------------------------------------------------- */

/*
 * The pool of records: a built-in array (enough where there is no OS),
 * then chunks of OS pages; records of exited threads are reused.
 * Guarded by records_lock.
 */
#define RECORDS_BUILTIN 64
#define RECORDS_CHUNK (16 * HK_PAGE_SIZE)
static struct shard_thread records_builtin[RECORDS_BUILTIN];
static size_t records_builtin_used;
static struct shard_thread *records_free;
static hk_lock_t records_lock = HK_LOCK_INIT;

static struct shard_thread *record_alloc(void)
{
	struct shard_thread *t = NULL;
	hk_lock(&records_lock);
	if (records_free) {
		t = records_free;
		records_free = t->pool_next;
	} else if (records_builtin_used < RECORDS_BUILTIN) {
		t = &records_builtin[records_builtin_used++];
	} else {
		struct hk_page_source *os = _hk_os_pages();
		struct shard_thread *chunk = os ? os->map(os, RECORDS_CHUNK, HK_PAGE_SIZE) : NULL;
		if (chunk) {
			size_t n = RECORDS_CHUNK / sizeof *chunk;
			for (size_t i = 1; i < n; i++) {
				chunk[i].pool_next = records_free;
				records_free = &chunk[i];
			}
			t = chunk;
		}
	}
	hk_unlock(&records_lock);
	if (t) {
		t->heap = (struct shard_heap *)&_hk_shard_empty_heap;
		t->heaps = NULL;
		t->lock = (hk_lock_t)HK_LOCK_INIT;
		t->armed = 0;
		t->slot = 0;
		t->pool_next = NULL;
	}
	return t;
}

/* fork: hold (take) or let go of the record pool's lock. */
void _hk_shard_records_lock(bool take) { hk_lock_hold(&records_lock, take); }

static void record_free(struct shard_thread *t)
{
	hk_lock(&records_lock);
	t->pool_next = records_free;
	records_free = t;
	hk_unlock(&records_lock);
}

/* --- Heaps ------------------------------------------------------------------------- */

void _hk_shard_heap_init(struct shard_heap *h, struct shard *sh)
{
	memset(h, 0, sizeof *h);
	h->inst = sh;
	for (size_t g = 0; g < SHARD_DIRECT_SLOTS; g++)
		h->direct[g] = (struct shard_page *)&_hk_shard_empty_page;
}

/* A heap struct for sh: from its pool or its page source. */
struct shard_heap *_hk_shard_heap_alloc(struct shard *sh)
{
	struct shard_heap *h;
	hk_lock(&sh->lock);
	h = sh->heap_pool;
	if (h)
		sh->heap_pool = h->inst_next;
	hk_unlock(&sh->lock);
	if (!h)
		h = _hk_shard_meta_alloc(sh, sizeof *h);
	if (h)
		_hk_shard_heap_init(h, sh);
	return h;
}

/* The calling thread's heap in sh, or NULL; creates nothing. */
struct shard_heap *_hk_shard_heap_find(struct shard *sh)
{
	struct shard_thread *t = shard_thread_current();
	if (t == &_hk_shard_empty_thread)
		return NULL;
	struct shard_heap *h;
	hk_lock(&t->lock);
	for (h = t->heaps; h && h->inst != sh; h = h->thread_next)
		;
	hk_unlock(&t->lock);
	return h;
}

static void thread_exit(void *arg);

/*
 * The calling thread's heap in sh, made on first use (with the thread's
 * record); it becomes the record's cached heap. NULL when out of memory.
 */
hk_noinline struct shard_heap *_hk_shard_heap_get(struct shard *sh)
{
	struct shard_thread *t = shard_thread_current();
	struct shard_heap *h = shard_heap_current();
	if (hk_likely(h->inst == sh))
		return h;
	bool fresh = t == &_hk_shard_empty_thread;
	if (fresh) {
		t = record_alloc();
		if (!t)
			return NULL;
	}
	h = fresh ? NULL : _hk_shard_heap_find(sh);
	if (!h) {
		h = _hk_shard_heap_alloc(sh);
		if (!h) {
			if (fresh)
				record_free(t);
			return NULL;
		}
		h->thread = t;
		if (!t->slot) {
			t->slot = shard_slot_value(t, h);
			_hk_thread_slot_set((void *)t->slot);
		}
		h->owner = t->slot;
		hk_lock(&t->lock);
		h->thread_next = t->heaps;
		t->heaps = h;
		hk_unlock(&t->lock);
		hk_lock(&sh->lock);
		h->inst_next = sh->heaps;
		sh->heaps = h;
		hk_unlock(&sh->lock);
	}
	__atomic_store_n(&t->heap, h, __ATOMIC_RELAXED);
	if (!t->armed) {
		/* Arming may allocate (pthread_setspecific); the heap is ready by now. */
		t->armed = 1;
		if (_hk_thread_exit_init(thread_exit) == 0)
			_hk_thread_exit_arm(t);
	}
	return h;
}

/* h is on no record: take it off its instance and give its struct back. */
static void heap_release(struct shard_heap *h)
{
	struct shard *sh = h->inst;
	bool keep;
	hk_lock(&sh->lock);
	struct shard_heap **pp = &sh->heaps;
	while (*pp && *pp != h)
		pp = &(*pp)->inst_next;
	if (*pp)
		*pp = h->inst_next;
	sh->gone_allocs += h->nr_allocs;
	__atomic_fetch_add(&_hk_shard_xthread_collected, h->xthread_collected, __ATOMIC_RELAXED);
	h->xthread_collected = 0;
	size_t peak = shard_heap_peak(h);
	if (peak > sh->peak_bytes)
		sh->peak_bytes = peak;
	keep = h == sh->first_heap || !sh->buddy;
	if (keep) {
		h->inst = NULL;
		h->inst_next = sh->heap_pool;
		sh->heap_pool = h;
	}
	hk_unlock(&sh->lock);
	if (!keep)
		_hk_shard_meta_free(sh, h, sizeof *h);
}

/* --- Abandon and reclaim --------------------------------------------------------- */

/* Take seg off h (once: its heap goes NULL) onto a private list. */
static void segment_detach(struct shard_segment *seg, struct shard_segment **list)
{
	if (!seg->heap)
		return;
	seg->heap = NULL;
	seg->prev = NULL;
	seg->next = *list;
	*list = seg;
}

/*
 * The heap's thread is gone: give back what is empty, abandon the segments
 * that still hold live blocks, and release the heap. Segments are published
 * on the abandoned list only after every page of h is unlinked: from then on
 * another thread may reclaim them and relink their pages.
 */
void _hk_shard_heap_abandon(struct shard_heap *h)
{
	struct shard *sh = h->inst;
	struct shard_segment *list = NULL;
	_hk_shard_heap_collect(h, true);
	struct shard_page *pg, *next;
	for (unsigned b = 1; b <= sh->large_bin; b++)
		for (pg = h->bins[b].first; pg; pg = next) {
			next = pg->next;
			page_flags_set(pg, page_flags(pg) & ~PAGE_IN_FULL);
			pg->next = pg->prev = NULL;
			segment_detach(shard_page_segment(pg), &list);
		}
	for (struct shard_segment *seg = list; seg; seg = seg->next)
		__atomic_fetch_add(&sh->ctr.abandons, 1, __ATOMIC_RELAXED);
	while (list) {
		struct shard_segment *seg = list;
		list = seg->next;
		hk_lock(&sh->lock);
		seg->next = sh->abandoned;
		__atomic_store_n(&sh->abandoned, seg, __ATOMIC_RELAXED);
		__atomic_store_n(&seg->owner, SEG_ABANDONED, __ATOMIC_RELEASE);
		hk_unlock(&sh->lock);
	}
	heap_release(h);
}

/*
 * Collect every page of an abandoned segment that no list holds (so no one
 * else touches its pages) and give back the empty ones. h: the heap that
 * adopts the live pages, or NULL to leave them abandoned. Returns false if
 * the segment was released.
 */
static bool segment_sweep(struct shard *sh, struct shard_segment *seg, struct shard_heap *h)
{
	uint64_t all = seg->nr_pages == 64 ? ~(uint64_t)0 : ((uint64_t)1 << seg->nr_pages) - 1;
	uint64_t live = ~seg->free_mask & all;
	if (h) {
		seg->heap = h;
		__atomic_store_n(&seg->owner, h->owner, __ATOMIC_RELEASE);
	}
	while (live) {
		unsigned i = hk_ctz(live);
		live &= live - 1;
		struct shard_page *pg = &seg->pages[i];
		if (page_flags(pg) & PAGE_CONT)
			continue;
		if (h)   /* h holds the page's blocks now; collect takes off those that came back */
			h->peak_slack -= (intptr_t)((size_t)pg->used * pg->block_size);
		_hk_shard_page_collect(pg);
		if (pg->used == 0) {
			/* The last slots given back release the segment. */
			unsigned span = seg->kind == SEG_LARGE ? 1 : pg->slots;
			bool last = (seg->free_mask | (((span < 64 ? (uint64_t)1 << span : 0) - 1) << i)) == all;
			_hk_shard_segment_page_release(sh, NULL, seg, pg);
			if (last)
				return false;
		} else if (h) {
			_hk_shard_pq_push(&h->bins[pg->bin], pg);
		}
	}
	return true;
}

/* Fix the direct slots of every bin after pages were pushed behind their backs. */
void _hk_shard_direct_refresh(struct shard_heap *h)
{
	for (unsigned b = 1; b <= h->inst->large_bin && shard_bin_size(b) <= SHARD_DIRECT_MAX; b++) {
		struct shard_page *pg = shard_direct_page(h, b);
		size_t lo, hi;
		shard_direct_slots(b, &lo, &hi);
		for (size_t g = lo; g <= hi; g++)
			h->direct[g] = pg;
	}
}

/* Adopt one abandoned segment into h. False if there was none. */
bool _hk_shard_reclaim_one(struct shard_heap *h)
{
	struct shard *sh = h->inst;
	hk_lock(&sh->lock);
	struct shard_segment *seg = sh->abandoned;
	if (seg)
		__atomic_store_n(&sh->abandoned, seg->next, __ATOMIC_RELAXED);
	hk_unlock(&sh->lock);
	if (!seg)
		return false;
	__atomic_fetch_add(&sh->ctr.reclaims, 1, __ATOMIC_RELAXED);
	seg->next = seg->prev = NULL;
	if (segment_sweep(sh, seg, h)) {
		if (seg->kind == SEG_SMALL && seg->free_mask) {
			seg->prev = NULL;
			seg->next = h->small_segs;
			if (h->small_segs)
				h->small_segs->prev = seg;
			h->small_segs = seg;
		}
	}
	_hk_shard_direct_refresh(h);
	return true;
}

/* Collect every abandoned segment in place, releasing the empty ones. */
void _hk_shard_abandoned_collect(struct shard *sh)
{
	hk_lock(&sh->lock);
	struct shard_segment *list = sh->abandoned;
	__atomic_store_n(&sh->abandoned, NULL, __ATOMIC_RELAXED);
	hk_unlock(&sh->lock);
	while (list) {
		struct shard_segment *seg = list;
		list = seg->next;
		seg->next = NULL;
		if (segment_sweep(sh, seg, NULL)) {
			hk_lock(&sh->lock);
			seg->next = sh->abandoned;
			__atomic_store_n(&sh->abandoned, seg, __ATOMIC_RELAXED);
			hk_unlock(&sh->lock);
		}
	}
}

/* Give back all the empty memory the caller's heap and the abandoned segments hold. */
void _hk_shard_reclaim_all(struct shard *sh)
{
	struct shard_heap *h = _hk_shard_heap_find(sh);
	if (h)
		_hk_shard_heap_collect(h, true);
	_hk_shard_abandoned_collect(sh);
}

/* --- Thread exit and instance destroy --------------------------------------------- */

/* The platform calls this when a thread that allocated exits. */
static void thread_exit(void *arg)
{
	struct shard_thread *t = arg;
	hk_lock(&t->lock);
	struct shard_heap *h = t->heaps;
	t->heaps = NULL;
	__atomic_store_n(&t->heap, (struct shard_heap *)&_hk_shard_empty_heap, __ATOMIC_RELAXED);
	hk_unlock(&t->lock);
	while (h) {
		struct shard_heap *next = h->thread_next;
		_hk_shard_heap_abandon(h);
		h = next;
	}
#if defined(HK_HOSTED) && HK_HOSTED
	/* Hosted, this runs on the exiting thread: a later malloc starts afresh. */
	if (shard_thread_self() == t->slot)
		_hk_thread_slot_set(SHARD_SLOT_EMPTY);
#endif
	record_free(t);
}

/* hk_destroy: no thread may reach sh's heaps through its record again. */
void _hk_shard_heaps_detach(struct shard *sh)
{
	hk_lock(&sh->lock);
	for (struct shard_heap *h = sh->heaps; h; h = h->inst_next) {
		struct shard_thread *t = h->thread;
		hk_lock(&t->lock);
		struct shard_heap **pp = &t->heaps;
		while (*pp && *pp != h)
			pp = &(*pp)->thread_next;
		if (*pp)
			*pp = h->thread_next;
		if (__atomic_load_n(&t->heap, __ATOMIC_RELAXED) == h)
			__atomic_store_n(&t->heap, (struct shard_heap *)&_hk_shard_empty_heap, __ATOMIC_RELAXED);
		hk_unlock(&t->lock);
	}
	sh->heaps = NULL;
	hk_unlock(&sh->lock);
}
