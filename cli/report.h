// cli: what `gpuhours report` knows of each run beyond its summary (report_runs.c), and the two
// things it derives from them besides the results table: the best-practice checklist of each
// comparison (report_checklist.c) and the LaTeX macros a paper takes its numbers from
// (report_macros.c).
#pragma once
#include <stdio.h>

#include "ledger/ledger.h"

// One run as the checklist and the macros see it. Costs are seconds: device seconds on a run
// that held GPUs, wall seconds on a CPU-only one (as the results table's "GPU-h").
typedef struct {
    char file[256];
    char method[64], dataset[64], seed[32], host[128], devices[256], commit[48], dirty[8];
    char start[40], cuda[32], cudnn[32], version[32], preset[64], metric[32];
    char *config;            // config_text (owned)
    int gpus, workers, tabular;
    int smoke;               // smoke-scale by the rule of report_run_is_smoke
    double search_s, select_s, final_s, total_s;
    double budget_s;         // the budget the run was given (NAN: none recorded)
    int n_test;              // trials with a test accuracy
    int n_final;             // final models trained (distinct trials of the final phase)
    double acc;              // the summary's accuracy (test when acc_is_test)
    int acc_is_test;
    double madds, params;
    double *t_s, *loss;      // tabular: wall seconds and validation loss of each ok trial
    int nt;
} report_run;

// Fills r from an open run and its summary; report_run_free releases it.
int report_run_read(ledger *l, const char *path, const ledger_summary *s, report_run *r);
void report_run_free(report_run *r);

// Calls fn(ctx, "section.key", value) for each "key = value" line of a config text (as the
// run file stores it: [section] headers; a quoted value unquoted), in order, until fn returns
// nonzero, which it then returns; 0 at the end.
int report_config_each(const char *config, int (*fn)(void *ctx, const char *key, char *value),
                       void *ctx);
// The value of KEY in a run's config text ("[section]" lines, then "key = value"; quotes
// stripped), looked up as "section.key" or, for section-less texts (tune), "key". Returns
// NULL when absent; the text lives in buf.
const char *report_config_get(const char *config, const char *key, char *buf, size_t len);

// Rule for "smoke-scale" (paper/README.md): a preset whose name contains "smoke", a NAS run
// on a subset of its dataset (search_limit, final_limit or test_limit set), or a tabular run
// with a budget under REPORT_SMOKE_TUNE_S seconds.
#define REPORT_SMOKE_TUNE_S 60.0
int report_run_is_smoke(const report_run *r);

// ---- the checklist (Lindauer & Hutter 2020, "Best Practices for Scientific Research on NAS")
enum { CHK_SPACE, CHK_PIPELINE, CHK_SPLIT, CHK_BUDGET, CHK_HARDWARE, CHK_SEEDS, CHK_CODE,
       CHK_SEED_RECORDED, CHK_TEST_ONCE, CHK_N };
typedef struct {
    char dataset[64];
    int nruns, nmethods;
    const char *answer[CHK_N]; // "yes", "no", "n/a"
    char detail[CHK_N][512];
} report_checklist;
extern const char *const report_checklist_items[CHK_N];

// The checklist of the comparison of every run on `dataset`.
void report_checklist_of(const report_run *runs, int n, const char *dataset,
                         report_checklist *out);
void report_checklist_markdown(FILE *f, const report_checklist *c, int nc);
void report_checklist_latex(FILE *f, const report_checklist *c, int nc);

// ---- the tabular claim: FLAML's "90% of the optimum at a tenth of the budget" -------------
// For the runs of `method` on `dataset`: the fraction of the optimum (the best validation score
// any run on the dataset reached) that the method's best score at `at` of its budget reaches,
// mean over its runs; NAN when it has none. Scores: 1 - loss for accuracy, roc_auc, macro_f1,
// r2; optimum/loss for log_loss and rmse (losses where 0 is perfect).
double report_fraction_of_optimum(const report_run *runs, int n, const char *dataset,
                                  const char *method, double at);

// ---- macros ---------------------------------------------------------------------------------
// Writes the paper's numbers as \newcommand lines (paper/README.md lists them). pub: the
// published value of a method on a dataset (NULL: none known).
// col: REPORT_PUB_ERROR (percent) or REPORT_PUB_SEARCH_H (GPU-days x 24); NAN when absent.
enum { REPORT_PUB_ERROR, REPORT_PUB_SEARCH_H };
typedef double (*report_pub_fn)(void *ctx, const char *method, const char *dataset, int col);
int report_write_macros(const char *path, const report_run *runs, int n, double k,
                        report_pub_fn pub, void *pub_ctx);
// A LaTeX control-sequence name from words: "darts-second" + "SearchGpuHours" ->
// "dartsSecondSearchGpuHours" (letters only: digits spelled out, other characters dropped).
void report_macro_name(char *out, size_t len, const char *const *parts, int nparts);

// LaTeX-escapes s into out (report_tex.c); returns out.
const char *report_tex(const char *s, char *out, size_t len);

// Where the runs came from (report_provenance.c): Markdown, one row per run; LaTeX, one row
// per dataset and distinct hardware and software.
void report_provenance_markdown(FILE *f, const report_run *r, int n);
void report_provenance_latex(FILE *f, const report_run *r, int n);
