// tests/cuda: the depthwise tiles' index math on the CPU (no GPU needed). Every block of
// dw_tile_kernel<K, S, D> is replayed on the host with the kernel's own code (kernels/cuda/
// conv_dw.cuh: the plan, dwt_block_at, dwt_load_src, dwt_thread_at, dwt_filter, dwt_compute,
// dwt_store, compiled for the host too): the staging pass into a shared-memory image that starts
// as NaN (an unstaged read poisons the output), scalar and float4 staging, then every thread's
// outputs. Forward and stride-1 backward data (the flipped correlation) must equal the C
// reference (within FP32 summation error), exactly on small integers, and every output must be
// written (the forward's output starts as NaN). The same for the fused ReLU (conv2d_relu_*_cuda:
// the input read through ReLU at the staging, dx masked by x > 0 at the store) on an x with NaN
// and -0 among its values, against the reference conv of relu_fwd_cuda's max(x, 0) and
// relu_bwd's mask.
#include <math.h>
#include <string.h>

#include <algorithm>
#include <vector>

#include "check.h"
#include "emu_check.h"
#include "kernels/cuda/conv_dw.cuh"

static const kctx REF = {0};

// One launch: every block's staging steps (all threads), the barrier, every thread's outputs.
// Returns 0 when the staging left the shared-memory budget or broke float4 alignment.
template <int K, int S, int D>
static int replay(const dwt_plan &p, const float *in, const float *wt, const float *bias,
                  float *out) {
    // twice the budget, NaN beyond it: a read past DWT_SMEM_FLOATS is NaN, not a crash
    std::vector<float> sm(2 * DWT_SMEM_FLOATS);
    const int width = p.vec ? 4 : 1;
    for (int b = 0; b < p.blocks; b++) {
        std::fill(sm.begin(), sm.end(), NAN);
        const dwt_block k = dwt_block_at(p, b);
        const int nload = dwt_load_count(p);
        for (int e = 0; e < nload; e++) {
            int so;
            const int src = dwt_load_src(p, k, e, &so);
            if (so < 0 || so + width > DWT_SMEM_FLOATS || (p.vec && src >= 0 && src % 4)) {
                CHECK_MSG(0, "block %d step %d: shared offset %d (width %d) or source %d", b, e,
                          so, width, src);
                return 0;
            }
            for (int j = 0; j < width; j++) sm[so + j] = src >= 0 ? dwt_in(p.a, in[src + j]) : 0.0f;
        }
        for (int t = 0; t < DWT_THREADS; t++) {
            const dwt_thread h = dwt_thread_at(p, k, t);
            if (h.nout == 0) continue;
            float wr[K][K], acc[DW_TV];
            dwt_filter<K>(p, wt, h.ch, wr);
            dwt_compute<K, S, D>(p, sm.data(), h.sm, wr, acc);
            dwt_store(p, h, bias, acc, out);
        }
    }
    return 1;
}

static int replay_ksd(const dwt_plan &p, const float *in, const float *wt, const float *bias,
                      float *out) {
#define DW_CASE(k_, s_, d_) \
    if (p.K == k_ && p.S == s_ && p.D == d_) return replay<k_, s_, d_>(p, in, wt, bias, out)
    DW_CASE(3, 1, 1); DW_CASE(3, 1, 2); DW_CASE(3, 2, 1); DW_CASE(3, 2, 2);
    DW_CASE(5, 1, 1); DW_CASE(5, 1, 2); DW_CASE(5, 2, 1); DW_CASE(5, 2, 2);
#undef DW_CASE
    CHECK_MSG(0, "no replay for %dx%d stride %d dilation %d", p.K, p.K, p.S, p.D);
    return 0;
}

