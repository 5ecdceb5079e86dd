// SPDX-License-Identifier: MIT
/*
 * Misuse tests: each misuse runs in a child process; the parent asserts the
 * child died (abort, or a checker's failing exit) with the expected message,
 * and that the message names the address involved.
 *
 *   misuse checked            every misuse, on a checked instance over every
 *                             registered backend that can free
 *   misuse preload LIB        every misuse through plain malloc/free, in a
 *                             child run with LD_PRELOAD=LIB (the checked drop-in),
 *                             then every sized case (8 B, 4 KiB, 256 KiB) with
 *                             its exact expected outcome
 *   misuse table LIB          the sized cases again, as the markdown table of
 *                             the outcomes they asserted (README); nothing else
 *   misuse asan               (ASan builds) a use after free of an instance
 *                             block, over every backend that can free
 *   misuse valgrind VALGRIND  (builds with HK_VALGRIND=1) the same, run under
 *                             valgrind memcheck
 *   misuse backends           which misuse each backend detects, as a plain
 *                             instance (observed) and checked (asserted by
 *                             `misuse checked`): a markdown table
 */
#define _GNU_SOURCE
#include <heapkit.h>

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kit.h"

/* --- The allocator a child misuses ------------------------------------------- */

/* The misuses below are deliberate: gcc sees some of them coming. */
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wuse-after-free"
#endif

static hk_alloc_t *heap;        /* NULL: plain malloc/free (the preloaded library) */

static void *m_malloc(size_t n) { return heap ? hk_malloc(heap, n) : malloc(n); }
static void m_free(void *p) { heap ? hk_free(heap, p) : free(p); }
static void *m_realloc(void *p, size_t n) { return heap ? hk_realloc(heap, p, n) : realloc(p, n); }


/* --- The misuses ------------------------------------------------------------- */

struct misuse {
	const char *name;
	const char *expect;     /* a part of the message the report must contain */
	void (*run)(void);
};

static void double_free(void)
{
	char *p = m_malloc(100);
	kit_announce(p);
	m_free(p);
	m_free(p);
}

static void double_free_later(void)
{
	char *p = m_malloc(100);
	kit_announce(p);
	m_free(p);
	for (int i = 0; i < 40; i++)
		m_free(m_malloc(16 + (size_t)i * 8));
	m_free(p);
}

static void free_stack(void)
{
	char local[64];
	memset(local, 1, sizeof local);
	kit_announce(&local[16]);
	m_free(&local[16]);
}

static void free_interior(void)
{
	char *p = m_malloc(256);
	kit_announce(p + 32);
	m_free(p + 32);
}

static void free_far(void)
{
	char *p = (char *)(uintptr_t)0x100000000000ull;
	kit_announce(p);
	m_free(p);
}

static void overflow(void)
{
	char *p = m_malloc(100);
	kit_announce(p);
	p[100] = 'x';
	m_free(p);
}

static void realloc_freed(void)
{
	char *p = m_malloc(100);
	kit_announce(p);
	m_free(p);
	p = m_realloc(p, 200);
	m_free(p);
}

/* Blocks a checked child instance holds back after their free (write-after-free outlives it four times). */
#define CHILD_QUARANTINE 256

/* Found when the block leaves the quarantine (instances) or at exit (the drop-in's default 4096 blocks). */
static void write_after_free(void)
{
	char *p = m_malloc(64);
	kit_announce(p);
	m_free(p);
	p[8] = 'x';
	for (int i = 0; i < 4 * CHILD_QUARANTINE; i++)
		m_free(m_malloc(32));
}

/* hk_check finds the overflow without a free; it returns, so the child reports and aborts. */
static void overflow_check(void)
{
	char *p = m_malloc(40);
	kit_announce(p);
	p[41] = 'x';
	struct hk_check_report r = { NULL, NULL };
	if (hk_check(heap, &r) == 0)
		exit(3);
	fprintf(stderr, "%s at %p\n", r.what, r.addr);
	abort();
}

static const struct misuse misuses[] = {
	{ "double-free", "double free", double_free },
	{ "double-free-later", "double free", double_free_later },
	{ "free-stack", "never returned", free_stack },
	{ "free-interior", "middle of a block", free_interior },
	{ "free-far", "never returned", free_far },
	{ "overflow", "write past the end", overflow },
	{ "realloc-freed", "realloc of a freed pointer", realloc_freed },
	{ "write-after-free", "after it was freed", write_after_free },
	{ "overflow-check", "write past the end", overflow_check },
};
#define NR_MISUSES (sizeof misuses / sizeof misuses[0])

