// kernels/cuda: conv2d forward, backward-data and backward-filter as implicit GEMMs on tensor
// cores (WMMA; TF32 m16n16k8 or BF16 m16n16k16, FP32 accumulation), and the _prec_cuda entry
// points, which pick them or the FP32 kernels (conv.cu) by precision (issue 15).
#include <cuda_bf16.h>
#include <limits.h>
#include <mma.h>

#include <type_traits>

#include "cuda_common.cuh"

namespace {

// The three GEMMs, per group grp (cg = c/groups, kg = k/groups, rs = r*s, pq = p*q, hw = h*w):
// TC_FWD:   y[b, grp*kg+m, oh, ow] = sum_{ci,kr,ks} w[grp*kg+m, ci, kr, ks]
//             * x[b, grp*cg+ci, oh*sh-ph+kr*dh, ow*sw-pw+ks*dw] (+ bias)
//           M = kg, N = n*pq (output pixels), K = cg*rs.
// TC_BDATA: dx[b, grp*cg+ci, ih, iw] += sum_{m,kr,ks} w[grp*kg+m, ci, kr, ks] * dy[b, grp*kg+m,
//             oh, ow] over the taps with ih+ph-kr*dh = oh*sh, iw+pw-ks*dw = ow*sw
//           M = cg, N = n*hw (input pixels), K = kg*rs.
// TC_BFILT: dw[grp*kg+m, ci, kr, ks] += sum_{b,oh,ow} dy[b, grp*kg+m, oh, ow]
//             * x[b, grp*cg+ci, oh*sh-ph+kr*dh, ow*sw-pw+ks*dw]
//           M = kg, N = cg*rs (filter taps), K = n*pq, cut into `splits` chunks (split-K).
enum { TC_FWD = 0, TC_BDATA = 1, TC_BFILT = 2 };

// Block: a 64 (M) x 64 (N) tile, 128 threads = 4 warps in 2 x 2, each warp 32 x 32 of 2 x 2
// accumulator fragments; K in slices of one MMA step (8 for TF32, 16 for BF16), two slices in
// shared memory (double buffered). Rows are padded by 16 bytes: WMMA needs leading dimensions
// that are multiples of 16 bytes and 32-byte aligned fragment pointers (16 rows of 48 or 272/
// 144 bytes keep both), and the pad moves consecutive rows to other banks.
#define TC_BM 64
#define TC_BN 64
#define TC_THREADS 128

template <int PREC> struct tc_prec;
template <> struct tc_prec<GH_PREC_TF32> {
    typedef float T;  // staged as FP32 (cp.async copies bytes), rounded to TF32 in the fragments
    static constexpr int BK = 8;
};
template <> struct tc_prec<GH_PREC_BF16> {
    typedef __nv_bfloat16 T;  // rounded when staged: half the shared memory, no fragment pass
    static constexpr int BK = 16;
};

struct tc_geom {
    int n, c, h, w, k, r, s;
    int sh, sw, ph, pw, dh, dw;
    int groups, p, q, cg, kg;
    int splits, chunk;  // TC_BFILT: K = n*pq in `splits` chunks of `chunk` (a multiple of 16)
};

struct tc_args {
    const float *x, *w, *dy, *bias;
    float *out;  // y, dx, or dw (splits == 1) / the split partials (splits > 1)
};

// Per-thread gather state. A thread stages a fixed K column of A (a_k) in rows a_m + l*A_STEP,
// and a fixed N column of B (b_n) in rows b_k + l*B_STEP, so the decoding of that column
// (an output or input pixel, or a filter tap) happens once; the epilogue writes column b_n.
template <int MODE> struct tc_op;

template <> struct tc_op<TC_FWD> {
    int Kg, rs, pq, hw, grp;
    bool col_ok;
    int ih0, iw0;
    size_t xbase, ybase;
    __device__ void init(const tc_geom &g, int grp_, int m0, int col, int split) {
        (void)m0; (void)split;
        grp = grp_;
        rs = g.r * g.s; Kg = g.cg * rs; pq = g.p * g.q; hw = g.h * g.w;
        col_ok = col < g.n * pq;
        ih0 = iw0 = 0; xbase = ybase = 0;
        if (col_ok) {
            const int b = col / pq, rem = col - b * pq;
            const int oh = rem / g.q, ow = rem - oh * g.q;
            ih0 = oh * g.sh - g.ph;
            iw0 = ow * g.sw - g.pw;
            xbase = ((size_t)b * g.c + (size_t)grp * g.cg) * hw;
            ybase = ((size_t)b * g.k + (size_t)grp * g.kg) * pq + rem;
        }
    }
    __device__ int klen(const tc_geom &) const { return Kg; }
    __device__ int mlen(const tc_geom &g) const { return g.kg; }
    __device__ const float *a_src(const tc_geom &g, const tc_args &a, int m, int k) const {
        return m < g.kg && k < Kg ? a.w + ((size_t)grp * g.kg + m) * Kg + k : nullptr;
    }
    __device__ const float *b_src(const tc_geom &g, const tc_args &a, int k) const {
        if (!col_ok || k >= Kg) return nullptr;
        const int ch = k / rs, rsi = k - ch * rs;
        const int kr = rsi / g.s, ks = rsi - kr * g.s;
        const int ih = ih0 + kr * g.dh, iw = iw0 + ks * g.dw;
        if ((unsigned)ih >= (unsigned)g.h || (unsigned)iw >= (unsigned)g.w) return nullptr;
        return a.x + xbase + (size_t)ch * hw + ih * g.w + iw;
    }
    __device__ void store(const tc_geom &g, const tc_args &a, int m, float v) const {
        const float bv = a.bias ? __ldg(a.bias + grp * g.kg + m) : 0.0f;
        a.out[ybase + (size_t)m * pq] = v + bv;
    }
};

template <> struct tc_op<TC_BDATA> {
    int Kg, rs, pq, hw, grp;
    bool col_ok;
    int th, tw;  // ih + ph, iw + pw: oh*sh = th - kr*dh
    size_t dybase, xbase;
    __device__ void init(const tc_geom &g, int grp_, int m0, int col, int split) {
        (void)m0; (void)split;
        grp = grp_;
        rs = g.r * g.s; Kg = g.kg * rs; pq = g.p * g.q; hw = g.h * g.w;
        col_ok = col < g.n * hw;
        th = tw = 0; dybase = xbase = 0;
        if (col_ok) {
            const int b = col / hw, rem = col - b * hw;
            const int ih = rem / g.w, iw = rem - ih * g.w;
            th = ih + g.ph;
            tw = iw + g.pw;
            dybase = ((size_t)b * g.k + (size_t)grp * g.kg) * pq;
            xbase = ((size_t)b * g.c + (size_t)grp * g.cg) * hw + rem;
        }
    }
    __device__ int klen(const tc_geom &) const { return Kg; }
    __device__ int mlen(const tc_geom &g) const { return g.cg; }
    __device__ const float *a_src(const tc_geom &g, const tc_args &a, int ci, int k) const {
        if (ci >= g.cg || k >= Kg) return nullptr;
        const int mo = k / rs, rsi = k - mo * rs;
        return a.w + (((size_t)grp * g.kg + mo) * g.cg + ci) * rs + rsi;
    }
    __device__ const float *b_src(const tc_geom &g, const tc_args &a, int k) const {
        if (!col_ok || k >= Kg) return nullptr;
        const int mo = k / rs, rsi = k - mo * rs;
        const int kr = rsi / g.s, ks = rsi - kr * g.s;
        const int nh = th - kr * g.dh, nw = tw - ks * g.dw;
        if (nh < 0 || nw < 0) return nullptr;
        const int oh = nh / g.sh, ow = nw / g.sw;
        if (oh * g.sh != nh || ow * g.sw != nw || oh >= g.p || ow >= g.q) return nullptr;
        return a.dy + dybase + (size_t)mo * pq + oh * g.q + ow;
    }
    __device__ void store(const tc_geom &, const tc_args &a, int ci, float v) const {
        a.out[xbase + (size_t)ci * hw] += v;
    }
};

template <> struct tc_op<TC_BFILT> {
    int Kg, pq, hw, grp, split, kbeg, kend, col;
    bool col_ok;
    int offh, offw;  // kr*dh - ph, ks*dw - pw of this thread's filter tap
    size_t cbase;    // offset of channel grp*cg + ci in image 0 of x
    __device__ void init(const tc_geom &g, int grp_, int m0, int col_, int split_) {
        (void)m0;
        grp = grp_; split = split_; col = col_;
        const int rs = g.r * g.s;
        Kg = g.cg * rs; pq = g.p * g.q; hw = g.h * g.w;
        const int npq = g.n * pq;
        kbeg = split * g.chunk;
        kend = min(npq, kbeg + g.chunk);
        col_ok = col < Kg;
        offh = offw = 0; cbase = 0;
        if (col_ok) {
            const int ci = col / rs, rsi = col - ci * rs;
            const int kr = rsi / g.s, ks = rsi - kr * g.s;
            offh = kr * g.dh - g.ph;
            offw = ks * g.dw - g.pw;
            cbase = ((size_t)grp * g.cg + ci) * hw;
        }
    }
    __device__ int klen(const tc_geom &) const { return kend - kbeg; }
    __device__ int mlen(const tc_geom &g) const { return g.kg; }
    __device__ const float *a_src(const tc_geom &g, const tc_args &a, int m, int k) const {
        const int kk = kbeg + k;
        if (m >= g.kg || kk >= kend) return nullptr;
        const int b = kk / pq, op = kk - b * pq;
        return a.dy + ((size_t)b * g.k + (size_t)grp * g.kg + m) * pq + op;
    }
    __device__ const float *b_src(const tc_geom &g, const tc_args &a, int k) const {
        const int kk = kbeg + k;
        if (!col_ok || kk >= kend) return nullptr;
        const int b = kk / pq, op = kk - b * pq;
        const int oh = op / g.q, ow = op - oh * g.q;
        const int ih = oh * g.sh + offh, iw = ow * g.sw + offw;
        if ((unsigned)ih >= (unsigned)g.h || (unsigned)iw >= (unsigned)g.w) return nullptr;
        return a.x + (size_t)b * g.c * hw + cbase + ih * g.w + iw;
    }
    __device__ void store(const tc_geom &g, const tc_args &a, int m, float v) const {
        const size_t o = ((size_t)grp * g.kg + m) * Kg + col;
        if (g.splits == 1)
            a.out[o] += v;  // out is dw
        else
            a.out[(size_t)split * g.k * Kg + o] = v;  // out is the partials
    }
};

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
// 4 bytes global -> shared without a register round trip; src NULL: zeros (src-size 0 reads
// nothing, `dummy` only gives the instruction a valid global address).
__device__ __forceinline__ void cp_async4(float *dst, const float *src, const float *dummy) {
    const unsigned s = (unsigned)__cvta_generic_to_shared(dst);
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(s),
                 "l"(src ? src : dummy), "r"(src ? 4 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}
#endif

template <int MODE, int PREC>
__global__ void __launch_bounds__(TC_THREADS) conv_tc_kernel(tc_geom g, tc_args a) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    using namespace nvcuda;
    typedef typename tc_prec<PREC>::T T;
    constexpr int BK = tc_prec<PREC>::BK;
    constexpr int PAD = 16 / sizeof(T);
    constexpr int LDA = BK + PAD, LDB = TC_BN + PAD, LDC = TC_BN + 4;
    // A: thread t stages KV = BK/8 consecutive k (one TF32, two BF16: one 32-bit store) of
    // rows a_m + 16 l; B: one column, rows b_k + 2 l.
    constexpr int KV = BK / 8, A_STEP = 16, NA = TC_BM / A_STEP;
    constexpr int B_STEP = TC_THREADS / TC_BN, NB = BK * TC_BN / TC_THREADS;
    constexpr int A_SZ = TC_BM * LDA, B_SZ = BK * LDB;
    static_assert(TC_THREADS / 8 == A_STEP && NB * B_STEP == BK, "tile loads cover the tiles");
    static_assert((16 * LDA * sizeof(T)) % 32 == 0 && (A_SZ * sizeof(T)) % 32 == 0 &&
                  (B_SZ * sizeof(T)) % 32 == 0, "WMMA fragment pointers stay 32-byte aligned");
    // the two stages of A and B, and the epilogue's C tile over them once the MMAs are done
    constexpr int STAGE_BYTES = 2 * (A_SZ + B_SZ) * (int)sizeof(T);
    constexpr int C_BYTES = TC_BM * LDC * (int)sizeof(float);
    __shared__ __align__(128) unsigned char smem[STAGE_BYTES > C_BYTES ? STAGE_BYTES : C_BYTES];
    T *As = reinterpret_cast<T *>(smem);
    T *Bs = As + 2 * A_SZ;
    float *Cs = reinterpret_cast<float *>(smem);

    const int t = threadIdx.x, warp = t / 32;
    const int wm = warp / 2, wn = warp % 2;
    const int split = MODE == TC_BFILT ? (int)blockIdx.z % g.splits : 0;
    const int grp = MODE == TC_BFILT ? (int)blockIdx.z / g.splits : (int)blockIdx.z;
    const int m0 = blockIdx.y * TC_BM, n0 = blockIdx.x * TC_BN;
    const int a_k = (t % 8) * KV, a_m = t / 8;
    const int b_n = t % TC_BN, b_k = t / TC_BN;
    tc_op<MODE> op;
    op.init(g, grp, m0, n0 + b_n, split);
    const int K = op.klen(g), nk = (K + BK - 1) / BK;
    const float *dummy = MODE == TC_FWD ? a.w : MODE == TC_BDATA ? a.w : a.dy;

    wmma::fragment<wmma::accumulator, 16, 16, BK, float> acc[2][2];
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.0f);

