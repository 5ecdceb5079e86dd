// SPDX-License-Identifier: MIT
/*
 * The boot allocator, chosen at boot. ukboot (lib/ukboot/boot.c) calls
 * uk_<x>_init(base, len) of the external allocator chosen in its menu on the
 * first free region (without paging: the first free memory region, about
 * 572 KiB below 640 KiB; with paging and ukvmem: 64 KiB at the heap base)
 * and hands every other region to the result through uk_alloc_addmem().
 * From then on the same allocator serves the boot context's TLS, thread
 * stacks (ukallocstack), the scheduler's structures and the application.
 *
 * All three of ukboot's external slots that heapkit answers to ("TLSF",
 * "Mimalloc", "tinyalloc") start the backend named on the kernel command
 * line, heapkit.alloc=NAME (a uklibparam, before "--"), or the configured
 * LIBHEAPKIT_BOOT_DEFAULT. The command line is parsed in ukboot's early
 * init, before memory exists, so the choice is known here. NAME may also be
 * "ukbuddy": Unikraft's own binary buddy (LIBHEAPKIT_UKBUDDY), so the same
 * image compares against it. The banner names what runs and which slot.
 */
#include <stdbool.h>
#include <string.h>
#include <uk/config.h>
#include <uk/print.h>
#if CONFIG_LIBUKLIBPARAM
#include <uk/libparam.h>
#endif
#if CONFIG_LIBHEAPKIT_UKBUDDY
#include <uk/allocbbuddy.h>
#endif
#include <uk/heapkit.h>
#include "glue.h"

static const char boot_default[] = CONFIG_LIBHEAPKIT_BOOT_DEFAULT;
/* uklibparam points this at the command line's value when heapkit.alloc= is given. */
static const char *boot_alloc = boot_default;
static const char *boot_chosen;   /* what runs, once the boot allocator exists */

#if CONFIG_LIBUKLIBPARAM
UK_LIBPARAM_PARAM_ALIAS(alloc, &boot_alloc, charp,
			"boot allocator: tlsf shard buddy region mimalloc ukbuddy (default "
			CONFIG_LIBHEAPKIT_BOOT_DEFAULT ")");
#endif

const char *uk_heapkit_boot_name(void)
{
	return boot_chosen;
}

/* Every name heapkit.alloc= takes in this image, for the refusal message. */
static void list_valid(void)
{
	for (size_t i = 0; i < hk_backend_count(); i++)
		uk_pr_crit("heapkit:   heapkit.alloc=%s\n", hk_backend_at(i)->name);
#if CONFIG_LIBHEAPKIT_UKBUDDY
	uk_pr_crit("heapkit:   heapkit.alloc=ukbuddy\n");
#endif
}

static struct uk_alloc *heapkit_boot(const char *slot, void *base, __sz len)
{
	const char *name = boot_alloc ? boot_alloc : boot_default;
	const char *how = name != boot_default ? "heapkit.alloc" : "default";
	const struct hk_backend *b;
	struct uk_alloc *a;

#if CONFIG_LIBHEAPKIT_UKBUDDY
	if (!strcmp(name, "ukbuddy")) {
		a = uk_allocbbuddy_init(base, len);
		if (a) {
			boot_chosen = "ukbuddy";
			uk_pr_info("heapkit: Unikraft's binary buddy (ukallocbbuddy) is the boot allocator "
				   "(heapkit.alloc=ukbuddy; ukboot slot \"%s\"), first region %p-%p (%lu KiB)\n",
				   slot, base, (char *)base + len, (unsigned long)(len >> 10));
		}
		return a;
	}
#endif
	b = hk_backend_find(name);
	if (!b) {
		/* ukboot tries each free region in turn: say it once. */
		static bool said;

		if (said)
			return NULL;
		said = true;
		uk_pr_crit("heapkit: heapkit.alloc=%s: no such boot allocator in this image; valid:\n", name);
		list_valid();
		return NULL;
	}
	a = _uk_heapkit_boot(b->create, b->name, base, len, slot, how);
	if (a)
		boot_chosen = b->name;
	return a;
}

#if CONFIG_LIBTLSF
#include <uk/tlsf.h>

struct uk_alloc *uk_tlsf_init(void *base, __sz len)
{
	return heapkit_boot("TLSF", base, len);
}
#endif

#if CONFIG_LIBMIMALLOC
#include <uk/mimalloc.h>

struct uk_alloc *uk_mimalloc_init(void *base, __sz len)
{
	return heapkit_boot("Mimalloc", base, len);
}
#endif

#if CONFIG_LIBTINYALLOC
#include <uk/tinyalloc.h>

struct uk_alloc *uk_tinyalloc_init(void *base, __sz len)
{
	return heapkit_boot("tinyalloc", base, len);
}
#endif
