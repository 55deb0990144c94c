// supernet: DARTS's search network (model_search.py): cells of mixed ops whose outputs are
// sum_k softmax(alpha_edge)_k op_k(x) (paper eq. 1), BN without affine, architecture weights
// in GH_GROUP_ARCH, single-path forward for weight sharing, and genotype derivation.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models.h"

typedef struct {
    int reduction, reduction_prev, c;
    darts_op pre0, pre1;
    darts_op *ops;   // [edges][DARTS_NUM_PRIMITIVES]
} snet_cell;

struct darts_supernet {
    gh_engine *e;
    darts_net_config cfg;
    int edges;
    darts_conv stem;
    darts_bn stem_bn;
    snet_cell *cells;
    gh_tensor *lin_w, *lin_b;
    // one [1, 8] parameter per edge, so a row is a tensor and the group's flat buffer is the
    // [edges, 8] matrix of the paper (normal rows, then reduce rows)
    gh_tensor **alpha[2];
};

darts_net_config darts_search_net_defaults(void) {
    return (darts_net_config){.in_c = 3, .in_h = 32, .in_w = 32, .classes = 10, .layers = 8,
                              .c = 16, .steps = 4, .multiplier = 4, .stem_multiplier = 3,
                              .auxiliary = 0};
}

darts_net_config darts_eval_net_defaults(void) {
    return (darts_net_config){.in_c = 3, .in_h = 32, .in_w = 32, .classes = 10, .layers = 20,
                              .c = 36, .steps = 4, .multiplier = 4, .stem_multiplier = 3,
                              .auxiliary = 1};
}

static int check_cfg(const darts_net_config *cfg) {
    if (cfg->in_c < 1 || cfg->in_h < 4 || cfg->in_w < 4 || cfg->classes < 2 || cfg->layers < 1 ||
        cfg->c < 1 || cfg->steps < 1 || cfg->steps > GENO_MAX_STEPS || cfg->multiplier < 1 ||
        cfg->multiplier > cfg->steps || cfg->stem_multiplier < 1)
        return gh_fail(GH_EINVAL,
                       "darts network config: in %dx%dx%d classes %d layers %d C %d steps %d "
                       "multiplier %d stem_multiplier %d out of range",
                       cfg->in_c, cfg->in_h, cfg->in_w, cfg->classes, cfg->layers, cfg->c,
                       cfg->steps, cfg->multiplier, cfg->stem_multiplier);
    return GH_OK;
}

int darts_supernet_edges(const darts_supernet *n) { return n->edges; }

void darts_supernet_input_shape(const darts_supernet *n, int batch, int shape[4]) {
    shape[0] = batch;
    shape[1] = n->cfg.in_c;
    shape[2] = n->cfg.in_h;
    shape[3] = n->cfg.in_w;
}

void darts_supernet_free(darts_supernet *n) {
    if (!n) return;
    if (n->cells)
        for (int i = 0; i < n->cfg.layers; i++) free(n->cells[i].ops);
    free(n->cells);
    free(n->alpha[0]);
    free(n->alpha[1]);
    free(n);
}

static int build_cell(gh_engine *e, snet_cell *cell, int idx, int edges, int steps, int cpp,
                      int cp) {
    char name[128];
    int c = cell->c, st;
    snprintf(name, sizeof name, "cells.%d.preprocess0", idx);
    st = darts_op_build(e, &cell->pre0,
                        cell->reduction_prev ? DARTS_OP_FACT_REDUCE : DARTS_OP_RELU_CONV_BN, cpp,
                        c, 1, 0, name);
    if (st) return st;
    snprintf(name, sizeof name, "cells.%d.preprocess1", idx);
    if ((st = darts_op_build(e, &cell->pre1, DARTS_OP_RELU_CONV_BN, cp, c, 1, 0, name))) return st;
    cell->ops = calloc((size_t)edges * DARTS_NUM_PRIMITIVES, sizeof *cell->ops);
    if (!cell->ops) return gh_fail(GH_ENOMEM, "supernet cell %d: no memory for ops", idx);
    int edge = 0;
    for (int i = 0; i < steps; i++)
        for (int j = 0; j < 2 + i; j++, edge++) {
            int stride = cell->reduction && j < 2 ? 2 : 1;
            for (int k = 0; k < DARTS_NUM_PRIMITIVES; k++) {
                snprintf(name, sizeof name, "cells.%d._ops.%d._ops.%d", idx, edge, k);
                st = darts_op_build(e, &cell->ops[edge * DARTS_NUM_PRIMITIVES + k],
                                    (darts_op_kind)k, c, c, stride, 0, name);
                if (st) return st;
            }
        }
    return GH_OK;
}

