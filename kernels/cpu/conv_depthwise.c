// Depthwise conv2d (groups == c == k) on the host by direct loops, one (sample, channel) plane
// per OpenMP iteration. Stride 1 goes to the flat correlations of conv_dw_flat.c; the general
// case here copies the plane zero-padded into a per-thread buffer whose columns are split by
// stride phase, so that every filter tap reads a contiguous run and vectorises. The conv of
// relu(x) (conv2d_relu_*) applies ReLU in that copy and masks dx where it is copied back.
#include <omp.h>
#include <string.h>

#include "conv_internal.h"

// Phase-split padded plane: padded (row, col) lives at [(col % sw) * hp + row] * wph + col / sw.
// Only the rows and columns that some tap reaches are kept.
typedef struct {
    int hp, wp;    // padded rows and columns the taps reach
    int sw, wph;   // phases (= stride_w) and columns per phase
    size_t plane;  // floats of one buffer, rounded up to 16
} dw_geo;

static dw_geo dw_geometry(const conv2d_shape *sh) {
    dw_geo g;
    g.hp = (sh->p - 1) * sh->stride_h + (sh->r - 1) * sh->dil_h + 1;
    g.wp = (sh->q - 1) * sh->stride_w + (sh->s - 1) * sh->dil_w + 1;
    g.sw = sh->stride_w;
    g.wph = (g.wp + g.sw - 1) / g.sw;
    g.plane = ((size_t)g.sw * g.hp * g.wph + 15) & ~(size_t)15;
    return g;
}

static inline size_t dw_at(const dw_geo *g, int row, int col) {
    return ((size_t)(col % g->sw) * g->hp + row) * g->wph + col / g->sw;
}

size_t conv_dw_per_thread(const conv2d_shape *sh) {
    if (conv_dwflat_ok(sh)) return conv_dwflat_per_thread(sh);
    dw_geo g = dw_geometry(sh);
    return 2 * g.plane + (((size_t)sh->c * sh->r * sh->s + 15) & ~(size_t)15);
}

// The first source column jj >= 0 whose padded column jj + pad lies in stride phase ph.
static inline int dw_phase_first(const dw_geo *g, int pad, int ph) {
    return ((ph - pad) % g->sw + g->sw) % g->sw;
}

// buf = the zero-padded plane x [h, w] (relu: relu(x), the fused ReLU) in phase-split layout.
static void dw_fill(const conv2d_shape *sh, const dw_geo *g, const float *x, float *buf,
                    int relu) {
    memset(buf, 0, sizeof(float) * g->plane);
    int wlim = g->wp - sh->pad_w < sh->w ? g->wp - sh->pad_w : sh->w;   // columns reached
    for (int ii = 0; ii < sh->h && ii + sh->pad_h < g->hp; ii++) {
        const float *src = x + (size_t)ii * sh->w;
        int row = ii + sh->pad_h;
        if (!relu && g->sw == 1) {
            memcpy(buf + dw_at(g, row, sh->pad_w), src, sizeof(float) * (wlim > 0 ? wlim : 0));
            continue;
        }
        // phase by phase: the columns of one phase are contiguous in buf (no division per
        // element, and ReLU as a blend, not a branch on the sign)
        for (int ph = 0; ph < g->sw; ph++) {
            int j0 = dw_phase_first(g, sh->pad_w, ph);
            if (j0 >= wlim) continue;
            float *restrict d = buf + dw_at(g, row, j0 + sh->pad_w);
            const int n = (wlim - j0 + g->sw - 1) / g->sw;
            const float *restrict s = src + j0;
            if (relu) {
#pragma omp simd
                for (int t = 0; t < n; t++) d[t] = conv_relu(s[(size_t)t * g->sw]);
            } else
                for (int t = 0; t < n; t++) d[t] = s[(size_t)t * g->sw];
        }
    }
}

