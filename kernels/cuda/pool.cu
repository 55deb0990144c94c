// kernels/cuda: max and average pooling (forward per output, backward as a gather per input:
// each input element visits the windows that contain it, so no atomics and a fixed order),
// and global average pooling (one warp per (n, c) row).
#include <math.h>

#include "cuda_common.cuh"

namespace {

struct pool_geom {
    int n, c, h, w, kh, kw, stride, pad, p, q;
};

// The shared geometry check (kernels/geometry.c), then the validated shape as kernel arguments.
int pool_check(const char *op, const pool_shape *in, pool_geom *g) {
    pool_shape sh;
    GH_TRY(pool_shape_check(op, in, &sh));
    *g = pool_geom{sh.n, sh.c, sh.h, sh.w, sh.kh, sh.kw, sh.stride, sh.pad, sh.p, sh.q};
    return GH_OK;
}

// First maximum of window (op, oq) in row-major order over in-bounds elements (a NaN wins, as
// in PyTorch and the reference); -1 if the window holds none. Shared by forward and backward
// so that they agree on ties.
__device__ __forceinline__ int max_window(const pool_geom &g, const float *__restrict__ xp,
                                          int op, int oq, float *best_out) {
    const int ih0 = op * g.stride - g.pad, iw0 = oq * g.stride - g.pad;
    float best = -INFINITY;
    int bi = -1;
    for (int a = 0; a < g.kh; a++) {
        int ih = ih0 + a;
        if (ih < 0 || ih >= g.h) continue;
        for (int b = 0; b < g.kw; b++) {
            int iw = iw0 + b;
            if (iw < 0 || iw >= g.w) continue;
            float v = __ldg(xp + ih * g.w + iw);
            if (bi < 0 || v > best || isnan(v)) {
                best = v;
                bi = ih * g.w + iw;
            }
        }
    }
    *best_out = best;
    return bi;
}

__global__ void maxpool_fwd_kernel(pool_geom g, const float *__restrict__ x, float *__restrict__ y) {
    const size_t pq = (size_t)g.p * g.q, total = (size_t)g.n * g.c * pq;
    GH_GRID_STRIDE(i, total) {
        size_t nc = i / pq;
        int r = (int)(i - nc * pq);
        int op = r / g.q, oq = r - op * g.q;
        float best;
        int bi = max_window(g, x + nc * g.h * g.w, op, oq, &best);
        y[i] = bi < 0 ? -INFINITY : best;
    }
}

// Output rows whose windows contain input row ih: o*stride - pad <= ih <= o*stride - pad + k-1.
__device__ __forceinline__ void window_range(int i, int k, int stride, int pad, int nout, int *lo,
                                             int *hi) {
    int t = i + pad - k + 1;  // smallest o*stride allowed
    *lo = t <= 0 ? 0 : (t + stride - 1) / stride;
    int h = (i + pad) / stride;  // i + pad >= 0
    *hi = h < nout - 1 ? h : nout - 1;
}

__global__ void maxpool_bwd_kernel(pool_geom g, const float *__restrict__ x,
                                   const float *__restrict__ dy, float *__restrict__ dx) {
    const size_t hw = (size_t)g.h * g.w, total = (size_t)g.n * g.c * hw;
    const size_t pq = (size_t)g.p * g.q;
    GH_GRID_STRIDE(i, total) {
        size_t nc = i / hw;
        int r = (int)(i - nc * hw);
        int ih = r / g.w, iw = r - ih * g.w;
        int olo, ohi, qlo, qhi;
        window_range(ih, g.kh, g.stride, g.pad, g.p, &olo, &ohi);
        window_range(iw, g.kw, g.stride, g.pad, g.q, &qlo, &qhi);
        const float *xp = x + nc * hw;
        const float *dyp = dy + nc * pq;
        float acc = dx[i];  // contributions added in output order, as a scatter would
        for (int op = olo; op <= ohi; op++)
            for (int oq = qlo; oq <= qhi; oq++) {
                float best;
                if (max_window(g, xp, op, oq, &best) == r) acc += __ldg(dyp + op * g.q + oq);
            }
        dx[i] = acc;
    }
}

__device__ __forceinline__ int inb_count(int o, int k, int stride, int pad, int n) {
    int lo = o * stride - pad, hi = lo + k;
    lo = lo < 0 ? 0 : lo;
    hi = hi > n ? n : hi;
    return hi > lo ? hi - lo : 0;
}

__global__ void avgpool_fwd_kernel(pool_geom g, const float *__restrict__ x, float *__restrict__ y) {
    const size_t pq = (size_t)g.p * g.q, total = (size_t)g.n * g.c * pq;
    GH_GRID_STRIDE(i, total) {
        size_t nc = i / pq;
        int r = (int)(i - nc * pq);
        int op = r / g.q, oq = r - op * g.q;
        const float *xp = x + nc * g.h * g.w;
        const int ih0 = op * g.stride - g.pad, iw0 = oq * g.stride - g.pad;
        double s = 0.0;  // as the reference: double sum, one rounding at the end
        for (int a = 0; a < g.kh; a++) {
            int ih = ih0 + a;
            if (ih < 0 || ih >= g.h) continue;
            for (int b = 0; b < g.kw; b++) {
                int iw = iw0 + b;
                if (iw < 0 || iw >= g.w) continue;
                s += __ldg(xp + ih * g.w + iw);
            }
        }
        int cnt = inb_count(op, g.kh, g.stride, g.pad, g.h) * inb_count(oq, g.kw, g.stride, g.pad, g.w);
        y[i] = cnt > 0 ? (float)(s / cnt) : 0.0f;  // count_include_pad=False
    }
}

__global__ void avgpool_bwd_kernel(pool_geom g, const float *__restrict__ dy, float *__restrict__ dx) {
    const size_t hw = (size_t)g.h * g.w, total = (size_t)g.n * g.c * hw;
    const size_t pq = (size_t)g.p * g.q;
    GH_GRID_STRIDE(i, total) {
        size_t nc = i / hw;
        int r = (int)(i - nc * hw);
        int ih = r / g.w, iw = r - ih * g.w;
        int olo, ohi, qlo, qhi;
        window_range(ih, g.kh, g.stride, g.pad, g.p, &olo, &ohi);
        window_range(iw, g.kw, g.stride, g.pad, g.q, &qlo, &qhi);
        const float *dyp = dy + nc * pq;
        float acc = dx[i];
        for (int op = olo; op <= ohi; op++) {
            int ch = inb_count(op, g.kh, g.stride, g.pad, g.h);
            for (int oq = qlo; oq <= qhi; oq++) {
                int cnt = ch * inb_count(oq, g.kw, g.stride, g.pad, g.w);
                if (cnt > 0) acc += __ldg(dyp + op * g.q + oq) / (float)cnt;
            }
        }
        dx[i] = acc;
    }
}

// Global average pool: one warp per row of hw floats; lanes stride the row (coalesced), then
// a fixed butterfly sum.
#define GAP_THREADS 256
__global__ void __launch_bounds__(GAP_THREADS)
gap_fwd_kernel(int rows, int hw, const float *__restrict__ x, float *__restrict__ y) {
    const int warps = GAP_THREADS / 32;
    const int lane = threadIdx.x & 31;
    for (size_t row = (size_t)blockIdx.x * warps + threadIdx.x / 32; row < (size_t)rows;
         row += (size_t)gridDim.x * warps) {
        const float *xr = x + row * hw;
        double s = 0.0;
        for (int j = lane; j < hw; j += 32) s += (double)__ldg(xr + j);
        s = gh_warp_sum(s);
        if (lane == 0) y[row] = (float)(s / hw);
    }
}

__global__ void gap_bwd_kernel(size_t total, int hw, const float *__restrict__ dy,
                               float *__restrict__ dx) {
    GH_GRID_STRIDE(i, total) dx[i] += dy[i / hw] / (float)hw;
}

}  // namespace