    auto mma_stage = [&](int st) {
        typedef typename std::conditional<PREC == GH_PREC_TF32, wmma::precision::tf32, T>::type FT;
        wmma::fragment<wmma::matrix_a, 16, 16, BK, FT, wmma::row_major> fa[2];
        wmma::fragment<wmma::matrix_b, 16, 16, BK, FT, wmma::row_major> fb[2];
        const T *as = As + st * A_SZ, *bs = Bs + st * B_SZ;
#pragma unroll
        for (int i = 0; i < 2; i++) {
            wmma::load_matrix_sync(fa[i], as + (wm * 32 + i * 16) * LDA, LDA);
            if constexpr (PREC == GH_PREC_TF32)
#pragma unroll
                for (int e = 0; e < fa[i].num_elements; e++)
                    fa[i].x[e] = wmma::__float_to_tf32(fa[i].x[e]);
        }
#pragma unroll
        for (int j = 0; j < 2; j++) {
            wmma::load_matrix_sync(fb[j], bs + wn * 32 + j * 16, LDB);
            if constexpr (PREC == GH_PREC_TF32)
#pragma unroll
                for (int e = 0; e < fb[j].num_elements; e++)
                    fb[j].x[e] = wmma::__float_to_tf32(fb[j].x[e]);
        }
#pragma unroll
        for (int i = 0; i < 2; i++)
#pragma unroll
            for (int j = 0; j < 2; j++) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    };

