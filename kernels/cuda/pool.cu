// kernels/cuda: max and average pooling (forward per output, backward as a gather per input:
// each input element visits the windows that contain it, so no atomics and a fixed order),
// and global average pooling (one warp per (n, c) row). Max pooling can save its argmax in the
// forward (maxpool_fwd_idx_cuda) so that the backward reads one index per window instead of
// recomputing the window (maxpool_bwd_idx_cuda). Element indices are 32-bit when the tensor
// holds fewer than 2^31 elements (checked on the host), else 64-bit.
#include <math.h>

#include "pool.cuh"

namespace {

// The shared geometry check (kernels/geometry.c), then the validated shape as kernel arguments.
int pool_check(const char *op, const pool_shape *in, pool_geom *g) {
    pool_shape sh;
    GH_TRY(pool_shape_check(op, in, &sh));
    *g = pool_geom{sh.n, sh.c, sh.h, sh.w, sh.kh, sh.kw, sh.stride, sh.pad, sh.p, sh.q};
    return GH_OK;
}

// IDX: also store each window's argmax (in-plane index, -1 for an empty window) into idx.
template <typename I, bool IDX>
__global__ void maxpool_fwd_kernel(pool_geom g, const float *__restrict__ x, float *__restrict__ y,
                                   int *__restrict__ idx) {
    const I pq = (I)g.p * g.q, hw = (I)g.h * g.w, total = (I)g.n * g.c * pq;
    GH_GRID_STRIDE_T(I, i, total) {
        I nc;
        int op, oq;
        pool_decode<I>(i, pq, g.q, &nc, &op, &oq);
        float best;
        const int bi = max_window(g, x + nc * hw, op, oq, &best);
        y[i] = bi < 0 ? -INFINITY : best;
        if (IDX) idx[i] = bi;
    }
}

// One thread per input element: maxpool_bwd_at gathers the windows that chose it.
template <typename I, bool IDX>
__global__ void maxpool_bwd_kernel(pool_geom g, const float *__restrict__ x,
                                   const int *__restrict__ idx, const float *__restrict__ dy,
                                   float *__restrict__ dx) {
    const I hw = (I)g.h * g.w, total = (I)g.n * g.c * hw;
    const I pq = (I)g.p * g.q;
    GH_GRID_STRIDE_T(I, i, total) {
        I nc;
        int ih, iw;
        const int r = pool_decode<I>(i, hw, g.w, &nc, &ih, &iw);
        maxpool_bwd_at<I, IDX>(g, x, idx, dy, nc, hw, pq, r, ih, iw, dx + i);
    }
}

template <typename I>
__global__ void avgpool_fwd_kernel(pool_geom g, const float *__restrict__ x, float *__restrict__ y) {
    const I pq = (I)g.p * g.q, total = (I)g.n * g.c * pq;
    GH_GRID_STRIDE_T(I, i, total) {
        I nc;
        int op, oq;
        pool_decode<I>(i, pq, g.q, &nc, &op, &oq);
        y[i] = avgpool_at(g, x + nc * ((I)g.h * g.w), op, oq);
    }
}

template <typename I>
__global__ void avgpool_bwd_kernel(pool_geom g, const float *__restrict__ dy, float *__restrict__ dx) {
    const I hw = (I)g.h * g.w, total = (I)g.n * g.c * hw;
    const I pq = (I)g.p * g.q;
    GH_GRID_STRIDE_T(I, i, total) {
        I nc;
        int ih, iw;
        pool_decode<I>(i, hw, g.w, &nc, &ih, &iw);
        avgpool_bwd_at(g, dy + nc * pq, ih, iw, dx + i);
    }
}

// Global average pool: one warp per row of hw floats; lanes stride the row (coalesced), then
// a fixed butterfly sum.
__global__ void __launch_bounds__(GAP_THREADS)
gap_fwd_kernel(int rows, int hw, const float *__restrict__ x, float *__restrict__ y) {
    const int warps = GAP_THREADS / 32;
    const int lane = threadIdx.x & 31;
    for (size_t row = (size_t)blockIdx.x * warps + threadIdx.x / 32; row < (size_t)rows;
         row += (size_t)gridDim.x * warps) {
        double s = gap_lane_sum(x + row * hw, hw, lane);
        s = gh_warp_sum(s);
        if (lane == 0) y[row] = (float)(s / hw);
    }
}

// dx[row, j] += dy[row] / hw, the row decoded in I (uint32_t where gh_idx32(total)).
template <typename I>
__global__ void gap_bwd_kernel(I total, int hw, const float *__restrict__ dy,
                               float *__restrict__ dx) {
    GH_GRID_STRIDE_T(I, i, total) {
        I row, j;
        gh_rowcol<I>(i, (I)hw, &row, &j);
        dx[i] += dy[row] / (float)hw;
    }
}

int maxpool_fwd_launch(const char *op, const kctx *ctx, const pool_shape *sh, const float *x,
                       float *y, int *idx) {
    pool_geom g;
    GH_TRY(pool_check(op, sh, &g));
    GH_CUDA_NEED(op, x);
    GH_CUDA_NEED(op, y);
    size_t total = (size_t)g.n * g.c * g.p * g.q;
    unsigned blocks = gh_ew_blocks(total);
    cudaStream_t st = gh_stream(ctx);
    const bool i32 = pool_idx32(g);
    if (idx && i32) maxpool_fwd_kernel<uint32_t, true><<<blocks, GH_EW_THREADS, 0, st>>>(g, x, y, idx);
    else if (idx) maxpool_fwd_kernel<size_t, true><<<blocks, GH_EW_THREADS, 0, st>>>(g, x, y, idx);
    else if (i32) maxpool_fwd_kernel<uint32_t, false><<<blocks, GH_EW_THREADS, 0, st>>>(g, x, y, idx);
    else maxpool_fwd_kernel<size_t, false><<<blocks, GH_EW_THREADS, 0, st>>>(g, x, y, idx);
    LAUNCH_CHECK("maxpool_fwd_kernel");
    return GH_OK;
}

// x (recompute) or idx (saved argmax): exactly one is non-NULL.
int maxpool_bwd_launch(const char *op, const kctx *ctx, const pool_shape *sh, const float *x,
                       const int *idx, const float *dy, float *dx) {
    pool_geom g;
    GH_TRY(pool_check(op, sh, &g));
    if (!dx) return GH_OK;
    GH_CUDA_NEED(op, dy);
    size_t total = (size_t)g.n * g.c * g.h * g.w;
    unsigned blocks = gh_ew_blocks(total);
    cudaStream_t st = gh_stream(ctx);
    const bool i32 = pool_idx32(g);
    if (idx && i32) maxpool_bwd_kernel<uint32_t, true><<<blocks, GH_EW_THREADS, 0, st>>>(g, x, idx, dy, dx);
    else if (idx) maxpool_bwd_kernel<size_t, true><<<blocks, GH_EW_THREADS, 0, st>>>(g, x, idx, dy, dx);
    else if (i32) maxpool_bwd_kernel<uint32_t, false><<<blocks, GH_EW_THREADS, 0, st>>>(g, x, idx, dy, dx);
    else maxpool_bwd_kernel<size_t, false><<<blocks, GH_EW_THREADS, 0, st>>>(g, x, idx, dy, dx);
    LAUNCH_CHECK("maxpool_bwd_kernel");
    return GH_OK;
}

}  // namespace

