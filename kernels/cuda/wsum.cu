// kernels/cuda: the DARTS mixed op y = sum_i wts[i]*xs[i] and its backward. The k input
// pointers travel by value in a kernel-parameter struct (no device pointer array to upload);
// loops over them are unrolled to GH_WSUM_MAX so every index is a compile-time constant.
// dwts is reduced in a fixed order: per-block partials (grid fixed by n), then a second pass.
#include "wsum.cuh"

namespace {

template <bool VEC>
__global__ void __launch_bounds__(WSUM_THREADS)
wsum_fwd_kernel(size_t n, wsum_args a, const float *__restrict__ wts, float *__restrict__ y) {
    float w[GH_WSUM_MAX];
    wsum_weights(a, wts, w);
    const size_t nv = VEC ? n / 4 : n;
    GH_GRID_STRIDE(i, nv) wsum_fwd_at<VEC>(a, w, i, y);
}

// dxs[j] += w[j]*dy; when part != NULL, part[block*m + j] = this block's sum of dy*x[j]
// (thread sums in grid-stride order, warp butterflies, warps in index order).
template <bool VEC>
__global__ void __launch_bounds__(WSUM_THREADS)
wsum_bwd_kernel(size_t n, wsum_args a, const float *__restrict__ wts, const float *__restrict__ dy,
                double *__restrict__ part) {
    __shared__ float sh[WSUM_THREADS / 32][GH_WSUM_MAX];
    float w[GH_WSUM_MAX], acc[GH_WSUM_MAX];
    wsum_weights(a, wts, w);
#pragma unroll
    for (int j = 0; j < GH_WSUM_MAX; j++) acc[j] = 0.0f;
    const size_t nv = VEC ? n / 4 : n;
    GH_GRID_STRIDE(i, nv) wsum_bwd_at<VEC>(a, w, dy, part != nullptr, i, acc);
    if (!part) return;  // uniform across the block
    const int lane = threadIdx.x & 31, warp = threadIdx.x / 32;
#pragma unroll
    for (int j = 0; j < GH_WSUM_MAX; j++) {
        float s = gh_warp_sum(acc[j]);
        if (lane == 0) sh[warp][j] = s;
    }
    __syncthreads();
    if (threadIdx.x < a.m)
        part[(size_t)blockIdx.x * a.m + threadIdx.x] = wsum_block_part(sh, threadIdx.x);
}

// dwts[idx[j]] += sum over blocks of part[b*m + j], in block order (one block per j).
__global__ void __launch_bounds__(WSUM_THREADS)
wsum_dwts_kernel(int nblocks, wsum_args a, const double *__restrict__ part, float *dwts) {
    __shared__ double sh[WSUM_THREADS];
    const int j = blockIdx.x;
    double s = wsum_dwts_thread(nblocks, a, j, threadIdx.x, part);
    s = gh_block_sum<double, WSUM_THREADS>(s, sh);
    if (threadIdx.x == 0) dwts[a.idx[j]] += (float)s;
}

int wsum_check(const char *op, int k) {
    if (k < 1 || k > GH_WSUM_MAX)
        return gh_fail(GH_EINVAL, "%s: k=%d must be in [1, %d] (GH_WSUM_MAX)", op, k, GH_WSUM_MAX);
    return GH_OK;
}

}  // namespace

extern "C" {

int wsum_fwd_cuda(const kctx *ctx, int k, size_t n, const float *const *xs, const float *wts,
                  float *y) {
    GH_TRY(wsum_check("wsum_fwd_cuda", k));
    if (n == 0) return GH_OK;
    GH_CUDA_NEED("wsum_fwd_cuda", xs);
    GH_CUDA_NEED("wsum_fwd_cuda", wts);
    GH_CUDA_NEED("wsum_fwd_cuda", y);
    wsum_args a;
    const bool vec = wsum_pack_fwd(k, n, xs, y, &a);
    size_t work = vec ? n / 4 : n;
    cudaStream_t st = gh_stream(ctx);
    if (vec)
        wsum_fwd_kernel<true><<<gh_ew_blocks(work), WSUM_THREADS, 0, st>>>(n, a, wts, y);
    else
        wsum_fwd_kernel<false><<<gh_ew_blocks(work), WSUM_THREADS, 0, st>>>(n, a, wts, y);
    LAUNCH_CHECK("wsum_fwd_kernel");
    return GH_OK;
}

int wsum_bwd_cuda(const kctx *ctx, int k, size_t n, const float *const *xs, const float *wts,
                  const float *dy, float *const *dxs, float *dwts) {
    GH_TRY(wsum_check("wsum_bwd_cuda", k));
    if (n == 0) return GH_OK;
    GH_CUDA_NEED("wsum_bwd_cuda", wts);
    GH_CUDA_NEED("wsum_bwd_cuda", dy);
    wsum_args a;
    bool any_dot;
    const bool vec = wsum_pack_bwd(k, n, xs, dy, dxs, dwts, &a, &any_dot);
    if (a.m == 0) return GH_OK;
    cudaStream_t st = gh_stream(ctx);
    size_t work = vec ? n / 4 : n;
    // the grid of the dot-product pass depends on n only: a fixed summation order
    const int blocks = wsum_bwd_blocks(work);
    double *part = NULL;
    if (any_dot)
        GH_TRY(gh_ws_take("wsum_bwd_cuda", ctx, sizeof(double) * blocks * a.m, (void **)&part));
    if (vec)
        wsum_bwd_kernel<true><<<blocks, WSUM_THREADS, 0, st>>>(n, a, wts, dy, part);
    else
        wsum_bwd_kernel<false><<<blocks, WSUM_THREADS, 0, st>>>(n, a, wts, dy, part);
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess && any_dot) {
        wsum_dwts_kernel<<<a.m, WSUM_THREADS, 0, st>>>(blocks, a, part, dwts);
        e = cudaGetLastError();
    }
    gh_ws_release(ctx, part);
    if (e != cudaSuccess)
        return gh_fail(GH_ECUDA, "%s:%d: wsum_bwd_cuda launch failed: %s (k=%d n=%zu)", __FILE__,
                       __LINE__, cudaGetErrorString(e), k, n);
    return GH_OK;
}

// The dot-product partials of the widest case: every input taking part and the scalar
// (non-float4) grid, which has the most blocks.
int wsum_bwd_ws_cuda(const kctx *ctx, int k, size_t n, size_t *floats) {
    (void)ctx;
    GH_CUDA_NEED("wsum_bwd_ws_cuda", floats);
    *floats = 0;
    GH_TRY(wsum_check("wsum_bwd_ws_cuda", k));
    *floats = gh_ws_floats_for(sizeof(double) * (size_t)wsum_bwd_blocks(n) * (size_t)k);
    return GH_OK;
}

}  // extern "C"
