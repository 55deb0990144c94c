// tests/cuda: every hand-written CUDA op (_cuda) against its plain C reference (_ref), forward
// and backward, on odd sizes, groups, dilations, strides and asymmetric 1x7/7x1 padding; the
// cuDNN/cuBLAS baseline against _ref too; bit-identical reruns in deterministic mode; and the
// runtime helpers (out-of-memory message). Skips (exit 77) without a GPU or without CUDA.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/kernels.h"

#define NAME "test_kernels_cuda"

#ifdef GH_HAVE_CUDA

// ---- helpers -----------------------------------------------------------------------------

static void must(int st, const char *what) {
    if (st != GH_OK) {
        fprintf(stderr, "%s: %s failed: %s\n", NAME, what, gh_error_get());
        exit(1);
    }
}

static float *h_alloc(size_t n) {
    float *p = (float *)calloc(n ? n : 1, sizeof(float));
    if (!p) {
        fprintf(stderr, "%s: out of host memory (%zu floats)\n", NAME, n);
        exit(1);
    }
    return p;
}
static float *h_rand(gh_rng *r, size_t n, float lo, float hi) {
    float *p = h_alloc(n);
    for (size_t i = 0; i < n; i++) p[i] = lo + (hi - lo) * (float)gh_rng_uniform(r);
    return p;
}
static float *h_dup(const float *s, size_t n) {
    float *p = h_alloc(n);
    memcpy(p, s, n * sizeof(float));
    return p;
}
static float *d_alloc(size_t n) {
    void *p = NULL;
    must(gh_cuda_malloc(&p, (n ? n : 1) * sizeof(float)), "gh_cuda_malloc");
    must(gh_cuda_memset0(p, (n ? n : 1) * sizeof(float)), "gh_cuda_memset0");
    return (float *)p;
}
static float *d_up(const float *h, size_t n) {
    float *d = d_alloc(n);
    must(gh_cuda_memcpy_h2d(d, h, n * sizeof(float)), "gh_cuda_memcpy_h2d");
    return d;
}
static void d_set(float *d, const float *h, size_t n) {
    must(gh_cuda_memcpy_h2d(d, h, n * sizeof(float)), "gh_cuda_memcpy_h2d");
}
// sync first: a kernel fault shows up here, named, instead of as garbage
static float *d_down(const float *d, size_t n) {
    float *h = h_alloc(n);
    must(gh_cuda_sync(), "gh_cuda_sync");
    must(gh_cuda_memcpy_d2h(h, d, n * sizeof(float)), "gh_cuda_memcpy_d2h");
    return h;
}
static void d_free(void *p) { must(gh_cuda_free(p), "gh_cuda_free"); }

static double rms(const float *x, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return n ? sqrt(s / n) : 0.0;
}

// fp32 sums of `terms` products against references accumulated in double: rounding grows
// like sqrt(terms) ulps; 1e-5 covers short sums. atol = rtol * rms(want) for cancellations.
static int close_terms(const char *what, const float *got, const float *want, size_t n,
                       double terms, const char *file, int line) {
    double s = sqrt(terms > 1 ? terms : 1) / 8.0;
    double rtol = 1e-5 * (s > 1.0 ? s : 1.0);
    return check_close_f(what, got, want, n, rtol * (rms(want, n) + 1e-30), rtol, file, line);
}
#define CLOSE(what, got, want, n, terms) close_terms(what, got, want, n, terms, __FILE__, __LINE__)
// any difference fails
#define EXACT(what, got, want, n) check_close_f(what, got, want, n, 1e-300, 0.0, __FILE__, __LINE__)

static int bits_equal(const char *what, const float *a, const float *b, size_t n) {
    int ok = memcmp(a, b, n * sizeof(float)) == 0;
    CHECK_MSG(ok, "%s: two deterministic runs differ", what);
    if (ok) printf("  ok   %-40s bit-identical on rerun\n", what);
    return ok;
}

static const kctx REF = {0};

// ---- runtime -----------------------------------------------------------------------------

static void test_runtime(void) {
    CHECK(gh_cuda_built() == 1);
    char name[256];
    CHECK_OK(gh_cuda_device_name(0, name, sizeof name));
    int drv = 0, rt = 0;
    CHECK_OK(gh_cuda_versions(&drv, &rt));
    CHECK(rt >= 12000);
    printf("device 0: %s, driver %d, runtime %d, cuDNN %d, cuBLAS %d\n", name, drv, rt,
           gh_cudnn_version(), gh_cublas_version());
    CHECK(gh_cuda_set_device(gh_cuda_device_count()) == GH_EINVAL);
    CHECK_OK(gh_cuda_set_device(0));

    void *p = (void *)1;
    int st = gh_cuda_malloc(&p, (size_t)1 << 52);  // 4 PiB: more than any device
    CHECK(st == GH_ENOMEM);
    CHECK(p == NULL);
    CHECK_MSG(strstr(gh_error_get(), "bytes") != NULL, "message: %s", gh_error_get());
    CHECK_MSG(strstr(gh_error_get(), "4503599627370496") != NULL, "asked size missing: %s",
              gh_error_get());
    printf("  ok   oversized malloc: %s\n", gh_error_get());
    // the failed allocation must not poison later calls
    float *d = d_alloc(16);
    CHECK_OK(gh_cuda_sync());
    d_free(d);
}

// ---- conv2d --------------------------------------------------------------------------------

typedef struct {
    const char *name;
    conv2d_shape sh;
    int bias;
} conv_case;

static void run_conv(const conv_case *cc, gh_rng *rng, int check_det) {
    conv2d_shape sh = cc->sh;
    if (conv2d_shape_init(&sh) != GH_OK) {
        CHECK_MSG(0, "%s: conv2d_shape_init: %s", cc->name, gh_error_get());
        return;
    }
    const int cg = sh.c / sh.groups, kg = sh.k / sh.groups;
    const size_t nx = (size_t)sh.n * sh.c * sh.h * sh.w, nw = (size_t)sh.k * cg * sh.r * sh.s;
    const size_t ny = (size_t)sh.n * sh.k * sh.p * sh.q, nb = (size_t)sh.k;
    float *x = h_rand(rng, nx, -1, 1), *w = h_rand(rng, nw, -1, 1), *b = h_rand(rng, nb, -1, 1);
    float *dy = h_rand(rng, ny, -1, 1);
    float *dx0 = h_rand(rng, nx, -1, 1), *dw0 = h_rand(rng, nw, -1, 1), *db0 = h_rand(rng, nb, -1, 1);
    const float *bias = cc->bias ? b : NULL;

    float *y_ref = h_alloc(ny), *dx_ref = h_dup(dx0, nx), *dw_ref = h_dup(dw0, nw), *db_ref = h_dup(db0, nb);
    CHECK_OK(conv2d_fwd_ref(&REF, &sh, x, w, bias, y_ref));
    CHECK_OK(conv2d_bwd_ref(&REF, &sh, x, w, dy, dx_ref, dw_ref, db_ref));

    size_t wsf = conv2d_ws_floats_cuda(&sh);
    float *ws = d_alloc(wsf);
    kctx ctx = {.ws = ws, .ws_floats = wsf};
    float *d_x = d_up(x, nx), *d_w = d_up(w, nw), *d_b = d_up(b, nb), *d_dy = d_up(dy, ny);
    float *d_y = d_alloc(ny), *d_dx = d_up(dx0, nx), *d_dw = d_up(dw0, nw), *d_db = d_up(db0, nb);
    char what[160];

    CHECK_OK(conv2d_fwd_cuda(&ctx, &sh, d_x, d_w, cc->bias ? d_b : NULL, d_y));
    float *y = d_down(d_y, ny);
    snprintf(what, sizeof what, "conv %s fwd", cc->name);
    CLOSE(what, y, y_ref, ny, (double)cg * sh.r * sh.s);
    CHECK_OK(conv2d_bwd_cuda(&ctx, &sh, d_x, d_w, d_dy, d_dx, d_dw, d_db));
    float *dx = d_down(d_dx, nx), *dw = d_down(d_dw, nw), *db = d_down(d_db, nb);
    snprintf(what, sizeof what, "conv %s bwd dx", cc->name);
    CLOSE(what, dx, dx_ref, nx, (double)kg * sh.r * sh.s);
    snprintf(what, sizeof what, "conv %s bwd dw (ws %zu)", cc->name, wsf);
    CLOSE(what, dw, dw_ref, nw, (double)sh.n * sh.p * sh.q);
    snprintf(what, sizeof what, "conv %s bwd db", cc->name);
    CLOSE(what, db, db_ref, nb, (double)sh.n * sh.p * sh.q);

    if (check_det) {  // rerun backward from the same start: bit-identical gradients
        kctx dctx = ctx;
        dctx.deterministic = 1;
        float *runs[2][2];
        for (int r = 0; r < 2; r++) {
            d_set(d_dx, dx0, nx);
            d_set(d_dw, dw0, nw);
            CHECK_OK(conv2d_bwd_cuda(&dctx, &sh, d_x, d_w, d_dy, d_dx, d_dw, NULL));
            runs[r][0] = d_down(d_dx, nx);
            runs[r][1] = d_down(d_dw, nw);
        }
        snprintf(what, sizeof what, "conv %s det dx", cc->name);
        bits_equal(what, runs[0][0], runs[1][0], nx);
        snprintf(what, sizeof what, "conv %s det dw", cc->name);
        bits_equal(what, runs[0][1], runs[1][1], nw);
        for (int r = 0; r < 2; r++) { free(runs[r][0]); free(runs[r][1]); }
    }

#ifdef GH_HAVE_CUDNN
    {  // the baseline, same inputs, same accumulate semantics
        kctx bctx = {.deterministic = check_det};
        float *y2, *dx2, *dw2, *db2;
        d_set(d_dx, dx0, nx);
        d_set(d_dw, dw0, nw);
        d_set(d_db, db0, nb);
        CHECK_OK(conv2d_fwd_cudnn(&bctx, &sh, d_x, d_w, cc->bias ? d_b : NULL, d_y));
        CHECK_OK(conv2d_bwd_cudnn(&bctx, &sh, d_x, d_w, d_dy, d_dx, d_dw, d_db));
        y2 = d_down(d_y, ny);
        dx2 = d_down(d_dx, nx);
        dw2 = d_down(d_dw, nw);
        db2 = d_down(d_db, nb);
        snprintf(what, sizeof what, "cudnn conv %s fwd", cc->name);
        CLOSE(what, y2, y_ref, ny, (double)cg * sh.r * sh.s);
        snprintf(what, sizeof what, "cudnn conv %s dx", cc->name);
        CLOSE(what, dx2, dx_ref, nx, (double)kg * sh.r * sh.s);
        snprintf(what, sizeof what, "cudnn conv %s dw", cc->name);
        CLOSE(what, dw2, dw_ref, nw, (double)sh.n * sh.p * sh.q);
        snprintf(what, sizeof what, "cudnn conv %s db", cc->name);
        CLOSE(what, db2, db_ref, nb, (double)sh.n * sh.p * sh.q);
        free(y2); free(dx2); free(dw2); free(db2);
    }
#endif
    free(y); free(dx); free(dw); free(db);
    d_free(ws); d_free(d_x); d_free(d_w); d_free(d_b); d_free(d_dy);
    d_free(d_y); d_free(d_dx); d_free(d_dw); d_free(d_db);
    free(x); free(w); free(b); free(dy); free(dx0); free(dw0); free(db0);
    free(y_ref); free(dx_ref); free(dw_ref); free(db_ref);
}

#define CONV(nm, N, C, H, W, K, R, S, SH, SW, PH, PW, DH, DW, G, B) \
    {nm, {.n = N, .c = C, .h = H, .w = W, .k = K, .r = R, .s = S, .stride_h = SH, .stride_w = SW, \
          .pad_h = PH, .pad_w = PW, .dil_h = DH, .dil_w = DW, .groups = G}, B}

static void test_conv(gh_rng *rng) {
    static const conv_case cases[] = {
        //    name                          n  c   h   w   k  r  s sh sw ph pw dh dw  g bias
        CONV("3x3 odd",                     2, 3,  7,  9,  5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1),
        CONV("3x3 s2 k70 (partial M tile)", 2, 5, 11, 13, 70, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1),
        CONV("3x3 groups 2",                2, 4,  9,  8,  6, 3, 3, 1, 1, 1, 1, 1, 1, 2, 0),
        CONV("3x3 dil 2",                   2, 6, 10, 11,  8, 3, 3, 1, 1, 2, 2, 2, 2, 1, 1),
        CONV("1x7 pad 0x3",                 2, 8,  9, 12, 12, 1, 7, 1, 1, 0, 3, 1, 1, 1, 0),
        CONV("7x1 pad 3x0",                 2, 8, 12,  9, 12, 7, 1, 1, 1, 3, 0, 1, 1, 1, 0),
        CONV("1x1 pointwise",               3, 16, 8,  8, 32, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1),
        CONV("1x1 s2 (FactorizedReduce)",   2, 12, 9,  9, 6, 1, 1, 2, 2, 0, 0, 1, 1, 1, 0),
        CONV("5x5 s3 groups 3 dil 1x2",     2, 6, 17, 19, 9, 5, 5, 3, 3, 2, 4, 1, 2, 3, 1),
        CONV("dw 3x3",                      2, 8, 11, 11,  8, 3, 3, 1, 1, 1, 1, 1, 1, 8, 1),
        CONV("dw 5x5",                      2, 8, 11, 10,  8, 5, 5, 1, 1, 2, 2, 1, 1, 8, 0),
        CONV("dw 3x3 dil 2",                2, 8, 13,  9,  8, 3, 3, 1, 1, 2, 2, 2, 2, 8, 0),
        CONV("dw 5x5 dil 2",                2, 8, 13, 14,  8, 5, 5, 1, 1, 4, 4, 2, 2, 8, 0),
        CONV("dw 3x3 s2",                   2, 8, 11, 12,  8, 3, 3, 2, 2, 1, 1, 1, 1, 8, 1),
        CONV("dw 5x5 s2",                   2, 8, 12, 11,  8, 5, 5, 2, 2, 2, 2, 1, 1, 8, 0),
        CONV("dw 3x3 s2 dil 2",             2, 8, 12, 13,  8, 3, 3, 2, 2, 2, 2, 2, 2, 8, 0),
        // strided backward data visits one residue class of taps (issue 15): odd and even
        // padding, dilation 2 with stride 2 (gcd 2: every tap or none), no padding
        CONV("dw 5x5 s2 dil 2",             2, 8, 15, 14,  8, 5, 5, 2, 2, 4, 4, 2, 2, 8, 0),
        CONV("dw 5x5 s2 pad 1",             2, 4, 13, 12,  4, 5, 5, 2, 2, 1, 1, 1, 1, 4, 1),
        CONV("dw 3x3 s2 pad 0",             2, 4, 10,  9,  4, 3, 3, 2, 2, 0, 0, 1, 1, 4, 0),
        CONV("dw 3x3 pad 0",                2, 4,  7,  6,  4, 3, 3, 1, 1, 0, 0, 1, 1, 4, 0),
        // the shared-memory tiles (conv_dw.cuh; test_conv_dw_emu replays these on the CPU):
        // one 32x32 plane a block with float4 staging, 2x2 and 4x4 tiles a plane, several
        // planes a block (16x16: 4; 6x6 outputs: 21), tall 5x5 dil 2
        CONV("dw tile 3x3 32x32 float4",    2, 8, 32, 32,  8, 3, 3, 1, 1, 1, 1, 1, 1, 8, 1),
        CONV("dw tile 3x3 33x35 2x2 tiles", 1, 3, 33, 35,  3, 3, 3, 1, 1, 1, 1, 1, 1, 3, 1),
        CONV("dw tile 5x5 16x16 4 planes",  3, 7, 16, 16,  7, 5, 5, 1, 1, 2, 2, 1, 1, 7, 0),
        CONV("dw tile 3x3 8x8 pad 0",       4, 9,  8,  8,  9, 3, 3, 1, 1, 0, 0, 1, 1, 9, 1),
        CONV("dw tile 5x5 s2 dil 2 66x65",  1, 2, 66, 65,  2, 5, 5, 2, 2, 4, 4, 2, 2, 2, 1),
        CONV("dw tile 3x3 112x112 4x4",     1, 2, 112, 112, 2, 3, 3, 1, 1, 1, 1, 1, 1, 2, 0),
        CONV("dw tile 5x5 dil 2 70x40 tall", 1, 2, 70, 40, 2, 5, 5, 1, 1, 4, 4, 2, 2, 2, 0),
        CONV("dw 7x7 (generic path)",       2, 4, 12, 12,  4, 7, 7, 1, 1, 3, 3, 1, 1, 4, 1),
        CONV("dw multiplier 2 (generic)",   2, 4,  9,  9,  8, 3, 3, 1, 1, 1, 1, 1, 1, 4, 0),
        // M tiles of the implicit GEMM: fwd M = k (32 here), bwd data M = c (64 here)
        CONV("3x3 c48 k24 (dx M tile 64)",  2, 48, 9, 10, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1),
        CONV("3x3 s2 c30 k16 (dx M tile 32)", 2, 30, 9, 8, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0),
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_conv(&cases[i], rng, 0);
    // big enough for split-K weight gradients (workspace > 0) and the deterministic reruns
    static const conv_case big[] = {
        CONV("split-K 3x3 n8 c16 k32 32x32", 8, 16, 32, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1),
        CONV("split-K dw 3x3 n16 c32 16x16", 16, 32, 16, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1, 32, 0),
        CONV("split-K dw 5x5 s2 n16 c24",    16, 24, 16, 16, 24, 5, 5, 2, 2, 2, 2, 1, 1, 24, 0),
        CONV("split-K 3x3 groups 2 n8 16x16", 8, 16, 16, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1, 2, 1),
    };
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        conv2d_shape sh = big[i].sh;
        CHECK_OK(conv2d_shape_init(&sh));
        CHECK_MSG(conv2d_ws_floats_cuda(&sh) > 0, "%s: expected a split-K workspace", big[i].name);
        run_conv(&big[i], rng, 1);
    }
    // a missing workspace is an error, not a crash
    conv2d_shape sh = big[0].sh;
    CHECK_OK(conv2d_shape_init(&sh));
    size_t nx = (size_t)sh.n * sh.c * sh.h * sh.w, nw = (size_t)sh.k * sh.c * 9, ny = (size_t)sh.n * sh.k * sh.p * sh.q;
    float *d_x = d_alloc(nx), *d_dy = d_alloc(ny), *d_dw = d_alloc(nw);
    kctx nows = {0};
    CHECK(conv2d_bwd_cuda(&nows, &sh, d_x, NULL, d_dy, NULL, d_dw, NULL) == GH_EINVAL);
    CHECK_MSG(strstr(gh_error_get(), "workspace") != NULL, "message: %s", gh_error_get());
    conv2d_shape bad = sh;
    bad.p += 1;
    CHECK(conv2d_fwd_cuda(&nows, &bad, d_x, d_dw, NULL, d_dy) == GH_EINVAL);
    d_free(d_x); d_free(d_dy); d_free(d_dw);
}

