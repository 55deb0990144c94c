// conv2d on the host: the reference loops (double accumulators), and the
// fast path for groups that are not depthwise: im2col of one (sample, group) into a per-thread
// slice of ctx->ws and one single-threaded GEMM (gemm.c) per item, the items spread over
// OpenMP. Depthwise convolutions go to conv_depthwise.c (direct loops beat im2col there),
// strided 1x1 convs on small planes to conv_pointwise.c (one GEMM per run of samples).
#include <omp.h>
#include <string.h>

#include "cpu.h"
#include "conv_internal.h"

// ---- reference ---------------------------------------------------------------------------

// relu_fwd_ref's value: NaN propagates, -0 becomes 0
static inline float relu_ref(float v) { return v > 0.0f ? v : (v != v ? v : 0.0f); }

// relu: x is read through relu_ref (conv2d_relu_fwd_ref)
static int conv_fwd_ref(const char *op, const conv2d_shape *shape, const float *x, const float *w,
                        const float *b, float *y, int relu) {
    conv2d_shape sh;
    int st = conv2d_shape_check(op, shape, &sh);
    if (st) return st;
    GH_NEED(op, x);
    GH_NEED(op, w);
    GH_NEED(op, y);
    int cg = sh.c / sh.groups, kg = sh.k / sh.groups;
    for (int n = 0; n < sh.n; n++)
        for (int k = 0; k < sh.k; k++) {
            int g = k / kg;
            for (int i = 0; i < sh.p; i++)
                for (int j = 0; j < sh.q; j++) {
                    double acc = b ? b[k] : 0.0;
                    for (int ci = 0; ci < cg; ci++)
                        for (int a = 0; a < sh.r; a++)
                            for (int bb = 0; bb < sh.s; bb++) {
                                int ii = i * sh.stride_h - sh.pad_h + a * sh.dil_h;
                                int jj = j * sh.stride_w - sh.pad_w + bb * sh.dil_w;
                                if (ii < 0 || ii >= sh.h || jj < 0 || jj >= sh.w) continue;
                                int c = g * cg + ci;
                                float xv = x[(((size_t)n * sh.c + c) * sh.h + ii) * sh.w + jj];
                                acc += (double)(relu ? relu_ref(xv) : xv) *
                                       w[(((size_t)k * cg + ci) * sh.r + a) * sh.s + bb];
                            }
                    y[(((size_t)n * sh.k + k) * sh.p + i) * sh.q + j] = (float)acc;
                }
        }
    return GH_OK;
}

int conv2d_fwd_ref(const kctx *ctx, const conv2d_shape *shape, const float *x, const float *w,
                   const float *b, float *y) {
    (void)ctx;
    return conv_fwd_ref("conv2d_fwd_ref", shape, x, w, b, y, 0);
}

