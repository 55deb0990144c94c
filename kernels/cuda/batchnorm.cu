// kernels/cuda: batch norm over (n, hw) per channel, training and eval forward and backward.
// Three launches: per-(channel, batch slice) partial sums (a fixed split that depends on the
// shape only), a per-channel finalize in a fixed order, and one elementwise pass that applies
// the per-channel coefficients; deterministic by construction. The statistics read x once
// (one pass): sum x and sum x^2 of the fp32 inputs accumulated in fp64, not Welford. In fp64
// the cancellation of E[x^2] - E[x]^2 loses about log2((mean/std)^2) of 53 bits, so the fp32
// variance is exact to rounding while |mean|/std < 2^14 (activations are far inside that).
#include <math.h>

#include "elementwise.cuh"

namespace {

#define BN_THREADS 256
// Aim for about 4 blocks per SM of an H100/H200 (132 SMs) in the statistics pass, with at
// least this many elements per block so that the partials stay few.
#define BN_TARGET_BLOCKS 528
#define BN_MIN_PER_BLOCK 4096

int bn_splits(const bn_shape *sh) {
    int s = (int)gh_ceil_div(BN_TARGET_BLOCKS, (size_t)sh->c);
    size_t by_work = ((size_t)sh->n * sh->hw) / BN_MIN_PER_BLOCK;
    if ((size_t)s > by_work) s = (int)by_work;
    if (s > sh->n) s = sh->n;
    return s < 1 ? 1 : s;
}

int bn_check(const char *op, const bn_shape *sh) {
    if (!sh) return gh_fail(GH_EINVAL, "%s: shape is NULL", op);
    if (sh->n <= 0 || sh->c <= 0 || sh->hw <= 0 || !(sh->eps > 0.0f))
        return gh_fail(GH_EINVAL, "%s: need n, c, hw > 0 and eps > 0: n=%d c=%d hw=%d eps=%g", op,
                       sh->n, sh->c, sh->hw, (double)sh->eps);
    return GH_OK;
}

// Partial sums over images [b0, b1) of one channel. MODE 0 (forward): sum x, sum x^2.
// MODE 1 (backward): sum dy, sum dy*(x - mean[ch]). part[(ch*S + s)*2 + {0,1}].
// Not capped at 32 registers (__launch_bounds__(256, 8)): the capped build spills 8 to 72
// bytes of stack (cuda_resources), so the float4 backward runs at 48 registers, 62% occupancy.
template <int MODE, bool VEC>
__global__ void __launch_bounds__(BN_THREADS)
bn_stats_kernel(int n, int c, int hw, const float *__restrict__ x, const float *__restrict__ dy,
                const float *__restrict__ mean, double *__restrict__ part) {
    __shared__ double sh[BN_THREADS];
    const int S = gridDim.x, s = blockIdx.x, ch = blockIdx.y;
    const int nb = (n + S - 1) / S;
    const int b0 = s * nb, b1 = min(n, b0 + nb);
    const double m = MODE == 1 ? (double)mean[ch] : 0.0;
    double a0 = 0.0, a1 = 0.0;
    if (b1 > b0) {
        const int len = VEC ? hw / 4 : hw;  // in units of float4 when VEC
        // one image at a time: the offset of (b, ch) is hoisted, the inner index is 32-bit
        for (int b = b0; b < b1; b++)
        for (int j = threadIdx.x; j < len; j += BN_THREADS) {
            const size_t off = ((size_t)b * c + ch) * len + j;  // in elements of the unit
            if (VEC) {
                float4 xv = reinterpret_cast<const float4 *>(x)[off];
                if (MODE == 0) {
                    a0 += (double)xv.x + (double)xv.y + (double)xv.z + (double)xv.w;
                    a1 += (double)xv.x * xv.x + (double)xv.y * xv.y + (double)xv.z * xv.z +
                          (double)xv.w * xv.w;
                } else {
                    float4 d = reinterpret_cast<const float4 *>(dy)[off];
                    a0 += (double)d.x + (double)d.y + (double)d.z + (double)d.w;
                    a1 += (double)d.x * (xv.x - m) + (double)d.y * (xv.y - m) +
                          (double)d.z * (xv.z - m) + (double)d.w * (xv.w - m);
                }
            } else {
                double xv = x[off];
                if (MODE == 0) {
                    a0 += xv;
                    a1 += xv * xv;
                } else {
                    double d = dy[off];
                    a0 += d;
                    a1 += d * (xv - m);
                }
            }
        }
    }
    double t0 = gh_block_sum<double, BN_THREADS>(a0, sh);
    double t1 = gh_block_sum<double, BN_THREADS>(a1, sh);
    if (threadIdx.x == 0) {
        part[((size_t)ch * S + s) * 2 + 0] = t0;
        part[((size_t)ch * S + s) * 2 + 1] = t1;
    }
}

// Per channel: mean, biased variance, invstd; running stats with the unbiased variance as
// PyTorch does; coef = {mean, gamma*invstd, beta} for the apply pass.
__global__ void bn_fwd_finalize_kernel(int c, int S, double count, float eps, float momentum,
                                       const double *__restrict__ part, const float *__restrict__ gamma,
                                       const float *__restrict__ beta, float *save_mean,
                                       float *save_invstd, float *run_mean, float *run_var,
                                       float *__restrict__ coef) {
    int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= c) return;
    double s0 = 0.0, s1 = 0.0;
    for (int s = 0; s < S; s++) {
        s0 += part[((size_t)ch * S + s) * 2 + 0];
        s1 += part[((size_t)ch * S + s) * 2 + 1];
    }
    double mean = s0 / count;
    double var = s1 / count - mean * mean;
    if (var < 0.0) var = 0.0;
    double invstd = 1.0 / sqrt(var + (double)eps);
    if (save_mean) save_mean[ch] = (float)mean;
    if (save_invstd) save_invstd[ch] = (float)invstd;
    if (run_mean) run_mean[ch] = (float)((1.0 - momentum) * run_mean[ch] + momentum * mean);
    if (run_var) {
        double unbiased = count > 1.0 ? var * count / (count - 1.0) : var;
        run_var[ch] = (float)((1.0 - momentum) * run_var[ch] + momentum * unbiased);
    }
    coef[ch] = (float)mean;
    coef[c + ch] = (float)((gamma ? (double)gamma[ch] : 1.0) * invstd);
    coef[2 * c + ch] = beta ? beta[ch] : 0.0f;
}