// ---- conv2d on TF32 and BF16 tensor cores (issue 15) ------------------------------------------
// conv2d_fwd_prec_cuda / conv2d_bwd_prec_cuda against the C reference, forward, backward data,
// weight and bias gradients. Tolerances |got - ref| <= tol * (rms(ref) + |ref|), per precision:
// TF32 keeps 10 mantissa bits: each operand is rounded by at most 2^-11 relative (standard
// deviation about 2.8e-4), a product by about 4e-4, and with FP32 accumulation an output's
// error is a random walk of about 4e-4 * rms(output): tol 5e-3 leaves 12 standard deviations.
// BF16 keeps 7: 2^-9 per operand (sd 1.1e-3), about 1.6e-3 per product: tol 2e-2, 12 sd.
// Small integers (|v| <= 3) are exact in both formats and their sums exact in FP32 (below 2^24
// here): forward and both gradients (accumulated onto integer starts) must then match exactly.
// A non-depthwise result must differ from the FP32 kernel's somewhere (the tensor cores ran);
// depthwise shapes run the FP32 kernels at every precision: bit-identical to them.
#define TF32_TOL 5e-3
#define BF16_TOL 2e-2

static float *h_ints(gh_rng *rng, size_t n) {
    float *p = h_alloc(n);
    for (size_t i = 0; i < n; i++) p[i] = (float)gh_rng_below(rng, 7) - 3.0f;
    return p;
}

static void prec_close(const char *pn, const char *name, const char *part, const float *got,
                       const float *want, size_t n, double tol) {
    char what[160];
    snprintf(what, sizeof what, "conv %s %s %s", pn, name, part);
    check_close_f(what, got, want, n, tol * (rms(want, n) + 1e-30), tol, __FILE__, __LINE__);
}

// The tensor cores rounded: the FP32 kernel's bits are not all reproduced.
static void prec_differs(const char *pn, const char *name, const char *part, const float *got,
                         const float *f32, size_t n) {
    size_t differ = 0;
    for (size_t i = 0; i < n; i++) differ += got[i] != f32[i];
    CHECK_MSG(differ > 0, "conv %s %s %s: all %zu values equal the FP32 kernel's: the tensor "
              "cores did not run", pn, name, part, n);
}

static void run_conv_prec(const conv_case *cc, gh_precision prec, gh_rng *rng) {
    conv2d_shape sh = cc->sh;
    if (conv2d_shape_init(&sh) != GH_OK) {
        CHECK_MSG(0, "%s: conv2d_shape_init: %s", cc->name, gh_error_get());
        return;
    }
    const char *pn = gh_precision_name(prec);
    const double tol = prec == GH_PREC_BF16 ? BF16_TOL : TF32_TOL;
    const int cg = sh.c / sh.groups;
    const size_t nx = (size_t)sh.n * sh.c * sh.h * sh.w, nw = (size_t)sh.k * cg * sh.r * sh.s;
    const size_t ny = (size_t)sh.n * sh.k * sh.p * sh.q, nb = (size_t)sh.k;
    const int depthwise = sh.groups > 1 && sh.groups == sh.c && sh.k == sh.c;
    float *x = h_rand(rng, nx, -1, 1), *w = h_rand(rng, nw, -1, 1), *b = h_rand(rng, nb, -1, 1);
    float *dy = h_rand(rng, ny, -1, 1);
    const float *bias = cc->bias ? b : NULL;
    // references: the gradients from zero
    float *ry = h_alloc(ny), *rdx = h_alloc(nx), *rdw = h_alloc(nw), *rdb = h_alloc(nb);
    CHECK_OK(conv2d_fwd_ref(&REF, &sh, x, w, bias, ry));
    CHECK_OK(conv2d_bwd_ref(&REF, &sh, x, w, dy, rdx, rdw, rdb));

    size_t wsf = conv2d_ws_floats_cuda(&sh);
    float *ws = d_alloc(wsf);
    kctx ctx = {.ws = ws, .ws_floats = wsf};
    float *d_x = d_up(x, nx), *d_w = d_up(w, nw), *d_b = d_up(b, nb), *d_dy = d_up(dy, ny);
    float *d_y = d_alloc(ny), *d_dx = d_alloc(nx), *d_dw = d_alloc(nw), *d_db = d_alloc(nb);
    const float *d_bias = cc->bias ? d_b : NULL;
    float *zx = h_alloc(nx), *zw = h_alloc(nw), *zb = h_alloc(nb);
    float *out[2][4];  // [prec, fp32][y, dx, dw, db]
    const gh_precision run_as[2] = {prec, GH_PREC_FP32};
    for (int r = 0; r < 2; r++) {
        d_set(d_dx, zx, nx);
        d_set(d_dw, zw, nw);
        d_set(d_db, zb, nb);
        CHECK_OK(conv2d_fwd_prec_cuda(&ctx, &sh, run_as[r], d_x, d_w, d_bias, d_y));
        CHECK_OK(conv2d_bwd_prec_cuda(&ctx, &sh, run_as[r], d_x, d_w, d_dy, d_dx, d_dw, d_db));
        out[r][0] = d_down(d_y, ny);
        out[r][1] = d_down(d_dx, nx);
        out[r][2] = d_down(d_dw, nw);
        out[r][3] = d_down(d_db, nb);
    }
    prec_close(pn, cc->name, "fwd", out[0][0], ry, ny, tol);
    prec_close(pn, cc->name, "bwd dx", out[0][1], rdx, nx, tol);
    prec_close(pn, cc->name, "bwd dw", out[0][2], rdw, nw, tol);
    prec_close(pn, cc->name, "bwd db", out[0][3], rdb, nb, tol);
    char what[160];
    snprintf(what, sizeof what, "conv %s %s db (the fp32 kernel)", pn, cc->name);
    bits_equal(what, out[0][3], out[1][3], nb);
    static const char *parts[3] = {"fwd", "bwd dx", "bwd dw"};
    const size_t sizes[3] = {ny, nx, nw};
    for (int i = 0; i < 3; i++) {
        if (depthwise) {
            snprintf(what, sizeof what, "conv %s %s %s (depthwise: fp32)", pn, cc->name, parts[i]);
            bits_equal(what, out[0][i], out[1][i], sizes[i]);
        } else {
            prec_differs(pn, cc->name, parts[i], out[0][i], out[1][i], sizes[i]);
        }
    }

    // integers: exact, the gradients accumulated onto integer starts
    float *xi = h_ints(rng, nx), *wi = h_ints(rng, nw), *dyi = h_ints(rng, ny);
    float *dx0 = h_ints(rng, nx), *dw0 = h_ints(rng, nw);
    float *ryi = h_alloc(ny), *rdxi = h_dup(dx0, nx), *rdwi = h_dup(dw0, nw);
    CHECK_OK(conv2d_fwd_ref(&REF, &sh, xi, wi, NULL, ryi));
    CHECK_OK(conv2d_bwd_ref(&REF, &sh, xi, wi, dyi, rdxi, rdwi, NULL));
    d_set(d_x, xi, nx);
    d_set(d_w, wi, nw);
    d_set(d_dy, dyi, ny);
    d_set(d_dx, dx0, nx);
    d_set(d_dw, dw0, nw);
    CHECK_OK(conv2d_fwd_prec_cuda(&ctx, &sh, prec, d_x, d_w, NULL, d_y));
    CHECK_OK(conv2d_bwd_prec_cuda(&ctx, &sh, prec, d_x, d_w, d_dy, d_dx, d_dw, NULL));
    float *yi = d_down(d_y, ny), *dxi = d_down(d_dx, nx), *dwi = d_down(d_dw, nw);
    snprintf(what, sizeof what, "conv %s %s fwd (integers)", pn, cc->name);
    EXACT(what, yi, ryi, ny);
    snprintf(what, sizeof what, "conv %s %s dx += (integers)", pn, cc->name);
    EXACT(what, dxi, rdxi, nx);
    snprintf(what, sizeof what, "conv %s %s dw += (integers)", pn, cc->name);
    EXACT(what, dwi, rdwi, nw);

    for (int r = 0; r < 2; r++)
        for (int i = 0; i < 4; i++) free(out[r][i]);
    free(x); free(w); free(b); free(dy); free(ry); free(rdx); free(rdw); free(rdb);
    free(zx); free(zw); free(zb); free(xi); free(wi); free(dyi); free(dx0); free(dw0);
    free(ryi); free(rdxi); free(rdwi); free(yi); free(dxi); free(dwi);
    d_free(ws); d_free(d_x); d_free(d_w); d_free(d_b); d_free(d_dy);
    d_free(d_y); d_free(d_dx); d_free(d_dw); d_free(d_db);
}

