// ops: the DARTS search space as data: the table of op names to constructors (declare
// parameters), forwards (through the engine) and analytic counts, following DARTS's
// operations.py (ReLU-conv-BN order, separable convs applied twice, FactorizedReduce).
#include <stdio.h>
#include <string.h>

#include "models.h"

// ---- building blocks ------------------------------------------------------------------------
int darts_conv_decl(gh_engine *e, darts_conv *cv, const char *name, int c_in, int c_out, int kh,
                    int kw, int stride_h, int stride_w, int pad_h, int pad_w, int dil, int groups) {
    int shape[4] = {c_out, c_in / groups, kh, kw};
    cv->w = gh_param(e, GH_GROUP_WEIGHTS, name, 4, shape, GH_INIT_KAIMING_UNIFORM,
                     (c_in / groups) * kh * kw);
    cv->stride_h = stride_h;
    cv->stride_w = stride_w;
    cv->pad_h = pad_h;
    cv->pad_w = pad_w;
    cv->dil = dil;
    cv->groups = groups;
    if (!cv->w) return gh_fail(GH_EINVAL, "declaring conv %s failed: %s", name, gh_error_get());
    return GH_OK;
}

gh_tensor *darts_conv_fwd(gh_engine *e, const darts_conv *cv, gh_tensor *x) {
    return gh_conv2d(e, x, cv->w, NULL, cv->stride_h, cv->stride_w, cv->pad_h, cv->pad_w, cv->dil,
                     cv->dil, cv->groups);
}

// conv(relu(x)) fused (gh_conv2d_relu): DARTS's ReLU-conv pairs, each ReLU read by its conv
// alone, so the gradients are gh_relu then gh_conv2d's bit for bit and relu(x) is never kept.
static gh_tensor *relu_conv_fwd(gh_engine *e, const darts_conv *cv, gh_tensor *x) {
    return gh_conv2d_relu(e, x, cv->w, NULL, cv->stride_h, cv->stride_w, cv->pad_h, cv->pad_w,
                          cv->dil, cv->dil, cv->groups);
}

int darts_bn_decl(gh_engine *e, darts_bn *bn, const char *name, int c, int affine) {
    char buf[256];
    if (strlen(name) > 200) return gh_fail(GH_EINVAL, "batch norm name too long: %.40s...", name);
    int shape[1] = {c};
    bn->gamma = bn->beta = NULL;
    if (affine) {
        snprintf(buf, sizeof buf, "%s.weight", name);
        bn->gamma = gh_param(e, GH_GROUP_WEIGHTS, buf, 1, shape, GH_INIT_ONE, 0);
        snprintf(buf, sizeof buf, "%s.bias", name);
        bn->beta = gh_param(e, GH_GROUP_WEIGHTS, buf, 1, shape, GH_INIT_ZERO, 0);
    }
    snprintf(buf, sizeof buf, "%s.running_mean", name);
    bn->mean = gh_param(e, GH_GROUP_BUFFERS, buf, 1, shape, GH_INIT_ZERO, 0);
    snprintf(buf, sizeof buf, "%s.running_var", name);
    bn->var = gh_param(e, GH_GROUP_BUFFERS, buf, 1, shape, GH_INIT_ONE, 0);
    if (!bn->mean || !bn->var || (affine && (!bn->gamma || !bn->beta)))
        return gh_fail(GH_EINVAL, "declaring batch norm %s failed: %s", name, gh_error_get());
    return GH_OK;
}

gh_tensor *darts_bn_fwd(gh_engine *e, const darts_bn *bn, gh_tensor *x) {
    // PyTorch's BatchNorm2d defaults, which the DARTS hyperparameters were tuned with
    return gh_batchnorm(e, x, bn->gamma, bn->beta, bn->mean, bn->var, 1e-5f, 0.1f);
}

static int conv_out(int h, int k, int stride, int pad, int dil) {
    return (h + 2 * pad - dil * (k - 1) - 1) / stride + 1;
}

// Geometry is restated here rather than read from the declared conv, so that the count is an
// independent check of what build declares.
typedef struct { int sh, sw, ph, pw, dil, groups; } conv_geom;

