// SPDX-License-Identifier: MIT
/*
 * The platform seam with no OS: one thread, no page source, errors go to a
 * hook the bare-metal user may set (hk_freestanding_hooks), else nowhere,
 * and a fatal error traps.
 */
#include "core/internal.h"

/* Hooks for a bare-metal program; any may stay NULL. */
struct hk_freestanding_hooks {
	void (*write_error)(const char *msg, size_t len);
	void (*yield)(void);
	void (*set_errno)(int e);
};
struct hk_freestanding_hooks hk_freestanding_hooks;

static void *thread_slot;

struct hk_page_source *_hk_os_pages(void) { return NULL; }
void *_hk_thread_slot_get(void) { return thread_slot; }
void _hk_thread_slot_set(void *v) { thread_slot = v; }
int _hk_thread_exit_init(void (*fn)(void *arg)) { (void)fn; return -1; }
int _hk_thread_exit_arm(void *arg) { (void)arg; return -1; }

void _hk_yield(void)
{
	if (hk_freestanding_hooks.yield)
		hk_freestanding_hooks.yield();
}

void _hk_set_errno(int e)
{
	if (hk_freestanding_hooks.set_errno)
		hk_freestanding_hooks.set_errno(e);
}

void _hk_write_error(const char *msg, size_t len)
{
	if (hk_freestanding_hooks.write_error)
		hk_freestanding_hooks.write_error(msg, len);
}

void _hk_abort(void)
{
	__builtin_trap();
}
