// SPDX-License-Identifier: MIT
/*
 * The platform seam: everything heapkit's allocators need from the world.
 *
 * Three implementations exist: hosted Linux (src/platform/hosted.c: mmap,
 * pthreads, errno), freestanding (src/platform/freestanding.c: no OS, one
 * thread, hooks a bare-metal user may set) and Unikraft's glue (unikraft/).
 * The allocator sources include nothing else from the outside world and
 * need only memcpy, memset and memmove.
 *
 * HK_HOSTED is defined to 1 when building for hosted Linux; the thread slot
 * is then an initial-exec thread-local the compiler reads inline.
 */
#ifndef HEAPKIT_PLATFORM_H
#define HEAPKIT_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- Pages ---------------------------------------------------------------- */

/*
 * A source of pages. map returns len bytes (a multiple of HK_PAGE_SIZE)
 * aligned to align (a power of two >= HK_PAGE_SIZE), zero-filled when fresh
 * from the OS, or NULL when there are none. unmap gives back exactly a range
 * map returned (same p, same len). Both may be called from any thread.
 *
 * remap is optional (NULL where the source cannot, e.g. a fixed region):
 * it resizes a range map (or remap) returned, of old_len bytes at p, to
 * new_len bytes aligned to align, keeping the first min(old_len, new_len)
 * bytes, in place or moved without copying; it returns the range's new
 * address (the old range is then gone), or NULL with the old range intact.
 *
 * purge is optional too (NULL for fixed regions): it tells the source that
 * the whole pages of [p, p + len), inside a range map returned, hold nothing
 * needed; the range stays mapped and usable, and may read as zero or as its
 * old contents afterwards (the OS takes the memory back: MADV_DONTNEED).
 *
 * protect is optional too (NULL where the source has no page protection):
 * it makes the whole pages of [p, p + len), inside a range map returned, no
 * access (rw 0) or readable and writable again (rw 1); 0 on success,
 * -1 when the OS refused (then nothing changed that matters: the caller
 * treats the range as it was).
 *
 * None of them changes errno (the hosted source saves and restores it around
 * mmap, munmap, mremap and madvise), so free and its slow paths keep the
 * caller's errno without help, and a failure is said by the NULL alone.
 */
struct hk_page_source {
	void *(*map)(struct hk_page_source *s, size_t len, size_t align);
	void (*unmap)(struct hk_page_source *s, void *p, size_t len);
	void *ctx;                /* the source's own state */
	void *(*remap)(struct hk_page_source *s, void *p, size_t old_len, size_t new_len, size_t align);
	void (*purge)(struct hk_page_source *s, void *p, size_t len);
	int (*protect)(struct hk_page_source *s, void *p, size_t len, int rw);
};

/* The OS as a page source (mmap); NULL where there is no OS. */
struct hk_page_source *_hk_os_pages(void);

/* --- Threads -------------------------------------------------------------- */

/*
 * One pointer-sized, 8-byte-aligned slot per thread, NULL in a new thread
 * (in the drop-in's build, HK_SHARD_SINGLE, shard defines it with another
 * start). Only the shard allocator uses it. (Unikraft places TLS assuming 8-byte
 * alignment: nothing wider or more aligned may be thread-local.)
 */
#if defined(HK_HOSTED) && HK_HOSTED
extern __thread void *_hk_tls_slot __attribute__((tls_model("initial-exec")));
static inline void *_hk_thread_slot_get(void) { return _hk_tls_slot; }
static inline void _hk_thread_slot_set(void *v) { _hk_tls_slot = v; }
#else
void *_hk_thread_slot_get(void);
void _hk_thread_slot_set(void *v);
#endif

/*
 * Thread-exit notification. _hk_thread_exit_init(fn) is called once per
 * process (later calls are ignored); afterwards, a thread that called
 * _hk_thread_exit_arm(arg) with arg != NULL gets fn(arg) run when it exits
 * (re-arming replaces arg). Returns 0, or -1 where the platform cannot tell.
 * fn may run after the thread's slot is gone: it must use only arg.
 */
int _hk_thread_exit_init(void (*fn)(void *arg));
int _hk_thread_exit_arm(void *arg);

/* Let other threads run (a cooperative scheduler needs this to progress). */
void _hk_yield(void);

/* --- Errors ---------------------------------------------------------------- */

/* Set errno where errno exists (a no-op freestanding). */
void _hk_set_errno(int e);
/* Write a message to the error console (stderr). No allocation. */
void _hk_write_error(const char *msg, size_t len);
/* Stop the program after a fatal error has been written. */
__attribute__((noreturn)) void _hk_abort(void);

/* --- Hosted only -------------------------------------------------------------- */
#if defined(HK_HOSTED) && HK_HOSTED
/*
 * Addresses nothing may touch, for malloc(0): each one handed out is unique
 * (never handed out again) and any read or write of it traps. NULL when none
 * are left (64 arenas of 1 Mi addresses, reserved as used): the caller then
 * serves a real block. _hk_zero_state says what a is; _hk_zero_free marks a
 * live one freed and returns its state before.
 */
enum hk_zero { HK_ZERO_NOT_OURS, HK_ZERO_LIVE, HK_ZERO_FREED, HK_ZERO_NEVER };
void *_hk_zero_alloc(void);
enum hk_zero _hk_zero_state(uintptr_t a);
enum hk_zero _hk_zero_free(const void *p);
/* Around fork: take (1) or give back (0) the arenas' lock, so a child can call _hk_zero_alloc. */
void _hk_zero_fork_lock(int take);

/*
 * The drop-ins' fault reports: one SIGSEGV handler, installed by the first
 * _hk_fault_namer_add if SIGSEGV still has its default action. On a fault
 * each namer is asked about the address (access: HK_FAULT_WRITE and/or
 * HK_FAULT_EXEC); one that knows it writes its line and aborts; if none
 * does, the default action takes the process when the access faults again.
 */
#define HK_FAULT_WRITE 1u
#define HK_FAULT_EXEC 2u
void _hk_fault_namer_add(void (*namer)(uintptr_t addr, unsigned access));
#endif

#ifdef __cplusplus
}
#endif
#endif /* HEAPKIT_PLATFORM_H */