/* Checked instances only: malloc(0) is zero usable bytes, so its first byte is past the end. */
static void malloc0_write(void)
{
	char *p = m_malloc(0);
	if (!p || hk_usable_size(heap, p) != 0 || p == m_malloc(0))
		exit(6);
	kit_announce(p);
	p[0] = 'x';
	m_free(p);
}
static const struct misuse checked_only[] = { { "malloc0-write", "write past the end", malloc0_write } };

/* --- Sized misuses of the checked drop-in ---------------------------------------------------- */

/*
 * Each runs in a child under LD_PRELOAD with a block of case_size bytes:
 * 8 B (a small block between canaries), 4 KiB and 256 KiB (large blocks
 * between guard pages). The child announces the block's address; the
 * outcome expected is a message (with that address) and an abort, or
 * "not detected" (the child exits 0).
 */
static size_t case_size;

/* What memory the misuses copy from. */
static char src_bytes[(256 << 10) + 64];

/* The C++ operators, from the preloaded library (this test is C). */
static void *cxx_op(const char *sym)
{
	void *f = dlsym(RTLD_DEFAULT, sym);
	if (!f) {
		fprintf(stderr, "no %s in the process\n", sym);
		exit(5);
	}
	return f;
}
typedef void *(*new_fn)(size_t);
typedef void (*delete_fn)(void *);
typedef void (*sized_delete_fn)(void *, size_t);

static char *block(void)
{
	char *p = malloc(case_size);
	kit_announce(p);
	return p;
}

static void s_double_free(void) { char *p = block(); free(p); free(p); }
static void s_double_free_later(void)
{
	char *p = block();
	free(p);
	for (int i = 0; i < 5000; i++)          /* past the quarantine's 4096 blocks */
		free(malloc(32));
	free(p);
}
static void s_free_interior(void) { char *p = block(); free(p + case_size / 2); }
static void s_free_unaligned(void) { char *p = block(); free(p + 1); }
static void s_usable_interior(void) { char *p = block(); printf("%zu\n", malloc_usable_size(p + case_size / 2)); }
static void s_realloc_freed(void) { char *p = block(); free(p); free(realloc(p, case_size * 2)); }
static void s_overflow_1(void) { char *p = block(); p[case_size] = 'x'; free(p); }
static void s_overflow_32(void) { char *p = block(); p[case_size + 31] = 'x'; free(p); }
static void s_underflow_1(void) { char *p = block(); p[-1] = 'x'; free(p); }
static void s_underflow_32(void) { char *p = block(); p[-32] = 'x'; free(p); }
static void s_overflow_at_exit(void) { char *p = block(); p[case_size] = 'x'; }
static void s_overflow_realloc(void) { char *p = block(); p[case_size] = 'x'; free(realloc(p, case_size + 1)); }
static void s_memcpy_over(void) { char *p = block(); memcpy(p, src_bytes, case_size + 1); free(p); }
static void s_memmove_under(void) { char *p = block(); memmove(p - 8, src_bytes, 16); free(p); }
static void s_memset_over(void) { char *p = block(); memset(p + case_size / 2, 0, case_size / 2 + 40); free(p); }
static void s_strcpy_over(void)
{
	char *p = block();
	memset(src_bytes, 'a', case_size);
	src_bytes[case_size] = 0;
	strcpy(p, src_bytes);                   /* case_size + 1 bytes */
	free(p);
}
static void s_strncpy_over(void) { char *p = block(); strncpy(p, "abc", case_size + 8); free(p); }
static void s_strcat_over(void)
{
	char *p = block();
	memset(p, 'b', case_size - 4);
	p[case_size - 4] = 0;
	strcat(p, "0123456789");
	free(p);
}
static void s_write_after_free(void) { char *p = block(); free(p); p[case_size / 2] = 'x'; }
static void s_read_after_free(void)
{
	volatile char *p = block();
	free((void *)p);
	printf("%d\n", p[case_size / 2]);
}
static void s_new_delete_array(void)
{
	void *p = ((new_fn)cxx_op("_Znwm"))(case_size);
	kit_announce(p);
	((delete_fn)cxx_op("_ZdaPv"))(p);
}
static void s_new_array_delete(void)
{
	void *p = ((new_fn)cxx_op("_Znam"))(case_size);
	kit_announce(p);
	((delete_fn)cxx_op("_ZdlPv"))(p);
}
static void s_malloc_delete(void) { char *p = block(); ((delete_fn)cxx_op("_ZdlPv"))(p); }
static void s_new_free(void)
{
	void *p = ((new_fn)cxx_op("_Znwm"))(case_size);
	kit_announce(p);
	free(p);
}
static void s_sized_delete(void)
{
	void *p = ((new_fn)cxx_op("_Znwm"))(case_size);
	kit_announce(p);
	((sized_delete_fn)cxx_op("_ZdlPvm"))(p, case_size + 16);
}

