// tests/cuda: pool.cu's, softmax.cu's and wsum.cu's kernels replayed on the CPU (no GPU needed):
// every thread of every block of the launch the host would make, running the kernels' own
// __host__ __device__ code (kernels/cuda/pool.cuh, softmax.cuh, wsum.cuh), the warp butterflies
// and block trees emulated in their order, against the C references (kernels/cpu).
// Exact (bit for bit, NaN and -inf included): max pooling's values, argmax and both backwards,
// average pooling forward and backward (count_include_pad=False at the borders), global average
// pooling and wsum on small integers; within 1e-5 of rms plus 1e-5 relative: softmax and
// cross-entropy (float sums in lane order against double references; host expf is not the
// device's either), wsum and gap on uniform floats. Every output is written by exactly one
// thread. Both index widths, and the host's choice of width at 2^31. Each replay takes a fault
// (a window off by one, a decode with the wrong row length, a dropped lane partial, a
// misplaced block partial) that must make the comparison fail: the test can fail.
#include <stdint.h>
#include <string.h>

#include <vector>

#include "check.h"
#include "emu_check.h"
#include "kernels/cuda/pool.cuh"
#include "kernels/cuda/softmax.cuh"
#include "kernels/cuda/wsum.cuh"

static const kctx REF = {0};

enum fault { F_NONE, F_WINDOW, F_DECODE, F_LANE, F_PARTIAL };
static const char *fault_name[] = {"none", "window off by one", "decode row length off by one",
                                   "lane partial dropped", "block partial misplaced"};

// Elements that differ: exact (bits, any NaN equal to any NaN) when tol < 0, else
// |g - w| > tol * (rms(want) + |w|). Prints the first few unless quiet.
static size_t emu_diff(const char *what, const float *got, const float *want, size_t n, double tol,
                       bool quiet, double *worst) {
    *worst = 0;
    double rms = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(want[i])) rms += (double)want[i] * want[i];
    rms = n ? sqrt(rms / n) : 0;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        const float g = got[i], w = want[i];
        bool ok;
        if (isnan(g) || isnan(w)) ok = isnan(g) && isnan(w);
        else if (tol < 0 || !isfinite(w)) ok = memcmp(&g, &w, sizeof g) == 0 || (g == 0 && w == 0);
        else {
            const double q = fabs((double)g - w) / (tol * (rms + fabs((double)w)) + 1e-300);
            *worst = q > *worst ? q : *worst;
            ok = q <= 1.0;
        }
        if (!ok && bad++ < 3 && !quiet)
            fprintf(stderr, "  %s [%zu]: got %.9g want %.9g\n", what, i, g, w);
    }
    return bad;
}

// One comparison of a replay: counted as a check unless the replay ran with a fault, whose
// mismatches the caller sums instead.
struct emu_run {
    enum fault fault;
    size_t bad;  // mismatches over every comparison of this run
};
static void emu_cmp(emu_run *r, const char *what, const float *got, const float *want, size_t n,
                    double tol) {
    double worst;
    const size_t bad = emu_diff(what, got, want, n, tol, r->fault != F_NONE, &worst);
    r->bad += bad;
    if (r->fault != F_NONE) return;
    CHECK_MSG(bad == 0, "%s: %zu of %zu differ (%s)", what, bad, n, tol < 0 ? "exact" : "tolerance");
    if (bad == 0 && tol < 0) printf("  ok   %-60s n=%-8zu exact\n", what, n);
    else if (bad == 0) printf("  ok   %-60s n=%-8zu worst diff/tol %.3g\n", what, n, worst);
}
static void emu_cmpi(emu_run *r, const char *what, const int *got, const int *want, size_t n) {
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += got[i] != want[i];
    r->bad += bad;
    if (r->fault == F_NONE) CHECK_MSG(bad == 0, "%s: %zu of %zu indices differ", what, bad, n);
}
#define EMU_TOL 1e-5

// Every output written once: the grid-stride decode covers the tensor without overlap.
static void emu_cover(emu_run *r, const char *what, const std::vector<int> &hits) {
    size_t bad = 0;
    for (int h : hits) bad += h != 1;
    r->bad += bad;
    if (r->fault == F_NONE)
        CHECK_MSG(bad == 0, "%s: %zu of %zu elements not written exactly once", what, bad,
                  hits.size());
}

