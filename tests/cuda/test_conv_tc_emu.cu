// tests/cuda: the tensor-core convs' index math on the CPU (no GPU needed). Each block of
// conv_tc_kernel<mode, *> is replayed on the host with the kernel's own gather and scatter
// code (kernels/cuda/conv_tc.cuh: tc_op's a_src, b_src, store, compiled for the host too):
// the same grid, tiles, per-column state, K slices of 8 and 16 (reads past K must be zeros),
// split-K chunks and their reduction, with products summed in double instead of on tensor
// cores. Forward, backward data and the weight gradient must equal the C reference (within
// FP32 summation error), and exactly on small integers, for the shapes test_kernels_cuda runs
// on a GPU; the split plan must stay within conv2d_ws_floats_cuda's workspace.
#include <math.h>
#include <string.h>

#include <vector>

#include "check.h"
#include "emu_check.h"
#include "kernels/cuda/conv_tc.cuh"

static const kctx REF = {0};

// Replays every block of one GEMM. BK: the K slice (8: TF32, 16: BF16); out as the kernel's.
template <int MODE>
static void emulate(const tc_geom &g, const tc_args &a, int BK) {
    const int M = MODE == TC_BDATA ? g.cg : g.kg;
    const int N = MODE == TC_FWD ? g.n * g.p * g.q : MODE == TC_BDATA ? g.n * g.h * g.w
                                                                      : g.cg * g.r * g.s;
    const int Z = g.groups * (MODE == TC_BFILT ? g.splits : 1);
    std::vector<double> C((size_t)TC_BM * TC_BN);
    std::vector<tc_op<MODE>> ops(TC_BN);
    for (int z = 0; z < Z; z++) {
        const int split = MODE == TC_BFILT ? z % g.splits : 0;
        const int grp = MODE == TC_BFILT ? z / g.splits : z;
        for (int m0 = 0; m0 < M; m0 += TC_BM)
            for (int n0 = 0; n0 < N; n0 += TC_BN) {
                for (int c = 0; c < TC_BN; c++) ops[c].init(g, grp, m0, n0 + c, split);
                const int K = ops[0].klen(g), nk = (K + BK - 1) / BK;
                std::fill(C.begin(), C.end(), 0.0);
                for (int k = 0; k < nk * BK; k++)   // the last slice's padding included
                    for (int m = 0; m < TC_BM; m++) {
                        const float *pa = ops[m % TC_BN].a_src(g, a, m0 + m, k);
                        if (!pa) continue;
                        for (int c = 0; c < TC_BN; c++) {
                            const float *pb = ops[c].b_src(g, a, k);
                            if (pb) C[(size_t)m * TC_BN + c] += (double)*pa * *pb;
                        }
                    }
                for (int c = 0; c < TC_BN; c++) {
                    if (!ops[c].col_ok) continue;
                    for (int m = 0; m < TC_BM && m < ops[c].mlen(g) - m0; m++)
                        ops[c].store(g, a, m0 + m, (float)C[(size_t)m * TC_BN + c]);
                }
            }
    }
}

