// kernels/cuda: batch norm over (n, hw) per channel, training and eval forward and backward.
// Training is two launches each way: per-(channel, batch slice) partial sums in one read of x
// (and dy), then one pass that finalizes each channel's statistics from the partials (every
// block of the channel in the same fixed order, so the same bits) and applies them to its
// slice. Deterministic by construction. The statistics are one pass: sum x and sum x^2 of the
// fp32 inputs in fp64, not Welford; batchnorm.cuh states the error bound against the two-pass
// reference.
#include <math.h>

#include "batchnorm.cuh"
#include "elementwise.cuh"

namespace {

int bn_check(const char *op, const bn_shape *sh) {
    if (!sh) return gh_fail(GH_EINVAL, "%s: shape is NULL", op);
    if (sh->n <= 0 || sh->c <= 0 || sh->hw <= 0 || !(sh->eps > 0.0f))
        return gh_fail(GH_EINVAL, "%s: need n, c, hw > 0 and eps > 0: n=%d c=%d hw=%d eps=%g", op,
                       sh->n, sh->c, sh->hw, (double)sh->eps);
    return GH_OK;
}

// Partial sums over images [b0, b1) of one channel (bn_thread_partial), reduced over the block
// in a fixed tree: part[(ch*S + s)*2 + {0,1}].
// Not capped at 32 registers (__launch_bounds__(256, 8)): the capped build spilled 8 to 72
// bytes of stack (cuda_resources), so the float4 backward runs at 39 registers, 75% occupancy
// on sm_90.
template <int MODE, bool VEC>
__global__ void __launch_bounds__(BN_THREADS)
bn_stats_kernel(int n, int c, int hw, const float *__restrict__ x, const float *__restrict__ dy,
                const float *__restrict__ mean, double *__restrict__ part) {
    __shared__ double sh[BN_THREADS];
    const int S = gridDim.x, s = blockIdx.x, ch = blockIdx.y;
    int b0, b1;
    bn_rows(n, S, s, &b0, &b1);
    const bn_pair a = bn_thread_partial<MODE, VEC>(c, hw, b0, b1, ch, threadIdx.x, BN_THREADS,
                                                   x, dy, MODE == 1 ? (double)mean[ch] : 0.0);
    double t0 = gh_block_sum<double, BN_THREADS>(a.a0, sh);
    double t1 = gh_block_sum<double, BN_THREADS>(a.a1, sh);
    if (threadIdx.x == 0) {
        part[((size_t)ch * S + s) * 2 + 0] = t0;
        part[((size_t)ch * S + s) * 2 + 1] = t1;
    }
}

// Forward, second launch, block (s, ch): the channel's statistics from the partials (block 0
// of the channel stores the saved and running statistics), then y = (x - mean) * a + b over
// the split's images, a = gamma*invstd, b = beta; float4 when VEC.
template <bool VEC>
__global__ void __launch_bounds__(BN_THREADS)
bn_fwd_apply_kernel(int n, int c, int hw, int S, float eps, float momentum,
                    const double *__restrict__ part, const float *__restrict__ gamma,
                    const float *__restrict__ beta, float *save_mean, float *save_invstd,
                    float *run_mean, float *run_var, const float *__restrict__ x,
                    float *__restrict__ y) {
    __shared__ float coef[3];
    const int s = blockIdx.x, ch = blockIdx.y;
    const double count = (double)n * hw;
    if (threadIdx.x == 0) {
        const bn_fwd_stats r = bn_fwd_final(S, ch, count, eps, part);
        if (s == 0) bn_fwd_store(r, ch, count, momentum, save_mean, save_invstd, run_mean, run_var);
        bn_fwd_coefs(r, ch, gamma, beta, coef);
    }
    __syncthreads();
    float k[3] = {coef[0], coef[1], coef[2]};
    int b0, b1;
    bn_rows(n, gridDim.x, s, &b0, &b1);
    const int len = VEC ? hw / 4 : hw;
    for (int img = b0; img < b1; img++) {
        const size_t plane = ((size_t)img * c + ch) * hw;
        for (int j = threadIdx.x; j < len; j += BN_THREADS) {
            if (VEC) {
                const float4 v = gh_ld4(x + plane, j);
                gh_st4(y + plane, j, make_float4(bn_fwd_apply(v.x, k), bn_fwd_apply(v.y, k),
                                                 bn_fwd_apply(v.z, k), bn_fwd_apply(v.w, k)));
            } else {
                y[plane + j] = bn_fwd_apply(x[plane + j], k);
            }
        }
    }
}

// Channel of element e of an [n, c, hw] tensor: 32-bit divisions when the host found the tensor
// below 2^31 elements (idx32), 64-bit otherwise.
__device__ __forceinline__ int bn_chan(size_t e, int hw, int c, bool idx32) {
    return idx32 ? (int)(((uint32_t)e / (uint32_t)hw) % (uint32_t)c) : (int)((e / hw) % c);
}

// y = (x - run_mean) / sqrt(run_var + eps) * gamma + beta
struct bn_eval_op {
    const float *x, *gamma, *beta, *rm, *rv;
    float *y;
    int c, hw;
    float eps;
    bool idx32;
    __device__ float f(float v, int ch) const {
        float inv = 1.0f / sqrtf(rv[ch] + eps);
        float g = gamma ? gamma[ch] : 1.0f, b = beta ? beta[ch] : 0.0f;
        return (v - rm[ch]) * inv * g + b;
    }
    __device__ void one(size_t i) const { y[i] = f(x[i], bn_chan(i, hw, c, idx32)); }
    __device__ void quad(size_t i) const {
        int ch = bn_chan(i * 4, hw, c, idx32);
        float4 v = gh_ld4(x, i);
        gh_st4(y, i, make_float4(f(v.x, ch), f(v.y, ch), f(v.z, ch), f(v.w, ch)));
    }
};

// Backward, second launch, block (s, ch): the channel's sums from the partials (block 0 adds
// dgamma and dbeta), then over the split's images (none when dx is NULL: one block per
// channel) dx += gamma*invstd * (dy - dbeta/N - xhat * dgamma/N) (batchnorm.cuh).
template <bool VEC>
__global__ void __launch_bounds__(BN_THREADS)
bn_bwd_dx_kernel(int n, int c, int hw, int S, const double *__restrict__ part,
                 const float *__restrict__ gamma, const float *__restrict__ save_mean,
                 const float *__restrict__ save_invstd, float *dgamma, float *dbeta,
                 const float *__restrict__ x, const float *__restrict__ dy, float *dx) {
    __shared__ float coef[5];
    const int s = blockIdx.x, ch = blockIdx.y;
    if (threadIdx.x == 0) {
        const double invstd = save_invstd[ch], count = (double)n * hw;
        const bn_bwd_sums r = bn_bwd_final(S, ch, invstd, part);
        if (s == 0) {
            if (dbeta) dbeta[ch] += (float)r.sdy;
            if (dgamma) dgamma[ch] += (float)r.sdyxhat;
        }
        bn_bwd_coefs(r, ch, count, invstd, gamma, save_mean, coef);
    }
    __syncthreads();
    if (!dx) return;
    float k[5] = {coef[0], coef[1], coef[2], coef[3], coef[4]};
    auto f = [&](float xv, float d) { return bn_bwd_dx(xv, d, k); };
    int b0, b1;
    bn_rows(n, gridDim.x, s, &b0, &b1);
    const int len = VEC ? hw / 4 : hw;
    for (int img = b0; img < b1; img++) {
        const size_t plane = ((size_t)img * c + ch) * hw;
        for (int j = threadIdx.x; j < len; j += BN_THREADS) {
            if (VEC) {
                const float4 a = gh_ld4(x + plane, j), d = gh_ld4(dy + plane, j);
                float4 o = gh_ld4(dx + plane, j);
                o.x += f(a.x, d.x); o.y += f(a.y, d.y); o.z += f(a.z, d.z); o.w += f(a.w, d.w);
                gh_st4(dx + plane, j, o);
            } else {
                dx[plane + j] += f(x[plane + j], dy[plane + j]);
            }
        }
    }
}

template <int MODE>
int bn_launch_stats(const kctx *ctx, const bn_shape *sh, int S, const float *x, const float *dy,
                    const float *mean, double *part) {
    dim3 grid(S, sh->c);
    bool vec = sh->hw % 4 == 0 && gh_aligned16(x) && (MODE == 0 || gh_aligned16(dy));
    if (vec)
        bn_stats_kernel<MODE, true><<<grid, BN_THREADS, 0, gh_stream(ctx)>>>(sh->n, sh->c, sh->hw, x, dy, mean, part);
    else
        bn_stats_kernel<MODE, false><<<grid, BN_THREADS, 0, gh_stream(ctx)>>>(sh->n, sh->c, sh->hw, x, dy, mean, part);
    LAUNCH_CHECK("bn_stats_kernel");
    return GH_OK;
}

int bn_fwd_train_run(const kctx *ctx, const bn_shape *sh, const float *x, const float *gamma,
                     const float *beta, float *y, float *save_mean, float *save_invstd,
                     float *run_mean, float *run_var, double *part, int S) {
    GH_TRY(bn_launch_stats<0>(ctx, sh, S, x, NULL, NULL, part));
    dim3 grid(S, sh->c);
    if (sh->hw % 4 == 0 && gh_aligned16(x) && gh_aligned16(y))
        bn_fwd_apply_kernel<true><<<grid, BN_THREADS, 0, gh_stream(ctx)>>>(
            sh->n, sh->c, sh->hw, S, sh->eps, sh->momentum, part, gamma, beta, save_mean,
            save_invstd, run_mean, run_var, x, y);
    else
        bn_fwd_apply_kernel<false><<<grid, BN_THREADS, 0, gh_stream(ctx)>>>(
            sh->n, sh->c, sh->hw, S, sh->eps, sh->momentum, part, gamma, beta, save_mean,
            save_invstd, run_mean, run_var, x, y);
    LAUNCH_CHECK("bn_fwd_apply_kernel");
    return GH_OK;
}

int bn_bwd_run(const kctx *ctx, const bn_shape *sh, const float *x, const float *gamma,
               const float *save_mean, const float *save_invstd, const float *dy, float *dx,
               float *dgamma, float *dbeta, double *part, int S) {
    GH_TRY(bn_launch_stats<1>(ctx, sh, S, x, dy, save_mean, part));
    dim3 grid(dx ? S : 1, sh->c);
    if (dx && sh->hw % 4 == 0 && gh_aligned16(x) && gh_aligned16(dy) && gh_aligned16(dx))
        bn_bwd_dx_kernel<true><<<grid, BN_THREADS, 0, gh_stream(ctx)>>>(
            sh->n, sh->c, sh->hw, S, part, gamma, save_mean, save_invstd, dgamma, dbeta, x, dy, dx);
    else
        bn_bwd_dx_kernel<false><<<grid, BN_THREADS, 0, gh_stream(ctx)>>>(
            sh->n, sh->c, sh->hw, S, part, gamma, save_mean, save_invstd, dgamma, dbeta, x, dy, dx);
    LAUNCH_CHECK("bn_bwd_dx_kernel");
    return GH_OK;
}

}  // namespace

