// kernels/cuda: flat elementwise ops (ReLU, add, axpy, scale, fill) as float4 grid-stride
// kernels; sumsq and norm2: a double-precision sum of squares in a fixed two-pass tree order;
// the device-scalar ops (clip_by_norm, scalar_pow, axpy_dev, scale_dev), whose coefficient each
// thread computes from a double in device memory.
#include "elementwise.cuh"

namespace {

struct relu_fwd_op {
    const float *x;
    float *y;
    __device__ float f(float v) const { return v > 0.0f ? v : 0.0f; }
    __device__ void one(size_t i) const { y[i] = f(x[i]); }
    __device__ void quad(size_t i) const {
        float4 v = gh_ld4(x, i);
        gh_st4(y, i, make_float4(f(v.x), f(v.y), f(v.z), f(v.w)));
    }
};

struct relu_bwd_op {  // dx += dy * (x > 0)
    const float *x, *dy;
    float *dx;
    __device__ static float g(float xv, float d) { return xv > 0.0f ? d : 0.0f; }
    __device__ void one(size_t i) const { dx[i] += g(x[i], dy[i]); }
    __device__ void quad(size_t i) const {
        float4 a = gh_ld4(x, i), d = gh_ld4(dy, i), o = gh_ld4(dx, i);
        o.x += g(a.x, d.x); o.y += g(a.y, d.y); o.z += g(a.z, d.z); o.w += g(a.w, d.w);
        gh_st4(dx, i, o);
    }
};

struct add_fwd_op {
    const float *a, *b;
    float *y;
    __device__ void one(size_t i) const { y[i] = a[i] + b[i]; }
    __device__ void quad(size_t i) const {
        float4 u = gh_ld4(a, i), v = gh_ld4(b, i);
        gh_st4(y, i, make_float4(u.x + v.x, u.y + v.y, u.z + v.z, u.w + v.w));
    }
};

struct axpy_op {  // y += alpha * x (also add_bwd with alpha = 1)
    float alpha;
    const float *x;
    float *y;
    __device__ void one(size_t i) const { y[i] += alpha * x[i]; }
    __device__ void quad(size_t i) const {
        float4 u = gh_ld4(x, i), v = gh_ld4(y, i);
        v.x += alpha * u.x; v.y += alpha * u.y; v.z += alpha * u.z; v.w += alpha * u.w;
        gh_st4(y, i, v);
    }
};

struct add_bwd_op {  // da += dy and db += dy in one pass
    const float *dy;
    float *da, *db;
    __device__ void one(size_t i) const {
        float d = dy[i];
        da[i] += d;
        db[i] += d;
    }
    __device__ void quad(size_t i) const {
        float4 d = gh_ld4(dy, i), u = gh_ld4(da, i), v = gh_ld4(db, i);
        u.x += d.x; u.y += d.y; u.z += d.z; u.w += d.w;
        v.x += d.x; v.y += d.y; v.z += d.z; v.w += d.w;
        gh_st4(da, i, u);
        gh_st4(db, i, v);
    }
};

struct scale_op {
    float alpha;
    float *x;
    __device__ void one(size_t i) const { x[i] *= alpha; }
    __device__ void quad(size_t i) const {
        float4 v = gh_ld4(x, i);
        gh_st4(x, i, make_float4(v.x * alpha, v.y * alpha, v.z * alpha, v.w * alpha));
    }
};

struct fill_op {
    float value;
    float *x;
    __device__ void one(size_t i) const { x[i] = value; }
    __device__ void quad(size_t i) const { gh_st4(x, i, make_float4(value, value, value, value)); }
};

// sumsq pass 1: each of `blocks` blocks sums x[i]^2 over a fixed grid-stride set of indices
// in double, then a fixed tree; pass 2 adds the block partials in a fixed tree too. The grid
// size depends on n only, so the order (and the bits) are the same on every run and device.
#define SUMSQ_THREADS 256
#define SUMSQ_MAX_BLOCKS 1024

__global__ void __launch_bounds__(SUMSQ_THREADS)
sumsq_partial_kernel(size_t n, const float *__restrict__ x, double *__restrict__ part) {
    __shared__ double sh[SUMSQ_THREADS];
    double acc = 0.0;
    GH_GRID_STRIDE(i, n) {
        double v = (double)x[i];
        acc += v * v;
    }
    double s = gh_block_sum<double, SUMSQ_THREADS>(acc, sh);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}

// root: out = sqrt(sum) (norm2)
__global__ void __launch_bounds__(SUMSQ_THREADS)
sumsq_final_kernel(int nparts, const double *__restrict__ part, double *__restrict__ out,
                   int root) {
    __shared__ double sh[SUMSQ_THREADS];
    double acc = 0.0;
    for (int i = threadIdx.x; i < nparts; i += SUMSQ_THREADS) acc += part[i];
    double s = gh_block_sum<double, SUMSQ_THREADS>(acc, sh);
    if (threadIdx.x == 0) out[0] = root ? sqrt(s) : s;
}

int sumsq_blocks(size_t n) {
    // 8 elements per thread at least before another block is worth its partial
    size_t nb = gh_ceil_div(n, (size_t)SUMSQ_THREADS * 8);
    if (nb < 1) nb = 1;
    return (int)(nb < SUMSQ_MAX_BLOCKS ? nb : SUMSQ_MAX_BLOCKS);
}

// The two passes into out[0] (device memory), partials in `part` (blocks doubles).
int sumsq_launch(const char *op, const kctx *ctx, size_t n, const float *x, double *part,
                 int blocks, double *out, int root) {
    cudaStream_t st = gh_stream(ctx);
    sumsq_partial_kernel<<<blocks, SUMSQ_THREADS, 0, st>>>(n, x, part);
    LAUNCH_CHECK(op);
    sumsq_final_kernel<<<1, SUMSQ_THREADS, 0, st>>>(blocks, part, out, root);
    LAUNCH_CHECK(op);
    return GH_OK;
}

// ---- device scalars: the coefficient alpha * s^power is computed by every thread from the
// scalar in device memory (one double read, broadcast by the cache), so no kernel waits for
// another and the host never sees it.

__device__ __forceinline__ double dev_coef(double alpha, const double *s, int power) {
    return power == 1 ? alpha * s[0] : alpha / s[0];
}

__global__ void scalar_pow_kernel(double alpha, const double *s, int power, double *out,
                                  kflags *flags, uint64_t step) {
    double c = dev_coef(alpha, s, power);
    if (isfinite(c)) out[0] = c;
    else if (flags) gh_flag_event(flags, GH_KFLAG_SCALAR, step);
}

// MODE 0: y += (float)c * x; MODE 1: y *= (float)c (x unused). A non-finite c changes nothing.
template <int MODE>
__global__ void __launch_bounds__(GH_EW_THREADS)
coef_kernel(size_t n, double alpha, const double *s, int power, const float *__restrict__ x,
            float *__restrict__ y, kflags *flags, uint64_t step) {
    double c = dev_coef(alpha, s, power);
    if (!isfinite(c)) {
        if (flags && blockIdx.x == 0 && threadIdx.x == 0) gh_flag_event(flags, GH_KFLAG_SCALAR, step);
        return;
    }
    const float cf = (float)c;
    GH_GRID_STRIDE(i, n) {
        if (MODE == 0) y[i] += cf * x[i];
        else y[i] *= cf;
    }
}

// clip_grad_norm_: g *= (float)(max_norm / (norm + 1e-6)) when that is below 1.
__global__ void __launch_bounds__(GH_EW_THREADS)
clip_kernel(size_t n, const double *norm, float max_norm, float *__restrict__ g, kflags *flags,
            uint64_t step) {
    const double nv = norm[0];
    if (!isfinite(nv)) {
        if (flags && blockIdx.x == 0 && threadIdx.x == 0) gh_flag_event(flags, GH_KFLAG_NORM, step);
        return;
    }
    const double c = (double)max_norm / (nv + 1e-6);
    if (!(c < 1.0)) return;
    const float cf = (float)c;
    GH_GRID_STRIDE(i, n) g[i] *= cf;
}

int power_check(const char *op, int power) {
    if (power != 1 && power != -1)
        return gh_fail(GH_EINVAL, "%s: power %d (expected 1 or -1)", op, power);
    return GH_OK;
}

}  // namespace