// Channel of element e of an [n, c, hw] tensor: 32-bit divisions when the host found the tensor
// below 2^31 elements (idx32), 64-bit otherwise.
__device__ __forceinline__ int bn_chan(size_t e, int hw, int c, bool idx32) {
    return idx32 ? (int)(((uint32_t)e / (uint32_t)hw) % (uint32_t)c) : (int)((e / hw) % c);
}

// y = (x - mean) * a + b per channel, from coef = {mean, a, b}; float4 when hw % 4 == 0.
struct bn_apply_op {
    const float *x;
    float *y;
    const float *coef;
    int c, hw;
    __device__ float f(float v, int ch) const { return (v - coef[ch]) * coef[c + ch] + coef[2 * c + ch]; }
    bool idx32;
    __device__ void one(size_t i) const { y[i] = f(x[i], bn_chan(i, hw, c, idx32)); }
    __device__ void quad(size_t i) const {  // hw % 4 == 0: the 4 elements share a channel
        int ch = bn_chan(i * 4, hw, c, idx32);
        float4 v = gh_ld4(x, i);
        gh_st4(y, i, make_float4(f(v.x, ch), f(v.y, ch), f(v.z, ch), f(v.w, ch)));
    }
};

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

// Backward per channel, N = n*hw, xhat = (x - mean) * invstd:
//   dbeta = sum dy, dgamma = sum dy*xhat,
//   dx = gamma*invstd * (dy - dbeta/N - xhat * dgamma/N)   (PyTorch's batch_norm backward).
// coef = {mean, invstd, gamma*invstd, dbeta/N, dgamma/N}.
__global__ void bn_bwd_finalize_kernel(int c, int S, double count, const double *__restrict__ part,
                                       const float *__restrict__ gamma,
                                       const float *__restrict__ save_mean,
                                       const float *__restrict__ save_invstd, float *dgamma,
                                       float *dbeta, float *__restrict__ coef) {
    int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= c) return;
    double s0 = 0.0, s1 = 0.0;
    for (int s = 0; s < S; s++) {
        s0 += part[((size_t)ch * S + s) * 2 + 0];
        s1 += part[((size_t)ch * S + s) * 2 + 1];
    }
    double invstd = save_invstd[ch];
    double sdy = s0, sdyxhat = s1 * invstd;
    if (dbeta) dbeta[ch] += (float)sdy;
    if (dgamma) dgamma[ch] += (float)sdyxhat;
    coef[ch] = save_mean[ch];
    coef[c + ch] = (float)invstd;
    coef[2 * c + ch] = (float)((gamma ? (double)gamma[ch] : 1.0) * invstd);
    coef[3 * c + ch] = (float)(sdy / count);
    coef[4 * c + ch] = (float)(sdyxhat / count);
}

