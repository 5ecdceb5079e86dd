// SPDX-License-Identifier: MIT
/*
 * Reading a heapkit trace: validate every chunk, decode each thread's
 * events, then walk all threads' events in time order (a k-way merge) and
 * give every allocation a stable object id, resolving frees through a map
 * from address to the object living there. Needs no OS (see trace.h).
 */
#include <heapkit/trace.h>

#include <stdbool.h>
#include <string.h>

#define NO_ID UINT32_MAX

/* --- Memory through the callbacks --------------------------------------------- */

static void *mem_alloc(const struct hk_trace_mem *m, size_t n) { return m->alloc(m->ctx, n ? n : 1); }
static void mem_free(const struct hk_trace_mem *m, void *p)
{
	if (p)
		m->free(m->ctx, p);
}

/* Grow *arr (of *cap elements of size each) to hold at least want; false when out of memory. */
static bool grow(const struct hk_trace_mem *m, void **arr, size_t *cap, size_t want, size_t size)
{
	if (want <= *cap)
		return true;
	size_t ncap = *cap ? *cap : 16;
	while (ncap < want)
		ncap *= 2;
	void *n = mem_alloc(m, ncap * size);
	if (!n)
		return false;
	if (*arr)
		memcpy(n, *arr, *cap * size);
	mem_free(m, *arr);
	*arr = n;
	*cap = ncap;
	return true;
}

/* --- Address -> live object ------------------------------------------------------ */

/* Open addressing; key 0 is empty, key 1 a deleted slot (no block lives at 0 or 1). */
struct addr_map {
	uint64_t *keys;
	uint32_t *vals;
	size_t cap, used;   /* used counts live and deleted slots */
};

#define KEY_EMPTY 0
#define KEY_DELETED 1

static size_t slot_of(uint64_t key, size_t cap) { return (size_t)((key >> 4) * 0x9e3779b97f4a7c15ull) & (cap - 1); }

static bool map_rehash(struct addr_map *mp, const struct hk_trace_mem *m, size_t cap)
{
	uint64_t *keys = mem_alloc(m, cap * sizeof *keys);
	uint32_t *vals = mem_alloc(m, cap * sizeof *vals);
	if (!keys || !vals) {
		mem_free(m, keys);
		mem_free(m, vals);
		return false;
	}
	memset(keys, 0, cap * sizeof *keys);
	size_t used = 0;
	for (size_t i = 0; i < mp->cap; i++) {
		if (mp->keys[i] <= KEY_DELETED)
			continue;
		size_t s = slot_of(mp->keys[i], cap);
		while (keys[s] != KEY_EMPTY)
			s = (s + 1) & (cap - 1);
		keys[s] = mp->keys[i];
		vals[s] = mp->vals[i];
		used++;
	}
	mem_free(m, mp->keys);
	mem_free(m, mp->vals);
	mp->keys = keys;
	mp->vals = vals;
	mp->cap = cap;
	mp->used = used;
	return true;
}

/* Set key -> val (replacing); false when out of memory. */
static bool map_put(struct addr_map *mp, const struct hk_trace_mem *m, uint64_t key, uint32_t val)
{
	if ((mp->used + 1) * 2 > mp->cap && !map_rehash(mp, m, mp->cap ? mp->cap * 2 : 1024))
		return false;
	size_t s = slot_of(key, mp->cap), tomb = SIZE_MAX;
	while (mp->keys[s] != KEY_EMPTY && mp->keys[s] != key) {
		if (mp->keys[s] == KEY_DELETED && tomb == SIZE_MAX)
			tomb = s;
		s = (s + 1) & (mp->cap - 1);
	}
	if (mp->keys[s] == KEY_EMPTY) {
		if (tomb != SIZE_MAX)
			s = tomb;
		else
			mp->used++;
	}
	mp->keys[s] = key;
	mp->vals[s] = val;
	return true;
}

