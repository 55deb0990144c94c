// The conv of relu(x) (conv2d_relu_fwd/_bwd, issue 15) on _ref and _cpu:
// - exact: small integers (every partial sum an integer below 2^24, exact in fp32 in any order)
//   against an int64 conv of max(x, 0), its dW, db and dx masked by x > 0 (x holds -0 too);
// - bitwise: random floats against the same backend's unfused pair, relu_fwd then conv2d_fwd,
//   and conv2d_bwd into zeros then relu_bwd from x, bit for bit: with -0 in x for y, dx, dw and
//   db, and with NaN in x for y (NaN where the pair gives NaN) and dx (finite, untouched where
//   x is NaN or -0);
// - which shapes each backend fuses (conv2d_relu_ok) and that _cpu refuses the others.
// The depthwise shapes reach every _cpu path: rows of 8 (DARTS's 8x8 cells), flat stride-1
// correlations, the phase-split planes (strides of 2, and padding beyond (r-1)*dil at stride 1).
#include <stdint.h>

#include "ktest.h"

typedef int (*conv_fwd_fn)(const kctx *, const conv2d_shape *, const float *, const float *,
                           const float *, float *);
typedef int (*conv_bwd_fn)(const kctx *, const conv2d_shape *, const float *, const float *,
                           const float *, float *, float *, float *);
typedef struct {
    const char *name;
    conv_fwd_fn fwd, relu_fwd_conv;
    conv_bwd_fn bwd, relu_bwd_conv;
    int (*relu_fwd)(const kctx *, size_t, const float *, float *);
    int (*relu_bwd)(const kctx *, size_t, const float *, const float *, float *);
    int (*ok)(const kctx *, const conv2d_shape *, int *);
} backend;

static const backend BACKENDS[2] = {
    {"ref", conv2d_fwd_ref, conv2d_relu_fwd_ref, conv2d_bwd_ref, conv2d_relu_bwd_ref, relu_fwd_ref,
     relu_bwd_ref, conv2d_relu_ok_ref},
    {"cpu", conv2d_fwd_cpu, conv2d_relu_fwd_cpu, conv2d_bwd_cpu, conv2d_relu_bwd_cpu, relu_fwd_cpu,
     relu_bwd_cpu, conv2d_relu_ok_cpu},
};

static size_t nx_of(const conv2d_shape *sh) { return (size_t)sh->n * sh->c * sh->h * sh->w; }
static size_t nw_of(const conv2d_shape *sh) {
    return (size_t)sh->k * (sh->c / sh->groups) * sh->r * sh->s;
}
static size_t ny_of(const conv2d_shape *sh) { return (size_t)sh->n * sh->k * sh->p * sh->q; }

static const char *shape_name(const conv2d_shape *sh) {
    static char buf[128];
    snprintf(buf, sizeof buf, "n%d c%d %dx%d k%d %dx%d s%d p%d d%d g%d", sh->n, sh->c, sh->h,
             sh->w, sh->k, sh->r, sh->s, sh->stride_h, sh->pad_h, sh->dil_h, sh->groups);
    return buf;
}

// Bit for bit, except that two NaNs are equal whatever their payloads.
static void bits_equal(const char *what, const float *got, const float *want, size_t n) {
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++) {
        if (got[i] != got[i] && want[i] != want[i]) continue;
        if (memcmp(&got[i], &want[i], sizeof(float))) {
            if (!bad) first = i;
            bad++;
        }
    }
    CHECK_MSG(bad == 0, "%s: %zu of %zu differ in bits, the first [%zu]: %a, unfused %a", what, bad,
              n, first, bad ? got[first] : 0.0f, bad ? want[first] : 0.0f);
}

// ---- exact, on small integers -----------------------------------------------------------------

