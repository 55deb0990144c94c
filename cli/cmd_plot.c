// cli: `gpuhours plot FILE... -o DIR`: paper figures from run files, each written as NAME.dat
// (the numbers), NAME.gp (an editable gnuplot script) and what gnuplot makes of it (PNG, PDF,
// cairolatex; plot_gp.c): final models' test accuracy vs multiply-adds with each method's
// Pareto front, best-so-far validation accuracy vs cumulative GPU-hours (mean ± sd over
// seeds), measured vs published search cost, learning curves, genotype cells (plot_cells.c),
// and for tabular runs best validation loss vs wall-clock per searcher.
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "cli.h"
#include "ledger/ledger.h"
#include "plot.h"

// ---- loading -------------------------------------------------------------------------------
typedef struct {
    plot_run *runs;
    int n;
} plot_runs;

// One readable run file into the next slot (cli_each_run closes the file).
static int load_run(void *ctx, const char *path, ledger *l, const ledger_summary *s) {
    plot_runs *pr = ctx;
    plot_run *r = &pr->runs[pr->n];
    memset(r, 0, sizeof *r);
    r->s = *s;
    snprintf(r->method, sizeof r->method, "%s", ledger_attr(l, "method"));
    snprintf(r->dataset, sizeof r->dataset, "%s", ledger_attr(l, "dataset"));
    r->gpus = r->s.gpus;
    r->nt = (int)ledger_num_trials(l);
    r->ne = (int)ledger_num_epochs(l);
    r->t = calloc((size_t)r->nt + 1, sizeof *r->t);
    r->e = calloc((size_t)r->ne + 1, sizeof *r->e);
    pr->n++;   // counted now so that its arrays are freed whatever happens next
    if (!r->t || !r->e) return gh_fail(GH_ENOMEM, "%s", path);
    // A trial's cumulative cost: the trials' own costs summed where workers trained them in
    // parallel (the sum over workers); in one process, the run's elapsed time when the trial was
    // recorded (x GPUs held), which also holds what no trial row carries: random-ws's shared
    // weights, a controller's updates (summing trials drew random-ws's 60 s search at 0.0001 h)
    const char *wa = ledger_attr(l, "workers");
    int workers = wa && atoi(wa) > 1 ? atoi(wa) : 1;
    double cum = 0;
    for (int i = 0; i < r->nt; i++) {
        ledger_trial t;
        ledger_read_trial(l, i, &t);
        double at_s = ledger_trial_run_time(l, i);
        cum += (r->gpus ? t.cost.device_s : t.cost.wall_s) / 3600;
        double x = workers > 1 || !isfinite(at_s) ? cum : at_s * (r->gpus ? r->gpus : 1) / 3600;
        r->t[i] = (plot_trial){x, isfinite(t.test_acc) ? t.test_acc : t.val_acc, t.madds,
                               at_s, t.val_loss, t.test_acc, t.val_acc};
        if (t.learner && t.learner[0]) r->tabular = 1;
    }
    const char *geno = NULL;
    if (!r->tabular && ledger_get_text(l, "genotype", &geno) == GH_OK && geno) {
        r->genotype = strdup(geno);
        if (!r->genotype) return gh_fail(GH_ENOMEM, "%s", path);
    }
    for (int i = 0; i < r->ne; i++) {
        ledger_epoch e;
        ledger_read_epoch(l, i, &e);
        plot_epoch *p = &r->e[i];
        snprintf(p->phase, sizeof p->phase, "%s", e.phase);
        p->epoch = e.epoch;
        p->val_acc = e.val_acc;
        p->train_loss = e.train_loss;
        p->cost_h = (r->gpus ? e.cost.device_s : e.cost.wall_s) / 3600;
    }
    return GH_OK;
}

// Distinct values of a run field, sorted, for the runs of one dataset (NULL: all).
static int distinct(const plot_run *runs, int n, const char *dataset, int want_dataset,
                    char names[][64], int max) {
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (dataset && strcmp(runs[i].dataset, dataset)) continue;
        const char *v = want_dataset ? runs[i].dataset : runs[i].method;
        int j;
        for (j = 0; j < k; j++)
            if (!strcmp(names[j], v)) break;
        if (j == k && k < max) snprintf(names[k++], 64, "%s", v);
    }
    for (int i = 1; i < k; i++) // insertion sort: a handful of names
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char tmp[64];
            memcpy(tmp, names[j], 64);
            memcpy(names[j], names[j - 1], 64);
            memcpy(names[j - 1], tmp, 64);
        }
    return k;
}

