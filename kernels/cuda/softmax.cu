// kernels/cuda: row softmax (forward, backward) and softmax cross-entropy with label
// smoothing. One warp per row, fixed butterfly reductions; a label outside [0, k) is flagged
// on the device (smallest bad row): into ctx->flags when the caller gives them (reported by
// the caller at its next read, no synchronisation here), else into a scratch flag read back and
// reported as GH_EINVAL after the kernel.
#include <math.h>

#include "softmax.cuh"

namespace {

#define FOR_ROWS(row, rows)                                                                  \
    for (int row = sm_first_row(blockIdx.x, threadIdx.x / 32); row < (rows);                   \
         row += gridDim.x * SM_WARPS)

__global__ void __launch_bounds__(SM_THREADS)
softmax_fwd_kernel(int rows, int cols, const float *__restrict__ x, float *__restrict__ y) {
    const int lane = threadIdx.x & 31;
    FOR_ROWS(row, rows) {
        const float *xr = x + (size_t)row * cols;
        float *yr = y + (size_t)row * cols;
        const float mx = gh_warp_max(sm_lane_max(xr, cols, lane));
        const float s = gh_warp_sum(sm_lane_expsum(xr, cols, lane, mx, nullptr));
        for (int j = lane; j < cols; j += 32) yr[j] = expf(xr[j] - mx) / s;
    }
}

// dx += y * (dy - <dy, y>)
__global__ void __launch_bounds__(SM_THREADS)
softmax_bwd_kernel(int rows, int cols, const float *__restrict__ y, const float *__restrict__ dy,
                   float *__restrict__ dx) {
    const int lane = threadIdx.x & 31;
    FOR_ROWS(row, rows) {
        const size_t o = (size_t)row * cols;
        const float dot = gh_warp_sum(sm_lane_dot(dy + o, y + o, cols, lane));
        for (int j = lane; j < cols; j += 32) dx[o + j] += y[o + j] * (dy[o + j] - dot);
    }
}

// losses[i] = -sum_j t_j log p_ij, t = (1-s)*onehot(label) + s/k, log p_ij = x_ij - mx - lse.
__global__ void __launch_bounds__(SM_THREADS)
xent_fwd_kernel(int n, int k, const float *__restrict__ logits, const int *__restrict__ labels,
                float smoothing, float *__restrict__ probs, float *__restrict__ losses, int *flag,
                kflags *flags, uint64_t step) {
    const int lane = threadIdx.x & 31;
    FOR_ROWS(row, n) {
        const float *xr = logits + (size_t)row * k;
        float *pr = probs + (size_t)row * k;
        const int label = labels[row];
        const float mx = gh_warp_max(sm_lane_max(xr, k, lane));
        float sx;  // sum (x - mx), beside s = sum exp(x - mx)
        const float s = gh_warp_sum(sm_lane_expsum(xr, k, lane, mx, &sx));
        sx = gh_warp_sum(sx);
        const float lse = logf(s);
        for (int j = lane; j < k; j += 32) pr[j] = expf(xr[j] - mx) / s;
        if (lane == 0) {
            if (label < 0 || label >= k) {
                if (flags) gh_flag_label(flags, row, label, k, step);
                else atomicMin(flag, row);
                losses[row] = NAN;
            } else {
                losses[row] = xent_row_loss(xr[label], mx, lse, sx, k, smoothing);
            }
        }
    }
}

// dlogits += (dloss / n) * (probs - target); a row with a bad label is flagged and left
// untouched.
// I: the decoding's index type (uint32_t where gh_idx32(n * k)).
template <typename I>
__global__ void xent_bwd_kernel(int n, int k, const float *__restrict__ probs,
                                const int *__restrict__ labels, float smoothing,
                                const float *__restrict__ dloss, float *__restrict__ dlogits,
                                int *flag, kflags *flags, uint64_t step) {
    const I total = (I)n * k;
    const float off = smoothing / (float)k;
    const float scale = dloss[0] / (float)n;
    GH_GRID_STRIDE_T(I, i, total) {
        I ri, ji;
        gh_rowcol<I>(i, (I)k, &ri, &ji);
        const int row = (int)ri, j = (int)ji;
        int label = labels[row];
        if (label < 0 || label >= k) {
            if (j == 0) {
                if (flags) gh_flag_label(flags, row, label, k, step);
                else atomicMin(flag, row);
            }
            continue;
        }
        float t = xent_target(j, label, smoothing, off);
        dlogits[i] += scale * (probs[i] - t);
    }
}

int rows_check(const char *op, int rows, int cols) {
    if (rows <= 0 || cols <= 0)
        return gh_fail(GH_EINVAL, "%s: rows=%d and cols=%d must be positive", op, rows, cols);
    return GH_OK;
}

int launch_status(const char *kernel) {
    LAUNCH_CHECK(kernel);
    return GH_OK;
}

}  // namespace

