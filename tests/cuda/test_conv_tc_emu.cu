// tests/cuda: the tensor-core convs' index math and shared-memory layout on the CPU (no GPU
// needed). Each block of conv_tc_kernel<mode, precision, vec> is replayed on the host with the
// kernel's own code (kernels/cuda/conv_tc.cuh, compiled for the host too: tc_op's a_src, b_src,
// store, tc_smem's pitches and per-thread slots, tc_plan_vec): every K slice is staged, thread
// by thread, into a shared-memory image that starts as NaN (an unstaged slot poisons the
// output), from 4-byte copies and, where tc_plan_vec takes them, from 16-byte vectors, whose
// image must equal the 4-byte one bit for bit; the tile product is summed in double from the
// image, and the epilogue writes through store. Forward, backward data and the weight
// gradient must equal the C reference (within FP32 summation error), exactly on small
// integers; the split plan must stay within conv2d_ws_floats_cuda's workspace. A vector put
// one slot off must be caught. Every staging store, fragment read (TF32: the PTX ISA's
// mma.m16n8k8 places, an assumption, WMMA's layout is opaque; BF16: ldmatrix rows) and
// epilogue access must be free of bank conflicts.
#include <math.h>
#include <string.h>

#include <vector>

#include "check.h"
#include "emu_check.h"
#include "kernels/cuda/conv_tc.cuh"

static const kctx REF = {0};

struct tally {
    long slices, vec_slices, mismatched;  // slices staged; with vectors; image bits that differ
    int fwd_a, fwd_b, bfilt_a, refused;   // replays by vector path; aligned-only refusals
    size_t bdata_k;  // backward data: K x columns of the first M tile's blocks (stride phases)
};

// One K slice of one block, as the kernel stages it: every thread's copies into the images
// As (TC_BM x LDA) and Bs (BK x LDB), in elements (values unrounded: the rounding to BF16 is
// the same on either path). ops[t]: thread t's gather state. mutant: vectors of A go to the
// other 16-byte half of their 32 bytes (a wrong slot), to show the comparison bites.
template <int MODE, int PREC>
static void stage(const tc_geom &g, const tc_args &a, const std::vector<tc_op<MODE>> &ops,
                  int m0, int k0, bool va, bool vb, bool mutant, float *As, float *Bs) {
    typedef tc_smem<PREC> L;
    for (int t = 0; t < TC_THREADS; t++) {
        const tc_op<MODE> &op = ops[t];
        if (va) {
            for (int l = 0; l < L::NAV; l++) {
                const int m = L::av_m(t) + L::AV_STEP * l, k = L::av_k(t);
                const float *p = op.a_src(g, a, m0 + m, k0 + k);
                float *d = As + m * L::LDA + (mutant ? k ^ 4 : k);
                for (int e = 0; e < 4; e++) d[e] = p ? p[e] : 0.0f;
            }
        } else {
            for (int l = 0; l < L::NA; l++) {
                const int m = L::a_m(t) + L::A_STEP * l;
                for (int e = 0; e < L::KV; e++) {
                    const float *p = op.a_src(g, a, m0 + m, k0 + L::a_k(t) + e);
                    As[m * L::LDA + L::a_k(t) + e] = p ? *p : 0.0f;
                }
            }
        }
        if (vb) {
            for (int l = 0; l < L::NBV; l++) {
                const int k = L::bv_k(t) + L::BV_STEP * l;
                const float *p = op.b_src(g, a, k0 + k);
                for (int e = 0; e < 4; e++) Bs[k * L::LDB + L::bv_n(t) + e] = p ? p[e] : 0.0f;
            }
        } else {
            for (int l = 0; l < L::NB; l++) {
                const int k = L::b_k(t) + L::B_STEP * l;
                const float *p = op.b_src(g, a, k0 + k);
                Bs[k * L::LDB + L::b_n(t)] = p ? *p : 0.0f;
            }
        }
    }
}