// ---- mean ± sd of step functions over seeds ------------------------------------------------
// Value at x of the step function through (xs, ys) (ys[i] holds from xs[i] on); NAN before
// its first point.
static double step_at(const double *xs, const double *ys, int n, double x) {
    double v = NAN;
    for (int i = 0; i < n && xs[i] <= x * (1 + 1e-12); i++) v = ys[i];
    return v;
}

typedef struct {
    double *x, *y;
    int n;
} curve;

// Writes one block "x mean lo hi n" over a grid spanning the curves (log-spaced when they
// span more than a decade of positive x), then two blank lines (a gnuplot index).
static void write_band(FILE *d, const curve *cv, int nc, const char *label) {
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < nc; i++)
        if (cv[i].n) {
            lo = fmin(lo, cv[i].x[0]);
            hi = fmax(hi, cv[i].x[cv[i].n - 1]);
        }
    fprintf(d, "# %s: x mean mean-sd mean+sd runs\n", label);
    if (!(hi >= lo)) {
        fprintf(d, "nan nan nan nan 0\n\n\n");
        return;
    }
    int grid = 120, logx = lo > 0 && hi / lo > 10;
    for (int k = 0; k < grid; k++) {
        double f = (double)k / (grid - 1);
        double x = logx ? lo * pow(hi / lo, f) : lo + (hi - lo) * f;
        double s = 0, s2 = 0;
        int m = 0;
        for (int i = 0; i < nc; i++) {
            double v = step_at(cv[i].x, cv[i].y, cv[i].n, x);
            if (isnan(v)) continue;
            s += v;
            s2 += v * v;
            m++;
        }
        if (!m) continue;
        double mean = s / m, sd = m > 1 ? sqrt(fmax(0, (s2 - m * mean * mean) / (m - 1))) : 0;
        fprintf(d, "%.8g %.8g %.8g %.8g %d\n", x, mean, mean - sd, mean + sd, m);
    }
    fprintf(d, "\n\n");
}

