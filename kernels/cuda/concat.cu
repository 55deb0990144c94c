// kernels/cuda: data movement along channels and space: concat and slice (one strided "slab"
// copy/add kernel: n rows of len contiguous floats, float4 when everything is aligned) and the
// spatial shift/crop of FactorizedReduce. Element indices are decoded in 32 bits where the
// tensors allow (checked on the host), else 64 (concat.cuh).
#include "concat.cuh"

namespace {

// dst[b*dstride + j] (=, or += when ADD) src[b*sstride + j] for b < n, j < len. With VEC all
// four sizes are in float4 units. I: the index type of the decoding (slab_idx32).
template <bool ADD, bool VEC, typename I>
__global__ void slab_kernel(int n, I len, const float *__restrict__ src, size_t sstride,
                            float *__restrict__ dst, size_t dstride) {
    const I total = (I)n * len;
    GH_GRID_STRIDE_T(I, i, total) {
        size_t so, dof;
        slab_at<I>(i, len, sstride, dstride, &so, &dof);
        if (VEC) {
            float4 v = reinterpret_cast<const float4 *>(src)[so];
            float4 *d = reinterpret_cast<float4 *>(dst) + dof;
            if (ADD) {
                float4 o = *d;
                o.x += v.x; o.y += v.y; o.z += v.z; o.w += v.w;
                *d = o;
            } else {
                *d = v;
            }
        } else {
            if (ADD)
                dst[dof] += src[so];
            else
                dst[dof] = src[so];
        }
    }
}

template <bool ADD, bool VEC>
void slab_launch(cudaStream_t st, int n, size_t len, const float *src, size_t sstride, float *dst,
                 size_t dstride) {
    const unsigned blocks = gh_ew_blocks((size_t)n * len);
    if (slab_idx32(n, len))
        slab_kernel<ADD, VEC, uint32_t><<<blocks, GH_EW_THREADS, 0, st>>>(
            n, (uint32_t)len, src, sstride, dst, dstride);
    else
        slab_kernel<ADD, VEC, size_t><<<blocks, GH_EW_THREADS, 0, st>>>(n, len, src, sstride,
                                                                         dst, dstride);
}

int slab(const char *name, const kctx *ctx, bool add, int n, size_t len, const float *src,
         size_t sstride, float *dst, size_t dstride) {
    if (n <= 0 || len == 0) return GH_OK;
    bool vec = len % 4 == 0 && sstride % 4 == 0 && dstride % 4 == 0 && gh_aligned16(src) &&
               gh_aligned16(dst);
    cudaStream_t st = gh_stream(ctx);
    if (vec && add) slab_launch<true, true>(st, n, len / 4, src, sstride / 4, dst, dstride / 4);
    else if (vec) slab_launch<false, true>(st, n, len / 4, src, sstride / 4, dst, dstride / 4);
    else if (add) slab_launch<true, false>(st, n, len, src, sstride, dst, dstride);
    else slab_launch<false, false>(st, n, len, src, sstride, dst, dstride);
    LAUNCH_CHECK(name);
    return GH_OK;
}

int concat_check(const char *op, int n, int hw, int k, const int *cs, int *ctot) {
    if (n <= 0 || hw <= 0 || k <= 0 || !cs)
        return gh_fail(GH_EINVAL, "%s: need n, hw, k > 0 and a channel list: n=%d hw=%d k=%d", op,
                       n, hw, k);
    int t = 0;
    for (int i = 0; i < k; i++) {
        if (cs[i] <= 0) return gh_fail(GH_EINVAL, "%s: cs[%d] = %d must be positive", op, i, cs[i]);
        t += cs[i];
    }
    *ctot = t;
    return GH_OK;
}

template <typename I>
__global__ void shift_fwd_kernel(shift_geom g, const float *__restrict__ x, float *__restrict__ y) {
    const I total = (I)g.n * g.c * g.ho * g.wo;
    GH_GRID_STRIDE_T(I, i, total) {
        const long long s = shift_src<I>(g, i);
        y[i] = s >= 0 ? x[s] : 0.0f;
    }
}

// The map (a, b) -> (a+dh, b+dw) is injective, so scattering dy into dx has no conflicts.
template <typename I>
__global__ void shift_bwd_kernel(shift_geom g, const float *__restrict__ dy, float *__restrict__ dx) {
    const I total = (I)g.n * g.c * g.ho * g.wo;
    GH_GRID_STRIDE_T(I, i, total) {
        const long long s = shift_src<I>(g, i);
        if (s >= 0) dx[s] += dy[i];
    }
}

int shift_check(const char *op, int n, int c, int h, int w, int ho, int wo) {
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0 || ho <= 0 || wo <= 0)
        return gh_fail(GH_EINVAL, "%s: sizes must be positive: x [%d,%d,%d,%d] y %dx%d", op, n, c,
                       h, w, ho, wo);
    return GH_OK;
}

}  // namespace

