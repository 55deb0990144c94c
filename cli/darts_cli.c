// darts_cli: what the NAS commands share: option parsing (every config key is also a long
// option), preset lookup, and one run from a resolved config: data, the results file, the
// search and/or the final training, the closing cost summary.
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "darts_cli.h"
#include "dist/dist.h"

enum { OPT_KEY_BASE = 1000 };

static void print_help(const char *usage) {
    printf("%s\n", usage);
    printf("Settings: DARTS's defaults, then --preset/--config files, then the flags below\n"
           "(each config key is also a flag).\n\n"
           "  -h, --help            this help\n"
           "  -p, --preset NAME     reproductions/NAME.conf (e.g. darts-fashion-mnist-smoke)\n"
           "  -c, --config FILE     a config file of 'key = value' lines under [section]\n"
           "                        headers, # comments\n"
           "  -s, --seed N          seed (initialisation, data order, augmentation, search)\n"
           "  -o, --out PATH        results file (.h5)\n"
           "  -b, --backend NAME    auto, cpu, ref, cuda, cuda:N\n"
           "  -d, --data-dir DIR    data directory\n"
           "  -g, --genotype TEXT   genotype text, name (DARTS_V1, DARTS_V2, NASNet, AmoebaNet, ENAS,\n"
           "                        ENAS_MACRO), an ENAS arc \"enas: 0 2 0 0 ...\" or a macro\n"
           "                        arc \"enas-macro: 0 3 0 ...\"\n"
           "      --resume FILE     continue the run FILE (killed or failed) from its checkpoint\n"
           "                        FILE.ckpt with the settings it was started with. Only\n"
           "                        --threads N may be added (another thread count changes CPU\n"
           "                        rounding); search may name the run's METHOD, train must give\n"
           "                        the run's --genotype, reproduce takes no NAME. Checkpoints:\n"
           "                        after every epoch and every --checkpoint_every_min minutes\n"
           "                        (darts, random-ws, enas, final training), after every\n"
           "                        child (regevo, nasnet-rl)\n\n"
           "search methods (gpuhours search NAME, or --method NAME):\n");
    for (int i = 0; i < nas_method_count(); i++) {
        const nas_method *m = nas_method_at(i);
        printf("  %-12s %s\n", m->name, m->help);
    }
    printf("\nconfig keys (--KEY VALUE), by config file section:\n");
    const char *prev = "";
    for (int i = 0; i < nas_config_nkeys(); i++) {
        const char *help, *section, *key = nas_config_key(i, &help, &section);
        if (strcmp(section, prev)) printf("  [%s]\n", section);
        prev = section;
        printf("    --%-20s %s\n", key, help);
    }
}

// Presets are NAME.conf in the first of these directories that has it: each directory of
// $GH_PRESET_PATH (colon-separated), ./reproductions, the source tree's reproductions/ as
// recorded at build time, and <prefix>/share/gpuhours/reproductions of `make install`; so an
// installed or out-of-tree binary finds them too. A NAME with '/' or ".conf" is a file path.
int darts_cli_find_preset(const char *name, char *path, size_t len) {
    struct stat sb;
    if (strchr(name, '/') || strstr(name, ".conf")) {
        snprintf(path, len, "%s", name);
        return stat(path, &sb) == 0 ? GH_OK : gh_fail(GH_EIO, "config file %s not found", name);
    }
    char dirs[4096] = "";
    const char *env = getenv("GH_PRESET_PATH");
    snprintf(dirs, sizeof dirs, "%s%s%s:%s:%s", env ? env : "", env && *env ? ":" : "",
             "reproductions", GH_SOURCE_DIR "/reproductions", GH_PRESET_INSTALL_DIR);
    for (char *d = strtok(dirs, ":"); d; d = strtok(NULL, ":")) {
        snprintf(path, len, "%s/%s.conf", d, name);
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) return GH_OK;
    }
    return gh_fail(GH_EIO, "preset '%s': no %s.conf in $GH_PRESET_PATH, ./reproductions, %s or "
                   "%s", name, name, GH_SOURCE_DIR "/reproductions", GH_PRESET_INSTALL_DIR);
}

