// SPDX-License-Identifier: MIT
/*
 * checked: a wrapper instance over any backend that catches misuse and says
 * what and where, then aborts:
 *   - double free, immediate or after other frees (a quarantine of recently
 *     freed blocks is held back from the inner instance);
 *   - free (or realloc, usable_size) of a pointer heapkit never returned: a
 *     stack address, a far address, a pointer into the middle of a block;
 *   - a write past the end of a block (canary bytes after the requested
 *     size, checked at free, at realloc and by hk_check);
 *   - realloc of a freed pointer;
 *   - a write into a freed block while it sat in the quarantine (found when
 *     it leaves the quarantine, and by hk_check).
 *
 * Every live block is in a hash table keyed by its address; the table, the
 * quarantine ring and the wrapper itself live in memory taken from the inner
 * instance. A block is an inner block of size + CANARY_BYTES: the user gets
 * its start, usable_size reports exactly the size asked for.
 *
 * One lock guards the wrapper; the inner instance is called under it through
 * its operations (the requests are already checked by src/core/api.c).
 */
#include "core/internal.h"
#include "checked/checked.h"

/* --- Constants ------------------------------------------------------------ */
#define CANARY_BYTES 16u             /* guard bytes after every block */
#define CANARY_BYTE 0xcbu            /* their value */
#define FREED_BYTE 0xdfu             /* fills a block while it is in the quarantine */
#define QUARANTINE_DEFAULT 256u      /* freed blocks held back, unless asked otherwise */
#define QUARANTINE_MAX (1u << 16)    /* at most this many */
#define TABLE_MIN 64u                /* first size of the live table (slots) */
#define SLOT_EMPTY ((uintptr_t)0)    /* a never-used slot */
#define SLOT_GONE ((uintptr_t)1)     /* a slot whose block was freed (tombstone) */

/* --- Structures ------------------------------------------------------------ */

/* A live block: its address (or SLOT_EMPTY / SLOT_GONE) and the size asked for. */
struct live_slot {
	uintptr_t p;     /* block start */
	size_t size;     /* requested bytes; the canary follows */
	unsigned form;   /* HK_FORM_*: how it was allocated */
};

/* A freed block held back from the inner instance. */
struct held_block {
	void *p;         /* block start */
	size_t size;     /* requested bytes it had; all FREED_BYTE now */
};

/*
 * The wrapper. Invariants (under lock): every live block is in table exactly
 * once and in no ring entry; a held block is in the ring and not in the
 * table; table_cap is a power of two and table_used (live + tombstones)
 * stays below 3/4 of it; ring holds ring_len entries starting at ring_head.
 */
struct checked {
	struct hk_alloc base;            /* the common instance head */
	struct hk_backend record;        /* this instance's registry record: name, caps */
	hk_alloc_t *inner;               /* where the memory comes from */
	hk_lock_t lock;                  /* guards everything below */
	struct live_slot *table;         /* open addressing, linear probing */
	size_t table_cap;                /* slots, a power of two */
	size_t table_used;               /* slots not SLOT_EMPTY */
	size_t nr_live;                  /* live blocks */
	struct held_block *ring;         /* the quarantine: a ring of ring_cap */
	size_t ring_cap;                 /* entries */
	size_t ring_head;                /* oldest entry */
	size_t ring_len;                 /* entries in use */
	struct hk_counters counters;     /* requested bytes of live blocks */
};

static inline struct checked *to_checked(hk_alloc_t *a) { return (struct checked *)a; }

/* --- Inner memory ------------------------------------------------------------ */

