// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the input is decoded into a sequence of operations on an
 * instance over a fixed region, mirrored in a shadow model of the live
 * blocks. After every step the fuzzer checks the contents of every live
 * block, usable sizes, alignment and the heap check; at the end everything is
 * freed and availmem must be back where it started (HK_CAP_EXACT_AVAIL).
 *
 * Input: byte 0 picks the backend (over the registry; bit 7: wrap it in
 * hk_checked_create), byte 1 the region size, then operations (an opcode
 * byte and its arguments) until the input ends. Built and run by run.sh.
 * HK_FUZZ_SKIP="name name" leaves backends out (to triage one bug at a time);
 * HK_FUZZ_ONLY=name fuzzes that backend alone, whatever region it needs;
 * HK_FUZZ_TRACE=1 prints every step.
 *
 * A backend that keeps its region after destroy (mimalloc: no HK_CAP_RELEASE)
 * gets one instance over its own mapping for the whole process, reused by
 * every input, instead of a fresh instance over the static region.
 *
 * Built with -DHK_FUZZ_STANDALONE (the fuzz-corpus tests, gcc) it is a plain
 * program that replays the inputs named on its command line (files or
 * folders), so the kept corpus runs against every backend in `make test`.
 */
#define _GNU_SOURCE
#include <heapkit.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define REGION_MAX ((size_t)8 << 20)   /* backends needing more are not fuzzed */
#define NR_SLOTS 32                    /* live blocks the shadow model tracks */
#define MAX_STEPS 256                  /* operations per input at most */

static unsigned char region[REGION_MAX] __attribute__((aligned(1 << 16)));

/* --- The shadow model ------------------------------------------------------ */

/* What a live block must hold: byte i is (fill + i) mod 256. */
struct shadow {
	unsigned char *p;       /* NULL: slot empty */
	size_t size;            /* bytes asked for */
	size_t npages;          /* palloc'd pages (then freed by pfree), else 0 */
	unsigned char fill;
};

#define SIZE_MAX_DECODED ((size_t)1023 << 7)

static struct shadow slots[NR_SLOTS];
/* pattern[j] = j mod 256: a block filled from fill holds pattern[fill .. fill + size). */
static unsigned char pattern[SIZE_MAX_DECODED * 4 + HK_PAGE_SIZE * 8 + 256];
static const unsigned char zeroes[sizeof pattern];
static hk_alloc_t *heap;
static bool is_checked;

static void __attribute__((noreturn)) bug(const struct shadow *s, const char *what, size_t off)
{
	fprintf(stderr, "fuzz_heap: %s: backend %s%s, block %p size %zu, offset %zu\n", what, hk_name(heap),
		is_checked ? " (checked)" : "", s ? (void *)s->p : NULL, s ? s->size : 0, off);
	abort();
}

static void shadow_fill(struct shadow *s)
{
	memcpy(s->p, pattern + s->fill, s->size);
}

static void shadow_verify_prefix(const struct shadow *s, size_t len)
{
	if (memcmp(s->p, pattern + s->fill, len) == 0)
		return;
	for (size_t i = 0; i < len; i++)
		if (s->p[i] != (unsigned char)(s->fill + i))
			bug(s, "contents changed", i);
}

/* A new block: alignment, usable size. */
static void shadow_accept(struct shadow *s, size_t align)
{
	/* what was asked, and at least the default (heapkit.h) */
	size_t fund = HK_BLOCK_ALIGN(s->size);
	if ((uintptr_t)s->p % (align < fund ? fund : align))
		bug(s, "misaligned block", align);
	size_t usable = hk_usable_size(heap, s->p);
	if (usable < s->size || (is_checked && usable != s->size))
		bug(s, "wrong usable size", usable);
}

static void verify_all(void)
{
	for (int i = 0; i < NR_SLOTS; i++)
		if (slots[i].p)
			shadow_verify_prefix(&slots[i], slots[i].size);
	struct hk_check_report r = { NULL, NULL };
	if (hk_check(heap, &r)) {
		fprintf(stderr, "fuzz_heap: heap check: %s at %p\n", r.what ? r.what : "?", r.addr);
		bug(NULL, "heap check failed", 0);
	}
}

