// cli: the best-practice checklist of a comparison (Lindauer & Hutter 2020, "Best Practices
// for Scientific Research on Neural Architecture Search", JMLR 21(243)), computed from what
// the run files record: did the methods compared on a dataset share the search space, the
// training pipeline, the data split, the budget and the hardware; how many seeds; are the code
// version and the seeds recorded; was the test set used once per final model only.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

const char *const report_checklist_items[CHK_N] = {
    "same search space",   "same training pipeline", "same data split",
    "same budget",         "same hardware",          "seeds per method (>= 2)",
    "code version recorded", "seeds recorded",       "test set used once per final model",
};

// Which settings each "same ..." item compares. A key ending in '.' stands for its whole
// section. NAS runs use the sectioned keys, tabular runs (tune's flat config) the plain ones.
typedef struct {
    const char *nas[8], *nas_skip[4], *tab[8];
} chk_keys;
static const chk_keys keys_space = {{"search.space", "enas.enas_num_cells"}, {0},
                                    {"learners", "space", "task"}};
static const chk_keys keys_pipeline = {{"final.", "run.deterministic", "run.backend"},
                                       {"final.genotype", "final.seeds"},
                                       {"metric", "retrain"}};
// A tabular split is also drawn from the seed: runs of different methods compare with the
// same splits when their seed sets are equal (checked beside the keys).
static const chk_keys keys_split = {{"data."}, {"data.data_dir"},
                                    {"data", "target", "folds", "holdout"}};

static int key_wanted(const char *key, const char *const *want, const char *const *skip) {
    for (int i = 0; skip && i < 4 && skip[i]; i++)
        if (!strcmp(key, skip[i])) return 0;
    for (int i = 0; i < 8 && want[i]; i++) {
        size_t n = strlen(want[i]);
        if (want[i][n - 1] == '.' ? !strncmp(key, want[i], n) : !strcmp(key, want[i])) return 1;
    }
    return 0;
}

typedef struct {
    const report_run *runs;
    const int *idx;
    int n;
    const char *const *want, *const *skip;
    char *detail;
    size_t len;
    int differ;
} cmp_ctx;

// One key of the first run: compared with every other run's value; the first difference is
// described (key, and the two methods' values).
static int cmp_key(void *vctx, const char *key, char *value) {
    (void)value;   // each run's own value is looked up by key: the first run's included
    cmp_ctx *c = vctx;
    if (c->differ || !key_wanted(key, c->want, c->skip)) return 0;
    char a[256], b[256];
    const report_run *r0 = &c->runs[c->idx[0]];
    const char *v0 = report_config_get(r0->config, key, a, sizeof a);
    for (int i = 1; i < c->n; i++) {
        const report_run *r = &c->runs[c->idx[i]];
        const char *v = report_config_get(r->config, key, b, sizeof b);
        if (v && v0 && !strcmp(v, v0)) continue;
        snprintf(c->detail, c->len, "%s: %s (%s seed %s) vs %s (%s seed %s)", key,
                 v0 ? v0 : "unset", r0->method, r0->seed, v ? v : "unset", r->method, r->seed);
        c->differ = 1;
        return 0;
    }
    return 0;
}

static const char *same_settings(const report_run *runs, const int *idx, int n, int tabular,
                                 const chk_keys *k, char *detail, size_t len) {
    cmp_ctx c = {runs, idx, n, tabular ? k->tab : k->nas, tabular ? NULL : k->nas_skip, detail,
                 len, 0};
    // Each run's keys in turn against all the others, so that a key one run lacks is found.
    int order[512];
    int m = n < 512 ? n : 512;
    for (int i = 0; i < m && !c.differ; i++) {
        order[0] = idx[i];
        for (int j = 0, o = 1; j < m; j++)
            if (j != i) order[o++] = idx[j];
        cmp_ctx ci = c;
        ci.idx = order;
        ci.n = m;
        report_config_each(runs[order[0]].config, cmp_key, &ci);
        c.differ = ci.differ;
    }
    if (!c.differ) {
        int nk = 0;
        for (int i = 0; i < 8 && c.want[i]; i++) nk++;
        snprintf(detail, len, "identical settings (%s%s)", c.want[0], nk > 1 ? ", ..." : "");
    }
    return c.differ ? "no" : "yes";
}