// GH_GRID_STRIDE_T(I, i, total) of every thread of `blocks` blocks of `threads`.
template <typename I, class F>
static void emu_grid(size_t total, unsigned blocks, unsigned threads, F f) {
    for (unsigned b = 0; b < blocks; b++)
        for (unsigned t = 0; t < threads; t++)
            for (I i = (I)b * threads + t; i < (I)total; i += (I)blocks * threads) f(i);
}

// gh_warp_sum / gh_warp_max: lane l adds lane l ^ o's value for o = 16, 8, 4, 2, 1 (every
// lane ends with the same bits); F_LANE drops lane 31's partial first.
template <typename T>
static T emu_warp_sum(T v[32], enum fault f) {
    if (f == F_LANE) v[31] = 0;
    for (int o = 16; o > 0; o >>= 1) {
        T n[32];
        for (int l = 0; l < 32; l++) n[l] = v[l] + v[l ^ o];
        memcpy(v, n, sizeof n);
    }
    return v[0];
}
static float emu_warp_max(float v[32], enum fault f) {
    if (f == F_LANE) v[31] = -INFINITY;
    for (int o = 16; o > 0; o >>= 1) {
        float n[32];
        for (int l = 0; l < 32; l++) n[l] = fmaxf(v[l], v[l ^ o]);
        memcpy(v, n, sizeof n);
    }
    return v[0];
}
// gh_block_sum<T, NT>: sh[t] += sh[t + s] for s = NT/2, ..., 1.
template <typename T, int NT>
static T emu_block_sum(T *sh) {
    for (int s = NT / 2; s > 0; s >>= 1)
        for (int t = 0; t < s; t++) sh[t] += sh[t + s];
    return sh[0];
}

// ---- pooling ---------------------------------------------------------------------------------

// Inputs: small integers (ties everywhere) or uniform floats, with some -inf and NaN.
static std::vector<float> pool_input(gh_rng *rng, size_t n, int ints, int specials) {
    std::vector<float> x = emu_rnd(rng, n, ints);
    if (specials)
        for (size_t i = 0; i < n; i += 1 + gh_rng_below(rng, 23))
            x[i] = gh_rng_below(rng, 3) == 0 ? NAN : -INFINITY;
    return x;
}

