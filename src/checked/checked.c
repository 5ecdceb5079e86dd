// SPDX-License-Identifier: MIT
/*
 * checked: a wrapper instance over any backend that catches misuse and says
 * what and where, then aborts:
 *   - double free: at once, while the block is in the quarantine, and after
 *     it left (while its address is remembered and not handed out again);
 *   - free (or realloc, usable_size) of a pointer heapkit never returned: a
 *     stack, static or far address, a pointer into the middle of a block;
 *   - a free in another form than the allocation (malloc/new/new[]), a sized
 *     delete with the wrong size;
 *   - a write before or after a block: canaries on both sides (32 bytes
 *     before, all the slack to the slot's end after, at least 32 bytes),
 *     checked at free, at realloc, by hk_check and at exit (the drop-in);
 *     large blocks sit between guard pages (hosted), so a far overflow or
 *     underflow traps at the access;
 *   - realloc of a freed pointer;
 *   - a write into a freed block: small ones are checked when they leave the
 *     quarantine, by hk_check and at exit; large ones are made inaccessible.
 *
 * Every live block is in a hash table keyed by its address; freed blocks
 * wait in a quarantine bounded by blocks and by bytes. The table, the
 * quarantine and the wrapper itself live in memory taken from the inner
 * instance. Layout and the hosted helpers: checked_impl.h, guard.c.
 *
 * One lock guards the wrapper; the inner instance is called under it through
 * its operations (the requests are already checked by src/core/api.c).
 */
#include "checked/checked_impl.h"

/* The drop-in's string functions must not check while this thread holds a wrapper's lock (c_lock). */
#if defined(HK_DROPIN_CHECKED) && HK_DROPIN_CHECKED
__thread int _hk_ck_busy __attribute__((tls_model("initial-exec")));
#endif

/* --- Reports ------------------------------------------------------------------ */

void _hk_ck_die(const char *what, const void *addr, const struct blk *b, bool has_off, long off)
{
	char buf[320];
	size_t n = 0;
	_hk_put(buf, sizeof buf, &n, "heapkit: ");
	_hk_put(buf, sizeof buf, &n, what);
	_hk_put(buf, sizeof buf, &n, " at ");
	_hk_put_hex(buf, sizeof buf, &n, (uintptr_t)addr);
	if (b) {
		_hk_put(buf, sizeof buf, &n, " (block ");
		_hk_put_hex(buf, sizeof buf, &n, b->p);
		_hk_put(buf, sizeof buf, &n, ", ");
		_hk_put_dec(buf, sizeof buf, &n, b->size);
		_hk_put(buf, sizeof buf, &n, " bytes");
		if (has_off) {
			_hk_put(buf, sizeof buf, &n, ", first bad byte at offset ");
			if (off < 0)
				_hk_put(buf, sizeof buf, &n, "-");
			_hk_put_dec(buf, sizeof buf, &n, (uint64_t)(off < 0 ? -off : off));
		}
		_hk_put(buf, sizeof buf, &n, ")");
	}
	buf[n++] = '\n';
	_hk_write_error(buf, n);
	_hk_ck_stack_print("the bad call", 0, true);
	if (b && b->alloc_stack)
		_hk_ck_stack_print("the block was allocated", b->alloc_stack, false);
	if (b && b->free_stack)
		_hk_ck_stack_print("the block was freed", b->free_stack, false);
	_hk_abort();
}

/* --- Inner memory ------------------------------------------------------------ */

static void *inner_alloc(struct checked *c, size_t align, size_t size)
{
	hk_alloc_t *in = c->inner;
	return align > HK_MIN_ALIGN ? in->ops->memalign(in, align, size) : in->ops->malloc(in, size);
}

static void inner_free(struct checked *c, void *p)
{
	c->inner->ops->free(c->inner, p);
}

/* --- The live table ------------------------------------------------------------ */

