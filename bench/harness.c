// SPDX-License-Identifier: MIT
/*
 * The harness shared by every workload: parameters, runs, stamps, threads.
 * Portable: no operating system calls (the host provides them in hkb_env).
 */
#include "harness.h"

/* --- Parameters ----------------------------------------------------------- */

int hkb_param_index(const struct hkb_workload *w, const char *name)
{
	for (unsigned i = 0; i < w->nparams; i++)
		if (!strcmp(w->params[i].name, name))
			return (int)i;
	return -1;
}

long long hkb_get(const struct hkb_run *r, const char *name)
{
	int i = hkb_param_index(r->w, name);
	return i < 0 ? 0 : r->p[i];
}

unsigned hkb_run_nthreads(const struct hkb_run *r)
{
	int i = hkb_param_index(r->w, "threads");
	unsigned n = i < 0 ? 1u : (unsigned)r->p[i];
	if ((r->w->needs & HKB_NEEDS_THREADS) && n < 2)
		n = 2;
	return n;
}

/* Parse an unsigned decimal with an optional fraction scaled by `scale`. */
static int parse_scaled(const char *s, long long scale, long long *out)
{
	long long whole = 0, frac = 0, div = 1;
	const char *q = s;
	if (!*q)
		return -1;
	for (; *q >= '0' && *q <= '9'; q++) {
		if (whole > (long long)1e15)
			return -1;
		whole = whole * 10 + (*q - '0');
	}
	if (*q == '.') {
		for (q++; *q >= '0' && *q <= '9'; q++) {
			if (div < 1000000000) {
				frac = frac * 10 + (*q - '0');
				div *= 10;
			}
		}
	}
	if (q == s)
		return -1;
	long long mult = 1;
	switch (*q) {
	case 'k': case 'K': mult = 1024; q++; break;
	case 'm': case 'M': mult = 1024 * 1024; q++; break;
	case 'g': case 'G': mult = 1024ll * 1024 * 1024; q++; break;
	default: break;
	}
	if (*q == 'b' || *q == 'B' || *q == 's')
		q++;
	if (*q)
		return -1;
	*out = whole * mult * scale + frac * mult * scale / div;
	return 0;
}

int hkb_run_set(struct hkb_run *r, const char *key, const char *value, const char **err)
{
	int i = hkb_param_index(r->w, key);
	if (i < 0) {
		*err = "unknown parameter";
		return -1;
	}
	const struct hkb_param *pd = &r->w->params[i];
	long long v;
	int rc;
	if (pd->type == HKB_TRACE) {
		if (!r->env || !r->env->trace_open) {
			*err = "this host has no traces to replay";
			return -1;
		}
		int idx = r->env->trace_open(value, err);
		if (idx < 0)
			return -1;
		r->p[i] = idx;
		return 0;
	}
	if (pd->type == HKB_MILLIS)
		rc = parse_scaled(value, 1000, &v);
	else if (pd->type == HKB_SIZE)
		rc = parse_scaled(value, 1, &v);
	else
		rc = (value[0] >= '0' && value[0] <= '9') ? parse_scaled(value, 1, &v) : -1;
	if (rc) {
		*err = "malformed value";
		return -1;
	}
	if (v < pd->min || v > pd->max) {
		*err = "value out of range";
		return -1;
	}
	r->p[i] = v;
	return 0;
}

int hkb_run_set_list(struct hkb_run *r, const char *list, const char **err)
{
	char key[64], val[512];
	const char *s = list;
	while (s && *s) {
		while (*s == ' ' || *s == ';' || *s == ',')
			s++;
		if (!*s)
			break;
		size_t k = 0, v = 0;
		while (*s && *s != '=' && *s != ' ' && k + 1 < sizeof key)
			key[k++] = *s++;
		key[k] = 0;
		if (*s != '=') {
			*err = "expected key=value";
			return -1;
		}
		s++;
		while (*s && *s != ' ' && *s != ';' && *s != ',' && v + 1 < sizeof val)
			val[v++] = *s++;
		val[v] = 0;
		if (hkb_run_set(r, key, val, err))
			return -1;
	}
	return 0;
}