// Replays every block of one GEMM with the vector choice (va, vb); with vectors, the 4-byte
// staging of each slice too, its image compared bit for bit. Out as the kernel's.
template <int MODE, int PREC>
static void emulate(const tc_geom &g, const tc_args &a, bool va, bool vb, bool mutant,
                    tally *ty) {
    typedef tc_smem<PREC> L;
    const int BK = L::BK;
    const int M = MODE == TC_BDATA ? g.cg : g.kg;
    // the kernel's grid: the backward data's N is the largest stride phase's, z = group x
    // (splits or phases)
    const int N = MODE == TC_FWD     ? g.n * g.p * g.q
                  : MODE == TC_BDATA ? g.n * phase_max(g.h, g.sh) * phase_max(g.w, g.sw)
                                     : g.cg * g.r * g.s;
    const int nz = MODE == TC_BFILT ? g.splits : MODE == TC_BDATA ? g.sh * g.sw : 1;
    const int Z = g.groups * nz;
    const bool vec = va || vb;
    std::vector<double> C((size_t)TC_BM * TC_BN);
    std::vector<float> As(L::A_SZ), Bs(L::B_SZ), As4(L::A_SZ), Bs4(L::B_SZ);
    std::vector<tc_op<MODE>> ops(TC_THREADS), ops4(TC_THREADS);
    for (int z = 0; z < Z; z++) {
        const int split = z % nz;
        const int grp = z / nz;
        for (int m0 = 0; m0 < M; m0 += TC_BM)
            for (int n0 = 0; n0 < N; n0 += TC_BN) {
                for (int t = 0; t < TC_THREADS; t++) {  // the kernel's staging column
                    ops[t].init(g, grp, m0, n0 + (vb ? L::bv_n(t) : L::b_n(t)), split);
                    ops4[t].init(g, grp, m0, n0 + L::b_n(t), split);
                }
                const int K = ops[0].klen(g), nk = (K + BK - 1) / BK;
                if constexpr (MODE == TC_BDATA) {  // the kernel's early exit
                    if (n0 >= ops[0].ncols || K == 0) continue;
                    if (m0 == 0) ty->bdata_k += (size_t)K * std::min(TC_BN, ops[0].ncols - n0);
                }
                std::fill(C.begin(), C.end(), 0.0);
                for (int kt = 0; kt < nk; kt++) {
                    std::fill(As.begin(), As.end(), NAN);
                    std::fill(Bs.begin(), Bs.end(), NAN);
                    stage<MODE, PREC>(g, a, ops, m0, kt * BK, va, vb, mutant, As.data(),
                                      Bs.data());
                    ty->slices++;
                    if (vec) {
                        std::fill(As4.begin(), As4.end(), NAN);
                        std::fill(Bs4.begin(), Bs4.end(), NAN);
                        stage<MODE, PREC>(g, a, ops4, m0, kt * BK, false, false, false,
                                          As4.data(), Bs4.data());
                        ty->vec_slices++;
                        for (int i = 0; i < L::A_SZ; i++)
                            ty->mismatched += memcmp(&As[i], &As4[i], sizeof(float)) != 0;
                        for (int i = 0; i < L::B_SZ; i++)
                            ty->mismatched += memcmp(&Bs[i], &Bs4[i], sizeof(float)) != 0;
                    }
                    // the fragments read rows 0..63 and columns 0..BK-1 of A, rows 0..BK-1 and
                    // columns 0..63 of B: never the pads
                    for (int m = 0; m < TC_BM; m++)
                        for (int k = 0; k < BK; k++) {
                            const double av = As[m * L::LDA + k];
                            if (av == 0.0) continue;
                            double *c = &C[(size_t)m * TC_BN];
                            const float *b = &Bs[k * L::LDB];
                            for (int n = 0; n < TC_BN; n++) c[n] += av * b[n];
                        }
                }
                for (int t = 0; t < TC_THREADS; t++) {  // the epilogue: column b_n, rows b_k+2i
                    const tc_op<MODE> &op = ops4[t];
                    if (!op.col_ok) continue;
                    const int mmax = op.mlen(g) - m0;
                    for (int m = L::b_k(t); m < TC_BM && m < mmax; m += L::B_STEP)
                        op.store(g, a, m0 + m, (float)C[(size_t)m * TC_BN + L::b_n(t)]);
                }
            }
    }
}

// Buffers at a chosen misalignment (0: as allocated, 16-byte aligned on this host; 1: one
// float on, which tc_plan_vec must refuse).
struct buf {
    std::vector<float> v;
    int off;
    buf(const std::vector<float> &x, int off_) : v(x.size() + 1), off(off_) {
        std::copy(x.begin(), x.end(), v.begin() + off);
    }
    float *p() { return v.data() + off; }
    std::vector<float> get(size_t n) const { return {v.begin() + off, v.begin() + off + n}; }
};

