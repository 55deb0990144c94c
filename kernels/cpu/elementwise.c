// Elementwise ops on the host: add (forward and backward), axpy, scale, fill, the double
// sum of squares, and the device-scalar ops (norm2, clip_by_norm, scalar_pow, axpy_dev,
// scale_dev: their scalar is host memory here, so they are the plain ops with the coefficient
// computed first). The _cpu versions are the same loops, vectorised and split over OpenMP
// threads once the array is large enough to pay for the fork.
#include <math.h>

#include "cpu.h"

#define GH_DOT_CHUNK 4096   // smallest block worth a thread

// ---- reference ---------------------------------------------------------------------------

int add_fwd_ref(const kctx *ctx, size_t n, const float *a, const float *b, float *y) {
    (void)ctx;
    if (n == 0) return GH_OK;
    GH_NEED("add_fwd_ref", a);
    GH_NEED("add_fwd_ref", b);
    GH_NEED("add_fwd_ref", y);
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
    return GH_OK;
}

int add_bwd_ref(const kctx *ctx, size_t n, const float *dy, float *da, float *db) {
    (void)ctx;
    if (n == 0) return GH_OK;
    GH_NEED("add_bwd_ref", dy);
    for (size_t i = 0; i < n; i++) {
        if (da) da[i] += dy[i];
        if (db) db[i] += dy[i];
    }
    return GH_OK;
}

int axpy_ref(const kctx *ctx, size_t n, float alpha, const float *x, float *y) {
    (void)ctx;
    if (n == 0) return GH_OK;
    GH_NEED("axpy_ref", x);
    GH_NEED("axpy_ref", y);
    for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
    return GH_OK;
}

int scale_ref(const kctx *ctx, size_t n, float alpha, float *x) {
    (void)ctx;
    if (n == 0) return GH_OK;
    GH_NEED("scale_ref", x);
    for (size_t i = 0; i < n; i++) x[i] *= alpha;
    return GH_OK;
}

int fill_ref(const kctx *ctx, size_t n, float value, float *x) {
    (void)ctx;
    if (n == 0) return GH_OK;
    GH_NEED("fill_ref", x);
    for (size_t i = 0; i < n; i++) x[i] = value;
    return GH_OK;
}

int sumsq_ref(const kctx *ctx, size_t n, const float *x, double *out) {
    (void)ctx;
    GH_NEED("sumsq_ref", out);
    if (n) GH_NEED("sumsq_ref", x);
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) acc += (double)x[i] * x[i];
    out[0] = acc;
    return GH_OK;
}

// ---- device scalars (shared by _ref and _cpu) -------------------------------------------------

// *c = alpha * s[0] or alpha / s[0], in double. A non-finite c sets *skip (the caller changes
// nothing) and is recorded in ctx->flags, or without flags returned as GH_ENAN.
static int coef_of(const char *op, const kctx *ctx, double alpha, const double *s, int power,
                   double *c, int *skip) {
    *skip = 0;
    GH_NEED(op, s);
    if (power != 1 && power != -1)
        return gh_fail(GH_EINVAL, "%s: power %d (expected 1 or -1)", op, power);
    *c = power == 1 ? alpha * s[0] : alpha / s[0];
    if (isfinite(*c)) return GH_OK;
    *skip = 1;
    if (ctx && ctx->flags) {
        gh_cpu_flag(ctx, GH_KFLAG_SCALAR);
        return GH_OK;
    }
    return gh_fail(GH_ENAN, "%s: coefficient %g * s^%d with s = %g is not finite", op, alpha,
                   power, s[0]);
}

// clip_grad_norm_'s coefficient; 0 when g stays as it is, 1 to scale by *coef.
static int clip_coef(const char *op, const kctx *ctx, const double *norm, float max_norm,
                     float *coef, int *st) {
    *st = GH_OK;
    if (!norm) {
        *st = gh_fail(GH_EINVAL, "%s: argument norm is NULL", op);
        return 0;
    }
    if (!isfinite(norm[0])) {
        if (ctx && ctx->flags) gh_cpu_flag(ctx, GH_KFLAG_NORM);
        else *st = gh_fail(GH_ENAN, "%s: gradient norm is %g", op, norm[0]);
        return 0;
    }
    double c = (double)max_norm / (norm[0] + 1e-6);
    *coef = (float)c;
    return c < 1.0;
}