// The four pooling kernels and their backwards on one shape, in index type I.
template <typename I>
static size_t run_pool(const char *iname, pool_shape sh, int ints, int specials, enum fault f,
                       gh_rng *rng) {
    CHECK_OK(pool_shape_init(&sh));
    const pool_geom g = {sh.n, sh.c, sh.h, sh.w, sh.kh, sh.kw, sh.stride, sh.pad, sh.p, sh.q};
    pool_geom gt = g;  // the geometry the threads' window code sees
    if (f == F_WINDOW) gt.pad += 1;
    const int qd = f == F_DECODE ? g.q + 1 : g.q, wd = f == F_DECODE ? g.w + 1 : g.w;
    const size_t nx = (size_t)g.n * g.c * g.h * g.w, ny = (size_t)g.n * g.c * g.p * g.q;
    const I hw = (I)g.h * g.w, pq = (I)g.p * g.q;
    std::vector<float> x = pool_input(rng, nx, ints, specials), dy = emu_rnd(rng, ny, ints);
    std::vector<float> dx0 = emu_rnd(rng, nx, ints);
    emu_run r = {f, 0};
    char what[200], shape[120];
    snprintf(shape, sizeof shape, "[%d,%d,%d,%d] k%dx%d s%d p%d %s%s%s", g.n, g.c, g.h, g.w, g.kh,
             g.kw, g.stride, g.pad, iname, ints ? " ints" : "", specials ? " nan/inf" : "");

    // references
    std::vector<float> rmax(ny), ravg(ny), rdxm = dx0, rdxi = dx0, rdxa = dx0;
    std::vector<int> ridx(ny);
    CHECK_OK(maxpool_fwd_idx_ref(&REF, &sh, x.data(), rmax.data(), ridx.data()));
    CHECK_OK(maxpool_bwd_ref(&REF, &sh, x.data(), dy.data(), rdxm.data()));
    CHECK_OK(maxpool_bwd_idx_ref(&REF, &sh, ridx.data(), dy.data(), rdxi.data()));
    CHECK_OK(avgpool_fwd_ref(&REF, &sh, x.data(), ravg.data()));
    CHECK_OK(avgpool_bwd_ref(&REF, &sh, dy.data(), rdxa.data()));

    // forwards: one thread per output (maxpool_fwd_kernel<I, IDX>, avgpool_fwd_kernel<I>)
    std::vector<float> ymax(ny, 12345.f), ymaxi(ny, 12345.f), yavg(ny, 12345.f);
    std::vector<int> idx(ny, -7), hits(ny, 0);
    const unsigned bo = gh_ew_blocks(ny), bi = gh_ew_blocks(nx);
    emu_grid<I>(ny, bo, GH_EW_THREADS, [&](I i) {
        I nc;
        int op, oq;
        pool_decode<I>(i, pq, qd, &nc, &op, &oq);
        float best;
        const int b = max_window(gt, x.data() + nc * hw, op, oq, &best);
        ymax[i] = b < 0 ? -INFINITY : best;  // maxpool_fwd_kernel<I, false>
        ymaxi[i] = ymax[i];                   // <I, true>: the same value and its index
        idx[i] = b;
        yavg[i] = avgpool_at(gt, x.data() + nc * hw, op, oq);
        hits[i]++;
    });
    snprintf(what, sizeof what, "maxpool fwd %s", shape);
    emu_cmp(&r, what, ymax.data(), rmax.data(), ny, -1);
    snprintf(what, sizeof what, "maxpool fwd_idx argmax %s", shape);
    emu_cmpi(&r, what, idx.data(), ridx.data(), ny);
    snprintf(what, sizeof what, "avgpool fwd %s", shape);
    emu_cmp(&r, what, yavg.data(), ravg.data(), ny, -1);
    emu_cover(&r, "pool fwd", hits);

    // backwards: one thread per input, dx's old value in, the windows' dy added in output order
    std::vector<float> dxm = dx0, dxi = dx0, dxa = dx0;
    std::vector<int> hx(nx, 0);
    emu_grid<I>(nx, bi, GH_EW_THREADS, [&](I i) {
        I nc;
        int ih, iw;
        const int r = pool_decode<I>(i, hw, wd, &nc, &ih, &iw);
        const float *dyp = dy.data() + nc * pq;
        maxpool_bwd_at<I, false>(gt, x.data(), nullptr, dy.data(), nc, hw, pq, r, ih, iw, &dxm[i]);
        maxpool_bwd_at<I, true>(gt, nullptr, ridx.data(), dy.data(), nc, hw, pq, r, ih, iw, &dxi[i]);
        avgpool_bwd_at(gt, dyp, ih, iw, &dxa[i]);
        hx[i]++;
    });
    snprintf(what, sizeof what, "maxpool bwd (recompute) %s", shape);
    emu_cmp(&r, what, dxm.data(), rdxm.data(), nx, -1);
    snprintf(what, sizeof what, "maxpool bwd_idx %s", shape);
    emu_cmp(&r, what, dxi.data(), rdxi.data(), nx, -1);
    snprintf(what, sizeof what, "avgpool bwd %s", shape);
    emu_cmp(&r, what, dxa.data(), rdxa.data(), nx, -1);
    emu_cover(&r, "pool bwd", hx);
    return r.bad;
}

