// tests/kernels: helpers shared by the kernel tests: seeded random arrays, a workspace sized by
// the ops' own *_ws_floats, and the fp32 tolerance for a sum of `terms` products.
#pragma once
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/kernels.h"

static inline float *kt_alloc(size_t n) {
    float *p = (float *)calloc(n ? n : 1, sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory (%zu floats)\n", n);
        exit(2);
    }
    return p;
}

static inline float *kt_dup(const float *src, size_t n) {
    float *p = kt_alloc(n);
    memcpy(p, src, n * sizeof(float));
    return p;
}

// uniform in [lo, hi)
static inline void kt_fill(gh_rng *r, float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (float)gh_rng_uniform(r);
}

static inline float *kt_rand(gh_rng *r, size_t n, float lo, float hi) {
    float *p = kt_alloc(n);
    kt_fill(r, p, n, lo, hi);
    return p;
}

// integers in [lo, hi]
static inline float *kt_rand_int(gh_rng *r, size_t n, int lo, int hi) {
    float *p = kt_alloc(n);
    for (size_t i = 0; i < n; i++) p[i] = (float)(lo + (int)gh_rng_below(r, (uint64_t)(hi - lo + 1)));
    return p;
}

static inline double kt_rms(const float *x, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return n ? sqrt(s / n) : 0.0;
}

// Relative tolerance of an fp32 result that sums `terms` products and is compared with a
// reference accumulated in double: rounding grows like sqrt(terms) ulps for random signs,
// 1e-5 (~80 ulp) covers short sums, and longer ones scale from there.
static inline double kt_rtol(double terms) {
    double s = sqrt(terms > 1 ? terms : 1) / 8.0;
    return 1e-5 * (s > 1.0 ? s : 1.0);
}

// Compares got with want where want's elements are sums of `terms` products: rtol from
// kt_rtol and atol = rtol * rms(want), for elements that cancel to near zero.
static inline int kt_close(const char *what, const float *got, const float *want, size_t n,
                           double terms, const char *file, int line) {
    double rtol = kt_rtol(terms);
    double atol = rtol * (kt_rms(want, n) + 1e-30);
    return check_close_f(what, got, want, n, atol, rtol, file, line);
}
#define KT_CLOSE(what, got, want, n, terms) kt_close(what, got, want, n, terms, __FILE__, __LINE__)

static inline int kt_equal(const char *what, const float *got, const float *want, size_t n,
                           const char *file, int line) {
    return check_close_f(what, got, want, n, 1e-300, 0.0, file, line);   // any difference fails
}
#define KT_EQUAL(what, got, want, n) kt_equal(what, got, want, n, __FILE__, __LINE__)

// The workspace that the _cpu conv needs for this shape at the current thread count.
typedef struct {
    kctx ctx;
    float *buf;
} kt_ws;

static inline void kt_ws_for(kt_ws *w, size_t floats) {
    memset(w, 0, sizeof *w);
    w->buf = kt_alloc(floats);
    w->ctx.ws = w->buf;
    w->ctx.ws_floats = floats;
}

static inline void kt_ws_free(kt_ws *w) { free(w->buf); }
