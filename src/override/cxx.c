// SPDX-License-Identifier: MIT
/*
 * C++ operator new / new[] / delete / delete[] for the drop-ins, with their
 * sized, aligned (std::align_val_t) and nothrow forms, under their Itanium
 * ABI names (x86-64 / aarch64 LP64: size_t is "m").
 *
 *   libheapkit.so          forwards to the drop-in's malloc, memalign and free.
 *   libheapkit-checked.so  goes to the checked instance, which remembers the
 *                          form (malloc, new, new[]) and size of each block and
 *                          reports new/delete[] and malloc/delete mismatches
 *                          and a sized delete whose size is wrong.
 *
 * When memory runs out the throwing forms do what the standard says: call
 * the current new_handler and retry while there is one, else throw
 * std::bad_alloc. The C++ runtime is not linked: std::get_new_handler and
 * std::__throw_bad_alloc are looked up in the process (a program that calls
 * operator new has libstdc++ loaded) on that rare path only. This file is
 * compiled with -fexceptions, so the exception unwinds through it. The
 * nothrow forms return NULL when there is no handler; a handler that throws
 * out of a nothrow form is not caught (the standard says the nothrow form
 * returns NULL then).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include "core/internal.h"
#include "checked/checked.h"

#define HK_EXPORT __attribute__((visibility("default")))

/* --- Allocation in one form ------------------------------------------------- */

#if defined(HK_DROPIN_CHECKED) && HK_DROPIN_CHECKED
static inline void *form_alloc(size_t size, size_t align, unsigned form)
{
	return _hk_checked_alloc_as(_hk_dropin_checked(), align, size, form);
}

static inline void form_free(void *p, unsigned form, size_t size, size_t align)
{
	if (p)
		_hk_checked_free_as(_hk_dropin_checked(), p, form, size, align);
}

/* (no inline pop here: every form goes through the checked wrapper, in form_alloc) */
static inline void *form_alloc_fast(size_t size, size_t align)
{
	(void)size, (void)align;
	return NULL;
}
#else
#include "override/fast.h"

/*
 * After form_alloc_fast: shard's slow path (no PLT call); a failure goes
 * through malloc once more, which reports it.
 */
static inline void *form_alloc(size_t size, size_t align, unsigned form)
{
	(void)form;
	if (align > HK_MIN_ALIGN)
		return memalign(align, size);
	size = hk_small_align_size(align, size);
	void *p = dropin_malloc_slow(size);   /* (form_alloc_fast has found no block) */
	return hk_likely(p != NULL) ? p : malloc(size);
}

/* The inline pop alone, for the unaligned forms; NULL: form_alloc's work (a call that keeps nothing live). */
static inline void *form_alloc_fast(size_t size, size_t align)
{
	return align <= HK_MIN_ALIGN ? dropin_malloc_fast(hk_small_align_size(align, size)) : NULL;
}

static inline void form_free(void *p, unsigned form, size_t size, size_t align)
{
	(void)form, (void)size, (void)align;
	dropin_free(p);
}
#endif

/* --- Out of memory: the new_handler, std::bad_alloc ------------------------- */

typedef void (*new_handler_fn)(void);

/* The C++ runtime's function named sym, or NULL when none is loaded. */
static void *cxx_runtime(const char *sym)
{
	return dlsym(RTLD_DEFAULT, sym);
}

static new_handler_fn current_new_handler(void)
{
	new_handler_fn (*get)(void) = (new_handler_fn (*)(void))cxx_runtime("_ZSt15get_new_handlerv");
	return get ? get() : NULL;
}

__attribute__((noreturn)) static void throw_bad_alloc(void)
{
	void (*thr)(void) = (void (*)(void))cxx_runtime("_ZSt17__throw_bad_allocv");
	if (thr)
		thr();
	_hk_fatal("operator new: out of memory, and no C++ runtime to throw std::bad_alloc", NULL);
}

