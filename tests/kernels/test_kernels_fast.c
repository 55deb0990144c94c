// Every fast host kernel (_cpu) against its reference (_ref): odd sizes, groups 1 and c,
// strides, dilations, asymmetric kernels and padding, n = 1 and 3, at 1, 2 and 3 OpenMP
// threads. Backward starts every gradient at non-zero values, so accumulation (+=) is checked.
#include <omp.h>

#include "ktest.h"

typedef struct {
    int n, c, h, w, k, r, s, sh, sw, ph, pw, dh, dw, g;
} conv_case;

static const conv_case conv_cases[] = {
    // n  c   h   w   k  r  s sh sw ph pw dh dw  g
    {3, 3, 7, 7, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1},      // general 3x3
    {1, 4, 7, 7, 4, 5, 5, 1, 1, 2, 2, 1, 1, 4},      // depthwise 5x5
    {3, 4, 7, 7, 4, 3, 3, 2, 2, 1, 1, 1, 1, 4},      // depthwise stride 2, odd input
    {3, 4, 9, 9, 4, 3, 3, 1, 1, 2, 2, 2, 2, 4},      // depthwise dilation 2 (DARTS dil_conv_3x3)
    {2, 6, 8, 8, 6, 5, 5, 1, 1, 4, 4, 2, 2, 6},      // depthwise 5x5 dilation 2
    {2, 5, 9, 9, 5, 5, 5, 2, 2, 4, 4, 2, 2, 5},      // depthwise 5x5 dil 2 stride 2
    {3, 4, 7, 7, 6, 1, 1, 1, 1, 0, 0, 1, 1, 1},      // pointwise (no im2col)
    {3, 4, 8, 8, 2, 1, 1, 2, 2, 0, 0, 1, 1, 1},      // stride-2 1x1 (FactorizedReduce)
    {3, 4, 7, 7, 2, 1, 1, 2, 2, 0, 0, 1, 1, 1},      // stride-2 1x1, odd input
    {2, 4, 7, 9, 4, 1, 3, 1, 1, 0, 1, 1, 1, 1},      // 1x3, padding (0, 1)
    {2, 4, 9, 7, 4, 3, 1, 1, 1, 1, 0, 1, 1, 1},      // 3x1, padding (1, 0)
    {2, 3, 11, 11, 5, 1, 7, 1, 1, 0, 3, 1, 1, 1},    // 1x7 (conv_7x1_1x7)
    {2, 3, 11, 11, 5, 7, 1, 1, 1, 3, 0, 1, 1, 1},    // 7x1
    {2, 4, 11, 10, 4, 1, 7, 2, 1, 0, 3, 1, 1, 4},    // depthwise 1x7, stride (2, 1)
    {3, 6, 7, 7, 9, 3, 3, 1, 1, 1, 1, 1, 1, 3},      // groups 3
    {1, 4, 5, 5, 8, 3, 3, 1, 1, 1, 1, 1, 1, 4},      // groups = c, channel multiplier 2
    {3, 3, 7, 7, 5, 3, 3, 2, 1, 0, 2, 1, 2, 1},      // mixed stride/dilation/pad
    {3, 2, 6, 6, 3, 3, 3, 1, 1, 2, 2, 1, 1, 1},      // pad 2 with 3x3
    {2, 4, 5, 5, 4, 5, 5, 1, 1, 0, 0, 1, 1, 4},      // depthwise, 1x1 output
    {1, 16, 32, 32, 16, 3, 3, 1, 1, 1, 1, 1, 1, 16}, // DARTS size depthwise, one sample
    {2, 3, 32, 32, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1},   // DARTS stem
    {2, 3, 13, 13, 4, 3, 3, 3, 3, 0, 0, 1, 1, 1},    // stride 3, input not covered
    {2, 8, 16, 16, 8, 1, 1, 1, 1, 0, 0, 1, 1, 1},    // pointwise, plane >= 256: dW per sample
    {2, 6, 16, 17, 9, 3, 3, 1, 1, 1, 1, 1, 1, 3},    // groups 3, plane >= 256
    {3, 4, 16, 16, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2},    // groups 2, im2col dW per sample
    {19, 8, 8, 8, 5, 1, 1, 2, 2, 0, 0, 1, 1, 1},     // stride-2 1x1, two runs of samples
    {7, 6, 10, 9, 7, 1, 1, 2, 1, 0, 0, 1, 1, 1},     // 1x1 stride (2, 1), runs of 5 and 2
    {2, 4, 33, 32, 3, 1, 1, 2, 2, 0, 0, 1, 1, 1},    // stride-2 1x1, plane >= 256: per sample
    {3, 8, 8, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 8},      // depthwise 3x3, 8-wide rows (DARTS 8x8)
    {2, 4, 8, 8, 4, 3, 3, 1, 1, 2, 2, 2, 2, 4},      // depthwise 3x3 dil 2, 8-wide rows
    {2, 4, 5, 8, 4, 5, 5, 1, 1, 2, 2, 1, 1, 4},      // depthwise 5x5, 8-wide rows, 5 high
};

static conv2d_shape conv_shape_of(const conv_case *t) {
    conv2d_shape s = {.n = t->n, .c = t->c, .h = t->h, .w = t->w, .k = t->k, .r = t->r,
                      .s = t->s, .stride_h = t->sh, .stride_w = t->sw, .pad_h = t->ph,
                      .pad_w = t->pw, .dil_h = t->dh, .dil_w = t->dw, .groups = t->g};
    return s;
}