    if constexpr (PREC == GH_PREC_TF32) {
        // cp.async, two stages: slice kt+1 is in flight while slice kt is multiplied
        auto issue = [&](int st, int k0) {
            T *as = As + st * A_SZ, *bs = Bs + st * B_SZ;
#pragma unroll
            for (int l = 0; l < NA; l++)
                cp_async4(as + (a_m + A_STEP * l) * LDA + a_k,
                          op.a_src(g, a, m0 + a_m + A_STEP * l, k0 + a_k), dummy);
#pragma unroll
            for (int l = 0; l < NB; l++)
                cp_async4(bs + (b_k + B_STEP * l) * LDB + b_n, op.b_src(g, a, k0 + b_k + B_STEP * l),
                          dummy);
            cp_async_commit();
        };
        if (nk > 0) issue(0, 0);
        for (int kt = 0; kt < nk; kt++) {
            if (kt + 1 < nk) {
                issue((kt + 1) & 1, (kt + 1) * BK);
                cp_async_wait<1>();  // slice kt has landed (this thread's copies)
            } else {
                cp_async_wait<0>();
            }
            __syncthreads();  // ... and every thread's
            mma_stage(kt & 1);
            __syncthreads();  // stage kt&1 is read by every warp before it is refilled
        }
    } else {
        // BF16: the FP32 values are rounded on their way to shared memory, which cp.async
        // cannot do; the next slice is loaded into registers (rounded, two to a register)
        // while this one is multiplied
        __nv_bfloat162 ra[NA], rb[NB / 2];
        auto fetch = [&](int k0) {
#pragma unroll
            for (int l = 0; l < NA; l++) {
                const float *p0 = op.a_src(g, a, m0 + a_m + A_STEP * l, k0 + a_k);
                const float *p1 = op.a_src(g, a, m0 + a_m + A_STEP * l, k0 + a_k + 1);
                ra[l] = __floats2bfloat162_rn(p0 ? __ldg(p0) : 0.0f, p1 ? __ldg(p1) : 0.0f);
            }
#pragma unroll
            for (int l = 0; l < NB; l += 2) {
                const float *p0 = op.b_src(g, a, k0 + b_k + B_STEP * l);
                const float *p1 = op.b_src(g, a, k0 + b_k + B_STEP * (l + 1));
                rb[l / 2] = __floats2bfloat162_rn(p0 ? __ldg(p0) : 0.0f, p1 ? __ldg(p1) : 0.0f);
            }
        };
        auto put = [&](int st) {
            T *as = As + st * A_SZ, *bs = Bs + st * B_SZ;
#pragma unroll
            for (int l = 0; l < NA; l++)  // a_k even, LDA even: 4-byte aligned
                *reinterpret_cast<__nv_bfloat162 *>(as + (a_m + A_STEP * l) * LDA + a_k) = ra[l];
#pragma unroll
            for (int l = 0; l < NB; l += 2) {
                bs[(b_k + B_STEP * l) * LDB + b_n] = rb[l / 2].x;
                bs[(b_k + B_STEP * (l + 1)) * LDB + b_n] = rb[l / 2].y;
            }
        };
        if (nk > 0) {
            fetch(0);
            put(0);
        }
        __syncthreads();
        for (int kt = 0; kt < nk; kt++) {
            if (kt + 1 < nk) fetch((kt + 1) * BK);
            mma_stage(kt & 1);
            if (kt + 1 < nk) put((kt + 1) & 1);  // stage (kt+1)&1 was last read before the
            __syncthreads();                     // previous barrier
        }
    }

