// cli: `gpuhours report FILE...`: the results table of a set of runs, grouped by method and
// dataset (mean ± sd over seeds), with the published numbers beside them
// (reproductions/published.tsv), the best-practice checklist of each comparison
// (report_checklist.c) and where each run came from: Markdown to stdout, LaTeX (booktabs) to a
// file, and the numbers a paper quotes as LaTeX macros (report_macros.c).
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "cli.h"
#include "ledger/ledger.h"
#include "report.h"

typedef struct {
    const char *published; // path of published.tsv
    const char *latex;     // output .tex
    const char *macros;    // output .tex of \newcommand lines (NULL: none)
    const char *checklist; // the checklist tables' own .tex (NULL: in the latex file)
    const char *provenance; // the provenance table's own .tex (NULL: in the latex file)
    double k;              // search repeats in the end-to-end cost k*(T_search+T_select)+T_final
} report_config;

// ---- published.tsv ---------------------------------------------------------------------------
enum { PUB_METHOD, PUB_DATASET, PUB_ERROR, PUB_ERROR_SD, PUB_PARAMS, PUB_MADDS, PUB_SEARCH_DAYS,
       PUB_HARDWARE, PUB_SOURCE, PUB_TABLE, PUB_NOTE, PUB_NCOLS };
static const char *pub_cols[PUB_NCOLS] = {"method", "dataset", "error_pct", "error_sd_pct",
                                          "params_m", "madds_m", "search_gpu_days", "hardware",
                                          "source", "table", "note"};

typedef struct {
    char *f[PUB_NCOLS];
    char *line; // owns the fields
} pub_row;

static void pub_free(pub_row *rows, int n) {
    for (int i = 0; i < n; i++) free(rows[i].line);
    free(rows);
}

// Reads the tab-separated table: a header naming the columns above (any order, all required),
// '#' comments, "NA" for a number not published. Errors name file, line and field.
static int pub_read(const char *path, pub_row **out, int *nout) {
    *out = NULL;
    *nout = 0;
    FILE *f = fopen(path, "r");
    if (!f) return gh_fail(GH_EIO, "%s: cannot open: %s", path, strerror(errno));
    char buf[8192];
    int col_of[PUB_NCOLS], have_header = 0, lineno = 0, n = 0, st = GH_OK;
    pub_row *rows = NULL;
    while (fgets(buf, sizeof buf, f)) {
        lineno++;
        buf[strcspn(buf, "\r\n")] = 0;
        if (!buf[0] || buf[0] == '#') continue;
        char *fields[64];
        int nf = 0;
        char *line = strdup(buf), *p = line;
        if (!line) {
            st = gh_fail(GH_ENOMEM, "%s", path);
            break;
        }
        for (;;) {
            fields[nf++] = p;
            char *tab = strchr(p, '\t');
            if (!tab || nf == 64) break;
            *tab = 0;
            p = tab + 1;
        }
        if (!have_header) {
            for (int c = 0; c < PUB_NCOLS; c++) {
                col_of[c] = -1;
                for (int j = 0; j < nf; j++)
                    if (!strcmp(fields[j], pub_cols[c])) col_of[c] = j;
                if (col_of[c] < 0) {
                    st = gh_fail(GH_EFORMAT, "%s:%d: header lacks column '%s'", path, lineno,
                                 pub_cols[c]);
                    break;
                }
            }
            free(line);
            if (st) break;
            have_header = 1;
            continue;
        }
        pub_row r = {.line = line};
        for (int c = 0; c < PUB_NCOLS && !st; c++) {
            if (col_of[c] >= nf) {
                st = gh_fail(GH_EFORMAT, "%s:%d: field '%s' missing (%d fields, want column %d)",
                             path, lineno, pub_cols[c], nf, col_of[c] + 1);
                break;
            }
            r.f[c] = fields[col_of[c]];
            if (c >= PUB_ERROR && c <= PUB_SEARCH_DAYS && strcmp(r.f[c], "NA")) {
                char *end;
                strtod(r.f[c], &end);
                if (end == r.f[c] || *end)
                    st = gh_fail(GH_EFORMAT, "%s:%d: field '%s' is '%s', expected a number or NA",
                                 path, lineno, pub_cols[c], r.f[c]);
            }
        }
        if (st) {
            free(line);
            break;
        }
        pub_row *nr = realloc(rows, (size_t)(n + 1) * sizeof *nr);
        if (!nr) {
            free(line);
            st = gh_fail(GH_ENOMEM, "%s", path);
            break;
        }
        rows = nr;
        rows[n++] = r;
    }
    fclose(f);
    if (!st && !have_header) st = gh_fail(GH_EFORMAT, "%s: no header line", path);
    if (st) {
        pub_free(rows, n);
        return st;
    }
    *out = rows;
    *nout = n;
    return GH_OK;
}