static void count_conv(conv_geom g, int c_in, int c_out, int kh, int kw, int h, int w, int *ho,
                       int *wo, darts_count *c) {
    int p = conv_out(h, kh, g.sh, g.ph, g.dil);
    int q = conv_out(w, kw, g.sw, g.pw, g.dil);
    double per_out = (double)(c_in / g.groups) * kh * kw;
    c->params += per_out * c_out;
    c->madds += per_out * c_out * p * q;
    *ho = p;
    *wo = q;
}

static void count_bn(int ch, int affine, darts_count *c) {
    if (affine) c->params += 2.0 * ch;
    c->buffers += 2.0 * ch;
}

// ---- none: contributes zero (the mixed op skips it) -------------------------------------------
static int none_build(gh_engine *e, darts_op *op, const char *prefix) {
    (void)e; (void)op; (void)prefix;
    return GH_OK;
}
static gh_tensor *none_forward(gh_engine *e, const darts_op *op, gh_tensor *x) {
    (void)e; (void)op; (void)x;
    return NULL;
}
static void none_count(const darts_op *op, int h, int w, darts_count *c) {
    (void)op; (void)h; (void)w; (void)c;
}

// ---- pools: 3x3, padding 1; in the search network followed by BN without affine ---------------
// (DARTS's MixedOp appends BatchNorm2d(C, affine=False) to every pool; the search network is
// the only one that builds ops with affine = 0.)
static int pool_build(gh_engine *e, darts_op *op, const char *prefix) {
    if (op->affine) return GH_OK;
    char buf[160];
    snprintf(buf, sizeof buf, "%s.bn", prefix);
    op->nbn = 1;
    return darts_bn_decl(e, &op->bn[0], buf, op->c_out, 0);
}
static gh_tensor *max_pool_forward(gh_engine *e, const darts_op *op, gh_tensor *x) {
    gh_tensor *y = gh_maxpool(e, x, 3, op->stride, 1);
    return op->nbn ? darts_bn_fwd(e, &op->bn[0], y) : y;
}
static gh_tensor *avg_pool_forward(gh_engine *e, const darts_op *op, gh_tensor *x) {
    gh_tensor *y = gh_avgpool(e, x, 3, op->stride, 1);
    return op->nbn ? darts_bn_fwd(e, &op->bn[0], y) : y;
}
static void pool_count(const darts_op *op, int h, int w, darts_count *c) {
    (void)h; (void)w;
    if (!op->affine) count_bn(op->c_out, 0, c);
}

// ---- FactorizedReduce: ReLU, [conv1x1/2(x), conv1x1/2(x[:, :, 1:, 1:])], BN ---------------------
static int fact_reduce_build(gh_engine *e, darts_op *op, const char *prefix) {
    char buf[160];
    int half = op->c_out / 2;
    if (op->c_out % 2)
        return gh_fail(GH_EINVAL, "%s: FactorizedReduce needs an even channel count, got %d",
                       prefix, op->c_out);
    op->nconv = 2;
    op->nbn = 1;
    snprintf(buf, sizeof buf, "%s.conv_1.weight", prefix);
    int st = darts_conv_decl(e, &op->conv[0], buf, op->c_in, half, 1, 1, 2, 2, 0, 0, 1, 1);
    if (st) return st;
    snprintf(buf, sizeof buf, "%s.conv_2.weight", prefix);
    st = darts_conv_decl(e, &op->conv[1], buf, op->c_in, half, 1, 1, 2, 2, 0, 0, 1, 1);
    if (st) return st;
    snprintf(buf, sizeof buf, "%s.bn", prefix);
    return darts_bn_decl(e, &op->bn[0], buf, op->c_out, op->affine);
}
// Its ReLU stays unfused: relu(x) feeds two convs (one through the shift), whose gradients
// relu's backward sums before masking; two fused convs would mask and add them one by one into
// dx, a different rounding order.
static gh_tensor *fact_reduce_forward(gh_engine *e, const darts_op *op, gh_tensor *x) {
    if (!x) return NULL;
    gh_tensor *r = gh_relu(e, x);
    int h = x->shape[2], w = x->shape[3];
    // x[:, :, 1:, 1:]: the second conv sees the grid offset by one pixel
    gh_tensor *shifted = gh_shift(e, r, 1, 1, h - 1, w - 1);
    gh_tensor *parts[2] = {darts_conv_fwd(e, &op->conv[0], r),
                           darts_conv_fwd(e, &op->conv[1], shifted)};
    return darts_bn_fwd(e, &op->bn[0], gh_concat(e, 2, parts));
}
static void fact_reduce_count(const darts_op *op, int h, int w, darts_count *c) {
    int ho, wo;
    conv_geom g = {2, 2, 0, 0, 1, 1};
    count_conv(g, op->c_in, op->c_out / 2, 1, 1, h, w, &ho, &wo, c);
    count_conv(g, op->c_in, op->c_out / 2, 1, 1, h - 1, w - 1, &ho, &wo, c);
    count_bn(op->c_out, op->affine, c);
}

