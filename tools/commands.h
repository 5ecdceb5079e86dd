// SPDX-License-Identifier: MIT
/*
 * hkbench's subcommands, each `int cmd(argc, argv)` with argv[1] its name
 * and an exit status back. Only hkbench.c's main includes this: the
 * subcommands' own files depend on host.h, plan.h and opts.h, never on
 * each other.
 */
#ifndef HK_TOOLS_COMMANDS_H
#define HK_TOOLS_COMMANDS_H

int hkbench_cmd_list(int argc, char **argv);      /* hkbench.c */
int hkbench_cmd_run(int argc, char **argv);       /* hkbench.c */
int hkbench_cmd_test(int argc, char **argv);      /* hkbench.c */
int hkbench_cmd_sweep(int argc, char **argv);     /* hkbench_sweep.c */
int hkbench_cmd_compare(int argc, char **argv);   /* hkcompare.c */
int hkbench_trace_info(int argc, char **argv);    /* hkbench_trace.c */

#endif /* HK_TOOLS_COMMANDS_H */
