// SPDX-License-Identifier: MIT
/*
 * Compiler support routines a heapkit source may need that Unikraft does
 * not link (it builds without libgcc). gcc turns __builtin_popcountl into a
 * call to __popcountdi2 unless the target has POPCNT (-mpopcnt). Weak, so
 * that an image linking libgcc or compiler-rt keeps theirs.
 */
#include <uk/essentials.h>

int __popcountdi2(long long x);

__weak int __popcountdi2(long long x)
{
	unsigned long long v = (unsigned long long)x;

	/* Sum bits in pairs, nibbles, bytes, then add the bytes up. */
	v = v - ((v >> 1) & 0x5555555555555555ull);
	v = (v & 0x3333333333333333ull) + ((v >> 2) & 0x3333333333333333ull);
	v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (int)((v * 0x0101010101010101ull) >> 56);
}
