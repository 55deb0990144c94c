// Batch normalisation over (n, hw) per channel on the host: training forward (batch statistics,
// running statistics as PyTorch updates them), eval forward and the training-mode backward
// (Ioffe & Szegedy 2015, eq. in sec. 3, with the batch statistics differentiated through).
#include <math.h>

#include "cpu.h"

static int bn_check(const char *op, const bn_shape *sh, int training) {
    if (!sh) return gh_fail(GH_EINVAL, "%s: shape is NULL", op);
    if (sh->n <= 0 || sh->c <= 0 || sh->hw <= 0)
        return gh_fail(GH_EINVAL, "%s: n %d, c %d, hw %d must all be positive", op, sh->n, sh->c,
                       sh->hw);
    if (!(sh->eps >= 0.0f) || !isfinite(sh->eps))
        return gh_fail(GH_EINVAL, "%s: eps %g must be finite and >= 0", op, sh->eps);
    if (!(sh->momentum >= 0.0f && sh->momentum <= 1.0f))
        return gh_fail(GH_EINVAL, "%s: momentum %g must be in [0, 1]", op, sh->momentum);
    // PyTorch: "Expected more than 1 value per channel when training"
    if (training && (size_t)sh->n * sh->hw < 2)
        return gh_fail(GH_EINVAL, "%s: one value per channel (n %d, hw %d): no batch variance",
                       op, sh->n, sh->hw);
    return GH_OK;
}

// ---- reference ---------------------------------------------------------------------------

// Channel c's batch statistics, shared by the reference and the fast training forward: the
// saved mean and inverse std for backward, and the running estimates updated with the
// unbiased variance ss/(m-1), as torch.nn.BatchNorm2d does.
static void bn_store_stats(const bn_shape *sh, int c, double mean, double invstd, double ss,
                           double m, float *save_mean, float *save_invstd, float *run_mean,
                           float *run_var) {
    if (save_mean) save_mean[c] = (float)mean;
    if (save_invstd) save_invstd[c] = (float)invstd;
    if (run_mean) run_mean[c] = (float)((1.0 - sh->momentum) * run_mean[c] + sh->momentum * mean);
    if (run_var)
        run_var[c] = (float)((1.0 - sh->momentum) * run_var[c] + sh->momentum * ss / (m - 1.0));
}

int bn_fwd_train_ref(const kctx *ctx, const bn_shape *sh, const float *x, const float *gamma,
                     const float *beta, float *y, float *save_mean, float *save_invstd,
                     float *run_mean, float *run_var) {
    (void)ctx;
    int st = bn_check("bn_fwd_train_ref", sh, 1);
    if (st) return st;
    GH_NEED("bn_fwd_train_ref", x);
    GH_NEED("bn_fwd_train_ref", y);
    double m = (double)sh->n * sh->hw;
    for (int c = 0; c < sh->c; c++) {
        double sum = 0.0;
        for (int n = 0; n < sh->n; n++)
            for (int e = 0; e < sh->hw; e++) sum += x[((size_t)n * sh->c + c) * sh->hw + e];
        double mean = sum / m, ss = 0.0;
        for (int n = 0; n < sh->n; n++)
            for (int e = 0; e < sh->hw; e++) {
                double d = x[((size_t)n * sh->c + c) * sh->hw + e] - mean;
                ss += d * d;
            }
        double var = ss / m;                       // biased: normalises
        double invstd = 1.0 / sqrt(var + sh->eps);
        double g = gamma ? gamma[c] : 1.0, b = beta ? beta[c] : 0.0;
        for (int n = 0; n < sh->n; n++)
            for (int e = 0; e < sh->hw; e++) {
                size_t i = ((size_t)n * sh->c + c) * sh->hw + e;
                y[i] = (float)((x[i] - mean) * invstd * g + b);
            }
        bn_store_stats(sh, c, mean, invstd, ss, m, save_mean, save_invstd, run_mean, run_var);
    }
    return GH_OK;
}

int bn_fwd_eval_ref(const kctx *ctx, const bn_shape *sh, const float *x, const float *gamma,
                    const float *beta, const float *run_mean, const float *run_var, float *y) {
    (void)ctx;
    int st = bn_check("bn_fwd_eval_ref", sh, 0);
    if (st) return st;
    GH_NEED("bn_fwd_eval_ref", x);
    GH_NEED("bn_fwd_eval_ref", run_mean);
    GH_NEED("bn_fwd_eval_ref", run_var);
    GH_NEED("bn_fwd_eval_ref", y);
    for (int n = 0; n < sh->n; n++)
        for (int c = 0; c < sh->c; c++) {
            double invstd = 1.0 / sqrt((double)run_var[c] + sh->eps);
            double g = gamma ? gamma[c] : 1.0, b = beta ? beta[c] : 0.0;
            for (int e = 0; e < sh->hw; e++) {
                size_t i = ((size_t)n * sh->c + c) * sh->hw + e;
                y[i] = (float)((x[i] - (double)run_mean[c]) * invstd * g + b);
            }
        }
    return GH_OK;
}

