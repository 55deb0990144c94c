// kernels/cuda private header: the CUDA_CHECK macro, launch checks, the stream of a kctx,
// grid sizing, block reductions in a fixed order, and stream-ordered scratch memory that the
// hand-written kernels (and the cuDNN baseline) share.
#pragma once
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "../kernels.h"

// One check macro for the CUDA runtime API: records statement, file and line (STYLE.md).
#define CUDA_CHECK(call)                                                                    \
    do {                                                                                    \
        cudaError_t e_ = (call);                                                            \
        if (e_ != cudaSuccess)                                                              \
            return gh_fail(GH_ECUDA, "%s:%d: %s failed: %s (%s)", __FILE__, __LINE__, #call, \
                           cudaGetErrorName(e_), cudaGetErrorString(e_));                   \
    } while (0)

// After every launch: catches bad launch configurations at once (asynchronous faults show up
// at the next synchronising call).
#define LAUNCH_CHECK(kernel_name)                                                            \
    do {                                                                                     \
        cudaError_t e_ = cudaGetLastError();                                                 \
        if (e_ != cudaSuccess)                                                               \
            return gh_fail(GH_ECUDA, "%s:%d: launch of %s failed: %s (%s)", __FILE__, __LINE__, \
                           kernel_name, cudaGetErrorName(e_), cudaGetErrorString(e_));       \
    } while (0)

// Propagates a gh_status from a helper (variadic: template arguments contain commas).
#define GH_TRY(...)                   \
    do {                              \
        int st_ = (__VA_ARGS__);      \
        if (st_ != GH_OK) return st_; \
    } while (0)

#define GH_CUDA_NEED(op, p)                                                          \
    do {                                                                             \
        if (!(p)) return gh_fail(GH_EINVAL, "%s: argument %s is NULL", op, #p);      \
    } while (0)

static inline cudaStream_t gh_stream(const kctx *ctx) {
    return ctx ? (cudaStream_t)ctx->stream : (cudaStream_t)0;
}
static inline int gh_deterministic(const kctx *ctx) { return ctx ? ctx->deterministic : 0; }

// Threads per block for the flat (elementwise) kernels.
#define GH_EW_THREADS 256
// Cap on blocks of a grid-stride launch: 132 SMs x 8 resident 256-thread blocks, rounded up;
// more only adds scheduling work.
#define GH_EW_MAX_BLOCKS 4096

static inline unsigned gh_ew_blocks(size_t work) {
    size_t b = (work + GH_EW_THREADS - 1) / GH_EW_THREADS;
    if (b < 1) b = 1;
    if (b > GH_EW_MAX_BLOCKS) b = GH_EW_MAX_BLOCKS;
    return (unsigned)b;
}

static inline size_t gh_ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

// 16-byte alignment of a device pointer: float4 loads and stores need it.
static inline int gh_aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

#define GH_GRID_STRIDE(i, n)                                                               \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (size_t)(n);          \
         i += (size_t)gridDim.x * blockDim.x)

// For code that a CPU replay also compiles (the tests/cuda/*_emu tests): #pragma unroll on the
// device only (the host pass does not know it), and a read-only load, __ldg on the device and a
// plain load on the host.
#ifdef __CUDA_ARCH__
#define GH_UNROLL _Pragma("unroll")
#else
#define GH_UNROLL
#endif
template <typename T> __host__ __device__ __forceinline__ T gh_ldg(const T *p) {
#ifdef __CUDA_ARCH__
    return __ldg(p);
#else
    return *p;
#endif
}

// Grid-stride loop with an index of type I: uint32_t where the caller checked gh_idx32(n), so
// that the per-element divisions and modulos that decode i are 32-bit (a 64-bit division is a
// subroutine of dozens of instructions), size_t otherwise.
#define GH_GRID_STRIDE_T(I, i, n)                                                          \
    for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < (I)(n);                       \
         i += (I)gridDim.x * blockDim.x)