// gap_fwd_kernel: block b's warp w takes rows b*8 + w, + grid*8, ...; 32 lane partials in
// double, the butterfly, one rounding.
static size_t run_gap(int n, int c, int hw, int ints, enum fault f, gh_rng *rng) {
    const int rows = n * c;
    std::vector<float> x = emu_rnd(rng, (size_t)rows * hw, ints), y(rows, NAN), ry(rows);
    std::vector<int> hits(rows, 0);
    CHECK_OK(gap_fwd_ref(&REF, n, c, hw, x.data(), ry.data()));
    const unsigned blocks = gap_blocks(rows);
    const int warps = GAP_THREADS / 32;
    for (unsigned b = 0; b < blocks; b++)
        for (int w = 0; w < warps; w++)
            for (size_t row = (size_t)b * warps + w; row < (size_t)rows;
                 row += (size_t)blocks * warps) {
                double part[32];
                for (int lane = 0; lane < 32; lane++)
                    part[lane] = gap_lane_sum(x.data() + row * hw, hw, lane);
                const double s = emu_warp_sum(part, f);
                y[row] = (float)(s / hw);
                hits[row]++;
            }
    emu_run r = {f, 0};
    char what[120];
    snprintf(what, sizeof what, "gap fwd n%d c%d hw%d%s", n, c, hw, ints ? " ints" : "");
    // integers: exact sums, one rounding; floats: double sums in another order
    emu_cmp(&r, what, y.data(), ry.data(), rows, ints ? -1 : EMU_TOL);
    emu_cover(&r, "gap fwd", hits);
    return r.bad;
}

// ---- softmax and cross-entropy -----------------------------------------------------------------

// Rows of a one-warp-per-row kernel: FOR_ROWS of every warp of every block.
template <class F>
static void emu_rows(int rows, F f) {
    const unsigned blocks = sm_row_blocks(rows);
    for (unsigned b = 0; b < blocks; b++)
        for (int w = 0; w < SM_WARPS; w++)
            for (int row = sm_first_row(b, w); row < rows; row += blocks * SM_WARPS) f(row);
}

static size_t run_softmax(int rows, int cols, enum fault f, gh_rng *rng) {
    const size_t n = (size_t)rows * cols;
    std::vector<float> x = emu_rnd(rng, n, 0), dy = emu_rnd(rng, n, 0), dx0 = emu_rnd(rng, n, 0);
    for (float &v : x) v *= 8.0f;  // a spread that exp notices
    std::vector<float> ry(n), rdx = dx0, y(n, NAN), dx = dx0;
    std::vector<int> hits(rows, 0);
    CHECK_OK(softmax_fwd_ref(&REF, rows, cols, x.data(), ry.data()));
    emu_rows(rows, [&](int row) {  // softmax_fwd_kernel
        const float *xr = x.data() + (size_t)row * cols;
        float p[32];
        for (int l = 0; l < 32; l++) p[l] = sm_lane_max(xr, cols, l);
        const float mx = emu_warp_max(p, f);
        for (int l = 0; l < 32; l++) p[l] = sm_lane_expsum(xr, cols, l, mx, nullptr);
        const float s = emu_warp_sum(p, f);
        for (int j = 0; j < cols; j++) y[(size_t)row * cols + j] = expf(xr[j] - mx) / s;
        hits[row]++;
    });
    // the backward from the reference's y, so that only its own arithmetic differs
    CHECK_OK(softmax_bwd_ref(&REF, rows, cols, ry.data(), dy.data(), rdx.data()));
    emu_rows(rows, [&](int row) {  // softmax_bwd_kernel
        const size_t o = (size_t)row * cols;
        float p[32];
        for (int l = 0; l < 32; l++) p[l] = sm_lane_dot(dy.data() + o, ry.data() + o, cols, l);
        const float dot = emu_warp_sum(p, f);
        for (int j = 0; j < cols; j++) dx[o + j] += ry[o + j] * (dy[o + j] - dot);
    });
    emu_run r = {f, 0};
    char what[120];
    snprintf(what, sizeof what, "softmax fwd %dx%d", rows, cols);
    emu_cmp(&r, what, y.data(), ry.data(), n, EMU_TOL);
    snprintf(what, sizeof what, "softmax bwd %dx%d", rows, cols);
    emu_cmp(&r, what, dx.data(), rdx.data(), n, EMU_TOL);
    emu_cover(&r, "softmax rows", hits);
    return r.bad;
}

