// kernels/cuda: the controller's categorical distribution: sampling (one thread per row, the
// host's double-precision computation line by line, with explicitly rounded multiplies and adds
// so that no FMA contraction changes a bit; the uniform is gh_uniform(seed, row) as on the
// host) and the log-probability and entropy with their gradients (one warp per row, fixed
// butterfly reductions; a bad index flagged as xent flags its labels).
#include <math.h>

#include "cuda_common.cuh"

namespace {

#define CAT_THREADS 256
#define CAT_WARPS (CAT_THREADS / 32)

unsigned warp_blocks(int rows) {
    size_t b = gh_ceil_div((size_t)rows, CAT_WARPS);
    return (unsigned)(b > GH_EW_MAX_BLOCKS ? GH_EW_MAX_BLOCKS : (b < 1 ? 1 : b));
}

#define FOR_WARP_ROWS(row, rows)                                                             \
    for (int row = blockIdx.x * CAT_WARPS + threadIdx.x / 32; row < (rows);                  \
         row += gridDim.x * CAT_WARPS)

// kernels/cpu/categorical.c ctl_logit
__device__ double ctl_logit(float x, float temperature, float tanh_c) {
    double v = __ddiv_rn((double)x, (double)temperature);
    return tanh_c > 0.0f ? __dmul_rn((double)tanh_c, tanh(v)) : v;
}

__global__ void sample_kernel(int rows, int cols, const float *__restrict__ logits,
                              float temperature, float tanh_c, uint64_t seed, int *__restrict__ idx,
                              float *__restrict__ logp, float *__restrict__ ent) {
    GH_GRID_STRIDE(rr, rows) {
        const int r = (int)rr;
        const float *x = logits + (size_t)r * cols;
        double mx = ctl_logit(x[0], temperature, tanh_c);
        for (int j = 1; j < cols; j++) {
            double z = ctl_logit(x[j], temperature, tanh_c);
            mx = z > mx ? z : mx;
        }
        double total = 0.0, pz = 0.0;
        for (int j = 0; j < cols; j++) {
            double d = __dadd_rn(ctl_logit(x[j], temperature, tanh_c), -mx), p = exp(d);
            total = __dadd_rn(total, p);
            pz = __dadd_rn(pz, __dmul_rn(p, d));
        }
        double target = __dmul_rn((double)gh_uniform(seed, (uint64_t)r), total), acc = 0.0;
        int pick = cols - 1;
        for (int j = 0; j < cols; j++) {
            acc = __dadd_rn(acc, exp(__dadd_rn(ctl_logit(x[j], temperature, tanh_c), -mx)));
            if (target < acc) {
                pick = j;
                break;
            }
        }
        double lse = log(total);
        idx[r] = pick;
        if (logp) logp[r] = (float)(ctl_logit(x[pick], temperature, tanh_c) - mx - lse);
        if (ent) ent[r] = (float)(lse - pz / total);
    }
}

// lse and entropy of one row, in every lane
__device__ void row_stats(int cols, const float *x, int lane, float *lse, float *h) {
    float mx = -INFINITY;
    for (int j = lane; j < cols; j += 32) mx = fmaxf(mx, x[j]);
    mx = gh_warp_max(mx);
    float s = 0.0f, sd = 0.0f;
    for (int j = lane; j < cols; j += 32) {
        float d = x[j] - mx, p = expf(d);
        s += p;
        sd += p * d;
    }
    s = gh_warp_sum(s);
    sd = gh_warp_sum(sd);
    float ls = logf(s);
    *lse = mx + ls;
    *h = ls - sd / s;
}

__global__ void __launch_bounds__(CAT_THREADS)
lpe_fwd_kernel(int rows, int cols, const float *__restrict__ x, const int *__restrict__ idx,
               float *__restrict__ logp, float *__restrict__ ent, int *flag, kflags *flags,
               uint64_t step) {
    const int lane = threadIdx.x & 31;
    FOR_WARP_ROWS(row, rows) {
        const float *xr = x + (size_t)row * cols;
        float lse, h;
        row_stats(cols, xr, lane, &lse, &h);
        if (lane != 0) continue;
        if (ent) ent[row] = h;
        if (logp) {
            int v = idx[row];
            if (v < 0 || v >= cols) {
                gh_idx_flag(flags, flag, row, v, cols, step);
                logp[row] = NAN;
            } else {
                logp[row] = xr[v] - lse;
            }
        }
    }
}

// dx_j += -(dlogp + dent (log p_j + H)) p_j + dlogp [j == idx]
__global__ void __launch_bounds__(CAT_THREADS)
lpe_bwd_kernel(int rows, int cols, const float *__restrict__ x, const int *__restrict__ idx,
               const float *__restrict__ dlogp, const float *__restrict__ dent,
               float *__restrict__ dx, int *flag, kflags *flags, uint64_t step) {
    const int lane = threadIdx.x & 31;
    FOR_WARP_ROWS(row, rows) {
        const float *xr = x + (size_t)row * cols;
        int v = dlogp ? idx[row] : -1;
        if (dlogp && (v < 0 || v >= cols)) {
            if (lane == 0) gh_idx_flag(flags, flag, row, v, cols, step);
            continue;
        }
        float lse, h;
        row_stats(cols, xr, lane, &lse, &h);
        float gl = dlogp ? dlogp[row] : 0.0f, ge = dent ? dent[row] : 0.0f;
        float *d = dx + (size_t)row * cols;
        for (int j = lane; j < cols; j += 32) {
            float lp = xr[j] - lse, p = expf(lp);
            float g = -(gl + ge * (lp + h)) * p;
            d[j] += j == v ? g + gl : g;
        }
    }
}

int cat_check(const char *op, int rows, int cols) {
    if (rows <= 0 || cols <= 0)
        return gh_fail(GH_EINVAL, "%s: rows %d, cols %d must be positive", op, rows, cols);
    return GH_OK;
}

int launch_status(const char *kernel) {
    LAUNCH_CHECK(kernel);
    return GH_OK;
}

}  // namespace

