// cli: genotype cell drawings (cell_METHOD_DATASET): the normal and the reduction cell of the
// genotype of each NAS method's best run on a dataset, drawn by gnuplot from the genotype text
// (DARTS's form, models/genotype.c): the two cell inputs left, the intermediate nodes in
// order, the output (their concatenation) right; each edge an arrow labelled with its op.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "models/models.h"
#include "plot.h"

// Node positions: inputs c_{k-2} (top) and c_{k-1} (bottom) at x = 0, intermediate node i at
// x = 2.4 (i + 1), alternately high and low so that edges skipping nodes do not run through
// them, the output at the right.
static void node_xy(const geno_cell *cell, int node, double *x, double *y) {
    if (node == 0) *x = 0, *y = 3;
    else if (node == 1) *x = 0, *y = 0;
    else if (node == cell->steps + 2) *x = 2.4 * (cell->steps + 1), *y = 1.5;
    else *x = 2.4 * (node - 1), *y = (node % 2) ? 2.5 : 0.5;
}

static const char *node_name(const geno_cell *cell, int node, char *buf, size_t len) {
    if (node == 0) return "c_k-2";
    if (node == 1) return "c_k-1";
    if (node == cell->steps + 2) return "c_k";
    snprintf(buf, len, "%d", node - 2);
    return buf;
}

// One cell as two data blocks: nodes "x y name", then edges "x0 y0 dx dy xlabel ylabel op"
// (arrows shortened by the node radius; concat edges labelled "").
static void write_cell(FILE *d, const geno_cell *cell, const char *which) {
    const double r = 0.36;
    char b[16];
    fprintf(d, "# %s cell: nodes (x y name)\n", which);
    for (int k = 0; k < cell->steps + 3; k++) {
        double x, y;
        node_xy(cell, k, &x, &y);
        fprintf(d, "%g %g \"%s\"\n", x, y, node_name(cell, k, b, sizeof b));
    }
    fprintf(d, "\n\n# %s cell: edges (x0 y0 dx dy label_x label_y op)\n", which);
    int any = 0;
    for (int e = 0; e < 2 * cell->steps; e++) {
        double x0, y0, x1, y1;
        node_xy(cell, cell->edge[e].input, &x0, &y0);
        node_xy(cell, 2 + e / 2, &x1, &y1);
        double dx = x1 - x0, dy = y1 - y0, len = sqrt(dx * dx + dy * dy);
        if (len <= 2 * r) continue;
        double ux = dx / len, uy = dy / len;
        // the label a third of the way from the target, so that two edges into one node
        // (which start apart) keep their labels apart
        double t = (e % 2) ? 0.62 : 0.38;
        fprintf(d, "%g %g %g %g %g %g \"%s\"\n", x0 + r * ux, y0 + r * uy, dx - 2 * r * ux,
                dy - 2 * r * uy, x0 + t * dx, y0 + t * dy,
                darts_ops[cell->edge[e].op].name);
        any = 1;
    }
    if (!any) fprintf(d, "nan nan nan nan nan nan \"\"\n");
    fprintf(d, "\n\n# %s cell: concatenation into the output (x0 y0 dx dy)\n", which);
    for (int k = 0; k < cell->nconcat; k++) {
        double x0, y0, x1, y1;
        node_xy(cell, cell->concat[k], &x0, &y0);
        node_xy(cell, cell->steps + 2, &x1, &y1);
        double dx = x1 - x0, dy = y1 - y0, len = sqrt(dx * dx + dy * dy);
        double ux = dx / len, uy = dy / len;
        fprintf(d, "%g %g %g %g\n", x0 + r * ux, y0 + r * uy, dx - 2 * r * ux, dy - 2 * r * uy);
    }
    if (!cell->nconcat) fprintf(d, "nan nan nan nan\n");
    fprintf(d, "\n\n");
}

static void gp_cell(FILE *g, const char *name, int base, const char *title, double xmax) {
    fprintf(g, "set title \"%s\"\nset xrange [-0.7:%g]\nset yrange [-0.6:3.6]\n"
               "plot \"%s.dat\" index %d using 1:2:3:4 with vectors head filled size 0.12,20 "
               "lw 1.5 lc rgb \"#333333\", \\\n"
               "  \"\" index %d using 1:2:3:4 with vectors head filled size 0.12,20 dt 2 lw 1 "
               "lc rgb \"#888888\", \\\n"
               "  \"\" index %d using 5:6:(nm(strcol(7))) with labels boxed font \",8\" "
               "tc rgb \"#b2182b\", "
               "\\\n"
               "  \"\" index %d using 1:2 with points pt 7 ps 6.5 lc rgb \"#d1e5f0\", \\\n"
               "  \"\" index %d using 1:2 with points pt 6 ps 6.5 lc rgb \"#2166ac\", \\\n"
               "  \"\" index %d using 1:2:(nm(strcol(3))) with labels font \",10\"\n",
            title, xmax + 0.7, name, base + 1, base + 2, base + 1, base, base, base);
}

int plot_cells(const plot_config *c, const plot_run *runs, int n, const char *dataset) {
    char done[32][64];
    int nd = 0;
    for (int i = 0; i < n; i++) {
        if (!runs[i].genotype || strcmp(runs[i].dataset, dataset)) continue;
        int seen = 0;
        for (int j = 0; j < nd; j++) seen |= !strcmp(done[j], runs[i].method);
        if (seen || nd == 32) continue;
        // the method's best run on the dataset (its summary's accuracy)
        const plot_run *best = &runs[i];
        for (int j = i + 1; j < n; j++)
            if (runs[j].genotype && !strcmp(runs[j].dataset, dataset) &&
                !strcmp(runs[j].method, best->method) && runs[j].s.acc > best->s.acc)
                best = &runs[j];
        snprintf(done[nd++], 64, "%s", best->method);
        genotype geno;
        if (genotype_parse(&geno, best->genotype)) {
            // another space's text (an ENAS arc): not drawn, said so
            fprintf(stderr, "gpuhours plot: %s on %s: genotype not in DARTS's text form, no "
                            "cell drawing (%s)\n", best->method, dataset, gh_error_get());
            continue;
        }
        char name[160], ms[64], ds[64];
        plot_file_safe(ms, sizeof ms, best->method);
        plot_file_safe(ds, sizeof ds, dataset);
        snprintf(name, sizeof name, "cell_%s_%s", ms, ds);
        FILE *d = plot_open_out(c, name, "dat");
        if (!d) return GH_EIO;
        fprintf(d, "# genotype of %s on %s (its most accurate run):\n# %s\n", best->method,
                dataset, best->genotype);
        write_cell(d, &geno.normal, "normal");
        write_cell(d, &geno.reduce, "reduction");
        fclose(d);
        FILE *g = plot_open_out(c, name, "gp");
        if (!g) return GH_EIO;
        plot_gp_begin(g, c, name, "genotype cells (normal and reduction) drawn from the genotype "
                                  "text in the .dat header");
        double xmax = 2.4 * (fmax(geno.normal.steps, geno.reduce.steps) + 1);
        fprintf(g, "set multiplot layout 2,1 title \"%s on %s: the searched cells\"\n"
                   "unset key\nunset border\nunset tics\nunset grid\nset size ratio -1\n"
                   "set style textbox opaque noborder margins 1,1\n",
                best->method, dataset);
        gp_cell(g, name, 0, "normal cell", xmax);
        gp_cell(g, name, 3, "reduction cell", xmax);
        fprintf(g, "unset multiplot\n");
        plot_gp_end(g);
        fclose(g);
        int st = plot_gnuplot(c, name);
        if (st) return st;
    }
    return GH_OK;
}
