// Exact answers (nccl-tests style): small integers through conv, linear, pooling, ReLU, GAP and
// concat, where every partial sum is an integer below 2^24 and so exact in fp32 in any order.
// Both _ref and _cpu must equal (==) hand-computed values or an independent int64 computation.
#include <omp.h>
#include <stdint.h>

#include "ktest.h"

// ---- conv: independent int64 computation in scatter form ------------------------------------

static void conv_int(const conv2d_shape *sh, const float *x, const float *w, const float *b,
                     const float *dy, int64_t *y, int64_t *dx, int64_t *dw, int64_t *db) {
    int cg = sh->c / sh->groups, kg = sh->k / sh->groups;
    size_t ny = (size_t)sh->n * sh->k * sh->p * sh->q;
    for (size_t i = 0; i < ny; i++) y[i] = b ? (int64_t)b[(i / ((size_t)sh->p * sh->q)) % sh->k] : 0;
    // every (output, tap) pair once: y gathers x w, dx gathers dy w, dw gathers dy x
    for (int n = 0; n < sh->n; n++)
        for (int k = 0; k < sh->k; k++)
            for (int ci = 0; ci < cg; ci++)
                for (int a = 0; a < sh->r; a++)
                    for (int bb = 0; bb < sh->s; bb++)
                        for (int i = 0; i < sh->p; i++)
                            for (int j = 0; j < sh->q; j++) {
                                int ii = i * sh->stride_h - sh->pad_h + a * sh->dil_h;
                                int jj = j * sh->stride_w - sh->pad_w + bb * sh->dil_w;
                                if (ii < 0 || jj < 0 || ii >= sh->h || jj >= sh->w) continue;
                                int c = (k / kg) * cg + ci;
                                size_t xi = (((size_t)n * sh->c + c) * sh->h + ii) * sh->w + jj;
                                size_t wi = (((size_t)k * cg + ci) * sh->r + a) * sh->s + bb;
                                size_t yi = (((size_t)n * sh->k + k) * sh->p + i) * sh->q + j;
                                y[yi] += (int64_t)x[xi] * (int64_t)w[wi];
                                dx[xi] += (int64_t)dy[yi] * (int64_t)w[wi];
                                dw[wi] += (int64_t)dy[yi] * (int64_t)x[xi];
                            }
    for (int n = 0; n < sh->n; n++)
        for (int k = 0; k < sh->k; k++)
            for (int e = 0; e < sh->p * sh->q; e++)
                db[k] += (int64_t)dy[((size_t)n * sh->k + k) * sh->p * sh->q + e];
}

static float *from_int(const int64_t *v, size_t n) {
    float *f = kt_alloc(n);
    for (size_t i = 0; i < n; i++) f[i] = (float)v[i];
    return f;
}