// y = conv(max(x, 0)) + b; dx += (x > 0) * conv_bwd_data(dy); dw += dy (*) max(x, 0); db += dy
static void conv_relu_int(const conv2d_shape *sh, const float *x, const float *w, const float *b,
                          const float *dy, int64_t *y, int64_t *dx, int64_t *dw, int64_t *db) {
    int cg = sh->c / sh->groups, kg = sh->k / sh->groups;
    size_t nx = nx_of(sh), ny = ny_of(sh), pq = (size_t)sh->p * sh->q;
    int64_t *dconv = calloc(nx, sizeof(int64_t));
    for (size_t i = 0; i < ny; i++) y[i] = (int64_t)b[(i / pq) % sh->k];
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
                                int64_t xr = x[xi] > 0.0f ? (int64_t)x[xi] : 0;
                                y[yi] += xr * (int64_t)w[wi];
                                dconv[xi] += (int64_t)dy[yi] * (int64_t)w[wi];
                                dw[wi] += (int64_t)dy[yi] * xr;
                            }
    for (size_t i = 0; i < nx; i++)
        if (x[i] > 0.0f) dx[i] += dconv[i];
    for (size_t i = 0; i < ny; i++) db[(i / pq) % sh->k] += (int64_t)dy[i];
    free(dconv);
}

static float *from_int(const int64_t *v, size_t n) {
    float *f = kt_alloc(n);
    for (size_t i = 0; i < n; i++) f[i] = (float)v[i];
    return f;
}

static void exact(const backend *be, gh_rng *rng, conv2d_shape sh) {
    size_t nx = nx_of(&sh), nw = nw_of(&sh), ny = ny_of(&sh);
    float *x = kt_rand_int(rng, nx, -3, 3), *w = kt_rand_int(rng, nw, -2, 2);
    float *b = kt_rand_int(rng, sh.k, -2, 2), *dy = kt_rand_int(rng, ny, -2, 2);
    float *dx = kt_rand_int(rng, nx, -5, 5), *dw = kt_rand_int(rng, nw, -5, 5);
    float *db = kt_rand_int(rng, sh.k, -5, 5), *y = kt_alloc(ny);
    for (size_t i = 0; i < nx; i += 2)
        if (x[i] == 0.0f) x[i] = -0.0f;   // -0: read as 0, masked
    int64_t *yi = calloc(ny, 8), *dxi = calloc(nx, 8), *dwi = calloc(nw, 8), *dbi = calloc(sh.k, 8);
    for (size_t i = 0; i < nx; i++) dxi[i] = (int64_t)dx[i];
    for (size_t i = 0; i < nw; i++) dwi[i] = (int64_t)dw[i];
    for (int i = 0; i < sh.k; i++) dbi[i] = (int64_t)db[i];
    conv_relu_int(&sh, x, w, b, dy, yi, dxi, dwi, dbi);
    float *ye = from_int(yi, ny), *dxe = from_int(dxi, nx), *dwe = from_int(dwi, nw);
    float *dbe = from_int(dbi, sh.k);
    kt_ws ws;
    kt_ws_for(&ws, conv2d_ws_floats(&sh));
    char what[200];
    snprintf(what, sizeof what, "exact %s %s", be->name, shape_name(&sh));
    CHECK_OK(be->relu_fwd_conv(&ws.ctx, &sh, x, w, b, y));
    CHECK_OK(be->relu_bwd_conv(&ws.ctx, &sh, x, w, dy, dx, dw, db));
    char part[240];
    snprintf(part, sizeof part, "%s y", what);
    KT_EQUAL(part, y, ye, ny);
    snprintf(part, sizeof part, "%s dx", what);
    KT_EQUAL(part, dx, dxe, nx);
    snprintf(part, sizeof part, "%s dw", what);
    KT_EQUAL(part, dw, dwe, nw);
    snprintf(part, sizeof part, "%s db", what);
    KT_EQUAL(part, db, dbe, sh.k);
    kt_ws_free(&ws);
    free(x); free(w); free(b); free(dy); free(dx); free(dw); free(db); free(y);
    free(yi); free(dxi); free(dwi); free(dbi); free(ye); free(dxe); free(dwe); free(dbe);
}

// ---- bit for bit against the unfused pair ----------------------------------------------------

