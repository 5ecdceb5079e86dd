// SPDX-License-Identifier: MIT
/*
 * Forced into every heapkit source compiled for Unikraft (-include): fills
 * in what a Unikraft libc may lack of C11's headers. nolibc's <stdint.h>
 * has no PTRDIFF_MAX, INTPTR_MIN/MAX nor UINTPTR_MAX, and its offsetof
 * needs <uk/compiler.h>, which not every source includes; nolibc declares
 * intmax_t/uintmax_t in <inttypes.h> only.
 */
#ifndef HK_UK_COMPAT_H
#define HK_UK_COMPAT_H

#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>

#undef offsetof
#define offsetof(t, d) __builtin_offsetof(t, d)

#ifndef PTRDIFF_MAX
#define PTRDIFF_MAX __PTRDIFF_MAX__
#endif
#ifndef UINTPTR_MAX
#define UINTPTR_MAX __UINTPTR_MAX__
#endif
#ifndef INTPTR_MAX
#define INTPTR_MAX __INTPTR_MAX__
#define INTPTR_MIN (-INTPTR_MAX - 1)
#endif

#endif /* HK_UK_COMPAT_H */