static void run(const char *name, conv2d_shape sh, int bias, int BK, int ints, gh_rng *rng) {
    tc_geom g;
    CHECK_OK(conv2d_shape_init(&sh));
    if (tc_geom_make("emu", &sh, &g)) return;
    const size_t nx = (size_t)g.n * g.c * g.h * g.w, nw = (size_t)g.k * g.cg * g.r * g.s;
    const size_t ny = (size_t)g.n * g.k * g.p * g.q;
    std::vector<float> x = emu_rnd(rng, nx, ints), w = emu_rnd(rng, nw, ints);
    std::vector<float> b = emu_rnd(rng, g.k, ints);
    std::vector<float> dy = emu_rnd(rng, ny, ints), dx0 = emu_rnd(rng, nx, ints);
    std::vector<float> dw0 = emu_rnd(rng, nw, ints);
    std::vector<float> ry(ny), rdx = dx0, rdw = dw0;
    CHECK_OK(conv2d_fwd_ref(&REF, &sh, x.data(), w.data(), bias ? b.data() : NULL, ry.data()));
    CHECK_OK(conv2d_bwd_ref(&REF, &sh, x.data(), w.data(), dy.data(), rdx.data(), rdw.data(),
                            NULL));

    std::vector<float> y(ny, NAN), dx = dx0, dw = dw0;
    emulate<TC_FWD>(g, {x.data(), w.data(), NULL, bias ? b.data() : NULL, y.data()}, BK);
    emulate<TC_BDATA>(g, {NULL, w.data(), dy.data(), NULL, dx.data()}, BK);
    tc_plan_wgrad(&sh, &g);
    const size_t ws = conv2d_ws_floats_cuda(&sh), need = g.splits > 1 ? g.splits * nw : 0;
    CHECK_MSG(need <= ws, "%s: %d splits need %zu floats, the workspace has %zu", name, g.splits,
              need, ws);
    CHECK_MSG(g.chunk % 16 == 0 && (size_t)g.splits * g.chunk >= (size_t)g.n * g.p * g.q &&
              (size_t)(g.splits - 1) * g.chunk < (size_t)g.n * g.p * g.q,
              "%s: %d chunks of %d do not cover %d pixels once", name, g.splits, g.chunk,
              g.n * g.p * g.q);
    std::vector<float> part(need ? need : 1, NAN);
    emulate<TC_BFILT>(g, {x.data(), NULL, dy.data(), NULL, g.splits > 1 ? part.data() : dw.data()},
                      BK);
    for (size_t i = 0; g.splits > 1 && i < nw; i++) {   // tc_split_reduce_kernel's order
        float acc = 0.0f;
        for (int s = 0; s < g.splits; s++) acc += part[(size_t)s * nw + i];
        dw[i] += acc;
    }
    char what[200];
    const char *kind = ints ? "integers" : "random";
    snprintf(what, sizeof what, "%s BK %d %s fwd", name, BK, kind);
    emu_compare(what, y, ry, ints);
    snprintf(what, sizeof what, "%s BK %d %s dx +=", name, BK, kind);
    emu_compare(what, dx, rdx, ints);
    snprintf(what, sizeof what, "%s BK %d %s dw += (%d splits)", name, BK, kind, g.splits);
    emu_compare(what, dw, rdw, ints);
}

#define SHAPE(N, C, H, W, K, R, S, SH, SW, PH, PW, DH, DW, G)                                  \
    conv2d_shape {                                                                             \
        N, C, H, W, K, R, S, SH, SW, PH, PW, DH, DW, G, 0, 0                                   \
    }

int main(void) {
    gh_rng rng;
    gh_rng_seed(&rng, 20261201, GH_STREAM_INIT);
    struct {
        const char *name;
        conv2d_shape sh;
        int bias;
    } cases[] = {
        //                          n  c   h   w   k  r  s sh sw ph pw dh dw  g
        {"3x3 odd", SHAPE(2, 3, 7, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1), 1},
        {"3x3 s2 k70", SHAPE(2, 5, 11, 13, 70, 3, 3, 2, 2, 1, 1, 1, 1, 1), 1},
        {"3x3 groups 2", SHAPE(2, 4, 9, 8, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2), 0},
        {"3x3 dil 2", SHAPE(2, 6, 10, 11, 8, 3, 3, 1, 1, 2, 2, 2, 2, 1), 1},
        {"1x7 pad 0x3", SHAPE(2, 8, 9, 12, 12, 1, 7, 1, 1, 0, 3, 1, 1, 1), 0},
        {"7x1 pad 3x0", SHAPE(2, 8, 12, 9, 12, 7, 1, 1, 1, 3, 0, 1, 1, 1), 0},
        {"5x5 s3 groups 3 dil 1x2", SHAPE(2, 6, 17, 19, 9, 5, 5, 3, 3, 2, 4, 1, 2, 3), 1},
        {"3x3 s2 c70 k8", SHAPE(2, 70, 9, 10, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1), 0},
        {"1x1 s2 c32 k16 16x16", SHAPE(16, 32, 16, 16, 16, 1, 1, 2, 2, 0, 0, 1, 1, 1), 0},
        {"split-K 3x3 n8 c16 k32 32x32", SHAPE(8, 16, 32, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1), 1},
        {"split-K 3x3 groups 2 n8 16x16", SHAPE(8, 16, 16, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1, 2), 1},
    };
    int split_cases = 0;
    for (const auto &cc : cases)
        for (int BK = 8; BK <= 16; BK *= 2)
            for (int ints = 0; ints <= 1; ints++) run(cc.name, cc.sh, cc.bias, BK, ints, &rng);
    for (const auto &cc : cases) {   // the split-K path must be among those replayed
        conv2d_shape sh = cc.sh;
        tc_geom g;
        if (conv2d_shape_init(&sh) || tc_geom_make("emu", &sh, &g)) continue;
        tc_plan_wgrad(&sh, &g);
        split_cases += g.splits > 1;
    }
    CHECK_MSG(split_cases >= 2, "only %d cases split the weight gradient", split_cases);
    return check_done("test_conv_tc_emu");
}