extern "C" {

int relu_fwd_cuda(const kctx *ctx, size_t n, const float *x, float *y) {
    if (n == 0) return GH_OK;
    GH_CUDA_NEED("relu_fwd_cuda", x);
    GH_CUDA_NEED("relu_fwd_cuda", y);
    int vec = gh_aligned16(x) && gh_aligned16(y);
    return gh_ew_launch("relu_fwd", ctx, n, vec, relu_fwd_op{x, y});
}

int relu_bwd_cuda(const kctx *ctx, size_t n, const float *x, const float *dy, float *dx) {
    if (n == 0 || !dx) return GH_OK;
    GH_CUDA_NEED("relu_bwd_cuda", x);
    GH_CUDA_NEED("relu_bwd_cuda", dy);
    int vec = gh_aligned16(x) && gh_aligned16(dy) && gh_aligned16(dx);
    return gh_ew_launch("relu_bwd", ctx, n, vec, relu_bwd_op{x, dy, dx});
}

int add_fwd_cuda(const kctx *ctx, size_t n, const float *a, const float *b, float *y) {
    if (n == 0) return GH_OK;
    GH_CUDA_NEED("add_fwd_cuda", a);
    GH_CUDA_NEED("add_fwd_cuda", b);
    GH_CUDA_NEED("add_fwd_cuda", y);
    int vec = gh_aligned16(a) && gh_aligned16(b) && gh_aligned16(y);
    return gh_ew_launch("add_fwd", ctx, n, vec, add_fwd_op{a, b, y});
}

int add_bwd_cuda(const kctx *ctx, size_t n, const float *dy, float *da, float *db) {
    if (n == 0 || (!da && !db)) return GH_OK;
    GH_CUDA_NEED("add_bwd_cuda", dy);
    if (da && db) {
        int vec = gh_aligned16(dy) && gh_aligned16(da) && gh_aligned16(db);
        return gh_ew_launch("add_bwd", ctx, n, vec, add_bwd_op{dy, da, db});
    }
    float *d = da ? da : db;
    int vec = gh_aligned16(dy) && gh_aligned16(d);
    return gh_ew_launch("add_bwd", ctx, n, vec, axpy_op{1.0f, dy, d});
}

int axpy_cuda(const kctx *ctx, size_t n, float alpha, const float *x, float *y) {
    if (n == 0) return GH_OK;
    GH_CUDA_NEED("axpy_cuda", x);
    GH_CUDA_NEED("axpy_cuda", y);
    int vec = gh_aligned16(x) && gh_aligned16(y);
    return gh_ew_launch("axpy", ctx, n, vec, axpy_op{alpha, x, y});
}

int scale_cuda(const kctx *ctx, size_t n, float alpha, float *x) {
    if (n == 0) return GH_OK;
    GH_CUDA_NEED("scale_cuda", x);
    return gh_ew_launch("scale", ctx, n, gh_aligned16(x), scale_op{alpha, x});
}

int fill_cuda(const kctx *ctx, size_t n, float value, float *x) {
    if (n == 0) return GH_OK;
    GH_CUDA_NEED("fill_cuda", x);
    return gh_ew_launch("fill", ctx, n, gh_aligned16(x), fill_op{value, x});
}

int sumsq_cuda(const kctx *ctx, size_t n, const float *x, double *out) {
    GH_CUDA_NEED("sumsq_cuda", out);
    *out = 0.0;
    if (n == 0) return GH_OK;
    GH_CUDA_NEED("sumsq_cuda", x);
    int blocks = sumsq_blocks(n);
    double *part = NULL;
    GH_TRY(gh_ws_take("sumsq_cuda", ctx, sizeof(double) * (blocks + 1), (void **)&part));
    double *dev_out = part + blocks;
    int st = sumsq_launch("sumsq_cuda", ctx, n, x, part, blocks, dev_out, 0);
    double host = 0.0;
    cudaError_t e = cudaSuccess;
    if (st == GH_OK)
        e = cudaMemcpyAsync(&host, dev_out, sizeof host, cudaMemcpyDeviceToHost, gh_stream(ctx));
    gh_ws_release(ctx, part);
    if (st != GH_OK) return st;
    if (e == cudaSuccess) e = cudaStreamSynchronize(gh_stream(ctx));
    if (e != cudaSuccess)
        return gh_fail(GH_ECUDA, "%s:%d: sumsq_cuda (n=%zu, %d blocks) failed: %s", __FILE__,
                       __LINE__, n, blocks, cudaGetErrorString(e));
    *out = host;
    return GH_OK;
}

int norm2_ws_cuda(const kctx *ctx, size_t n, size_t *floats) {
    (void)ctx;
    GH_CUDA_NEED("norm2_ws_cuda", floats);
    *floats = gh_ws_floats_for(sizeof(double) * (size_t)sumsq_blocks(n));
    return GH_OK;
}

int norm2_cuda(const kctx *ctx, size_t n, const float *x, double *out) {
    GH_CUDA_NEED("norm2_cuda", out);
    if (n == 0) {
        CUDA_CHECK(cudaMemsetAsync(out, 0, sizeof(double), gh_stream(ctx)));
        return GH_OK;
    }
    GH_CUDA_NEED("norm2_cuda", x);
    int blocks = sumsq_blocks(n);
    double *part = NULL;
    GH_TRY(gh_ws_take("norm2_cuda", ctx, sizeof(double) * blocks, (void **)&part));
    int st = sumsq_launch("norm2_cuda", ctx, n, x, part, blocks, out, 1);
    gh_ws_release(ctx, part);
    return st;
}

int clip_by_norm_cuda(const kctx *ctx, size_t n, const double *norm, float max_norm, float *g) {
    GH_CUDA_NEED("clip_by_norm_cuda", norm);
    if (n == 0) return GH_OK;
    GH_CUDA_NEED("clip_by_norm_cuda", g);
    clip_kernel<<<gh_ew_blocks(n), GH_EW_THREADS, 0, gh_stream(ctx)>>>(
        n, norm, max_norm, g, ctx ? ctx->flags : NULL, ctx ? ctx->step : 0);
    LAUNCH_CHECK("clip_kernel");
    return GH_OK;
}

int scalar_pow_cuda(const kctx *ctx, double alpha, const double *s, int power, double *out) {
    GH_TRY(power_check("scalar_pow_cuda", power));
    GH_CUDA_NEED("scalar_pow_cuda", s);
    GH_CUDA_NEED("scalar_pow_cuda", out);
    scalar_pow_kernel<<<1, 1, 0, gh_stream(ctx)>>>(alpha, s, power, out,
                                                  ctx ? ctx->flags : NULL, ctx ? ctx->step : 0);
    LAUNCH_CHECK("scalar_pow_kernel");
    return GH_OK;
}

int axpy_dev_cuda(const kctx *ctx, size_t n, double alpha, const double *s, int power,
                  const float *x, float *y) {
    GH_TRY(power_check("axpy_dev_cuda", power));
    GH_CUDA_NEED("axpy_dev_cuda", s);
    if (n == 0) return GH_OK;
    GH_CUDA_NEED("axpy_dev_cuda", x);
    GH_CUDA_NEED("axpy_dev_cuda", y);
    coef_kernel<0><<<gh_ew_blocks(n), GH_EW_THREADS, 0, gh_stream(ctx)>>>(
        n, alpha, s, power, x, y, ctx ? ctx->flags : NULL, ctx ? ctx->step : 0);
    LAUNCH_CHECK("coef_kernel<axpy>");
    return GH_OK;
}

int scale_dev_cuda(const kctx *ctx, size_t n, double alpha, const double *s, int power, float *x) {
    GH_TRY(power_check("scale_dev_cuda", power));
    GH_CUDA_NEED("scale_dev_cuda", s);
    if (n == 0) return GH_OK;
    GH_CUDA_NEED("scale_dev_cuda", x);
    coef_kernel<1><<<gh_ew_blocks(n), GH_EW_THREADS, 0, gh_stream(ctx)>>>(
        n, alpha, s, power, NULL, x, ctx ? ctx->flags : NULL, ctx ? ctx->step : 0);
    LAUNCH_CHECK("coef_kernel<scale>");
    return GH_OK;
}

}  // extern "C"