static void test_conv(gh_rng *rng, const conv_case *t) {
    conv2d_shape sh = conv_shape_of(t);
    CHECK_OK(conv2d_shape_init(&sh));
    size_t nx = (size_t)sh.n * sh.c * sh.h * sh.w, nw = (size_t)sh.k * (sh.c / sh.groups) * sh.r * sh.s;
    size_t ny = (size_t)sh.n * sh.k * sh.p * sh.q;
    float *x = kt_rand(rng, nx, -1, 1), *w = kt_rand(rng, nw, -1, 1), *b = kt_rand(rng, sh.k, -1, 1);
    float *dy = kt_rand(rng, ny, -1, 1);
    float *y_ref = kt_alloc(ny), *y_cpu = kt_alloc(ny);
    float *dx0 = kt_rand(rng, nx, -1, 1), *dw0 = kt_rand(rng, nw, -1, 1), *db0 = kt_rand(rng, sh.k, -1, 1);
    kt_ws ws;
    kt_ws_for(&ws, conv2d_ws_floats(&sh));
    char what[160];
    int cg = sh.c / sh.groups, kg = sh.k / sh.groups;
    double terms_y = (double)cg * sh.r * sh.s, terms_dx = (double)kg * sh.r * sh.s + 1;
    double terms_dw = (double)sh.n * sh.p * sh.q + 1;
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        CHECK_OK(conv2d_fwd_ref(NULL, &sh, x, w, with_bias ? b : NULL, y_ref));
        memset(y_cpu, 0xff, ny * sizeof(float));   // NaN: every output must be written
        CHECK_OK(conv2d_fwd_cpu(&ws.ctx, &sh, x, w, with_bias ? b : NULL, y_cpu));
        snprintf(what, sizeof what, "conv fwd %dx%d g%d s%d,%d p%d,%d d%d,%d n%d c%d k%d%s",
                 sh.r, sh.s, sh.groups, sh.stride_h, sh.stride_w, sh.pad_h, sh.pad_w, sh.dil_h,
                 sh.dil_w, sh.n, sh.c, sh.k, with_bias ? " +b" : "");
        KT_CLOSE(what, y_cpu, y_ref, ny, terms_y);
    }
    // all gradients, then each one alone (the others NULL)
    for (int mask = 7; mask >= 1; mask = mask == 7 ? 4 : mask >> 1) {
        float *dx_r = kt_dup(dx0, nx), *dw_r = kt_dup(dw0, nw), *db_r = kt_dup(db0, sh.k);
        float *dx_c = kt_dup(dx0, nx), *dw_c = kt_dup(dw0, nw), *db_c = kt_dup(db0, sh.k);
        CHECK_OK(conv2d_bwd_ref(NULL, &sh, x, w, dy, mask & 4 ? dx_r : NULL, mask & 2 ? dw_r : NULL,
                                mask & 1 ? db_r : NULL));
        CHECK_OK(conv2d_bwd_cpu(&ws.ctx, &sh, x, w, dy, mask & 4 ? dx_c : NULL,
                                mask & 2 ? dw_c : NULL, mask & 1 ? db_c : NULL));
        snprintf(what, sizeof what, "conv bwd %dx%d g%d s%d,%d p%d,%d d%d,%d n%d [%c%c%c]", sh.r,
                 sh.s, sh.groups, sh.stride_h, sh.stride_w, sh.pad_h, sh.pad_w, sh.dil_h, sh.dil_w,
                 sh.n, mask & 4 ? 'x' : '-', mask & 2 ? 'w' : '-', mask & 1 ? 'b' : '-');
        if (mask & 4) KT_CLOSE(what, dx_c, dx_r, nx, terms_dx);
        else KT_EQUAL("dx untouched", dx_c, dx0, nx);
        if (mask & 2) KT_CLOSE(what, dw_c, dw_r, nw, terms_dw);
        else KT_EQUAL("dw untouched", dw_c, dw0, nw);
        if (mask & 1) KT_CLOSE(what, db_c, db_r, sh.k, terms_dw);
        else KT_EQUAL("db untouched", db_c, db0, sh.k);
        free(dx_r); free(dw_r); free(db_r); free(dx_c); free(dw_c); free(db_c);
    }
    kt_ws_free(&ws);
    free(x); free(w); free(b); free(dy); free(y_ref); free(y_cpu); free(dx0); free(dw0); free(db0);
}

static void test_bn(gh_rng *rng, int n, int c, int hw, int affine) {
    bn_shape sh = {.n = n, .c = c, .hw = hw, .eps = 1e-5f, .momentum = 0.1f};
    size_t nx = (size_t)n * c * hw;
    float *x = kt_rand(rng, nx, -2, 3), *g = kt_rand(rng, c, 0.5f, 1.5f), *be = kt_rand(rng, c, -1, 1);
    float *dy = kt_rand(rng, nx, -1, 1);
    float *rm0 = kt_rand(rng, c, -1, 1), *rv0 = kt_rand(rng, c, 0.5f, 2);
    float *rm_r = kt_dup(rm0, c), *rv_r = kt_dup(rv0, c), *rm_c = kt_dup(rm0, c), *rv_c = kt_dup(rv0, c);
    float *y_r = kt_alloc(nx), *y_c = kt_alloc(nx), *m_r = kt_alloc(c), *m_c = kt_alloc(c);
    float *is_r = kt_alloc(c), *is_c = kt_alloc(c);
    const float *gg = affine ? g : NULL, *bb = affine ? be : NULL;
    char what[96];
    double m = (double)n * hw;
    CHECK_OK(bn_fwd_train_ref(NULL, &sh, x, gg, bb, y_r, m_r, is_r, rm_r, rv_r));
    CHECK_OK(bn_fwd_train_cpu(NULL, &sh, x, gg, bb, y_c, m_c, is_c, rm_c, rv_c));
    snprintf(what, sizeof what, "bn train n%d c%d hw%d%s", n, c, hw, affine ? " affine" : "");
    KT_CLOSE(what, y_c, y_r, nx, 16);
    KT_CLOSE("bn save_mean", m_c, m_r, c, m);
    KT_CLOSE("bn save_invstd", is_c, is_r, c, m);
    KT_CLOSE("bn running mean", rm_c, rm_r, c, m);
    KT_CLOSE("bn running var", rv_c, rv_r, c, m);
    CHECK_OK(bn_fwd_eval_ref(NULL, &sh, x, gg, bb, rm_r, rv_r, y_r));
    CHECK_OK(bn_fwd_eval_cpu(NULL, &sh, x, gg, bb, rm_r, rv_r, y_c));
    KT_CLOSE("bn eval", y_c, y_r, nx, 4);
    float *dx0 = kt_rand(rng, nx, -1, 1), *dg0 = kt_rand(rng, c, -1, 1), *db0 = kt_rand(rng, c, -1, 1);
    float *dx_r = kt_dup(dx0, nx), *dg_r = kt_dup(dg0, c), *db_r = kt_dup(db0, c);
    float *dx_c = kt_dup(dx0, nx), *dg_c = kt_dup(dg0, c), *db_c = kt_dup(db0, c);
    CHECK_OK(bn_bwd_ref(NULL, &sh, x, gg, m_r, is_r, dy, dx_r, dg_r, db_r));
    CHECK_OK(bn_bwd_cpu(NULL, &sh, x, gg, m_r, is_r, dy, dx_c, dg_c, db_c));
    snprintf(what, sizeof what, "bn bwd dx n%d c%d hw%d", n, c, hw);
    KT_CLOSE(what, dx_c, dx_r, nx, m);
    KT_CLOSE("bn bwd dgamma", dg_c, dg_r, c, m);
    KT_CLOSE("bn bwd dbeta", db_c, db_r, c, m);
    free(x); free(g); free(be); free(dy); free(rm0); free(rv0); free(rm_r); free(rv_r); free(rm_c);
    free(rv_c); free(y_r); free(y_c); free(m_r); free(m_c); free(is_r); free(is_c); free(dx0);
    free(dg0); free(db0); free(dx_r); free(dg_r); free(db_r); free(dx_c); free(dg_c); free(db_c);
}

