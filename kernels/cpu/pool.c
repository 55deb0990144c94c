// Max, average and global-average pooling on the host, forward and backward, with PyTorch's
// rules (geometry in kernels/geometry.c): max pooling never picks padding
// and takes the first maximum in row-major window order (NaN wins, as in torch), average
// pooling divides by the in-bounds count (count_include_pad=False).
#include <math.h>
#include <string.h>

#include "cpu.h"

// (Stride 1 on planes that fit a stack buffer goes to pool_flat.c.)

// In-bounds part [lo, hi) of the window that starts at s (may be negative) and spans k in [0, n).
static inline void clamp_window(int s, int k, int n, int *lo, int *hi) {
    *lo = s < 0 ? 0 : s;
    *hi = s + k < n ? s + k : n;
}

// ---- reference ---------------------------------------------------------------------------

// Index (within the plane) of the first maximum of the window of output (i, j).
static size_t max_argmax(const pool_shape *sh, const float *xp, int i, int j) {
    int r0, r1, c0, c1;
    clamp_window(i * sh->stride - sh->pad, sh->kh, sh->h, &r0, &r1);
    clamp_window(j * sh->stride - sh->pad, sh->kw, sh->w, &c0, &c1);
    size_t best = (size_t)r0 * sh->w + c0;
    for (int a = r0; a < r1; a++)
        for (int b = c0; b < c1; b++) {
            float v = xp[(size_t)a * sh->w + b];
            if (v > xp[best] || isnan(v)) best = (size_t)a * sh->w + b;
        }
    return best;
}

int maxpool_fwd_ref(const kctx *ctx, const pool_shape *shape, const float *x, float *y) {
    (void)ctx;
    pool_shape sh;
    int st = pool_shape_check("maxpool_fwd_ref", shape, &sh);
    if (st) return st;
    GH_NEED("maxpool_fwd_ref", x);
    GH_NEED("maxpool_fwd_ref", y);
    for (size_t pl = 0; pl < (size_t)sh.n * sh.c; pl++) {
        const float *xp = x + pl * sh.h * sh.w;
        for (int i = 0; i < sh.p; i++)
            for (int j = 0; j < sh.q; j++)
                y[(pl * sh.p + i) * sh.q + j] = xp[max_argmax(&sh, xp, i, j)];
    }
    return GH_OK;
}

int maxpool_bwd_ref(const kctx *ctx, const pool_shape *shape, const float *x, const float *dy,
                    float *dx) {
    (void)ctx;
    pool_shape sh;
    int st = pool_shape_check("maxpool_bwd_ref", shape, &sh);
    if (st) return st;
    if (!dx) return GH_OK;
    GH_NEED("maxpool_bwd_ref", x);
    GH_NEED("maxpool_bwd_ref", dy);
    for (size_t pl = 0; pl < (size_t)sh.n * sh.c; pl++) {
        const float *xp = x + pl * sh.h * sh.w;
        for (int i = 0; i < sh.p; i++)
            for (int j = 0; j < sh.q; j++)
                dx[pl * sh.h * sh.w + max_argmax(&sh, xp, i, j)] += dy[(pl * sh.p + i) * sh.q + j];
    }
    return GH_OK;
}

// The forward that also saves each window's argmax (in-plane index) and the backward that
// scatters dy through it: the same values as maxpool_fwd/_bwd, the backward adding in output
// order as they do, without recomputing windows or reading x.
int maxpool_fwd_idx_ref(const kctx *ctx, const pool_shape *shape, const float *x, float *y,
                        int *idx) {
    (void)ctx;
    pool_shape sh;
    int st = pool_shape_check("maxpool_fwd_idx_ref", shape, &sh);
    if (st) return st;
    GH_NEED("maxpool_fwd_idx_ref", x);
    GH_NEED("maxpool_fwd_idx_ref", y);
    GH_NEED("maxpool_fwd_idx_ref", idx);
    for (size_t pl = 0; pl < (size_t)sh.n * sh.c; pl++) {
        const float *xp = x + pl * sh.h * sh.w;
        for (int i = 0; i < sh.p; i++)
            for (int j = 0; j < sh.q; j++) {
                size_t a = max_argmax(&sh, xp, i, j), o = (pl * sh.p + i) * sh.q + j;
                y[o] = xp[a];
                idx[o] = (int)a;
            }
    }
    return GH_OK;
}