static inline size_t slot_hash(uintptr_t p, size_t cap)
{
	uint64_t h = (uint64_t)(p >> 4) * 0x9e3779b97f4a7c15ull;
	return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

/* The live block at p, or NULL. */
struct blk *_hk_ck_table_find(struct checked *c, uintptr_t key)
{
	if (key <= SLOT_GONE)
		return NULL;
	for (size_t i = slot_hash(key, c->table_cap), n = 0; n < c->table_cap; n++, i = (i + 1) & (c->table_cap - 1)) {
		if (c->table[i].p == key)
			return &c->table[i];
		if (c->table[i].p == SLOT_EMPTY)
			return NULL;
	}
	return NULL;
}

/* Put b in a table known to have room and not to hold it. */
static void table_place(struct blk *t, size_t cap, const struct blk *b)
{
	size_t i = slot_hash(b->p, cap);
	while (t[i].p > SLOT_GONE)
		i = (i + 1) & (cap - 1);
	t[i] = *b;
}

/* Rebuild into a table of cap slots (drops tombstones). false if memory is short. */
static bool table_rebuild(struct checked *c, size_t cap)
{
	struct blk *t = inner_alloc(c, 0, cap * sizeof *t);
	if (!t)
		return false;
	memset(t, 0, cap * sizeof *t);
	for (size_t i = 0; i < c->table_cap; i++)
		if (c->table[i].p > SLOT_GONE)
			table_place(t, cap, &c->table[i]);
	if (c->table)
		inner_free(c, c->table);
	c->table = t;
	c->table_cap = cap;
	c->table_used = c->nr_live;
	return true;
}

/* Record a new live block. false if the table could not grow. */
static bool table_insert(struct checked *c, const struct blk *b)
{
	if ((c->table_used + 1) * 4 > c->table_cap * 3) {
		size_t cap = (c->nr_live + 1) * 2 > c->table_cap ? c->table_cap * 2 : c->table_cap;
		if (!table_rebuild(c, cap))
			return false;
	}
	size_t i = slot_hash(b->p, c->table_cap);
	while (c->table[i].p > SLOT_GONE)
		i = (i + 1) & (c->table_cap - 1);
	if (c->table[i].p == SLOT_EMPTY)
		c->table_used++;
	c->table[i] = *b;
	c->nr_live++;
	return true;
}

static void table_remove(struct checked *c, struct blk *s)
{
	s->p = SLOT_GONE;
	s->size = 0;
	c->nr_live--;
}

/* The first byte after the block's canary: the slot's end (small) or the data end (large). */
uintptr_t _hk_ck_blk_end(struct checked *c, const struct blk *b)
{
	if (b->flags & BLK_LARGE)
		return blk_data_end(b);
	if (b->flags & BLK_ZERO)
		return b->p;
	return b->base + c->inner->ops->usable_size(c->inner, (void *)b->base);
}

/* The live block whose memory (canaries included) holds x, not at its start; NULL. Slow: error paths. */
static const struct blk *table_find_interior(struct checked *c, uintptr_t x)
{
	for (size_t i = 0; i < c->table_cap; i++) {
		const struct blk *s = &c->table[i];
		if (s->p > SLOT_GONE && !(s->flags & BLK_ZERO) && x >= s->p - FRONT_BYTES && x < s->p + s->size + BACK_MIN &&
		    x != s->p)
			return s;
	}
	return NULL;
}

/* --- Canaries and the freed fill ------------------------------------------------------------ */

static void canary_fill(struct checked *c, const struct blk *b)
{
	if (b->flags & BLK_ZERO)
		return;
	if (!(b->flags & BLK_LARGE))
		memset((char *)b->p - FRONT_BYTES, CANARY_BYTE, FRONT_BYTES);
	memset((char *)b->p + b->size, CANARY_BYTE, (size_t)(_hk_ck_blk_end(c, b) - (b->p + b->size)));
}

/* The first byte of [p, p + n) that is not v, or NULL. Words first. */
static const unsigned char *first_not(const unsigned char *p, size_t n, unsigned char v)
{
	const uint64_t want = 0x0101010101010101ull * v;
	size_t i = 0;
	for (; i < n && ((uintptr_t)(p + i) & 7); i++)
		if (p[i] != v)
			return p + i;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		if (w != want)
			break;
	}
	for (; i < n; i++)
		if (p[i] != v)
			return p + i;
	return NULL;
}

/* The first broken canary byte (front canary first), or NULL. */
static const unsigned char *canary_broken(struct checked *c, const struct blk *b)
{
	if (b->flags & BLK_ZERO)
		return NULL;
	const unsigned char *bad = NULL;
	if (!(b->flags & BLK_LARGE))
		bad = first_not((const unsigned char *)b->p - FRONT_BYTES, FRONT_BYTES, CANARY_BYTE);
	if (!bad)
		bad = first_not((const unsigned char *)b->p + b->size, (size_t)(_hk_ck_blk_end(c, b) - (b->p + b->size)),
				CANARY_BYTE);
	return bad;
}