// relu: x is read through relu_ref and dx accumulates only where x > 0 (relu_bwd_ref's mask)
static int conv_bwd_ref(const char *op, const conv2d_shape *shape, const float *x, const float *w,
                        const float *dy, float *dx, float *dw, float *db, int relu) {
    conv2d_shape sh;
    int st = conv2d_shape_check(op, shape, &sh);
    if (st) return st;
    GH_NEED(op, dy);
    if (dx) GH_NEED(op, w);
    if (dw || (dx && relu)) GH_NEED(op, x);
    int cg = sh.c / sh.groups, kg = sh.k / sh.groups;
    // dx[n,c,ii,jj] = sum over the (k, a, b, i, j) that read it of dy * w: gathered per input
    // element so that each output of the reference is one clear sum.
    if (dx)
        for (int n = 0; n < sh.n; n++)
            for (int c = 0; c < sh.c; c++) {
                int g = c / cg, ci = c % cg;
                for (int ii = 0; ii < sh.h; ii++)
                    for (int jj = 0; jj < sh.w; jj++) {
                        double acc = 0.0;
                        for (int kk = 0; kk < kg; kk++)
                            for (int a = 0; a < sh.r; a++)
                                for (int bb = 0; bb < sh.s; bb++) {
                                    int ti = ii + sh.pad_h - a * sh.dil_h;
                                    int tj = jj + sh.pad_w - bb * sh.dil_w;
                                    if (ti < 0 || tj < 0 || ti % sh.stride_h || tj % sh.stride_w)
                                        continue;
                                    int i = ti / sh.stride_h, j = tj / sh.stride_w;
                                    if (i >= sh.p || j >= sh.q) continue;
                                    int k = g * kg + kk;
                                    acc += (double)dy[(((size_t)n * sh.k + k) * sh.p + i) * sh.q + j] *
                                           w[(((size_t)k * cg + ci) * sh.r + a) * sh.s + bb];
                                }
                        size_t at = (((size_t)n * sh.c + c) * sh.h + ii) * sh.w + jj;
                        if (!relu || x[at] > 0.0f) dx[at] += (float)acc;
                    }
            }
    if (dw)
        for (int k = 0; k < sh.k; k++) {
            int g = k / kg;
            for (int ci = 0; ci < cg; ci++)
                for (int a = 0; a < sh.r; a++)
                    for (int bb = 0; bb < sh.s; bb++) {
                        double acc = 0.0;
                        for (int n = 0; n < sh.n; n++)
                            for (int i = 0; i < sh.p; i++)
                                for (int j = 0; j < sh.q; j++) {
                                    int ii = i * sh.stride_h - sh.pad_h + a * sh.dil_h;
                                    int jj = j * sh.stride_w - sh.pad_w + bb * sh.dil_w;
                                    if (ii < 0 || ii >= sh.h || jj < 0 || jj >= sh.w) continue;
                                    int c = g * cg + ci;
                                    float xv = x[(((size_t)n * sh.c + c) * sh.h + ii) * sh.w + jj];
                                    acc += (double)dy[(((size_t)n * sh.k + k) * sh.p + i) * sh.q + j] *
                                           (relu ? relu_ref(xv) : xv);
                                }
                        dw[(((size_t)k * cg + ci) * sh.r + a) * sh.s + bb] += (float)acc;
                    }
        }
    if (db)
        for (int k = 0; k < sh.k; k++) {
            double acc = 0.0;
            for (int n = 0; n < sh.n; n++)
                for (size_t e = 0; e < (size_t)sh.p * sh.q; e++)
                    acc += dy[((size_t)n * sh.k + k) * sh.p * sh.q + e];
            db[k] += (float)acc;
        }
    return GH_OK;
}

int conv2d_bwd_ref(const kctx *ctx, const conv2d_shape *shape, const float *x, const float *w,
                   const float *dy, float *dx, float *dw, float *db) {
    (void)ctx;
    return conv_bwd_ref("conv2d_bwd_ref", shape, x, w, dy, dx, dw, db, 0);
}

// ---- conv2d of relu(x) (kernels.h): fused on every shape here, depthwise ones on _cpu --------

int conv2d_relu_ok_ref(const kctx *ctx, const conv2d_shape *sh, int *fused) {
    (void)ctx;
    (void)sh;
    GH_NEED("conv2d_relu_ok_ref", fused);
    *fused = 1;
    return GH_OK;
}

int conv2d_relu_fwd_ref(const kctx *ctx, const conv2d_shape *shape, const float *x,
                        const float *w, const float *b, float *y) {
    (void)ctx;
    return conv_fwd_ref("conv2d_relu_fwd_ref", shape, x, w, b, y, 1);
}

int conv2d_relu_bwd_ref(const kctx *ctx, const conv2d_shape *shape, const float *x,
                        const float *w, const float *dy, float *dx, float *dw, float *db) {
    (void)ctx;
    return conv_bwd_ref("conv2d_relu_bwd_ref", shape, x, w, dy, dx, dw, db, 1);
}

int conv2d_relu_ok_cpu(const kctx *ctx, const conv2d_shape *shape, int *fused) {
    (void)ctx;
    GH_NEED("conv2d_relu_ok_cpu", fused);
    conv2d_shape sh;
    int st = conv2d_shape_check("conv2d_relu_ok_cpu", shape, &sh);
    if (st) return st;
    *fused = conv_is_depthwise(&sh);
    return GH_OK;
}

static int relu_unfused(const char *op, const conv2d_shape *sh) {
    return gh_fail(GH_EUNSUP, "%s: c=%d k=%d groups=%d %dx%d: only depthwise convs take ReLU "
                   "fused here (conv2d_relu_ok); run relu_fwd and conv2d", op, sh->c, sh->k,
                   sh->groups, sh->r, sh->s);
}