// ---- figures ---------------------------------------------------------------------------------
// Accuracy vs multiply-adds, every trial as a point, each method's Pareto front (the most
// accurate model at or below each cost) as a step line.
static int fig_pareto(const plot_config *c, const plot_run *runs, int n, const char *dataset) {
    char methods[32][64], used[32][64], name[128], ds[64];
    int nm = distinct(runs, n, dataset, 0, methods, 32), nu = 0, any = 0;
    plot_file_safe(ds, sizeof ds, dataset);
    snprintf(name, sizeof name, "pareto_%s", ds);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < runs[i].nt && !strcmp(runs[i].dataset, dataset); k++)
            any |= isfinite(runs[i].t[k].test_acc) && runs[i].t[k].madds > 0;
    if (!any) return GH_OK;
    FILE *d = plot_open_out(c, name, "dat");
    if (!d) return GH_EIO;
    fprintf(d, "# test accuracy vs multiply-adds of final models (trials with a test accuracy; "
               "search candidates and supernet validation accuracies left out), dataset %s. Per "
               "method two blocks: final models (madds_M acc_pct), then its Pareto front.\n",
            dataset);
    for (int m = 0; m < nm; m++) {
        int cap = 0;
        for (int i = 0; i < n; i++)
            if (!strcmp(runs[i].dataset, dataset) && !strcmp(runs[i].method, methods[m]))
                cap += runs[i].nt;
        double *mx = malloc(((size_t)cap + 1) * sizeof *mx), *ac = malloc(((size_t)cap + 1) *
                                                                            sizeof *ac);
        if (!mx || !ac) {
            free(mx);
            free(ac);
            fclose(d);
            return gh_fail(GH_ENOMEM, "plot: pareto");
        }
        int np = 0;
        for (int i = 0; i < n; i++) {
            if (strcmp(runs[i].dataset, dataset) || strcmp(runs[i].method, methods[m])) continue;
            for (int k = 0; k < runs[i].nt; k++) {
                const plot_trial *t = &runs[i].t[k];
                if (!isfinite(t->test_acc) || !(t->madds > 0)) continue;
                mx[np] = t->madds / 1e6;
                ac[np++] = 100 * t->test_acc;
            }
        }
        if (np) {
            fprintf(d, "# %s final models\n", methods[m]);
            for (int i = 0; i < np; i++) fprintf(d, "%.8g %.8g\n", mx[i], ac[i]);
            fprintf(d, "\n\n# %s Pareto front\n", methods[m]);
            for (int i = 1; i < np; i++) // sort by cost, most accurate first on ties
                for (int j = i; j > 0 && (mx[j - 1] > mx[j] || (mx[j - 1] == mx[j] &&
                                                                ac[j - 1] < ac[j])); j--) {
                    double t = mx[j]; mx[j] = mx[j - 1]; mx[j - 1] = t;
                    t = ac[j]; ac[j] = ac[j - 1]; ac[j - 1] = t;
                }
            double best = -INFINITY;
            for (int i = 0; i < np; i++)
                if (ac[i] > best) {
                    best = ac[i];
                    fprintf(d, "%.8g %.8g\n", mx[i], ac[i]);
                }
            fprintf(d, "\n\n");
            snprintf(used[nu++], 64, "%.63s", methods[m]);
        }
        free(mx);
        free(ac);
    }
    fclose(d);
    FILE *g = plot_open_out(c, name, "gp");
    if (!g) return GH_EIO;
    plot_gp_begin(g, c, name, "test accuracy vs multiply-adds of final models, Pareto front per "
                              "method");
    fprintf(g, "set title \"%s: final models, test accuracy vs multiply-adds (lines: Pareto "
               "fronts)\"\nset xlabel \"multiply-adds per example (millions, log scale)\"\n"
               "set ylabel \"test accuracy of final models (\".pc.\")\"\nset logscale x\n"
               "set offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05\nplot \\\n",
            dataset);
    for (int m = 0; m < nu; m++)
        fprintf(g, "  \"%s.dat\" index %d using 1:2 with points pt %d ps 1.4 lc %d title \"%s\", "
                   "\\\n  \"\" index %d using 1:2 with steps lw 2 lc %d title \"%s front\"%s\n",
                name, 2 * m, 5 + 2 * m, m + 1, used[m], 2 * m + 1, m + 1, used[m],
                m + 1 < nu ? ", \\" : "");
    plot_gp_end(g);
    fclose(g);
    return plot_gnuplot(c, name);
}