static void canary_or_die(struct checked *c, const struct blk *b, const char *when)
{
	const unsigned char *bad = canary_broken(c, b);
	if (hk_unlikely(bad != NULL)) {
		char what[96];
		size_t n = 0;
		_hk_put(what, sizeof what, &n, (uintptr_t)bad < b->p ? "checked: write before the start of the block"
								 : "checked: write past the end of the block");
		_hk_put(what, sizeof what, &n, when);
		what[n] = 0;
		_hk_ck_die(what, (void *)b->p, b, true, (long)((intptr_t)bad - (intptr_t)b->p));
	}
}

/* A held small block written after its free: the first bad byte, or NULL. */
static const unsigned char *freed_fill_broken(const struct blk *h)
{
	if (h->flags & (BLK_LARGE | BLK_ZERO))
		return NULL;
	return first_not((const unsigned char *)h->p, h->size, FREED_BYTE);
}

static void held_or_die(struct checked *c, const struct blk *h, const char *when)
{
	const unsigned char *bad = freed_fill_broken(h);
	if (hk_unlikely(bad != NULL)) {
		char what[96];
		size_t n = 0;
		_hk_put(what, sizeof what, &n, "checked: write into the block after it was freed");
		_hk_put(what, sizeof what, &n, when);
		what[n] = 0;
		_hk_ck_die(what, (void *)h->p, h, true, (long)((uintptr_t)bad - h->p));
	}
	if (!(h->flags & (BLK_LARGE | BLK_ZERO)))   /* a large one is inaccessible now */
		canary_or_die(c, h, when);
}

/* --- Addresses gone from the quarantine ------------------------------------------------------- */

/*
 * The grave: buckets of GRAVE_WAYS addresses, oldest first; a full bucket
 * drops its oldest to bury a new one.
 */
static inline uintptr_t *grave_bucket(const struct checked *c, uintptr_t p)
{
	return &c->grave[slot_hash(p, c->grave_cap / GRAVE_WAYS) * GRAVE_WAYS];
}

static void grave_bury(struct checked *c, uintptr_t p)
{
	uintptr_t *g = grave_bucket(c, p);
	for (unsigned i = 0; i < GRAVE_WAYS; i++)
		if (g[i] == 0 || g[i] == p) {
			g[i] = p;
			return;
		}
	for (unsigned i = 0; i + 1 < GRAVE_WAYS; i++)
		g[i] = g[i + 1];
	g[GRAVE_WAYS - 1] = p;
}

static void grave_forget(struct checked *c, uintptr_t p)
{
	uintptr_t *g = grave_bucket(c, p);
	for (unsigned i = 0; i < GRAVE_WAYS; i++)
		if (g[i] == p) {
			for (; i + 1 < GRAVE_WAYS; i++)
				g[i] = g[i + 1];
			g[GRAVE_WAYS - 1] = 0;
			return;
		}
}

static bool grave_holds(struct checked *c, uintptr_t p)
{
	const uintptr_t *g = grave_bucket(c, p);
	for (unsigned i = 0; i < GRAVE_WAYS; i++)
		if (g[i] == p)
			return true;
	return false;
}

/* --- The quarantine ------------------------------------------------------------ */

static void ring_release(struct checked *c, const struct blk *h)
{
	if (h->flags & BLK_LARGE) {
		c->ring_large -= blk_map_len(h);
		_hk_ck_large_release(c, h);
	} else {
		c->ring_bytes -= h->size;
		inner_free(c, (void *)h->base);
	}
	grave_bury(c, h->p);
}

/* Give the oldest held block back to the inner instance, checking it. */
static void ring_evict_one(struct checked *c)
{
	struct blk h = c->ring[c->ring_head];
	held_or_die(c, &h, " (found when it left the quarantine)");
	c->ring_head = (c->ring_head + 1) % c->ring_cap;
	c->ring_len--;
	ring_release(c, &h);
}

static void ring_evict_all(struct checked *c)
{
	while (c->ring_len)
		ring_evict_one(c);
}

