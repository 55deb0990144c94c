// kernels/cuda: flat elementwise ops (ReLU, add, axpy, scale, fill) as float4 grid-stride
// kernels, and sumsq: a double-precision sum of squares in a fixed two-pass tree order.
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

__global__ void __launch_bounds__(SUMSQ_THREADS)
sumsq_final_kernel(int nparts, const double *__restrict__ part, double *__restrict__ out) {
    __shared__ double sh[SUMSQ_THREADS];
    double acc = 0.0;
    for (int i = threadIdx.x; i < nparts; i += SUMSQ_THREADS) acc += part[i];
    double s = gh_block_sum<double, SUMSQ_THREADS>(acc, sh);
    if (threadIdx.x == 0) out[0] = s;
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
    // 8 elements per thread at least before another block is worth its partial
    size_t nb = gh_ceil_div(n, (size_t)SUMSQ_THREADS * 8);
    int blocks = (int)(nb < SUMSQ_MAX_BLOCKS ? nb : SUMSQ_MAX_BLOCKS);
    cudaStream_t st = gh_stream(ctx);
    double *part = NULL;
    GH_TRY(gh_scratch_alloc("sumsq_cuda", ctx, sizeof(double) * (blocks + 1), (void **)&part));
    double *dev_out = part + blocks;
    sumsq_partial_kernel<<<blocks, SUMSQ_THREADS, 0, st>>>(n, x, part);
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) {
        sumsq_final_kernel<<<1, SUMSQ_THREADS, 0, st>>>(blocks, part, dev_out);
        e = cudaGetLastError();
    }
    double host = 0.0;
    if (e == cudaSuccess) e = cudaMemcpyAsync(&host, dev_out, sizeof host, cudaMemcpyDeviceToHost, st);
    gh_scratch_free(ctx, part);
    if (e == cudaSuccess) e = cudaStreamSynchronize(st);
    if (e != cudaSuccess)
        return gh_fail(GH_ECUDA, "%s:%d: sumsq_cuda (n=%zu, %d blocks) failed: %s", __FILE__,
                       __LINE__, n, blocks, cudaGetErrorString(e));
    *out = host;
    return GH_OK;
}

}  // extern "C"
