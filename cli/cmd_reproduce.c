// cmd_reproduce: `gpuhours reproduce NAME`: one experiment of reproductions/NAME.conf end to
// end: the search, then the final training of the genotype it found, in one results file.
#include <stdio.h>

#include "cli.h"
#include "darts_cli.h"

static const char *usage =
    "usage: gpuhours reproduce NAME [options]\n"
    "       gpuhours reproduce --resume FILE [--threads N]   (continue a killed run)\n\n"
    "Runs reproductions/NAME.conf: the configured search, then the final training of the\n"
    "genotype it found, recording both in one results file. NAME is a file of\n"
    "reproductions/ (darts-cifar10-second, darts-fashion-mnist-smoke, demo-darts-fashion-mnist,\n"
    "regevo-fashion-mnist-smoke, ...: reproductions/README.md). Options override the file's\n"
    "settings; --budget S gives random, random-ws, regevo and nasnet-rl a seconds budget.";

int cmd_reproduce(int argc, char **argv) {
    if (darts_cli_wants_resume(argc, argv)) return darts_cli_resume("reproduce", argc, argv);
    nas_config c;
    nas_config_defaults(&c);
    if (argc < 2 || argv[1][0] == '-') {
        int rc = darts_cli_parse("reproduce", usage, argc, argv, &c);
        if (rc == 1) return 0;
        fprintf(stderr, "gpuhours reproduce: which experiment? (see --help)\n");
        return 2;
    }
    char path[4096];
    int st = darts_cli_find_preset(argv[1], path, sizeof path);
    if (!st) st = nas_config_load(&c, path);
    if (st) {
        fprintf(stderr, "gpuhours reproduce: %s\n", gh_error_get());
        return 2;
    }
    printf("# reproducing %s\n", path);
    int rc = darts_cli_parse("reproduce", usage, argc - 1, argv + 1, &c);
    if (rc) return rc == 1 ? 0 : 2;
    return darts_cli_run("reproduce", &c, DARTS_CLI_SEARCH_FINAL, argc, argv);
}