    // Epilogue through shared memory (over the stages: the last barrier above ends their use):
    // thread t writes column b_n of rows b_k + 2i, so 64 consecutive columns per row.
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 2; j++)
            wmma::store_matrix_sync(Cs + (wm * 32 + i * 16) * LDC + wn * 32 + j * 16, acc[i][j],
                                    LDC, wmma::mem_row_major);
    __syncthreads();
    if (!op.col_ok) return;
    const int mmax = op.mlen(g) - m0;
    for (int m = b_k; m < TC_BM && m < mmax; m += B_STEP) op.store(g, a, m0 + m, Cs[m * LDC + b_n]);
#else
    __trap();  // built for an architecture without TF32/BF16 MMA: fail the launch, never skip it
#endif
}

// dw[i] += sum_{s < S} part[s*size + i], in split order (deterministic).
__global__ void tc_split_reduce_kernel(size_t size, int S, const float *__restrict__ part,
                                       float *__restrict__ dw) {
    GH_GRID_STRIDE(i, size) {
        float acc = 0.0f;
        for (int s = 0; s < S; s++) acc += part[(size_t)s * size + i];
        dw[i] += acc;
    }
}

int tc_device_check(const char *op) {
    int dev = 0, major = 0;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
    if (major < 8)
        return gh_fail(GH_EUNSUP, "%s: TF32/BF16 tensor cores need compute capability 8.0 or "
                       "newer, device %d has %d.x", op, dev, major);
    return GH_OK;
}