struct bn_dx_op {
    const float *x, *dy, *coef;
    float *dx;
    int c, hw;
    bool idx32;
    __device__ float f(float xv, float d, int ch) const {
        float xhat = (xv - coef[ch]) * coef[c + ch];
        return coef[2 * c + ch] * (d - coef[3 * c + ch] - xhat * coef[4 * c + ch]);
    }
    __device__ void one(size_t i) const {
        int ch = bn_chan(i, hw, c, idx32);
        dx[i] += f(x[i], dy[i], ch);
    }
    __device__ void quad(size_t i) const {
        int ch = bn_chan(i * 4, hw, c, idx32);
        float4 a = gh_ld4(x, i), d = gh_ld4(dy, i), o = gh_ld4(dx, i);
        o.x += f(a.x, d.x, ch); o.y += f(a.y, d.y, ch); o.z += f(a.z, d.z, ch); o.w += f(a.w, d.w, ch);
        gh_st4(dx, i, o);
    }
};

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
                     float *run_mean, float *run_var, void *scratch, int S) {
    double *part = (double *)scratch;
    float *coef = (float *)(part + (size_t)2 * S * sh->c);
    GH_TRY(bn_launch_stats<0>(ctx, sh, S, x, NULL, NULL, part));
    double count = (double)sh->n * sh->hw;
    bn_fwd_finalize_kernel<<<(unsigned)gh_ceil_div(sh->c, 128), 128, 0, gh_stream(ctx)>>>(
        sh->c, S, count, sh->eps, sh->momentum, part, gamma, beta, save_mean, save_invstd,
        run_mean, run_var, coef);
    LAUNCH_CHECK("bn_fwd_finalize_kernel");
    size_t total = (size_t)sh->n * sh->c * sh->hw;
    int vec = sh->hw % 4 == 0 && gh_aligned16(x) && gh_aligned16(y);
    return gh_ew_launch("bn_apply", ctx, total, vec, bn_apply_op{x, y, coef, sh->c, sh->hw, gh_idx32(total) != 0});
}

int bn_bwd_run(const kctx *ctx, const bn_shape *sh, const float *x, const float *gamma,
               const float *save_mean, const float *save_invstd, const float *dy, float *dx,
               float *dgamma, float *dbeta, void *scratch, int S) {
    double *part = (double *)scratch;
    float *coef = (float *)(part + (size_t)2 * S * sh->c);
    GH_TRY(bn_launch_stats<1>(ctx, sh, S, x, dy, save_mean, part));
    double count = (double)sh->n * sh->hw;
    bn_bwd_finalize_kernel<<<(unsigned)gh_ceil_div(sh->c, 128), 128, 0, gh_stream(ctx)>>>(
        sh->c, S, count, part, gamma, save_mean, save_invstd, dgamma, dbeta, coef);
    LAUNCH_CHECK("bn_bwd_finalize_kernel");
    if (!dx) return GH_OK;
    size_t total = (size_t)sh->n * sh->c * sh->hw;
    int vec = sh->hw % 4 == 0 && gh_aligned16(x) && gh_aligned16(dy) && gh_aligned16(dx);
    return gh_ew_launch("bn_dx", ctx, total, vec, bn_dx_op{x, dy, coef, dx, sh->c, sh->hw, gh_idx32(total) != 0});
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
    size_t bytes = sizeof(double) * 2 * S * sh->c + sizeof(float) * 3 * sh->c;
    void *scratch = NULL;
    GH_TRY(gh_ws_take("bn_fwd_train_cuda", ctx, bytes, &scratch));
    int st = bn_fwd_train_run(ctx, sh, x, gamma, beta, y, save_mean, save_invstd, run_mean,
                              run_var, scratch, S);
    gh_ws_release(ctx, scratch);
    return st;
}

// The larger of the two training kernels' scratch: split partials (double) and coefficients.
int bn_ws_cuda(const kctx *ctx, const bn_shape *sh, size_t *floats) {
    (void)ctx;
    GH_CUDA_NEED("bn_ws_cuda", floats);
    *floats = 0;
    GH_TRY(bn_check("bn_ws_cuda", sh));
    size_t S = (size_t)bn_splits(sh);
    *floats = gh_ws_floats_for(sizeof(double) * 2 * S * sh->c + sizeof(float) * 5 * sh->c);
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
    size_t bytes = sizeof(double) * 2 * S * sh->c + sizeof(float) * 5 * sh->c;
    void *scratch = NULL;
    GH_TRY(gh_ws_take("bn_bwd_cuda", ctx, bytes, &scratch));
    int st = bn_bwd_run(ctx, sh, x, gamma, save_mean, save_invstd, dy, dx, dgamma, dbeta,
                        scratch, S);
    gh_ws_release(ctx, scratch);
    return st;
}

}  // extern "C"
