// cli: the numbers a paper quotes, as LaTeX macros (`gpuhours report --macros FILE`): one
// \newcommand per value, named after the method, the dataset and the quantity
// (\dartsSecondFashionMnistSearchGpuHours), so that the text never types a result by hand.
// Values that cannot be computed print "n/a"; methods that were not run get no macro at all,
// and the paper's \gh{NAME} prints "not run" for them (paper/README.md).
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "report.h"

void report_macro_name(char *out, size_t len, const char *const *parts, int nparts) {
    static const char *digits[] = {"Zero", "One", "Two", "Three", "Four",
                                   "Five", "Six", "Seven", "Eight", "Nine"};
    size_t o = 0;
    int upper = 0;
    for (int p = 0; p < nparts; p++) {
        for (const char *s = parts[p]; *s && o + 8 < len; s++) {
            char c = *s;
            if (c >= '0' && c <= '9') {
                const char *w = digits[c - '0'];
                o += (size_t)snprintf(out + o, len - o, "%s", w);
                if (o == strlen(w)) out[0] = (char)(out[0] - 'A' + 'a');
                upper = 1;
            } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
                if (o == 0)
                    c = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
                else if (upper && c >= 'a' && c <= 'z')
                    c = (char)(c - 'a' + 'A');
                out[o++] = c;
                upper = 0;
            } else {
                upper = 1;
            }
        }
        upper = 1;
    }
    out[o] = 0;
}

typedef struct {
    FILE *f;
    int count;
} mwriter;

static void put_text(mwriter *w, const char *a, const char *b, const char *what,
                     const char *text) {
    char name[256], esc[1024];
    const char *parts[3] = {a, b ? b : "", what};
    report_macro_name(name, sizeof name, parts, 3);
    fprintf(w->f, "\\newcommand{\\%s}{%s}\n", name, report_tex(text, esc, sizeof esc));
    w->count++;
}

// A number: fmt when finite, "n/a" otherwise.
static void put_num(mwriter *w, const char *a, const char *b, const char *what, const char *fmt,
                    double v) {
    char t[64];
    if (isfinite(v))
        snprintf(t, sizeof t, fmt, v);
    else
        snprintf(t, sizeof t, "n/a");
    put_text(w, a, b, what, t);
}

// Distinct values of a run field (method or dataset), optionally within one dataset.
static int distinct(const report_run *r, int n, int want_dataset, const char *dataset,
                    int tabular, const char *out[], int max) {
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (dataset && strcmp(r[i].dataset, dataset)) continue;
        if (tabular >= 0 && r[i].tabular != tabular) continue;
        const char *v = want_dataset ? r[i].dataset : r[i].method;
        int j;
        for (j = 0; j < k; j++)
            if (!strcmp(out[j], v)) break;
        if (j == k && k < max) out[k++] = v;
    }
    return k;
}

// The dataset with the most runs of a kind (NAS or tabular); NULL when there is none.
static const char *primary(const report_run *r, int n, int tabular) {
    const char *ds[64];
    int nd = distinct(r, n, 1, NULL, tabular, ds, 64), best = 0;
    const char *p = NULL;
    for (int j = 0; j < nd; j++) {
        int c = 0;
        for (int i = 0; i < n; i++) c += !strcmp(r[i].dataset, ds[j]);
        if (c > best) best = c, p = ds[j];
    }
    return p;
}

typedef struct {
    int n, n_test, seeds;
    double err, err_sd, search_s, final_s, select_s, madds, params, budget_s;
} group_stats;

static group_stats stats(const report_run *r, int n, const char *method, const char *dataset) {
    group_stats g = {0};
    double e[512], s = 0, f = 0, sel = 0, ma = 0, pa = 0;
    int ne = 0, nma = 0, npa = 0;
    g.budget_s = NAN;
    for (int i = 0; i < n; i++) {
        if (strcmp(r[i].method, method) || strcmp(r[i].dataset, dataset)) continue;
        g.n++;
        s += r[i].search_s;
        f += r[i].final_s;
        sel += r[i].select_s;
        if (isfinite(r[i].acc) && ne < 512) e[ne++] = 100 * (1 - r[i].acc);
        g.n_test += r[i].acc_is_test;
        if (isfinite(r[i].madds)) ma += r[i].madds, nma++;
        if (isfinite(r[i].params)) pa += r[i].params, npa++;
        if (isfinite(r[i].budget_s)) g.budget_s = r[i].budget_s;
    }
    g.search_s = g.n ? s / g.n : NAN;
    g.final_s = g.n ? f / g.n : NAN;
    g.select_s = g.n ? sel / g.n : NAN;
    g.madds = nma ? ma / nma / 1e6 : NAN;
    g.params = npa ? pa / npa / 1e6 : NAN;
    double m = 0;
    for (int i = 0; i < ne; i++) m += e[i];
    g.err = ne ? m / ne : NAN;
    double v = 0;
    for (int i = 0; i < ne; i++) v += (e[i] - g.err) * (e[i] - g.err);
    g.err_sd = ne > 1 ? sqrt(v / (ne - 1)) : NAN;
    g.seeds = ne;
    return g;
}