extern "C" {

int maxpool_fwd_cuda(const kctx *ctx, const pool_shape *sh, const float *x, float *y) {
    pool_geom g;
    GH_TRY(pool_check("maxpool_fwd_cuda", sh, &g));
    GH_CUDA_NEED("maxpool_fwd_cuda", x);
    GH_CUDA_NEED("maxpool_fwd_cuda", y);
    size_t total = (size_t)g.n * g.c * g.p * g.q;
    maxpool_fwd_kernel<<<gh_ew_blocks(total), GH_EW_THREADS, 0, gh_stream(ctx)>>>(g, x, y);
    LAUNCH_CHECK("maxpool_fwd_kernel");
    return GH_OK;
}

int maxpool_bwd_cuda(const kctx *ctx, const pool_shape *sh, const float *x, const float *dy,
                     float *dx) {
    pool_geom g;
    GH_TRY(pool_check("maxpool_bwd_cuda", sh, &g));
    if (!dx) return GH_OK;
    GH_CUDA_NEED("maxpool_bwd_cuda", x);
    GH_CUDA_NEED("maxpool_bwd_cuda", dy);
    size_t total = (size_t)g.n * g.c * g.h * g.w;
    maxpool_bwd_kernel<<<gh_ew_blocks(total), GH_EW_THREADS, 0, gh_stream(ctx)>>>(g, x, dy, dx);
    LAUNCH_CHECK("maxpool_bwd_kernel");
    return GH_OK;
}

int avgpool_fwd_cuda(const kctx *ctx, const pool_shape *sh, const float *x, float *y) {
    pool_geom g;
    GH_TRY(pool_check("avgpool_fwd_cuda", sh, &g));
    GH_CUDA_NEED("avgpool_fwd_cuda", x);
    GH_CUDA_NEED("avgpool_fwd_cuda", y);
    size_t total = (size_t)g.n * g.c * g.p * g.q;
    avgpool_fwd_kernel<<<gh_ew_blocks(total), GH_EW_THREADS, 0, gh_stream(ctx)>>>(g, x, y);
    LAUNCH_CHECK("avgpool_fwd_kernel");
    return GH_OK;
}

int avgpool_bwd_cuda(const kctx *ctx, const pool_shape *sh, const float *dy, float *dx) {
    pool_geom g;
    GH_TRY(pool_check("avgpool_bwd_cuda", sh, &g));
    if (!dx) return GH_OK;
    GH_CUDA_NEED("avgpool_bwd_cuda", dy);
    size_t total = (size_t)g.n * g.c * g.h * g.w;
    avgpool_bwd_kernel<<<gh_ew_blocks(total), GH_EW_THREADS, 0, gh_stream(ctx)>>>(g, dy, dx);
    LAUNCH_CHECK("avgpool_bwd_kernel");
    return GH_OK;
}

int gap_fwd_cuda(const kctx *ctx, int n, int c, int hw, const float *x, float *y) {
    if (n <= 0 || c <= 0 || hw <= 0)
        return gh_fail(GH_EINVAL, "gap_fwd_cuda: sizes must be positive: n=%d c=%d hw=%d", n, c, hw);
    GH_CUDA_NEED("gap_fwd_cuda", x);
    GH_CUDA_NEED("gap_fwd_cuda", y);
    int rows = n * c;
    size_t blocks = gh_ceil_div((size_t)rows, GAP_THREADS / 32);
    if (blocks > GH_EW_MAX_BLOCKS) blocks = GH_EW_MAX_BLOCKS;
    gap_fwd_kernel<<<(unsigned)blocks, GAP_THREADS, 0, gh_stream(ctx)>>>(rows, hw, x, y);
    LAUNCH_CHECK("gap_fwd_kernel");
    return GH_OK;
}

int gap_bwd_cuda(const kctx *ctx, int n, int c, int hw, const float *dy, float *dx) {
    if (n <= 0 || c <= 0 || hw <= 0)
        return gh_fail(GH_EINVAL, "gap_bwd_cuda: sizes must be positive: n=%d c=%d hw=%d", n, c, hw);
    if (!dx) return GH_OK;
    GH_CUDA_NEED("gap_bwd_cuda", dy);
    size_t total = (size_t)n * c * hw;
    gap_bwd_kernel<<<gh_ew_blocks(total), GH_EW_THREADS, 0, gh_stream(ctx)>>>(total, hw, dy, dx);
    LAUNCH_CHECK("gap_bwd_kernel");
    return GH_OK;
}

}  // extern "C"
