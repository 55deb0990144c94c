// Stride-1 depthwise conv2d on the host as "flat" correlations: a zero-padded plane of row
// pitch W is read as one long vector, so output m = i*W + j of every tap is in[m + a*dh*W +
// b*dw] and each tap is a single long vector loop (the columns j >= q are computed and
// dropped). Forward correlates padded x with w; the input gradient correlates padded dy with
// the flipped filter; the filter gradient is one long dot product per tap. Register-blocked
// with GCC vector types, which lower to AVX-512, AVX2 or SSE in the per-ISA clones.
#include <omp.h>
#include <string.h>

#include "conv_internal.h"

// The FMA contraction that -std=c11 turns off: these loops are compared with tolerances.
#pragma GCC optimize("fp-contract=fast")

typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4), may_alias));

// unaligned load and store (macros: a function returning a vector trips -Wpsabi in the
// baseline clone)
#define ld(p) (*(const v16u *)(p))
#define st(p, v) (*(v16u *)(p) = (v))

#define FLAT_MAX_TAPS 64    // larger filters take the phase-split path
#define FLAT_TAP_GROUP 5    // filter-gradient accumulators per pass (fits AVX2's 16 registers)

// Geometry of one plane: padded input (hin x win) and its correlation output (hout x wout).
typedef struct {
    int hin, win, hout, wout;
    int top, left;      // where the unpadded source starts inside the padded buffer
    int src_h, src_w;   // source plane size
    size_t len;         // flat outputs computed: (hout-1)*win + wout rounded up to 16
    size_t buf;         // floats of a padded buffer, with slack for the rounded tail
} flat_geo;

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

// Rows of 8 (the DARTS 8x8 cells): one 8-float vector per row, the padded plane on a pitch of
// ROW8_PITCH with the source at column ROW8_LEFT, so that no computed column is dropped, no
// output buffer is copied out and the short-row loops of the flat path (tails longer than
// their bodies) are gone. Columns read: ROW8_LEFT - left + [0, 7 + (s-1) dw] must fit the pitch.
#define ROW8_PITCH 32
#define ROW8_LEFT 8
static int row8_geo(const flat_geo *g) {
    return g->src_w == 8 && g->wout == 8 && g->left <= ROW8_LEFT &&
           ROW8_LEFT - g->left + (g->win - 8) + 8 <= ROW8_PITCH;
}

static flat_geo flat_make(int src_h, int src_w, int top, int left, int hin, int win, int hout,
                          int wout, int r, int s, int dh, int dw) {
    flat_geo g = {hin, win, hout, wout, top, left, src_h, src_w, 0, 0};
    g.len = round16((size_t)(hout - 1) * win + wout);
    // reads reach len - 1 + (r-1) dh win + (s-1) dw; outputs are kept up to hout*win
    size_t reach = g.len + (size_t)(r - 1) * dh * win + (size_t)(s - 1) * dw;
    size_t need = (size_t)hin * win > reach ? (size_t)hin * win : reach;
    size_t out = round16((size_t)hout * win);
    // + (s-1) dw + 32: the filter gradient runs over round16(hout*win) outputs, up to
    // win - wout = (s-1) dw + 15 more than len
    g.buf = round16((need > out ? need : out) + (size_t)(s - 1) * dw + 32);
    if (row8_geo(&g) && g.buf < (size_t)hin * ROW8_PITCH) g.buf = (size_t)hin * ROW8_PITCH;
    return g;
}

// forward: x padded by (pad_h, pad_w) on every side
static flat_geo flat_fwd_geo(const conv2d_shape *sh) {
    return flat_make(sh->h, sh->w, sh->pad_h, sh->pad_w, sh->h + 2 * sh->pad_h,
                     sh->w + 2 * sh->pad_w, sh->p, sh->q, sh->r, sh->s, sh->dil_h, sh->dil_w);
}

// input gradient: dy padded by ((r-1) dh - pad_h, (s-1) dw - pad_w), output h x w
static flat_geo flat_bwd_geo(const conv2d_shape *sh) {
    int eh = (sh->r - 1) * sh->dil_h, ew = (sh->s - 1) * sh->dil_w;
    return flat_make(sh->p, sh->q, eh - sh->pad_h, ew - sh->pad_w, sh->h + eh, sh->w + ew, sh->h,
                     sh->w, sh->r, sh->s, sh->dil_h, sh->dil_w);
}

