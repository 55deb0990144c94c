// cmd_reproduce: `gpuhours reproduce NAME`: one experiment of reproductions/NAME.conf end to
// end: the search, then the final training of the genotype it found, in one results file.
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "darts_cli.h"

static const char *usage =
    "usage: gpuhours reproduce NAME [options]\n\n"
    "Runs reproductions/NAME.conf: the configured search, then the final training of the\n"
    "genotype it found, recording both in one results file. NAME is one of\n"
    "darts-cifar10-first, darts-cifar10-second, darts-fashion-mnist-smoke (see\n"
    "reproductions/README.md). Options override the file's settings.";

int cmd_reproduce_config(darts_config *c, int argc, char **argv) {
    cost_meter *meter = cost_meter_create(darts_gpus(c));
    cost_meter_start(meter);
    darts_data d;
    ledger *l = NULL;
    char path[1024];
    genotype g;
    int st = darts_data_load(&d, c);
    if (st) {
        cost_meter_destroy(meter);
        return cli_fail("reproduce", st);
    }
    if ((st = darts_cli_open_ledger(c, darts_method_name(c), argc, argv, &l, path, sizeof path))) {
        darts_data_free(&d);
        cost_meter_destroy(meter);
        return cli_fail("reproduce", st);
    }
    double t0 = gh_wall_seconds();
    st = darts_search_run(c, &d, l, &g);
    double t_search = gh_wall_seconds() - t0;
    if (!st) {
        char text[2048];
        genotype_print(&g, text, sizeof text);
        printf("search done in %.1f s: genotype = %s\n", t_search, text);
        st = darts_run_final(c, &d, l, &g);
    }
    cost_totals ct = cost_meter_read(meter);
    ct.peak_mem_bytes = cost_peak_rss_bytes();
    int st2 = ledger_close(l, st ? "failed" : "finished");
    darts_data_free(&d);
    cost_meter_destroy(meter);
    if (st) return cli_fail("reproduce", st);
    if (st2) return cli_fail("reproduce", st2);
    darts_cli_summary(&ct, path);
    return 0;
}

int cmd_reproduce(int argc, char **argv) {
    darts_config c;
    darts_config_defaults(&c);
    if (argc < 2 || argv[1][0] == '-') {
        int rc = darts_cli_parse("reproduce", usage, argc, argv, &c);
        if (rc == 1) return 0;
        fprintf(stderr, "gpuhours reproduce: which experiment? (see --help)\n");
        return 2;
    }
    char path[4096];
    int st = darts_cli_find_preset(argv[1], path, sizeof path);
    if (!st) st = darts_config_load(&c, path);
    if (st) {
        fprintf(stderr, "gpuhours reproduce: %s\n", gh_error_get());
        return 2;
    }
    printf("# reproducing %s\n", path);
    int rc = darts_cli_parse("reproduce", usage, argc - 1, argv + 1, &c);
    if (rc) return rc == 1 ? 0 : 2;
    return cmd_reproduce_config(&c, argc, argv);
}
