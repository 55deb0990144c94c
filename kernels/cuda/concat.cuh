// kernels/cuda private header: the index math of concat.cu's kernels (the strided slab copy of
// concat and slice, the shift/crop of FactorizedReduce), __host__ __device__ so that the CPU
// replay (tests/cuda/test_concat_emu.cu) runs the kernels' own decoding, and the host's choice
// of index width. I is uint32_t where the *_idx32 check holds (32-bit divisions), else size_t.
#pragma once
#include "cuda_common.cuh"

// Element i of a slab of n rows of len: the source and destination offsets b * stride + j. The
// offsets are 64-bit (a row stride may reach past 2^32 even when n * len does not); only the
// division is in I.
template <typename I>
__host__ __device__ __forceinline__ void slab_at(I i, I len, size_t sstride, size_t dstride,
                                                 size_t *s, size_t *d) {
    I b, j;
    gh_rowcol<I>(i, len, &b, &j);
    *s = (size_t)b * sstride + j;
    *d = (size_t)b * dstride + j;
}

// 32-bit decoding of a slab of n rows of len (elements, or float4 units).
static inline bool slab_idx32(int n, size_t len) { return gh_idx32((size_t)n * len); }

// Shift/crop: y [n, c, ho, wo] reads x [n, c, h, w] at (a + dh, b + dw).
struct shift_geom {
    int n, c, h, w, dh, dw, ho, wo;
};

// Output element i: its source in x, or -1 when (a + dh, b + dw) falls outside x (y is 0
// there, nothing is scattered back). In I: both tensors fit in it (shift_idx32).
template <typename I>
__host__ __device__ __forceinline__ long long shift_src(const shift_geom &g, I i) {
    I nc, r;
    gh_rowcol<I>(i, (I)g.ho * g.wo, &nc, &r);
    const int a = (int)r / g.wo, b = (int)r - a * g.wo;  // r < ho * wo, an int
    const int sa = a + g.dh, sb = b + g.dw;
    if (sa < 0 || sa >= g.h || sb < 0 || sb >= g.w) return -1;
    return (long long)((nc * g.h + sa) * g.w + sb);
}

// 32-bit decoding of a shift: the output and the input fit (the source index is computed in I).
static inline bool shift_idx32(const shift_geom &g) {
    const size_t nc = (size_t)g.n * g.c;
    return gh_idx32(nc * g.ho * g.wo) && gh_idx32(nc * g.h * g.w);
}