int conv_dwflat_ok(const conv2d_shape *sh) {
    return sh->stride_h == 1 && sh->stride_w == 1 && sh->r * sh->s <= FLAT_MAX_TAPS &&
           sh->pad_h <= (sh->r - 1) * sh->dil_h && sh->pad_w <= (sh->s - 1) * sh->dil_w;
}

// Per thread: private dW, lane accumulators of one channel's taps, padded x, dy on x's pitch
// (filter gradient), padded dy, flat output.
size_t conv_dwflat_per_thread(const conv2d_shape *sh) {
    flat_geo f = flat_fwd_geo(sh), b = flat_bwd_geo(sh);
    return round16((size_t)sh->c * sh->r * sh->s) + 16 * (size_t)sh->r * sh->s + 3 * f.buf + b.buf;
}

// buf = zero border around the source plane, relu(plane) for a fused ReLU (plain loops, not
// memset/memcpy: the rows of a DARTS plane are 8 to 32 floats, where a libc call costs more
// than the copy)
GH_CPU_CLONES
static void flat_fill(const flat_geo *g, const float *src, float *buf, int relu) {
    for (size_t e = 0; e < g->buf; e++) buf[e] = 0.0f;
    for (int i = 0; i < g->src_h; i++) {
        float *restrict d = buf + (size_t)(i + g->top) * g->win + g->left;
        const float *restrict s = src + (size_t)i * g->src_w;
        if (relu) {
#pragma omp simd
            for (int j = 0; j < g->src_w; j++) d[j] = conv_relu(s[j]);
        } else
            for (int j = 0; j < g->src_w; j++) d[j] = s[j];
    }
}

static void flat_zero(const flat_geo *g, float *buf) { memset(buf, 0, sizeof(float) * g->buf); }

// dst [h, w] += src (row pitch spitch) where the plane xm (of a fused ReLU's x) is > 0:
// relu_bwd's expression on the gradient of relu(x)
GH_CPU_CLONES
static void flat_out_masked(int rows, int cols, const float *src, int spitch, const float *xm,
                            float *dst) {
    for (int i = 0; i < rows; i++) {
        const float *restrict s = src + (size_t)i * spitch;
        const float *restrict m = xm + (size_t)i * cols;
        float *restrict d = dst + (size_t)i * cols;
#pragma omp simd
        for (int j = 0; j < cols; j++) d[j] += m[j] > 0.0f ? s[j] : 0.0f;
    }
}

// dst (accumulate ? += : =) src + bias, rows x cols, with row pitches spitch and dpitch
GH_CPU_CLONES
static void flat_out(int rows, int cols, const float *src, int spitch, float bias, float *dst,
                     int dpitch, int accumulate) {
    for (int i = 0; i < rows; i++) {
        const float *restrict s = src + (size_t)i * spitch;
        float *restrict d = dst + (size_t)i * dpitch;
        if (accumulate)
            for (int j = 0; j < cols; j++) d[j] += s[j];
        else
            for (int j = 0; j < cols; j++) d[j] = s[j] + bias;
    }
}

// out[m] = sum_t wt[t] in[m + off[t]] for m < len (a multiple of 16), 64 outputs per step
GH_CPU_CLONES
static void flat_corr(const float *in, size_t len, int nt, const int *off, const float *wt,
                      float *out) {
    size_t m = 0;
    for (; m + 64 <= len; m += 64) {
        v16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        for (int t = 0; t < nt; t++) {
            const float *p = in + m + off[t];
            const float w = wt[t];
            a0 += w * ld(p);
            a1 += w * ld(p + 16);
            a2 += w * ld(p + 32);
            a3 += w * ld(p + 48);
        }
        st(out + m, a0);
        st(out + m + 16, a1);
        st(out + m + 32, a2);
        st(out + m + 48, a3);
    }
    for (; m < len; m += 16) {
        v16 a0 = {0};
        for (int t = 0; t < nt; t++) a0 += wt[t] * ld(in + m + off[t]);
        st(out + m, a0);
    }
}

