// Fully connected layer on the host: y [n, out] = x [n, in] w [out, in]^T + b, forward and
// backward. The fast path is OpenBLAS sgemm, split by rows or columns over the OpenMP team
// (OpenBLAS itself runs single-threaded: see cpu.h).
#include <cblas.h>

#include "cpu.h"

// Below this many multiply-adds one sgemm call on one thread is faster than a fork.
#define LINEAR_PAR_MIN (1 << 18)

static int linear_check(const char *op, int n, int in, int out) {
    if (n <= 0 || in <= 0 || out <= 0)
        return gh_fail(GH_EINVAL, "%s: n %d, in %d, out %d must all be positive", op, n, in, out);
    return GH_OK;
}

// ---- reference ---------------------------------------------------------------------------

int linear_fwd_ref(const kctx *ctx, int n, int in, int out, const float *x, const float *w,
                   const float *b, float *y) {
    (void)ctx;
    int st = linear_check("linear_fwd_ref", n, in, out);
    if (st) return st;
    GH_NEED("linear_fwd_ref", x);
    GH_NEED("linear_fwd_ref", w);
    GH_NEED("linear_fwd_ref", y);
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) {
            double acc = b ? b[o] : 0.0;
            for (int k = 0; k < in; k++) acc += (double)x[(size_t)i * in + k] * w[(size_t)o * in + k];
            y[(size_t)i * out + o] = (float)acc;
        }
    return GH_OK;
}

int linear_bwd_ref(const kctx *ctx, int n, int in, int out, const float *x, const float *w,
                   const float *dy, float *dx, float *dw, float *db) {
    (void)ctx;
    int st = linear_check("linear_bwd_ref", n, in, out);
    if (st) return st;
    GH_NEED("linear_bwd_ref", dy);
    if (dx) GH_NEED("linear_bwd_ref", w);
    if (dw) GH_NEED("linear_bwd_ref", x);
    if (dx)
        for (int i = 0; i < n; i++)
            for (int k = 0; k < in; k++) {
                double acc = 0.0;
                for (int o = 0; o < out; o++)
                    acc += (double)dy[(size_t)i * out + o] * w[(size_t)o * in + k];
                dx[(size_t)i * in + k] += (float)acc;
            }
    if (dw)
        for (int o = 0; o < out; o++)
            for (int k = 0; k < in; k++) {
                double acc = 0.0;
                for (int i = 0; i < n; i++)
                    acc += (double)dy[(size_t)i * out + o] * x[(size_t)i * in + k];
                dw[(size_t)o * in + k] += (float)acc;
            }
    if (db)
        for (int o = 0; o < out; o++) {
            double acc = 0.0;
            for (int i = 0; i < n; i++) acc += dy[(size_t)i * out + o];
            db[o] += (float)acc;
        }
    return GH_OK;
}

// ---- fast ------------------------------------------------------------------------------------

// Row-major C [m, nn] = alpha op(A) op(B) + beta C, with the larger of m and nn cut into one
// block per thread; each block is an independent single-threaded sgemm.
static void par_sgemm(int ta, int tb, int m, int nn, int k, const float *a, int lda,
                      const float *b, int ldb, float beta, float *c, int ldc) {
    enum CBLAS_TRANSPOSE at = ta ? CblasTrans : CblasNoTrans, bt = tb ? CblasTrans : CblasNoTrans;
    int nt = gh_cpu_nthreads();
    if (nt == 1 || (double)m * nn * k < LINEAR_PAR_MIN) {
        cblas_sgemm(CblasRowMajor, at, bt, m, nn, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    int by_rows = m >= nn, len = by_rows ? m : nn;
    int blk = (len + nt - 1) / nt;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int t = 0; t < nt; t++) {
        int lo = t * blk, hi = lo + blk < len ? lo + blk : len;
        if (lo >= hi) continue;
        if (by_rows)   // rows lo..hi of op(A) and of C
            cblas_sgemm(CblasRowMajor, at, bt, hi - lo, nn, k, 1.0f,
                        ta ? a + lo : a + (size_t)lo * lda, lda, b, ldb, beta,
                        c + (size_t)lo * ldc, ldc);
        else           // columns lo..hi of op(B) and of C
            cblas_sgemm(CblasRowMajor, at, bt, m, hi - lo, k, 1.0f, a, lda,
                        tb ? b + (size_t)lo * ldb : b + lo, ldb, beta, c + lo, ldc);
    }
}

int linear_fwd_cpu(const kctx *ctx, int n, int in, int out, const float *x, const float *w,
                   const float *b, float *y) {
    (void)ctx;
    int st = linear_check("linear_fwd_cpu", n, in, out);
    if (st) return st;
    GH_NEED("linear_fwd_cpu", x);
    GH_NEED("linear_fwd_cpu", w);
    GH_NEED("linear_fwd_cpu", y);
    gh_cpu_blas_init();
    par_sgemm(0, 1, n, out, in, x, in, w, in, 0.0f, y, out);
    if (b)
        for (int i = 0; i < n; i++)
            for (int o = 0; o < out; o++) y[(size_t)i * out + o] += b[o];
    return GH_OK;
}

int linear_bwd_cpu(const kctx *ctx, int n, int in, int out, const float *x, const float *w,
                   const float *dy, float *dx, float *dw, float *db) {
    (void)ctx;
    int st = linear_check("linear_bwd_cpu", n, in, out);
    if (st) return st;
    GH_NEED("linear_bwd_cpu", dy);
    if (dx) GH_NEED("linear_bwd_cpu", w);
    if (dw) GH_NEED("linear_bwd_cpu", x);
    gh_cpu_blas_init();
    if (dx) par_sgemm(0, 0, n, in, out, dy, out, w, in, 1.0f, dx, in);   // dy w
    if (dw) par_sgemm(1, 0, out, in, n, dy, out, x, in, 1.0f, dw, in);   // dy^T x
    if (db)
        for (int o = 0; o < out; o++) {
            float acc = 0.0f;
            for (int i = 0; i < n; i++) acc += dy[(size_t)i * out + o];
            db[o] += acc;
        }
    return GH_OK;
}
