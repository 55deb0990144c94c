// tests/cuda: batch norm's training kernels replayed on the CPU (no GPU needed) with their own
// code (kernels/cuda/batchnorm.cuh: the split, bn_thread_partial for every thread of every
// block, bn_fwd_final / bn_bwd_final, the coefficients and the elementwise formulas), the
// block tree of gh_block_sum copied in its order. Checks: the split covers every element of a
// channel once (sums of ones), forward (y, saved and running statistics) and backward (dx,
// dgamma, dbeta) against the C reference at test_kernels_cuda's tolerances, and the one-pass
// variance within batchnorm.cuh's stated bound of an 80-bit two-pass variance, at
// |mean|/std = 1700 (x in [999, 1001]) and about 0.
#include <math.h>
#include <string.h>

#include <vector>

#include "check.h"
#include "emu_check.h"
#include "kernels/cuda/batchnorm.cuh"

static const kctx REF = {0};

// gh_block_sum's order: sh[t] += sh[t + s] for s = NT/2, ..., 1.
static double tree_sum(std::vector<double> v) {
    for (size_t s = v.size() / 2; s > 0; s >>= 1)
        for (size_t t = 0; t < s; t++) v[t] += v[t + s];
    return v[0];
}

// bn_stats_kernel<MODE, VEC> over the grid (S, c): part[(ch*S + s)*2 + {0,1}].
template <int MODE, bool VEC>
static void replay_stats(const bn_shape &sh, int S, const float *x, const float *dy,
                         const float *mean, std::vector<double> &part) {
    part.assign((size_t)2 * S * sh.c, NAN);
    std::vector<double> t0(BN_THREADS), t1(BN_THREADS);
    for (int ch = 0; ch < sh.c; ch++)
        for (int s = 0; s < S; s++) {
            int b0, b1;
            bn_rows(sh.n, S, s, &b0, &b1);
            for (int t = 0; t < BN_THREADS; t++) {
                const bn_pair a = bn_thread_partial<MODE, VEC>(
                    sh.c, sh.hw, b0, b1, ch, t, BN_THREADS, x, dy, MODE == 1 ? (double)mean[ch] : 0.0);
                t0[t] = a.a0;
                t1[t] = a.a1;
            }
            part[((size_t)ch * S + s) * 2 + 0] = tree_sum(t0);
            part[((size_t)ch * S + s) * 2 + 1] = tree_sum(t1);
        }
}

template <bool VEC>
static void replay_stats_any(int mode, const bn_shape &sh, int S, const float *x, const float *dy,
                             const float *mean, std::vector<double> &part) {
    if (mode == 0)
        replay_stats<0, VEC>(sh, S, x, dy, mean, part);
    else
        replay_stats<1, VEC>(sh, S, x, dy, mean, part);
}

// test_kernels_cuda's CLOSE: fp32 sums of N terms, rtol 1e-5 * max(1, sqrt(N)/8)
static void close(const char *what, const std::vector<float> &got, const std::vector<float> &want,
                  double terms) {
    double s = sqrt(terms > 1 ? terms : 1) / 8.0, rtol = 1e-5 * (s > 1.0 ? s : 1.0);
    check_close_f(what, got.data(), want.data(), got.size(), rtol * (emu_rms(want) + 1e-30), rtol,
                  __FILE__, __LINE__);
}

static std::vector<float> rnd(gh_rng *rng, size_t n, double lo, double hi) {
    std::vector<float> v(n);
    for (auto &x : v) x = (float)(lo + (hi - lo) * gh_rng_uniform(rng));
    return v;
}

