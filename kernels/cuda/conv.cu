// kernels/cuda: conv2d forward and backward. General convs run as implicit GEMMs (im2col
// gathered on the fly into shared memory tiles, never stored); depthwise 3x3/5x5 convs
// (groups == c == k), which are memory bound, run from shared-memory tiles (conv_dw.cuh), or as
// direct kernels with register tiling where a tile does not apply; they also take a ReLU of x
// fused (conv2d_relu_*_cuda: applied at the tile's staging, dx masked at its store).
// Weight gradients reduce over pixels in split-K partials summed in a fixed order: no float
// atomics anywhere, so every path is deterministic whatever ctx->deterministic says.
#include <limits.h>

#include "conv_dw.cuh"
#include "conv_ig.cuh"
#include "conv_wg.cuh"
#include "cuda_common.cuh"

namespace {

// The depthwise fast path: one filter per channel, square 3x3 or 5x5, equal strides and
// dilations of 1 or 2 (the DARTS/ENAS sep_conv and dil_conv cases).
bool dw_fast(const conv_geom &g) {
    return g.groups == g.c && g.k == g.c && g.r == g.s && (g.r == 3 || g.r == 5) &&
           g.sh == g.sw && (g.sh == 1 || g.sh == 2) && g.dh == g.dw && (g.dh == 1 || g.dh == 2);
}

// ---- implicit GEMM: forward and backward data --------------------------------------------
// MODE 0 (forward), per group g:  y[b, g*kg+m, oh, ow] = sum_{ci,kr,ks} w[g*kg+m, ci, kr, ks]
//                                 * x[b, g*cg+ci, oh*sh-ph+kr*dh, ow*sw-pw+ks*dw]  (+ bias)
//   GEMM M = kg, N = n*p*q (output pixels), K = cg*r*s.
// MODE 1 (backward data):         dx[b, g*cg+ci, ih, iw] += sum_{m,kr,ks} w[g*kg+m, ci, kr, ks]
//                                 * dy[b, g*kg+m, oh, ow], oh*sh - ph + kr*dh = ih (same for w)
//   per stride phase (conv_ig.cuh): GEMM M = cg, N = the phase's input pixels, K = kg * its
//   valid taps; grid z = group * sh*sw + phase.
// Block: BM x 128 output tile, K in slices of 8, 256 threads = 8 warps x 32 lanes. Warp wi owns
// rows wi*TM .. wi*TM+TM-1 (TM = BM/8: shared-memory reads of A are warp broadcasts); lane l
// owns pixels l, l+32, l+64, l+96 (reads of B and stores to y/dx are consecutive across
// lanes). Each thread's 4 pixels are fixed for the whole K loop, so their coordinates are
// decoded once; the next K slice is fetched into registers while the current one is used.

template <int MODE, int BM>
__global__ void __launch_bounds__(IG_THREADS, 2)
conv_igemm_kernel(conv_geom g, const float *__restrict__ src, const float *__restrict__ wt,
                  const float *__restrict__ bias, float *__restrict__ dst) {
    constexpr int TM = BM / 8;
    constexpr int A_ELEMS = BM * IG_BK;
    constexpr int A_PER = (A_ELEMS + IG_THREADS - 1) / IG_THREADS;
    __shared__ __align__(16) float As[2][IG_BK][BM + IG_APAD];
    __shared__ __align__(16) float Bs[2][IG_BK][IG_BN];

    const int t = threadIdx.x, warp = t / 32, lane = t % 32;
    const int nph = MODE == 0 ? 1 : g.sh * g.sw;
    const int grp = blockIdx.z / nph;
    const ig_phase f = ig_phase_at(g, MODE == 0 ? 0 : blockIdx.z - grp * nph);
    const int m0 = blockIdx.y * BM;
    const int n0 = blockIdx.x * IG_BN;
    const int Mg = ig_mlen<MODE>(g), Kg = ig_klen<MODE>(g, f), Npix = ig_nlen<MODE>(g, f);
    if (n0 >= Npix || Kg == 0) return;  // past this phase's pixels, or a phase without taps

    // per-pixel coordinates, decoded once (conv_ig.cuh)
    ig_pix px[4];
#pragma unroll
    for (int j = 0; j < 4; j++) px[j] = ig_pixel<MODE>(g, f, grp, n0 + lane + 32 * j);

    float ra[A_PER], rb[4];
    // Fetch K slice k0 into registers: A (weights) and B (gathered im2col / col2im column).
    auto fetch = [&](int k0) {
#pragma unroll
        for (int l = 0; l < A_PER; l++) {
            const int e = t + IG_THREADS * l;
            float v = 0.0f;
            if (e < A_ELEMS) {
                const int m = e / IG_BK, kk = e % IG_BK;
                const int gm = m0 + m, gk = k0 + kk;
                if (gm < Mg && gk < Kg) v = __ldg(wt + ig_a_off<MODE>(g, f, grp, gm, gk));
            }
            ra[l] = v;
        }
        const int gk = k0 + warp;
        if (gk < Kg) {
            const ig_tap tp = ig_tap_at<MODE>(g, f, gk);
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const long long o = ig_b_off<MODE>(g, tp, px[j]);
                rb[j] = o >= 0 ? __ldg(src + o) : 0.0f;
            }
        } else {
#pragma unroll
            for (int j = 0; j < 4; j++) rb[j] = 0.0f;
        }
    };
    auto stash = [&](int buf) {
#pragma unroll
        for (int l = 0; l < A_PER; l++) {
            const int e = t + IG_THREADS * l;
            if (e < A_ELEMS) (&As[buf][0][0])[ig_a_slot(e, BM)] = ra[l];
        }
#pragma unroll
        for (int j = 0; j < 4; j++) Bs[buf][warp][lane + 32 * j] = rb[j];
    };

