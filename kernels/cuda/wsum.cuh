// kernels/cuda private header: the per-element and per-block code of wsum.cu (the mixed op's
// weighted sum over compacted inputs, the dwts partials and their fixed-order second pass),
// __host__ __device__ so that tests/cuda/test_pool_emu.cu replays every thread on the CPU, and
// the host's grid for the partials.
#pragma once
#include "cuda_common.cuh"

// The loops over GH_WSUM_MAX entries unroll on the device (GH_UNROLL): every index a constant.

struct wsum_args {
    const float *x[GH_WSUM_MAX];  // non-NULL inputs only, compacted
    float *dx[GH_WSUM_MAX];       // their gradients (may be NULL), same order
    int idx[GH_WSUM_MAX];         // position of each in the caller's list (for wts/dwts)
    int m;                        // number of compacted entries
};

#define WSUM_THREADS 256
#define WSUM_MAX_BLOCKS 1024

// The forward's entries: the non-NULL inputs, compacted. Returns whether the float4 path
// applies (n a multiple of 4, every pointer 16-byte aligned).
static inline bool wsum_pack_fwd(int k, size_t n, const float *const *xs, const float *y,
                                 wsum_args *a) {
    *a = wsum_args{};
    bool vec = n % 4 == 0 && gh_aligned16(y);
    for (int i = 0; i < k; i++)
        if (xs[i]) {
            a->x[a->m] = xs[i];
            a->idx[a->m] = i;
            vec = vec && gh_aligned16(xs[i]);
            a->m++;
        }
    return vec;
}

// The backward's entries: an index takes part when it has a gradient to receive (dxs[i]) or a
// weight gradient to form (dwts and xs[i]); a NULL xs[i] gives no dwts term (the op is "none").
// *any_dot: some entry forms a dwts term. Returns whether the float4 path applies.
static inline bool wsum_pack_bwd(int k, size_t n, const float *const *xs, const float *dy,
                                 float *const *dxs, const float *dwts, wsum_args *a,
                                 bool *any_dot) {
    *a = wsum_args{};
    bool vec = n % 4 == 0 && gh_aligned16(dy);
    *any_dot = false;
    for (int i = 0; i < k; i++) {
        const float *x = xs ? xs[i] : NULL;
        float *dx = dxs ? dxs[i] : NULL;
        bool dot = dwts && x;
        if (!dx && !dot) continue;
        a->x[a->m] = x;
        a->dx[a->m] = dx;
        a->idx[a->m] = i;
        vec = vec && gh_aligned16(x) && gh_aligned16(dx);
        *any_dot = *any_dot || dot;
        a->m++;
    }
    return vec;
}

// Blocks of the backward pass: a function of the work only (a fixed summation order of dwts).
static inline int wsum_bwd_blocks(size_t work) {
    size_t nb = gh_ceil_div(work, (size_t)WSUM_THREADS * 4);
    return (int)(nb < 1 ? 1 : (nb > WSUM_MAX_BLOCKS ? WSUM_MAX_BLOCKS : nb));
}

__host__ __device__ __forceinline__ float4 wsum_ld4(const float *p, size_t i) {
    return reinterpret_cast<const float4 *>(p)[i];
}
__host__ __device__ __forceinline__ void wsum_st4(float *p, size_t i, float4 v) {
    reinterpret_cast<float4 *>(p)[i] = v;
}

// The weights of the compacted entries, 0 past m.
__host__ __device__ __forceinline__ void wsum_weights(const wsum_args &a, const float *wts,
                                                      float *w) {
GH_UNROLL
    for (int j = 0; j < GH_WSUM_MAX; j++) w[j] = j < a.m ? wts[a.idx[j]] : 0.0f;
}

// y at element i (float4 unit i with VEC): the entries added in compacted order.
template <bool VEC>
__host__ __device__ __forceinline__ void wsum_fwd_at(const wsum_args &a, const float *w, size_t i,
                                                     float *y) {
    if (VEC) {
        float4 s = make_float4(0.f, 0.f, 0.f, 0.f);
GH_UNROLL
        for (int j = 0; j < GH_WSUM_MAX; j++)
            if (j < a.m) {
                float4 v = wsum_ld4(a.x[j], i);
                s.x += w[j] * v.x; s.y += w[j] * v.y; s.z += w[j] * v.z; s.w += w[j] * v.w;
            }
        wsum_st4(y, i, s);
    } else {
        float s = 0.0f;
GH_UNROLL
        for (int j = 0; j < GH_WSUM_MAX; j++)
            if (j < a.m) s += w[j] * a.x[j][i];
        y[i] = s;
    }
}

// Element i (float4 unit with VEC) of the backward: dxs[j] += w[j]*dy, and with DOT the
// thread's running sums acc[j] += dy*x[j] (the 4 products of a float4 summed first).
template <bool VEC>
__host__ __device__ __forceinline__ void wsum_bwd_at(const wsum_args &a, const float *w,
                                                     const float *__restrict__ dy, bool dot,
                                                     size_t i, float *acc) {
    if (VEC) {
        float4 d = wsum_ld4(dy, i);
GH_UNROLL
        for (int j = 0; j < GH_WSUM_MAX; j++)
            if (j < a.m) {
                if (a.dx[j]) {
                    float4 o = wsum_ld4(a.dx[j], i);
                    o.x += w[j] * d.x; o.y += w[j] * d.y; o.z += w[j] * d.z; o.w += w[j] * d.w;
                    wsum_st4(a.dx[j], i, o);
                }
                if (dot && a.x[j]) {
                    float4 v = wsum_ld4(a.x[j], i);
                    acc[j] += d.x * v.x + d.y * v.y + d.z * v.z + d.w * v.w;
                }
            }
    } else {
        float d = dy[i];
GH_UNROLL
        for (int j = 0; j < GH_WSUM_MAX; j++)
            if (j < a.m) {
                if (a.dx[j]) a.dx[j][i] += w[j] * d;
                if (dot && a.x[j]) acc[j] += d * a.x[j][i];
            }
    }
}

// A block's partial of entry j from its warps' sums sh[warp][j]: warps in index order, double.
__host__ __device__ __forceinline__ double wsum_block_part(const float (*sh)[GH_WSUM_MAX], int j) {
    double s = 0.0;
    for (int wi = 0; wi < WSUM_THREADS / 32; wi++) s += (double)sh[wi][j];
    return s;
}

// Second pass, thread t of entry j's block: partials of blocks t, t + WSUM_THREADS, ...; the
// block then adds its threads in gh_block_sum's tree order.
__host__ __device__ __forceinline__ double wsum_dwts_thread(int nblocks, const wsum_args &a,
                                                            int j, int t,
                                                            const double *__restrict__ part) {
    double s = 0.0;
    for (int b = t; b < nblocks; b += WSUM_THREADS) s += part[(size_t)b * a.m + j];
    return s;
}