const struct blk *_hk_ck_ring_find(struct checked *c, uintptr_t p)
{
	for (size_t i = 0; i < c->ring_len; i++) {
		const struct blk *h = &c->ring[(c->ring_head + i) % c->ring_cap];
		if (h->p == p)
			return h;
	}
	return NULL;
}

/* Hold a freed block: small ones filled, large ones made inaccessible; oldest out past a bound. */
static void ring_hold(struct checked *c, const struct blk *b)
{
	if (b->flags & BLK_ZERO) {
		grave_bury(c, b->p);      /* no memory behind it: remembered, never handed out again */
		return;
	}
	if (b->flags & BLK_LARGE) {
		_hk_ck_large_retire(c, b);
		c->ring_large += blk_map_len(b);
	} else {
		memset((void *)b->p, FREED_BYTE, b->size);
		c->ring_bytes += b->size;
	}
	if (c->ring_len == c->ring_cap)
		ring_evict_one(c);
	c->ring[(c->ring_head + c->ring_len) % c->ring_cap] = *b;
	c->ring_len++;
	while (c->ring_len > 1 && (c->ring_bytes > QUARANTINE_BYTES || c->ring_large > QUARANTINE_LARGE))
		ring_evict_one(c);
}

/* --- Finding the block a pointer names ------------------------------------------------------- */

/* The live block at p, or die saying what p is instead (freed, never returned, interior). */
static struct blk *block_or_die(struct checked *c, const void *p, const char *freed_what, const char *never_what,
				const char *interior_what)
{
	struct blk *s = _hk_ck_table_find(c, (uintptr_t)p);
	if (hk_likely(s != NULL))
		return s;
	const struct blk *h = _hk_ck_ring_find(c, (uintptr_t)p);
	if (h)
		_hk_ck_die(freed_what, p, h, false, 0);
	if (grave_holds(c, (uintptr_t)p)) {
		char what[128];
		size_t n = 0;
		_hk_put(what, sizeof what, &n, freed_what);
		_hk_put(what, sizeof what, &n, " (the block had left the quarantine)");
		what[n] = 0;
		_hk_ck_die(what, p, NULL, false, 0);
	}
	const struct blk *in = table_find_interior(c, (uintptr_t)p);
	if (in)
		_hk_ck_die(interior_what, p, in, true, (long)((intptr_t)p - (intptr_t)in->p));
	_hk_ck_die(never_what, p, NULL, false, 0);
}

/* A free in form (HK_FORM_*) with size (HK_SIZE_UNKNOWN: unsized) must match the allocation. */
static void form_or_die(const struct blk *s, unsigned form, size_t size)
{
	static const char *const what[3][3] = {
		/* allocated by malloc, new, new[]; freed by free, delete, delete[] */
		{ NULL, "checked: delete of a block from malloc", "checked: delete[] of a block from malloc" },
		{ "checked: free of a block from new", NULL, "checked: delete[] of a block from new" },
		{ "checked: free of a block from new[]", "checked: delete of a block from new[]", NULL },
	};
	if (hk_unlikely(s->form != form))
		_hk_ck_die(what[s->form][form], (void *)s->p, s, false, 0);
	if (hk_unlikely(size != HK_SIZE_UNKNOWN && size != s->size))
		_hk_ck_die("checked: sized delete with a size other than the block's", (void *)s->p, s, false, 0);
}

/* --- The malloc family (lock held) ------------------------------------------------------------ */

/* A small block: canaries around it inside one inner block. */
static bool small_alloc(struct checked *c, size_t align, size_t size, struct blk *b)
{
	size_t front = align > FRONT_BYTES ? align : FRONT_BYTES;
	if (size > HK_MAX_REQUEST - front - BACK_MIN)
		return false;
	void *base = inner_alloc(c, align, front + size + BACK_MIN);
	if (!base)
		return false;
	b->base = (uintptr_t)base;
	b->p = b->base + front;
	memset((void *)b->p, 0, size);   /* every small block starts zeroed (so calloc's are) */
	return true;
}

