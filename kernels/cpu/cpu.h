// kernels/cpu private header: argument checks shared by the _ref and _cpu ops, the
// thread policy of the fast path (OpenMP outside, single-threaded OpenBLAS inside) and the
// attribute that compiles hot loops for AVX-512, AVX2 and baseline x86-64 in one binary.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../kernels.h"

// Hot loops are cloned per ISA and picked at load time (GCC ifunc), so that a portable
// -O3 build still uses AVX-512/AVX2+FMA where the machine has them.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define GH_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define GH_CPU_CLONES
#endif

// Serial below this many elements: an OpenMP fork/join costs a few microseconds.
#define GH_CPU_PAR_MIN 32768

// The _cpu path parallelises with OpenMP and calls sgemm from inside parallel regions, so
// OpenBLAS must not start its own threads there (two pools spinning on the same cores, and
// nested calls into the pthreads build's thread server). Called (outside parallel regions)
// before the sgemm calls of every op; sets OpenBLAS to one thread if it is not already.
void gh_cpu_blas_init(void);

// Threads the _cpu path uses (omp_get_max_threads, at least 1).
int gh_cpu_nthreads(void);

// C [m, n] (accumulate ? += : =) A B on one thread, A(i, k) = a[i*ars + k*acs] (strides select
// A or A^T), B row-major with row pitch ldb, C row-major with pitch ldc (gemm.c).
void gh_cpu_gemm(int m, int n, int kd, const float *a, ptrdiff_t ars, ptrdiff_t acs,
                 const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate);

// C [m, n] += sum over s < batch of A_s B_s^T on one thread, where row i of A_s is
// a + s*abs_ + i*lda and row j of B_s is b + s*bbs + j*ldb, both kd long and contiguous
// (gemm.c). Summing the batch inside each block keeps the accumulators in registers.
void gh_cpu_gemm_nt(int m, int n, int kd, int batch, const float *a, ptrdiff_t lda,
                    ptrdiff_t abs_, const float *b, ptrdiff_t ldb, ptrdiff_t bbs, float *c,
                    ptrdiff_t ldc);

// Stride-1 pooling on small planes as flat sweeps over a bordered copy (pool_flat.c); the
// shape is validated, pool_flat_ok() says whether these apply.
int pool_flat_ok(const pool_shape *sh);
void maxpool_flat_fwd(const pool_shape *sh, const float *x, float *y);
void maxpool_flat_bwd(const pool_shape *sh, const float *x, const float *dy, float *dx);
void maxpool_flat_fwd_idx(const pool_shape *sh, const float *x, float *y, int *idx);
void avgpool_flat_fwd(const pool_shape *sh, const float *x, float *y);
void avgpool_flat_bwd(const pool_shape *sh, const float *dy, float *dx);

// Deterministic double sum of x[i]*y[i] (y NULL: x[i]^2) over fixed 4096-element chunks whose
// partial sums are added in chunk order: the result does not depend on the thread count.
double gh_cpu_dot_fixed(size_t n, const float *x, const float *y);
// Its pieces, for ops that fuse the dot product into another pass: the block partition
// (number of blocks, at most GH_CPU_DOT_BLOCKS, each *len long but the last) and one block.
#define GH_CPU_DOT_BLOCKS 64
size_t gh_cpu_dot_blocks(size_t n, size_t *len);
double gh_cpu_dot_chunk(size_t n, const float *x, const float *y);

// Records a deferred error in ctx->flags (host memory on ref/cpu; the caller checked that
// ctx->flags is set): the bit, and the step when it is the earliest so far.
static inline void gh_cpu_flag(const kctx *ctx, unsigned bit) {
    kflags *f = ctx->flags;
    f->nonfinite |= bit;
    uint64_t key = ~ctx->step;
    if (key > f->step_key) f->step_key = key;
}

// Returns GH_EINVAL naming op and argument when p is NULL.
#define GH_NEED(op, p)                                                        \
    do {                                                                      \
        if (!(p)) return gh_fail(GH_EINVAL, "%s: argument %s is NULL", op, #p); \
    } while (0)
