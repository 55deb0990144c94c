// tests/cuda: the FP32 implicit-GEMM convs' index math on the CPU (no GPU needed). Every block of
// conv_igemm_kernel<mode, BM> is replayed on the host with the kernel's own code
// (kernels/cuda/conv_ig.cuh: the grid, the stride phase of the block, each lane's 4 pixels, the
// A and B gathers of every K slice of 8, padding included, and the stores), with products summed
// in double. The forward and the backward data must equal the C reference, exactly on small
// integers; the backward data must visit each valid (pixel, tap, channel) product exactly once
// and, at stride 2, a fraction of what the unphased GEMM visited; a shifted phase must fail.
#include <math.h>
#include <string.h>

#include <algorithm>
#include <vector>

#include "check.h"
#include "emu_check.h"
#include "kernels/cuda/conv_ig.cuh"

static const kctx REF = {0};

struct counts {
    size_t valid, rejected;  // in-range B gathers that read src, and those that read a zero (of
                             // the first M tile: the others repeat them)
};

// Replays every block of one GEMM; shift: added to each phase's output row (a deliberate bug).
template <int MODE>
static counts emulate(const conv_geom &g, const float *src, const float *wt, const float *bias,
                      float *dst, int shift) {
    counts n = {0, 0};
    const int Mg = ig_mlen<MODE>(g), BM = ig_bm(Mg), nph = ig_phases<MODE>(g);
    const int gx = (int)gh_ceil_div(ig_grid_n<MODE>(g), IG_BN), gy = (int)gh_ceil_div(Mg, BM);
    std::vector<double> acc((size_t)BM * IG_BN);
    for (int z = 0; z < g.groups * nph; z++) {
        const int grp = z / nph;
        ig_phase f = ig_phase_at(g, MODE == 0 ? 0 : z - grp * nph);
        f.y.o0 += shift;
        const int Kg = ig_klen<MODE>(g, f), Npix = ig_nlen<MODE>(g, f);
        for (int by = 0; by < gy; by++)
            for (int bx = 0; bx < gx; bx++) {
                const int m0 = by * BM, n0 = bx * IG_BN;
                if (n0 >= Npix || Kg == 0) continue;  // the kernel's early exit
                ig_pix px[IG_BN];
                for (int c = 0; c < IG_BN; c++) px[c] = ig_pixel<MODE>(g, f, grp, n0 + c);
                std::fill(acc.begin(), acc.end(), 0.0);
                const int nk = (Kg + IG_BK - 1) / IG_BK;
                for (int gk = 0; gk < nk * IG_BK; gk++) {
                    if (gk >= Kg) continue;  // the slice's padding: zeros in A and B
                    const ig_tap tp = ig_tap_at<MODE>(g, f, gk);
                    for (int c = 0; c < IG_BN; c++) {
                        const long long o = ig_b_off<MODE>(g, tp, px[c]);
                        if (by == 0 && n0 + c < Npix) (o >= 0 ? n.valid : n.rejected)++;
                        if (o < 0) continue;
                        for (int m = 0; m < BM; m++) {
                            if (m0 + m >= Mg) break;
                            const size_t a = ig_a_off<MODE>(g, f, grp, m0 + m, gk);
                            acc[(size_t)m * IG_BN + c] += (double)wt[a] * src[o];
                        }
                    }
                }
                for (int m = 0; m < BM && m0 + m < Mg; m++)
                    for (int c = 0; c < IG_BN && n0 + c < Npix; c++) {
                        const float v = (float)acc[(size_t)m * IG_BN + c];
                        if (MODE == 0) {
                            const int co = grp * g.kg + m0 + m;
                            dst[px[c].obase + (size_t)co * g.p * g.q] = v + (bias ? bias[co] : 0.0f);
                        } else {
                            const int ci = grp * g.cg + m0 + m;
                            dst[px[c].obase + (size_t)ci * g.h * g.w] += v;
                        }
                    }
            }
    }
    return n;
}