// nan: x also holds NaN (then only y and dx, without dw, are compared: a NaN read by dW
// poisons it in both)
static void bitwise(const backend *be, gh_rng *rng, conv2d_shape sh, int nan) {
    size_t nx = nx_of(&sh), nw = nw_of(&sh), ny = ny_of(&sh);
    float *x = kt_rand(rng, nx, -1, 1), *w = kt_rand(rng, nw, -1, 1);
    float *b = kt_rand(rng, sh.k, -1, 1);
    float *dy = kt_rand(rng, ny, -1, 1), *dx0 = kt_rand(rng, nx, -1, 1);
    float *dw0 = kt_rand(rng, nw, -1, 1), *db0 = kt_rand(rng, sh.k, -1, 1);
    for (size_t i = 0; i < nx; i += 5) x[i] = -0.0f;
    if (nan)
        for (size_t i = 3; i < nx; i += 13) x[i] = NAN;
    float *r = kt_alloc(nx), *g = kt_alloc(nx), *yu = kt_alloc(ny), *yf = kt_alloc(ny);
    float *dxu = kt_dup(dx0, nx), *dxf = kt_dup(dx0, nx);
    float *dwu = kt_dup(dw0, nw), *dwf = kt_dup(dw0, nw), *dbu = kt_dup(db0, sh.k);
    float *dbf = kt_dup(db0, sh.k);
    kt_ws ws;
    kt_ws_for(&ws, conv2d_ws_floats(&sh));
    // unfused: the engine's gh_relu then gh_conv2d (dx of relu(x) into a zeroed buffer)
    CHECK_OK(be->relu_fwd(&ws.ctx, nx, x, r));
    CHECK_OK(be->fwd(&ws.ctx, &sh, r, w, b, yu));
    CHECK_OK(be->bwd(&ws.ctx, &sh, r, w, dy, g, nan ? NULL : dwu, nan ? NULL : dbu));
    CHECK_OK(be->relu_bwd(&ws.ctx, nx, r, g, dxu));
    // fused
    CHECK_OK(be->relu_fwd_conv(&ws.ctx, &sh, x, w, b, yf));
    CHECK_OK(be->relu_bwd_conv(&ws.ctx, &sh, x, w, dy, dxf, nan ? NULL : dwf, nan ? NULL : dbf));
    char what[240];
    const char *kind = nan ? "x with NaN and -0" : "x with -0";
    snprintf(what, sizeof what, "bitwise %s %s, %s: y", be->name, shape_name(&sh), kind);
    bits_equal(what, yf, yu, ny);
    snprintf(what, sizeof what, "bitwise %s %s, %s: dx", be->name, shape_name(&sh), kind);
    bits_equal(what, dxf, dxu, nx);
    // masked where x is not > 0; finite throughout; and the mask must not be all of dx
    size_t masked = 0, moved = 0, bad = 0;
    for (size_t i = 0; i < nx; i++) {
        if (!(x[i] > 0.0f)) {
            masked++;
            bad += memcmp(&dxf[i], &dx0[i], sizeof(float)) != 0;
        } else
            moved += dxf[i] != dx0[i];
        bad += !isfinite(dxf[i]);
    }
    // (moved: strided convs leave some inputs unread, a 1x1 stride 2 three in four)
    CHECK_MSG(bad == 0 && masked > nx / 4 && moved > nx / 20,
              "%s: %zu masked entries changed or non-finite; %zu masked, %zu changed of %zu",
              what, bad, masked, moved, nx);
    if (!nan) {
        snprintf(what, sizeof what, "bitwise %s %s, %s: dw", be->name, shape_name(&sh), kind);
        bits_equal(what, dwf, dwu, nw);
        snprintf(what, sizeof what, "bitwise %s %s, %s: db", be->name, shape_name(&sh), kind);
        bits_equal(what, dbf, dbu, sh.k);
    } else {
        size_t nans = 0;
        for (size_t i = 0; i < ny; i++) nans += yf[i] != yf[i];
        // the CPU ReLU propagates NaN: some outputs must be NaN, as the unfused pair's
        CHECK_MSG(nans > 0, "%s: no NaN in y from an x with NaN", what);
    }
    kt_ws_free(&ws);
    free(x); free(w); free(b); free(dy); free(dx0); free(dw0); free(db0); free(r); free(g);
    free(yu); free(yf); free(dxu); free(dxf); free(dwu); free(dwf); free(dbu); free(dbf);
}

// depthwise: groups = c = k
#define DW(N, C, H, W, R, ST, PAD, DIL)                                                        \
    (conv2d_shape) {                                                                           \
        .n = N, .c = C, .h = H, .w = W, .k = C, .r = R, .s = R, .stride_h = ST,                \
        .stride_w = ST, .pad_h = PAD, .pad_w = PAD, .dil_h = DIL, .dil_w = DIL, .groups = C    \
    }