// Shared by _ref and _cpu (a scatter in output order: nothing to gain from threads but the
// planes, which the caller splits).
static void maxpool_idx_scatter(const pool_shape *sh, size_t pl, const int *idx, const float *dy,
                                float *dx) {
    const size_t pq = (size_t)sh->p * sh->q;
    const int *ip = idx + pl * pq;
    const float *dyp = dy + pl * pq;
    float *dxp = dx + pl * sh->h * sh->w;
    for (size_t o = 0; o < pq; o++) dxp[ip[o]] += dyp[o];
}

static int maxpool_bwd_idx_check(const char *op, const pool_shape *shape, pool_shape *sh,
                                 const int *idx, const float *dy) {
    int st = pool_shape_check(op, shape, sh);
    if (st) return st;
    GH_NEED(op, idx);
    GH_NEED(op, dy);
    return GH_OK;
}

int maxpool_bwd_idx_ref(const kctx *ctx, const pool_shape *shape, const int *idx, const float *dy,
                        float *dx) {
    (void)ctx;
    pool_shape sh;
    if (!dx) return pool_shape_check("maxpool_bwd_idx_ref", shape, &sh);
    int st = maxpool_bwd_idx_check("maxpool_bwd_idx_ref", shape, &sh, idx, dy);
    if (st) return st;
    for (size_t pl = 0; pl < (size_t)sh.n * sh.c; pl++) maxpool_idx_scatter(&sh, pl, idx, dy, dx);
    return GH_OK;
}

int avgpool_fwd_ref(const kctx *ctx, const pool_shape *shape, const float *x, float *y) {
    (void)ctx;
    pool_shape sh;
    int st = pool_shape_check("avgpool_fwd_ref", shape, &sh);
    if (st) return st;
    GH_NEED("avgpool_fwd_ref", x);
    GH_NEED("avgpool_fwd_ref", y);
    for (size_t pl = 0; pl < (size_t)sh.n * sh.c; pl++)
        for (int i = 0; i < sh.p; i++)
            for (int j = 0; j < sh.q; j++) {
                int r0, r1, c0, c1;
                clamp_window(i * sh.stride - sh.pad, sh.kh, sh.h, &r0, &r1);
                clamp_window(j * sh.stride - sh.pad, sh.kw, sh.w, &c0, &c1);
                double sum = 0.0;
                for (int a = r0; a < r1; a++)
                    for (int b = c0; b < c1; b++) sum += x[(pl * sh.h + a) * sh.w + b];
                y[(pl * sh.p + i) * sh.q + j] = (float)(sum / ((r1 - r0) * (c1 - c0)));
            }
    return GH_OK;
}

int avgpool_bwd_ref(const kctx *ctx, const pool_shape *shape, const float *dy, float *dx) {
    (void)ctx;
    pool_shape sh;
    int st = pool_shape_check("avgpool_bwd_ref", shape, &sh);
    if (st) return st;
    if (!dx) return GH_OK;
    GH_NEED("avgpool_bwd_ref", dy);
    for (size_t pl = 0; pl < (size_t)sh.n * sh.c; pl++)
        for (int i = 0; i < sh.p; i++)
            for (int j = 0; j < sh.q; j++) {
                int r0, r1, c0, c1;
                clamp_window(i * sh.stride - sh.pad, sh.kh, sh.h, &r0, &r1);
                clamp_window(j * sh.stride - sh.pad, sh.kw, sh.w, &c0, &c1);
                float g = dy[(pl * sh.p + i) * sh.q + j] / (float)((r1 - r0) * (c1 - c0));
                for (int a = r0; a < r1; a++)
                    for (int b = c0; b < c1; b++) dx[(pl * sh.h + a) * sh.w + b] += g;
            }
    return GH_OK;
}