// The valid B gathers of the backward data counted directly: (input pixel, tap) pairs whose
// output position is integral and inside, times the images, the kg output channels (K rows)
// and the groups; the cg input channels (M rows) share each gather.
static size_t valid_bdata(const conv_geom &g) {
    size_t pairs = 0;
    for (int ih = 0; ih < g.h; ih++)
        for (int iw = 0; iw < g.w; iw++)
            for (int kr = 0; kr < g.r; kr++)
                for (int ks = 0; ks < g.s; ks++) {
                    const int nh = ih + g.ph - kr * g.dh, nw = iw + g.pw - ks * g.dw;
                    if (nh < 0 || nw < 0 || nh % g.sh || nw % g.sw) continue;
                    if (nh / g.sh < g.p && nw / g.sw < g.q) pairs++;
                }
    return pairs * g.n * g.kg * g.groups;
}

static int run(const char *name, conv2d_shape sh, int bias, int ints, gh_rng *rng) {
    conv_geom g;
    CHECK_OK(conv2d_shape_init(&sh));
    CHECK_OK(conv_check("emu", &sh, &g));
    const emu_conv_data d = emu_conv_rnd(sh, rng, ints);
    const size_t nx = d.nx, ny = d.ny;
    const std::vector<float> &x = d.x, &w = d.w, &b = d.b, &dy = d.dy, &dx0 = d.dx0;
    std::vector<float> ry(ny), rdx = dx0;
    CHECK_OK(conv2d_fwd_ref(&REF, &sh, x.data(), w.data(), bias ? b.data() : NULL, ry.data()));
    CHECK_OK(conv2d_bwd_ref(&REF, &sh, x.data(), w.data(), dy.data(), rdx.data(), NULL, NULL));

    std::vector<float> y(ny, NAN), dx = dx0;
    emulate<0>(g, x.data(), w.data(), bias ? b.data() : NULL, y.data(), 0);
    const counts n = emulate<1>(g, dy.data(), w.data(), NULL, dx.data(), 0);
    char what[200];
    const char *kind = ints ? "integers" : "random";
    snprintf(what, sizeof what, "%s %s fwd", name, kind);
    emu_compare(what, y, ry, ints);
    snprintf(what, sizeof what, "%s %s dx +=", name, kind);
    emu_compare(what, dx, rdx, ints);

    // every valid product once; what the unphased GEMM gathered: every input pixel x every tap
    const size_t want = valid_bdata(g);
    CHECK_MSG(n.valid == want, "%s: %zu gathers read dy, %zu valid (pixel, tap) products", name,
              n.valid, want);
    const size_t unphased = (size_t)g.n * g.h * g.w * g.kg * g.r * g.s * g.groups;
    const size_t visited = n.valid + n.rejected;
    CHECK_MSG(visited <= unphased, "%s: %zu gathers, more than the unphased %zu", name, visited,
              unphased);
    if (g.sh * g.sw >= 4 && g.r * g.s > 1)
        CHECK_MSG(visited * 3 <= unphased, "%s: stride %dx%d visits %zu of the unphased %zu", name,
                  g.sh, g.sw, visited, unphased);
    printf("  %-28s %-8s bwd-data gathers %zu (%zu read a zero) of the unphased %zu (%.2f)\n",
           name, kind, visited, n.rejected, unphased, (double)visited / unphased);

    // a phase whose output rows are off by one must not pass (the check can fail)
    int caught = 0;
    if (g.sh > 1 || g.ph > 0) {
        std::vector<float> bad = dx0;
        emulate<1>(g, dy.data(), w.data(), NULL, bad.data(), 1);
        for (size_t i = 0; i < nx && !caught; i++)
            caught = fabs((double)bad[i] - rdx[i]) > 1e-3 * (1 + fabs((double)rdx[i]));
        CHECK_MSG(caught, "%s: a phase shifted by one output row still matched the reference",
                  name);
    }
    return caught;
}

