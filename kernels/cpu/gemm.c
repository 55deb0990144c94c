// A small single-threaded fp32 GEMM for the conv fast path: C (=|+=) A B with A read by
// strides (so A or A^T without a copy), B and C row-major. No packing: the matrices of one
// (sample, group) of a DARTS-sized conv are a few tens of KiB and stay in L1/L2, where packing
// costs more than it saves. A 4 x 32 register tile of accumulators, GCC vector types lowered
// per ISA clone. It exists because OpenBLAS's runtime CPU detection falls back to its SSE3
// "Prescott" kernels on CPUs newer than its release (e.g. 0.3.21 on Emerald Rapids).
#include "cpu.h"

#pragma GCC optimize("fp-contract=fast")   // FMA: results are compared with tolerances

typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4), may_alias));
#define ld(p) (*(const v16u *)(p))
#define st(p, v) (*(v16u *)(p) = (v))

// Four rows m0..m0+3 of C, columns n0..n0+31.
#define TILE_4x32(ACC)                                                               \
    do {                                                                             \
        v16 c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0};                              \
        v16 c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0};                              \
        for (int k = 0; k < kd; k++) {                                               \
            const float *bk = b + (ptrdiff_t)k * ldb + n0;                           \
            v16 b0 = ld(bk), b1 = ld(bk + 16);                                       \
            ptrdiff_t ak = (ptrdiff_t)k * acs;                                       \
            float s0 = a0[ak], s1 = a1[ak], s2 = a2[ak], s3 = a3[ak];                \
            c00 += s0 * b0; c01 += s0 * b1;                                          \
            c10 += s1 * b0; c11 += s1 * b1;                                          \
            c20 += s2 * b0; c21 += s2 * b1;                                          \
            c30 += s3 * b0; c31 += s3 * b1;                                          \
        }                                                                            \
        float *r0 = c + (ptrdiff_t)m0 * ldc + n0, *r1 = r0 + ldc, *r2 = r1 + ldc,    \
              *r3 = r2 + ldc;                                                        \
        if (ACC) {                                                                   \
            c00 += ld(r0); c01 += ld(r0 + 16); c10 += ld(r1); c11 += ld(r1 + 16);    \
            c20 += ld(r2); c21 += ld(r2 + 16); c30 += ld(r3); c31 += ld(r3 + 16);    \
        }                                                                            \
        st(r0, c00); st(r0 + 16, c01); st(r1, c10); st(r1 + 16, c11);                \
        st(r2, c20); st(r2 + 16, c21); st(r3, c30); st(r3 + 16, c31);                \
    } while (0)

// Four rows, columns n0..n0+15.
#define TILE_4x16(ACC)                                                               \
    do {                                                                             \
        v16 c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0};                                  \
        for (int k = 0; k < kd; k++) {                                               \
            v16 bv = ld(b + (ptrdiff_t)k * ldb + n0);                                \
            ptrdiff_t ak = (ptrdiff_t)k * acs;                                       \
            c0 += a0[ak] * bv; c1 += a1[ak] * bv; c2 += a2[ak] * bv; c3 += a3[ak] * bv; \
        }                                                                            \
        float *r0 = c + (ptrdiff_t)m0 * ldc + n0, *r1 = r0 + ldc, *r2 = r1 + ldc,    \
              *r3 = r2 + ldc;                                                        \
        if (ACC) { c0 += ld(r0); c1 += ld(r1); c2 += ld(r2); c3 += ld(r3); }         \
        st(r0, c0); st(r1, c1); st(r2, c2); st(r3, c3);                              \
    } while (0)

GH_CPU_CLONES
void gh_cpu_gemm(int m, int n, int kd, const float *a, ptrdiff_t ars, ptrdiff_t acs,
                 const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate) {
    int m4 = m & ~3, n32 = n & ~31, n16 = n & ~15;
    // column panels outermost: the kd x 32 panel of B stays in L1 across the row blocks
    for (int n0 = 0; n0 < n32; n0 += 32)
        for (int m0 = 0; m0 < m4; m0 += 4) {
            const float *a0 = a + (ptrdiff_t)m0 * ars, *a1 = a0 + ars, *a2 = a1 + ars, *a3 = a2 + ars;
            if (accumulate) TILE_4x32(1);
            else TILE_4x32(0);
        }
    for (int n0 = n32; n0 < n16; n0 += 16)
        for (int m0 = 0; m0 < m4; m0 += 4) {
            const float *a0 = a + (ptrdiff_t)m0 * ars, *a1 = a0 + ars, *a2 = a1 + ars, *a3 = a2 + ars;
            if (accumulate) TILE_4x16(1);
            else TILE_4x16(0);
        }
    // leftover rows (m % 4) over the vector columns, one row at a time
    for (int mm = m4; mm < m; mm++) {
        const float *ar = a + (ptrdiff_t)mm * ars;
        float *cr = c + (ptrdiff_t)mm * ldc;
        for (int n0 = 0; n0 < n16; n0 += 16) {
            v16 acc = {0};
            for (int k = 0; k < kd; k++) acc += ar[(ptrdiff_t)k * acs] * ld(b + (ptrdiff_t)k * ldb + n0);
            if (accumulate) acc += ld(cr + n0);
            st(cr + n0, acc);
        }
    }
    // leftover columns (n % 16), every row
    if (n16 < n)
        for (int mm = 0; mm < m; mm++) {
            const float *ar = a + (ptrdiff_t)mm * ars;
            float *cr = c + (ptrdiff_t)mm * ldc;
            for (int j = n16; j < n; j++) {
                float acc = 0.0f;
                for (int k = 0; k < kd; k++) acc += ar[(ptrdiff_t)k * acs] * b[(ptrdiff_t)k * ldb + j];
                cr[j] = accumulate ? cr[j] + acc : acc;
            }
        }
}

