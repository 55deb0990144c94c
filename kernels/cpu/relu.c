// ReLU on the host, forward and backward. PyTorch's convention at 0: the gradient is 0
// (dx += dy only where x > 0), and NaN inputs propagate in the forward pass.
#include "cpu.h"

int relu_fwd_ref(const kctx *ctx, size_t n, const float *x, float *y) {
    (void)ctx;
    if (n == 0) return GH_OK;
    GH_NEED("relu_fwd_ref", x);
    GH_NEED("relu_fwd_ref", y);
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : (x[i] != x[i] ? x[i] : 0.0f);
    return GH_OK;
}

int relu_bwd_ref(const kctx *ctx, size_t n, const float *x, const float *dy, float *dx) {
    (void)ctx;
    if (n == 0 || !dx) return GH_OK;
    GH_NEED("relu_bwd_ref", x);
    GH_NEED("relu_bwd_ref", dy);
    for (size_t i = 0; i < n; i++)
        if (x[i] > 0.0f) dx[i] += dy[i];
    return GH_OK;
}

GH_CPU_CLONES
static void relu_fwd_loop(size_t n, const float *restrict x, float *restrict y) {
#pragma omp parallel for simd schedule(static) if (n >= GH_CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = (v > 0.0f || v != v) ? v : 0.0f;
    }
}

GH_CPU_CLONES
static void relu_bwd_loop(size_t n, const float *restrict x, const float *restrict dy,
                          float *restrict dx) {
#pragma omp parallel for simd schedule(static) if (n >= GH_CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) dx[i] += x[i] > 0.0f ? dy[i] : 0.0f;
}

int relu_fwd_cpu(const kctx *ctx, size_t n, const float *x, float *y) {
    (void)ctx;
    if (n == 0) return GH_OK;
    GH_NEED("relu_fwd_cpu", x);
    GH_NEED("relu_fwd_cpu", y);
    relu_fwd_loop(n, x, y);
    return GH_OK;
}

int relu_bwd_cpu(const kctx *ctx, size_t n, const float *x, const float *dy, float *dx) {
    (void)ctx;
    if (n == 0 || !dx) return GH_OK;
    GH_NEED("relu_bwd_cpu", x);
    GH_NEED("relu_bwd_cpu", dy);
    relu_bwd_loop(n, x, dy, dx);
    return GH_OK;
}