extern "C" {

int concat_fwd_cuda(const kctx *ctx, int n, int hw, int k, const int *cs, const float *const *xs,
                    float *y) {
    int ctot = 0;
    GH_TRY(concat_check("concat_fwd_cuda", n, hw, k, cs, &ctot));
    GH_CUDA_NEED("concat_fwd_cuda", xs);
    GH_CUDA_NEED("concat_fwd_cuda", y);
    size_t off = 0;
    for (int i = 0; i < k; i++) {
        if (!xs[i]) return gh_fail(GH_EINVAL, "concat_fwd_cuda: xs[%d] is NULL", i);
        size_t len = (size_t)cs[i] * hw;
        GH_TRY(slab("concat_fwd", ctx, false, n, len, xs[i], len, y + off, (size_t)ctot * hw));
        off += len;
    }
    return GH_OK;
}

int concat_bwd_cuda(const kctx *ctx, int n, int hw, int k, const int *cs, const float *dy,
                    float *const *dxs) {
    int ctot = 0;
    GH_TRY(concat_check("concat_bwd_cuda", n, hw, k, cs, &ctot));
    GH_CUDA_NEED("concat_bwd_cuda", dy);
    GH_CUDA_NEED("concat_bwd_cuda", dxs);
    size_t off = 0;
    for (int i = 0; i < k; i++) {
        size_t len = (size_t)cs[i] * hw;
        if (dxs[i]) GH_TRY(slab("concat_bwd", ctx, true, n, len, dy + off, (size_t)ctot * hw, dxs[i], len));
        off += len;
    }
    return GH_OK;
}

static int slice_check(const char *op, int n, int c, int hw, int c0, int cn) {
    if (n <= 0 || c <= 0 || hw <= 0 || cn <= 0 || c0 < 0 || c0 + cn > c)
        return gh_fail(GH_EINVAL, "%s: need 0 <= c0 and c0 + cn <= c: n=%d c=%d hw=%d c0=%d cn=%d",
                       op, n, c, hw, c0, cn);
    return GH_OK;
}

int slice_fwd_cuda(const kctx *ctx, int n, int c, int hw, int c0, int cn, const float *x, float *y) {
    GH_TRY(slice_check("slice_fwd_cuda", n, c, hw, c0, cn));
    GH_CUDA_NEED("slice_fwd_cuda", x);
    GH_CUDA_NEED("slice_fwd_cuda", y);
    size_t len = (size_t)cn * hw;
    return slab("slice_fwd", ctx, false, n, len, x + (size_t)c0 * hw, (size_t)c * hw, y, len);
}

int slice_bwd_cuda(const kctx *ctx, int n, int c, int hw, int c0, int cn, const float *dy, float *dx) {
    GH_TRY(slice_check("slice_bwd_cuda", n, c, hw, c0, cn));
    if (!dx) return GH_OK;
    GH_CUDA_NEED("slice_bwd_cuda", dy);
    size_t len = (size_t)cn * hw;
    return slab("slice_bwd", ctx, true, n, len, dy, len, dx + (size_t)c0 * hw, (size_t)c * hw);
}

int shift_fwd_cuda(const kctx *ctx, int n, int c, int h, int w, int dh, int dw, int ho, int wo,
                   const float *x, float *y) {
    GH_TRY(shift_check("shift_fwd_cuda", n, c, h, w, ho, wo));
    GH_CUDA_NEED("shift_fwd_cuda", x);
    GH_CUDA_NEED("shift_fwd_cuda", y);
    const shift_geom g = {n, c, h, w, dh, dw, ho, wo};
    const unsigned blocks = gh_ew_blocks((size_t)n * c * ho * wo);
    if (shift_idx32(g))
        shift_fwd_kernel<uint32_t><<<blocks, GH_EW_THREADS, 0, gh_stream(ctx)>>>(g, x, y);
    else
        shift_fwd_kernel<size_t><<<blocks, GH_EW_THREADS, 0, gh_stream(ctx)>>>(g, x, y);
    LAUNCH_CHECK("shift_fwd_kernel");
    return GH_OK;
}

int shift_bwd_cuda(const kctx *ctx, int n, int c, int h, int w, int dh, int dw, int ho, int wo,
                   const float *dy, float *dx) {
    GH_TRY(shift_check("shift_bwd_cuda", n, c, h, w, ho, wo));
    if (!dx) return GH_OK;
    GH_CUDA_NEED("shift_bwd_cuda", dy);
    const shift_geom g = {n, c, h, w, dh, dw, ho, wo};
    const unsigned blocks = gh_ew_blocks((size_t)n * c * ho * wo);
    if (shift_idx32(g))
        shift_bwd_kernel<uint32_t><<<blocks, GH_EW_THREADS, 0, gh_stream(ctx)>>>(g, dy, dx);
    else
        shift_bwd_kernel<size_t><<<blocks, GH_EW_THREADS, 0, gh_stream(ctx)>>>(g, dy, dx);
    LAUNCH_CHECK("shift_bwd_kernel");
    return GH_OK;
}

}  // extern "C"