extern "C" {

int softmax_fwd_cuda(const kctx *ctx, int rows, int cols, const float *x, float *y) {
    GH_TRY(rows_check("softmax_fwd_cuda", rows, cols));
    GH_CUDA_NEED("softmax_fwd_cuda", x);
    GH_CUDA_NEED("softmax_fwd_cuda", y);
    softmax_fwd_kernel<<<sm_row_blocks(rows), SM_THREADS, 0, gh_stream(ctx)>>>(rows, cols, x, y);
    LAUNCH_CHECK("softmax_fwd_kernel");
    return GH_OK;
}

int softmax_bwd_cuda(const kctx *ctx, int rows, int cols, const float *y, const float *dy, float *dx) {
    GH_TRY(rows_check("softmax_bwd_cuda", rows, cols));
    if (!dx) return GH_OK;
    GH_CUDA_NEED("softmax_bwd_cuda", y);
    GH_CUDA_NEED("softmax_bwd_cuda", dy);
    softmax_bwd_kernel<<<sm_row_blocks(rows), SM_THREADS, 0, gh_stream(ctx)>>>(rows, cols, y, dy, dx);
    LAUNCH_CHECK("softmax_bwd_kernel");
    return GH_OK;
}

int xent_fwd_cuda(const kctx *ctx, int n, int k, const float *logits, const int *labels,
                  float smoothing, float *probs, float *losses) {
    GH_TRY(rows_check("xent_fwd_cuda", n, k));
    GH_CUDA_NEED("xent_fwd_cuda", logits);
    GH_CUDA_NEED("xent_fwd_cuda", labels);
    GH_CUDA_NEED("xent_fwd_cuda", probs);
    GH_CUDA_NEED("xent_fwd_cuda", losses);
    kflags *flags = ctx ? ctx->flags : NULL;
    uint64_t step = ctx ? ctx->step : 0;
    int *flag = NULL;
    if (!flags) GH_TRY(gh_idx_flag_alloc("xent_fwd_cuda", ctx, &flag));
    xent_fwd_kernel<<<sm_row_blocks(n), SM_THREADS, 0, gh_stream(ctx)>>>(
        n, k, logits, labels, smoothing, probs, losses, flag, flags, step);
    int st = launch_status("xent_fwd_kernel");
    return flags ? st : gh_idx_flag_report("xent_fwd_cuda", ctx, flag, labels, "labels", k, st);
}

int xent_bwd_cuda(const kctx *ctx, int n, int k, const float *probs, const int *labels,
                  float smoothing, const float *dloss, float *dlogits) {
    GH_TRY(rows_check("xent_bwd_cuda", n, k));
    if (!dlogits) return GH_OK;
    GH_CUDA_NEED("xent_bwd_cuda", probs);
    GH_CUDA_NEED("xent_bwd_cuda", labels);
    GH_CUDA_NEED("xent_bwd_cuda", dloss);
    kflags *flags = ctx ? ctx->flags : NULL;
    uint64_t step = ctx ? ctx->step : 0;
    int *flag = NULL;
    if (!flags) GH_TRY(gh_idx_flag_alloc("xent_bwd_cuda", ctx, &flag));
    size_t total = (size_t)n * k;
    if (gh_idx32(total))
        xent_bwd_kernel<uint32_t><<<gh_ew_blocks(total), GH_EW_THREADS, 0, gh_stream(ctx)>>>(
            n, k, probs, labels, smoothing, dloss, dlogits, flag, flags, step);
    else
        xent_bwd_kernel<size_t><<<gh_ew_blocks(total), GH_EW_THREADS, 0, gh_stream(ctx)>>>(
            n, k, probs, labels, smoothing, dloss, dlogits, flag, flags, step);
    int st = launch_status("xent_bwd_kernel");
    return flags ? st : gh_idx_flag_report("xent_bwd_cuda", ctx, flag, labels, "labels", k, st);
}

}  // extern "C"