// Best-so-far validation accuracy vs cumulative GPU-hours, mean line and ±sd band over the
// seeds of each method. Weight-sharing runs (one scored candidate) are drawn from their search
// epochs.
static int fig_anytime(const plot_config *c, const plot_run *runs, int n, const char *dataset) {
    char methods[32][64], name[128], ds[64];
    int nm = distinct(runs, n, dataset, 0, methods, 32), gpu = 0, cpu = 0;
    plot_file_safe(ds, sizeof ds, dataset);
    snprintf(name, sizeof name, "anytime_%s", ds);
    FILE *d = plot_open_out(c, name, "dat");
    if (!d) return GH_EIO;
    fprintf(d, "# best-so-far validation accuracy (%%) vs cumulative cost (hours), dataset %s; "
               "one block per "
               "method, mean and mean±sd over runs\n", dataset);
    int any = 0;
    for (int m = 0; m < nm; m++) {
        curve cv[256];
        int nc = 0;
        for (int i = 0; i < n && nc < 256; i++) {
            const plot_run *r = &runs[i];
            if (strcmp(r->dataset, dataset) || strcmp(r->method, methods[m])) continue;
            // the search's own view: validation accuracy (final models' test accuracy is
            // never a search's to see); a run with under two scored candidates (weight
            // sharing: one supernet) is drawn from its search epochs
            int nval = 0;
            for (int k = 0; k < r->nt; k++) nval += isfinite(r->t[k].val_acc);
            int from_epochs = nval < 2 && r->ne > 0;
            int len = from_epochs ? r->ne : r->nt;
            curve *cu = &cv[nc++];
            cu->x = malloc(((size_t)len + 1) * sizeof(double));
            cu->y = malloc(((size_t)len + 1) * sizeof(double));
            cu->n = 0;
            double best = -INFINITY;
            for (int k = 0; k < len; k++) {
                double x, a;
                if (from_epochs) {
                    if (strcmp(r->e[k].phase, "search")) continue;
                    x = r->e[k].cost_h;
                    a = r->e[k].val_acc;
                } else {
                    x = r->t[k].cost_h;
                    a = r->t[k].val_acc;
                }
                if (isfinite(a) && 100 * a > best) best = 100 * a;
                if (!isfinite(best) || !isfinite(x)) continue;
                cu->x[cu->n] = x;
                cu->y[cu->n++] = best;
            }
            any |= cu->n > 0;
            gpu |= r->gpus > 0;
            cpu |= r->gpus == 0;
        }
        write_band(d, cv, nc, methods[m]);
        for (int i = 0; i < nc; i++) {
            free(cv[i].x);
            free(cv[i].y);
        }
    }
    fclose(d);
    if (!any) return GH_OK;
    FILE *g = plot_open_out(c, name, "gp");
    if (!g) return GH_EIO;
    plot_gp_begin(g, c, name, "best-so-far validation accuracy vs cumulative GPU-hours, "
                              "mean and ±sd over seeds");
    fprintf(g, "set title \"%s: best validation accuracy so far vs cost (line: mean, band: ±1 sd "
               "over "
               "seeds)\"\nset xlabel \"cumulative %s (log scale)\"\n"
               "set ylabel \"best validation accuracy so far (\".pc.\")\"\nset logscale x\n"
               "set style fill transparent solid 0.18 noborder\nplot \\\n", dataset,
            gpu && cpu ? "GPU-hours (CPU-only runs: wall-clock hours)"
            : gpu      ? "GPU-hours (wall-clock x GPUs held)"
                       : "wall-clock hours (CPU-only runs, no GPU held)");
    for (int m = 0; m < nm; m++)
        fprintf(g, "  \"%s.dat\" index %d using 1:3:4 with filledcurves lc %d notitle, \\\n"
                   "  \"\" index %d using 1:2 with lines lw 2.5 lc %d title \"%s\"%s\n",
                name, m, m + 1, m, m + 1, methods[m], m + 1 < nm ? ", \\" : "");
    plot_gp_end(g);
    fclose(g);
    return plot_gnuplot(c, name);
}