static void test_pool(gh_rng *rng, int n, int c, int h, int w, int kh, int kw, int stride, int pad) {
    pool_shape sh = {.n = n, .c = c, .h = h, .w = w, .kh = kh, .kw = kw, .stride = stride, .pad = pad};
    CHECK_OK(pool_shape_init(&sh));
    size_t nx = (size_t)n * c * h * w, ny = (size_t)n * c * sh.p * sh.q;
    // integers in a small range: many ties, so the first-maximum rule is exercised
    float *x = kt_rand_int(rng, nx, -3, 3), *dy = kt_rand(rng, ny, -1, 1);
    float *y_r = kt_alloc(ny), *y_c = kt_alloc(ny), *dx0 = kt_rand(rng, nx, -1, 1);
    float *dx_r = kt_dup(dx0, nx), *dx_c = kt_dup(dx0, nx);
    char what[96];
    snprintf(what, sizeof what, "maxpool fwd %dx%d s%d p%d %dx%d", kh, kw, stride, pad, h, w);
    CHECK_OK(maxpool_fwd_ref(NULL, &sh, x, y_r));
    CHECK_OK(maxpool_fwd_cpu(NULL, &sh, x, y_c));
    KT_EQUAL(what, y_c, y_r, ny);
    snprintf(what, sizeof what, "maxpool bwd %dx%d s%d p%d %dx%d", kh, kw, stride, pad, h, w);
    CHECK_OK(maxpool_bwd_ref(NULL, &sh, x, dy, dx_r));
    CHECK_OK(maxpool_bwd_cpu(NULL, &sh, x, dy, dx_c));
    KT_CLOSE(what, dx_c, dx_r, nx, (double)kh * kw);
    kt_fill(rng, x, nx, -1, 1);
    snprintf(what, sizeof what, "avgpool fwd %dx%d s%d p%d %dx%d", kh, kw, stride, pad, h, w);
    CHECK_OK(avgpool_fwd_ref(NULL, &sh, x, y_r));
    CHECK_OK(avgpool_fwd_cpu(NULL, &sh, x, y_c));
    KT_CLOSE(what, y_c, y_r, ny, (double)kh * kw);
    memcpy(dx_r, dx0, nx * sizeof(float));
    memcpy(dx_c, dx0, nx * sizeof(float));
    snprintf(what, sizeof what, "avgpool bwd %dx%d s%d p%d %dx%d", kh, kw, stride, pad, h, w);
    CHECK_OK(avgpool_bwd_ref(NULL, &sh, dy, dx_r));
    CHECK_OK(avgpool_bwd_cpu(NULL, &sh, dy, dx_c));
    KT_CLOSE(what, dx_c, dx_r, nx, (double)kh * kw);
    free(x); free(dy); free(y_r); free(y_c); free(dx0); free(dx_r); free(dx_c);
}

static void test_gap(gh_rng *rng, int n, int c, int hw) {
    size_t nx = (size_t)n * c * hw, ny = (size_t)n * c;
    float *x = kt_rand(rng, nx, -1, 1), *dy = kt_rand(rng, ny, -1, 1);
    float *y_r = kt_alloc(ny), *y_c = kt_alloc(ny), *dx0 = kt_rand(rng, nx, -1, 1);
    float *dx_r = kt_dup(dx0, nx), *dx_c = kt_dup(dx0, nx);
    CHECK_OK(gap_fwd_ref(NULL, n, c, hw, x, y_r));
    CHECK_OK(gap_fwd_cpu(NULL, n, c, hw, x, y_c));
    KT_CLOSE("gap fwd", y_c, y_r, ny, hw);
    CHECK_OK(gap_bwd_ref(NULL, n, c, hw, dy, dx_r));
    CHECK_OK(gap_bwd_cpu(NULL, n, c, hw, dy, dx_c));
    KT_CLOSE("gap bwd", dx_c, dx_r, nx, 2);
    free(x); free(dy); free(y_r); free(y_c); free(dx0); free(dx_r); free(dx_c);
}

static void test_linear(gh_rng *rng, int n, int in, int out) {
    size_t nx = (size_t)n * in, nw = (size_t)out * in, ny = (size_t)n * out;
    float *x = kt_rand(rng, nx, -1, 1), *w = kt_rand(rng, nw, -1, 1), *b = kt_rand(rng, out, -1, 1);
    float *dy = kt_rand(rng, ny, -1, 1), *y_r = kt_alloc(ny), *y_c = kt_alloc(ny);
    float *dx0 = kt_rand(rng, nx, -1, 1), *dw0 = kt_rand(rng, nw, -1, 1), *db0 = kt_rand(rng, out, -1, 1);
    float *dx_r = kt_dup(dx0, nx), *dw_r = kt_dup(dw0, nw), *db_r = kt_dup(db0, out);
    float *dx_c = kt_dup(dx0, nx), *dw_c = kt_dup(dw0, nw), *db_c = kt_dup(db0, out);
    char what[96];
    snprintf(what, sizeof what, "linear fwd n%d in%d out%d", n, in, out);
    CHECK_OK(linear_fwd_ref(NULL, n, in, out, x, w, b, y_r));
    CHECK_OK(linear_fwd_cpu(NULL, n, in, out, x, w, b, y_c));
    KT_CLOSE(what, y_c, y_r, ny, in + 1);
    CHECK_OK(linear_bwd_ref(NULL, n, in, out, x, w, dy, dx_r, dw_r, db_r));
    CHECK_OK(linear_bwd_cpu(NULL, n, in, out, x, w, dy, dx_c, dw_c, db_c));
    KT_CLOSE("linear bwd dx", dx_c, dx_r, nx, out + 1);
    KT_CLOSE("linear bwd dw", dw_c, dw_r, nw, n + 1);
    KT_CLOSE("linear bwd db", db_c, db_r, out, n + 1);
    free(x); free(w); free(b); free(dy); free(y_r); free(y_c); free(dx0); free(dw0); free(db0);
    free(dx_r); free(dw_r); free(db_r); free(dx_c); free(dw_c); free(db_c);
}