static void *alloc_locked(struct checked *c, size_t align, size_t size, unsigned form, bool zero)
{
	struct blk b = { .size = size, .form = (uint16_t)form };
	if (c->stacks)
		b.alloc_stack = _hk_ck_stack_save();
	/* A second try after the quarantine's blocks went back to the inner instance. */
	for (int attempt = 0; attempt < 2; attempt++) {
		if (attempt) {
			if (!c->ring_len)
				return NULL;
			ring_evict_all(c);
		}
		bool got;
		if (!size && align <= HK_MIN_ALIGN && c->os_large && (b.p = _hk_ck_zero_alloc()) != 0) {
			b.flags = BLK_ZERO;
			got = true;
		} else if (c->guards && size >= HK_PAGE_SIZE && _hk_ck_large_alloc(c, align, size, &b)) {
			got = true;
			if (zero && !(b.flags & BLK_OS))
				memset((void *)b.p, 0, size);
		} else {
			b.flags = 0;
			got = small_alloc(c, align, size, &b);
		}
		if (!got)
			continue;
		if (table_insert(c, &b))
			break;
		if (b.flags & BLK_LARGE)
			_hk_ck_large_drop(c, &b);
		else if (!(b.flags & BLK_ZERO))
			inner_free(c, (void *)b.base);
		b.p = 0;
	}
	if (!b.p)
		return NULL;
	grave_forget(c, b.p);
	canary_fill(c, &b);
	_hk_count_alloc(&c->counters, size);
	return (void *)b.p;
}

static void free_locked(struct checked *c, void *p, unsigned form, size_t size_said)
{
	struct blk *s = block_or_die(c, p, "checked: double free", "checked: free of a pointer heapkit never returned",
				     "checked: free of a pointer into the middle of a block");
	form_or_die(s, form, size_said);
	canary_or_die(c, s, " (found at free)");
	struct blk b = *s;
	table_remove(c, s);
	_hk_count_free(&c->counters, b.size);
	if (c->stacks)
		b.free_stack = _hk_ck_stack_save();
	ring_hold(c, &b);
}

/* --- Operations ------------------------------------------------------------ */

static void *checked_memalign(hk_alloc_t *a, size_t align, size_t size)
{
	struct checked *c = to_checked(a);
	c_lock(c);
	void *p = alloc_locked(c, align, size, HK_FORM_MALLOC, false);
	c_unlock(c);
	return p;
}

static void *checked_malloc(hk_alloc_t *a, size_t size)
{
	return checked_memalign(a, 0, size);
}

static void *checked_calloc(hk_alloc_t *a, size_t size)
{
	struct checked *c = to_checked(a);
	c_lock(c);
	void *p = alloc_locked(c, 0, size, HK_FORM_MALLOC, true);
	c_unlock(c);
	return p;
}

static void checked_free(hk_alloc_t *a, void *p)
{
	struct checked *c = to_checked(a);
	c_lock(c);
	free_locked(c, p, HK_FORM_MALLOC, HK_SIZE_UNKNOWN);
	c_unlock(c);
}

static void *checked_realloc(hk_alloc_t *a, void *p, size_t size)
{
	struct checked *c = to_checked(a);
	c_lock(c);
	struct blk *s = block_or_die(c, p, "checked: realloc of a freed pointer",
				     "checked: realloc of a pointer heapkit never returned",
				     "checked: realloc of a pointer into the middle of a block");
	form_or_die(s, HK_FORM_MALLOC, HK_SIZE_UNKNOWN);
	canary_or_die(c, s, " (found at realloc)");
	/* An OS-mapped large block grows or shrinks in its mapping (mremap), no copy. */
	if ((s->flags & BLK_OS) && size >= HK_PAGE_SIZE) {
		struct blk b = *s;
		if (_hk_ck_large_resize(c, &b, size)) {
			_hk_count_free(&c->counters, s->size);
			_hk_count_alloc(&c->counters, size);
			table_remove(c, s);
			if (b.p != (uintptr_t)p)
				grave_bury(c, (uintptr_t)p);
			if (!table_insert(c, &b))
				_hk_ck_die("checked: no memory for the live table", (void *)b.p, &b, false, 0);
			canary_fill(c, &b);
			c_unlock(c);
			return (void *)b.p;
		}
	}
	size_t old = s->size;
	void *q = alloc_locked(c, 0, size, HK_FORM_MALLOC, false);
	if (q) {
		memcpy(q, p, old < size ? old : size);
		free_locked(c, p, HK_FORM_MALLOC, HK_SIZE_UNKNOWN);
	}
	c_unlock(c);
	return q;
}

