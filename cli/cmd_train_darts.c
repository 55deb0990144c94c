// cmd_train_darts: `gpuhours train --genotype ...`: trains a genotype's evaluation network from
// scratch with the paper's protocol (20 cells, C=36, 600 epochs, cutout, drop-path, auxiliary
// head) over --seeds, reporting mean ± sd; with a preset and no genotype it searches first.
#include "cli.h"
#include "darts_cli.h"

static const char *usage =
    "usage: gpuhours train --genotype TEXT|NAME [options]\n"
    "       gpuhours train --preset darts-fashion-mnist-smoke   (searches first: no genotype)\n"
    "       gpuhours train [--genotype TEXT|NAME] --resume FILE [--threads N]   (continue a run)\n\n"
    "Trains a DARTS cell from scratch with the paper's evaluation protocol: 20 cells, C=36,\n"
    "600 epochs, batch 96, SGD lr 0.025 cosine, cutout 16, drop-path 0.2 ramped linearly,\n"
    "auxiliary head weight 0.4. Several seeds (--seeds 0,1,2) are aggregated as mean ± sd.\n"
    "Test accuracy, params, multiply-adds and cost go to results/*.h5.";

int train_darts_main(int argc, char **argv) {
    if (darts_cli_wants_resume(argc, argv)) return darts_cli_resume("train", argc, argv);
    nas_config c;
    nas_config_defaults(&c);
    int rc = darts_cli_parse("train", usage, argc, argv, &c);
    if (rc) return rc == 1 ? 0 : 2;
    return darts_cli_run("train", &c, c.genotype[0] ? DARTS_CLI_FINAL : DARTS_CLI_SEARCH_FINAL,
                         argc, argv);
}