// ---- skip_connect: identity, or FactorizedReduce at stride 2 ----------------------------------
static int skip_build(gh_engine *e, darts_op *op, const char *prefix) {
    return op->stride == 1 ? GH_OK : fact_reduce_build(e, op, prefix);
}
static gh_tensor *skip_forward(gh_engine *e, const darts_op *op, gh_tensor *x) {
    return op->stride == 1 ? x : fact_reduce_forward(e, op, x);
}
static void skip_count(const darts_op *op, int h, int w, darts_count *c) {
    if (op->stride != 1) fact_reduce_count(op, h, w, c);
}

// ---- ReLUConvBN 1x1 (cell preprocessing) ---------------------------------------------------------
static int rcb_build(gh_engine *e, darts_op *op, const char *prefix) {
    char buf[160];
    op->nconv = 1;
    op->nbn = 1;
    snprintf(buf, sizeof buf, "%s.conv.weight", prefix);
    int st = darts_conv_decl(e, &op->conv[0], buf, op->c_in, op->c_out, 1, 1, op->stride,
                             op->stride, 0, 0, 1, 1);
    if (st) return st;
    snprintf(buf, sizeof buf, "%s.bn", prefix);
    return darts_bn_decl(e, &op->bn[0], buf, op->c_out, op->affine);
}
static gh_tensor *rcb_forward(gh_engine *e, const darts_op *op, gh_tensor *x) {
    return darts_bn_fwd(e, &op->bn[0], relu_conv_fwd(e, &op->conv[0], x));
}
static void rcb_count(const darts_op *op, int h, int w, darts_count *c) {
    int ho, wo;
    conv_geom g = {op->stride, op->stride, 0, 0, 1, 1};
    count_conv(g, op->c_in, op->c_out, 1, 1, h, w, &ho, &wo, c);
    count_bn(op->c_out, op->affine, c);
}