static void test_conv_prec(gh_rng *rng) {
    static const conv_case cases[] = {
        //    name                          n  c   h   w   k  r  s sh sw ph pw dh dw  g bias
        CONV("3x3 odd",                     2, 3,  7,  9,  5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1),
        CONV("3x3 s2 k70 (partial M tile)", 2, 5, 11, 13, 70, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1),
        CONV("3x3 groups 2",                2, 4,  9,  8,  6, 3, 3, 1, 1, 1, 1, 1, 1, 2, 0),
        CONV("3x3 dil 2",                   2, 6, 10, 11,  8, 3, 3, 1, 1, 2, 2, 2, 2, 1, 1),
        CONV("1x7 pad 0x3",                 2, 8,  9, 12, 12, 1, 7, 1, 1, 0, 3, 1, 1, 1, 0),
        CONV("7x1 pad 3x0",                 2, 8, 12,  9, 12, 7, 1, 1, 1, 3, 0, 1, 1, 1, 0),
        CONV("5x5 s3 groups 3 dil 1x2",     2, 6, 17, 19, 9, 5, 5, 3, 3, 2, 4, 1, 2, 3, 1),
        // backward data's M tile is c: 70 input channels span two
        CONV("3x3 s2 c70 k8",               2, 70, 9, 10, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0),
        // DARTS search shapes: the 1x1 of ReLUConvBN (C=64 at 8x8), FactorizedReduce, the stem
        CONV("1x1 n64 c64 8x8",            64, 64, 8,  8, 64, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0),
        CONV("1x1 s2 c32 k16 16x16",       16, 32, 16, 16, 16, 1, 1, 2, 2, 0, 0, 1, 1, 1, 0),
        CONV("stem 3x3 c3 k48 32x32",       8, 3, 32, 32, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0),
        // split-K weight gradients (a workspace), one with groups
        CONV("split-K 3x3 n8 c16 k32 32x32", 8, 16, 32, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1),
        CONV("split-K 3x3 groups 2 n8 16x16", 8, 16, 16, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1, 2, 1),
        CONV("dw 3x3 (fp32 path)",          2, 8, 11, 11,  8, 3, 3, 1, 1, 1, 1, 1, 1, 8, 1),
    };
    for (int p = GH_PREC_TF32; p <= GH_PREC_BF16; p++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            run_conv_prec(&cases[i], (gh_precision)p, rng);
    conv2d_shape sh = cases[0].sh;
    CHECK_OK(conv2d_shape_init(&sh));
    float *d = d_alloc(1024);
    kctx ctx = {0};
    CHECK(conv2d_fwd_prec_cuda(&ctx, &sh, (gh_precision)7, d, d, NULL, d) == GH_EINVAL);
    CHECK_MSG(strstr(gh_error_get(), "precision") != NULL, "message: %s", gh_error_get());
    CHECK(conv2d_bwd_prec_cuda(&ctx, &sh, (gh_precision)7, d, d, d, d, d, NULL) == GH_EINVAL);
    CHECK_MSG(strstr(gh_error_get(), "precision") != NULL, "message: %s", gh_error_get());
    // the split-K weight gradient without its workspace: an error naming it, not a crash
    conv2d_shape big = cases[11].sh;
    CHECK_OK(conv2d_shape_init(&big));
    CHECK_MSG(conv2d_ws_floats_cuda(&big) > 0, "%s: expected a split-K workspace", cases[11].name);
    size_t nx = (size_t)big.n * big.c * big.h * big.w, nw = (size_t)big.k * big.c * 9;
    size_t ny = (size_t)big.n * big.k * big.p * big.q;
    float *d_x = d_alloc(nx), *d_dy = d_alloc(ny), *d_dw = d_alloc(nw);
    for (int p = GH_PREC_TF32; p <= GH_PREC_BF16; p++) {
        CHECK(conv2d_bwd_prec_cuda(&ctx, &big, (gh_precision)p, d_x, NULL, d_dy, NULL, d_dw, NULL)
              == GH_EINVAL);
        CHECK_MSG(strstr(gh_error_get(), "workspace") != NULL, "message: %s", gh_error_get());
    }
    d_free(d); d_free(d_x); d_free(d_dy); d_free(d_dw);
}

// ---- batch norm ------------------------------------------------------------------------------

static void run_bn(const char *name, bn_shape sh, int affine, int running, gh_rng *rng) {
    const size_t nx = (size_t)sh.n * sh.c * sh.hw, c = (size_t)sh.c;
    const double N = (double)sh.n * sh.hw;
    float *x = h_rand(rng, nx, -2, 3), *dy = h_rand(rng, nx, -1, 1);
    float *g = h_rand(rng, c, 0.5f, 1.5f), *bt = h_rand(rng, c, -0.5f, 0.5f);
    float *rm0 = h_rand(rng, c, -0.1f, 0.1f), *rv0 = h_rand(rng, c, 0.9f, 1.1f);
    float *dx0 = h_rand(rng, nx, -1, 1), *dg0 = h_rand(rng, c, -1, 1), *dbt0 = h_rand(rng, c, -1, 1);
    float *y_r = h_alloc(nx), *sm_r = h_alloc(c), *si_r = h_alloc(c);
    float *rm_r = h_dup(rm0, c), *rv_r = h_dup(rv0, c), *ye_r = h_alloc(nx);
    float *dx_r = h_dup(dx0, nx), *dg_r = h_dup(dg0, c), *dbt_r = h_dup(dbt0, c);
    const float *G = affine ? g : NULL, *B = affine ? bt : NULL;
    CHECK_OK(bn_fwd_train_ref(&REF, &sh, x, G, B, y_r, sm_r, si_r, running ? rm_r : NULL, running ? rv_r : NULL));
    CHECK_OK(bn_fwd_eval_ref(&REF, &sh, x, G, B, rm0, rv0, ye_r));
    CHECK_OK(bn_bwd_ref(&REF, &sh, x, G, sm_r, si_r, dy, dx_r, affine ? dg_r : NULL, affine ? dbt_r : NULL));

    kctx ctx = {0};
    float *d_x = d_up(x, nx), *d_dy = d_up(dy, nx), *d_g = d_up(g, c), *d_b = d_up(bt, c);
    float *d_y = d_alloc(nx), *d_sm = d_alloc(c), *d_si = d_alloc(c);
    float *d_rm = d_up(rm0, c), *d_rv = d_up(rv0, c), *d_rm0 = d_up(rm0, c), *d_rv0 = d_up(rv0, c);
    float *d_dx = d_up(dx0, nx), *d_dg = d_up(dg0, c), *d_dbt = d_up(dbt0, c);
    const float *dG = affine ? d_g : NULL, *dB = affine ? d_b : NULL;
    char what[160];

    for (int impl = 0; impl < 2; impl++) {
#ifndef GH_HAVE_CUDNN
        if (impl == 1) break;
#endif
        const char *tag = impl ? "cudnn bn" : "bn";
        d_set(d_rm, rm0, c);
        d_set(d_rv, rv0, c);
        d_set(d_dx, dx0, nx);
        d_set(d_dg, dg0, c);
        d_set(d_dbt, dbt0, c);
#ifdef GH_HAVE_CUDNN
        if (impl) {
            CHECK_OK(bn_fwd_train_cudnn(&ctx, &sh, d_x, dG, dB, d_y, d_sm, d_si, running ? d_rm : NULL, running ? d_rv : NULL));
        } else
#endif
        {
            CHECK_OK(bn_fwd_train_cuda(&ctx, &sh, d_x, dG, dB, d_y, d_sm, d_si, running ? d_rm : NULL, running ? d_rv : NULL));
        }
        float *y = d_down(d_y, nx), *sm = d_down(d_sm, c), *si = d_down(d_si, c);
        float *rm = d_down(d_rm, c), *rv = d_down(d_rv, c);
        snprintf(what, sizeof what, "%s %s fwd y", tag, name);
        CLOSE(what, y, y_r, nx, N);
        snprintf(what, sizeof what, "%s %s save_mean", tag, name);
        CLOSE(what, sm, sm_r, c, N);
        snprintf(what, sizeof what, "%s %s save_invstd", tag, name);
        CLOSE(what, si, si_r, c, N);
        if (running) {
            snprintf(what, sizeof what, "%s %s running mean", tag, name);
            CLOSE(what, rm, rm_r, c, N);
            snprintf(what, sizeof what, "%s %s running var", tag, name);
            CLOSE(what, rv, rv_r, c, N);
        }
        // backward from the reference's saved statistics, so both see the same inputs
        float *d_smr = d_up(sm_r, c), *d_sir = d_up(si_r, c);
#ifdef GH_HAVE_CUDNN
        if (impl) {
            CHECK_OK(bn_bwd_cudnn(&ctx, &sh, d_x, dG, d_smr, d_sir, d_dy, d_dx, affine ? d_dg : NULL, affine ? d_dbt : NULL));
        } else
#endif
        {
            CHECK_OK(bn_bwd_cuda(&ctx, &sh, d_x, dG, d_smr, d_sir, d_dy, d_dx, affine ? d_dg : NULL, affine ? d_dbt : NULL));
        }
        float *dx = d_down(d_dx, nx), *dg = d_down(d_dg, c), *dbt = d_down(d_dbt, c);
        snprintf(what, sizeof what, "%s %s bwd dx", tag, name);
        CLOSE(what, dx, dx_r, nx, N);
        if (affine) {
            snprintf(what, sizeof what, "%s %s bwd dgamma", tag, name);
            CLOSE(what, dg, dg_r, c, N);
            snprintf(what, sizeof what, "%s %s bwd dbeta", tag, name);
            CLOSE(what, dbt, dbt_r, c, N);
        }
        free(y); free(sm); free(si); free(rm); free(rv); free(dx); free(dg); free(dbt);
        d_free(d_smr); d_free(d_sir);
    }
    CHECK_OK(bn_fwd_eval_cuda(&ctx, &sh, d_x, dG, dB, d_rm0, d_rv0, d_y));
    float *ye = d_down(d_y, nx);
    snprintf(what, sizeof what, "bn %s eval", name);
    CLOSE(what, ye, ye_r, nx, 1);
    free(ye);
    d_free(d_x); d_free(d_dy); d_free(d_g); d_free(d_b); d_free(d_y); d_free(d_sm); d_free(d_si);
    d_free(d_rm); d_free(d_rv); d_free(d_rm0); d_free(d_rv0); d_free(d_dx); d_free(d_dg); d_free(d_dbt);
    free(x); free(dy); free(g); free(bt); free(rm0); free(rv0); free(dx0); free(dg0); free(dbt0);
    free(y_r); free(sm_r); free(si_r); free(rm_r); free(rv_r); free(ye_r); free(dx_r); free(dg_r); free(dbt_r);
}

static void test_bn(gh_rng *rng) {
    run_bn("n4 c3 hw25", (bn_shape){4, 3, 25, 1e-5f, 0.1f}, 1, 1, rng);
    run_bn("n5 c16 hw64 no affine", (bn_shape){5, 16, 64, 1e-5f, 0.1f}, 0, 0, rng);
    run_bn("n32 c4 hw1024 (split stats)", (bn_shape){32, 4, 1024, 1e-5f, 0.1f}, 1, 1, rng);
    run_bn("n3 c7 hw9 (odd hw)", (bn_shape){3, 7, 9, 1e-3f, 0.3f}, 1, 1, rng);
    run_bn("n33 c5 hw256 (uneven split)", (bn_shape){33, 5, 256, 1e-5f, 0.1f}, 1, 1, rng);
    run_bn("n64 c16 hw1024 (DARTS C=16)", (bn_shape){64, 16, 1024, 1e-5f, 0.1f}, 1, 1, rng);

    // dgamma and dbeta without dx: the finalize alone (one block per channel)
    bn_shape sh = {.n = 6, .c = 5, .hw = 36, .eps = 1e-5f, .momentum = 0.1f};
    const size_t nx = (size_t)sh.n * sh.c * sh.hw, c = (size_t)sh.c;
    float *x = h_rand(rng, nx, -2, 3), *dy = h_rand(rng, nx, -1, 1), *g = h_rand(rng, c, 0.5f, 1.5f);
    float *sm = h_alloc(c), *si = h_alloc(c), *y = h_alloc(nx), *dxr = h_alloc(nx);
    float *dg0 = h_rand(rng, c, -1, 1), *db0 = h_rand(rng, c, -1, 1);
    float *dgr = h_dup(dg0, c), *dbr = h_dup(db0, c);
    CHECK_OK(bn_fwd_train_ref(&REF, &sh, x, g, NULL, y, sm, si, NULL, NULL));
    CHECK_OK(bn_bwd_ref(&REF, &sh, x, g, sm, si, dy, dxr, dgr, dbr));
    float *d_x = d_up(x, nx), *d_dy = d_up(dy, nx), *d_g = d_up(g, c), *d_sm = d_up(sm, c);
    float *d_si = d_up(si, c), *d_dg = d_up(dg0, c), *d_db = d_up(db0, c);
    kctx ctx = {0};
    CHECK_OK(bn_bwd_cuda(&ctx, &sh, d_x, d_g, d_sm, d_si, d_dy, NULL, d_dg, d_db));
    float *dg = d_down(d_dg, c), *db = d_down(d_db, c);
    CLOSE("bn no dx: dgamma", dg, dgr, c, (double)sh.n * sh.hw);
    CLOSE("bn no dx: dbeta", db, dbr, c, (double)sh.n * sh.hw);
    free(x); free(dy); free(g); free(sm); free(si); free(y); free(dxr); free(dg0); free(db0);
    free(dgr); free(dbr); free(dg); free(db);
    d_free(d_x); d_free(d_dy); d_free(d_g); d_free(d_sm); d_free(d_si); d_free(d_dg); d_free(d_db);
}

// ---- elementwise, dropout, optimizers ----------------------------------------------------------

static void test_elementwise(gh_rng *rng) {
    // 4099 with offset 0 runs the float4 body and a tail; offset 1 misaligns every pointer
    for (int off = 0; off < 2; off++) {
        const size_t n = 4099;
        char what[128];
        float *a = h_rand(rng, n + 1, -1, 1), *b = h_rand(rng, n + 1, -1, 1), *g0 = h_rand(rng, n + 1, -1, 1);
        float *d_a = d_up(a, n + 1), *d_b = d_up(b, n + 1), *d_y = d_alloc(n + 1), *d_g = d_up(g0, n + 1);
        float *ra = a + off, *rb = b + off, *rg = h_dup(g0 + off, n), *ry = h_alloc(n);
        float *da = d_a + off, *db = d_b + off, *dy = d_y + off, *dg = d_g + off;
        kctx ctx = {0};

        CHECK_OK(relu_fwd_ref(&REF, n, ra, ry));
        CHECK_OK(relu_fwd_cuda(&ctx, n, da, dy));
        float *y = d_down(dy, n);
        snprintf(what, sizeof what, "relu fwd off %d", off);
        EXACT(what, y, ry, n);
        free(y);
        CHECK_OK(relu_bwd_ref(&REF, n, ra, rb, rg));
        CHECK_OK(relu_bwd_cuda(&ctx, n, da, db, dg));
        y = d_down(dg, n);
        snprintf(what, sizeof what, "relu bwd off %d", off);
        EXACT(what, y, rg, n);
        free(y);

        CHECK_OK(add_fwd_ref(&REF, n, ra, rb, ry));
        CHECK_OK(add_fwd_cuda(&ctx, n, da, db, dy));
        y = d_down(dy, n);
        snprintf(what, sizeof what, "add fwd off %d", off);
        EXACT(what, y, ry, n);
        free(y);
        // add_bwd into two gradients (starting from a and from the reference output)
        float *ra2 = h_dup(ra, n), *rg2 = h_dup(rg, n);
        CHECK_OK(add_bwd_ref(&REF, n, rb, ra2, rg2));
        CHECK_OK(add_bwd_cuda(&ctx, n, db, da, dg));
        float *ga = d_down(da, n), *gg = d_down(dg, n);
        snprintf(what, sizeof what, "add bwd da off %d", off);
        EXACT(what, ga, ra2, n);
        snprintf(what, sizeof what, "add bwd db off %d", off);
        EXACT(what, gg, rg2, n);
        free(ga); free(gg);
        CHECK_OK(add_bwd_ref(&REF, n, rb, NULL, rg2));
        CHECK_OK(add_bwd_cuda(&ctx, n, db, NULL, dg));
        gg = d_down(dg, n);
        snprintf(what, sizeof what, "add bwd one grad off %d", off);
        EXACT(what, gg, rg2, n);
        free(gg);

        // axpy may fuse the multiply-add (one rounding) where the host rounds twice
        CHECK_OK(axpy_ref(&REF, n, 0.37f, rb, ra2));
        CHECK_OK(axpy_cuda(&ctx, n, 0.37f, db, da));
        ga = d_down(da, n);
        snprintf(what, sizeof what, "axpy off %d", off);
        CLOSE(what, ga, ra2, n, 1);
        free(ga);
        CHECK_OK(scale_ref(&REF, n, -1.75f, ra2));
        CHECK_OK(scale_cuda(&ctx, n, -1.75f, da));
        ga = d_down(da, n);
        snprintf(what, sizeof what, "scale off %d", off);
        CLOSE(what, ga, ra2, n, 1);
        free(ga);
        CHECK_OK(fill_ref(&REF, n, 2.5f, ry));
        CHECK_OK(fill_cuda(&ctx, n, 2.5f, dy));
        y = d_down(dy, n);
        snprintf(what, sizeof what, "fill off %d", off);
        EXACT(what, y, ry, n);
        free(y);
        free(ra2); free(rg2);

        double s_ref = 0.0, s_gpu = -1.0, s_gpu2 = -2.0;
        CHECK_OK(sumsq_ref(&REF, n, rb, &s_ref));
        CHECK_OK(sumsq_cuda(&ctx, n, db, &s_gpu));
        CHECK_OK(sumsq_cuda(&ctx, n, db, &s_gpu2));
        CHECK_MSG(fabs(s_gpu - s_ref) <= 1e-12 * s_ref, "sumsq %.17g vs ref %.17g", s_gpu, s_ref);
        CHECK_MSG(s_gpu == s_gpu2, "sumsq reruns differ: %.17g %.17g", s_gpu, s_gpu2);
        free(a); free(b); free(g0); free(rg); free(ry);
        d_free(d_a); d_free(d_b); d_free(d_y); d_free(d_g);
    }
    // sumsq over many blocks
    {
        const size_t n = (size_t)3 << 20;
        float *x = h_rand(rng, n, -1, 1), *d = d_up(x, n);
        double r = 0.0, g1 = 0.0, g2 = 0.0;
        kctx ctx = {.deterministic = 1};
        CHECK_OK(sumsq_ref(&REF, n, x, &r));
        CHECK_OK(sumsq_cuda(&ctx, n, d, &g1));
        CHECK_OK(sumsq_cuda(&ctx, n, d, &g2));
        CHECK_MSG(fabs(g1 - r) <= 1e-12 * r, "sumsq 3M %.17g vs ref %.17g", g1, r);
        CHECK_MSG(g1 == g2, "sumsq 3M reruns differ");
        free(x);
        d_free(d);
    }
}

// The step's seed in device memory (8 bytes), as the engine keeps it.
static uint64_t *seed_up(uint64_t v) {
    uint64_t *d = (uint64_t *)d_alloc(2);
    must(gh_cuda_memcpy_h2d(d, &v, sizeof v), "gh_cuda_memcpy_h2d");
    return d;
}

static void test_dropout(gh_rng *rng) {
    const size_t n = 5003;
    const int ns = 7;
    const size_t per = 129;
    const uint64_t op = 4;
    float *x = h_rand(rng, n, -1, 1), *g0 = h_rand(rng, n, -1, 1);
    float *d_x = d_up(x, n), *d_y = d_alloc(n), *d_g = d_up(g0, n);
    kctx ctx = {0};
    const float ps[3] = {0.0f, 0.3f, 1.0f};
    for (int k = 0; k < 3; k++) {
        char what[128];
        float p = ps[k], *ry = h_alloc(n), *rg = h_dup(g0, n);
        // the seed read on the device through its pointer; the reference reads the host's copy
        const uint64_t seed = 12345 + k;
        uint64_t *d_seed = seed_up(seed);
        d_set(d_g, g0, n);
        CHECK_OK(dropout_fwd_ref(&REF, n, p, &seed, op, x, ry));
        CHECK_OK(dropout_fwd_cuda(&ctx, n, p, d_seed, op, d_x, d_y));
        float *y = d_down(d_y, n);
        snprintf(what, sizeof what, "dropout fwd p=%.1f", p);
        EXACT(what, y, ry, n);  // same mask bits, one multiply each
        // against the host's mask seed gh_hash64(seed, op), element by element
        uint64_t ms = gh_hash64(seed, op);
        size_t bad = 0;
        for (size_t i = 0; i < n; i++)
            bad += (y[i] != 0.0f) != (gh_uniform(ms, i) >= p && x[i] != 0.0f);
        CHECK_MSG(bad == 0, "dropout p=%.1f: %zu of %zu elements against the host's mask", p,
                  bad, n);
        CHECK_OK(dropout_bwd_ref(&REF, n, p, &seed, op, x, rg));
        CHECK_OK(dropout_bwd_cuda(&ctx, n, p, d_seed, op, d_x, d_g));
        float *g = d_down(d_g, n);
        snprintf(what, sizeof what, "dropout bwd p=%.1f", p);
        CLOSE(what, g, rg, n, 1);
        free(y); free(g);
        d_set(d_g, g0, n);
        memcpy(rg, g0, n * sizeof(float));
        CHECK_OK(droppath_fwd_ref(&REF, ns, per, p, &seed, op, x, ry));
        CHECK_OK(droppath_fwd_cuda(&ctx, ns, per, p, d_seed, op, d_x, d_y));
        y = d_down(d_y, (size_t)ns * per);
        snprintf(what, sizeof what, "droppath fwd p=%.1f", p);
        EXACT(what, y, ry, (size_t)ns * per);
        CHECK_OK(droppath_bwd_ref(&REF, ns, per, p, &seed, op, x, rg));
        CHECK_OK(droppath_bwd_cuda(&ctx, ns, per, p, d_seed, op, d_x, d_g));
        g = d_down(d_g, n);
        snprintf(what, sizeof what, "droppath bwd p=%.1f", p);
        CLOSE(what, g, rg, n, 1);
        free(y); free(g);
        if (p == 0.3f) {
            // the same launch after the step's seed changed in device memory (a graph's
            // replay): the new step's mask; and the neighbouring op index: another one
            const uint64_t next = seed + 1000;
            must(gh_cuda_memcpy_h2d(d_seed, &next, sizeof next), "gh_cuda_memcpy_h2d");
            CHECK_OK(dropout_fwd_ref(&REF, n, p, &next, op, x, ry));
            CHECK_OK(dropout_fwd_cuda(&ctx, n, p, d_seed, op, d_x, d_y));
            y = d_down(d_y, n);
            EXACT("dropout fwd after the device seed changed", y, ry, n);
            CHECK_OK(dropout_fwd_cuda(&ctx, n, p, d_seed, op + 1, d_x, d_y));
            free(y);
            y = d_down(d_y, n);
            size_t differ = 0;
            for (size_t i = 0; i < n; i++) differ += y[i] != ry[i];
            CHECK_MSG(differ > n * p * (1 - p), "dropout op %llu and %llu: %zu of %zu differ",
                      (unsigned long long)op, (unsigned long long)op + 1, differ, n);
            free(y);
        }
        free(ry); free(rg);
        d_free(d_seed);
    }
    uint64_t *d_one = seed_up(1);
    CHECK(dropout_fwd_cuda(&ctx, n, 1.5f, d_one, 0, d_x, d_y) == GH_EINVAL);
    CHECK(dropout_fwd_cuda(&ctx, n, 0.5f, NULL, 0, d_x, d_y) == GH_EINVAL);
    {  // a dropped inf is 0 (forward) and adds nothing (backward), as in the reference
        float *xi = h_alloc(n), *ry = h_alloc(n), *rg = h_dup(g0, n);
        for (size_t i = 0; i < n; i++) xi[i] = (i & 1) ? INFINITY : -INFINITY;
        float *d_xi = d_up(xi, n);
        d_set(d_g, g0, n);
        const uint64_t one = 1;
        CHECK_OK(dropout_fwd_ref(&REF, n, 0.3f, &one, 7, xi, ry));
        CHECK_OK(dropout_fwd_cuda(&ctx, n, 0.3f, d_one, 7, d_xi, d_y));
        CHECK_OK(dropout_bwd_ref(&REF, n, 0.3f, &one, 7, xi, rg));
        CHECK_OK(dropout_bwd_cuda(&ctx, n, 0.3f, d_one, 7, d_xi, d_g));
        float *y = d_down(d_y, n), *g = d_down(d_g, n);
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) bad += y[i] != ry[i] || g[i] != rg[i];
        CHECK_MSG(bad == 0, "dropout of inf inputs: %zu of %zu elements differ from the reference",
                  bad, n);
        free(xi); free(ry); free(rg); free(y); free(g);
        d_free(d_xi);
    }
    free(x); free(g0);
    d_free(d_x); d_free(d_y); d_free(d_g); d_free(d_one);
}

