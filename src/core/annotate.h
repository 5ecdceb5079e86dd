// SPDX-License-Identifier: MIT
/*
 * Announcing blocks to memory checkers. In builds that ask for it
 * (HK_VALGRIND=1: valgrind client requests; HK_ASAN=1: ASan poisoning) the
 * layer that hands blocks to the application (src/core/api.c for instances,
 * src/override for the drop-in) calls these; elsewhere they cost nothing.
 *
 *   HK_ANNOTATE_MALLOC(p, size, zeroed)  p was just handed out for size bytes
 *   HK_ANNOTATE_FREE(p)                  p was just given back
 *   HK_ANNOTATE_RESIZE(p, old, new)      p kept its address, size changed
 */
#ifndef HK_CORE_ANNOTATE_H
#define HK_CORE_ANNOTATE_H

#define HK_ANNOTATE_MALLOC(p, size, zeroed) ((void)(p), (void)(size), (void)(zeroed))
#define HK_ANNOTATE_FREE(p) ((void)(p))
#define HK_ANNOTATE_RESIZE(p, old, new) ((void)(p), (void)(old), (void)(new))

#endif /* HK_CORE_ANNOTATE_H */