/* Size-independent ones: run once (case_size is ignored). */
static void s_free_stack(void) { free_stack(); }
static void s_free_far(void) { free_far(); }
static void s_malloc0_write(void)
{
	char *p = malloc(0);
	kit_announce(p);
	printf("%zu\n", malloc_usable_size(p));
	p[0] = 'x';
}
static void s_malloc0_read(void)
{
	volatile char *p = malloc(0);
	kit_announce((void *)p);
	printf("%d\n", p[0]);
}

#define NOT_DETECTED NULL
/* A string function's report, found before it wrote (" ... ": parts in that order). */
#define PAST_END(fn) fn " ... write past the end of the block (before the write)"
#define BEFORE_START(fn) fn " ... write before the start of the block (before the write)"
struct sized_misuse {
	const char *name;
	void (*run)(void);
	const char *small;      /* expected message part for 8 B; NOT_DETECTED: runs on */
	const char *large;      /* for 4 KiB and 256 KiB (large blocks: guard pages) */
	bool once;              /* the size does not matter: one run */
};

static const struct sized_misuse sized[] = {
	{ "double free", s_double_free, "checked: double free", "checked: double free", false },
	{ "double free after 5000 other frees", s_double_free_later, "double free (the block had left the quarantine)",
	  "double free (the block had left the quarantine)", false },
	{ "free of an interior pointer", s_free_interior, "free of a pointer into the middle of a block",
	  "free of a pointer into the middle of a block", false },
	{ "free of p + 1", s_free_unaligned, "free of a pointer into the middle of a block",
	  "free of a pointer into the middle of a block", false },
	{ "free of a stack address", s_free_stack, "free of a pointer heapkit never returned", NULL, true },
	{ "free of a far address", s_free_far, "free of a pointer heapkit never returned", NULL, true },
	{ "malloc_usable_size of an interior pointer", s_usable_interior,
	  "usable_size of a pointer into the middle of a block", "usable_size of a pointer into the middle of a block",
	  false },
	{ "realloc of a freed block", s_realloc_freed, "realloc of a freed pointer", "realloc of a freed pointer", false },
	{ "write 1 byte past the end", s_overflow_1, "write past the end of the block (found at free)",
	  "write past the end of the block (guard page)", false },
	{ "write 32 bytes past the end", s_overflow_32, "write past the end of the block (found at free)",
	  "write past the end of the block (guard page)", false },
	{ "write 1 byte before the start", s_underflow_1, "write before the start of the block (found at free)",
	  "write before the start of the block (guard page)", false },
	{ "write 32 bytes before the start", s_underflow_32, "write before the start of the block (found at free)",
	  "write before the start of the block (guard page)", false },
	{ "write past the end, block never freed", s_overflow_at_exit, "write past the end of the block (found at exit)",
	  "write past the end of the block (guard page)", false },
	{ "write past the end, then realloc", s_overflow_realloc, "write past the end of the block (found at realloc)",
	  "write past the end of the block (guard page)", false },
	{ "memcpy 1 byte past the end", s_memcpy_over, PAST_END("memcpy of"), PAST_END("memcpy of"), false },
	{ "memmove from 8 bytes before the start", s_memmove_under, BEFORE_START("memmove of 16 bytes at offset -8"),
	  BEFORE_START("memmove of 16 bytes at offset -8"), false },
	{ "memset from the middle past the end", s_memset_over, PAST_END("memset of"), PAST_END("memset of"), false },
	{ "strcpy 1 byte past the end", s_strcpy_over, PAST_END("strcpy of"), PAST_END("strcpy of"), false },
	{ "strncpy 8 bytes past the end", s_strncpy_over, PAST_END("strncpy of"), PAST_END("strncpy of"), false },
	{ "strcat past the end", s_strcat_over, PAST_END("strcat of 11 bytes"), PAST_END("strcat of 11 bytes"), false },
	{ "write after free", s_write_after_free, "write into the block after it was freed (found at exit)",
	  "write into the block after it was freed", false },
	{ "read after free", s_read_after_free, NOT_DETECTED, "read of the block after it was freed", false },
	{ "new, delete[]", s_new_delete_array, "delete[] of a block from new", "delete[] of a block from new", false },
	{ "new[], delete", s_new_array_delete, "delete of a block from new[]", "delete of a block from new[]", false },
	{ "malloc, delete", s_malloc_delete, "delete of a block from malloc", "delete of a block from malloc", false },
	{ "new, free", s_new_free, "free of a block from new", "free of a block from new", false },
	{ "sized delete, wrong size", s_sized_delete, "sized delete with a size other than the block's",
	  "sized delete with a size other than the block's", false },
	{ "write to malloc(0)", s_malloc0_write, "write into a malloc(0) block", NULL, true },
	{ "read of malloc(0)", s_malloc0_read, "read of a malloc(0) block", NULL, true },
};
#define NR_SIZED (sizeof sized / sizeof sized[0])
static const size_t case_sizes[] = { 8, 4096, 256 << 10 };
static const char *const case_size_names[] = { "8 B", "4 KiB", "256 KiB" };

