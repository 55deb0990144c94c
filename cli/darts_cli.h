// darts_cli: what `gpuhours search`, `gpuhours train --genotype` and `gpuhours reproduce` share:
// the config from defaults, preset/config files, then flags (one --key per config key); one NAS
// run from a resolved config (data, results file, search and/or final training, the closing
// summary). The commands call this file, never each other.
#pragma once
#include "search/nas/nas.h"

// Parses argv (after the command's own positional arguments were removed by the caller) into
// c. Returns 0 to run, 1 when --help was printed (exit 0), 2 on a usage error (message printed).
int darts_cli_parse(const char *cmd, const char *usage, int argc, char **argv, nas_config *c);
// reproductions/NAME.conf: the current directory, then next to the binary's source tree.
int darts_cli_find_preset(const char *name, char *path, size_t len);

// What a run does.
typedef enum {
    DARTS_CLI_SEARCH,        // the search c->method
    DARTS_CLI_SEARCH_FINAL,  // the search, then the final training of the genotype it found
    DARTS_CLI_FINAL,         // the final training of c->genotype (a text or a name)
} darts_cli_what;
// Runs it with the resolved config c and records it in one results file; argc/argv are stored
// with the run. Returns the process exit status (messages printed).
int darts_cli_run(const char *cmd, const nas_config *c, darts_cli_what what, int argc,
                  char **argv);

// --resume FILE: 1 when argv (argv[0] the command) holds it. darts_cli_resume then continues
// FILE from its checkpoint with the config it recorded (nas_resume_open); besides --resume it
// takes only --threads N, search's METHOD (which must be the run's) and train's --genotype G
// (the run's genotype). A refused FILE is left byte-identical. Returns the exit status.
int darts_cli_wants_resume(int argc, char **argv);
int darts_cli_resume(const char *cmd, int argc, char **argv);
