// SPDX-License-Identifier: MIT
/*
 * The release build's misuse checks (HK_HARDEN, docs/safety.md "The release
 * build"): each misuse runs in a child; the parent asserts its exact outcome
 * in a build with HK_HARDEN >= 1: an abort (SIGABRT) whose one-line message
 * holds the expected words and the address. A fault the drop-in's handler
 * names (a write far past or before a block, a malloc(0) address, heap run
 * as code) is such a message too; a fault with no message, or a child that
 * runs on, is never an accepted outcome, but where the case says so (over a
 * region, which has no page protection and no handler).
 *
 *   harden preload LIB          every case through malloc/free with LD_PRELOAD=LIB
 *   harden region               every case on a shard instance over a region
 *   harden glibc                every case on glibc's malloc: what it catches (observed)
 *   harden table LIB            LIB, asserted, beside glibc (observed): a markdown
 *                               table and the counts; fails when LIB catches fewer
 *                               cases than glibc
 *   harden child TARGET CASE SIZE   (internal) run one case
 */
#define _GNU_SOURCE
#include <heapkit.h>
#include "kit.h"

#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#pragma GCC diagnostic ignored "-Wfree-nonheap-object"
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wuse-after-free"
#endif

/* --- The allocator a child misuses --------------------------------------------------- */

static hk_alloc_t *heap;   /* NULL: plain malloc (the preloaded library, or glibc) */

static void *m_malloc(size_t n) { return heap ? hk_malloc(heap, n) : malloc(n); }
static void m_free(void *p) { heap ? hk_free(heap, p) : free(p); }
static void *m_realloc(void *p, size_t n) { return heap ? hk_realloc(heap, p, n) : realloc(p, n); }
static size_t m_usable(void *p) { return heap ? hk_usable_size(heap, p) : malloc_usable_size(p); }

/* The child says which address the report must name: one line on stdout, no stdio (no malloc). */
static void announce(const void *p)
{
	char buf[32] = "0x";
	uintptr_t v = (uintptr_t)p;
	int digits = 1, n = 2;
	while (digits < 16 && (v >> (4 * digits)))
		digits++;
	for (int i = digits - 1; i >= 0; i--)
		buf[n++] = "0123456789abcdef"[(v >> (4 * i)) & 15];
	buf[n++] = '\n';
	if (write(1, buf, (size_t)n) != n)
		_exit(5);
}

static void say(const char *s)
{
	if (write(1, s, strlen(s)) < 0)
		_exit(5);
}

/* Another allocator's block: glibc's own malloc even under LD_PRELOAD. */
static void *foreign_malloc(size_t n)
{
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	void *(*f)(size_t) = libc ? (void *(*)(size_t))dlsym(libc, "malloc") : NULL;
	return f ? f(n) : NULL;
}

static int static_word;
static char target[4096] __attribute__((aligned(64)));   /* what a write after free points a link at */

/* --- The cases ---------------------------------------------------------------------- */

/* The block a case misuses lives beside another, so its page stays in use. */
static char *block(size_t n)
{
	(void)m_malloc(n);
	return m_malloc(n);
}

static void double_free(size_t n)
{
	char *p = block(n);
	announce(p);
	m_free(p);
	m_free(p);
}

static void double_free_later(size_t n)
{
	char *p = block(n), *q = m_malloc(n);
	announce(p);
	m_free(p);
	m_free(q);
	m_free(m_malloc(n));
	m_free(p);
}

static void free_stack(size_t n)
{
	volatile int local[4] = { 0, 0, 0, 0 };
	(void)m_malloc(n);
	announce((void *)&local[0]);
	m_free((void *)&local[0]);
}

static void free_static(size_t n)
{
	(void)m_malloc(n);
	announce(&static_word);
	m_free(&static_word);
}

static void free_far(size_t n)
{
	(void)m_malloc(n);
	void *p = (void *)(uintptr_t)0x100000000000ull;   /* 16 TiB: nothing is mapped there */
	announce(p);
	m_free(p);
}

static void free_mmap(size_t n)
{
	(void)m_malloc(n);
	char *p = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		_exit(6);
	announce(p + 4096);
	m_free(p + 4096);
}

