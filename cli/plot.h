// cli: what `gpuhours plot` shares between its figure files: the runs as loaded, and the
// gnuplot side (plot_gp.c): each figure is NAME.dat (numbers), NAME.gp (an editable script
// that draws it as PNG, PDF and cairolatex NAME-tex.tex/.pdf, whose text LaTeX sets in the
// paper's fonts) and what gnuplot makes of it.
#pragma once
#include <stdio.h>

#include "ledger/ledger.h"

typedef struct {
    const char *out_dir;
    const char *published;
    const char *gnuplot;
    const char *style;     // gnuplot file loaded by every script after its defaults (NULL: none)
} plot_config;

typedef struct {
    double cost_h;   // cumulative GPU-hours (CPU-only run: wall-clock hours) at this trial
    double acc;      // test accuracy, or validation accuracy when no test one (fraction)
    double madds;
    double t_s;      // wall seconds since the run began
    double val_loss;
    double test_acc; // NAN unless a final model (test accuracy measured)
    double val_acc;
} plot_trial;

typedef struct {
    char phase[16];
    int epoch;
    double val_acc, train_loss, cost_h;
} plot_epoch;

typedef struct {
    char method[64], dataset[64];
    int gpus, tabular;
    plot_trial *t;
    int nt;
    plot_epoch *e;
    int ne;
    ledger_summary s;
    char *genotype;  // artifact "genotype" (NAS runs), NULL when absent
} plot_run;

// DIR/NAME.EXT opened for writing (NULL after gh_fail).
FILE *plot_open_out(const plot_config *c, const char *name, const char *ext);
// The header and footer of every script: a loop over the formats png, pdf and tex
// (cairolatex); inside it, `pc` is the percent sign for the format (LaTeX needs "\%").
void plot_gp_begin(FILE *g, const plot_config *c, const char *name, const char *what);
void plot_gp_end(FILE *g);
// Runs gnuplot on DIR/NAME.gp in DIR.
int plot_gnuplot(const plot_config *c, const char *name);
// s with every character but [A-Za-z0-9_-] replaced by '_'.
void plot_file_safe(char *dst, size_t len, const char *s);

// Genotype cell drawings (plot_cells.c): cell_METHOD_DATASET, the normal and the reduction
// cell of the genotype of each NAS method's best run on the dataset.
int plot_cells(const plot_config *c, const plot_run *runs, int n, const char *dataset);