int tc_geom_make(const char *op, const conv2d_shape *in, tc_geom *g) {
    conv2d_shape sh;
    GH_TRY(conv2d_shape_check(op, in, &sh));
    *g = {sh.n, sh.c, sh.h, sh.w, sh.k, sh.r, sh.s, sh.stride_h, sh.stride_w, sh.pad_h, sh.pad_w,
          sh.dil_h, sh.dil_w, sh.groups, sh.p, sh.q, sh.c / sh.groups, sh.k / sh.groups, 1, 0};
    // every index the kernels form in 32 bits: pixels, taps, elements of one tensor
    const size_t nx = (size_t)g->n * g->c * g->h * g->w, ny = (size_t)g->n * g->k * g->p * g->q;
    const size_t nw = (size_t)g->k * g->cg * g->r * g->s;
    if (nx > (size_t)INT_MAX || ny > (size_t)INT_MAX || nw > (size_t)INT_MAX)
        return gh_fail(GH_EUNSUP, "%s: a tensor of more than 2^31 elements", op);
    if (g->groups > 65535)
        return gh_fail(GH_EUNSUP, "%s: %d groups exceed the grid limit", op, g->groups);
    return GH_OK;
}

template <int MODE, int PREC>
int tc_launch(const kctx *ctx, const tc_geom &g, const tc_args &a, const char *name) {
    const size_t M = MODE == TC_BDATA ? g.cg : g.kg;
    const size_t N = MODE == TC_FWD     ? (size_t)g.n * g.p * g.q
                     : MODE == TC_BDATA ? (size_t)g.n * g.h * g.w
                                        : (size_t)g.cg * g.r * g.s;
    dim3 grid((unsigned)gh_ceil_div(N, TC_BN), (unsigned)gh_ceil_div(M, TC_BM),
              (unsigned)(g.groups * (MODE == TC_BFILT ? g.splits : 1)));
    if (grid.y > 65535u || grid.z > 65535u)
        return gh_fail(GH_EUNSUP, "%s: %zu rows per group (grid y %u) or grid z %u exceed the "
                       "grid limits", name, M, grid.y, grid.z);
    conv_tc_kernel<MODE, PREC><<<grid, TC_THREADS, 0, gh_stream(ctx)>>>(g, a);
    LAUNCH_CHECK(name);
    return GH_OK;
}

