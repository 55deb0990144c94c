// The device-scalar ops (norm2, clip_by_norm, scalar_pow, axpy_dev, scale_dev) and the metric
// reductions (mean, acc_add, acc_hits, check_finite) on the host: _cpu equals _ref bit for bit
// and both equal the plain formulas they replace in the engine (sqrt of sumsq, axpy/scale with
// the coefficient rounded to float, a double loop over the rows); deferred events land in
// kflags with the first step kept, and without flags the host versions return GH_ENAN.
#include "ktest.h"

typedef int (*norm2_fn)(const kctx *, size_t, const float *, double *);
typedef int (*clip_fn)(const kctx *, size_t, const double *, float, float *);
typedef int (*axpy_dev_fn)(const kctx *, size_t, double, const double *, int, const float *, float *);
typedef int (*scale_dev_fn)(const kctx *, size_t, double, const double *, int, float *);
typedef int (*pow_fn)(const kctx *, double, const double *, int, double *);
typedef int (*mean_fn)(const kctx *, size_t, const float *, float *);
typedef int (*acc_add_fn)(const kctx *, const float *, double, double *);
typedef int (*acc_hits_fn)(const kctx *, int, int, const float *, const int *, double *);
typedef int (*finite_fn)(const kctx *, size_t, const float *, unsigned);

typedef struct {
    const char *name;
    norm2_fn norm2;
    int (*sumsq)(const kctx *, size_t, const float *, double *);
    clip_fn clip;
    int (*scale)(const kctx *, size_t, float, float *);
    int (*axpy)(const kctx *, size_t, float, const float *, float *);
    axpy_dev_fn axpy_dev;
    scale_dev_fn scale_dev;
    pow_fn spow;
    mean_fn mean;
    acc_add_fn acc_add;
    acc_hits_fn acc_hits;
    finite_fn finite;
} backend;

static const backend BACKENDS[2] = {
    {"ref", norm2_ref, sumsq_ref, clip_by_norm_ref, scale_ref, axpy_ref, axpy_dev_ref,
     scale_dev_ref, scalar_pow_ref, mean_ref, acc_add_ref, acc_hits_ref, check_finite_ref},
    {"cpu", norm2_cpu, sumsq_cpu, clip_by_norm_cpu, scale_cpu, axpy_cpu, axpy_dev_cpu,
     scale_dev_cpu, scalar_pow_cpu, mean_cpu, acc_add_cpu, acc_hits_cpu, check_finite_cpu},
};

static void test_norm_clip(const backend *b, gh_rng *rng) {
    const size_t n = 70001;   // several dot blocks on the _cpu path
    float *g = kt_rand(rng, n, -1, 1), *want = kt_dup(g, n);
    double ss = 0.0, norm = -1.0;
    CHECK_OK(b->sumsq(NULL, n, g, &ss));
    CHECK_OK(b->norm2(NULL, n, g, &norm));
    CHECK_MSG(norm == sqrt(ss), "%s norm2 %.17g, sqrt(sumsq) %.17g", b->name, norm, sqrt(ss));
    // clip to half the norm: exactly scale by (float)(max / (norm + 1e-6))
    float max_norm = (float)(0.5 * norm);
    CHECK_OK(b->scale(NULL, n, (float)((double)max_norm / (norm + 1e-6)), want));
    CHECK_OK(b->clip(NULL, n, &norm, max_norm, g));
    KT_EQUAL("clip_by_norm scales", g, want, n);
    // below the limit: unchanged
    CHECK_OK(b->clip(NULL, n, &norm, (float)(4.0 * norm), g));
    KT_EQUAL("clip_by_norm below the limit", g, want, n);
    // a NaN norm: g unchanged, recorded with the step, or GH_ENAN without flags
    kflags fl = {0};
    kctx ctx = {.flags = &fl, .step = 12};
    double bad = NAN;
    CHECK_OK(b->clip(&ctx, n, &bad, 1.0f, g));
    KT_EQUAL("clip_by_norm with a NaN norm", g, want, n);
    CHECK(fl.nonfinite == GH_KFLAG_NORM && kflags_step(&fl) == 12 && fl.label_key == 0);
    CHECK(b->clip(NULL, n, &bad, 1.0f, g) == GH_ENAN);
    free(g);
    free(want);
}