// 1 when a grid-stride loop over n elements can run on 32-bit indices: i < 2^31 and i plus the
// largest grid (GH_EW_MAX_BLOCKS x 1024 threads = 2^22) stays below 2^32.
static inline int gh_idx32(size_t n) { return n <= (size_t)INT32_MAX; }

// Row and column of element i of a row-major matrix with `cols` columns, in I's width: the
// grid-stride kernels decode i with it, on uint32_t where the host checked gh_idx32 (a 32-bit
// division), else size_t. __host__ too: the CPU replays (tests/cuda/test_*_emu.cu) call it.
template <typename I>
__host__ __device__ __forceinline__ void gh_rowcol(I i, I cols, I *row, I *col) {
    *row = i / cols;
    *col = i - *row * cols;
}

// Row and column of the elements start, start + step, start + 2 step, ... of a row-major matrix
// with `cols` columns, advanced by carries instead of a division per element (one division for
// the start and one for the step): for the loops whose stride is fixed and long (one block per
// channel walking every (image, pixel)). Rows stay below the matrix's rows plus step / cols + 1.
struct gh_rc_walk {
    int row, col, drow, dcol, cols;
};
__host__ __device__ __forceinline__ gh_rc_walk gh_rc_walk_at(int start, int step, int cols) {
    return gh_rc_walk{start / cols, start % cols, step / cols, step % cols, cols};
}
__host__ __device__ __forceinline__ void gh_rc_next(gh_rc_walk *w) {
    w->row += w->drow;
    w->col += w->dcol;
    if (w->col >= w->cols) {
        w->col -= w->cols;
        w->row++;
    }
}

// Sum of one value per thread over a block of NT threads, in a fixed tree order (so the same
// inputs give the same bits on every run). Returns the total in thread 0; `sh` holds NT
// elements. Every thread of the block must call it.
template <typename T, int NT>
__device__ __forceinline__ T gh_block_sum(T v, T *sh) {
    static_assert((NT & (NT - 1)) == 0 && NT >= 64, "block size must be a power of two >= 64");
    const int t = threadIdx.x;
    sh[t] = v;
    __syncthreads();
#pragma unroll
    for (int s = NT / 2; s > 0; s >>= 1) {
        if (t < s) sh[t] += sh[t + s];
        __syncthreads();
    }
    T r = sh[0];
    __syncthreads();  // sh may be reused by the caller right away
    return r;
}