/* --- Running a child and judging it ---------------------------------------------- */

/* Every part of expect (parts joined by " ... ") is in hay, in that order. */
static bool contains_all(const char *hay, const char *expect)
{
	char part[256];
	while (*expect) {
		const char *sep = strstr(expect, " ... ");
		size_t n = sep ? (size_t)(sep - expect) : strlen(expect);
		snprintf(part, sizeof part, "%.*s", (int)n, expect);
		const char *at = hay;
		for (; *at && strncasecmp(at, part, strlen(part)); at++)
			;
		if (!*at)
			return false;
		hay = at + strlen(part);
		expect += n + (sep ? 5 : 0);
	}
	return true;
}

/* kit_child_run's function, calling the void (void) function its argument points to. */
static void call_child(void *fn)
{
	(*(void (**)(void))fn)();
}

/* Run fn in a child (or exec argv when argv != NULL) with its output caught in c. */
static void run_child(struct kit_child *c, void (*fn)(void), char *const argv[])
{
	kit_child_run(c, call_child, &fn, argv);
}

/*
 * Run fn in a child (or exec argv when argv != NULL), expecting it to fail
 * with a message containing expect and the address the child announced.
 * Returns 0 when it did.
 */
static int expect_failure(const char *label, void (*fn)(void), char *const argv[], const char *expect,
			  bool need_abort)
{
	static struct kit_child c;
	run_child(&c, fn, argv);
	/* The announced address, without leading zeros after 0x (as the reports print it). */
	const char *addr = c.out;
	bool died = need_abort ? kit_child_aborted(&c) : kit_child_failed(&c);
	bool ok = died && addr[0] && contains_all(c.err, expect) && kit_contains_nocase(c.err, addr);
	printf("%-40s %s", label, ok ? "ok" : "FAILED");
	if (!ok) {
		printf(" (expected '%s' at %s; status 0x%x)\n--- its stderr:\n%s---\n", expect, addr[0] ? addr : "?",
		       c.status, c.err);
	} else {
		printf("\n");
	}
	return ok ? 0 : 1;
}

/* --- Modes ------------------------------------------------------------- */

static const struct hk_backend *child_backend;
static const struct misuse *child_misuse;

/* In the child: an instance of child_backend over a fresh region of at least 4 MiB, or NULL. */
static hk_alloc_t *child_instance(void)
{
	size_t len = child_backend->min_region > 4 * MiB ? child_backend->min_region : 4 * MiB;
	return hk_create(child_backend->name, region_get(len), len);
}

/* In the child: a checked instance over child_backend, then the misuse. */
static void checked_child(void)
{
	hk_alloc_t *inner = child_instance();
	/* a quarantine of CHILD_QUARANTINE blocks: write-after-free's frees push its block out */
	heap = inner ? hk_checked_create(inner, CHILD_QUARANTINE) : NULL;
	if (!heap)
		_exit(4);
	child_misuse->run();
}