int conv2d_relu_fwd_cpu(const kctx *ctx, const conv2d_shape *shape, const float *x,
                        const float *w, const float *b, float *y) {
    static const char op[] = "conv2d_relu_fwd_cpu";
    conv2d_shape sh;
    int st = conv2d_shape_check(op, shape, &sh);
    if (st) return st;
    GH_NEED(op, x);
    GH_NEED(op, w);
    GH_NEED(op, y);
    if (!conv_is_depthwise(&sh)) return relu_unfused(op, &sh);
    return conv_dw_fwd(ctx, &sh, x, w, b, y, 1);
}

int conv2d_relu_bwd_cpu(const kctx *ctx, const conv2d_shape *shape, const float *x,
                        const float *w, const float *dy, float *dx, float *dw, float *db) {
    static const char op[] = "conv2d_relu_bwd_cpu";
    conv2d_shape sh;
    int st = conv2d_shape_check(op, shape, &sh);
    if (st) return st;
    GH_NEED(op, dy);
    if (dx) GH_NEED(op, w);
    if (dw || dx) GH_NEED(op, x);
    if (!conv_is_depthwise(&sh)) return relu_unfused(op, &sh);
    return conv_dw_bwd(ctx, &sh, x, w, dy, dx, dw, db, 1);
}

// ---- fast path: im2col + sgemm --------------------------------------------------------------

// 1x1, stride 1, no padding: the input of a group already is the [c/g, h*w] matrix.
static int conv_is_direct(const conv2d_shape *sh) {
    return sh->r == 1 && sh->s == 1 && sh->stride_h == 1 && sh->stride_w == 1 &&
           sh->pad_h == 0 && sh->pad_w == 0;
}

int conv_is_depthwise(const conv2d_shape *sh) { return sh->groups == sh->c && sh->k == sh->c; }

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

// dW as one product over the whole batch, dY [kg, n*pq] col^T, with each 4-row stripe summing
// every sample in registers: best when the planes are small (pq < 256), where per-sample
// products would spend their time in horizontal sums. Im2col convs need the column matrices
// of all samples for it, at most CONV_BATCH_COL_MAX floats (64 MiB); larger planes go per
// sample, with a private dW per thread.
#define CONV_BATCH_COL_MAX ((size_t)16 << 20)
#define CONV_BATCH_PQ 256

static int conv_dw_batched(const conv2d_shape *sh) {
    if ((size_t)sh->p * sh->q >= CONV_BATCH_PQ) return 0;
    return conv_is_direct(sh) ||
           (size_t)sh->n * sh->c * sh->r * sh->s * sh->p * sh->q <= CONV_BATCH_COL_MAX;
}

// Floats of the batch's column matrices [n, groups, crs, pq] (0: none needed).
static size_t conv_batch_col(const conv2d_shape *sh) {
    if (conv_is_direct(sh) || !conv_dw_batched(sh)) return 0;
    return (size_t)sh->n * sh->c * sh->r * sh->s * sh->p * sh->q;
}

// Floats one thread needs: the column matrix of one (sample, group) (none for direct convs)
// and a private dW when dW is not batched.
static size_t conv_gemm_per_thread(const conv2d_shape *sh) {
    size_t crs = (size_t)(sh->c / sh->groups) * sh->r * sh->s;
    size_t col = conv_is_direct(sh) ? 0 : round16(crs * sh->p * sh->q);
    return col + (conv_dw_batched(sh) ? 0 : round16((size_t)sh->k * crs));
}

size_t conv2d_ws_floats(const conv2d_shape *shape) {
    if (!shape) return 0;
    conv2d_shape sh = *shape;
    if (conv2d_shape_init(&sh)) return 0;
    if (conv_is_depthwise(&sh)) return conv_dw_per_thread(&sh) * (size_t)gh_cpu_nthreads();
    if (conv_pw_ok(&sh)) return conv_pw_ws_floats(&sh, gh_cpu_nthreads());
    size_t threads = conv_gemm_per_thread(&sh) * (size_t)gh_cpu_nthreads();
    size_t batch = conv_batch_col(&sh);
    return threads > batch ? threads : batch;
}

// The reference loops need no workspace; the fast path needs conv2d_ws_floats.
int conv2d_ws_ref(const kctx *ctx, const conv2d_shape *sh, size_t *floats) {
    (void)ctx;
    (void)sh;
    GH_NEED("conv2d_ws_ref", floats);
    *floats = 0;
    return GH_OK;
}

int conv2d_ws_cpu(const kctx *ctx, const conv2d_shape *sh, size_t *floats) {
    (void)ctx;
    GH_NEED("conv2d_ws_cpu", floats);
    *floats = conv2d_ws_floats(sh);
    return GH_OK;
}