int main(void) {
    gh_rng rng;
    gh_rng_seed(&rng, 20261201, GH_STREAM_INIT);
    conv2d_shape dws[] = {
        DW(3, 5, 8, 8, 3, 1, 1, 1),     // rows of 8: sep_conv_3x3 in an 8x8 cell
        DW(2, 4, 8, 8, 5, 1, 2, 1),     // rows of 8, 5x5
        DW(2, 3, 8, 8, 3, 1, 2, 2),     // rows of 8, dil_conv_3x3
        DW(2, 3, 8, 8, 5, 1, 4, 2),     // rows of 8, dil_conv_5x5
        DW(2, 3, 11, 8, 3, 1, 1, 1),    // rows of 8, 11 of them (the 8-row blocks' tail)
        DW(2, 5, 16, 16, 3, 1, 1, 1),   // flat
        DW(2, 3, 11, 13, 5, 1, 2, 1),   // flat, odd sizes
        DW(2, 3, 12, 10, 3, 1, 2, 2),   // flat, dilation 2
        DW(2, 5, 16, 16, 3, 2, 1, 1),   // phase-split, stride 2 (a reduction cell's sep_conv)
        DW(2, 3, 15, 14, 5, 2, 4, 2),   // phase-split, stride 2, dilation 2
        DW(2, 3, 7, 9, 3, 1, 3, 1),     // phase-split at stride 1: padding beyond (r-1)*dil
    };
    conv2d_shape others[] = {
        {.n = 2, .c = 4, .h = 6, .w = 5, .k = 6, .r = 1, .s = 1},   // ReLUConvBN's 1x1
        {.n = 2, .c = 4, .h = 6, .w = 6, .k = 2, .r = 1, .s = 1, .stride_h = 2, .stride_w = 2},
        {.n = 2, .c = 3, .h = 6, .w = 5, .k = 4, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1},
        {.n = 1, .c = 4, .h = 5, .w = 5, .k = 6, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1,
         .groups = 2},
        {.n = 1, .c = 2, .h = 5, .w = 8, .k = 3, .r = 1, .s = 7, .pad_w = 3},   // conv_7x1_1x7's
    };
    int nd = (int)(sizeof dws / sizeof dws[0]), no = (int)(sizeof others / sizeof others[0]);
    for (int i = 0; i < nd; i++) CHECK_OK(conv2d_shape_init(&dws[i]));
    for (int i = 0; i < no; i++) CHECK_OK(conv2d_shape_init(&others[i]));
    if (check_failures_) return check_done("test_kernels_relu_conv");

    for (int bi = 0; bi < 2; bi++) {
        const backend *be = &BACKENDS[bi];
        for (int i = 0; i < nd; i++) {
            int fused = -1;
            CHECK_OK(be->ok(NULL, &dws[i], &fused));
            CHECK_MSG(fused == 1, "%s %s: depthwise not fused (%d)", be->name,
                      shape_name(&dws[i]), fused);
            exact(be, &rng, dws[i]);
            bitwise(be, &rng, dws[i], 0);
            bitwise(be, &rng, dws[i], 1);
        }
        for (int i = 0; i < no; i++) {
            int fused = -1;
            CHECK_OK(be->ok(NULL, &others[i], &fused));
            // _ref fuses every shape; _cpu only depthwise ones and refuses the rest
            CHECK_MSG(fused == (bi == 0), "%s %s: fused = %d", be->name, shape_name(&others[i]),
                      fused);
            if (bi == 0) {
                exact(be, &rng, others[i]);
                bitwise(be, &rng, others[i], 0);
                bitwise(be, &rng, others[i], 1);
                continue;
            }
            size_t nx = nx_of(&others[i]), nw = nw_of(&others[i]), ny = ny_of(&others[i]);
            float *x = kt_alloc(nx), *w = kt_alloc(nw), *y = kt_alloc(ny), *d = kt_alloc(nx);
            kt_ws ws;
            kt_ws_for(&ws, conv2d_ws_floats(&others[i]));
            CHECK(be->relu_fwd_conv(&ws.ctx, &others[i], x, w, NULL, y) == GH_EUNSUP);
            CHECK(strstr(gh_error_get(), "conv2d_relu_fwd_cpu") != NULL);
            CHECK(be->relu_bwd_conv(&ws.ctx, &others[i], x, w, y, d, NULL, NULL) == GH_EUNSUP);
            kt_ws_free(&ws);
            free(x); free(w); free(y); free(d);
        }
    }
    return check_done("test_kernels_relu_conv");
}