int gap_fwd_ref(const kctx *ctx, int n, int c, int hw, const float *x, float *y) {
    (void)ctx;
    if (n <= 0 || c <= 0 || hw <= 0)
        return gh_fail(GH_EINVAL, "gap_fwd_ref: n %d, c %d, hw %d must be positive", n, c, hw);
    GH_NEED("gap_fwd_ref", x);
    GH_NEED("gap_fwd_ref", y);
    for (size_t pl = 0; pl < (size_t)n * c; pl++) {
        double sum = 0.0;
        for (int e = 0; e < hw; e++) sum += x[pl * hw + e];
        y[pl] = (float)(sum / hw);
    }
    return GH_OK;
}

int gap_bwd_ref(const kctx *ctx, int n, int c, int hw, const float *dy, float *dx) {
    (void)ctx;
    if (n <= 0 || c <= 0 || hw <= 0)
        return gh_fail(GH_EINVAL, "gap_bwd_ref: n %d, c %d, hw %d must be positive", n, c, hw);
    if (!dx) return GH_OK;
    GH_NEED("gap_bwd_ref", dy);
    for (size_t pl = 0; pl < (size_t)n * c; pl++)
        for (int e = 0; e < hw; e++) dx[pl * hw + e] += dy[pl] / (float)hw;
    return GH_OK;
}

// ---- fast: one plane per OpenMP iteration, output rows in chunks of POOL_CHUNK columns ---------

#define POOL_CHUNK 256

// Output columns [jlo, jhi) of the chunk [j0, j1) whose window tap b falls inside the row.
static inline void tap_range(const pool_shape *sh, int b, int j0, int j1, int *jlo, int *jhi) {
    int off = b - sh->pad;   // input column of output column 0
    int lo = off >= 0 ? 0 : (-off + sh->stride - 1) / sh->stride;
    int hi = sh->w - 1 - off < 0 ? 0 : (sh->w - 1 - off) / sh->stride + 1;
    *jlo = lo > j0 ? lo : j0;
    *jhi = hi < j1 ? hi : j1;
    if (*jlo > *jhi) *jlo = *jhi;
}

// For the outputs (i, j0..j1) of one plane: the first maximum of each window, scanning taps in
// row-major order with the same strict > (or NaN) rule as the reference.
GH_CPU_CLONES
static void max_row_argmax(const pool_shape *sh, const float *xp, int i, int j0, int j1,
                           float *best, int *idx) {
    for (int j = j0; j < j1; j++) {
        best[j - j0] = -INFINITY;
        idx[j - j0] = -1;
    }
    int r0, r1;
    clamp_window(i * sh->stride - sh->pad, sh->kh, sh->h, &r0, &r1);
    for (int a = r0; a < r1; a++)
        for (int b = 0; b < sh->kw; b++) {
            int jlo, jhi;
            tap_range(sh, b, j0, j1, &jlo, &jhi);
            const int base = a * sh->w + (b - sh->pad);   // may be < 0; base + j stride is not
            float *restrict bt = best + (jlo - j0);
            int *restrict it = idx + (jlo - j0);
            if (sh->stride == 1) {   // contiguous: plain vector loads, no gathers
                const float *restrict src = xp + (base + jlo);
                const int first = base + jlo;
#pragma omp simd
                for (int t = 0; t < jhi - jlo; t++) {
                    float v = src[t];
                    int take = it[t] < 0 || v > bt[t] || v != v;
                    bt[t] = take ? v : bt[t];
                    it[t] = take ? first + t : it[t];
                }
            } else if (sh->stride == 2) {
                // a reduction cell's pools: the constant stride lets the compiler vectorize
                // the loads (even lanes of two vectors) instead of one column at a time; the
                // same comparisons per output, so the same result
                const float *restrict src = xp + (base + 2 * jlo);
                const int first = base + 2 * jlo;
#pragma omp simd
                for (int t = 0; t < jhi - jlo; t++) {
                    float v = src[2 * t];
                    int take = it[t] < 0 || v > bt[t] || v != v;
                    bt[t] = take ? v : bt[t];
                    it[t] = take ? first + 2 * t : it[t];
                }
            } else
                for (int j = jlo; j < jhi; j++) {
                    float v = xp[base + j * sh->stride];
                    int take = it[j - jlo] < 0 || v > bt[j - jlo] || v != v;
                    bt[j - jlo] = take ? v : bt[j - jlo];
                    it[j - jlo] = take ? base + j * sh->stride : it[j - jlo];
                }
        }
}