// Threads that the workspace allows (at most gh_cpu_nthreads()); 0 with the error set.
int conv_ws_threads(const char *op, const kctx *ctx, size_t per) {
    int nt = gh_cpu_nthreads();
    if (per == 0) return nt;
    size_t have = (ctx && ctx->ws) ? ctx->ws_floats : 0;
    if (have < per) {
        gh_fail(GH_EINVAL, "%s: workspace has %zu floats, needs at least %zu for one thread "
                "(conv2d_ws_floats gives %zu for %d threads)", op, have, per, per * nt, nt);
        return 0;
    }
    if ((size_t)nt > have / per) nt = (int)(have / per);
    return nt;
}

// Column j (= i*q + jo) of the matrix for filter tap (ci, a, b) holds x[ci, i*sh - ph + a*dh,
// jo*sw - pw + b*dw], zero outside the image. [jlo, jhi) is the range of output columns whose
// tap falls inside the image row.
static void tap_cols(const conv2d_shape *sh, int b, int *jlo, int *jhi) {
    int off = b * sh->dil_w - sh->pad_w;   // input column of output column 0
    int lo = off >= 0 ? 0 : (-off + sh->stride_w - 1) / sh->stride_w;
    int hi = sh->w - 1 - off < 0 ? 0 : (sh->w - 1 - off) / sh->stride_w + 1;
    if (hi > sh->q) hi = sh->q;
    if (lo > hi) lo = hi;
    *jlo = lo;
    *jhi = hi;
}

static void im2col(const conv2d_shape *sh, int cg, const float *x, float *col) {
    size_t pq = (size_t)sh->p * sh->q;
    for (int ci = 0; ci < cg; ci++)
        for (int a = 0; a < sh->r; a++)
            for (int b = 0; b < sh->s; b++) {
                float *dst = col + (((size_t)ci * sh->r + a) * sh->s + b) * pq;
                int jlo, jhi;
                tap_cols(sh, b, &jlo, &jhi);
                int coff = b * sh->dil_w - sh->pad_w;
                for (int i = 0; i < sh->p; i++) {
                    float *d = dst + (size_t)i * sh->q;
                    int ii = i * sh->stride_h - sh->pad_h + a * sh->dil_h;
                    if (ii < 0 || ii >= sh->h) {
                        memset(d, 0, sizeof(float) * sh->q);
                        continue;
                    }
                    // row + coff + j stride is inside the row for j in [jlo, jhi)
                    const float *row = x + ((size_t)ci * sh->h + ii) * sh->w;
                    for (int j = 0; j < jlo; j++) d[j] = 0.0f;
                    if (sh->stride_w == 1)
                        memcpy(d + jlo, row + (coff + jlo), sizeof(float) * (jhi - jlo));
                    else
                        for (int j = jlo; j < jhi; j++) d[j] = row[coff + j * sh->stride_w];
                    for (int j = jhi; j < sh->q; j++) d[j] = 0.0f;
                }
            }
}

// The adjoint of im2col: dx += the column matrix scattered back onto the image.
static void col2im_add(const conv2d_shape *sh, int cg, const float *col, float *dx) {
    size_t pq = (size_t)sh->p * sh->q;
    for (int ci = 0; ci < cg; ci++)
        for (int a = 0; a < sh->r; a++)
            for (int b = 0; b < sh->s; b++) {
                const float *srcm = col + (((size_t)ci * sh->r + a) * sh->s + b) * pq;
                int jlo, jhi;
                tap_cols(sh, b, &jlo, &jhi);
                int coff = b * sh->dil_w - sh->pad_w;
                for (int i = 0; i < sh->p; i++) {
                    int ii = i * sh->stride_h - sh->pad_h + a * sh->dil_h;
                    if (ii < 0 || ii >= sh->h) continue;
                    const float *s = srcm + (size_t)i * sh->q;
                    float *row = dx + ((size_t)ci * sh->h + ii) * sh->w;
                    for (int j = jlo; j < jhi; j++) row[coff + j * sh->stride_w] += s[j];
                }
            }
}

static void add_bias_rows(int rows, size_t len, const float *b, float *y) {
    for (int k = 0; k < rows; k++) {
        float bk = b[k];
        float *yr = y + (size_t)k * len;
        for (size_t e = 0; e < len; e++) yr[e] += bk;
    }
}