static void test_optim(gh_rng *rng) {
    const size_t n = 3001;
    kctx ctx = {0};
    float *p0 = h_rand(rng, n, -1, 1), *g = h_rand(rng, n, -1, 1), *m0 = h_rand(rng, n, -0.1f, 0.1f);
    float *v0 = h_rand(rng, n, 0.0f, 0.01f);
    float *rp = h_dup(p0, n), *rm = h_dup(m0, n), *rv = h_dup(v0, n);
    float *d_p = d_up(p0, n), *d_g = d_up(g, n), *d_m = d_up(m0, n), *d_v = d_up(v0, n);
    for (int t = 0; t < 3; t++) {
        CHECK_OK(sgd_step_ref(&REF, n, rp, g, rm, 0.1f, 0.9f, 5e-4f));
        CHECK_OK(sgd_step_cuda(&ctx, n, d_p, d_g, d_m, 0.1f, 0.9f, 5e-4f));
    }
    float *p = d_down(d_p, n), *m = d_down(d_m, n);
    CLOSE("sgd 3 steps p", p, rp, n, 8);
    CLOSE("sgd 3 steps mom", m, rm, n, 8);
    free(p); free(m);
    CHECK_OK(sgd_step_ref(&REF, n, rp, g, NULL, 0.05f, 0.0f, 0.0f));
    CHECK_OK(sgd_step_cuda(&ctx, n, d_p, d_g, NULL, 0.05f, 0.0f, 0.0f));
    p = d_down(d_p, n);
    CLOSE("sgd no momentum p", p, rp, n, 8);
    free(p);
    memcpy(rp, p0, n * sizeof(float));
    memcpy(rm, m0, n * sizeof(float));
    d_set(d_p, p0, n);
    d_set(d_m, m0, n);
    for (int t = 1; t <= 3; t++) {
        CHECK_OK(adam_step_ref(&REF, n, rp, g, rm, rv, 3e-4f, 0.9f, 0.999f, 1e-8f, 1e-3f, t));
        CHECK_OK(adam_step_cuda(&ctx, n, d_p, d_g, d_m, d_v, 3e-4f, 0.9f, 0.999f, 1e-8f, 1e-3f, t));
    }
    p = d_down(d_p, n);
    m = d_down(d_m, n);
    float *v = d_down(d_v, n);
    CLOSE("adam 3 steps p", p, rp, n, 16);
    CLOSE("adam 3 steps m", m, rm, n, 16);
    CLOSE("adam 3 steps v", v, rv, n, 16);
    free(p); free(m); free(v);
    free(p0); free(g); free(m0); free(v0); free(rp); free(rm); free(rv);
    d_free(d_p); d_free(d_g); d_free(d_m); d_free(d_v);
}

// ---- pooling -----------------------------------------------------------------------------------

static void run_pool(const char *name, pool_shape sh, gh_rng *rng) {
    if (pool_shape_init(&sh) != GH_OK) {
        CHECK_MSG(0, "%s: pool_shape_init: %s", name, gh_error_get());
        return;
    }
    const size_t nx = (size_t)sh.n * sh.c * sh.h * sh.w, ny = (size_t)sh.n * sh.c * sh.p * sh.q;
    const double win = (double)sh.kh * sh.kw;
    float *x = h_rand(rng, nx, -1, 1), *dy = h_rand(rng, ny, -1, 1), *dx0 = h_rand(rng, nx, -1, 1);
    float *d_x = d_up(x, nx), *d_dy = d_up(dy, ny), *d_y = d_alloc(ny), *d_dx = d_up(dx0, nx);
    kctx ctx = {.deterministic = 1};
    char what[160];
    for (int impl = 0; impl < 2; impl++) {
#ifndef GH_HAVE_CUDNN
        if (impl == 1) break;
#endif
        const char *tag = impl ? "cudnn " : "";
        for (int avg = 0; avg < 2; avg++) {
            float *ry = h_alloc(ny), *rdx = h_dup(dx0, nx);
            d_set(d_dx, dx0, nx);
            if (avg) {
                CHECK_OK(avgpool_fwd_ref(&REF, &sh, x, ry));
                CHECK_OK(avgpool_bwd_ref(&REF, &sh, dy, rdx));
            } else {
                CHECK_OK(maxpool_fwd_ref(&REF, &sh, x, ry));
                CHECK_OK(maxpool_bwd_ref(&REF, &sh, x, dy, rdx));
            }
#ifdef GH_HAVE_CUDNN
            if (impl) {
                CHECK_OK(avg ? avgpool_fwd_cudnn(&ctx, &sh, d_x, d_y) : maxpool_fwd_cudnn(&ctx, &sh, d_x, d_y));
                CHECK_OK(avg ? avgpool_bwd_cudnn(&ctx, &sh, d_dy, d_dx) : maxpool_bwd_cudnn(&ctx, &sh, d_x, d_dy, d_dx));
            } else
#endif
            {
                CHECK_OK(avg ? avgpool_fwd_cuda(&ctx, &sh, d_x, d_y) : maxpool_fwd_cuda(&ctx, &sh, d_x, d_y));
                CHECK_OK(avg ? avgpool_bwd_cuda(&ctx, &sh, d_dy, d_dx) : maxpool_bwd_cuda(&ctx, &sh, d_x, d_dy, d_dx));
            }
            float *y = d_down(d_y, ny), *dx = d_down(d_dx, nx);
            snprintf(what, sizeof what, "%s%s %s fwd", tag, avg ? "avgpool" : "maxpool", name);
            if (avg)
                CLOSE(what, y, ry, ny, win);
            else
                EXACT(what, y, ry, ny);  // a selection: exact
            snprintf(what, sizeof what, "%s%s %s bwd", tag, avg ? "avgpool" : "maxpool", name);
            CLOSE(what, dx, rdx, nx, win);
            free(y); free(dx); free(ry); free(rdx);
        }
    }
    free(x); free(dy); free(dx0);
    d_free(d_x); d_free(d_dy); d_free(d_y); d_free(d_dx);
}

static void test_pool(gh_rng *rng) {
    run_pool("3x3 s1 p1 9x11", (pool_shape){.n = 2, .c = 3, .h = 9, .w = 11, .kh = 3, .kw = 3, .stride = 1, .pad = 1}, rng);
    run_pool("3x3 s2 p1 9x11", (pool_shape){.n = 2, .c = 3, .h = 9, .w = 11, .kh = 3, .kw = 3, .stride = 2, .pad = 1}, rng);
    run_pool("2x2 s2 p0 8x7", (pool_shape){.n = 3, .c = 2, .h = 8, .w = 7, .kh = 2, .kw = 2, .stride = 2, .pad = 0}, rng);
    run_pool("5x3 s3 p1 13x10", (pool_shape){.n = 2, .c = 2, .h = 13, .w = 10, .kh = 5, .kw = 3, .stride = 3, .pad = 1}, rng);

    {  // a shape whose p, q disagree with its geometry is an error, not out-of-range writes
        pool_shape bad = {.n = 1, .c = 1, .h = 8, .w = 8, .kh = 2, .kw = 2, .stride = 2, .pad = 0};
        CHECK_OK(pool_shape_init(&bad));
        bad.p += 1;
        float *d_b = d_alloc(64);
        kctx ctx = {0};
        CHECK(maxpool_fwd_cuda(&ctx, &bad, d_b, d_b) == GH_EINVAL);
        CHECK(avgpool_bwd_cuda(&ctx, &bad, d_b, d_b) == GH_EINVAL);
        d_free(d_b);
    }
    const int n = 3, c = 5, hw = 49;
    float *x = h_rand(rng, (size_t)n * c * hw, -1, 1), *dy = h_rand(rng, (size_t)n * c, -1, 1);
    float *dx0 = h_rand(rng, (size_t)n * c * hw, -1, 1);
    float *ry = h_alloc((size_t)n * c), *rdx = h_dup(dx0, (size_t)n * c * hw);
    float *d_x = d_up(x, (size_t)n * c * hw), *d_y = d_alloc((size_t)n * c), *d_dy = d_up(dy, (size_t)n * c);
    float *d_dx = d_up(dx0, (size_t)n * c * hw);
    kctx ctx = {0};
    CHECK_OK(gap_fwd_ref(&REF, n, c, hw, x, ry));
    CHECK_OK(gap_bwd_ref(&REF, n, c, hw, dy, rdx));
    CHECK_OK(gap_fwd_cuda(&ctx, n, c, hw, d_x, d_y));
    CHECK_OK(gap_bwd_cuda(&ctx, n, c, hw, d_dy, d_dx));
    float *y = d_down(d_y, (size_t)n * c), *dx = d_down(d_dx, (size_t)n * c * hw);
    CLOSE("gap fwd", y, ry, (size_t)n * c, hw);
    EXACT("gap bwd", dx, rdx, (size_t)n * c * hw);
    free(x); free(dy); free(dx0); free(ry); free(rdx); free(y); free(dx);
    d_free(d_x); d_free(d_y); d_free(d_dy); d_free(d_dx);
}

// ---- linear ------------------------------------------------------------------------------------

static void run_linear(int n, int in, int out, int bias, gh_rng *rng) {
    const size_t nx = (size_t)n * in, nw = (size_t)out * in, ny = (size_t)n * out;
    float *x = h_rand(rng, nx, -1, 1), *w = h_rand(rng, nw, -1, 1), *b = h_rand(rng, out, -1, 1);
    float *dy = h_rand(rng, ny, -1, 1), *dx0 = h_rand(rng, nx, -1, 1), *dw0 = h_rand(rng, nw, -1, 1);
    float *db0 = h_rand(rng, out, -1, 1);
    float *ry = h_alloc(ny), *rdx = h_dup(dx0, nx), *rdw = h_dup(dw0, nw), *rdb = h_dup(db0, out);
    CHECK_OK(linear_fwd_ref(&REF, n, in, out, x, w, bias ? b : NULL, ry));
    CHECK_OK(linear_bwd_ref(&REF, n, in, out, x, w, dy, rdx, rdw, rdb));
    float *d_x = d_up(x, nx), *d_w = d_up(w, nw), *d_b = d_up(b, out), *d_dy = d_up(dy, ny);
    float *d_y = d_alloc(ny), *d_dx = d_alloc(nx), *d_dw = d_alloc(nw), *d_db = d_alloc(out);
    kctx ctx = {0};
    char what[160];
    for (int impl = 0; impl < 2; impl++) {
#ifndef GH_HAVE_CUDNN
        if (impl == 1) break;
#endif
        const char *tag = impl ? "cublas linear" : "linear";
        d_set(d_dx, dx0, nx);
        d_set(d_dw, dw0, nw);
        d_set(d_db, db0, out);
#ifdef GH_HAVE_CUDNN
        if (impl) {
            CHECK_OK(linear_fwd_cublas(&ctx, n, in, out, d_x, d_w, bias ? d_b : NULL, d_y));
            CHECK_OK(linear_bwd_cublas(&ctx, n, in, out, d_x, d_w, d_dy, d_dx, d_dw, d_db));
        } else
#endif
        {
            CHECK_OK(linear_fwd_cuda(&ctx, n, in, out, d_x, d_w, bias ? d_b : NULL, d_y));
            CHECK_OK(linear_bwd_cuda(&ctx, n, in, out, d_x, d_w, d_dy, d_dx, d_dw, d_db));
        }
        float *y = d_down(d_y, ny), *dx = d_down(d_dx, nx), *dw = d_down(d_dw, nw), *db = d_down(d_db, out);
        snprintf(what, sizeof what, "%s %dx%d->%d fwd", tag, n, in, out);
        CLOSE(what, y, ry, ny, in);
        snprintf(what, sizeof what, "%s %dx%d->%d dx", tag, n, in, out);
        CLOSE(what, dx, rdx, nx, out);
        snprintf(what, sizeof what, "%s %dx%d->%d dw", tag, n, in, out);
        CLOSE(what, dw, rdw, nw, n);
        snprintf(what, sizeof what, "%s %dx%d->%d db", tag, n, in, out);
        CLOSE(what, db, rdb, out, n);
        free(y); free(dx); free(dw); free(db);
    }
    free(x); free(w); free(b); free(dy); free(dx0); free(dw0); free(db0);
    free(ry); free(rdx); free(rdw); free(rdb);
    d_free(d_x); d_free(d_w); d_free(d_b); d_free(d_dy); d_free(d_y); d_free(d_dx); d_free(d_dw); d_free(d_db);
}

