// cli: the `gpuhours` subcommands. Each lives in its own cmd_*.c and is listed once in
// commands.def; main.c dispatches. Commands parse their flags with getopt_long, answer
// --help, and return a process exit status (0 ok, 1 failure, 2 usage error).
#pragma once

#define GH_CMD(name, summary) int cmd_##name(int argc, char **argv);
#include "commands.def"
#undef GH_CMD

#include <stdint.h>

#include "ledger/ledger.h"

// Prints the message of a failed library call ("gpuhours CMD: <status>: <message>") to stderr
// and returns exit status 1.
int cli_fail(const char *cmd, int status);

// `gpuhours train --genotype ...` / `--preset darts-...`: DARTS final training (cmd_train_darts.c);
// cmd_train.c dispatches to it.
int train_darts_main(int argc, char **argv);

// ls, plot and report over run files (runs.c): fn sees each readable file, opened, with its
// summary (the file is closed after fn returns); an unreadable one is skipped with a warning
// and counted in *skipped. A failure of fn stops the walk and is returned.
typedef int (*cli_run_fn)(void *ctx, const char *path, ledger *l, const ledger_summary *s);
int cli_each_run(const char *cmd, char **files, int n, cli_run_fn fn, void *ctx, int *skipped);
// The exit status after a walk: 0, or 1 with a line saying how many files were skipped.
int cli_runs_done(const char *cmd, int skipped, int n);

// Option values (args.c): 0 with *out set, or 2 (the usage exit status) after a message on
// stderr naming the command, the option, the text and the accepted range. A double must be
// finite; a seed is digits only, at most CLI_SEED_MAX (2^53: exact in a double, as stored).
#define CLI_SEED_MAX 9007199254740992ull
int cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
int cli_double(const char *cmd, const char *opt, const char *s, double lo, double hi,
               double *out);
int cli_seed(const char *cmd, const char *opt, const char *s, uint64_t *out);
// An output file option: not an existing directory, in a directory that exists and can be
// written; 0, or 2 after a message. Checked before a run starts, so no run ends in "cannot write".
int cli_out_path(const char *cmd, const char *opt, const char *path);
