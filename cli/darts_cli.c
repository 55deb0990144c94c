// darts_cli: option parsing shared by the DARTS commands (every config key is also a long
// option), preset lookup, the results file and the closing cost summary.
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "darts_cli.h"

enum { OPT_KEY_BASE = 1000 };

static void print_help(const char *cmd, const char *usage) {
    printf("%s\n", usage);
    printf("Settings: the paper's defaults, then --preset/--config files, then the flags below\n"
           "(each config key is also a flag).\n\n"
           "  -h, --help            this help\n"
           "  -p, --preset NAME     reproductions/NAME.conf (e.g. darts-fashion-mnist-smoke)\n"
           "  -c, --config FILE     a config file of 'key = value' lines, # comments\n"
           "  -s, --seed N          seed (initialisation, data order, augmentation)\n"
           "  -o, --out PATH        results file (.h5)\n"
           "  -b, --backend NAME    auto, cpu, ref, cuda, cuda:N\n"
           "  -d, --data-dir DIR    data directory\n"
           "  -g, --genotype TEXT   genotype text or name (DARTS_V1, DARTS_V2, NASNet, AmoebaNet)\n\n"
           "config keys (--KEY VALUE):\n");
    for (int i = 0; i < darts_config_nkeys(); i++) {
        const char *help, *key = darts_config_key(i, &help);
        printf("  --%-20s %s\n", key, help);
    }
    (void)cmd;
}

int darts_cli_find_preset(const char *name, char *path, size_t len) {
    struct stat sb;
    if (strchr(name, '/') || strstr(name, ".conf")) {
        snprintf(path, len, "%s", name);
        return stat(path, &sb) == 0 ? GH_OK : gh_fail(GH_EIO, "config file %s not found", name);
    }
    snprintf(path, len, "reproductions/%s.conf", name);
    if (stat(path, &sb) == 0) return GH_OK;
    // the binary lives in <source>/<build dir>/gpuhours
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        for (int up = 0; up < 3; up++) {
            char *slash = strrchr(exe, '/');
            if (!slash) break;
            *slash = 0;
            snprintf(path, len, "%s/reproductions/%s.conf", exe, name);
            if (stat(path, &sb) == 0) return GH_OK;
        }
    }
    return gh_fail(GH_EIO, "preset '%s': no reproductions/%s.conf in the current directory or "
                           "beside the binary's source tree", name, name);
}

int darts_cli_parse(const char *cmd, const char *usage, int argc, char **argv, darts_config *c) {
    int nk = darts_config_nkeys();
    struct option *opts = calloc((size_t)nk + 16, sizeof *opts);
    if (!opts) return 2;
    struct option fixed[] = {
        {"help", no_argument, NULL, 'h'},          {"preset", required_argument, NULL, 'p'},
        {"config", required_argument, NULL, 'c'},  {"seed", required_argument, NULL, 's'},
        {"out", required_argument, NULL, 'o'},     {"backend", required_argument, NULL, 'b'},
        {"data-dir", required_argument, NULL, 'd'}, {"genotype", required_argument, NULL, 'g'},
    };
    int nf = (int)(sizeof fixed / sizeof fixed[0]), n = 0;
    for (int i = 0; i < nf; i++) opts[n++] = fixed[i];
    for (int i = 0; i < nk; i++) {
        const char *key = darts_config_key(i, NULL);
        int dup = 0;
        for (int j = 0; j < nf; j++) dup |= !strcmp(fixed[j].name, key);
        if (!dup) opts[n++] = (struct option){key, required_argument, NULL, OPT_KEY_BASE + i};
    }
    const char *shorts = "hp:c:s:o:b:d:g:";
    int rc = 0, opt;
    // pass 1: files (preset, config) in order, so that flags override them wherever they appear
    optind = 0;  // glibc: 0 re-initialises getopt completely
    opterr = 0;
    while ((opt = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
        char path[4096];
        int st = GH_OK;
        if (opt == 'h') {
            print_help(cmd, usage);
            rc = 1;
            goto out;
        }
        if (opt == 'p') {
            st = darts_cli_find_preset(optarg, path, sizeof path);
            if (!st) st = darts_config_load(c, path);
        } else if (opt == 'c') {
            st = darts_config_load(c, optarg);
        }
        if (st) {
            fprintf(stderr, "gpuhours %s: %s\n", cmd, gh_error_get());
            rc = 2;
            goto out;
        }
    }
    // pass 2: flags
    optind = 0;  // glibc: 0 re-initialises getopt completely
    opterr = 1;
    while ((opt = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
        const char *key = NULL;
        switch (opt) {
        case 'p': case 'c': continue;
        case 's': key = "seed"; break;
        case 'o': key = "out"; break;
        case 'b': key = "backend"; break;
        case 'd': key = "data_dir"; break;
        case 'g': key = "genotype"; break;
        case '?':
            fprintf(stderr, "gpuhours %s: see --help\n", cmd);
            rc = 2;
            goto out;
        default:
            key = darts_config_key(opt - OPT_KEY_BASE, NULL);
        }
        if (!key || darts_config_set(c, key, optarg, NULL, 0)) {
            fprintf(stderr, "gpuhours %s: %s\n", cmd, gh_error_get());
            rc = 2;
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "gpuhours %s: unexpected argument '%s' (see --help)\n", cmd, argv[optind]);
        rc = 2;
    }
out:
    free(opts);
    return rc;
}

int darts_cli_open_ledger(const darts_config *c, const char *method, int argc, char **argv,
                          ledger **l, char *path, size_t len) {
    static const size_t cap = 16384;
    char *text = malloc(cap);
    if (!text) return gh_fail(GH_ENOMEM, "config text: no memory");
    darts_config_print(c, text, cap);
    printf("# resolved configuration\n%s", text);
    if (c->out[0]) {
        snprintf(path, len, "%s", c->out);
    } else {
        char now[32];
        gh_utc_iso8601(now);
        for (char *p = now; *p; p++)
            if (*p == ':' || *p == '-') *p = p[0] == ':' ? '.' : '-';
        snprintf(path, len, "results/%s-%s-%s.h5", method, c->dataset, now);
    }
    ledger_run_info info = {.method = method, .dataset = c->dataset, .seed = c->seed,
                            .config_text = text, .argc = argc, .argv = argv,
                            .gpus = darts_gpus(c)};
    int st = ledger_create(l, path, &info);
    free(text);
    if (!st) printf("# results: %s\n", path);
    fflush(stdout);
    return st;
}

void darts_cli_summary(const cost_totals *ct, const char *path) {
    printf("cost: %.1f s wall, %.1f s CPU, %.4f device-hours", ct->wall_s, ct->cpu_s,
           ct->device_s / 3600.0);
    if (ct->energy_j == ct->energy_j) printf(", %.1f kJ GPU energy", ct->energy_j / 1000.0);
    printf(", peak memory %.0f MiB\n", ct->peak_mem_bytes / 1048576.0);
    printf("results: %s\n", path);
}