// Lane-wise vacc[t] += g[m..m+15] in[m + off[t] ..] over m < len (a multiple of 16), for each
// tap t; FLAT_TAP_GROUP taps per pass over g, a short last group repeating tap t0 and dropping
// the copies. The 16 lanes are summed only when the channel changes (flat_flush).
GH_CPU_CLONES
static void flat_dot_taps(const float *g, size_t len, const float *in, int nt, const int *off,
                          float *vacc) {
    for (int t0 = 0; t0 < nt; t0 += FLAT_TAP_GROUP) {
        int tn = nt - t0 < FLAT_TAP_GROUP ? nt - t0 : FLAT_TAP_GROUP;
        const float *p[FLAT_TAP_GROUP];
        v16 a[FLAT_TAP_GROUP] = {{0}};
        for (int t = 0; t < FLAT_TAP_GROUP; t++) p[t] = in + off[t0 + (t < tn ? t : 0)];
        for (size_t m = 0; m < len; m += 16) {
            v16 gv = ld(g + m);
            for (int t = 0; t < FLAT_TAP_GROUP; t++) a[t] += gv * ld(p[t] + m);
        }
        for (int t = 0; t < tn; t++) st(vacc + 16 * (t0 + t), ld(vacc + 16 * (t0 + t)) + a[t]);
    }
}

// dwk[t] += the 16 lanes of vacc[t]; vacc = 0
static void flat_flush(int nt, float *vacc, float *dwk) {
    for (int t = 0; t < nt; t++) {
        float s = 0.0f;
        for (int l = 0; l < 16; l++) s += vacc[16 * t + l];
        dwk[t] += s;
    }
    memset(vacc, 0, sizeof(float) * 16 * nt);
}

// Tap offsets and weights of a filter read on pitch `win`; flip: the adjoint's rotated filter.
static int flat_taps(const conv2d_shape *sh, int win, const float *wk, int flip, int *off,
                     float *wt) {
    int nt = sh->r * sh->s;
    for (int a = 0; a < sh->r; a++)
        for (int b = 0; b < sh->s; b++) {
            int t = a * sh->s + b;
            off[t] = a * sh->dil_h * win + b * sh->dil_w;
            if (wt) wt[t] = flip ? wk[nt - 1 - t] : wk[t];
        }
    return nt;
}

typedef float v8 __attribute__((vector_size(32)));
typedef int v8i __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4), may_alias));
#define ld8(p) (*(const v8u *)(p))
#define st8(p, v) (*(v8u *)(p) = (v))
// v where keep's lanes are all ones, +0 where they are zero
#define keep8(v, keep) ((v8)((v8i)(v) & (keep)))

// buf's interior rows = the plane src [src_h, 8] (relu: conv_relu of it, lane by lane: NaN
// kept, everything not > 0 becomes +0); the border is zeroed once per thread (flat_zero):
// every plane writes the same interior, so it stays zero
GH_CPU_CLONES
static void row8_fill(const flat_geo *g, const float *src, float *buf, int relu) {
    for (int i = 0; i < g->src_h; i++) {
        v8 v = ld8(src + (size_t)i * 8);
        if (relu) v = keep8(v, (v > (v8){0}) | (v != v));
        st8(buf + (size_t)(i + g->top) * ROW8_PITCH + ROW8_LEFT, v);
    }
}

// out row i (accumulate ? += : = bias +) sum_t wt[t] buf row (i + tap row), shifted by the tap
// column, for i < hout; 8 rows at a time in registers, taps outer. xm (accumulate only: the
// plane of a fused ReLU's x, else NULL): a sum is added only where xm > 0 (relu_bwd's mask).
GH_CPU_CLONES
static void row8_corr(const flat_geo *g, const float *buf, int nt, const int *off,
                      const float *wt, float bias, float *out, int accumulate, const float *xm) {
    const float *base = buf + ROW8_LEFT - g->left;
    int i = 0;
    for (; i + 8 <= g->hout; i += 8) {
        v8 a[8];
        for (int k = 0; k < 8; k++) a[k] = (v8){0} + (accumulate ? 0.0f : bias);
        const float *row = base + (size_t)i * ROW8_PITCH;
        for (int t = 0; t < nt; t++) {
            const float w = wt[t];
            for (int k = 0; k < 8; k++) a[k] += w * ld8(row + k * ROW8_PITCH + off[t]);
        }
        float *o = out + (size_t)i * 8;
        if (xm)
            for (int k = 0; k < 8; k++) {
                v8 m = ld8(xm + (size_t)(i + k) * 8);
                a[k] = keep8(a[k], m > (v8){0});
            }
        for (int k = 0; k < 8; k++) {
            if (accumulate) a[k] += ld8(o + 8 * k);
            st8(o + 8 * k, a[k]);
        }
    }
    for (; i < g->hout; i++) {
        v8 a = (v8){0} + (accumulate ? 0.0f : bias);
        const float *row = base + (size_t)i * ROW8_PITCH;
        for (int t = 0; t < nt; t++) a += wt[t] * ld8(row + off[t]);
        float *o = out + (size_t)i * 8;
        if (xm) a = keep8(a, ld8(xm + (size_t)i * 8) > (v8){0});
        if (accumulate) a += ld8(o);
        st8(o, a);
    }
}

