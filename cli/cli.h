// cli: the `gpuhours` subcommands. Each lives in its own cmd_*.c and is listed once in
// commands.def; main.c dispatches. Commands parse their flags with getopt_long, answer
// --help, and return a process exit status (0 ok, 1 failure, 2 usage error).
#pragma once

#define GH_CMD(name, summary) int cmd_##name(int argc, char **argv);
#include "commands.def"
#undef GH_CMD

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