static const pub_row *pub_find(const pub_row *rows, int n, const char *method,
                               const char *dataset) {
    for (int i = 0; i < n; i++)
        if (!strcmp(rows[i].f[PUB_METHOD], method) && !strcmp(rows[i].f[PUB_DATASET], dataset))
            return &rows[i];
    return NULL;
}

// ---- runs, grouped by method and dataset -------------------------------------------------
typedef struct {
    char method[64], dataset[64];
    int n, n_val;             // runs; runs whose accuracy is a validation accuracy
    double err[256];          // error (%) of each run's result trial
    int nerr;
    double params, madds, search_h, select_h, final_h, energy_kj;
    int n_energy, n_params, n_madds;
} group;

static double mean(const double *x, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += x[i];
    return n ? s / n : NAN;
}

static double sd(const double *x, int n) {
    if (n < 2) return NAN;
    double m = mean(x, n), s = 0;
    for (int i = 0; i < n; i++) s += (x[i] - m) * (x[i] - m);
    return sqrt(s / (n - 1));
}

typedef struct {
    group *g;
    int ng;
    report_run *runs; // every readable run, for the checklist and the macros
    int nruns;
} groups;

// One run into its (method, dataset) group.
static int add_run(void *ctx, const char *path, ledger *l, const ledger_summary *s) {
    groups *gs = ctx;
    const char *m = ledger_attr(l, "method"), *d = ledger_attr(l, "dataset");
    int k;
    for (k = 0; k < gs->ng; k++)
        if (!strcmp(gs->g[k].method, m) && !strcmp(gs->g[k].dataset, d)) break;
    if (k == gs->ng) {
        group *ngp = realloc(gs->g, (size_t)(gs->ng + 1) * sizeof *gs->g);
        if (!ngp) return gh_fail(GH_ENOMEM, "report: %s", path);
        gs->g = ngp;
        memset(&gs->g[gs->ng], 0, sizeof gs->g[gs->ng]);
        snprintf(gs->g[gs->ng].method, sizeof gs->g[gs->ng].method, "%s", m);
        snprintf(gs->g[gs->ng].dataset, sizeof gs->g[gs->ng].dataset, "%s", d);
        gs->ng++;
    }
    group *G = &gs->g[k];
    if (isfinite(s->acc) && G->nerr < 256) G->err[G->nerr++] = 100.0 * (1.0 - s->acc);
    G->n_val += isfinite(s->acc) && !s->acc_is_test;
    // means over runs, accumulated as sums here
    if (isfinite(s->params)) G->params += s->params, G->n_params++;
    if (isfinite(s->madds)) G->madds += s->madds, G->n_madds++;
    G->search_h += s->search_gpu_hours > 0 ? s->search_gpu_hours : s->search_wall_hours *
                   (s->gpus == 0);
    G->select_h += s->selection_gpu_hours;
    G->final_h += s->final_gpu_hours > 0 ? s->final_gpu_hours : s->final_wall_hours *
                  (s->gpus == 0);
    if (isfinite(s->energy_j)) {
        G->energy_kj += s->energy_j / 1e3;
        G->n_energy++;
    }
    G->n++;
    report_run *nr = realloc(gs->runs, (size_t)(gs->nruns + 1) * sizeof *nr);
    if (!nr) return gh_fail(GH_ENOMEM, "report: %s", path);
    gs->runs = nr;
    int st = report_run_read(l, path, s, &gs->runs[gs->nruns]);
    gs->nruns++; // counted even on failure: report_run_free releases what it holds
    return st;
}

// Groups of the readable files (unreadable ones skipped with a warning, counted in *skipped).
static void free_runs(report_run *r, int n) {
    for (int i = 0; i < n; i++) report_run_free(&r[i]);
    free(r);
}

