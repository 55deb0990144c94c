// kernels/cuda: the index math of the FP32 weight and bias gradients (conv.cu's
// conv_wgrad_kernel, dw_wgrad_kernel, split_reduce_kernel, conv_db_kernel) and their split-K
// plans as host and device code, so that tests/cuda/test_conv_wgrad_emu.cu replays every block
// on the CPU with the kernels' own loads, shared-memory slots and partial offsets.
#pragma once
#include "conv_ig.cuh"

namespace {

// ---- dense weight gradient ----------------------------------------------------------------
// Per group: dw[g*kg+m, nn] += sum_{pixels} dy[b, g*kg+m, oh, ow] * x[b, g*cg+ci, ih, iw], with
// nn = (ci, kr, ks), ih = oh*sh - ph + kr*dh. GEMM M = kg, N = cg*r*s, K = n*p*q (pixels),
// split into S fixed chunks (split-K); each split writes its own partial (or adds straight into
// dw when S == 1), and split_reduce_kernel adds the S partials into dw in split order.
// Block: 64 x 64 tile, 16 pixels per K slice, 256 threads; thread (ty, tx) = (t/16, t%16)
// computes rows ty*4..+3 and columns tx*4..+3. Loads: t%16 is the pixel, t/16 + 16*l the row
// (m for dy, nn for x), so a half-warp reads 16 consecutive pixels.
#define WG_BM 64
#define WG_BN 64
#define WG_BK 16
#define WG_PAD 4
#define WG_THREADS 256
// split-K targets: about 4 blocks per SM on 132 SMs, at least 512 pixels per split, and at
// most 2^24 floats (64 MiB) of partials
#define WG_TARGET_BLOCKS 528
#define WG_MIN_PIX 512
#define WG_WS_CAP ((size_t)1 << 24)
// As and Bs are both [WG_BK][64 + WG_PAD] (one slot function); a thread's 4 load rows
// t/16 + 16*l cover the 64 rows of a tile exactly once per slice.
static_assert(WG_BM == WG_BN, "As and Bs share wg_slot");
static_assert(WG_THREADS == WG_BK * (WG_BM / 4), "256 threads x 4 rows load a 16 x 64 slice");

// Where the value of pixel kk of a slice for tile row or column `col` lives in As or Bs (as a
// flat index into one buffer). The pad of 4 floats moves row kk to bank 4*kk (mod 32), where
// rows of 64 floats would all start in bank 0.
__host__ __device__ inline int wg_slot(int kk, int col) { return kk * (WG_BM + WG_PAD) + col; }

// A thread's load role: the pixel of the slice it fetches and its l-th tile row / column.
__host__ __device__ inline int wg_ld_pix(int t) { return t % WG_BK; }
__host__ __device__ inline int wg_ld_row(int t, int l) { return t / WG_BK + 16 * l; }

// A row of dy (output channel m of group grp, or past kg: reads row 0 and is masked).
struct wg_row {
    size_t dyoff;
    bool valid;
};
__host__ __device__ inline wg_row wg_row_at(const conv_geom &g, int grp, int m) {
    wg_row r;
    r.valid = m < g.kg;
    r.dyoff = ((size_t)grp * g.kg + (r.valid ? m : 0)) * (g.p * g.q);
    return r;
}

// A column of the im2col matrix (nn = (ci, kr, ks) of group grp): the channel plane's offset in
// one image of x and the tap's offsets; past Kg the row offset is BIG_NEG, so every load fails
// its bounds test.
struct wg_col {
    size_t xoff;
    int dkh, dkw;
};
__host__ __device__ inline wg_col wg_col_at(const conv_geom &g, int grp, int nn) {
    const int rs = g.r * g.s;
    wg_col c;
    if (nn < g.cg * rs) {
        const int ci = nn / rs, rsi = nn - ci * rs;
        const int kr = rsi / g.s, ks = rsi - kr * g.s;
        c.xoff = ((size_t)grp * g.cg + ci) * (g.h * g.w);
        c.dkh = kr * g.dh;
        c.dkw = ks * g.dw;
    } else {
        c.xoff = 0;
        c.dkh = BIG_NEG;
        c.dkw = 0;
    }
    return c;
}

// A pixel (K index of the GEMM, over n*p*q), decoded once per fetch: dy's offset of the pixel in
// channel 0, x's offset of its image, and the top-left input position of its window.
struct wg_pix {
    size_t dyb, xb;
    int ihb, iwb;
};
__host__ __device__ inline wg_pix wg_pix_at(const conv_geom &g, int pix) {
    const int pq = g.p * g.q, hw = g.h * g.w;
    const int b = pix / pq, rem = pix - b * pq;
    const int oh = rem / g.q, ow = rem - oh * g.q;
    wg_pix p;
    p.dyb = (size_t)b * g.k * pq + rem;
    p.xb = (size_t)b * g.c * hw;
    p.ihb = oh * g.sh - g.ph;
    p.iwb = ow * g.sw - g.pw;
    return p;
}

// Whether (pixel, column) reads x (else a zero: the padding or a column past Kg), and where.
__host__ __device__ inline bool wg_x_in(const conv_geom &g, const wg_pix &p, const wg_col &c) {
    const int ih = p.ihb + c.dkh, iw = p.iwb + c.dkw;
    return (unsigned)ih < (unsigned)g.h && (unsigned)iw < (unsigned)g.w;
}
__host__ __device__ inline const float *wg_x_ptr(const float *x, const conv_geom &g,
                                                 const wg_pix &p, const wg_col &c) {
    const int ih = p.ihb + c.dkh, iw = p.iwb + c.dkw;
    return x + p.xb + c.xoff + ih * g.w + iw;
}

// The pixels [pbeg, pend) of one split and its number of K slices.
struct wg_range {
    int pbeg, pend, nk;
};
__host__ __device__ inline wg_range wg_range_at(const conv_geom &g, int split, int chunk) {
    const int NP = g.n * (g.p * g.q);
    wg_range r;
    r.pbeg = split * chunk;
    r.pend = min(NP, r.pbeg + chunk);
    r.nk = r.pend > r.pbeg ? (r.pend - r.pbeg + WG_BK - 1) / WG_BK : 0;
    return r;
}

// Where (grp, m, nn) lands in dw, and where split's partial of dw element o lies (S blocks of
// k*Kg floats in the workspace; dw itself when there is one split).
__host__ __device__ inline size_t wg_dw_off(const conv_geom &g, int grp, int m, int nn) {
    const int Kg = g.cg * (g.r * g.s);
    return ((size_t)grp * g.kg + m) * Kg + nn;
}
__host__ __device__ inline size_t wg_part_off(const conv_geom &g, int split, size_t o) {
    const int Kg = g.cg * (g.r * g.s);
    return (size_t)split * g.k * Kg + o;
}

// The split-K plan: S splits of `chunk` pixels (a multiple of WG_BK, every split non-empty),
// the grid (x over 64-column tiles of Kg, y over 64-row tiles of kg, z = group * S + split) and
// the workspace of the partials.
struct wgrad_plan {
    int splits, chunk;
    size_t ws_floats;
    unsigned gx, gy, gz;
};

static inline wgrad_plan plan_wgrad(const conv_geom &g) {
    const size_t Kg = (size_t)g.cg * g.r * g.s;
    const size_t wsize = (size_t)g.k * Kg;
    const size_t tiles = (size_t)g.groups * gh_ceil_div(g.kg, WG_BM) * gh_ceil_div(Kg, WG_BN);
    const size_t NP = (size_t)g.n * g.p * g.q;
    size_t S = gh_ceil_div(WG_TARGET_BLOCKS, tiles);
    size_t by_pix = NP / WG_MIN_PIX;
    if (S > by_pix) S = by_pix;
    size_t by_ws = WG_WS_CAP / wsize;
    if (S > by_ws) S = by_ws;
    if (S > 65535 / (size_t)g.groups) S = 65535 / (size_t)g.groups;
    if (S < 1) S = 1;
    size_t chunk = gh_ceil_div(gh_ceil_div(NP, S), WG_BK) * WG_BK;
    S = gh_ceil_div(NP, chunk);  // rounding may leave fewer non-empty chunks
    wgrad_plan pl;
    pl.splits = (int)S;
    pl.chunk = (int)chunk;
    pl.ws_floats = S > 1 ? S * wsize : 0;
    pl.gx = (unsigned)gh_ceil_div(Kg, WG_BN);
    pl.gy = (unsigned)gh_ceil_div(g.kg, WG_BM);
    pl.gz = (unsigned)(g.groups * pl.splits);
    return pl;
}

// ---- depthwise weight gradient ------------------------------------------------------------
// Block (split, ch) of S x c: images [b0, b1) of channel ch; thread t takes pixels t, t + 256,
// ... of each image and sums dy * x into K*K register accumulators.
#define DW_WG_THREADS 256

__host__ __device__ inline void dw_wg_images(int n, int S, int split, int *b0, int *b1) {
    const int nb = (n + S - 1) / S;
    *b0 = split * nb;
    *b1 = min(n, *b0 + nb);
}

// Pixel rem of image b, channel ch: dy's element, the offset of x's plane, the window's corner.
struct dw_wg_pix {
    size_t dy, xplane;
    int ihb, iwb;
};
__host__ __device__ inline dw_wg_pix dw_wg_pix_at(const conv_geom &g, int b, int ch, int rem) {
    const int pq = g.p * g.q;
    const int oh = rem / g.q, ow = rem - oh * g.q;
    const size_t plane = (size_t)b * g.c + ch;
    dw_wg_pix p;
    p.dy = plane * pq + rem;
    p.xplane = plane * g.h * g.w;
    p.ihb = oh * g.sh - g.ph;
    p.iwb = ow * g.sw - g.pw;
    return p;
}
// The input row and column of tap (kr, ks); the caller tests them against h and w.
__host__ __device__ inline int dw_wg_ih(const conv_geom &g, const dw_wg_pix &p, int kr) {
    return p.ihb + kr * g.dh;
}
__host__ __device__ inline int dw_wg_iw(const conv_geom &g, const dw_wg_pix &p, int ks) {
    return p.iwb + ks * g.dw;
}

// Tap `tap` (kr*K + ks, KK = K*K) of channel ch: dw itself when S == 1, else split's partial.
__host__ __device__ inline size_t dw_wg_dst_off(const conv_geom &g, int S, int split, int ch,
                                                int KK, unsigned tap) {
    return S == 1 ? (size_t)ch * KK + tap : ((size_t)split * g.c + ch) * KK + tap;
}

static inline int dw_wgrad_splits(const conv_geom &g) {
    int S = (int)gh_ceil_div(WG_TARGET_BLOCKS, (size_t)g.c);
    if (S > g.n) S = g.n;
    size_t by_pix = (size_t)g.n * g.p * g.q / WG_MIN_PIX;  // at least WG_MIN_PIX pixels per block
    if ((size_t)S > by_pix) S = (int)by_pix;
    if (S > 65535) S = 65535;
    if (S < 1) S = 1;
    // every split must own at least one image: S = ceil(n / ceil(n / S))
    int nb = (g.n + S - 1) / S;
    return (g.n + nb - 1) / nb;
}

static inline size_t dw_ws_floats(const conv_geom &g) {
    int S = dw_wgrad_splits(g);
    return S > 1 ? (size_t)S * g.c * g.r * g.s : 0;
}

// ---- bias gradient ------------------------------------------------------------------------
// db[co] += sum over (b, oh, ow) of dy, one block of DB_THREADS per channel; thread t visits
// (b, pixel) = t, t + DB_THREADS, ... of the n x pq matrix by a carry walk (gh_rc_walk).
#define DB_THREADS 256
__host__ __device__ inline size_t conv_db_off(int k, int pq, int co, const gh_rc_walk &at) {
    return ((size_t)at.row * k + co) * pq + at.col;
}

}  // namespace