static void test_elementwise(gh_rng *rng, size_t n) {
    float *a = kt_rand(rng, n, -1, 1), *b = kt_rand(rng, n, -1, 1), *y_r = kt_alloc(n), *y_c = kt_alloc(n);
    float *d0 = kt_rand(rng, n, -1, 1), *da_r = kt_dup(d0, n), *da_c = kt_dup(d0, n);
    float *db_r = kt_dup(a, n), *db_c = kt_dup(a, n);
    CHECK_OK(add_fwd_ref(NULL, n, a, b, y_r));
    CHECK_OK(add_fwd_cpu(NULL, n, a, b, y_c));
    KT_EQUAL("add fwd", y_c, y_r, n);
    CHECK_OK(add_bwd_ref(NULL, n, b, da_r, db_r));
    CHECK_OK(add_bwd_cpu(NULL, n, b, da_c, db_c));
    KT_EQUAL("add bwd da", da_c, da_r, n);
    KT_EQUAL("add bwd db", db_c, db_r, n);
    CHECK_OK(axpy_ref(NULL, n, -0.75f, a, da_r));
    CHECK_OK(axpy_cpu(NULL, n, -0.75f, a, da_c));
    KT_EQUAL("axpy", da_c, da_r, n);
    CHECK_OK(scale_ref(NULL, n, 1.5f, da_r));
    CHECK_OK(scale_cpu(NULL, n, 1.5f, da_c));
    KT_EQUAL("scale", da_c, da_r, n);
    CHECK_OK(fill_ref(NULL, n, 0.25f, y_r));
    CHECK_OK(fill_cpu(NULL, n, 0.25f, y_c));
    KT_EQUAL("fill", y_c, y_r, n);
    CHECK(y_c[n - 1] == 0.25f);
    double s_r = -1, s_c = -1;
    CHECK_OK(sumsq_ref(NULL, n, a, &s_r));
    CHECK_OK(sumsq_cpu(NULL, n, a, &s_c));
    CHECK_MSG(fabs(s_r - s_c) <= 1e-12 * s_r, "sumsq n %zu: ref %.17g cpu %.17g", n, s_r, s_c);
    // relu: include exact zeros, where the gradient must be 0 (PyTorch's convention)
    for (size_t i = 0; i < n; i += 7) a[i] = 0.0f;
    CHECK_OK(relu_fwd_ref(NULL, n, a, y_r));
    CHECK_OK(relu_fwd_cpu(NULL, n, a, y_c));
    KT_EQUAL("relu fwd", y_c, y_r, n);
    memcpy(da_r, d0, n * sizeof(float));
    memcpy(da_c, d0, n * sizeof(float));
    CHECK_OK(relu_bwd_ref(NULL, n, a, b, da_r));
    CHECK_OK(relu_bwd_cpu(NULL, n, a, b, da_c));
    KT_EQUAL("relu bwd", da_c, da_r, n);
    free(a); free(b); free(y_r); free(y_c); free(d0); free(da_r); free(da_c); free(db_r); free(db_c);
}

static void test_wsum(gh_rng *rng, int k, size_t n) {
    float *xs[GH_WSUM_MAX], *dxr[GH_WSUM_MAX], *dxc[GH_WSUM_MAX];
    float *wts = kt_rand(rng, k, -1, 1), *dy = kt_rand(rng, n, -1, 1);
    float *dw0 = kt_rand(rng, k, -1, 1), *dw_r = kt_dup(dw0, k), *dw_c = kt_dup(dw0, k);
    for (int i = 0; i < k; i++) {
        xs[i] = i == 1 ? NULL : kt_rand(rng, n, -1, 1);   // input 1 is a "none" op
        dxr[i] = i == 2 ? NULL : kt_rand(rng, n, -1, 1);  // gradient 2 is not needed
        dxc[i] = dxr[i] ? kt_dup(dxr[i], n) : NULL;
    }
    float *y_r = kt_alloc(n), *y_c = kt_alloc(n);
    CHECK_OK(wsum_fwd_ref(NULL, k, n, (const float *const *)xs, wts, y_r));
    CHECK_OK(wsum_fwd_cpu(NULL, k, n, (const float *const *)xs, wts, y_c));
    KT_CLOSE("wsum fwd", y_c, y_r, n, k);
    CHECK_OK(wsum_bwd_ref(NULL, k, n, (const float *const *)xs, wts, dy, dxr, dw_r));
    CHECK_OK(wsum_bwd_cpu(NULL, k, n, (const float *const *)xs, wts, dy, dxc, dw_c));
    for (int i = 0; i < k; i++)
        if (dxr[i]) KT_CLOSE("wsum bwd dx", dxc[i], dxr[i], n, 2);
    KT_CLOSE("wsum bwd dweights", dw_c, dw_r, k, (double)n);
    CHECK(dw_c[1] == dw0[1]);   // a NULL input gets no weight gradient
    for (int i = 0; i < k; i++) {
        free(xs[i]); free(dxr[i]); free(dxc[i]);
    }
    free(wts); free(dy); free(dw0); free(dw_r); free(dw_c); free(y_r); free(y_c);
}

static void test_concat(gh_rng *rng) {
    int n = 3, hw = 35, k = 3, cs[3] = {2, 5, 1}, ct = 8, c0 = 2, cn = 5;
    float *xs[3], *dxr[3], *dxc[3];
    for (int i = 0; i < k; i++) {
        xs[i] = kt_rand(rng, (size_t)n * cs[i] * hw, -1, 1);
        dxr[i] = kt_rand(rng, (size_t)n * cs[i] * hw, -1, 1);
        dxc[i] = kt_dup(dxr[i], (size_t)n * cs[i] * hw);
    }
    size_t ny = (size_t)n * ct * hw;
    float *y_r = kt_alloc(ny), *y_c = kt_alloc(ny), *dy = kt_rand(rng, ny, -1, 1);
    CHECK_OK(concat_fwd_ref(NULL, n, hw, k, cs, (const float *const *)xs, y_r));
    CHECK_OK(concat_fwd_cpu(NULL, n, hw, k, cs, (const float *const *)xs, y_c));
    KT_EQUAL("concat fwd", y_c, y_r, ny);
    float *keep = dxr[1];
    dxr[1] = NULL;   // skipped gradient
    float *keepc = dxc[1];
    dxc[1] = NULL;
    CHECK_OK(concat_bwd_ref(NULL, n, hw, k, cs, dy, dxr));
    CHECK_OK(concat_bwd_cpu(NULL, n, hw, k, cs, dy, dxc));
    dxr[1] = keep;
    dxc[1] = keepc;
    for (int i = 0; i < k; i++) KT_EQUAL("concat bwd", dxc[i], dxr[i], (size_t)n * cs[i] * hw);
    size_t ns = (size_t)n * cn * hw;
    float *s_r = kt_alloc(ns), *s_c = kt_alloc(ns), *ds = kt_rand(rng, ns, -1, 1);
    CHECK_OK(slice_fwd_ref(NULL, n, ct, hw, c0, cn, y_r, s_r));
    CHECK_OK(slice_fwd_cpu(NULL, n, ct, hw, c0, cn, y_r, s_c));
    KT_EQUAL("slice fwd", s_c, s_r, ns);
    KT_EQUAL("slice fwd = concat input 1", s_c, xs[1], ns);
    float *dd_r = kt_dup(dy, ny), *dd_c = kt_dup(dy, ny);
    CHECK_OK(slice_bwd_ref(NULL, n, ct, hw, c0, cn, ds, dd_r));
    CHECK_OK(slice_bwd_cpu(NULL, n, ct, hw, c0, cn, ds, dd_c));
    KT_EQUAL("slice bwd", dd_c, dd_r, ny);
    for (int i = 0; i < k; i++) {
        free(xs[i]); free(dxr[i]); free(dxc[i]);
    }
    free(y_r); free(y_c); free(dy); free(s_r); free(s_c); free(ds); free(dd_r); free(dd_c);
}

