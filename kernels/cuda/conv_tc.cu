// kernels/cuda: conv2d forward, backward-data and backward-filter as implicit GEMMs on tensor
// cores (WMMA; TF32 m16n16k8 or BF16 m16n16k16, FP32 accumulation), and the _prec_cuda entry
// points, which pick them or the FP32 kernels (conv.cu) by precision (issue 15).
#include <limits.h>
#include <mma.h>

#include <type_traits>

#include "conv_tc.cuh"

namespace {

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
// 4 or 16 bytes global -> shared without a register round trip; src NULL: zeros (src-size 0
// reads nothing, `dummy`, aligned like src, only gives the instruction a valid address). The
// 16-byte copies bypass L1 (.cg, the only form for 16 bytes): their rows are read once a block.
__device__ __forceinline__ void cp_async4(float *dst, const float *src, const float *dummy) {
    const unsigned s = (unsigned)__cvta_generic_to_shared(dst);
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(s),
                 "l"(src ? src : dummy), "r"(src ? 4 : 0));
}
__device__ __forceinline__ void cp_async16(float *dst, const float *src, const float *dummy) {
    const unsigned s = (unsigned)__cvta_generic_to_shared(dst);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s),
                 "l"(src ? src : dummy), "r"(src ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}
// WMMA's fragment loads and the accumulator store in the shared window: the PTX instructions
// load_matrix_sync / store_matrix_sync emit, with .shared, which the compiler leaves out for
// TF32 (and BF16 loads) even on a plain __shared__ array: the SASS then has generic LD.E/ST.E,
// which resolve the window on every access, where these give LDS/STS. Same instruction, same
// (opaque) fragment layouts: the fragment's storage is its registers in order.
#define TC_WMMA_LD(name, ptx, FRAG, ET)                                                         \
    __device__ __forceinline__ void name(FRAG &f, const ET *p, unsigned ldm) {                \
        unsigned *r = reinterpret_cast<unsigned *>(f.x);                                      \
        asm volatile(ptx " {%0, %1, %2, %3}, [%4], %5;\n"                                     \
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])                         \
                     : "r"((unsigned)__cvta_generic_to_shared(p)), "r"(ldm)                   \
                     : "memory");                                                             \
    }
namespace tcw = nvcuda::wmma;
typedef tcw::fragment<tcw::matrix_a, 16, 16, 8, tcw::precision::tf32, tcw::row_major> tc_fa_tf32;
typedef tcw::fragment<tcw::matrix_b, 16, 16, 8, tcw::precision::tf32, tcw::row_major> tc_fb_tf32;
typedef tcw::fragment<tcw::matrix_a, 16, 16, 16, __nv_bfloat16, tcw::row_major> tc_fa_bf16;
typedef tcw::fragment<tcw::matrix_b, 16, 16, 16, __nv_bfloat16, tcw::row_major> tc_fb_bf16;
static_assert(sizeof(tc_fa_tf32) == 16 && sizeof(tc_fb_tf32) == 16 && sizeof(tc_fa_bf16) == 16 &&
              sizeof(tc_fb_bf16) == 16, "4 registers a fragment");
TC_WMMA_LD(tc_ld_frag, "wmma.load.a.sync.aligned.row.m16n16k8.shared.tf32", tc_fa_tf32, float)
TC_WMMA_LD(tc_ld_frag, "wmma.load.b.sync.aligned.row.m16n16k8.shared.tf32", tc_fb_tf32, float)
TC_WMMA_LD(tc_ld_frag, "wmma.load.a.sync.aligned.row.m16n16k16.shared.bf16", tc_fa_bf16,
           __nv_bfloat16)
TC_WMMA_LD(tc_ld_frag, "wmma.load.b.sync.aligned.row.m16n16k16.shared.bf16", tc_fb_bf16,
           __nv_bfloat16)
#undef TC_WMMA_LD
template <int BK>
__device__ __forceinline__ void tc_st_acc(float *p, const tcw::fragment<tcw::accumulator, 16, 16,
                                          BK, float> &f, unsigned ldm) {
    static_assert(sizeof(f) == 32, "8 registers");
    const float *r = f.x;
    if constexpr (BK == 8)
        asm volatile("wmma.store.d.sync.aligned.row.m16n16k8.shared.f32 [%0], {%1, %2, %3, %4, "
                     "%5, %6, %7, %8}, %9;\n" ::"r"((unsigned)__cvta_generic_to_shared(p)),
                     "f"(r[0]), "f"(r[1]), "f"(r[2]), "f"(r[3]), "f"(r[4]), "f"(r[5]),
                     "f"(r[6]), "f"(r[7]), "r"(ldm) : "memory");
    else
        asm volatile("wmma.store.d.sync.aligned.row.m16n16k16.shared.f32 [%0], {%1, %2, %3, %4, "
                     "%5, %6, %7, %8}, %9;\n" ::"r"((unsigned)__cvta_generic_to_shared(p)),
                     "f"(r[0]), "f"(r[1]), "f"(r[2]), "f"(r[3]), "f"(r[4]), "f"(r[5]),
                     "f"(r[6]), "f"(r[7]), "r"(ldm) : "memory");
}