// Distinct methods of the selected runs, in order of first appearance.
static int methods_of(const report_run *runs, const int *idx, int n, const char *m[], int max) {
    int k = 0;
    for (int i = 0; i < n; i++) {
        int j;
        for (j = 0; j < k; j++)
            if (!strcmp(m[j], runs[idx[i]].method)) break;
        if (j == k && k < max) m[k++] = runs[idx[i]].method;
    }
    return k;
}

static int seed_count(const report_run *runs, const int *idx, int n, const char *method,
                      char seeds[][32], int max) {
    int k = 0;
    for (int i = 0; i < n; i++) {
        const report_run *r = &runs[idx[i]];
        if (strcmp(r->method, method)) continue;
        int j;
        for (j = 0; j < k; j++)
            if (!strcmp(seeds[j], r->seed)) break;
        if (j == k && k < max) snprintf(seeds[k++], 32, "%s", r->seed);
    }
    return k;
}

static void append(char *d, size_t len, const char *fmt, const char *a, double x, double y) {
    size_t o = strlen(d);
    if (o + 1 < len) snprintf(d + o, len - o, fmt, a, x, y);
}

void report_checklist_of(const report_run *runs, int n, const char *dataset,
                         report_checklist *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->dataset, sizeof out->dataset, "%s", dataset);
    int idx[512] = {0}, m = 0, tabular = 1;
    for (int i = 0; i < n && m < 512; i++)
        if (!strcmp(runs[i].dataset, dataset)) {
            idx[m++] = i;
            tabular &= runs[i].tabular;
        }
    const char *meth[64] = {0};
    int nm = methods_of(runs, idx, m, meth, 64);
    if (!m) return; // no run on the dataset: every answer stays NULL (never asked for)
    out->nruns = m;
    out->nmethods = nm;
    char (*d)[512] = out->detail;
    const size_t L = sizeof out->detail[0];

    out->answer[CHK_SPACE] = same_settings(runs, idx, m, tabular, &keys_space, d[CHK_SPACE], L);
    out->answer[CHK_PIPELINE] =
        same_settings(runs, idx, m, tabular, &keys_pipeline, d[CHK_PIPELINE], L);
    out->answer[CHK_SPLIT] = same_settings(runs, idx, m, tabular, &keys_split, d[CHK_SPLIT], L);
    if (tabular && !strcmp(out->answer[CHK_SPLIT], "yes")) {
        // the split is drawn from the seed: every method must have run the same seeds
        char s0[64][32], s1[64][32];
        int k0 = seed_count(runs, idx, m, meth[0], s0, 64);
        for (int j = 1; j < nm; j++) {
            int k1 = seed_count(runs, idx, m, meth[j], s1, 64), same = k1 == k0;
            for (int a = 0; same && a < k0; a++) {
                int found = 0;
                for (int b = 0; b < k1; b++) found |= !strcmp(s0[a], s1[b]);
                same = found;
            }
            if (!same) {
                out->answer[CHK_SPLIT] = "no";
                snprintf(d[CHK_SPLIT], L, "splits are drawn from the seed, and %s and %s ran "
                         "different seeds", meth[0], meth[j]);
                break;
            }
        }
        if (!strcmp(out->answer[CHK_SPLIT], "yes"))
            snprintf(d[CHK_SPLIT], L, "same data, target, folds and holdout, and the same "
                     "seeds (which draw the split) for every method");
    }

    // Budget: what each method was given, and what it used (mean search cost over its runs).
    // "Same" is the same measured cost within 10% (issue 16: GPU-seconds, or wall seconds on
    // the CPU), with the same given budget.
    double lo = INFINITY, hi = 0, given0 = runs[idx[0]].budget_s;
    int given_differ = 0;
    d[CHK_BUDGET][0] = 0;
    for (int i = 0; i < m; i++) {
        double g = runs[idx[i]].budget_s;
        given_differ |= !(g == given0 || (isnan(g) && isnan(given0)));
    }
    for (int j = 0; j < nm; j++) {
        double s = 0, g = NAN;
        int k = 0;
        for (int i = 0; i < m; i++) {
            const report_run *r = &runs[idx[i]];
            if (strcmp(r->method, meth[j])) continue;
            s += r->search_s;
            g = r->budget_s;
            k++;
        }
        double mean = k ? s / k : NAN;
        lo = fmin(lo, mean);
        hi = fmax(hi, mean);
        char given[48];
        if (isnan(g))
            snprintf(given, sizeof given, "no budget given");
        else
            snprintf(given, sizeof given, "given %g s", g);
        size_t o = strlen(d[CHK_BUDGET]);
        snprintf(d[CHK_BUDGET] + o, L - o, "%s%s %s, used %.3g s", j ? "; " : "", meth[j], given,
                 mean);
    }
    int used_same = lo > 0 && hi <= 1.1 * lo;
    out->answer[CHK_BUDGET] = !given_differ && used_same ? "yes" : "no";
    if (given_differ) {
        size_t o = strlen(d[CHK_BUDGET]);
        snprintf(d[CHK_BUDGET] + o, L - o, " (given budgets differ)");
    } else if (!used_same) {
        size_t o = strlen(d[CHK_BUDGET]);
        snprintf(d[CHK_BUDGET] + o, L - o, " (used costs differ by more than 10%%)");
    }

    // Hardware: host, devices, GPUs held, threads and workers.
    out->answer[CHK_HARDWARE] = "yes";
    {
        const report_run *a = &runs[idx[0]];
        char ta[32], tb[32];
        const char *th0 = report_config_get(a->config, "run.threads", ta, sizeof ta);
        snprintf(d[CHK_HARDWARE], L, "%.60s, %.200s, %d GPU%s held, %d worker%s", a->host,
                 a->devices,
                 a->gpus, a->gpus == 1 ? "" : "s", a->workers, a->workers == 1 ? "" : "s");
        for (int i = 1; i < m; i++) {
            const report_run *r = &runs[idx[i]];
            const char *th = report_config_get(r->config, "run.threads", tb, sizeof tb);
            if (strcmp(r->host, a->host) || strcmp(r->devices, a->devices) || r->gpus != a->gpus ||
                r->workers != a->workers || (th0 && th && strcmp(th0, th))) {
                out->answer[CHK_HARDWARE] = "no";
                snprintf(d[CHK_HARDWARE], L,
                         "%.40s: %.60s, %.100s, %d GPUs; %.40s: %.60s, %.100s, %d GPUs",
                         a->method, a->host, a->devices, a->gpus, r->method, r->host, r->devices,
                         r->gpus);
                break;
            }
        }
    }

    // Seeds per method.
    int smin = 1 << 30;
    d[CHK_SEEDS][0] = 0;
    for (int j = 0; j < nm; j++) {
        char s[64][32];
        int k = seed_count(runs, idx, m, meth[j], s, 64);
        smin = k < smin ? k : smin;
        append(d[CHK_SEEDS], L, j ? "; %s %g" : "%s %g", meth[j], k, 0);
    }
    out->answer[CHK_SEEDS] = smin >= 2 ? "yes" : "no";

    // Code version: every run names its commit; how many commits and dirty trees.
    int unknown = 0, dirty = 0, ncommit = 0;
    char commits[8][48];
    for (int i = 0; i < m; i++) {
        const report_run *r = &runs[idx[i]];
        if (!r->commit[0] || !strcmp(r->commit, "unknown")) {
            unknown++;
            continue;
        }
        dirty += !strcmp(r->dirty, "true");
        int j;
        for (j = 0; j < ncommit; j++)
            if (!strcmp(commits[j], r->commit)) break;
        if (j == ncommit && ncommit < 8) snprintf(commits[ncommit++], 48, "%s", r->commit);
    }
    out->answer[CHK_CODE] = unknown ? "no" : "yes";
    snprintf(d[CHK_CODE], L, "%d of %d runs name their commit; %d distinct (%.12s%s); %d built "
             "from a modified tree", m - unknown, m, ncommit, ncommit ? commits[0] : "-",
             ncommit > 1 ? ", ..." : "", dirty);

    int noseed = 0;
    for (int i = 0; i < m; i++)
        noseed += !runs[idx[i]].seed[0] || strspn(runs[idx[i]].seed, "0123456789") !=
                                               strlen(runs[idx[i]].seed);
    out->answer[CHK_SEED_RECORDED] = noseed ? "no" : "yes";
    snprintf(d[CHK_SEED_RECORDED], L, "%d of %d runs record their seed (and the resolved "
             "config)", m - noseed, m);

    // Test set: evaluated only on final models (at most once per final model), never during
    // the search. Tabular runs hold out validation data only: no test set is touched.
    if (tabular) {
        out->answer[CHK_TEST_ONCE] = "n/a";
        snprintf(d[CHK_TEST_ONCE], L, "no test set: tabular runs score on validation folds "
                 "or a holdout only");
    } else {
        int bad = 0, tested = 0, finals = 0;
        for (int i = 0; i < m; i++) {
            const report_run *r = &runs[idx[i]];
            bad += r->n_test > r->n_final;
            tested += r->n_test;
            finals += r->n_final;
        }
        out->answer[CHK_TEST_ONCE] = bad ? "no" : "yes";
        snprintf(d[CHK_TEST_ONCE], L, "%d test evaluations for %d final models; %d run%s "
                 "tested more often than it trained final models", tested, finals, bad,
                 bad == 1 ? "" : "s");
    }
    if (nm < 2)
        for (int c = CHK_SPACE; c <= CHK_HARDWARE; c++) {
            out->answer[c] = "n/a";
            snprintf(d[c], L, "one method only (%s): nothing compared", meth[0]);
        }
}

