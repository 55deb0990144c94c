// tests/ledger: `gpuhours ls`, `plot` and `report` on generated ledgers: 2 NAS methods x 2
// seeds on cifar10 (trials with multiply-adds, search epochs, phase costs) and 2 tabular
// searchers x 2 seeds on credit-g. Checks that plot writes valid PNGs (signature, > 1 KiB),
// PDFs, .dat and .gp files for every figure; that report writes Markdown and LaTeX holding the
// measured means and the published numbers; that ls lists every run; and that a bad file makes
// each command fail with a message. Usage: test_plot_report [path/to/gpuhours].
#include <sys/stat.h>

#include "check.h"
#include "ledger_fixture.h"

#ifndef GH_BINARY
#error "GH_BINARY (path of the gpuhours binary) must be defined by CMake"
#endif

static void nas_run(const char *path, const char *method, int seed) {
    char *argv[] = {"gpuhours", "search", "--method", (char *)method};
    ledger_run_info info = {.method = method, .dataset = "cifar10", .seed = (uint64_t)seed,
                            .config_text = "[search]\nepochs = 8\n", .argc = 4, .argv = argv,
                            .gpus = 1, .workers = 1};
    ledger *l = NULL;
    if (ledger_create(&l, path, &info)) {
        fprintf(stderr, "%s\n", gh_error_get());
        exit(1);
    }
    gh_rng r;
    gh_rng_seed(&r, (uint64_t)seed, !strcmp(method, "random"));
    int darts = !strcmp(method, "darts-second");
    double search = 0;
    for (int ep = 0; ep < 8; ep++) { // search epochs: accuracy rising with noise
        double acc = 0.55 + 0.04 * ep * (darts ? 1.0 : 0.8) + 0.01 * gh_rng_uniform(&r);
        search += 600;
        ledger_epoch e = {"search", -1, ep, 1.6 - 0.12 * ep, acc - 0.02, 1.7 - 0.1 * ep, acc,
                          0.025, {search, search * 1.1, search, search * 0.8, NAN, 4e9}};
        ledger_append_epoch(l, &e);
    }
    cost_totals sc = {search, search * 1.1, search, search * 0.8, NAN, 4e9};
    ledger_add_phase_cost(l, "search", &sc);
    char arch[256];
    for (int i = 0; i < 12; i++) { // candidate architectures of different sizes
        double madds = 2e8 + 6e7 * i + 1e7 * gh_rng_uniform(&r);
        double acc = 0.80 + 0.10 * (1 - exp(-madds / 4e8)) + 0.02 * gh_rng_uniform(&r) -
                     (darts ? 0 : 0.01);
        snprintf(arch, sizeof arch, "Genotype(normal=[('sep_conv_3x3', %d)])", i);
        ledger_trial t = {i, arch, "", 20, acc + 0.03, acc, acc - 0.005, 0.3, 0.4, 0.41, madds,
                          3e6 + 1e5 * i, {900, 950, 900, 700, NAN, 3e9}, "ok", 0};
        ledger_append_trial(l, &t);
    }
    cost_totals fc = {7200, 7300, 7200, 6500, NAN, 5e9};
    ledger_add_phase_cost(l, "final", &fc);
    for (int ep = 0; ep < 6; ep++) {
        ledger_epoch e = {"final", 11, ep, 1.2 - 0.15 * ep, 0.6 + 0.05 * ep, 1.2 - 0.14 * ep,
                          0.62 + 0.05 * ep, 0.025, {1200.0 * (ep + 1), 0, 0, NAN, NAN, 0}};
        ledger_append_epoch(l, &e);
    }
    ledger_close(l, "finished");
}

static void tabular_run(const char *path, const char *method, int seed) {
    char *argv[] = {"gpuhours", "tune", "--searcher", (char *)method};
    ledger_run_info info = {.method = method, .dataset = "credit-g", .seed = (uint64_t)seed,
                            .config_text = "[tune]\nbudget_s = 60\n", .argc = 4, .argv = argv,
                            .workers = 1};
    ledger *l = NULL;
    if (ledger_create(&l, path, &info)) {
        fprintf(stderr, "%s\n", gh_error_get());
        exit(1);
    }
    gh_rng r;
    gh_rng_seed(&r, (uint64_t)seed, 10 + !strcmp(method, "cfo"));
    int cfo = !strcmp(method, "cfo");
    for (int i = 0; i < 40; i++) {
        double loss = 0.25 + 0.3 * exp(-(double)i / (cfo ? 6 : 15)) + 0.05 * gh_rng_uniform(&r);
        char cfg[128];
        snprintf(cfg, sizeof cfg, "{\"n_estimators\": %d, \"learning_rate\": %.3f}", 4 + i,
                 0.1 + 0.01 * i);
        ledger_trial t = {i, cfg, i % 2 ? "xgboost" : "rf", 1000, NAN, 1 - loss, NAN, NAN, loss,
                          NAN, NAN, NAN, {0.05 * (i + 1), 0.05 * (i + 1), 0, NAN, NAN, 2e8},
                          "ok", 0};
        ledger_append_trial(l, &t);
    }
    ledger_close(l, "finished");
}

