// kernels/cuda: the shared-memory tiles of the depthwise convs (conv.cu's dw_tile_kernel): the
// plan of a launch, which input element each block stages where, and which outputs each thread
// computes from shared memory, as host and device code, so that tests/cuda/test_conv_dw_emu.cu
// replays every block on the CPU with the kernel's own index math.
#pragma once
#include <limits.h>

#include "cuda_common.cuh"

namespace {

// One depthwise correlation: out[plane, oh, ow] (+)= sum_{kr,ks} w[ch, kr, ks]
//   * in[plane, oh*S - ph + kr*D, ow*S - pw + ks*D], ch = plane % c, zero outside the input.
// flip: w read as w[ch, K-1-kr, K-1-ks] (backward data at stride 1 is this correlation of dy with
// the flipped filter and padding (K-1)*D - pad, negative padding included); accumulate: +=
// into out without bias, else out = sum + bias. The conv of relu(x) (conv2d_relu_*_cuda):
// relu, the input read through ReLU as relu_fwd_cuda computes it (dwt_in); mask (accumulate
// only, else NULL): out[i] += sum only where mask[i] > 0 (relu_bwd_cuda's mask from x).
struct dw_args {
    int planes, c;      // planes = n*c; channel = plane % c
    int hi, wi;         // input plane
    int ho, wo;         // output plane
    int ph, pw;         // padding (may be negative in the backward use)
    int flip, accumulate;
    int relu;
    const float *mask;  // [planes, ho, wo] or NULL
};

// An input value as the correlation reads it: relu_fwd_cuda's max(v, 0) (NaN gives 0) for a
// fused ReLU. F = false compiles the ReLU and the mask out (the unfused tiles keep their
// registers); the CPU replay takes the default, which reads the flags.
template <bool F = true>
__host__ __device__ inline float dwt_in(const dw_args &a, float v) {
    return F && a.relu ? (v > 0.0f ? v : 0.0f) : v;
}

static inline dw_args dw_args_fwd(int n, int c, int h, int w, int p, int q, int ph, int pw) {
    return dw_args{n * c, c, h, w, p, q, ph, pw, 0, 0};
}
// Backward data at stride 1: dx (h x w) += dy (p x q) correlated with the flipped filter.
static inline dw_args dw_args_bwd_data(int n, int c, int h, int w, int p, int q, int k, int d,
                                       int ph, int pw) {
    return dw_args{n * c, c, p, q, h, w, (k - 1) * d - ph, (k - 1) * d - pw, 1, 1};
}

// ---- the tile ------------------------------------------------------------------------------
// A block of DWT_THREADS threads owns pb planes' tiles of th x tw outputs at the same place.
// Thread t: slot t / (tx*th) (its plane in the block), row ty, column group gx = t % tx; it
// computes DW_TV = 4 consecutive outputs of one row, so tw = 4*tx. The block first stages each
// plane's input footprint, fh = (th-1)*S + (K-1)*D + 1 rows by (tw-1)*S + (K-1)*D + 1 columns,
// in shared memory (zeros for padding and for rows, columns or planes past the tensor), then
// every output is computed from shared memory with the filter in registers.
// Shared-memory rows start `shift` = (-pw) mod 4 columns left of the footprint, at input column
// cw0 = ow0*S - pw - shift, a multiple of 4 (ow0 is a multiple of tw, a multiple of 8): when
// wi % 4 == 0 and the input is 16-byte aligned every float4 of a row is inside or outside the
// input as a whole, so the footprint loads as aligned float4s (fq of them per row). The row
// pitch ld = 4*fq + 1 is odd: with tx = 8 (4 rows per warp) a warp's 32 reads of one column
// offset u, at 4*S*gx + u + row*ld, fall in 32 distinct banks at S = 1 (2-way at S = 2);
// narrower tiles (8 or 16 rows a warp) see 2- to 3-way conflicts (test_conv_dw_emu prints them).
#define DWT_THREADS 256
#define DW_TV 4
// Shared memory of a block, in floats (24 KiB: 9 blocks per SM of an H100/H200 by shared
// memory, more than its 8 by threads): the 32 x 32 tile of a 5x5 stride 2 dilation 2 conv
// needs 71 x 77.
#define DWT_SMEM_FLOATS 6144

struct dwt_plan {
    dw_args a;
    int K, S, D;
    int tx, th, tw;          // threads per tile row, tile rows, tile columns (= 4*tx)
    int pb;                  // planes per block
    int fh, shift, fq, ld;   // footprint rows, left shift, float4s per row, row pitch
    int tiles_h, tiles_w;    // tiles per plane
    int blocks;              // grid size
    int vec;                 // float4 loads (set by the launcher: needs the pointer's alignment)
};

// The plan of a launch, or 0 when the tile does not take the shape (then the direct kernel
// runs): more than 2^31 - 1 elements in the input or output (the tile's indices are 32-bit).
// The tile is at most 32 outputs wide whatever the plane's width, so one tile row's footprint
// (at most 9 x 77 floats) always fits; taller footprints shrink th until they fit.
static inline int dwt_plan_make(const dw_args &a, int K, int S, int D, dwt_plan *pl) {
    if ((long long)a.planes * a.hi * a.wi > INT_MAX || (long long)a.planes * a.ho * a.wo > INT_MAX)
        return 0;
    if (a.planes <= 0 || a.ho <= 0 || a.wo <= 0) return 0;
    dwt_plan p = {};
    p.a = a; p.K = K; p.S = S; p.D = D;
    p.tw = a.wo > 16 ? 32 : (a.wo > 8 ? 16 : 8);
    p.tx = p.tw / DW_TV;
    p.shift = (-a.pw) & 3;
    const int fw = (p.tw - 1) * S + (K - 1) * D + 1;
    p.fq = (p.shift + fw + 3) / 4;
    p.ld = 4 * p.fq + 1;
    // rows: at most DWT_THREADS / tx per block, split evenly over the plane's tile rows, and
    // fewer while one plane's footprint does not fit
    int rows = DWT_THREADS / p.tx;
    for (;;) {
        p.tiles_h = (a.ho + rows - 1) / rows;
        p.th = (a.ho + p.tiles_h - 1) / p.tiles_h;
        p.fh = (p.th - 1) * S + (K - 1) * D + 1;
        if (p.fh * p.ld <= DWT_SMEM_FLOATS) break;
        if (rows == 1) return 0;
        rows /= 2;
    }
    p.tiles_w = (a.wo + p.tw - 1) / p.tw;
    p.pb = DWT_THREADS / (p.tx * p.th);
    if (p.pb > a.planes) p.pb = a.planes;
    while (p.pb > 1 && p.pb * p.fh * p.ld > DWT_SMEM_FLOATS) p.pb--;
    const long long blocks =
        (long long)((a.planes + p.pb - 1) / p.pb) * p.tiles_h * p.tiles_w;
    if (blocks > INT_MAX) return 0;
    p.blocks = (int)blocks;
    *pl = p;
    return 1;
}

// A float4 staging pass is legal: rows of whole float4s (wi % 4 == 0) from a 16-byte aligned
// input (cw0 and every row start are then multiples of 4 floats).
static inline int dwt_can_vec(const dw_args &a, const float *in) {
    return a.wi % 4 == 0 && gh_aligned16(in);
}

// Where block b's tiles lie.
struct dwt_block {
    int plane0;      // first plane of the block
    int oh0, ow0;    // first output row and column of the tile
    int ih0, cw0;    // input row and column of shared-memory row 0, column 0
};

__host__ __device__ inline dwt_block dwt_block_at(const dwt_plan &p, int b) {
    const int per = p.tiles_h * p.tiles_w;
    const int pg = b / per, tt = b - pg * per;
    const int ty = tt / p.tiles_w, tc = tt - ty * p.tiles_w;
    dwt_block k;
    k.plane0 = pg * p.pb;
    k.oh0 = ty * p.th;
    k.ow0 = tc * p.tw;
    k.ih0 = k.oh0 * p.S - p.a.ph;
    k.cw0 = k.ow0 * p.S - p.a.pw - p.shift;
    return k;
}

// Number of staging steps of a block: float4s (vec) or floats of all its planes' footprints.
__host__ __device__ inline int dwt_load_count(const dwt_plan &p) {
    return p.pb * p.fh * (p.vec ? p.fq : 4 * p.fq);
}

// Staging step e (threads take e = t, t + DWT_THREADS, ...; consecutive e are consecutive
// columns of one input row, so a warp's loads coalesce): sets *sm to the shared-memory offset
// of its first float and returns the input offset of its first float, or -1 for zeros (1 float,
// or 4 when vec).
__host__ __device__ inline int dwt_load_src(const dwt_plan &p, const dwt_block &k, int e, int *sm) {
    const int per_row = p.vec ? p.fq : 4 * p.fq;
    const int row = e / per_row, col = (e - row * per_row) * (p.vec ? 4 : 1);
    const int slot = row / p.fh, r = row - slot * p.fh;
    *sm = (slot * p.fh + r) * p.ld + col;
    const int plane = k.plane0 + slot, ih = k.ih0 + r, iw = k.cw0 + col;
    // vec: iw and wi are multiples of 4, so iw < wi means the whole float4 is inside
    if (plane >= p.a.planes || (unsigned)ih >= (unsigned)p.a.hi || (unsigned)iw >= (unsigned)p.a.wi)
        return -1;
    return (plane * p.a.hi + ih) * p.a.wi + iw;
}

// Thread t's outputs: plane, shared-memory offset of its window's top-left input, output
// offset of its first output and how many of its DW_TV outputs exist (0: none).
struct dwt_thread {
    int plane, ch, sm, out, nout;
};

__host__ __device__ inline dwt_thread dwt_thread_at(const dwt_plan &p, const dwt_block &k, int t) {
    const int per = p.tx * p.th;
    const int slot = t / per, rem = t - slot * per;
    const int ty = rem / p.tx, gx = rem - ty * p.tx;
    dwt_thread h;
    h.plane = k.plane0 + slot;
    h.ch = 0; h.sm = 0; h.out = 0; h.nout = 0;
    const int oh = k.oh0 + ty, ow = k.ow0 + gx * DW_TV;
    if (slot >= p.pb || h.plane >= p.a.planes || ty >= p.th || oh >= p.a.ho || ow >= p.a.wo)
        return h;
    h.ch = h.plane % p.a.c;
    h.sm = (slot * p.fh + ty * p.S) * p.ld + p.shift + gx * DW_TV * p.S;
    h.out = (h.plane * p.a.ho + oh) * p.a.wo + ow;
    h.nout = p.a.wo - ow < DW_TV ? p.a.wo - ow : DW_TV;
    return h;
}

// The filter of channel ch in registers, flipped for the backward use.
template <int K>
__host__ __device__ inline void dwt_filter(const dwt_plan &p, const float *wt, int ch,
                                           float wr[K][K]) {
    GH_UNROLL
    for (int kr = 0; kr < K; kr++)
        GH_UNROLL
        for (int ks = 0; ks < K; ks++)
            wr[kr][ks] = p.a.flip ? wt[(ch * K + (K - 1 - kr)) * K + (K - 1 - ks)]
                                  : wt[(ch * K + kr) * K + ks];
}

// A thread's DW_TV outputs from shared memory: per filter row, the IN inputs its outputs
// share are read once and reused K*DW_TV times (the direct kernel's register tiling).
template <int K, int S, int D>
__host__ __device__ inline void dwt_compute(const dwt_plan &p, const float *sm, int base,
                                            const float wr[K][K], float acc[DW_TV]) {
    constexpr int IN = (DW_TV - 1) * S + (K - 1) * D + 1;
    GH_UNROLL
    for (int v = 0; v < DW_TV; v++) acc[v] = 0.0f;
    GH_UNROLL
    for (int kr = 0; kr < K; kr++) {
        const float *row = sm + base + kr * D * p.ld;
        float seg[IN];
        GH_UNROLL
        for (int u = 0; u < IN; u++) seg[u] = row[u];
        GH_UNROLL
        for (int v = 0; v < DW_TV; v++)
            GH_UNROLL
            for (int ks = 0; ks < K; ks++) acc[v] = fmaf(wr[kr][ks], seg[v * S + ks * D], acc[v]);
    }
}

// Writes a thread's outputs: += when accumulating (no bias; where p.a.mask is not > 0, nothing:
// relu_bwd_cuda's x > 0 ? d : 0), else sum + bias[ch].
template <bool F = true>
__host__ __device__ inline void dwt_store(const dwt_plan &p, const dwt_thread &h,
                                          const float *bias, const float acc[DW_TV], float *out) {
    const float bv = bias && !p.a.accumulate ? bias[h.ch] : 0.0f;
    GH_UNROLL
    for (int v = 0; v < DW_TV; v++) {
        if (v >= h.nout) break;
        if (p.a.accumulate)
            out[h.out + v] += F && p.a.mask && !(p.a.mask[h.out + v] > 0.0f) ? 0.0f : acc[v];
        else
            out[h.out + v] = acc[v] + bv;
    }
}

}  // namespace