static void run(const char *name, bn_shape sh, double shift, int vec, gh_rng *rng) {
    const size_t nx = (size_t)sh.n * sh.c * sh.hw, c = (size_t)sh.c;
    const double N = (double)sh.n * sh.hw;
    const int S = bn_splits(&sh);
    const bool V = vec && sh.hw % 4 == 0;
    std::vector<float> x = rnd(rng, nx, shift - 1.0, shift + 1.0), dy = rnd(rng, nx, -1, 1);
    std::vector<float> g = rnd(rng, c, 0.5, 1.5), bt = rnd(rng, c, -0.5, 0.5);
    std::vector<float> rm0 = rnd(rng, c, -0.1, 0.1), rv0 = rnd(rng, c, 0.9, 1.1);
    std::vector<float> dx0 = rnd(rng, nx, -1, 1), dg0 = rnd(rng, c, -1, 1), db0 = rnd(rng, c, -1, 1);
    std::vector<float> y_r(nx), sm_r(c), si_r(c), rm_r = rm0, rv_r = rv0;
    std::vector<float> dx_r = dx0, dg_r = dg0, db_r = db0;
    CHECK_OK(bn_fwd_train_ref(&REF, &sh, x.data(), g.data(), bt.data(), y_r.data(), sm_r.data(),
                              si_r.data(), rm_r.data(), rv_r.data()));
    CHECK_OK(bn_bwd_ref(&REF, &sh, x.data(), g.data(), sm_r.data(), si_r.data(), dy.data(),
                        dx_r.data(), dg_r.data(), db_r.data()));
    char what[200];
    const char *kind = V ? "float4" : "scalar";

    // coverage: the sum of ones over a channel is N exactly, once per element
    std::vector<float> ones(nx, 1.0f);
    std::vector<double> part;
    (V ? replay_stats_any<true> : replay_stats_any<false>)(0, sh, S, ones.data(), NULL, NULL, part);
    int covered = 1;
    for (size_t ch = 0; ch < c; ch++) covered &= bn_fwd_final(S, (int)ch, N, sh.eps, part.data()).mean == 1.0;
    double ones0 = 0;
    for (int s = 0; s < S; s++) ones0 += part[(size_t)s * 2];
    CHECK_MSG(covered && ones0 == N, "%s: the %d splits sum %.17g ones of %.17g in channel 0",
              name, S, ones0, N);

    // forward: statistics, then every block (s, ch) finalizes and applies to its images
    (V ? replay_stats_any<true> : replay_stats_any<false>)(0, sh, S, x.data(), NULL, NULL, part);
    std::vector<float> y(nx, NAN), sm(c, NAN), si(c, NAN), rm = rm0, rv = rv0;
    double worst_ratio = 0;
    for (int ch = 0; ch < sh.c; ch++) {
        for (int s = 0; s < S; s++) {
            const bn_fwd_stats r = bn_fwd_final(S, ch, N, sh.eps, part.data());
            if (s == 0)
                bn_fwd_store(r, ch, N, sh.momentum, sm.data(), si.data(), rm.data(), rv.data());
            float k[3];
            bn_fwd_coefs(r, ch, g.data(), bt.data(), k);
            int b0, b1;
            bn_rows(sh.n, S, s, &b0, &b1);
            for (int b = b0; b < b1; b++)
                for (int e = 0; e < sh.hw; e++) {
                    const size_t i = ((size_t)b * sh.c + ch) * sh.hw + e;
                    y[i] = bn_fwd_apply(x[i], k);
                }
        }
        // the stated bound against an 80-bit two-pass variance
        long double sum = 0, ss = 0;
        for (int b = 0; b < sh.n; b++)
            for (int e = 0; e < sh.hw; e++) sum += x[((size_t)b * sh.c + ch) * sh.hw + e];
        const long double mean = sum / N;
        for (int b = 0; b < sh.n; b++)
            for (int e = 0; e < sh.hw; e++) {
                const long double d = x[((size_t)b * sh.c + ch) * sh.hw + e] - mean;
                ss += d * d;
            }
        const double var = (double)(ss / N), m = (double)mean;
        const double L = ceil(N / ((double)S * BN_THREADS)) + 8 + S;
        const double bound = (3 * L + 4) * ldexp(1.0, -53) * (var + m * m);
        const double err = fabs(bn_fwd_final(S, ch, N, sh.eps, part.data()).var - var);
        if (err / bound > worst_ratio) worst_ratio = err / bound;
    }
    printf("  %s %s: one-pass variance error / stated bound: worst %.3g over %d channels\n",
           name, kind, worst_ratio, sh.c);
    CHECK_MSG(worst_ratio <= 1.0, "%s: one-pass variance beyond the stated bound (%.3g)", name,
              worst_ratio);
    snprintf(what, sizeof what, "%s %s fwd y", name, kind);
    close(what, y, y_r, N);
    snprintf(what, sizeof what, "%s %s save_mean", name, kind);
    close(what, sm, sm_r, N);
    snprintf(what, sizeof what, "%s %s save_invstd", name, kind);
    close(what, si, si_r, N);
    snprintf(what, sizeof what, "%s %s running mean", name, kind);
    close(what, rm, rm_r, N);
    snprintf(what, sizeof what, "%s %s running var", name, kind);
    close(what, rv, rv_r, N);

    // backward from the reference's saved statistics, as test_kernels_cuda does
    (V ? replay_stats_any<true> : replay_stats_any<false>)(1, sh, S, x.data(), dy.data(),
                                                           sm_r.data(), part);
    std::vector<float> dx = dx0, dg = dg0, db = db0;
    for (int ch = 0; ch < sh.c; ch++)
        for (int s = 0; s < S; s++) {
            const double invstd = si_r[ch];
            const bn_bwd_sums r = bn_bwd_final(S, ch, invstd, part.data());
            if (s == 0) {
                db[ch] += (float)r.sdy;
                dg[ch] += (float)r.sdyxhat;
            }
            float k[5];
            bn_bwd_coefs(r, ch, N, invstd, g.data(), sm_r.data(), k);
            int b0, b1;
            bn_rows(sh.n, S, s, &b0, &b1);
            for (int b = b0; b < b1; b++)
                for (int e = 0; e < sh.hw; e++) {
                    const size_t i = ((size_t)b * sh.c + ch) * sh.hw + e;
                    dx[i] += bn_bwd_dx(x[i], dy[i], k);
                }
        }
    snprintf(what, sizeof what, "%s %s bwd dx", name, kind);
    close(what, dx, dx_r, N);
    snprintf(what, sizeof what, "%s %s bwd dgamma", name, kind);
    close(what, dg, dg_r, N);
    snprintf(what, sizeof what, "%s %s bwd dbeta", name, kind);
    close(what, db, db_r, N);
}

