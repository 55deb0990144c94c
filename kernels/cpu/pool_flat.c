// Stride-1 max and average pooling on the host as "flat" sweeps: the plane is copied into a
// stack buffer with a border (-inf for max, 0 for average) and read as one long vector of row
// pitch W, so output m = i*W + j of tap (a, b) is buf[m + a*W + b] and every tap is one
// contiguous vector loop (columns j >= q are computed and dropped). Same rules as pool.c.
#include <math.h>
#include <string.h>

#include "cpu.h"

#define FLAT_MAX 8192   // floats of the padded plane (32 KiB on the stack per buffer)

int pool_flat_ok(const pool_shape *sh) {
    return sh->stride == 1 && (size_t)(sh->h + sh->kh) * (sh->w + sh->kw) <= FLAT_MAX;
}

// In-bounds rows (or columns) of the window that starts at s and spans k in [0, n).
static inline int span(int s, int k, int n) {
    int lo = s < 0 ? 0 : s, hi = s + k < n ? s + k : n;
    return hi - lo;
}

// buf [(h + 2 pad) x pitch] = border value around the plane
static void flat_fill(const pool_shape *sh, const float *xp, int pitch, float border, float *buf) {
    int hp = sh->h + 2 * sh->pad;
    for (int r = 0; r < hp * pitch; r++) buf[r] = border;
    for (int i = 0; i < sh->h; i++)
        memcpy(buf + (size_t)(i + sh->pad) * pitch + sh->pad, xp + (size_t)i * sh->w,
               sizeof(float) * sh->w);
}

// out[m] = max over taps (first maximum, NaN wins) for m < len
GH_CPU_CLONES
static void flat_max(const float *buf, int pitch, int kh, int kw, int len, float *out) {
    for (int m = 0; m < len; m++) out[m] = buf[m];
    for (int a = 0; a < kh; a++)
        for (int b = (a == 0); b < kw; b++) {
            const float *restrict src = buf + a * pitch + b;
#pragma omp simd
            for (int m = 0; m < len; m++) {
                float v = src[m];
                out[m] = (v > out[m] || v != v) ? v : out[m];
            }
        }
}

// best tap (row-major index) per output; -1 where no tap beat -inf (all in-bounds values -inf)
GH_CPU_CLONES
static void flat_argmax(const float *buf, int pitch, int kh, int kw, int len, float *best,
                        int *bi) {
    for (int m = 0; m < len; m++) {
        best[m] = -INFINITY;
        bi[m] = -1;
    }
    for (int a = 0; a < kh; a++)
        for (int b = 0; b < kw; b++) {
            const float *restrict src = buf + a * pitch + b;
            const int t = a * kw + b;
#pragma omp simd
            for (int m = 0; m < len; m++) {
                float v = src[m];
                int take = v > best[m] || v != v;   // padding (-inf) never beats -inf
                best[m] = take ? v : best[m];
                bi[m] = take ? t : bi[m];
            }
        }
}

GH_CPU_CLONES
static void flat_sum(const float *buf, int pitch, int kh, int kw, int len, float *out) {
    for (int m = 0; m < len; m++) out[m] = 0.0f;
    for (int a = 0; a < kh; a++)
        for (int b = 0; b < kw; b++) {
            const float *restrict src = buf + a * pitch + b;
#pragma omp simd
            for (int m = 0; m < len; m++) out[m] += src[m];
        }
}

void maxpool_flat_fwd(const pool_shape *sh, const float *x, float *y) {
    int planes = sh->n * sh->c, pitch = sh->w + 2 * sh->pad;
    int len = (sh->p - 1) * pitch + sh->q;
#pragma omp parallel for schedule(static) if ((size_t)planes * sh->h * sh->w >= GH_CPU_PAR_MIN)
    for (int pl = 0; pl < planes; pl++) {
        float buf[FLAT_MAX], out[FLAT_MAX];
        flat_fill(sh, x + (size_t)pl * sh->h * sh->w, pitch, -INFINITY, buf);
        flat_max(buf, pitch, sh->kh, sh->kw, len, out);
        float *yp = y + (size_t)pl * sh->p * sh->q;
        for (int i = 0; i < sh->p; i++)
            memcpy(yp + (size_t)i * sh->q, out + (size_t)i * pitch, sizeof(float) * sh->q);
    }
}

// The in-plane index of output (i, j)'s tap t (row-major in the window); t < 0 (every in-bounds
// value -inf): the first in-bounds element, as the reference and torch pick.
static inline int flat_tap_index(const pool_shape *sh, int i, int j, int t) {
    int a, b;
    if (t >= 0) {
        a = t / sh->kw;
        b = t % sh->kw;
    } else {
        a = sh->pad - i > 0 ? sh->pad - i : 0;
        b = sh->pad - j > 0 ? sh->pad - j : 0;
    }
    return (i - sh->pad + a) * sh->w + (j - sh->pad + b);
}