// Per-epoch learning curves, mean over each method's runs: validation accuracy and training
// loss side by side.
static int fig_curves(const plot_config *c, const plot_run *runs, int n, const char *dataset) {
    char methods[32][64], name[128], ds[64];
    int nm = distinct(runs, n, dataset, 0, methods, 32), any = 0;
    plot_file_safe(ds, sizeof ds, dataset);
    snprintf(name, sizeof name, "curves_%s", ds);
    for (int i = 0; i < n; i++) any |= !strcmp(runs[i].dataset, dataset) && runs[i].ne > 0;
    if (!any) return GH_OK;
    FILE *d = plot_open_out(c, name, "dat");
    if (!d) return GH_EIO;
    fprintf(d, "# learning curves, dataset %s; one block per method and phase: epoch "
               "val_acc_pct train_loss runs (means over runs)\n", dataset);
    int nblock = 0;
    char labels[64][96];
    for (int m = 0; m < nm; m++) {
        const char *phases[] = {"search", "final"};
        for (int p = 0; p < 2; p++) {
            int maxep = -1;
            for (int i = 0; i < n; i++)
                if (!strcmp(runs[i].dataset, dataset) && !strcmp(runs[i].method, methods[m]))
                    for (int k = 0; k < runs[i].ne; k++)
                        if (!strcmp(runs[i].e[k].phase, phases[p]) && runs[i].e[k].epoch > maxep)
                            maxep = runs[i].e[k].epoch;
            if (maxep < 0 || nblock >= 64) continue;
            fprintf(d, "# %s %s\n", methods[m], phases[p]);
            for (int ep = 0; ep <= maxep; ep++) {
                double sa = 0, sl = 0;
                int na = 0, nl = 0;
                for (int i = 0; i < n; i++) {
                    if (strcmp(runs[i].dataset, dataset) || strcmp(runs[i].method, methods[m]))
                        continue;
                    for (int k = 0; k < runs[i].ne; k++) {
                        const plot_epoch *e = &runs[i].e[k];
                        if (e->epoch != ep || strcmp(e->phase, phases[p])) continue;
                        if (isfinite(e->val_acc)) sa += 100 * e->val_acc, na++;
                        if (isfinite(e->train_loss)) sl += e->train_loss, nl++;
                    }
                }
                if (na || nl)
                    fprintf(d, "%d %.8g %.8g %d\n", ep, na ? sa / na : NAN, nl ? sl / nl : NAN,
                            na > nl ? na : nl);
            }
            fprintf(d, "\n\n");
            snprintf(labels[nblock++], sizeof labels[0], "%.63s (%.15s)", methods[m], phases[p]);
        }
    }
    fclose(d);
    FILE *g = plot_open_out(c, name, "gp");
    if (!g) return GH_EIO;
    plot_gp_begin(g, c, name, "learning curves: validation accuracy and training loss per epoch");
    // Two panels over a strip that holds one key for both (the same lines in each panel).
    fprintf(g, "set multiplot layout 1,2 title \"%s: learning curves (mean over seeds)\" "
               "margins 0.08,0.98,0.27,0.90 spacing 0.09,0\n"
               "unset key\nset xlabel \"epoch\"\nset ylabel \"validation accuracy (\".pc.\")\"\n"
               "plot \\\n", dataset);
    for (int b = 0; b < nblock; b++)
        fprintf(g, "  \"%s.dat\" index %d using 1:2 with linespoints lw 2 pt %d lc %d title "
                   "\"%s\"%s\n", name, b, 5 + 2 * (b % 6), b + 1, labels[b],
                b + 1 < nblock ? ", \\" : "");
    fprintf(g, "set key at screen 0.5,0.09 center center horizontal maxrows 2 box\n"
               "set ylabel \"training loss (cross-entropy)\"\nplot \\\n");
    for (int b = 0; b < nblock; b++)
        fprintf(g, "  \"%s.dat\" index %d using 1:3 with linespoints lw 2 pt %d lc %d title "
                   "\"%s\"%s\n", name, b, 5 + 2 * (b % 6), b + 1, labels[b],
                b + 1 < nblock ? ", \\" : "");
    fprintf(g, "unset multiplot\n");
    plot_gp_end(g);
    fclose(g);
    return plot_gnuplot(c, name);
}

// Tabular runs: best validation loss so far vs wall-clock seconds, per searcher, mean and ±sd
// band over seeds.
static int fig_tabular(const plot_config *c, const plot_run *runs, int n, const char *dataset) {
    char methods[32][64], name[128], ds[64];
    int nm = distinct(runs, n, dataset, 0, methods, 32), any = 0;
    for (int i = 0; i < n; i++) any |= !strcmp(runs[i].dataset, dataset) && runs[i].tabular;
    if (!any) return GH_OK;
    plot_file_safe(ds, sizeof ds, dataset);
    snprintf(name, sizeof name, "tabular_%s", ds);
    FILE *d = plot_open_out(c, name, "dat");
    if (!d) return GH_EIO;
    fprintf(d, "# best validation loss so far vs wall-clock seconds, dataset %s; one block per "
               "searcher\n", dataset);
    char used[32][64];
    int nu = 0;
    for (int m = 0; m < nm; m++) {
        curve cv[256];
        int nc = 0;
        for (int i = 0; i < n && nc < 256; i++) {
            const plot_run *r = &runs[i];
            if (strcmp(r->dataset, dataset) || strcmp(r->method, methods[m]) || !r->tabular)
                continue;
            curve *cu = &cv[nc++];
            cu->x = malloc(((size_t)r->nt + 1) * sizeof(double));
            cu->y = malloc(((size_t)r->nt + 1) * sizeof(double));
            cu->n = 0;
            double best = INFINITY;
            for (int k = 0; k < r->nt; k++) {
                if (isfinite(r->t[k].val_loss) && r->t[k].val_loss < best)
                    best = r->t[k].val_loss;
                if (!isfinite(best)) continue;
                cu->x[cu->n] = r->t[k].t_s;
                cu->y[cu->n++] = best;
            }
        }
        if (!nc) continue;
        write_band(d, cv, nc, methods[m]);
        snprintf(used[nu++], 64, "%.63s", methods[m]);
        for (int i = 0; i < nc; i++) {
            free(cv[i].x);
            free(cv[i].y);
        }
    }
    fclose(d);
    FILE *g = plot_open_out(c, name, "gp");
    if (!g) return GH_EIO;
    plot_gp_begin(g, c, name, "tabular runs: best validation loss vs wall-clock per searcher");
    fprintf(g, "set title \"%s: best validation loss so far (line: mean, band: ±1 sd over "
               "seeds)\"\nset xlabel \"wall-clock time since start (s, log scale)\"\n"
               "set ylabel \"best validation loss so far\"\nset logscale x\n"
               "set style fill transparent solid 0.18 noborder\nplot \\\n", dataset);
    for (int m = 0; m < nu; m++)
        fprintf(g, "  \"%s.dat\" index %d using 1:3:4 with filledcurves lc %d notitle, \\\n"
                   "  \"\" index %d using 1:2 with lines lw 2.5 lc %d title \"%s\"%s\n",
                name, m, m + 1, m, m + 1, used[m], m + 1 < nu ? ", \\" : "");
    plot_gp_end(g);
    fclose(g);
    return plot_gnuplot(c, name);
}

