// cmd_search: `gpuhours search METHOD`: the DARTS search (first or second order) or one of its
// baselines on the configured data, recorded in one HDF5 file under results/.
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "darts_cli.h"

static const char *usage =
    "usage: gpuhours search darts|random-ws|random [options]\n\n"
    "Runs the DARTS search (Liu et al., ICLR 2019) with the paper's settings by default\n"
    "(8 cells, C=16, 50 epochs, batch 64, second order), or a baseline on the same supernet\n"
    "and data: random-ws (random search with weight sharing, Li & Talwalkar 2019) or random\n"
    "(sampled genotypes trained briefly). The genotype derived after every epoch, the alphas,\n"
    "the supernet's validation accuracy and the cost go to results/*.h5.\n"
    "Example: gpuhours search darts --preset darts-fashion-mnist-smoke";

const char *darts_method_name(const darts_config *c) {
    if (strcmp(c->method, "darts")) return c->method;
    return c->order == 1 ? "darts-first" : "darts-second";
}

int cmd_search(int argc, char **argv) {
    darts_config c;
    darts_config_defaults(&c);
    const char *method = argc > 1 && argv[1][0] != '-' ? argv[1] : NULL;
    int rc = darts_cli_parse("search", usage, method ? argc - 1 : argc, method ? argv + 1 : argv, &c);
    if (rc) return rc == 1 ? 0 : 2;
    if (!method) {
        fprintf(stderr, "gpuhours search: which method? darts, random-ws or random (see --help)\n");
        return 2;
    }
    if (darts_config_set(&c, "method", method, NULL, 0)) return cli_fail("search", GH_EINVAL);
    cost_meter *meter = cost_meter_create(darts_gpus(&c));
    cost_meter_start(meter);
    darts_data d;
    ledger *l = NULL;
    char path[1024];
    genotype g;
    int st = darts_data_load(&d, &c);
    if (st) {
        cost_meter_destroy(meter);
        return cli_fail("search", st);
    }
    if ((st = darts_cli_open_ledger(&c, darts_method_name(&c), argc, argv, &l, path, sizeof path))) {
        darts_data_free(&d);
        cost_meter_destroy(meter);
        return cli_fail("search", st);
    }
    st = darts_search_run(&c, &d, l, &g);
    cost_totals ct = cost_meter_read(meter);
    ct.peak_mem_bytes = cost_peak_rss_bytes();
    int st2 = ledger_close(l, st ? "failed" : "finished");
    darts_data_free(&d);
    cost_meter_destroy(meter);
    if (st) return cli_fail("search", st);
    if (st2) return cli_fail("search", st2);
    char text[2048];
    genotype_print(&g, text, sizeof text);
    printf("genotype = %s\n", text);
    darts_cli_summary(&ct, path);
    return 0;
}