// Warp sum in a fixed butterfly order; every lane gets the total.
template <typename T>
__device__ __forceinline__ T gh_warp_sum(T v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float gh_warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Stream-ordered scratch for ops whose caller gave no (big enough) workspace (batch norm
// statistics, reduction partials, the device flag of xent without ctx->flags). Freed on the
// same stream, so it lives exactly as long as the kernels that use it; counted in ctx->allocs.
static inline int gh_scratch_alloc(const char *op, const kctx *ctx, size_t bytes, void **p) {
    *p = NULL;
    if (bytes == 0) return GH_OK;
    if (ctx && ctx->allocs) (*ctx->allocs)++;
    cudaError_t e = cudaMallocAsync(p, bytes, gh_stream(ctx));
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        size_t free_b = 0, total_b = 0;
        cudaMemGetInfo(&free_b, &total_b);
        *p = NULL;
        return gh_fail(e == cudaErrorMemoryAllocation ? GH_ENOMEM : GH_ECUDA,
                       "%s: scratch allocation of %zu bytes failed (%s); %zu bytes free of %zu",
                       op, bytes, cudaGetErrorString(e), free_b, total_b);
    }
    return GH_OK;
}
static inline void gh_scratch_free(const kctx *ctx, void *p) {
    if (p) cudaFreeAsync(p, gh_stream(ctx));
}

// Scratch from the caller's workspace when it holds `bytes` (a caller sizes ctx->ws with the
// op's *_ws query, so that steady-state steps allocate nothing), else gh_scratch_alloc.
// Release with gh_ws_release, which frees only what was allocated.
static inline int gh_ws_take(const char *op, const kctx *ctx, size_t bytes, void **p) {
    if (ctx && ctx->ws && ctx->ws_floats * sizeof(float) >= bytes) {
        *p = ctx->ws;
        return GH_OK;
    }
    return gh_scratch_alloc(op, ctx, bytes, p);
}
static inline void gh_ws_release(const kctx *ctx, void *p) {
    if (!ctx || p != (void *)ctx->ws) gh_scratch_free(ctx, p);
}
// Floats of workspace that hold `bytes`.
static inline size_t gh_ws_floats_for(size_t bytes) { return (bytes + sizeof(float) - 1) / sizeof(float); }

// Deferred errors (kernels.h, kflags): the first event wins through atomic maxima of the
// complemented keys.
__device__ __forceinline__ void gh_flag_event(kflags *f, unsigned bit, uint64_t step) {
    atomicOr(&f->nonfinite, bit);
    atomicMax((unsigned long long *)&f->step_key, (unsigned long long)~step);
}
__device__ __forceinline__ void gh_flag_label(kflags *f, int row, int label, int k, uint64_t step) {
    unsigned long long key = ((unsigned long long)~(uint32_t)row << 32) | (uint32_t)label;
    unsigned long long old = atomicMax((unsigned long long *)&f->label_key, key);
    if (old < key) f->label_k = k;
    atomicMax((unsigned long long *)&f->step_key, (unsigned long long)~step);
}

// An index checked on the device without ctx->flags (xent's labels, embedding and log-prob
// indices): a scratch int cleared to GH_IDX_FLAG_CLEAR that kernels atomicMin with the first
// bad row, then read back after the kernel (a synchronisation) and reported naming
// what[row] and its value.
#define GH_IDX_FLAG_CLEAR 0x7f7f7f7f  // what cudaMemsetAsync(flag, 0x7f) leaves: above any row

static inline int gh_idx_flag_alloc(const char *op, const kctx *ctx, int **flag) {
    int st = gh_scratch_alloc(op, ctx, sizeof(int), (void **)flag);
    if (st != GH_OK) return st;
    cudaError_t e = cudaMemsetAsync(*flag, 0x7f, sizeof(int), gh_stream(ctx));
    if (e != cudaSuccess) {
        gh_scratch_free(ctx, *flag);
        return gh_fail(GH_ECUDA, "%s:%d: %s: clearing the index flag failed: %s", __FILE__,
                       __LINE__, op, cudaGetErrorString(e));
    }
    return GH_OK;
}

// Reads the flag (synchronising the stream), frees it and names the first bad row; st is the
// launch status, returned as it is when it already failed.
static inline int gh_idx_flag_report(const char *op, const kctx *ctx, int *flag, const int *idx,
                                     const char *what, int k, int st) {
    cudaStream_t s = gh_stream(ctx);
    int bad = GH_IDX_FLAG_CLEAR;
    cudaError_t e = st == GH_OK ? cudaMemcpyAsync(&bad, flag, sizeof bad, cudaMemcpyDeviceToHost, s)
                                : cudaSuccess;
    gh_scratch_free(ctx, flag);
    if (st != GH_OK) return st;
    if (e == cudaSuccess) e = cudaStreamSynchronize(s);
    if (e != cudaSuccess)
        return gh_fail(GH_ECUDA, "%s:%d: %s: reading the index flag failed: %s", __FILE__,
                       __LINE__, op, cudaGetErrorString(e));
    if (bad == GH_IDX_FLAG_CLEAR) return GH_OK;
    int v = 0;
    CUDA_CHECK(cudaMemcpy(&v, idx + bad, sizeof v, cudaMemcpyDeviceToHost));
    return gh_fail(GH_EINVAL, "%s: %s[%d] = %d is outside [0, %d)", op, what, bad, v, k);
}

// In a kernel: records a bad index of `row` into ctx->flags when given, else the scratch flag.
__device__ __forceinline__ void gh_idx_flag(kflags *flags, int *flag, int row, int v, int k,
                                            uint64_t step) {
    if (flags) gh_flag_label(flags, row, v, k, step);
    else atomicMin(flag, row);
}
