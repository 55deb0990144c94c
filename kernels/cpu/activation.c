// Sigmoid and tanh on the host (the LSTM controller's gates and ENAS's tanh-constant logits).
// Both backward passes read the forward output, so nothing else is kept. _ref works in double;
// _cpu is the float loop, vectorised and split over OpenMP threads once n is large.
#include <math.h>

#include "cpu.h"

// ---- reference ----------------------------------------------------------------------------

int sigmoid_fwd_ref(const kctx *ctx, size_t n, const float *x, float *y) {
    (void)ctx;
    if (n == 0) return GH_OK;
    GH_NEED("sigmoid_fwd_ref", x);
    GH_NEED("sigmoid_fwd_ref", y);
    for (size_t i = 0; i < n; i++) y[i] = (float)(1.0 / (1.0 + exp(-(double)x[i])));
    return GH_OK;
}

int sigmoid_bwd_ref(const kctx *ctx, size_t n, const float *y, const float *dy, float *dx) {
    (void)ctx;
    if (n == 0 || !dx) return GH_OK;
    GH_NEED("sigmoid_bwd_ref", y);
    GH_NEED("sigmoid_bwd_ref", dy);
    for (size_t i = 0; i < n; i++) dx[i] += (float)((double)dy[i] * y[i] * (1.0 - y[i]));
    return GH_OK;
}

int tanh_fwd_ref(const kctx *ctx, size_t n, const float *x, float *y) {
    (void)ctx;
    if (n == 0) return GH_OK;
    GH_NEED("tanh_fwd_ref", x);
    GH_NEED("tanh_fwd_ref", y);
    for (size_t i = 0; i < n; i++) y[i] = (float)tanh((double)x[i]);
    return GH_OK;
}

int tanh_bwd_ref(const kctx *ctx, size_t n, const float *y, const float *dy, float *dx) {
    (void)ctx;
    if (n == 0 || !dx) return GH_OK;
    GH_NEED("tanh_bwd_ref", y);
    GH_NEED("tanh_bwd_ref", dy);
    for (size_t i = 0; i < n; i++) dx[i] += (float)((double)dy[i] * (1.0 - (double)y[i] * y[i]));
    return GH_OK;
}

// ---- fast ----------------------------------------------------------------------------------

GH_CPU_CLONES
static void sigmoid_loop(size_t n, const float *restrict x, float *restrict y) {
#pragma omp parallel for simd schedule(static) if (n >= GH_CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
}

GH_CPU_CLONES
static void sigmoid_bwd_loop(size_t n, const float *restrict y, const float *restrict dy,
                             float *restrict dx) {
#pragma omp parallel for simd schedule(static) if (n >= GH_CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * y[i] * (1.0f - y[i]);
}

GH_CPU_CLONES
static void tanh_loop(size_t n, const float *restrict x, float *restrict y) {
#pragma omp parallel for simd schedule(static) if (n >= GH_CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
}

GH_CPU_CLONES
static void tanh_bwd_loop(size_t n, const float *restrict y, const float *restrict dy,
                          float *restrict dx) {
#pragma omp parallel for simd schedule(static) if (n >= GH_CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * (1.0f - y[i] * y[i]);
}

int sigmoid_fwd_cpu(const kctx *ctx, size_t n, const float *x, float *y) {
    (void)ctx;
    if (n == 0) return GH_OK;
    GH_NEED("sigmoid_fwd_cpu", x);
    GH_NEED("sigmoid_fwd_cpu", y);
    sigmoid_loop(n, x, y);
    return GH_OK;
}

int sigmoid_bwd_cpu(const kctx *ctx, size_t n, const float *y, const float *dy, float *dx) {
    (void)ctx;
    if (n == 0 || !dx) return GH_OK;
    GH_NEED("sigmoid_bwd_cpu", y);
    GH_NEED("sigmoid_bwd_cpu", dy);
    sigmoid_bwd_loop(n, y, dy, dx);
    return GH_OK;
}

int tanh_fwd_cpu(const kctx *ctx, size_t n, const float *x, float *y) {
    (void)ctx;
    if (n == 0) return GH_OK;
    GH_NEED("tanh_fwd_cpu", x);
    GH_NEED("tanh_fwd_cpu", y);
    tanh_loop(n, x, y);
    return GH_OK;
}

int tanh_bwd_cpu(const kctx *ctx, size_t n, const float *y, const float *dy, float *dx) {
    (void)ctx;
    if (n == 0 || !dx) return GH_OK;
    GH_NEED("tanh_bwd_cpu", y);
    GH_NEED("tanh_bwd_cpu", dy);
    tanh_bwd_loop(n, y, dy, dx);
    return GH_OK;
}
