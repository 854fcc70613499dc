/*
 * hetfl.h — the library entry point.  `main` only initialises MPI and calls
 * hetfl_run(), so tests can run the whole tool in-process on MPI_COMM_SELF.
 */
#ifndef HETFL_H
#define HETFL_H
#include <mpi.h>
#include <stdio.h>

/* Run the command line argv on comm; log to `out` (rank 0).  Returns the exit
 * status, the same on every rank: 0 success, 1 runtime failure, 2 bad input,
 * 3 stopped by a signal. */
int hetfl_run(int argc, char **argv, MPI_Comm comm, FILE *out);

/* `hetfl bench ...` (src/bench.c) */
int hf_bench_main(int argc, char **argv, MPI_Comm comm, FILE *out);
/* `hetfl compare A.h5 B.h5`: 0 identical (deterministic content), 1 different, 2 bad input */
int hf_compare_main(int argc, char **argv, FILE *out);
/* `hetfl report FILE.h5...` (src/report.c): 0 printed, 2 bad input or unreadable file */
int hf_report_main(int argc, char **argv, FILE *out);
/* `hetfl trace gen|convert|stats ...` (src/trace_cli.c): 0 done, 2 bad input */
int hf_trace_main(int argc, char **argv, FILE *out);
/* `hetfl trace [SUB] --help` (SUB NULL or unknown: every subcommand). */
void hf_trace_help(FILE *out, const char *sub);

/* `hetfl reproduce SUITE...` (src/reproduce.c): 0 all runs completed and no claim
 * FAILed, 1 otherwise, 2 bad input.  hf_reproduce_cli: the same from main(),
 * before MPI_Init, printing --help and the error message. */
int hf_reproduce_main(int argc, char **argv, FILE *out);
int hf_reproduce_cli(int argc, char **argv, FILE *out);
/* The help text of one command (`hetfl CMD --help`; the global usage for an unknown one). */
const char *hf_command_help(const char *cmd);
/* SUITE as given when it names a file, else NAME[.conf] in ., $HETFL_SUITE_PATH,
 * the installed suites (the result may be buf, or name itself). */
const char *hf_suite_find(const char *name, char *buf, size_t n);
/* mkdir -p: 0, or -1 with errno. */
int hf_mkdir_p(const char *dir);

#endif
