// Channel concat and slice (NCHW, along C) and the spatial shift/crop of FactorizedReduce, on
// the host. Pure data movement: the _cpu versions are the reference loops with memcpy and
// OpenMP over samples, and must agree with the reference bit for bit.
#include <string.h>

#include "cpu.h"

static int concat_check(const char *op, int n, int hw, int k, const int *cs, const void *arr) {
    if (n <= 0 || hw <= 0 || k <= 0)
        return gh_fail(GH_EINVAL, "%s: n %d, hw %d, k %d must be positive", op, n, hw, k);
    if (!cs) return gh_fail(GH_EINVAL, "%s: channel counts cs are NULL", op);
    if (!arr) return gh_fail(GH_EINVAL, "%s: the array of %d tensors is NULL", op, k);
    for (int i = 0; i < k; i++)
        if (cs[i] <= 0) return gh_fail(GH_EINVAL, "%s: cs[%d] = %d must be positive", op, i, cs[i]);
    return GH_OK;
}

static int slice_check(const char *op, int n, int c, int hw, int c0, int cn) {
    if (n <= 0 || c <= 0 || hw <= 0 || cn <= 0 || c0 < 0 || c0 > c - cn)
        return gh_fail(GH_EINVAL, "%s: slice [%d, %d) of %d channels (n %d, hw %d) is not a "
                       "non-empty range inside the tensor", op, c0, c0 + cn, c, n, hw);
    return GH_OK;
}

static int shift_check(const char *op, int n, int c, int h, int w, int ho, int wo) {
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0 || ho <= 0 || wo <= 0)
        return gh_fail(GH_EINVAL, "%s: x [%d,%d,%d,%d] y [%d,%d,%d,%d]: sizes must be positive",
                       op, n, c, h, w, n, c, ho, wo);
    return GH_OK;
}

static int sum_channels(int k, const int *cs) {
    int t = 0;
    for (int i = 0; i < k; i++) t += cs[i];
    return t;
}

// ---- reference ---------------------------------------------------------------------------

int concat_fwd_ref(const kctx *ctx, int n, int hw, int k, const int *cs, const float *const *xs,
                   float *y) {
    (void)ctx;
    int st = concat_check("concat_fwd_ref", n, hw, k, cs, xs);
    if (st) return st;
    GH_NEED("concat_fwd_ref", y);
    for (int i = 0; i < k; i++)
        if (!xs[i]) return gh_fail(GH_EINVAL, "concat_fwd_ref: input %d is NULL", i);
    int ct = sum_channels(k, cs);
    for (int s = 0; s < n; s++) {
        int c0 = 0;
        for (int i = 0; i < k; i++) {
            for (int c = 0; c < cs[i]; c++)
                for (int e = 0; e < hw; e++)
                    y[(((size_t)s * ct) + c0 + c) * hw + e] = xs[i][((size_t)s * cs[i] + c) * hw + e];
            c0 += cs[i];
        }
    }
    return GH_OK;
}

int concat_bwd_ref(const kctx *ctx, int n, int hw, int k, const int *cs, const float *dy,
                   float *const *dxs) {
    (void)ctx;
    int st = concat_check("concat_bwd_ref", n, hw, k, cs, dxs);
    if (st) return st;
    GH_NEED("concat_bwd_ref", dy);
    int ct = sum_channels(k, cs);
    for (int s = 0; s < n; s++) {
        int c0 = 0;
        for (int i = 0; i < k; i++) {
            if (dxs[i])
                for (int c = 0; c < cs[i]; c++)
                    for (int e = 0; e < hw; e++)
                        dxs[i][((size_t)s * cs[i] + c) * hw + e] += dy[(((size_t)s * ct) + c0 + c) * hw + e];
            c0 += cs[i];
        }
    }
    return GH_OK;
}

int slice_fwd_ref(const kctx *ctx, int n, int c, int hw, int c0, int cn, const float *x, float *y) {
    (void)ctx;
    int st = slice_check("slice_fwd_ref", n, c, hw, c0, cn);
    if (st) return st;
    GH_NEED("slice_fwd_ref", x);
    GH_NEED("slice_fwd_ref", y);
    for (int s = 0; s < n; s++)
        for (int ch = 0; ch < cn; ch++)
            for (int e = 0; e < hw; e++)
                y[((size_t)s * cn + ch) * hw + e] = x[((size_t)s * c + c0 + ch) * hw + e];
    return GH_OK;
}