// The published search costs (GPU-days x 24) of published.tsv: method, dataset, hours of every
// row that publishes one. Returns the number of rows (0 without a readable table).
typedef struct {
    char method[64], dataset[64];
    double hours;
    int paired; // drawn beside a measured bar already
} pub_cost;

static int published_costs(const char *tsv, pub_cost *out, int max) {
    FILE *f = tsv ? fopen(tsv, "r") : NULL;
    if (!f) return 0;
    char line[8192];
    int col_m = -1, col_d = -1, col_s = -1, header = 0, n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        char *fld[64];
        int nf = 0;
        for (char *p = line; nf < 64;) {
            fld[nf++] = p;
            char *t = strchr(p, '\t');
            if (!t) break;
            *t = 0;
            p = t + 1;
        }
        if (!header) {
            for (int i = 0; i < nf; i++) {
                if (!strcmp(fld[i], "method")) col_m = i;
                if (!strcmp(fld[i], "dataset")) col_d = i;
                if (!strcmp(fld[i], "search_gpu_days")) col_s = i;
            }
            header = 1;
            continue;
        }
        if (col_m < 0 || col_d < 0 || col_s < 0 || col_m >= nf || col_d >= nf || col_s >= nf ||
            !strcmp(fld[col_s], "NA"))
            continue;
        snprintf(out[n].method, sizeof out[n].method, "%s", fld[col_m]);
        snprintf(out[n].dataset, sizeof out[n].dataset, "%s", fld[col_d]);
        out[n].hours = 24 * strtod(fld[col_s], NULL);
        out[n++].paired = 0;
    }
    fclose(f);
    return n;
}

