// macronet: ENAS's macro network (Pham et al., ICML 2018, section 2.3; melodyguan/enas
// general_child.py): the search child, which holds every op of every layer and runs one arc per
// forward (shared weights), the network of one fixed arc, and their analytic counts.
//
// Follows the official code where the two modes differ: the search child sums the chosen skips
// with the op's output and applies BN (_enas_layer); the fixed network concatenates them with
// the op's output, then ReLU, a 1x1 conv back to out_filters and BN (_fixed_layer), and doubles
// the channels at each reduction (the search child keeps them). The branches are the search
// child's in both (1x1 conv-BN-ReLU, then conv or separable conv KxK-BN-ReLU, or the pool),
// where the official fixed whole-channel path runs the separable ops as plain convs and leaves
// the pools unbuilt.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models.h"

typedef struct {
    darts_conv in, k, pw;    // 1x1 in; KxK (depthwise for separable); separable's pointwise
    darts_bn in_bn, out_bn;
    int built;
} macro_branch;

typedef struct {
    darts_conv c1, c2;       // two 1x1 convs at stride 2, the second on the grid shifted by one
    darts_bn bn;
} macro_reduce;

typedef struct {
    macro_branch br[ENAS_MACRO_NUM_OPS];
    darts_conv skip_conv;    // fixed: 1x1 over the concatenation
    darts_bn skip_bn;
    int c;                   // channels of the layer (and of every node it sees)
} macro_layer;

struct enas_macronet {
    enas_macro_config cfg;
    enas_macro_arc arc;      // fixed network's arc
    gh_engine *e;
    darts_conv stem;
    darts_bn stem_bn;
    macro_layer layer[ENAS_MACRO_MAX_LAYERS];
    macro_reduce red[2][ENAS_MACRO_MAX_LAYERS + 1];
    int pool[2];
    gh_tensor *fc;           // [classes, c] without bias (general_child.py fc)
};

void enas_macro_pool_layers(int layers, int out[2]) {
    int d = layers / 3;   // pool_distance
    out[0] = d - 1;
    out[1] = 2 * d - 1;
}

static int is_sep(int op) { return op == 1 || op == 3; }
static int ksize(int op) { return op == 0 || op == 1 ? 3 : 5; }

static int branch_build(gh_engine *e, macro_branch *b, int op, int c, const char *pre) {
    char name[160];
    snprintf(name, sizeof name, "%s.branch_%d.inp_conv_1.weight", pre, op);
    int st = darts_conv_decl(e, &b->in, name, c, c, 1, 1, 1, 1, 0, 0, 1, 1);
    snprintf(name, sizeof name, "%s.branch_%d.inp_bn", pre, op);
    if (!st) st = darts_bn_decl(e, &b->in_bn, name, c, 1);
    if (!st && op < 4) {
        int k = ksize(op);
        snprintf(name, sizeof name, "%s.branch_%d.out_conv.weight", pre, op);
        st = darts_conv_decl(e, &b->k, name, c, c, k, k, 1, 1, k / 2, k / 2, 1,
                             is_sep(op) ? c : 1);
        if (!st && is_sep(op)) {
            snprintf(name, sizeof name, "%s.branch_%d.out_point.weight", pre, op);
            st = darts_conv_decl(e, &b->pw, name, c, c, 1, 1, 1, 1, 0, 0, 1, 1);
        }
        snprintf(name, sizeof name, "%s.branch_%d.out_bn", pre, op);
        if (!st) st = darts_bn_decl(e, &b->out_bn, name, c, 1);
    }
    b->built = !st;
    return st;
}

static gh_tensor *branch_fwd(gh_engine *e, const macro_branch *b, int op, gh_tensor *x) {
    x = gh_relu(e, darts_bn_fwd(e, &b->in_bn, darts_conv_fwd(e, &b->in, x)));
    if (op == 4) return gh_avgpool(e, x, 3, 1, 1);
    if (op == 5) return gh_maxpool(e, x, 3, 1, 1);
    x = darts_conv_fwd(e, &b->k, x);
    if (is_sep(op)) x = darts_conv_fwd(e, &b->pw, x);
    return gh_relu(e, darts_bn_fwd(e, &b->out_bn, x));
}

static int reduce_build(gh_engine *e, macro_reduce *r, int c_in, int c, const char *pre) {
    char name[160];
    snprintf(name, sizeof name, "%s.path1_conv.weight", pre);
    int st = darts_conv_decl(e, &r->c1, name, c_in, c / 2, 1, 1, 2, 2, 0, 0, 1, 1);
    snprintf(name, sizeof name, "%s.path2_conv.weight", pre);
    if (!st) st = darts_conv_decl(e, &r->c2, name, c_in, c / 2, 1, 1, 2, 2, 0, 0, 1, 1);
    snprintf(name, sizeof name, "%s.bn", pre);
    return st ? st : darts_bn_decl(e, &r->bn, name, c, 1);
}

