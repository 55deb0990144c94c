// cli: `gpuhours ls PATH...`: one line per run file: method, dataset, seed, status, trials, the
// processes that ran them, the result accuracy (ledger_summarize), GPU-hours, wall-clock hours
// the search's budget given and the convs' precision. A file that is not a
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
               "method, dataset, seed, status, trials, workers (processes that ran the trials:\n"
               "MPI ranks or local workers, 1 for a run in one process), accuracy of the result\n"
               "trial (test accuracy, or validation accuracy marked 'v' when no test accuracy\n"
               "was measured), GPU-hours (wall x GPUs held; 0 for a CPU run), wall-clock hours\n"
               "and the budget the search was given in seconds ('-': none; '?': a file older\n"
               "than the budget attribute), and the precision of its convs (fp32, tf32, bf16;\n"
               "fp32 for files older than the precision attribute).\n"
               "A run that says running while no process writes it is shown as interrupted.\n\n"
               "options:\n"
               "  -h, --help   this help\n");
}

static int ls_row(void *ctx, const char *path, ledger *l, const ledger_summary *s) {
    (void)ctx;
    const char *name = strrchr(path, '/');
    name = name ? name + 1 : path;
    char acc[16];
    if (isnan(s->acc))
        snprintf(acc, sizeof acc, "-");
    else
        snprintf(acc, sizeof acc, "%.4f%s", s->acc, s->acc_is_test ? "" : "v");
    const char *w = ledger_attr(l, "workers");   // absent in files before parallel trials
    char budget[24];
    if (isnan(s->budget_s))
        snprintf(budget, sizeof budget, "?");
    else if (s->budget_s > 0)
        snprintf(budget, sizeof budget, "%.0f", s->budget_s);
    else
        snprintf(budget, sizeof budget, "-");
    const char *prec = ledger_attr(l, "precision");   // absent before it: every run was fp32
    printf("%-28s %-14s %-14s %6s %-11s %6lld %7s %8s %10.4f %9.4f %8s %4s\n", name,
           ledger_attr(l, "method"), ledger_attr(l, "dataset"), ledger_attr(l, "seed"),
           ledger_run_status(l), (long long)s->trials, w && *w ? w : "1", acc, s->gpu_hours,
           s->wall_hours, budget, prec && *prec ? prec : "fp32");
    return GH_OK;
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
    printf("%-28s %-14s %-14s %6s %-11s %6s %7s %8s %10s %9s %8s %4s\n", "file", "method",
           "dataset", "seed", "status", "trials", "workers", "acc", "GPU-h", "wall-h", "budget-s",
           "prec");
    int skipped;
    st = cli_each_run("ls", files, n, ls_row, NULL, &skipped);
    ledger_free_files(files);
    return st ? cli_fail("ls", st) : cli_runs_done("ls", skipped, n);
}