static int load_groups(char **files, int nfiles, group **out, int *nout, report_run **runs,
                       int *nruns, int *skipped) {
    groups gs = {0};
    int st = cli_each_run("report", files, nfiles, add_run, &gs, skipped);
    if (st) {
        free(gs.g);
        free_runs(gs.runs, gs.nruns);
        return st;
    }
    *runs = gs.runs;
    *nruns = gs.nruns;
    group *g = gs.g;
    int ng = gs.ng;
    for (int k = 0; k < ng; k++) {
        group *G = &g[k];
        G->params = G->n_params ? G->params / G->n_params : NAN;
        G->madds = G->n_madds ? G->madds / G->n_madds : NAN;
        G->search_h /= G->n;
        G->select_h /= G->n;
        G->final_h /= G->n;
        G->energy_kj = G->n_energy ? G->energy_kj / G->n_energy : NAN;
    }
    *out = g;
    *nout = ng;
    return GH_OK;
}

// ---- formatting ------------------------------------------------------------------------------
static void fmt_num(char *out, size_t len, double v, const char *f) {
    if (isnan(v))
        snprintf(out, len, "n/a");
    else
        snprintf(out, len, f, v);
}

static void fmt_err(char *out, size_t len, const group *G, const char *pm) {
    if (!G->nerr) {
        snprintf(out, len, "n/a");
        return;
    }
    double m = mean(G->err, G->nerr), s = sd(G->err, G->nerr);
    if (isnan(s))
        snprintf(out, len, "%.2f", m);
    else
        snprintf(out, len, "%.2f %s %.2f", m, pm, s);
}

static void pub_num(char *out, size_t len, const pub_row *p, int col, double scale,
                    const char *f) {
    if (!p || !strcmp(p->f[col], "NA"))
        snprintf(out, len, "n/a");
    else
        snprintf(out, len, f, strtod(p->f[col], NULL) * scale);
}

static void pub_err(char *out, size_t len, const pub_row *p, const char *pm) {
    if (!p || !strcmp(p->f[PUB_ERROR], "NA")) {
        snprintf(out, len, "n/a");
    } else if (!strcmp(p->f[PUB_ERROR_SD], "NA")) {
        snprintf(out, len, "%s", p->f[PUB_ERROR]);
    } else {
        snprintf(out, len, "%s %s %s", p->f[PUB_ERROR], pm, p->f[PUB_ERROR_SD]);
    }
}

typedef struct {
    char err[48], n[8], params[24], madds[24], search[24], final[24], e2e[24], energy[24],
        perr[48], pparams[24], psearch[24], src[160];
} row_text;

static void row_format(row_text *r, const group *G, const pub_row *p, double k, int latex) {
    const char *pm = latex ? "$\\pm$" : "±";
    fmt_err(r->err, sizeof r->err, G, pm);
    if (G->n_val) strncat(r->err, latex ? "$^{v}$" : " (v)", sizeof r->err - strlen(r->err) - 1);
    snprintf(r->n, sizeof r->n, "%d", G->nerr);
    fmt_num(r->params, sizeof r->params, G->params / 1e6, "%.2f");
    fmt_num(r->madds, sizeof r->madds, G->madds / 1e6, "%.1f");
    fmt_num(r->search, sizeof r->search, G->search_h, "%.3g");
    fmt_num(r->final, sizeof r->final, G->final_h, "%.3g");
    fmt_num(r->e2e, sizeof r->e2e, k * (G->search_h + G->select_h) + G->final_h, "%.3g");
    fmt_num(r->energy, sizeof r->energy, G->energy_kj, "%.1f");
    pub_err(r->perr, sizeof r->perr, p, pm);
    pub_num(r->pparams, sizeof r->pparams, p, PUB_PARAMS, 1, "%.2f");
    pub_num(r->psearch, sizeof r->psearch, p, PUB_SEARCH_DAYS, 24, "%.4g");
    if (p)
        snprintf(r->src, sizeof r->src, "%s, %s", p->f[PUB_SOURCE], p->f[PUB_TABLE]);
    else
        snprintf(r->src, sizeof r->src, "-");
}