// xent_fwd_kernel (rows per warp) and xent_bwd_kernel<I> (grid-stride over n*k).
template <typename I>
static size_t run_xent(const char *iname, int n, int k, float smoothing, enum fault f,
                       gh_rng *rng) {
    const size_t nk = (size_t)n * k;
    std::vector<float> x = emu_rnd(rng, nk, 0), d0 = emu_rnd(rng, nk, 0);
    for (float &v : x) v *= 6.0f;
    std::vector<int> labels(n);
    for (int &l : labels) l = (int)gh_rng_below(rng, k);
    std::vector<float> rp(nk), rl(n), p(nk, NAN), loss(n, NAN), rd = d0, d = d0;
    const float dloss = 0.75f;
    CHECK_OK(xent_fwd_ref(&REF, n, k, x.data(), labels.data(), smoothing, rp.data(), rl.data()));
    CHECK_OK(xent_bwd_ref(&REF, n, k, rp.data(), labels.data(), smoothing, &dloss, rd.data()));
    emu_rows(n, [&](int row) {
        const float *xr = x.data() + (size_t)row * k;
        float pm[32], ps[32], px[32];
        for (int l = 0; l < 32; l++) pm[l] = sm_lane_max(xr, k, l);
        const float mx = emu_warp_max(pm, f);
        for (int l = 0; l < 32; l++) ps[l] = sm_lane_expsum(xr, k, l, mx, &px[l]);
        const float s = emu_warp_sum(ps, f), sx = emu_warp_sum(px, f);
        const float lse = logf(s);
        for (int j = 0; j < k; j++) p[(size_t)row * k + j] = expf(xr[j] - mx) / s;
        loss[row] = xent_row_loss(xr[labels[row]], mx, lse, sx, k, smoothing);
    });
    const float off = smoothing / (float)k, scale = dloss / (float)n;
    const int kd = f == F_DECODE ? k + 1 : k;
    std::vector<int> hits(nk, 0);
    emu_grid<I>(nk, gh_ew_blocks(nk), GH_EW_THREADS, [&](I i) {
        I ri, ji;
        gh_rowcol<I>(i, (I)kd, &ri, &ji);
        const int row = (int)ri, j = (int)ji;
        const int label = labels[row < n ? row : n - 1];
        d[i] += scale * (rp[i] - xent_target(j, label, smoothing, off));
        hits[i]++;
    });
    emu_run r = {f, 0};
    char what[120];
    snprintf(what, sizeof what, "xent fwd probs %dx%d s%.2f", n, k, smoothing);
    emu_cmp(&r, what, p.data(), rp.data(), nk, EMU_TOL);
    snprintf(what, sizeof what, "xent fwd loss %dx%d s%.2f", n, k, smoothing);
    emu_cmp(&r, what, loss.data(), rl.data(), n, EMU_TOL);
    snprintf(what, sizeof what, "xent bwd %dx%d s%.2f %s", n, k, smoothing, iname);
    emu_cmp(&r, what, d.data(), rd.data(), nk, EMU_TOL);
    emu_cover(&r, "xent bwd", hits);
    return r.bad;
}

// ---- wsum ------------------------------------------------------------------------------------