int darts_supernet_build(darts_supernet **out, gh_engine *e, const darts_net_config *cfg) {
    int st = check_cfg(cfg);
    if (st) return st;
    darts_supernet *n = calloc(1, sizeof *n);
    if (!n) return gh_fail(GH_ENOMEM, "supernet: no memory");
    n->e = e;
    n->cfg = *cfg;
    n->edges = 0;
    for (int i = 0; i < cfg->steps; i++) n->edges += 2 + i;
    n->cells = calloc((size_t)cfg->layers, sizeof *n->cells);
    n->alpha[0] = calloc((size_t)n->edges, sizeof(gh_tensor *));
    n->alpha[1] = calloc((size_t)n->edges, sizeof(gh_tensor *));
    if (!n->cells || !n->alpha[0] || !n->alpha[1]) {
        darts_supernet_free(n);
        return gh_fail(GH_ENOMEM, "supernet: no memory");
    }
    int cc = cfg->stem_multiplier * cfg->c;
    if ((st = darts_conv_decl(e, &n->stem, "stem.0.weight", cfg->in_c, cc, 3, 3, 1, 1, 1, 1, 1, 1)) ||
        (st = darts_bn_decl(e, &n->stem_bn, "stem.1", cc, 1))) {
        darts_supernet_free(n);
        return st;
    }
    int cpp = cc, cp = cc, red_prev = 0;
    cc = cfg->c;
    for (int i = 0; i < cfg->layers; i++) {
        snet_cell *cell = &n->cells[i];
        cell->reduction = (i == cfg->layers / 3 || i == 2 * cfg->layers / 3);
        if (cell->reduction) cc *= 2;
        cell->reduction_prev = red_prev;
        cell->c = cc;
        if ((st = build_cell(e, cell, i, n->edges, cfg->steps, cpp, cp))) {
            darts_supernet_free(n);
            return st;
        }
        red_prev = cell->reduction;
        cpp = cp;
        cp = cfg->multiplier * cc;
    }
    int lw[2] = {cfg->classes, cp}, lb[1] = {cfg->classes};
    n->lin_w = gh_param(e, GH_GROUP_WEIGHTS, "classifier.weight", 2, lw, GH_INIT_KAIMING_UNIFORM, cp);
    n->lin_b = gh_param(e, GH_GROUP_WEIGHTS, "classifier.bias", 1, lb, GH_INIT_KAIMING_UNIFORM, cp);
    // alphas: 1e-3 * randn (model_search.py _initialize_alphas)
    int as[2] = {1, DARTS_NUM_PRIMITIVES};
    for (int r = 0; r < 2; r++)
        for (int k = 0; k < n->edges; k++) {
            char name[64];
            snprintf(name, sizeof name, "alphas_%s.%d", r ? "reduce" : "normal", k);
            n->alpha[r][k] = gh_param(e, GH_GROUP_ARCH, name, 2, as, GH_INIT_NORMAL_1E3, 0);
            if (!n->alpha[r][k]) st = GH_EINVAL;
        }
    if (!n->lin_w || !n->lin_b || st) {
        darts_supernet_free(n);
        return gh_fail(GH_EINVAL, "supernet: declaring classifier/alphas failed: %s",
                       gh_error_get());
    }
    *out = n;
    return GH_OK;
}