/* Remove key; its value, or NO_ID when absent. */
static uint32_t map_take(struct addr_map *mp, uint64_t key)
{
	if (!mp->cap)
		return NO_ID;
	for (size_t s = slot_of(key, mp->cap); mp->keys[s] != KEY_EMPTY; s = (s + 1) & (mp->cap - 1))
		if (mp->keys[s] == key) {
			mp->keys[s] = KEY_DELETED;
			return mp->vals[s];
		}
	return NO_ID;
}

/* --- Decoding chunks ------------------------------------------------------------ */

/* An event as recorded, with its absolute time and the addresses still raw. */
struct raw {
	uint64_t t, a, b, c, d;
	uint8_t op;
};

struct thread_raw {
	uint32_t id;             /* the thread's number in the file */
	struct raw *ev;
	size_t n, cap;
};

static int fail(const char **err, const char *why)
{
	if (err)
		*err = why;
	return -1;
}

static int operands_of(uint8_t op)
{
	switch (op) {
	case HK_TRACE_MALLOC:
	case HK_TRACE_CALLOC: return 2;
	case HK_TRACE_REALLOC: return 4;
	case HK_TRACE_MEMALIGN: return 3;
	case HK_TRACE_FREE: return 1;
	default: return -1;
	}
}

static struct thread_raw *thread_find(struct thread_raw **ts, size_t *nts, size_t *cap, uint32_t id,
				      const struct hk_trace_mem *m)
{
	for (size_t i = 0; i < *nts; i++)
		if ((*ts)[i].id == id)
			return &(*ts)[i];
	if (!grow(m, (void **)ts, cap, *nts + 1, sizeof **ts))
		return NULL;
	struct thread_raw *t = &(*ts)[(*nts)++];
	memset(t, 0, sizeof *t);
	t->id = id;
	return t;
}

static int decode_chunk(const struct hk_trace_chunk *c, const uint8_t *p, struct thread_raw *t,
			const struct hk_trace_mem *m, const char **err)
{
	const uint8_t *end = p + c->payload_bytes;
	uint64_t time = c->base_ticks, last_addr = 0;
	if (!grow(m, (void **)&t->ev, &t->cap, t->n + c->nr_events, sizeof *t->ev))
		return fail(err, "out of memory reading the trace");
	for (uint32_t i = 0; i < c->nr_events; i++) {
		if (p >= end)
			return fail(err, "corrupt trace: a chunk holds fewer events than it says");
		struct raw *r = &t->ev[t->n++];
		uint64_t v[5] = { 0 };
		r->op = *p++;
		int nops = operands_of(r->op);
		if (nops < 0)
			return fail(err, "corrupt trace: unknown operation");
		unsigned addrs = hk_trace_addr_mask(r->op);
		for (int k = 0; k <= nops; k++) {
			if (!hk_trace_get_varint(&p, end, &v[k]))
				return fail(err, "corrupt trace: an event runs past its chunk");
			if (k && (addrs >> (k - 1) & 1)) {
				v[k] = last_addr + (uint64_t)hk_trace_unzigzag(v[k]);
				last_addr = v[k];
			}
		}
		time += v[0];
		r->t = time;
		r->a = v[1], r->b = v[2], r->c = v[3], r->d = v[4];
	}
	if (p != end)
		return fail(err, "corrupt trace: a chunk holds more bytes than its events");
	return 0;
}

/* --- Ids by time order ------------------------------------------------------------ */

/* A moment: one half of an event (a realloc frees, then allocates). */
struct cursor {
	uint32_t thread;
	size_t next;       /* index of the event */
	bool alloc_half;   /* for REALLOC: the allocation half is next */
};

static bool has_free_half(const struct raw *r)
{
	switch (r->op) {
	case HK_TRACE_FREE: return true;
	case HK_TRACE_REALLOC: return r->a && (r->c || !r->b); /* a failed realloc keeps old */
	default: return false;
	}
}

static uint64_t alloc_addr(const struct raw *r)
{
	switch (r->op) {
	case HK_TRACE_MALLOC:
	case HK_TRACE_CALLOC: return r->b;
	case HK_TRACE_REALLOC:
	case HK_TRACE_MEMALIGN: return r->c;
	default: return 0;
	}
}

