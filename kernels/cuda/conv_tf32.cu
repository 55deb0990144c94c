// kernels/cuda: conv2d forward as an implicit GEMM on TF32 tensor cores (WMMA m16n16k8, FP32
// accumulation), and conv2d_fwd_prec_cuda, which picks it or the FP32 kernels by precision.
// A first tensor-core path (issue 15): single-buffered shared-memory tiles, no cp.async yet.
#include <limits.h>
#include <mma.h>

#include "cuda_common.cuh"

namespace {

// Per group g: y[b, g*kg+m, oh, ow] = sum_{ci,kr,ks} w[g*kg+m, ci, kr, ks]
//   * x[b, g*cg+ci, oh*sh-ph+kr*dh, ow*sw-pw+ks*dw] (+ bias): GEMM M = kg, N = n*p*q, K = cg*r*s.
// Block: 64 (M) x 64 (N) tile, K in slices of 8, 128 threads = 4 warps in 2 x 2, each warp a
// 32 x 32 sub-tile of 2 x 2 accumulator fragments. Rows of As and Bs are padded by 4 floats:
// WMMA needs a leading dimension that is a multiple of 4 floats and 32-byte aligned fragment
// pointers (16 rows of 12 or 68 floats keep both), and the pad spreads rows over banks.
#define TC_BM 64
#define TC_BN 64
#define TC_BK 8
#define TC_THREADS 128
#define TC_PAD 4
#define TC_LDA (TC_BK + TC_PAD)
#define TC_LDB (TC_BN + TC_PAD)

struct tc_geom {
    int n, c, h, w, k, r, s;
    int sh, sw, ph, pw, dh, dw;
    int groups, p, q, cg, kg;
};

__global__ void __launch_bounds__(TC_THREADS)
conv_tf32_fwd_kernel(tc_geom g, const float *__restrict__ x, const float *__restrict__ wt,
                     const float *__restrict__ bias, float *__restrict__ y) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    using namespace nvcuda;
    __shared__ __align__(32) float As[TC_BM * TC_LDA];  // [m][k]
    __shared__ __align__(32) float Bs[TC_BK * TC_LDB];  // [k][pixel]
    __shared__ __align__(32) float Cs[TC_BM * TC_LDB];  // [m][pixel], the epilogue's staging

    const int t = threadIdx.x, warp = t / 32;
    const int wm = warp / 2, wn = warp % 2;
    const int grp = blockIdx.z, m0 = blockIdx.y * TC_BM, n0 = blockIdx.x * TC_BN;
    const int rs = g.r * g.s, Kg = g.cg * rs, pq = g.p * g.q, hw = g.h * g.w;
    const int Npix = g.n * pq;

    // Loads: A element (m = t/8 + 16l, k = t%8); B element (k = t/64 + 2l, pixel = t%64), so
    // each thread gathers one fixed pixel, decoded once, and 32 threads read 32 pixels.
    const int a_k = t % TC_BK, a_m = t / TC_BK;
    const int b_n = t % TC_BN, b_k = t / TC_BN;
    const int pix = n0 + b_n;
    const bool pix_ok = pix < Npix;
    int ih0 = 0, iw0 = 0;
    size_t xbase = 0, ybase = 0;
    if (pix_ok) {
        const int b = pix / pq, rem = pix - b * pq;
        const int oh = rem / g.q, ow = rem - oh * g.q;
        ih0 = oh * g.sh - g.ph;
        iw0 = ow * g.sw - g.pw;
        xbase = ((size_t)b * g.c + (size_t)grp * g.cg) * hw;
        ybase = ((size_t)b * g.k + (size_t)grp * g.kg) * pq + rem;
    }

    wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[2][2];
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.0f);

    for (int k0 = 0; k0 < Kg; k0 += TC_BK) {
        float ra[4], rb[4];
#pragma unroll
        for (int l = 0; l < 4; l++) {
            const int gm = m0 + a_m + 16 * l, gk = k0 + a_k;
            ra[l] = gm < g.kg && gk < Kg ? __ldg(wt + ((size_t)grp * g.kg + gm) * Kg + gk) : 0.0f;
        }
#pragma unroll
        for (int l = 0; l < 4; l++) {
            const int gk = k0 + b_k + 2 * l;
            float v = 0.0f;
            if (pix_ok && gk < Kg) {
                const int ch = gk / rs, rsi = gk - ch * rs;
                const int kr = rsi / g.s, ks = rsi - kr * g.s;
                const int ih = ih0 + kr * g.dh, iw = iw0 + ks * g.dw;
                if ((unsigned)ih < (unsigned)g.h && (unsigned)iw < (unsigned)g.w)
                    v = __ldg(x + xbase + (size_t)ch * hw + ih * g.w + iw);
            }
            rb[l] = v;
        }
        __syncthreads();  // the previous slice's fragments are loaded by every warp
#pragma unroll
        for (int l = 0; l < 4; l++) {
            As[(a_m + 16 * l) * TC_LDA + a_k] = ra[l];
            Bs[(b_k + 2 * l) * TC_LDB + b_n] = rb[l];
        }
        __syncthreads();
        wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa[2];
        wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fb[2];
#pragma unroll
        for (int i = 0; i < 2; i++) {
            wmma::load_matrix_sync(fa[i], As + (wm * 32 + i * 16) * TC_LDA, TC_LDA);
#pragma unroll
            for (int e = 0; e < fa[i].num_elements; e++) fa[i].x[e] = wmma::__float_to_tf32(fa[i].x[e]);
        }
#pragma unroll
        for (int j = 0; j < 2; j++) {
            wmma::load_matrix_sync(fb[j], Bs + wn * 32 + j * 16, TC_LDB);
#pragma unroll
            for (int e = 0; e < fb[j].num_elements; e++) fb[j].x[e] = wmma::__float_to_tf32(fb[j].x[e]);
        }
#pragma unroll
        for (int i = 0; i < 2; i++)
#pragma unroll
            for (int j = 0; j < 2; j++) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }

