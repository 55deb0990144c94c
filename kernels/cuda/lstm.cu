// kernels/cuda: the pointwise LSTM cell (gate order i, f, g, o; the gate matmuls are the linear
// op's): one thread per (row, unit), grid-stride (the (row, unit) decoded in 32 bits where
// batch * hidden < 2^31), the same float formulas as the _cpu path.
#include "cuda_common.cuh"

namespace {

__device__ __forceinline__ float sigm(float v) { return 1.0f / (1.0f + expf(-v)); }

template <typename I>
__global__ void lstm_fwd_kernel(int batch, int hidden, const float *__restrict__ gates,
                                const float *__restrict__ c_prev, float *__restrict__ c,
                                float *__restrict__ h, float *__restrict__ cache) {
    GH_GRID_STRIDE_T(I, k, (I)batch * hidden) {
        I ri, ji;
        gh_rowcol<I>(k, (I)hidden, &ri, &ji);
        const size_t r = ri, j = ji;
        const float *gr = gates + r * 4 * hidden + j;
        float i = sigm(gr[0]), f = sigm(gr[hidden]), g = tanhf(gr[2 * hidden]);
        float o = sigm(gr[3 * hidden]);
        float cv = f * c_prev[k] + i * g, tc = tanhf(cv);
        c[k] = cv;
        h[k] = o * tc;
        if (cache) {
            float *cr = cache + r * GH_LSTM_CACHE * hidden + j;
            cr[0] = i;
            cr[hidden] = f;
            cr[2 * hidden] = g;
            cr[3 * hidden] = o;
            cr[4 * hidden] = tc;
        }
    }
}

template <typename I>
__global__ void lstm_bwd_kernel(int batch, int hidden, const float *__restrict__ c_prev,
                                const float *__restrict__ cache, const float *__restrict__ dc,
                                const float *__restrict__ dh, float *__restrict__ dgates,
                                float *__restrict__ dc_prev) {
    GH_GRID_STRIDE_T(I, k, (I)batch * hidden) {
        I ri, ji;
        gh_rowcol<I>(k, (I)hidden, &ri, &ji);
        const size_t r = ri, j = ji;
        const float *cr = cache + r * GH_LSTM_CACHE * hidden + j;
        float i = cr[0], f = cr[hidden], g = cr[2 * hidden], o = cr[3 * hidden];
        float tc = cr[4 * hidden];
        float dhv = dh ? dh[k] : 0.0f;
        float dcv = (dc ? dc[k] : 0.0f) + dhv * o * (1.0f - tc * tc);
        if (dgates) {
            float *dg = dgates + r * 4 * hidden + j;
            dg[0] += dcv * g * i * (1.0f - i);
            dg[hidden] += dcv * c_prev[k] * f * (1.0f - f);
            dg[2 * hidden] += dcv * i * (1.0f - g * g);
            dg[3 * hidden] += dhv * tc * o * (1.0f - o);
        }
        if (dc_prev) dc_prev[k] += dcv * f;
    }
}

int lstm_check(const char *op, int batch, int hidden) {
    if (batch <= 0 || hidden <= 0)
        return gh_fail(GH_EINVAL, "%s: batch %d, hidden %d must be positive", op, batch, hidden);
    return GH_OK;
}

}  // namespace

extern "C" {

int lstm_cell_fwd_cuda(const kctx *ctx, int batch, int hidden, const float *gates,
                       const float *c_prev, float *c, float *h, float *cache) {
    GH_TRY(lstm_check("lstm_cell_fwd_cuda", batch, hidden));
    GH_CUDA_NEED("lstm_cell_fwd_cuda", gates);
    GH_CUDA_NEED("lstm_cell_fwd_cuda", c_prev);
    GH_CUDA_NEED("lstm_cell_fwd_cuda", c);
    GH_CUDA_NEED("lstm_cell_fwd_cuda", h);
    size_t total = (size_t)batch * hidden;
    if (gh_idx32(total))
        lstm_fwd_kernel<uint32_t><<<gh_ew_blocks(total), GH_EW_THREADS, 0, gh_stream(ctx)>>>(
            batch, hidden, gates, c_prev, c, h, cache);
    else
        lstm_fwd_kernel<size_t><<<gh_ew_blocks(total), GH_EW_THREADS, 0, gh_stream(ctx)>>>(
            batch, hidden, gates, c_prev, c, h, cache);
    LAUNCH_CHECK("lstm_fwd_kernel");
    return GH_OK;
}

int lstm_cell_bwd_cuda(const kctx *ctx, int batch, int hidden, const float *c_prev,
                       const float *cache, const float *dc, const float *dh, float *dgates,
                       float *dc_prev) {
    GH_TRY(lstm_check("lstm_cell_bwd_cuda", batch, hidden));
    if ((!dgates && !dc_prev) || (!dc && !dh)) return GH_OK;
    GH_CUDA_NEED("lstm_cell_bwd_cuda", c_prev);
    GH_CUDA_NEED("lstm_cell_bwd_cuda", cache);
    size_t total = (size_t)batch * hidden;
    if (gh_idx32(total))
        lstm_bwd_kernel<uint32_t><<<gh_ew_blocks(total), GH_EW_THREADS, 0, gh_stream(ctx)>>>(
            batch, hidden, c_prev, cache, dc, dh, dgates, dc_prev);
    else
        lstm_bwd_kernel<size_t><<<gh_ew_blocks(total), GH_EW_THREADS, 0, gh_stream(ctx)>>>(
            batch, hidden, c_prev, cache, dc, dh, dgates, dc_prev);
    LAUNCH_CHECK("lstm_bwd_kernel");
    return GH_OK;
}

}  // extern "C"