// The weight gradient's split-K: enough blocks to fill the device (528: 4 per SM of an H100/
// H200), chunks of at least 512 pixels, and never more partials than conv2d_ws_floats_cuda
// asks for (the FP32 plan's), so that the engine's workspace serves both and the split, hence
// the summation order, depends on the shape alone.
void tc_plan_wgrad(const conv2d_shape *sh, tc_geom *g) {
    const size_t Kg = (size_t)g->cg * g->r * g->s, wsize = (size_t)g->k * Kg;
    const size_t tiles = (size_t)g->groups * gh_ceil_div(g->kg, TC_BM) * gh_ceil_div(Kg, TC_BN);
    const size_t NP = (size_t)g->n * g->p * g->q;
    size_t S = gh_ceil_div(528, tiles);
    if (S > NP / 512) S = NP / 512;
    if (S > conv2d_ws_floats_cuda(sh) / wsize) S = conv2d_ws_floats_cuda(sh) / wsize;
    if (S > 65535 / (size_t)g->groups) S = 65535 / (size_t)g->groups;
    if (S < 1) S = 1;
    size_t chunk = gh_ceil_div(gh_ceil_div(NP, S), 16) * 16;
    g->splits = (int)gh_ceil_div(NP, chunk);
    g->chunk = (int)chunk;
}

bool tc_depthwise(const conv2d_shape *sh) {
    return sh->groups > 1 && sh->groups == sh->c && sh->k == sh->c;
}

template <int PREC>
int tc_fwd(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
           const float *b, float *y) {
    const char *op = PREC == GH_PREC_TF32 ? "conv2d_fwd_prec_cuda(tf32)" : "conv2d_fwd_prec_cuda(bf16)";
    tc_geom g;
    GH_TRY(tc_geom_make(op, sh, &g));
    GH_TRY(tc_device_check(op));
    tc_args a = {x, w, nullptr, b, y};
    return tc_launch<TC_FWD, PREC>(ctx, g, a, PREC == GH_PREC_TF32 ? "conv_tc_kernel<fwd,tf32>"
                                                                   : "conv_tc_kernel<fwd,bf16>");
}