static void test_linear(gh_rng *rng) {
    run_linear(7, 33, 65, 1, rng);
    run_linear(130, 70, 10, 1, rng);
    run_linear(64, 256, 100, 0, rng);
    run_linear(1, 1, 1, 1, rng);
}

// ---- weighted sum, concat, slice, shift -------------------------------------------------------

static void run_wsum(size_t n, gh_rng *rng) {
    enum { K = 5 };
    float *xs_h[K], *dxs0[K], *rdx[K];
    float *d_xs[K], *d_dxs[K];
    const float *cxs_h[K], *cd_xs[K];
    float *rdx_arg[K], *d_dx_arg[K];
    float *wts = h_rand(rng, K, -1, 1), *dy = h_rand(rng, n, -1, 1), *dw0 = h_rand(rng, K, -1, 1);
    for (int i = 0; i < K; i++) {
        xs_h[i] = h_rand(rng, n, -1, 1);
        dxs0[i] = h_rand(rng, n, -1, 1);
        rdx[i] = h_dup(dxs0[i], n);
        d_xs[i] = d_up(xs_h[i], n);
        d_dxs[i] = d_up(dxs0[i], n);
        // index 2 is a "none" op (no input), index 3 wants no input gradient
        cxs_h[i] = i == 2 ? NULL : xs_h[i];
        cd_xs[i] = i == 2 ? NULL : d_xs[i];
        rdx_arg[i] = (i == 2 || i == 3) ? NULL : rdx[i];
        d_dx_arg[i] = (i == 2 || i == 3) ? NULL : d_dxs[i];
    }
    float *ry = h_alloc(n), *rdw = h_dup(dw0, K);
    CHECK_OK(wsum_fwd_ref(&REF, K, n, cxs_h, wts, ry));
    CHECK_OK(wsum_bwd_ref(&REF, K, n, cxs_h, wts, dy, rdx_arg, rdw));
    float *d_w = d_up(wts, K), *d_dy = d_up(dy, n), *d_y = d_alloc(n), *d_dw = d_up(dw0, K);
    kctx ctx = {.deterministic = 1};
    char what[128];
    CHECK_OK(wsum_fwd_cuda(&ctx, K, n, cd_xs, d_w, d_y));
    float *y = d_down(d_y, n);
    snprintf(what, sizeof what, "wsum fwd n=%zu", n);
    CLOSE(what, y, ry, n, K);
    CHECK_OK(wsum_bwd_cuda(&ctx, K, n, cd_xs, d_w, d_dy, d_dx_arg, d_dw));
    float *dw = d_down(d_dw, K);
    snprintf(what, sizeof what, "wsum bwd dwts n=%zu", n);
    CLOSE(what, dw, rdw, K, (double)n);
    for (int i = 0; i < K; i++) {
        float *dx = d_down(d_dxs[i], n);
        snprintf(what, sizeof what, "wsum bwd dx[%d] n=%zu", i, n);
        CLOSE(what, dx, rdx[i], n, 1);
        free(dx);
    }
    // deterministic: dwts twice from the same start
    d_set(d_dw, dw0, K);
    CHECK_OK(wsum_bwd_cuda(&ctx, K, n, cd_xs, d_w, d_dy, NULL, d_dw));
    float *a = d_down(d_dw, K);
    d_set(d_dw, dw0, K);
    CHECK_OK(wsum_bwd_cuda(&ctx, K, n, cd_xs, d_w, d_dy, NULL, d_dw));
    float *b = d_down(d_dw, K);
    snprintf(what, sizeof what, "wsum dwts n=%zu", n);
    bits_equal(what, a, b, K);
    free(a); free(b); free(y); free(dw); free(ry); free(rdw); free(wts); free(dy); free(dw0);
    for (int i = 0; i < K; i++) {
        free(xs_h[i]); free(dxs0[i]); free(rdx[i]);
        d_free(d_xs[i]); d_free(d_dxs[i]);
    }
    d_free(d_w); d_free(d_dy); d_free(d_y); d_free(d_dw);
}

static void test_concat(gh_rng *rng) {
    const int n = 3, hw = 7, k = 3, cs[3] = {3, 5, 2}, ct = 10;
    float *xs[3], *d_xs[3], *g0[3], *rg[3], *d_g[3];
    const float *cx[3], *cdx[3];
    for (int i = 0; i < k; i++) {
        size_t m = (size_t)n * cs[i] * hw;
        xs[i] = h_rand(rng, m, -1, 1);
        g0[i] = h_rand(rng, m, -1, 1);
        rg[i] = h_dup(g0[i], m);
        d_xs[i] = d_up(xs[i], m);
        d_g[i] = d_up(g0[i], m);
        cx[i] = xs[i];
        cdx[i] = d_xs[i];
    }
    const size_t ny = (size_t)n * ct * hw;
    float *ry = h_alloc(ny), *dy = h_rand(rng, ny, -1, 1);
    float *d_y = d_alloc(ny), *d_dy = d_up(dy, ny);
    kctx ctx = {0};
    CHECK_OK(concat_fwd_ref(&REF, n, hw, k, cs, cx, ry));
    CHECK_OK(concat_fwd_cuda(&ctx, n, hw, k, cs, cdx, d_y));
    float *y = d_down(d_y, ny);
    EXACT("concat fwd", y, ry, ny);
    float *rga[3] = {rg[0], NULL, rg[2]}, *dga[3] = {d_g[0], NULL, d_g[2]};
    CHECK_OK(concat_bwd_ref(&REF, n, hw, k, cs, dy, rga));
    CHECK_OK(concat_bwd_cuda(&ctx, n, hw, k, cs, d_dy, dga));
    for (int i = 0; i < k; i++) {
        float *g = d_down(d_g[i], (size_t)n * cs[i] * hw);
        EXACT(i == 1 ? "concat bwd (NULL grad untouched)" : "concat bwd", g, rg[i], (size_t)n * cs[i] * hw);
        free(g);
    }
    // slice channels [2, 6) of the concat output (unaligned offsets), and its backward
    const int c0 = 2, cn = 4;
    const size_t ns = (size_t)n * cn * hw;
    float *rs = h_alloc(ns), *sdy = h_rand(rng, ns, -1, 1), *rdx = h_dup(dy, ny);
    float *d_s = d_alloc(ns), *d_sdy = d_up(sdy, ns);
    CHECK_OK(slice_fwd_ref(&REF, n, ct, hw, c0, cn, ry, rs));
    CHECK_OK(slice_fwd_cuda(&ctx, n, ct, hw, c0, cn, d_y, d_s));
    float *s = d_down(d_s, ns);
    EXACT("slice fwd", s, rs, ns);
    CHECK_OK(slice_bwd_ref(&REF, n, ct, hw, c0, cn, sdy, rdx));
    CHECK_OK(slice_bwd_cuda(&ctx, n, ct, hw, c0, cn, d_sdy, d_dy));
    float *sdx = d_down(d_dy, ny);
    EXACT("slice bwd", sdx, rdx, ny);
    CHECK(slice_fwd_cuda(&ctx, n, ct, hw, 8, 4, d_y, d_s) == GH_EINVAL);
    // shift / crop as FactorizedReduce uses it, and a shift with negative offsets
    const int sh_c = 4, h = 9, w = 8;
    const size_t nx = (size_t)n * sh_c * h * w;
    float *x = h_rand(rng, nx, -1, 1), *d_x = d_up(x, nx);
    const int dhs[2] = {1, -2}, dws[2] = {1, 3}, hos[2] = {8, 9}, wos[2] = {7, 8};
    for (int t = 0; t < 2; t++) {
        size_t no = (size_t)n * sh_c * hos[t] * wos[t];
        float *ro = h_alloc(no), *gdy = h_rand(rng, no, -1, 1), *rgx = h_dup(x, nx);
        float *d_o = d_alloc(no), *d_gdy = d_up(gdy, no), *d_gx = d_up(x, nx);
        CHECK_OK(shift_fwd_ref(&REF, n, sh_c, h, w, dhs[t], dws[t], hos[t], wos[t], x, ro));
        CHECK_OK(shift_fwd_cuda(&ctx, n, sh_c, h, w, dhs[t], dws[t], hos[t], wos[t], d_x, d_o));
        float *o = d_down(d_o, no);
        EXACT(t ? "shift fwd (-2, 3)" : "shift fwd (1, 1)", o, ro, no);
        CHECK_OK(shift_bwd_ref(&REF, n, sh_c, h, w, dhs[t], dws[t], hos[t], wos[t], gdy, rgx));
        CHECK_OK(shift_bwd_cuda(&ctx, n, sh_c, h, w, dhs[t], dws[t], hos[t], wos[t], d_gdy, d_gx));
        float *gx = d_down(d_gx, nx);
        EXACT(t ? "shift bwd (-2, 3)" : "shift bwd (1, 1)", gx, rgx, nx);
        free(ro); free(gdy); free(rgx); free(o); free(gx);
        d_free(d_o); d_free(d_gdy); d_free(d_gx);
    }
    free(x); d_free(d_x);
    free(y); free(ry); free(dy); free(rs); free(sdy); free(rdx); free(s); free(sdx);
    d_free(d_y); d_free(d_dy); d_free(d_s); d_free(d_sdy);
    for (int i = 0; i < k; i++) {
        free(xs[i]); free(g0[i]); free(rg[i]);
        d_free(d_xs[i]); d_free(d_g[i]);
    }
}

// ---- softmax and cross-entropy -------------------------------------------------------------------

static void test_softmax(gh_rng *rng) {
    const int shapes[3][2] = {{5, 37}, {9, 3}, {4, 1000}};
    kctx ctx = {0};
    char what[128];
    for (int s = 0; s < 3; s++) {
        const int rows = shapes[s][0], cols = shapes[s][1];
        const size_t m = (size_t)rows * cols;
        float *x = h_rand(rng, m, -4, 4), *dy = h_rand(rng, m, -1, 1), *dx0 = h_rand(rng, m, -1, 1);
        float *ry = h_alloc(m), *rdx = h_dup(dx0, m);
        CHECK_OK(softmax_fwd_ref(&REF, rows, cols, x, ry));
        CHECK_OK(softmax_bwd_ref(&REF, rows, cols, ry, dy, rdx));
        float *d_x = d_up(x, m), *d_y = d_alloc(m), *d_dy = d_up(dy, m), *d_dx = d_up(dx0, m);
        float *d_ry = d_up(ry, m);
        CHECK_OK(softmax_fwd_cuda(&ctx, rows, cols, d_x, d_y));
        CHECK_OK(softmax_bwd_cuda(&ctx, rows, cols, d_ry, d_dy, d_dx));
        float *y = d_down(d_y, m), *dx = d_down(d_dx, m);
        snprintf(what, sizeof what, "softmax %dx%d fwd", rows, cols);
        CLOSE(what, y, ry, m, cols);
        snprintf(what, sizeof what, "softmax %dx%d bwd", rows, cols);
        CLOSE(what, dx, rdx, m, cols);

        // cross-entropy on the same logits, smoothing 0.1
        int *lab = (int *)malloc(sizeof(int) * rows);
        for (int i = 0; i < rows; i++) lab[i] = (int)gh_rng_below(rng, (uint64_t)cols);
        void *d_lab = NULL;
        must(gh_cuda_malloc(&d_lab, sizeof(int) * rows), "gh_cuda_malloc");
        must(gh_cuda_memcpy_h2d(d_lab, lab, sizeof(int) * rows), "labels h2d");
        float *rp = h_alloc(m), *rl = h_alloc(rows), *rdl = h_dup(dx0, m);
        CHECK_OK(xent_fwd_ref(&REF, rows, cols, x, lab, 0.1f, rp, rl));
        const float one = 1.0f;   // d(total)/d(mean loss)
        CHECK_OK(xent_bwd_ref(&REF, rows, cols, rp, lab, 0.1f, &one, rdl));
        float *d_p = d_alloc(m), *d_l = d_alloc(rows), *d_rp = d_up(rp, m), *d_one = d_up(&one, 1);
        d_set(d_dx, dx0, m);
        CHECK_OK(xent_fwd_cuda(&ctx, rows, cols, d_x, (const int *)d_lab, 0.1f, d_p, d_l));
        CHECK_OK(xent_bwd_cuda(&ctx, rows, cols, d_rp, (const int *)d_lab, 0.1f, d_one, d_dx));
        float *p = d_down(d_p, m), *l = d_down(d_l, rows), *dl = d_down(d_dx, m);
        snprintf(what, sizeof what, "xent %dx%d probs", rows, cols);
        CLOSE(what, p, rp, m, cols);
        snprintf(what, sizeof what, "xent %dx%d losses", rows, cols);
        CLOSE(what, l, rl, rows, cols);
        snprintf(what, sizeof what, "xent %dx%d bwd", rows, cols);
        CLOSE(what, dl, rdl, m, cols);
        // a label out of range: GH_EINVAL naming the row, from both directions
        lab[rows - 1] = cols;
        must(gh_cuda_memcpy_h2d(d_lab, lab, sizeof(int) * rows), "labels h2d");
        CHECK(xent_fwd_cuda(&ctx, rows, cols, d_x, (const int *)d_lab, 0.1f, d_p, d_l) == GH_EINVAL);
        CHECK_MSG(strstr(gh_error_get(), "labels[") != NULL, "message: %s", gh_error_get());
        CHECK(xent_bwd_cuda(&ctx, rows, cols, d_rp, (const int *)d_lab, 0.1f, d_one, d_dx) == GH_EINVAL);
        lab[0] = -1;
        must(gh_cuda_memcpy_h2d(d_lab, lab, sizeof(int) * rows), "labels h2d");
        CHECK(xent_fwd_cuda(&ctx, rows, cols, d_x, (const int *)d_lab, 0.1f, d_p, d_l) == GH_EINVAL);
        CHECK_MSG(strstr(gh_error_get(), "labels[0] = -1") != NULL, "message: %s", gh_error_get());
        CHECK_OK(gh_cuda_sync());  // the flagged launches left no fault behind
        {   // with ctx->flags: no read back, no allocation; the first bad row lands in the flags
            kflags *d_fl = NULL;
            int64_t allocs = 0;
            must(gh_cuda_malloc((void **)&d_fl, sizeof *d_fl), "gh_cuda_malloc");
            must(gh_cuda_memset0(d_fl, sizeof *d_fl), "gh_cuda_memset0");
            kctx fctx = {.flags = d_fl, .step = 41, .allocs = &allocs};
            CHECK_OK(xent_fwd_cuda(&fctx, rows, cols, d_x, (const int *)d_lab, 0.1f, d_p, d_l));
            fctx.step = 42;
            CHECK_OK(xent_bwd_cuda(&fctx, rows, cols, d_rp, (const int *)d_lab, 0.1f, d_one, d_dx));
            kflags fl;
            must(gh_cuda_sync(), "gh_cuda_sync");
            must(gh_cuda_memcpy_d2h(&fl, d_fl, sizeof fl), "flags d2h");
            CHECK_MSG(kflags_label_row(&fl) == 0 && kflags_label_value(&fl) == -1 &&
                          fl.label_k == cols && kflags_step(&fl) == 41 && fl.nonfinite == 0,
                      "flags: row %u value %d k %d step %llu nonfinite %u", kflags_label_row(&fl),
                      kflags_label_value(&fl), fl.label_k, (unsigned long long)kflags_step(&fl),
                      fl.nonfinite);
            CHECK(allocs == 0);
            float *lv = d_down(d_l, rows);
            CHECK(isnan(lv[0]) && isnan(lv[rows - 1]) && (rows < 3 || isfinite(lv[1])));
            free(lv);
            d_free(d_fl);
        }

        free(x); free(dy); free(dx0); free(ry); free(rdx); free(y); free(dx);
        free(lab); free(rp); free(rl); free(rdl); free(p); free(l); free(dl);
        d_free(d_x); d_free(d_y); d_free(d_dy); d_free(d_dx); d_free(d_ry);
        d_free(d_lab); d_free(d_p); d_free(d_l); d_free(d_rp); d_free(d_one);
    }
}

