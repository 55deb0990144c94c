// Elementwise ops on the host: add (forward and backward), axpy, scale, fill and the double
// sum of squares. The _cpu versions are the same loops, vectorised and split over OpenMP
// threads once the array is large enough to pay for the fork.
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