int darts_cli_parse(const char *cmd, const char *usage, int argc, char **argv, nas_config *c) {
    int nk = nas_config_nkeys();
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
        const char *key = nas_config_key(i, NULL, NULL);
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
            print_help(usage);
            rc = 1;
            goto out;
        }
        if (opt == 'p') {
            st = darts_cli_find_preset(optarg, path, sizeof path);
            if (!st) st = nas_config_load(c, path);
        } else if (opt == 'c') {
            st = nas_config_load(c, optarg);
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
            key = nas_config_key(opt - OPT_KEY_BASE, NULL, NULL);
        }
        if (!key || nas_config_set(c, NULL, key, optarg, NULL, 0)) {
            fprintf(stderr, "gpuhours %s: %s\n", cmd, gh_error_get());
            rc = 2;
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "gpuhours %s: unexpected argument '%s' (see --help)\n", cmd, argv[optind]);
        rc = 2;
    }
    if (rc == 0 && c->out[0] && cli_out_path(cmd, "--out", c->out)) rc = 2;
out:
    free(opts);
    return rc;
}

// Echoes the resolved config; opens the ledger (c->out or results/<method>-<dataset>-<time>.h5).
static int open_ledger(const nas_config *c, const char *method, int workers, int argc,
                       char **argv, ledger **l, char *path, size_t len) {
    static const size_t cap = 16384;
    char *text = malloc(cap);
    if (!text) return gh_fail(GH_ENOMEM, "config text: no memory");
    nas_config_print(c, text, cap);
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
                            .gpus = nas_gpus(c), .workers = workers,
                            .budget_s = nas_method_takes_budget(c->method) ? c->budget_s : 0,
                            .precision = c->precision};
    int st = ledger_create(l, path, &info);
    free(text);
    if (!st) printf("# results: %s\n", path);
    fflush(stdout);
    return st;
}

// What a final training trains: a genotype, or an ENAS macro arc ("enas-macro: ...", which
// the genotype key and --genotype also take).
typedef struct {
    int macro;
    genotype g;
    enas_macro_arc m;
} given_arch;

static int resolve_given(const char *text, given_arch *a) {
    memset(a, 0, sizeof *a);
    a->macro = enas_macro_is_text(text);
    return a->macro ? enas_macro_resolve(text, &a->m) : nas_genotype_resolve(text, &a->g);
}

// The final training of a, printing the genotype (or arc) and mean ± sd.
static int run_final(const nas_config *c, const nas_data *d, ledger *l, const nas_ckpt *ck,
                     const given_arch *a) {
    double mean, sd;
    char text[ENAS_MACRO_TEXT_MAX > 2048 ? ENAS_MACRO_TEXT_MAX : 2048];
    if (a->macro)
        enas_macro_arch_text(&a->m, text, sizeof text);
    else
        genotype_print(&a->g, text, sizeof text);
    printf("final training of genotype = %s\n", text);
    int st = a->macro ? nas_final_run_macro(c, d, l, ck, &a->m, &mean, &sd)
                      : nas_final_run(c, d, l, ck, &a->g, &mean, &sd);
    if (!st) printf("test accuracy %.2f%% ± %.2f\n", 100 * mean, 100 * sd);
    return st;
}

