// kernels/cuda: embedding lookup (a gather) and its backward (a scatter-add). The backward
// uses float atomics by default; with ctx->deterministic each thread owns one table element and
// adds its contributions in increasing i, which is _ref's order: bit-identical to it. A bad
// index is flagged on the device as xent flags its labels (cuda_common.cuh). Elements are
// decoded in 32 bits where the tensor holds fewer than 2^31, else 64.
#include <math.h>

#include "cuda_common.cuh"

namespace {

template <typename I>
__global__ void emb_fwd_kernel(int n, int vocab, int dim, const int *__restrict__ idx,
                               const float *__restrict__ table, float *__restrict__ y, int *flag,
                               kflags *flags, uint64_t step) {
    GH_GRID_STRIDE_T(I, e, (I)n * dim) {
        I ii, dd;
        gh_rowcol<I>(e, (I)dim, &ii, &dd);
        const int i = (int)ii, d = (int)dd, v = idx[i];
        if (v < 0 || v >= vocab) {
            if (d == 0) gh_idx_flag(flags, flag, i, v, vocab, step);
            y[e] = NAN;
            continue;
        }
        y[e] = table[(size_t)v * dim + d];
    }
}

template <typename I>
__global__ void emb_bwd_atomic_kernel(int n, int vocab, int dim, const int *__restrict__ idx,
                                      const float *__restrict__ dy, float *dtable, int *flag,
                                      kflags *flags, uint64_t step) {
    GH_GRID_STRIDE_T(I, e, (I)n * dim) {
        I ii, dd;
        gh_rowcol<I>(e, (I)dim, &ii, &dd);
        const int i = (int)ii, d = (int)dd, v = idx[i];
        if (v < 0 || v >= vocab) {
            if (d == 0) gh_idx_flag(flags, flag, i, v, vocab, step);
            continue;
        }
        atomicAdd(dtable + (size_t)v * dim + d, dy[e]);
    }
}

// One thread per table element (v, d): O(n) per thread, meant for controller-sized n.
template <typename I>
__global__ void emb_bwd_ordered_kernel(int n, int vocab, int dim, const int *__restrict__ idx,
                                       const float *__restrict__ dy, float *__restrict__ dtable,
                                       int *flag, kflags *flags, uint64_t step) {
    GH_GRID_STRIDE_T(I, e, (I)vocab * dim) {
        I vv, dd;
        gh_rowcol<I>(e, (I)dim, &vv, &dd);
        const int v = (int)vv, d = (int)dd;
        float acc = dtable[e];
        for (int i = 0; i < n; i++) {
            int u = idx[i];
            if (u == v) acc += dy[(size_t)i * dim + d];
            else if (e == 0 && (u < 0 || u >= vocab)) gh_idx_flag(flags, flag, i, u, vocab, step);
        }
        dtable[e] = acc;
    }
}

int emb_check(const char *op, int n, int vocab, int dim) {
    if (n <= 0 || vocab <= 0 || dim <= 0)
        return gh_fail(GH_EINVAL, "%s: n %d, vocab %d, dim %d must be positive", op, n, vocab,
                       dim);
    return GH_OK;
}

}  // namespace

extern "C" {

int embedding_fwd_cuda(const kctx *ctx, int n, int vocab, int dim, const int *idx,
                       const float *table, float *y) {
    GH_TRY(emb_check("embedding_fwd_cuda", n, vocab, dim));
    GH_CUDA_NEED("embedding_fwd_cuda", idx);
    GH_CUDA_NEED("embedding_fwd_cuda", table);
    GH_CUDA_NEED("embedding_fwd_cuda", y);
    kflags *flags = ctx ? ctx->flags : NULL;
    uint64_t step = ctx ? ctx->step : 0;
    int *flag = NULL;
    if (!flags) GH_TRY(gh_idx_flag_alloc("embedding_fwd_cuda", ctx, &flag));
    size_t total = (size_t)n * dim;
    if (gh_idx32(total))
        emb_fwd_kernel<uint32_t><<<gh_ew_blocks(total), GH_EW_THREADS, 0, gh_stream(ctx)>>>(
            n, vocab, dim, idx, table, y, flag, flags, step);
    else
        emb_fwd_kernel<size_t><<<gh_ew_blocks(total), GH_EW_THREADS, 0, gh_stream(ctx)>>>(
            n, vocab, dim, idx, table, y, flag, flags, step);
    cudaError_t e = cudaGetLastError();
    int st = e == cudaSuccess ? GH_OK
                              : gh_fail(GH_ECUDA, "%s:%d: launch of emb_fwd_kernel failed: %s",
                                        __FILE__, __LINE__, cudaGetErrorString(e));
    return flags ? st : gh_idx_flag_report("embedding_fwd_cuda", ctx, flag, idx, "idx", vocab, st);
}

int embedding_bwd_cuda(const kctx *ctx, int n, int vocab, int dim, const int *idx,
                       const float *dy, float *dtable) {
    GH_TRY(emb_check("embedding_bwd_cuda", n, vocab, dim));
    if (!dtable) return GH_OK;
    GH_CUDA_NEED("embedding_bwd_cuda", idx);
    GH_CUDA_NEED("embedding_bwd_cuda", dy);
    kflags *flags = ctx ? ctx->flags : NULL;
    uint64_t step = ctx ? ctx->step : 0;
    int *flag = NULL;
    if (!flags) GH_TRY(gh_idx_flag_alloc("embedding_bwd_cuda", ctx, &flag));
    if (gh_deterministic(ctx)) {
        size_t total = (size_t)vocab * dim;
        if (gh_idx32(total))
            emb_bwd_ordered_kernel<uint32_t><<<gh_ew_blocks(total), GH_EW_THREADS, 0,
                                               gh_stream(ctx)>>>(n, vocab, dim, idx, dy, dtable,
                                                                 flag, flags, step);
        else
            emb_bwd_ordered_kernel<size_t><<<gh_ew_blocks(total), GH_EW_THREADS, 0,
                                             gh_stream(ctx)>>>(n, vocab, dim, idx, dy, dtable,
                                                               flag, flags, step);
    } else {
        size_t total = (size_t)n * dim;
        if (gh_idx32(total))
            emb_bwd_atomic_kernel<uint32_t><<<gh_ew_blocks(total), GH_EW_THREADS, 0,
                                              gh_stream(ctx)>>>(n, vocab, dim, idx, dy, dtable,
                                                                flag, flags, step);
        else
            emb_bwd_atomic_kernel<size_t><<<gh_ew_blocks(total), GH_EW_THREADS, 0,
                                            gh_stream(ctx)>>>(n, vocab, dim, idx, dy, dtable,
                                                              flag, flags, step);
    }
    cudaError_t e = cudaGetLastError();
    int st = e == cudaSuccess ? GH_OK
                              : gh_fail(GH_ECUDA, "%s:%d: launch of embedding_bwd failed: %s",
                                        __FILE__, __LINE__, cudaGetErrorString(e));
    return flags ? st : gh_idx_flag_report("embedding_bwd_cuda", ctx, flag, idx, "idx", vocab, st);
}

}  // extern "C"