// 4 floats (16-byte aligned) rounded to BF16, zeros for NULL: one 16-byte load
__device__ __forceinline__ void ld4_bf16(const float *p, __nv_bfloat162 *lo, __nv_bfloat162 *hi) {
    const float4 v = p ? __ldg(reinterpret_cast<const float4 *>(p)) : make_float4(0, 0, 0, 0);
    *lo = __floats2bfloat162_rn(v.x, v.y);
    *hi = __floats2bfloat162_rn(v.z, v.w);
}
#endif

// VEC: bit 0 stages A, bit 1 B 16 bytes of global memory at a time (tc_plan_vec); a build per
// choice, so that each carries one staging path and its registers
template <int MODE, int PREC, int VEC>
__global__ void __launch_bounds__(TC_THREADS) conv_tc_kernel(tc_geom g, tc_args a) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    using namespace nvcuda;
    typedef tc_smem<PREC> L;
    typedef typename L::T T;
    constexpr int BK = L::BK, LDA = L::LDA, LDB = L::LDB, LDC = L::LDC;
    constexpr int A_SZ = L::A_SZ, B_SZ = L::B_SZ;
    static_assert(L::NA * L::A_STEP == TC_BM && L::NB * L::B_STEP == BK &&
                  L::NAV * 4 * TC_THREADS == TC_BM * BK && L::NBV * 4 * TC_THREADS == BK * TC_BN,
                  "tile loads cover the tiles");
    static_assert((16 * LDA * sizeof(T)) % 32 == 0 && (A_SZ * sizeof(T)) % 32 == 0 &&
                  (B_SZ * sizeof(T)) % 32 == 0 && (LDB * sizeof(T)) % 16 == 0 && LDC % 8 == 0,
                  "WMMA fragment pointers stay 32-byte aligned, vector slots 16 (8) bytes");
    // the two stages of A and B, and the epilogue's C tile over them once the MMAs are done
    constexpr int STAGE_BYTES = 2 * (A_SZ + B_SZ) * (int)sizeof(T);
    constexpr int C_BYTES = TC_BM * LDC * (int)sizeof(float);
    __shared__ __align__(128) unsigned char smem[STAGE_BYTES > C_BYTES ? STAGE_BYTES : C_BYTES];
    T *As = reinterpret_cast<T *>(smem);
    T *Bs = As + 2 * A_SZ;
    float *Cs = reinterpret_cast<float *>(smem);

    const int t = threadIdx.x, warp = t / 32;
    const int wm = warp / 2, wn = warp % 2;
    // grid z: group x (the weight gradient's splits, or the backward data's stride phases)
    const int nz = MODE == TC_BFILT ? g.splits : MODE == TC_BDATA ? g.sh * g.sw : 1;
    const int split = (int)blockIdx.z % nz;
    const int grp = (int)blockIdx.z / nz;
    const int m0 = blockIdx.y * TC_BM, n0 = blockIdx.x * TC_BN;
    const int a_k = L::a_k(t), a_m = L::a_m(t), av_k = L::av_k(t), av_m = L::av_m(t);
    const int b_n = L::b_n(t), b_k = L::b_k(t), bv_n = L::bv_n(t), bv_k = L::bv_k(t);
    constexpr bool vec_a = VEC & 1, vec_b = VEC & 2;
    // the column this thread stages B for: its first vector's, or the epilogue's
    tc_op<MODE> op;
    op.init(g, grp, m0, n0 + (vec_b ? bv_n : b_n), split);
    const int K = op.klen(g), nk = (K + BK - 1) / BK;
    if constexpr (MODE == TC_BDATA)
        if (n0 >= op.ncols || K == 0) return;  // past this phase's pixels, or a phase without taps
    // zero-fill copies still need an address aligned like the copy: the tensor's base
    const float *dummy_a = MODE == TC_BFILT ? a.dy : a.w;
    const float *dummy_b = MODE == TC_BDATA ? a.dy : a.x;

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
            tc_ld_frag(fa[i], as + (wm * 32 + i * 16) * LDA, LDA);
            if constexpr (PREC == GH_PREC_TF32)