void report_checklist_markdown(FILE *f, const report_checklist *c, int nc) {
    fprintf(f, "\n## Best-practice checklist (Lindauer & Hutter 2020)\n");
    for (int k = 0; k < nc; k++) {
        fprintf(f, "\n### %s: %d runs of %d methods\n\n| item | answer | detail |\n|---|---|---|\n",
                c[k].dataset, c[k].nruns, c[k].nmethods);
        for (int i = 0; i < CHK_N; i++)
            fprintf(f, "| %s | %s | %s |\n", report_checklist_items[i], c[k].answer[i],
                    c[k].detail[i]);
    }
}

void report_checklist_latex(FILE *f, const report_checklist *c, int nc) {
    char a[1200], b[1200];
    for (int k = 0; k < nc; k++) {
        fprintf(f, "\\begin{table}[t]\n\\centering\\small\n\\caption{Best-practice checklist "
                   "(Lindauer and Hutter, 2020) of the comparison on %s: %d runs of %d methods, "
                   "computed from the run files.}\n\\label{tab:checklist-%s}\n"
                   "\\begin{tabular}{@{}p{0.27\\linewidth}lp{0.6\\linewidth}@{}}\n\\toprule\n"
                   "Item & Answer & Detail \\\\\n\\midrule\n",
                report_tex(c[k].dataset, a, sizeof a), c[k].nruns, c[k].nmethods,
                c[k].dataset);
        for (int i = 0; i < CHK_N; i++)
            fprintf(f, "%s & %s & %s \\\\\n", report_tex(report_checklist_items[i], a, sizeof a),
                    c[k].answer[i], report_tex(c[k].detail[i], b, sizeof b));
        fprintf(f, "\\bottomrule\n\\end{tabular}\n\\end{table}\n\n");
    }
}