static void test_dev_scalars(const backend *b, gh_rng *rng) {
    const size_t n = 4099;
    float *x = kt_rand(rng, n, -1, 1), *y = kt_rand(rng, n, -1, 1);
    float *ya = kt_dup(y, n), *yb = kt_dup(y, n);
    const double r = 0.01, s = 3.7;   // DARTS: eps = r / ||v||
    double c = 0.0;
    CHECK_OK(b->spow(NULL, r, &s, -1, &c));
    CHECK(c == r / s);
    CHECK_OK(b->spow(NULL, r, &s, 1, &c));
    CHECK(c == r * s);
    CHECK(b->spow(NULL, r, &s, 2, &c) == GH_EINVAL);
    CHECK_OK(b->axpy_dev(NULL, n, -r, &s, -1, x, ya));
    CHECK_OK(b->axpy(NULL, n, (float)(-r / s), x, yb));
    KT_EQUAL("axpy_dev = axpy with (float)c", ya, yb, n);
    CHECK_OK(b->scale_dev(NULL, n, 0.5, &s, 1, ya));
    CHECK_OK(b->scale(NULL, n, (float)(0.5 * s), yb));
    KT_EQUAL("scale_dev = scale with (float)c", ya, yb, n);
    // a zero scalar under power -1: nothing changes, the event is recorded (or GH_ENAN)
    kflags fl = {0};
    kctx ctx = {.flags = &fl, .step = 3};
    const double zero = 0.0;
    double keep = 5.0;
    CHECK_OK(b->spow(&ctx, r, &zero, -1, &keep));
    CHECK(keep == 5.0);
    CHECK_OK(b->axpy_dev(&ctx, n, r, &zero, -1, x, ya));
    CHECK_OK(b->scale_dev(&ctx, n, r, &zero, -1, ya));
    KT_EQUAL("axpy_dev/scale_dev with 1/0", ya, yb, n);
    CHECK(fl.nonfinite == GH_KFLAG_SCALAR && kflags_step(&fl) == 3);
    CHECK(b->axpy_dev(NULL, n, r, &zero, -1, x, ya) == GH_ENAN);
    CHECK(b->scale_dev(NULL, n, r, &zero, -1, ya) == GH_ENAN);
    free(x); free(y); free(ya); free(yb);
}

static void test_metrics(const backend *b, gh_rng *rng) {
    // mean: a double sum in index order, then one rounding (the engine's host reduction)
    const int rows = 37;
    float *l = kt_rand(rng, rows, 0, 5), m = 0.0f;
    double s = 0.0;
    for (int i = 0; i < rows; i++) s += l[i];
    CHECK_OK(b->mean(NULL, rows, l, &m));
    CHECK(m == (float)(s / rows));
    CHECK(b->mean(NULL, 0, l, &m) == GH_EINVAL);
    // acc_add: the same bits as a host loop sum += scale * (double)loss
    double acc = 0.0, host = 0.0;
    for (int i = 0; i < rows; i++) {
        CHECK_OK(b->acc_add(NULL, &l[i], 16.0, &acc));
        host += 16.0 * (double)l[i];
    }
    CHECK_MSG(acc == host, "%s acc_add %.17g, host loop %.17g", b->name, acc, host);
    // acc_hits: the first maximum wins ties; a label out of range is a miss
    const float sc[4 * 3] = {1, 3, 3,   5, 5, 0,   0, 0, 9,   2, 1, 2};
    const int lab[4] = {1, 1, 2, 7};    // hit, miss (tie goes to 0), hit, miss (bad label)
    double hits = 10.0;
    CHECK_OK(b->acc_hits(NULL, 4, 3, sc, lab, &hits));
    CHECK(hits == 12.0);
    // check_finite: nothing recorded for finite data; the first step is kept
    float v[5] = {1, 2, 3, 4, 5};
    kflags fl = {0};
    kctx ctx = {.flags = &fl, .step = 5};
    CHECK_OK(b->finite(&ctx, 5, v, GH_KFLAG_LOSS));
    CHECK(fl.nonfinite == 0 && fl.step_key == 0);
    v[3] = INFINITY;
    CHECK_OK(b->finite(&ctx, 5, v, GH_KFLAG_LOSS));
    ctx.step = 9;
    CHECK_OK(b->finite(&ctx, 5, v, GH_KFLAG_NORM));
    CHECK(fl.nonfinite == (GH_KFLAG_LOSS | GH_KFLAG_NORM) && kflags_step(&fl) == 5);
    CHECK(b->finite(NULL, 5, v, GH_KFLAG_LOSS) == GH_ENAN);
    CHECK(strstr(gh_error_get(), "element 3") != NULL);
    free(l);
}

int main(void) {
    gh_rng rng;
    gh_rng_seed(&rng, 11, GH_STREAM_INIT);
    for (int i = 0; i < 2; i++) {
        printf("%s:\n", BACKENDS[i].name);
        test_norm_clip(&BACKENDS[i], &rng);
        test_dev_scalars(&BACKENDS[i], &rng);
        test_metrics(&BACKENDS[i], &rng);
    }
    // the label key as the CUDA kernels store it decodes to the first bad row and its value
    kflags f = {.label_key = ((uint64_t)~(uint32_t)3 << 32) | (uint32_t)-1, .label_k = 10};
    CHECK(kflags_label_row(&f) == 3 && kflags_label_value(&f) == -1);
    kflags g = {.label_key = ((uint64_t)~(uint32_t)0 << 32) | 12u};
    CHECK(g.label_key > f.label_key && kflags_label_row(&g) == 0 && kflags_label_value(&g) == 12);
    return check_done("test_kernels_scalar");
}
