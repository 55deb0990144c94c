// kernels/cuda private header: one grid-stride launcher for elementwise ops. An op is a small
// struct with one(i) (element i) and quad(i) (elements 4i..4i+3 as float4); the launcher runs
// quad over the 16-byte-aligned body when every pointer allows it, and one() over the rest.
#pragma once
#include "cuda_common.cuh"

__device__ __forceinline__ float4 gh_ld4(const float *p, size_t i) {
    return reinterpret_cast<const float4 *>(p)[i];
}
__device__ __forceinline__ void gh_st4(float *p, size_t i, float4 v) {
    reinterpret_cast<float4 *>(p)[i] = v;
}

template <class Op>
__global__ void __launch_bounds__(GH_EW_THREADS) gh_ew_kernel(size_t n, int vec, Op op) {
    const size_t n4 = vec ? n / 4 : 0;
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    const size_t t = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    for (size_t i = t; i < n4; i += stride) op.quad(i);
    for (size_t i = n4 * 4 + t; i < n; i += stride) op.one(i);
}

// vec: 1 when all pointers the op touches are 16-byte aligned (callers use gh_aligned16).
template <class Op>
static int gh_ew_launch(const char *name, const kctx *ctx, size_t n, int vec, Op op) {
    if (n == 0) return GH_OK;
    size_t work = vec ? (n + 3) / 4 : n;
    gh_ew_kernel<Op><<<gh_ew_blocks(work), GH_EW_THREADS, 0, gh_stream(ctx)>>>(n, vec, op);
    LAUNCH_CHECK(name);
    return GH_OK;
}