/* Time of the cursor's next moment; a realloc's free half is when its call began. */
static uint64_t cursor_time(const struct thread_raw *ts, const struct cursor *c)
{
	const struct raw *r = &ts[c->thread].ev[c->next];
	if (r->op == HK_TRACE_REALLOC && !c->alloc_half && r->d <= r->t)
		return r->t - r->d;
	return r->t;
}

int hk_trace_load(const uint8_t *data, size_t len, const struct hk_trace_mem *m, struct hk_trace *out,
		  const char **err)
{
	struct hk_trace_header h;
	memset(out, 0, sizeof *out);
	if (len < sizeof h)
		return fail(err, "not a heapkit trace: shorter than its header");
	memcpy(&h, data, sizeof h);
	if (memcmp(h.magic, HK_TRACE_MAGIC, 8))
		return fail(err, "not a heapkit trace: bad magic");
	if (h.version > HK_TRACE_VERSION)
		return fail(err, "a heapkit trace of a newer version than this reader knows");
	if (h.header_bytes < sizeof h || h.header_bytes > len)
		return fail(err, "corrupt trace: bad header size");

	struct thread_raw *ts = NULL;
	size_t nts = 0, tcap = 0;
	int rc = 0;
	/* The clock pairs with the fewest and most ticks: they give ns per tick. */
	uint64_t lo_ticks = h.start_ticks, lo_ns = h.start_ns, hi_ticks = h.start_ticks, hi_ns = h.start_ns;
	for (size_t off = h.header_bytes; off < len && !rc;) {
		struct hk_trace_chunk c;
		if (len - off < sizeof c) {
			rc = fail(err, "truncated trace: the last chunk header is cut off");
			break;
		}
		memcpy(&c, data + off, sizeof c);
		if (c.magic != HK_TRACE_CHUNK_MAGIC) {
			rc = fail(err, "corrupt trace: a chunk does not start where expected");
			break;
		}
		if (c.payload_bytes > len - off - sizeof c) {
			rc = fail(err, "truncated trace: the last chunk is cut off");
			break;
		}
		const uint8_t *payload = data + off + sizeof c;
		if (hk_trace_checksum(payload, c.payload_bytes) != c.checksum) {
			rc = fail(err, "corrupt trace: a chunk's checksum does not match");
			break;
		}
		if (c.base_ticks < lo_ticks)
			lo_ticks = c.base_ticks, lo_ns = c.base_ns;
		if (c.base_ticks > hi_ticks)
			hi_ticks = c.base_ticks, hi_ns = c.base_ns;
		struct thread_raw *t = thread_find(&ts, &nts, &tcap, c.thread, m);
		rc = t ? decode_chunk(&c, payload, t, m, err) : fail(err, "out of memory reading the trace");
		off += sizeof c + c.payload_bytes;
	}

	/* Output arrays: one event per raw event. */
	double ns_per_tick = 1.0;
	if ((h.flags & HK_TRACE_TICKS_TSC) && hi_ticks > lo_ticks && hi_ns > lo_ns)
		ns_per_tick = (double)(hi_ns - lo_ns) / (double)(hi_ticks - lo_ticks);
	struct cursor *heap = NULL;
	struct addr_map map = { 0 };
	size_t objcap = 0, sizecap = 0, nheap = 0;
	uint64_t live = 0;
	uint64_t t0 = UINT64_MAX;
	if (!rc) {
		out->pid = h.pid;
		out->nr_threads = (uint32_t)nts;
		out->threads = mem_alloc(m, nts * sizeof *out->threads);
		heap = mem_alloc(m, (nts ? nts : 1) * sizeof *heap);
		if (!out->threads || !heap)
			rc = fail(err, "out of memory reading the trace");
	}
	for (size_t i = 0; !rc && i < nts; i++) {
		out->threads[i].nr_events = (uint32_t)ts[i].n;
		out->threads[i].events = mem_alloc(m, ts[i].n * sizeof(struct hk_trace_event));
		if (!out->threads[i].events)
			rc = fail(err, "out of memory reading the trace");
		out->nr_events += ts[i].n;
		if (ts[i].n) {
			heap[nheap++] = (struct cursor){ (uint32_t)i, 0, false };
			struct cursor probe = { (uint32_t)i, 0, false };
			uint64_t t = cursor_time(ts, &probe);
			if (t < t0)
				t0 = t;
		}
	}

	/*
	 * Walk the moments in time order. The heap is small (one cursor a
	 * thread), so a linear pick of the earliest is enough. At equal times a
	 * free goes first, since the block it gives back may be the one an
	 * allocation at the same time receives.
	 */
	while (!rc && nheap) {
		size_t best = 0;
		uint64_t bt = cursor_time(ts, &heap[0]);
		for (size_t i = 1; i < nheap; i++) {
			uint64_t ti = cursor_time(ts, &heap[i]);
			const struct raw *ri = &ts[heap[i].thread].ev[heap[i].next];
			bool free_i = has_free_half(ri) && !heap[i].alloc_half;
			if (ti < bt || (ti == bt && free_i)) {
				best = i;
				bt = ti;
			}
		}
		struct cursor *c = &heap[best];
		const struct raw *r = &ts[c->thread].ev[c->next];
		struct hk_trace_event *e = &out->threads[c->thread].events[c->next];
		if (!c->alloc_half) {
			e->op = r->op;
			e->time_ns = (uint64_t)((double)(r->t - (t0 <= r->t ? t0 : r->t)) * ns_per_tick);
			e->id = e->old_id = NO_ID;
			e->align = r->op == HK_TRACE_MEMALIGN ? (uint32_t)r->a : 0;
			e->size = r->op == HK_TRACE_FREE ? 0 : r->op == HK_TRACE_MALLOC || r->op == HK_TRACE_CALLOC ? r->a : r->b;
			if (has_free_half(r)) {
				e->old_id = map_take(&map, r->a);
				if (e->old_id == NO_ID)
					out->nr_untracked_frees++;
				else
					live -= out->object_size[e->old_id];
			}
		}
		if (r->op == HK_TRACE_REALLOC && !c->alloc_half) {
			c->alloc_half = true; /* the allocation half comes at the event's own time */
			continue;
		}
		uint64_t addr = alloc_addr(r);
		if (addr) {
			uint32_t id = out->nr_objects++;
			if (!grow(m, (void **)&out->object_thread, &objcap, out->nr_objects, sizeof(uint32_t)) ||
			    !grow(m, (void **)&out->object_size, &sizecap, out->nr_objects, sizeof(uint64_t)) ||
			    !map_put(&map, m, addr, id)) {
				rc = fail(err, "out of memory reading the trace");
				break;
			}
			out->object_thread[id] = c->thread;
			out->object_size[id] = e->size;
			e->id = id;
			live += e->size;
			if (live > out->peak_live_bytes)
				out->peak_live_bytes = live;
		}
		c->next++;
		c->alloc_half = false;
		if (c->next == ts[c->thread].n)
			heap[best] = heap[--nheap];
		if (e->time_ns > out->duration_ns)
			out->duration_ns = e->time_ns;
	}

	mem_free(m, heap);
	mem_free(m, map.keys);
	mem_free(m, map.vals);
	for (size_t i = 0; i < nts; i++)
		mem_free(m, ts[i].ev);
	mem_free(m, ts);
	if (rc)
		hk_trace_release(out, m);
	return rc;
}

void hk_trace_release(struct hk_trace *t, const struct hk_trace_mem *m)
{
	for (uint32_t i = 0; t->threads && i < t->nr_threads; i++)
		mem_free(m, t->threads[i].events);
	mem_free(m, t->threads);
	mem_free(m, t->object_thread);
	mem_free(m, t->object_size);
	memset(t, 0, sizeof *t);
}
