// Strided 1x1 convolutions without padding (DARTS' FactorizedReduce) on small planes: the
// strided input of a run of samples gathered once into a packed [c, samples*pq] matrix and one
// GEMM over it, instead of one [k, pq] x [c, pq] product per sample whose 16-column tiles at
// pq = 16 leave the FMA units idle. Forward and both gradients, in one parallel region each.
#include <omp.h>
#include <string.h>

#include "conv_internal.h"

// Output columns per GEMM: a 64 x 256 panel of the packed input is 64 KiB, L2-resident, and
// 256 columns are eight 32-wide register tiles.
#define CONV_PW_COLS 256
// Planes from this size on already fill the tiles one sample at a time (conv.c's path).
#define CONV_PW_PQ_MAX 256

int conv_pw_ok(const conv2d_shape *sh) {
    return sh->r == 1 && sh->s == 1 && sh->pad_h == 0 && sh->pad_w == 0 && sh->groups == 1 &&
           (sh->stride_h > 1 || sh->stride_w > 1) && (size_t)sh->p * sh->q < CONV_PW_PQ_MAX;
}

// Samples per GEMM: enough to fill CONV_PW_COLS columns; independent of the thread count so
// that the results are too.
static int pw_samples(const conv2d_shape *sh) {
    int pq = sh->p * sh->q, s = CONV_PW_COLS / pq;
    if (s < 1) s = 1;
    return s < sh->n ? s : sh->n;
}

static size_t pw_round16(size_t n) { return (n + 15) & ~(size_t)15; }

size_t conv_pw_ws_floats(const conv2d_shape *sh, int nt) {
    size_t pq = (size_t)sh->p * sh->q, cols = (size_t)pw_samples(sh) * pq;
    size_t fwd = (size_t)nt * pw_round16((size_t)(sh->c + sh->k) * cols);
    size_t bwd = pw_round16((size_t)(sh->c + sh->k) * sh->n * pq) +
                 (size_t)nt * pw_round16((size_t)sh->c * cols);
    return fwd > bwd ? fwd : bwd;
}

// col [c, ld]: column (s - s0)*pq + i*q + j of row ci holds x[s, ci, i*stride_h, j*stride_w]
// (no padding: every tap is inside the image).
static void pw_gather(const conv2d_shape *sh, int s0, int s1, const float *x, float *col,
                      size_t ld) {
    size_t pq = (size_t)sh->p * sh->q, hw = (size_t)sh->h * sh->w;
    for (int s = s0; s < s1; s++)
        for (int ci = 0; ci < sh->c; ci++) {
            const float *src = x + ((size_t)s * sh->c + ci) * hw;
            float *d = col + (size_t)ci * ld + (size_t)(s - s0) * pq;
            for (int i = 0; i < sh->p; i++) {
                const float *row = src + (size_t)i * sh->stride_h * sh->w;
                for (int j = 0; j < sh->q; j++) d[(size_t)i * sh->q + j] = row[(size_t)j * sh->stride_w];
            }
        }
}

// The adjoint of pw_gather: dx += col scattered back onto the strided taps.
static void pw_scatter_add(const conv2d_shape *sh, int s0, int s1, const float *col, size_t ld,
                           float *dx) {
    size_t pq = (size_t)sh->p * sh->q, hw = (size_t)sh->h * sh->w;
    for (int s = s0; s < s1; s++)
        for (int ci = 0; ci < sh->c; ci++) {
            float *dst = dx + ((size_t)s * sh->c + ci) * hw;
            const float *d = col + (size_t)ci * ld + (size_t)(s - s0) * pq;
            for (int i = 0; i < sh->p; i++) {
                float *row = dst + (size_t)i * sh->stride_h * sh->w;
                for (int j = 0; j < sh->q; j++) row[(size_t)j * sh->stride_w] += d[(size_t)i * sh->q + j];
            }
        }
}

// Packed [k, ld] columns of samples s0..s1 <-> the NCHW output planes.
static void pw_unpack(const conv2d_shape *sh, int s0, int s1, const float *m, size_t ld,
                      const float *b, float *y) {
    size_t pq = (size_t)sh->p * sh->q;
    for (int s = s0; s < s1; s++)
        for (int kk = 0; kk < sh->k; kk++) {
            const float *src = m + (size_t)kk * ld + (size_t)(s - s0) * pq;
            float *dst = y + ((size_t)s * sh->k + kk) * pq;
            if (b) {
                float bk = b[kk];
                for (size_t e = 0; e < pq; e++) dst[e] = src[e] + bk;
            } else
                memcpy(dst, src, sizeof(float) * pq);
        }
}

