// kernels/cuda: reductions into device memory for metrics and checks that a training step makes
// without a read to the host: the mean of per-row losses (one block, fixed tree: the same bits
// on every run), running sums (acc_add, acc_hits) and the finiteness check that records into
// ctx->flags.
#include <math.h>

#include "cuda_common.cuh"

namespace {

#define MET_THREADS 256

// Thread t sums elements t, t + 256, ... in order, then the block adds the 256 partials in a
// fixed tree: deterministic, though not the host's index order.
__global__ void __launch_bounds__(MET_THREADS)
mean_kernel(size_t n, const float *__restrict__ x, float *__restrict__ y) {
    __shared__ double sh[MET_THREADS];
    double acc = 0.0;
    for (size_t i = threadIdx.x; i < n; i += MET_THREADS) acc += (double)x[i];
    double s = gh_block_sum<double, MET_THREADS>(acc, sh);
    if (threadIdx.x == 0) y[0] = (float)(s / (double)n);
}

// Explicit round-to-nearest multiply and add: no fused multiply-add, so that the running sum
// has the bits of the host's `sum += scale * (double)x` loop.
__global__ void acc_add_kernel(const float *x, double scale, double *acc) {
    acc[0] = __dadd_rn(acc[0], __dmul_rn(scale, (double)x[0]));
}

// One thread per row (rows are short: class counts); integer counts add exactly in any order.
__global__ void __launch_bounds__(MET_THREADS)
acc_hits_kernel(int n, int k, const float *__restrict__ scores, const int *__restrict__ labels,
                double *acc) {
    __shared__ long long sh[MET_THREADS];
    long long hits = 0;
    for (int i = threadIdx.x; i < n; i += MET_THREADS) {
        const float *row = scores + (size_t)i * k;
        int best = 0;  // first maximum, as torch.argmax
        float bv = row[0];
        for (int j = 1; j < k; j++)
            if (row[j] > bv) {
                bv = row[j];
                best = j;
            }
        hits += best == labels[i];
    }
    long long total = gh_block_sum<long long, MET_THREADS>(hits, sh);
    if (threadIdx.x == 0) acc[0] += (double)total;
}

__global__ void check_finite_kernel(size_t n, const float *__restrict__ x, unsigned bit,
                                    kflags *flags, uint64_t step) {
    GH_GRID_STRIDE(i, n) {
        if (!isfinite(x[i])) gh_flag_event(flags, bit, step);
    }
}

}  // namespace

extern "C" {

int mean_cuda(const kctx *ctx, size_t n, const float *x, float *y) {
    if (n == 0) return gh_fail(GH_EINVAL, "mean_cuda: mean of 0 elements");
    GH_CUDA_NEED("mean_cuda", x);
    GH_CUDA_NEED("mean_cuda", y);
    mean_kernel<<<1, MET_THREADS, 0, gh_stream(ctx)>>>(n, x, y);
    LAUNCH_CHECK("mean_kernel");
    return GH_OK;
}

int acc_add_cuda(const kctx *ctx, const float *x, double scale, double *acc) {
    GH_CUDA_NEED("acc_add_cuda", x);
    GH_CUDA_NEED("acc_add_cuda", acc);
    acc_add_kernel<<<1, 1, 0, gh_stream(ctx)>>>(x, scale, acc);
    LAUNCH_CHECK("acc_add_kernel");
    return GH_OK;
}

int acc_hits_cuda(const kctx *ctx, int n, int k, const float *scores, const int *labels,
                  double *acc) {
    if (n <= 0 || k <= 0)
        return gh_fail(GH_EINVAL, "acc_hits_cuda: n %d, classes %d must be positive", n, k);
    GH_CUDA_NEED("acc_hits_cuda", scores);
    GH_CUDA_NEED("acc_hits_cuda", labels);
    GH_CUDA_NEED("acc_hits_cuda", acc);
    acc_hits_kernel<<<1, MET_THREADS, 0, gh_stream(ctx)>>>(n, k, scores, labels, acc);
    LAUNCH_CHECK("acc_hits_kernel");
    return GH_OK;
}

int check_finite_cuda(const kctx *ctx, size_t n, const float *x, unsigned bit) {
    if (!ctx || !ctx->flags)
        return gh_fail(GH_EINVAL, "check_finite_cuda: needs ctx->flags (device memory) to record "
                       "into; the host cannot be told otherwise without a read");
    if (n == 0) return GH_OK;
    GH_CUDA_NEED("check_finite_cuda", x);
    check_finite_kernel<<<gh_ew_blocks(n), GH_EW_THREADS, 0, gh_stream(ctx)>>>(n, x, bit, ctx->flags,
                                                                              ctx->step);
    LAUNCH_CHECK("check_finite_kernel");
    return GH_OK;
}

}  // extern "C"