// y [p, q] = bias + sum over taps of w[a, b] * (padded x shifted by the tap)
GH_CPU_CLONES
static void dw_plane_fwd(const conv2d_shape *sh, const dw_geo *g, const float *buf,
                         const float *wk, float bias, float *y) {
    const int q = sh->q;
    for (int i = 0; i < sh->p; i++) {
        float *restrict yr = y + (size_t)i * q;
        for (int j = 0; j < q; j++) yr[j] = bias;
        for (int a = 0; a < sh->r; a++) {
            int row = i * sh->stride_h + a * sh->dil_h;
            for (int b = 0; b < sh->s; b++) {
                const float *restrict src = buf + dw_at(g, row, b * sh->dil_w);
                const float wv = wk[a * sh->s + b];
#pragma omp simd
                for (int j = 0; j < q; j++) yr[j] += wv * src[j];
            }
        }
    }
}

// dbuf (padded, phase-split, zeroed by the caller) += the transposed convolution of dy.
GH_CPU_CLONES
static void dw_plane_bwd_data(const conv2d_shape *sh, const dw_geo *g, const float *dy,
                              const float *wk, float *dbuf) {
    const int q = sh->q;
    for (int i = 0; i < sh->p; i++) {
        const float *restrict dyr = dy + (size_t)i * q;
        for (int a = 0; a < sh->r; a++) {
            int row = i * sh->stride_h + a * sh->dil_h;
            for (int b = 0; b < sh->s; b++) {
                float *restrict dst = dbuf + dw_at(g, row, b * sh->dil_w);
                const float wv = wk[a * sh->s + b];
#pragma omp simd
                for (int j = 0; j < q; j++) dst[j] += wv * dyr[j];
            }
        }
    }
}

// dwk[a, b] += <dy, padded x shifted by the tap>
GH_CPU_CLONES
static void dw_plane_bwd_filter(const conv2d_shape *sh, const dw_geo *g, const float *buf,
                                const float *dy, float *dwk) {
    const int q = sh->q;
    for (int a = 0; a < sh->r; a++)
        for (int b = 0; b < sh->s; b++) {
            float acc = 0.0f;
            for (int i = 0; i < sh->p; i++) {
                const float *restrict src =
                    buf + dw_at(g, i * sh->stride_h + a * sh->dil_h, b * sh->dil_w);
                const float *restrict dyr = dy + (size_t)i * q;
#pragma omp simd reduction(+ : acc)
                for (int j = 0; j < q; j++) acc += dyr[j] * src[j];
            }
            dwk[a * sh->s + b] += acc;
        }
}

// dx [h, w] += the interior of the padded gradient plane; where xm (the plane of x of a fused
// ReLU, else NULL) is not > 0, nothing (relu_bwd's expression).
static void dw_unfill_add(const conv2d_shape *sh, const dw_geo *g, const float *dbuf, float *dx,
                          const float *xm) {
    int wlim = g->wp - sh->pad_w < sh->w ? g->wp - sh->pad_w : sh->w;
    for (int ii = 0; ii < sh->h && ii + sh->pad_h < g->hp; ii++) {
        float *d = dx + (size_t)ii * sh->w;
        int row = ii + sh->pad_h;
        if (xm && g->sw == 1) {
            const float *restrict m = xm + (size_t)ii * sh->w;
            const float *restrict s = dbuf + dw_at(g, row, sh->pad_w);
#pragma omp simd
            for (int jj = 0; jj < wlim; jj++) d[jj] += m[jj] > 0.0f ? s[jj] : 0.0f;
        } else if (xm) {
            // phase by phase, as dw_fill
            const float *m = xm + (size_t)ii * sh->w;
            for (int ph = 0; ph < g->sw; ph++) {
                int j0 = dw_phase_first(g, sh->pad_w, ph);
                if (j0 >= wlim) continue;
                const float *restrict s = dbuf + dw_at(g, row, j0 + sh->pad_w);
                const int n = (wlim - j0 + g->sw - 1) / g->sw;
                for (int t = 0; t < n; t++) {
                    size_t jj = (size_t)j0 + (size_t)t * g->sw;
                    d[jj] += conv_keep_pos(m[jj], s[t]);
                }
            }
        } else if (g->sw == 1) {
            const float *s = dbuf + dw_at(g, row, sh->pad_w);
            for (int jj = 0; jj < wlim; jj++) d[jj] += s[jj];
        } else
            for (int jj = 0; jj < wlim; jj++) d[jj] += dbuf[dw_at(g, row, jj + sh->pad_w)];
    }
}