void maxpool_flat_fwd_idx(const pool_shape *sh, const float *x, float *y, int *idx) {
    int planes = sh->n * sh->c, pitch = sh->w + 2 * sh->pad;
    int len = (sh->p - 1) * pitch + sh->q;
    // the in-plane offset of each tap, a table rather than a division per output (taps fit
    // FLAT_MAX: the padded plane holds a whole window)
    int off[FLAT_MAX];
    for (int t = 0; t < sh->kh * sh->kw; t++) off[t] = (t / sh->kw) * sh->w + t % sh->kw;
#pragma omp parallel for schedule(static) if ((size_t)planes * sh->h * sh->w >= GH_CPU_PAR_MIN)
    for (int pl = 0; pl < planes; pl++) {
        float buf[FLAT_MAX], best[FLAT_MAX];
        int bi[FLAT_MAX];
        flat_fill(sh, x + (size_t)pl * sh->h * sh->w, pitch, -INFINITY, buf);
        flat_argmax(buf, pitch, sh->kh, sh->kw, len, best, bi);
        float *yp = y + (size_t)pl * sh->p * sh->q;
        int *ip = idx + (size_t)pl * sh->p * sh->q;
        for (int i = 0; i < sh->p; i++) {
            memcpy(yp + (size_t)i * sh->q, best + (size_t)i * pitch, sizeof(float) * sh->q);
            // tap t = a*kw + b of output (i, j) is input (i - pad + a, j - pad + b)
            const int *restrict br = bi + i * pitch;
            int *restrict o = ip + (size_t)i * sh->q;
            const int base = (i - sh->pad) * sh->w - sh->pad;
            int neg = 0;
#pragma omp simd reduction(| : neg)
            for (int j = 0; j < sh->q; j++) {
                int t = br[j];
                o[j] = base + j + off[t < 0 ? 0 : t];   // t < 0 is fixed below
                neg |= t < 0;
            }
            if (neg)
                for (int j = 0; j < sh->q; j++)
                    if (br[j] < 0) o[j] = flat_tap_index(sh, i, j, br[j]);
        }
    }
}

void maxpool_flat_bwd(const pool_shape *sh, const float *x, const float *dy, float *dx) {
    int planes = sh->n * sh->c, pitch = sh->w + 2 * sh->pad;
    int len = (sh->p - 1) * pitch + sh->q;
#pragma omp parallel for schedule(static) if ((size_t)planes * sh->h * sh->w >= GH_CPU_PAR_MIN)
    for (int pl = 0; pl < planes; pl++) {
        float buf[FLAT_MAX], best[FLAT_MAX];
        int bi[FLAT_MAX];
        flat_fill(sh, x + (size_t)pl * sh->h * sh->w, pitch, -INFINITY, buf);
        flat_argmax(buf, pitch, sh->kh, sh->kw, len, best, bi);
        const float *dyp = dy + (size_t)pl * sh->p * sh->q;
        float *dxp = dx + (size_t)pl * sh->h * sh->w;
        for (int i = 0; i < sh->p; i++)
            for (int j = 0; j < sh->q; j++) {
                dxp[flat_tap_index(sh, i, j, bi[i * pitch + j])] += dyp[(size_t)i * sh->q + j];
            }
    }
}

void avgpool_flat_fwd(const pool_shape *sh, const float *x, float *y) {
    int planes = sh->n * sh->c, pitch = sh->w + 2 * sh->pad;
    int len = (sh->p - 1) * pitch + sh->q;
#pragma omp parallel for schedule(static) if ((size_t)planes * sh->h * sh->w >= GH_CPU_PAR_MIN)
    for (int pl = 0; pl < planes; pl++) {
        float buf[FLAT_MAX], out[FLAT_MAX];
        flat_fill(sh, x + (size_t)pl * sh->h * sh->w, pitch, 0.0f, buf);
        flat_sum(buf, pitch, sh->kh, sh->kw, len, out);
        float *yp = y + (size_t)pl * sh->p * sh->q;
        for (int i = 0; i < sh->p; i++) {
            int rows = span(i - sh->pad, sh->kh, sh->h);
            for (int j = 0; j < sh->q; j++)
                yp[(size_t)i * sh->q + j] =
                    out[i * pitch + j] / (float)(rows * span(j - sh->pad, sh->kw, sh->w));
        }
    }
}

// dx += the correlation of g = dy / count, bordered by (k - 1 - pad), with the all-ones window
void avgpool_flat_bwd(const pool_shape *sh, const float *dy, float *dx) {
    int planes = sh->n * sh->c, pitch = sh->w + sh->kw - 1;
    int top = sh->kh - 1 - sh->pad, left = sh->kw - 1 - sh->pad, rows = sh->h + sh->kh - 1;
    int len = (sh->h - 1) * pitch + sh->w;
#pragma omp parallel for schedule(static) if ((size_t)planes * sh->h * sh->w >= GH_CPU_PAR_MIN)
    for (int pl = 0; pl < planes; pl++) {
        float buf[FLAT_MAX], out[FLAT_MAX];
        for (int r = 0; r < rows * pitch; r++) buf[r] = 0.0f;
        const float *dyp = dy + (size_t)pl * sh->p * sh->q;
        for (int i = 0; i < sh->p; i++) {
            int rv = span(i - sh->pad, sh->kh, sh->h);
            float *brow = buf + (size_t)(i + top) * pitch + left;
            for (int j = 0; j < sh->q; j++)
                brow[j] = dyp[(size_t)i * sh->q + j] / (float)(rv * span(j - sh->pad, sh->kw, sh->w));
        }
        flat_sum(buf, pitch, sh->kh, sh->kw, len, out);
        float *dxp = dx + (size_t)pl * sh->h * sh->w;
        for (int i = 0; i < sh->h; i++)
            for (int j = 0; j < sh->w; j++) dxp[(size_t)i * sh->w + j] += out[i * pitch + j];
    }
}
