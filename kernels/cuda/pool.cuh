// kernels/cuda private header: the per-thread code of pool.cu's kernels (which output or input
// element a thread decodes, the window it scans, the order it adds gradients in, global average
// pooling's row per warp and lane partial), __host__ __device__ so that the CPU replay
// (tests/cuda/test_pool_emu.cu) runs the kernels' own code, and the host's choice of index width.
#pragma once
#include <math.h>

#include "cuda_common.cuh"

struct pool_geom {
    int n, c, h, w, kh, kw, stride, pad, p, q;
};
// The functions below take it by value and compute their pointers and dx's load where the
// kernels did before the move: by reference, or in another order, ptxas unrolled and scheduled
// the loops differently (the same arithmetic, another SASS); as written the SASS is unchanged.


// Element i of planes of `plane` = rows x cols elements: its plane nc (in I), its row a and
// column b, and its index in the plane (returned; a plane holds fewer than 2^31 elements: int).
template <typename I>
__host__ __device__ __forceinline__ int pool_decode(I i, I plane, int cols, I *nc, int *a, int *b) {
    *nc = i / plane;
    const int r = (int)(i - *nc * plane);
    *a = r / cols;
    *b = r - *a * cols;
    return r;
}

// First maximum of window (op, oq) in row-major order over in-bounds elements (a NaN wins, as
// in PyTorch and the reference); -1 if the window holds none. Shared by forward and backward
// so that they agree on ties.
__host__ __device__ __forceinline__ int max_window(const pool_geom &g, const float *__restrict__ xp,
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
            float v = gh_ldg(xp + ih * g.w + iw);
            if (bi < 0 || v > best || isnan(v)) {
                best = v;
                bi = ih * g.w + iw;
            }
        }
    }
    *best_out = best;
    return bi;
}

// Output rows whose windows contain input row ih: o*stride - pad <= ih <= o*stride - pad + k-1.
__host__ __device__ __forceinline__ void window_range(int i, int k, int stride, int pad, int nout,
                                                      int *lo, int *hi) {
    int t = i + pad - k + 1;  // smallest o*stride allowed
    *lo = t <= 0 ? 0 : (t + stride - 1) / stride;
    int h = (i + pad) / stride;  // i + pad >= 0
    *hi = h < nout - 1 ? h : nout - 1;
}

// Max pooling backward for input element r = (ih, iw) of plane nc (planes of hw inputs and pq
// outputs) into *dx (added to it):
// IDX false recomputes each window's argmax from xp (up to kh*kw*kh*kw loads per input); IDX
// true compares with the argmax the forward saved in ip (kh*kw index loads per input). Both add
// the dy of every window whose argmax is this input, in output order (as the reference's
// scatter does).
template <typename I, bool IDX>
__host__ __device__ __forceinline__ void maxpool_bwd_at(const pool_geom g, const float *x,
                                                        const int *idx, const float *dy, I nc,
                                                        I hw, I pq, int r, int ih, int iw,
                                                        float *dx) {
    int olo, ohi, qlo, qhi;
    window_range(ih, g.kh, g.stride, g.pad, g.p, &olo, &ohi);
    window_range(iw, g.kw, g.stride, g.pad, g.q, &qlo, &qhi);
    const float *xp = IDX ? nullptr : x + nc * hw;
    const int *ip = IDX ? idx + nc * pq : nullptr;
    const float *dyp = dy + nc * pq;
    float acc = *dx;  // contributions added in output order, as a scatter would
    for (int op = olo; op <= ohi; op++)
        for (int oq = qlo; oq <= qhi; oq++) {
            int bi;
            if (IDX) {
                bi = gh_ldg(ip + op * g.q + oq);
            } else {
                float best;
                bi = max_window(g, xp, op, oq, &best);
            }
            if (bi == r) acc += gh_ldg(dyp + op * g.q + oq);
        }
    *dx = acc;
}

// In-bounds extent of the window of output o along a dimension of n (count_include_pad=False).
__host__ __device__ __forceinline__ int inb_count(int o, int k, int stride, int pad, int n) {
    int lo = o * stride - pad, hi = lo + k;
    lo = lo < 0 ? 0 : lo;
    hi = hi > n ? n : hi;
    return hi > lo ? hi - lo : 0;
}

// Average of window (op, oq) over its in-bounds elements: a double sum in row-major order and
// one rounding, as the reference.
__host__ __device__ __forceinline__ float avgpool_at(const pool_geom g, const float *xp,
                                                     int op, int oq) {
    const int ih0 = op * g.stride - g.pad, iw0 = oq * g.stride - g.pad;
    double s = 0.0;
    for (int a = 0; a < g.kh; a++) {
        int ih = ih0 + a;
        if (ih < 0 || ih >= g.h) continue;
        for (int b = 0; b < g.kw; b++) {
            int iw = iw0 + b;
            if (iw < 0 || iw >= g.w) continue;
            s += gh_ldg(xp + ih * g.w + iw);
        }
    }
    int cnt = inb_count(op, g.kh, g.stride, g.pad, g.h) * inb_count(oq, g.kw, g.stride, g.pad, g.w);
    return cnt > 0 ? (float)(s / cnt) : 0.0f;
}

// Average pooling backward for input (ih, iw) into *dx: dy / count of every window that
// contains it, added in output order.
__host__ __device__ __forceinline__ void avgpool_bwd_at(const pool_geom g, const float *dyp, int ih,
                                                        int iw, float *dx) {
    int olo, ohi, qlo, qhi;
    window_range(ih, g.kh, g.stride, g.pad, g.p, &olo, &ohi);
    window_range(iw, g.kw, g.stride, g.pad, g.q, &qlo, &qhi);
    float acc = *dx;
    for (int op = olo; op <= ohi; op++) {
        int ch = inb_count(op, g.kh, g.stride, g.pad, g.h);
        for (int oq = qlo; oq <= qhi; oq++) {
            int cnt = ch * inb_count(oq, g.kw, g.stride, g.pad, g.w);
            if (cnt > 0) acc += gh_ldg(dyp + op * g.q + oq) / (float)cnt;
        }
    }
    *dx = acc;
}

// 32-bit element indices when both the input and the output hold fewer than 2^31 elements.
static inline bool pool_idx32(const pool_geom &g) {
    return gh_idx32((size_t)g.n * g.c * g.h * g.w) && gh_idx32((size_t)g.n * g.c * g.p * g.q);
}

// Global average pool: one warp per row of hw floats, GAP_THREADS / 32 rows per block.
#define GAP_THREADS 256
static inline unsigned gap_blocks(int rows) {
    size_t blocks = gh_ceil_div((size_t)rows, GAP_THREADS / 32);
    return (unsigned)(blocks > GH_EW_MAX_BLOCKS ? GH_EW_MAX_BLOCKS : blocks);
}

// Lane `lane`'s partial of a row: elements lane, lane + 32, ... (coalesced), summed in double;
// the warp then adds the 32 partials in gh_warp_sum's butterfly order.
__host__ __device__ __forceinline__ double gap_lane_sum(const float *__restrict__ xr, int hw,
                                                        int lane) {
    double s = 0.0;
    for (int j = lane; j < hw; j += 32) s += (double)gh_ldg(xr + j);
    return s;
}
