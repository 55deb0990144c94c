// cli: the gpuhours entry point: joins the process group the launcher started (dist/; a group
// of one without mpirun or srun), dispatches `gpuhours COMMAND ...` to cmd_COMMAND, and ends
// the group: finalized after a success, aborted after a failure so that no rank waits for ever.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "base/base.h"
#include "dist/dist.h"

typedef struct {
    const char *name;
    const char *summary;
    int (*fn)(int, char **);
} command;

static const command commands[] = {
#define GH_CMD(name, summary) {#name, summary, cmd_##name},
#include "commands.def"
#undef GH_CMD
};

static void usage(FILE *f) {
    fprintf(f, "usage: gpuhours COMMAND [options]   (gpuhours COMMAND --help for each)\n\n"
               "GPU-first benchmarking and research harness for NAS and HPO searches.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int cli_fail(const char *cmd, int status) {
    fprintf(stderr, "gpuhours %s: %s: %s\n", cmd, gh_status_str(status), gh_error_get());
    return 1;
}

// Commands that know what to do as one rank of several (the others would run N copies that
// write the same files): they are refused under a launcher with more than one rank.
static const char *const group_commands[] = {"tune", "search", "train", "reproduce"};

static int dispatch(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("gpuhours %s\n", GH_VERSION);
        return 0;
    }
    const pg_info *pg = pg_world();
    int in_group = 0;
    for (size_t i = 0; i < sizeof group_commands / sizeof group_commands[0]; i++)
        in_group |= !strcmp(argv[1], group_commands[i]);
    if (pg->size > 1 && !in_group) {
        if (pg->rank == 0)
            fprintf(stderr, "gpuhours %s: runs as one process; %s started %d (only tune, "
                    "search, train and reproduce run across a process group)\n", argv[1],
                    pg->launcher, pg->size);
        return 2;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "gpuhours: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}

// OpenMP's threads wait at the end of every parallel region, and a step opens thousands. By
// default libgomp spins there before sleeping: on an idle machine the fastest (2 idle cores, a
// 5-cell C=8 DARTS step at batch 16: 0.30 s spinning, 0.74 s sleeping; 8 cells C=16 batch 32:
// 1.84 s against 2.51 s), on a shared one the slowest by far: a thread spins through its time
// slice while the thread it waits for has no core (load 3-7: 0.3-5.3 s per step spinning against
// 0.6-0.9 s sleeping; an ENAS smoke epoch 88-136 s against 5.5-10.3 s). So unless the user chose
// (OMP_WAIT_POLICY or GOMP_SPINCOUNT set), a machine that other work already keeps busy at
// start-up (1-minute load average of at least half a core, before this process runs) gets
// OMP_WAIT_POLICY=PASSIVE: the process starts again at once with it set, since libgomp reads it
// when it loads, before main. GH_NO_REEXEC=1 turns this off; GH_LOADAVG (a number) stands in
// for the load average (tests); a failed exec carries on as before.
static void prefer_passive_waits(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT") || getenv("GH_NO_REEXEC")) return;
    double load = 0.0;
    const char *fake = getenv("GH_LOADAVG");
    if (fake) load = strtod(fake, NULL);
    else if (getloadavg(&load, 1) != 1) return;
    if (!(load >= 0.5)) return;
    if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1)) return;
    execv("/proc/self/exe", argv);
    unsetenv("OMP_WAIT_POLICY");   // no exec: this process's OpenMP kept its default
}

int main(int argc, char **argv) {
    prefer_passive_waits(argv);
    int st = pg_init(&argc, &argv);
    if (st) {
        fprintf(stderr, "gpuhours: %s: %s\n", gh_status_str(st), gh_error_get());
        pg_abort(1);
        return 1;
    }
    int rc = dispatch(argc, argv);
    if (rc != 0 && pg_world()->size > 1) {
        fflush(NULL);
        pg_abort(rc);   // the other ranks may be waiting for this one
    }
    if ((st = pg_finalize())) {
        fprintf(stderr, "gpuhours: %s: %s\n", gh_status_str(st), gh_error_get());
        if (rc == 0) rc = 1;
    }
    return rc;
}