static size_t checked_usable_size(hk_alloc_t *a, void *p)
{
	struct checked *c = to_checked(a);
	c_lock(c);
	size_t size = block_or_die(c, p, "checked: usable_size of a freed pointer",
				   "checked: usable_size of a pointer heapkit never returned",
				   "checked: usable_size of a pointer into the middle of a block")->size;
	c_unlock(c);
	return size;
}

static int checked_addmem(hk_alloc_t *a, void *base, size_t len)
{
	hk_alloc_t *in = to_checked(a)->inner;
	return in->ops->addmem ? in->ops->addmem(in, base, len) : -HK_EINVAL;
}

static size_t checked_maxalloc(hk_alloc_t *a)
{
	hk_alloc_t *in = to_checked(a)->inner;
	size_t m = in->ops->maxalloc(in);
	return m > FRONT_BYTES + BACK_MIN ? m - FRONT_BYTES - BACK_MIN : 0;
}

static size_t checked_availmem(hk_alloc_t *a)
{
	hk_alloc_t *in = to_checked(a)->inner;
	return in->ops->availmem(in);
}

static void checked_stats(hk_alloc_t *a, struct hk_stats *out)
{
	struct checked *c = to_checked(a);
	struct hk_stats inner_stats;
	memset(&inner_stats, 0, sizeof inner_stats);
	c->inner->ops->stats(c->inner, &inner_stats);
	c_lock(c);
	_hk_counters_to_stats(&c->counters, out);
	c_unlock(c);
	out->bytes_managed = inner_stats.bytes_managed;
}

/* Every canary, every held block's fill, then the inner instance (lock held). */
static int check_locked(struct checked *c, struct hk_check_report *r)
{
	size_t live = 0;
	for (size_t i = 0; i < c->table_cap; i++) {
		const struct blk *s = &c->table[i];
		if (s->p <= SLOT_GONE)
			continue;
		live++;
		const unsigned char *bad = canary_broken(c, s);
		if (bad)
			return _hk_check_fail(r, (void *)s->p, (uintptr_t)bad < s->p
								? "checked: write before the start of the block"
								: "checked: write past the end of the block");
	}
	if (live != c->nr_live)
		return _hk_check_fail(r, c, "checked: live table count is wrong");
	for (size_t i = 0; i < c->ring_len; i++) {
		const struct blk *h = &c->ring[(c->ring_head + i) % c->ring_cap];
		if (freed_fill_broken(h))
			return _hk_check_fail(r, (void *)h->p, "checked: write into the block after it was freed");
	}
	return c->inner->ops->check(c->inner, r);
}

static int checked_check(hk_alloc_t *a, struct hk_check_report *r)
{
	struct checked *c = to_checked(a);
	c_lock(c);
	int rc = check_locked(c, r);
	c_unlock(c);
	return rc;
}

/* At exit (the drop-in): every live block's canaries and every held block, reported in full. */
void _hk_ck_exit_check(struct checked *c)
{
	if (!hk_trylock(&c->lock))
		return;                  /* a thread died holding it: nothing safe to read */
	BUSY_ENTER();
	for (size_t i = 0; i < c->table_cap; i++)
		if (c->table[i].p > SLOT_GONE)
			canary_or_die(c, &c->table[i], " (found at exit)");
	for (size_t i = 0; i < c->ring_len; i++)
		held_or_die(c, &c->ring[(c->ring_head + i) % c->ring_cap], " (found at exit)");
	BUSY_LEAVE();
	hk_unlock(&c->lock);
}

/* Give held blocks, the table, the ring and the wrapper back to inner; live small blocks stay there. */
static void checked_destroy(hk_alloc_t *a)
{
	struct checked *c = to_checked(a);
	c_lock(c);
	ring_evict_all(c);
	for (size_t i = 0; i < c->table_cap; i++)
		if (c->table[i].p > SLOT_GONE && (c->table[i].flags & BLK_LARGE))
			_hk_ck_large_drop(c, &c->table[i]);
	inner_free(c, c->table);
	inner_free(c, c->ring);
	inner_free(c, c->grave);
	hk_alloc_t *in = c->inner;
	c_unlock(c);
	in->ops->free(in, c);
}

