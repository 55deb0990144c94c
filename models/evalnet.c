// evalnet: DARTS's evaluation network (model.py NetworkCIFAR): a stack of cells built from a
// genotype, affine BN, drop-path on every non-identity op output, and the auxiliary head at
// 2/3 of the depth.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models.h"

typedef struct {
    int reduction, c;
    const geno_cell *g;
    darts_op pre0, pre1;
    darts_op ops[2 * GENO_MAX_STEPS];
} enet_cell;

struct darts_evalnet {
    gh_engine *e;
    darts_net_config cfg;
    genotype g;
    darts_conv stem;
    darts_bn stem_bn;
    enet_cell *cells;
    gh_tensor *lin_w, *lin_b;
    int aux_at;                      // cell index after which the auxiliary head reads
    darts_conv aux_conv1, aux_conv2; // 1x1 to 128, kxk to 768
    darts_bn aux_bn1, aux_bn2;
    gh_tensor *aux_w, *aux_b;
};

void darts_evalnet_free(darts_evalnet *n) {
    if (!n) return;
    free(n->cells);
    free(n);
}

// AuxiliaryHeadCIFAR: ReLU, avgpool 5/3, 1x1 conv 128, BN, ReLU, conv 768 over the whole
// pooled map (2x2 at CIFAR's 8x8; 1x1 at Fashion-MNIST's 7x7), BN, ReLU, linear.
static int build_aux(darts_evalnet *n, int c, int h) {
    gh_engine *e = n->e;
    int pooled = (h - 5) / 3 + 1, k = pooled < 2 ? pooled : 2, st;
    if (h < 5)
        return gh_fail(GH_EINVAL, "auxiliary head needs a feature map of at least 5x5 at cell %d, "
                                  "got %dx%d; set auxiliary off", n->aux_at, h, h);
    if ((st = darts_conv_decl(e, &n->aux_conv1, "auxiliary_head.features.2.weight", c, 128, 1, 1,
                              1, 1, 0, 0, 1, 1)) ||
        (st = darts_bn_decl(e, &n->aux_bn1, "auxiliary_head.features.3", 128, 1)) ||
        (st = darts_conv_decl(e, &n->aux_conv2, "auxiliary_head.features.5.weight", 128, 768, k,
                              k, 1, 1, 0, 0, 1, 1)) ||
        (st = darts_bn_decl(e, &n->aux_bn2, "auxiliary_head.features.6", 768, 1)))
        return st;
    int ws[2] = {n->cfg.classes, 768}, bs[1] = {n->cfg.classes};
    n->aux_w = gh_param(e, GH_GROUP_WEIGHTS, "auxiliary_head.classifier.weight", 2, ws,
                        GH_INIT_KAIMING_UNIFORM, 768);
    n->aux_b = gh_param(e, GH_GROUP_WEIGHTS, "auxiliary_head.classifier.bias", 1, bs,
                        GH_INIT_KAIMING_UNIFORM, 768);
    return n->aux_w && n->aux_b ? GH_OK : gh_fail(GH_EINVAL, "auxiliary head: %s", gh_error_get());
}

static int build_cell(darts_evalnet *n, enet_cell *cell, int idx, int red_prev, int cpp, int cp) {
    char name[128];
    gh_engine *e = n->e;
    int c = cell->c, st;
    snprintf(name, sizeof name, "cells.%d.preprocess0", idx);
    if ((st = darts_op_build(e, &cell->pre0, red_prev ? DARTS_OP_FACT_REDUCE : DARTS_OP_RELU_CONV_BN,
                             cpp, c, 1, 1, name)))
        return st;
    snprintf(name, sizeof name, "cells.%d.preprocess1", idx);
    if ((st = darts_op_build(e, &cell->pre1, DARTS_OP_RELU_CONV_BN, cp, c, 1, 1, name))) return st;
    for (int i = 0; i < 2 * cell->g->steps; i++) {
        const geno_edge *ge = &cell->g->edge[i];
        if (ge->op == DARTS_OP_NONE)
            return gh_fail(GH_EINVAL, "genotype %s edge %d is 'none': an evaluation cell needs "
                                      "an op on every edge", cell->reduction ? "reduce" : "normal", i);
        int stride = cell->reduction && ge->input < 2 ? 2 : 1;
        snprintf(name, sizeof name, "cells.%d._ops.%d", idx, i);
        if ((st = darts_op_build(e, &cell->ops[i], (darts_op_kind)ge->op, c, c, stride, 1, name)))
            return st;
    }
    return GH_OK;
}

