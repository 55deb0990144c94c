// kernels/cuda: sigmoid and tanh, forward and backward (from the output), as float4
// grid-stride elementwise kernels.
#include "elementwise.cuh"

namespace {

__device__ __forceinline__ float sigm(float v) { return 1.0f / (1.0f + expf(-v)); }

template <bool TANH>
struct act_fwd_op {
    const float *x;
    float *y;
    __device__ static float f(float v) { return TANH ? tanhf(v) : sigm(v); }
    __device__ void one(size_t i) const { y[i] = f(x[i]); }
    __device__ void quad(size_t i) const {
        float4 v = gh_ld4(x, i);
        gh_st4(y, i, make_float4(f(v.x), f(v.y), f(v.z), f(v.w)));
    }
};

// dx += dy * (1 - y^2) for tanh, dy * y * (1 - y) for sigmoid
template <bool TANH>
struct act_bwd_op {
    const float *y, *dy;
    float *dx;
    __device__ static float g(float yv, float d) {
        return TANH ? d * (1.0f - yv * yv) : d * yv * (1.0f - yv);
    }
    __device__ void one(size_t i) const { dx[i] += g(y[i], dy[i]); }
    __device__ void quad(size_t i) const {
        float4 a = gh_ld4(y, i), d = gh_ld4(dy, i), o = gh_ld4(dx, i);
        o.x += g(a.x, d.x); o.y += g(a.y, d.y); o.z += g(a.z, d.z); o.w += g(a.w, d.w);
        gh_st4(dx, i, o);
    }
};

template <bool TANH>
int act_fwd(const char *op, const kctx *ctx, size_t n, const float *x, float *y) {
    if (n == 0) return GH_OK;
    GH_CUDA_NEED(op, x);
    GH_CUDA_NEED(op, y);
    int vec = gh_aligned16(x) && gh_aligned16(y);
    return gh_ew_launch(op, ctx, n, vec, act_fwd_op<TANH>{x, y});
}

template <bool TANH>
int act_bwd(const char *op, const kctx *ctx, size_t n, const float *y, const float *dy, float *dx) {
    if (n == 0 || !dx) return GH_OK;
    GH_CUDA_NEED(op, y);
    GH_CUDA_NEED(op, dy);
    int vec = gh_aligned16(y) && gh_aligned16(dy) && gh_aligned16(dx);
    return gh_ew_launch(op, ctx, n, vec, act_bwd_op<TANH>{y, dy, dx});
}

}  // namespace

extern "C" {

int sigmoid_fwd_cuda(const kctx *ctx, size_t n, const float *x, float *y) {
    return act_fwd<false>("sigmoid_fwd_cuda", ctx, n, x, y);
}
int sigmoid_bwd_cuda(const kctx *ctx, size_t n, const float *y, const float *dy, float *dx) {
    return act_bwd<false>("sigmoid_bwd_cuda", ctx, n, y, dy, dx);
}
int tanh_fwd_cuda(const kctx *ctx, size_t n, const float *x, float *y) {
    return act_fwd<true>("tanh_fwd_cuda", ctx, n, x, y);
}
int tanh_bwd_cuda(const kctx *ctx, size_t n, const float *y, const float *dy, float *dx) {
    return act_bwd<true>("tanh_bwd_cuda", ctx, n, y, dy, dx);
}

}  // extern "C"