// _factorized_reduction at stride 2: no ReLU (DARTS's has one); the second path pads right and
// bottom with zeros and drops the first row and column, so odd sizes stay aligned.
static gh_tensor *reduce_fwd(gh_engine *e, const macro_reduce *r, gh_tensor *x) {
    if (!x) return NULL;
    gh_tensor *shifted = gh_shift(e, x, 1, 1, x->shape[2], x->shape[3]);
    gh_tensor *parts[2] = {darts_conv_fwd(e, &r->c1, x), darts_conv_fwd(e, &r->c2, shifted)};
    return darts_bn_fwd(e, &r->bn, gh_concat(e, 2, parts));
}

static int config_check(const enas_macro_config *c, const enas_macro_arc *arc) {
    if (c->layers < 3 || c->layers > ENAS_MACRO_MAX_LAYERS || c->c < 2 || c->c % 2 ||
        c->in_c < 1 || c->in_h < 1 || c->in_w < 1 || c->classes < 1 ||
        !(c->dropout >= 0 && c->dropout < 1))
        return gh_fail(GH_EINVAL,
                       "ENAS macro network: %d layers (3..%d), %d channels (even), input "
                       "%dx%dx%d, %d classes, dropout %g out of range",
                       c->layers, ENAS_MACRO_MAX_LAYERS, c->c, c->in_c, c->in_h, c->in_w,
                       c->classes, c->dropout);
    if (c->shared) return GH_OK;
    if (!arc) return gh_fail(GH_EINVAL, "ENAS macro network: a fixed network needs an arc");
    int st = enas_macro_arc_validate(arc);
    if (!st && arc->layers != c->layers)
        st = gh_fail(GH_EINVAL, "ENAS macro network: arc of %d layers for a network of %d",
                     arc->layers, c->layers);
    return st;
}

int enas_macronet_build(enas_macronet **out, gh_engine *e, const enas_macro_config *cfg,
                        const enas_macro_arc *arc) {
    *out = NULL;
    int st = config_check(cfg, arc);
    if (st) return st;
    enas_macronet *n = calloc(1, sizeof *n);
    if (!n) return gh_fail(GH_ENOMEM, "ENAS macro network: no memory");
    n->cfg = *cfg;
    n->e = e;
    if (!cfg->shared) n->arc = *arc;
    enas_macro_pool_layers(cfg->layers, n->pool);
    int c = cfg->c;
    st = darts_conv_decl(e, &n->stem, "stem_conv.weight", cfg->in_c, c, 3, 3, 1, 1, 1, 1, 1, 1);
    if (!st) st = darts_bn_decl(e, &n->stem_bn, "stem_bn", c, 1);
    char pre[96];
    for (int l = 0; l < cfg->layers && !st; l++) {
        macro_layer *ly = &n->layer[l];
        ly->c = c;
        snprintf(pre, sizeof pre, "layer_%d", l);
        for (int op = 0; op < ENAS_MACRO_NUM_OPS && !st; op++)
            if (cfg->shared || arc->op[l] == op) st = branch_build(e, &ly->br[op], op, c, pre);
        if (!st && l > 0) {
            char name[160];
            if (!cfg->shared) {
                int s = 0;
                for (int i = 0; i < l; i++) s += arc->skip[l][i];
                snprintf(name, sizeof name, "%s.skip.conv.weight", pre);
                st = darts_conv_decl(e, &ly->skip_conv, name, (s + 1) * c, c, 1, 1, 1, 1, 0, 0,
                                     1, 1);
            }
            snprintf(name, sizeof name, "%s.skip.bn", pre);
            if (!st) st = darts_bn_decl(e, &ly->skip_bn, name, c, 1);
        }
        for (int p = 0; p < 2 && !st; p++) {
            if (l != n->pool[p]) continue;
            int c_new = cfg->shared ? c : 2 * c;
            for (int k = 0; k <= l + 1 && !st; k++) {
                snprintf(pre, sizeof pre, "pool_at_%d.from_%d", l, k);
                st = reduce_build(e, &n->red[p][k], c, c_new, pre);
            }
            c = c_new;
        }
    }
    if (!st) {
        n->fc = gh_param(e, GH_GROUP_WEIGHTS, "fc.weight", 2, (int[]){cfg->classes, c},
                         GH_INIT_KAIMING_UNIFORM, c);
        if (!n->fc) st = gh_fail(GH_EINVAL, "declaring fc.weight failed: %s", gh_error_get());
    }
    if (st) {
        free(n);
        return st;
    }
    *out = n;
    return GH_OK;
}

void enas_macronet_free(enas_macronet *n) { free(n); }

// 1 when a layer after l reads node k (as its input or a skip).
static int read_later(const enas_macro_arc *a, int k, int l) {
    if (k == l + 1) return 1;
    for (int m = l + 1; m < a->layers; m++)
        if (k < m && a->skip[m][k]) return 1;
    return 0;
}