// ---- SepConv: (ReLU, depthwise kxk, pointwise 1x1, BN) twice; stride on the first only ---------
static int sep_k(darts_op_kind k) {
    return k == DARTS_OP_SEP_CONV_3X3 ? 3 : k == DARTS_OP_SEP_CONV_5X5 ? 5 : 7;
}
static int sep_build(gh_engine *e, darts_op *op, const char *prefix) {
    char buf[160];
    int k = sep_k(op->kind), pad = k / 2, c = op->c_in, st;
    op->nconv = 4;
    op->nbn = 2;
    for (int half = 0; half < 2; half++) {
        int s = half == 0 ? op->stride : 1, cout = half == 0 ? c : op->c_out;
        snprintf(buf, sizeof buf, "%s.op.%d.weight", prefix, 4 * half + 1);
        if ((st = darts_conv_decl(e, &op->conv[2 * half], buf, c, c, k, k, s, s, pad, pad, 1, c)))
            return st;
        snprintf(buf, sizeof buf, "%s.op.%d.weight", prefix, 4 * half + 2);
        if ((st = darts_conv_decl(e, &op->conv[2 * half + 1], buf, c, cout, 1, 1, 1, 1, 0, 0, 1,
                                  1)))
            return st;
        snprintf(buf, sizeof buf, "%s.op.%d", prefix, 4 * half + 3);
        if ((st = darts_bn_decl(e, &op->bn[half], buf, cout, op->affine))) return st;
    }
    return GH_OK;
}
static gh_tensor *sep_forward(gh_engine *e, const darts_op *op, gh_tensor *x) {
    for (int half = 0; half < 2; half++) {
        x = relu_conv_fwd(e, &op->conv[2 * half], x);
        x = darts_bn_fwd(e, &op->bn[half], darts_conv_fwd(e, &op->conv[2 * half + 1], x));
    }
    return x;
}
static void sep_count(const darts_op *op, int h, int w, darts_count *c) {
    int k = sep_k(op->kind), ci = op->c_in;
    for (int half = 0; half < 2; half++) {
        int cout = half == 0 ? ci : op->c_out, s = half == 0 ? op->stride : 1;
        count_conv((conv_geom){s, s, k / 2, k / 2, 1, ci}, ci, ci, k, k, h, w, &h, &w, c);
        count_conv((conv_geom){1, 1, 0, 0, 1, 1}, ci, cout, 1, 1, h, w, &h, &w, c);
        count_bn(cout, op->affine, c);
    }
}

// ---- DilConv: ReLU, depthwise kxk dilation 2, pointwise 1x1, BN --------------------------------
static int dil_build(gh_engine *e, darts_op *op, const char *prefix) {
    char buf[160];
    int k = op->kind == DARTS_OP_DIL_CONV_3X3 ? 3 : 5, pad = k == 3 ? 2 : 4, c = op->c_in, st;
    op->nconv = 2;
    op->nbn = 1;
    snprintf(buf, sizeof buf, "%s.op.1.weight", prefix);
    if ((st = darts_conv_decl(e, &op->conv[0], buf, c, c, k, k, op->stride, op->stride, pad, pad,
                              2, c)))
        return st;
    snprintf(buf, sizeof buf, "%s.op.2.weight", prefix);
    if ((st = darts_conv_decl(e, &op->conv[1], buf, c, op->c_out, 1, 1, 1, 1, 0, 0, 1, 1)))
        return st;
    snprintf(buf, sizeof buf, "%s.op.3", prefix);
    return darts_bn_decl(e, &op->bn[0], buf, op->c_out, op->affine);
}
static gh_tensor *dil_forward(gh_engine *e, const darts_op *op, gh_tensor *x) {
    x = relu_conv_fwd(e, &op->conv[0], x);
    return darts_bn_fwd(e, &op->bn[0], darts_conv_fwd(e, &op->conv[1], x));
}
static void dil_count(const darts_op *op, int h, int w, darts_count *c) {
    int k = op->kind == DARTS_OP_DIL_CONV_3X3 ? 3 : 5, s = op->stride;
    count_conv((conv_geom){s, s, k - 1, k - 1, 2, op->c_in}, op->c_in, op->c_in, k, k, h, w, &h,
               &w, c);
    count_conv((conv_geom){1, 1, 0, 0, 1, 1}, op->c_in, op->c_out, 1, 1, h, w, &h, &w, c);
    count_bn(op->c_out, op->affine, c);
}