extern "C" {

int bn_fwd_train_cuda(const kctx *ctx, const bn_shape *sh, const float *x, const float *gamma,
                      const float *beta, float *y, float *save_mean, float *save_invstd,
                      float *run_mean, float *run_var) {
    GH_TRY(bn_check("bn_fwd_train_cuda", sh));
    GH_CUDA_NEED("bn_fwd_train_cuda", x);
    GH_CUDA_NEED("bn_fwd_train_cuda", y);
    int S = bn_splits(sh);
    size_t bytes = sizeof(double) * 2 * S * sh->c;
    void *scratch = NULL;
    GH_TRY(gh_ws_take("bn_fwd_train_cuda", ctx, bytes, &scratch));
    int st = bn_fwd_train_run(ctx, sh, x, gamma, beta, y, save_mean, save_invstd, run_mean,
                              run_var, (double *)scratch, S);
    gh_ws_release(ctx, scratch);
    return st;
}

// The training kernels' scratch: the split partials (double); the coefficients live in each
// block's shared memory.
int bn_ws_cuda(const kctx *ctx, const bn_shape *sh, size_t *floats) {
    (void)ctx;
    GH_CUDA_NEED("bn_ws_cuda", floats);
    *floats = 0;
    GH_TRY(bn_check("bn_ws_cuda", sh));
    size_t S = (size_t)bn_splits(sh);
    *floats = gh_ws_floats_for(sizeof(double) * 2 * S * sh->c);
    return GH_OK;
}

int bn_fwd_eval_cuda(const kctx *ctx, const bn_shape *sh, const float *x, const float *gamma,
                     const float *beta, const float *run_mean, const float *run_var, float *y) {
    GH_TRY(bn_check("bn_fwd_eval_cuda", sh));
    GH_CUDA_NEED("bn_fwd_eval_cuda", x);
    GH_CUDA_NEED("bn_fwd_eval_cuda", y);
    GH_CUDA_NEED("bn_fwd_eval_cuda", run_mean);
    GH_CUDA_NEED("bn_fwd_eval_cuda", run_var);
    size_t total = (size_t)sh->n * sh->c * sh->hw;
    int vec = sh->hw % 4 == 0 && gh_aligned16(x) && gh_aligned16(y);
    return gh_ew_launch("bn_eval", ctx, total, vec,
                        bn_eval_op{x, gamma, beta, run_mean, run_var, y, sh->c, sh->hw, sh->eps,
                                   gh_idx32(total) != 0});
}

int bn_bwd_cuda(const kctx *ctx, const bn_shape *sh, const float *x, const float *gamma,
                const float *save_mean, const float *save_invstd, const float *dy, float *dx,
                float *dgamma, float *dbeta) {
    GH_TRY(bn_check("bn_bwd_cuda", sh));
    if (!dx && !dgamma && !dbeta) return GH_OK;
    GH_CUDA_NEED("bn_bwd_cuda", x);
    GH_CUDA_NEED("bn_bwd_cuda", dy);
    GH_CUDA_NEED("bn_bwd_cuda", save_mean);
    GH_CUDA_NEED("bn_bwd_cuda", save_invstd);
    int S = bn_splits(sh);
    size_t bytes = sizeof(double) * 2 * S * sh->c;
    void *scratch = NULL;
    GH_TRY(gh_ws_take("bn_bwd_cuda", ctx, bytes, &scratch));
    int st = bn_bwd_run(ctx, sh, x, gamma, save_mean, save_invstd, dy, dx, dgamma, dbeta,
                        (double *)scratch, S);
    gh_ws_release(ctx, scratch);
    return st;
}

}  // extern "C"