// The work of one run inside its results file: the final training of `given`, or a search; a
// run resumed in its final phase (ck->from) continues the final training.
static int run_in(const nas_config *c, darts_cli_what what, const given_arch *given,
                  const nas_data *d, ledger *l, const nas_ckpt *ck) {
    int st, final_phase = ck->from && ck->phase == NAS_DO_FINAL;
    given_arch g;
    char text[ENAS_MACRO_TEXT_MAX > 2048 ? ENAS_MACRO_TEXT_MAX : 2048];
    if (given) {
        // the text as given (a name resolved to its text; an ENAS arc to the genotype's; a
        // macro arc in its canonical spacing)
        const char *named = genotype_named(c->genotype), *t = named ? named : c->genotype;
        if (given->macro) {
            enas_macro_arch_text(&given->m, text, sizeof text);
            t = text;
        } else if (!named && strstr(c->genotype, "enas:")) {
            genotype_print(&given->g, text, sizeof text);
            t = text;
        }
        // rank 0 alone holds the ledger (the other ranks of a data-parallel run have none)
        if (!final_phase && l && (st = ledger_put_text(l, "genotype", t))) return st;
        return run_final(c, d, l, ck, given);
    }
    if (final_phase) {   // the search finished before the checkpoint
        if ((st = resolve_given(ck->genotype, &g))) return st;
        return run_final(c, d, l, ck, &g);
    }
    double t0 = gh_wall_seconds();
    const nas_method *m = nas_method_find(c->method);
    memset(&g, 0, sizeof g);
    g.macro = m && m->macro;
    if (g.macro) {
        if ((st = nas_search_run_macro(c, d, l, ck, &g.m))) return st;
        enas_macro_arch_text(&g.m, text, sizeof text);
    } else {
        if ((st = nas_search_run(c, d, l, ck, &g.g))) return st;
        genotype_print(&g.g, text, sizeof text);
    }
    printf("search done in %.1f s: genotype = %s\n", gh_wall_seconds() - t0, text);
    return what == DARTS_CLI_SEARCH_FINAL ? run_final(c, d, l, ck, &g) : GH_OK;
}

// Runs the work in the open results file l, closes it and prints the cost summary.
static int run_and_close(const char *cmd, const nas_config *c, darts_cli_what what,
                         const given_arch *given, nas_data *d, ledger *l, const nas_ckpt *ck,
                         cost_meter *meter, const char *path) {
    int st = run_in(c, what, given, d, l, ck);
    cost_totals ct = cost_meter_read(meter);
    ct.peak_mem_bytes = cost_peak_rss_bytes();
    int st2 = ledger_close(l, st ? "failed" : "finished");
    nas_data_free(d);
    cost_meter_destroy(meter);
    if (st) {
        if (pg_world()->size > 1)
            fprintf(stderr, "gpuhours %s: rank %d of %d failed\n", cmd, pg_world()->rank,
                    pg_world()->size);
        return cli_fail(cmd, st);
    }
    if (st2) return cli_fail(cmd, st2);
    if (!l) return 0;   // a data-parallel rank > 0: rank 0 writes the file and reports
    // a finished run has nothing left to resume: its checkpoint goes
    char ckpt[1100];
    if (!ledger_ckpt_path(path, ckpt, sizeof ckpt) && unlink(ckpt) < 0 && errno != ENOENT)
        fprintf(stderr, "gpuhours %s: cannot remove the checkpoint %s: %s\n", cmd, ckpt,
                strerror(errno));
    printf("cost: %.1f s wall, %.1f s CPU, %.4f device-hours", ct.wall_s, ct.cpu_s,
           ct.device_s / 3600.0);
    if (ct.energy_j == ct.energy_j) printf(", %.1f kJ GPU energy", ct.energy_j / 1000.0);
    printf(", peak memory %.0f MiB\n", ct.peak_mem_bytes / 1048576.0);
    printf("results: %s\n", path);
    return 0;
}

