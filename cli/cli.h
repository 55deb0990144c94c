// cli: the `gpuhours` subcommands. Each lives in its own cmd_*.c and is listed once in
// commands.def; main.c dispatches. Commands parse their flags with getopt_long, answer
// --help, and return a process exit status (0 ok, 1 failure, 2 usage error).
#pragma once

#define GH_CMD(name, summary) int cmd_##name(int argc, char **argv);
#include "commands.def"
#undef GH_CMD

// Prints the message of a failed library call ("gpuhours CMD: <status>: <message>") to stderr
// and returns exit status 1.
int cli_fail(const char *cmd, int status);

// `gpuhours train --genotype ...` / `--preset darts-...`: DARTS final training (cmd_train_darts.c);
// cmd_train.c dispatches to it.
int train_darts_main(int argc, char **argv);