int slice_bwd_ref(const kctx *ctx, int n, int c, int hw, int c0, int cn, const float *dy,
                  float *dx) {
    (void)ctx;
    int st = slice_check("slice_bwd_ref", n, c, hw, c0, cn);
    if (st) return st;
    if (!dx) return GH_OK;
    GH_NEED("slice_bwd_ref", dy);
    for (int s = 0; s < n; s++)
        for (int ch = 0; ch < cn; ch++)
            for (int e = 0; e < hw; e++)
                dx[((size_t)s * c + c0 + ch) * hw + e] += dy[((size_t)s * cn + ch) * hw + e];
    return GH_OK;
}

int shift_fwd_ref(const kctx *ctx, int n, int c, int h, int w, int dh, int dw, int ho, int wo,
                  const float *x, float *y) {
    (void)ctx;
    int st = shift_check("shift_fwd_ref", n, c, h, w, ho, wo);
    if (st) return st;
    GH_NEED("shift_fwd_ref", x);
    GH_NEED("shift_fwd_ref", y);
    for (size_t pl = 0; pl < (size_t)n * c; pl++)
        for (int i = 0; i < ho; i++)
            for (int j = 0; j < wo; j++) {
                long si = (long)i + dh, sj = (long)j + dw;
                int in = si >= 0 && si < h && sj >= 0 && sj < w;
                y[(pl * ho + i) * wo + j] = in ? x[(pl * h + si) * w + sj] : 0.0f;
            }
    return GH_OK;
}

int shift_bwd_ref(const kctx *ctx, int n, int c, int h, int w, int dh, int dw, int ho, int wo,
                  const float *dy, float *dx) {
    (void)ctx;
    int st = shift_check("shift_bwd_ref", n, c, h, w, ho, wo);
    if (st) return st;
    if (!dx) return GH_OK;
    GH_NEED("shift_bwd_ref", dy);
    for (size_t pl = 0; pl < (size_t)n * c; pl++)
        for (int i = 0; i < ho; i++)
            for (int j = 0; j < wo; j++) {
                long si = (long)i + dh, sj = (long)j + dw;
                if (si >= 0 && si < h && sj >= 0 && sj < w)
                    dx[(pl * h + si) * w + sj] += dy[(pl * ho + i) * wo + j];
            }
    return GH_OK;
}

// ---- fast --------------------------------------------------------------------------------------

GH_CPU_CLONES
static void add_into(size_t len, const float *restrict src, float *restrict dst) {
#pragma omp simd
    for (size_t e = 0; e < len; e++) dst[e] += src[e];
}

int concat_fwd_cpu(const kctx *ctx, int n, int hw, int k, const int *cs, const float *const *xs,
                   float *y) {
    (void)ctx;
    int st = concat_check("concat_fwd_cpu", n, hw, k, cs, xs);
    if (st) return st;
    GH_NEED("concat_fwd_cpu", y);
    for (int i = 0; i < k; i++)
        if (!xs[i]) return gh_fail(GH_EINVAL, "concat_fwd_cpu: input %d is NULL", i);
    int ct = sum_channels(k, cs);
#pragma omp parallel for schedule(static) if ((size_t)n * ct * hw >= GH_CPU_PAR_MIN)
    for (int s = 0; s < n; s++) {
        size_t c0 = 0;
        for (int i = 0; i < k; i++) {
            size_t len = (size_t)cs[i] * hw;
            memcpy(y + ((size_t)s * ct + c0) * hw, xs[i] + (size_t)s * len, sizeof(float) * len);
            c0 += cs[i];
        }
    }
    return GH_OK;
}

int concat_bwd_cpu(const kctx *ctx, int n, int hw, int k, const int *cs, const float *dy,
                   float *const *dxs) {
    (void)ctx;
    int st = concat_check("concat_bwd_cpu", n, hw, k, cs, dxs);
    if (st) return st;
    GH_NEED("concat_bwd_cpu", dy);
    int ct = sum_channels(k, cs);
#pragma omp parallel for schedule(static) if ((size_t)n * ct * hw >= GH_CPU_PAR_MIN)
    for (int s = 0; s < n; s++) {
        size_t c0 = 0;
        for (int i = 0; i < k; i++) {
            size_t len = (size_t)cs[i] * hw;
            if (dxs[i]) add_into(len, dy + ((size_t)s * ct + c0) * hw, dxs[i] + (size_t)s * len);
            c0 += cs[i];
        }
    }
    return GH_OK;
}