extern "C" {

int categorical_sample_cuda(const kctx *ctx, int rows, int cols, const float *logits,
                            float temperature, float tanh_c, uint64_t seed, int *idx, float *logp,
                            float *ent) {
    GH_TRY(cat_check("categorical_sample_cuda", rows, cols));
    if (!(temperature > 0.0f) || !isfinite(temperature))
        return gh_fail(GH_EINVAL, "categorical_sample_cuda: temperature %g must be positive and "
                       "finite", (double)temperature);
    if (!(tanh_c >= 0.0f) || !isfinite(tanh_c))
        return gh_fail(GH_EINVAL, "categorical_sample_cuda: tanh constant %g must be >= 0 (0: "
                       "none) and finite", (double)tanh_c);
    GH_CUDA_NEED("categorical_sample_cuda", logits);
    GH_CUDA_NEED("categorical_sample_cuda", idx);
    unsigned blocks = (unsigned)gh_ceil_div((size_t)rows, 128);
    if (blocks > GH_EW_MAX_BLOCKS) blocks = GH_EW_MAX_BLOCKS;
    sample_kernel<<<blocks, 128, 0, gh_stream(ctx)>>>(rows, cols, logits, temperature, tanh_c,
                                                       seed, idx, logp, ent);
    LAUNCH_CHECK("sample_kernel");
    return GH_OK;
}

int logprob_entropy_fwd_cuda(const kctx *ctx, int rows, int cols, const float *x, const int *idx,
                             float *logp, float *ent) {
    GH_TRY(cat_check("logprob_entropy_fwd_cuda", rows, cols));
    GH_CUDA_NEED("logprob_entropy_fwd_cuda", x);
    if (logp) GH_CUDA_NEED("logprob_entropy_fwd_cuda", idx);
    kflags *flags = ctx ? ctx->flags : NULL;
    uint64_t step = ctx ? ctx->step : 0;
    int *flag = NULL;
    if (logp && !flags) GH_TRY(gh_idx_flag_alloc("logprob_entropy_fwd_cuda", ctx, &flag));
    lpe_fwd_kernel<<<warp_blocks(rows), CAT_THREADS, 0, gh_stream(ctx)>>>(
        rows, cols, x, idx, logp, ent, flag, flags, step);
    int st = launch_status("lpe_fwd_kernel");
    return !flag ? st
                 : gh_idx_flag_report("logprob_entropy_fwd_cuda", ctx, flag, idx, "idx", cols, st);
}

int logprob_entropy_bwd_cuda(const kctx *ctx, int rows, int cols, const float *x, const int *idx,
                             const float *dlogp, const float *dent, float *dx) {
    GH_TRY(cat_check("logprob_entropy_bwd_cuda", rows, cols));
    if (!dx || (!dlogp && !dent)) return GH_OK;
    GH_CUDA_NEED("logprob_entropy_bwd_cuda", x);
    if (dlogp) GH_CUDA_NEED("logprob_entropy_bwd_cuda", idx);
    kflags *flags = ctx ? ctx->flags : NULL;
    uint64_t step = ctx ? ctx->step : 0;
    int *flag = NULL;
    if (dlogp && !flags) GH_TRY(gh_idx_flag_alloc("logprob_entropy_bwd_cuda", ctx, &flag));
    lpe_bwd_kernel<<<warp_blocks(rows), CAT_THREADS, 0, gh_stream(ctx)>>>(
        rows, cols, x, idx, dlogp, dent, dx, flag, flags, step);
    int st = launch_status("lpe_bwd_kernel");
    return !flag ? st
                 : gh_idx_flag_report("logprob_entropy_bwd_cuda", ctx, flag, idx, "idx", cols, st);
}

}  // extern "C"