template <int PREC>
static void run_prec(const char *name, const conv2d_shape &sh, tc_geom g, int bias, int ints,
                     int misalign, gh_rng *rng, tally *ty) {
    const emu_conv_data d = emu_conv_rnd(sh, rng, ints);
    const size_t nx = d.nx, nw = d.nw, ny = d.ny;
    const std::vector<float> &x = d.x, &w = d.w, &b = d.b, &dy = d.dy, &dx0 = d.dx0;
    const std::vector<float> &dw0 = d.dw0;
    std::vector<float> ry(ny), rdx = dx0, rdw = dw0;
    CHECK_OK(conv2d_fwd_ref(&REF, &sh, x.data(), w.data(), bias ? b.data() : NULL, ry.data()));
    CHECK_OK(conv2d_bwd_ref(&REF, &sh, x.data(), w.data(), dy.data(), rdx.data(), rdw.data(),
                            NULL));
    buf bx(x, misalign), bw(w, misalign), bdy(dy, misalign), by(std::vector<float>(ny, NAN), 0);
    buf bdx(dx0, 0), bdw(dw0, 0);
    const char *pn = PREC == GH_PREC_TF32 ? "tf32" : "bf16";
    const char *kind = ints ? "integers" : "random";
    char what[240];

    tc_args af = {bx.p(), bw.p(), NULL, bias ? b.data() : NULL, by.p()};
    tc_geom gf = g;
    tc_plan_vec(TC_FWD, &gf, af);
    ty->fwd_a += gf.vec_a;
    ty->fwd_b += gf.vec_b;
    const long mis0 = ty->mismatched;
    emulate<TC_FWD, PREC>(gf, af, gf.vec_a, gf.vec_b, false, ty);
    snprintf(what, sizeof what, "%s %s %s%s fwd (vectors A %d B %d)", name, pn, kind,
             misalign ? " misaligned" : "", gf.vec_a, gf.vec_b);
    emu_compare(what, by.get(ny), ry, ints);

    tc_args ad = {NULL, bw.p(), bdy.p(), NULL, bdx.p()};
    tc_geom gd = g;
    tc_plan_vec(TC_BDATA, &gd, ad);
    CHECK_MSG(!gd.vec_a && !gd.vec_b, "%s: backward data's gathers took vectors", name);
    const size_t k0 = ty->bdata_k;
    emulate<TC_BDATA, PREC>(gd, ad, false, false, false, ty);
    snprintf(what, sizeof what, "%s %s %s%s dx +=", name, pn, kind, misalign ? " misaligned" : "");
    emu_compare(what, bdx.get(nx), rdx, ints);
    // by stride phase: at most the unphased GEMM's K x N, and at stride >= 2x2 (r*s > 1 or
    // not) under a third of it
    const size_t unphased = (size_t)g.groups * g.kg * g.r * g.s * g.n * g.h * g.w;
    const size_t visited = ty->bdata_k - k0;
    CHECK_MSG(visited <= unphased && (g.sh * g.sw < 4 || 3 * visited <= unphased),
              "%s: backward data visits %zu of the unphased %zu (K x N) at stride %dx%d", name,
              visited, unphased, g.sh, g.sw);
    if (!ints && !misalign && PREC == GH_PREC_TF32 && g.sh * g.sw > 1)
        printf("  %s: backward data K x N %zu of the unphased %zu (%.2f)\n", name, visited,
               unphased, (double)visited / unphased);

    tc_geom gw = g;
    tc_plan_wgrad(&sh, &gw);
    const size_t ws = conv2d_ws_floats_cuda(&sh), need = gw.splits > 1 ? gw.splits * nw : 0;
    CHECK_MSG(need <= ws, "%s: %d splits need %zu floats, the workspace has %zu", name,
              gw.splits, need, ws);
    CHECK_MSG(gw.chunk % 16 == 0 && (size_t)gw.splits * gw.chunk >= (size_t)g.n * g.p * g.q &&
              (size_t)(gw.splits - 1) * gw.chunk < (size_t)g.n * g.p * g.q,
              "%s: %d chunks of %d do not cover %d pixels once", name, gw.splits, gw.chunk,
              g.n * g.p * g.q);
    std::vector<float> part(need ? need : 1, NAN);
    tc_args aw = {bx.p(), NULL, bdy.p(), NULL, gw.splits > 1 ? part.data() : bdw.p()};
    tc_plan_vec(TC_BFILT, &gw, aw);
    ty->bfilt_a += gw.vec_a;
    CHECK_MSG(!gw.vec_b, "%s: the weight gradient's x gather took vectors", name);
    emulate<TC_BFILT, PREC>(gw, aw, gw.vec_a, false, false, ty);
    std::vector<float> dw = bdw.get(nw);
    for (size_t i = 0; gw.splits > 1 && i < nw; i++) {  // tc_split_reduce_kernel's order
        float acc = 0.0f;
        for (int s = 0; s < gw.splits; s++) acc += part[(size_t)s * nw + i];
        dw[i] += acc;
    }
    snprintf(what, sizeof what, "%s %s %s%s dw += (%d splits, vectors A %d)", name, pn, kind,
             misalign ? " misaligned" : "", gw.splits, gw.vec_a);
    emu_compare(what, dw, rdw, ints);
    CHECK_MSG(ty->mismatched == mis0, "%s %s: %ld slots of the vector staging differ from the "
              "4-byte staging's", name, pn, ty->mismatched - mis0);

    // the same shape aligned must take the vectors the misaligned one was refused
    if (misalign) {
        tc_geom ga = g, gb = g;
        tc_args fa = {x.data(), w.data(), NULL, NULL, NULL}, wa = {x.data(), NULL, dy.data()};
        tc_plan_vec(TC_FWD, &ga, fa);
        tc_plan_wgrad(&sh, &gb);
        tc_plan_vec(TC_BFILT, &gb, wa);
        CHECK_MSG(!gf.vec_a && !gf.vec_b && !gw.vec_a, "%s: misaligned pointers took vectors",
                  name);
        ty->refused += ga.vec_a + ga.vec_b + gb.vec_a;
    }
}

