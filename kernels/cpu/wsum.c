// Weighted sum of k tensors on the host (the DARTS mixed operation, Liu et al. 2019 eq. 2):
// y = sum_i w_i x_i; backward dx_i += w_i dy and dw_i += <dy, x_i>. NULL inputs are "none".
#include "cpu.h"

#define WSUM_BLOCK 4096   // floats of y kept in L1/L2 while the k inputs stream past

static int wsum_check(const char *op, int k, const void *xs, const float *wts) {
    if (k < 1 || k > GH_WSUM_MAX)
        return gh_fail(GH_EINVAL, "%s: k %d must be in [1, %d]", op, k, GH_WSUM_MAX);
    if (!xs) return gh_fail(GH_EINVAL, "%s: the array of %d inputs is NULL", op, k);
    if (!wts) return gh_fail(GH_EINVAL, "%s: weights are NULL", op);
    return GH_OK;
}

int wsum_fwd_ref(const kctx *ctx, int k, size_t n, const float *const *xs, const float *wts,
                 float *y) {
    (void)ctx;
    int st = wsum_check("wsum_fwd_ref", k, xs, wts);
    if (st) return st;
    if (n == 0) return GH_OK;
    GH_NEED("wsum_fwd_ref", y);
    for (size_t e = 0; e < n; e++) {
        double acc = 0.0;
        for (int i = 0; i < k; i++)
            if (xs[i]) acc += (double)wts[i] * xs[i][e];
        y[e] = (float)acc;
    }
    return GH_OK;
}

int wsum_bwd_ref(const kctx *ctx, int k, size_t n, const float *const *xs, const float *wts,
                 const float *dy, float *const *dxs, float *dwts) {
    (void)ctx;
    int st = wsum_check("wsum_bwd_ref", k, dxs ? (const void *)dxs : (const void *)xs, wts);
    if (st) return st;
    if (n == 0) return GH_OK;
    GH_NEED("wsum_bwd_ref", dy);
    if (dwts) GH_NEED("wsum_bwd_ref", xs);
    for (int i = 0; i < k; i++) {
        if (dxs && dxs[i])
            for (size_t e = 0; e < n; e++) dxs[i][e] += wts[i] * dy[e];
        if (dwts && xs[i]) {
            double acc = 0.0;
            for (size_t e = 0; e < n; e++) acc += (double)dy[e] * xs[i][e];
            dwts[i] += (float)acc;
        }
    }
    return GH_OK;
}

GH_CPU_CLONES
static void wsum_block(int k, size_t lo, size_t hi, const float *const *xs, const float *wts,
                       float *restrict y) {
    int first = 1;
    for (int i = 0; i < k; i++) {
        if (!xs[i]) continue;
        const float *restrict x = xs[i];
        const float wi = wts[i];
        if (first) {
#pragma omp simd
            for (size_t e = lo; e < hi; e++) y[e] = wi * x[e];
        } else {
#pragma omp simd
            for (size_t e = lo; e < hi; e++) y[e] += wi * x[e];
        }
        first = 0;
    }
    if (first)
        for (size_t e = lo; e < hi; e++) y[e] = 0.0f;
}

int wsum_fwd_cpu(const kctx *ctx, int k, size_t n, const float *const *xs, const float *wts,
                 float *y) {
    (void)ctx;
    int st = wsum_check("wsum_fwd_cpu", k, xs, wts);
    if (st) return st;
    if (n == 0) return GH_OK;
    GH_NEED("wsum_fwd_cpu", y);
    size_t blocks = (n + WSUM_BLOCK - 1) / WSUM_BLOCK;
#pragma omp parallel for schedule(static) if (n >= GH_CPU_PAR_MIN)
    for (size_t bl = 0; bl < blocks; bl++) {
        size_t lo = bl * WSUM_BLOCK, hi = lo + WSUM_BLOCK < n ? lo + WSUM_BLOCK : n;
        wsum_block(k, lo, hi, xs, wts, y);
    }
    return GH_OK;
}

GH_CPU_CLONES
static void wsum_bwd_block(int k, size_t lo, size_t hi, const float *wts, const float *restrict dy,
                           float *const *dxs) {
    for (int i = 0; i < k; i++) {
        if (!dxs[i]) continue;
        float *restrict d = dxs[i];
        const float wi = wts[i];
#pragma omp simd
        for (size_t e = lo; e < hi; e++) d[e] += wi * dy[e];
    }
}

// One pass over dy: the input gradients and the weight gradients' dot products (on
// gh_cpu_dot_fixed's blocks, so the sums do not depend on the thread count).
int wsum_bwd_cpu(const kctx *ctx, int k, size_t n, const float *const *xs, const float *wts,
                 const float *dy, float *const *dxs, float *dwts) {
    (void)ctx;
    int st = wsum_check("wsum_bwd_cpu", k, dxs ? (const void *)dxs : (const void *)xs, wts);
    if (st) return st;
    if (n == 0) return GH_OK;
    GH_NEED("wsum_bwd_cpu", dy);
    if (dwts) GH_NEED("wsum_bwd_cpu", xs);
    double part[GH_WSUM_MAX][GH_CPU_DOT_BLOCKS];
    size_t len, nb = gh_cpu_dot_blocks(n, &len);
#pragma omp parallel for schedule(static) if (n >= GH_CPU_PAR_MIN)
    for (size_t bl = 0; bl < nb; bl++) {
        size_t lo = bl * len, hi = lo + len < n ? lo + len : n;
        if (lo >= hi) hi = lo;
        for (size_t b0 = lo; b0 < hi; b0 += WSUM_BLOCK) {   // dy stays in L1 across the k inputs
            size_t b1 = b0 + WSUM_BLOCK < hi ? b0 + WSUM_BLOCK : hi;
            if (dxs) wsum_bwd_block(k, b0, b1, wts, dy, dxs);
        }
        if (dwts)
            for (int i = 0; i < k; i++)
                part[i][bl] = xs[i] && hi > lo ? gh_cpu_dot_chunk(hi - lo, dy + lo, xs[i] + lo) : 0.0;
    }
    if (dwts)
        for (int i = 0; i < k; i++) {
            if (!xs[i]) continue;
            double total = 0.0;
            for (size_t bl = 0; bl < nb; bl++) total += part[i][bl];
            dwts[i] += (float)total;
        }
    return GH_OK;
}

// The host kernels reduce the weight gradients on the stack: no workspace.
int wsum_bwd_ws_ref(const kctx *ctx, int k, size_t n, size_t *floats) {
    (void)ctx;
    (void)k;
    (void)n;
    GH_NEED("wsum_bwd_ws_ref", floats);
    *floats = 0;
    return GH_OK;
}

int wsum_bwd_ws_cpu(const kctx *ctx, int k, size_t n, size_t *floats) {
    return wsum_bwd_ws_ref(ctx, k, n, floats);
}