const struct hk_alloc_ops _hk_checked_ops = {
	.malloc = checked_malloc,
	.calloc = checked_calloc,
	.realloc = checked_realloc,
	.memalign = checked_memalign,
	.free = checked_free,
	.usable_size = checked_usable_size,
	.addmem = checked_addmem,
	.maxalloc = checked_maxalloc,
	.availmem = checked_availmem,
	.stats = checked_stats,
	.check = checked_check,
	.destroy = checked_destroy,
};

/* --- The C++ forms, malloc(0) ------------------------------------------------------------ */

void *_hk_checked_alloc_as(hk_alloc_t *a, size_t align, size_t size, unsigned form)
{
	if (!a || size > HK_MAX_REQUEST || align > HK_MAX_REQUEST / 2) {
		_hk_set_errno(HK_ENOMEM);
		return NULL;
	}
	if (a->ops != &_hk_checked_ops)
		return align ? hk_memalign(a, align, size) : hk_malloc(a, size);
	if (align <= HK_MIN_ALIGN)
		align = 0;
	struct checked *c = to_checked(a);
	c_lock(c);
	void *p = alloc_locked(c, align, size, form, false);
	c_unlock(c);
	if (!p)
		_hk_set_errno(HK_ENOMEM);
	return p;
}

void _hk_checked_free_as(hk_alloc_t *a, void *p, unsigned form, size_t size, size_t align)
{
	(void)align;
	if (!a || !p)
		return;
	if (a->ops != &_hk_checked_ops) {
		hk_free(a, p);
		return;
	}
	struct checked *c = to_checked(a);
	c_lock(c);
	free_locked(c, p, form, size);
	c_unlock(c);
}

/* --- Creation ------------------------------------------------------------ */

hk_alloc_t *_hk_ck_new(hk_alloc_t *inner, size_t quarantine)
{
	if (!inner)
		return NULL;
	if (!quarantine)
		quarantine = QUARANTINE_DEFAULT;
	if (quarantine > QUARANTINE_MAX)
		quarantine = QUARANTINE_MAX;
	struct checked *c = inner->ops->malloc(inner, sizeof *c);
	if (!c)
		return NULL;
	memset(c, 0, sizeof *c);
	c->inner = inner;
	/* a small region gets a smaller quarantine and record of old addresses (a quarter, an eighth) */
	size_t room = inner->ops->maxalloc(inner);
	while (quarantine > 1 && quarantine * sizeof *c->ring > room / 4)
		quarantine /= 2;
	bool table_ok = table_rebuild(c, TABLE_MIN);
	/* the largest ring (and grave) that memory allows, halving down to 1 entry (64 slots) */
	for (c->ring_cap = quarantine; !(c->ring = inner->ops->malloc(inner, c->ring_cap * sizeof *c->ring));)
		if ((c->ring_cap /= 2) == 0)
			break;
	for (c->grave_cap = GRAVE_SLOTS; c->grave_cap > 64 && c->grave_cap * sizeof *c->grave > room / 8;)
		c->grave_cap /= 2;
	for (; !(c->grave = inner->ops->malloc(inner, c->grave_cap * sizeof *c->grave));)
		if ((c->grave_cap /= 2) < 64)   /* 16 buckets at least */
			break;
	if (!c->ring || !c->grave || !table_ok) {
		if (c->table)
			inner->ops->free(inner, c->table);
		if (c->ring)
			inner->ops->free(inner, c->ring);
		if (c->grave)
			inner->ops->free(inner, c->grave);
		inner->ops->free(inner, c);
		return NULL;
	}
	memset(c->grave, 0, c->grave_cap * sizeof *c->grave);
	_hk_alloc_init(&c->base, &_hk_checked_ops, NULL);
	c->record.name = "checked";
	c->record.summary = "checked wrapper: double free, invalid free, overflow detection";
	c->record.create = NULL;
	c->record.caps = (hk_caps(inner) & (HK_CAP_FREE | HK_CAP_THREADS | HK_CAP_ADDMEM | HK_CAP_PAGES)) | HK_CAP_ZERO_SIZE;
	c->record.min_region = inner->backend ? inner->backend->min_region : 0;
	c->base.backend = &c->record;
	return &c->base;
}

hk_alloc_t *hk_checked_create(hk_alloc_t *inner, size_t quarantine)
{
	hk_alloc_t *a = _hk_ck_new(inner, quarantine);
	if (a)
		to_checked(a)->stacks = _hk_ck_stacks_wanted();
	return a;
}