// With xhat = (x - mean) invstd and M = n hw:
// dx = gamma invstd (dy - mean(dy) - xhat mean(dy xhat)), dgamma = sum dy xhat, dbeta = sum dy.
int bn_bwd_ref(const kctx *ctx, const bn_shape *sh, const float *x, const float *gamma,
               const float *save_mean, const float *save_invstd, const float *dy, float *dx,
               float *dgamma, float *dbeta) {
    (void)ctx;
    int st = bn_check("bn_bwd_ref", sh, 1);
    if (st) return st;
    GH_NEED("bn_bwd_ref", x);
    GH_NEED("bn_bwd_ref", save_mean);
    GH_NEED("bn_bwd_ref", save_invstd);
    GH_NEED("bn_bwd_ref", dy);
    double m = (double)sh->n * sh->hw;
    for (int c = 0; c < sh->c; c++) {
        double mean = save_mean[c], invstd = save_invstd[c], g = gamma ? gamma[c] : 1.0;
        double sdy = 0.0, sdyx = 0.0;
        for (int n = 0; n < sh->n; n++)
            for (int e = 0; e < sh->hw; e++) {
                size_t i = ((size_t)n * sh->c + c) * sh->hw + e;
                sdy += dy[i];
                sdyx += dy[i] * (x[i] - mean) * invstd;
            }
        if (dx)
            for (int n = 0; n < sh->n; n++)
                for (int e = 0; e < sh->hw; e++) {
                    size_t i = ((size_t)n * sh->c + c) * sh->hw + e;
                    double xhat = (x[i] - mean) * invstd;
                    dx[i] += (float)(g * invstd * (dy[i] - sdy / m - xhat * sdyx / m));
                }
        if (dgamma) dgamma[c] += (float)sdyx;
        if (dbeta) dbeta[c] += (float)sdy;
    }
    return GH_OK;
}

// ---- fast: one channel per OpenMP iteration, rows of hw contiguous floats -------------------

// sum and sum of squares of channel c in double (the squares of floats are exact in double,
// so E[x^2] - mean^2 loses only what the cancellation itself costs at 53 bits).
GH_CPU_CLONES
static void bn_moments(const bn_shape *sh, int c, const float *x, double *sum, double *sumsq) {
    double s = 0.0, s2 = 0.0;
    for (int n = 0; n < sh->n; n++) {
        const float *restrict r = x + ((size_t)n * sh->c + c) * sh->hw;
#pragma omp simd reduction(+ : s, s2)
        for (int e = 0; e < sh->hw; e++) {
            double v = r[e];
            s += v;
            s2 += v * v;
        }
    }
    *sum = s;
    *sumsq = s2;
}

// y = (x - mean) a + b over channel c; subtracting first keeps the digits a large mean would
// cancel in x a + (b - mean a).
GH_CPU_CLONES
static void bn_affine(const bn_shape *sh, int c, const float *x, float mean, float a, float b,
                      float *y) {
    for (int n = 0; n < sh->n; n++) {
        size_t off = ((size_t)n * sh->c + c) * sh->hw;
        const float *restrict r = x + off;
        float *restrict o = y + off;
#pragma omp simd
        for (int e = 0; e < sh->hw; e++) o[e] = (r[e] - mean) * a + b;
    }
}

int bn_fwd_train_cpu(const kctx *ctx, const bn_shape *sh, const float *x, const float *gamma,
                     const float *beta, float *y, float *save_mean, float *save_invstd,
                     float *run_mean, float *run_var) {
    (void)ctx;
    int st = bn_check("bn_fwd_train_cpu", sh, 1);
    if (st) return st;
    GH_NEED("bn_fwd_train_cpu", x);
    GH_NEED("bn_fwd_train_cpu", y);
    double m = (double)sh->n * sh->hw;
#pragma omp parallel for schedule(static) if ((size_t)sh->n * sh->c * sh->hw >= GH_CPU_PAR_MIN)
    for (int c = 0; c < sh->c; c++) {
        double sum, sumsq;
        bn_moments(sh, c, x, &sum, &sumsq);
        double mean = sum / m;
        double ss = sumsq - sum * mean;   // sum of squared deviations
        if (ss < 0.0) ss = 0.0;
        double invstd = 1.0 / sqrt(ss / m + sh->eps);
        double g = gamma ? gamma[c] : 1.0, b = beta ? beta[c] : 0.0;
        bn_affine(sh, c, x, (float)mean, (float)(invstd * g), (float)b, y);
        bn_store_stats(sh, c, mean, invstd, ss, m, save_mean, save_invstd, run_mean, run_var);
    }
    return GH_OK;
}