int darts_evalnet_build(darts_evalnet **out, gh_engine *e, const darts_net_config *cfg,
                        const genotype *g) {
    int st = genotype_validate(g);
    if (st) return st;
    if (cfg->layers < 1 || cfg->c < 1 || cfg->classes < 2 || cfg->in_c < 1 || cfg->in_h < 4)
        return gh_fail(GH_EINVAL, "darts eval network: layers %d C %d classes %d input %dx%dx%d",
                       cfg->layers, cfg->c, cfg->classes, cfg->in_c, cfg->in_h, cfg->in_w);
    darts_evalnet *n = calloc(1, sizeof *n);
    if (!n) return gh_fail(GH_ENOMEM, "eval network: no memory");
    n->e = e;
    n->cfg = *cfg;
    n->g = *g;
    n->cells = calloc((size_t)cfg->layers, sizeof *n->cells);
    if (!n->cells) {
        free(n);
        return gh_fail(GH_ENOMEM, "eval network: no memory");
    }
    int cc = cfg->stem_multiplier * cfg->c, h = cfg->in_h, c_aux = 0, h_aux = 0;
    if ((st = darts_conv_decl(e, &n->stem, "stem.0.weight", cfg->in_c, cc, 3, 3, 1, 1, 1, 1, 1, 1)) ||
        (st = darts_bn_decl(e, &n->stem_bn, "stem.1", cc, 1)))
        goto fail;
    int cpp = cc, cp = cc, red_prev = 0;
    cc = cfg->c;
    n->aux_at = 2 * cfg->layers / 3;
    for (int i = 0; i < cfg->layers; i++) {
        enet_cell *cell = &n->cells[i];
        cell->reduction = (i == cfg->layers / 3 || i == 2 * cfg->layers / 3);
        if (cell->reduction) {
            cc *= 2;
            h = (h - 1) / 2 + 1;
        }
        cell->c = cc;
        cell->g = cell->reduction ? &n->g.reduce : &n->g.normal;
        if ((st = build_cell(n, cell, i, red_prev, cpp, cp))) goto fail;
        red_prev = cell->reduction;
        cpp = cp;
        cp = cell->g->nconcat * cc;
        if (i == n->aux_at) {
            c_aux = cp;
            h_aux = h;
        }
    }
    if (cfg->auxiliary && (st = build_aux(n, c_aux, h_aux))) goto fail;
    int lw[2] = {cfg->classes, cp}, lb[1] = {cfg->classes};
    n->lin_w = gh_param(e, GH_GROUP_WEIGHTS, "classifier.weight", 2, lw, GH_INIT_KAIMING_UNIFORM, cp);
    n->lin_b = gh_param(e, GH_GROUP_WEIGHTS, "classifier.bias", 1, lb, GH_INIT_KAIMING_UNIFORM, cp);
    if (!n->lin_w || !n->lin_b) {
        st = gh_fail(GH_EINVAL, "eval network classifier: %s", gh_error_get());
        goto fail;
    }
    *out = n;
    return GH_OK;
fail:
    darts_evalnet_free(n);
    return st;
}

static gh_tensor *cell_forward(darts_evalnet *n, const enet_cell *cell, gh_tensor *s0,
                               gh_tensor *s1, float drop_path) {
    gh_engine *e = n->e;
    gh_tensor *states[2 + GENO_MAX_STEPS];
    const geno_cell *g = cell->g;
    states[0] = darts_op_forward(e, &cell->pre0, s0);
    states[1] = darts_op_forward(e, &cell->pre1, s1);
    for (int i = 0; i < g->steps; i++) {
        gh_tensor *h[2];
        for (int t = 0; t < 2; t++) {
            const darts_op *op = &cell->ops[2 * i + t];
            h[t] = darts_op_forward(e, op, states[g->edge[2 * i + t].input]);
            // model.py: drop-path on every op output except identities (gh_droppath is the
            // identity outside training)
            int identity = op->kind == DARTS_OP_SKIP_CONNECT && op->stride == 1;
            if (drop_path > 0.0f && !identity) h[t] = gh_droppath(e, h[t], drop_path);
        }
        states[2 + i] = gh_add(e, h[0], h[1]);
    }
    gh_tensor *outs[GENO_MAX_STEPS + 2];
    for (int i = 0; i < g->nconcat; i++) outs[i] = states[g->concat[i]];
    return g->nconcat == 1 ? outs[0] : gh_concat(e, g->nconcat, outs);
}

static gh_tensor *aux_forward(darts_evalnet *n, gh_tensor *x) {
    gh_engine *e = n->e;
    x = gh_avgpool(e, gh_relu(e, x), 5, 3, 0);
    x = gh_relu(e, darts_bn_fwd(e, &n->aux_bn1, darts_conv_fwd(e, &n->aux_conv1, x)));
    x = gh_relu(e, darts_bn_fwd(e, &n->aux_bn2, darts_conv_fwd(e, &n->aux_conv2, x)));
    return gh_linear(e, gh_flatten(e, x), n->aux_w, n->aux_b);
}

gh_tensor *darts_evalnet_forward(darts_evalnet *n, gh_tensor *x, float drop_path,
                                 gh_tensor **logits_aux) {
    gh_engine *e = n->e;
    if (logits_aux) *logits_aux = NULL;
    gh_tensor *s0 = darts_bn_fwd(e, &n->stem_bn, darts_conv_fwd(e, &n->stem, x)), *s1 = s0;
    for (int i = 0; i < n->cfg.layers; i++) {
        gh_tensor *out = cell_forward(n, &n->cells[i], s0, s1, drop_path);
        s0 = s1;
        s1 = out;
        if (i == n->aux_at && n->cfg.auxiliary && logits_aux) *logits_aux = aux_forward(n, s1);
    }
    gh_tensor *feat = gh_flatten(e, gh_global_avgpool(e, s1));
    // ENAS's final network: dropout (1 - child_keep_prob) before the classifier, training only
    if (n->cfg.dropout > 0) feat = gh_dropout(e, feat, (float)n->cfg.dropout);
    return gh_linear(e, feat, n->lin_w, n->lin_b);
}