// ---- conv_7x1_1x7: ReLU, 1x7 conv (stride on w), 7x1 conv (stride on h), BN ----------------------
static int c71_build(gh_engine *e, darts_op *op, const char *prefix) {
    char buf[160];
    int c = op->c_in, st;
    op->nconv = 2;
    op->nbn = 1;
    snprintf(buf, sizeof buf, "%s.op.1.weight", prefix);
    if ((st = darts_conv_decl(e, &op->conv[0], buf, c, c, 1, 7, 1, op->stride, 0, 3, 1, 1)))
        return st;
    snprintf(buf, sizeof buf, "%s.op.2.weight", prefix);
    if ((st = darts_conv_decl(e, &op->conv[1], buf, c, op->c_out, 7, 1, op->stride, 1, 3, 0, 1,
                              1)))
        return st;
    snprintf(buf, sizeof buf, "%s.op.3", prefix);
    return darts_bn_decl(e, &op->bn[0], buf, op->c_out, op->affine);
}
static gh_tensor *c71_forward(gh_engine *e, const darts_op *op, gh_tensor *x) {
    x = relu_conv_fwd(e, &op->conv[0], x);
    return darts_bn_fwd(e, &op->bn[0], darts_conv_fwd(e, &op->conv[1], x));
}
static void c71_count(const darts_op *op, int h, int w, darts_count *c) {
    int s = op->stride;
    count_conv((conv_geom){1, s, 0, 3, 1, 1}, op->c_in, op->c_in, 1, 7, h, w, &h, &w, c);
    count_conv((conv_geom){s, 1, 3, 0, 1, 1}, op->c_in, op->c_out, 7, 1, h, w, &h, &w, c);
    count_bn(op->c_out, op->affine, c);
}

const darts_op_def darts_ops[DARTS_OP_COUNT] = {
    [DARTS_OP_NONE] = {"none", none_build, none_forward, none_count},
    [DARTS_OP_MAX_POOL_3X3] = {"max_pool_3x3", pool_build, max_pool_forward, pool_count},
    [DARTS_OP_AVG_POOL_3X3] = {"avg_pool_3x3", pool_build, avg_pool_forward, pool_count},
    [DARTS_OP_SKIP_CONNECT] = {"skip_connect", skip_build, skip_forward, skip_count},
    [DARTS_OP_SEP_CONV_3X3] = {"sep_conv_3x3", sep_build, sep_forward, sep_count},
    [DARTS_OP_SEP_CONV_5X5] = {"sep_conv_5x5", sep_build, sep_forward, sep_count},
    [DARTS_OP_DIL_CONV_3X3] = {"dil_conv_3x3", dil_build, dil_forward, dil_count},
    [DARTS_OP_DIL_CONV_5X5] = {"dil_conv_5x5", dil_build, dil_forward, dil_count},
    [DARTS_OP_SEP_CONV_7X7] = {"sep_conv_7x7", sep_build, sep_forward, sep_count},
    [DARTS_OP_CONV_7X1_1X7] = {"conv_7x1_1x7", c71_build, c71_forward, c71_count},
    [DARTS_OP_RELU_CONV_BN] = {"relu_conv_bn", rcb_build, rcb_forward, rcb_count},
    [DARTS_OP_FACT_REDUCE] = {"factorized_reduce", fact_reduce_build, fact_reduce_forward,
                              fact_reduce_count},
};

int darts_op_lookup(const char *name, size_t len) {
    for (int k = 0; k < DARTS_NUM_GENO_OPS; k++)
        if (strlen(darts_ops[k].name) == len && !strncmp(darts_ops[k].name, name, len)) return k;
    return -1;
}

int darts_op_build(gh_engine *e, darts_op *op, darts_op_kind kind, int c_in, int c_out,
                   int stride, int affine, const char *prefix) {
    if ((int)kind < 0 || kind >= DARTS_OP_COUNT)
        return gh_fail(GH_EINVAL, "%s: unknown op kind %d", prefix, (int)kind);
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->c_in = c_in;
    op->c_out = c_out;
    op->stride = stride;
    op->affine = affine;
    // the genotype ops keep the channel count (DARTS's OPS[name](C, stride, affine))
    if (kind < DARTS_NUM_GENO_OPS && c_in != c_out)
        return gh_fail(GH_EINVAL, "%s: op %s needs c_in == c_out, got %d and %d", prefix,
                       darts_ops[kind].name, c_in, c_out);
    return darts_ops[kind].build(e, op, prefix);
}

gh_tensor *darts_op_forward(gh_engine *e, const darts_op *op, gh_tensor *x) {
    return darts_ops[op->kind].forward(e, op, x);
}

void darts_op_count(const darts_op *op, int h, int w, darts_count *c) {
    darts_ops[op->kind].count(op, h, w, c);
}