// The macros of one method on one dataset, under prefix (a, b).
static void put_group(mwriter *w, const char *a, const char *b, const group_stats *g, double k,
                      double pub_err, double pub_search_h) {
    put_num(w, a, b, "Runs", "%.0f", g->n);
    put_num(w, a, b, "Error", "%.2f", g->err);
    put_num(w, a, b, "ErrorSd", "%.2f", g->err_sd);
    put_text(w, a, b, "ErrorKind", g->n_test ? "test" : "validation");
    put_num(w, a, b, "SearchSeconds", "%.1f", g->search_s);
    put_num(w, a, b, "SearchGpuHours", "%.3g", g->search_s / 3600);
    put_num(w, a, b, "FinalSeconds", "%.1f", g->final_s);
    put_num(w, a, b, "FinalGpuHours", "%.3g", g->final_s / 3600);
    put_num(w, a, b, "EndToEndGpuHours", "%.3g",
            (k * (g->search_s + g->select_s) + g->final_s) / 3600);
    put_num(w, a, b, "BudgetSeconds", "%g", g->budget_s);
    put_num(w, a, b, "MaddsM", "%.2f", g->madds);
    put_num(w, a, b, "ParamsM", "%.3f", g->params);
    put_num(w, a, b, "PubError", "%.2f", pub_err);
    put_num(w, a, b, "PubSearchGpuHours", "%.4g", pub_search_h);
    put_num(w, a, b, "PubOverMeasured", "%.3g", pub_search_h / (g->search_s / 3600));
}

static void put_tabular(mwriter *w, const char *a, const char *b, const report_run *r, int n,
                        const char *dataset, const char *method) {
    double f10 = report_fraction_of_optimum(r, n, dataset, method, 0.1);
    double f100 = report_fraction_of_optimum(r, n, dataset, method, 1.0);
    put_num(w, a, b, "FracAtTenth", "%.1f", 100 * f10);
    put_num(w, a, b, "FracAtFull", "%.1f", 100 * f100);
    put_text(w, a, b, "Claim", !isfinite(f10) ? "n/a" : f10 >= 0.9 ? "holds" : "does not hold");
    double best = INFINITY;
    int trials = 0, runs = 0;
    for (int i = 0; i < n; i++)
        if (!strcmp(r[i].dataset, dataset) && !strcmp(r[i].method, method)) {
            runs++;
            trials += r[i].nt;
            for (int k = 0; k < r[i].nt; k++) best = fmin(best, r[i].loss[k]);
        }
    put_num(w, a, b, "BestLoss", "%.4f", isfinite(best) ? best : NAN);
    put_num(w, a, b, "TrialsPerRun", "%.0f", runs ? (double)trials / runs : NAN);
}