// Under a launcher with several ranks: DARTS's search and the final training run data parallel
// (the ranks share every global batch); random, regevo and nasnet-rl searches train their
// children on the ranks other than 0 (nas_workers.c; resumed as one process, which trains the
// children in flight again); other methods do not run in a group yet. Ranks > 0 print nothing
// on stdout (rank 0 reports for the group); their errors still go to stderr. *nas_workers: 1
// for a search whose children go to worker ranks.
static int group_check(const char *cmd, const nas_config *c, darts_cli_what what, int resume,
                       int *nas_workers) {
    const pg_info *pg = pg_world();
    *nas_workers = 0;
    if (pg->size == 1) return 0;
    *nas_workers = what == DARTS_CLI_SEARCH && nas_method_runs_workers(c->method);
    if (*nas_workers && resume) {
        if (pg->rank == 0)
            fprintf(stderr, "gpuhours %s: --resume of a %s search runs as one process (the "
                    "children in flight are trained again there); %s started %d\n", cmd,
                    c->method, pg->launcher, pg->size);
        return 2;
    }
    // the methods whose search trains one network data parallel (darts.c, enas.c)
    int dp_method = !strcmp(c->method, "darts") || !strcmp(c->method, "enas") ||
                    !strcmp(c->method, "enas-macro");
    if (!*nas_workers && what != DARTS_CLI_FINAL && !dp_method) {
        if (pg->rank == 0)
            fprintf(stderr, "gpuhours %s: method %s runs as one process; under %s with %d ranks "
                    "darts, enas, enas-macro (and the final training) run data parallel, and "
                    "random, regevo and nasnet-rl searches train their children on the worker "
                    "ranks\n", cmd, c->method, pg->launcher, pg->size);
        return 2;
    }
    if (c->sync_bn && c->micro > 1) {
        if (pg->rank == 0)
            fprintf(stderr, "gpuhours %s: sync_bn = 1 with micro = %d: micro-batches keep batch "
                    "norm per part, synchronized batch norm spans the ranks; set one of them\n",
                    cmd, c->micro);
        return 2;
    }
    if (pg->rank > 0 && !freopen("/dev/null", "w", stdout))
        fprintf(stderr, "gpuhours %s: rank %d: cannot silence stdout\n", cmd, pg->rank);
    return 0;
}

// A precision other than fp32 runs on tensor cores, which only the cuda backend has: refused
// elsewhere before any data is read or file written (never fp32 computed under a tf32 record).
static int precision_check(const char *cmd, const nas_config *c) {
    gh_backend b;
    int dev;
    if (!strcmp(c->precision, "fp32") || gh_backend_parse(c->backend, &b, &dev) ||
        b == GH_BACKEND_CUDA)
        return 0;   // a bad backend is reported where the engine opens
    const char *name = gh_backend_name(b);
    fprintf(stderr, "gpuhours %s: --precision %s needs --backend cuda (backend %s%s%s: its "
            "kernels compute fp32 only; [run] precision = fp32 there)\n", cmd, c->precision,
            c->backend,
            strcmp(c->backend, name) ? " resolves to " : "", strcmp(c->backend, name) ? name : "");
    return 2;
}

int darts_cli_run(const char *cmd, const nas_config *c, darts_cli_what what, int argc,
                  char **argv) {
    if (precision_check(cmd, c)) return 2;
    given_arch given;
    if (what == DARTS_CLI_FINAL) {  // a bad genotype fails before any data is read
        int st = resolve_given(c->genotype, &given);
        if (st) return cli_fail(cmd, st);
    }
    int nas_workers;
    int rc = group_check(cmd, c, what, 0, &nas_workers);
    if (rc) return rc;
    nas_config dp = *c;   // this process's run: data parallel, or one NAS worker's children
    dp.data_parallel = pg_world()->size > 1 && !nas_workers;
    c = &dp;
    cost_meter *meter = cost_meter_create(nas_gpus(c));
    cost_meter_start(meter);
    nas_data d;
    ledger *l = NULL;
    char path[1024] = "";
    const char *method = what == DARTS_CLI_FINAL ? NAS_FINAL_LABEL : nas_method_label(c);
    int st = nas_data_load(&d, c);
    if (!st && nas_workers && pg_world()->rank > 0) {   // a NAS worker: no file, no echo
        st = nas_worker_serve(c, &d);
        nas_data_free(&d);
        cost_meter_destroy(meter);
        return st ? cli_fail(cmd, st) : 0;
    }
    // rank 0 alone writes the results file (and its checkpoints: nothing is recorded without a
    // ledger); the workers of a NAS search are the other ranks, data parallel every rank trains
    if (!st && pg_world()->rank == 0 &&
        (st = open_ledger(c, method, nas_workers ? pg_world()->size - 1 : pg_world()->size,
                          argc, argv, &l, path, sizeof path)))
        nas_data_free(&d);
    if (st) {
        cost_meter_destroy(meter);
        return cli_fail(cmd, st);
    }
    // checkpoints beside the results file, with the config text the run stored
    nas_ckpt ck = {.method = method, .config_text = l ? ledger_attr(l, "config_text") : NULL,
                   .what = what == DARTS_CLI_SEARCH ? NAS_DO_SEARCH
                           : what == DARTS_CLI_FINAL ? NAS_DO_FINAL
                                                     : NAS_DO_SEARCH | NAS_DO_FINAL};
    return run_and_close(cmd, c, what, what == DARTS_CLI_FINAL ? &given : NULL, &d, l, &ck, meter,
                         path);
}