static void free_foreign(size_t n)
{
	(void)m_malloc(n);
	void *p = heap ? malloc(n) : foreign_malloc(n);
	if (!p)
		_exit(6);
	announce(p);
	m_free(p);
}

/* Into a block: 16 bytes in (8 for blocks under 32 bytes, 4 for 8-byte blocks, where p + 8 is the next block). */
static char *interior(size_t n) { return block(n) + (n >= 32 ? 16 : n > 8 ? 8 : 4); }

static void free_interior(size_t n)
{
	char *p = interior(n);
	announce(p);
	m_free(p);
}

static void free_unaligned(size_t n)
{
	char *p = block(n) + 1;
	announce(p);
	m_free(p);
}

/* Another thread frees what main allocated: the cross-thread path judges too. */
static void *free_twice_there(void *p)
{
	m_free(p);
	m_free(p);
	return NULL;
}

static void *free_once_there(void *p)
{
	m_free(p);
	return NULL;
}

static void in_thread(void *(*fn)(void *), void *p)
{
	pthread_t t;
	if (pthread_create(&t, NULL, fn, p) || pthread_join(t, NULL))
		_exit(6);
}

static void double_free_remote(size_t n)
{
	char *p = block(n);
	announce(p);
	in_thread(free_twice_there, p);
}

static void free_interior_remote(size_t n)
{
	char *p = interior(n);
	announce(p);
	in_thread(free_once_there, p);
}

/* A huge block (8 MiB: its own mapping, segment aligned), freed twice. */
static void double_free_huge(size_t n)
{
	(void)n;
	char *p = m_malloc((size_t)8 << 20);
	announce(p);
	m_free(p);
	m_free(p);
}

static void free_interior_huge(size_t n)
{
	(void)n;
	char *p = (char *)m_malloc((size_t)8 << 20) + 4096;
	announce(p);
	m_free(p);
}

static void realloc_stack(size_t n)
{
	volatile int local[4] = { 0, 0, 0, 0 };
	(void)m_malloc(n);
	announce((void *)&local[0]);
	(void)m_realloc((void *)&local[0], 100);
}

static void realloc_interior(size_t n)
{
	char *p = interior(n);
	announce(p);
	(void)m_realloc(p, 2 * n);
}

static void realloc_freed(size_t n)
{
	char *p = block(n);
	announce(p);
	m_free(p);
	(void)m_realloc(p, 2 * n);
}

static void usable_stack(size_t n)
{
	volatile int local[4] = { 0, 0, 0, 0 };
	(void)m_malloc(n);
	announce((void *)&local[0]);
	(void)m_usable((void *)&local[0]);
}

static void usable_interior(size_t n)
{
	char *p = interior(n);
	announce(p);
	(void)m_usable(p);
}

/* A freed block's link overwritten with an address of the attacker's choosing, then mallocs. */
static void write_after_free(size_t n)
{
	char *p = block(n);
	(void)m_malloc(n);
	announce(p);
	m_free(p);
	*(void **)p = target;
	for (int i = 0; i < 20000; i++) {
		char *q = m_malloc(n);
		if (q >= target && q < target + sizeof target) {
			say("malloc returned the address written after free\n");
			return;
		}
	}
}

/*
 * A write 1 MiB past a block's end, in a fresh process: over the OS the
 * segment's unused part has no access (docs/safety.md), so the write
 * itself faults, in the program; the drop-in's fault handler names it (the
 * address announced is the one written).
 */
static void overflow_far(size_t n)
{
	char *p = m_malloc(n);
	char *x = p + n - 1 + ((size_t)1 << 20);
	announce(x);
	*x ^= 'A';
	m_free(p);
}

/* A write 1 MiB before a block: below the first segment nothing is mapped (over the OS; a region: not run). */
static void underflow_far(size_t n)
{
	char *p = m_malloc(n);
	char *x = p - ((size_t)1 << 20);
	announce(x);
	*x ^= 'A';
	m_free(p);
}

/* malloc(0): an address with no usable byte, read or written; freed twice. */
static void zero_read(size_t n)
{
	(void)n;
	volatile char *p = m_malloc(0);
	announce((const void *)p);
	if (*p == 'A')
		say("read A\n");
}

static void zero_write(size_t n)
{
	(void)n;
	volatile char *p = m_malloc(0);
	announce((const void *)p);
	*p = 'A';
	m_free((void *)p);
}