int conv2d_fwd_cpu(const kctx *ctx, const conv2d_shape *shape, const float *x, const float *w,
                   const float *b, float *y) {
    static const char op[] = "conv2d_fwd_cpu";
    conv2d_shape sh;
    int st = conv2d_shape_check(op, shape, &sh);
    if (st) return st;
    GH_NEED(op, x);
    GH_NEED(op, w);
    GH_NEED(op, y);
    if (conv_is_depthwise(&sh)) return conv_dw_fwd(ctx, &sh, x, w, b, y, 0);
    if (conv_pw_ok(&sh)) return conv_pw_fwd(ctx, &sh, x, w, b, y);

    int cg = sh.c / sh.groups, kg = sh.k / sh.groups;
    int crs = cg * sh.r * sh.s, direct = conv_is_direct(&sh);
    size_t pq = (size_t)sh.p * sh.q, hw = (size_t)sh.h * sh.w;
    size_t per = round16(direct ? 0 : (size_t)crs * pq);   // forward needs no private dW
    int nt = conv_ws_threads(op, ctx, per);
    if (!nt) return GH_EINVAL;
    int items = sh.n * sh.groups;
    if (items < nt) nt = items;
#pragma omp parallel num_threads(nt)
    {
        float *col = per ? ctx->ws + (size_t)omp_get_thread_num() * per : NULL;
#pragma omp for schedule(static)
        for (int it = 0; it < items; it++) {
            int n = it / sh.groups, g = it % sh.groups;
            const float *xg = x + ((size_t)n * sh.c + (size_t)g * cg) * hw;
            float *yg = y + ((size_t)n * sh.k + (size_t)g * kg) * pq;
            const float *bm = xg;
            if (!direct) {
                im2col(&sh, cg, xg, col);
                bm = col;
            }
            // Y_g [kg, pq] = W_g [kg, crs] col [crs, pq]
            gh_cpu_gemm(kg, (int)pq, crs, w + (size_t)g * kg * crs, crs, 1, bm, (ptrdiff_t)pq, yg,
                        (ptrdiff_t)pq, 0);
            if (b) add_bias_rows(kg, pq, b + (size_t)g * kg, yg);
        }
    }
    return GH_OK;
}