int darts_supernet_read_alphas(darts_supernet *n, int reduce, float *out) {
    for (int k = 0; k < n->edges; k++) {
        int st = gh_tensor_to_host(n->e, n->alpha[reduce ? 1 : 0][k], out + k * DARTS_NUM_PRIMITIVES);
        if (st) return st;
    }
    return GH_OK;
}

static gh_tensor *sum_terms(gh_engine *e, int k, gh_tensor **terms) {
    gh_tensor *s = terms[0];
    for (int i = 1; i < k; i++) s = gh_add(e, s, terms[i]);
    return s;
}

// One cell; g NULL: every edge a mixed op weighted by softmax(alpha); else only g's edges.
static gh_tensor *cell_forward(darts_supernet *n, const snet_cell *cell, gh_tensor *s0,
                               gh_tensor *s1, const geno_cell *g) {
    gh_engine *e = n->e;
    gh_tensor *states[2 + GENO_MAX_STEPS];
    int steps = n->cfg.steps;
    states[0] = darts_op_forward(e, &cell->pre0, s0);
    states[1] = darts_op_forward(e, &cell->pre1, s1);
    int off = 0;
    for (int i = 0; i < steps; i++) {
        gh_tensor *terms[2 + GENO_MAX_STEPS];
        int nt = 0;
        if (!g) {
            for (int j = 0; j < 2 + i; j++) {
                const darts_op *ops = &cell->ops[(off + j) * DARTS_NUM_PRIMITIVES];
                gh_tensor *w = gh_softmax(e, n->alpha[cell->reduction][off + j]);
                gh_tensor *xs[DARTS_NUM_PRIMITIVES];
                for (int k = 0; k < DARTS_NUM_PRIMITIVES; k++)
                    xs[k] = darts_op_forward(e, &ops[k], states[j]);  // none gives NULL
                terms[nt++] = gh_wsum(e, DARTS_NUM_PRIMITIVES, xs, w);
            }
        } else {
            for (int t = 0; t < 2; t++) {
                const geno_edge *ge = &g->edge[2 * i + t];
                const darts_op *op = &cell->ops[(off + ge->input) * DARTS_NUM_PRIMITIVES + ge->op];
                terms[nt++] = darts_op_forward(e, op, states[ge->input]);
            }
        }
        states[2 + i] = sum_terms(e, nt, terms);
        off += 2 + i;
    }
    return gh_concat(e, n->cfg.multiplier, &states[2 + steps - n->cfg.multiplier]);
}

static gh_tensor *net_forward(darts_supernet *n, gh_tensor *x, const genotype *g) {
    gh_engine *e = n->e;
    gh_tensor *s0 = darts_bn_fwd(e, &n->stem_bn, darts_conv_fwd(e, &n->stem, x)), *s1 = s0;
    for (int i = 0; i < n->cfg.layers; i++) {
        const snet_cell *cell = &n->cells[i];
        const geno_cell *gc = g ? (cell->reduction ? &g->reduce : &g->normal) : NULL;
        gh_tensor *out = cell_forward(n, cell, s0, s1, gc);
        s0 = s1;
        s1 = out;
    }
    return gh_linear(e, gh_flatten(e, gh_global_avgpool(e, s1)), n->lin_w, n->lin_b);
}

gh_tensor *darts_supernet_forward(darts_supernet *n, gh_tensor *x) {
    return net_forward(n, x, NULL);
}

gh_tensor *darts_supernet_forward_path(darts_supernet *n, gh_tensor *x, const genotype *g) {
    const geno_cell *cells[2] = {&g->normal, &g->reduce};
    for (int r = 0; r < 2; r++) {
        const geno_cell *gc = cells[r];
        if (gc->steps != n->cfg.steps) {
            gh_fail(GH_EINVAL, "supernet path: genotype has %d steps, supernet %d", gc->steps,
                    n->cfg.steps);
            return NULL;
        }
        for (int i = 0; i < 2 * gc->steps; i++)
            if (gc->edge[i].op >= DARTS_NUM_PRIMITIVES || gc->edge[i].op == DARTS_OP_NONE ||
                gc->edge[i].input >= 2 + i / 2) {
                gh_fail(GH_EINVAL, "supernet path: edge %d (%s, %d) not in the search space",
                        i, darts_ops[gc->edge[i].op].name, gc->edge[i].input);
                return NULL;
            }
    }
    return net_forward(n, x, g);
}