static void run(const char *name, conv2d_shape sh, int bias, gh_rng *rng, tally *ty) {
    tc_geom g;
    CHECK_OK(conv2d_shape_init(&sh));
    if (tc_geom_make("emu", &sh, &g)) return;
    // random values aligned; integers aligned and one float off (4-byte copies only)
    for (int v = 0; v < 3; v++) {
        const int ints = v > 0, mis = v == 2;
        run_prec<GH_PREC_TF32>(name, sh, g, bias, ints, mis, rng, ty);
        run_prec<GH_PREC_BF16>(name, sh, g, bias, ints, mis, rng, ty);
    }
}

// A vector put in the wrong 16 bytes must show in the image comparison and in the result.
template <int PREC>
static void mutant_caught(gh_rng *rng) {
    conv2d_shape sh = {2, 16, 8, 8, 16, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0};
    tc_geom g;
    CHECK_OK(conv2d_shape_init(&sh));
    CHECK_OK(tc_geom_make("emu", &sh, &g));
    const size_t nx = (size_t)g.n * g.c * g.h * g.w, nw = (size_t)g.k * g.c, ny = nx;
    const std::vector<float> x = emu_rnd(rng, nx, 1), w = emu_rnd(rng, nw, 1);
    std::vector<float> y(ny, NAN), ry(ny);
    CHECK_OK(conv2d_fwd_ref(&REF, &sh, x.data(), w.data(), NULL, ry.data()));
    tc_args a = {x.data(), w.data(), NULL, NULL, y.data()};
    tc_plan_vec(TC_FWD, &g, a);
    CHECK(g.vec_a && g.vec_b);
    tally ty = {};
    emulate<TC_FWD, PREC>(g, a, true, true, true, &ty);
    size_t wrong = 0;
    for (size_t i = 0; i < ny; i++) wrong += !(y[i] == ry[i]);
    printf("  mutant (%s): %ld slots differ, %zu of %zu outputs wrong\n",
           PREC == GH_PREC_TF32 ? "tf32" : "bf16", ty.mismatched, wrong, ny);
    CHECK(ty.mismatched > 0 && wrong > 0);
}

