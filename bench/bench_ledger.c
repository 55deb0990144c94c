// bench: the cost of recording: time per ledger_append_trial (each one flushed to the file,
// crash-safe) and per ledger_append_epoch, as p50 / p90 / p99 / max over many appends.
// Target: an appended trial costs well under 1 ms.
//   bench_ledger [trials (default 5000)] [directory (default /tmp)]
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "ledger/ledger.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, double *t, int n) {
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    printf("%-22s n=%-6d p50 %7.1f us  p90 %7.1f us  p99 %7.1f us  max %8.1f us\n", what, n,
           1e6 * t[n / 2], 1e6 * t[(int)(0.9 * n)], 1e6 * t[(int)(0.99 * n)], 1e6 * t[n - 1]);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 5000;
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    if (n < 10) {
        fprintf(stderr, "usage: bench_ledger [trials >= 10] [directory]\n");
        return 2;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/bench_ledger_%ld.h5", dir, (long)getpid());
    ledger_run_info info = {.method = "bench", .dataset = "none", .config_text = "", .argc = argc,
                            .argv = argv, .workers = 1};
    ledger *l = NULL;
    if (ledger_create(&l, path, &info)) {
        fprintf(stderr, "bench_ledger: %s\n", gh_error_get());
        return 1;
    }
    double *t = malloc((size_t)n * sizeof *t);
    char arch[600];
    for (int i = 0; i < n; i++) {
        // a DARTS-genotype-sized arch string, all fields filled
        snprintf(arch, sizeof arch,
                 "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('skip_connect', 0),"
                 " ('sep_conv_3x3', 1), ('skip_connect', 0), ('dil_conv_3x3', 2), ('sep_conv_3x3'"
                 ", 0), ('skip_connect', %d)], normal_concat=range(2, 6), reduce=[('max_pool_3x3'"
                 ", 0), ('max_pool_3x3', 1)], reduce_concat=range(2, 6))", i % 4);
        ledger_trial tr = {i, arch, "", 50, 0.9, 0.8, 0.7, 0.1, 0.2, 0.3, 5e8, 3.3e6,
                           {1, 2, 1, 0.5, NAN, 1e9}, "ok", 0};
        double t0 = gh_wall_seconds();
        if (ledger_append_trial(l, &tr)) {
            fprintf(stderr, "bench_ledger: %s\n", gh_error_get());
            return 1;
        }
        t[i] = gh_wall_seconds() - t0;
    }
    report("append_trial", t, n);
    int ne = n;
    for (int i = 0; i < ne; i++) {
        ledger_epoch e = {"search", -1, i, 1, 0.5, 1, 0.5, 0.025, {1, 1, 0, NAN, NAN, 0}};
        double t0 = gh_wall_seconds();
        if (ledger_append_epoch(l, &e)) {
            fprintf(stderr, "bench_ledger: %s\n", gh_error_get());
            return 1;
        }
        t[i] = gh_wall_seconds() - t0;
    }
    report("append_epoch", t, ne);
    ledger_close(l, "finished");
    double t0 = gh_wall_seconds();
    if (ledger_open_read(&l, path)) {
        fprintf(stderr, "bench_ledger: %s\n", gh_error_get());
        return 1;
    }
    printf("%-22s %d trials + %d epochs in %.1f ms\n", "open_read", n, ne,
           1e3 * (gh_wall_seconds() - t0));
    ledger_close(l, NULL);
    FILE *f = fopen(path, "rb");
    if (f) {
        fseek(f, 0, SEEK_END);
        printf("%-22s %.1f KiB (%.0f bytes per trial+epoch)\n", "file size", ftell(f) / 1024.0,
               (double)ftell(f) / n);
        fclose(f);
    }
    unlink(path);
    free(t);
    return 0;
}