// ---- genotype derivation (model_search.py genotype()) -------------------------------------------
static void softmax_rows(const float *a, int rows, float *p) {
    for (int r = 0; r < rows; r++) {
        const float *x = a + r * DARTS_NUM_PRIMITIVES;
        float *y = p + r * DARTS_NUM_PRIMITIVES, m = x[0];
        double s = 0;
        for (int k = 1; k < DARTS_NUM_PRIMITIVES; k++) m = x[k] > m ? x[k] : m;
        for (int k = 0; k < DARTS_NUM_PRIMITIVES; k++) s += (y[k] = expf(x[k] - m));
        for (int k = 0; k < DARTS_NUM_PRIMITIVES; k++) y[k] = (float)(y[k] / s);
    }
}

// strongest non-none op of an edge row: the first maximum, as DARTS's loop keeps it
static int best_op(const float *w) {
    int kb = -1;
    for (int k = 0; k < DARTS_NUM_PRIMITIVES; k++)
        if (k != DARTS_OP_NONE && (kb < 0 || w[k] > w[kb])) kb = k;
    return kb;
}

static float edge_strength(const float *p, int row) {
    const float *w = p + row * DARTS_NUM_PRIMITIVES;
    return w[best_op(w)];
}

static void derive_cell(const float *alpha, int steps, int multiplier, geno_cell *gc) {
    int edges = 0;
    for (int i = 0; i < steps; i++) edges += 2 + i;
    float *p = malloc(sizeof(float) * (size_t)edges * DARTS_NUM_PRIMITIVES);
    if (!p) {
        memset(gc, 0, sizeof *gc);
        return;
    }
    softmax_rows(alpha, edges, p);
    int start = 0;
    gc->steps = steps;
    for (int i = 0; i < steps; i++) {
        // top-2 inputs by strongest non-none weight; ties keep the lower index first
        // (Python's stable sorted() in DARTS)
        int pick[2] = {-1, -1};
        for (int t = 0; t < 2; t++)
            for (int j = 0; j < 2 + i; j++) {
                if (j == pick[0]) continue;
                if (pick[t] < 0 || edge_strength(p, start + j) > edge_strength(p, start + pick[t]))
                    pick[t] = j;
            }
        for (int t = 0; t < 2; t++) {
            gc->edge[2 * i + t].input = pick[t];
            gc->edge[2 * i + t].op = best_op(p + (start + pick[t]) * DARTS_NUM_PRIMITIVES);
        }
        start += 2 + i;
    }
    gc->nconcat = multiplier;
    for (int i = 0; i < multiplier; i++) gc->concat[i] = 2 + steps - multiplier + i;
    free(p);
}

void darts_derive_genotype(const float *alpha_normal, const float *alpha_reduce, int steps,
                           int multiplier, genotype *g) {
    derive_cell(alpha_normal, steps, multiplier, &g->normal);
    derive_cell(alpha_reduce, steps, multiplier, &g->reduce);
}

int darts_supernet_genotype(darts_supernet *n, genotype *g) {
    size_t rows = (size_t)n->edges;
    float *a = malloc(sizeof(float) * 2 * rows * DARTS_NUM_PRIMITIVES);
    if (!a) return gh_fail(GH_ENOMEM, "supernet genotype: no memory");
    int st = darts_supernet_read_alphas(n, 0, a);
    if (!st) st = darts_supernet_read_alphas(n, 1, a + rows * DARTS_NUM_PRIMITIVES);
    if (!st)
        darts_derive_genotype(a, a + rows * DARTS_NUM_PRIMITIVES, n->cfg.steps, n->cfg.multiplier,
                              g);
    free(a);
    return st;
}
