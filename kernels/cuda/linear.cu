// kernels/cuda: the fully connected layer on a hand-written tiled SGEMM (no cuBLAS): 64x64
// output tiles, 16-deep K slices staged in shared memory, a 4x4 register tile per thread.
// The three products of forward and backward differ only in which operand is K-contiguous,
// a template choice, so that global loads are coalesced along the contiguous axis.
#include "cuda_common.cuh"

namespace {

#define GEMM_BM 64
#define GEMM_BN 64
#define GEMM_BK 16
#define GEMM_THREADS 256
#define GEMM_PAD 4  // keeps rows 16-byte aligned for float4 reads; spreads the tile's stores

// C[i][j] (= or += when accumulate) sum_k A(i,k) B(k,j) + bias[j], for i < M, j < N.
// A(i,k) = A_KC ? A[i*lda + k] : A[k*lda + i];  B(k,j) = B_KC ? B[j*ldb + k] : B[k*ldb + j].
template <bool A_KC, bool B_KC>
__global__ void __launch_bounds__(GEMM_THREADS)
sgemm_kernel(int M, int N, int K, const float *__restrict__ A, int lda,
             const float *__restrict__ B, int ldb, float *__restrict__ C, int ldc,
             const float *__restrict__ bias, int accumulate) {
    __shared__ __align__(16) float As[GEMM_BK][GEMM_BM + GEMM_PAD];
    __shared__ __align__(16) float Bs[GEMM_BK][GEMM_BN + GEMM_PAD];
    const int t = threadIdx.x, ty = t / 16, tx = t % 16;
    const int i0 = blockIdx.y * GEMM_BM, j0 = blockIdx.x * GEMM_BN;
    float acc[4][4] = {};
    for (int k0 = 0; k0 < K; k0 += GEMM_BK) {
#pragma unroll
        for (int l = 0; l < 4; l++) {
            const int e = t + GEMM_THREADS * l;
            int ii, kk;
            if (A_KC) { kk = e % GEMM_BK; ii = e / GEMM_BK; }
            else      { ii = e % GEMM_BM; kk = e / GEMM_BM; }
            const int gi = i0 + ii;
            int gk = k0 + kk;
            float v = 0.0f;
            if (gi < M && gk < K)
                v = A_KC ? A[(size_t)gi * lda + gk] : A[(size_t)gk * lda + gi];
            As[kk][ii] = v;
            int jj;
            if (B_KC) { kk = e % GEMM_BK; jj = e / GEMM_BK; }
            else      { jj = e % GEMM_BN; kk = e / GEMM_BN; }
            const int gj = j0 + jj;
            gk = k0 + kk;
            float u = 0.0f;
            if (gj < N && gk < K)
                u = B_KC ? B[(size_t)gj * ldb + gk] : B[(size_t)gk * ldb + gj];
            Bs[kk][jj] = u;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < GEMM_BK; kk++) {
            const float4 a = *reinterpret_cast<const float4 *>(&As[kk][ty * 4]);
            const float4 b = *reinterpret_cast<const float4 *>(&Bs[kk][tx * 4]);
            const float av[4] = {a.x, a.y, a.z, a.w}, bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
            for (int r = 0; r < 4; r++)
#pragma unroll
                for (int c = 0; c < 4; c++) acc[r][c] = fmaf(av[r], bv[c], acc[r][c]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int r = 0; r < 4; r++) {
        const int gi = i0 + ty * 4 + r;
        if (gi >= M) continue;
#pragma unroll
        for (int c = 0; c < 4; c++) {
            const int gj = j0 + tx * 4 + c;
            if (gj >= N) continue;
            float v = acc[r][c] + (bias ? bias[gj] : 0.0f);
            float *dst = C + (size_t)gi * ldc + gj;
            *dst = accumulate ? *dst + v : v;
        }
    }
}

template <bool A_KC, bool B_KC>
int sgemm(const char *name, const kctx *ctx, int M, int N, int K, const float *A, int lda,
          const float *B, int ldb, float *C, int ldc, const float *bias, int accumulate) {
    dim3 grid((unsigned)gh_ceil_div(N, GEMM_BN), (unsigned)gh_ceil_div(M, GEMM_BM));
    if (grid.y > 65535u)
        return gh_fail(GH_EUNSUP, "%s: %d rows exceed the grid limit of this SGEMM", name, M);
    sgemm_kernel<A_KC, B_KC><<<grid, GEMM_THREADS, 0, gh_stream(ctx)>>>(M, N, K, A, lda, B, ldb, C,
                                                                          ldc, bias, accumulate);
    LAUNCH_CHECK(name);
    return GH_OK;
}

// db[j] += sum_i dy[i][j], rows in order: one thread per column (coalesced across columns).
__global__ void colsum_kernel(int n, int out, const float *__restrict__ dy, float *__restrict__ db) {
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= out) return;
    float s = 0.0f;
    for (int i = 0; i < n; i++) s += dy[(size_t)i * out + j];
    db[j] += s;
}

int linear_check(const char *op, int n, int in, int out) {
    if (n <= 0 || in <= 0 || out <= 0)
        return gh_fail(GH_EINVAL, "%s: sizes must be positive: n=%d in=%d out=%d", op, n, in, out);
    return GH_OK;
}

}  // namespace

extern "C" {

int linear_fwd_cuda(const kctx *ctx, int n, int in, int out, const float *x, const float *w,
                    const float *b, float *y) {
    GH_TRY(linear_check("linear_fwd_cuda", n, in, out));
    GH_CUDA_NEED("linear_fwd_cuda", x);
    GH_CUDA_NEED("linear_fwd_cuda", w);
    GH_CUDA_NEED("linear_fwd_cuda", y);
    // y[n][out] = x[n][in] . w[out][in]^T + b: both operands contiguous along in (K)
    return sgemm<true, true>("linear_fwd sgemm", ctx, n, out, in, x, in, w, in, y, out, b, 0);
}

int linear_bwd_cuda(const kctx *ctx, int n, int in, int out, const float *x, const float *w,
                    const float *dy, float *dx, float *dw, float *db) {
    GH_TRY(linear_check("linear_bwd_cuda", n, in, out));
    GH_CUDA_NEED("linear_bwd_cuda", dy);
    if (dx) {  // dx[n][in] += dy[n][out] . w[out][in]
        GH_CUDA_NEED("linear_bwd_cuda", w);
        GH_TRY(sgemm<true, false>("linear_bwd dx sgemm", ctx, n, in, out, dy, out, w, in, dx, in,
                                  NULL, 1));
    }
    if (dw) {  // dw[out][in] += dy^T[out][n] . x[n][in]
        GH_CUDA_NEED("linear_bwd_cuda", x);
        GH_TRY(sgemm<false, false>("linear_bwd dw sgemm", ctx, out, in, n, dy, out, x, in, dw, in,
                                   NULL, 1));
    }
    if (db) {
        colsum_kernel<<<(unsigned)gh_ceil_div(out, 128), 128, 0, gh_stream(ctx)>>>(n, out, dy, db);
        LAUNCH_CHECK("colsum_kernel");
    }
    return GH_OK;
}

}  // extern "C"