static void zero_double_free(size_t n)
{
	(void)n;
	char *p = m_malloc(0);
	announce(p);
	m_free(p);
	m_free(p);
}

/* Code written into a block and called: a heap that is not executable faults at the call. */
static void exec_heap(size_t n)
{
	unsigned char *p = m_malloc(n);
	p[0] = 0xc3;   /* ret */
	announce(p);
	__builtin___clear_cache((char *)p, (char *)p + 1);
	((void (*)(void))(uintptr_t)p)();
}

enum result { NOT_DETECTED, NEVER_RETURNED, INTERIOR, DOUBLE_FREE, LIST_CORRUPT, HEAP_OVERFLOW, HEAP_UNDERFLOW,
	      ZERO_ACCESS, NOT_EXECUTABLE, FAULT_AT_WRITE };
static const char *const result_words[] = { "not detected", "never returned", "middle of a block", "double free",
					    "free list corrupted", "heap overflow", "heap underflow", "malloc(0) block",
					    "not executable", "fault, no message" };
#define AS_WANT (-1)   /* a case's region outcome: as over the OS */
#define NOT_RUN (-2)   /* not run on a region (what lies below it is not heapkit's to say) */

struct hcase {
	const char *name;
	void (*run)(size_t n);
	bool sized;              /* run in each size; else once */
	bool foreign_only;       /* not a misuse on glibc itself */
	enum result want;        /* expected by HK_HARDEN >= 1 (0 promises nothing) */
	int region;              /* on a region instance, when it differs (AS_WANT: as want) */
};

#define ALL(r) r, AS_WANT
#define ALL_REGION(r, on_region) r, on_region
static const struct hcase cases[] = {
	{ "double-free", double_free, true, false, ALL(DOUBLE_FREE) },
	{ "double-free-later", double_free_later, true, false, ALL(DOUBLE_FREE) },
	{ "double-free-huge", double_free_huge, false, false, ALL(DOUBLE_FREE) },
	{ "free-stack", free_stack, false, false, ALL(NEVER_RETURNED) },
	{ "free-static", free_static, false, false, ALL(NEVER_RETURNED) },
	{ "free-far", free_far, false, false, ALL(NEVER_RETURNED) },
	{ "free-mmap", free_mmap, false, false, ALL(NEVER_RETURNED) },
	{ "free-foreign", free_foreign, true, true, ALL(NEVER_RETURNED) },
	{ "free-interior", free_interior, true, false, ALL(INTERIOR) },
	{ "double-free-remote", double_free_remote, true, false, ALL(DOUBLE_FREE) },
	{ "free-interior-remote", free_interior_remote, true, false, ALL(INTERIOR) },
	{ "free-unaligned", free_unaligned, true, false, ALL(INTERIOR) },
	/* over a region a huge block is a buddy block without a stamp: inside it is "never returned" */
	{ "free-interior-huge", free_interior_huge, false, false, ALL_REGION(INTERIOR, NEVER_RETURNED) },
	{ "realloc-stack", realloc_stack, false, false, ALL(NEVER_RETURNED) },
	{ "realloc-interior", realloc_interior, true, false, ALL(INTERIOR) },
	{ "realloc-freed", realloc_freed, true, false, ALL(DOUBLE_FREE) },
	{ "usable-stack", usable_stack, false, false, ALL(NEVER_RETURNED) },
	{ "usable-interior", usable_interior, true, false, ALL(INTERIOR) },
	{ "write-after-free", write_after_free, true, false, ALL(LIST_CORRUPT) },
	/* a region has no page protection: the write lands in the region; malloc(0) is a 1-byte block there */
	{ "overflow-far", overflow_far, true, false, ALL_REGION(HEAP_OVERFLOW, NOT_DETECTED) },
	{ "underflow-far", underflow_far, true, false, ALL_REGION(HEAP_UNDERFLOW, NOT_RUN) },
	{ "zero-read", zero_read, false, false, ALL_REGION(ZERO_ACCESS, NOT_DETECTED) },
	{ "zero-write", zero_write, false, false, ALL_REGION(ZERO_ACCESS, NOT_DETECTED) },
	{ "zero-double-free", zero_double_free, false, false, ALL(DOUBLE_FREE) },
	/* the region the child maps is not executable either; no handler there names the fault */
	{ "exec-heap", exec_heap, true, false, ALL_REGION(NOT_EXECUTABLE, FAULT_AT_WRITE) },
};
#define NR_CASES (sizeof cases / sizeof cases[0])
static const size_t sizes[] = { 8, 4096, 262144 };
#define NR_SIZES 3