// ---- controller ops: sigmoid, tanh, LSTM cell, embedding, sampling, log-prob and entropy --------

static int *di_up(const int *h, int n) {
    void *d = NULL;
    must(gh_cuda_malloc(&d, sizeof(int) * (size_t)n), "gh_cuda_malloc");
    must(gh_cuda_memcpy_h2d(d, h, sizeof(int) * (size_t)n), "ints h2d");
    return (int *)d;
}

// ---- max pooling with saved argmax (issue 15) ----------------------------------------------------

// The argmax the forward must save: first maximum in row-major window order over in-bounds
// elements, a NaN replacing whatever came before (maxpool_fwd_ref's rule), -1 for none.
static void host_argmax(const pool_shape *sh, const float *x, int *idx) {
    for (int nc = 0; nc < sh->n * sh->c; nc++)
        for (int op = 0; op < sh->p; op++)
            for (int oq = 0; oq < sh->q; oq++) {
                const float *xp = x + (size_t)nc * sh->h * sh->w;
                int bi = -1;
                float best = 0.0f;
                for (int a = 0; a < sh->kh; a++)
                    for (int b = 0; b < sh->kw; b++) {
                        int ih = op * sh->stride - sh->pad + a, iw = oq * sh->stride - sh->pad + b;
                        if (ih < 0 || ih >= sh->h || iw < 0 || iw >= sh->w) continue;
                        float v = xp[ih * sh->w + iw];
                        if (bi < 0 || v > best || isnan(v)) { best = v; bi = ih * sh->w + iw; }
                    }
                idx[((size_t)nc * sh->p + op) * sh->q + oq] = bi;
            }
}

// ints: x in {0, 1, 2} (most windows tie, so the first-maximum rule decides), dy and dx small
// integers (sums exact): forward and backward must equal the reference exactly. Otherwise
// uniform values with one NaN in x.
static void run_pool_idx(const char *name, pool_shape sh, int ints, gh_rng *rng) {
    if (pool_shape_init(&sh) != GH_OK) {
        CHECK_MSG(0, "%s: pool_shape_init: %s", name, gh_error_get());
        return;
    }
    const size_t nx = (size_t)sh.n * sh.c * sh.h * sh.w, ny = (size_t)sh.n * sh.c * sh.p * sh.q;
    float *x = h_rand(rng, nx, -1, 1), *dy = h_rand(rng, ny, -1, 1), *dx0 = h_rand(rng, nx, -1, 1);
    if (ints) {
        for (size_t i = 0; i < nx; i++) x[i] = (float)gh_rng_below(rng, 3);
        for (size_t i = 0; i < ny; i++) dy[i] = (float)gh_rng_below(rng, 9) - 4.0f;
        for (size_t i = 0; i < nx; i++) dx0[i] = (float)gh_rng_below(rng, 9) - 4.0f;
    } else {
        x[nx / 3] = NAN;
    }
    float *ry = h_alloc(ny), *rdx = h_dup(dx0, nx);
    int *ridx = (int *)calloc(ny, sizeof(int)), *gidx = (int *)calloc(ny, sizeof(int));
    if (!ridx || !gidx) { fprintf(stderr, "%s: out of host memory\n", NAME); exit(1); }
    CHECK_OK(maxpool_fwd_ref(&REF, &sh, x, ry));
    CHECK_OK(maxpool_bwd_ref(&REF, &sh, x, dy, rdx));
    host_argmax(&sh, x, ridx);

    float *d_x = d_up(x, nx), *d_dy = d_up(dy, ny), *d_y = d_alloc(ny), *d_dx = d_up(dx0, nx);
    float *d_dx2 = d_up(dx0, nx);
    for (size_t i = 0; i < ny; i++) gidx[i] = -2;  // no window's answer: every entry must be written
    int *d_idx = di_up(gidx, (int)ny);
    kctx ctx = {0};
    char what[160];
    CHECK_OK(maxpool_fwd_idx_cuda(&ctx, &sh, d_x, d_y, d_idx));
    CHECK_OK(maxpool_bwd_idx_cuda(&ctx, &sh, d_idx, d_dy, d_dx));
    CHECK_OK(maxpool_bwd_cuda(&ctx, &sh, d_x, d_dy, d_dx2));  // the recomputing backward
    float *y = d_down(d_y, ny), *dx = d_down(d_dx, nx), *dx2 = d_down(d_dx2, nx);
    must(gh_cuda_memcpy_d2h(gidx, d_idx, sizeof(int) * ny), "idx d2h");
    snprintf(what, sizeof what, "maxpool idx %s fwd", name);
    EXACT(what, y, ry, ny);
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < ny; i++)
        if (gidx[i] != ridx[i] && bad++ == 0) first = i;
    CHECK_MSG(bad == 0, "maxpool idx %s: %zu of %zu argmax differ (first at %zu: %d, want %d)", name,
              bad, ny, first, gidx[first], ridx[first]);
    if (bad == 0) printf("  ok   maxpool idx %s argmax (%zu windows)\n", name, ny);
    snprintf(what, sizeof what, "maxpool idx %s bwd", name);
    if (ints)
        EXACT(what, dx, rdx, nx);
    else
        CLOSE(what, dx, rdx, nx, (double)sh.kh * sh.kw);
    snprintf(what, sizeof what, "maxpool idx %s bwd vs recompute", name);
    bits_equal(what, dx, dx2, nx);  // same windows, same order: same bits

    // a missing index buffer is an error naming the argument
    CHECK(maxpool_fwd_idx_cuda(&ctx, &sh, d_x, d_y, NULL) == GH_EINVAL);
    CHECK(maxpool_bwd_idx_cuda(&ctx, &sh, NULL, d_dy, d_dx) == GH_EINVAL);
    free(x); free(dy); free(dx0); free(ry); free(rdx); free(ridx); free(gidx);
    free(y); free(dx); free(dx2);
    d_free(d_x); d_free(d_dy); d_free(d_y); d_free(d_dx); d_free(d_dx2); d_free(d_idx);
}

static void test_pool_idx(gh_rng *rng) {
    const pool_shape s1 = {.n = 2, .c = 3, .h = 9, .w = 11, .kh = 3, .kw = 3, .stride = 1, .pad = 1};
    const pool_shape s2 = {.n = 2, .c = 3, .h = 9, .w = 11, .kh = 3, .kw = 3, .stride = 2, .pad = 1};
    const pool_shape s3 = {.n = 2, .c = 2, .h = 13, .w = 10, .kh = 5, .kw = 3, .stride = 3, .pad = 1};
    // the DARTS search shape of max_pool_3x3 at the last stage
    const pool_shape s4 = {.n = 64, .c = 64, .h = 8, .w = 8, .kh = 3, .kw = 3, .stride = 1, .pad = 1};
    run_pool_idx("3x3 s1 p1 9x11 ints", s1, 1, rng);
    run_pool_idx("3x3 s1 p1 9x11", s1, 0, rng);
    run_pool_idx("3x3 s2 p1 9x11 ints", s2, 1, rng);
    run_pool_idx("5x3 s3 p1 13x10", s3, 0, rng);
    run_pool_idx("3x3 s1 p1 n64 c64 8x8 ints", s4, 1, rng);
}

static void test_controller(gh_rng *rng) {
    kctx ctx = {0}, det = {.deterministic = 1};
    char what[128];
    // sigmoid and tanh, odd length (the scalar tail after the float4 body)
    {
        const size_t n = 100003;
        float *x = h_rand(rng, n, -6, 6), *dy = h_rand(rng, n, -1, 1), *d0 = h_rand(rng, n, -1, 1);
        float *d_x = d_up(x, n), *d_y = d_alloc(n), *d_dy = d_up(dy, n), *d_dx = d_alloc(n);
        for (int t = 0; t < 2; t++) {
            float *ry = h_alloc(n), *rdx = h_dup(d0, n);
            CHECK_OK((t ? tanh_fwd_ref : sigmoid_fwd_ref)(&REF, n, x, ry));
            CHECK_OK((t ? tanh_bwd_ref : sigmoid_bwd_ref)(&REF, n, ry, dy, rdx));
            d_set(d_dx, d0, n);
            CHECK_OK((t ? tanh_fwd_cuda : sigmoid_fwd_cuda)(&ctx, n, d_x, d_y));
            CHECK_OK((t ? tanh_bwd_cuda : sigmoid_bwd_cuda)(&ctx, n, d_y, d_dy, d_dx));
            float *y = d_down(d_y, n), *dx = d_down(d_dx, n);
            CLOSE(t ? "tanh fwd" : "sigmoid fwd", y, ry, n, 2);
            CLOSE(t ? "tanh bwd" : "sigmoid bwd", dx, rdx, n, 4);
            free(ry); free(rdx); free(y); free(dx);
        }
        free(x); free(dy); free(d0);
        d_free(d_x); d_free(d_y); d_free(d_dy); d_free(d_dx);
    }
    // LSTM cell on the controller's shapes and an odd one
    const int lshape[3][2] = {{1, 64}, {32, 100}, {5, 37}};
    for (int s = 0; s < 3; s++) {
        const int b = lshape[s][0], hd = lshape[s][1];
        const size_t nh = (size_t)b * hd, ng = 4 * nh, nc = GH_LSTM_CACHE * nh;
        float *g = h_rand(rng, ng, -3, 3), *cp = h_rand(rng, nh, -2, 2);
        float *dc = h_rand(rng, nh, -1, 1), *dh = h_rand(rng, nh, -1, 1);
        float *dg0 = h_rand(rng, ng, -1, 1), *dcp0 = h_rand(rng, nh, -1, 1);
        float *rc = h_alloc(nh), *rh = h_alloc(nh), *rk = h_alloc(nc);
        float *rdg = h_dup(dg0, ng), *rdcp = h_dup(dcp0, nh);
        CHECK_OK(lstm_cell_fwd_ref(&REF, b, hd, g, cp, rc, rh, rk));
        CHECK_OK(lstm_cell_bwd_ref(&REF, b, hd, cp, rk, dc, dh, rdg, rdcp));
        float *d_g = d_up(g, ng), *d_cp = d_up(cp, nh), *d_c = d_alloc(nh), *d_h = d_alloc(nh);
        float *d_k = d_alloc(nc), *d_rk = d_up(rk, nc), *d_dc = d_up(dc, nh), *d_dh = d_up(dh, nh);
        float *d_dg = d_up(dg0, ng), *d_dcp = d_up(dcp0, nh);
        CHECK_OK(lstm_cell_fwd_cuda(&ctx, b, hd, d_g, d_cp, d_c, d_h, d_k));
        CHECK_OK(lstm_cell_bwd_cuda(&ctx, b, hd, d_cp, d_rk, d_dc, d_dh, d_dg, d_dcp));
        float *c = d_down(d_c, nh), *h = d_down(d_h, nh), *k = d_down(d_k, nc);
        float *dg = d_down(d_dg, ng), *dcp = d_down(d_dcp, nh);
        snprintf(what, sizeof what, "lstm b%d h%d fwd c", b, hd);
        CLOSE(what, c, rc, nh, 4);
        snprintf(what, sizeof what, "lstm b%d h%d fwd h", b, hd);
        CLOSE(what, h, rh, nh, 4);
        CLOSE("lstm fwd cache", k, rk, nc, 4);
        snprintf(what, sizeof what, "lstm b%d h%d bwd dgates", b, hd);
        CLOSE(what, dg, rdg, ng, 8);
        CLOSE("lstm bwd dc_prev", dcp, rdcp, nh, 8);
        free(g); free(cp); free(dc); free(dh); free(dg0); free(dcp0); free(rc); free(rh); free(rk);
        free(rdg); free(rdcp); free(c); free(h); free(k); free(dg); free(dcp);
        d_free(d_g); d_free(d_cp); d_free(d_c); d_free(d_h); d_free(d_k); d_free(d_rk);
        d_free(d_dc); d_free(d_dh); d_free(d_dg); d_free(d_dcp);
    }
    // embedding: gather exact; scatter-add exact in deterministic mode, close with atomics
    {
        const int n = 97, vocab = 11, dim = 100;
        const size_t nt = (size_t)vocab * dim, ny = (size_t)n * dim;
        int *idx = (int *)malloc(sizeof(int) * n);
        for (int i = 0; i < n; i++) idx[i] = (int)gh_rng_below(rng, (uint64_t)vocab);
        float *tab = h_rand(rng, nt, -1, 1), *dy = h_rand(rng, ny, -1, 1), *dt0 = h_rand(rng, nt, -1, 1);
        float *ry = h_alloc(ny), *rdt = h_dup(dt0, nt);
        CHECK_OK(embedding_fwd_ref(&REF, n, vocab, dim, idx, tab, ry));
        CHECK_OK(embedding_bwd_ref(&REF, n, vocab, dim, idx, dy, rdt));
        int *d_idx = di_up(idx, n);
        float *d_tab = d_up(tab, nt), *d_y = d_alloc(ny), *d_dy = d_up(dy, ny), *d_dt = d_up(dt0, nt);
        CHECK_OK(embedding_fwd_cuda(&ctx, n, vocab, dim, d_idx, d_tab, d_y));
        float *y = d_down(d_y, ny);
        EXACT("embedding fwd", y, ry, ny);
        CHECK_OK(embedding_bwd_cuda(&det, n, vocab, dim, d_idx, d_dy, d_dt));
        float *dt = d_down(d_dt, nt);
        EXACT("embedding bwd deterministic = ref", dt, rdt, nt);
        d_set(d_dt, dt0, nt);
        CHECK_OK(embedding_bwd_cuda(&ctx, n, vocab, dim, d_idx, d_dy, d_dt));
        float *dta = d_down(d_dt, nt);
        CLOSE("embedding bwd atomics", dta, rdt, nt, n);
        idx[5] = vocab;   // out of range: GH_EINVAL naming the row
        must(gh_cuda_memcpy_h2d(d_idx, idx, sizeof(int) * n), "ints h2d");
        CHECK(embedding_fwd_cuda(&ctx, n, vocab, dim, d_idx, d_tab, d_y) == GH_EINVAL);
        CHECK_MSG(strstr(gh_error_get(), "idx[5] = 11") != NULL, "message: %s", gh_error_get());
        CHECK(embedding_bwd_cuda(&det, n, vocab, dim, d_idx, d_dy, d_dt) == GH_EINVAL);
        CHECK(embedding_bwd_cuda(&ctx, n, vocab, dim, d_idx, d_dy, d_dt) == GH_EINVAL);
        CHECK_OK(gh_cuda_sync());
        free(idx); free(tab); free(dy); free(dt0); free(ry); free(rdt); free(y); free(dt); free(dta);
        d_free(d_idx); d_free(d_tab); d_free(d_y); d_free(d_dy); d_free(d_dt);
    }
    // sampling (the same indices as the host) and log-prob / entropy with gradients
    const int cshape[3][2] = {{1, 5}, {33, 7}, {4096, 12}};
    for (int s = 0; s < 3; s++) {
        const int rows = cshape[s][0], cols = cshape[s][1];
        const size_t m = (size_t)rows * cols;
        const float temp = s == 1 ? 5.0f : 1.3f, tc = s == 0 ? 0.0f : 2.5f;
        float *x = h_rand(rng, m, -4, 4), *rlp = h_alloc(rows), *ren = h_alloc(rows);
        int *ridx = (int *)malloc(sizeof(int) * rows), *gidx = (int *)malloc(sizeof(int) * rows);
        CHECK_OK(categorical_sample_ref(&REF, rows, cols, x, temp, tc, 77, ridx, rlp, ren));
        float *d_x = d_up(x, m), *d_lp = d_alloc(rows), *d_en = d_alloc(rows);
        int *d_idx = di_up(ridx, rows);
        must(gh_cuda_memset0(d_idx, sizeof(int) * rows), "memset");
        CHECK_OK(categorical_sample_cuda(&ctx, rows, cols, d_x, temp, tc, 77, d_idx, d_lp, d_en));
        must(gh_cuda_sync(), "gh_cuda_sync");
        must(gh_cuda_memcpy_d2h(gidx, d_idx, sizeof(int) * rows), "ints d2h");
        int differ = 0;
        for (int r = 0; r < rows; r++) differ += gidx[r] != ridx[r];
        CHECK_MSG(differ == 0, "sample %dx%d: %d of %d indices differ from _ref", rows, cols,
                  differ, rows);
        if (differ == 0) printf("  ok   sample %dx%d T %g C %g: the same %d indices as _ref\n",
                                rows, cols, (double)temp, (double)tc, rows);
        float *lp = d_down(d_lp, rows), *en = d_down(d_en, rows);
        CLOSE("sample logp", lp, rlp, rows, cols);
        CLOSE("sample entropy", en, ren, rows, cols);
        float *dlp = h_rand(rng, rows, -1, 1), *de = h_rand(rng, rows, -1, 1), *dx0 = h_rand(rng, m, -1, 1);
        float *rdx = h_dup(dx0, m);
        CHECK_OK(logprob_entropy_fwd_ref(&REF, rows, cols, x, ridx, rlp, ren));
        CHECK_OK(logprob_entropy_bwd_ref(&REF, rows, cols, x, ridx, dlp, de, rdx));
        float *d_dlp = d_up(dlp, rows), *d_de = d_up(de, rows), *d_dx = d_up(dx0, m);
        CHECK_OK(logprob_entropy_fwd_cuda(&ctx, rows, cols, d_x, d_idx, d_lp, d_en));
        CHECK_OK(logprob_entropy_bwd_cuda(&ctx, rows, cols, d_x, d_idx, d_dlp, d_de, d_dx));
        float *lp2 = d_down(d_lp, rows), *en2 = d_down(d_en, rows), *dx = d_down(d_dx, m);
        snprintf(what, sizeof what, "logprob %dx%d fwd", rows, cols);
        CLOSE(what, lp2, rlp, rows, cols * 4.0);
        CLOSE("entropy fwd", en2, ren, rows, cols * 4.0);
        snprintf(what, sizeof what, "logprob/entropy %dx%d bwd", rows, cols);
        CLOSE(what, dx, rdx, m, cols * 4.0);
        ridx[rows - 1] = cols;   // out of range
        must(gh_cuda_memcpy_h2d(d_idx, ridx, sizeof(int) * rows), "ints h2d");
        CHECK(logprob_entropy_fwd_cuda(&ctx, rows, cols, d_x, d_idx, d_lp, NULL) == GH_EINVAL);
        CHECK_MSG(strstr(gh_error_get(), "idx[") != NULL, "message: %s", gh_error_get());
        CHECK(logprob_entropy_bwd_cuda(&ctx, rows, cols, d_x, d_idx, d_dlp, NULL, d_dx) == GH_EINVAL);
        CHECK_OK(gh_cuda_sync());
        free(x); free(rlp); free(ren); free(ridx); free(gidx); free(lp); free(en); free(dlp);
        free(de); free(dx0); free(rdx); free(lp2); free(en2); free(dx);
        d_free(d_x); d_free(d_lp); d_free(d_en); d_free(d_idx); d_free(d_dlp); d_free(d_de);
        d_free(d_dx);
    }
}