static int run_checked(void)
{
	int bad = 0, ran = 0;
	for (size_t i = 0; i < hk_backend_count(); i++) {
		child_backend = hk_backend_at(i);
		if (!(child_backend->caps & HK_CAP_FREE))
			continue;
		for (size_t k = 0; k < NR_MISUSES + 1; k++) {
			char label[128];
			child_misuse = k < NR_MISUSES ? &misuses[k] : &checked_only[0];
			snprintf(label, sizeof label, "checked %s %s", child_backend->name, child_misuse->name);
			bad += expect_failure(label, checked_child, NULL, child_misuse->expect, true);
			ran++;
		}
	}
	printf("%d of %d misuses reported as expected\n", ran - bad, ran);
	return bad || !ran;
}

/* In the child: a plain instance over child_backend, then the misuse. */
static void plain_child(void)
{
	heap = child_instance();
	if (!heap)
		_exit(4);
	child_misuse->run();
}

/*
 * What became of a misuse in a child: "reported" (heapkit named it and the
 * address, then stopped), "crash" (died otherwise), "not detected".
 */
static const char *outcome(void (*fn)(void))
{
	static struct kit_child c;
	run_child(&c, fn, NULL);
	if (WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0)
		return "not detected";
	if (WIFEXITED(c.status) && WEXITSTATUS(c.status) == 3)
		return "not detected";   /* overflow-check: hk_check found nothing */
	bool named = c.out[0] && kit_contains_nocase(c.err, c.out);
	if (named && (kit_contains_nocase(c.err, "heapkit") || kit_child_aborted(&c)))
		return "reported";
	return WIFSIGNALED(c.status) ? "crash" : "error exit";
}

static int run_table(void)
{
	printf("| misuse |");
	for (size_t i = 0; i < hk_backend_count(); i++)
		if (hk_backend_at(i)->caps & HK_CAP_FREE)
			printf(" %s | %s checked |", hk_backend_at(i)->name, hk_backend_at(i)->name);
	printf("\n|---|");
	for (size_t i = 0; i < hk_backend_count(); i++)
		if (hk_backend_at(i)->caps & HK_CAP_FREE)
			printf("---|---|");
	printf("\n");
	for (size_t k = 0; k < NR_MISUSES; k++) {
		child_misuse = &misuses[k];
		printf("| %s |", child_misuse->name);
		for (size_t i = 0; i < hk_backend_count(); i++) {
			child_backend = hk_backend_at(i);
			if (!(child_backend->caps & HK_CAP_FREE))
				continue;
			printf(" %s |", outcome(plain_child));
			printf(" %s |", outcome(checked_child));
		}
		printf("\n");
	}
	return 0;
}

/* One sized case under LD_PRELOAD=lib: 0 when its outcome is the one expected. */
static int run_sized(const char *self, const char *lib, size_t k, size_t z)
{
	const struct sized_misuse *m = &sized[k];
	const char *expect = z == 0 ? m->small : m->large;
	char env[4096], label[160], size_arg[32], idx[16];
	snprintf(env, sizeof env, "LD_PRELOAD=%s", lib);
	snprintf(size_arg, sizeof size_arg, "%zu", case_sizes[z]);
	snprintf(idx, sizeof idx, "%zu", k);
	snprintf(label, sizeof label, "preload %s, %s", m->name, m->once ? "any size" : case_size_names[z]);
	char *argv[] = { (char *)self, "sized", idx, size_arg, NULL };
	putenv(env);
	int bad;
	if (expect) {
		bad = expect_failure(label, NULL, argv, expect, true);
	} else {
		static struct kit_child c;
		run_child(&c, NULL, argv);
		bad = !(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0);
		printf("%-40s %s (not detected%s)\n", label, bad ? "FAILED" : "ok", bad ? ", expected" : "");
	}
	unsetenv("LD_PRELOAD");
	return bad;
}

/* LD_PRELOAD=lib: every misuse but hk_check's, through plain malloc/free, then the sized cases. */
static int run_preload(const char *self, const char *lib)
{
	int bad = 0, ran = 0;
	for (size_t k = 0; k < NR_MISUSES; k++) {
		if (misuses[k].run == overflow_check)
			continue;
		char env[4096], label[128];
		snprintf(env, sizeof env, "LD_PRELOAD=%s", lib);
		putenv(env);
		char *argv[] = { (char *)self, "plain", (char *)misuses[k].name, NULL };
		snprintf(label, sizeof label, "preload %s", misuses[k].name);
		bad += expect_failure(label, NULL, argv, misuses[k].expect, true);
		unsetenv("LD_PRELOAD");
		ran++;
	}
	for (size_t k = 0; k < NR_SIZED; k++)
		for (size_t z = 0; z < (sized[k].once ? 1 : 3); z++, ran++)
			bad += run_sized(self, lib, k, z);
	printf("%d of %d misuses reported as expected\n", ran - bad, ran);
	return bad != 0;
}

