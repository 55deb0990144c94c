// cmd_train_darts: `gpuhours train --genotype ...`: trains a genotype's evaluation network from
// scratch with the paper's protocol (20 cells, C=36, 600 epochs, cutout, drop-path, auxiliary
// head) over --seeds, reporting mean ± sd; with a preset and no genotype it searches first.
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "darts_cli.h"

static const char *usage =
    "usage: gpuhours train --genotype TEXT|NAME [options]\n"
    "       gpuhours train --preset darts-fashion-mnist-smoke   (searches first: no genotype)\n\n"
    "Trains a DARTS cell from scratch with the paper's evaluation protocol: 20 cells, C=36,\n"
    "600 epochs, batch 96, SGD lr 0.025 cosine, cutout 16, drop-path 0.2 ramped linearly,\n"
    "auxiliary head weight 0.4. Several seeds (--seeds 0,1,2) are aggregated as mean ± sd.\n"
    "Test accuracy, params, multiply-adds and cost go to results/*.h5.";

int darts_run_final(const darts_config *c, const darts_data *d, ledger *l, const genotype *g) {
    double mean, sd;
    char text[2048];
    genotype_print(g, text, sizeof text);
    printf("final training of genotype = %s\n", text);
    int st = darts_final_run(c, d, l, g, &mean, &sd);
    if (!st) printf("test accuracy %.2f%% ± %.2f\n", 100 * mean, 100 * sd);
    return st;
}

int train_darts_main(int argc, char **argv) {
    darts_config c;
    darts_config_defaults(&c);
    int rc = darts_cli_parse("train", usage, argc, argv, &c);
    if (rc) return rc == 1 ? 0 : 2;
    if (!c.genotype[0]) return cmd_reproduce_config(&c, argc, argv);
    genotype g;
    const char *named = genotype_named(c.genotype);
    int st = genotype_parse(&g, named ? named : c.genotype);
    if (st) return cli_fail("train", st);
    cost_meter *meter = cost_meter_create(darts_gpus(&c));
    cost_meter_start(meter);
    darts_data d;
    ledger *l = NULL;
    char path[1024];
    if ((st = darts_data_load(&d, &c))) {
        cost_meter_destroy(meter);
        return cli_fail("train", st);
    }
    if ((st = darts_cli_open_ledger(&c, "darts-train", argc, argv, &l, path, sizeof path))) {
        darts_data_free(&d);
        cost_meter_destroy(meter);
        return cli_fail("train", st);
    }
    if (!(st = ledger_put_text(l, "genotype", named ? named : c.genotype)))
        st = darts_run_final(&c, &d, l, &g);
    cost_totals ct = cost_meter_read(meter);
    ct.peak_mem_bytes = cost_peak_rss_bytes();
    int st2 = ledger_close(l, st ? "failed" : "finished");
    darts_data_free(&d);
    cost_meter_destroy(meter);
    if (st) return cli_fail("train", st);
    if (st2) return cli_fail("train", st2);
    darts_cli_summary(&ct, path);
    return 0;
}