int maxpool_fwd_cpu(const kctx *ctx, const pool_shape *shape, const float *x, float *y) {
    (void)ctx;
    pool_shape sh;
    int st = pool_shape_check("maxpool_fwd_cpu", shape, &sh);
    if (st) return st;
    GH_NEED("maxpool_fwd_cpu", x);
    GH_NEED("maxpool_fwd_cpu", y);
    if (pool_flat_ok(&sh)) {
        maxpool_flat_fwd(&sh, x, y);
        return GH_OK;
    }
    int planes = sh.n * sh.c;
#pragma omp parallel for schedule(static) if ((size_t)planes * sh.h * sh.w >= GH_CPU_PAR_MIN)
    for (int pl = 0; pl < planes; pl++) {
        float best[POOL_CHUNK];
        int idx[POOL_CHUNK];
        const float *xp = x + (size_t)pl * sh.h * sh.w;
        for (int i = 0; i < sh.p; i++)
            for (int j0 = 0; j0 < sh.q; j0 += POOL_CHUNK) {
                int j1 = j0 + POOL_CHUNK < sh.q ? j0 + POOL_CHUNK : sh.q;
                max_row_argmax(&sh, xp, i, j0, j1, best, idx);
                memcpy(y + ((size_t)pl * sh.p + i) * sh.q + j0, best, sizeof(float) * (j1 - j0));
            }
    }
    return GH_OK;
}

int maxpool_bwd_cpu(const kctx *ctx, const pool_shape *shape, const float *x, const float *dy,
                    float *dx) {
    (void)ctx;
    pool_shape sh;
    int st = pool_shape_check("maxpool_bwd_cpu", shape, &sh);
    if (st) return st;
    if (!dx) return GH_OK;
    GH_NEED("maxpool_bwd_cpu", x);
    GH_NEED("maxpool_bwd_cpu", dy);
    if (pool_flat_ok(&sh)) {
        maxpool_flat_bwd(&sh, x, dy, dx);
        return GH_OK;
    }
    int planes = sh.n * sh.c;
#pragma omp parallel for schedule(static) if ((size_t)planes * sh.h * sh.w >= GH_CPU_PAR_MIN)
    for (int pl = 0; pl < planes; pl++) {
        float best[POOL_CHUNK];
        int idx[POOL_CHUNK];
        const float *xp = x + (size_t)pl * sh.h * sh.w;
        float *dxp = dx + (size_t)pl * sh.h * sh.w;
        for (int i = 0; i < sh.p; i++)
            for (int j0 = 0; j0 < sh.q; j0 += POOL_CHUNK) {
                int j1 = j0 + POOL_CHUNK < sh.q ? j0 + POOL_CHUNK : sh.q;
                const float *dyr = dy + ((size_t)pl * sh.p + i) * sh.q;
                max_row_argmax(&sh, xp, i, j0, j1, best, idx);
                for (int j = j0; j < j1; j++) dxp[idx[j - j0]] += dyr[j];
            }
    }
    return GH_OK;
}

int maxpool_fwd_idx_cpu(const kctx *ctx, const pool_shape *shape, const float *x, float *y,
                        int *idx) {
    (void)ctx;
    pool_shape sh;
    int st = pool_shape_check("maxpool_fwd_idx_cpu", shape, &sh);
    if (st) return st;
    GH_NEED("maxpool_fwd_idx_cpu", x);
    GH_NEED("maxpool_fwd_idx_cpu", y);
    GH_NEED("maxpool_fwd_idx_cpu", idx);
    if (pool_flat_ok(&sh)) {
        maxpool_flat_fwd_idx(&sh, x, y, idx);
        return GH_OK;
    }
    int planes = sh.n * sh.c;
#pragma omp parallel for schedule(static) if ((size_t)planes * sh.h * sh.w >= GH_CPU_PAR_MIN)
    for (int pl = 0; pl < planes; pl++) {
        float best[POOL_CHUNK];
        const float *xp = x + (size_t)pl * sh.h * sh.w;
        for (int i = 0; i < sh.p; i++)
            for (int j0 = 0; j0 < sh.q; j0 += POOL_CHUNK) {
                int j1 = j0 + POOL_CHUNK < sh.q ? j0 + POOL_CHUNK : sh.q;
                size_t o = ((size_t)pl * sh.p + i) * sh.q + j0;
                max_row_argmax(&sh, xp, i, j0, j1, best, idx + o);
                memcpy(y + o, best, sizeof(float) * (j1 - j0));
            }
    }
    return GH_OK;
}

