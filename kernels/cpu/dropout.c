// Dropout (Srivastava et al. 2014, inverted: kept values scaled by 1/(1-p)) and drop-path
// (whole samples, as DARTS's drop_path) on the host. The mask is gh_uniform(mask seed, index), a
// pure function, so backward redraws it and the CUDA twin draws the same one; the mask seed is
// gh_hash64(*seed, op), the step's seed (read here, at the call) and the op's index in the step.
#include <string.h>

#include "cpu.h"

static int drop_check(const char *op, float p, const uint64_t *seed) {
    if (!(p >= 0.0f && p <= 1.0f)) return gh_fail(GH_EINVAL, "%s: p %g must be in [0, 1]", op, p);
    GH_NEED(op, seed);
    return GH_OK;
}

// The op's mask seed: one definition for the ref and cpu kernels (the CUDA twin computes the
// same gh_hash64 on the device).
static uint64_t mask_seed(const uint64_t *seed, uint64_t op) { return gh_hash64(*seed, op); }

// p = 1 keeps nothing (gh_uniform < 1): the scale is then never used, keep it finite.
static float drop_scale(float p) { return p < 1.0f ? 1.0f / (1.0f - p) : 0.0f; }

int dropout_fwd_ref(const kctx *ctx, size_t n, float p, const uint64_t *seed, uint64_t op,
                    const float *x, float *y) {
    (void)ctx;
    int st = drop_check("dropout_fwd_ref", p, seed);
    if (st) return st;
    if (n == 0) return GH_OK;
    GH_NEED("dropout_fwd_ref", x);
    GH_NEED("dropout_fwd_ref", y);
    float scale = drop_scale(p);
    uint64_t ms = mask_seed(seed, op);
    for (size_t i = 0; i < n; i++) y[i] = gh_uniform(ms, i) >= p ? x[i] * scale : 0.0f;
    return GH_OK;
}

int dropout_bwd_ref(const kctx *ctx, size_t n, float p, const uint64_t *seed, uint64_t op,
                    const float *dy, float *dx) {
    (void)ctx;
    int st = drop_check("dropout_bwd_ref", p, seed);
    if (st) return st;
    if (n == 0 || !dx) return GH_OK;
    GH_NEED("dropout_bwd_ref", dy);
    float scale = drop_scale(p);
    uint64_t ms = mask_seed(seed, op);
    for (size_t i = 0; i < n; i++)
        if (gh_uniform(ms, i) >= p) dx[i] += dy[i] * scale;
    return GH_OK;
}

int droppath_fwd_ref(const kctx *ctx, int n, size_t per, float p, const uint64_t *seed,
                     uint64_t op, const float *x, float *y) {
    (void)ctx;
    int st = drop_check("droppath_fwd_ref", p, seed);
    if (st) return st;
    if (n < 0) return gh_fail(GH_EINVAL, "droppath_fwd_ref: n %d must be >= 0", n);
    if (n == 0 || per == 0) return GH_OK;
    GH_NEED("droppath_fwd_ref", x);
    GH_NEED("droppath_fwd_ref", y);
    float scale = drop_scale(p);
    uint64_t ms = mask_seed(seed, op);
    for (int s = 0; s < n; s++) {
        int keep = gh_uniform(ms, (uint64_t)s) >= p;
        for (size_t e = 0; e < per; e++)
            y[(size_t)s * per + e] = keep ? x[(size_t)s * per + e] * scale : 0.0f;
    }
    return GH_OK;
}

int droppath_bwd_ref(const kctx *ctx, int n, size_t per, float p, const uint64_t *seed,
                     uint64_t op, const float *dy, float *dx) {
    (void)ctx;
    int st = drop_check("droppath_bwd_ref", p, seed);
    if (st) return st;
    if (n < 0) return gh_fail(GH_EINVAL, "droppath_bwd_ref: n %d must be >= 0", n);
    if (n == 0 || per == 0 || !dx) return GH_OK;
    GH_NEED("droppath_bwd_ref", dy);
    float scale = drop_scale(p);
    uint64_t ms = mask_seed(seed, op);
    for (int s = 0; s < n; s++)
        if (gh_uniform(ms, (uint64_t)s) >= p)
            for (size_t e = 0; e < per; e++)
                dx[(size_t)s * per + e] += dy[(size_t)s * per + e] * scale;
    return GH_OK;
}