// Worst shared-memory bank conflict of the compute reads: per warp, per filter row and input
// offset u, the most distinct addresses that fall in one of the 32 banks (1: conflict-free).
template <int K, int S, int D>
static int bank_ways(const dwt_plan &p) {
    constexpr int IN = (DW_TV - 1) * S + (K - 1) * D + 1;
    int worst = 1;
    const dwt_block k = dwt_block_at(p, 0);
    for (int w0 = 0; w0 < DWT_THREADS; w0 += 32)
        for (int kr = 0; kr < K; kr++)
            for (int u = 0; u < IN; u++) {
                std::vector<std::vector<int>> bank(32);
                for (int t = w0; t < w0 + 32; t++) {
                    const dwt_thread h = dwt_thread_at(p, k, t);
                    if (h.nout == 0) continue;
                    const int a = h.sm + kr * D * p.ld + u;
                    auto &b = bank[a % 32];
                    if (std::find(b.begin(), b.end(), a) == b.end()) b.push_back(a);
                }
                for (const auto &b : bank) worst = b.size() > (size_t)worst ? (int)b.size() : worst;
            }
    return worst;
}

static int bank_ways_ksd(const dwt_plan &p) {
#define DW_CASE(k_, s_, d_) \
    if (p.K == k_ && p.S == s_ && p.D == d_) return bank_ways<k_, s_, d_>(p)
    DW_CASE(3, 1, 1); DW_CASE(3, 1, 2); DW_CASE(3, 2, 1); DW_CASE(3, 2, 2);
    DW_CASE(5, 1, 1); DW_CASE(5, 1, 2); DW_CASE(5, 2, 1); DW_CASE(5, 2, 2);
#undef DW_CASE
    return 0;
}

struct tally {
    int plans, multi_plane, multi_tile, vec, bwd, relu, masked;
};

// relu_fwd_cuda's value: v > 0 ? v : 0 (NaN and -0 give +0)
static float relu_cuda(float v) { return v > 0.0f ? v : 0.0f; }