void hkb_run_init(struct hkb_run *r, const struct hkb_workload *w,
		  const struct hkb_alloc *alloc, const struct hkb_env *env)
{
	memset(r, 0, sizeof *r);
	r->w = w;
	r->alloc = alloc;
	r->env = env;
	r->held_kb = -1;
	r->live_kb = -1;
	for (unsigned i = 0; i < w->nparams && i < HKB_MAX_PARAMS; i++)
		r->p[i] = w->params[i].def;
}

/* Append the decimal of v to buf at *at (bounded). */
static void put_num(char *buf, size_t len, size_t *at, long long v)
{
	char tmp[24];
	int n = 0;
	unsigned long long u = v < 0 ? (unsigned long long)-v : (unsigned long long)v;
	do
		tmp[n++] = (char)('0' + u % 10);
	while ((u /= 10) && n < 23);
	if (v < 0 && *at + 1 < len)
		buf[(*at)++] = '-';
	while (n && *at + 1 < len)
		buf[(*at)++] = tmp[--n];
}

static void put_str(char *buf, size_t len, size_t *at, const char *s)
{
	while (*s && *at + 1 < len)
		buf[(*at)++] = *s++;
}

void hkb_run_params_str(const struct hkb_run *r, char *buf, size_t len)
{
	size_t at = 0;
	for (unsigned i = 0; i < r->w->nparams; i++) {
		const struct hkb_param *pd = &r->w->params[i];
		if (i)
			put_str(buf, len, &at, ";");
		put_str(buf, len, &at, pd->name);
		put_str(buf, len, &at, "=");
		if (pd->type == HKB_MILLIS) {
			put_num(buf, len, &at, r->p[i] / 1000);
			put_str(buf, len, &at, ".");
			long long ms = r->p[i] % 1000;
			put_num(buf, len, &at, ms / 100);
			put_num(buf, len, &at, ms / 10 % 10);
			put_num(buf, len, &at, ms % 10);
		} else if (pd->type == HKB_TRACE) {
			const struct hkb_trace *t = r->p[i] >= 0 && r->env && r->env->trace_get
							    ? r->env->trace_get((int)r->p[i])
							    : NULL;
			put_str(buf, len, &at, t ? t->name : "none");
		} else {
			put_num(buf, len, &at, r->p[i]);
		}
	}
	if (len)
		buf[at < len ? at : len - 1] = 0;
}

int hkb_run_exec(struct hkb_run *r)
{
	int rc = r->w->run(r);
	if (hkb_failed(r))
		rc = -1;
	else if (rc)
		hkb_fail(r, "workload reported failure", NULL, 0);
	return rc ? -1 : 0;
}

int hkb_fail(struct hkb_run *r, const char *what, const void *addr, uint64_t detail)
{
	int expected = 0;
	if (__atomic_compare_exchange_n(&r->failed, &expected, 1, false, __ATOMIC_ACQ_REL,
					__ATOMIC_RELAXED)) {
		r->fail_what = what;
		r->fail_addr = addr;
		r->fail_detail = detail;
	}
	return -1;
}

/* --- Calls through the allocator ------------------------------------------ */

void *hkb_malloc(struct hkb_run *r, size_t size)
{
	void *p = r->alloc->malloc(r->alloc->ctx, size);
	if (!p)
		hkb_fail(r, "malloc returned NULL", NULL, size);
	else if ((uintptr_t)p % sizeof(void *))
		hkb_fail(r, "malloc returned a misaligned block", p, size);
	return p;
}

void *hkb_realloc(struct hkb_run *r, void *p, size_t size)
{
	void *q = r->alloc->realloc(r->alloc->ctx, p, size);
	if (!q)
		hkb_fail(r, "realloc returned NULL", p, size);
	return q;
}