// wsum_fwd_kernel<VEC>, wsum_bwd_kernel<VEC> with its block partials and wsum_dwts_kernel, as
// the launchers pack and size them. none: the inputs that are NULL ("none" ops); nodx: the
// entries without a gradient to receive. Returns the mismatches; *vec_used: the float4 path ran.
static size_t run_wsum(int k, size_t n, unsigned none, unsigned nodx, int ints, enum fault f,
                       gh_rng *rng, bool *vec_used) {
    std::vector<std::vector<float>> xs(k), dxs(k), rdxs(k);
    std::vector<const float *> px(k);
    std::vector<float *> pdx(k), prdx(k);
    std::vector<float> wts(k), dwts0(k), dy = emu_rnd(rng, n, ints);
    for (int i = 0; i < k; i++) {
        xs[i] = emu_rnd(rng, n, ints);
        dxs[i] = emu_rnd(rng, n, ints);
        rdxs[i] = dxs[i];
        px[i] = none >> i & 1 ? nullptr : xs[i].data();
        pdx[i] = nodx >> i & 1 ? nullptr : dxs[i].data();
        prdx[i] = nodx >> i & 1 ? nullptr : rdxs[i].data();
        // dyadic weights on integers: every product and sum exact in float
        wts[i] = ints ? (float)((int)gh_rng_below(rng, 9) - 4) / 4.0f : (float)gh_rng_uniform(rng);
        dwts0[i] = ints ? (float)gh_rng_below(rng, 5) : (float)gh_rng_uniform(rng);
    }
    std::vector<float> ry(n), y(n, NAN), rdw = dwts0, dw = dwts0;
    CHECK_OK(wsum_fwd_ref(&REF, k, n, px.data(), wts.data(), ry.data()));
    CHECK_OK(wsum_bwd_ref(&REF, k, n, px.data(), wts.data(), dy.data(), prdx.data(), rdw.data()));

    // forward
    wsum_args a;
    const bool vec = wsum_pack_fwd(k, n, px.data(), y.data(), &a);
    *vec_used = vec;
    float w[GH_WSUM_MAX];
    wsum_weights(a, wts.data(), w);
    const size_t nv = vec ? n / 4 : n;
    std::vector<int> hits(nv, 0);
    emu_grid<size_t>(nv, gh_ew_blocks(nv), WSUM_THREADS, [&](size_t i) {
        if (vec) wsum_fwd_at<true>(a, w, i, y.data());
        else wsum_fwd_at<false>(a, w, i, y.data());
        hits[i]++;
    });

    // backward: each thread's running sums, the warps' butterflies, warps in order, blocks'
    // partials, then one block per entry over the partials in gh_block_sum's tree
    bool any_dot;
    const bool bvec = wsum_pack_bwd(k, n, px.data(), dy.data(), pdx.data(), dw.data(), &a, &any_dot);
    wsum_weights(a, wts.data(), w);
    const size_t bnv = bvec ? n / 4 : n;
    const int blocks = wsum_bwd_blocks(bnv);
    std::vector<double> part((size_t)blocks * a.m, NAN);
    for (int b = 0; b < blocks; b++) {
        static float acc[WSUM_THREADS][GH_WSUM_MAX];
        for (int t = 0; t < WSUM_THREADS; t++) {
            for (int j = 0; j < GH_WSUM_MAX; j++) acc[t][j] = 0.0f;
            for (size_t i = (size_t)b * WSUM_THREADS + t; i < bnv;
                 i += (size_t)blocks * WSUM_THREADS) {
                if (bvec) wsum_bwd_at<true>(a, w, dy.data(), any_dot, i, acc[t]);
                else wsum_bwd_at<false>(a, w, dy.data(), any_dot, i, acc[t]);
            }
        }
        if (!any_dot) continue;
        float sh[WSUM_THREADS / 32][GH_WSUM_MAX];
        for (int wi = 0; wi < WSUM_THREADS / 32; wi++)
            for (int j = 0; j < GH_WSUM_MAX; j++) {
                float v[32];
                for (int l = 0; l < 32; l++) v[l] = acc[wi * 32 + l][j];
                sh[wi][j] = emu_warp_sum(v, F_NONE);
            }
        for (int t = 0; t < a.m; t++) {
            const int slot = f == F_PARTIAL ? (t + 1) % a.m : t;
            part[(size_t)b * a.m + slot] = wsum_block_part(sh, t);
        }
    }
    if (any_dot)
        for (int j = 0; j < a.m; j++) {
            double sh[WSUM_THREADS];
            for (int t = 0; t < WSUM_THREADS; t++)
                sh[t] = wsum_dwts_thread(blocks, a, j, t, part.data());
            dw[a.idx[j]] += (float)emu_block_sum<double, WSUM_THREADS>(sh);
        }

    emu_run r = {f, 0};
    char what[160];
    snprintf(what, sizeof what, "wsum fwd k%d n%zu none %#x%s%s", k, n, none, vec ? " float4" : "",
             ints ? " ints" : "");
    emu_cmp(&r, what, y.data(), ry.data(), n, ints ? -1 : EMU_TOL);
    emu_cover(&r, "wsum fwd", hits);
    for (int i = 0; i < k; i++) {
        if (!pdx[i]) continue;
        snprintf(what, sizeof what, "wsum bwd dx[%d] k%d n%zu%s", i, k, n, bvec ? " float4" : "");
        emu_cmp(&r, what, dxs[i].data(), rdxs[i].data(), n, -1);  // one product, one add
    }
    snprintf(what, sizeof what, "wsum bwd dwts k%d n%zu (%d blocks)%s%s", k, n, blocks,
             bvec ? " float4" : "", ints ? " ints" : "");
    emu_cmp(&r, what, dw.data(), rdw.data(), k, ints ? -1 : EMU_TOL);
    return r.bad;
}