// vacc[t] (first 8 lanes) += sum_i dy row i * buf row (i + tap row) shifted by the tap column
GH_CPU_CLONES
static void row8_dot_taps(const flat_geo *g, const float *dy, int rows, const float *buf,
                          int nt, const int *off, float *vacc) {
    const float *base = buf + ROW8_LEFT - g->left;
    int i = 0;
    for (; i + 8 <= rows; i += 8) {
        v8 d[8];
        for (int k = 0; k < 8; k++) d[k] = ld8(dy + (size_t)(i + k) * 8);
        const float *row = base + (size_t)i * ROW8_PITCH;
        for (int t = 0; t < nt; t++) {
            v8 a = {0}, b = {0};
            for (int k = 0; k < 8; k += 2) {
                a += d[k] * ld8(row + k * ROW8_PITCH + off[t]);
                b += d[k + 1] * ld8(row + (k + 1) * ROW8_PITCH + off[t]);
            }
            st8(vacc + 16 * t, ld8(vacc + 16 * t) + a + b);
        }
    }
    for (; i < rows; i++) {
        v8 d = ld8(dy + (size_t)i * 8);
        const float *row = base + (size_t)i * ROW8_PITCH;
        for (int t = 0; t < nt; t++) st8(vacc + 16 * t, ld8(vacc + 16 * t) + d * ld8(row + off[t]));
    }
}

int conv_dwflat_fwd(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
                    const float *b, float *y, int relu) {
    flat_geo g = flat_fwd_geo(sh);
    int row8 = row8_geo(&g);
    size_t per = 2 * g.buf;
    int nt = conv_ws_threads("conv2d_fwd_cpu", ctx, per);
    if (!nt) return GH_EINVAL;
    int planes = sh->n * sh->c, rs = sh->r * sh->s;
    size_t hw = (size_t)sh->h * sh->w, pq = (size_t)sh->p * sh->q;
    if (planes < nt) nt = planes;
#pragma omp parallel num_threads(nt)
    {
        float *xb = ctx->ws + (size_t)omp_get_thread_num() * per, *ob = xb + g.buf;
        int off[FLAT_MAX_TAPS];
        float wt[FLAT_MAX_TAPS];
        if (row8) flat_zero(&g, xb);
#pragma omp for schedule(static)
        for (int pl = 0; pl < planes; pl++) {
            int c = pl % sh->c;
            if (row8) {
                row8_fill(&g, x + (size_t)pl * hw, xb, relu);
                int taps = flat_taps(sh, ROW8_PITCH, w + (size_t)c * rs, 0, off, wt);
                row8_corr(&g, xb, taps, off, wt, b ? b[c] : 0.0f, y + (size_t)pl * pq, 0, NULL);
                continue;
            }
            flat_fill(&g, x + (size_t)pl * hw, xb, relu);
            int taps = flat_taps(sh, g.win, w + (size_t)c * rs, 0, off, wt);
            flat_corr(xb, g.len, taps, off, wt, ob);
            flat_out(sh->p, sh->q, ob, g.win, b ? b[c] : 0.0f, y + (size_t)pl * pq, sh->q, 0);
        }
    }
    return GH_OK;
}