/* --- Stamps ----------------------------------------------------------------- */

#define STAMP_STRIDE 4096u

static inline void word_put(void *at, uint64_t v) { memcpy(at, &v, 8); }
static inline uint64_t word_get(const void *at)
{
	uint64_t v;
	memcpy(&v, at, 8);
	return v;
}

void hkb_stamp(void *p, size_t size, uint64_t tag)
{
	char *b = p;
	if (size < 16) {
		for (size_t i = 0; i < size; i++)
			b[i] = (char)(tag >> (8 * (i & 7)));
		return;
	}
	word_put(b, tag);
	for (size_t off = STAMP_STRIDE; off + 16 <= size; off += STAMP_STRIDE)
		word_put(b + off, tag ^ off);
	word_put(b + size - 8, ~tag);
}

int hkb_verify(struct hkb_run *r, const void *p, size_t size, uint64_t tag, const char *what)
{
	const char *b = p;
	if (size < 16) {
		for (size_t i = 0; i < size; i++)
			if (b[i] != (char)(tag >> (8 * (i & 7))))
				return hkb_fail(r, what, p, i);
		return 0;
	}
	if (word_get(b) != tag)
		return hkb_fail(r, what, p, 0);
	for (size_t off = STAMP_STRIDE; off + 16 <= size; off += STAMP_STRIDE)
		if (word_get(b + off) != (tag ^ off))
			return hkb_fail(r, what, p, off);
	if (word_get(b + size - 8) != ~tag)
		return hkb_fail(r, what, p, size - 8);
	return 0;
}

/* --- Slots ---------------------------------------------------------------------- */

struct hkb_slot *hkb_slots_new(struct hkb_run *r, size_t n)
{
	struct hkb_slot *s = hkb_malloc(r, n * sizeof *s);
	if (s)
		memset(s, 0, n * sizeof *s);
	return s;
}

int hkb_slot_fill(struct hkb_run *r, struct hkb_slot *s, size_t size, uint64_t tag)
{
	s->size = size;
	s->tag = tag;
	if (!(s->p = hkb_malloc(r, size)))
		return -1;
	hkb_stamp(s->p, size, tag);
	return 0;
}

void hkb_slot_release(struct hkb_run *r, struct hkb_slot *s)
{
	if (!s->p)
		return;
	hkb_verify(r, s->p, s->size, s->tag, "block changed while live");
	hkb_free(r, s->p);
	s->p = NULL;
}

void hkb_slots_free(struct hkb_run *r, struct hkb_slot *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		hkb_slot_release(r, &s[i]);
	hkb_free(r, s);
}

int hkb_scratch(struct hkb_run *r, volatile unsigned char *b, size_t size, long long reps, unsigned salt)
{
	for (long long k = 0; k < reps; k++) {
		for (size_t j = 0; j < size; j++) {
			unsigned char v = (unsigned char)((j + (size_t)k) ^ salt);
			b[j] = v;
			if (b[j] != v)
				return hkb_fail(r, "byte changed under the writer", (const void *)b, j);
		}
	}
	return 0;
}

long hkb_held_kb(const struct hkb_run *r)
{
	if (r->alloc->held_kb)
		return r->alloc->held_kb(r->alloc->ctx);
	return r->env->mem_held_kb ? r->env->mem_held_kb() : -1;
}

/* --- Helpers ------------------------------------------------------------------ */

size_t hkb_rand_logsize(uint64_t *s, size_t lo, size_t hi)
{
	if (hi <= lo)
		return lo;
	unsigned lb = 0, hb = 0;
	while (((size_t)2 << lb) <= lo)
		lb++;
	while (((size_t)2 << hb) <= hi)
		hb++;
	unsigned b = lb + (unsigned)(hkb_rand(s) % (hb - lb + 1));
	size_t base = (size_t)1 << b;
	size_t v = base + (size_t)(hkb_rand(s) % base);
	return v < lo ? lo : v > hi ? hi : v;
}