static void shadow_release(struct shadow *s)
{
	if (!s->p)
		return;
	shadow_verify_prefix(s, s->size);
	if (s->npages)
		hk_pfree(heap, s->p, s->npages);
	else
		hk_free(heap, s->p);
	s->p = NULL;
	s->size = 0;
	s->npages = 0;
}

/* --- Decoding ------------------------------------------------------------ */

struct input {
	const uint8_t *d;
	size_t n, at;
};

static unsigned next8(struct input *in) { return in->at < in->n ? in->d[in->at++] : 0; }

/* Two bytes: 10 bits of size, 2 bits of shift, 1 bit for 16x more (sizes up to ~128 KiB, mostly small). */
static size_t next_size(struct input *in)
{
	unsigned v = next8(in) | next8(in) << 8;
	return (size_t)(v & 1023) << (((v >> 10) & 3) + ((v >> 15) ? 4 : 0));
}

/* A failed request must say ENOMEM. */
static void expect_enomem(void)
{
	if (errno != ENOMEM)
		bug(NULL, "NULL without ENOMEM", (size_t)errno);
}

static void step(struct input *in, unsigned op)
{
	struct shadow *s = &slots[next8(in) % NR_SLOTS];
	size_t size, align = 0;   /* 0: the default alignment */
	switch (op % 9) {
	case 0: /* malloc */
	case 1: /* calloc */
	case 2: /* memalign */
		shadow_release(s);
		if (op % 9 == 2)
			align = (size_t)1 << (next8(in) % 14);
		size = next_size(in);
		errno = 0;
		if (op % 9 == 0) {
			s->p = hk_malloc(heap, size);
		} else if (op % 9 == 1) {
			size_t n = 1 + next8(in) % 4;
			s->p = hk_calloc(heap, n, size);
			size *= n;
			if (s->p && memcmp(s->p, zeroes, size))
				bug(s, "calloc memory not zero", 0);
		} else {
			s->p = hk_memalign(heap, align, size);
		}
		if (!s->p) {
			s->size = 0;
			expect_enomem();
			return;
		}
		s->size = size;
		s->npages = 0;
		s->fill = (unsigned char)next8(in);
		shadow_accept(s, align);
		shadow_fill(s);
		return;
	case 3: /* realloc */
		if (s->npages)
			return;
		size = next_size(in);
		errno = 0;
		unsigned char *q = hk_realloc(heap, s->p, size ? size : 1);
		if (!q) {
			expect_enomem();
			return;
		}
		struct shadow t = *s;
		t.p = q;
		shadow_verify_prefix(&t, size < s->size ? size : s->size);
		t.size = size ? size : 1;
		t.fill = (unsigned char)(t.fill ^ 0x5a);
		*s = t;
		shadow_accept(s, 0);
		shadow_fill(s);
		return;
	case 4: /* free */
	case 5:
		shadow_release(s);
		return;
	case 6: /* palloc */
		if (!(hk_caps(heap) & HK_CAP_PAGES))
			return;
		shadow_release(s);
		s->npages = 1 + next8(in) % 8;
		errno = 0;
		s->p = hk_palloc(heap, s->npages);
		if (!s->p) {
			s->npages = 0;
			expect_enomem();
			return;
		}
		s->size = s->npages * HK_PAGE_SIZE;
		s->fill = (unsigned char)next8(in);
		shadow_accept(s, HK_PAGE_SIZE);
		shadow_fill(s);
		return;
	case 7: /* rewrite a block */
		if (s->p) {
			shadow_verify_prefix(s, s->size);
			s->fill = (unsigned char)next8(in);
			shadow_fill(s);
		}
		return;
	case 8: { /* maxalloc is a request that succeeds */
		size_t m = hk_maxalloc(heap);
		if (m > 0 && m <= REGION_MAX) {
			void *p = hk_malloc(heap, m);
			if (!p)
				bug(NULL, "hk_malloc(hk_maxalloc()) failed", m);
			hk_free(heap, p);
		}
		return;
	}
	}
}

/* --- The entry point ------------------------------------------------------------ */