static void exact_conv(gh_rng *rng, conv2d_shape sh) {
    CHECK_OK(conv2d_shape_init(&sh));
    size_t nx = (size_t)sh.n * sh.c * sh.h * sh.w, nw = (size_t)sh.k * (sh.c / sh.groups) * sh.r * sh.s;
    size_t ny = (size_t)sh.n * sh.k * sh.p * sh.q;
    float *x = kt_rand_int(rng, nx, -3, 3), *w = kt_rand_int(rng, nw, -2, 2);
    float *b = kt_rand_int(rng, sh.k, -2, 2), *dy = kt_rand_int(rng, ny, -2, 2);
    float *dx0 = kt_rand_int(rng, nx, -5, 5), *dw0 = kt_rand_int(rng, nw, -5, 5);
    float *db0 = kt_rand_int(rng, sh.k, -5, 5);
    int64_t *yi = calloc(ny, 8), *dxi = calloc(nx, 8), *dwi = calloc(nw, 8), *dbi = calloc(sh.k, 8);
    for (size_t i = 0; i < nx; i++) dxi[i] = (int64_t)dx0[i];
    for (size_t i = 0; i < nw; i++) dwi[i] = (int64_t)dw0[i];
    for (int i = 0; i < sh.k; i++) dbi[i] = (int64_t)db0[i];
    conv_int(&sh, x, w, b, dy, yi, dxi, dwi, dbi);
    float *ye = from_int(yi, ny), *dxe = from_int(dxi, nx), *dwe = from_int(dwi, nw);
    float *dbe = from_int(dbi, sh.k);
    kt_ws ws;
    kt_ws_for(&ws, conv2d_ws_floats(&sh));
    char what[128];
    for (int cpu = 0; cpu < 2; cpu++) {
        float *y = kt_alloc(ny), *dx = kt_dup(dx0, nx), *dw = kt_dup(dw0, nw), *db = kt_dup(db0, sh.k);
        CHECK_OK((cpu ? conv2d_fwd_cpu : conv2d_fwd_ref)(&ws.ctx, &sh, x, w, b, y));
        CHECK_OK((cpu ? conv2d_bwd_cpu : conv2d_bwd_ref)(&ws.ctx, &sh, x, w, dy, dx, dw, db));
        snprintf(what, sizeof what, "%s conv %dx%d g%d s%d p%d,%d d%d y,dx,dw,db", cpu ? "cpu" : "ref",
                 sh.r, sh.s, sh.groups, sh.stride_h, sh.pad_h, sh.pad_w, sh.dil_h);
        int ok = KT_EQUAL(what, y, ye, ny);
        ok &= KT_EQUAL(what, dx, dxe, nx);
        ok &= KT_EQUAL(what, dw, dwe, nw);
        ok &= KT_EQUAL(what, db, dbe, sh.k);
        free(y); free(dx); free(dw); free(db);
    }
    kt_ws_free(&ws);
    free(x); free(w); free(b); free(dy); free(dx0); free(dw0); free(db0); free(yi); free(dxi);
    free(dwi); free(dbi); free(ye); free(dxe); free(dwe); free(dbe);
}

