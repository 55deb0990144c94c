// darts_cli: what `gpuhours search`, `gpuhours train --genotype` and `gpuhours reproduce` share:
// the config from defaults, preset/config file, then flags (one --key per config key); the
// results file; the run's ledger and the closing summary.
#pragma once
#include "search/nas/nas.h"

// Parses argv (after the command's own positional arguments were removed by the caller) into
// c. Returns 0 to run, 1 when --help was printed (exit 0), 2 on a usage error (message printed).
int darts_cli_parse(const char *cmd, const char *usage, int argc, char **argv, darts_config *c);
// reproductions/NAME.conf: the current directory, then next to the binary's source tree.
int darts_cli_find_preset(const char *name, char *path, size_t len);
// Echoes the resolved config; opens the ledger (c->out or results/<method>-<dataset>-<time>.h5).
int darts_cli_open_ledger(const darts_config *c, const char *method, int argc, char **argv,
                          ledger **l, char *path, size_t len);
// The run's closing lines: total cost and where the results are.
void darts_cli_summary(const cost_totals *ct, const char *path);
// "darts-first", "darts-second", "random-ws", "random": the ledger's method name.
const char *darts_method_name(const darts_config *c);
// Final training of g with c's settings, printing the genotype and mean ± sd (cmd_train_darts.c).
int darts_run_final(const darts_config *c, const darts_data *d, ledger *l, const genotype *g);
// Search then final training with a resolved config (cmd_reproduce.c).
int cmd_reproduce_config(darts_config *c, int argc, char **argv);