/* The one instance of a backend that never gives its region back, made on first use. */
static hk_alloc_t *persistent_instance(const struct hk_backend *b)
{
	static const struct hk_backend *made_for[32];
	static hk_alloc_t *made[32];
	for (int i = 0; i < 32 && made_for[i]; i++)
		if (made_for[i] == b)
			return made[i];
	for (int i = 0; i < 32; i++) {
		if (made_for[i])
			continue;
		size_t len = b->min_region > REGION_MAX ? b->min_region : REGION_MAX;
		void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (mem == MAP_FAILED)
			return NULL;
		made_for[i] = b;
		made[i] = hk_create(b->name, mem, len);
		return made[i];
	}
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size, 0 };
	if (!pattern[1])
		for (size_t j = 0; j < sizeof pattern; j++)
			pattern[j] = (unsigned char)j;
	/* The backends small enough for the region. */
	const struct hk_backend *eligible[32];
	size_t n = 0;
	const char *skip = getenv("HK_FUZZ_SKIP"), *only = getenv("HK_FUZZ_ONLY");
	for (size_t i = 0; i < hk_backend_count() && n < 32; i++) {
		const struct hk_backend *b = hk_backend_at(i);
		if (only ? !strcmp(only, b->name)
			 : b->min_region <= REGION_MAX / 2 && !(skip && strstr(skip, b->name)))
			eligible[n++] = b;
	}
	if (!n)
		return 0;
	unsigned pick = next8(&in);
	const struct hk_backend *b = eligible[(pick & 127) % n];
	size_t len = ((size_t)(next8(&in) % 64) + 1) * (64 << 10);
	if (len < b->min_region)
		len = b->min_region;
	bool keeps_region = !(b->caps & HK_CAP_RELEASE);
	hk_alloc_t *inner = keeps_region ? persistent_instance(b) : hk_create(b->name, region, len);
	if (!inner)
		return 0;
	is_checked = pick & 128;
	heap = is_checked ? hk_checked_create(inner, 1 + next8(&in) % 64) : inner;
	if (!heap) {
		hk_destroy(inner);
		return 0;
	}
	size_t avail0 = hk_availmem(heap);
	memset(slots, 0, sizeof slots);
	bool trace = getenv("HK_FUZZ_TRACE") != NULL;
	if (trace)
		fprintf(stderr, "fuzz_heap: %s%s over %zu bytes\n", b->name, is_checked ? " (checked)" : "", len);
	for (unsigned steps = 0; in.at < in.n && steps < MAX_STEPS; steps++) {
		unsigned op = next8(&in);
		if (trace)
			fprintf(stderr, "fuzz_heap: step %u: op %u slot %u\n", steps, op % 9,
				in.at < in.n ? in.d[in.at] % NR_SLOTS : 0);
		step(&in, op);
		verify_all();
	}
	for (int i = 0; i < NR_SLOTS; i++)
		shadow_release(&slots[i]);
	verify_all();
	if ((b->caps & HK_CAP_EXACT_AVAIL) && !is_checked && hk_availmem(heap) != avail0) {
		fprintf(stderr, "fuzz_heap: availmem %zu after freeing all, %zu at the start\n", hk_availmem(heap),
			avail0);
		bug(NULL, "availmem not recovered", 0);
	}
	if (heap != inner)
		hk_destroy(heap);
	if (!keeps_region)
		hk_destroy(inner);
	return 0;
}

#ifdef HK_FUZZ_STANDALONE
#include <dirent.h>

/* Replay one input file; 0, or -1 if it cannot be read. */
static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	static uint8_t buf[1 << 16];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	return 0;
}

int main(int argc, char **argv)
{
	int inputs = 0;
	for (int i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		if (!d) {
			inputs += replay_file(argv[i]) == 0;
			continue;
		}
		for (struct dirent *e; (e = readdir(d));) {
			char path[4096];
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
			inputs += replay_file(path) == 0;
		}
		closedir(d);
	}
	printf("fuzz-corpus: %d inputs replayed%s%s, no failure\n", inputs, getenv("HK_FUZZ_ONLY") ? " on " : "",
	       getenv("HK_FUZZ_ONLY") ? getenv("HK_FUZZ_ONLY") : "");
	return inputs ? 0 : 1;
}
#endif
