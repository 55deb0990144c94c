// cli: `gpuhours ls PATH...`: one line per run file: method, dataset, seed, status, trials, the
// result accuracy (ledger_summarize), GPU-hours and wall-clock hours. A file that is not a
// readable ledger gets its error on stderr; the others are still listed (exit status 1 then).
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "cli.h"
#include "ledger/ledger.h"

static void usage(FILE *f) {
    fprintf(f, "usage: gpuhours ls [-h] PATH...\n\n"
               "Lists runs: one line per run file (a directory lists its *.h5 files) with\n"
               "method, dataset, seed, status, trials, accuracy of the result trial (test\n"
               "accuracy, or validation accuracy marked 'v' when no test accuracy was\n"
               "measured), GPU-hours (wall x GPUs held; 0 for a CPU run) and wall-clock hours.\n"
               "A run that says running while no process writes it is shown as interrupted.\n\n"
               "options:\n"
               "  -h, --help   this help\n");
}

int cmd_ls(int argc, char **argv) {
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        usage(stderr);
        return 2;
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    char **files = NULL;
    int n = 0;
    int st = ledger_find_files(argc - optind, argv + optind, &files, &n);
    if (st) return cli_fail("ls", st);
    int failed = 0;
    printf("%-28s %-14s %-14s %6s %-11s %6s %8s %10s %9s\n", "file", "method", "dataset", "seed",
           "status", "trials", "acc", "GPU-h", "wall-h");
    for (int i = 0; i < n; i++) {
        ledger *l = NULL;
        ledger_summary s;
        if ((st = ledger_open_read(&l, files[i])) || (st = ledger_summarize(l, &s))) {
            cli_fail("ls", st);
            failed = 1;
            ledger_close(l, NULL);
            continue;
        }
        const char *name = strrchr(files[i], '/');
        name = name ? name + 1 : files[i];
        char acc[16];
        if (isnan(s.acc))
            snprintf(acc, sizeof acc, "-");
        else
            snprintf(acc, sizeof acc, "%.4f%s", s.acc, s.acc_is_test ? "" : "v");
        printf("%-28s %-14s %-14s %6s %-11s %6lld %8s %10.4f %9.4f\n", name,
               ledger_attr(l, "method"), ledger_attr(l, "dataset"), ledger_attr(l, "seed"),
               ledger_run_status(l), (long long)s.trials, acc, s.gpu_hours, s.wall_hours);
        ledger_close(l, NULL);
    }
    ledger_free_files(files);
    return failed;
}