static void test_shift(gh_rng *rng, int n, int c, int h, int w, int dh, int dw, int ho, int wo) {
    size_t nx = (size_t)n * c * h * w, ny = (size_t)n * c * ho * wo;
    float *x = kt_rand(rng, nx, -1, 1), *dy = kt_rand(rng, ny, -1, 1);
    float *y_r = kt_alloc(ny), *y_c = kt_alloc(ny), *dx_r = kt_rand(rng, nx, -1, 1);
    float *dx_c = kt_dup(dx_r, nx);
    char what[80];
    snprintf(what, sizeof what, "shift %dx%d by (%d,%d) to %dx%d", h, w, dh, dw, ho, wo);
    CHECK_OK(shift_fwd_ref(NULL, n, c, h, w, dh, dw, ho, wo, x, y_r));
    memset(y_c, 0xff, ny * sizeof(float));
    CHECK_OK(shift_fwd_cpu(NULL, n, c, h, w, dh, dw, ho, wo, x, y_c));
    KT_EQUAL(what, y_c, y_r, ny);
    CHECK_OK(shift_bwd_ref(NULL, n, c, h, w, dh, dw, ho, wo, dy, dx_r));
    CHECK_OK(shift_bwd_cpu(NULL, n, c, h, w, dh, dw, ho, wo, dy, dx_c));
    KT_EQUAL("shift bwd", dx_c, dx_r, nx);
    free(x); free(dy); free(y_r); free(y_c); free(dx_r); free(dx_c);
}

// The host's mask, as the kernels must draw it: the mask seed gh_hash64(step seed, op index),
// element (dropout, samples 0) or sample (drop-path) i kept iff gh_uniform(mask seed, i) >= p.
// acc: dx += dy * mask * scale (backward), else y = x * mask * scale.
static void drop_host(size_t n, int samples, float p, uint64_t step_seed, uint64_t op,
                      const float *x, float *y, int acc) {
    uint64_t ms = gh_hash64(step_seed, op);
    float scale = 1.0f / (1.0f - p);
    size_t per = samples ? n / (size_t)samples : 1;
    for (size_t i = 0; i < n; i++) {
        int keep = gh_uniform(ms, samples ? i / per : i) >= p;
        if (acc) y[i] += keep ? x[i] * scale : 0.0f;
        else y[i] = keep ? x[i] * scale : 0.0f;
    }
}

// Elements of a and b that differ.
static size_t n_differ(const float *a, const float *b, size_t n) {
    size_t d = 0;
    for (size_t i = 0; i < n; i++) d += a[i] != b[i];
    return d;
}

// ref and cpu against each other and against the host's mask, bit for bit; the seed read
// through its pointer with the op's index, and a neighbouring index (or step seed) seen to
// draw another mask (so a kernel that ignored either would fail the comparison above it).
static void test_dropout(gh_rng *rng, size_t n, float p) {
    float *x = kt_rand(rng, n, -1, 1), *y_r = kt_alloc(n), *y_c = kt_alloc(n), *y_h = kt_alloc(n);
    float *d_r = kt_rand(rng, n, -1, 1), *d_c = kt_dup(d_r, n), *d_h = kt_dup(d_r, n);
    const uint64_t step = 1234, other = 1235;
    const uint64_t op = 5;
    char what[96];
    CHECK_OK(dropout_fwd_ref(NULL, n, p, &step, op, x, y_r));
    CHECK_OK(dropout_fwd_cpu(NULL, n, p, &step, op, x, y_c));
    KT_EQUAL("dropout fwd", y_c, y_r, n);
    drop_host(n, 0, p, step, op, x, y_h, 0);
    KT_EQUAL("dropout fwd against the host's gh_hash64(seed, op) mask", y_r, y_h, n);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) kept += y_r[i] != 0.0f;
    double frac = (double)kept / n;
    CHECK_MSG(fabs(frac - (1.0 - p)) < 0.01, "dropout p %g kept %.4f", p, frac);
    CHECK_OK(dropout_bwd_ref(NULL, n, p, &step, op, x, d_r));
    CHECK_OK(dropout_bwd_cpu(NULL, n, p, &step, op, x, d_c));
    KT_EQUAL("dropout bwd", d_c, d_r, n);
    drop_host(n, 0, p, step, op, x, d_h, 1);
    KT_EQUAL("dropout bwd against the host's mask", d_r, d_h, n);
    // op + 1 and another step seed: other masks (about 2p(1-p) of the elements differ)
    CHECK_OK(dropout_fwd_cpu(NULL, n, p, &step, op + 1, x, y_c));
    size_t d_op = n_differ(y_c, y_h, n);
    CHECK_OK(dropout_fwd_ref(NULL, n, p, &other, op, x, y_c));
    size_t d_seed = n_differ(y_c, y_h, n);
    snprintf(what, sizeof what, "dropout p %g: %zu and %zu of %zu differ", p, d_op, d_seed, n);
    CHECK_MSG(d_op > n * p * (1 - p) && d_seed > n * p * (1 - p), "%s (expected about %.0f)",
              what, 2.0 * n * p * (1 - p));

    int ns = 37;
    size_t per = n / ns, m = ns * per;
    CHECK_OK(droppath_fwd_ref(NULL, ns, per, p, &step, op, x, y_r));
    CHECK_OK(droppath_fwd_cpu(NULL, ns, per, p, &step, op, x, y_c));
    KT_EQUAL("droppath fwd", y_c, y_r, m);
    drop_host(m, ns, p, step, op, x, y_h, 0);
    KT_EQUAL("droppath fwd against the host's mask", y_r, y_h, m);
    memcpy(d_c, d_r, n * sizeof(float));
    memcpy(d_h, d_r, n * sizeof(float));
    CHECK_OK(droppath_bwd_ref(NULL, ns, per, p, &step, op, x, d_r));
    CHECK_OK(droppath_bwd_cpu(NULL, ns, per, p, &step, op, x, d_c));
    KT_EQUAL("droppath bwd", d_c, d_r, n);
    drop_host(m, ns, p, step, op, x, d_h, 1);
    KT_EQUAL("droppath bwd against the host's mask", d_r, d_h, n);
    // the samples' masks under op + 1: 37 draws, some differ
    CHECK_OK(droppath_fwd_ref(NULL, ns, per, p, &step, op + 1, x, y_c));
    CHECK_MSG(n_differ(y_c, y_h, m) >= per, "droppath: op %llu and %llu draw the same mask",
              (unsigned long long)op, (unsigned long long)op + 1);
    free(x); free(y_r); free(y_c); free(y_h); free(d_r); free(d_c); free(d_h);
}

