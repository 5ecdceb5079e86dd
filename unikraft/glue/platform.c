// SPDX-License-Identifier: MIT
/*
 * The platform seam (<heapkit/platform.h>) on Unikraft: the third
 * implementation, next to hosted Linux and freestanding.
 *
 *   pages        none: every instance lives on the regions ukboot hands it
 *   thread slot  one 8-byte __thread pointer, and a static one for the boot
 *                context until Unikraft's TLS is live (see below)
 *   thread exit  a uksched thread termination callback (UK_THREAD_INIT)
 *   yield        uk_sched_yield(), once a scheduler runs
 *   errors       errno once TLS is live, uk_pr_crit(), UK_CRASH()
 *
 * TLS comes late. ukboot creates the boot allocator, then allocates the
 * boot context's TLS from it and only then loads the TLS pointer (%fs on
 * x86-64); before that a thread-local access reads through a null base.
 * So the slot lives in a static variable while the TLS pointer is zero,
 * and moves into the boot context's thread-local the first time the slot
 * is used with a TLS pointer set. Only one context runs before TLS exists,
 * and that same context keeps its TLS when uksched turns it into the
 * "init" thread, so the move is exact. Afterwards the cost is one
 * predictable branch on tls_live.
 */
#include "core/internal.h"

#include <errno.h>
#include <uk/config.h>
#include <uk/assert.h>
#include <uk/print.h>
#include <uk/plat/tls.h>
#if CONFIG_LIBUKSCHED
#include <uk/sched.h>
#include <uk/thread.h>
#endif

/* --- The thread slot ------------------------------------------------------ */

/*
 * Invariants: while tls_live is false only the boot context runs and its
 * slot and exit argument are boot_slot and boot_exit_arg; once tls_live is
 * true (it never goes back) every context uses its thread-locals, and the
 * boot values have moved into the boot context's.
 */
static __thread void *tls_slot;      /* the running thread's slot (8 bytes, 8-aligned) */
static __thread void *tls_exit_arg;  /* its _hk_thread_exit_arm() argument, or NULL */
static void *boot_slot;              /* the boot context's slot before TLS */
static void *boot_exit_arg;          /* the boot context's exit argument before TLS */
static bool tls_live;                /* Unikraft's TLS pointer has been loaded */

_Static_assert(sizeof(void *) == 8 && _Alignof(void *) <= 8,
	       "Unikraft lays out TLS for 8-byte alignment");

/* Whether TLS is live now; the first time it is, move the boot values in. */
static hk_noinline bool tls_went_live(void)
{
	if (ukplat_tlsp_get() == 0)
		return false;
	tls_slot = boot_slot;
	tls_exit_arg = boot_exit_arg;
	boot_slot = NULL;
	boot_exit_arg = NULL;
	__atomic_store_n(&tls_live, true, __ATOMIC_RELEASE);
	return true;
}

static inline bool tls_ready(void)
{
	return hk_likely(__atomic_load_n(&tls_live, __ATOMIC_RELAXED)) || tls_went_live();
}

void *_hk_thread_slot_get(void)
{
	return tls_ready() ? tls_slot : boot_slot;
}

void _hk_thread_slot_set(void *v)
{
	if (tls_ready())
		tls_slot = v;
	else
		boot_slot = v;
}

/* --- Thread exit ------------------------------------------------------------ */

#if CONFIG_LIBUKSCHED
static void (*exit_fn)(void *arg);   /* set once by _hk_thread_exit_init */

int _hk_thread_exit_init(void (*fn)(void *arg))
{
	void (*none)(void *) = NULL;
	__atomic_compare_exchange_n(&exit_fn, &none, fn, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	return 0;
}

int _hk_thread_exit_arm(void *arg)
{
	if (tls_ready())
		tls_exit_arg = arg;
	else
		boot_exit_arg = arg;
	return 0;
}

/*
 * uksched calls this when a thread with Unikraft TLS exits, on that
 * thread's TLS, before its stack and TLS are released. Termination
 * callbacks run in reverse order and this one is registered at the earliest
 * priority, so it runs after those of later priorities (which may still
 * allocate); those of the same priority linked before it (posix-process's
 * thread_exit_handler and posix_thread_fini) run after it and only free,
 * which needs no thread slot. The slot is cleared: fn gives the record it
 * pointed to back.
 */
static void thread_exit_notify(struct uk_thread *t)
{
	void *arg = tls_exit_arg;
	void (*fn)(void *) = __atomic_load_n(&exit_fn, __ATOMIC_ACQUIRE);

	(void)t;
	tls_exit_arg = NULL;
	if (arg && fn)
		fn(arg);
	tls_slot = NULL;
}

/*
 * Nothing to do when a thread is made: its TLS is a fresh copy of the TLS
 * image, so its slot starts NULL. It must not clear the slot either:
 * posix-process's posix_thread_init (same priority, linked before this one)
 * allocates on the child's TLS before the child runs, which gives the child
 * its record and arms its exit early; clearing leaked that record, one per
 * thread, until shard ran out of them. (UK_THREAD_INIT needs a function
 * name here, not NULL.)
 */
static int thread_start_notify(struct uk_thread *child, struct uk_thread *parent)
{
	(void)child;
	(void)parent;
	return 0;
}
UK_THREAD_INIT_PRIO_FLAGS(thread_start_notify, thread_exit_notify, UK_PRIO_EARLIEST,
			  UK_THREAD_INITF_UKTLS);

void _hk_yield(void)
{
	if (uk_thread_current())
		uk_sched_yield();
}
#else /* !CONFIG_LIBUKSCHED */
/* No threads: nothing exits, nobody else can run. */
int _hk_thread_exit_init(void (*fn)(void *arg)) { (void)fn; return -1; }
int _hk_thread_exit_arm(void *arg) { (void)arg; return -1; }
void _hk_yield(void) { hk_cpu_relax(); }
#endif /* !CONFIG_LIBUKSCHED */

/* --- Pages ---------------------------------------------------------------- */

/* Unikraft hands regions to the instances (create, addmem); no OS pages. */
struct hk_page_source *_hk_os_pages(void) { return NULL; }

/* --- Errors ----------------------------------------------------------------- */

/* errno is thread-local (nolibc with a scheduler, musl): only once TLS is live. */
void _hk_set_errno(int e)
{
	if (tls_ready())
		errno = e;
}

void _hk_write_error(const char *msg, size_t len)
{
	if (len && msg[len - 1] == '\n')
		len--;
	uk_pr_crit("%.*s\n", (int)len, msg);
}

void _hk_abort(void)
{
	UK_CRASH("heapkit: stopping after a fatal error\n");
	__builtin_unreachable();
}