/* --- Running a child -------------------------------------------------------------------- */

static const char *self_exe;

enum target { T_PRELOAD, T_REGION, T_GLIBC };

/* Run case c at size n on target t (lib for T_PRELOAD) in a child: this program re-executed as "child". */
static void run_case(enum target t, const char *lib, const struct hcase *c, size_t n, struct kit_child *o)
{
	char size[32], *tname = t == T_REGION ? "region" : "plain";
	snprintf(size, sizeof size, "%zu", n);
	if (t == T_PRELOAD)
		setenv("LD_PRELOAD", lib, 1);
	else
		unsetenv("LD_PRELOAD");
	char *argv[] = { (char *)self_exe, "child", tname, (char *)c->name, size, NULL };
	kit_child_run(o, NULL, NULL, argv);
	unsetenv("LD_PRELOAD");
}

/* The first line of the child's stdout: the announced address. */
static void announced(const struct kit_child *o, char *addr, size_t cap)
{
	size_t i = 0;
	for (; o->out[i] && o->out[i] != '\n' && i + 1 < cap; i++)
		addr[i] = o->out[i];
	addr[i] = 0;
}

static bool aborted(const struct kit_child *o) { return WIFSIGNALED(o->status) && WTERMSIG(o->status) == SIGABRT; }

/* What the outcome is, judged against heapkit's messages: a result, or -1 (fault, odd exit, bad message). */
static int judge(const struct kit_child *o)
{
	char addr[64];
	announced(o, addr, sizeof addr);
	if (WIFEXITED(o->status) && WEXITSTATUS(o->status) == 0)
		return NOT_DETECTED;
	/* a fault after the block was announced and before any message: the program's own write */
	if (WIFSIGNALED(o->status) && WTERMSIG(o->status) == SIGSEGV && addr[0] && !o->err[0])
		return FAULT_AT_WRITE;
	if (!aborted(o) || !addr[0] || !strstr(o->err, addr) || !strstr(o->err, "heapkit: "))
		return -1;
	/* one line only */
	const char *nl = strchr(o->err, '\n');
	if (!nl || nl[1])
		return -1;
	for (int r = NEVER_RETURNED; r < FAULT_AT_WRITE; r++)
		if (strstr(o->err, result_words[r]))
			return r;
	return -1;
}

static void describe(const struct kit_child *o, char *buf, size_t cap)
{
	if (WIFSIGNALED(o->status))
		snprintf(buf, cap, "signal %d (%s)", WTERMSIG(o->status), strsignal(WTERMSIG(o->status)));
	else
		snprintf(buf, cap, "exit %d", WEXITSTATUS(o->status));
}

/* --- Modes -------------------------------------------------------------------------------- */

/* Cases run on heapkit (lib, or the region instance), asserted; caught counts aborts. */
static int run_asserted(enum target t, const char *lib, const char *label, int *caught, int *total, enum result *got)
{
	int bad = 0, k = 0;
	*caught = *total = 0;
	for (size_t i = 0; i < NR_CASES; i++) {
		const struct hcase *c = &cases[i];
		for (size_t s = 0; s < (c->sized ? NR_SIZES : 1); s++, k++) {
			struct kit_child o;
			if (t == T_REGION && c->region == NOT_RUN)
				continue;
			run_case(t, lib, c, sizes[s], &o);
			int r = judge(&o);
			enum result want = t == T_REGION && c->region != AS_WANT ? (enum result)c->region : c->want;
			bool ok = r == (int)want;
			char how[64];
			describe(&o, how, sizeof how);
			printf("%-10s %-18s %7s  %-20s %s", label, c->name, c->sized ? "" : "-",
			       r >= 0 ? result_words[r] : how, ok ? "ok" : "FAILED");
			if (c->sized)
				printf("  (%zu B)", sizes[s]);
			if (!ok)
				printf("\n  expected '%s'; %s; stdout: %s  stderr: %s", result_words[want], how, o.out,
				       o.err);
			printf("\n");
			bad += !ok;
			(*total)++;
			*caught += r > NOT_DETECTED && r != FAULT_AT_WRITE;
			if (got)
				got[k] = r >= 0 ? (enum result)r : NOT_DETECTED;
		}
	}
	printf("%s: %d of %d cases caught with a message, %d outcome(s) not as documented\n", label, *caught, *total, bad);
	return bad;
}