static void test_softmax_xent(gh_rng *rng, int rows, int cols, float smoothing) {
    size_t nx = (size_t)rows * cols;
    float *x = kt_rand(rng, nx, -4, 4), *y_r = kt_alloc(nx), *y_c = kt_alloc(nx);
    float *dy = kt_rand(rng, nx, -1, 1), *d_r = kt_rand(rng, nx, -1, 1), *d_c = kt_dup(d_r, nx);
    x[0] = 80.0f;   // a large logit: exp must not overflow
    CHECK_OK(softmax_fwd_ref(NULL, rows, cols, x, y_r));
    CHECK_OK(softmax_fwd_cpu(NULL, rows, cols, x, y_c));
    KT_CLOSE("softmax fwd", y_c, y_r, nx, cols);
    CHECK_OK(softmax_bwd_ref(NULL, rows, cols, y_r, dy, d_r));
    CHECK_OK(softmax_bwd_cpu(NULL, rows, cols, y_r, dy, d_c));
    KT_CLOSE("softmax bwd", d_c, d_r, nx, cols);
    int *lab = (int *)malloc(sizeof(int) * rows);
    for (int i = 0; i < rows; i++) lab[i] = (int)gh_rng_below(rng, (uint64_t)cols);
    float *l_r = kt_alloc(rows), *l_c = kt_alloc(rows);
    CHECK_OK(xent_fwd_ref(NULL, rows, cols, x, lab, smoothing, y_r, l_r));
    CHECK_OK(xent_fwd_cpu(NULL, rows, cols, x, lab, smoothing, y_c, l_c));
    KT_CLOSE("xent probs", y_c, y_r, nx, cols);
    KT_CLOSE("xent losses", l_c, l_r, rows, cols * 8.0);
    const float dloss = 0.5f * (float)rows;  // d(total)/d(mean): dlogits scale 0.5
    CHECK_OK(xent_bwd_ref(NULL, rows, cols, y_r, lab, smoothing, &dloss, d_r));
    CHECK_OK(xent_bwd_cpu(NULL, rows, cols, y_r, lab, smoothing, &dloss, d_c));
    KT_CLOSE("xent bwd", d_c, d_r, nx, 4);
    free(x); free(y_r); free(y_c); free(dy); free(d_r); free(d_c); free(lab); free(l_r); free(l_c);
}

// ---- controller ops: sigmoid, tanh, LSTM cell, embedding, sampling, log-prob and entropy ----

static void test_activations(gh_rng *rng, size_t n) {
    float *x = kt_rand(rng, n, -6, 6), *y_r = kt_alloc(n), *y_c = kt_alloc(n);
    float *dy = kt_rand(rng, n, -1, 1), *d0 = kt_rand(rng, n, -1, 1);
    x[0] = -100.0f;   // saturation: exp(100) overflows in float, 1/(1+inf) must be 0
    x[1] = 100.0f;
    for (int t = 0; t < 2; t++) {
        const char *nm = t ? "tanh" : "sigmoid";
        char what[64];
        float *d_r = kt_dup(d0, n), *d_c = kt_dup(d0, n);
        CHECK_OK((t ? tanh_fwd_ref : sigmoid_fwd_ref)(NULL, n, x, y_r));
        CHECK_OK((t ? tanh_fwd_cpu : sigmoid_fwd_cpu)(NULL, n, x, y_c));
        snprintf(what, sizeof what, "%s fwd n%zu", nm, n);
        KT_CLOSE(what, y_c, y_r, n, 1);
        CHECK_OK((t ? tanh_bwd_ref : sigmoid_bwd_ref)(NULL, n, y_r, dy, d_r));
        CHECK_OK((t ? tanh_bwd_cpu : sigmoid_bwd_cpu)(NULL, n, y_r, dy, d_c));
        snprintf(what, sizeof what, "%s bwd n%zu", nm, n);
        KT_CLOSE(what, d_c, d_r, n, 2);
        free(d_r); free(d_c);
    }
    free(x); free(y_r); free(y_c); free(dy); free(d0);
}