// ---- device scalars, metrics, deferred flags, workspaces and the stream helpers -----------------

static double *dd_alloc(size_t n) { return (double *)d_alloc(2 * n); }
static double dd_get(const double *d) {
    double v = 0.0;
    must(gh_cuda_sync(), "gh_cuda_sync");
    must(gh_cuda_memcpy_d2h(&v, d, sizeof v), "gh_cuda_memcpy_d2h");
    return v;
}
static void dd_set(double *d, double v) { must(gh_cuda_memcpy_h2d(d, &v, sizeof v), "h2d"); }
static kflags fl_get(const kflags *d) {
    kflags f;
    must(gh_cuda_sync(), "gh_cuda_sync");
    must(gh_cuda_memcpy_d2h(&f, d, sizeof f), "gh_cuda_memcpy_d2h");
    return f;
}

static void test_scalars(gh_rng *rng) {
    kflags *d_fl = (kflags *)d_alloc(sizeof(kflags) / sizeof(float));
    int64_t allocs = 0;
    kctx ctx = {.flags = d_fl, .step = 7, .allocs = &allocs};
    const size_t sizes[2] = {4099, (size_t)3 << 20};
    for (int t = 0; t < 2; t++) {
        const size_t n = sizes[t];
        char what[96];
        float *g = h_rand(rng, n, -1, 1), *x = h_rand(rng, n, -1, 1);
        float *d_g = d_up(g, n), *d_x = d_up(x, n);
        double *d_s = dd_alloc(4);
        // norm2 with its workspace: close to the reference, the same bits on a rerun, and no
        // allocation; without a workspace one counted allocation
        size_t wsf = 0;
        CHECK_OK(norm2_ws_cuda(&ctx, n, &wsf));
        float *d_ws = d_alloc(wsf);
        kctx wctx = ctx;
        wctx.ws = d_ws;
        wctx.ws_floats = wsf;
        double rn = 0.0;
        CHECK_OK(norm2_ref(&REF, n, g, &rn));
        CHECK_OK(norm2_cuda(&wctx, n, d_g, d_s));
        CHECK_OK(norm2_cuda(&wctx, n, d_g, d_s + 1));
        double gn = dd_get(d_s), gn2 = dd_get(d_s + 1);
        CHECK_MSG(fabs(gn - rn) <= 1e-12 * rn, "norm2 n=%zu: %.17g vs ref %.17g", n, gn, rn);
        CHECK_MSG(gn == gn2, "norm2 reruns differ");
        CHECK(allocs == 0);
        CHECK_OK(norm2_cuda(&ctx, n, d_g, d_s + 1));
        CHECK(dd_get(d_s + 1) == gn && allocs == 1);
        allocs = 0;
        // clip to half the norm, with the norm the device computed: exactly the host's scale
        float *rg = h_dup(g, n);
        CHECK_OK(clip_by_norm_ref(&REF, n, &gn, (float)(0.5 * gn), rg));
        CHECK_OK(clip_by_norm_cuda(&ctx, n, d_s, (float)(0.5 * gn), d_g));
        float *got = d_down(d_g, n);
        snprintf(what, sizeof what, "clip_by_norm n=%zu", n);
        EXACT(what, got, rg, n);
        free(got);
        // scalar_pow, axpy_dev, scale_dev with the scalar in device memory (DARTS: eps = r/||v||)
        double rc = 0.0;
        CHECK_OK(scalar_pow_ref(&REF, 0.01, &gn, -1, &rc));
        CHECK_OK(scalar_pow_cuda(&ctx, 0.01, d_s, -1, d_s + 2));
        CHECK(dd_get(d_s + 2) == rc);
        CHECK_OK(axpy_dev_ref(&REF, n, 1.0, &rc, 1, x, rg));
        CHECK_OK(axpy_dev_cuda(&ctx, n, 1.0, d_s + 2, 1, d_x, d_g));
        got = d_down(d_g, n);
        snprintf(what, sizeof what, "axpy_dev n=%zu", n);
        CLOSE(what, got, rg, n, 1);   // the device may fuse the multiply-add
        free(got);
        d_set(d_g, rg, n);
        CHECK_OK(scale_dev_ref(&REF, n, 0.005, &rc, -1, rg));
        CHECK_OK(scale_dev_cuda(&ctx, n, 0.005, d_s + 2, -1, d_g));
        got = d_down(d_g, n);
        snprintf(what, sizeof what, "scale_dev n=%zu", n);
        EXACT(what, got, rg, n);
        free(got);
        CHECK(fl_get(d_fl).nonfinite == 0);
        // non-finite: a NaN norm and a zero scalar change nothing and are recorded with the step
        dd_set(d_s + 3, 0.0);
        dd_set(d_s + 1, NAN);
        CHECK_OK(clip_by_norm_cuda(&ctx, n, d_s + 1, 1.0f, d_g));
        ctx.step = 8;
        CHECK_OK(axpy_dev_cuda(&ctx, n, 1.0, d_s + 3, -1, d_x, d_g));
        CHECK_OK(scale_dev_cuda(&ctx, n, 1.0, d_s + 3, -1, d_g));
        CHECK_OK(scalar_pow_cuda(&ctx, 1.0, d_s + 3, -1, d_s + 2));
        got = d_down(d_g, n);
        snprintf(what, sizeof what, "dev ops with NaN/inf coefficients n=%zu", n);
        EXACT(what, got, rg, n);
        free(got);
        CHECK(dd_get(d_s + 2) == rc);
        kflags f = fl_get(d_fl);
        CHECK_MSG(f.nonfinite == (GH_KFLAG_NORM | GH_KFLAG_SCALAR) && kflags_step(&f) == 7,
                  "nonfinite %u step %llu", f.nonfinite, (unsigned long long)kflags_step(&f));
        must(gh_cuda_memset0(d_fl, sizeof *d_fl), "gh_cuda_memset0");
        ctx.step = 7;
        CHECK(allocs == 0);
        free(g); free(x); free(rg);
        d_free(d_g); d_free(d_x); d_free(d_s); d_free(d_ws);
    }

    // mean, acc_add, acc_hits, check_finite
    const int rows = 300, k = 10;
    float *l = h_rand(rng, rows, 0, 5), *sc = h_rand(rng, (size_t)rows * k, -1, 1);
    for (int i = 0; i < rows; i += 7) sc[(size_t)i * k + 3] = sc[(size_t)i * k + 5] = 2.0f;  // ties
    int *lab = (int *)malloc(sizeof(int) * rows);
    for (int i = 0; i < rows; i++) lab[i] = (int)gh_rng_below(rng, k);
    lab[1] = k;   // out of range: a miss
    float *d_l = d_up(l, rows), *d_sc = d_up(sc, (size_t)rows * k), *d_m = d_alloc(1);
    int *d_lab = NULL;
    must(gh_cuda_malloc((void **)&d_lab, sizeof(int) * rows), "gh_cuda_malloc");
    must(gh_cuda_memcpy_h2d(d_lab, lab, sizeof(int) * rows), "labels h2d");
    float rm = 0.0f;
    CHECK_OK(mean_ref(&REF, rows, l, &rm));
    CHECK_OK(mean_cuda(&ctx, rows, d_l, d_m));
    float *gm = d_down(d_m, 1);
    CLOSE("mean of 300 losses", gm, &rm, 1, 1);
    free(gm);
    double *d_acc = dd_alloc(2), racc = 0.0, rh = 0.0;
    for (int i = 0; i < rows; i++) {
        CHECK_OK(acc_add_ref(&REF, &l[i], 32.0, &racc));
        CHECK_OK(acc_add_cuda(&ctx, d_l + i, 32.0, d_acc));
    }
    CHECK_OK(acc_hits_ref(&REF, rows, k, sc, lab, &rh));
    CHECK_OK(acc_hits_cuda(&ctx, rows, k, d_sc, d_lab, d_acc + 1));
    CHECK_OK(acc_hits_cuda(&ctx, rows, k, d_sc, d_lab, d_acc + 1));
    double ga = dd_get(d_acc), gh = dd_get(d_acc + 1);
    CHECK_MSG(ga == racc, "acc_add %.17g vs host loop %.17g", ga, racc);
    CHECK_MSG(gh == 2 * rh, "acc_hits %g vs ref %g (x2)", gh, rh);
    CHECK_OK(check_finite_cuda(&ctx, rows, d_l, GH_KFLAG_LOSS));
    CHECK(fl_get(d_fl).nonfinite == 0);
    l[250] = NAN;
    d_set(d_l, l, rows);
    ctx.step = 99;
    CHECK_OK(check_finite_cuda(&ctx, rows, d_l, GH_KFLAG_LOSS));
    kflags f = fl_get(d_fl);
    CHECK(f.nonfinite == GH_KFLAG_LOSS && kflags_step(&f) == 99);
    kctx noflags = {0};
    CHECK(check_finite_cuda(&noflags, rows, d_l, GH_KFLAG_LOSS) == GH_EINVAL);
    free(l); free(sc); free(lab);
    d_free(d_l); d_free(d_sc); d_free(d_m); d_free(d_lab); d_free(d_acc); d_free(d_fl);
    CHECK(allocs == 0);
}

// bn and wsum backward take their scratch from a workspace sized by their *_ws queries
static void test_workspaces(gh_rng *rng) {
    int64_t allocs = 0;
    bn_shape sh = {.n = 8, .c = 24, .hw = 49, .eps = 1e-5f, .momentum = 0.1f};
    size_t nx = (size_t)sh.n * sh.c * sh.hw, wsf = 0;
    CHECK_OK(bn_ws_cuda(NULL, &sh, &wsf));
    CHECK(wsf > 0);
    float *x = h_rand(rng, nx, -1, 1), *dy = h_rand(rng, nx, -1, 1);
    float *d_x = d_up(x, nx), *d_dy = d_up(dy, nx), *d_y = d_alloc(nx), *d_dx = d_alloc(nx);
    float *d_m = d_alloc(sh.c), *d_v = d_alloc(sh.c), *d_ws = d_alloc(wsf);
    kctx ctx = {.ws = d_ws, .ws_floats = wsf, .allocs = &allocs};
    CHECK_OK(bn_fwd_train_cuda(&ctx, &sh, d_x, NULL, NULL, d_y, d_m, d_v, NULL, NULL));
    CHECK_OK(bn_bwd_cuda(&ctx, &sh, d_x, NULL, d_m, d_v, d_dy, d_dx, NULL, NULL));
    CHECK(allocs == 0);
    float *y1 = d_down(d_y, nx), *dx1 = d_down(d_dx, nx);
    kctx bare = {.allocs = &allocs};
    must(gh_cuda_memset0(d_dx, nx * sizeof(float)), "memset");
    CHECK_OK(bn_fwd_train_cuda(&bare, &sh, d_x, NULL, NULL, d_y, d_m, d_v, NULL, NULL));
    CHECK_OK(bn_bwd_cuda(&bare, &sh, d_x, NULL, d_m, d_v, d_dy, d_dx, NULL, NULL));
    CHECK(allocs == 2);
    float *y2 = d_down(d_y, nx), *dx2 = d_down(d_dx, nx);
    bits_equal("bn fwd from the workspace", y1, y2, nx);
    bits_equal("bn bwd from the workspace", dx1, dx2, nx);
    free(x); free(dy); free(y1); free(dx1); free(y2); free(dx2);
    d_free(d_x); d_free(d_dy); d_free(d_y); d_free(d_dx); d_free(d_m); d_free(d_v); d_free(d_ws);

    allocs = 0;
    const int k = 5;
    const size_t n = 10007;
    CHECK_OK(wsum_bwd_ws_cuda(NULL, k, n, &wsf));
    float *h[5], *d[5], *dd[5];
    for (int i = 0; i < k; i++) {
        h[i] = h_rand(rng, n, -1, 1);
        d[i] = d_up(h[i], n);
        dd[i] = d_alloc(n);
    }
    float *w = h_rand(rng, k, 0, 1), *d_w = d_up(w, k), *d_dw = d_alloc(k), *d_dw2 = d_alloc(k);
    float *d_dy2 = d_up(h[0], n);
    d_ws = d_alloc(wsf);
    kctx wctx = {.ws = d_ws, .ws_floats = wsf, .allocs = &allocs};
    CHECK_OK(wsum_bwd_cuda(&wctx, k, n, (const float *const *)d, d_w, d_dy2, dd, d_dw));
    CHECK(allocs == 0);
    kctx wbare = {.allocs = &allocs};
    CHECK_OK(wsum_bwd_cuda(&wbare, k, n, (const float *const *)d, d_w, d_dy2, dd, d_dw2));
    CHECK(allocs == 1);
    float *a = d_down(d_dw, k), *b = d_down(d_dw2, k);
    bits_equal("wsum dwts from the workspace", a, b, k);
    free(a); free(b); free(w);
    for (int i = 0; i < k; i++) { free(h[i]); d_free(d[i]); d_free(dd[i]); }
    d_free(d_w); d_free(d_dw); d_free(d_dw2); d_free(d_dy2); d_free(d_ws);
}