static void run(const char *name, conv2d_shape sh, int bias, int ints, gh_rng *rng, tally *ty) {
    CHECK_OK(conv2d_shape_init(&sh));
    const int K = sh.r, S = sh.stride_h, D = sh.dil_h;
    const size_t nx = (size_t)sh.n * sh.c * sh.h * sh.w, nw = (size_t)sh.c * K * K;
    const size_t ny = (size_t)sh.n * sh.c * sh.p * sh.q;
    std::vector<float> x = emu_rnd(rng, nx, ints), w = emu_rnd(rng, nw, ints);
    std::vector<float> b = emu_rnd(rng, sh.c, ints);
    std::vector<float> dy = emu_rnd(rng, ny, ints), dx0 = emu_rnd(rng, nx, ints);
    std::vector<float> ry(ny), rdx = dx0;
    CHECK_OK(conv2d_fwd_ref(&REF, &sh, x.data(), w.data(), bias ? b.data() : NULL, ry.data()));
    CHECK_OK(conv2d_bwd_ref(&REF, &sh, x.data(), w.data(), dy.data(), rdx.data(), NULL, NULL));
    const char *kind = ints ? "integers" : "random";
    char what[200];

    const dw_args af = dw_args_fwd(sh.n, sh.c, sh.h, sh.w, sh.p, sh.q, sh.pad_h, sh.pad_w);
    dwt_plan p;
    if (!dwt_plan_make(af, K, S, D, &p)) {
        CHECK_MSG(0, "%s: the tile refused the forward", name);
        return;
    }
    ty->plans++;
    ty->multi_plane += p.pb > 1;
    ty->multi_tile += p.tiles_h * p.tiles_w > 1;
    CHECK_MSG(p.pb * p.fh * p.ld <= DWT_SMEM_FLOATS, "%s: %d planes of %d x %d floats", name,
              p.pb, p.fh, p.ld);
    // conv_dw.cuh's claim: with 8 threads a row (tw = 32) the odd pitch makes stride-1 reads
    // conflict-free and stride-2 reads at most 2-way
    const int ways = bank_ways_ksd(p);
    if (!ints) printf("  %s: tile %dx%d, %d planes a block, bank conflicts %d-way\n", name, p.th,
                      p.tw, p.pb, ways);
    if (p.tx == 8)
        CHECK_MSG(ways <= S, "%s: %d-way bank conflicts at stride %d", name, ways, S);
    // float4 staging where the launcher would take it (the vectors' storage is 16-byte aligned
    // on this host's allocator; the scalar pass always)
    for (int vec = 0; vec <= dwt_can_vec(af, x.data()); vec++) {
        p.vec = vec;
        ty->vec += vec;
        std::vector<float> y(ny, NAN);
        if (!replay_ksd(p, x.data(), w.data(), bias ? b.data() : NULL, y.data())) return;
        snprintf(what, sizeof what, "%s %s fwd%s (tile %dx%d, %d planes)", name, kind,
                 vec ? " float4" : "", p.th, p.tw, p.pb);
        emu_compare(what, y, ry, ints);
    }
    // the fused ReLU: xr has NaN and -0 (both read as 0, both masked) beside x's values
    std::vector<float> xr = x, xrelu(nx), ryr(ny);
    for (size_t i = 0; i < nx; i += 7) xr[i] = i % 2 ? -0.0f : NAN;
    for (size_t i = 0; i < nx; i++) xrelu[i] = relu_cuda(xr[i]);
    CHECK_OK(conv2d_fwd_ref(&REF, &sh, xrelu.data(), w.data(), bias ? b.data() : NULL, ryr.data()));
    dw_args ar = af;
    ar.relu = 1;
    if (!dwt_plan_make(ar, K, S, D, &p)) {
        CHECK_MSG(0, "%s: the tile refused the ReLU forward", name);
        return;
    }
    for (int vec = 0; vec <= dwt_can_vec(ar, xr.data()); vec++) {
        p.vec = vec;
        ty->relu++;
        std::vector<float> y(ny, NAN);
        if (!replay_ksd(p, xr.data(), w.data(), bias ? b.data() : NULL, y.data())) return;
        snprintf(what, sizeof what, "%s %s relu fwd%s", name, kind, vec ? " float4" : "");
        emu_compare(what, y, ryr, ints);
    }
    if (S != 1) return;  // strided backward data is the gather kernel, not a tile
    const dw_args ab = dw_args_bwd_data(sh.n, sh.c, sh.h, sh.w, sh.p, sh.q, K, D, sh.pad_h,
                                        sh.pad_w);
    if (!dwt_plan_make(ab, K, 1, D, &p)) {
        CHECK_MSG(0, "%s: the tile refused the backward data", name);
        return;
    }
    ty->bwd++;
    for (int vec = 0; vec <= dwt_can_vec(ab, dy.data()); vec++) {
        p.vec = vec;
        std::vector<float> dx = dx0;
        if (!replay_ksd(p, dy.data(), w.data(), NULL, dx.data())) return;
        snprintf(what, sizeof what, "%s %s dx +=%s (tile %dx%d, %d planes)", name, kind,
                 vec ? " float4" : "", p.th, p.tw, p.pb);
        emu_compare(what, dx, rdx, ints);
    }
    // masked by the fused ReLU's x: dx0 + relu_bwd(xr, the conv's dx into zeros)
    std::vector<float> g(nx, 0.0f), rdxm = dx0;
    CHECK_OK(conv2d_bwd_ref(&REF, &sh, x.data(), w.data(), dy.data(), g.data(), NULL, NULL));
    CHECK_OK(relu_bwd_ref(&REF, nx, xr.data(), g.data(), rdxm.data()));
    dw_args am = ab;
    am.mask = xr.data();
    if (!dwt_plan_make(am, K, 1, D, &p)) {
        CHECK_MSG(0, "%s: the tile refused the masked backward data", name);
        return;
    }
    for (int vec = 0; vec <= dwt_can_vec(am, dy.data()); vec++) {
        p.vec = vec;
        ty->masked++;
        std::vector<float> dx = dx0;
        if (!replay_ksd(p, dy.data(), w.data(), NULL, dx.data())) return;
        snprintf(what, sizeof what, "%s %s relu dx +=%s", name, kind, vec ? " float4" : "");
        emu_compare(what, dx, rdxm, ints);
    }
}