int conv_dwflat_bwd(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
                    const float *dy, float *dx, float *dw, int relu) {
    flat_geo gf = flat_fwd_geo(sh), gb = flat_bwd_geo(sh);
    int row8 = row8_geo(&gf) && row8_geo(&gb);
    int rs = sh->r * sh->s;
    size_t wsize = (size_t)sh->c * rs, wpad = round16(wsize);
    size_t per = conv_dwflat_per_thread(sh);
    int nt = conv_ws_threads("conv2d_bwd_cpu", ctx, per);
    if (!nt) return GH_EINVAL;
    int planes = sh->n * sh->c;
    size_t hw = (size_t)sh->h * sh->w, pq = (size_t)sh->p * sh->q;
    size_t glen = round16((size_t)sh->p * gf.win);   // dy on x's pitch, zero beyond column q
    if (planes < nt) nt = planes;
#pragma omp parallel num_threads(nt)
    {
        float *mine = ctx->ws + (size_t)omp_get_thread_num() * per;
        float *dwp = mine, *vacc = mine + wpad, *xb = vacc + 16 * rs, *gb_ = xb + gf.buf;
        float *db_ = gb_ + gf.buf, *ob = db_ + gb.buf;
        int off[FLAT_MAX_TAPS], offb[FLAT_MAX_TAPS];
        float wt[FLAT_MAX_TAPS];
        int cur = -1;   // channel whose taps vacc holds
        if (dw) {
            memset(dwp, 0, sizeof(float) * wsize);
            memset(vacc, 0, sizeof(float) * 16 * rs);
            memset(gb_, 0, sizeof(float) * gf.buf);
            if (row8) flat_zero(&gf, xb);
        }
        if (dx && row8) flat_zero(&gb, db_);
        flat_taps(sh, row8 ? ROW8_PITCH : gf.win, NULL, 0, off, NULL);
        // channel-major order: a thread's planes share few channels, so vacc is summed rarely
#pragma omp for schedule(static)
        for (int it = 0; it < planes; it++) {
            int c = it / sh->n, pl = (it % sh->n) * sh->c + c;
            const float *dyp = dy + (size_t)pl * pq;
            if (row8) {
                if (dw) {
                    if (c != cur && cur >= 0) flat_flush(rs, vacc, dwp + (size_t)cur * rs);
                    cur = c;
                    row8_fill(&gf, x + (size_t)pl * hw, xb, relu);
                    row8_dot_taps(&gf, dyp, sh->p, xb, rs, off, vacc);
                }
                if (dx) {
                    row8_fill(&gb, dyp, db_, 0);
                    int taps = flat_taps(sh, ROW8_PITCH, w + (size_t)c * rs, 1, offb, wt);
                    row8_corr(&gb, db_, taps, offb, wt, 0.0f, dx + (size_t)pl * hw, 1,
                              relu ? x + (size_t)pl * hw : NULL);
                }
                continue;
            }
            if (dw) {
                if (c != cur && cur >= 0) flat_flush(rs, vacc, dwp + (size_t)cur * rs);
                cur = c;
                flat_fill(&gf, x + (size_t)pl * hw, xb, relu);
                flat_out(sh->p, sh->q, dyp, sh->q, 0.0f, gb_, gf.win, 0);   // columns q.. stay 0
                flat_dot_taps(gb_, glen, xb, rs, off, vacc);
            }
            if (dx) {
                flat_fill(&gb, dyp, db_, 0);
                int taps = flat_taps(sh, gb.win, w + (size_t)c * rs, 1, offb, wt);
                flat_corr(db_, gb.len, taps, offb, wt, ob);
                if (relu)
                    flat_out_masked(sh->h, sh->w, ob, gb.win, x + (size_t)pl * hw,
                                    dx + (size_t)pl * hw);
                else
                    flat_out(sh->h, sh->w, ob, gb.win, 0.0f, dx + (size_t)pl * hw, sh->w, 1);
            }
        }
        if (dw && cur >= 0) flat_flush(rs, vacc, dwp + (size_t)cur * rs);
        if (dw) {
#pragma omp barrier
            int team = omp_get_num_threads();
#pragma omp for schedule(static)
            for (size_t e = 0; e < wsize; e++) {
                float acc = 0.0f;
                for (int t = 0; t < team; t++) acc += ctx->ws[(size_t)t * per + e];
                dw[e] += acc;
            }
        }
    }
    return GH_OK;
}