// ---- index width -------------------------------------------------------------------------------

// The host's choice of index width at 2^31, and the 32-bit decoding of the pooling kernels
// equal to the 64-bit one at the top of the 32-bit range (not allocated: pure arithmetic).
static void test_dispatch(void) {
    // 1024 x 512 x 64 x 64 = 2^31: input too big; output (stride 2) fits
    pool_geom g = {1024, 512, 64, 64, 3, 3, 2, 1, 32, 32};
    CHECK(!pool_idx32(g));
    g.c = 511;  // 2^31 - 2^21: both fit
    CHECK(pool_idx32(g));
    CHECK((size_t)g.n * g.c * g.h * g.w <= (size_t)INT32_MAX);
    // output bigger than input cannot happen with a valid shape; both sides are checked anyway
    pool_geom o = {1, 1, 1, 1, 1, 1, 1, 0, 1 << 16, 1 << 15};
    CHECK(!pool_idx32(o));
    CHECK(gh_idx32((size_t)46341 * 46340));   // xent bwd's n*k just below 2^31
    CHECK(!gh_idx32((size_t)65536 * 32768));  // exactly 2^31

    g.c = 511;
    const uint32_t hw = 64 * 64, pq = 32 * 32;
    const size_t top = (size_t)g.n * g.c * hw;
    int bad = 0;
    for (size_t i = top - 1; i > top - 200000; i -= 7) {
        uint32_t nc32;
        size_t nc64;
        int a32, b32, a64, b64;
        pool_decode<uint32_t>((uint32_t)i, hw, 64, &nc32, &a32, &b32);
        pool_decode<size_t>(i, hw, 64, &nc64, &a64, &b64);
        bad += nc32 != i / hw || nc64 != nc32 || a32 != (int)(i % hw / 64) || b32 != (int)(i % 64) ||
               a64 != a32 || b64 != b32;
        const size_t j = i / 4;  // an output index of the same planes
        pool_decode<uint32_t>((uint32_t)j, pq, 32, &nc32, &a32, &b32);
        bad += nc32 != j / pq || a32 != (int)(j % pq / 32) || b32 != (int)(j % 32);
    }
    CHECK_MSG(bad == 0, "pool_decode: %d of the top indices decoded wrongly", bad);
}

