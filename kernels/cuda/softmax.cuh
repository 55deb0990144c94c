// kernels/cuda private header: softmax.cu's row reductions as per-lane code (one warp per row,
// lane l takes columns l, l + 32, ...; the warp combines the 32 partials in gh_warp_max's or
// gh_warp_sum's butterfly order), __host__ __device__ so that tests/cuda/test_pool_emu.cu
// replays them, and the rows of a block.
#pragma once
#include <math.h>

#include "cuda_common.cuh"

#define SM_THREADS 256
#define SM_WARPS (SM_THREADS / 32)

static inline unsigned sm_row_blocks(int rows) {
    size_t b = gh_ceil_div((size_t)rows, SM_WARPS);
    return (unsigned)(b > GH_EW_MAX_BLOCKS ? GH_EW_MAX_BLOCKS : (b < 1 ? 1 : b));
}

// Row of warp `warp` of block `block` (the first; later ones add grid * SM_WARPS).
__host__ __device__ __forceinline__ int sm_first_row(int block, int warp) {
    return block * SM_WARPS + warp;
}

__host__ __device__ __forceinline__ float sm_lane_max(const float *xr, int cols, int lane) {
    float mx = -INFINITY;
    for (int j = lane; j < cols; j += 32) mx = fmaxf(mx, xr[j]);
    return mx;
}

// sum exp(x - mx) over the lane's columns; with sx, also sum (x - mx) (cross-entropy's
// smoothing term).
__host__ __device__ __forceinline__ float sm_lane_expsum(const float *xr, int cols, int lane,
                                                         float mx, float *sx) {
    float s = 0.0f, t = 0.0f;
    for (int j = lane; j < cols; j += 32) {
        float d = xr[j] - mx;
        s += expf(d);
        t += d;
    }
    if (sx) *sx = t;
    return s;
}

__host__ __device__ __forceinline__ float sm_lane_dot(const float *a, const float *b, int cols,
                                                      int lane) {
    float dot = 0.0f;
    for (int j = lane; j < cols; j += 32) dot += a[j] * b[j];
    return dot;
}

// Row loss -[(1-s) log p_label + (s/k) sum_j log p_j] from the warp's totals: log p_j =
// x_j - mx - lse, so sum_j log p_j = sx - k lse.
__host__ __device__ __forceinline__ float xent_row_loss(float x_label, float mx, float lse,
                                                        float sx, int k, float smoothing) {
    float logp_label = x_label - mx - lse;
    float sum_logp = sx - (float)k * lse;
    return -((1.0f - smoothing) * logp_label + (smoothing / (float)k) * sum_logp);
}

// Cross-entropy backward's target for column j: (1-s) onehot(label) + s/k, off = s/k.
__host__ __device__ __forceinline__ float xent_target(int j, int label, float smoothing, float off) {
    return (j == label ? 1.0f - smoothing : 0.0f) + off;
}
