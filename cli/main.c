// cli: the gpuhours entry point: dispatches `gpuhours COMMAND ...` to cmd_COMMAND.
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "base/base.h"

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

int main(int argc, char **argv) {
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
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "gpuhours: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
