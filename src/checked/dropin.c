// SPDX-License-Identifier: MIT
/*
 * The checked drop-in's one instance (libheapkit-checked.so): a checked
 * wrapper over shard's OS instance, made on first use, with guard pages for
 * large blocks, the fault handler (guard.c's namer, then shard's) and the exit check (guard.c); the string
 * functions' bounds checks reach it here, and fork holds its locks.
 */
#include "checked/checked_impl.h"

#if defined(HK_HAVE_SHARD) && defined(HK_HOSTED) && HK_HOSTED
static hk_alloc_t *dropin_checked;            /* created on first use, never freed */

void _hk_dropin_write_check(const void *dst, size_t n, const char *fn)
{
#if defined(HK_DROPIN_CHECKED) && HK_DROPIN_CHECKED
	if (_hk_ck_busy)
		return;
#endif
	hk_alloc_t *a = __atomic_load_n(&dropin_checked, __ATOMIC_ACQUIRE);
	if (a && n)
		_hk_checked_write_check(a, dst, n, fn);
}
static hk_lock_t dropin_checked_lock = HK_LOCK_INIT;

hk_alloc_t *_hk_dropin_checked(void)
{
	hk_alloc_t *a = __atomic_load_n(&dropin_checked, __ATOMIC_ACQUIRE);
	if (hk_likely(a != NULL))
		return a;
	bool created = false;
	hk_lock(&dropin_checked_lock);
	a = dropin_checked;
	if (!a) {
		hk_alloc_t *inner = _hk_shard_os_instance();
		a = inner ? _hk_ck_new(inner, 0) : NULL;
		if (a) {
			/* guard pages only over the OS: a backend may read its neighbours' headers in-band */
			to_checked(a)->os_large = true;
			to_checked(a)->guards = true;
			created = true;
		}
		__atomic_store_n(&dropin_checked, a, __ATOMIC_RELEASE);
	}
	hk_unlock(&dropin_checked_lock);
	/* after the unlock: loading the unwinder for stacks allocates through this instance */
	if (created) {
		_hk_ck_dropin_hooks(to_checked(a));
		/* then shard's: a fault in its segments' closed parts or near them, heap run as code */
		_hk_fault_namer_add(_hk_shard_fault_name);
	}
	return a;
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