static void pw_pack(const conv2d_shape *sh, int s0, int s1, const float *y, float *m, size_t ld) {
    size_t pq = (size_t)sh->p * sh->q;
    for (int s = s0; s < s1; s++)
        for (int kk = 0; kk < sh->k; kk++)
            memcpy(m + (size_t)kk * ld + (size_t)(s - s0) * pq, y + ((size_t)s * sh->k + kk) * pq,
                   sizeof(float) * pq);
}

int conv_pw_fwd(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
                const float *b, float *y) {
    int spc = pw_samples(sh), chunks = (sh->n + spc - 1) / spc;
    size_t pq = (size_t)sh->p * sh->q, cols = (size_t)spc * pq;
    size_t per = pw_round16((size_t)(sh->c + sh->k) * cols);
    int nt = conv_ws_threads("conv2d_fwd_cpu", ctx, per);
    if (!nt) return GH_EINVAL;
    if (chunks < nt) nt = chunks;
#pragma omp parallel num_threads(nt)
    {
        float *col = ctx->ws + (size_t)omp_get_thread_num() * per, *yt = col + (size_t)sh->c * cols;
#pragma omp for schedule(static)
        for (int ch = 0; ch < chunks; ch++) {
            int s0 = ch * spc, s1 = s0 + spc < sh->n ? s0 + spc : sh->n;
            size_t ld = (size_t)(s1 - s0) * pq;
            pw_gather(sh, s0, s1, x, col, ld);
            // Y [k, ld] = W [k, c] col [c, ld]
            gh_cpu_gemm(sh->k, (int)ld, sh->c, w, sh->c, 1, col, (ptrdiff_t)ld, yt, (ptrdiff_t)ld, 0);
            pw_unpack(sh, s0, s1, yt, ld, b, y);
        }
    }
    return GH_OK;
}

int conv_pw_bwd(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
                const float *dy, float *dx, float *dw) {
    static const char op[] = "conv2d_bwd_cpu";
    if (!dx && !dw) return GH_OK;
    int spc = pw_samples(sh), chunks = (sh->n + spc - 1) / spc;
    size_t pq = (size_t)sh->p * sh->q, cols = (size_t)spc * pq, all = (size_t)sh->n * pq;
    // shared: the packed input [c, n*pq] and output gradient [k, n*pq] (dW needs all samples);
    // per thread: the dcol [c, cols] of one run of samples
    size_t shared = pw_round16((size_t)(sh->c + sh->k) * all);
    size_t per = dx ? pw_round16((size_t)sh->c * cols) : 0;
    size_t have = (ctx && ctx->ws) ? ctx->ws_floats : 0;
    if (have < shared + per)
        return gh_fail(GH_EINVAL, "%s: workspace has %zu floats, needs at least %zu for the "
                       "packed batch (conv2d_ws_floats)", op, have, shared + per);
    int nt = gh_cpu_nthreads();
    if (per && (size_t)nt > (have - shared) / per) nt = (int)((have - shared) / per);
    float *xall = ctx->ws, *dyall = xall + (size_t)sh->c * all;
    int stripes = (sh->k + 3) / 4;
    int jobs = chunks > stripes ? chunks : stripes;
    if (jobs < nt) nt = jobs;
#pragma omp parallel num_threads(nt)
    {
        float *dcol = per ? ctx->ws + shared + (size_t)omp_get_thread_num() * per : NULL;
#pragma omp for schedule(static)
        for (int ch = 0; ch < chunks; ch++) {
            int s0 = ch * spc, s1 = s0 + spc < sh->n ? s0 + spc : sh->n;
            size_t ld = (size_t)(s1 - s0) * pq, off = (size_t)s0 * pq;
            // this run's columns of the packed matrices (row pitch n*pq)
            pw_pack(sh, s0, s1, dy, dyall + off, all);
            if (dw) pw_gather(sh, s0, s1, x, xall + off, all);
            if (dx) {
                // dcol [c, ld] = W^T [c, k] dY [k, ld]
                gh_cpu_gemm(sh->c, (int)ld, sh->k, w, 1, sh->c, dyall + off, (ptrdiff_t)all, dcol,
                            (ptrdiff_t)ld, 0);
                pw_scatter_add(sh, s0, s1, dcol, ld, dx);
            }
        }
        // dW [k, c] += dY [k, n*pq] X^T, by 4-row stripes (no partials: the result does not
        // depend on the thread count)
        if (dw) {
#pragma omp for schedule(static)
            for (int it = 0; it < stripes; it++) {
                int i0 = it * 4, rows = sh->k - i0 < 4 ? sh->k - i0 : 4;
                gh_cpu_gemm_nt(rows, sh->c, (int)all, 1, dyall + (size_t)i0 * all, (ptrdiff_t)all,
                               0, xall, (ptrdiff_t)all, 0, dw + (size_t)i0 * sh->c, sh->c);
            }
        }
    }
    return GH_OK;
}