// Hand-computed: 1..9 in a 3x3 image.
static void exact_conv_hand(void) {
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    float diag[4] = {1, 0, 0, -1}, ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    float y[9], want2[4] = {-4, -4, -4, -4};
    float want_box[9] = {12, 21, 16, 27, 45, 33, 24, 39, 28};   // 3x3 box sums, zero padding
    conv2d_shape a = {.n = 1, .c = 1, .h = 3, .w = 3, .k = 1, .r = 2, .s = 2};
    conv2d_shape box = {.n = 1, .c = 1, .h = 3, .w = 3, .k = 1, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1};
    CHECK_OK(conv2d_shape_init(&a));
    CHECK_OK(conv2d_shape_init(&box));
    CHECK(a.p == 2 && a.q == 2 && box.p == 3 && box.q == 3);
    kt_ws ws;
    kt_ws_for(&ws, conv2d_ws_floats(&box) + conv2d_ws_floats(&a));
    for (int cpu = 0; cpu < 2; cpu++) {
        CHECK_OK((cpu ? conv2d_fwd_cpu : conv2d_fwd_ref)(&ws.ctx, &a, x, diag, NULL, y));
        KT_EQUAL(cpu ? "cpu conv 2x2 hand" : "ref conv 2x2 hand", y, want2, 4);
        CHECK_OK((cpu ? conv2d_fwd_cpu : conv2d_fwd_ref)(&ws.ctx, &box, x, ones, NULL, y));
        KT_EQUAL(cpu ? "cpu conv box hand" : "ref conv box hand", y, want_box, 9);
        // the box filter is symmetric: its dx for dy = 1 is the box sum of ones (the counts)
        float dy[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, dx[9] = {0}, counts[9] = {4, 6, 4, 6, 9, 6, 4, 6, 4};
        CHECK_OK((cpu ? conv2d_bwd_cpu : conv2d_bwd_ref)(&ws.ctx, &box, x, ones, dy, dx, NULL, NULL));
        KT_EQUAL(cpu ? "cpu conv box dx hand" : "ref conv box dx hand", dx, counts, 9);
    }
    kt_ws_free(&ws);
}

// ---- pooling ------------------------------------------------------------------------------------

// Hand-computed max pool 3x3 stride 1 pad 1 with ties: the first maximum in row-major order
// takes the whole gradient.
static void exact_maxpool_hand(void) {
    float x[16] = {1, 3, 3, 0,
                   2, 3, 1, 0,
                   0, 0, 0, 0,
                   5, 0, 0, 5};
    float want_y[16] = {3, 3, 3, 3, 3, 3, 3, 3, 5, 5, 5, 5, 5, 5, 5, 5};
    // (0,1) wins 6 windows, (0,2) 2, (3,0) 4, (3,3) 4
    float want_dx[16] = {0, 6, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 4};
    pool_shape sh = {.n = 1, .c = 1, .h = 4, .w = 4, .kh = 3, .kw = 3, .stride = 1, .pad = 1};
    CHECK_OK(pool_shape_init(&sh));
    float dy[16], y[16], dx[16];
    for (int i = 0; i < 16; i++) dy[i] = 1.0f;
    for (int cpu = 0; cpu < 2; cpu++) {
        CHECK_OK((cpu ? maxpool_fwd_cpu : maxpool_fwd_ref)(NULL, &sh, x, y));
        KT_EQUAL(cpu ? "cpu maxpool hand y" : "ref maxpool hand y", y, want_y, 16);
        memset(dx, 0, sizeof dx);
        CHECK_OK((cpu ? maxpool_bwd_cpu : maxpool_bwd_ref)(NULL, &sh, x, dy, dx));
        KT_EQUAL(cpu ? "cpu maxpool hand dx (ties)" : "ref maxpool hand dx (ties)", dx, want_dx, 16);
    }
    // every value -inf: the gradient goes to the first in-bounds element of each window
    float ninf[16], dxr[16] = {0}, dxc[16] = {0};
    for (int i = 0; i < 16; i++) ninf[i] = -INFINITY;
    CHECK_OK(maxpool_bwd_ref(NULL, &sh, ninf, dy, dxr));
    CHECK_OK(maxpool_bwd_cpu(NULL, &sh, ninf, dy, dxc));
    KT_EQUAL("cpu maxpool dx, all -inf", dxc, dxr, 16);
    // output (i, j) sends its gradient to (max(i-1, 0), max(j-1, 0))
    float want_inf[16] = {4, 2, 2, 0, 2, 1, 1, 0, 2, 1, 1, 0, 0, 0, 0, 0};
    KT_EQUAL("ref maxpool dx, all -inf", dxr, want_inf, 16);
    // the saved-argmax pair picks the same elements (ties and all -inf), ref and cpu
    for (int cpu = 0; cpu < 2; cpu++)
        for (int inf = 0; inf < 2; inf++) {
            int idx[16];
            CHECK_OK((cpu ? maxpool_fwd_idx_cpu : maxpool_fwd_idx_ref)(NULL, &sh, inf ? ninf : x, y, idx));
            memset(dx, 0, sizeof dx);
            CHECK_OK((cpu ? maxpool_bwd_idx_cpu : maxpool_bwd_idx_ref)(NULL, &sh, idx, dy, dx));
            KT_EQUAL(cpu ? "cpu maxpool_idx hand dx" : "ref maxpool_idx hand dx", dx,
                     inf ? want_inf : want_dx, 16);
        }
    // all negative: zero padding must never win
    float neg[16];
    for (int i = 0; i < 16; i++) neg[i] = -(float)(i % 5) - 1.0f;
    for (int cpu = 0; cpu < 2; cpu++) {
        CHECK_OK((cpu ? maxpool_fwd_cpu : maxpool_fwd_ref)(NULL, &sh, neg, y));
        int neg_ok = 1;
        for (int i = 0; i < 16; i++) neg_ok &= y[i] < 0.0f;
        CHECK_MSG(neg_ok, "%s maxpool picked padding on a negative input", cpu ? "cpu" : "ref");
    }
}

// Independent integer pooling: max with the first-maximum rule, average as the integer sum over
// the in-bounds window divided once by the count (the division every version performs last).
static void exact_pool(gh_rng *rng, int n, int c, int h, int w, int kh, int kw, int stride, int pad) {
    pool_shape sh = {.n = n, .c = c, .h = h, .w = w, .kh = kh, .kw = kw, .stride = stride, .pad = pad};
    CHECK_OK(pool_shape_init(&sh));
    size_t nx = (size_t)n * c * h * w, ny = (size_t)n * c * sh.p * sh.q;
    float *x = kt_rand_int(rng, nx, -4, 4), *dy = kt_rand_int(rng, ny, -3, 3);
    float *ymax = kt_alloc(ny), *yavg = kt_alloc(ny), *dxmax = kt_alloc(nx);
    int *argw = malloc(ny * sizeof(int)), *idx = malloc(ny * sizeof(int));
    CHECK(argw && idx);
    for (int pl = 0; pl < n * c; pl++)
        for (int i = 0; i < sh.p; i++)
            for (int j = 0; j < sh.q; j++) {
                int best = INT32_MIN, sum = 0, cnt = 0;
                size_t arg = 0;
                for (int a = 0; a < kh; a++)
                    for (int b = 0; b < kw; b++) {
                        int ii = i * stride - pad + a, jj = j * stride - pad + b;
                        if (ii < 0 || jj < 0 || ii >= h || jj >= w) continue;
                        size_t k = ((size_t)pl * h + ii) * w + jj;
                        int v = (int)x[k];
                        if (v > best) { best = v; arg = k; }
                        sum += v;
                        cnt++;
                    }
                size_t o = ((size_t)pl * sh.p + i) * sh.q + j;
                ymax[o] = (float)best;
                argw[o] = (int)(arg - (size_t)pl * h * w);   // in-plane, as the idx kernels
                yavg[o] = (float)sum / (float)cnt;
                dxmax[arg] += dy[o];
            }
    float *y = kt_alloc(ny), *dx = kt_alloc(nx);
    char what[96];
    for (int cpu = 0; cpu < 2; cpu++) {
        snprintf(what, sizeof what, "%s maxpool %dx%d s%d p%d int", cpu ? "cpu" : "ref", kh, kw, stride, pad);
        CHECK_OK((cpu ? maxpool_fwd_cpu : maxpool_fwd_ref)(NULL, &sh, x, y));
        KT_EQUAL(what, y, ymax, ny);
        memset(dx, 0, nx * sizeof(float));
        CHECK_OK((cpu ? maxpool_bwd_cpu : maxpool_bwd_ref)(NULL, &sh, x, dy, dx));
        KT_EQUAL(what, dx, dxmax, nx);
        // the saved-argmax pair: the same y, the argmax itself, the same dx
        snprintf(what, sizeof what, "%s maxpool_idx %dx%d s%d p%d int", cpu ? "cpu" : "ref", kh, kw, stride, pad);
        memset(idx, 0xff, ny * sizeof(int));
        CHECK_OK((cpu ? maxpool_fwd_idx_cpu : maxpool_fwd_idx_ref)(NULL, &sh, x, y, idx));
        KT_EQUAL(what, y, ymax, ny);
        size_t bad = 0;
        for (size_t o = 0; o < ny; o++) bad += idx[o] != argw[o];
        CHECK_MSG(bad == 0, "%s: %zu of %zu argmax indices differ from the first maximum", what, bad, ny);
        memset(dx, 0, nx * sizeof(float));
        CHECK_OK((cpu ? maxpool_bwd_idx_cpu : maxpool_bwd_idx_ref)(NULL, &sh, idx, dy, dx));
        KT_EQUAL(what, dx, dxmax, nx);
        snprintf(what, sizeof what, "%s avgpool %dx%d s%d p%d int", cpu ? "cpu" : "ref", kh, kw, stride, pad);
        CHECK_OK((cpu ? avgpool_fwd_cpu : avgpool_fwd_ref)(NULL, &sh, x, y));
        KT_EQUAL(what, y, yavg, ny);
    }
    free(x); free(dy); free(ymax); free(yavg); free(dxmax); free(y); free(dx); free(argw); free(idx);
}

// ---- ReLU, GAP, linear, concat ----------------------------------------------------------------

static void exact_misc(gh_rng *rng) {
    size_t n = 50001;
    float *x = kt_rand_int(rng, n, -3, 3), *dy = kt_rand_int(rng, n, -3, 3);
    float *y = kt_alloc(n), *want = kt_alloc(n), *dx = kt_alloc(n), *dxw = kt_alloc(n);
    for (size_t i = 0; i < n; i++) {
        want[i] = x[i] > 0 ? x[i] : 0.0f;
        dxw[i] = 1.0f + (x[i] > 0 ? dy[i] : 0.0f);   // at x = 0 the gradient is 0
    }
    for (int cpu = 0; cpu < 2; cpu++) {
        CHECK_OK((cpu ? relu_fwd_cpu : relu_fwd_ref)(NULL, n, x, y));
        KT_EQUAL(cpu ? "cpu relu" : "ref relu", y, want, n);
        for (size_t i = 0; i < n; i++) dx[i] = 1.0f;
        CHECK_OK((cpu ? relu_bwd_cpu : relu_bwd_ref)(NULL, n, x, dy, dx));
        KT_EQUAL(cpu ? "cpu relu bwd" : "ref relu bwd", dx, dxw, n);
    }
    // GAP over 16 = 2^4 elements: the mean of integers is exact
    int gn = 3, gc = 5, hw = 16;
    float gy[15], gw[15];
    for (int pl = 0; pl < gn * gc; pl++) {
        int s = 0;
        for (int e = 0; e < hw; e++) s += (int)x[pl * hw + e];
        gw[pl] = (float)s / 16.0f;
    }
    for (int cpu = 0; cpu < 2; cpu++) {
        CHECK_OK((cpu ? gap_fwd_cpu : gap_fwd_ref)(NULL, gn, gc, hw, x, gy));
        KT_EQUAL(cpu ? "cpu gap" : "ref gap", gy, gw, 15);
    }
    // linear with integer operands (sgemm sums in any order stay exact)
    int ln = 33, in = 70, out = 9;
    float *lw = kt_rand_int(rng, (size_t)out * in, -2, 2), *lb = kt_rand_int(rng, out, -2, 2);
    float *ly = kt_alloc((size_t)ln * out), *lwant = kt_alloc((size_t)ln * out);
    for (int i = 0; i < ln; i++)
        for (int o = 0; o < out; o++) {
            int64_t s = (int64_t)lb[o];
            for (int k = 0; k < in; k++) s += (int64_t)x[i * in + k] * (int64_t)lw[o * in + k];
            lwant[i * out + o] = (float)s;
        }
    for (int cpu = 0; cpu < 2; cpu++) {
        CHECK_OK((cpu ? linear_fwd_cpu : linear_fwd_ref)(NULL, ln, in, out, x, lw, lb, ly));
        KT_EQUAL(cpu ? "cpu linear int" : "ref linear int", ly, lwant, (size_t)ln * out);
    }
    // concat: every element encodes (sample, channel of the output, position)
    int cn = 2, chw = 3, cs[3] = {1, 3, 2};
    float *parts[3];
    float cy[2 * 6 * 3], cwant[2 * 6 * 3];
    for (int i = 0, c0 = 0; i < 3; c0 += cs[i], i++) {
        parts[i] = kt_alloc((size_t)cn * cs[i] * chw);
        for (int s = 0; s < cn; s++)
            for (int c = 0; c < cs[i]; c++)
                for (int e = 0; e < chw; e++)
                    parts[i][(s * cs[i] + c) * chw + e] = (float)(100 * s + 10 * (c0 + c) + e);
    }
    for (int s = 0; s < cn; s++)
        for (int c = 0; c < 6; c++)
            for (int e = 0; e < chw; e++) cwant[(s * 6 + c) * chw + e] = (float)(100 * s + 10 * c + e);
    for (int cpu = 0; cpu < 2; cpu++) {
        CHECK_OK((cpu ? concat_fwd_cpu : concat_fwd_ref)(NULL, cn, chw, 3, cs,
                                                          (const float *const *)parts, cy));
        KT_EQUAL(cpu ? "cpu concat codes" : "ref concat codes", cy, cwant, sizeof cy / sizeof cy[0]);
    }
    for (int i = 0; i < 3; i++) free(parts[i]);
    free(x); free(dy); free(y); free(want); free(dx); free(dxw); free(lw); free(lb); free(ly); free(lwant);
}

// ---- embedding: small integers gathered and scatter-added; the sampler on exact rows ----------

static void exact_embedding(gh_rng *rng) {
    enum { N = 9, V = 4, D = 3 };
    const int idx[N] = {3, 1, 3, 0, 3, 1, 2, 2, 3};
    float *tab = kt_rand_int(rng, V * D, -9, 9), *dy = kt_rand_int(rng, N * D, -9, 9);
    float *d0 = kt_rand_int(rng, V * D, -9, 9);
    float ywant[N * D], dwant[V * D], y[N * D];
    for (int i = 0; i < N; i++)
        for (int d = 0; d < D; d++) ywant[i * D + d] = tab[idx[i] * D + d];
    for (int v = 0; v < V; v++)
        for (int d = 0; d < D; d++) {
            int64_t acc = (int64_t)d0[v * D + d];
            for (int i = 0; i < N; i++)
                if (idx[i] == v) acc += (int64_t)dy[i * D + d];
            dwant[v * D + d] = (float)acc;
        }
    for (int cpu = 0; cpu < 2; cpu++) {
        float *dt = kt_dup(d0, V * D);
        CHECK_OK((cpu ? embedding_fwd_cpu : embedding_fwd_ref)(NULL, N, V, D, idx, tab, y));
        CHECK_OK((cpu ? embedding_bwd_cpu : embedding_bwd_ref)(NULL, N, V, D, idx, dy, dt));
        KT_EQUAL(cpu ? "cpu embedding gather" : "ref embedding gather", y, ywant, N * D);
        KT_EQUAL(cpu ? "cpu embedding scatter-add" : "ref embedding scatter-add", dt, dwant, V * D);
        free(dt);
    }
    free(tab); free(dy); free(d0);
}

// Rows whose cumulative sums are exact: k equal logits give the index floor(k u), logp -log k and
// entropy log k; a row with one finite logit always gives that one. Then the frequencies of one
// row drawn 60000 times against its probabilities (within 5 standard deviations).
static void exact_sampler(void) {
    enum { R = 257, K = 4 };
    float x[R * K], lp[R], en[R];
    int idx[R];
    for (int i = 0; i < R * K; i++) x[i] = 0.7f;
    for (int cpu = 0; cpu < 2; cpu++)
        for (int tc = 0; tc < 2; tc++) {
            int (*fn)(const kctx *, int, int, const float *, float, float, uint64_t, int *, float *,
                      float *) = cpu ? categorical_sample_cpu : categorical_sample_ref;
            CHECK_OK(fn(NULL, R, K, x, 1.5f, tc ? 2.5f : 0.0f, 99, idx, lp, en));
            int bad = 0;
            for (int r = 0; r < R; r++) {
                int want = (int)(gh_uniform(99, (uint64_t)r) * K);   // exact: K u has 24 bits
                bad += idx[r] != want || lp[r] != (float)-log(K) || en[r] != (float)log(K);
            }
            CHECK_MSG(bad == 0, "%s sampler, tanh_c %d: %d of %d rows differ from floor(4u)",
                      cpu ? "cpu" : "ref", tc, bad, R);
        }
    float one[5] = {-INFINITY, -INFINITY, 3.0f, -INFINITY, -INFINITY};
    int hits = 0;
    for (uint64_t seed = 0; seed < 50; seed++) {
        CHECK_OK(categorical_sample_ref(NULL, 1, 5, one, 1.0f, 0.0f, seed, idx, lp, NULL));
        hits += idx[0] == 2 && lp[0] == 0.0f;
    }
    CHECK_MSG(hits == 50, "a row with one finite logit gave it %d of 50 times", hits);

    enum { M = 60000, C = 5 };
    const float row[C] = {0.5f, -1.0f, 2.0f, 0.0f, 1.2f};
    const float T = 2.0f, TC = 1.5f;
    float *xs = kt_alloc((size_t)M * C);
    int *ids = (int *)malloc(sizeof(int) * M);
    for (int r = 0; r < M; r++) memcpy(xs + (size_t)r * C, row, sizeof row);
    CHECK_OK(categorical_sample_cpu(NULL, M, C, xs, T, TC, 2026, ids, NULL, NULL));
    double z[C], mx = -1e30, sum = 0.0;
    for (int j = 0; j < C; j++) {
        z[j] = TC * tanh(row[j] / (double)T);
        mx = z[j] > mx ? z[j] : mx;
    }
    for (int j = 0; j < C; j++) sum += exp(z[j] - mx);
    int cnt[C] = {0};
    for (int r = 0; r < M; r++) cnt[ids[r]]++;
    for (int j = 0; j < C; j++) {
        double p = exp(z[j] - mx) / sum, sd = sqrt(M * p * (1 - p));
        CHECK_MSG(fabs(cnt[j] - M * p) <= 5 * sd, "choice %d drawn %d times of %d, expected %.0f +- %.0f",
                  j, cnt[j], M, M * p, sd);
        printf("  sampler choice %d: %6d draws, expected %8.1f (p %.4f)\n", j, cnt[j], M * p, p);
    }
    free(xs); free(ids);
}

int main(void) {
    gh_rng rng;
    gh_rng_seed(&rng, 11, GH_STREAM_INIT);
    omp_set_num_threads(2);
    exact_conv_hand();
    conv2d_shape cs[] = {
        {.n = 3, .c = 3, .h = 7, .w = 7, .k = 5, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1},
        {.n = 2, .c = 6, .h = 9, .w = 9, .k = 6, .r = 5, .s = 5, .pad_h = 4, .pad_w = 4,
         .dil_h = 2, .dil_w = 2, .groups = 6},
        {.n = 3, .c = 4, .h = 7, .w = 7, .k = 4, .r = 3, .s = 3, .stride_h = 2, .stride_w = 2,
         .pad_h = 1, .pad_w = 1, .groups = 4},
        {.n = 3, .c = 8, .h = 8, .w = 8, .k = 8, .r = 1, .s = 1},
        {.n = 3, .c = 8, .h = 8, .w = 8, .k = 4, .r = 1, .s = 1, .stride_h = 2, .stride_w = 2},
        {.n = 2, .c = 3, .h = 9, .w = 11, .k = 4, .r = 1, .s = 7, .pad_w = 3},
        {.n = 2, .c = 6, .h = 7, .w = 7, .k = 6, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1, .groups = 3},
        {.n = 1, .c = 16, .h = 32, .w = 32, .k = 16, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1, .groups = 16},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) exact_conv(&rng, cs[i]);
    exact_maxpool_hand();
    exact_pool(&rng, 2, 3, 8, 8, 3, 3, 1, 1);
    exact_pool(&rng, 2, 3, 9, 7, 3, 3, 2, 1);
    exact_pool(&rng, 2, 3, 8, 8, 2, 2, 2, 0);
    exact_pool(&rng, 1, 2, 95, 93, 3, 3, 1, 1);   // stride 1 on a plane too big for the flat path
    exact_pool(&rng, 2, 2, 11, 10, 3, 3, 3, 1);   // the generic stride
    exact_misc(&rng);
    exact_embedding(&rng);
    exact_sampler();
    return check_done("test_kernels_exact");
}