#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 2; j++)
            wmma::store_matrix_sync(Cs + (wm * 32 + i * 16) * TC_LDB + wn * 32 + j * 16, acc[i][j],
                                    TC_LDB, wmma::mem_row_major);
    __syncthreads();
    // Epilogue: thread t writes pixel t%64 of rows t/64 + 2i: 64 consecutive pixels per row.
    if (!pix_ok) return;
    for (int m = b_k; m < TC_BM; m += TC_THREADS / TC_BN) {
        const int gm = m0 + m;
        if (gm >= g.kg) break;
        const float bv = bias ? __ldg(bias + grp * g.kg + gm) : 0.0f;
        y[ybase + (size_t)gm * pq] = Cs[m * TC_LDB + b_n] + bv;
    }
#else
    __trap();  // built for an architecture without TF32 MMA: fail the launch, never skip it
#endif
}

int tf32_device_check(const char *op) {
    int dev = 0, major = 0;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
    if (major < 8)
        return gh_fail(GH_EUNSUP, "%s: TF32 tensor cores need compute capability 8.0 or newer, "
                       "device %d has %d.x", op, dev, major);
    return GH_OK;
}

int conv_tf32_fwd(const kctx *ctx, const conv2d_shape *in, const float *x, const float *w,
                  const float *b, float *y) {
    const char *op = "conv2d_fwd_prec_cuda(tf32)";
    conv2d_shape sh;
    GH_TRY(conv2d_shape_check(op, in, &sh));
    tc_geom g = {sh.n, sh.c, sh.h, sh.w, sh.k, sh.r, sh.s, sh.stride_h, sh.stride_w,
                 sh.pad_h, sh.pad_w, sh.dil_h, sh.dil_w, sh.groups, sh.p, sh.q,
                 sh.c / sh.groups, sh.k / sh.groups};
    const size_t Npix = (size_t)g.n * g.p * g.q;
    if (Npix > (size_t)INT_MAX || (size_t)g.n * g.h * g.w > (size_t)INT_MAX ||
        (size_t)g.cg * g.r * g.s > (size_t)INT_MAX / 2)
        return gh_fail(GH_EUNSUP, "%s: more than 2^31 pixels or filter taps in one GEMM dimension", op);
    dim3 grid((unsigned)gh_ceil_div(Npix, TC_BN), (unsigned)gh_ceil_div(g.kg, TC_BM), (unsigned)g.groups);
    if (grid.y > 65535u || grid.z > 65535u)
        return gh_fail(GH_EUNSUP, "%s: %d groups of %d output channels exceed the grid limits", op,
                       g.groups, g.kg);
    GH_TRY(tf32_device_check(op));
    conv_tf32_fwd_kernel<<<grid, TC_THREADS, 0, gh_stream(ctx)>>>(g, x, w, b, y);
    LAUNCH_CHECK("conv_tf32_fwd_kernel");
    return GH_OK;
}

}  // namespace

extern "C" {

int conv2d_fwd_prec_cuda(const kctx *ctx, const conv2d_shape *sh, gh_precision prec,
                         const float *x, const float *w, const float *b, float *y) {
    switch (prec) {
    case GH_PREC_FP32:
        return conv2d_fwd_cuda(ctx, sh, x, w, b, y);
    case GH_PREC_TF32:
        GH_CUDA_NEED("conv2d_fwd_prec_cuda", sh);
        GH_CUDA_NEED("conv2d_fwd_prec_cuda", x);
        GH_CUDA_NEED("conv2d_fwd_prec_cuda", w);
        GH_CUDA_NEED("conv2d_fwd_prec_cuda", y);
        // depthwise convs are memory bound and one output channel per group: FP32 kernels
        if (sh->groups > 1 && sh->groups == sh->c && sh->k == sh->c)
            return conv2d_fwd_cuda(ctx, sh, x, w, b, y);
        return conv_tf32_fwd(ctx, sh, x, w, b, y);
    }
    return gh_fail(GH_EINVAL, "conv2d_fwd_prec_cuda: unknown precision %d (0 fp32, 1 tf32)", (int)prec);
}

}  // extern "C"
