// Reductions into backend memory for metrics and checks that a training step makes without a
// read to the host: the mean of per-row losses, running sums (acc_add, acc_hits) and the
// finiteness check. Tiny serial loops; _ref and _cpu share them (the bits are the contract:
// mean sums in index order in double, as the engine's host reduction did).
#include <math.h>

#include "cpu.h"

static int mean_host(const char *op, size_t n, const float *x, float *y) {
    if (n == 0) return gh_fail(GH_EINVAL, "%s: mean of 0 elements", op);
    GH_NEED(op, x);
    GH_NEED(op, y);
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += x[i];
    y[0] = (float)(s / (double)n);
    return GH_OK;
}

static int acc_add_host(const char *op, const float *x, double scale, double *acc) {
    GH_NEED(op, x);
    GH_NEED(op, acc);
    acc[0] += scale * (double)x[0];
    return GH_OK;
}

static int acc_hits_host(const char *op, int n, int k, const float *scores, const int *labels,
                         double *acc) {
    if (n <= 0 || k <= 0) return gh_fail(GH_EINVAL, "%s: n %d, classes %d must be positive", op, n, k);
    GH_NEED(op, scores);
    GH_NEED(op, labels);
    GH_NEED(op, acc);
    long hits = 0;
    for (int i = 0; i < n; i++) {
        const float *row = scores + (size_t)i * (size_t)k;
        int best = 0;  // first maximum, as torch.argmax
        for (int j = 1; j < k; j++)
            if (row[j] > row[best]) best = j;
        hits += best == labels[i];
    }
    acc[0] += (double)hits;
    return GH_OK;
}

static int check_finite_host(const char *op, const kctx *ctx, size_t n, const float *x,
                             unsigned bit) {
    if (n) GH_NEED(op, x);
    size_t i = 0;
    while (i < n && isfinite(x[i])) i++;
    if (i == n) return GH_OK;
    if (ctx && ctx->flags) {
        gh_cpu_flag(ctx, bit);
        return GH_OK;
    }
    return gh_fail(GH_ENAN, "%s: element %zu of %zu is %g", op, i, n, (double)x[i]);
}

int mean_ref(const kctx *ctx, size_t n, const float *x, float *y) {
    (void)ctx;
    return mean_host("mean_ref", n, x, y);
}
int mean_cpu(const kctx *ctx, size_t n, const float *x, float *y) {
    (void)ctx;
    return mean_host("mean_cpu", n, x, y);
}

int acc_add_ref(const kctx *ctx, const float *x, double scale, double *acc) {
    (void)ctx;
    return acc_add_host("acc_add_ref", x, scale, acc);
}
int acc_add_cpu(const kctx *ctx, const float *x, double scale, double *acc) {
    (void)ctx;
    return acc_add_host("acc_add_cpu", x, scale, acc);
}

int acc_hits_ref(const kctx *ctx, int n, int k, const float *scores, const int *labels,
                 double *acc) {
    (void)ctx;
    return acc_hits_host("acc_hits_ref", n, k, scores, labels, acc);
}
int acc_hits_cpu(const kctx *ctx, int n, int k, const float *scores, const int *labels,
                 double *acc) {
    (void)ctx;
    return acc_hits_host("acc_hits_cpu", n, k, scores, labels, acc);
}

int check_finite_ref(const kctx *ctx, size_t n, const float *x, unsigned bit) {
    return check_finite_host("check_finite_ref", ctx, n, x, bit);
}
int check_finite_cpu(const kctx *ctx, size_t n, const float *x, unsigned bit) {
    return check_finite_host("check_finite_cpu", ctx, n, x, bit);
}