#pragma unroll
                for (int e = 0; e < fa[i].num_elements; e++)
                    fa[i].x[e] = wmma::__float_to_tf32(fa[i].x[e]);
        }
#pragma unroll
        for (int j = 0; j < 2; j++) {
            tc_ld_frag(fb[j], bs + wn * 32 + j * 16, LDB);
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
            if constexpr (vec_a) {
#pragma unroll
                for (int l = 0; l < L::NAV; l++) {
                    const int m = av_m + L::AV_STEP * l;
                    cp_async16(as + m * LDA + av_k, op.a_src(g, a, m0 + m, k0 + av_k), dummy_a);
                }
            } else {
#pragma unroll
                for (int l = 0; l < L::NA; l++) {
                    const int m = a_m + L::A_STEP * l;
                    cp_async4(as + m * LDA + a_k, op.a_src(g, a, m0 + m, k0 + a_k), dummy_a);
                }
            }
            if constexpr (vec_b) {
#pragma unroll
                for (int l = 0; l < L::NBV; l++) {
                    const int k = bv_k + L::BV_STEP * l;
                    cp_async16(bs + k * LDB + bv_n, op.b_src(g, a, k0 + k), dummy_b);
                }
            } else {
#pragma unroll
                for (int l = 0; l < L::NB; l++) {
                    const int k = b_k + L::B_STEP * l;
                    cp_async4(bs + k * LDB + b_n, op.b_src(g, a, k0 + k), dummy_b);
                }
            }
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
        // while this one is multiplied. Vectors: 4 floats in, 4 BF16 (8 bytes) out.
        static_assert(L::NA == 2 * L::NAV && L::NB == 4 * L::NBV, "4 registers each way");
        __nv_bfloat162 ra[L::NA], rb[L::NB / 2];
        auto fetch = [&](int k0) {
            if constexpr (vec_a) {
#pragma unroll
                for (int l = 0; l < L::NAV; l++)
                    ld4_bf16(op.a_src(g, a, m0 + av_m + L::AV_STEP * l, k0 + av_k), &ra[2 * l],
                             &ra[2 * l + 1]);
            } else {
#pragma unroll
                for (int l = 0; l < L::NA; l++) {
                    const float *p0 = op.a_src(g, a, m0 + a_m + L::A_STEP * l, k0 + a_k);
                    const float *p1 = op.a_src(g, a, m0 + a_m + L::A_STEP * l, k0 + a_k + 1);
                    ra[l] = __floats2bfloat162_rn(p0 ? __ldg(p0) : 0.0f, p1 ? __ldg(p1) : 0.0f);
                }
            }
            if constexpr (vec_b) {
#pragma unroll
                for (int l = 0; l < L::NBV; l++)
                    ld4_bf16(op.b_src(g, a, k0 + bv_k + L::BV_STEP * l), &rb[2 * l],
                             &rb[2 * l + 1]);
            } else {
#pragma unroll
                for (int l = 0; l < L::NB; l += 2) {
                    const float *p0 = op.b_src(g, a, k0 + b_k + L::B_STEP * l);
                    const float *p1 = op.b_src(g, a, k0 + b_k + L::B_STEP * (l + 1));
                    rb[l / 2] =
                        __floats2bfloat162_rn(p0 ? __ldg(p0) : 0.0f, p1 ? __ldg(p1) : 0.0f);
                }
            }
        };
        auto put2 = [](T *dst, __nv_bfloat162 lo, __nv_bfloat162 hi) {  // one 8-byte store
            *reinterpret_cast<uint2 *>(dst) = make_uint2(*reinterpret_cast<unsigned *>(&lo),
                                                         *reinterpret_cast<unsigned *>(&hi));
        };
        auto put = [&](int st) {
            T *as = As + st * A_SZ, *bs = Bs + st * B_SZ;
            if constexpr (vec_a) {
#pragma unroll
                for (int l = 0; l < L::NAV; l++)
                    put2(as + (av_m + L::AV_STEP * l) * LDA + av_k, ra[2 * l], ra[2 * l + 1]);
            } else {
#pragma unroll
                for (int l = 0; l < L::NA; l++)  // a_k even, LDA even: 4-byte aligned
                    *reinterpret_cast<__nv_bfloat162 *>(as + (a_m + L::A_STEP * l) * LDA + a_k) =
                        ra[l];
            }
            if constexpr (vec_b) {
#pragma unroll
                for (int l = 0; l < L::NBV; l++)
                    put2(bs + (bv_k + L::BV_STEP * l) * LDB + bv_n, rb[2 * l], rb[2 * l + 1]);
            } else {
#pragma unroll
                for (int l = 0; l < L::NB; l += 2) {
                    bs[(b_k + L::B_STEP * l) * LDB + b_n] = rb[l / 2].x;
                    bs[(b_k + L::B_STEP * (l + 1)) * LDB + b_n] = rb[l / 2].y;
                }
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
            tc_st_acc<BK>(Cs + (wm * 32 + i * 16) * LDC + wn * 32 + j * 16, acc[i][j], LDC);
    if constexpr (vec_b) op.init(g, grp, m0, n0 + b_n, split);  // the epilogue's column
    __syncthreads();
    if (!op.col_ok) return;
    const int mmax = op.mlen(g) - m0;
    for (int m = b_k; m < TC_BM && m < mmax; m += L::B_STEP)
        op.store(g, a, m0 + m, Cs[m * LDC + b_n]);
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

template <int MODE, int PREC>
int tc_launch(const kctx *ctx, const tc_geom &g, const tc_args &a, const char *name) {
    const size_t M = MODE == TC_BDATA ? g.cg : g.kg;
    const size_t N = MODE == TC_FWD     ? (size_t)g.n * g.p * g.q
                     : MODE == TC_BDATA ? (size_t)g.n * phase_max(g.h, g.sh) * phase_max(g.w, g.sw)
                                        : (size_t)g.cg * g.r * g.s;
    const size_t Z = (size_t)g.groups * (MODE == TC_BFILT ? g.splits
                                         : MODE == TC_BDATA ? g.sh * g.sw : 1);
    if (Z > 65535u)
        return gh_fail(GH_EUNSUP, "%s: %d groups x %zu (splits or stride phases) exceed the grid "
                       "limit (65535)", name, g.groups, Z / g.groups);
    dim3 grid((unsigned)gh_ceil_div(N, TC_BN), (unsigned)gh_ceil_div(M, TC_BM), (unsigned)Z);
    if (grid.y > 65535u || grid.z > 65535u)
        return gh_fail(GH_EUNSUP, "%s: %zu rows per group (grid y %u) or grid z %u exceed the "
                       "grid limits", name, M, grid.y, grid.z);
    tc_geom gv = g;
    tc_plan_vec(MODE, &gv, a);
    const dim3 blk(TC_THREADS);
    cudaStream_t s = gh_stream(ctx);
    // tc_plan_vec sets vec_a only in the forward and the weight gradient, vec_b only in the
    // forward with vec_a or without: builds for those cases only
    if constexpr (MODE == TC_FWD) {
        if (gv.vec_a && gv.vec_b)
            conv_tc_kernel<MODE, PREC, 3><<<grid, blk, 0, s>>>(gv, a);
        else if (gv.vec_b)
            conv_tc_kernel<MODE, PREC, 2><<<grid, blk, 0, s>>>(gv, a);
        else if (gv.vec_a)
            conv_tc_kernel<MODE, PREC, 1><<<grid, blk, 0, s>>>(gv, a);
        else
            conv_tc_kernel<MODE, PREC, 0><<<grid, blk, 0, s>>>(gv, a);
    } else if constexpr (MODE == TC_BFILT) {
        if (gv.vec_a)
            conv_tc_kernel<MODE, PREC, 1><<<grid, blk, 0, s>>>(gv, a);
        else
            conv_tc_kernel<MODE, PREC, 0><<<grid, blk, 0, s>>>(gv, a);
    } else {
        conv_tc_kernel<MODE, PREC, 0><<<grid, blk, 0, s>>>(gv, a);
    }
    LAUNCH_CHECK(name);
    return GH_OK;
}

bool tc_depthwise(const conv2d_shape *sh) {
    return sh->groups > 1 && sh->groups == sh->c && sh->k == sh->c;
}

template <int PREC>
int tc_fwd(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
           const float *b, float *y) {
    const char *op =
        PREC == GH_PREC_TF32 ? "conv2d_fwd_prec_cuda(tf32)" : "conv2d_fwd_prec_cuda(bf16)";
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
        const size_t size = (size_t)g.k * g.cg * g.r * g.s;
        const size_t need = g.splits > 1 ? g.splits * size : 0;
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