// Measured vs published search cost per method and dataset, bars on a log scale (the two
// differ by orders of magnitude). A published bar stands beside a measured one only for the
// same method on the same dataset (a smoke run on Fashion-MNIST is not paired with a CIFAR-10
// search); the other published costs follow as bars of their own, for scale.
static int fig_search_cost(const plot_config *c, const plot_run *runs, int n) {
    char datasets[32][64], methods[32][64];
    int nd = distinct(runs, n, NULL, 1, datasets, 32), gpu = 0, cpu = 0;
    const char *name = "search_cost";
    FILE *d = plot_open_out(c, name, "dat");
    if (!d) return GH_EIO;
    fprintf(d, "# \"method (dataset)\" measured_search_hours(mean over runs) "
               "published_search_gpu_hours (published: %s; NaN: none for that dataset)\n",
            c->published ? c->published : "none");
    double lo = INFINITY, hi = 0;
    int any_pub = 0, any_meas = 0;
    pub_cost pubs[128];
    int npub = published_costs(c->published, pubs, 128);
    for (int ds = 0; ds < nd; ds++) {
        int nm = distinct(runs, n, datasets[ds], 0, methods, 32);
        for (int m = 0; m < nm; m++) {
            double s = 0;
            int k = 0;
            for (int i = 0; i < n; i++) {
                if (strcmp(runs[i].method, methods[m]) || strcmp(runs[i].dataset, datasets[ds]))
                    continue;
                const ledger_summary *S = &runs[i].s;
                s += runs[i].gpus ? S->search_gpu_hours : S->search_wall_hours;
                gpu |= runs[i].gpus > 0;
                cpu |= runs[i].gpus == 0;
                k++;
            }
            if (!k) continue;
            double meas = s / k;
            double pub = NAN;
            for (int p = 0; p < npub; p++)
                if (!strcmp(pubs[p].method, methods[m]) && !strcmp(pubs[p].dataset, datasets[ds]))
                    pub = pubs[p].hours, pubs[p].paired = 1;
            fprintf(d, "\"%s (%s)\" %.8g %.8g\n", methods[m], datasets[ds], meas, pub);
            if (meas > 0) lo = fmin(lo, meas), hi = fmax(hi, meas), any_meas = 1;
            if (pub > 0) lo = fmin(lo, pub), hi = fmax(hi, pub), any_pub = 1;
        }
    }
    for (int p = 0; p < npub; p++) {
        if (pubs[p].paired || !(pubs[p].hours > 0)) continue;
        fprintf(d, "\"%s (%s)\" NaN %.8g\n", pubs[p].method, pubs[p].dataset, pubs[p].hours);
        lo = fmin(lo, pubs[p].hours);
        hi = fmax(hi, pubs[p].hours);
        any_pub = 1;
    }
    fclose(d);
    if (!any_meas && !any_pub) return GH_OK; // no NAS run and no published cost: no figure
    FILE *g = plot_open_out(c, name, "gp");
    if (!g) return GH_EIO;
    plot_gp_begin(g, c, name, "measured vs published search cost per method");
    // Two bars per method: in a clustered histogram of 2 series with gap 1, series k sits at
    // x = method index + (k - 0.5)/3; the labels print each bar's value above it. gnuplot
    // refuses a histogram series without a valid point: a series is drawn only when it has one
    // (then the other's bars sit at the middle).
    fprintf(g, "set title \"search cost per method and dataset: measured here vs published\"\n"
               "set ylabel \"search cost (%s, log scale)\"\nset logscale y\n"
               "set yrange [%.3g:%.3g]\n"
               "set style data histograms\nset style histogram clustered gap 1\n"
               "set style fill solid 0.8 border -1\nset boxwidth 0.9\n"
               "set xtics rotate by -35 font \",10\"\n"
               "set key inside top left\nset bmargin 9\nset rmargin 8\nplot \\\n",
            gpu && cpu ? "GPU-h; CPU-only runs: wall-clock h"
            : gpu      ? "GPU-hours"
                       : "hours; CPU-only runs: wall-clock",
            lo / 5, hi * 300);
    int both = any_meas && any_pub;
    if (any_meas)
        fprintf(g, "  \"%s.dat\" using 2:xtic(1) title \"measured (this harness)\" lc 1, \\\n"
                   "  \"\" using ($0%s):2:(sprintf(\"%%.3g\", $2)) with labels rotate by 90 left "
                   "font \",9\" offset 0,0.5 notitle%s\n",
                name, both ? "-1.0/6" : "", any_pub ? ", \\" : "");
    if (any_pub)
        fprintf(g, "  \"%s.dat\" using 3%s title \"published (GPU-days x 24)\" lc 2, \\\n"
                   "  \"\" using ($0%s):3:(sprintf(\"%%.3g\", $3)) with labels rotate by 90 left "
                   "font \",9\" offset 0,0.5 notitle\n",
                name, any_meas ? "" : ":xtic(1)", both ? "+1.0/6" : "");
    plot_gp_end(g);
    fclose(g);
    return plot_gnuplot(c, name);
}