int maxpool_bwd_idx_cpu(const kctx *ctx, const pool_shape *shape, const int *idx, const float *dy,
                        float *dx) {
    (void)ctx;
    pool_shape sh;
    if (!dx) return pool_shape_check("maxpool_bwd_idx_cpu", shape, &sh);
    int st = maxpool_bwd_idx_check("maxpool_bwd_idx_cpu", shape, &sh, idx, dy);
    if (st) return st;
    int planes = sh.n * sh.c;
#pragma omp parallel for schedule(static) if ((size_t)planes * sh.h * sh.w >= GH_CPU_PAR_MIN)
    for (int pl = 0; pl < planes; pl++) maxpool_idx_scatter(&sh, (size_t)pl, idx, dy, dx);
    return GH_OK;
}

// Window sums of the outputs (i, j0..j1), taps in row-major order.
GH_CPU_CLONES
static void avg_row_sum(const pool_shape *sh, const float *xp, int i, int j0, int j1, float *sum) {
    for (int j = j0; j < j1; j++) sum[j - j0] = 0.0f;
    int r0, r1;
    clamp_window(i * sh->stride - sh->pad, sh->kh, sh->h, &r0, &r1);
    for (int a = r0; a < r1; a++)
        for (int b = 0; b < sh->kw; b++) {
            int jlo, jhi;
            tap_range(sh, b, j0, j1, &jlo, &jhi);
            const int base = a * sh->w + (b - sh->pad);
            float *restrict st = sum + (jlo - j0);
            if (sh->stride == 1) {
                const float *restrict src = xp + (base + jlo);
#pragma omp simd
                for (int t = 0; t < jhi - jlo; t++) st[t] += src[t];
            } else
                for (int j = jlo; j < jhi; j++) st[j - jlo] += xp[base + j * sh->stride];
        }
}

// In-bounds count of the window of output (i, j).
static inline int avg_count(const pool_shape *sh, int i, int j) {
    int r0, r1, c0, c1;
    clamp_window(i * sh->stride - sh->pad, sh->kh, sh->h, &r0, &r1);
    clamp_window(j * sh->stride - sh->pad, sh->kw, sh->w, &c0, &c1);
    return (r1 - r0) * (c1 - c0);
}

int avgpool_fwd_cpu(const kctx *ctx, const pool_shape *shape, const float *x, float *y) {
    (void)ctx;
    pool_shape sh;
    int st = pool_shape_check("avgpool_fwd_cpu", shape, &sh);
    if (st) return st;
    GH_NEED("avgpool_fwd_cpu", x);
    GH_NEED("avgpool_fwd_cpu", y);
    if (pool_flat_ok(&sh)) {
        avgpool_flat_fwd(&sh, x, y);
        return GH_OK;
    }
    int planes = sh.n * sh.c;
#pragma omp parallel for schedule(static) if ((size_t)planes * sh.h * sh.w >= GH_CPU_PAR_MIN)
    for (int pl = 0; pl < planes; pl++) {
        float sum[POOL_CHUNK];
        const float *xp = x + (size_t)pl * sh.h * sh.w;
        for (int i = 0; i < sh.p; i++)
            for (int j0 = 0; j0 < sh.q; j0 += POOL_CHUNK) {
                int j1 = j0 + POOL_CHUNK < sh.q ? j0 + POOL_CHUNK : sh.q;
                avg_row_sum(&sh, xp, i, j0, j1, sum);
                float *yr = y + ((size_t)pl * sh.p + i) * sh.q;
                for (int j = j0; j < j1; j++) yr[j] = sum[j - j0] / (float)avg_count(&sh, i, j);
            }
    }
    return GH_OK;
}

