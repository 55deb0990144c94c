// kernels/cuda: the index math of the FP32 implicit-GEMM convs (conv.cu's conv_igemm_kernel:
// forward and backward data) as host and device code, so that tests/cuda/test_conv_ig_emu.cu
// replays every block on the CPU with the kernel's own gathers and stores.
//
// Backward data by stride phase (conv_phase.cuh): one GEMM per phase (grid z), over that
// phase's pixels (N = n * hp * wp) and only its valid taps (K = kg * tr * ts).
#pragma once
#include <limits.h>

#include "conv_phase.cuh"
#include "cuda_common.cuh"

namespace {

struct conv_geom {
    int n, c, h, w, k, r, s;
    int sh, sw, ph, pw, dh, dw;
    int groups, p, q;
    int cg, kg;  // channels per group, in and out
};

// The shared geometry check (kernels/geometry.c: normalisation, PyTorch's output size, the
// caller's p, q), then what these kernels add: 32-bit GEMM indices and the grid's z limit.
static inline int conv_check(const char *op, const conv2d_shape *in, conv_geom *g) {
    conv2d_shape sh;
    GH_TRY(conv2d_shape_check(op, in, &sh));
    conv_geom t;
    t.n = sh.n; t.c = sh.c; t.h = sh.h; t.w = sh.w; t.k = sh.k; t.r = sh.r; t.s = sh.s;
    t.sh = sh.stride_h; t.sw = sh.stride_w; t.dh = sh.dil_h; t.dw = sh.dil_w;
    t.ph = sh.pad_h; t.pw = sh.pad_w;
    t.groups = sh.groups; t.p = sh.p; t.q = sh.q;
    if ((size_t)t.n * t.p * t.q > (size_t)INT_MAX || (size_t)t.n * t.h * t.w > (size_t)INT_MAX ||
        (size_t)t.c * t.r * t.s > (size_t)INT_MAX / 2 || (size_t)t.k * t.r * t.s > (size_t)INT_MAX / 2)
        return gh_fail(GH_EUNSUP, "%s: more than 2^31 pixels or filter taps in one GEMM dimension", op);
    if (t.groups > 65535)
        return gh_fail(GH_EUNSUP, "%s: %d groups exceed the grid limit (65535)", op, t.groups);
    t.cg = t.c / t.groups;
    t.kg = t.k / t.groups;
    *g = t;
    return GH_OK;
}

// Far outside any image: ih = BIG_NEG + tap offset stays negative, so a gather of an invalid
// pixel fails its bounds test instead of needing a separate flag.
#define BIG_NEG (-(1 << 28))

// Block: BM x 128 output tile, K in slices of 8, 256 threads (conv.cu says how they divide it).
#define IG_BN 128
#define IG_BK 8
#define IG_THREADS 256

// The A tile in shared memory is As[IG_BK][BM + IG_APAD]: thread e of a slice's stash writes
// row kk = e % IG_BK, column m = e / IG_BK (consecutive threads walk K, so the weight loads are
// contiguous); the 4-float pad puts a warp's 8 K rows x 4 columns in 32 distinct banks, where
// unpadded rows of 64 (or 32) floats all start in bank 0 (an 8-way conflict).
#define IG_APAD 4
__host__ __device__ inline int ig_a_slot(int e, int BM) {
    return (e % IG_BK) * (BM + IG_APAD) + e / IG_BK;
}

// The smallest M tile that covers a group's channels wastes the least work.
__host__ __device__ inline int ig_bm(int Mg) { return Mg >= 48 ? 64 : (Mg >= 24 ? 32 : 16); }

// The stride phase of a backward-data block (MODE 1); MODE 0 uses none of it.
struct ig_phase {
    phase_axis y, x;
};

__host__ __device__ inline ig_phase ig_phase_at(const conv_geom &g, int rho) {
    ig_phase f;
    f.y = phase_axis_at(rho / g.sw, g.h, g.sh, g.ph, g.dh, g.r);
    f.x = phase_axis_at(rho % g.sw, g.w, g.sw, g.pw, g.dw, g.s);
    return f;
}

// The GEMM's sizes for one group (and phase): rows (output channels, or input channels for the
// backward data), K (taps) and N (pixels).
template <int MODE> __host__ __device__ inline int ig_mlen(const conv_geom &g) {
    return MODE == 0 ? g.kg : g.cg;
}
template <int MODE> __host__ __device__ inline int ig_klen(const conv_geom &g, const ig_phase &f) {
    return MODE == 0 ? g.cg * g.r * g.s : g.kg * f.y.nk * f.x.nk;
}
template <int MODE> __host__ __device__ inline int ig_nlen(const conv_geom &g, const ig_phase &f) {
    return MODE == 0 ? g.n * g.p * g.q : g.n * f.y.np * f.x.np;
}

// A pixel (GEMM column), decoded once per thread: sbase is the offset of x[b, grp*cg, 0, 0]
// (MODE 0) or of dy[b, grp*kg, 0, 0] (MODE 1); obase that of the pixel in channel 0 of y or dx;
// (pa, pb) is (oh*sh - ph, ow*sw - pw) (MODE 0) or the phase's (oh0 + i, ow0 + j) (MODE 1);
// BIG_NEG for a column past N.
struct ig_pix {
    size_t sbase, obase;
    int pa, pb;
};

template <int MODE>
__host__ __device__ inline ig_pix ig_pixel(const conv_geom &g, const ig_phase &f, int grp,
                                           int pix) {
    ig_pix p = {0, 0, BIG_NEG, BIG_NEG};
    if (pix >= ig_nlen<MODE>(g, f)) return p;
    const int pq = g.p * g.q, hw = g.h * g.w;
    if (MODE == 0) {
        const int b = pix / pq, rem = pix - b * pq;
        const int oh = rem / g.q, ow = rem - oh * g.q;
        p.sbase = ((size_t)b * g.c + (size_t)grp * g.cg) * hw;
        p.obase = (size_t)b * g.k * pq + rem;
        p.pa = oh * g.sh - g.ph;
        p.pb = ow * g.sw - g.pw;
    } else {
        const int per = f.y.np * f.x.np;
        const int b = pix / per, rem = pix - b * per;
        const int i = rem / f.x.np, j = rem - i * f.x.np;
        const int ih = f.y.i0 + i * g.sh, iw = f.x.i0 + j * g.sw;
        p.sbase = ((size_t)b * g.k + (size_t)grp * g.kg) * pq;
        p.obase = (size_t)b * g.c * hw + (size_t)ih * g.w + iw;
        p.pa = f.y.o0 + i;
        p.pb = f.x.o0 + j;
    }
    return p;
}

// The offset in w of A[gm][gk] (row gm < Mg, tap gk < K of this group and phase).
template <int MODE>
__host__ __device__ inline size_t ig_a_off(const conv_geom &g, const ig_phase &f, int grp, int gm,
                                           int gk) {
    const int rs = g.r * g.s;
    if (MODE == 0) return ((size_t)grp * g.kg + gm) * ((size_t)g.cg * rs) + gk;
    const int per = f.y.nk * f.x.nk;
    const int mm = gk / per, t = gk - mm * per;
    const int jr = t / f.x.nk, js = t - jr * f.x.nk;
    const int kr = f.y.k0 + jr * f.y.kstep, ks = f.x.k0 + js * f.x.kstep;
    return (((size_t)grp * g.kg + mm) * g.cg + gm) * rs + kr * g.s + ks;
}

// A K row of B decoded once per slice: the channel (MODE 0: input channel; MODE 1: output
// channel) and the tap's offsets, (kr*dh, ks*dw) (MODE 0) or (jr*doh, js*dow) (MODE 1).
struct ig_tap {
    int ch, oh, ow;
};

template <int MODE>
__host__ __device__ inline ig_tap ig_tap_at(const conv_geom &g, const ig_phase &f, int gk) {
    ig_tap t;
    if (MODE == 0) {
        const int rs = g.r * g.s;
        t.ch = gk / rs;
        const int rsi = gk - t.ch * rs, kr = rsi / g.s, ks = rsi - kr * g.s;
        t.oh = kr * g.dh;
        t.ow = ks * g.dw;
    } else {
        const int per = f.y.nk * f.x.nk;
        t.ch = gk / per;
        const int rem = gk - t.ch * per, jr = rem / f.x.nk, js = rem - jr * f.x.nk;
        t.oh = jr * f.y.dstep;
        t.ow = js * f.x.dstep;
    }
    return t;
}

// The offset in src (x for MODE 0, dy for MODE 1) that B[tap][pixel] reads, or -1 for a zero
// (the padding, an output position past the edge, or a column past N).
template <int MODE>
__host__ __device__ inline long long ig_b_off(const conv_geom &g, const ig_tap &t, const ig_pix &p) {
    if (MODE == 0) {
        const int ih = p.pa + t.oh, iw = p.pb + t.ow;
        if ((unsigned)ih >= (unsigned)g.h || (unsigned)iw >= (unsigned)g.w) return -1;
        return (long long)(p.sbase + (size_t)t.ch * g.h * g.w + (size_t)ih * g.w + iw);
    }
    const int oh = p.pa - t.oh, ow = p.pb - t.ow;
    if ((unsigned)oh >= (unsigned)g.p || (unsigned)ow >= (unsigned)g.q) return -1;
    return (long long)(p.sbase + (size_t)t.ch * g.p * g.q + (size_t)oh * g.q + ow);
}

// The grid of one GEMM: x over pixels (the largest phase's for MODE 1), y over M tiles, z over
// groups (times the sh*sw phases for MODE 1: z = grp * phases + rho).
template <int MODE> static inline int ig_phases(const conv_geom &g) {
    return MODE == 0 ? 1 : g.sh * g.sw;
}
template <int MODE> static inline size_t ig_grid_n(const conv_geom &g) {
    if (MODE == 0) return (size_t)g.n * g.p * g.q;
    return (size_t)g.n * phase_max(g.h, g.sh) * phase_max(g.w, g.sw);
}

}  // namespace