// ---- --resume FILE -------------------------------------------------------------------------------
// What each command resumes: `search` a search, `reproduce` a search with final training (also
// one `train --preset` started), `train --genotype` a final training.
static int resumable_by(const char *cmd, int what) {
    if (!strcmp(cmd, "search")) return what == NAS_DO_SEARCH;
    if (!strcmp(cmd, "reproduce")) return what == (NAS_DO_SEARCH | NAS_DO_FINAL);
    return what == NAS_DO_FINAL;
}

static const char *resumed_with(int what) {
    return what == NAS_DO_SEARCH ? "gpuhours search --resume FILE"
           : what == NAS_DO_FINAL ? "gpuhours train --genotype G --resume FILE"
                                  : "gpuhours reproduce --resume FILE";
}

// The arguments beside --resume: FILE, --threads N, search's METHOD, train's --genotype G.
typedef struct {
    const char *file, *threads, *method, *genotype;
} resume_args;

static int resume_parse(const char *cmd, int argc, char **argv, resume_args *a) {
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], **to = NULL, *val = NULL;
        size_t n = 0;
        if (!strncmp(s, "--resume", n = 8) && (!s[n] || s[n] == '=')) to = &a->file;
        else if (!strncmp(s, "--threads", n = 9) && (!s[n] || s[n] == '=')) to = &a->threads;
        else if (!strcmp(cmd, "train") && !strncmp(s, "--genotype", n = 10) &&
                 (!s[n] || s[n] == '='))
            to = &a->genotype;
        else if (!strcmp(cmd, "train") && !strncmp(s, "-g", n = 2))
            to = &a->genotype, val = s[2] ? s + 2 : NULL;
        else if (!strcmp(cmd, "search") && i == 1 && s[0] != '-') {
            a->method = s;
            continue;
        }
        if (!to) {
            fprintf(stderr, "gpuhours %s: --resume FILE continues the run with the settings it "
                    "was started with: give no '%s' (only --threads N%s may come with it)\n",
                    cmd, s, !strcmp(cmd, "train") ? " and --genotype G" : "");
            return 2;
        }
        if (!val) val = s[n] == '=' ? s + n + 1 : i + 1 < argc ? argv[++i] : NULL;
        if (!val || (to == &a->file && !*val)) {
            fprintf(stderr, "gpuhours %s: option %.*s needs a value\n", cmd, (int)n, s);
            return 2;
        }
        *to = val;
    }
    return 0;
}

int darts_cli_wants_resume(int argc, char **argv) {
    int resume = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 0;   // help first
        resume |= !strncmp(argv[i], "--resume", 8) && (!argv[i][8] || argv[i][8] == '=');
    }
    return resume;
}

// The given genotype (text or name, or a macro arc) is the run's.
static int same_genotype(const char *a, const char *b) {
    given_arch ga, gb;
    if (resolve_given(a, &ga) || resolve_given(b, &gb) || ga.macro != gb.macro) return 0;
    if (ga.macro) return enas_macro_arc_equal(&ga.m, &gb.m);
    char ta[2048], tb[2048];
    genotype_print(&ga.g, ta, sizeof ta);
    genotype_print(&gb.g, tb, sizeof tb);
    return !strcmp(ta, tb);
}