static void *inner_alloc(struct checked *c, size_t align, size_t size)
{
	hk_alloc_t *in = c->inner;
	return align ? in->ops->memalign(in, align, size) : in->ops->malloc(in, size);
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

/* The slot holding p, or NULL. */
static struct live_slot *table_find(struct checked *c, const void *p)
{
	uintptr_t key = (uintptr_t)p;
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

/* Put p in a table known to have room and not to hold it. */
static void table_place(struct live_slot *t, size_t cap, const struct live_slot *s)
{
	size_t i = slot_hash(s->p, cap);
	while (t[i].p > SLOT_GONE)
		i = (i + 1) & (cap - 1);
	t[i] = *s;
}

/* Rebuild into a table of cap slots (drops tombstones). false if memory is short. */
static bool table_rebuild(struct checked *c, size_t cap)
{
	struct live_slot *t = inner_alloc(c, 0, cap * sizeof *t);
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
static bool table_insert(struct checked *c, void *p, size_t size, unsigned form)
{
	if ((c->table_used + 1) * 4 > c->table_cap * 3) {
		size_t cap = (c->nr_live + 1) * 2 > c->table_cap ? c->table_cap * 2 : c->table_cap;
		if (!table_rebuild(c, cap))
			return false;
	}
	size_t i = slot_hash((uintptr_t)p, c->table_cap);
	while (c->table[i].p > SLOT_GONE)
		i = (i + 1) & (c->table_cap - 1);
	if (c->table[i].p == SLOT_EMPTY)
		c->table_used++;
	c->table[i].p = (uintptr_t)p;
	c->table[i].size = size;
	c->table[i].form = form;
	c->nr_live++;
	return true;
}

static void table_remove(struct checked *c, struct live_slot *s)
{
	s->p = SLOT_GONE;
	s->size = 0;
	c->nr_live--;
}

/* The live block that p points inside (not at its start), or NULL. Slow: error paths only. */
static struct live_slot *table_find_interior(struct checked *c, const void *p)
{
	uintptr_t x = (uintptr_t)p;
	for (size_t i = 0; i < c->table_cap; i++) {
		struct live_slot *s = &c->table[i];
		if (s->p > SLOT_GONE && x > s->p && x < s->p + s->size + CANARY_BYTES)
			return s;
	}
	return NULL;
}

/* --- Canaries and freed fill ------------------------------------------------------------ */

static void canary_write(void *p, size_t size)
{
	memset((char *)p + size, CANARY_BYTE, CANARY_BYTES);
}

/* The first canary byte overwritten, or NULL when intact. */
static const void *canary_broken(const void *p, size_t size)
{
	const unsigned char *g = (const unsigned char *)p + size;
	for (unsigned i = 0; i < CANARY_BYTES; i++)
		if (g[i] != CANARY_BYTE)
			return g + i;
	return NULL;
}

/* The first byte of a held block written after its free, or NULL. */
static const void *freed_fill_broken(const struct held_block *h)
{
	const unsigned char *b = h->p;
	const uint64_t fill = 0x0101010101010101ull * FREED_BYTE;
	size_t i = 0;
	/* Whole words first (blocks are 16-byte aligned), then the tail and any bad word's bytes. */
	for (; i + 8 <= h->size; i += 8) {
		uint64_t w;
		memcpy(&w, b + i, 8);
		if (w != fill)
			break;
	}
	for (; i < h->size; i++)
		if (b[i] != FREED_BYTE)
			return b + i;
	return NULL;
}

/* --- Reports ------------------------------------------------------------ */

/* The live block at p, or abort saying what p is instead. verb: "free", "realloc", ... */
static struct live_slot *block_or_die(struct checked *c, const void *p, const char *freed_what,
				      const char *never_what, const char *interior_what)
{
	struct live_slot *s = table_find(c, p);
	if (hk_likely(s != NULL))
		return s;
	for (size_t i = 0; i < c->ring_len; i++)
		if (c->ring[(c->ring_head + i) % c->ring_cap].p == p)
			_hk_fatal(freed_what, p);
	if (table_find_interior(c, p))
		_hk_fatal(interior_what, p);
	_hk_fatal(never_what, p);
}

static void canary_or_die(const struct live_slot *s)
{
	if (hk_unlikely(canary_broken((void *)s->p, s->size) != NULL))
		_hk_fatal("checked: write past the end of the block", (void *)s->p);
}

/* --- The quarantine ------------------------------------------------------------ */

/* Give the oldest held block back to the inner instance, checking its fill. */
static void ring_evict_one(struct checked *c)
{
	struct held_block *h = &c->ring[c->ring_head];
	if (hk_unlikely(freed_fill_broken(h) != NULL))
		_hk_fatal("checked: write into the block after it was freed", h->p);
	inner_free(c, h->p);
	c->ring_head = (c->ring_head + 1) % c->ring_cap;
	c->ring_len--;
}

static void ring_evict_all(struct checked *c)
{
	while (c->ring_len)
		ring_evict_one(c);
}

static void ring_hold(struct checked *c, void *p, size_t size)
{
	if (c->ring_len == c->ring_cap)
		ring_evict_one(c);
	memset(p, FREED_BYTE, size);
	struct held_block *h = &c->ring[(c->ring_head + c->ring_len) % c->ring_cap];
	h->p = p;
	h->size = size;
	c->ring_len++;
}

/* --- The malloc family (lock held) ------------------------------------------------------------ */

static void *alloc_locked(struct checked *c, size_t align, size_t size, unsigned form)
{
	if (size > HK_MAX_REQUEST - CANARY_BYTES)
		return NULL;
	void *p = NULL;
	/* A second try after the quarantine's blocks went back to the inner instance. */
	for (int attempt = 0; attempt < 2 && !p; attempt++) {
		if (attempt) {
			if (!c->ring_len)
				return NULL;
			ring_evict_all(c);
		}
		p = inner_alloc(c, align, size + CANARY_BYTES);
		if (p && !table_insert(c, p, size, form)) {
			inner_free(c, p);
			p = NULL;
		}
	}
	if (!p)
		return NULL;
	canary_write(p, size);
	_hk_count_alloc(&c->counters, size);
	return p;
}

/* A free in form (HK_FORM_*) with size (HK_SIZE_UNKNOWN: unsized) must match the allocation. */
static void form_or_die(const struct live_slot *s, unsigned form, size_t size)
{
	static const char *const what[3][3] = {
		/* allocated by malloc, freed by: free, delete, delete[] */
		{ NULL, "checked: delete of a block from malloc", "checked: delete[] of a block from malloc" },
		{ "checked: free of a block from new", NULL, "checked: delete[] of a block from new" },
		{ "checked: free of a block from new[]", "checked: delete of a block from new[]", NULL },
	};
	if (hk_unlikely(s->form != form))
		_hk_fatal(what[s->form][form], (void *)s->p);
	if (hk_unlikely(size != HK_SIZE_UNKNOWN && size != s->size))
		_hk_fatal("checked: sized delete with a size other than the block's", (void *)s->p);
}

static void free_locked(struct checked *c, void *p, unsigned form, size_t size_said)
{
	struct live_slot *s = block_or_die(c, p, "checked: double free",
					   "checked: free of a pointer heapkit never returned",
					   "checked: free of a pointer into the middle of a block");
	form_or_die(s, form, size_said);
	canary_or_die(s);
	size_t size = s->size;
	table_remove(c, s);
	_hk_count_free(&c->counters, size);
	ring_hold(c, p, size);
}

/* --- Operations ------------------------------------------------------------ */

static void *checked_memalign(hk_alloc_t *a, size_t align, size_t size)
{
	struct checked *c = to_checked(a);
	hk_lock(&c->lock);
	void *p = alloc_locked(c, align, size, HK_FORM_MALLOC);
	hk_unlock(&c->lock);
	return p;
}

static void *checked_malloc(hk_alloc_t *a, size_t size)
{
	return checked_memalign(a, 0, size);
}

static void checked_free(hk_alloc_t *a, void *p)
{
	struct checked *c = to_checked(a);
	hk_lock(&c->lock);
	free_locked(c, p, HK_FORM_MALLOC, HK_SIZE_UNKNOWN);
	hk_unlock(&c->lock);
}

static void *checked_realloc(hk_alloc_t *a, void *p, size_t size)
{
	struct checked *c = to_checked(a);
	hk_lock(&c->lock);
	struct live_slot *s = block_or_die(c, p, "checked: realloc of a freed pointer",
					   "checked: realloc of a pointer heapkit never returned",
					   "checked: realloc of a pointer into the middle of a block");
	form_or_die(s, HK_FORM_MALLOC, HK_SIZE_UNKNOWN);
	canary_or_die(s);
	size_t old = s->size;
	void *q = alloc_locked(c, 0, size, HK_FORM_MALLOC);
	if (q) {
		memcpy(q, p, old < size ? old : size);
		free_locked(c, p, HK_FORM_MALLOC, HK_SIZE_UNKNOWN);
	}
	hk_unlock(&c->lock);
	return q;
}

static size_t checked_usable_size(hk_alloc_t *a, void *p)
{
	struct checked *c = to_checked(a);
	hk_lock(&c->lock);
	size_t size = block_or_die(c, p, "checked: usable_size of a freed pointer",
				   "checked: usable_size of a pointer heapkit never returned",
				   "checked: usable_size of a pointer into the middle of a block")->size;
	hk_unlock(&c->lock);
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
	return m > CANARY_BYTES ? m - CANARY_BYTES : 0;
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
	hk_lock(&c->lock);
	_hk_counters_to_stats(&c->counters, out);
	hk_unlock(&c->lock);
	out->bytes_managed = inner_stats.bytes_managed;
}

/* Every canary, every held block's fill, then the inner instance. */
static int checked_check(hk_alloc_t *a, struct hk_check_report *r)
{
	struct checked *c = to_checked(a);
	int rc = 0;
	hk_lock(&c->lock);
	size_t live = 0;
	for (size_t i = 0; i < c->table_cap && !rc; i++) {
		const struct live_slot *s = &c->table[i];
		if (s->p <= SLOT_GONE)
			continue;
		live++;
		if (canary_broken((void *)s->p, s->size))
			rc = _hk_check_fail(r, (void *)s->p, "checked: write past the end of the block");
	}
	if (!rc && live != c->nr_live)
		rc = _hk_check_fail(r, c, "checked: live table count is wrong");
	for (size_t i = 0; i < c->ring_len && !rc; i++) {
		const struct held_block *h = &c->ring[(c->ring_head + i) % c->ring_cap];
		if (freed_fill_broken(h))
			rc = _hk_check_fail(r, h->p, "checked: write into the block after it was freed");
	}
	if (!rc)
		rc = c->inner->ops->check(c->inner, r);
	hk_unlock(&c->lock);
	return rc;
}

/* Give held blocks, the table, the ring and the wrapper back to inner; live blocks stay there. */
static void checked_destroy(hk_alloc_t *a)
{
	struct checked *c = to_checked(a);
	hk_lock(&c->lock);
	ring_evict_all(c);
	inner_free(c, c->table);
	inner_free(c, c->ring);
	hk_alloc_t *in = c->inner;
	hk_unlock(&c->lock);
	in->ops->free(in, c);
}

const struct hk_alloc_ops _hk_checked_ops = {
	.malloc = checked_malloc,
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

/* --- The C++ forms ------------------------------------------------------------ */

void *_hk_checked_alloc_as(hk_alloc_t *a, size_t align, size_t size, unsigned form)
{
	if (!a || size > HK_MAX_REQUEST || align > HK_MAX_REQUEST / 2)
		return NULL;
	if (align <= HK_MIN_ALIGN)
		align = 0;
	if (a->ops != &_hk_checked_ops)
		return align ? hk_memalign(a, align, size) : hk_malloc(a, size);
	struct checked *c = to_checked(a);
	hk_lock(&c->lock);
	void *p = alloc_locked(c, align, size ? size : 1, form);
	hk_unlock(&c->lock);
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
	hk_lock(&c->lock);
	free_locked(c, p, form, size);
	hk_unlock(&c->lock);
}

/* --- Creation ------------------------------------------------------------ */

hk_alloc_t *hk_checked_create(hk_alloc_t *inner, size_t quarantine)
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
	c->ring_cap = quarantine;
	c->ring = inner->ops->malloc(inner, quarantine * sizeof *c->ring);
	if (!c->ring || !table_rebuild(c, TABLE_MIN)) {
		if (c->ring)
			inner->ops->free(inner, c->ring);
		inner->ops->free(inner, c);
		return NULL;
	}
	_hk_alloc_init(&c->base, &_hk_checked_ops, NULL);
	c->record.name = "checked";
	c->record.summary = "checked wrapper: double free, invalid free, overflow detection";
	c->record.create = NULL;
	c->record.caps = hk_caps(inner) & (HK_CAP_FREE | HK_CAP_THREADS | HK_CAP_ADDMEM | HK_CAP_PAGES);
	c->record.min_region = inner->backend ? inner->backend->min_region : 0;
	c->base.backend = &c->record;
	return &c->base;
}

/* --- The drop-in's checked instance ------------------------------------------------------------ */

#if defined(HK_HAVE_SHARD) && defined(HK_HOSTED) && HK_HOSTED
static hk_alloc_t *dropin_checked;            /* created on first use, never freed */
static hk_lock_t dropin_checked_lock = HK_LOCK_INIT;

hk_alloc_t *_hk_dropin_checked(void)
{
	hk_alloc_t *c = __atomic_load_n(&dropin_checked, __ATOMIC_ACQUIRE);
	if (hk_likely(c != NULL))
		return c;
	hk_lock(&dropin_checked_lock);
	c = dropin_checked;
	if (!c) {
		hk_alloc_t *inner = _hk_shard_os_instance();
		c = inner ? hk_checked_create(inner, 0) : NULL;
		__atomic_store_n(&dropin_checked, c, __ATOMIC_RELEASE);
	}
	hk_unlock(&dropin_checked_lock);
	return c;
}

void _hk_dropin_checked_fork_prepare(void)
{
	hk_lock(&dropin_checked_lock);
	if (dropin_checked)
		hk_lock(&to_checked(dropin_checked)->lock);
}

void _hk_dropin_checked_fork_parent(void)
{
	if (dropin_checked)
		hk_unlock(&to_checked(dropin_checked)->lock);
	hk_unlock(&dropin_checked_lock);
}

void _hk_dropin_checked_fork_child(void)
{
	_hk_dropin_checked_fork_parent();
}
#endif