static void test_lstm(gh_rng *rng, int batch, int hidden) {
    size_t nh = (size_t)batch * hidden, ng = 4 * nh, nc = GH_LSTM_CACHE * nh;
    float *g = kt_rand(rng, ng, -3, 3), *cp = kt_rand(rng, nh, -2, 2);
    float *c_r = kt_alloc(nh), *h_r = kt_alloc(nh), *k_r = kt_alloc(nc);
    float *c_c = kt_alloc(nh), *h_c = kt_alloc(nh), *k_c = kt_alloc(nc);
    char what[96];
    CHECK_OK(lstm_cell_fwd_ref(NULL, batch, hidden, g, cp, c_r, h_r, k_r));
    memset(k_c, 0xff, nc * sizeof(float));   // NaN: every cache entry must be written
    CHECK_OK(lstm_cell_fwd_cpu(NULL, batch, hidden, g, cp, c_c, h_c, k_c));
    snprintf(what, sizeof what, "lstm fwd c b%d h%d", batch, hidden);
    KT_CLOSE(what, c_c, c_r, nh, 4);
    snprintf(what, sizeof what, "lstm fwd h b%d h%d", batch, hidden);
    KT_CLOSE(what, h_c, h_r, nh, 4);
    KT_CLOSE("lstm fwd cache", k_c, k_r, nc, 4);
    float *h_nc = kt_alloc(nh);
    CHECK_OK(lstm_cell_fwd_cpu(NULL, batch, hidden, g, cp, c_c, h_nc, NULL));
    KT_EQUAL("lstm fwd without cache", h_nc, h_c, nh);
    float *dc = kt_rand(rng, nh, -1, 1), *dh = kt_rand(rng, nh, -1, 1);
    float *dg0 = kt_rand(rng, ng, -1, 1), *dcp0 = kt_rand(rng, nh, -1, 1);
    // both output gradients, then dc alone, then dh alone (the other NULL)
    for (int m = 3; m >= 1; m--) {
        float *dg_r = kt_dup(dg0, ng), *dg_c = kt_dup(dg0, ng);
        float *dcp_r = kt_dup(dcp0, nh), *dcp_c = kt_dup(dcp0, nh);
        const float *a = m & 1 ? dc : NULL, *b = m & 2 ? dh : NULL;
        CHECK_OK(lstm_cell_bwd_ref(NULL, batch, hidden, cp, k_r, a, b, dg_r, dcp_r));
        CHECK_OK(lstm_cell_bwd_cpu(NULL, batch, hidden, cp, k_r, a, b, dg_c, dcp_c));
        snprintf(what, sizeof what, "lstm bwd dgates b%d h%d [%s%s]", batch, hidden,
                 a ? "dc" : "", b ? "dh" : "");
        KT_CLOSE(what, dg_c, dg_r, ng, 8);
        KT_CLOSE("lstm bwd dc_prev", dcp_c, dcp_r, nh, 8);
        free(dg_r); free(dg_c); free(dcp_r); free(dcp_c);
    }
    float *dg_c = kt_dup(dg0, ng);
    CHECK_OK(lstm_cell_bwd_cpu(NULL, batch, hidden, cp, k_r, dc, dh, dg_c, NULL));
    float *dcp_r = kt_dup(dcp0, nh);
    CHECK_OK(lstm_cell_bwd_ref(NULL, batch, hidden, cp, k_r, dc, dh, NULL, dcp_r));
    float *dg_r = kt_dup(dg0, ng);
    CHECK_OK(lstm_cell_bwd_ref(NULL, batch, hidden, cp, k_r, dc, dh, dg_r, NULL));
    KT_CLOSE("lstm bwd dgates alone", dg_c, dg_r, ng, 8);
    free(dg_c); free(dcp_r); free(dg_r);
    free(g); free(cp); free(c_r); free(h_r); free(k_r); free(c_c); free(h_c); free(k_c);
    free(h_nc); free(dc); free(dh); free(dg0); free(dcp0);
}

static void test_embedding(gh_rng *rng, int n, int vocab, int dim) {
    size_t nt = (size_t)vocab * dim, ny = (size_t)n * dim;
    int *idx = (int *)malloc(sizeof(int) * n);
    for (int i = 0; i < n; i++) idx[i] = (int)gh_rng_below(rng, (uint64_t)vocab);
    idx[n - 1] = idx[0];   // a repeated row: two contributions into one table row
    float *tab = kt_rand(rng, nt, -1, 1), *y_r = kt_alloc(ny), *y_c = kt_alloc(ny);
    float *dy = kt_rand(rng, ny, -1, 1), *dt_r = kt_rand(rng, nt, -1, 1), *dt_c = kt_dup(dt_r, nt);
    char what[96];
    CHECK_OK(embedding_fwd_ref(NULL, n, vocab, dim, idx, tab, y_r));
    CHECK_OK(embedding_fwd_cpu(NULL, n, vocab, dim, idx, tab, y_c));
    snprintf(what, sizeof what, "embedding fwd n%d v%d d%d", n, vocab, dim);
    KT_EQUAL(what, y_c, y_r, ny);
    CHECK_OK(embedding_bwd_ref(NULL, n, vocab, dim, idx, dy, dt_r));
    CHECK_OK(embedding_bwd_cpu(NULL, n, vocab, dim, idx, dy, dt_c));
    snprintf(what, sizeof what, "embedding bwd n%d v%d d%d (bit-equal)", n, vocab, dim);
    KT_EQUAL(what, dt_c, dt_r, nt);
    free(idx); free(tab); free(y_r); free(y_c); free(dy); free(dt_r); free(dt_c);
}

static void test_categorical(gh_rng *rng, int rows, int cols, float temperature, float tanh_c) {
    size_t nx = (size_t)rows * cols;
    float *x = kt_rand(rng, nx, -4, 4);
    int *i_r = (int *)malloc(sizeof(int) * rows), *i_c = (int *)malloc(sizeof(int) * rows);
    float *lp_r = kt_alloc(rows), *lp_c = kt_alloc(rows), *e_r = kt_alloc(rows), *e_c = kt_alloc(rows);
    char what[96];
    CHECK_OK(categorical_sample_ref(NULL, rows, cols, x, temperature, tanh_c, 1234, i_r, lp_r, e_r));
    CHECK_OK(categorical_sample_cpu(NULL, rows, cols, x, temperature, tanh_c, 1234, i_c, lp_c, e_c));
    int same = memcmp(i_r, i_c, sizeof(int) * rows) == 0;
    CHECK_MSG(same, "categorical_sample %dx%d T %g C %g: _cpu indices differ from _ref", rows,
              cols, (double)temperature, (double)tanh_c);
    snprintf(what, sizeof what, "sample logp %dx%d T%g C%g", rows, cols, (double)temperature,
             (double)tanh_c);
    KT_EQUAL(what, lp_c, lp_r, rows);
    KT_EQUAL("sample entropy", e_c, e_r, rows);
    // log-prob and entropy of the sampled indices, on logits scaled as the sampler scales them
    float *z = kt_alloc(nx);
    for (size_t i = 0; i < nx; i++) {
        double v = (double)x[i] / temperature;
        z[i] = (float)(tanh_c > 0 ? tanh_c * tanh(v) : v);
    }
    CHECK_OK(logprob_entropy_fwd_ref(NULL, rows, cols, z, i_r, lp_c, e_c));
    KT_CLOSE("sample logp = logprob of scaled logits", lp_r, lp_c, rows, cols * 4.0);
    KT_CLOSE("sample entropy = entropy of scaled", e_r, e_c, rows, cols * 4.0);
    CHECK_OK(logprob_entropy_fwd_cpu(NULL, rows, cols, z, i_r, lp_r, e_r));
    snprintf(what, sizeof what, "logprob fwd %dx%d", rows, cols);
    KT_CLOSE(what, lp_r, lp_c, rows, cols * 4.0);
    KT_CLOSE("entropy fwd", e_r, e_c, rows, cols * 4.0);
    float *dlp = kt_rand(rng, rows, -1, 1), *de = kt_rand(rng, rows, -1, 1);
    float *d0 = kt_rand(rng, nx, -1, 1);
    for (int m = 3; m >= 1; m--) {
        float *d_r = kt_dup(d0, nx), *d_c = kt_dup(d0, nx);
        const float *a = m & 1 ? dlp : NULL, *b = m & 2 ? de : NULL;
        CHECK_OK(logprob_entropy_bwd_ref(NULL, rows, cols, z, i_r, a, b, d_r));
        CHECK_OK(logprob_entropy_bwd_cpu(NULL, rows, cols, z, i_r, a, b, d_c));
        snprintf(what, sizeof what, "logprob/entropy bwd %dx%d [%s%s]", rows, cols,
                 a ? "dlogp" : "", b ? "dent" : "");
        KT_CLOSE(what, d_c, d_r, nx, cols * 4.0);
        free(d_r); free(d_c);
    }
    free(x); free(i_r); free(i_c); free(lp_r); free(lp_c); free(e_r); free(e_c); free(z);
    free(dlp); free(de); free(d0);
}