static long file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

static int starts_with(const char *path, const void *magic, size_t n) {
    unsigned char buf[16] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t got = fread(buf, 1, n, f);
    fclose(f);
    return got == n && !memcmp(buf, magic, n);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = calloc(1, (size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) b[0] = 0;
    fclose(f);
    return b;
}

int main(int argc, char **argv) {
    const char *bin = argc > 1 ? argv[1] : GH_BINARY;
    if (access(bin, X_OK)) {
        fprintf(stderr, "test_plot_report: no gpuhours binary at %s\n", bin);
        return 1;
    }
    if (system("command -v gnuplot >/dev/null 2>&1"))
        check_skip("test_plot_report", "gnuplot is not installed");
    char dir[64], res[128], cmd[2048], p[512];
    fixture_tmpdir(dir, sizeof dir, "plot");
    snprintf(res, sizeof res, "%s/results", dir);
    const char *nas[] = {"darts-second", "random"}, *tab[] = {"cfo", "random-hpo"};
    for (int m = 0; m < 2; m++)
        for (int s = 1; s <= 2; s++) {
            snprintf(p, sizeof p, "%s/%s-cifar10-s%d.h5", res, nas[m], s);
            nas_run(p, nas[m], s);
            snprintf(p, sizeof p, "%s/%s-credit-g-s%d.h5", res, tab[m], s);
            tabular_run(p, tab[m], s);
        }

    // ls: a header and one line per run
    snprintf(cmd, sizeof cmd, "'%s' ls '%s' > '%s/ls.txt'", bin, res, dir);
    CHECK(system(cmd) == 0);
    snprintf(p, sizeof p, "%s/ls.txt", dir);
    char *ls = slurp(p);
    int lines = 0;
    for (char *c = ls; c && *c; c++) lines += *c == '\n';
    CHECK_MSG(lines == 9, "ls printed %d lines", lines);
    CHECK(ls && strstr(ls, "darts-second") && strstr(ls, "finished") && strstr(ls, "credit-g"));
    printf("%s", ls ? ls : "");
    free(ls);
    // ls's workers and budget columns: a run of 3 worker processes given 45 s, apart from the
    // others (the report compares those)
    {
        char one[160];
        snprintf(one, sizeof one, "%s/w3.h5", dir);
        char *argv3[] = {"gpuhours", "search", "regevo"};
        ledger_run_info info = {.method = "regevo", .dataset = "cifar10", .seed = 1,
                                .config_text = "", .argc = 3, .argv = argv3, .workers = 3,
                                .budget_s = 45};
        ledger *l = NULL;
        CHECK_OK(ledger_create(&l, one, &info));
        ledger_close(l, "finished");
        snprintf(cmd, sizeof cmd, "'%s' ls '%s' > '%s/ls3.txt'", bin, one, dir);
        CHECK(system(cmd) == 0);
        snprintf(p, sizeof p, "%s/ls3.txt", dir);
        char *l3 = slurp(p), *row = l3 ? strchr(l3, '\n') : NULL;
        // columns: file method dataset seed status trials workers acc GPU-h wall-h budget-s
        char col[11][64];
        int nc = row ? sscanf(row + 1, "%63s %63s %63s %63s %63s %63s %63s %63s %63s %63s %63s",
                              col[0], col[1], col[2], col[3], col[4], col[5], col[6], col[7],
                              col[8], col[9], col[10])
                     : 0;
        CHECK_MSG(l3 && strstr(l3, "workers") && strstr(l3, "budget-s"), "ls header: %s", l3);
        CHECK_MSG(nc == 11 && !strcmp(col[6], "3") && !strcmp(col[10], "45"),
                  "ls row (workers 3, budget 45 s expected): %s", row ? row : "(none)");
        free(l3);
    }

    // plot
    snprintf(cmd, sizeof cmd, "'%s' plot -o '%s/plots' -p '%s/reproductions/published.tsv' '%s'",
             bin, dir, GH_SOURCE_DIR, res);
    CHECK(system(cmd) == 0);
    const char *figs[] = {"pareto_cifar10", "anytime_cifar10", "curves_cifar10",
                          "tabular_credit-g", "anytime_credit-g", "search_cost"};
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    for (size_t i = 0; i < sizeof figs / sizeof *figs; i++) {
        snprintf(p, sizeof p, "%s/plots/%s.png", dir, figs[i]);
        CHECK_MSG(starts_with(p, png_sig, 8) && file_size(p) > 1024, "%s: not a PNG > 1 KiB "
                  "(%ld bytes)", p, file_size(p));
        snprintf(p, sizeof p, "%s/plots/%s.pdf", dir, figs[i]);
        CHECK_MSG(starts_with(p, "%PDF", 4) && file_size(p) > 1024, "%s: not a PDF", p);
        snprintf(p, sizeof p, "%s/plots/%s.dat", dir, figs[i]);
        CHECK_MSG(file_size(p) > 0, "%s missing", p);
        snprintf(p, sizeof p, "%s/plots/%s.gp", dir, figs[i]);
        CHECK_MSG(file_size(p) > 0, "%s missing", p);
    }
    snprintf(p, sizeof p, "%s/plots/search_cost.dat", dir);
    char *sc = slurp(p);
    CHECK_MSG(sc && strstr(sc, "\"darts-second (cifar10)\" 1.3333333 96"), "search_cost.dat: %s", sc ? sc : "(missing)");
    // a published cost appears only beside a run of the same method on the same dataset
    CHECK_MSG(sc && strstr(sc, "\"cfo (credit-g)\" 0.011388889 nan"), "search_cost.dat: %s", sc ? sc : "(missing)");
    free(sc);

    // report: Markdown on stdout, LaTeX in a file, both with measured and published numbers
    snprintf(cmd, sizeof cmd, "'%s' report -p '%s/reproductions/published.tsv' -o '%s/t.tex' "
             "-k 4 '%s' > '%s/report.md'", bin, GH_SOURCE_DIR, dir, res, dir);
    CHECK(system(cmd) == 0);
    snprintf(p, sizeof p, "%s/report.md", dir);
    char *md = slurp(p);
    snprintf(p, sizeof p, "%s/t.tex", dir);
    char *tx = slurp(p);
    CHECK(md && strstr(md, "| darts-second | cifar10 |"));
    CHECK(md && strstr(md, "2.76 ± 0.09"));  // DARTS (2nd order) published error
    CHECK(md && strstr(md, "3.29 ± 0.15"));  // random-search baseline
    CHECK(md && strstr(md, "| 96 |"));       // 4 GPU-days as GPU-hours
    CHECK(md && strstr(md, "nasnet-a") && strstr(md, "2000") && strstr(md, "enas"));
    CHECK(md && strstr(md, "| cfo | credit-g |") && strstr(md, "(v)"));
    // end-to-end: k=4 x 1.333 h search + 2 h final = 7.33 h
    CHECK_MSG(md && strstr(md, "| 7.33 |"), "end-to-end cost missing");
    CHECK(tx && strstr(tx, "\\toprule") && strstr(tx, "\\midrule") && strstr(tx, "\\bottomrule"));
    CHECK(tx && strstr(tx, "2.76 $\\pm$ 0.09") && strstr(tx, "darts-second"));
    CHECK(tx && strstr(tx, "Liu et al. 2019"));
    if (md) printf("%s", md);
    free(md);
    free(tx);

    // a bad file: each command fails with a message naming it
    snprintf(p, sizeof p, "%s/bad.h5", dir);
    FILE *f = fopen(p, "w");
    fputs("not hdf5\n", f);
    fclose(f);
    const char *cmds[] = {"ls", "plot -o plots2", "report -o x.tex"};
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s bad.h5 > /dev/null 2> err.txt", dir, bin,
                 cmds[i]);
        CHECK_MSG(system(cmd) != 0, "gpuhours %s accepted a bad file", cmds[i]);
        snprintf(p, sizeof p, "%s/err.txt", dir);
        char *err = slurp(p);
        CHECK_MSG(err && strstr(err, "bad.h5") && strstr(err, "not an HDF5 file"),
                  "gpuhours %s: %s", cmds[i], err);
        free(err);
    }
    // a bad file among good ones: the three commands agree: skip it with a warning naming it,
    // show the others, exit non-zero at the end
    snprintf(cmd, sizeof cmd, "cp '%s/bad.h5' '%s/bad.h5'", dir, res);
    CHECK(system(cmd) == 0);
    const char *mixed[] = {"ls", "plot -o", "report -o"};
    const char *outs[] = {"", "plots3", "y.tex"};
    const char *shows[] = {"darts-second", "runs, 2 datasets", "| darts-second | cifar10 |"};
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "'%s' %s %s%s%s '%s' > '%s/out.txt' 2> '%s/err.txt'", bin,
                 mixed[i], *outs[i] ? dir : "", *outs[i] ? "/" : "", outs[i], res, dir, dir);
        CHECK_MSG(system(cmd) != 0, "gpuhours %s: exit 0 with a bad file among good ones",
                  mixed[i]);
        snprintf(p, sizeof p, "%s/err.txt", dir);
        char *err = slurp(p);
        snprintf(p, sizeof p, "%s/out.txt", dir);
        char *out = slurp(p);
        CHECK_MSG(err && strstr(err, "skipping") && strstr(err, "bad.h5") &&
                  strstr(err, "1 of 9 run files could not be read"), "gpuhours %s: %s", mixed[i],
                  err);
        CHECK_MSG(out && strstr(out, shows[i]), "gpuhours %s did not show the good runs: %s",
                  mixed[i], out);
        free(err);
        free(out);
    }
    snprintf(p, sizeof p, "%s/plots3/pareto_cifar10.png", dir);
    CHECK_MSG(file_size(p) > 1024, "%s: plot skipped the good runs", p);
    return check_done("test_plot_report");
}
