// Every reference backward (_ref) against central finite differences in double precision.
//
// Method: the test carries its own double-precision forward of each op (written here,
// independently of kernels/cpu). The loss is L = sum_i y_i r_i with r random; its finite
// difference (L(t+h) - L(t-h)) / 2h is taken in double with h = 1e-5 max(1, |t|): truncation
// error ~h^2 |L'''| ~ 1e-10 and rounding ~1e-16 |L| / h ~ 1e-10, both far below the 1e-5
// relative tolerance of the fp32 analytic gradient, so a failure means a wrong gradient, not
// FD noise. (A float forward would leave ~1e-7 |y| per output in L and force h ~ 1e-2, whose
// truncation error needs loose tolerances.) The same double forward also checks each _ref
// forward to fp32 accuracy. Max pooling and ReLU inputs keep a margin >> h from ties and 0.
#include "ktest.h"

#define FD_POINTS 48   // gradient entries checked per tensor (all of them when fewer)

typedef double (*loss_fn)(const void *st);

static double *to_double(const float *x, size_t n) {
    double *d = (double *)malloc(sizeof(double) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

static double dot_d(const double *y, const float *r, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += y[i] * r[i];
    return s;
}

// Compares analytic[i] with the central difference of loss() in theta[i] on up to FD_POINTS
// evenly spread entries.
static void fd_check(const char *what, double *theta, size_t n, const float *analytic,
                     loss_fn loss, const void *st) {
    size_t m = n < FD_POINTS ? n : FD_POINTS;
    float got[FD_POINTS], want[FD_POINTS];
    for (size_t j = 0; j < m; j++) {
        size_t i = m == n ? j : (j * n) / m + (n / m) / 2;
        double t = theta[i], h = 1e-5 * (fabs(t) > 1.0 ? fabs(t) : 1.0);
        theta[i] = t + h;
        double lp = loss(st);
        theta[i] = t - h;
        double lm = loss(st);
        theta[i] = t;
        want[j] = (float)((lp - lm) / (2.0 * h));
        got[j] = analytic[i];
    }
    // 1e-5: the analytic gradient is fp32 (rounded once from double sums in the _ref ops)
    double rtol = 1e-5, atol = rtol * (kt_rms(want, m) + 1e-30);
    check_close_f(what, got, want, m, atol, rtol, __FILE__, __LINE__);
}

// ---- conv2d ------------------------------------------------------------------------------

typedef struct {
    conv2d_shape sh;
    double *x, *w, *b;
    const float *r;
    double *y;
    int relu;   // the conv of relu(x) (conv2d_relu_fwd/_bwd)
} conv_st;

static double conv_loss(const void *p) {
    const conv_st *s = p;
    const conv2d_shape *sh = &s->sh;
    int cg = sh->c / sh->groups, kg = sh->k / sh->groups;
    size_t ny = (size_t)sh->n * sh->k * sh->p * sh->q;
    for (size_t i = 0; i < ny; i++) s->y[i] = 0.0;
    // scatter form: each input element meets each tap that reads it
    for (int n = 0; n < sh->n; n++)
        for (int k = 0; k < sh->k; k++)
            for (int i = 0; i < sh->p; i++)
                for (int j = 0; j < sh->q; j++) {
                    double acc = s->b ? s->b[k] : 0.0;
                    int g = k / kg;
                    for (int ci = 0; ci < cg; ci++)
                        for (int a = 0; a < sh->r; a++) {
                            int ii = i * sh->stride_h + a * sh->dil_h - sh->pad_h;
                            if (ii < 0 || ii >= sh->h) continue;
                            for (int bb = 0; bb < sh->s; bb++) {
                                int jj = j * sh->stride_w + bb * sh->dil_w - sh->pad_w;
                                if (jj < 0 || jj >= sh->w) continue;
                                double xv =
                                    s->x[((n * sh->c + g * cg + ci) * sh->h + ii) * sh->w + jj];
                                if (s->relu && !(xv > 0.0)) xv = 0.0;
                                acc += s->w[((k * cg + ci) * sh->r + a) * sh->s + bb] * xv;
                            }
                        }
                    s->y[((n * sh->k + k) * sh->p + i) * sh->q + j] = acc;
                }
    return dot_d(s->y, s->r, ny);
}

// relu: conv2d_relu_fwd_ref/_bwd_ref, the conv of relu(x): x keeps a margin of 0.05 from the
// kink (central differences there would straddle it), and about half of it is negative, so the
// masked entries of dx (zero) are checked too.
static void grad_conv(gh_rng *rng, conv2d_shape sh, int relu) {
    CHECK_OK(conv2d_shape_init(&sh));
    size_t nx = (size_t)sh.n * sh.c * sh.h * sh.w, nw = (size_t)sh.k * (sh.c / sh.groups) * sh.r * sh.s;
    size_t ny = (size_t)sh.n * sh.k * sh.p * sh.q;
    float *x = kt_rand(rng, nx, -1, 1), *w = kt_rand(rng, nw, -1, 1), *b = kt_rand(rng, sh.k, -1, 1);
    float *r = kt_rand(rng, ny, -1, 1), *y = kt_alloc(ny);
    float *dx = kt_alloc(nx), *dw = kt_alloc(nw), *db = kt_alloc(sh.k);
    if (relu)
        for (size_t i = 0; i < nx; i++)
            if (fabsf(x[i]) < 0.05f) x[i] = x[i] < 0.0f ? -0.05f : 0.05f;
    conv_st s = {sh, to_double(x, nx), to_double(w, nw), to_double(b, sh.k), r,
                 (double *)malloc(sizeof(double) * ny), relu};
    char what[128];
    snprintf(what, sizeof what, "%s %dx%d g%d s%d,%d p%d,%d d%d,%d", relu ? "conv(relu)" : "conv",
             sh.r, sh.s, sh.groups, sh.stride_h, sh.stride_w, sh.pad_h, sh.pad_w, sh.dil_h,
             sh.dil_w);
    CHECK_OK(relu ? conv2d_relu_fwd_ref(NULL, &sh, x, w, b, y)
                  : conv2d_fwd_ref(NULL, &sh, x, w, b, y));
    conv_loss(&s);
    float *yd = kt_alloc(ny);
    for (size_t i = 0; i < ny; i++) yd[i] = (float)s.y[i];
    printf("%s\n", what);
    KT_CLOSE("  fwd vs double", y, yd, ny, 1);
    CHECK_OK(relu ? conv2d_relu_bwd_ref(NULL, &sh, x, w, r, dx, dw, db)
                  : conv2d_bwd_ref(NULL, &sh, x, w, r, dx, dw, db));
    if (relu) {
        // the masked half: dx is exactly 0 where x < 0, and not everywhere else
        size_t neg = 0, nonzero = 0;
        for (size_t i = 0; i < nx; i++) {
            if (x[i] < 0.0f) {
                neg++;
                CHECK_MSG(dx[i] == 0.0f, "%s: dx[%zu] = %g where x = %g", what, i, dx[i], x[i]);
            } else
                nonzero += dx[i] != 0.0f;
        }
        // (a 1x1 stride-2 conv reads one input in four)
        CHECK_MSG(neg > nx / 4 && nonzero > nx / 20, "%s: %zu of %zu x negative, %zu dx non-zero",
                  what, neg, nx, nonzero);
    }
    fd_check("  dx", s.x, nx, dx, conv_loss, &s);
    fd_check("  dw", s.w, nw, dw, conv_loss, &s);
    fd_check("  db", s.b, sh.k, db, conv_loss, &s);
    free(x); free(w); free(b); free(r); free(y); free(dx); free(dw); free(db); free(yd);
    free(s.x); free(s.w); free(s.b); free(s.y);
}

// ---- batch norm (training mode: gradients flow through the batch statistics) --------------

typedef struct {
    bn_shape sh;
    double *x, *g, *b;
    const float *r;
} bn_st;

static double bn_loss(const void *p) {
    const bn_st *s = p;
    int n = s->sh.n, c = s->sh.c, hw = s->sh.hw;
    double loss = 0.0;
    for (int ch = 0; ch < c; ch++) {
        double mean = 0.0, var = 0.0;
        for (int i = 0; i < n; i++)
            for (int e = 0; e < hw; e++) mean += s->x[((size_t)i * c + ch) * hw + e];
        mean /= (double)n * hw;
        for (int i = 0; i < n; i++)
            for (int e = 0; e < hw; e++) {
                double d = s->x[((size_t)i * c + ch) * hw + e] - mean;
                var += d * d;
            }
        var /= (double)n * hw;
        for (int i = 0; i < n; i++)
            for (int e = 0; e < hw; e++) {
                size_t k = ((size_t)i * c + ch) * hw + e;
                double yv = (s->x[k] - mean) / sqrt(var + s->sh.eps);
                if (s->g) yv = yv * s->g[ch] + s->b[ch];
                loss += yv * s->r[k];
            }
    }
    return loss;
}

static void grad_bn(gh_rng *rng, int n, int c, int hw, int affine) {
    bn_shape sh = {.n = n, .c = c, .hw = hw, .eps = 1e-5f, .momentum = 0.1f};
    size_t nx = (size_t)n * c * hw;
    float *x = kt_rand(rng, nx, -2, 3), *g = kt_rand(rng, c, 0.5f, 1.5f), *b = kt_rand(rng, c, -1, 1);
    float *r = kt_rand(rng, nx, -1, 1), *y = kt_alloc(nx), *mean = kt_alloc(c), *invstd = kt_alloc(c);
    float *dx = kt_alloc(nx), *dg = kt_alloc(c), *db = kt_alloc(c);
    bn_st s = {sh, to_double(x, nx), affine ? to_double(g, c) : NULL, to_double(b, c), r};
    printf("bn n%d c%d hw%d%s\n", n, c, hw, affine ? " affine" : "");
    CHECK_OK(bn_fwd_train_ref(NULL, &sh, x, affine ? g : NULL, affine ? b : NULL, y, mean, invstd,
                              NULL, NULL));
    CHECK_OK(bn_bwd_ref(NULL, &sh, x, affine ? g : NULL, mean, invstd, r, dx, dg, db));
    fd_check("  dx", s.x, nx, dx, bn_loss, &s);
    if (affine) {
        fd_check("  dgamma", s.g, c, dg, bn_loss, &s);
        fd_check("  dbeta", s.b, c, db, bn_loss, &s);
    }
    free(x); free(g); free(b); free(r); free(y); free(mean); free(invstd); free(dx); free(dg);
    free(db); free(s.x); free(s.g); free(s.b);
}

// ---- pooling -------------------------------------------------------------------------------

typedef struct {
    pool_shape sh;
    int is_max;
    double *x;
    const float *r;
} pool_st;

static double pool_loss(const void *p) {
    const pool_st *s = p;
    const pool_shape *sh = &s->sh;
    double loss = 0.0;
    for (int pl = 0; pl < sh->n * sh->c; pl++)
        for (int i = 0; i < sh->p; i++)
            for (int j = 0; j < sh->q; j++) {
                double best = -INFINITY, sum = 0.0;
                int cnt = 0;
                for (int a = 0; a < sh->kh; a++)
                    for (int b = 0; b < sh->kw; b++) {
                        int ii = i * sh->stride - sh->pad + a, jj = j * sh->stride - sh->pad + b;
                        if (ii < 0 || ii >= sh->h || jj < 0 || jj >= sh->w) continue;
                        double v = s->x[((size_t)pl * sh->h + ii) * sh->w + jj];
                        best = v > best ? v : best;
                        sum += v;
                        cnt++;
                    }
                loss += (s->is_max ? best : sum / cnt) * s->r[((size_t)pl * sh->p + i) * sh->q + j];
            }
    return loss;
}

static void grad_pool(gh_rng *rng, int n, int c, int h, int w, int kh, int kw, int stride, int pad) {
    pool_shape sh = {.n = n, .c = c, .h = h, .w = w, .kh = kh, .kw = kw, .stride = stride, .pad = pad};
    CHECK_OK(pool_shape_init(&sh));
    size_t nx = (size_t)n * c * h * w, ny = (size_t)n * c * sh.p * sh.q;
    // distinct values 0.01 apart in random order: no tie within 1000 h of another
    float *x = kt_alloc(nx);
    int *perm = (int *)malloc(sizeof(int) * nx);
    for (size_t i = 0; i < nx; i++) perm[i] = (int)i;
    gh_rng_shuffle(rng, perm, nx);
    for (size_t i = 0; i < nx; i++) x[i] = 0.01f * (float)perm[i] - 1.0f;
    float *r = kt_rand(rng, ny, -1, 1), *dx = kt_alloc(nx);
    pool_st s = {sh, 1, to_double(x, nx), r};
    printf("pool %dx%d s%d p%d on %dx%d\n", kh, kw, stride, pad, h, w);
    CHECK_OK(maxpool_bwd_ref(NULL, &sh, x, r, dx));
    fd_check("  maxpool dx", s.x, nx, dx, pool_loss, &s);
    s.is_max = 0;
    memset(dx, 0, nx * sizeof(float));
    CHECK_OK(avgpool_bwd_ref(NULL, &sh, r, dx));
    fd_check("  avgpool dx", s.x, nx, dx, pool_loss, &s);
    free(x); free(perm); free(r); free(dx); free(s.x);
}

typedef struct {
    int n, c, hw;
    double *x;
    const float *r;
} gap_st;

static double gap_loss(const void *p) {
    const gap_st *s = p;
    double loss = 0.0;
    for (int pl = 0; pl < s->n * s->c; pl++) {
        double sum = 0.0;
        for (int e = 0; e < s->hw; e++) sum += s->x[(size_t)pl * s->hw + e];
        loss += sum / s->hw * s->r[pl];
    }
    return loss;
}

static void grad_gap(gh_rng *rng) {
    int n = 3, c = 4, hw = 10;
    size_t nx = (size_t)n * c * hw;
    float *x = kt_rand(rng, nx, -1, 1), *r = kt_rand(rng, n * c, -1, 1), *dx = kt_alloc(nx);
    gap_st s = {n, c, hw, to_double(x, nx), r};
    CHECK_OK(gap_bwd_ref(NULL, n, c, hw, r, dx));
    fd_check("gap dx", s.x, nx, dx, gap_loss, &s);
    free(x); free(r); free(dx); free(s.x);
}

// ---- ReLU, add, linear -----------------------------------------------------------------------

typedef struct {
    size_t n;
    double *a, *b;   // relu uses a only
    const float *r;
} ew_st;

static double relu_loss(const void *p) {
    const ew_st *s = p;
    double loss = 0.0;
    for (size_t i = 0; i < s->n; i++) loss += (s->a[i] > 0 ? s->a[i] : 0.0) * s->r[i];
    return loss;
}

static double add_loss(const void *p) {
    const ew_st *s = p;
    double loss = 0.0;
    for (size_t i = 0; i < s->n; i++) loss += (s->a[i] + s->b[i]) * s->r[i];
    return loss;
}

static void grad_elementwise(gh_rng *rng) {
    size_t n = 200;
    float *a = kt_rand(rng, n, -1, 1), *b = kt_rand(rng, n, -1, 1), *r = kt_rand(rng, n, -1, 1);
    for (size_t i = 0; i < n; i++)   // keep ReLU inputs 1e-3 (= 100 h) away from the kink
        if (fabsf(a[i]) < 1e-3f) a[i] = 0.5f;
    float *da = kt_alloc(n), *db = kt_alloc(n);
    ew_st s = {n, to_double(a, n), to_double(b, n), r};
    CHECK_OK(relu_bwd_ref(NULL, n, a, r, da));
    fd_check("relu dx", s.a, n, da, relu_loss, &s);
    memset(da, 0, n * sizeof(float));
    CHECK_OK(add_bwd_ref(NULL, n, r, da, db));
    fd_check("add da", s.a, n, da, add_loss, &s);
    fd_check("add db", s.b, n, db, add_loss, &s);
    free(a); free(b); free(r); free(da); free(db); free(s.a); free(s.b);
}

typedef struct {
    int n, in, out;
    double *x, *w, *b;
    const float *r;
} lin_st;

static double linear_loss(const void *p) {
    const lin_st *s = p;
    double loss = 0.0;
    for (int i = 0; i < s->n; i++)
        for (int o = 0; o < s->out; o++) {
            double acc = s->b[o];
            for (int k = 0; k < s->in; k++) acc += s->x[i * s->in + k] * s->w[o * s->in + k];
            loss += acc * s->r[i * s->out + o];
        }
    return loss;
}

static void grad_linear(gh_rng *rng) {
    int n = 4, in = 7, out = 5;
    float *x = kt_rand(rng, n * in, -1, 1), *w = kt_rand(rng, out * in, -1, 1);
    float *b = kt_rand(rng, out, -1, 1), *r = kt_rand(rng, n * out, -1, 1);
    float *dx = kt_alloc(n * in), *dw = kt_alloc(out * in), *db = kt_alloc(out);
    lin_st s = {n, in, out, to_double(x, n * in), to_double(w, out * in), to_double(b, out), r};
    CHECK_OK(linear_bwd_ref(NULL, n, in, out, x, w, r, dx, dw, db));
    fd_check("linear dx", s.x, n * in, dx, linear_loss, &s);
    fd_check("linear dw", s.w, out * in, dw, linear_loss, &s);
    fd_check("linear db", s.b, out, db, linear_loss, &s);
    free(x); free(w); free(b); free(r); free(dx); free(dw); free(db); free(s.x); free(s.w); free(s.b);
}

// ---- weighted sum: gradients for the inputs and for the (architecture) weights -------------

typedef struct {
    int k;
    size_t n;
    double *xs[GH_WSUM_MAX];
    double *wts;
    const float *r;
} wsum_st;

static double wsum_loss(const void *p) {
    const wsum_st *s = p;
    double loss = 0.0;
    for (size_t e = 0; e < s->n; e++) {
        double y = 0.0;
        for (int i = 0; i < s->k; i++)
            if (s->xs[i]) y += s->wts[i] * s->xs[i][e];
        loss += y * s->r[e];
    }
    return loss;
}

static void grad_wsum(gh_rng *rng) {
    int k = 4;
    size_t n = 150;
    float *xs[GH_WSUM_MAX] = {0}, *dxs[GH_WSUM_MAX] = {0};
    wsum_st s = {.k = k, .n = n};
    float *wts = kt_rand(rng, k, -1, 1), *r = kt_rand(rng, n, -1, 1), *dw = kt_alloc(k);
    for (int i = 0; i < k; i++) {
        if (i == 2) continue;   // "none"
        xs[i] = kt_rand(rng, n, -1, 1);
        dxs[i] = kt_alloc(n);
        s.xs[i] = to_double(xs[i], n);
    }
    s.wts = to_double(wts, k);
    s.r = r;
    CHECK_OK(wsum_bwd_ref(NULL, k, n, (const float *const *)xs, wts, r, dxs, dw));
    fd_check("wsum dweights", s.wts, k, dw, wsum_loss, &s);
    fd_check("wsum dx0", s.xs[0], n, dxs[0], wsum_loss, &s);
    fd_check("wsum dx3", s.xs[3], n, dxs[3], wsum_loss, &s);
    for (int i = 0; i < k; i++) {
        free(xs[i]); free(dxs[i]); free(s.xs[i]);
    }
    free(wts); free(r); free(dw); free(s.wts);
}

// ---- data movement: concat, slice, shift ---------------------------------------------------

typedef struct {
    int n, hw, cs[2];
    int c, c0, cn;                         // slice
    int h, w, dh, dw, ho, wo;              // shift
    double *x0, *x1;
    const float *r;
    int which;                             // 0 concat, 1 slice, 2 shift
} move_st;

static double move_loss(const void *p) {
    const move_st *s = p;
    double loss = 0.0;
    if (s->which == 0) {
        int ct = s->cs[0] + s->cs[1];
        for (int i = 0; i < s->n; i++)
            for (int c = 0; c < ct; c++)
                for (int e = 0; e < s->hw; e++) {
                    double v = c < s->cs[0] ? s->x0[((size_t)i * s->cs[0] + c) * s->hw + e]
                                            : s->x1[((size_t)i * s->cs[1] + c - s->cs[0]) * s->hw + e];
                    loss += v * s->r[((size_t)i * ct + c) * s->hw + e];
                }
    } else if (s->which == 1) {
        for (int i = 0; i < s->n; i++)
            for (int c = 0; c < s->cn; c++)
                for (int e = 0; e < s->hw; e++)
                    loss += s->x0[((size_t)i * s->c + s->c0 + c) * s->hw + e] *
                            s->r[((size_t)i * s->cn + c) * s->hw + e];
    } else {
        for (int pl = 0; pl < s->n * s->c; pl++)
            for (int i = 0; i < s->ho; i++)
                for (int j = 0; j < s->wo; j++) {
                    int si = i + s->dh, sj = j + s->dw;
                    if (si < 0 || si >= s->h || sj < 0 || sj >= s->w) continue;
                    loss += s->x0[((size_t)pl * s->h + si) * s->w + sj] *
                            s->r[((size_t)pl * s->ho + i) * s->wo + j];
                }
    }
    return loss;
}

static void grad_move(gh_rng *rng) {
    move_st s = {.n = 2, .hw = 6, .cs = {3, 2}};
    size_t n0 = 2 * 3 * 6, n1 = 2 * 2 * 6;
    float *x0 = kt_rand(rng, n0, -1, 1), *x1 = kt_rand(rng, n1, -1, 1);
    float *r = kt_rand(rng, 2 * 5 * 6, -1, 1), *d0 = kt_alloc(n0), *d1 = kt_alloc(n1);
    float *dxs[2] = {d0, d1};
    s.x0 = to_double(x0, n0);
    s.x1 = to_double(x1, n1);
    s.r = r;
    CHECK_OK(concat_bwd_ref(NULL, 2, 6, 2, s.cs, r, dxs));
    fd_check("concat dx0", s.x0, n0, d0, move_loss, &s);
    fd_check("concat dx1", s.x1, n1, d1, move_loss, &s);
    s.which = 1;
    s.c = 3;
    s.c0 = 1;
    s.cn = 2;
    memset(d0, 0, n0 * sizeof(float));
    CHECK_OK(slice_bwd_ref(NULL, 2, 3, 6, 1, 2, r, d0));
    fd_check("slice dx", s.x0, n0, d0, move_loss, &s);
    // shift of [2, 3, 2, 3] planes by (1, -1) into 2x3
    s.which = 2;
    s.h = 2; s.w = 3; s.dh = 1; s.dw = -1; s.ho = 2; s.wo = 3;
    memset(d0, 0, n0 * sizeof(float));
    CHECK_OK(shift_bwd_ref(NULL, 2, 3, 2, 3, 1, -1, 2, 3, r, d0));
    fd_check("shift dx", s.x0, n0, d0, move_loss, &s);
    free(x0); free(x1); free(r); free(d0); free(d1); free(s.x0); free(s.x1);
}

// ---- dropout and drop-path (fixed seed: the mask is a function of (seed, index)) ------------

typedef struct {
    size_t n;
    int samples;
    float p;
    uint64_t seed;
    double *x;
    const float *r;
} drop_st;

static double drop_loss(const void *pp) {
    const drop_st *s = pp;
    double loss = 0.0, scale = 1.0 / (1.0 - (double)s->p);
    size_t per = s->samples ? s->n / s->samples : 1;
    for (size_t i = 0; i < s->n; i++) {
        uint64_t key = s->samples ? i / per : i;
        if (gh_uniform(s->seed, key) >= s->p) loss += s->x[i] * scale * s->r[i];
    }
    return loss;
}

static void grad_dropout(gh_rng *rng) {
    size_t n = 120;
    float *x = kt_rand(rng, n, -1, 1), *r = kt_rand(rng, n, -1, 1), *dx = kt_alloc(n);
    // the mask seed of op 3 in a step whose seed is 77
    const uint64_t step = 77, op = 3;
    drop_st s = {n, 0, 0.4f, gh_hash64(step, op), to_double(x, n), r};
    CHECK_OK(dropout_bwd_ref(NULL, n, 0.4f, &step, op, r, dx));
    fd_check("dropout dx", s.x, n, dx, drop_loss, &s);
    s.samples = 8;
    memset(dx, 0, n * sizeof(float));
    CHECK_OK(droppath_bwd_ref(NULL, 8, n / 8, 0.4f, &step, op, r, dx));
    fd_check("droppath dx", s.x, n, dx, drop_loss, &s);
    free(x); free(r); free(dx); free(s.x);
}

// ---- softmax and cross-entropy with label smoothing ----------------------------------------

typedef struct {
    int rows, cols;
    double *x;
    const float *r;
    const int *labels;
    float smoothing, scale;
} sm_st;

static double softmax_loss(const void *p) {
    const sm_st *s = p;
    double loss = 0.0;
    for (int i = 0; i < s->rows; i++) {
        const double *x = s->x + (size_t)i * s->cols;
        double mx = x[0], sum = 0.0;
        for (int j = 1; j < s->cols; j++) mx = x[j] > mx ? x[j] : mx;
        for (int j = 0; j < s->cols; j++) sum += exp(x[j] - mx);
        for (int j = 0; j < s->cols; j++) loss += exp(x[j] - mx) / sum * s->r[i * s->cols + j];
    }
    return loss;
}

// scale * sum_i CrossEntropyLoss(label_smoothing)_i, written from torch's definition
static double xent_loss(const void *p) {
    const sm_st *s = p;
    double loss = 0.0;
    for (int i = 0; i < s->rows; i++) {
        const double *x = s->x + (size_t)i * s->cols;
        double mx = x[0], sum = 0.0;
        for (int j = 1; j < s->cols; j++) mx = x[j] > mx ? x[j] : mx;
        for (int j = 0; j < s->cols; j++) sum += exp(x[j] - mx);
        for (int j = 0; j < s->cols; j++) {
            double logp = x[j] - mx - log(sum);
            double t = (j == s->labels[i] ? 1.0 - s->smoothing : 0.0) + s->smoothing / s->cols;
            loss -= t * logp;
        }
    }
    return s->scale * loss;
}

static void grad_softmax_xent(gh_rng *rng, float smoothing) {
    int rows = 5, cols = 7;
    size_t n = (size_t)rows * cols;
    float *x = kt_rand(rng, n, -3, 3), *r = kt_rand(rng, n, -1, 1), *y = kt_alloc(n);
    float *dx = kt_alloc(n), *losses = kt_alloc(rows);
    int labels[5];
    for (int i = 0; i < rows; i++) labels[i] = (int)gh_rng_below(rng, cols);
    sm_st s = {rows, cols, to_double(x, n), r, labels, smoothing, 0.7f};
    CHECK_OK(softmax_fwd_ref(NULL, rows, cols, x, y));
    CHECK_OK(softmax_bwd_ref(NULL, rows, cols, y, r, dx));
    fd_check("softmax dx", s.x, n, dx, softmax_loss, &s);
    CHECK_OK(xent_fwd_ref(NULL, rows, cols, x, labels, smoothing, y, losses));
    double lsum = 0.0;
    for (int i = 0; i < rows; i++) lsum += losses[i];
    double want = xent_loss(&s) / s.scale;
    CHECK_MSG(fabs(lsum - want) <= 1e-5 * fabs(want), "xent loss %.9g, double %.9g", lsum, want);
    memset(dx, 0, n * sizeof(float));
    // the kernel is the backward of the mean: d(scale * sum)/d(mean) = scale * rows
    const float dloss = s.scale * (float)rows;
    CHECK_OK(xent_bwd_ref(NULL, rows, cols, y, labels, smoothing, &dloss, dx));
    char what[64];
    snprintf(what, sizeof what, "xent dlogits smoothing %.2f", smoothing);
    fd_check(what, s.x, n, dx, xent_loss, &s);
    free(x); free(r); free(y); free(dx); free(losses); free(s.x);
}

// ---- controller ops: sigmoid, tanh, LSTM cell, embedding, log-prob and entropy ---------------

typedef struct {
    int n, is_tanh;
    double *x;
    const float *r;
} act_st;

static double act_loss(const void *p) {
    const act_st *s = p;
    double l = 0.0;
    for (int i = 0; i < s->n; i++)
        l += (s->is_tanh ? tanh(s->x[i]) : 1.0 / (1.0 + exp(-s->x[i]))) * s->r[i];
    return l;
}

static void grad_activations(gh_rng *rng) {
    int n = 37;
    float *x = kt_rand(rng, n, -4, 4), *r = kt_rand(rng, n, -1, 1), *y = kt_alloc(n);
    for (int t = 0; t < 2; t++) {
        float *dx = kt_alloc(n);
        act_st s = {n, t, to_double(x, n), r};
        CHECK_OK((t ? tanh_fwd_ref : sigmoid_fwd_ref)(NULL, n, x, y));
        CHECK_OK((t ? tanh_bwd_ref : sigmoid_bwd_ref)(NULL, n, y, r, dx));
        fd_check(t ? "tanh dx" : "sigmoid dx", s.x, n, dx, act_loss, &s);
        free(dx); free(s.x);
    }
    free(x); free(r); free(y);
}

// L = <rc, c> + <rh, h> of the LSTM cell, written from torch.nn.LSTMCell's equations
typedef struct {
    int batch, hidden;
    double *g, *cp;
    const float *rc, *rh;   // rc NULL: c is not part of the loss
} lstm_st;

static double sg(double v) { return 1.0 / (1.0 + exp(-v)); }

static double lstm_loss(const void *p) {
    const lstm_st *s = p;
    int H = s->hidden;
    double l = 0.0;
    for (int b = 0; b < s->batch; b++)
        for (int j = 0; j < H; j++) {
            const double *g = s->g + (size_t)b * 4 * H;
            double c = sg(g[H + j]) * s->cp[b * H + j] + sg(g[j]) * tanh(g[2 * H + j]);
            double h = sg(g[3 * H + j]) * tanh(c);
            l += (s->rc ? c * s->rc[b * H + j] : 0.0) + h * s->rh[b * H + j];
        }
    return l;
}

static void grad_lstm(gh_rng *rng, int batch, int hidden) {
    size_t nh = (size_t)batch * hidden, ng = 4 * nh;
    float *g = kt_rand(rng, ng, -2, 2), *cp = kt_rand(rng, nh, -1.5f, 1.5f);
    float *rc = kt_rand(rng, nh, -1, 1), *rh = kt_rand(rng, nh, -1, 1);
    float *c = kt_alloc(nh), *h = kt_alloc(nh), *cache = kt_alloc(GH_LSTM_CACHE * nh);
    lstm_st s = {batch, hidden, to_double(g, ng), to_double(cp, nh), rc, rh};
    CHECK_OK(lstm_cell_fwd_ref(NULL, batch, hidden, g, cp, c, h, cache));
    float *hd = kt_alloc(nh);
    for (int b = 0; b < batch; b++)
        for (int j = 0; j < hidden; j++) {
            const double *gg = s.g + (size_t)b * 4 * hidden;
            double cv = sg(gg[hidden + j]) * s.cp[b * hidden + j] + sg(gg[j]) * tanh(gg[2 * hidden + j]);
            hd[b * hidden + j] = (float)(sg(gg[3 * hidden + j]) * tanh(cv));
        }
    printf("lstm cell b%d h%d\n", batch, hidden);
    KT_CLOSE("  fwd h vs double", h, hd, nh, 4);
    for (int both = 1; both >= 0; both--) {
        float *dg = kt_alloc(ng), *dcp = kt_alloc(nh);
        s.rc = both ? rc : NULL;
        CHECK_OK(lstm_cell_bwd_ref(NULL, batch, hidden, cp, cache, s.rc, rh, dg, dcp));
        fd_check(both ? "  dgates (dc, dh)" : "  dgates (dh only)", s.g, ng, dg, lstm_loss, &s);
        fd_check(both ? "  dc_prev (dc, dh)" : "  dc_prev (dh only)", s.cp, nh, dcp, lstm_loss, &s);
        free(dg); free(dcp);
    }
    free(g); free(cp); free(rc); free(rh); free(c); free(h); free(cache); free(hd);
    free(s.g); free(s.cp);
}

typedef struct {
    int n, dim;
    const int *idx;
    double *table;
    const float *r;
} emb_st;

static double emb_loss(const void *p) {
    const emb_st *s = p;
    double l = 0.0;
    for (int i = 0; i < s->n; i++)
        for (int d = 0; d < s->dim; d++) l += s->table[s->idx[i] * s->dim + d] * s->r[i * s->dim + d];
    return l;
}

static void grad_embedding(gh_rng *rng) {
    int n = 6, vocab = 4, dim = 5, idx[6] = {2, 0, 2, 3, 2, 1};
    float *tab = kt_rand(rng, (size_t)vocab * dim, -1, 1), *r = kt_rand(rng, (size_t)n * dim, -1, 1);
    float *dt = kt_alloc((size_t)vocab * dim);
    emb_st s = {n, dim, idx, to_double(tab, (size_t)vocab * dim), r};
    CHECK_OK(embedding_bwd_ref(NULL, n, vocab, dim, idx, r, dt));
    fd_check("embedding dtable", s.table, (size_t)vocab * dim, dt, emb_loss, &s);
    free(tab); free(r); free(dt); free(s.table);
}

// L = sum_r a_r log p_r[idx_r] + b_r H_r
typedef struct {
    int rows, cols;
    double *x;
    const int *idx;
    const float *a, *b;
} lpe_st;

static double lpe_loss(const void *p) {
    const lpe_st *s = p;
    double l = 0.0;
    for (int i = 0; i < s->rows; i++) {
        const double *x = s->x + (size_t)i * s->cols;
        double mx = x[0], sum = 0.0, h = 0.0;
        for (int j = 1; j < s->cols; j++) mx = x[j] > mx ? x[j] : mx;
        for (int j = 0; j < s->cols; j++) sum += exp(x[j] - mx);
        double lse = mx + log(sum);
        for (int j = 0; j < s->cols; j++) h -= exp(x[j] - lse) * (x[j] - lse);
        l += (s->a ? s->a[i] * (x[s->idx[i]] - lse) : 0.0) + (s->b ? s->b[i] * h : 0.0);
    }
    return l;
}

static void grad_logprob_entropy(gh_rng *rng) {
    int rows = 4, cols = 6, idx[4] = {0, 5, 2, 2};
    size_t n = (size_t)rows * cols;
    float *x = kt_rand(rng, n, -2.5f, 2.5f), *a = kt_rand(rng, rows, -1, 1), *b = kt_rand(rng, rows, -1, 1);
    float *lp = kt_alloc(rows), *en = kt_alloc(rows);
    lpe_st s = {rows, cols, to_double(x, n), idx, a, b};
    CHECK_OK(logprob_entropy_fwd_ref(NULL, rows, cols, x, idx, lp, en));
    double want = lpe_loss(&s), got = 0.0;
    for (int i = 0; i < rows; i++) got += (double)a[i] * lp[i] + (double)b[i] * en[i];
    CHECK_MSG(fabs(got - want) <= 1e-5 * (fabs(want) + 1.0), "logprob/entropy fwd %.9g, double %.9g",
              got, want);
    for (int m = 3; m >= 1; m--) {
        float *dx = kt_alloc(n);
        s.a = m & 1 ? a : NULL;
        s.b = m & 2 ? b : NULL;
        CHECK_OK(logprob_entropy_bwd_ref(NULL, rows, cols, x, idx, s.a, s.b, dx));
        fd_check(m == 3 ? "logprob+entropy dx" : m == 1 ? "logprob dx" : "entropy dx", s.x, n, dx,
                 lpe_loss, &s);
        free(dx);
    }
    free(x); free(a); free(b); free(lp); free(en); free(s.x);
}

int main(void) {
    gh_rng rng;
    gh_rng_seed(&rng, 7, GH_STREAM_INIT);
    conv2d_shape cs[] = {
        {.n = 2, .c = 3, .h = 6, .w = 5, .k = 4, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1},
        {.n = 2, .c = 4, .h = 7, .w = 7, .k = 4, .r = 3, .s = 3, .pad_h = 2, .pad_w = 2,
         .dil_h = 2, .dil_w = 2, .groups = 4},
        {.n = 1, .c = 3, .h = 7, .w = 7, .k = 3, .r = 5, .s = 5, .stride_h = 2, .stride_w = 2,
         .pad_h = 2, .pad_w = 2, .groups = 3},
        {.n = 2, .c = 4, .h = 6, .w = 6, .k = 2, .r = 1, .s = 1, .stride_h = 2, .stride_w = 2},
        {.n = 1, .c = 2, .h = 5, .w = 8, .k = 3, .r = 1, .s = 7, .pad_w = 3},
        {.n = 1, .c = 4, .h = 5, .w = 5, .k = 6, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1, .groups = 2},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) grad_conv(&rng, cs[i], 0);
    grad_bn(&rng, 3, 2, 5, 1);
    grad_bn(&rng, 2, 3, 4, 0);
    grad_pool(&rng, 2, 2, 5, 5, 3, 3, 1, 1);
    grad_pool(&rng, 1, 2, 7, 6, 3, 3, 2, 1);
    grad_pool(&rng, 1, 1, 6, 6, 2, 2, 2, 0);
    grad_gap(&rng);
    grad_elementwise(&rng);
    grad_linear(&rng);
    grad_wsum(&rng);
    grad_move(&rng);
    grad_dropout(&rng);
    grad_softmax_xent(&rng, 0.0f);
    grad_softmax_xent(&rng, 0.1f);
    grad_activations(&rng);
    grad_lstm(&rng, 2, 5);
    grad_lstm(&rng, 1, 3);
    grad_embedding(&rng);
    grad_logprob_entropy(&rng);
    // the fused ReLU (after the others, so that their random inputs stay what they were)
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) grad_conv(&rng, cs[i], 1);
    return check_done("test_kernels_grad");
}