static void usage(FILE *f) {
    fprintf(f, "usage: gpuhours plot [-h] [-o DIR] [-p TSV] [--style GP] [--gnuplot PROG] "
               "PATH...\n\n"
               "Figures from the runs in PATH (files, or directories of *.h5). For each dataset:\n"
               "pareto_D (test accuracy vs multiply-adds of the final models, Pareto front per\n"
               "method), anytime_D (best validation accuracy so far vs cumulative GPU-hours,\n"
               "mean ± sd over seeds), curves_D (learning curves), tabular_D (best validation\n"
               "loss vs wall-clock per searcher, tabular runs), cell_M_D (the normal and\n"
               "reduction cell of method M's best genotype); and search_cost (measured vs\n"
               "published search cost, log scale). Each as .png, .pdf and cairolatex\n"
               "NAME-tex.tex + NAME-tex.pdf, with the .dat numbers and the editable .gp script.\n\n"
               "options:\n"
               "  -o, --output DIR      output directory (default plots)\n"
               "  -p, --published TSV   published numbers (default reproductions/published.tsv)\n"
               "      --style GP        gnuplot file every script loads after its defaults\n"
               "                        (default plots/templates/style.gp, here or in the\n"
               "                        source tree; none when neither exists)\n"
               "      --gnuplot PROG    gnuplot executable (default gnuplot)\n"
               "  -h, --help            this help\n");
}

int cmd_plot(int argc, char **argv) {
    plot_config cfg = {"plots", "reproductions/published.tsv", "gnuplot", NULL};
    const char *style = NULL;
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"published", required_argument, NULL, 'p'},
                                         {"gnuplot", required_argument, NULL, 'G'},
                                         {"style", required_argument, NULL, 'S'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': cfg.out_dir = optarg; break;
        case 'p': cfg.published = optarg; break;
        case 'G': cfg.gnuplot = optarg; break;
        case 'S': style = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    // The style template, as an absolute path: gnuplot runs in the output directory.
    char style_abs[4096];
    const char *style_try[] = {style ? style : "plots/templates/style.gp",
                               style ? NULL : GH_SOURCE_DIR "/plots/templates/style.gp"};
    for (int i = 0; i < 2 && !cfg.style; i++)
        if (style_try[i] && realpath(style_try[i], style_abs)) cfg.style = style_abs;
    if (style && !cfg.style) {
        fprintf(stderr, "gpuhours plot: --style %s: cannot read: %s\n", style, strerror(errno));
        return 2;
    }
    printf("gpuhours plot: output=%s published=%s style=%s gnuplot=%s\n", cfg.out_dir,
           cfg.published, cfg.style ? cfg.style : "(none)", cfg.gnuplot);
    if (access(cfg.published, R_OK)) {
        fprintf(stderr, "gpuhours plot: %s not readable; no published bars\n", cfg.published);
        cfg.published = NULL;
    }
    if (mkdir(cfg.out_dir, 0777) < 0 && errno != EEXIST) {
        fprintf(stderr, "gpuhours plot: %s: %s\n", cfg.out_dir, strerror(errno));
        return 1;
    }
    char **files = NULL;
    int n = 0;
    int st = ledger_find_files(argc - optind, argv + optind, &files, &n);
    if (!st && n == 0) st = gh_fail(GH_EINVAL, "no run files (*.h5) in the given paths");
    plot_runs pr = {st ? NULL : calloc((size_t)n, sizeof *pr.runs), 0};
    if (!st && !pr.runs) st = gh_fail(GH_ENOMEM, "plot");
    int skipped = 0, nfiles = n;
    if (!st) st = cli_each_run("plot", files, n, load_run, &pr, &skipped);
    plot_run *runs = pr.runs;
    n = pr.n;
    if (!st && n == 0) st = gh_fail(GH_EINVAL, "none of the %d run files could be read", nfiles);
    if (!st) {
        char datasets[32][64];
        int nd = distinct(runs, n, NULL, 1, datasets, 32);
        printf("%d runs, %d dataset%s\n", n, nd, nd == 1 ? "" : "s");
        for (int k = 0; !st && k < nd; k++) {
            st = fig_pareto(&cfg, runs, n, datasets[k]);
            if (!st) st = fig_anytime(&cfg, runs, n, datasets[k]);
            if (!st) st = fig_curves(&cfg, runs, n, datasets[k]);
            if (!st) st = fig_tabular(&cfg, runs, n, datasets[k]);
            if (!st) st = plot_cells(&cfg, runs, n, datasets[k]);
        }
        if (!st) st = fig_search_cost(&cfg, runs, n);
    }
    for (int i = 0; runs && i < n; i++) {
        free(runs[i].t);
        free(runs[i].e);
        free(runs[i].genotype);
    }
    free(runs);
    ledger_free_files(files);
    return st ? cli_fail("plot", st) : cli_runs_done("plot", skipped, nfiles);
}