int report_write_macros(const char *path, const report_run *runs, int n, double k,
                        report_pub_fn pub, void *pub_ctx) {
    FILE *f = fopen(path, "w");
    if (!f) return gh_fail(GH_EIO, "%s: cannot write: %s", path, strerror(errno));
    mwriter w = {f, 0};
    fprintf(f, "%% gpuhours report --macros: every number the paper quotes, from %d run files."
               "\n%% Generated; do not edit. Names: paper/README.md.\n", n);
    const char *ds[64], *me[64];
    int nd = distinct(runs, n, 1, NULL, -1, ds, 64), nme = distinct(runs, n, 0, NULL, -1, me, 64);
    int smoke = 0, nas = 0, tab = 0;
    for (int i = 0; i < n; i++) smoke += runs[i].smoke, nas += !runs[i].tabular,
                                tab += runs[i].tabular;
    put_num(&w, "gh", NULL, "Runs", "%.0f", n);
    put_num(&w, "gh", NULL, "NasRuns", "%.0f", nas);
    put_num(&w, "gh", NULL, "TabRuns", "%.0f", tab);
    put_num(&w, "gh", NULL, "Methods", "%.0f", nme);
    put_num(&w, "gh", NULL, "Datasets", "%.0f", nd);
    put_num(&w, "gh", NULL, "SmokeRuns", "%.0f", smoke);
    put_num(&w, "gh", NULL, "SearchRepeats", "%g", k);
    put_num(&w, "gh", NULL, "SmokeTuneSeconds", "%g", REPORT_SMOKE_TUNE_S);
    put_text(&w, "gh", NULL, "Scale", smoke == n ? "smoke-scale" : smoke ? "partly smoke-scale"
                                                                      : "full-scale");
    // \ifghsmoke: true when any run is smoke-scale, for the paper's warning.
    fprintf(f, "\\newif\\ifghsmoke\\ghsmoke%s\n", smoke ? "true" : "false");
    // Provenance in one line each: hosts, devices, commits, versions.
    char hosts[512] = "", devs[512] = "", commits[512] = "", presets[512] = "";
    for (int i = 0; i < n; i++) {
        struct { char *buf; const char *v; } l[4] = {{hosts, runs[i].host},
                                                     {devs, runs[i].devices},
                                                     {commits, runs[i].commit},
                                                     {presets, runs[i].preset}};
        for (int j = 0; j < 4; j++) {
            char v[64];
            snprintf(v, sizeof v, "%.*s", j == 2 ? 12 : 63, l[j].v);
            if (!v[0] || strstr(l[j].buf, v)) continue;
            size_t o = strlen(l[j].buf);
            snprintf(l[j].buf + o, 512 - o, "%s%s", o ? ", " : "", v);
        }
    }
    put_text(&w, "gh", NULL, "Hosts", hosts);
    put_text(&w, "gh", NULL, "Devices", devs);
    put_text(&w, "gh", NULL, "Commits", commits);
    put_text(&w, "gh", NULL, "Presets", presets[0] ? presets : "none");
    put_text(&w, "gh", NULL, "Version", n ? runs[0].version : "");

    for (int d = 0; d < nd; d++) {
        const char *m[64];
        int nm = distinct(runs, n, 0, ds[d], -1, m, 64);
        for (int j = 0; j < nm; j++) {
            group_stats g = stats(runs, n, m[j], ds[d]);
            double pe = pub ? pub(pub_ctx, m[j], ds[d], REPORT_PUB_ERROR) : NAN;
            double ps = pub ? pub(pub_ctx, m[j], ds[d], REPORT_PUB_SEARCH_H) : NAN;
            put_group(&w, m[j], ds[d], &g, k, pe, ps);
        }
    }
    // The primary NAS dataset (most runs): its methods without the dataset in the name
    // (\dartsSecondSearchGpuHours), and each method's published CIFAR-10 numbers beside.
    const char *pn = primary(runs, n, 0);
    put_text(&w, "gh", NULL, "NasDataset", pn ? pn : "none");
    if (pn) {
        const char *m[64];
        int nm = distinct(runs, n, 0, pn, 0, m, 64);
        for (int j = 0; j < nm; j++) {
            group_stats g = stats(runs, n, m[j], pn);
            double pe = pub ? pub(pub_ctx, m[j], "cifar10", REPORT_PUB_ERROR) : NAN;
            double ps = pub ? pub(pub_ctx, m[j], "cifar10", REPORT_PUB_SEARCH_H) : NAN;
            put_group(&w, m[j], NULL, &g, k, pe, ps);
        }
        // the published CIFAR-10 numbers of the NAS methods not run here, so that the text can
        // quote a paper whatever subset of methods the results hold
        static const char *const known[] = {"darts-second", "darts-first", "random-ws", "random",
                                            "enas",         "enas-macro",  "regevo",    "nasnet-rl"};
        for (size_t q = 0; q < sizeof known / sizeof known[0]; q++) {
            int ran = 0;
            for (int j = 0; j < nm; j++) ran |= !strcmp(m[j], known[q]);
            if (ran || !pub) continue;
            put_num(&w, known[q], NULL, "PubError", "%.2f",
                    pub(pub_ctx, known[q], "cifar10", REPORT_PUB_ERROR));
            put_num(&w, known[q], NULL, "PubSearchGpuHours", "%.4g",
                    pub(pub_ctx, known[q], "cifar10", REPORT_PUB_SEARCH_H));
        }
    }
    // Tabular: every dataset's searchers (\cfoCreditGFracAtTenth), and the primary tabular
    // dataset's without the dataset in the name, prefixed "tab" (\tabCfoFracAtTenth).
    for (int d = 0; d < nd; d++) {
        const char *m[64];
        int nm = distinct(runs, n, 0, ds[d], 1, m, 64);
        for (int j = 0; j < nm; j++) put_tabular(&w, m[j], ds[d], runs, n, ds[d], m[j]);
    }
    const char *pt = primary(runs, n, 1);
    put_text(&w, "gh", NULL, "TabDataset", pt ? pt : "none");
    if (pt) {
        const char *m[64];
        int nm = distinct(runs, n, 0, pt, 1, m, 64);
        char metric[32] = "";
        for (int i = 0; i < n; i++)
            if (!strcmp(runs[i].dataset, pt) && runs[i].tabular)
                snprintf(metric, sizeof metric, "%s", runs[i].metric);
        put_text(&w, "gh", NULL, "TabMetric", metric);
        for (int j = 0; j < nm; j++) {
            char a[80];
            snprintf(a, sizeof a, "tab-%s", m[j]);
            put_tabular(&w, a, NULL, runs, n, pt, m[j]);
            group_stats g = stats(runs, n, m[j], pt);
            put_num(&w, a, NULL, "Runs", "%.0f", g.n);
            put_num(&w, a, NULL, "BudgetSeconds", "%g", g.budget_s);
            put_num(&w, a, NULL, "SearchSeconds", "%.1f", g.search_s);
        }
    }
    if (fclose(f)) return gh_fail(GH_EIO, "%s: write failed: %s", path, strerror(errno));
    fprintf(stderr, "gpuhours report: %d macros in %s\n", w.count + 1, path);
    return GH_OK;
}