// The bank conflicts of one precision's shared-memory accesses, per warp and instruction.
// ldb: B's pitch (the kernel's, or another to show the check bites). Returns the worst ratio
// of wavefronts to the conflict-free count over the patterns, printing each.
template <int PREC>
static double banks(int ldb, int verbose) {
    typedef tc_smem<PREC> L;
    const int es = (int)sizeof(typename L::T), lda = L::LDA, ldc = L::LDC;
    const int boff = 2 * L::A_SZ * es;  // B's stages follow A's two
    double worst = 0;
    auto pattern = [&](const char *what, int width, int count, auto addr_of) {
        int got = 0, ideal = 0;
        for (int w = 0; w < TC_THREADS / 32; w++)
            for (int i = 0; i < count; i++) {
                std::vector<int> ad(32);
                for (int lane = 0; lane < 32; lane++) ad[lane] = addr_of(32 * w + lane, lane, w, i);
                got += emu_wavefronts(ad, width);
                ideal += emu_wavefronts_min(32, width);
            }
        worst = std::max(worst, (double)got / ideal);
        if (verbose)
            printf("  %s %-34s %2d-byte: %4d wavefronts, conflict-free %4d\n",
                   PREC == GH_PREC_TF32 ? "tf32" : "bf16", what, width, got, ideal);
    };
    pattern("A stores, 4 bytes", 4, L::NA, [&](int t, int, int, int l) {
        return ((L::a_m(t) + L::A_STEP * l) * lda + L::a_k(t)) * es;
    });
    pattern("A stores, vectors", 4 * es, L::NAV, [&](int t, int, int, int l) {
        return ((L::av_m(t) + L::AV_STEP * l) * lda + L::av_k(t)) * es;
    });
    pattern("B stores, one element", es, L::NB, [&](int t, int, int, int l) {
        return boff + ((L::b_k(t) + L::B_STEP * l) * ldb + L::b_n(t)) * es;
    });
    pattern("B stores, vectors", 4 * es, L::NBV, [&](int t, int, int, int l) {
        return boff + ((L::bv_k(t) + L::BV_STEP * l) * ldb + L::bv_n(t)) * es;
    });
    // fragment loads, as the SASS has them (cuobjdump -sass): TF32 one LDS.32 per element, at
    // the PTX ISA's mma.m16n8k8 places (lane 4g + t4; an assumption, WMMA's layout is opaque):
    // A registers r at row g + 8(r&1), column t4 + 4(r>>1); B (k t4 + 4r, n g) per 8-column
    // half h of fragment j. BF16 one ldmatrix (LDSM.16.M88.4, .MT88.4 for B) per fragment:
    // four 8 x 8 tiles, each 8 rows of 16 bytes (a row address per lane, a phase per tile)
    if (PREC == GH_PREC_TF32) {
        pattern("A fragment loads (LDS.32)", 4, 2 * 4, [&](int, int lane, int w, int q) {
            const int i = q / 4, r = q % 4, g = lane / 4, t4 = lane % 4;
            const int row = (w / 2) * 32 + i * 16 + g + 8 * (r & 1);
            return (row * lda + t4 + 4 * (r >> 1)) * es;
        });
        pattern("B fragment loads (LDS.32)", 4, 2 * 2 * 2, [&](int, int lane, int w, int q) {
            const int j = q / 4, h = q / 2 % 2, r = q % 2, g = lane / 4, t4 = lane % 4;
            const int n = (w % 2) * 32 + j * 16 + h * 8 + g;
            return boff + ((t4 + 4 * r) * ldb + n) * es;
        });
    } else {
        pattern("A fragment loads (LDSM.x4)", 16, 2, [&](int, int lane, int w, int i) {
            const int tile = lane / 8, row = (w / 2) * 32 + i * 16 + lane % 8 + 8 * (tile & 1);
            return (row * lda + 8 * (tile >> 1)) * es;
        });
        pattern("B fragment loads (LDSM.x4.trans)", 16, 2, [&](int, int lane, int w, int j) {
            const int tile = lane / 8, k = lane % 8 + 8 * (tile & 1);
            return boff + (k * ldb + (w % 2) * 32 + j * 16 + 8 * (tile >> 1)) * es;
        });
    }
    // epilogue: accumulator pairs (row g + 8r, columns 2t4, 2t4+1) of each 16 x 8 block, 8
    // bytes; then thread t reads column b_n of rows b_k + 2i
    pattern("C fragment stores", 8, 2 * 2 * 2 * 2, [&](int, int lane, int w, int q) {
        const int i = q / 8, j = q / 4 % 2, h = q / 2 % 2, r = q % 2, g = lane / 4, t4 = lane % 4;
        const int row = (w / 2) * 32 + i * 16 + g + 8 * r;
        return (row * ldc + (w % 2) * 32 + j * 16 + h * 8 + 2 * t4) * 4;
    });
    pattern("C reads", 4, TC_BM / L::B_STEP, [&](int t, int, int, int i) {
        return ((L::b_k(t) + L::B_STEP * i) * ldc + L::b_n(t)) * 4;
    });
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
        // the vector paths: DARTS pointwise convs (x and w in 16 bytes), across M tiles, with
        // groups, an odd K (w refused, x taken), odd planes (x refused, w taken), a 3x3 with
        // K a multiple of 4 (w taken, the im2col gather not)
        {"1x1 c16 k16 8x8", SHAPE(2, 16, 8, 8, 16, 1, 1, 1, 1, 0, 0, 1, 1, 1), 1},
        {"1x1 c36 k70 12x12", SHAPE(2, 36, 12, 12, 70, 1, 1, 1, 1, 0, 0, 1, 1, 1), 0},
        {"1x1 groups 2 c24 k16 6x6", SHAPE(3, 24, 6, 6, 16, 1, 1, 1, 1, 0, 0, 1, 1, 2), 1},
        {"1x1 c7 k8 odd K", SHAPE(2, 7, 4, 6, 8, 1, 1, 1, 1, 0, 0, 1, 1, 1), 0},
        {"1x1 c8 k12 7x7 odd planes", SHAPE(2, 8, 7, 7, 12, 1, 1, 1, 1, 0, 0, 1, 1, 1), 0},
        {"3x3 c4 k20 10x12", SHAPE(2, 4, 10, 12, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1), 1},
        {"split-K 1x1 n8 c16 k24 32x32", SHAPE(8, 16, 32, 32, 24, 1, 1, 1, 1, 0, 0, 1, 1, 1), 0},
    };
    tally ty = {};
    int split_cases = 0;
    for (const auto &cc : cases) run(cc.name, cc.sh, cc.bias, &rng, &ty);
    for (const auto &cc : cases) {  // the split-K path must be among those replayed
        conv2d_shape sh = cc.sh;
        tc_geom g;
        if (conv2d_shape_init(&sh) || tc_geom_make("emu", &sh, &g)) continue;
        tc_plan_wgrad(&sh, &g);
        split_cases += g.splits > 1;
    }
    CHECK_MSG(split_cases >= 3, "only %d cases split the weight gradient", split_cases);
    printf("%ld slices staged, %ld of them with vectors (%ld slots differing from the 4-byte "
           "staging); vector replays: forward w %d, forward x %d, weight gradient dy %d; %d "
           "refused for alignment alone\n", ty.slices, ty.vec_slices, ty.mismatched, ty.fwd_a,
           ty.fwd_b, ty.bfilt_a, ty.refused);
    CHECK(ty.mismatched == 0);
    // per precision, over the aligned runs (random and integers): each vector path on several
    // shapes, and refused where misaligned
    CHECK(ty.fwd_a >= 2 * 2 * 8 && ty.fwd_b >= 2 * 2 * 5 && ty.bfilt_a >= 2 * 2 * 8);
    CHECK(ty.refused >= 2 * 10);
    mutant_caught<GH_PREC_TF32>(&rng);
    mutant_caught<GH_PREC_BF16>(&rng);

    // bank conflicts: none anywhere at the kernel's pitches; B at 68 (the former pad of 16
    // bytes) gives TF32's fragment loads 2-way conflicts, BF16's ldmatrix at 68 (136-byte rows)
    // too, which the count must see
    const double tf = banks<GH_PREC_TF32>(tc_smem<GH_PREC_TF32>::LDB, 1);
    const double bf = banks<GH_PREC_BF16>(tc_smem<GH_PREC_BF16>::LDB, 1);
    CHECK_MSG(tf == 1.0 && bf == 1.0, "bank conflicts: %.2f (tf32), %.2f (bf16) wavefronts per "
              "conflict-free one", tf, bf);
    const double tf68 = banks<GH_PREC_TF32>(68, 0), bf68 = banks<GH_PREC_BF16>(68, 0);
    printf("  B's pitch 68: %.2f (tf32), %.2f (bf16) wavefronts per conflict-free one at worst\n",
           tf68, bf68);
    CHECK(tf68 == 2.0 && bf68 == 2.0);
    return check_done("test_conv_tc_emu");
}
