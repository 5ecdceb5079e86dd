// SPDX-License-Identifier: MIT
/* hk_version(): the version of the library linked in (include/heapkit.h). */
#include <heapkit.h>

#define HK_STR2(x) #x
#define HK_STR(x) HK_STR2(x)

const char *hk_version(void)
{
	return HK_STR(HK_VERSION_MAJOR) "." HK_STR(HK_VERSION_MINOR) "." HK_STR(HK_VERSION_PATCH);
}