int conv2d_bwd_cpu(const kctx *ctx, const conv2d_shape *shape, const float *x, const float *w,
                   const float *dy, float *dx, float *dw, float *db) {
    static const char op[] = "conv2d_bwd_cpu";
    conv2d_shape sh;
    int st = conv2d_shape_check(op, shape, &sh);
    if (st) return st;
    GH_NEED(op, dy);
    if (dx) GH_NEED(op, w);
    if (dw) GH_NEED(op, x);
    if (conv_is_depthwise(&sh)) return conv_dw_bwd(ctx, &sh, x, w, dy, dx, dw, db, 0);
    if (conv_pw_ok(&sh)) {
        st = conv_pw_bwd(ctx, &sh, x, w, dy, dx, dw);
        if (st) return st;
        if (db) conv_db_add(&sh, dy, db);
        return GH_OK;
    }

    int cg = sh.c / sh.groups, kg = sh.k / sh.groups;
    int crs = cg * sh.r * sh.s, direct = conv_is_direct(&sh);
    size_t pq = (size_t)sh.p * sh.q, hw = (size_t)sh.h * sh.w;
    size_t wsize = (size_t)sh.k * crs;
    int batched = conv_dw_batched(&sh);
    if (dw && batched) {
        // B_s = the [crs, pq] column matrix of sample s: x itself for direct convs
        const float *cols = x;
        ptrdiff_t colstride = (ptrdiff_t)sh.c * hw, gstride = (ptrdiff_t)cg * hw;
        size_t bcol = conv_batch_col(&sh);
        if (bcol) {
            size_t have = ctx && ctx->ws ? ctx->ws_floats : 0;
            if (have < bcol)
                return gh_fail(GH_EINVAL, "%s: workspace has %zu floats, needs %zu for the "
                               "column matrices of the batch (conv2d_ws_floats)", op, have, bcol);
            int items = sh.n * sh.groups;
#pragma omp parallel for schedule(static) if (bcol >= GH_CPU_PAR_MIN)
            for (int it = 0; it < items; it++)
                im2col(&sh, cg, x + (size_t)it * cg * hw, ctx->ws + (size_t)it * crs * pq);
            cols = ctx->ws;   // [n, groups, crs, pq]
            colstride = (ptrdiff_t)sh.groups * crs * pq;
            gstride = (ptrdiff_t)crs * pq;
        }
        // dW_g [kg, crs] += sum_s dY_g,s [kg, pq] B_s^T, by 4-row stripes over the threads
        // (no partials: the result does not depend on the thread count)
        int stripes = (kg + 3) / 4, jobs = sh.groups * stripes;
#pragma omp parallel for schedule(static) if ((size_t)sh.n * sh.k * crs * pq >= GH_CPU_PAR_MIN)
        for (int it = 0; it < jobs; it++) {
            int g = it / stripes, i0 = (it % stripes) * 4, rows = kg - i0 < 4 ? kg - i0 : 4;
            gh_cpu_gemm_nt(rows, crs, (int)pq, sh.n, dy + ((size_t)g * kg + i0) * pq, (ptrdiff_t)pq,
                           (ptrdiff_t)sh.k * pq, cols + g * gstride, (ptrdiff_t)pq, colstride,
                           dw + ((size_t)g * kg + i0) * crs, crs);
        }
    }
    if (dx || (dw && !batched)) {
        size_t colsz = direct ? 0 : round16((size_t)crs * pq);
        int wpart = dw && !batched;
        size_t per = colsz + (wpart ? round16(wsize) : 0);
        int nt = conv_ws_threads(op, ctx, per);
        if (!nt) return GH_EINVAL;
        int items = sh.n * sh.groups;
        if (items < nt) nt = items;
#pragma omp parallel num_threads(nt)
        {
            float *col = per ? ctx->ws + (size_t)omp_get_thread_num() * per : NULL;
            float *dwp = wpart ? col + colsz : NULL;   // this thread's dW, summed in thread order
            if (dwp) memset(dwp, 0, sizeof(float) * wsize);
#pragma omp for schedule(static)
            for (int it = 0; it < items; it++) {
                int n = it / sh.groups, g = it % sh.groups;
                const float *dyg = dy + ((size_t)n * sh.k + (size_t)g * kg) * pq;
                size_t xoff = ((size_t)n * sh.c + (size_t)g * cg) * hw;
                if (wpart) {
                    // dW_g [kg, crs] += dY_g [kg, pq] col^T, col [crs, pq], one sample
                    const float *bm = x + xoff;
                    if (!direct) {
                        im2col(&sh, cg, x + xoff, col);
                        bm = col;
                    }
                    gh_cpu_gemm_nt(kg, crs, (int)pq, 1, dyg, (ptrdiff_t)pq, 0, bm, (ptrdiff_t)pq,
                                   0, dwp + (size_t)g * kg * crs, crs);
                }
                if (dx) {
                    // dcol [crs, pq] = W_g^T dY_g; direct convs add it into dx itself
                    const float *wg = w + (size_t)g * kg * crs;
                    if (direct)
                        gh_cpu_gemm(crs, (int)pq, kg, wg, 1, crs, dyg, (ptrdiff_t)pq, dx + xoff,
                                    (ptrdiff_t)pq, 1);
                    else {
                        gh_cpu_gemm(crs, (int)pq, kg, wg, 1, crs, dyg, (ptrdiff_t)pq, col,
                                    (ptrdiff_t)pq, 0);
                        col2im_add(&sh, cg, col, dx + xoff);
                    }
                }
            }
            if (wpart) {
                int team = omp_get_num_threads();
#pragma omp for schedule(static)
                for (size_t e = 0; e < wsize; e++) {
                    float acc = 0.0f;
                    for (int t = 0; t < team; t++) acc += ctx->ws[(size_t)t * per + colsz + e];
                    dw[e] += acc;
                }
            }
        }
    }
    if (db) conv_db_add(&sh, dy, db);
    return GH_OK;
}

// db[k] += sum over n and the output plane of dy; planes summed in float, samples in double.
void conv_db_add(const conv2d_shape *sh, const float *dy, float *db) {
    size_t pq = (size_t)sh->p * sh->q;
#pragma omp parallel for schedule(static) if ((size_t)sh->n * sh->k * pq >= GH_CPU_PAR_MIN)
    for (int k = 0; k < sh->k; k++) {
        double acc = 0.0;
        for (int n = 0; n < sh->n; n++) {
            const float *d = dy + ((size_t)n * sh->k + k) * pq;
            float s = 0.0f;
#pragma omp simd reduction(+ : s)
            for (size_t e = 0; e < pq; e++) s += d[e];
            acc += s;
        }
        db[k] += (float)acc;
    }
}