int main(void) {
    gh_rng rng;
    gh_rng_seed(&rng, 20261201, GH_STREAM_INIT);
    test_dispatch();

    // DARTS: 3x3 max/avg at stride 1 (normal cells) and 2 (reduction cells), pad 1, C = 16 on
    // 32x32, 16x16 and 8x8; odd planes, no padding, 2x2, a non-square window, stride 3
    const pool_shape shapes[] = {
        {2, 16, 32, 32, 3, 3, 1, 1, 0, 0}, {2, 16, 32, 32, 3, 3, 2, 1, 0, 0},
        {2, 32, 16, 16, 3, 3, 2, 1, 0, 0}, {3, 8, 8, 8, 3, 3, 1, 1, 0, 0},
        {2, 3, 7, 9, 3, 3, 2, 0, 0, 0},    {1, 4, 9, 7, 2, 2, 2, 0, 0, 0},
        {2, 3, 11, 6, 3, 2, 1, 1, 0, 0},   {1, 2, 13, 13, 5, 5, 3, 2, 0, 0},
        {1, 1, 1, 1, 1, 1, 1, 0, 0, 0},
    };
    for (const pool_shape &s : shapes) {
        run_pool<uint32_t>("u32", s, 1, 0, F_NONE, &rng);
        run_pool<uint32_t>("u32", s, 0, 1, F_NONE, &rng);
        run_pool<size_t>("u64", s, 1, 1, F_NONE, &rng);
    }
    run_gap(2, 16, 64, 1, F_NONE, &rng);  // DARTS's classifier input: 8x8
    run_gap(3, 5, 49, 0, F_NONE, &rng);
    run_gap(1, 7, 1, 0, F_NONE, &rng);
    run_gap(1000, 40, 3, 1, F_NONE, &rng);  // 40000 rows: more than the capped grid's warps

    const int sm[][2] = {{1, 1}, {5, 7}, {64, 10}, {33, 33}, {257, 100}, {3, 1000}, {40000, 3}};
    for (const auto &s : sm) run_softmax(s[0], s[1], F_NONE, &rng);
    run_xent<uint32_t>("u32", 64, 10, 0.0f, F_NONE, &rng);
    run_xent<uint32_t>("u32", 257, 10, 0.1f, F_NONE, &rng);
    run_xent<size_t>("u64", 33, 1000, 0.1f, F_NONE, &rng);
    run_xent<uint32_t>("u32", 3, 1, 0.2f, F_NONE, &rng);

    // DARTS: 8 ops with op 0 "none" (NULL input, no gradient) on a cell's 2x16x32x32 state
    // (float4, 8 blocks of partials); an entry with a gradient but no input, one with an input
    // but no gradient; odd sizes (scalar); k = 1; a million elements; k = GH_WSUM_MAX; more
    // partials than the second pass has threads (301 blocks), the grid at its cap (1024)
    bool vec = false, scalar = false, v;
    const struct { int k; size_t n; unsigned none, nodx; } ws[] = {
        {8, 2 * 16 * 32 * 32, 0x1, 0x1}, {8, 5003, 0x1, 0x9}, {7, 4100, 0x0, 0x0},
        {1, 3, 0x0, 0x0},                 {3, 1 << 20, 0x2, 0x4}, {16, 2048, 0x8001, 0x0},
        {2, 307201, 0x0, 0x0}, {1, ((size_t)1 << 22) + 1, 0x0, 0x0},
    };
    for (const auto &c : ws)
        for (int ints = 1; ints >= 0; ints--) {
            run_wsum(c.k, c.n, c.none, c.nodx, ints, F_NONE, &rng, &v);
            (v ? vec : scalar) = true;
        }
    CHECK_MSG(vec && scalar, "the float4 path (%d) and the scalar path (%d) both replayed", vec,
              scalar);

    // The replay can fail: each fault, on a shape where it matters, must change some output.
    const pool_shape dart = {2, 4, 16, 16, 3, 3, 2, 1, 0, 0}, odd = {1, 3, 9, 7, 3, 3, 1, 1, 0, 0};
    struct { enum fault f; size_t bad; } faults[] = {
        {F_WINDOW, run_pool<uint32_t>("u32", dart, 1, 0, F_WINDOW, &rng)},
        {F_WINDOW, run_pool<size_t>("u64", odd, 0, 0, F_WINDOW, &rng)},
        {F_DECODE, run_pool<uint32_t>("u32", odd, 1, 0, F_DECODE, &rng)},
        {F_LANE, run_gap(2, 16, 64, 1, F_LANE, &rng)},
        {F_LANE, run_softmax(64, 100, F_LANE, &rng)},
        {F_LANE, run_xent<uint32_t>("u32", 64, 40, 0.1f, F_LANE, &rng)},
        {F_DECODE, run_xent<uint32_t>("u32", 64, 10, 0.1f, F_DECODE, &rng)},
        {F_PARTIAL, run_wsum(8, 2 * 16 * 32 * 32, 0x1, 0x1, 1, F_PARTIAL, &rng, &v)},
        {F_PARTIAL, run_wsum(7, 5003, 0x0, 0x0, 0, F_PARTIAL, &rng, &v)},
    };
    for (const auto &fr : faults) {
        CHECK_MSG(fr.bad > 0, "fault '%s' went unnoticed", fault_name[fr.f]);
        printf("  fault %-32s caught: %zu mismatches\n", fault_name[fr.f], fr.bad);
    }
    return check_done("test_pool_emu");
}
