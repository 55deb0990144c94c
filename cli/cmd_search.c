// cmd_search: `gpuhours search METHOD`: one NAS method of the registry (search/nas/nas_methods.c)
// on the configured data, recorded in one HDF5 file under results/.
#include <stdio.h>

#include "cli.h"
#include "darts_cli.h"

static const char *usage =
    "usage: gpuhours search METHOD [options]\n"
    "       gpuhours search [METHOD] --resume FILE [--threads N]   (continue a killed run)\n\n"
    "Runs a NAS method (listed below) with DARTS's settings by default (8 cells, C=16,\n"
    "50 epochs, batch 64; DARTS second order) on the configured data. The genotypes it\n"
    "derives or scores, the epochs, the alphas (DARTS) and the cost go to results/*.h5.\n"
    "Example: gpuhours search darts --preset darts-fashion-mnist-smoke";

int cmd_search(int argc, char **argv) {
    if (darts_cli_wants_resume(argc, argv)) return darts_cli_resume("search", argc, argv);
    nas_config c;
    nas_config_defaults(&c);
    const char *method = argc > 1 && argv[1][0] != '-' ? argv[1] : NULL;
    int rc = darts_cli_parse("search", usage, method ? argc - 1 : argc, method ? argv + 1 : argv, &c);
    if (rc) return rc == 1 ? 0 : 2;
    if (!method) {
        char names[256];
        nas_method_names(names, sizeof names);
        fprintf(stderr, "gpuhours search: which method? %s (see --help)\n", names);
        return 2;
    }
    if (nas_config_set(&c, NULL, "method", method, NULL, 0)) {
        fprintf(stderr, "gpuhours search: %s (see --help)\n", gh_error_get());
        return 2;
    }
    return darts_cli_run("search", &c, DARTS_CLI_SEARCH, argc, argv);
}