static void test_optim(gh_rng *rng, size_t n) {
    float *p_r = kt_rand(rng, n, -1, 1), *p_c = kt_dup(p_r, n), *g = kt_rand(rng, n, -1, 1);
    float *m_r = kt_alloc(n), *m_c = kt_alloc(n), *v_r = kt_alloc(n), *v_c = kt_alloc(n);
    for (int t = 1; t <= 3; t++) {
        CHECK_OK(sgd_step_ref(NULL, n, p_r, g, m_r, 0.1f, 0.9f, 3e-4f));
        CHECK_OK(sgd_step_cpu(NULL, n, p_c, g, m_c, 0.1f, 0.9f, 3e-4f));
    }
    KT_EQUAL("sgd params", p_c, p_r, n);
    KT_EQUAL("sgd momentum", m_c, m_r, n);
    CHECK_OK(sgd_step_ref(NULL, n, p_r, g, NULL, 0.1f, 0.0f, 0.0f));
    CHECK_OK(sgd_step_cpu(NULL, n, p_c, g, NULL, 0.1f, 0.0f, 0.0f));
    KT_EQUAL("sgd no momentum", p_c, p_r, n);
    memset(m_r, 0, n * sizeof(float));
    memset(m_c, 0, n * sizeof(float));
    for (int t = 1; t <= 3; t++) {
        CHECK_OK(adam_step_ref(NULL, n, p_r, g, m_r, v_r, 3e-4f, 0.5f, 0.999f, 1e-8f, 1e-3f, t));
        CHECK_OK(adam_step_cpu(NULL, n, p_c, g, m_c, v_c, 3e-4f, 0.5f, 0.999f, 1e-8f, 1e-3f, t));
    }
    KT_EQUAL("adam params", p_c, p_r, n);
    KT_EQUAL("adam m", m_c, m_r, n);
    KT_EQUAL("adam v", v_c, v_r, n);
    free(p_r); free(p_c); free(g); free(m_r); free(m_c); free(v_r); free(v_c);
}

static void run_all(gh_rng *rng) {
    for (size_t i = 0; i < sizeof conv_cases / sizeof conv_cases[0]; i++) test_conv(rng, &conv_cases[i]);
    test_bn(rng, 3, 5, 49, 1);
    test_bn(rng, 1, 3, 2, 0);
    test_bn(rng, 8, 16, 64, 0);
    test_pool(rng, 3, 4, 7, 7, 3, 3, 1, 1);
    test_pool(rng, 3, 4, 8, 8, 3, 3, 2, 1);
    test_pool(rng, 2, 3, 7, 9, 2, 2, 2, 0);
    test_pool(rng, 2, 3, 9, 7, 3, 5, 2, 1);
    test_pool(rng, 1, 2, 11, 11, 5, 5, 3, 2);
    test_pool(rng, 2, 3, 1, 1, 1, 1, 1, 0);
    test_gap(rng, 3, 5, 49);
    test_linear(rng, 3, 7, 5);
    test_linear(rng, 64, 300, 20);   // split by rows over the team
    test_linear(rng, 3, 500, 200);   // split by columns
    test_elementwise(rng, 1001);
    test_elementwise(rng, 100003);   // above the OpenMP threshold
    test_wsum(rng, 5, 1001);
    test_wsum(rng, 8, 100003);
    test_concat(rng);
    test_shift(rng, 2, 3, 8, 8, 1, 1, 7, 7);    // FactorizedReduce crop
    test_shift(rng, 2, 3, 8, 8, 1, 1, 8, 8);    // padded with zeros
    test_shift(rng, 2, 3, 5, 6, -2, 3, 7, 4);
    test_shift(rng, 1, 2, 4, 4, 9, 0, 3, 3);    // entirely outside
    test_dropout(rng, 100003, 0.3f);
    test_softmax_xent(rng, 7, 10, 0.1f);
    test_softmax_xent(rng, 5, 3, 0.0f);
    test_optim(rng, 100003);
    test_activations(rng, 1001);
    test_activations(rng, 100003);
    test_lstm(rng, 1, 64);       // the controller's shapes: batch 1 and 32, hidden 64 and 100
    test_lstm(rng, 32, 100);
    test_lstm(rng, 3, 7);
    test_lstm(rng, 67, 129);     // above the OpenMP threshold
    test_embedding(rng, 1, 5, 64);
    test_embedding(rng, 32, 13, 100);
    test_embedding(rng, 700, 37, 130);   // column blocks over the team
    test_categorical(rng, 1, 5, 1.0f, 0.0f);
    test_categorical(rng, 33, 7, 5.0f, 2.5f);   // ENAS: temperature 5, tanh constant 2.5
    test_categorical(rng, 5000, 11, 1.3f, 1.1f);
}

int main(void) {
    gh_rng rng;
    int threads[] = {1, 2, 3};
    for (int t = 0; t < 3; t++) {
        omp_set_num_threads(threads[t]);
        printf("---- %d OpenMP thread(s), gh_cpu_threads() = %d\n", threads[t], gh_cpu_threads());
        CHECK(gh_cpu_threads() == threads[t]);
        gh_rng_seed(&rng, 42 + t, GH_STREAM_INIT);
        run_all(&rng);
    }
    printf("BLAS: %s\n", gh_blas_info());
    return check_done("test_kernels_fast");
}