int main(void) {
    gh_rng rng;
    gh_rng_seed(&rng, 20261203, GH_STREAM_INIT);
    struct {
        const char *name;
        bn_shape sh;
        double shift;
    } cases[] = {
        {"n4 c3 hw25", {4, 3, 25, 1e-5f, 0.1f}, 0.5},
        {"n32 c4 hw1024 (split)", {32, 4, 1024, 1e-5f, 0.1f}, 0.5},
        {"n33 c5 hw256 (split, uneven)", {33, 5, 256, 1e-5f, 0.1f}, 0.0},
        {"n3 c7 hw9 (odd hw)", {3, 7, 9, 1e-3f, 0.3f}, 0.5},
        {"n64 c16 hw1024 (DARTS C=16, batch 64)", {64, 16, 1024, 1e-5f, 0.1f}, 0.0},
        {"n16 c8 hw1024 mean/std 1700", {16, 8, 1024, 1e-5f, 0.1f}, 1000.0},
    };
    int split = 0;
    for (const auto &cc : cases) {
        split += bn_splits(&cc.sh) > 1 && cc.sh.n % bn_splits(&cc.sh) != 0;
        for (int vec = 0; vec <= 1; vec++) {
            if (vec && cc.sh.hw % 4) continue;
            run(cc.name, cc.sh, cc.shift, vec, &rng);
        }
    }
    CHECK_MSG(split >= 1, "no case splits its images unevenly (%d)", split);
    return check_done("test_bn_emu");
}