// ---- C += A B^T with rows of A and B contiguous: the filter gradient dW += dY X^T ------------

// (by pointer: a vector argument trips -Wpsabi in the baseline clone)
static inline float hsum16(const v16 *v) {
    float s = 0.0f;
    for (int l = 0; l < 16; l++) s += (*v)[l];
    return s;
}

// One 4 x 4 block of C: rows i0.. of A against rows j0.. of B, over `batch` matrix pairs.
#define NT_ROWS(base, ld, bs, r0) \
    const float *base##0 = base + (ptrdiff_t)(r0) * ld + s * bs, *base##1 = base##0 + ld, \
                *base##2 = base##1 + ld, *base##3 = base##2 + ld

GH_CPU_CLONES
void gh_cpu_gemm_nt(int m, int n, int kd, int batch, const float *a, ptrdiff_t lda,
                    ptrdiff_t abs_, const float *b, ptrdiff_t ldb, ptrdiff_t bbs, float *c,
                    ptrdiff_t ldc) {
    int kd16 = kd & ~15;
    for (int i0 = 0; i0 < m; i0 += 4)
        for (int j0 = 0; j0 < n; j0 += 4) {
            if (i0 + 4 <= m && j0 + 4 <= n) {
                v16 acc[4][4] = {{{0}}};
                float tail[4][4] = {{0}};
                for (int s = 0; s < batch; s++) {
                    NT_ROWS(a, lda, abs_, i0);
                    NT_ROWS(b, ldb, bbs, j0);
                    for (int l = 0; l < kd16; l += 16) {
                        v16 x0 = ld(a0 + l), x1 = ld(a1 + l), x2 = ld(a2 + l), x3 = ld(a3 + l);
                        v16 y0 = ld(b0 + l), y1 = ld(b1 + l), y2 = ld(b2 + l), y3 = ld(b3 + l);
                        acc[0][0] += x0 * y0; acc[0][1] += x0 * y1; acc[0][2] += x0 * y2; acc[0][3] += x0 * y3;
                        acc[1][0] += x1 * y0; acc[1][1] += x1 * y1; acc[1][2] += x1 * y2; acc[1][3] += x1 * y3;
                        acc[2][0] += x2 * y0; acc[2][1] += x2 * y1; acc[2][2] += x2 * y2; acc[2][3] += x2 * y3;
                        acc[3][0] += x3 * y0; acc[3][1] += x3 * y1; acc[3][2] += x3 * y2; acc[3][3] += x3 * y3;
                    }
                    const float *ar[4] = {a0, a1, a2, a3}, *br[4] = {b0, b1, b2, b3};
                    for (int l = kd16; l < kd; l++)
                        for (int ii = 0; ii < 4; ii++)
                            for (int jj = 0; jj < 4; jj++) tail[ii][jj] += ar[ii][l] * br[jj][l];
                }
                for (int ii = 0; ii < 4; ii++)
                    for (int jj = 0; jj < 4; jj++)
                        c[(ptrdiff_t)(i0 + ii) * ldc + j0 + jj] += hsum16(&acc[ii][jj]) + tail[ii][jj];
            } else {   // edge block: one dot product at a time
                for (int i = i0; i < m && i < i0 + 4; i++)
                    for (int j = j0; j < n && j < j0 + 4; j++) {
                        v16 acc = {0};
                        float tail = 0.0f;
                        for (int s = 0; s < batch; s++) {
                            const float *ar = a + (ptrdiff_t)i * lda + s * abs_;
                            const float *br = b + (ptrdiff_t)j * ldb + s * bbs;
                            for (int l = 0; l < kd16; l += 16) acc += ld(ar + l) * ld(br + l);
                            for (int l = kd16; l < kd; l++) tail += ar[l] * br[l];
                        }
                        c[(ptrdiff_t)i * ldc + j] += hsum16(&acc) + tail;
                    }
            }
        }
}