// ---- fast: the hash is vectorisable integer arithmetic; blocks over OpenMP ------------------

GH_CPU_CLONES
static void dropout_loop(size_t n, float p, uint64_t ms, float scale, const float *restrict x,
                         float *restrict y, int accumulate) {
#pragma omp parallel for simd schedule(static) if (n >= GH_CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float v = gh_uniform(ms, i) >= p ? x[i] * scale : 0.0f;
        y[i] = accumulate ? y[i] + v : v;
    }
}

int dropout_fwd_cpu(const kctx *ctx, size_t n, float p, const uint64_t *seed, uint64_t op,
                    const float *x, float *y) {
    (void)ctx;
    int st = drop_check("dropout_fwd_cpu", p, seed);
    if (st) return st;
    if (n == 0) return GH_OK;
    GH_NEED("dropout_fwd_cpu", x);
    GH_NEED("dropout_fwd_cpu", y);
    dropout_loop(n, p, mask_seed(seed, op), drop_scale(p), x, y, 0);
    return GH_OK;
}

int dropout_bwd_cpu(const kctx *ctx, size_t n, float p, const uint64_t *seed, uint64_t op,
                    const float *dy, float *dx) {
    (void)ctx;
    int st = drop_check("dropout_bwd_cpu", p, seed);
    if (st) return st;
    if (n == 0 || !dx) return GH_OK;
    GH_NEED("dropout_bwd_cpu", dy);
    dropout_loop(n, p, mask_seed(seed, op), drop_scale(p), dy, dx, 1);
    return GH_OK;
}

GH_CPU_CLONES
static void scaled_copy(size_t len, float a, const float *restrict x, float *restrict y,
                        int accumulate) {
    if (accumulate) {
#pragma omp simd
        for (size_t e = 0; e < len; e++) y[e] += x[e] * a;
    } else {
#pragma omp simd
        for (size_t e = 0; e < len; e++) y[e] = x[e] * a;
    }
}

int droppath_fwd_cpu(const kctx *ctx, int n, size_t per, float p, const uint64_t *seed,
                     uint64_t op, const float *x, float *y) {
    (void)ctx;
    int st = drop_check("droppath_fwd_cpu", p, seed);
    if (st) return st;
    if (n < 0) return gh_fail(GH_EINVAL, "droppath_fwd_cpu: n %d must be >= 0", n);
    if (n == 0 || per == 0) return GH_OK;
    GH_NEED("droppath_fwd_cpu", x);
    GH_NEED("droppath_fwd_cpu", y);
    float scale = drop_scale(p);
    uint64_t ms = mask_seed(seed, op);
#pragma omp parallel for schedule(static) if ((size_t)n * per >= GH_CPU_PAR_MIN)
    for (int s = 0; s < n; s++) {
        if (gh_uniform(ms, (uint64_t)s) >= p)
            scaled_copy(per, scale, x + (size_t)s * per, y + (size_t)s * per, 0);
        else   // an exact 0, not x * 0 (which is NaN for an infinite x)
            memset(y + (size_t)s * per, 0, sizeof(float) * per);
    }
    return GH_OK;
}

int droppath_bwd_cpu(const kctx *ctx, int n, size_t per, float p, const uint64_t *seed,
                     uint64_t op, const float *dy, float *dx) {
    (void)ctx;
    int st = drop_check("droppath_bwd_cpu", p, seed);
    if (st) return st;
    if (n < 0) return gh_fail(GH_EINVAL, "droppath_bwd_cpu: n %d must be >= 0", n);
    if (n == 0 || per == 0 || !dx) return GH_OK;
    GH_NEED("droppath_bwd_cpu", dy);
    float scale = drop_scale(p);
    uint64_t ms = mask_seed(seed, op);
#pragma omp parallel for schedule(static) if ((size_t)n * per >= GH_CPU_PAR_MIN)
    for (int s = 0; s < n; s++)
        if (gh_uniform(ms, (uint64_t)s) >= p)
            scaled_copy(per, scale, dy + (size_t)s * per, dx + (size_t)s * per, 1);
    return GH_OK;
}