/* The sized cases' table: a cell is the outcome asserted (the part of the message required), or FAILED. */
static int run_sized_table(const char *self, const char *lib)
{
	int bad = 0;
	/* the children's ok/FAILED lines go to a scratch file: only the table is printed */
	fflush(stdout);
	int saved = dup(1);
	FILE *scratch = tmpfile();
	if (saved < 0 || !scratch || dup2(fileno(scratch), 1) < 0) {
		perror("misuse table");
		return 2;
	}
	char cell[NR_SIZED][3][160];
	for (size_t k = 0; k < NR_SIZED; k++)
		for (size_t z = 0; z < 3; z++) {
			const char *e = z == 0 ? sized[k].small : sized[k].large;
			if (sized[k].once && z) {
				snprintf(cell[k][z], sizeof cell[k][z], "(same)");
				continue;
			}
			int b = run_sized(self, lib, k, z);
			bad += b;
			snprintf(cell[k][z], sizeof cell[k][z], "%s", b ? "FAILED" : e ? e : "not detected");
		}
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	fclose(scratch);
	printf("| misuse (libheapkit-checked.so) | 8 B | 4 KiB | 256 KiB |\n|---|---|---|---|\n");
	for (size_t k = 0; k < NR_SIZED; k++)
		printf("| %s | %s | %s | %s |\n", sized[k].name, cell[k][0], cell[k][1], cell[k][2]);
	return bad != 0;
}

/* A use after free of an instance block: ASan or valgrind must name the address. */
static void uaf_child(void)
{
	heap = child_instance();
	if (!heap)
		_exit(4);
	volatile char *p = hk_malloc(heap, 64);
	p[0] = 1;
	kit_announce((void *)(p + 8));
	hk_free(heap, (void *)p);
	char c = p[8];
	/* Keep the load. */
	printf("%d\n", c);
	exit(0);
}

static int run_uaf(const char *self, const char *valgrind)
{
	int bad = 0, ran = 0;
	for (size_t i = 0; i < hk_backend_count(); i++) {
		child_backend = hk_backend_at(i);
		if (!(child_backend->caps & HK_CAP_FREE))
			continue;
		char label[128];
		ran++;
		if (valgrind) {
			char *argv[] = { (char *)valgrind, "-q", "--error-exitcode=99", (char *)self, "uaf",
					 (char *)child_backend->name, NULL };
			snprintf(label, sizeof label, "valgrind use-after-free %s", child_backend->name);
			bad += expect_failure(label, NULL, argv, "Invalid read", false);
		} else {
			snprintf(label, sizeof label, "asan use-after-free %s", child_backend->name);
			bad += expect_failure(label, uaf_child, NULL, "AddressSanitizer", false);
		}
	}
	return bad || !ran;
}

static const struct misuse *misuse_find(const char *name)
{
	for (size_t k = 0; k < NR_MISUSES; k++)
		if (!strcmp(misuses[k].name, name))
			return &misuses[k];
	return NULL;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "checked"))
		return run_checked();
	if (argc >= 3 && !strcmp(argv[1], "preload"))
		return run_preload(argv[0], argv[2]);
	if (argc >= 2 && !strcmp(argv[1], "asan"))
		return run_uaf(argv[0], NULL);
	if (argc >= 3 && !strcmp(argv[1], "table"))
		return run_sized_table(argv[0], argv[2]);
	if (argc >= 2 && !strcmp(argv[1], "backends"))
		return run_table();
	if (argc >= 4 && !strcmp(argv[1], "sized") && (size_t)atoi(argv[2]) < NR_SIZED) {
		case_size = (size_t)strtoull(argv[3], NULL, 0);
		sized[atoi(argv[2])].run();
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "valgrind"))
		return run_uaf(argv[0], argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "plain") && misuse_find(argv[2])) {
		misuse_find(argv[2])->run();
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "uaf") && hk_backend_find(argv[2])) {
		child_backend = hk_backend_find(argv[2]);
		uaf_child();
	}
	fprintf(stderr, "usage: misuse checked | preload LIB | table LIB | backends | asan | valgrind VALGRIND\n");
	return 2;
}