gh_tensor *enas_macronet_forward(enas_macronet *n, gh_tensor *x, const enas_macro_arc *path) {
    gh_engine *e = n->e;
    const enas_macro_config *cfg = &n->cfg;
    const enas_macro_arc *a = cfg->shared ? path : &n->arc;
    if (!a || a->layers != cfg->layers) {
        gh_fail(GH_EINVAL, "ENAS macro network: forward needs an arc of %d layers", cfg->layers);
        return NULL;
    }
    gh_tensor *node[ENAS_MACRO_MAX_LAYERS + 1];
    node[0] = darts_bn_fwd(e, &n->stem_bn, darts_conv_fwd(e, &n->stem, x));
    for (int l = 0; l < cfg->layers; l++) {
        const macro_layer *ly = &n->layer[l];
        const int op = a->op[l];
        if (op < 0 || op >= ENAS_MACRO_NUM_OPS || !ly->br[op].built) {
            gh_fail(GH_EINVAL, "ENAS macro network: layer %d has no op %d", l, op);
            return NULL;
        }
        gh_tensor *out = branch_fwd(e, &ly->br[op], op, node[l]);
        if (l > 0 && cfg->shared) {        // _enas_layer: add_n of the skips and out, BN
            for (int i = 0; i < l; i++)
                if (a->skip[l][i]) out = gh_add(e, out, node[i]);
            out = darts_bn_fwd(e, &ly->skip_bn, out);
        } else if (l > 0) {                // _fixed_layer: concat, ReLU, 1x1 conv, BN
            gh_tensor *cat[ENAS_MACRO_MAX_LAYERS + 1];
            int k = 0;
            for (int i = 0; i < l; i++)
                if (a->skip[l][i]) cat[k++] = node[i];
            cat[k++] = out;
            out = k > 1 ? gh_concat(e, k, cat) : out;
            out = darts_conv_fwd(e, &ly->skip_conv, gh_relu(e, out));
            out = darts_bn_fwd(e, &ly->skip_bn, out);
        }
        node[l + 1] = out;
        // every node is reduced, as the official graph declares; the nodes no later layer
        // reads are left out, as TensorFlow runs only what the logits need
        for (int p = 0; p < 2; p++)
            if (l == n->pool[p])
                for (int k = 0; k <= l + 1; k++)
                    node[k] = read_later(a, k, l) ? reduce_fwd(e, &n->red[p][k], node[k]) : NULL;
    }
    gh_tensor *h = gh_global_avgpool(e, node[cfg->layers]);
    if (cfg->dropout > 0) h = gh_dropout(e, h, (float)cfg->dropout);
    return gh_linear(e, h, n->fc, NULL);
}

// ---- analytic counts: restated from the official code, apart from build -----------------------
static void conv_count(darts_net_count *o, double c_in_per_group, double c_out, int k, int h,
                       int w) {
    double p = c_in_per_group * c_out * k * k;
    o->params += p;
    o->madds += p * h * w;
}

static void bn_count(darts_net_count *o, int c) {
    o->params += 2.0 * c;    // gamma, beta
    o->buffers += 2.0 * c;   // running mean, variance
}

static void branch_count(darts_net_count *o, int op, int c, int h, int w) {
    conv_count(o, c, c, 1, h, w);
    bn_count(o, c);
    if (op >= 4) return;
    if (is_sep(op)) {
        conv_count(o, 1, c, ksize(op), h, w);   // depthwise, channel multiplier 1
        conv_count(o, c, c, 1, h, w);           // pointwise
    } else {
        conv_count(o, c, c, ksize(op), h, w);
    }
    bn_count(o, c);
}

int enas_macro_count(const enas_macro_config *cfg, const enas_macro_arc *arc,
                     darts_net_count *out) {
    memset(out, 0, sizeof *out);
    int st = config_check(cfg, arc);
    if (st) return st;
    int pool[2], c = cfg->c, h = cfg->in_h, w = cfg->in_w;
    enas_macro_pool_layers(cfg->layers, pool);
    conv_count(out, cfg->in_c, c, 3, h, w);
    bn_count(out, c);
    for (int l = 0; l < cfg->layers; l++) {
        for (int op = 0; op < ENAS_MACRO_NUM_OPS; op++)
            if (cfg->shared || arc->op[l] == op) branch_count(out, op, c, h, w);
        if (l > 0) {
            if (!cfg->shared) {
                int s = 0;
                for (int i = 0; i < l; i++) s += arc->skip[l][i];
                conv_count(out, (s + 1.0) * c, c, 1, h, w);
            }
            bn_count(out, c);
        }
        if (l == pool[0] || l == pool[1]) {
            int c_new = cfg->shared ? c : 2 * c, ho = (h + 1) / 2, wo = (w + 1) / 2;
            for (int k = 0; k <= l + 1; k++) {   // the stem and layers 0..l
                conv_count(out, c, c_new / 2, 1, ho, wo);
                conv_count(out, c, c_new / 2, 1, ho, wo);
                bn_count(out, c_new);
            }
            c = c_new;
            h = ho;
            w = wo;
        }
    }
    conv_count(out, c, cfg->classes, 1, 1, 1);
    return GH_OK;
}