static void write_markdown(FILE *f, const group *g, int ng, const pub_row *pub, int npub,
                           const report_config *cfg) {
    fprintf(f, "## Results\n\n"
               "Error: 100 x (1 - test accuracy) of each run's final models (mean over the "
               "run's tested trials; else its best trial by validation accuracy), mean ± sd "
               "over runs (n); (v): validation accuracy where no "
               "test accuracy was measured. Costs are means per run; GPU-h = wall-clock x GPUs "
               "held (CPU-only runs: wall-clock hours). End-to-end = k x (search + selection) + "
               "final, k = %g. Published search cost: GPU-days x 24.\n\n", cfg->k);
    fprintf(f, "| Method | Dataset | Error (%%) | n | Params (M) | Mult-adds (M) | Search GPU-h | "
               "Final GPU-h | End-to-end GPU-h | Energy (kJ) | Published error (%%) | "
               "Published params (M) | Published search GPU-h | Source |\n");
    fprintf(f, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (int i = 0; i < ng; i++) {
        row_text r;
        row_format(&r, &g[i], pub_find(pub, npub, g[i].method, g[i].dataset), cfg->k, 0);
        fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                g[i].method, g[i].dataset, r.err, r.n, r.params, r.madds, r.search, r.final,
                r.e2e, r.energy, r.perr, r.pparams, r.psearch, r.src);
    }
    if (!npub) return;
    fprintf(f, "\n## Published reference values (%s)\n\n", cfg->published);
    fprintf(f, "| Method | Dataset | Error (%%) | Params (M) | Mult-adds (M) | Search GPU-days | "
               "Hardware | Source | Table | Note |\n");
    fprintf(f, "|---|---|---:|---:|---:|---:|---|---|---|---|\n");
    for (int i = 0; i < npub; i++) {
        const pub_row *p = &pub[i];
        char err[64];
        pub_err(err, sizeof err, p, "±");
        fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", p->f[PUB_METHOD],
                p->f[PUB_DATASET], err, p->f[PUB_PARAMS], p->f[PUB_MADDS],
                p->f[PUB_SEARCH_DAYS], p->f[PUB_HARDWARE], p->f[PUB_SOURCE], p->f[PUB_TABLE],
                p->f[PUB_NOTE]);
    }
}

static int write_latex(const char *path, const group *g, int ng, const pub_row *pub, int npub,
                       const report_config *cfg, const report_checklist *chk, int nchk,
                       const report_run *runs, int nruns) {
    FILE *f = fopen(path, "w");
    if (!f) return gh_fail(GH_EIO, "%s: cannot write: %s", path, strerror(errno));
    char a[512], b[512], c[512], d[512];
    fprintf(f, "%% gpuhours report: results tables (needs \\usepackage{booktabs,graphicx})\n"
               "\\begin{table}[t]\n\\centering\\small\n"
               "\\caption{Measured results (mean $\\pm$ sd over $n$ runs) beside the published "
               "values. GPU-h: wall-clock $\\times$ GPUs held; end-to-end: $k(T_\\mathrm{search} "
               "+ T_\\mathrm{select}) + T_\\mathrm{final}$, $k=%g$; $^{v}$: validation "
               "error.}\n\\label{tab:gpuhours-results}\n"
               "\\resizebox{\\linewidth}{!}{%%\n"
               "\\begin{tabular}{llrrrrrrrrrrr}\n\\toprule\n"
               " & & \\multicolumn{8}{c}{Measured} & \\multicolumn{3}{c}{Published} \\\\\n"
               "\\cmidrule(lr){3-10}\\cmidrule(lr){11-13}\n"
               "Method & Dataset & Error (\\%%) & $n$ & Params (M) & Mult-adds (M) & Search GPU-h "
               "& Final GPU-h & End-to-end GPU-h & Energy (kJ) & Error (\\%%) & Params (M) & "
               "Search GPU-h \\\\\n\\midrule\n", cfg->k);
    for (int i = 0; i < ng; i++) {
        row_text r;
        row_format(&r, &g[i], pub_find(pub, npub, g[i].method, g[i].dataset), cfg->k, 1);
        fprintf(f, "%s & %s & %s & %s & %s & %s & %s & %s & %s & %s & %s & %s & %s \\\\\n",
                report_tex(g[i].method, a, sizeof a), report_tex(g[i].dataset, b, sizeof b), r.err,
                r.n,
                r.params, r.madds, r.search, r.final, r.e2e, r.energy, r.perr, r.pparams,
                r.psearch);
    }
    fprintf(f, "\\bottomrule\n\\end{tabular}}\n\\end{table}\n\n");
    if (npub) {
        fprintf(f, "\\begin{table}[t]\n\\centering\\small\n"
                   "\\caption{Published reference values.}\n\\label{tab:gpuhours-published}\n"
                   "\\resizebox{\\linewidth}{!}{%%\n"
                   "\\begin{tabular}{llrrrrp{0.22\\linewidth}p{0.3\\linewidth}}\n\\toprule\n"
                   "Method & Dataset & Error (\\%%) & Params (M) & Mult-adds (M) & Search "
                   "GPU-days & Hardware & Source \\\\\n\\midrule\n");
        for (int i = 0; i < npub; i++) {
            const pub_row *p = &pub[i];
            char err[64], src[600];
            pub_err(err, sizeof err, p, "$\\pm$");
            snprintf(src, sizeof src, "%s, %s", p->f[PUB_SOURCE], p->f[PUB_TABLE]);
            fprintf(f, "%s & %s & %s & %s & %s & %s & %s & %s \\\\\n",
                    report_tex(p->f[PUB_METHOD], a, sizeof a),
                    report_tex(p->f[PUB_DATASET], b, sizeof b), err,
                    p->f[PUB_PARAMS], p->f[PUB_MADDS], p->f[PUB_SEARCH_DAYS],
                    report_tex(p->f[PUB_HARDWARE], c, sizeof c), report_tex(src, d, sizeof d));
        }
        fprintf(f, "\\bottomrule\n\\end{tabular}}\n\\end{table}\n\n");
    }
    if (!cfg->checklist) report_checklist_latex(f, chk, nchk);
    if (!cfg->provenance) report_provenance_latex(f, runs, nruns);
    if (fclose(f)) return gh_fail(GH_EIO, "%s: write failed: %s", path, strerror(errno));
    return GH_OK;
}