// dx (plane) += g spread over the windows of outputs (i, j0..j1)
GH_CPU_CLONES
static void avg_row_scatter(const pool_shape *sh, float *dxp, int i, int j0, int j1,
                            const float *g) {
    int r0, r1;
    clamp_window(i * sh->stride - sh->pad, sh->kh, sh->h, &r0, &r1);
    for (int a = r0; a < r1; a++)
        for (int b = 0; b < sh->kw; b++) {
            int jlo, jhi;
            tap_range(sh, b, j0, j1, &jlo, &jhi);
            const int base = a * sh->w + (b - sh->pad);
            const float *restrict gt = g + (jlo - j0);
            if (sh->stride == 1) {
                float *restrict dst = dxp + (base + jlo);
#pragma omp simd
                for (int t = 0; t < jhi - jlo; t++) dst[t] += gt[t];
            } else
                for (int j = jlo; j < jhi; j++) dxp[base + j * sh->stride] += gt[j - jlo];
        }
}

int avgpool_bwd_cpu(const kctx *ctx, const pool_shape *shape, const float *dy, float *dx) {
    (void)ctx;
    pool_shape sh;
    int st = pool_shape_check("avgpool_bwd_cpu", shape, &sh);
    if (st) return st;
    if (!dx) return GH_OK;
    GH_NEED("avgpool_bwd_cpu", dy);
    if (pool_flat_ok(&sh)) {
        avgpool_flat_bwd(&sh, dy, dx);
        return GH_OK;
    }
    int planes = sh.n * sh.c;
#pragma omp parallel for schedule(static) if ((size_t)planes * sh.h * sh.w >= GH_CPU_PAR_MIN)
    for (int pl = 0; pl < planes; pl++) {
        float g[POOL_CHUNK];
        float *dxp = dx + (size_t)pl * sh.h * sh.w;
        for (int i = 0; i < sh.p; i++)
            for (int j0 = 0; j0 < sh.q; j0 += POOL_CHUNK) {
                int j1 = j0 + POOL_CHUNK < sh.q ? j0 + POOL_CHUNK : sh.q;
                const float *dyr = dy + ((size_t)pl * sh.p + i) * sh.q;
                for (int j = j0; j < j1; j++) g[j - j0] = dyr[j] / (float)avg_count(&sh, i, j);
                avg_row_scatter(&sh, dxp, i, j0, j1, g);
            }
    }
    return GH_OK;
}

GH_CPU_CLONES
static float plane_sum(int hw, const float *restrict x) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int e = 0; e < hw; e++) s += x[e];
    return s;
}

int gap_fwd_cpu(const kctx *ctx, int n, int c, int hw, const float *x, float *y) {
    (void)ctx;
    if (n <= 0 || c <= 0 || hw <= 0)
        return gh_fail(GH_EINVAL, "gap_fwd_cpu: n %d, c %d, hw %d must be positive", n, c, hw);
    GH_NEED("gap_fwd_cpu", x);
    GH_NEED("gap_fwd_cpu", y);
    int planes = n * c;
#pragma omp parallel for schedule(static) if ((size_t)planes * hw >= GH_CPU_PAR_MIN)
    for (int pl = 0; pl < planes; pl++) y[pl] = plane_sum(hw, x + (size_t)pl * hw) / (float)hw;
    return GH_OK;
}

int gap_bwd_cpu(const kctx *ctx, int n, int c, int hw, const float *dy, float *dx) {
    (void)ctx;
    if (n <= 0 || c <= 0 || hw <= 0)
        return gh_fail(GH_EINVAL, "gap_bwd_cpu: n %d, c %d, hw %d must be positive", n, c, hw);
    if (!dx) return GH_OK;
    GH_NEED("gap_bwd_cpu", dy);
    int planes = n * c;
#pragma omp parallel for schedule(static) if ((size_t)planes * hw >= GH_CPU_PAR_MIN)
    for (int pl = 0; pl < planes; pl++) {
        float g = dy[pl] / (float)hw;
        float *d = dx + (size_t)pl * hw;
        for (int e = 0; e < hw; e++) d[e] += g;
    }
    return GH_OK;
}
