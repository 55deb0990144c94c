// count: exact parameters and multiply-adds of DARTS networks, analytically from the config
// and the genotype (no engine): walks the same structure as supernet.c/evalnet.c with each
// op's closed-form count, so the tests can hold one against the other.
#include <string.h>

#include "models.h"

static void add_op(darts_op_kind kind, int c_in, int c_out, int stride, int affine, int h, int w,
                   darts_count *c) {
    darts_op op;
    memset(&op, 0, sizeof op);
    op.kind = kind;
    op.c_in = c_in;
    op.c_out = c_out;
    op.stride = stride;
    op.affine = affine;
    darts_op_count(&op, h, w, c);
}

static int conv_len(int h, int k, int s, int p) { return (h + 2 * p - k) / s + 1; }

int darts_count_net(const darts_net_config *cfg, const genotype *g, darts_net_count *out) {
    memset(out, 0, sizeof *out);
    if (g && genotype_validate(g)) return GH_EINVAL;
    int supernet = g == NULL, affine = !supernet;
    darts_count c = {0, 0, 0};
    int cc = cfg->stem_multiplier * cfg->c;
    // stem: 3x3 conv without bias, affine BN (affine in the search network too)
    c.params += (double)cfg->in_c * 9 * cc + 2.0 * cc;
    c.madds += (double)cfg->in_c * 9 * cc * cfg->in_h * cfg->in_w;
    c.buffers += 2.0 * cc;
    int cpp = cc, cp = cc, red_prev = 0;
    int hpp = cfg->in_h, wpp = cfg->in_w, hp = cfg->in_h, wp = cfg->in_w;
    int c_aux = 0, h_aux = 0, w_aux = 0;
    cc = cfg->c;
    for (int i = 0; i < cfg->layers; i++) {
        int red = (i == cfg->layers / 3 || i == 2 * cfg->layers / 3);
        if (red) cc *= 2;
        add_op(red_prev ? DARTS_OP_FACT_REDUCE : DARTS_OP_RELU_CONV_BN, cpp, cc, 1, affine, hpp,
               wpp, &c);
        add_op(DARTS_OP_RELU_CONV_BN, cp, cc, 1, affine, hp, wp, &c);
        // both preprocessed inputs are at s1's size; stride-2 edges halve it
        int ho = red ? conv_len(hp, 3, 2, 1) : hp, wo = red ? conv_len(wp, 3, 2, 1) : wp;
        int mult;
        if (supernet) {
            for (int n = 0; n < cfg->steps; n++)
                for (int j = 0; j < 2 + n; j++) {
                    int stride = red && j < 2 ? 2 : 1, h = j < 2 ? hp : ho, w = j < 2 ? wp : wo;
                    for (int k = 0; k < DARTS_NUM_PRIMITIVES; k++)
                        add_op((darts_op_kind)k, cc, cc, stride, 0, h, w, &c);
                }
            mult = cfg->multiplier;
        } else {
            const geno_cell *gc = red ? &g->reduce : &g->normal;
            for (int e = 0; e < 2 * gc->steps; e++) {
                int j = gc->edge[e].input;
                int stride = red && j < 2 ? 2 : 1, h = j < 2 ? hp : ho, w = j < 2 ? wp : wo;
                add_op((darts_op_kind)gc->edge[e].op, cc, cc, stride, 1, h, w, &c);
            }
            mult = gc->nconcat;
        }
        red_prev = red;
        cpp = cp;
        cp = mult * cc;
        hpp = hp;
        wpp = wp;
        hp = ho;
        wp = wo;
        if (i == 2 * cfg->layers / 3) {
            c_aux = cp;
            h_aux = ho;
            w_aux = wo;
        }
    }
    // classifier: global average pool then linear with bias
    c.params += (double)cp * cfg->classes + cfg->classes;
    c.madds += (double)cp * cfg->classes;
    out->params = c.params;
    out->madds = c.madds;
    out->buffers = c.buffers;
    if (supernet) {
        int edges = 0;
        for (int n = 0; n < cfg->steps; n++) edges += 2 + n;
        out->arch = 2.0 * edges * DARTS_NUM_PRIMITIVES;
    } else if (cfg->auxiliary) {
        // AuxiliaryHeadCIFAR (evalnet.c): training only, so not in madds
        int ph = conv_len(h_aux, 5, 3, 0), pw = conv_len(w_aux, 5, 3, 0);
        int k = ph < 2 ? ph : 2;
        (void)pw;
        out->params_aux = (double)c_aux * 128 + 256 + 128.0 * 768 * k * k + 2 * 768 +
                          768.0 * cfg->classes + cfg->classes;
        out->buffers += 2 * 128 + 2 * 768;
    }
    return GH_OK;
}