// The checklist tables or the provenance table in a file of their own.
static int write_tex_file(const char *path, const report_checklist *chk, int nchk,
                          const report_run *runs, int nruns) {
    FILE *f = fopen(path, "w");
    if (!f) return gh_fail(GH_EIO, "%s: cannot write: %s", path, strerror(errno));
    fprintf(f, "%% gpuhours report (needs \\usepackage{booktabs,graphicx})\n");
    if (chk) report_checklist_latex(f, chk, nchk);
    if (runs) report_provenance_latex(f, runs, nruns);
    if (fclose(f)) return gh_fail(GH_EIO, "%s: write failed: %s", path, strerror(errno));
    return GH_OK;
}

// The published value the macros ask for (report_pub_fn over published.tsv's rows).
typedef struct {
    const pub_row *rows;
    int n;
} pub_table;

static double pub_value(void *ctx, const char *method, const char *dataset, int col) {
    const pub_table *t = ctx;
    const pub_row *p = pub_find(t->rows, t->n, method, dataset);
    int c = col == REPORT_PUB_ERROR ? PUB_ERROR : PUB_SEARCH_DAYS;
    if (!p || !strcmp(p->f[c], "NA")) return NAN;
    return strtod(p->f[c], NULL) * (col == REPORT_PUB_SEARCH_H ? 24 : 1);
}

// One checklist per dataset, in the order the groups list them.
static int checklists(const group *g, int ng, const report_run *runs, int nruns,
                      report_checklist **out, int *nout) {
    report_checklist *c = calloc((size_t)ng + 1, sizeof *c);
    if (!c) return gh_fail(GH_ENOMEM, "report: checklist");
    int n = 0;
    for (int i = 0; i < ng; i++) {
        int seen = 0;
        for (int j = 0; j < n; j++) seen |= !strcmp(c[j].dataset, g[i].dataset);
        if (!seen) report_checklist_of(runs, nruns, g[i].dataset, &c[n++]);
    }
    *out = c;
    *nout = n;
    return GH_OK;
}

static void usage(FILE *f) {
    fprintf(f, "usage: gpuhours report [-h] [-p TSV] [-o TEX] [-m TEX] [-k K]\n"
               "                       [--checklist-latex TEX] [--provenance-latex TEX] PATH...\n\n"
               "Results table of the runs in PATH (files, or directories of *.h5), grouped by\n"
               "method and dataset: error mean ± sd over runs, params, multiply-adds, search,\n"
               "final and end-to-end GPU-hours, energy, and the published values beside them;\n"
               "for each dataset the best-practice checklist of its comparison (Lindauer &\n"
               "Hutter 2020: shared search space, training pipeline, data split, budget and\n"
               "hardware; seeds; code version and seeds recorded; test set used once); and\n"
               "where each run came from. Markdown goes to stdout, LaTeX (booktabs) to the -o\n"
               "file, the numbers a paper quotes as \\newcommand macros to the -m file.\n\n"
               "options:\n"
               "  -p, --published TSV   published numbers (default reproductions/published.tsv)\n"
               "  -o, --latex TEX       LaTeX output file (default report.tex)\n"
               "  -m, --macros TEX      LaTeX macros file (paper/README.md names the macros)\n"
               "      --checklist-latex TEX   the checklist tables in their own file\n"
               "      --provenance-latex TEX  the provenance table in its own file\n"
               "  -k, --search-repeats K  k in k*(T_search + T_select) + T_final (default 1)\n"
               "  -h, --help            this help\n");
}