int darts_cli_resume(const char *cmd, int argc, char **argv) {
    resume_args a;
    int rc = resume_parse(cmd, argc, argv, &a);
    if (rc) return rc;
    nas_config c;
    nas_ckpt ck;
    int st = nas_resume_open(a.file, a.method, &c, &ck);
    if (st) return cli_fail(cmd, st);
    rc = 0;
    if (!resumable_by(cmd, ck.what)) {
        fprintf(stderr, "gpuhours %s: %s is a run of %s: resume it with %s\n", cmd, a.file,
                ck.what == NAS_DO_SEARCH ? "gpuhours search"
                : ck.what == NAS_DO_FINAL ? "gpuhours train --genotype"
                                          : "gpuhours reproduce (or train --preset)",
                resumed_with(ck.what));
        rc = 2;
    } else if (!strcmp(cmd, "train") && a.genotype && !same_genotype(a.genotype, c.genotype)) {
        // --genotype may be left out (the run's); given, it must be the run's
        fprintf(stderr, "gpuhours train: --genotype must name the genotype %s trains: %s\n",
                a.file, c.genotype);
        rc = 2;
    } else if (a.threads && nas_config_set(&c, NULL, "threads", a.threads, NULL, 0)) {
        fprintf(stderr, "gpuhours %s: %s\n", cmd, gh_error_get());
        rc = 2;
    }
    if (rc) {
        nas_resume_close(&ck);
        return rc;
    }
    snprintf(c.out, sizeof c.out, "%s", a.file);
    darts_cli_what what = ck.what == NAS_DO_SEARCH ? DARTS_CLI_SEARCH
                          : ck.what == NAS_DO_FINAL ? DARTS_CLI_FINAL
                                                    : DARTS_CLI_SEARCH_FINAL;
    // as group_check decides below (a NAS search's workers refuse --resume there)
    c.data_parallel = pg_world()->size > 1 &&
                      !(what == DARTS_CLI_SEARCH && nas_method_runs_workers(c.method));
    given_arch given;
    if (what == DARTS_CLI_FINAL) st = resolve_given(c.genotype, &given);
    printf("# resuming %s from its checkpoint (%s phase) with its configuration\n%s", a.file,
           ck.phase == NAS_DO_SEARCH ? "search" : "final training", ck.config_text);
    if (a.threads) printf("# threads = %d (given with --resume)\n", c.threads);
    fflush(stdout);
    cost_meter *meter = cost_meter_create(nas_gpus(&c));
    cost_meter_start(meter);
    nas_data d;
    ledger *l = NULL;
    // nothing is written before the data loads: a refusal up to here leaves FILE as it was.
    // Data parallel: every rank read the checkpoint above (read-only); once all have, rank 0
    // alone reopens FILE to write (any number of ranks: batches are global)
    int nas_workers = 0;
    if (!st && (rc = group_check(cmd, &c, what, 1, &nas_workers))) {
        cost_meter_destroy(meter);
        nas_resume_close(&ck);
        return rc;
    }
    if (!st && pg_world()->size > 1) st = pg_barrier();
    if (!st && !(st = nas_data_load(&d, &c)) && pg_world()->rank == 0) {
        if ((st = ledger_resume_from(&l, a.file, ck.from)) ||
            (st = ledger_set_session_command(l, argc, argv))) {
            ledger_close(l, "failed");
            nas_data_free(&d);
        }
    }
    if (st) {
        cost_meter_destroy(meter);
        nas_resume_close(&ck);
        return cli_fail(cmd, st);
    }
    rc = run_and_close(cmd, &c, what, what == DARTS_CLI_FINAL ? &given : NULL, &d, l, &ck, meter,
                       a.file);
    nas_resume_close(&ck);
    return rc;
}