extern "C" {

int maxpool_fwd_cuda(const kctx *ctx, const pool_shape *sh, const float *x, float *y) {
    return maxpool_fwd_launch("maxpool_fwd_cuda", ctx, sh, x, y, NULL);
}

int maxpool_fwd_idx_cuda(const kctx *ctx, const pool_shape *sh, const float *x, float *y, int *idx) {
    GH_CUDA_NEED("maxpool_fwd_idx_cuda", idx);
    return maxpool_fwd_launch("maxpool_fwd_idx_cuda", ctx, sh, x, y, idx);
}

int maxpool_bwd_cuda(const kctx *ctx, const pool_shape *sh, const float *x, const float *dy,
                     float *dx) {
    if (dx) GH_CUDA_NEED("maxpool_bwd_cuda", x);
    return maxpool_bwd_launch("maxpool_bwd_cuda", ctx, sh, x, NULL, dy, dx);
}

int maxpool_bwd_idx_cuda(const kctx *ctx, const pool_shape *sh, const int *idx, const float *dy,
                         float *dx) {
    if (dx) GH_CUDA_NEED("maxpool_bwd_idx_cuda", idx);
    return maxpool_bwd_launch("maxpool_bwd_idx_cuda", ctx, sh, NULL, idx, dy, dx);
}

int avgpool_fwd_cuda(const kctx *ctx, const pool_shape *sh, const float *x, float *y) {
    pool_geom g;
    GH_TRY(pool_check("avgpool_fwd_cuda", sh, &g));
    GH_CUDA_NEED("avgpool_fwd_cuda", x);
    GH_CUDA_NEED("avgpool_fwd_cuda", y);
    size_t total = (size_t)g.n * g.c * g.p * g.q;
    unsigned blocks = gh_ew_blocks(total);
    if (pool_idx32(g))
        avgpool_fwd_kernel<uint32_t><<<blocks, GH_EW_THREADS, 0, gh_stream(ctx)>>>(g, x, y);
    else
        avgpool_fwd_kernel<size_t><<<blocks, GH_EW_THREADS, 0, gh_stream(ctx)>>>(g, x, y);
    LAUNCH_CHECK("avgpool_fwd_kernel");
    return GH_OK;
}

int avgpool_bwd_cuda(const kctx *ctx, const pool_shape *sh, const float *dy, float *dx) {
    pool_geom g;
    GH_TRY(pool_check("avgpool_bwd_cuda", sh, &g));
    if (!dx) return GH_OK;
    GH_CUDA_NEED("avgpool_bwd_cuda", dy);
    size_t total = (size_t)g.n * g.c * g.h * g.w;
    unsigned blocks = gh_ew_blocks(total);
    if (pool_idx32(g))
        avgpool_bwd_kernel<uint32_t><<<blocks, GH_EW_THREADS, 0, gh_stream(ctx)>>>(g, dy, dx);
    else
        avgpool_bwd_kernel<size_t><<<blocks, GH_EW_THREADS, 0, gh_stream(ctx)>>>(g, dy, dx);
    LAUNCH_CHECK("avgpool_bwd_kernel");
    return GH_OK;
}

int gap_fwd_cuda(const kctx *ctx, int n, int c, int hw, const float *x, float *y) {
    if (n <= 0 || c <= 0 || hw <= 0)
        return gh_fail(GH_EINVAL, "gap_fwd_cuda: sizes must be positive: n=%d c=%d hw=%d", n, c, hw);
    GH_CUDA_NEED("gap_fwd_cuda", x);
    GH_CUDA_NEED("gap_fwd_cuda", y);
    int rows = n * c;
    gap_fwd_kernel<<<gap_blocks(rows), GAP_THREADS, 0, gh_stream(ctx)>>>(rows, hw, x, y);
    LAUNCH_CHECK("gap_fwd_kernel");
    return GH_OK;
}

int gap_bwd_cuda(const kctx *ctx, int n, int c, int hw, const float *dy, float *dx) {
    if (n <= 0 || c <= 0 || hw <= 0)
        return gh_fail(GH_EINVAL, "gap_bwd_cuda: sizes must be positive: n=%d c=%d hw=%d", n, c, hw);
    if (!dx) return GH_OK;
    GH_CUDA_NEED("gap_bwd_cuda", dy);
    size_t total = (size_t)n * c * hw;
    const unsigned blocks = gh_ew_blocks(total);
    if (gh_idx32(total))
        gap_bwd_kernel<uint32_t><<<blocks, GH_EW_THREADS, 0, gh_stream(ctx)>>>((uint32_t)total, hw, dy, dx);
    else
        gap_bwd_kernel<size_t><<<blocks, GH_EW_THREADS, 0, gh_stream(ctx)>>>(total, hw, dy, dx);
    LAUNCH_CHECK("gap_bwd_kernel");
    return GH_OK;
}

}  // extern "C"