/* After a failed try: the new_handler loop; NULL (nothrow) or bad_alloc when there is no handler. */
__attribute__((noinline)) static void *new_retry(size_t size, size_t align, unsigned form, bool nothrow)
{
	for (;;) {
		new_handler_fn h = current_new_handler();
		if (!h) {
			if (nothrow)
				return NULL;
			throw_bad_alloc();
		}
		h();
		void *p = form_alloc(size, align, form);
		if (p)
			return p;
	}
}

/* Everything but the inline pop: the slow path, then the new_handler loop. */
__attribute__((noinline)) static void *new_slow(size_t size, size_t align, unsigned form, bool nothrow)
{
	void *p = form_alloc(size, align, form);
	return hk_likely(p != NULL) ? p : new_retry(size, align, form, nothrow);
}

static inline void *new_form(size_t size, size_t align, unsigned form, bool nothrow)
{
	void *p = form_alloc_fast(size, align);
	return hk_likely(p != NULL) ? p : new_slow(size, align, form, nothrow);
}

/* --- The operators ------------------------------------------------------------ */

#define NEW_SCALAR HK_FORM_NEW
#define NEW_ARRAY HK_FORM_NEW_ARRAY
#define UNSIZED HK_SIZE_UNKNOWN

/* operator new(size_t), new[](size_t) and their nothrow / aligned forms */
HK_EXPORT void *_Znwm(size_t n) { return new_form(n, 0, NEW_SCALAR, false); }
HK_EXPORT void *_Znam(size_t n) { return new_form(n, 0, NEW_ARRAY, false); }
HK_EXPORT void *_ZnwmRKSt9nothrow_t(size_t n, const void *nt) { return new_form(n, 0, NEW_SCALAR, true); }
HK_EXPORT void *_ZnamRKSt9nothrow_t(size_t n, const void *nt) { return new_form(n, 0, NEW_ARRAY, true); }
HK_EXPORT void *_ZnwmSt11align_val_t(size_t n, size_t al) { return new_form(n, al, NEW_SCALAR, false); }
HK_EXPORT void *_ZnamSt11align_val_t(size_t n, size_t al) { return new_form(n, al, NEW_ARRAY, false); }
HK_EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *nt)
{
	return new_form(n, al, NEW_SCALAR, true);
}
HK_EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *nt)
{
	return new_form(n, al, NEW_ARRAY, true);
}

/* operator delete(void *), delete[](void *) and their sized / aligned / nothrow forms */
HK_EXPORT void _ZdlPv(void *p) { form_free(p, NEW_SCALAR, UNSIZED, 0); }
HK_EXPORT void _ZdaPv(void *p) { form_free(p, NEW_ARRAY, UNSIZED, 0); }
HK_EXPORT void _ZdlPvm(void *p, size_t n) { form_free(p, NEW_SCALAR, n, 0); }
HK_EXPORT void _ZdaPvm(void *p, size_t n) { form_free(p, NEW_ARRAY, n, 0); }
HK_EXPORT void _ZdlPvSt11align_val_t(void *p, size_t al) { form_free(p, NEW_SCALAR, UNSIZED, al); }
HK_EXPORT void _ZdaPvSt11align_val_t(void *p, size_t al) { form_free(p, NEW_ARRAY, UNSIZED, al); }
HK_EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t n, size_t al) { form_free(p, NEW_SCALAR, n, al); }
HK_EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t n, size_t al) { form_free(p, NEW_ARRAY, n, al); }
HK_EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const void *nt) { form_free(p, NEW_SCALAR, UNSIZED, 0); }
HK_EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const void *nt) { form_free(p, NEW_ARRAY, UNSIZED, 0); }
HK_EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const void *nt)
{
	form_free(p, NEW_SCALAR, UNSIZED, al);
}
HK_EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const void *nt)
{
	form_free(p, NEW_ARRAY, UNSIZED, al);
}
