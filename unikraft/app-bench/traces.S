/* SPDX-License-Identifier: MIT */
/*
 * The traces kept in the repository (bench/traces/), built into the image as
 * read-only bytes: the image has no file system, so main.c's trace_open finds
 * a trace by name in the table below and parses these bytes with
 * hk_trace_load. The assembler finds the files through -Wa,-I (Makefile.uk).
 *
 * Each entry: hk_builtin_trace_NAME (start) and hk_builtin_trace_NAME_end.
 */

#define BUILTIN_TRACE(sym, file)                \
	.balign 16;                             \
	.globl sym;                             \
	.type sym, @object;                     \
sym:                                            \
	.incbin file;                           \
	.globl sym##_end;                       \
sym##_end:                                      \
	.size sym, sym##_end - sym

	.section .rodata.hk_builtin_traces, "a"
BUILTIN_TRACE(hk_builtin_trace_gcc_cc1, "gcc-cc1.trace")
BUILTIN_TRACE(hk_builtin_trace_python_queue, "python-queue.trace")

	.section .note.GNU-stack, "", @progbits