int cmd_report(int argc, char **argv) {
    report_config cfg = {"reproductions/published.tsv", "report.tex", NULL, NULL, NULL, 1};
    int published_given = 0;
    static const struct option opts[] = {{"published", required_argument, NULL, 'p'},
                                         {"latex", required_argument, NULL, 'o'},
                                         {"macros", required_argument, NULL, 'm'},
                                         {"checklist-latex", required_argument, NULL, 'C'},
                                         {"provenance-latex", required_argument, NULL, 'P'},
                                         {"search-repeats", required_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:o:m:k:h", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'p': cfg.published = optarg; published_given = 1; break;
        case 'o': cfg.latex = optarg; break;
        case 'm': cfg.macros = optarg; break;
        case 'C': cfg.checklist = optarg; break;
        case 'P': cfg.provenance = optarg; break;
        case 'k':
            cfg.k = strtod(optarg, &end);
            if (*end || !(cfg.k >= 1)) {
                fprintf(stderr, "gpuhours report: --search-repeats must be a number >= 1, got "
                                "'%s'\n", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    if (cli_out_path("report", "--latex", cfg.latex) ||
        (cfg.macros && cli_out_path("report", "--macros", cfg.macros)) ||
        (cfg.checklist && cli_out_path("report", "--checklist-latex", cfg.checklist)) ||
        (cfg.provenance && cli_out_path("report", "--provenance-latex", cfg.provenance)))
        return 2;
    fprintf(stderr, "gpuhours report: published=%s latex=%s macros=%s search-repeats=%g\n",
            cfg.published, cfg.latex, cfg.macros ? cfg.macros : "(none)", cfg.k);
    pub_row *pub = NULL;
    int npub = 0;
    int st = pub_read(cfg.published, &pub, &npub);
    if (st && (published_given || st != GH_EIO)) return cli_fail("report", st);
    if (st) fprintf(stderr, "gpuhours report: %s; published columns left empty\n", gh_error_get());
    char **files = NULL;
    int nfiles = 0, nruns = 0, nchk = 0;
    group *g = NULL;
    int ng = 0;
    report_run *runs = NULL;
    report_checklist *chk = NULL;
    st = ledger_find_files(argc - optind, argv + optind, &files, &nfiles);
    if (!st && nfiles == 0) st = gh_fail(GH_EINVAL, "no run files (*.h5) in the given paths");
    int skipped = 0;
    if (!st) st = load_groups(files, nfiles, &g, &ng, &runs, &nruns, &skipped);
    if (!st && ng == 0) st = gh_fail(GH_EINVAL, "none of the %d run files could be read", nfiles);
    if (!st) st = checklists(g, ng, runs, nruns, &chk, &nchk);
    if (!st) {
        write_markdown(stdout, g, ng, pub, npub, &cfg);
        report_checklist_markdown(stdout, chk, nchk);
        report_provenance_markdown(stdout, runs, nruns);
        st = write_latex(cfg.latex, g, ng, pub, npub, &cfg, chk, nchk, runs, nruns);
    }
    if (!st && cfg.checklist) st = write_tex_file(cfg.checklist, chk, nchk, NULL, 0);
    if (!st && cfg.provenance) st = write_tex_file(cfg.provenance, NULL, 0, runs, nruns);
    pub_table pt = {pub, npub};
    if (!st && cfg.macros) st = report_write_macros(cfg.macros, runs, nruns, cfg.k, pub_value, &pt);
    if (!st) fprintf(stderr, "gpuhours report: %d runs in %d groups; LaTeX in %s\n", nfiles, ng,
                     cfg.latex);
    ledger_free_files(files);
    pub_free(pub, npub);
    free(g);
    free(chk);
    free_runs(runs, nruns);
    return st ? cli_fail("report", st) : cli_runs_done("report", skipped, nfiles);
}