/* glibc: observed, not asserted (an abort with a message on stderr counts as caught). */
enum seen { SEEN_NOTHING, SEEN_ABORT, SEEN_SIGNAL, SEEN_NA };
static const char *const seen_words[] = { "not detected", "abort", "fault (signal)", "(not a misuse)" };

static int run_glibc(enum seen *seen, int *caught, int *total)
{
	int k = 0;
	*caught = *total = 0;
	for (size_t i = 0; i < NR_CASES; i++) {
		const struct hcase *c = &cases[i];
		for (size_t s = 0; s < (c->sized ? NR_SIZES : 1); s++, k++) {
			struct kit_child o = { 0 };
			enum seen v = SEEN_NA;
			if (!c->foreign_only) {
				run_case(T_GLIBC, NULL, c, sizes[s], &o);
				v = aborted(&o) && o.err[0] ? SEEN_ABORT : WIFSIGNALED(o.status) ? SEEN_SIGNAL : SEEN_NOTHING;
				(*total)++;
				*caught += v == SEEN_ABORT;
			}
			if (seen)
				seen[k] = v;
		}
	}
	return 0;
}

static int mode_table(const char *lib)
{
	enum result got[64];
	enum seen gl[64];
	int c, t, cg, tg;
	int bad = run_asserted(T_PRELOAD, lib, "release", &c, &t, got);
	run_glibc(gl, &cg, &tg);
	printf("\n| case | size | heapkit (HK_HARDEN=1, the default) | glibc |\n|---|---|---|---|\n");
	int k = 0;
	for (size_t i = 0; i < NR_CASES; i++) {
		const struct hcase *cs = &cases[i];
		for (size_t s = 0; s < (cs->sized ? NR_SIZES : 1); s++, k++) {
			char size[32] = "-";
			if (cs->sized)
				snprintf(size, sizeof size, "%zu", sizes[s]);
			printf("| %s | %s | %s | %s |\n", cs->name, size, result_words[got[k]], seen_words[gl[k]]);
		}
	}
	printf("\ncaught with a message: heapkit %d of %d, glibc %d of %d (glibc: the %d cases that are misuses for it)\n",
	       c, t, cg, tg, tg);
	if (c < cg) {
		printf("FAILED: heapkit catches fewer cases than glibc\n");
		bad++;
	}
	return bad ? 1 : 0;
}

static int child(const char *tname, const char *cname, size_t n)
{
	if (!strcmp(tname, "region")) {
		size_t len = (size_t)64 << 20;
		void *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		heap = base != MAP_FAILED ? hk_create("shard", base, len) : NULL;
		if (!heap)
			return 4;
	}
	for (size_t i = 0; i < NR_CASES; i++)
		if (!strcmp(cases[i].name, cname)) {
			cases[i].run(n);
			return 0;
		}
	return 3;
}

int main(int argc, char **argv)
{
	static char exe[4096];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (len <= 0)
		return 2;
	exe[len] = 0;
	self_exe = exe;
	setvbuf(stdout, NULL, _IOLBF, 0);
	int caught, total;
	if (argc == 5 && !strcmp(argv[1], "child"))
		return child(argv[2], argv[3], strtoul(argv[4], NULL, 10));
	if (argc == 3 && !strcmp(argv[1], "preload"))
		return run_asserted(T_PRELOAD, argv[2], "preload", &caught, &total, NULL) ? 1 : 0;
	if (argc == 2 && !strcmp(argv[1], "region"))
		return run_asserted(T_REGION, NULL, "region", &caught, &total, NULL) ? 1 : 0;
	if (argc == 2 && !strcmp(argv[1], "glibc")) {
		run_glibc(NULL, &caught, &total);
		printf("glibc: %d of %d cases caught\n", caught, total);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "table"))
		return mode_table(argv[2]);
	fprintf(stderr, "usage: harden preload LIB | region | glibc | table LIB\n");
	return 2;
}