int bn_fwd_eval_cpu(const kctx *ctx, const bn_shape *sh, const float *x, const float *gamma,
                    const float *beta, const float *run_mean, const float *run_var, float *y) {
    (void)ctx;
    int st = bn_check("bn_fwd_eval_cpu", sh, 0);
    if (st) return st;
    GH_NEED("bn_fwd_eval_cpu", x);
    GH_NEED("bn_fwd_eval_cpu", run_mean);
    GH_NEED("bn_fwd_eval_cpu", run_var);
    GH_NEED("bn_fwd_eval_cpu", y);
#pragma omp parallel for schedule(static) if ((size_t)sh->n * sh->c * sh->hw >= GH_CPU_PAR_MIN)
    for (int c = 0; c < sh->c; c++) {
        double invstd = 1.0 / sqrt((double)run_var[c] + sh->eps);
        double g = gamma ? gamma[c] : 1.0, b = beta ? beta[c] : 0.0;
        bn_affine(sh, c, x, run_mean[c], (float)(invstd * g), (float)b, y);
    }
    return GH_OK;
}

// sum dy and sum dy x over channel c, in double
GH_CPU_CLONES
static void bn_bwd_sums(const bn_shape *sh, int c, const float *x, const float *dy, double *sdy,
                        double *sdyx) {
    double s = 0.0, sx = 0.0;
    for (int n = 0; n < sh->n; n++) {
        size_t off = ((size_t)n * sh->c + c) * sh->hw;
        const float *restrict xr = x + off;
        const float *restrict dr = dy + off;
#pragma omp simd reduction(+ : s, sx)
        for (int e = 0; e < sh->hw; e++) {
            s += dr[e];
            sx += (double)dr[e] * xr[e];
        }
    }
    *sdy = s;
    *sdyx = sx;
}

// dx += a dy + b (x - mean) + k over channel c
GH_CPU_CLONES
static void bn_bwd_dx(const bn_shape *sh, int c, const float *x, const float *dy, float mean,
                      float a, float b, float k, float *dx) {
    for (int n = 0; n < sh->n; n++) {
        size_t off = ((size_t)n * sh->c + c) * sh->hw;
        const float *restrict xr = x + off;
        const float *restrict dr = dy + off;
        float *restrict o = dx + off;
#pragma omp simd
        for (int e = 0; e < sh->hw; e++) o[e] += a * dr[e] + b * (xr[e] - mean) + k;
    }
}

int bn_bwd_cpu(const kctx *ctx, const bn_shape *sh, const float *x, const float *gamma,
               const float *save_mean, const float *save_invstd, const float *dy, float *dx,
               float *dgamma, float *dbeta) {
    (void)ctx;
    int st = bn_check("bn_bwd_cpu", sh, 1);
    if (st) return st;
    GH_NEED("bn_bwd_cpu", x);
    GH_NEED("bn_bwd_cpu", save_mean);
    GH_NEED("bn_bwd_cpu", save_invstd);
    GH_NEED("bn_bwd_cpu", dy);
    double m = (double)sh->n * sh->hw;
#pragma omp parallel for schedule(static) if ((size_t)sh->n * sh->c * sh->hw >= GH_CPU_PAR_MIN)
    for (int c = 0; c < sh->c; c++) {
        double mean = save_mean[c], invstd = save_invstd[c], g = gamma ? gamma[c] : 1.0;
        double sdy, sdyx_raw;
        bn_bwd_sums(sh, c, x, dy, &sdy, &sdyx_raw);
        double sdyxhat = (sdyx_raw - mean * sdy) * invstd;   // sum dy xhat
        if (dx) {
            // g invstd (dy - sdy/m - (x - mean) invstd sdyxhat/m) = a dy + b (x - mean) + k
            double a = g * invstd;
            double b = -a * invstd * sdyxhat / m;
            double k = -a * sdy / m;
            bn_bwd_dx(sh, c, x, dy, save_mean[c], (float)a, (float)b, (float)k, dx);
        }
        if (dgamma) dgamma[c] += (float)sdyxhat;
        if (dbeta) dbeta[c] += (float)sdy;
    }
    return GH_OK;
}

// The host kernels keep their per-channel sums on the stack: no workspace.
int bn_ws_ref(const kctx *ctx, const bn_shape *sh, size_t *floats) {
    (void)ctx;
    (void)sh;
    GH_NEED("bn_ws_ref", floats);
    *floats = 0;
    return GH_OK;
}

int bn_ws_cpu(const kctx *ctx, const bn_shape *sh, size_t *floats) {
    return bn_ws_ref(ctx, sh, floats);
}
