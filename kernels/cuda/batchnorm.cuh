// kernels/cuda: batch norm's split of (image, channel) work over blocks, the per-thread partial
// sums and the per-channel finalize (batchnorm.cu), as host and device code, so that
// tests/cuda/test_bn_emu.cu replays the statistics on the CPU in the kernels' order.
#pragma once
#include <math.h>

#include "cuda_common.cuh"

namespace {

#define BN_THREADS 256
// Aim for about 4 blocks per SM of an H100/H200 (132 SMs) in the statistics pass, with at
// least this many elements per block so that the partials stay few.
#define BN_TARGET_BLOCKS 528
#define BN_MIN_PER_BLOCK 4096

// Blocks per channel (the split): a function of the shape only, so that the summation order,
// hence every bit of the result, is too.
static inline int bn_splits(const bn_shape *sh) {
    int s = (int)gh_ceil_div(BN_TARGET_BLOCKS, (size_t)sh->c);
    size_t by_work = ((size_t)sh->n * sh->hw) / BN_MIN_PER_BLOCK;
    if ((size_t)s > by_work) s = (int)by_work;
    if (s > sh->n) s = sh->n;
    return s < 1 ? 1 : s;
}

// Images [*b0, *b1) of split s of S (empty for the last splits when S does not divide n).
__host__ __device__ __forceinline__ void bn_rows(int n, int S, int s, int *b0, int *b1) {
    const int nb = (n + S - 1) / S;
    *b0 = s * nb;
    *b1 = n < *b0 + nb ? n : *b0 + nb;
}

// One thread's partial sums of channel ch over images [b0, b1): elements j = tid, tid + NT, ...
// of each image's plane (float4s when VEC: hw % 4 == 0 and the tensors are 16-byte aligned),
// one image at a time so that the plane's offset is hoisted and j is 32-bit.
// MODE 0 (forward statistics): a0 = sum x, a1 = sum x^2.
// MODE 1 (backward): a0 = sum dy, a1 = sum dy * (x - m), m the saved mean.
// Every product and sum in FP64 from FP32 inputs (exact products: 24 + 24 bits < 53).
struct bn_pair {
    double a0, a1;
};

template <int MODE, bool VEC>
__host__ __device__ __forceinline__ bn_pair bn_thread_partial(int c, int hw, int b0, int b1,
                                                              int ch, int tid, int nt,
                                                              const float *x, const float *dy,
                                                              double m) {
    double a0 = 0.0, a1 = 0.0;
    const int len = VEC ? hw / 4 : hw;
    for (int b = b0; b < b1; b++) {
        const size_t plane = ((size_t)b * c + ch) * hw;
        const float *xp = x + plane, *dp = MODE == 1 ? dy + plane : x;
#ifdef __CUDA_ARCH__
#pragma unroll 2  // ptxas's default unrolling spilled 2 registers in sm_90's scalar backward
#endif
        for (int j = tid; j < len; j += nt) {
            if (VEC) {  // the 4 terms summed first: chains a quarter as long
                const float4 xv = reinterpret_cast<const float4 *>(xp)[j];
                if (MODE == 0) {
                    a0 += (double)xv.x + (double)xv.y + (double)xv.z + (double)xv.w;
                    a1 += (double)xv.x * xv.x + (double)xv.y * xv.y + (double)xv.z * xv.z +
                          (double)xv.w * xv.w;
                } else {
                    const float4 d = reinterpret_cast<const float4 *>(dp)[j];
                    a0 += (double)d.x + (double)d.y + (double)d.z + (double)d.w;
                    a1 += (double)d.x * (xv.x - m) + (double)d.y * (xv.y - m) +
                          (double)d.z * (xv.z - m) + (double)d.w * (xv.w - m);
                }
            } else {
                const double xv = xp[j];
                if (MODE == 0) {
                    a0 += xv;
                    a1 += xv * xv;
                } else {
                    const double d = dp[j];
                    a0 += d;
                    a1 += d * (xv - m);
                }
            }
        }
    }
    return bn_pair{a0, a1};
}

// A channel's statistics from its S partials, summed in split order (every block that needs
// them computes the same bits). The variance is E[x^2] - E[x]^2 from the one-pass sums; the
// reference (bn_fwd_train_ref) is two-pass: sum (x - mean)^2 after the mean. Error bound of the
// one pass against it, u = 2^-53, N = n*hw, L = the longest chain of additions into one sum
// (at most ceil(N / (S*BN_THREADS)) per-thread terms, + 8 tree levels + S partials; a float4's
// 4 terms are summed first, which only shortens the chain). Each FP64 sum is within L*u of its
// exact value relative to the sum of |terms|: E[x^2] within L*u*E[x^2]; mean within
// L*u*E|x| <= L*u*sqrt(E[x^2]), so mean^2 within 2*L*u*E[x^2]; with the divisions and the
// subtraction,
//   |var_1pass - var_exact| <= (3L+4)*u * E[x^2] = (3L+4)*u * (var + mean^2),
// a relative error of (3L+4)*u*(1 + (mean/std)^2) in the variance (the two-pass reference's own
// is about L*u, independent of the mean). The FP32 results (invstd, run_var) round at 2^-24
// relative, so the one pass moves them by at most an ulp while (3L+4)*(1 + (mean/std)^2) <=
// 2^29: for the DARTS shapes (L < 2^10) any |mean|/std below 2^8. test_bn_emu replays the sums
// in the kernels' order and checks this bound against an 80-bit two-pass variance at
// mean/std = 1700 (beyond it: the bound, not an ulp) and about 0.
struct bn_fwd_stats {
    double mean, var, invstd;
};

__host__ __device__ inline bn_fwd_stats bn_fwd_final(int S, int ch, double count, float eps,
                                                     const double *part) {
    double s0 = 0.0, s1 = 0.0;
    for (int s = 0; s < S; s++) {
        s0 += part[((size_t)ch * S + s) * 2 + 0];
        s1 += part[((size_t)ch * S + s) * 2 + 1];
    }
    bn_fwd_stats r;
    r.mean = s0 / count;
    r.var = s1 / count - r.mean * r.mean;
    if (r.var < 0.0) r.var = 0.0;
    r.invstd = 1.0 / sqrt(r.var + (double)eps);
    return r;
}

// Saved statistics and running statistics (unbiased variance, as PyTorch) of one channel.
__host__ __device__ inline void bn_fwd_store(const bn_fwd_stats &r, int ch, double count,
                                             float momentum, float *save_mean,
                                             float *save_invstd, float *run_mean, float *run_var) {
    if (save_mean) save_mean[ch] = (float)r.mean;
    if (save_invstd) save_invstd[ch] = (float)r.invstd;
    if (run_mean) run_mean[ch] = (float)((1.0 - momentum) * run_mean[ch] + momentum * r.mean);
    if (run_var) {
        const double unbiased = count > 1.0 ? r.var * count / (count - 1.0) : r.var;
        run_var[ch] = (float)((1.0 - momentum) * run_var[ch] + momentum * unbiased);
    }
}

// The forward apply's coefficients: y = (x - coef[0]) * coef[1] + coef[2].
__host__ __device__ inline void bn_fwd_coefs(const bn_fwd_stats &r, int ch, const float *gamma,
                                             const float *beta, float coef[3]) {
    coef[0] = (float)r.mean;
    coef[1] = (float)((gamma ? (double)gamma[ch] : 1.0) * r.invstd);
    coef[2] = beta ? beta[ch] : 0.0f;
}
__host__ __device__ inline float bn_fwd_apply(float v, const float coef[3]) {
    return (v - coef[0]) * coef[1] + coef[2];
}

// Backward per channel, N = n*hw, xhat = (x - mean) * invstd:
//   dbeta = sum dy, dgamma = sum dy*xhat,
//   dx = gamma*invstd * (dy - dbeta/N - xhat * dgamma/N)   (PyTorch's batch_norm backward).
struct bn_bwd_sums {
    double sdy, sdyxhat;
};

__host__ __device__ inline bn_bwd_sums bn_bwd_final(int S, int ch, double invstd,
                                                    const double *part) {
    double s0 = 0.0, s1 = 0.0;
    for (int s = 0; s < S; s++) {
        s0 += part[((size_t)ch * S + s) * 2 + 0];
        s1 += part[((size_t)ch * S + s) * 2 + 1];
    }
    return bn_bwd_sums{s0, s1 * invstd};
}

// The backward's coefficients {mean, invstd, gamma*invstd, dbeta/N, dgamma/N} and dx's term.
__host__ __device__ inline void bn_bwd_coefs(const bn_bwd_sums &r, int ch, double count,
                                             double invstd, const float *gamma,
                                             const float *save_mean, float coef[5]) {
    coef[0] = save_mean[ch];
    coef[1] = (float)invstd;
    coef[2] = (float)((gamma ? (double)gamma[ch] : 1.0) * invstd);
    coef[3] = (float)(r.sdy / count);
    coef[4] = (float)(r.sdyxhat / count);
}
__host__ __device__ inline float bn_bwd_dx(float xv, float d, const float coef[5]) {
    const float xhat = (xv - coef[0]) * coef[1];
    return coef[2] * (d - coef[3] - xhat * coef[4]);
}

}  // namespace