int slice_fwd_cpu(const kctx *ctx, int n, int c, int hw, int c0, int cn, const float *x, float *y) {
    (void)ctx;
    int st = slice_check("slice_fwd_cpu", n, c, hw, c0, cn);
    if (st) return st;
    GH_NEED("slice_fwd_cpu", x);
    GH_NEED("slice_fwd_cpu", y);
    size_t len = (size_t)cn * hw;
#pragma omp parallel for schedule(static) if ((size_t)n * len >= GH_CPU_PAR_MIN)
    for (int s = 0; s < n; s++)
        memcpy(y + (size_t)s * len, x + ((size_t)s * c + c0) * hw, sizeof(float) * len);
    return GH_OK;
}

int slice_bwd_cpu(const kctx *ctx, int n, int c, int hw, int c0, int cn, const float *dy,
                  float *dx) {
    (void)ctx;
    int st = slice_check("slice_bwd_cpu", n, c, hw, c0, cn);
    if (st) return st;
    if (!dx) return GH_OK;
    GH_NEED("slice_bwd_cpu", dy);
    size_t len = (size_t)cn * hw;
#pragma omp parallel for schedule(static) if ((size_t)n * len >= GH_CPU_PAR_MIN)
    for (int s = 0; s < n; s++) add_into(len, dy + (size_t)s * len, dx + ((size_t)s * c + c0) * hw);
    return GH_OK;
}

// Output columns [jlo, jhi) whose source column j + dw lies in [0, w); likewise rows.
static void shift_range(int len_out, int len_in, int d, int *lo, int *hi) {
    long l = -(long)d, h = (long)len_in - d;
    if (l < 0) l = 0;
    if (h > len_out) h = len_out;
    if (l > h) l = h;
    *lo = (int)l;
    *hi = (int)h;
}

int shift_fwd_cpu(const kctx *ctx, int n, int c, int h, int w, int dh, int dw, int ho, int wo,
                  const float *x, float *y) {
    (void)ctx;
    int st = shift_check("shift_fwd_cpu", n, c, h, w, ho, wo);
    if (st) return st;
    GH_NEED("shift_fwd_cpu", x);
    GH_NEED("shift_fwd_cpu", y);
    int ilo, ihi, jlo, jhi;
    shift_range(ho, h, dh, &ilo, &ihi);
    shift_range(wo, w, dw, &jlo, &jhi);
    int planes = n * c;
#pragma omp parallel for schedule(static) if ((size_t)planes * ho * wo >= GH_CPU_PAR_MIN)
    for (int pl = 0; pl < planes; pl++) {
        float *yp = y + (size_t)pl * ho * wo;
        const float *xp = x + (size_t)pl * h * w;
        for (int i = 0; i < ho; i++) {
            float *yr = yp + (size_t)i * wo;
            if (i < ilo || i >= ihi) {
                memset(yr, 0, sizeof(float) * wo);
                continue;
            }
            const float *xr = xp + (size_t)(i + dh) * w;
            memset(yr, 0, sizeof(float) * jlo);
            if (jhi > jlo) memcpy(yr + jlo, xr + (jlo + dw), sizeof(float) * (jhi - jlo));
            memset(yr + jhi, 0, sizeof(float) * (wo - jhi));
        }
    }
    return GH_OK;
}

int shift_bwd_cpu(const kctx *ctx, int n, int c, int h, int w, int dh, int dw, int ho, int wo,
                  const float *dy, float *dx) {
    (void)ctx;
    int st = shift_check("shift_bwd_cpu", n, c, h, w, ho, wo);
    if (st) return st;
    if (!dx) return GH_OK;
    GH_NEED("shift_bwd_cpu", dy);
    int ilo, ihi, jlo, jhi;
    shift_range(ho, h, dh, &ilo, &ihi);
    shift_range(wo, w, dw, &jlo, &jhi);
    if (jhi == jlo) return GH_OK;   // no column of y reads x
    int planes = n * c;
#pragma omp parallel for schedule(static) if ((size_t)planes * ho * wo >= GH_CPU_PAR_MIN)
    for (int pl = 0; pl < planes; pl++)
        for (int i = ilo; i < ihi; i++)
            add_into((size_t)(jhi - jlo), dy + ((size_t)pl * ho + i) * wo + jlo,
                     dx + ((size_t)pl * h + i + dh) * w + jlo + dw);
    return GH_OK;
}
