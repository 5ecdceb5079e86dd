// SPDX-License-Identifier: MIT
/* Fatal and non-fatal reports, formatted without printf or allocation. */
#include "core/internal.h"

/* Append s to buf at *n, leaving room for a final newline. */
static void put(char *buf, size_t cap, size_t *n, const char *s)
{
	while (*s && *n + 1 < cap)
		buf[(*n)++] = *s++;
}

void _hk_report(const char *what, const void *addr)
{
	char buf[256];
	size_t n = 0;
	put(buf, sizeof buf, &n, "heapkit: ");
	put(buf, sizeof buf, &n, what);
	if (addr) {
		char hex[2 + 16 + 1] = "0x";
		uintptr_t v = (uintptr_t)addr;
		int digits = 1;
		while (digits < 16 && (v >> (4 * digits)))
			digits++;
		for (int i = 0; i < digits; i++)
			hex[2 + i] = "0123456789abcdef"[(v >> (4 * (digits - 1 - i))) & 15];
		hex[2 + digits] = 0;
		put(buf, sizeof buf, &n, " at ");
		put(buf, sizeof buf, &n, hex);
	}
	buf[n++] = '\n';
	_hk_write_error(buf, n);
}

void _hk_fatal(const char *what, const void *addr)
{
	_hk_report(what, addr);
	_hk_abort();
}