int conv_dw_fwd(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
                const float *b, float *y, int relu) {
    if (conv_dwflat_ok(sh)) return conv_dwflat_fwd(ctx, sh, x, w, b, y, relu);
    dw_geo g = dw_geometry(sh);
    int nt = conv_ws_threads("conv2d_fwd_cpu", ctx, g.plane);
    if (!nt) return GH_EINVAL;
    int planes = sh->n * sh->c, rs = sh->r * sh->s;
    size_t hw = (size_t)sh->h * sh->w, pq = (size_t)sh->p * sh->q;
    if (planes < nt) nt = planes;
#pragma omp parallel num_threads(nt)
    {
        float *buf = ctx->ws + (size_t)omp_get_thread_num() * g.plane;
#pragma omp for schedule(static)
        for (int pl = 0; pl < planes; pl++) {
            int c = pl % sh->c;
            dw_fill(sh, &g, x + (size_t)pl * hw, buf, relu);
            dw_plane_fwd(sh, &g, buf, w + (size_t)c * rs, b ? b[c] : 0.0f, y + (size_t)pl * pq);
        }
    }
    return GH_OK;
}

int conv_dw_bwd(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
                const float *dy, float *dx, float *dw, float *db, int relu) {
    if ((dx || dw) && conv_dwflat_ok(sh)) {
        int st = conv_dwflat_bwd(ctx, sh, x, w, dy, dx, dw, relu);
        if (st) return st;
    } else if (dx || dw) {
        dw_geo g = dw_geometry(sh);
        int rs = sh->r * sh->s;
        size_t wsize = (size_t)sh->c * rs, wpad = (wsize + 15) & ~(size_t)15;
        size_t per = (dw ? g.plane + wpad : 0) + (dx ? g.plane : 0);
        int nt = conv_ws_threads("conv2d_bwd_cpu", ctx, per);
        if (!nt) return GH_EINVAL;
        int planes = sh->n * sh->c;
        size_t hw = (size_t)sh->h * sh->w, pq = (size_t)sh->p * sh->q;
        if (planes < nt) nt = planes;
#pragma omp parallel num_threads(nt)
        {
            float *mine = ctx->ws + (size_t)omp_get_thread_num() * per;
            float *dwp = dw ? mine : NULL;                      // this thread's dW
            float *xbuf = dw ? mine + wpad : NULL;              // padded x plane
            float *dbuf = dx ? mine + (dw ? wpad + g.plane : 0) : NULL;  // padded dx plane
            if (dwp) memset(dwp, 0, sizeof(float) * wsize);
#pragma omp for schedule(static)
            for (int pl = 0; pl < planes; pl++) {
                int c = pl % sh->c;
                const float *dyp = dy + (size_t)pl * pq;
                if (dw) {
                    dw_fill(sh, &g, x + (size_t)pl * hw, xbuf, relu);
                    dw_plane_bwd_filter(sh, &g, xbuf, dyp, dwp + (size_t)c * rs);
                }
                if (dx) {
                    memset(dbuf, 0, sizeof(float) * g.plane);
                    dw_plane_bwd_data(sh, &g, dyp, w + (size_t)c * rs, dbuf);
                    dw_unfill_add(sh, &g, dbuf, dx + (size_t)pl * hw,
                                  relu ? x + (size_t)pl * hw : NULL);
                }
            }
            if (dw) {
                int team = omp_get_num_threads();
#pragma omp for schedule(static)
                for (size_t e = 0; e < wsize; e++) {
                    float acc = 0.0f;
                    for (int t = 0; t < team; t++) acc += ctx->ws[(size_t)t * per + e];
                    dw[e] += acc;
                }
            }
        }
    }
    if (db) conv_db_add(sh, dy, db);
    return GH_OK;
}
