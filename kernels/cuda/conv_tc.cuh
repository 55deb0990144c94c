// kernels/cuda: the geometry of the tensor-core implicit GEMMs (conv_tc.cu): which element of
// x, w or dy each tile position reads and where each result goes, per GEMM, as host and device
// code, so that tests/cuda/test_conv_tc_emu.cu checks the index math on the CPU.
#pragma once
#include <cuda_bf16.h>
#include <limits.h>
#include <stdint.h>

#include "conv_phase.cuh"
#include "cuda_common.cuh"

namespace {

// The three GEMMs, per group grp (cg = c/groups, kg = k/groups, rs = r*s, pq = p*q, hw = h*w):
// TC_FWD:   y[b, grp*kg+m, oh, ow] = sum_{ci,kr,ks} w[grp*kg+m, ci, kr, ks]
//             * x[b, grp*cg+ci, oh*sh-ph+kr*dh, ow*sw-pw+ks*dw] (+ bias)
//           M = kg, N = n*pq (output pixels), K = cg*rs.
// TC_BDATA: dx[b, grp*cg+ci, ih, iw] += sum_{m,kr,ks} w[grp*kg+m, ci, kr, ks] * dy[b, grp*kg+m,
//             oh, ow] over the taps with ih+ph-kr*dh = oh*sh, iw+pw-ks*dw = ow*sw
//           per stride phase (conv_phase.cuh; grid z = grp * sh*sw + phase): M = cg, N = the
//           phase's input pixels, K = kg x the phase's valid taps.
// TC_BFILT: dw[grp*kg+m, ci, kr, ks] += sum_{b,oh,ow} dy[b, grp*kg+m, oh, ow]
//             * x[b, grp*cg+ci, oh*sh-ph+kr*dh, ow*sw-pw+ks*dw]
//           M = kg, N = cg*rs (filter taps), K = n*pq, cut into `splits` chunks (split-K).
enum { TC_FWD = 0, TC_BDATA = 1, TC_BFILT = 2 };

// Block: a 64 (M) x 64 (N) tile, 128 threads = 4 warps in 2 x 2, each warp 32 x 32 of 2 x 2
// accumulator fragments; K in slices of one MMA step (8 for TF32, 16 for BF16), two slices in
// shared memory (double buffered).
#define TC_BM 64
#define TC_BN 64
#define TC_THREADS 128

template <int PREC> struct tc_prec;
template <> struct tc_prec<GH_PREC_TF32> {
    typedef float T;  // staged as FP32 (cp.async copies bytes), rounded to TF32 in the fragments
    static constexpr int BK = 8;
};
template <> struct tc_prec<GH_PREC_BF16> {
    typedef __nv_bfloat16 T;  // rounded when staged: half the shared memory, no fragment pass
    static constexpr int BK = 16;
};

// Shared memory of one stage and the slots each thread stages, for the kernel and for the CPU
// replay (tests/cuda/test_conv_tc_emu.cu, which counts the bank conflicts of every pattern).
// No XOR swizzle: WMMA takes a pointer and one leading dimension, so the only freedom is the
// row pitch, and these pitches make every access conflict-free (one 128-byte wavefront per
// phase). The fragment loads, per the SASS: TF32 one LDS.32 per element, at the places the
// PTX ISA gives mma.m16n8k8 (an assumption: WMMA's layout is opaque); BF16 one ldmatrix
// (LDSM.16.M88.4, .MT88.4 for B) per fragment, 8 rows of 16 bytes per phase.
// - A (M x BK, row-major), pitch 48 bytes (LDA = BK + 16 bytes): TF32 fragments read word
//   (row g, column t) in lane 4g + t: 12g + t covers the 32 banks; 8 consecutive rows at a
//   48-byte pitch fall in 8 different 16-byte columns of a 128-byte line, which serves the
//   ldmatrix rows and the stagings: the 16-byte copies put 8 rows of one 16-byte column in
//   each quarter warp, the 8-byte (BF16) stores 8 rows of 16 bytes in each half warp, the
//   4-byte ones 8 rows of 16 bytes in each warp (4 rows of 32 bytes, as before, were 2-way).
// - B (BK x N, row-major), pitch LDB = 72 elements: TF32 fragments read (k t, n g), so a row
//   must move 8 banks (72 words; 68 gives 2-way conflicts); BF16's ldmatrix rows at 144 bytes
//   fall in 8 different 16-byte columns (136 bytes, pitch 68, would overlap: 2-way). Stagings
//   write whole rows: 32 consecutive elements a warp, 8 16-byte vectors a quarter warp, 16
//   8-byte ones a half warp.
// - C (the epilogue), pitch 72 floats: accumulators are stored as pairs (row g, columns 2t,
//   2t+1), 8 bytes, 16 lanes per wavefront: 8g + 2t covers the banks.
// Fragment pointers stay 32-byte aligned and pitches multiples of 16 bytes, as WMMA requires.
template <int PREC> struct tc_smem {
    typedef typename tc_prec<PREC>::T T;
    static constexpr int BK = tc_prec<PREC>::BK;
    static constexpr int LDA = BK + 16 / (int)sizeof(T), LDB = TC_BN + 8, LDC = TC_BN + 8;
    static constexpr int A_SZ = TC_BM * LDA, B_SZ = BK * LDB;  // elements of one stage
    // 4-byte stores of A (one TF32 or a BF16 pair, KV elements): column a_k, rows a_m + 16 l
    static constexpr int KV = BK / 8, A_STEP = 16, NA = TC_BM / A_STEP;
    __host__ __device__ static int a_k(int t) { return (4 * (t / 32 % 2) + t % 4) * KV; }
    __host__ __device__ static int a_m(int t) { return 8 * (t / 64) + t % 32 / 4; }
    // 4 consecutive K of a row from one 16-byte global load: column av_k, rows av_m + 32 l
    static constexpr int NAV = BK / 8, AV_STEP = 32;
    __host__ __device__ static int av_k(int t) {
        return BK == 8 ? 4 * (t / 8 % 2) : 8 * (t / 16 % 2) + 4 * (t / 8 % 2);
    }
    __host__ __device__ static int av_m(int t) {
        return BK == 8 ? 8 * (t / 16) + t % 8 : 8 * (t / 32) + t % 8;
    }
    // B, one element per store: column b_n, rows b_k + 2 l (the epilogue's column and rows too)
    static constexpr int B_STEP = TC_THREADS / TC_BN, NB = BK * TC_BN / TC_THREADS;
    __host__ __device__ static int b_n(int t) { return t % TC_BN; }
    __host__ __device__ static int b_k(int t) { return t / TC_BN; }
    // 4 consecutive N of a row from one 16-byte load: columns bv_n.., rows bv_k + 8 l
    static constexpr int NBV = BK / 8, BV_STEP = 8;
    __host__ __device__ static int bv_n(int t) { return 4 * (t % 16); }
    __host__ __device__ static int bv_k(int t) { return t / 16; }
};
static_assert(TC_THREADS == 128 && TC_BM == 64 && TC_BN == 64, "tc_smem's maps assume these");

struct tc_geom {
    int n, c, h, w, k, r, s;
    int sh, sw, ph, pw, dh, dw;
    int groups, p, q, cg, kg;
    int splits, chunk;  // TC_BFILT: K = n*pq in `splits` chunks of `chunk` (a multiple of 16)
    int vec_a, vec_b;   // stage A / B 4 elements (16 bytes of global memory) at a time
};

struct tc_args {
    const float *x, *w, *dy, *bias;
    float *out;  // y, dx, or dw (splits == 1) / the split partials (splits > 1)
};

// Position idx along a GEMM's filter-tap dimension (channel-major, then kr, then ks: the
// layout of w's rows): the channel, and the tap's offsets kr*dh, ks*dw in the input. The
// forward decodes its K index, the backward data its K index (the channel is dy's), the weight
// gradient its N column, all here.
struct tc_tap {
    int ch, dh, dw;
};
__host__ __device__ static inline tc_tap tc_tap_at(const tc_geom &g, int rs, int idx) {
    const int ch = idx / rs, rsi = idx - ch * rs, kr = rsi / g.s;
    return {ch, kr * g.dh, (rsi - kr * g.s) * g.dw};
}

// Per-thread gather state. A thread stages a fixed K column of A (a_k) in rows a_m + l*A_STEP,
// and a fixed N column of B (b_n) in rows b_k + l*B_STEP, so the decoding of that column
// (an output or input pixel, or a filter tap) happens once; the epilogue writes column b_n.
template <int MODE> struct tc_op;

template <> struct tc_op<TC_FWD> {
    int Kg, rs, pq, hw, grp;
    bool col_ok;
    int ih0, iw0;
    size_t xbase, ybase;
    __host__ __device__ void init(const tc_geom &g, int grp_, int m0, int col, int split) {
        (void)m0; (void)split;
        grp = grp_;
        rs = g.r * g.s; Kg = g.cg * rs; pq = g.p * g.q; hw = g.h * g.w;
        col_ok = col < g.n * pq;
        ih0 = iw0 = 0; xbase = ybase = 0;
        if (col_ok) {
            const int b = col / pq, rem = col - b * pq;
            const int oh = rem / g.q, ow = rem - oh * g.q;
            ih0 = oh * g.sh - g.ph;
            iw0 = ow * g.sw - g.pw;
            xbase = ((size_t)b * g.c + (size_t)grp * g.cg) * hw;
            ybase = ((size_t)b * g.k + (size_t)grp * g.kg) * pq + rem;
        }
    }
    __host__ __device__ int klen(const tc_geom &) const { return Kg; }
    __host__ __device__ int mlen(const tc_geom &g) const { return g.kg; }
    __host__ __device__ const float *a_src(const tc_geom &g, const tc_args &a, int m, int k) const {
        return m < g.kg && k < Kg ? a.w + ((size_t)grp * g.kg + m) * Kg + k : nullptr;
    }
    __host__ __device__ const float *b_src(const tc_geom &g, const tc_args &a, int k) const {
        if (!col_ok || k >= Kg) return nullptr;
        const tc_tap tp = tc_tap_at(g, rs, k);
        const int ih = ih0 + tp.dh, iw = iw0 + tp.dw;
        if ((unsigned)ih >= (unsigned)g.h || (unsigned)iw >= (unsigned)g.w) return nullptr;
        return a.x + xbase + (size_t)tp.ch * hw + ih * g.w + iw;
    }
    __host__ __device__ void store(const tc_geom &g, const tc_args &a, int m, float v) const {
        const float bv = a.bias ? a.bias[grp * g.kg + m] : 0.0f;
        a.out[ybase + (size_t)m * pq] = v + bv;
    }
};

// The backward data by stride phase (conv_phase.cuh): the block's phase rho (grid z = group *
// sh*sw + rho, passed as `split`) fixes its columns (the phase's input pixels) and its K (kg
// output channels x the phase's valid taps).
template <> struct tc_op<TC_BDATA> {
    int Kg, pq, hw, grp, ncols;
    bool col_ok;
    phase_axis ay, ax;
    int oh, ow;  // dy's position under the phase's first tap: oh0 + i, ow0 + j
    size_t dybase, xbase;
    __host__ __device__ void init(const tc_geom &g, int grp_, int m0, int col, int rho) {
        (void)m0;
        grp = grp_;
        ay = phase_axis_at(rho / g.sw, g.h, g.sh, g.ph, g.dh, g.r);
        ax = phase_axis_at(rho % g.sw, g.w, g.sw, g.pw, g.dw, g.s);
        Kg = g.kg * ay.nk * ax.nk; pq = g.p * g.q; hw = g.h * g.w;
        ncols = g.n * ay.np * ax.np;
        col_ok = col < ncols;
        oh = ow = 0; dybase = xbase = 0;
        if (col_ok) {
            const int per = ay.np * ax.np, b = col / per, rem = col - b * per;
            const int i = rem / ax.np, j = rem - i * ax.np;
            const int ih = ay.i0 + i * g.sh, iw = ax.i0 + j * g.sw;
            oh = ay.o0 + i;
            ow = ax.o0 + j;
            dybase = ((size_t)b * g.k + (size_t)grp * g.kg) * pq;
            xbase = ((size_t)b * g.c + (size_t)grp * g.cg) * hw + (size_t)ih * g.w + iw;
        }
    }
    __host__ __device__ int klen(const tc_geom &) const { return Kg; }
    __host__ __device__ int mlen(const tc_geom &g) const { return g.cg; }
    // K index k: output channel mo, then the phase's taps jr (rows), js (columns)
    __host__ __device__ void tap(int k, int *mo, int *jr, int *js) const {
        const int per = ay.nk * ax.nk;
        *mo = k / per;
        const int t = k - *mo * per;
        *jr = t / ax.nk;
        *js = t - *jr * ax.nk;
    }
    __host__ __device__ const float *a_src(const tc_geom &g, const tc_args &a, int ci,
                                           int k) const {
        if (ci >= g.cg || k >= Kg) return nullptr;
        int mo, jr, js;
        tap(k, &mo, &jr, &js);
        const int kr = ay.k0 + jr * ay.kstep, ks = ax.k0 + js * ax.kstep;
        return a.w + (((size_t)grp * g.kg + mo) * g.cg + ci) * (g.r * g.s) + kr * g.s + ks;
    }
    __host__ __device__ const float *b_src(const tc_geom &g, const tc_args &a, int k) const {
        if (!col_ok || k >= Kg) return nullptr;
        int mo, jr, js;
        tap(k, &mo, &jr, &js);
        const int o_h = oh - jr * ay.dstep, o_w = ow - js * ax.dstep;
        if ((unsigned)o_h >= (unsigned)g.p || (unsigned)o_w >= (unsigned)g.q) return nullptr;
        return a.dy + dybase + (size_t)mo * pq + o_h * g.q + o_w;
    }
    __host__ __device__ void store(const tc_geom &, const tc_args &a, int ci, float v) const {
        a.out[xbase + (size_t)ci * hw] += v;
    }
};

template <> struct tc_op<TC_BFILT> {
    int Kg, pq, hw, grp, split, kbeg, kend, col;
    bool col_ok;
    int offh, offw;  // kr*dh - ph, ks*dw - pw of this thread's filter tap
    size_t cbase;    // offset of channel grp*cg + ci in image 0 of x
    __host__ __device__ void init(const tc_geom &g, int grp_, int m0, int col_, int split_) {
        (void)m0;
        grp = grp_; split = split_; col = col_;
        const int rs = g.r * g.s;
        Kg = g.cg * rs; pq = g.p * g.q; hw = g.h * g.w;
        const int npq = g.n * pq;
        kbeg = split * g.chunk;
        kend = npq < kbeg + g.chunk ? npq : kbeg + g.chunk;
        col_ok = col < Kg;
        offh = offw = 0; cbase = 0;
        if (col_ok) {
            const tc_tap tp = tc_tap_at(g, rs, col);
            offh = tp.dh - g.ph;
            offw = tp.dw - g.pw;
            cbase = ((size_t)grp * g.cg + tp.ch) * hw;
        }
    }
    __host__ __device__ int klen(const tc_geom &) const { return kend - kbeg; }
    __host__ __device__ int mlen(const tc_geom &g) const { return g.kg; }
    __host__ __device__ const float *a_src(const tc_geom &g, const tc_args &a, int m, int k) const {
        const int kk = kbeg + k;
        if (m >= g.kg || kk >= kend) return nullptr;
        const int b = kk / pq, op = kk - b * pq;
        return a.dy + ((size_t)b * g.k + (size_t)grp * g.kg + m) * pq + op;
    }
    __host__ __device__ const float *b_src(const tc_geom &g, const tc_args &a, int k) const {
        const int kk = kbeg + k;
        if (!col_ok || kk >= kend) return nullptr;
        const int b = kk / pq, op = kk - b * pq;
        const int oh = op / g.q, ow = op - oh * g.q;
        const int ih = oh * g.sh + offh, iw = ow * g.sw + offw;
        if ((unsigned)ih >= (unsigned)g.h || (unsigned)iw >= (unsigned)g.w) return nullptr;
        return a.x + (size_t)b * g.c * hw + cbase + ih * g.w + iw;
    }
    __host__ __device__ void store(const tc_geom &g, const tc_args &a, int m, float v) const {
        const size_t o = ((size_t)grp * g.kg + m) * Kg + col;
        if (g.splits == 1)
            a.out[o] += v;  // out is dw
        else
            a.out[(size_t)split * g.k * Kg + o] = v;  // out is the partials
    }
};

// The kernels' geometry from a conv shape (validated); GH_EUNSUP beyond 32-bit indices.
static inline int tc_geom_make(const char *op, const conv2d_shape *in, tc_geom *g) {
    conv2d_shape sh;
    GH_TRY(conv2d_shape_check(op, in, &sh));
    *g = {sh.n, sh.c, sh.h, sh.w, sh.k, sh.r, sh.s, sh.stride_h, sh.stride_w, sh.pad_h, sh.pad_w,
          sh.dil_h, sh.dil_w, sh.groups, sh.p, sh.q, sh.c / sh.groups, sh.k / sh.groups,
          1, 0, 0, 0};
    // every index the kernels form in 32 bits: pixels, taps, elements of one tensor
    const size_t nx = (size_t)g->n * g->c * g->h * g->w, ny = (size_t)g->n * g->k * g->p * g->q;
    const size_t nw = (size_t)g->k * g->cg * g->r * g->s;
    if (nx > (size_t)INT_MAX || ny > (size_t)INT_MAX || nw > (size_t)INT_MAX)
        return gh_fail(GH_EUNSUP, "%s: a tensor of more than 2^31 elements", op);
    if (g->groups > 65535)
        return gh_fail(GH_EUNSUP, "%s: %d groups exceed the grid limit", op, g->groups);
    return GH_OK;
}

// The weight gradient's split-K: enough blocks to fill the device (528: 4 per SM of an H100/
// H200), chunks of at least 512 pixels, and never more partials than conv2d_ws_floats_cuda
// asks for (the FP32 plan's), so that the engine's workspace serves both and the split, hence
// the summation order, depends on the shape alone.
static inline void tc_plan_wgrad(const conv2d_shape *sh, tc_geom *g) {
    const size_t Kg = (size_t)g->cg * g->r * g->s, wsize = (size_t)g->k * Kg;
    const size_t tiles = (size_t)g->groups * gh_ceil_div(g->kg, TC_BM) * gh_ceil_div(Kg, TC_BN);
    const size_t NP = (size_t)g->n * g->p * g->q;
    size_t S = gh_ceil_div(528, tiles);
    if (S > NP / 512) S = NP / 512;
    if (S > conv2d_ws_floats_cuda(sh) / wsize) S = conv2d_ws_floats_cuda(sh) / wsize;
    if (S > 65535 / (size_t)g->groups) S = 65535 / (size_t)g->groups;
    if (S < 1) S = 1;
    size_t chunk = gh_ceil_div(gh_ceil_div(NP, S), 16) * 16;
    g->splits = (int)gh_ceil_div(NP, chunk);
    g->chunk = (int)chunk;
}

// Which operands a launch stages 4 elements at a time from one 16-byte global load (TF32:
// cp.async of 16 bytes, BF16: a float4 load rounded on the way): where 4 consecutive K (A) or
// N (B) positions of a tile row, starting at a multiple of 4, are 4 consecutive floats of one
// tensor, the first 16-byte aligned, and either all inside the GEMM or all outside (then all
// zero-filled). The forward's A (rows of w along K = cg*r*s: Kg % 4 == 0), the weight
// gradient's A (dy along the pixels of one image: p*q % 4 == 0; split-K chunks are multiples of
// 16) and the forward's B in a 1x1, stride-1, unpadded conv (x along the pixels of one image:
// h*w % 4 == 0; the DARTS pointwise convs). The other operands are gathers (im2col, backward
// data's transposed w and strided dy): 4-byte copies. The same values land in the same slots
// either way, so results do not depend on the choice. TC_BFILT: after tc_plan_wgrad.
static inline bool tc_aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }
static inline void tc_plan_vec(int mode, tc_geom *g, const tc_args &a) {
    g->vec_a = g->vec_b = 0;
    if (mode == TC_FWD) {
        g->vec_a = g->cg * g->r * g->s % 4 == 0 && tc_aligned16(a.w);
        g->vec_b = g->r == 1 && g->s == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 &&
                   g->pw == 0 && g->h * g->w % 4 == 0 && tc_aligned16(a.x);
    } else if (mode == TC_BFILT) {
        g->vec_a = g->p * g->q % 4 == 0 && g->chunk % 4 == 0 && tc_aligned16(a.dy);
    }
}

}  // namespace