int norm2_ws_ref(const kctx *ctx, size_t n, size_t *floats) {
    (void)ctx;
    (void)n;
    GH_NEED("norm2_ws_ref", floats);
    *floats = 0;
    return GH_OK;
}

int norm2_ws_cpu(const kctx *ctx, size_t n, size_t *floats) { return norm2_ws_ref(ctx, n, floats); }

int norm2_ref(const kctx *ctx, size_t n, const float *x, double *out) {
    int st = sumsq_ref(ctx, n, x, out);
    if (!st) out[0] = sqrt(out[0]);
    return st;
}

int clip_by_norm_ref(const kctx *ctx, size_t n, const double *norm, float max_norm, float *g) {
    float c = 0.0f;
    int st;
    if (clip_coef("clip_by_norm_ref", ctx, norm, max_norm, &c, &st)) return scale_ref(ctx, n, c, g);
    return st;
}

int scalar_pow_ref(const kctx *ctx, double alpha, const double *s, int power, double *out) {
    double c = 0.0;
    int skip;
    GH_NEED("scalar_pow_ref", out);
    int st = coef_of("scalar_pow_ref", ctx, alpha, s, power, &c, &skip);
    if (!st && !skip) out[0] = c;
    return st;
}

int axpy_dev_ref(const kctx *ctx, size_t n, double alpha, const double *s, int power,
                 const float *x, float *y) {
    double c = 0.0;
    int skip;
    int st = coef_of("axpy_dev_ref", ctx, alpha, s, power, &c, &skip);
    return st || skip ? st : axpy_ref(ctx, n, (float)c, x, y);
}

int scale_dev_ref(const kctx *ctx, size_t n, double alpha, const double *s, int power, float *x) {
    double c = 0.0;
    int skip;
    int st = coef_of("scale_dev_ref", ctx, alpha, s, power, &c, &skip);
    return st || skip ? st : scale_ref(ctx, n, (float)c, x);
}

// ---- fast ----------------------------------------------------------------------------------