// depthwise: groups = c = k
#define DW(N, C, H, W, R, ST, PAD, DIL) \
    conv2d_shape { N, C, H, W, C, R, R, ST, ST, PAD, PAD, DIL, DIL, C, 0, 0 }

int main(void) {
    gh_rng rng;
    gh_rng_seed(&rng, 20261202, GH_STREAM_INIT);
    struct {
        const char *name;
        conv2d_shape sh;
        int bias;
    } cases[] = {
        //                            n   c    h    w  r st pad dil
        {"3x3 7x9 c5", DW(2, 5, 7, 9, 3, 1, 1, 1), 1},
        {"3x3 32x32 c3", DW(2, 3, 32, 32, 3, 1, 1, 1), 0},
        {"3x3 33x35 c3 (2x2 tiles)", DW(1, 3, 33, 35, 3, 1, 1, 1), 1},
        {"5x5 16x16 c7 (4 planes a block)", DW(3, 7, 16, 16, 5, 1, 2, 1), 0},
        {"3x3 8x8 c9 pad 0", DW(4, 9, 8, 8, 3, 1, 0, 1), 1},
        {"3x3 dil 2 13x12 c6", DW(2, 6, 13, 12, 3, 1, 2, 2), 0},
        {"5x5 dil 2 11x20 c3", DW(2, 3, 11, 20, 5, 1, 4, 2), 1},
        {"3x3 s2 17x19 c5", DW(2, 5, 17, 19, 3, 2, 1, 1), 1},
        {"5x5 s2 15x16 c3", DW(2, 3, 15, 16, 5, 2, 2, 1), 0},
        {"3x3 s2 dil 2 12x13 c4", DW(2, 4, 12, 13, 3, 2, 2, 2), 0},
        {"5x5 s2 dil 2 66x65 c2", DW(1, 2, 66, 65, 5, 2, 4, 2), 1},
        {"5x5 s2 32x32 c11", DW(2, 11, 32, 32, 5, 2, 2, 1), 0},
        {"3x3 112x112 c2 (4x4 tiles)", DW(1, 2, 112, 112, 3, 1, 1, 1), 0},
        {"5x5 dil 2 70x40 c2 (tall)", DW(1, 2, 70, 40, 5, 1, 4, 2), 0},
        {"3x3 pad 0 7x6 c4", DW(2, 4, 7, 6, 3, 1, 0, 1), 0},
        {"5x5 pad 1 s1 9x12 c3", DW(2, 3, 9, 12, 5, 1, 1, 1), 1},
        // padding beyond (K-1)*D: the backward's padding is negative
        {"3x3 pad 3 7x9 c3 (negative backward padding)", DW(2, 3, 7, 9, 3, 1, 3, 1), 1},
    };
    tally ty = {0, 0, 0, 0, 0, 0, 0};
    for (const auto &cc : cases)
        for (int ints = 0; ints <= 1; ints++) run(cc.name, cc.sh, cc.bias, ints, &rng, &ty);
    // the cases must reach the plan's branches: several planes a block, several tiles a plane,
    // float4 staging, the backward use
    printf("%d plans: %d with several planes a block, %d with several tiles a plane, %d float4 "
           "replays, %d backward\n", ty.plans, ty.multi_plane, ty.multi_tile, ty.vec, ty.bwd);
    CHECK(ty.multi_plane >= 4 && ty.multi_tile >= 4 && ty.vec >= 4 && ty.bwd >= 4);
    printf("%d fused-ReLU forward replays, %d masked backward replays\n", ty.relu, ty.masked);
    CHECK(ty.relu >= ty.plans && ty.masked >= ty.bwd);

    // beyond 32-bit indices the tile refuses (the direct kernel runs on 64-bit indices)
    dwt_plan p;
    CHECK(!dwt_plan_make(dw_args_fwd(1, 65536, 256, 256, 256, 256, 1, 1), 3, 1, 1, &p));
    CHECK(dwt_plan_make(dw_args_fwd(1, 32767, 256, 256, 256, 256, 1, 1), 3, 1, 1, &p));
    return check_done("test_conv_dw_emu");
}