void hkb_busy_work(long long units)
{
	volatile uint64_t x = 1;
	for (long long i = 0; i < units; i++)
		x = x * 3 + (uint64_t)i;
}

/* --- Threads ------------------------------------------------------------------ */

#define HKB_MAX_THREADS 256

/* One started thread: waits at the gate, then calls the workload's body. */
struct gate_arg {
	void (*fn)(void *);
	void *arg;
	const struct hkb_env *env;
	int *gate;            /* becomes 1 when all are made */
};

static void gate_thread(void *p)
{
	struct gate_arg *g = p;
	while (!__atomic_load_n(g->gate, __ATOMIC_ACQUIRE))
		g->env->yield();
	g->fn(g->arg);
}

int hkb_run_threads(struct hkb_run *r, unsigned n, void (*fn)(void *), void *args, size_t stride)
{
	if (n <= 1) {
		fn(args);
		return 0;
	}
	if (n > HKB_MAX_THREADS)
		return hkb_fail(r, "too many threads", NULL, n);
	struct gate_arg g[HKB_MAX_THREADS];
	hkb_thread_t t[HKB_MAX_THREADS];
	int gate = 0;
	unsigned made = 0;
	for (; made < n; made++) {
		g[made] = (struct gate_arg){ fn, (char *)args + made * stride, r->env, &gate };
		if (r->env->spawn(&t[made], gate_thread, &g[made]))
			break;
	}
	__atomic_store_n(&gate, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < made; i++)
		r->env->join(t[i]);
	if (made < n)
		return hkb_fail(r, "could not start a thread", NULL, made);
	return 0;
}

/* --- A heapkit instance as the allocator under test ------------------------------ */

static void *hk_ctx_malloc(void *c, size_t n) { return hk_malloc(c, n); }
static void hk_ctx_free(void *c, void *p) { hk_free(c, p); }
static void *hk_ctx_realloc(void *c, void *p, size_t n) { return hk_realloc(c, p, n); }
static void *hk_ctx_memalign(void *c, size_t al, size_t n) { return hk_memalign(c, al, n); }
static size_t hk_ctx_usable(void *c, void *p) { return hk_usable_size(c, p); }
static long hk_ctx_held_kb(void *c)
{
	struct hk_stats st;
	hk_stats_get(c, &st);
	size_t avail = hk_availmem(c);
	return st.bytes_managed > avail ? (long)((st.bytes_managed - avail) / 1024) : 0;
}

void hkb_alloc_from_hk(struct hkb_alloc *out, hk_alloc_t *a)
{
	unsigned caps = hk_caps(a);
	*out = (struct hkb_alloc){
		.name = hk_name(a),
		.ctx = a,
		.caps = ((caps & HK_CAP_FREE) ? HKB_CAN_FREE : 0u) |
			((caps & HK_CAP_THREADS) ? HKB_THREAD_SAFE : 0u),
		.malloc = hk_ctx_malloc,
		.free = hk_ctx_free,
		.realloc = hk_ctx_realloc,
		.memalign = hk_ctx_memalign,
		.usable_size = hk_ctx_usable,
		.held_kb = hk_ctx_held_kb,
	};
}

int hkb_run_workers(struct hkb_run *r, unsigned n, void (*fn)(void *worker))
{
	struct hkb_worker w[256];
	if (n > 256)
		return hkb_fail(r, "more than 256 workers", NULL, n);
	for (unsigned i = 0; i < n; i++)
		w[i] = (struct hkb_worker){ r, i };
	double t0 = hkb_now(r);
	int rc = hkb_run_threads(r, n, fn, w, sizeof w[0]);
	r->seconds = hkb_now(r) - t0;
	return rc;
}