    float acc[TM][4];
#pragma unroll
    for (int i = 0; i < TM; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;

    const int nk = (Kg + IG_BK - 1) / IG_BK;
    fetch(0);
    stash(0);
    __syncthreads();
    for (int kt = 0; kt < nk; kt++) {
        const int buf = kt & 1;
        if (kt + 1 < nk) fetch((kt + 1) * IG_BK);  // global loads in flight during the FMAs
#pragma unroll
        for (int kk = 0; kk < IG_BK; kk++) {
            float a[TM], b[4];
#pragma unroll
            for (int i = 0; i < TM; i++) a[i] = As[buf][kk][warp * TM + i];
#pragma unroll
            for (int j = 0; j < 4; j++) b[j] = Bs[buf][kk][lane + 32 * j];
#pragma unroll
            for (int i = 0; i < TM; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        // The other buffer was last read in iteration kt-1, which every thread finished
        // before the barrier that ended it; this iteration's barrier publishes the stash.
        if (kt + 1 < nk) stash(buf ^ 1);
        __syncthreads();
    }

#pragma unroll
    for (int i = 0; i < TM; i++) {
        const int gm = m0 + warp * TM + i;
        if (gm >= Mg) continue;
        if (MODE == 0) {
            const int co = grp * g.kg + gm;
            const float bv = bias ? __ldg(bias + co) : 0.0f;
#pragma unroll
            for (int j = 0; j < 4; j++)
                if (n0 + lane + 32 * j < Npix)
                    dst[px[j].obase + (size_t)co * g.p * g.q] = acc[i][j] + bv;
        } else {
            const int ci = grp * g.cg + gm;
#pragma unroll
            for (int j = 0; j < 4; j++)
                if (n0 + lane + 32 * j < Npix) dst[px[j].obase + (size_t)ci * g.h * g.w] += acc[i][j];
        }
    }
}

template <int MODE>
int igemm_launch(const kctx *ctx, const conv_geom &g, const float *src, const float *wt,
                 const float *bias, float *dst) {
    const int Mg = ig_mlen<MODE>(g);
    const int BM = ig_bm(Mg);
    dim3 grid((unsigned)gh_ceil_div(ig_grid_n<MODE>(g), IG_BN), (unsigned)gh_ceil_div(Mg, BM),
              (unsigned)(g.groups * ig_phases<MODE>(g)));
    if (grid.y > 65535u)
        return gh_fail(GH_EUNSUP, "conv2d: %d channels per group exceed the grid limit", Mg);
    if ((size_t)g.groups * ig_phases<MODE>(g) > 65535)
        return gh_fail(GH_EUNSUP, "conv2d backward data: %d groups x %dx%d stride phases exceed "
                       "the grid limit (65535)", g.groups, g.sh, g.sw);
    cudaStream_t st = gh_stream(ctx);
    if (BM == 64)
        conv_igemm_kernel<MODE, 64><<<grid, IG_THREADS, 0, st>>>(g, src, wt, bias, dst);
    else if (BM == 32)
        conv_igemm_kernel<MODE, 32><<<grid, IG_THREADS, 0, st>>>(g, src, wt, bias, dst);
    else
        conv_igemm_kernel<MODE, 16><<<grid, IG_THREADS, 0, st>>>(g, src, wt, bias, dst);
    LAUNCH_CHECK(MODE == 0 ? "conv_igemm_kernel<fwd>" : "conv_igemm_kernel<bwd data>");
    return GH_OK;
}

// ---- implicit GEMM: weight gradient --------------------------------------------------------
// The GEMM, its tiles, load roles and split-K plan: conv_wg.cuh.
__global__ void __launch_bounds__(WG_THREADS)
conv_wgrad_kernel(conv_geom g, const float *__restrict__ x, const float *__restrict__ dy,
                  float *__restrict__ dst, int splits, int chunk) {
    __shared__ __align__(16) float As[2][WG_BK][WG_BM + WG_PAD];
    __shared__ __align__(16) float Bs[2][WG_BK][WG_BN + WG_PAD];
    const int t = threadIdx.x, ty = t / 16, tx = t % 16;
    const int kk = wg_ld_pix(t);  // load role
    const int grp = blockIdx.z / splits, split = blockIdx.z % splits;
    const int m0 = blockIdx.y * WG_BM, nn0 = blockIdx.x * WG_BN;
    const int Kg = g.cg * (g.r * g.s);
    const wg_range pr = wg_range_at(g, split, chunk);

    // this thread's 4 rows of dy (output channels) and 4 columns of the im2col matrix
    wg_row rows[4];
    wg_col cols[4];
#pragma unroll
    for (int l = 0; l < 4; l++) {
        rows[l] = wg_row_at(g, grp, m0 + wg_ld_row(t, l));
        cols[l] = wg_col_at(g, grp, nn0 + wg_ld_row(t, l));
    }

    float ra[4], rb[4];
    auto fetch = [&](int p0) {
        const int pix = p0 + kk;
        if (pix < pr.pend) {
            const wg_pix px = wg_pix_at(g, pix);
#pragma unroll
            for (int l = 0; l < 4; l++) {
                ra[l] = rows[l].valid ? __ldg(dy + px.dyb + rows[l].dyoff) : 0.0f;
                rb[l] = wg_x_in(g, px, cols[l]) ? __ldg(wg_x_ptr(x, g, px, cols[l])) : 0.0f;
            }
        } else {
#pragma unroll
            for (int l = 0; l < 4; l++) ra[l] = rb[l] = 0.0f;
        }
    };
    auto stash = [&](int buf) {
#pragma unroll
        for (int l = 0; l < 4; l++) {
            (&As[buf][0][0])[wg_slot(kk, wg_ld_row(t, l))] = ra[l];
            (&Bs[buf][0][0])[wg_slot(kk, wg_ld_row(t, l))] = rb[l];
        }
    };

    float acc[4][4] = {};
    const int nk = pr.nk;
    if (nk > 0) {
        fetch(pr.pbeg);
        stash(0);
    }
    __syncthreads();
    for (int kt = 0; kt < nk; kt++) {
        const int buf = kt & 1;
        if (kt + 1 < nk) fetch(pr.pbeg + (kt + 1) * WG_BK);
#pragma unroll
        for (int k2 = 0; k2 < WG_BK; k2++) {
            const float4 a = *reinterpret_cast<const float4 *>(&As[buf][0][0] + wg_slot(k2, ty * 4));
            const float4 b = *reinterpret_cast<const float4 *>(&Bs[buf][0][0] + wg_slot(k2, tx * 4));
            const float av[4] = {a.x, a.y, a.z, a.w}, bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
        }
        if (kt + 1 < nk) stash(buf ^ 1);
        __syncthreads();
    }

#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int m = m0 + ty * 4 + i;
        if (m >= g.kg) continue;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int nn = nn0 + tx * 4 + j;
            if (nn >= Kg) continue;
            const size_t o = wg_dw_off(g, grp, m, nn);
            if (splits == 1)
                dst[o] += acc[i][j];  // dst is dw
            else
                dst[wg_part_off(g, split, o)] = acc[i][j];  // dst is the partials
        }
    }
}

// dw[i] += sum_{s < S} part[s*size + i], in split order.
__global__ void split_reduce_kernel(size_t size, int S, const float *__restrict__ part,
                                   float *__restrict__ dw) {
    GH_GRID_STRIDE(i, size) {
        float acc = 0.0f;
        for (int s = 0; s < S; s++) acc += part[(size_t)s * size + i];
        dw[i] += acc;
    }
}

int wgrad_launch(const kctx *ctx, const conv_geom &g, const float *x, const float *dy, float *dw) {
    wgrad_plan pl = plan_wgrad(g);
    const size_t Kg = (size_t)g.cg * g.r * g.s;
    if (pl.ws_floats > 0 && (!ctx || !ctx->ws || ctx->ws_floats < pl.ws_floats))
        return gh_fail(GH_EINVAL,
                       "conv2d_bwd_cuda: the weight gradient needs a device workspace of %zu floats "
                       "(conv2d_ws_floats_cuda), got %zu",
                       pl.ws_floats, ctx && ctx->ws ? ctx->ws_floats : (size_t)0);
    dim3 grid(pl.gx, pl.gy, pl.gz);
    if (grid.y > 65535u) return gh_fail(GH_EUNSUP, "conv2d_bwd_cuda: %d output channels per group exceed the grid limit", g.kg);
    float *dst = pl.splits == 1 ? dw : ctx->ws;
    conv_wgrad_kernel<<<grid, WG_THREADS, 0, gh_stream(ctx)>>>(g, x, dy, dst, pl.splits, pl.chunk);
    LAUNCH_CHECK("conv_wgrad_kernel");
    if (pl.splits > 1) {
        size_t size = (size_t)g.k * Kg;
        split_reduce_kernel<<<gh_ew_blocks(size), GH_EW_THREADS, 0, gh_stream(ctx)>>>(
            size, pl.splits, ctx->ws, dw);
        LAUNCH_CHECK("split_reduce_kernel");
    }
    return GH_OK;
}

// ---- bias gradient ------------------------------------------------------------------------
// db[co] += sum over (b, oh, ow) of dy, one block per channel, double accumulation, fixed tree;
// each thread's walk over the n x pq matrix: conv_wg.cuh.
__global__ void __launch_bounds__(DB_THREADS)
conv_db_kernel(int n, int k, int pq, const float *__restrict__ dy, float *__restrict__ db) {
    __shared__ double sh[DB_THREADS];
    const int co = blockIdx.x;
    const size_t cnt = (size_t)n * pq;
    double acc = 0.0;
    gh_rc_walk at = gh_rc_walk_at((int)threadIdx.x, DB_THREADS, pq);
    for (size_t i = threadIdx.x; i < cnt; i += DB_THREADS, gh_rc_next(&at))
        acc += (double)__ldg(dy + conv_db_off(k, pq, co, at));
    acc = gh_block_sum<double, DB_THREADS>(acc, sh);
    if (threadIdx.x == 0) db[co] += (float)acc;
}

// ---- depthwise direct kernels ----------------------------------------------------------------
// The direct kernel below is the fallback of the tiled one (dw_tile_kernel): it runs where
// dwt_plan_make refuses a shape, more than 2^31 - 1 elements in the input or output, so on
// 64-bit indices.
// Forward of one depthwise conv with a K x K filter, stride S and dilation D (compile-time, so
// the input row segment and the filter live in registers): each thread computes V=4
// consecutive outputs of one row; per filter row it loads the (V-1)*S + (K-1)*D + 1 inputs
// those outputs share once, and reuses them K*V times. Neighbouring threads read
// neighbouring segments, so loads coalesce and overlaps hit L1.
// The same kernel computes the stride-1 backward data pass: dx = dy (*) flipped w with
// padding (K-1)*D - pad (flip = 1, accumulate = 1).
#define DW_V 4
#define DW_THREADS 256

// I: the index type of the work items; launched with size_t only, since every shape whose
// input and output fit in 31 bits runs tiled.
template <int K, int S, int D, typename I>
__global__ void __launch_bounds__(DW_THREADS)
dw_fwd_kernel(dw_args a, const float *__restrict__ in, const float *__restrict__ wt,
              const float *__restrict__ bias, float *__restrict__ out) {
    constexpr int IN = (DW_V - 1) * S + (K - 1) * D + 1;
    const I nseg = (I)(a.wo + DW_V - 1) / DW_V;
    const I total = (I)a.planes * a.ho * nseg;
    GH_GRID_STRIDE_T(I, item, total) {
        const I t2 = item / nseg;
        const int seg = (int)(item - t2 * nseg);
        const I plane = t2 / (I)a.ho;
        const int oh = (int)(t2 - plane * (I)a.ho);
        const int ch = (int)(plane % (I)a.c);
        float wr[K][K];
#pragma unroll
        for (int kr = 0; kr < K; kr++)
#pragma unroll
            for (int ks = 0; ks < K; ks++)
                wr[kr][ks] = a.flip ? __ldg(wt + ((size_t)ch * K + (K - 1 - kr)) * K + (K - 1 - ks))
                                    : __ldg(wt + ((size_t)ch * K + kr) * K + ks);
        const int ow0 = seg * DW_V;
        const int iw0 = ow0 * S - a.pw;
        const float *ip = in + (size_t)plane * a.hi * a.wi;
        float acc[DW_V];
#pragma unroll
        for (int v = 0; v < DW_V; v++) acc[v] = 0.0f;
#pragma unroll
        for (int kr = 0; kr < K; kr++) {
            const int ih = oh * S - a.ph + kr * D;
            if ((unsigned)ih >= (unsigned)a.hi) continue;
            const float *row = ip + (size_t)ih * a.wi;
            float seg_in[IN];
#pragma unroll
            for (int u = 0; u < IN; u++) {
                const int iw = iw0 + u;
                seg_in[u] = (unsigned)iw < (unsigned)a.wi ? dwt_in(a, __ldg(row + iw)) : 0.0f;
            }
#pragma unroll
            for (int v = 0; v < DW_V; v++)
#pragma unroll
                for (int ks = 0; ks < K; ks++) acc[v] = fmaf(wr[kr][ks], seg_in[v * S + ks * D], acc[v]);
        }
        const float bv = bias ? __ldg(bias + ch) : 0.0f;
        float *op = out + ((size_t)plane * a.ho + oh) * a.wo;
        const float *mp = a.mask ? a.mask + ((size_t)plane * a.ho + oh) * a.wo : NULL;
#pragma unroll
        for (int v = 0; v < DW_V; v++) {
            const int ow = ow0 + v;
            if (ow < a.wo) {
                if (a.accumulate)
                    op[ow] += mp && !(__ldg(mp + ow) > 0.0f) ? 0.0f : acc[v];
                else
                    op[ow] = acc[v] + bv;
            }
        }
    }
}

// The tiled depthwise correlation (conv_dw.cuh: the plan, the staging and the per-thread
// outputs, shared with tests/cuda/test_conv_dw_emu.cu): one staging pass of the blocks' input
// footprints into shared memory (float4 when p.vec), a barrier, then DW_TV outputs per thread
// from shared memory. Every index is 32-bit (dwt_plan_make checked the sizes). F: the fused
// ReLU's flags (p.a.relu, p.a.mask) are read; without it they are compiled out.
template <int K, int S, int D, bool F>
__global__ void __launch_bounds__(DWT_THREADS)
dw_tile_kernel(dwt_plan p, const float *__restrict__ in, const float *__restrict__ wt,
               const float *__restrict__ bias, float *__restrict__ out) {
    __shared__ __align__(16) float sm[DWT_SMEM_FLOATS];
    const dwt_block k = dwt_block_at(p, blockIdx.x);
    const int nload = dwt_load_count(p);
    for (int e = threadIdx.x; e < nload; e += DWT_THREADS) {
        int so;
        const int src = dwt_load_src(p, k, e, &so);
        if (p.vec) {
            const float4 v = src >= 0 ? __ldg(reinterpret_cast<const float4 *>(in + src))
                                      : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            sm[so] = dwt_in<F>(p.a, v.x); sm[so + 1] = dwt_in<F>(p.a, v.y);
            sm[so + 2] = dwt_in<F>(p.a, v.z); sm[so + 3] = dwt_in<F>(p.a, v.w);
        } else {
            sm[so] = src >= 0 ? dwt_in<F>(p.a, __ldg(in + src)) : 0.0f;
        }
    }
    __syncthreads();
    const dwt_thread h = dwt_thread_at(p, k, threadIdx.x);
    if (h.nout == 0) return;
    float wr[K][K], acc[DW_TV];
    dwt_filter<K>(p, wt, h.ch, wr);
    dwt_compute<K, S, D>(p, sm, h.sm, wr, acc);
    dwt_store<F>(p, h, bias, acc, out);
}

// Backward data of a strided depthwise conv: a gather per dx element over the filter taps
// whose output position is integral and in range. Tap kr reaches output row
// (ih + ph - kr*dh) / sh only when sh divides ih + ph - kr*dh; those kr form one residue class
// modulo step_h = sh / gcd(sh, dh), so the loop starts at the first valid kr and steps by
// step_h (at stride 2, dilation 1: 2 of a 3x3 filter's 9 taps are skipped without a test, not
// visited and rejected), and stops once the output row would be negative. Taps are still
// summed in ascending (kr, ks) order, as the reference does. mask (a fused ReLU's x, else
// NULL): dx[i] += the sum only where mask[i] > 0.
template <typename I>
__global__ void dw_bwd_data_gather_kernel(conv_geom g, int step_h, int step_w,
                                          const float *__restrict__ dy,
                                          const float *__restrict__ wt,
                                          const float *__restrict__ mask, float *__restrict__ dx) {
    const I hw = (I)g.h * g.w, total = (I)g.n * g.c * hw;
    GH_GRID_STRIDE_T(I, i, total) {
        const I plane = i / hw;
        const int rem = (int)(i - plane * hw);
        const int ih = rem / g.w, iw = rem - ih * g.w;
        const int ch = (int)(plane % (I)g.c);
        const float *dyp = dy + (size_t)plane * g.p * g.q;
        const float *wp = wt + (size_t)ch * g.r * g.s;
        const int ah = ih + g.ph, aw = iw + g.pw;
        int kr0 = 0, ks0 = 0;  // first tap of the valid residue class, or past the filter
        while (kr0 < step_h && (ah - kr0 * g.dh) % g.sh) kr0++;
        while (ks0 < step_w && (aw - ks0 * g.dw) % g.sw) ks0++;
        if (kr0 == step_h) kr0 = g.r;
        if (ks0 == step_w) ks0 = g.s;
        float acc = 0.0f;
        for (int kr = kr0; kr < g.r; kr += step_h) {
            const int ohn = ah - kr * g.dh;
            if (ohn < 0) break;  // later taps reach rows further up
            const int oh = ohn / g.sh;
            if (oh >= g.p) continue;
            for (int ks = ks0; ks < g.s; ks += step_w) {
                const int own = aw - ks * g.dw;
                if (own < 0) break;
                const int ow = own / g.sw;
                if (ow >= g.q) continue;
                acc = fmaf(__ldg(wp + kr * g.s + ks), __ldg(dyp + oh * g.q + ow), acc);
            }
        }
        dx[i] += mask && !(__ldg(mask + i) > 0.0f) ? 0.0f : acc;
    }
}

// Depthwise weight gradient: block (split, ch) sums dy * x over its images' pixels into K*K
// register accumulators (conv_wg.cuh: which images, pixels and taps), then reduces them across
// the block in a fixed order (warp butterflies, then warps in index order) into its partial (or
// straight into dw if S == 1).
// relu: x read through ReLU (relu_fwd_cuda's max(v, 0)), the filter gradient of relu(x).
template <int K>
__global__ void __launch_bounds__(DW_WG_THREADS)
dw_wgrad_kernel(conv_geom g, int relu, const float *__restrict__ x, const float *__restrict__ dy,
                float *__restrict__ dst) {
    constexpr int KK = K * K;
    __shared__ float sh[DW_WG_THREADS / 32][KK];
    const int S = gridDim.x, split = blockIdx.x, ch = blockIdx.y;
    int b0, b1;
    dw_wg_images(g.n, S, split, &b0, &b1);
    const int pq = g.p * g.q;
    float acc[K][K];
#pragma unroll
    for (int kr = 0; kr < K; kr++)
#pragma unroll
        for (int ks = 0; ks < K; ks++) acc[kr][ks] = 0.0f;
    // one image at a time: the pixel index is 32-bit and the image's offsets are hoisted
    for (int b = b0; b < b1; b++)
    for (int rem = threadIdx.x; rem < pq; rem += DW_WG_THREADS) {
        const dw_wg_pix px = dw_wg_pix_at(g, b, ch, rem);
        const float d = __ldg(dy + px.dy);
        const float *xp = x + px.xplane;
#pragma unroll
        for (int kr = 0; kr < K; kr++) {
            const int ih = dw_wg_ih(g, px, kr);
            if ((unsigned)ih >= (unsigned)g.h) continue;
#pragma unroll
            for (int ks = 0; ks < K; ks++) {
                const int iw = dw_wg_iw(g, px, ks);
                if ((unsigned)iw >= (unsigned)g.w) continue;
                const float xv = __ldg(xp + ih * g.w + iw);
                acc[kr][ks] = fmaf(d, relu ? (xv > 0.0f ? xv : 0.0f) : xv, acc[kr][ks]);
            }
        }
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x / 32;
#pragma unroll
    for (int kr = 0; kr < K; kr++)
#pragma unroll
        for (int ks = 0; ks < K; ks++) {
            float s = gh_warp_sum(acc[kr][ks]);
            if (lane == 0) sh[warp][kr * K + ks] = s;
        }
    __syncthreads();
    if (threadIdx.x < KK) {
        float s = 0.0f;
        for (int wi = 0; wi < DW_WG_THREADS / 32; wi++) s += sh[wi][threadIdx.x];
        if (S == 1)
            dst[dw_wg_dst_off(g, 1, 0, ch, KK, threadIdx.x)] += s;  // dst is dw
        else
            dst[dw_wg_dst_off(g, S, split, ch, KK, threadIdx.x)] = s;  // dst is the partials
    }
}

template <int K, int S, int D>
int dw_fwd_launch_ksd(const kctx *ctx, const dw_args &a, const float *in, const float *wt,
                      const float *bias, float *out) {
    dwt_plan p;
    if (dwt_plan_make(a, K, S, D, &p)) {
        p.vec = dwt_can_vec(a, in);
        if (a.relu || a.mask)
            dw_tile_kernel<K, S, D, true><<<p.blocks, DWT_THREADS, 0, gh_stream(ctx)>>>(
                p, in, wt, bias, out);
        else
            dw_tile_kernel<K, S, D, false><<<p.blocks, DWT_THREADS, 0, gh_stream(ctx)>>>(
                p, in, wt, bias, out);
        LAUNCH_CHECK("dw_tile_kernel");
        return GH_OK;
    }
    size_t total = (size_t)a.planes * a.ho * gh_ceil_div(a.wo, DW_V);
    unsigned blocks = gh_ew_blocks(total);
    dw_fwd_kernel<K, S, D, size_t><<<blocks, DW_THREADS, 0, gh_stream(ctx)>>>(a, in, wt, bias, out);
    LAUNCH_CHECK("dw_fwd_kernel");
    return GH_OK;
}

int dw_fwd_dispatch(const kctx *ctx, int K, int S, int D, const dw_args &a, const float *in,
                    const float *wt, const float *bias, float *out) {
#define DW_CASE(k_, s_, d_) \
    if (K == k_ && S == s_ && D == d_) return dw_fwd_launch_ksd<k_, s_, d_>(ctx, a, in, wt, bias, out)
    DW_CASE(3, 1, 1); DW_CASE(3, 1, 2); DW_CASE(3, 2, 1); DW_CASE(3, 2, 2);
    DW_CASE(5, 1, 1); DW_CASE(5, 1, 2); DW_CASE(5, 2, 1); DW_CASE(5, 2, 2);
#undef DW_CASE
    return gh_fail(GH_EUNSUP, "conv2d depthwise: no kernel for %dx%d stride %d dilation %d", K, K, S, D);
}

// relu: the conv of relu(x)
int dw_forward(const kctx *ctx, const conv_geom &g, const float *x, const float *w, const float *b,
               float *y, int relu) {
    dw_args a = dw_args_fwd(g.n, g.c, g.h, g.w, g.p, g.q, g.ph, g.pw);
    a.relu = relu;
    return dw_fwd_dispatch(ctx, g.r, g.sh, g.dh, a, x, w, b, y);
}

// mask: a fused ReLU's x (dx accumulates only where it is > 0), else NULL
int dw_backward_data(const kctx *ctx, const conv_geom &g, const float *w, const float *dy,
                     const float *mask, float *dx) {
    if (g.sh == 1) {
        // dx = correlation of dy with the flipped filter, padding (K-1)*D - pad
        dw_args a = dw_args_bwd_data(g.n, g.c, g.h, g.w, g.p, g.q, g.r, g.dh, g.ph, g.pw);
        a.mask = mask;
        return dw_fwd_dispatch(ctx, g.r, 1, g.dh, a, dy, w, NULL, dx);
    }
    size_t total = (size_t)g.n * g.c * g.h * g.w;
    const int step_h = g.sh / phase_gcd(g.sh, g.dh), step_w = g.sw / phase_gcd(g.sw, g.dw);
    if (gh_idx32(total))
        dw_bwd_data_gather_kernel<uint32_t><<<gh_ew_blocks(total), GH_EW_THREADS, 0, gh_stream(ctx)>>>(
            g, step_h, step_w, dy, w, mask, dx);
    else
        dw_bwd_data_gather_kernel<size_t><<<gh_ew_blocks(total), GH_EW_THREADS, 0, gh_stream(ctx)>>>(
            g, step_h, step_w, dy, w, mask, dx);
    LAUNCH_CHECK("dw_bwd_data_gather_kernel");
    return GH_OK;
}

// relu: the filter gradient of relu(x)
int dw_backward_weight(const kctx *ctx, const conv_geom &g, const float *x, const float *dy,
                       float *dw, int relu) {
    const int S = dw_wgrad_splits(g);
    const size_t need = dw_ws_floats(g);
    if (need > 0 && (!ctx || !ctx->ws || ctx->ws_floats < need))
        return gh_fail(GH_EINVAL,
                       "conv2d_bwd_cuda: the depthwise weight gradient needs a device workspace of "
                       "%zu floats (conv2d_ws_floats_cuda), got %zu",
                       need, ctx && ctx->ws ? ctx->ws_floats : (size_t)0);
    float *dst = S == 1 ? dw : ctx->ws;
    dim3 grid(S, g.c);
    if (g.r == 3)
        dw_wgrad_kernel<3><<<grid, DW_WG_THREADS, 0, gh_stream(ctx)>>>(g, relu, x, dy, dst);
    else
        dw_wgrad_kernel<5><<<grid, DW_WG_THREADS, 0, gh_stream(ctx)>>>(g, relu, x, dy, dst);
    LAUNCH_CHECK("dw_wgrad_kernel");
    if (S > 1) {
        size_t size = (size_t)g.c * g.r * g.s;
        split_reduce_kernel<<<gh_ew_blocks(size), GH_EW_THREADS, 0, gh_stream(ctx)>>>(size, S, ctx->ws, dw);
        LAUNCH_CHECK("split_reduce_kernel");
    }
    return GH_OK;
}

// conv2d_relu_*_cuda's refusal of a shape outside the depthwise fast path
int relu_unfused(const char *op, const conv_geom &g) {
    return gh_fail(GH_EUNSUP, "%s: c=%d k=%d groups=%d %dx%d stride %d dilation %d: only the "
                   "depthwise fast path takes ReLU fused (conv2d_relu_ok); run relu_fwd and "
                   "conv2d", op, g.c, g.k, g.groups, g.r, g.s, g.sh, g.dh);
}

}  // namespace

extern "C" {

size_t conv2d_ws_floats_cuda(const conv2d_shape *sh) {
    conv_geom g = {};
    if (conv_check("conv2d_ws_floats_cuda", sh, &g)) return 0;
    if (dw_fast(g)) return dw_ws_floats(g);
    return plan_wgrad(g).ws_floats;
}

int conv2d_ws_cuda(const kctx *ctx, const conv2d_shape *sh, size_t *floats) {
    (void)ctx;
    GH_CUDA_NEED("conv2d_ws_cuda", floats);
    *floats = conv2d_ws_floats_cuda(sh);
    return GH_OK;
}

int conv2d_fwd_cuda(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
                    const float *b, float *y) {
    conv_geom g = {};
    GH_TRY(conv_check("conv2d_fwd_cuda", sh, &g));
    GH_CUDA_NEED("conv2d_fwd_cuda", x);
    GH_CUDA_NEED("conv2d_fwd_cuda", w);
    GH_CUDA_NEED("conv2d_fwd_cuda", y);
    if (dw_fast(g)) return dw_forward(ctx, g, x, w, b, y, 0);
    return igemm_launch<0>(ctx, g, x, w, b, y);
}

int conv2d_bwd_cuda(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
                    const float *dy, float *dx, float *dw, float *db) {
    conv_geom g = {};
    GH_TRY(conv_check("conv2d_bwd_cuda", sh, &g));
    GH_CUDA_NEED("conv2d_bwd_cuda", dy);
    if (dx) GH_CUDA_NEED("conv2d_bwd_cuda", w);
    if (dw) GH_CUDA_NEED("conv2d_bwd_cuda", x);
    const bool fast = dw_fast(g);
    if (dx)
        GH_TRY(fast ? dw_backward_data(ctx, g, w, dy, NULL, dx)
                    : igemm_launch<1>(ctx, g, dy, w, NULL, dx));
    if (dw)
        GH_TRY(fast ? dw_backward_weight(ctx, g, x, dy, dw, 0) : wgrad_launch(ctx, g, x, dy, dw));
    if (db) {
        conv_db_kernel<<<g.k, DB_THREADS, 0, gh_stream(ctx)>>>(g.n, g.k, g.p * g.q, dy, db);
        LAUNCH_CHECK("conv_db_kernel");
    }
    return GH_OK;
}

// ---- conv2d of relu(x) (kernels.h): the depthwise fast path fused ------------------------------
// ReLU applied where the tile stages x (or the direct kernel, the weight gradient read it), dx
// masked where it is stored; other shapes are refused (the engine runs relu_fwd and the plain
// or tensor-core conv on scratch).

int conv2d_relu_ok_cuda(const kctx *ctx, const conv2d_shape *sh, int *fused) {
    (void)ctx;
    GH_CUDA_NEED("conv2d_relu_ok_cuda", fused);
    conv_geom g = {};
    GH_TRY(conv_check("conv2d_relu_ok_cuda", sh, &g));
    *fused = dw_fast(g);
    return GH_OK;
}

int conv2d_relu_fwd_cuda(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
                         const float *b, float *y) {
    static const char op[] = "conv2d_relu_fwd_cuda";
    conv_geom g = {};
    GH_TRY(conv_check(op, sh, &g));
    GH_CUDA_NEED(op, x);
    GH_CUDA_NEED(op, w);
    GH_CUDA_NEED(op, y);
    if (!dw_fast(g)) return relu_unfused(op, g);
    return dw_forward(ctx, g, x, w, b, y, 1);
}

int conv2d_relu_bwd_cuda(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
                         const float *dy, float *dx, float *dw, float *db) {
    static const char op[] = "conv2d_relu_bwd_cuda";
    conv_geom g = {};
    GH_TRY(conv_check(op, sh, &g));
    GH_CUDA_NEED(op, dy);
    if (dx) GH_CUDA_NEED(op, w);
    if (dx || dw) GH_CUDA_NEED(op, x);
    if (!dw_fast(g)) return relu_unfused(op, g);
    if (dx) GH_TRY(dw_backward_data(ctx, g, w, dy, x, dx));
    if (dw) GH_TRY(dw_backward_weight(ctx, g, x, dy, dw, 1));
    if (db) {
        conv_db_kernel<<<g.k, DB_THREADS, 0, gh_stream(ctx)>>>(g.n, g.k, g.p * g.q, dy, db);
        LAUNCH_CHECK("conv_db_kernel");
    }
    return GH_OK;
}

}  // extern "C"