// The A tile's stash: per warp and store, the most distinct addresses in one bank (1: no
// conflict), for the kernel's slot function and for rows without the pad (pad 0); every (kk, m)
// written once, where the compute loop reads As[kk][m].
static int a_stash_ways(int BM, int pad) {
    const int elems = BM * IG_BK, per = (elems + IG_THREADS - 1) / IG_THREADS;
    std::vector<int> seen((size_t)IG_BK * (BM + IG_APAD), 0);
    int worst = 0;
    for (int l = 0; l < per; l++)
        for (int w = 0; w < IG_THREADS / 32; w++) {
            std::vector<std::vector<int>> bank(32);
            for (int lane = 0; lane < 32; lane++) {
                const int e = IG_THREADS * l + 32 * w + lane;
                if (e >= elems) continue;
                const int a = pad ? ig_a_slot(e, BM) : (e % IG_BK) * BM + e / IG_BK;
                if (pad) {
                    CHECK_MSG(a == (e % IG_BK) * (BM + IG_APAD) + e / IG_BK,
                              "BM %d: element %d stashed at %d, not row %d column %d", BM, e, a,
                              e % IG_BK, e / IG_BK);
                    seen[(size_t)a]++;
                }
                auto &b = bank[a % 32];
                if (std::find(b.begin(), b.end(), a) == b.end()) b.push_back(a);
            }
            for (const auto &b : bank) worst = std::max(worst, (int)b.size());
        }
    for (int kk = 0; pad && kk < IG_BK; kk++)
        for (int m = 0; m < BM; m++)
            CHECK_MSG(seen[(size_t)kk * (BM + IG_APAD) + m] == 1, "BM %d: As[%d][%d] written %d times",
                      BM, kk, m, seen[(size_t)kk * (BM + IG_APAD) + m]);
    return worst;
}

#define SHAPE EMU_SHAPE

int main(void) {
    gh_rng rng;
    gh_rng_seed(&rng, 20261201, GH_STREAM_INIT);
    struct {
        const char *name;
        conv2d_shape sh;
        int bias;
    } cases[] = {
        //                                    n  c   h   w   k  r  s sh sw ph pw dh dw  g
        {"3x3 s1 odd", SHAPE(2, 3, 7, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1), 1},
        {"3x3 s2 k70", SHAPE(2, 5, 11, 13, 70, 3, 3, 2, 2, 1, 1, 1, 1, 1), 1},
        {"3x3 s2 even 8x8", SHAPE(2, 6, 8, 8, 12, 3, 3, 2, 2, 1, 1, 1, 1, 1), 0},
        {"1x1 s2 (FactorizedReduce)", SHAPE(4, 16, 8, 8, 8, 1, 1, 2, 2, 0, 0, 1, 1, 1), 0},
        {"1x1 s2 odd 7x9 c70", SHAPE(2, 70, 7, 9, 24, 1, 1, 2, 2, 0, 0, 1, 1, 1), 0},
        {"3x3 groups 2", SHAPE(2, 4, 9, 8, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2), 0},
        {"3x3 dil 2", SHAPE(2, 6, 10, 11, 8, 3, 3, 1, 1, 2, 2, 2, 2, 1), 1},
        {"5x5 s2 dil 2", SHAPE(2, 4, 13, 12, 6, 5, 5, 2, 2, 4, 4, 2, 2, 1), 0},
        {"3x3 s3 dil 2 pad 2", SHAPE(2, 3, 14, 16, 5, 3, 3, 3, 3, 2, 2, 2, 2, 1), 0},
        {"1x7 s1x2 pad 0x3", SHAPE(2, 8, 9, 12, 12, 1, 7, 1, 2, 0, 3, 1, 1, 1), 0},
        {"7x1 s2x1 pad 3x0", SHAPE(2, 8, 12, 9, 12, 7, 1, 2, 1, 3, 0, 1, 1, 1), 0},
        {"5x5 s3 groups 3 dil 1x2", SHAPE(2, 6, 17, 19, 9, 5, 5, 3, 3, 2, 4, 1, 2, 3), 1},
        {"3x3 s2 c70 k8", SHAPE(2, 70, 9, 10, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1), 0},
    };
    int caught = 0, strided = 0;
    for (const auto &cc : cases)
        for (int ints = 0; ints <= 1; ints++) {
            caught += run(cc.name, cc.sh, cc.bias, ints, &rng);
            strided += cc.sh.stride_h * cc.sh.stride_w > 1;
        }
    for (int BM = 16; BM <= 64; BM *= 2) {
        const int ways = a_stash_ways(BM, 1), unpadded = a_stash_ways(BM, 0);
        printf("  A stash at BM %d: %d-way bank conflicts (rows unpadded: %d-way)\n", BM, ways,
               unpadded);
        CHECK_MSG(ways == 1, "BM %d: the A stash has %d-way bank conflicts", BM, ways);
        CHECK_MSG(BM == 16 || unpadded > 1, "BM %d: unpadded rows conflict-free: the check is blind",
                  BM);
    }
    CHECK_MSG(strided >= 16 && caught >= strided,
              "%d strided runs, %d shifted phases caught", strided, caught);
    return check_done("test_conv_ig_emu");
}