GH_CPU_CLONES
static void add_fwd_loop(size_t n, const float *restrict a, const float *restrict b,
                         float *restrict y) {
#pragma omp parallel for simd schedule(static) if (n >= GH_CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

int add_fwd_cpu(const kctx *ctx, size_t n, const float *a, const float *b, float *y) {
    (void)ctx;
    if (n == 0) return GH_OK;
    GH_NEED("add_fwd_cpu", a);
    GH_NEED("add_fwd_cpu", b);
    GH_NEED("add_fwd_cpu", y);
    add_fwd_loop(n, a, b, y);
    return GH_OK;
}

GH_CPU_CLONES
static void axpy_loop(size_t n, float alpha, const float *restrict x, float *restrict y) {
#pragma omp parallel for simd schedule(static) if (n >= GH_CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

int add_bwd_cpu(const kctx *ctx, size_t n, const float *dy, float *da, float *db) {
    (void)ctx;
    if (n == 0) return GH_OK;
    GH_NEED("add_bwd_cpu", dy);
    if (da) axpy_loop(n, 1.0f, dy, da);
    if (db) axpy_loop(n, 1.0f, dy, db);
    return GH_OK;
}

int axpy_cpu(const kctx *ctx, size_t n, float alpha, const float *x, float *y) {
    (void)ctx;
    if (n == 0) return GH_OK;
    GH_NEED("axpy_cpu", x);
    GH_NEED("axpy_cpu", y);
    axpy_loop(n, alpha, x, y);
    return GH_OK;
}

GH_CPU_CLONES
static void scale_loop(size_t n, float alpha, float *restrict x) {
#pragma omp parallel for simd schedule(static) if (n >= GH_CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) x[i] *= alpha;
}

int scale_cpu(const kctx *ctx, size_t n, float alpha, float *x) {
    (void)ctx;
    if (n == 0) return GH_OK;
    GH_NEED("scale_cpu", x);
    scale_loop(n, alpha, x);
    return GH_OK;
}

GH_CPU_CLONES
static void fill_loop(size_t n, float value, float *restrict x) {
#pragma omp parallel for simd schedule(static) if (n >= GH_CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) x[i] = value;
}

int fill_cpu(const kctx *ctx, size_t n, float value, float *x) {
    (void)ctx;
    if (n == 0) return GH_OK;
    GH_NEED("fill_cpu", x);
    fill_loop(n, value, x);
    return GH_OK;
}

// One chunk in double: float products are exact in double, so only the additions round.
GH_CPU_CLONES
double gh_cpu_dot_chunk(size_t n, const float *restrict x, const float *restrict y) {
    double acc = 0.0;
    if (y) {
#pragma omp simd reduction(+ : acc)
        for (size_t i = 0; i < n; i++) acc += (double)x[i] * y[i];
    } else {
#pragma omp simd reduction(+ : acc)
        for (size_t i = 0; i < n; i++) acc += (double)x[i] * x[i];
    }
    return acc;
}

size_t gh_cpu_dot_blocks(size_t n, size_t *len) {
    size_t nb = (n + GH_DOT_CHUNK - 1) / GH_DOT_CHUNK;
    if (nb > GH_CPU_DOT_BLOCKS) nb = GH_CPU_DOT_BLOCKS;
    *len = nb ? (n + nb - 1) / nb : 0;
    return nb;
}

double gh_cpu_dot_fixed(size_t n, const float *x, const float *y) {
    // At most GH_CPU_DOT_BLOCKS blocks whose bounds depend only on n; their sums are added in
    // block order, so the result is the same for any number of threads.
    double part[GH_CPU_DOT_BLOCKS];
    size_t len, nb = gh_cpu_dot_blocks(n, &len);
    if (nb == 0) return 0.0;
#pragma omp parallel for schedule(static) if (n >= GH_CPU_PAR_MIN)
    for (size_t b = 0; b < nb; b++) {
        size_t lo = b * len, hi = lo + len < n ? lo + len : n;
        part[b] = lo < hi ? gh_cpu_dot_chunk(hi - lo, x + lo, y ? y + lo : NULL) : 0.0;
    }
    double total = 0.0;
    for (size_t b = 0; b < nb; b++) total += part[b];
    return total;
}

int sumsq_cpu(const kctx *ctx, size_t n, const float *x, double *out) {
    (void)ctx;
    GH_NEED("sumsq_cpu", out);
    if (n) GH_NEED("sumsq_cpu", x);
    out[0] = gh_cpu_dot_fixed(n, x, NULL);
    return GH_OK;
}

int norm2_cpu(const kctx *ctx, size_t n, const float *x, double *out) {
    int st = sumsq_cpu(ctx, n, x, out);
    if (!st) out[0] = sqrt(out[0]);
    return st;
}

int clip_by_norm_cpu(const kctx *ctx, size_t n, const double *norm, float max_norm, float *g) {
    float c = 0.0f;
    int st;
    if (clip_coef("clip_by_norm_cpu", ctx, norm, max_norm, &c, &st)) return scale_cpu(ctx, n, c, g);
    return st;
}

int scalar_pow_cpu(const kctx *ctx, double alpha, const double *s, int power, double *out) {
    double c = 0.0;
    int skip;
    GH_NEED("scalar_pow_cpu", out);
    int st = coef_of("scalar_pow_cpu", ctx, alpha, s, power, &c, &skip);
    if (!st && !skip) out[0] = c;
    return st;
}

int axpy_dev_cpu(const kctx *ctx, size_t n, double alpha, const double *s, int power,
                 const float *x, float *y) {
    double c = 0.0;
    int skip;
    int st = coef_of("axpy_dev_cpu", ctx, alpha, s, power, &c, &skip);
    return st || skip ? st : axpy_cpu(ctx, n, (float)c, x, y);
}

int scale_dev_cpu(const kctx *ctx, size_t n, double alpha, const double *s, int power, float *x) {
    double c = 0.0;
    int skip;
    int st = coef_of("scale_dev_cpu", ctx, alpha, s, power, &c, &skip);
    return st || skip ? st : scale_cpu(ctx, n, (float)c, x);
}