// Stream, pinned memory, events and the stream-ordered copies the engine uses.
static void test_streams(void) {
    CHECK_OK(gh_cuda_use_device(0));
    void *st = NULL, *ev = NULL, *pin = NULL;
    CHECK_OK(gh_cuda_stream_create(&st));
    CHECK_OK(gh_cuda_event_create(&ev));
    const size_t n = 1 << 20;
    CHECK_OK(gh_cuda_host_alloc(&pin, n * sizeof(float)));
    float *h = (float *)pin, *back = h_alloc(n);
    for (size_t i = 0; i < n; i++) h[i] = (float)i;
    float *d = d_alloc(n), *d2 = d_alloc(n);
    CHECK_OK(gh_cuda_memcpy_h2d_async(d, h, n * sizeof(float), st));
    CHECK_OK(gh_cuda_event_record(ev, st));
    CHECK_OK(gh_cuda_event_sync(ev));
    for (size_t i = 0; i < n; i++) h[i] = -1.0f;   // the copy is done: the staging may change
    CHECK_OK(gh_cuda_memcpy_d2d_async(d2, d, n * sizeof(float), st));
    CHECK_OK(gh_cuda_memset0_async(d, 16 * sizeof(float), st));
    CHECK_OK(gh_cuda_memcpy_d2h_async(back, d2, n * sizeof(float), st));
    CHECK_OK(gh_cuda_stream_sync(st));
    int ok = 1;
    for (size_t i = 0; i < n; i++) ok &= back[i] == (float)i;
    CHECK_MSG(ok, "h2d/d2d/d2h on a stream lost data");
    CHECK_OK(gh_cuda_memcpy_d2h_async(back, d, 32 * sizeof(float), st));
    CHECK_OK(gh_cuda_stream_sync(st));
    CHECK(back[15] == 0.0f && back[16] == 16.0f);
    free(back);
    d_free(d); d_free(d2);
    CHECK_OK(gh_cuda_host_free(pin));
    CHECK_OK(gh_cuda_event_destroy(ev));
    CHECK_OK(gh_cuda_stream_destroy(st));
}

// ---- conv2d of relu(x), fused (issue 15) ------------------------------------------------------
// conv2d_relu_fwd/_bwd_cuda against the C reference's fused pair on the depthwise shapes the
// CUDA path fuses (tile and direct kernels, stride-2 gather), x with exact zeros, -0 and
// negatives: y, dx (masked where x <= 0: those entries keep their starting value exactly), dw;
// and conv2d_relu_ok's answer (fused on depthwise, not on a dense conv, which the engine then runs
// as relu into scratch and the plain conv).
static void run_conv_relu(const conv_case *cc, gh_rng *rng) {
    conv2d_shape sh = cc->sh;
    if (conv2d_shape_init(&sh) != GH_OK) {
        CHECK_MSG(0, "%s: conv2d_shape_init: %s", cc->name, gh_error_get());
        return;
    }
    int fused = -1;
    CHECK_OK(conv2d_relu_ok_cuda(&REF, &sh, &fused));
    CHECK_MSG(fused == 1, "conv_relu %s: conv2d_relu_ok_cuda says %d, want fused", cc->name, fused);
    if (fused != 1) return;
    const int cg = sh.c / sh.groups, kg = sh.k / sh.groups;
    const size_t nx = (size_t)sh.n * sh.c * sh.h * sh.w, nw = (size_t)sh.k * cg * sh.r * sh.s;
    const size_t ny = (size_t)sh.n * sh.k * sh.p * sh.q;
    float *x = h_rand(rng, nx, -1, 1), *w = h_rand(rng, nw, -1, 1), *dy = h_rand(rng, ny, -1, 1);
    for (size_t i = 0; i < nx; i += 7) x[i] = (i / 7) % 2 ? 0.0f : -0.0f;   // the mask's edges
    float *dx0 = h_rand(rng, nx, -1, 1), *dw0 = h_rand(rng, nw, -1, 1);
    float *y_ref = h_alloc(ny), *dx_ref = h_dup(dx0, nx), *dw_ref = h_dup(dw0, nw);
    CHECK_OK(conv2d_relu_fwd_ref(&REF, &sh, x, w, NULL, y_ref));
    CHECK_OK(conv2d_relu_bwd_ref(&REF, &sh, x, w, dy, dx_ref, dw_ref, NULL));

    size_t wsf = conv2d_ws_floats_cuda(&sh);
    float *ws = d_alloc(wsf ? wsf : 1);
    kctx ctx = {.ws = ws, .ws_floats = wsf};
    float *d_x = d_up(x, nx), *d_w = d_up(w, nw), *d_dy = d_up(dy, ny), *d_y = d_alloc(ny);
    float *d_dx = d_up(dx0, nx), *d_dw = d_up(dw0, nw);
    char what[160];
    CHECK_OK(conv2d_relu_fwd_cuda(&ctx, &sh, d_x, d_w, NULL, d_y));
    CHECK_OK(conv2d_relu_bwd_cuda(&ctx, &sh, d_x, d_w, d_dy, d_dx, d_dw, NULL));
    float *y = d_down(d_y, ny), *dx = d_down(d_dx, nx), *dw = d_down(d_dw, nw);
    snprintf(what, sizeof what, "conv_relu %s fwd", cc->name);
    CLOSE(what, y, y_ref, ny, (double)cg * sh.r * sh.s);
    snprintf(what, sizeof what, "conv_relu %s bwd dx", cc->name);
    CLOSE(what, dx, dx_ref, nx, (double)kg * sh.r * sh.s);
    snprintf(what, sizeof what, "conv_relu %s bwd dw", cc->name);
    CLOSE(what, dw, dw_ref, nw, (double)sh.n * sh.p * sh.q);
    size_t kept = 0, masked = 0;
    for (size_t i = 0; i < nx; i++)
        if (!(x[i] > 0)) {
            masked++;
            kept += memcmp(&dx[i], &dx0[i], sizeof(float)) == 0;
        }
    CHECK_MSG(kept == masked, "conv_relu %s: %zu of %zu masked dx entries changed", cc->name,
              masked - kept, masked);
    free(y); free(dx); free(dw);
    d_free(ws); d_free(d_x); d_free(d_w); d_free(d_dy); d_free(d_y); d_free(d_dx); d_free(d_dw);
    free(x); free(w); free(dy); free(dx0); free(dw0); free(y_ref); free(dx_ref); free(dw_ref);
}

static void test_conv_relu(gh_rng *rng) {
    static const conv_case cases[] = {
        //    name                          n  c   h   w   k  r  s sh sw ph pw dh dw  g bias
        CONV("dw 3x3 32x32 (tile)",         2, 16, 32, 32, 16, 3, 3, 1, 1, 1, 1, 1, 1, 16, 0),
        CONV("dw 5x5 odd",                  2, 5,  11, 13, 5, 5, 5, 1, 1, 2, 2, 1, 1, 5, 0),
        CONV("dw 3x3 dil 2",                2, 7,  9,  10, 7, 3, 3, 1, 1, 2, 2, 2, 2, 7, 0),
        CONV("dw 5x5 dil 2",                2, 4,  16, 16, 4, 5, 5, 1, 1, 4, 4, 2, 2, 4, 0),
        CONV("dw 3x3 s2",                   2, 6,  16, 15, 6, 3, 3, 2, 2, 1, 1, 1, 1, 6, 0),
        CONV("dw 5x5 s2 dil 2",             2, 3,  17, 17, 3, 5, 5, 2, 2, 4, 4, 2, 2, 3, 0),
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_conv_relu(&cases[i], rng);
    conv2d_shape dense = {.n = 1, .c = 4, .h = 8, .w = 8, .k = 8, .r = 1, .s = 1};
    int fused = -1;
    CHECK_OK(conv2d_shape_init(&dense));
    CHECK_OK(conv2d_relu_ok_cuda(&REF, &dense, &fused));
    CHECK_MSG(fused == 0, "conv2d_relu_ok_cuda on a 1x1 dense conv says %d, want 0", fused);
}

// ---- index decoding of the data-movement kernels (issue 15) ------------------------------------
// concat, slice, shift and gap backward decode element indices in 32 bits where the tensors hold
// fewer than 2^31 elements (concat.cuh; the 64-bit decoding and the choice between them are
// replayed on the CPU by test_concat_emu: a tensor past 2^31 is too big to test here). These
// sizes take several grid-stride passes per thread (more than GH_EW_MAX_BLOCKS x 256 elements),
// and concat and slice the float4 path; every result exactly the reference's. conv_db_kernel's
// carry walk on planes smaller than its 256 threads, where one step crosses rows.
static void test_movement_idx(gh_rng *rng) {
    kctx ctx = {0};
    {   // a DARTS cell's concat of 2 states, 64 images of 32x32: 1.3M float4 for the first
        const int n = 64, hw = 1024, k = 2, cs[2] = {80, 48}, ct = 128;
        float *xs[2], *d_xs[2], *g0[2], *d_g[2];
        const float *cx[2], *cdx[2];
        for (int i = 0; i < k; i++) {
            size_t m = (size_t)n * cs[i] * hw;
            xs[i] = h_rand(rng, m, -1, 1);
            g0[i] = h_rand(rng, m, -1, 1);
            d_xs[i] = d_up(xs[i], m);
            d_g[i] = d_up(g0[i], m);
            cx[i] = xs[i];
            cdx[i] = d_xs[i];
        }
        const size_t ny = (size_t)n * ct * hw;
        float *ry = h_alloc(ny), *dy = h_rand(rng, ny, -1, 1);
        float *d_y = d_alloc(ny), *d_dy = d_up(dy, ny);
        CHECK_OK(concat_fwd_ref(&REF, n, hw, k, cs, cx, ry));
        CHECK_OK(concat_fwd_cuda(&ctx, n, hw, k, cs, cdx, d_y));
        float *y = d_down(d_y, ny);
        EXACT("concat fwd n64 c80+48 32x32 float4", y, ry, ny);
        float *rg[2] = {h_dup(g0[0], (size_t)n * cs[0] * hw), h_dup(g0[1], (size_t)n * cs[1] * hw)};
        CHECK_OK(concat_bwd_ref(&REF, n, hw, k, cs, dy, rg));
        CHECK_OK(concat_bwd_cuda(&ctx, n, hw, k, cs, d_dy, d_g));
        for (int i = 0; i < k; i++) {
            float *g = d_down(d_g[i], (size_t)n * cs[i] * hw);
            EXACT(i ? "concat bwd [1] n64 c48 float4" : "concat bwd [0] n64 c80 float4", g, rg[i],
                  (size_t)n * cs[i] * hw);
            free(g);
            free(rg[i]);
        }
        // slice channels [16, 112) of the output (float4), and [3, 100) of the same data read
        // as planes of 1023 floats (odd: the scalar path)
        const int c0s[2] = {16, 3}, cns[2] = {96, 97};
        for (int t = 0; t < 2; t++) {
            const int c0 = c0s[t], cn = cns[t], phw = t ? 1023 : hw;   // 1023: scalar
            const size_t ns = (size_t)n * cn * phw, nx = (size_t)n * ct * phw;
            float *rs = h_alloc(ns), *sdy = h_rand(rng, ns, -1, 1), *rdx = h_dup(dy, nx);
            float *d_s = d_alloc(ns), *d_sdy = d_up(sdy, ns), *d_dx = d_up(dy, nx);
            CHECK_OK(slice_fwd_ref(&REF, n, ct, phw, c0, cn, ry, rs));
            CHECK_OK(slice_fwd_cuda(&ctx, n, ct, phw, c0, cn, d_y, d_s));
            float *sl = d_down(d_s, ns);
            EXACT(t ? "slice fwd n64 [3, 100) hw1023 scalar" : "slice fwd n64 [16, 112) float4",
                  sl, rs, ns);
            CHECK_OK(slice_bwd_ref(&REF, n, ct, phw, c0, cn, sdy, rdx));
            CHECK_OK(slice_bwd_cuda(&ctx, n, ct, phw, c0, cn, d_sdy, d_dx));
            float *sdx = d_down(d_dx, nx);
            EXACT(t ? "slice bwd n64 [3, 100) hw1023 scalar" : "slice bwd n64 [16, 112) float4",
                  sdx, rdx, nx);
            free(rs); free(sdy); free(rdx); free(sl); free(sdx);
            d_free(d_s); d_free(d_sdy); d_free(d_dx);
        }
        free(y); free(ry); free(dy);
        d_free(d_y); d_free(d_dy);
        for (int i = 0; i < k; i++) {
            free(xs[i]); free(g0[i]);
            d_free(d_xs[i]); d_free(d_g[i]);
        }
    }
    {   // FactorizedReduce's shift x[:, :, 1:, 1:] (zero-filled), 64 x 32 channels of 32x32: 2M
        const int n = 64, c = 32, h = 32, w = 32;
        const size_t nx = (size_t)n * c * h * w;
        float *x = h_rand(rng, nx, -1, 1), *dy = h_rand(rng, nx, -1, 1), *gx0 = h_rand(rng, nx, -1, 1);
        float *ro = h_alloc(nx), *rgx = h_dup(gx0, nx);
        float *d_x = d_up(x, nx), *d_o = d_alloc(nx), *d_dy = d_up(dy, nx), *d_gx = d_up(gx0, nx);
        CHECK_OK(shift_fwd_ref(&REF, n, c, h, w, 1, 1, h, w, x, ro));
        CHECK_OK(shift_fwd_cuda(&ctx, n, c, h, w, 1, 1, h, w, d_x, d_o));
        float *o = d_down(d_o, nx);
        EXACT("shift fwd (1, 1) n64 c32 32x32", o, ro, nx);
        CHECK_OK(shift_bwd_ref(&REF, n, c, h, w, 1, 1, h, w, dy, rgx));
        CHECK_OK(shift_bwd_cuda(&ctx, n, c, h, w, 1, 1, h, w, d_dy, d_gx));
        float *gx = d_down(d_gx, nx);
        EXACT("shift bwd (1, 1) n64 c32 32x32", gx, rgx, nx);
        free(x); free(dy); free(gx0); free(ro); free(rgx); free(o); free(gx);
        d_free(d_x); d_free(d_o); d_free(d_dy); d_free(d_gx);
    }
    {   // global average pooling's backward, 64 x 256 planes of 9x9: 1.3M
        const int n = 64, c = 256, hw = 81;
        const size_t nx = (size_t)n * c * hw, nr = (size_t)n * c;
        float *dy = h_rand(rng, nr, -1, 1), *dx0 = h_rand(rng, nx, -1, 1), *rdx = h_dup(dx0, nx);
        float *d_dy = d_up(dy, nr), *d_dx = d_up(dx0, nx);
        CHECK_OK(gap_bwd_ref(&REF, n, c, hw, dy, rdx));
        CHECK_OK(gap_bwd_cuda(&ctx, n, c, hw, d_dy, d_dx));
        float *dx = d_down(d_dx, nx);
        EXACT("gap bwd n64 c256 hw81", dx, rdx, nx);
        free(dy); free(dx0); free(rdx); free(dx);
        d_free(d_dy); d_free(d_dx);
    }
    static const conv_case db_cases[] = {
        //    name                          n  c   h   w   k  r  s sh sw ph pw dh dw  g bias
        CONV("db 7x7 planes n16 (walk 5 rows + 11)", 16, 4, 7, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1),
        CONV("db 1x1 planes n300 (walk 256 rows)", 300, 4, 1, 1, 5, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1),
    };
    for (size_t i = 0; i < sizeof db_cases / sizeof db_cases[0]; i++) run_conv(&db_cases[i], rng, 0);
}

#endif  // GH_HAVE_CUDA

int main(void) {
#ifndef GH_HAVE_CUDA
    check_skip(NAME, "this build has no CUDA");
    return 77;
#else
    if (gh_cuda_device_count() == 0) check_skip(NAME, "no CUDA device on this machine");
    gh_rng rng;
    gh_rng_seed(&rng, 20261130, GH_STREAM_INIT);
    test_runtime();
    test_elementwise(&rng);
    test_dropout(&rng);
    test_optim(&rng);
    test_concat(&rng);
    test_movement_idx(&rng);
    test_softmax(&rng);
    test_controller(&rng);
    test_scalars(&rng);
    test_workspaces(&rng);
    test_streams();
    run_wsum(1001, &rng);
    run_wsum(1 << 16, &rng);
    test_pool(&rng);
    test_pool_idx(&rng);
    test_linear(&rng);
    test_bn(&rng);
    test_conv(&rng);
    test_conv_prec(&rng);
    test_conv_relu(&rng);
    return check_done(NAME);
#endif
}
