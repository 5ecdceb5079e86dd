// SPDX-License-Identifier: MIT
/* Fatal and non-fatal reports, formatted without printf or allocation. */
#include "core/internal.h"

void _hk_put(char *buf, size_t cap, size_t *n, const char *s)
{
	while (*s && *n + 1 < cap)
		buf[(*n)++] = *s++;
}

void _hk_put_hex(char *buf, size_t cap, size_t *n, uintptr_t v)
{
	char hex[2 + 16 + 1] = "0x";
	int digits = 1;
	while (digits < 16 && (v >> (4 * digits)))
		digits++;
	for (int i = 0; i < digits; i++)
		hex[2 + i] = "0123456789abcdef"[(v >> (4 * (digits - 1 - i))) & 15];
	hex[2 + digits] = 0;
	_hk_put(buf, cap, n, hex);
}

void _hk_put_dec(char *buf, size_t cap, size_t *n, uint64_t v)
{
	char dec[21];
	size_t k = sizeof dec - 1;
	dec[k] = 0;
	do
		dec[--k] = (char)('0' + v % 10);
	while (v /= 10);
	_hk_put(buf, cap, n, dec + k);
}

void _hk_report(const char *what, const void *addr)
{
	char buf[256];
	size_t n = 0;
	_hk_put(buf, sizeof buf, &n, "heapkit: ");
	_hk_put(buf, sizeof buf, &n, what);
	if (addr) {
		_hk_put(buf, sizeof buf, &n, " at ");
		_hk_put_hex(buf, sizeof buf, &n, (uintptr_t)addr);
	}
	buf[n++] = '\n';
	_hk_write_error(buf, n);
}

void _hk_fatal(const char *what, const void *addr)
{
	_hk_report(what, addr);
	_hk_abort();
}