template <int PREC>
int tc_bwd(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
           const float *dy, float *dx, float *dw) {
    const bool tf = PREC == GH_PREC_TF32;
    const char *op = tf ? "conv2d_bwd_prec_cuda(tf32)" : "conv2d_bwd_prec_cuda(bf16)";
    tc_geom g;
    GH_TRY(tc_geom_make(op, sh, &g));
    GH_TRY(tc_device_check(op));
    if (dx) {
        tc_args a = {nullptr, w, dy, nullptr, dx};
        GH_TRY(tc_launch<TC_BDATA, PREC>(ctx, g, a, tf ? "conv_tc_kernel<bdata,tf32>"
                                                       : "conv_tc_kernel<bdata,bf16>"));
    }
    if (dw) {
        tc_plan_wgrad(sh, &g);
        const size_t size = (size_t)g.k * g.cg * g.r * g.s, need = g.splits > 1 ? g.splits * size : 0;
        if (need && (!ctx || !ctx->ws || ctx->ws_floats < need))
            return gh_fail(GH_EINVAL, "%s: the weight gradient needs a device workspace of %zu "
                           "floats (conv2d_ws_floats_cuda), got %zu", op, need,
                           ctx && ctx->ws ? ctx->ws_floats : (size_t)0);
        tc_args a = {x, nullptr, dy, nullptr, g.splits > 1 ? ctx->ws : dw};
        GH_TRY(tc_launch<TC_BFILT, PREC>(ctx, g, a, tf ? "conv_tc_kernel<bfilt,tf32>"
                                                       : "conv_tc_kernel<bfilt,bf16>"));
        if (g.splits > 1) {
            tc_split_reduce_kernel<<<gh_ew_blocks(size), GH_EW_THREADS, 0, gh_stream(ctx)>>>(
                size, g.splits, ctx->ws, dw);
            LAUNCH_CHECK("tc_split_reduce_kernel");
        }
    }
    return GH_OK;
}

int prec_unknown(const char *op, gh_precision prec) {
    return gh_fail(GH_EINVAL, "%s: unknown precision %d (0 fp32, 1 tf32, 2 bf16)", op, (int)prec);
}

}  // namespace

extern "C" {

int conv2d_fwd_prec_cuda(const kctx *ctx, const conv2d_shape *sh, gh_precision prec,
                         const float *x, const float *w, const float *b, float *y) {
    const char *op = "conv2d_fwd_prec_cuda";
    if (prec != GH_PREC_FP32 && prec != GH_PREC_TF32 && prec != GH_PREC_BF16)
        return prec_unknown(op, prec);
    GH_CUDA_NEED(op, sh);
    // FP32 is the reference; depthwise convs are memory bound, one output channel per group:
    // FP32 kernels at every precision
    if (prec == GH_PREC_FP32 || tc_depthwise(sh)) return conv2d_fwd_cuda(ctx, sh, x, w, b, y);
    GH_CUDA_NEED(op, x);
    GH_CUDA_NEED(op, w);
    GH_CUDA_NEED(op, y);
    return prec == GH_PREC_TF32 ? tc_fwd<GH_PREC_TF32>(ctx, sh, x, w, b, y)
                                : tc_fwd<GH_PREC_BF16>(ctx, sh, x, w, b, y);
}

int conv2d_bwd_prec_cuda(const kctx *ctx, const conv2d_shape *sh, gh_precision prec,
                         const float *x, const float *w, const float *dy, float *dx, float *dw,
                         float *db) {
    const char *op = "conv2d_bwd_prec_cuda";
    if (prec != GH_PREC_FP32 && prec != GH_PREC_TF32 && prec != GH_PREC_BF16)
        return prec_unknown(op, prec);
    GH_CUDA_NEED(op, sh);
    if (prec == GH_PREC_FP32 || tc_depthwise(sh))
        return conv2d_bwd_cuda(ctx, sh, x, w, dy, dx, dw, db);
    GH_CUDA_NEED(op, dy);
    if (dx) GH_CUDA_NEED(op, w);
    if (dw) GH_CUDA_NEED(op, x);
    GH_TRY(prec == GH_PREC_TF32 ? tc_bwd<GH_PREC_TF32>(ctx, sh, x, w, dy, dx, dw)
                                : tc_bwd<GH_PREC_BF16>(ctx, sh, x, w, dy, dx, dw));
    // the bias gradient is a sum over dy, no GEMM: the FP32 kernel's (fp64 accumulation)
    if (db) return conv2d_bwd_cuda(ctx, sh, x, w, dy, nullptr, nullptr, db);
    return GH_OK;
}

}  // extern "C"
